"""Transmitter baseline of Sec. IV-B.1: LS beampattern synthesis, the ISAC beam, 4-QAM."""

from __future__ import annotations

import math

import numpy as np

from ..array import steering_matrix

#: Angular grid of the LS synthesis, radians: 0.25° over the whole half-space.
DEFAULT_SYNTHESIS_GRID = np.deg2rad(np.linspace(-90.0, 90.0, 721))


def ls_beam(positions, sector_rad, grid_rad=DEFAULT_SYNTHESIS_GRID) -> np.ndarray:
    """Least-squares beam for an angular sector on ideal elements at ``positions`` (K,), wavelengths, eq. (9)."""
    return ls_beam_for(lambda theta: steering_matrix(positions, theta).T, sector_rad, grid_rad)


def ls_beam_for(tx_manifold, sector_rad, grid_rad=DEFAULT_SYNTHESIS_GRID) -> np.ndarray:
    """Least-squares beam for an angular sector, eq. (9), unit norm, shape (K,), on any array.

    tx_manifold: angles (G,) radians -> (G, K) complex, the field each element
    radiates toward each angle (``tx`` of :mod:`isac_ae.baselines.steering`).
    Solves ``min_y || b - A y ||^2`` where the rows of ``A`` are the TX steering
    vectors of the grid and ``b_i = ||a(theta_i)||^2`` inside the sector (K on
    ideal elements), 0 outside. ``lstsq`` gives the same minimiser as the
    normal equations without forming them (they can be ill-conditioned).
    """
    lo, hi = sector_rad
    grid = np.asarray(grid_rad, dtype=np.float64)
    inside = (grid >= lo) & (grid <= hi)
    if not inside.any():
        # A sector narrower than the grid step still needs a target direction.
        grid = np.append(grid, 0.5 * (lo + hi))
        inside = np.append(inside, True)
    a = np.asarray(tx_manifold(grid), dtype=np.complex128)
    if a.ndim != 2 or a.shape[0] != grid.size:
        raise ValueError(f"tx_manifold must map {grid.size} angles to ({grid.size}, K), got {a.shape}")
    desired = np.where(inside, np.sum(np.abs(a) ** 2, axis=1), 0.0)
    y, *_ = np.linalg.lstsq(a, desired.astype(np.complex128), rcond=None)
    return y / np.linalg.norm(y)


def isac_beam(radar_beam, comm_beam, rho: float, phi_rad: float, energy: float = 1.0) -> np.ndarray:
    """ISAC beam of eq. (10): a normalised mix of the radar and comm beams, shape (K,).

    ``rho`` in [0, 1] weights the radar beam; ``phi_rad`` (finite) is the relative phase.
    """
    if not 0.0 <= rho <= 1.0:
        raise ValueError(f"rho must lie in [0, 1], got {rho}")
    if not math.isfinite(phi_rad):  # exp(j inf) is NaN: the whole beam would be
        raise ValueError(f"phi must be finite, got {phi_rad}")
    mix = math.sqrt(rho) * np.asarray(radar_beam) + math.sqrt(1.0 - rho) * np.exp(1j * phi_rad) * np.asarray(comm_beam)
    norm = np.linalg.norm(mix)
    if norm == 0.0:
        raise ValueError("the radar and comm beams cancel for this (rho, phi); pick another phase")
    return math.sqrt(energy) * mix / norm


def qam_constellation(num_messages: int) -> np.ndarray:
    """Unit average energy square QAM, message m at index m, shape (M,) complex."""
    side = int(round(math.sqrt(num_messages)))
    if side * side != num_messages:
        raise ValueError(f"the QAM baseline needs a square |M| (4, 16, 64, ...), got {num_messages}")
    levels = np.arange(side) * 2.0 - (side - 1)
    points = (levels[:, None] + 1j * levels[None, :]).ravel()
    return points / np.sqrt(np.mean(np.abs(points) ** 2))
