"""A hardware run that ends must outlast gr-iio's overflow watcher, or the process never exits.

gr-iio's FMComms2 Source before GNU Radio 3.10.10 (Debian 12 ships 3.10.5)
starts, with the block, a thread that polls once a second for the
flowgraph's start, and the block's destructor joins that thread (fixed
upstream by gnuradio commit 9e02100, "fix deadlock when destroying
fmcomms2_source that didn't start"). A flowgraph that starts and stops
between two polls leaves the thread polling forever: ``tb.wait()`` returns,
the results are written, then the interpreter hangs in the destructor. A
sweep on the twin or a short run of frames takes less than a second, so the
blocks that end a hardware run (:mod:`isac_ae.blocks.ota`'s receivers given
a number of frames, :mod:`isac_ae.blocks.phaser`'s scan given a number of
sweeps) hold that end with a :class:`RunClock`.
"""

from __future__ import annotations

import re
import time
from typing import Optional

from gnuradio import gr

__all__ = ["MINIMUM_RUN_S", "RunClock", "watcher_deadlocks"]

#: Seconds a hardware run lasts at least where the watcher deadlocks: its 1 s poll, with margin for a loaded
#: machine's scheduling.
MINIMUM_RUN_S = 2.0


def watcher_deadlocks(version: str) -> bool:
    """Whether gr-iio of this GNU Radio version (``gr.version()``, e.g. "3.10.5.1") has the deadlock."""
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:3])
    return (3, 10) <= numbers < (3, 10, 10)


class RunClock:
    """When the run started (the block's ``start()``); ``hold_end()`` before returning WORK_DONE."""

    def __init__(self, version: Optional[str] = None):
        self._deadlocks = watcher_deadlocks(gr.version() if version is None else version)
        self._started: Optional[float] = None

    def start(self) -> None:
        self._started = time.monotonic()

    def hold_end(self) -> float:
        """Sleep until the run has lasted MINIMUM_RUN_S where gr-iio needs it; the seconds slept."""
        if not self._deadlocks or self._started is None:
            return 0.0
        wait = max(0.0, self._started + MINIMUM_RUN_S - time.monotonic())
        time.sleep(wait)
        return wait
