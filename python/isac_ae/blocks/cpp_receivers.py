"""The C++ receivers: ML comm detector (eq. 11) and MAPRT radar detector (Appendix A).

The MAPRT detector's threshold follows its configuration: by default it is
calibrated for a false-alarm rate on target-free snapshots of the array, K and
sector the detector uses, and calibrated again when the sector changes while
the flowgraph runs.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import NamedTuple

import numpy as np
import torch
from gnuradio import gr

from ..baselines import qam_constellation
from ..evaluation import h0_scores, threshold_for_pfa
from ..scenario import Scenario
from . import checks
from .cpp_common import complex_list, module, positions_list

#: "pfa": threshold calibrated for a false-alarm rate; "statistic": a given threshold on the statistic.
THRESHOLD_MODES = ("pfa", "statistic")

#: Sectors whose H0 statistics a detector keeps (a GUI slider moved back needs no new calibration).
CACHED_SECTORS = 4


def ml_detector(constellation=None):
    """In: z_c, kappa (complex). Out: argmin_m |z_c - kappa x(m)|^2 (byte).

    constellation: x(m), default the core's unit-energy 4-QAM. Setter: ``set_constellation``.
    """
    if constellation is None:
        constellation = qam_constellation(4)
    return module().ml_detector(complex_list(constellation, "constellation"))


class MaprtH0:
    """The MAPRT statistic on target-free snapshots, as an :class:`isac_ae.evaluation.IsacSystem`.

    Under H0 the radar snapshot is noise, CN(0, I_K), whatever was transmitted
    (eq. 1 with t = 0), so the statistic depends on the array the detector
    assumes, the sector and the search only. :func:`isac_ae.evaluation.h0_scores`
    of this system draws the core's H0 snapshots (the same seed and size as
    ``evaluate`` gives evaluate's H0 set) and scores them with the C++ search
    of the block (equal to the core's MAPRT within 1e-6 relative), without
    designing a beam.

    positions: (K,) wavelengths; sector_deg: (min, max) degrees; search: the
    block's (fine_step_u, refine_factor, levels, candidates).
    """

    def __init__(self, positions, sector_deg, search=()):
        positions = [float(p) for p in positions]
        self.scenario = Scenario(num_antennas=len(positions), target_sector_deg=tuple(sector_deg))
        self._search = module().MaprtSearch(positions, *self.scenario.target_sector_rad, *search)

    def transmit(self, messages: torch.Tensor):
        """Silence on a unit beam: y = 0 x e_0, (N, K) and (K,); H0 snapshots are noise whatever is sent."""
        beam = torch.zeros(self.scenario.num_antennas, dtype=torch.complex64)
        beam[0] = 1
        return torch.zeros((len(messages), self.scenario.num_antennas), dtype=torch.complex64), beam

    def radar_receive(self, z: torch.Tensor):
        statistic, _ = self._search.search(z.numpy())
        return torch.from_numpy(statistic), None, None


def h0_threshold(
    K: int = 16,
    positions=(),
    sector_deg=(-20.0, 20.0),
    pfa: float = 1e-2,
    samples: int = 200_000,
    seed: int = 0,
    fine_step_u: float = 2e-4,
    refine_factor: int = 10,
    levels: int = 2,
    candidates: int = 3,
) -> float:
    """Threshold of the MAPRT statistic at false-alarm rate ``pfa``, from ``samples`` noise-only snapshots.

    The evaluation's rule (:func:`isac_ae.evaluation.threshold_for_pfa`) on
    :class:`MaprtH0`'s scores: with ``seed = seed_streams(s, 2)[0]`` and
    ``samples = N`` it is the threshold ``evaluate(BaselineSystem(...), N, s)``
    calibrates (to float rounding of the statistic).
    """
    K = checks.integer(K, "K", 1, checks.MAX_ANTENNAS)
    pos = checks.positions(positions, K)
    samples = checks.h0_samples(samples, pfa, "samples")
    system = MaprtH0(pos, checks.sector_deg(sector_deg, "sector_deg"), (fine_step_u, refine_factor, levels, candidates))
    return threshold_for_pfa(h0_scores(system, samples, checks.h0_seed(seed)), pfa)


class _Rule(NamedTuple):
    sector: tuple  # (min, max) degrees
    mode: str
    threshold: float
    pfa: float


class maprt_detector(gr.hier_block2):
    """In: z_r (vlen K). Out: statistic (float), theta_hat (float, rad), detection (byte).

    statistic = max over the prior sector of |a(theta)^H z|^2 (the core's
    coarse-to-fine search, in C++), detection = statistic > threshold.
    ``positions``: the array the detector assumes (empty: nominal k/2);
    ``sector_deg``: the prior sector, degrees.

    Threshold (``mode``), as the AE radar receiver's:
    * ``"pfa"`` (default): calibrated for the false-alarm rate ``pfa`` on
      ``h0_samples`` target-free snapshots drawn with ``seed``
      (:func:`h0_threshold`), so it follows K, the positions and the sector;
    * ``"statistic"``: ``threshold`` itself (the false-alarm rate then changes
      with K and the sector).

    ``set_sector`` (degrees) may be called while the flowgraph runs. With a
    calibrated threshold the new sector's H0 statistics are computed in a
    background thread (about 0.3 s per 2e5 snapshots; the last
    ``CACHED_SECTORS`` sectors are kept) while the detector keeps working with
    the old sector and its threshold; then the new sector and its threshold are
    swapped in together, so the false-alarm rate holds at every item and the
    stream never waits. ``wait_calibrated()`` waits for that. ``set_pfa`` and
    ``set_threshold`` change the rule at once (``set_pfa`` reuses the stored H0
    statistics).

    A hier block around the C++ ``maprt_detector`` (``.detector``), which does
    all the streaming.
    """

    def __init__(
        self,
        K: int = 16,
        positions=(),
        sector_deg=(-20.0, 20.0),
        mode: str = "pfa",
        threshold: float = math.inf,
        pfa: float = 1e-2,
        h0_samples: int = 200_000,
        seed: int = 0,
        fine_step_u: float = 2e-4,
        refine_factor: int = 10,
        levels: int = 2,
        candidates: int = 3,
    ):
        K = checks.integer(K, "K", 1, checks.MAX_ANTENNAS)
        sector = checks.sector_deg(sector_deg, "sector_deg")
        self._search_args = (
            float(fine_step_u),
            checks.integer(refine_factor, "refine_factor"),
            checks.integer(levels, "levels"),
            checks.integer(candidates, "candidates"),
        )
        self._h0_samples = checks.integer(h0_samples, "h0_samples", 1, checks.MAX_H0_SAMPLES)
        self._seed = checks.h0_seed(seed)
        # Built first: the C++ block checks positions and search parameters; +inf until calibrated.
        self.detector = module().maprt_detector(K, positions_list(positions), *sector, math.inf, *self._search_args)
        self._positions = list(self.detector.positions())  # the float32 array the search uses
        self._log = gr.logger("maprt_detector")
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._scores = OrderedDict()  # sector -> H0 statistics
        self._worker = None
        self._want = self._applied = None
        self._request(self._rule(sector, mode, threshold, pfa), wait=True)
        gr.hier_block2.__init__(
            self,
            "maprt_detector",
            gr.io_signature(1, 1, gr.sizeof_gr_complex * K),
            gr.io_signaturev(3, 3, [gr.sizeof_float, gr.sizeof_float, gr.sizeof_char]),
        )
        self.connect(self, self.detector)
        for port in range(3):
            self.connect((self.detector, port), (self, port))

    # --- the rule -------------------------------------------------------------
    def _rule(self, sector, mode, threshold, pfa) -> _Rule:
        if mode not in THRESHOLD_MODES:
            raise ValueError(f"threshold mode must be one of {THRESHOLD_MODES}, got {mode!r}")
        if mode == "pfa":
            checks.h0_samples(self._h0_samples, pfa)  # pfa in (0, 1) and enough H0 snapshots for it
            return _Rule(sector, mode, math.nan, float(pfa))
        threshold = float(threshold)
        if math.isnan(threshold):
            raise ValueError("threshold must not be NaN")
        return _Rule(sector, mode, threshold, math.nan)

    def _h0(self, sector) -> np.ndarray:
        return h0_scores(MaprtH0(self._positions, sector, self._search_args), self._h0_samples, self._seed)

    def _missing_locked(self):
        """The sector whose H0 statistics the wanted rule needs and does not have, else None."""
        want = self._want
        return want.sector if want.mode == "pfa" and want.sector not in self._scores else None

    def _apply_locked(self) -> bool:
        """Hand the wanted (sector, threshold) to the C++ block; False while its H0 statistics are missing."""
        want = self._want
        if want.mode == "pfa":
            scores = self._scores.get(want.sector)
            if scores is None:
                return False
            self._scores.move_to_end(want.sector)
            want = want._replace(threshold=threshold_for_pfa(scores, want.pfa))
        self.detector.set_sector(*want.sector, want.threshold)
        if self._applied is None or want.mode == "pfa":
            self._log.info(self._describe(want))
        self._applied = want
        self._changed.notify_all()
        return True

    def _store_locked(self, sector, scores) -> None:
        self._scores[sector] = scores
        while len(self._scores) > CACHED_SECTORS:
            self._scores.popitem(last=False)

    def _request(self, rule: _Rule, wait: bool = False) -> None:
        with self._lock:
            self._want = rule
            if self._apply_locked():
                return
            if not wait:
                if self._worker is None:
                    self._worker = threading.Thread(target=self._recalibrate, name="maprt_detector H0", daemon=True)
                    self._worker.start()
                self._changed.notify_all()
                return
        scores = self._h0(rule.sector)
        with self._lock:
            self._store_locked(rule.sector, scores)
            self._apply_locked()

    def _recalibrate(self) -> None:
        """Background thread: compute the H0 statistics of the latest wanted sector, then swap it in."""
        while True:
            with self._lock:
                sector = self._changed.wait_for(self._missing_locked)
            try:
                scores = self._h0(sector)
            except Exception as exc:  # noqa: BLE001  (reported; the detector keeps its working pair)
                self._log.error(f"H0 calibration for sector {sector} deg failed: {exc}")
                with self._lock:
                    if self._want.sector == sector:
                        self._want = self._applied
                    self._changed.notify_all()
                continue
            with self._lock:
                self._store_locked(sector, scores)
                self._apply_locked()

    # --- run-time control -------------------------------------------------------
    def set_sector(self, sector_deg) -> None:
        """New prior sector (min, max), degrees. Calibrated mode: swapped in with its threshold when ready."""
        self._request(self._want._replace(sector=checks.sector_deg(sector_deg, "sector_deg")))

    def set_threshold_rule(self, mode: str, threshold: float = math.inf, pfa: float = 1e-2) -> None:
        """``mode`` "pfa" (calibrate for ``pfa``) or "statistic" (use ``threshold``); GRC's callback."""
        self._request(self._rule(self._want.sector, mode, threshold, pfa))

    def set_pfa(self, pfa: float) -> None:
        """Calibrate the threshold for false-alarm rate ``pfa``."""
        self.set_threshold_rule("pfa", pfa=pfa)

    def set_threshold(self, threshold: float) -> None:
        """Use the threshold ``threshold`` on the statistic."""
        self.set_threshold_rule("statistic", threshold=threshold)

    def wait_calibrated(self, timeout: float | None = None) -> bool:
        """Wait until the requested sector and threshold are in use; False on timeout."""
        with self._lock:
            return self._changed.wait_for(lambda: self._missing_locked() is None, timeout)

    # --- getters ------------------------------------------------------------------
    def threshold(self) -> float:
        """The threshold on the statistic in use."""
        return self.detector.threshold()

    def sector_deg(self) -> tuple:
        """The prior sector in use, degrees (the old one until a new one's calibration is done)."""
        return tuple(self.detector.sector())

    def pfa(self) -> float:
        """The target false-alarm rate of a calibrated threshold (NaN for a given threshold)."""
        return self._applied.pfa

    def mode(self) -> str:
        return self._applied.mode

    def h0_seed(self) -> int:
        return self._seed

    def positions(self) -> list:
        return list(self._positions)

    def _describe(self, rule: _Rule) -> str:
        lo, hi = rule.sector
        if rule.mode == "pfa":
            return (
                f"MAPRT threshold {rule.threshold!r} (Pfa {rule.pfa:g} calibrated on {self._h0_samples} H0 "
                f"snapshots, seed {self._seed}, K = {len(self._positions)}, sector [{lo:g}, {hi:g}] deg)"
            )
        return f"MAPRT threshold {rule.threshold!r} (given), sector [{lo:g}, {hi:g}] deg"

    def describe_threshold(self) -> str:
        return self._describe(self._applied)
