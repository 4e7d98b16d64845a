"""Transmit beampattern of a beamformer stream, for a Qt vector sink."""

from __future__ import annotations

import numpy as np
from gnuradio import gr

from ..array import beampattern as array_beampattern
from . import checks

#: Most angles per output vector (a 256 KiB item): more is no plot, only a buffer GNU Radio cannot allocate.
MAX_POINTS = 65536
#: Largest input buffer a decimation may need, bytes: GNU Radio's buffer before the block holds at
#: least ``decimation`` input vectors (8 K bytes each); 1e7 vectors of K = 16 crash its allocator.
MAX_DECIMATION_BYTES = 2**28


class beampattern(gr.decim_block):
    """In: v (vlen K complex). Out: E(phi) = |a(phi)^T v|^2 on ``points`` angles (vlen P float), one output
    per ``decimation`` inputs.

    The angles are ``points`` values evenly spaced over ``angle_range_deg``
    (degrees, both ends included), the x axis of a Qt vector sink with
    ``x_start = angle_range_deg[0]`` and ``x_step = (max - min) / (points - 1)``.
    ``positions``: the array in wavelengths (empty: nominal k/2; finite,
    within +-1e4). Output i is the pattern of input item (i + 1) * decimation
    - 1, the latest of its group; ``db`` gives 10 log10 E instead. Computed by
    :func:`isac_ae.array.beampattern`.
    """

    def __init__(
        self,
        K: int = 16,
        positions=(),
        points: int = 256,
        angle_range_deg=(-90.0, 90.0),
        decimation: int = 10000,
        db: bool = False,
    ):
        K = checks.integer(K, "K", 1, checks.MAX_ANTENNAS)
        points = checks.integer(points, "points", 2, MAX_POINTS)
        decimation = checks.integer(decimation, f"decimation (for K = {K})", 1, MAX_DECIMATION_BYTES // (8 * K))
        self._positions = checks.positions(positions, K)
        lo, hi = checks.sector_deg(angle_range_deg, "angle_range_deg")
        if lo == hi:
            raise ValueError(f"angle_range_deg must be (min, max) with min < max, got {tuple(angle_range_deg)!r}")
        self._angles_deg = np.linspace(lo, hi, points)
        self._angles_rad = np.radians(self._angles_deg)
        self._decimation = decimation
        self._db = checks.flag(db, "db")
        gr.decim_block.__init__(
            self, name="beampattern", in_sig=[(np.complex64, K)], out_sig=[(np.float32, points)], decim=decimation
        )

    def angles_deg(self) -> np.ndarray:
        """The angle grid (degrees), shape (P,)."""
        return self._angles_deg.copy()

    def x_step_deg(self) -> float:
        return float(self._angles_deg[1] - self._angles_deg[0])

    def positions(self) -> np.ndarray:
        return self._positions.copy()

    def work(self, input_items, output_items):
        out = output_items[0]
        n = len(out)
        if n:
            v = input_items[0][self._decimation - 1 :: self._decimation][:n]
            pattern = array_beampattern(self._positions, v.T, self._angles_rad).T  # (n, P)
            if self._db:
                with np.errstate(divide="ignore"):
                    pattern = 10.0 * np.log10(pattern)
            out[:] = pattern
        return n
