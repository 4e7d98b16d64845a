"""Capture Source: a directory of labelled SigMF captures replayed as the labelled streams of a flowgraph.

``isac-ae hw capture`` records one SigMF recording per scene
(:mod:`isac_ae.hw.capture`); this block puts out their snapshots and labels
as the over-the-air frame receivers and the channel blocks do, one item per
snapshot, on exactly the inputs of the Online Fine-Tuning block
(:mod:`isac_ae.blocks.online_finetune`): z_r (vlen K), t, theta (radians),
z_c, kappa, m. So the receivers can be fine-tuned in a flowgraph from
recordings instead of from a board.

The recordings are turned into snapshots by the receivers method's own
conversion (:func:`isac_ae.hw.finetune.receivers.load_snapshots`, i.e.
:func:`~isac_ae.hw.capture.load_capture`: SHA-512, frames found, leakage
removed, N0 = 1) and replayed in the order of their names
(``capture_000000``, ...). All of them are read and checked when the block is
made: a directory of another device or K is refused there, not in the middle
of a run, and a replay costs a copy per item (repeat replays the same arrays).
The price is memory: N (8 K + 22) bytes per recording of N snapshots (30 MB
for 48 recordings of 4096 at K = 16; a few thousand need gigabytes).

A recording whose comm frame was lost in a deep fade replays its radar items
whole, with z_c = 0 and kappa = NaN (what :func:`load_capture` and the Comm
Frame Receiver give): Online Fine-Tuning leaves those items out of its
windows, and a metrics block counts their symbols as errors.

With ``repeat`` Online Fine-Tuning's held-out split (blocks of
``split_items``, a fraction of them held out) puts a recording on the same
side on every pass only when the items per pass are a multiple of
``split_items / held_out_fraction``; otherwise a scene trained on in one pass
is held out in another.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from gnuradio import gr

from ..hw.finetune.receivers import Snapshots, load_snapshots, recordings
from ..hw.profiles import profile as get_profile
from . import checks

__all__ = ["capture_source"]


class capture_source(gr.sync_block):
    """Out: z_r (vlen K, N0 = 1), t (byte), theta (float, radians; 0 without a target), z_c, kappa (complex,
    N0 = 1), m (byte): the labelled snapshots of every recording in ``directory``, in name order.

    directory: recordings of ``isac-ae hw capture``; device: the profile they were taken on; K: its elements
    (the width of z_r); repeat: start again after the last item (a flowgraph that keeps training) instead of
    ending the run (WORK_DONE). ValueError (one line) for a missing or empty directory, an unknown device, a K
    that is not the device's, and a recording of another device or K, that fails its checksum, or whose board
    frame cannot be found.
    """

    def __init__(self, directory: str = "", device: str = "pluto2", K: int = 2, repeat: bool = False):
        k = checks.integer(K, "K", 1, checks.MAX_ANTENNAS)
        board = get_profile(device)  # ProfileError (a ValueError) names the known profiles
        if board.num_elements != k:
            raise ValueError(f"K = {k}, but a {board.name} has {board.num_elements} elements")
        self._repeat = checks.flag(repeat, "repeat")
        if not str(directory).strip():
            raise ValueError("directory must name a directory of captures (isac-ae hw capture records them)")
        loaded = {path.name: load_snapshots(path, board.name, k) for path in recordings(Path(str(directory)))}
        joined = Snapshots.joined(list(loaded.values()))
        if int(joined.messages.max()) > np.iinfo(np.uint8).max:
            raise ValueError(f"{directory} holds message indices above 255: m travels as a byte")
        self._names = list(loaded)
        # the output ports' dtypes, in port order
        self._columns = (
            joined.z.numpy().astype(np.complex64, copy=False),
            joined.target.numpy().astype(np.uint8),
            joined.theta.numpy().astype(np.float32, copy=False),
            joined.z_comm.numpy().astype(np.complex64, copy=False),
            joined.kappa.numpy().astype(np.complex64, copy=False),
            joined.messages.numpy().astype(np.uint8),
        )
        self._next = 0
        gr.sync_block.__init__(
            self,
            name="capture_source",
            in_sig=None,
            out_sig=[(np.complex64, k), np.uint8, np.float32, np.complex64, np.complex64, np.uint8],
        )

    def work(self, input_items, output_items):
        wanted, total = len(output_items[0]), len(self._columns[0])
        filled = 0
        while filled < wanted:
            if self._next == total:
                if not self._repeat:
                    break
                self._next = 0
            count = min(wanted - filled, total - self._next)
            for port, column in zip(output_items, self._columns):
                port[filled : filled + count] = column[self._next : self._next + count]
            filled += count
            self._next += count
        # an int: GNU Radio 3.10's sync-block gateway compares work()'s result with 0, which its enum refuses
        return filled if filled else int(gr.WORK_DONE)

    # --- getters ------------------------------------------------------------
    def recordings(self) -> list[str]:
        """The names (``capture_000000.sigmf-meta``, ...) of the recordings replayed, in replay order."""
        return list(self._names)

    def items_per_pass(self) -> int:
        """Items put out per pass over the recordings."""
        return len(self._columns[0])
