"""Closed-form and numerically integrated reference results used to verify the simulator."""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, special


def q_function(x):
    """Gaussian tail probability Q(x) = P(N(0, 1) > x)."""
    return 0.5 * special.erfc(np.asarray(x) / math.sqrt(2.0))


def qpsk_ser_awgn(snr):
    """SER of unit-energy 4-QAM at instantaneous SNR gamma = |h|^2 Es / N0: 2Q(sqrt g) - Q(sqrt g)^2."""
    q = q_function(np.sqrt(snr))
    return 2.0 * q - q * q


def qpsk_ser_rayleigh(mean_snr: float) -> float:
    """Average SER of 4-QAM with CSI in Rayleigh fading, mean SNR ``mean_snr`` (linear).

    Integrates the AWGN SER over the exponential SNR density numerically.
    """
    if mean_snr <= 0:
        return 0.75
    value, _ = integrate.quad(lambda g: qpsk_ser_awgn(g) * math.exp(-g / mean_snr) / mean_snr, 0.0, np.inf, limit=200)
    return float(value)


def angle_crb(positions, theta_rad: float, snr: float) -> float:
    """Cramér-Rao bound (rad^2) on theta from ``z = s a(theta) + n`` with unknown complex ``s``.

    positions: element positions in wavelengths; snr = |s|^2 / N0 (linear).
    Fisher information 2 snr (||a'||^2 - |a^H a'|^2 / ||a||^2), which for
    a(theta)_k = exp(-j 2 pi p_k sin theta) equals 8 pi^2 cos^2(theta) snr K var(p).
    """
    p = np.asarray(positions, dtype=float)
    fisher = 8.0 * math.pi**2 * math.cos(theta_rad) ** 2 * snr * len(p) * np.var(p)
    return 1.0 / fisher
