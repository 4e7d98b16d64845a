"""Checks of block parameters that every block shares: one clear ValueError per bad value.

The C++ blocks check their own parameters again (lib/params.h); these checks
run first where a Python block would otherwise compute with a bad value
(allocate, calibrate, design a beam) before reaching them.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ..scenario import MAX_ANTENNAS

#: Most H0 snapshots a threshold calibration may draw. Calibrating runs while the
#: flowgraph is being built (a few seconds at 2e6 on one core), and with the
#: evaluation's rule (at least 10 expected false alarms) it reaches Pfa = 5e-6.
MAX_H0_SAMPLES = 2_000_000

#: Largest |p_k| in wavelengths, as lib/params.h max_abs_position: the C++ kernels
#: form phases in float32, whose rounding reaches 0.2 degrees there.
MAX_ABS_POSITION = 1e4

#: Seeds travel as int64 to the C++ blocks and to torch.
_INT64 = 2**63

__all__ = [
    "MAX_ABS_POSITION",
    "MAX_ANTENNAS",
    "MAX_H0_SAMPLES",
    "finite_real",
    "flag",
    "h0_samples",
    "h0_seed",
    "integer",
    "positions",
    "sector_deg",
    "stream_seed",
]


def integer(value, name: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int if it is an integer (not a bool, not 16.5) within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
        raise ValueError(f"{name} must be an integer in {bounds}, got {value}")
    return value


def flag(value, name: str) -> bool:
    """A yes/no parameter: a bool or 0/1 (``bool("no")`` is True, so strings are refused)."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, numbers.Integral) and value in (0, 1)):
        return bool(value)
    raise ValueError(f"{name} must be True or False, got {value!r}")


def stream_seed(value, name: str = "seed") -> int:
    """Seed of a C++ channel: >= 0 repeatable, < 0 drawn from the operating system (int64)."""
    return integer(value, name, -_INT64, _INT64 - 1)


def h0_seed(value, name: str = "seed") -> int:
    """Seed of an H0 calibration (a torch generator, as the evaluation's): an integer in [0, 2^63)."""
    return integer(value, name, 0, _INT64 - 1)


def sector_deg(value, name: str) -> tuple[float, float]:
    """(min, max) in degrees, finite, -90 <= min <= max <= 90."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{name} must be (min, max) in degrees, got {value!r}")
    lo, hi = (float(a) for a in value)
    if not -90.0 <= lo <= hi <= 90.0:  # also refuses NaN
        raise ValueError(f"{name} must satisfy -90 <= min <= max <= 90 (degrees), got {tuple(value)!r}")
    return lo, hi


def positions(value, K: int, name: str = "positions") -> np.ndarray:
    """Element positions in wavelengths, (K,) float64: K finite values within +-1e4, or empty for the nominal k/2."""
    from ..array import nominal_positions

    values = np.asarray([] if value is None else value, dtype=np.float64).ravel()
    if values.size == 0:
        return nominal_positions(K)
    if values.size != K:
        raise ValueError(f"{name} must hold K = {K} values (or none for the nominal array), got {values.size}")
    if not np.all(np.abs(values) <= MAX_ABS_POSITION):  # also refuses NaN
        raise ValueError(f"{name} must be finite wavelengths within +-{MAX_ABS_POSITION:g}, got {values.tolist()}")
    return values


def h0_samples(value, pfa: float, name: str = "h0_samples") -> int:
    """H0 snapshots for a threshold at false-alarm rate ``pfa``: from the evaluation's minimum to MAX_H0_SAMPLES."""
    from ..evaluation import MIN_EXCEEDANCES, min_h0_samples

    pfa = float(pfa)
    if not 0.0 < pfa < 1.0:
        raise ValueError(f"pfa must lie in (0, 1), got {pfa}")
    low = min_h0_samples(pfa)
    if low > MAX_H0_SAMPLES:
        raise ValueError(
            f"pfa {pfa:g} needs {low} H0 snapshots, more than the {MAX_H0_SAMPLES} a block calibrates on "
            f"(pfa >= {MIN_EXCEEDANCES / MAX_H0_SAMPLES:g})"
        )
    return integer(value, f"{name} (for pfa {pfa:g})", low, MAX_H0_SAMPLES)


def finite_real(value, name: str) -> float:
    """A finite number as float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)
