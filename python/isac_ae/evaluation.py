"""Evaluation at a fixed false-alarm rate, one code path for learned and baseline systems.

A system is anything with the :class:`IsacSystem` methods. Evaluation
1. calibrates the detection threshold on an independent H0 set (no target)
   so that a fraction ``Pfa`` of its scores exceeds it;
2. runs a test set with t ~ Bernoulli(p_target) and reports Pd, the empirical
   Pfa with its Clopper-Pearson interval, the RMSE over present-and-detected
   targets, the mean predicted sigma (learned systems) and the SER.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Optional, Protocol

import numpy as np
import torch
from scipy import stats

from .channels import CommChannel, RadarChannel
from .scenario import Scenario

DEFAULT_CHUNK = 1 << 16


class IsacSystem(Protocol):
    scenario: Scenario

    def transmit(self, messages: torch.Tensor):
        """(N,) int64 -> (y (N, K) complex, beamformer v (K,) or (N, K))."""

    def radar_receive(self, z: torch.Tensor):
        """(N, K) -> (score (N,), theta_hat (N,) radians, sigma_hat (N,) radians or None)."""

    def comm_receive(self, z: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
        """(N,), (N,) complex -> (N,) int64 message estimates."""


@dataclass
class EvaluationResult:
    """Figures of merit at a fixed false-alarm rate. Angles in degrees."""

    pd: float
    pfa: float
    pfa_ci_low: float
    pfa_ci_high: float
    rmse_deg: float
    sigma_deg: Optional[float]
    ser: float
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


def clopper_pearson(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact binomial confidence interval of a proportion."""
    if trials == 0:
        return (0.0, 1.0)
    alpha = 1.0 - confidence
    low = stats.beta.ppf(alpha / 2, successes, trials - successes + 1) if successes > 0 else 0.0
    high = stats.beta.ppf(1 - alpha / 2, successes + 1, trials - successes) if successes < trials else 1.0
    return float(low), float(high)


def seed_streams(seed: int, count: int) -> list[int]:
    """Independent integer seeds for ``count`` random streams derived from one seed."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(count, dtype=np.uint64) >> np.uint64(1)]


def _generator(seed: int, device) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def _chunks(total: int, chunk: int):
    for start in range(0, total, chunk):
        yield min(chunk, total - start)


def _draw_messages(n: int, num_messages: int, generator: torch.Generator, device) -> torch.Tensor:
    return torch.randint(num_messages, (n,), generator=generator, device=device)


@torch.inference_mode()
def h0_scores(system: IsacSystem, samples: int, seed: int, device="cpu", chunk: int = DEFAULT_CHUNK) -> np.ndarray:
    """Detection scores of ``samples`` target-free snapshots, shape (samples,)."""
    sc = system.scenario
    gen = _generator(seed, device)
    radar = RadarChannel(sc, device=device)
    scores = []
    for n in _chunks(samples, chunk):
        y, _ = system.transmit(_draw_messages(n, sc.num_messages, gen, device))
        score, _, _ = system.radar_receive(radar(y, gen, target=False).z)
        scores.append(score.float().cpu().numpy())
    return np.concatenate(scores)


def threshold_for_pfa(h0: np.ndarray, pfa: float) -> float:
    """Smallest threshold whose exceedance fraction on ``h0`` is at most ``pfa`` (rule: score > threshold)."""
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
    chunk: int = DEFAULT_CHUNK,
    progress=None,
) -> EvaluationResult:
    """Evaluate ``system`` on ``samples`` test snapshots (and as many H0 snapshots).

    ``threshold`` skips the H0 calibration when the caller already has one
    (e.g. a sweep whose H0 scores do not depend on the transmitter).
    ``progress`` is an optional callable taking the number of snapshots done.
    """
    if samples < 1:
        raise ValueError(f"samples must be positive, got {samples}")
    sc = system.scenario
    h0_seed, test_seed = seed_streams(seed, 2)
    h0_samples = 0
    if threshold is None:
        threshold = threshold_for_pfa(h0_scores(system, samples, h0_seed, device, chunk), sc.pfa)
        h0_samples = samples
    gen = _generator(test_seed, device)
    radar = RadarChannel(sc, device=device)
    comm = CommChannel(sc, device=device)
    targets = detected = false_alarms = absent = symbol_errors = 0
    sq_error = sigma_sum = sigma_sq_sum = 0.0
    has_sigma = False
    for n in _chunks(samples, chunk):
        messages = _draw_messages(n, sc.num_messages, gen, device)
        y, v = system.transmit(messages)
        rd = radar(y, gen)
        cd = comm(y, v, gen)
        score, theta_hat, sigma_hat = system.radar_receive(rd.z)
        decision = score > threshold
        hit = decision & rd.target
        targets += int(rd.target.sum())
        absent += int((~rd.target).sum())
        detected += int(hit.sum())
        false_alarms += int((decision & ~rd.target).sum())
        sq_error += float((theta_hat[hit].double() - rd.theta[hit].double()).square().sum())
        if sigma_hat is not None:
            has_sigma = True
            sigma_sum += float(sigma_hat[hit].double().sum())
            sigma_sq_sum += float(sigma_hat[hit].double().square().sum())
        symbol_errors += int((system.comm_receive(cd.z, cd.kappa) != messages).sum())
        if progress is not None:
            progress(n)
    low, high = clopper_pearson(false_alarms, absent)
    return EvaluationResult(
        pd=detected / targets if targets else float("nan"),
        pfa=false_alarms / absent if absent else float("nan"),
        pfa_ci_low=low,
        pfa_ci_high=high,
        rmse_deg=math.degrees(math.sqrt(sq_error / detected)) if detected else float("nan"),
        sigma_deg=math.degrees(sigma_sum / detected) if has_sigma and detected else None,
        ser=symbol_errors / samples,
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
