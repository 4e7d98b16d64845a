"""Digital-twin radar and comm channels as GNU Radio blocks: eq. (1) and (2) through a board's hidden impairments.

Drop-in replacements of the C++ channel blocks (:mod:`isac_ae.blocks.cpp_channels`):
the same ports (one item = one snapshot, vlen K; ground truth as its own
streams, angles in radians), the same parameters where they apply (K, SNR in
dB, sector in degrees, P(target), seed) and the same run-time setters, so a
flowgraph swaps the nominal channels for a board's twin (and later for the
board) by swapping only the channel blocks. The array is not a parameter:
it is the twin's, :class:`isac_ae.hw.twin.DigitalTwin` of the device profile
``device`` with the hidden truth drawn from ``twin_seed`` or read from
``truth_json`` (what ``isac-ae hw emulate --truth-json`` writes). The maths
is the core's: :meth:`DigitalTwin.radar_channel` / :meth:`DigitalTwin.comm_channel`
(the effective manifolds steering_tx = diag(g_tx) C^T a, steering_rx =
diag(g_rx) C a of the board's ArrayModel; N0 = 1, the SNR sets the gain variance).

Random numbers: the stream is cut into fixed chunks of :data:`CHUNK_ITEMS`
items and chunk j draws from a torch generator seeded with (seed, channel
kind, j). A work() call runs the core once per chunk it touches, on that
whole chunk (items outside the call's range are zeros and their output is
dropped), under ``torch.inference_mode()`` with one torch thread. Guarantee:
item i's draws (t, theta, alpha and noise; or beta, vartheta and noise)
depend only on the seed, the kind of channel and i, not on how the scheduler
splits the stream into work() calls nor on the input; its output depends
on those draws, its own input item and the parameters in force (a setter acts
from the next work() call). So a seed gives the same output run after run, and
two twin channels of equal seeds see equal draws (a compare flowgraph's common
random numbers). The cost: a chunk cut by a work() boundary is computed in full
by both calls (at most two partial chunks per call). A single core call per
work() could not give this: the core draws all N presence flags, then all N
angles and so on, so its draws depend on N.

Seeds < 0 draw one from the operating system (:meth:`seed` returns it).
"""

from __future__ import annotations

import json
import secrets
import threading
from pathlib import Path

import numpy as np
import torch
from gnuradio import gr

from ..hw.profiles import profile as get_profile
from ..hw.twin import DigitalTwin, TwinTruth
from ..scenario import MAX_ABS_SNR_DB, Scenario
from . import checks
from .ae_common import BATCH_ITEMS, TorchThread

#: Items per random-number chunk (see the module docstring). Part of what a seed
#: means: changing it changes every draw of a given seed.
CHUNK_ITEMS = 1024

#: Default device profile: the 16-element board, the paper's K.
DEFAULT_DEVICE = "quadmxfe"

# Seed-stream salts: a radar and a comm twin channel of the same seed draw independent streams.
_STREAMS = {"radar": 0x52414441, "comm": 0x434F4D4D}

__all__ = ["CHUNK_ITEMS", "DEFAULT_DEVICE", "load_twin", "twin_comm_channel", "twin_radar_channel"]


def _read_truth(truth_json) -> TwinTruth:
    path = Path(str(truth_json)).expanduser()
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"cannot read truth_json {str(truth_json)!r}: {exc.strerror or exc}") from None
    try:
        return TwinTruth.from_dict(json.loads(text))
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ValueError(
            f"truth_json {str(truth_json)!r} is not a twin truth as `isac-ae hw emulate --truth-json` "
            f"writes it ({detail})"
        ) from None


def load_twin(device: str = DEFAULT_DEVICE, K: int = 16, twin_seed=None, truth_json=None) -> DigitalTwin:
    """The twin a channel block runs: profile ``device`` with K = ``K`` elements and a full ISAC loop.

    The truth is drawn from ``twin_seed`` (an integer >= 0; None: 0) or read from
    ``truth_json`` (a path; None or "": none); giving both is refused. One
    ValueError naming the problem for an unknown device, a device whose K is not
    ``K`` or that cannot run the ISAC loop (the Phaser), or a truth JSON that
    cannot be read or belongs to another device or K.
    """
    K = checks.integer(K, "K", 1, checks.MAX_ANTENNAS)
    prof = get_profile(device)
    if K != prof.num_elements:
        raise ValueError(
            f"device {prof.name} has K = {prof.num_elements} elements, the block K = {K}; "
            f"set K = {prof.num_elements} or pick a device with {K} elements"
        )
    prof.check_scenario(Scenario(num_antennas=K))  # a board without the full loop (the Phaser)
    if truth_json is None or str(truth_json).strip() == "":
        seed = 0 if twin_seed is None else checks.integer(twin_seed, "twin_seed", 0, 2**63 - 1)
        return DigitalTwin(prof, seed)
    if twin_seed is not None:
        raise ValueError("give the twin's twin_seed or its truth_json, not both")
    truth = _read_truth(truth_json)
    if truth.profile != prof.name:
        raise ValueError(f"truth_json {str(truth_json)!r} holds a {truth.profile} twin, not a {prof.name} one")
    if truth.array.num_elements != K:
        raise ValueError(
            f"truth_json {str(truth_json)!r} holds an array of K = {truth.array.num_elements} "
            f"elements, the block K = {K}"
        )
    return DigitalTwin(prof, truth=truth)


def _snr_db(value) -> float:
    snr = checks.finite_real(value, "snr_db")
    if abs(snr) > MAX_ABS_SNR_DB:
        raise ValueError(f"snr_db must lie in [-{MAX_ABS_SNR_DB:g}, {MAX_ABS_SNR_DB:g}] dB, got {snr}")
    return snr


def _chunk_pieces(start: int, count: int):
    """Cut items start .. start+count-1 by chunk: (chunk index, rows lo:hi in the chunk, slice of the call)."""
    first, end = start, start + count
    while first < end:
        chunk = first // CHUNK_ITEMS
        lo = first - chunk * CHUNK_ITEMS
        hi = min(end - chunk * CHUNK_ITEMS, CHUNK_ITEMS)
        yield chunk, lo, hi, slice(first - start, first - start + hi - lo)
        first += hi - lo


def _whole_chunk(rows: np.ndarray, lo: int, hi: int) -> torch.Tensor:
    """A chunk of input rows (CHUNK_ITEMS, K) holding ``rows`` at lo:hi and zeros elsewhere."""
    if lo == 0 and hi == CHUNK_ITEMS:
        return torch.from_numpy(rows)
    padded = np.zeros((CHUNK_ITEMS,) + rows.shape[1:], rows.dtype)
    padded[lo:hi] = rows
    return torch.from_numpy(padded)


class _TwinChannel(gr.sync_block):
    """What both twin channels share: the twin, the scenario in force and its core channel, the chunked work()."""

    def __init__(self, kind, in_sig, out_sig, *, device, K, twin_seed, truth_json, seed, scenario):
        self._twin = load_twin(device, K, twin_seed, truth_json)
        seed = checks.stream_seed(seed)
        self._seed = seed if seed >= 0 else secrets.randbits(63)
        self._kind = kind
        self._lock = threading.Lock()
        self._state = (scenario, self._make(scenario))
        gr.sync_block.__init__(self, name=f"twin_{kind}_channel", in_sig=in_sig, out_sig=out_sig)
        self.set_min_output_buffer(BATCH_ITEMS)  # the learned receivers downstream want large batches
        self._torch_thread = TorchThread()

    def _make(self, scenario: Scenario):
        """The core's channel of this kind through the twin's array (DigitalTwin.radar_channel / comm_channel)."""
        return getattr(self._twin, f"{self._kind}_channel")(scenario)

    def _update(self, **changes) -> None:
        """Swap in the scenario with ``changes`` and its channel (a refused value leaves the block as it was)."""
        with self._lock:
            scenario = self._state[0].replace(**changes)
            self._state = (scenario, self._make(scenario))

    def _generator(self, chunk: int) -> torch.Generator:
        entropy = [self._seed, _STREAMS[self._kind], chunk]
        state = np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0]
        return torch.Generator().manual_seed(int(state >> np.uint64(1)))

    def _pass(self, channel, rows: list, generator: torch.Generator) -> tuple:
        """The outputs of one chunk through ``channel``: one (CHUNK_ITEMS, ...) tensor per output port."""
        raise NotImplementedError

    def work(self, input_items, output_items):
        self._torch_thread()
        channel = self._state[1]  # one scenario for the whole call, whatever a setter does meanwhile
        count = len(input_items[0])
        with torch.inference_mode():
            for chunk, lo, hi, part in _chunk_pieces(self.nitems_written(0), count):
                rows = [_whole_chunk(x[part], lo, hi) for x in input_items]
                for out, value in zip(output_items, self._pass(channel, rows, self._generator(chunk))):
                    out[part] = value[lo:hi].numpy()
        return count

    # --- getters common to both -------------------------------------------------------
    def seed(self) -> int:
        """The seed in use (the one drawn from the OS when the block was given a negative seed)."""
        return self._seed

    def device(self) -> str:
        """The device profile's name."""
        return self._twin.profile.name

    def twin(self) -> DigitalTwin:
        return self._twin

    def truth(self) -> TwinTruth:
        """The board's hidden impairments."""
        return self._twin.truth

    def scenario(self) -> Scenario:
        """The scenario in force (K, SNR, sector, P(target); the other fields are unused)."""
        return self._state[0]


class twin_radar_channel(_TwinChannel):
    """Single-target radar channel of a board's twin.

    In: y (vlen K). Out: z_r (vlen K), t (byte), theta (float, rad).

    z_r = t alpha a_rx(theta) a_tx(theta)^T y + n with the twin's manifolds;
    t ~ Bernoulli(p_target), theta ~ U[sector], alpha ~ CN(0, 10^(snr_db/10)),
    n ~ CN(0, I_K). Run-time setters: ``set_snr_db(dB)``,
    ``set_sector(min_deg, max_deg)``, ``set_p_target(p)``, as the C++ block.
    """

    def __init__(
        self,
        device: str = DEFAULT_DEVICE,
        K: int = 16,
        snr_db: float = 0.0,
        sector_deg=(-20.0, 20.0),
        p_target: float = 0.5,
        seed: int = 0,
        twin_seed=None,
        truth_json=None,
    ):
        K = checks.integer(K, "K", 1, checks.MAX_ANTENNAS)
        scenario = Scenario(
            num_antennas=K,
            snr_radar_db=_snr_db(snr_db),
            target_sector_deg=checks.sector_deg(sector_deg, "sector"),
            p_target=p_target,
        )
        super().__init__(
            "radar",
            [(np.complex64, K)],
            [(np.complex64, K), np.uint8, np.float32],
            device=device,
            K=K,
            twin_seed=twin_seed,
            truth_json=truth_json,
            seed=seed,
            scenario=scenario,
        )

    def _pass(self, channel, rows, generator):
        draw = channel(rows[0], generator)
        return draw.z, draw.target, draw.theta

    def set_snr_db(self, snr_db: float) -> None:
        self._update(snr_radar_db=_snr_db(snr_db))

    def set_sector(self, min_deg: float, max_deg: float) -> None:
        """Target sector in degrees, -90 <= min <= max <= 90."""
        self._update(target_sector_deg=checks.sector_deg((min_deg, max_deg), "sector"))

    def set_p_target(self, p_target: float) -> None:
        self._update(p_target=p_target)

    def snr_db(self) -> float:
        return self._state[0].snr_radar_db

    def sector(self) -> list[float]:
        """[min, max] degrees, as the C++ block returns it."""
        return list(self._state[0].target_sector_deg)

    def p_target(self) -> float:
        return self._state[0].p_target


class twin_comm_channel(_TwinChannel):
    """Rayleigh MISO channel of a board's twin, with CSI.

    In: y, v (vlen K). Out: z_c, kappa (complex), vartheta (float, rad).

    z_c = beta a_tx(vartheta)^T y + n, kappa = beta a_tx(vartheta)^T v with the
    twin's TX manifold; beta ~ CN(0, 10^(snr_db/10)), vartheta ~ U[sector],
    n ~ CN(0, 1). Run-time setters: ``set_snr_db(dB)``, ``set_sector(min_deg, max_deg)``.
    """

    def __init__(
        self,
        device: str = DEFAULT_DEVICE,
        K: int = 16,
        snr_db: float = 20.0,
        sector_deg=(30.0, 50.0),
        seed: int = 0,
        twin_seed=None,
        truth_json=None,
    ):
        K = checks.integer(K, "K", 1, checks.MAX_ANTENNAS)
        scenario = Scenario(
            num_antennas=K, snr_comm_db=_snr_db(snr_db), comm_sector_deg=checks.sector_deg(sector_deg, "sector")
        )
        super().__init__(
            "comm",
            [(np.complex64, K), (np.complex64, K)],
            [np.complex64, np.complex64, np.float32],
            device=device,
            K=K,
            twin_seed=twin_seed,
            truth_json=truth_json,
            seed=seed,
            scenario=scenario,
        )

    def _pass(self, channel, rows, generator):
        draw = channel(rows[0], generator, v=rows[1])
        return draw.z, draw.kappa, draw.vartheta

    def set_snr_db(self, snr_db: float) -> None:
        self._update(snr_comm_db=_snr_db(snr_db))

    def set_sector(self, min_deg: float, max_deg: float) -> None:
        """Receiver sector in degrees, -90 <= min <= max <= 90."""
        self._update(comm_sector_deg=checks.sector_deg((min_deg, max_deg), "sector"))

    def snr_db(self) -> float:
        return self._state[0].snr_comm_db

    def sector(self) -> list[float]:
        """[min, max] degrees, as the C++ block returns it."""
        return list(self._state[0].comm_sector_deg)
