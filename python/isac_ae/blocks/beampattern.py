"""Transmit beampattern of a beamformer stream, for a Qt vector sink."""

from __future__ import annotations

import numpy as np

from gnuradio import gr

from ..array import beampattern as array_beampattern
from ..array import nominal_positions


class beampattern(gr.decim_block):
    """In: v (vlen K complex). Out: E(phi) = |a(phi)^T v|^2 on ``points`` angles (vlen P float), one per ``decimation`` inputs.

    The angles are ``points`` values evenly spaced over ``angle_range_deg``
    (degrees, both ends included), the x axis of a Qt vector sink with
    ``x_start = angle_range_deg[0]`` and ``x_step = (max - min) / (points - 1)``.
    ``positions``: the array in wavelengths (empty: nominal k/2). Output i is the
    pattern of input item (i + 1) * decimation - 1, the latest of its group;
    ``db`` gives 10 log10 E instead. Computed by :func:`isac_ae.array.beampattern`.
    """

    def __init__(self, K: int = 16, positions=(), points: int = 256, angle_range_deg=(-90.0, 90.0),
                 decimation: int = 10000, db: bool = False):
        K, points, decimation = int(K), int(points), int(decimation)
        if K < 1:
            raise ValueError(f"K must be >= 1, got {K}")
        if points < 2:
            raise ValueError(f"points must be >= 2, got {points}")
        if decimation < 1:
            raise ValueError(f"decimation must be >= 1, got {decimation}")
        positions = [] if positions is None else [float(p) for p in positions]
        if positions and len(positions) != K:
            raise ValueError(f"positions must hold K = {K} values (or none for the nominal array), got {len(positions)}")
        lo, hi = (float(a) for a in angle_range_deg)
        if not -90.0 <= lo < hi <= 90.0:
            raise ValueError(f"angle_range_deg must be (min, max) with -90 <= min < max <= 90, got {angle_range_deg!r}")
        self._positions = np.asarray(positions, dtype=np.float64) if positions else nominal_positions(K)
        self._angles_deg = np.linspace(lo, hi, points)
        self._angles_rad = np.radians(self._angles_deg)
        self._decimation = decimation
        self._db = bool(db)
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

