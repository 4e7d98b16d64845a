"""Evaluation at a fixed false-alarm rate, one code path for learned and baseline systems.

A system is anything with the :class:`IsacSystem` methods. Evaluation
1. calibrates the detection threshold on an independent H0 set (no target)
   so that a fraction ``Pfa`` of its scores exceeds it;
2. runs a test set with t ~ Bernoulli(p_target) and reports Pd, the empirical
   Pfa, the RMSE over present-and-detected targets, each with a 95 % interval,
   the mean predicted sigma (learned systems) and the SER.

The intervals are conditional on the calibrated threshold: the test
snapshots are independent given it, so each interval is the sampling
uncertainty of the test set alone.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional, Protocol

import numpy as np
import torch
from scipy import stats

from .channels import Beamformed, Channels
from .scenario import Scenario

DEFAULT_CHUNK = 1 << 16
#: Confidence of every interval the evaluation reports.
CONFIDENCE = 0.95
#: Expected H0 exceedances a threshold calibration needs (see :func:`min_h0_samples`).
MIN_EXCEEDANCES = 10


class IsacSystem(Protocol):
    scenario: Scenario

    def transmit(self, messages: torch.Tensor):
        """(N,) int64 -> (y (N, K) complex, beamformer v (K,) or (N, K))."""

    def radar_receive(self, z: torch.Tensor):
        """(N, K) -> (score (N,), theta_hat (N,) radians, sigma_hat (N,) radians or None).

        A system whose score costs less alone may also have ``radar_detect(z)`` -> score (N,), equal to
        radar_receive's: the H0 calibration (:func:`h0_scores`) then uses it."""

    def comm_receive(self, z: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
        """(N,), (N,) complex -> (N,) int64 message estimates."""


@dataclass
class EvaluationResult:
    """Figures of merit at a fixed false-alarm rate. Angles in degrees; ``*_ci_*``: 95 % intervals."""

    pd: float
    pd_ci_low: float
    pd_ci_high: float
    pfa: float
    pfa_ci_low: float
    pfa_ci_high: float
    rmse_deg: float
    rmse_ci_low: float
    rmse_ci_high: float
    sigma_deg: Optional[float]
    ser: float
    ser_ci_low: float
    ser_ci_high: float
    threshold: float
    target_pfa: float
    samples: int
    h0_samples: int
    targets: int
    detected: int
    #: sqrt of the mean predicted variance over present-and-detected targets: the
    #: RMSE a calibrated sigma predicts (mean sigma_deg is below it by Jensen).
    sigma_rms_deg: Optional[float] = None

    def to_dict(self) -> dict:
        return asdict(self)


def clopper_pearson(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Exact binomial confidence interval of a proportion; (0, 1) without trials."""
    if trials == 0:
        return (0.0, 1.0)
    alpha = 1.0 - confidence
    low = stats.beta.ppf(alpha / 2, successes, trials - successes + 1) if successes > 0 else 0.0
    high = stats.beta.ppf(1 - alpha / 2, successes + 1, trials - successes) if successes < trials else 1.0
    return float(low), float(high)


def rmse_interval(sum_sq: float, sum_fourth: float, count: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Confidence interval of the RMSE sqrt(sum_sq / count) of ``count`` independent errors e_i.

    sum_sq = sum e_i^2, sum_fourth = sum e_i^4 (any unit; the interval is in
    the same unit). The mean squared error is a mean of independent terms, so
    its standard error comes from the sample variance of e_i^2 (the batch-means
    estimate with batches of one snapshot: the most degrees of freedom, which
    matters because a few large errors carry most of the variance). The
    interval is normal on log(MSE): it stays positive and follows the right
    skew that those few large errors give the MSE. NaN without two errors.
    """
    if count < 2:
        return (math.nan, math.nan)
    mse = sum_sq / count
    if mse == 0.0:
        return (0.0, 0.0)
    variance = max(sum_fourth / count - mse * mse, 0.0) * count / (count - 1)
    spread = stats.norm.ppf(0.5 + confidence / 2) * math.sqrt(variance / count) / mse
    return (math.sqrt(mse * math.exp(-spread)), math.sqrt(mse * math.exp(spread)))


def seed_streams(seed: int, count: int) -> list[int]:
    """Independent integer seeds for ``count`` random streams derived from one seed."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count, dtype=np.uint64) >> np.uint64(1)]


def _generator(seed: int, device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def default_chunk(num_antennas: int) -> int:
    """Snapshots per chunk: DEFAULT_CHUNK up to K = 16, fewer beyond so a chunk's memory stays bounded
    (a K = 4096 MAPRT needs ~300 kB per snapshot)."""
    return DEFAULT_CHUNK if num_antennas <= 16 else max(1024, DEFAULT_CHUNK * 16 // num_antennas)


def _chunks(total: int, chunk: int):
    for start in range(0, total, chunk):
        yield min(chunk, total - start)


def _draw_messages(n: int, num_messages: int, generator: torch.Generator, device) -> torch.Tensor:
    return torch.randint(num_messages, (n,), generator=generator, device=device)


def _factored(y: torch.Tensor, v: torch.Tensor):
    """A system's y = x v (N, K) with one beam v (K,) as :class:`Beamformed` (symbols x = y v^H / ||v||^2),
    which every channel takes (a board transmits symbols on a beam); per-snapshot beams stay dense."""
    if v.ndim != 1:
        return y
    return Beamformed(y @ v.conj() / v.abs().square().sum(), v)


@torch.inference_mode()
def h0_scores(
    system: IsacSystem,
    samples: int,
    seed: int,
    device="cpu",
    chunk: Optional[int] = None,
    channels: Optional[Channels] = None,
) -> np.ndarray:
    """Detection scores of ``samples`` target-free snapshots, shape (samples,).

    ``channels``: what the snapshots go through (default: the scenario's simulated channels).
    """
    sc = system.scenario
    gen = _generator(seed, device)
    radar = (channels or Channels.simulated(sc, device)).radar
    detect = getattr(system, "radar_detect", None) or (lambda z: system.radar_receive(z)[0])
    scores = []
    for n in _chunks(samples, chunk or default_chunk(sc.num_antennas)):
        y = _factored(*system.transmit(_draw_messages(n, sc.num_messages, gen, device)))
        scores.append(detect(radar(y, gen, target=False).z).float().cpu().numpy())
    return np.concatenate(scores)


def min_h0_samples(pfa: float) -> int:
    """H0 snapshots a threshold at false-alarm rate ``pfa`` needs: ceil(10 / pfa).

    With fewer than about 1/pfa snapshots the threshold is the H0 maximum and
    the real Pfa is near 1/N whatever ``pfa`` says; 10 expected exceedances
    keep the achieved Pfa within about 1/sqrt(10) (32 %, one sigma) of ``pfa``.
    """
    if not 0.0 < pfa < 1.0:
        raise ValueError(f"pfa must lie in (0, 1), got {pfa}")
    return math.ceil(MIN_EXCEEDANCES / pfa)


def _check_h0_samples(samples: int, pfa: float) -> None:
    needed = min_h0_samples(pfa)
    if samples < needed:
        raise ValueError(
            f"Pfa {pfa:g} needs at least {needed} H0 snapshots ({MIN_EXCEEDANCES} expected false alarms), got {samples}"
        )


def threshold_for_pfa(h0: np.ndarray, pfa: float) -> float:
    """Smallest threshold whose exceedance fraction on ``h0`` is at most ``pfa`` (rule: score > threshold).

    Raises ValueError when ``h0`` holds fewer than :func:`min_h0_samples` scores.
    """
    _check_h0_samples(len(h0), pfa)
    ordered = np.sort(h0)
    rank = min(len(ordered) - 1, max(0, math.ceil((1.0 - pfa) * len(ordered)) - 1))
    return float(ordered[rank])


@torch.inference_mode()
def evaluate(
    system: IsacSystem,
    samples: int,
    seed: int,
    device="cpu",
    threshold: Optional[float] = None,
    chunk: Optional[int] = None,
    progress=None,
    channels: Optional[Channels] = None,
) -> EvaluationResult:
    """Evaluate ``system`` on ``samples`` test snapshots (and as many H0 snapshots).

    ``threshold`` skips the H0 calibration when the caller already has one
    (e.g. a sweep whose H0 scores do not depend on the transmitter); without
    it ``samples`` must be at least :func:`min_h0_samples` (ValueError).
    ``progress`` is an optional callable taking the number of snapshots done.
    ``channels``: what the test and H0 snapshots go through (default: the
    scenario's simulated channels; a digital twin's or a board's, see
    :mod:`isac_ae.hw`). Equal seeds give every system the same test draws
    (messages, targets, channels): comparisons between systems use common
    random numbers.
    """
    if samples < 1:
        raise ValueError(f"samples must be positive, got {samples}")
    sc = system.scenario
    h0_seed, test_seed = seed_streams(seed, 2)
    h0_samples = 0
    if threshold is None:
        _check_h0_samples(samples, sc.pfa)
        threshold = threshold_for_pfa(h0_scores(system, samples, h0_seed, device, chunk, channels), sc.pfa)
        h0_samples = samples
    gen = _generator(test_seed, device)
    channels = channels or Channels.simulated(sc, device)
    radar, comm = channels.radar, channels.comm
    targets = detected = false_alarms = absent = symbol_errors = 0
    sq_error = fourth_error = sigma_sum = sigma_sq_sum = 0.0
    has_sigma = False
    for n in _chunks(samples, chunk or default_chunk(sc.num_antennas)):
        messages = _draw_messages(n, sc.num_messages, gen, device)
        y, v = system.transmit(messages)
        y = _factored(y, v)
        rd = radar(y, gen)
        cd = comm(y, gen) if isinstance(y, Beamformed) else comm(y, gen, v=v)
        score, theta_hat, sigma_hat = system.radar_receive(rd.z)
        decision = score > threshold
        hit = decision & rd.target
        targets += int(rd.target.sum())
        absent += int((~rd.target).sum())
        detected += int(hit.sum())
        false_alarms += int((decision & ~rd.target).sum())
        sq = (theta_hat[hit].double() - rd.theta[hit].double()).square()
        sq_error += float(sq.sum())
        fourth_error += float(sq.square().sum())
        if sigma_hat is not None:
            has_sigma = True
            sigma_sum += float(sigma_hat[hit].double().sum())
            sigma_sq_sum += float(sigma_hat[hit].double().square().sum())
        symbol_errors += int((system.comm_receive(cd.z, cd.kappa) != messages).sum())
        if progress is not None:
            progress(n)
    pd_low, pd_high = clopper_pearson(detected, targets)
    pfa_low, pfa_high = clopper_pearson(false_alarms, absent)
    ser_low, ser_high = clopper_pearson(symbol_errors, samples)
    rmse_low, rmse_high = rmse_interval(sq_error, fourth_error, detected)
    return EvaluationResult(
        pd=detected / targets if targets else float("nan"),
        pd_ci_low=pd_low,
        pd_ci_high=pd_high,
        pfa=false_alarms / absent if absent else float("nan"),
        pfa_ci_low=pfa_low,
        pfa_ci_high=pfa_high,
        rmse_deg=math.degrees(math.sqrt(sq_error / detected)) if detected else float("nan"),
        rmse_ci_low=math.degrees(rmse_low),
        rmse_ci_high=math.degrees(rmse_high),
        sigma_deg=math.degrees(sigma_sum / detected) if has_sigma and detected else None,
        ser=symbol_errors / samples,
        ser_ci_low=ser_low,
        ser_ci_high=ser_high,
        threshold=float(threshold),
        target_pfa=sc.pfa,
        samples=samples,
        h0_samples=h0_samples,
        targets=targets,
        detected=detected,
        sigma_rms_deg=math.degrees(math.sqrt(sigma_sq_sum / detected)) if has_sigma and detected else None,
    )


def pareto_front(ser, radar_metric, larger_is_better: bool) -> np.ndarray:
    """Boolean mask of the points not dominated in (lower SER, better radar metric).

    ser, radar_metric: (P,) arrays (NaN radar metrics are never on the front).
    """
    ser = np.asarray(ser, dtype=float)
    radar = np.asarray(radar_metric, dtype=float)
    if not larger_is_better:
        radar = -radar
    valid = ~np.isnan(radar) & ~np.isnan(ser)
    front = np.zeros(len(ser), dtype=bool)
    for i in np.flatnonzero(valid):
        no_worse = valid & (ser <= ser[i]) & (radar >= radar[i])
        better = (ser < ser[i]) | (radar > radar[i])
        front[i] = not np.any(no_worse & better)
    return front
