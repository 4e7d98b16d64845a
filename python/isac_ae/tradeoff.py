"""The baseline's ISAC trade-off: a (rho, phi) sweep of eq. (10) and its Pareto fronts."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from .baselines import BaselineSystem, MaprtDetector
from .evaluation import evaluate, h0_scores, pareto_front, seed_streams, threshold_for_pfa
from .scenario import Scenario

#: rho grid: dense near both ends, where SER and Pd change fastest.
DEFAULT_RHOS = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 1.0)
DEFAULT_PHI_STEPS = 8

CSV_FIELDS = ("rho", "phi_deg", "pd", "pfa", "pfa_ci_low", "pfa_ci_high", "rmse_deg", "ser",
              "threshold", "samples", "front_pd", "front_rmse")


def baseline_sweep(scenario: Scenario, rhos, phis_rad, samples: int, seed: int, device="cpu", progress=None):
    """Evaluate the baseline on every (rho, phi); returns one dict per point with both front flags.

    The MAPRT score under H0 is ``max |a^H n|^2``, which does not depend on the
    transmitted beam, so one H0 calibration (``samples`` snapshots) serves all points.
    Every point sees the same test draws (common random numbers), which keeps
    the comparison between points free of sampling noise in the channel.
    """
    maprt = MaprtDetector(scenario.nominal_positions(), scenario.target_sector_rad, device=device)
    h0_seed, test_seed = seed_streams(seed, 2)
    reference = BaselineSystem(scenario, 1.0, 0.0, device=device, maprt=maprt)
    threshold = threshold_for_pfa(h0_scores(reference, samples, h0_seed, device), scenario.pfa)
    rows = []
    for rho in rhos:
        for phi in _phases(rho, phis_rad):
            system = BaselineSystem(scenario, rho, phi, device=device, maprt=maprt)
            result = evaluate(system, samples, test_seed, device, threshold=threshold, progress=progress)
            row = {"rho": rho, "phi_deg": math.degrees(phi), **result.to_dict()}
            row["h0_samples"] = samples
            rows.append(row)
    ser = [r["ser"] for r in rows]
    for row, on_pd, on_rmse in zip(rows, pareto_front(ser, [r["pd"] for r in rows], True),
                                   pareto_front(ser, [r["rmse_deg"] for r in rows], False)):
        row["front_pd"], row["front_rmse"] = bool(on_pd), bool(on_rmse)
    return rows


def _phases(rho: float, phis):
    """The phases worth evaluating at ``rho``: at rho = 0 or 1 the phase has no effect."""
    return phis[:1] if rho in (0.0, 1.0) else phis


def sweep_size(rhos, phis) -> int:
    """Number of (rho, phi) points :func:`baseline_sweep` evaluates."""
    return sum(len(_phases(rho, phis)) for rho in rhos)


def write_csv(rows, path: Path) -> None:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        for key, value in row.items():
            row[key] = value == "True" if value in ("True", "False") else float(value)
    return rows


def default_phis(steps: int = DEFAULT_PHI_STEPS) -> np.ndarray:
    return np.arange(steps) * 2.0 * np.pi / steps
