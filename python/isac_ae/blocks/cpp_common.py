"""Shared helpers of the ``cpp_*`` wrappers: the compiled module, parameter lists."""

from __future__ import annotations

from .. import kernels


def module():
    """The pybind11 module ``isac_ae.isac_ae_python`` (clear ImportError when not built)."""
    return kernels.load()


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
