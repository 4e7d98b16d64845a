"""The baseline's ISAC trade-off: a (rho, phi) sweep of eq. (10), its Pareto fronts, and the
front's value at a given symbol error rate (interpolated in log SER, with a 95 % range)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from .baselines import BaselineSystem, design_maprt
from .evaluation import evaluate, h0_scores, pareto_front, seed_streams, threshold_for_pfa
from .scenario import Scenario

#: rho grid: dense near both ends, where SER and Pd change fastest.
DEFAULT_RHOS = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 1.0)
DEFAULT_PHI_STEPS = 8

#: :func:`refine_points`: parts each bracketing rho interval is split into, and phases on each side of a
#: bracketing point's phase at a quarter of the sweep's phase step. Enough: a second level, twice as fine in
#: both, moves the front at the Fig. 2 AE points by < 0.001 in Pd and < 1 % in RMSE (docs/REPRODUCTION.md).
REFINE_RHO_STEPS = 2
REFINE_PHASES = 1

CSV_FIELDS = (
    "rho",
    "phi_deg",
    "pd",
    "pd_ci_low",
    "pd_ci_high",
    "pfa",
    "pfa_ci_low",
    "pfa_ci_high",
    "rmse_deg",
    "rmse_ci_low",
    "rmse_ci_high",
    "ser",
    "ser_ci_low",
    "ser_ci_high",
    "threshold",
    "samples",
    "front_pd",
    "front_rmse",
)
#: The two fronts, by metric: (row key of the front flag, larger is better, keys of the 95 % interval).
FRONTS = {
    "pd": ("front_pd", True, "pd_ci_low", "pd_ci_high"),
    "rmse_deg": ("front_rmse", False, "rmse_ci_low", "rmse_ci_high"),
}


def baseline_sweep(scenario: Scenario, rhos, phis_rad, samples: int, seed: int, device="cpu", progress=None, **design):
    """Evaluate the baseline on every (rho, phi) of the grid; see :func:`baseline_points`."""
    points = [(rho, phi) for rho in rhos for phi in _phases(rho, phis_rad)]
    return baseline_points(scenario, points, samples, seed, device, progress, **design)


def baseline_points(
    scenario: Scenario, points, samples: int, seed: int, device="cpu", progress=None, *, steering=None, channels=None
):
    """Evaluate the baseline at every (rho, phi radians) of ``points``; one dict per point with both front flags.

    steering: the array the baseline is designed for (None: the nominal array,
    :class:`~isac_ae.baselines.BaselineSystem`); channels: what the snapshots
    go through (None: the scenario's simulated channels; a twin's or a board's).
    The MAPRT score under H0 is ``max |a^H n|^2``, which does not depend on the
    transmitted beam, so one H0 calibration (``samples`` snapshots) serves all points.
    Every point sees the test draws of ``evaluate(system, samples, seed)`` for
    any system (common random numbers): the comparison between points, and
    with a learned system evaluated with the same seed, is free of the
    channel's sampling noise that the systems share. Sweeps with equal
    (scenario, samples, seed, channels) share threshold and draws, so their
    rows can be merged (:func:`mark_fronts`).
    """
    maprt = design_maprt(scenario, steering, device)
    threshold = baseline_threshold(scenario, samples, seed, device, maprt, channels=channels)
    rows = []
    for rho, phi in points:
        system = BaselineSystem(scenario, rho, phi, device=device, maprt=maprt, steering=steering)
        result = evaluate(system, samples, seed, device, threshold=threshold, progress=progress, channels=channels)
        row = {"rho": rho, "phi_deg": math.degrees(phi), **result.to_dict()}
        row["h0_samples"] = samples
        rows.append(row)
    return mark_fronts(rows)


def baseline_threshold(scenario: Scenario, samples: int, seed: int, device="cpu", maprt=None, channels=None) -> float:
    """The MAPRT threshold every point of a sweep with (scenario, samples, seed) uses: that of ``evaluate``."""
    maprt = maprt or design_maprt(scenario, None, device)
    reference = BaselineSystem(scenario, 1.0, 0.0, device=device, maprt=maprt)
    h0 = h0_scores(reference, samples, seed_streams(seed, 2)[0], device, channels=channels)
    return threshold_for_pfa(h0, scenario.pfa)


def mark_fronts(rows):
    """Set ``front_pd`` and ``front_rmse`` of every row (in place) from all ``rows``; returns ``rows``."""
    ser = [r["ser"] for r in rows]
    for metric, (key, larger, _, _) in FRONTS.items():
        for row, on in zip(rows, pareto_front(ser, [r[metric] for r in rows], larger)):
            row[key] = bool(on)
    return rows


def _front(rows, key: str):
    """The points of one front, ordered by SER, and their log SER (zero SER kept finite)."""
    front = sorted((r for r in rows if r[key]), key=lambda r: r["ser"])
    log_ser = np.log(np.maximum([r["ser"] for r in front], np.finfo(float).tiny))
    return front, log_ser


def _interpolate(front, log_ser, field: str, ser: float) -> float:
    """``field`` along the front at ``ser``: linear in log SER between adjacent points, flat beyond the last."""
    if not front or ser < front[0]["ser"]:
        return math.nan
    return float(np.interp(math.log(max(ser, np.finfo(float).tiny)), log_ser, [r[field] for r in front]))


def front_at_ser(rows, ser: float, ser_low: float, ser_high: float, metric: str) -> dict:
    """The baseline's ``metric`` ("pd" or "rmse_deg") on its Pareto front at symbol error rate ``ser``.

    The front is the non-dominated points in (lower SER, better metric);
    between two adjacent front points the value is interpolated linearly in
    log SER (the front is smooth in log SER, a step function would credit the
    baseline only with its grid point below ``ser``). Beyond the front's
    largest SER the value stays at its last point (it is reachable at lower
    SER); below its smallest SER it is NaN (the baseline cannot get there).

    ``low`` / ``high`` bound the value over SERs in [ser_low, ser_high] (the
    compared system's SER interval), with every front point's own 95 %
    interval interpolated the same way: the range of what the baseline does
    at a SER that sampling cannot tell from ``ser``. Interpolating the
    interval bounds (rather than adding variances) treats neighbouring points
    as fully correlated, which can only widen the range.
    ``points``: the (rho, phi_deg) of the two front points around ``ser`` ((omega_r,) for a front of
    autoencoder rows).
    """
    key, _, ci_low, ci_high = FRONTS[metric]
    front, log_ser = _front(rows, key)
    value = _interpolate(front, log_ser, metric, ser)
    if math.isnan(value):
        return {"value": math.nan, "low": math.nan, "high": math.nan, "points": []}
    sers = [s for s in (ser_low, ser_high) if s >= front[0]["ser"]]
    sers += [r["ser"] for r in front if ser_low < r["ser"] < ser_high]
    low = min(_interpolate(front, log_ser, ci_low, s) for s in sers)
    high = max(_interpolate(front, log_ser, ci_high, s) for s in sers)
    upper = int(np.searchsorted([r["ser"] for r in front], ser, side="right"))
    around = front[max(upper - 1, 0) : upper + 1]
    return {"value": value, "low": low, "high": high, "points": [_point_label(r) for r in around]}


def _point_label(row) -> tuple:
    """What identifies a point of a front: (rho, phi_deg) of a baseline sweep, (omega_r,) of autoencoder rows."""
    return (row["rho"], row["phi_deg"]) if "rho" in row else (row["omega"],)


def refine_points(
    rows, sers, phase_step_rad: float, rho_steps: int = REFINE_RHO_STEPS, phases: int = REFINE_PHASES
) -> list[tuple[float, float]]:
    """(rho, phi radians) points that refine both fronts around each SER of ``sers``; none already in ``rows``.

    The two adjacent front points around a SER span a rho interval, split in
    ``rho_steps`` equal parts; every rho of it (ends included) gets the phases
    within ``phases`` quarter steps (``phase_step_rad / 4``) of either point's
    phase. The front runs along a ridge in phase (its points share one or two
    phases), so this refines where the front is rather than the whole grid.
    """
    known = {_point_key(r["rho"], math.radians(r["phi_deg"])) for r in rows}
    offsets = np.arange(-phases, phases + 1) * phase_step_rad / 4
    new = {}
    for key, _, _, _ in FRONTS.values():
        front, _ = _front(rows, key)
        front_ser = [r["ser"] for r in front]
        for ser in sers:
            upper = int(np.searchsorted(front_ser, ser, side="right"))
            if upper == 0 or upper == len(front):
                continue
            pair = front[upper - 1 : upper + 1]
            a, b = sorted(r["rho"] for r in pair)
            centres = {math.radians(r["phi_deg"]) for r in pair}
            for rho in np.linspace(a, b, rho_steps + 1):
                for phi in {float((c + o) % (2 * math.pi)) for c in centres for o in offsets}:
                    new.setdefault(_point_key(rho, phi), (float(rho), phi))
    return [new[k] for k in sorted(set(new) - known)]


def _point_key(rho: float, phi_rad: float) -> tuple[float, float]:
    """Identity of a (rho, phi) point: rounded, the phase wrapped, and no phase at rho = 0 or 1."""
    rho = round(float(rho), 9)
    return (rho, 0.0 if rho in (0.0, 1.0) else round(math.degrees(phi_rad) % 360.0, 6) % 360.0)


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
