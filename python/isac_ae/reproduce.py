"""The paper's results (Fig. 2-5): evaluation of a model sweep against the baseline, tables and figures.

Every figure is one function of (out_dir, samples, seed); ``reproduce`` runs
the requested ones. Model sweeps come from the shipped pretrained models
(:data:`isac_ae.pretrained.SWEEPS`) unless ``retrain`` names a budget, in
which case they are trained into ``out_dir/models`` (resuming if interrupted).

The baseline at an autoencoder point is its Pareto front at the AE's SER,
interpolated in log SER between adjacent front points, on a (rho, phi) grid
refined around every AE's SER (:func:`baseline_front`), with the same seed
and therefore the same test draws as the AE (common random numbers).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from .array import beampattern
from .autoencoder import AutoencoderSystem, TrainingConfig
from .autoencoder.modelfile import LoadedModel, ModelFileError, load_model
from .autoencoder.sweep import load_sweep, train_sweep
from .autoencoder.training import BUDGETS
from .evaluation import evaluate
from .plots import plot_beampatterns, plot_rmse_vs_sigma, plot_tradeoff
from .pretrained import SWEEPS, PretrainedSweep, sweep_dir, sweeps_of
from .scenario import Scenario
from .tradeoff import (
    DEFAULT_RHOS,
    baseline_points,
    baseline_sweep,
    baseline_threshold,
    default_phis,
    front_at_ser,
    mark_fronts,
    read_csv,
    refine_points,
    write_csv,
)

FIGURES = ("fig2", "fig3", "fig4", "fig5")
NOMINAL = SWEEPS["nominal"]
IMPAIRED = sweeps_of("fig5")
#: omega_r of the beampatterns drawn in Fig. 3.
FIG3_OMEGAS = (0.0, 0.03, 0.09, 0.4, 1.0)


def baseline_front(
    scenario: Scenario,
    sers,
    samples: int,
    seed: int,
    device="cpu",
    progress=None,
    log: Callable[[str], None] = print,
    rhos=DEFAULT_RHOS,
) -> list[dict]:
    """The baseline sweep that the comparison at the symbol error rates ``sers`` uses.

    The coarse (rho, phi) grid (``rhos`` x 8 phases), then the points
    of :func:`~isac_ae.tradeoff.refine_points` around each SER (the rho
    interval between the two front points around it halved, the phases
    11.25 deg either side of theirs), all with the same seed: one
    threshold and one set of test draws for all points. Rows with both front
    flags over the whole set.
    """
    phis = default_phis()
    rows = baseline_sweep(scenario, rhos, phis, samples, seed, device, progress=progress)
    extra = refine_points(rows, sers, phis[1] - phis[0])
    if extra:
        log(f"  refining the front around {len(sers)} SERs: {len(extra)} more (rho, phi) points")
        rows += baseline_points(scenario, extra, samples, seed, device, progress=progress)
    return mark_fronts(rows)


class Reproduction:
    """Runs the figures into ``out_dir``, caching every evaluation in memory so figures share work."""

    def __init__(
        self,
        out_dir: Path,
        samples: int,
        seed: int,
        device="cpu",
        retrain: Optional[str] = None,
        log: Callable[[str], None] = print,
        progress=None,
        impaired=IMPAIRED,
        rhos=DEFAULT_RHOS,
    ):
        """``impaired``: the Fig. 5 sweeps to run (:class:`~isac_ae.pretrained.PretrainedSweep`);
        ``rhos``: the baseline's coarse rho grid (:func:`baseline_front`)."""
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.samples = samples
        self.seed = seed
        self.device = torch.device(device)
        self.retrain = retrain
        self.log = log
        self.progress = progress
        self.impaired = tuple(impaired)
        self.rhos = tuple(rhos)
        self._models: dict[str, list[LoadedModel]] = {}
        self._ae_rows: dict[str, list[dict]] = {}
        self._baseline: dict[str, list[dict]] = {}

    # -- inputs -----------------------------------------------------------
    def models(self, spec: PretrainedSweep) -> list[LoadedModel]:
        if spec.name not in self._models:
            if self.retrain:
                directory = self.out / "models" / spec.name
                self.log(f"training {spec.name} ({len(spec.omegas)} omega_r, budget {self.retrain}) into {directory}")
                train_sweep(
                    spec.scenario,
                    TrainingConfig(omegas=spec.omegas, samples_per_stage=BUDGETS[self.retrain], budget=self.retrain),
                    directory,
                    self.device,
                )
            else:
                directory = sweep_dir(spec.name)
            self._models[spec.name] = load_sweep(directory, spec.scenario, self.device)
        return self._models[spec.name]

    def autoencoder_rows(self, spec: PretrainedSweep) -> list[dict]:
        """Evaluation of every model of the sweep (each calibrates its own threshold on its own H0 set)."""
        if spec.name not in self._ae_rows:
            rows = [
                autoencoder_row(loaded, self.samples, self.seed, self.device, self.progress, self.log)
                for loaded in self.models(spec)
            ]
            self._ae_rows[spec.name] = rows
            _write_json(self.out / f"{spec.name}_autoencoder.json", {"scenario": spec.scenario.to_dict(), "rows": rows})
        return self._ae_rows[spec.name]

    def baseline_rows(self, spec: PretrainedSweep) -> list[dict]:
        """The baseline sweep, refined around the SER of every model of the sweep (:func:`baseline_front`)."""
        if spec.name not in self._baseline:
            sers = [r["ser"] for r in self.autoencoder_rows(spec)]
            self.log(f"baseline sweep on the {spec.label} (designed for the nominal array)")
            rows = baseline_front(
                spec.scenario, sers, self.samples, self.seed, self.device, self.progress, self.log, self.rhos
            )
            write_csv(rows, self.out / f"{spec.name}_baseline.csv")
            self._baseline[spec.name] = rows
        return self._baseline[spec.name]

    # -- figures ----------------------------------------------------------
    def tradeoff(self, spec: PretrainedSweep, prefix: str) -> list[Path]:
        ae = self.autoencoder_rows(spec)
        baseline = self.baseline_rows(spec)
        table = comparison_table(ae, baseline)
        _write_json(
            self.out / f"{prefix}_table.json",
            {"scenario": spec.scenario.to_dict(), "samples": self.samples, "seed": self.seed, "rows": table},
        )
        (self.out / f"{prefix}_table.md").write_text(markdown_table(table))
        return plot_tradeoff(
            baseline,
            self.out,
            title=f"{spec.label}, $P_{{fa}}$ = {spec.scenario.pfa:g}",
            extra_series=[("autoencoder (omega_r)", ae)],
            prefix=prefix,
        )

    def fig2(self) -> list[Path]:
        return self.tradeoff(NOMINAL, "fig2")

    def fig3(self) -> list[Path]:
        angles = np.linspace(-90.0, 90.0, 721)
        patterns = []
        for loaded in self.models(NOMINAL):
            if loaded.omega not in FIG3_OMEGAS:
                continue
            system = AutoencoderSystem(loaded.model, NOMINAL.scenario)
            energy_per_symbol = float(system.constellation.abs().square().mean())
            pattern = energy_per_symbol * beampattern(
                NOMINAL.scenario.true_positions(), system.beam.detach().cpu().numpy(), np.radians(angles)
            )
            patterns.append((f"omega_r = {loaded.omega:g}", angles, pattern))
        return plot_beampatterns(patterns, NOMINAL.scenario, self.out)

    def fig4(self) -> list[Path]:
        rows = [r for r in self.autoencoder_rows(NOMINAL) if r["sigma_deg"] is not None]
        (self.out / "fig4_table.md").write_text(sigma_table(rows))
        # omega_r = 0 has no radar training: its estimators are the initialisation (sigma ~ 41 deg).
        return plot_rmse_vs_sigma([r for r in rows if r["omega"] > 0], self.out)

    def fig5(self) -> list[Path]:
        written = []
        for spec in self.impaired:
            try:
                written += self.tradeoff(spec, f"fig5_{spec.name}")
            except (FileNotFoundError, ModelFileError) as exc:
                self.log(f"skipping {spec.name}: {exc}")
        return written

    def run(self, figures) -> list[Path]:
        """Write the requested figures and ``summary.md`` (every table and figure of this run)."""
        written = []
        for name in figures:
            self.log(f"{name}:")
            written += getattr(self, name)()
        summary = self.out / "summary.md"
        summary.write_text(self.summary(written))
        return written + [summary]

    def summary(self, written) -> str:
        lines = [f"# Reproduction: {self.samples} test and {self.samples} H0 snapshots per point, seed {self.seed}", ""]
        for table in sorted(self.out.glob("*_table.md")):
            lines += [f"## {table.stem.removesuffix('_table')}", "", table.read_text()]
        lines += ["## Figures", ""] + [f"![{p.stem}]({p.name})" for p in written if p.suffix == ".png"]
        return "\n".join(lines) + "\n"


def autoencoder_row(
    loaded: LoadedModel, samples: int, seed: int, device="cpu", progress=None, log: Callable[[str], None] = print
) -> dict:
    """Evaluation of one model on its scenario: omega_r, file (relative to the working directory), budget."""
    result = evaluate(
        AutoencoderSystem(loaded.model, loaded.scenario, device), samples, seed, device, progress=progress
    )
    log(
        f"  {loaded.path.name}: omega_r={loaded.omega:<8g} Pd {result.pd:.4f}  Pfa {result.pfa:.4f}  "
        f"RMSE {result.rmse_deg:.3f} [{result.rmse_ci_low:.3f}, {result.rmse_ci_high:.3f}] deg  "
        f"sigma {result.sigma_deg:.3f} deg  SER {result.ser:.4g}"
    )
    return {
        "omega": loaded.omega,
        "model": os.path.relpath(loaded.path),
        **result.to_dict(),
        "budget": loaded.metadata["training"].get("budget"),
        "samples_per_stage": loaded.metadata["training"].get("samples_per_stage"),
    }


def compare_models(
    paths, baseline_csv: Path, samples: int, seed: int, out_dir: Path, device="cpu", log: Callable[[str], None] = print
) -> list[Path]:
    """Compare model files with a saved baseline sweep, e.g. ``nominal_baseline.csv`` of ``reproduce fig2``.

    The sweep must have been run on the models' scenario with the same
    ``samples`` and ``seed`` (checked through its threshold), so that the
    points added around the models' SERs (:func:`~isac_ae.tradeoff.refine_points`)
    and the models see the same draws. Writes ``comparison_table.md`` /
    ``.json`` and the refined sweep ``baseline.csv`` into ``out_dir``.
    """
    models = [load_model(p, device=device) for p in paths]
    scenario = models[0].scenario
    if any(m.scenario != scenario for m in models):
        raise ValueError("the models to compare were trained for different scenarios")
    rows = read_csv(baseline_csv)
    threshold = baseline_threshold(scenario, samples, seed, device)
    if any(r["threshold"] != threshold or r["samples"] != samples for r in rows):
        raise ValueError(f"{baseline_csv} was not swept on this scenario with {samples} samples and seed {seed}")
    ae = [autoencoder_row(m, samples, seed, device, log=log) for m in models]
    extra = refine_points(rows, [r["ser"] for r in ae], default_phis()[1])
    log(f"refining the front around {len(ae)} SERs: {len(extra)} more (rho, phi) points")
    rows = mark_fronts(rows + baseline_points(scenario, extra, samples, seed, device))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(rows, out / "baseline.csv")
    table = comparison_table(ae, rows)
    _write_json(
        out / "comparison_table.json", {"scenario": scenario.to_dict(), "samples": samples, "seed": seed, "rows": table}
    )
    (out / "comparison_table.md").write_text(markdown_table(table))
    return [out / "baseline.csv", out / "comparison_table.json", out / "comparison_table.md"]


def comparison_table(ae_rows, baseline_rows) -> list[dict]:
    """One row per omega_r: the AE's figures beside the baseline front at the AE's SER (:func:`front_at_ser`).

    Gap and ratio ranges combine the AE's 95 % interval with the baseline's
    range (ends against opposite ends): a gap whose range holds 0, or a ratio
    whose range holds 1, is not resolved by the sample.
    """
    table = []
    for r in ae_rows:
        pd = front_at_ser(baseline_rows, r["ser"], r["ser_ci_low"], r["ser_ci_high"], "pd")
        rmse = front_at_ser(baseline_rows, r["ser"], r["ser_ci_low"], r["ser_ci_high"], "rmse_deg")
        table.append(
            {
                **{k: r.get(k) for k in _AE_FIELDS},
                "baseline_pd": pd["value"],
                "baseline_pd_low": pd["low"],
                "baseline_pd_high": pd["high"],
                "baseline_pd_points": pd["points"],
                "pd_gap": r["pd"] - pd["value"],
                "pd_gap_low": r["pd_ci_low"] - pd["high"],
                "pd_gap_high": r["pd_ci_high"] - pd["low"],
                "baseline_rmse_deg": rmse["value"],
                "baseline_rmse_low": rmse["low"],
                "baseline_rmse_high": rmse["high"],
                "baseline_rmse_points": rmse["points"],
                "rmse_ratio": r["rmse_deg"] / rmse["value"],
                "rmse_ratio_low": r["rmse_ci_low"] / rmse["high"],
                "rmse_ratio_high": r["rmse_ci_high"] / rmse["low"],
            }
        )
    return table


_AE_FIELDS = (
    "omega",
    "model",
    "pd",
    "pd_ci_low",
    "pd_ci_high",
    "pfa",
    "pfa_ci_low",
    "pfa_ci_high",
    "rmse_deg",
    "rmse_ci_low",
    "rmse_ci_high",
    "sigma_deg",
    "sigma_rms_deg",
    "ser",
    "ser_ci_low",
    "ser_ci_high",
    "threshold",
    "samples",
    "targets",
    "detected",
)


def markdown_table(table) -> str:
    """The comparison table in Markdown: values with [95 % interval], gaps and ratios with their ranges."""
    head = (
        "| omega_r | Pd | Pfa | RMSE (deg) | sigma mean / RMS (deg) | SER | baseline Pd at this SER | "
        "Pd - baseline | baseline RMSE at this SER (deg) | RMSE / baseline |\n"
        "|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in table:
        lines.append(
            " | ".join(
                [
                    f"| {r['omega']:g}",
                    _ci(r, "pd", "pd_ci_low", "pd_ci_high", ".4f"),
                    _ci(r, "pfa", "pfa_ci_low", "pfa_ci_high", ".4f"),
                    _ci(r, "rmse_deg", "rmse_ci_low", "rmse_ci_high", ".3f"),
                    f"{_fmt(r['sigma_deg'], '.3f')} / {_fmt(r['sigma_rms_deg'], '.3f')}",
                    _ci(r, "ser", "ser_ci_low", "ser_ci_high", ".4g"),
                    _ci(r, "baseline_pd", "baseline_pd_low", "baseline_pd_high", ".4f"),
                    _resolved(r, "pd_gap", "pd_gap_low", "pd_gap_high", "+.4f", 0.0),
                    _ci(r, "baseline_rmse_deg", "baseline_rmse_low", "baseline_rmse_high", ".3f"),
                    _resolved(r, "rmse_ratio", "rmse_ratio_low", "rmse_ratio_high", ".2f", 1.0) + " |",
                ]
            )
        )
    return head + "\n".join(lines) + "\n"


def sigma_table(rows) -> str:
    """Fig. 4 in Markdown: RMSE with its 95 % interval against the mean and RMS predicted sigma."""
    head = "| omega_r | RMSE (deg) | mean sigma (deg) | RMS sigma (deg) | RMSE / RMS sigma |\n|---|---|---|---|---|\n"
    lines = []
    for r in rows:
        ratio = {k: r[k] / r["sigma_rms_deg"] for k in ("rmse_deg", "rmse_ci_low", "rmse_ci_high")}
        lines.append(
            f"| {r['omega']:g} | {_ci(r, 'rmse_deg', 'rmse_ci_low', 'rmse_ci_high', '.3f')} | "
            f"{r['sigma_deg']:.3f} | {r['sigma_rms_deg']:.3f} | "
            f"{_ci(ratio, 'rmse_deg', 'rmse_ci_low', 'rmse_ci_high', '.2f')} |"
        )
    return head + "\n".join(lines) + "\n"


def _ci(row, key: str, low: str, high: str, spec: str) -> str:
    if row[key] is None or math.isnan(row[key]):
        return "n/a"
    return f"{row[key]:{spec}} [{_fmt(row[low], spec)}, {_fmt(row[high], spec)}]"


def _resolved(row, key: str, low: str, high: str, spec: str, null: float) -> str:
    """The value and its range, marked "not resolved" when the range holds ``null``."""
    text = _ci(row, key, low, high, spec)
    if text != "n/a" and not (row[low] > null or row[high] < null):
        text += " not resolved"
    return text


def _fmt(value: float, spec: str) -> str:
    return "n/a" if value is None or math.isnan(value) else format(value, spec)


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, default=float))
