"""Shared helpers of the ``cpp_*`` wrappers: the compiled module, unit conversions."""

from __future__ import annotations

import math

from .. import kernels


def module():
    """The pybind11 module ``isac_ae.isac_ae_python`` (clear ImportError when not built)."""
    return kernels.load()


def sector_rad(sector_deg, name: str = "sector_deg") -> tuple[float, float]:
    """(min, max) in degrees -> radians; the C++ block checks the range."""
    values = [float(a) for a in sector_deg]
    if len(values) != 2:
        raise ValueError(f"{name} must be (min, max) in degrees, got {sector_deg!r}")
    return math.radians(values[0]), math.radians(values[1])


def positions_list(positions) -> list[float]:
    """Element positions (wavelengths) as a list; empty (or None) selects the nominal k/2 array."""
    if positions is None:
        return []
    return [float(p) for p in positions]


def complex_list(values, name: str) -> list[complex]:
    out = [complex(v) for v in values]
    if not out:
        raise ValueError(f"{name} must not be empty")
    return out
