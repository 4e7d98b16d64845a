"""Array geometry: element positions and steering vectors.

Positions ``p`` are in wavelengths; the steering vector of a linear array is
``a(theta)_k = exp(-j 2 pi p_k sin(theta))`` (docs/ARCHITECTURE.md), identical for
transmission and reception. With the nominal positions ``p_k = k/2`` this is
eq. (1)'s ``exp(-j 2 pi k d sin(theta) / lambda)`` with ``d = lambda/2``.
"""

from __future__ import annotations

import numpy as np
import torch


def nominal_positions(num_antennas: int) -> np.ndarray:
    """Half-wavelength uniform linear array, wavelengths, shape (K,)."""
    return 0.5 * np.arange(num_antennas, dtype=np.float64)


def impaired_positions(num_antennas: int, spacing_std: float, seed: int, model: str = "cumulative") -> np.ndarray:
    """Element positions under the spacing impairment of Sec. IV-E, wavelengths, shape (K,).

    The K-1 spacings are drawn once, ``d_k ~ N(1/2, spacing_std^2)`` with a
    NumPy generator seeded by ``seed`` (so a realisation is reproducible).

    * ``"cumulative"`` (the paper's text): ``p_0 = 0``, ``p_k = d_0 + ... + d_{k-1}``.
    * ``"scaled"`` (the authors' later public code): ``p_k = k * d_k`` with K
      draws, so the error grows with the element index.
    """
    if spacing_std == 0.0:
        return nominal_positions(num_antennas)
    rng = np.random.default_rng(seed)
    if model == "cumulative":
        spacings = rng.normal(0.5, spacing_std, size=num_antennas - 1)
        return np.concatenate([[0.0], np.cumsum(spacings)])
    if model == "scaled":
        spacings = rng.normal(0.5, spacing_std, size=num_antennas)
        return np.arange(num_antennas) * spacings
    raise ValueError(f"unknown position model {model!r}")


def steering_matrix(positions, angles_rad) -> np.ndarray:
    """Steering vectors as columns, NumPy complex128, shape (K, len(angles))."""
    positions = np.asarray(positions, dtype=np.float64)
    angles = np.atleast_1d(np.asarray(angles_rad, dtype=np.float64))
    return np.exp(-2j * np.pi * np.outer(positions, np.sin(angles)))


def steering(positions: torch.Tensor, angles_rad: torch.Tensor) -> torch.Tensor:
    """Steering vectors, torch, differentiable in the angles.

    positions: (K,) real tensor (wavelengths); angles_rad: (...,) real tensor.
    Returns a complex tensor of shape (..., K).
    """
    phase = -2.0 * torch.pi * angles_rad.sin().unsqueeze(-1) * positions
    return torch.polar(torch.ones_like(phase), phase)


def beampattern(positions, weights, angles_rad) -> np.ndarray:
    """Transmitted energy per direction E(phi) = |a(phi)^T y|^2, shape (len(angles),)."""
    return np.abs(steering_matrix(positions, angles_rad).T @ np.asarray(weights)) ** 2
