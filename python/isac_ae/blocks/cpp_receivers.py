"""The C++ receivers: ML comm detector (eq. 11) and MAPRT radar detector (Appendix A)."""

from __future__ import annotations

import numpy as np

from ..baselines import qam_constellation
from .cpp_common import complex_list, module, positions_list, sector_rad


def ml_detector(constellation=None):
    """In: z_c, kappa (complex). Out: argmin_m |z_c - kappa x(m)|^2 (byte).

    constellation: x(m), default the core's unit-energy 4-QAM. Setter: ``set_constellation``.
    """
    if constellation is None:
        constellation = qam_constellation(4)
    return module().ml_detector(complex_list(constellation, "constellation"))


def maprt_detector(
    K: int = 16,
    positions=(),
    sector_deg=(-20.0, 20.0),
    threshold: float = float("inf"),
    fine_step_u: float = 2e-4,
    refine_factor: int = 10,
    levels: int = 2,
    candidates: int = 3,
):
    """In: z_r (vlen K). Out: statistic (float), theta_hat (float, rad), detection (byte).

    statistic = max over the prior sector of |a(theta)^H z|^2 (the core's
    coarse-to-fine search), detection = statistic > threshold. positions: the
    array the detector assumes (empty: nominal k/2). Setter: ``set_threshold``.
    See :func:`h0_threshold` for a threshold at a false-alarm rate.
    """
    lo, hi = sector_rad(sector_deg)
    return module().maprt_detector(
        int(K),
        positions_list(positions),
        lo,
        hi,
        float(threshold),
        float(fine_step_u),
        int(refine_factor),
        int(levels),
        int(candidates),
    )


def h0_threshold(
    K: int = 16,
    positions=(),
    sector_deg=(-20.0, 20.0),
    pfa: float = 1e-2,
    samples: int = 200_000,
    seed: int = 0,
) -> float:
    """Threshold of the MAPRT statistic at false-alarm rate ``pfa``, from ``samples`` noise-only snapshots.

    Under H0 the radar snapshot is CN(0, I_K) whatever the beam, so the threshold
    depends on the array and the sector only. Same rule as the evaluation
    (:func:`isac_ae.evaluation.threshold_for_pfa`): the smallest value whose
    exceedance on the H0 set is at most ``pfa``.
    """
    from ..evaluation import threshold_for_pfa

    K = int(K)
    pos = positions_list(positions) or [0.5 * k for k in range(K)]
    search = module().MaprtSearch(pos, *sector_rad(sector_deg))
    rng = np.random.default_rng(seed)
    scores = []
    for start in range(0, samples, 65536):
        n = min(65536, samples - start)
        z = ((rng.standard_normal((n, K)) + 1j * rng.standard_normal((n, K))) / np.sqrt(2)).astype(np.complex64)
        scores.append(search.search(z)[0])
    return threshold_for_pfa(np.concatenate(scores), pfa)
