"""The paper's results (Fig. 2-5): evaluation of a model sweep against the baseline, tables and figures.

Every figure is one function of (out_dir, samples, seed); ``reproduce`` runs
the requested ones. Model sweeps come from the shipped pretrained models
unless ``retrain`` names a budget, in which case they are trained into
``out_dir/models`` (resuming if interrupted).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from .array import beampattern
from .autoencoder import AutoencoderSystem, TrainingConfig
from .autoencoder.modelfile import LoadedModel, ModelFileError
from .autoencoder.sweep import load_sweep, train_sweep
from .autoencoder.training import BUDGETS
from .evaluation import evaluate
from .plots import plot_beampatterns, plot_rmse_vs_sigma, plot_tradeoff
from .pretrained import FIG2_OMEGAS, FIG5_OMEGAS, models_dir
from .scenario import Scenario
from .tradeoff import DEFAULT_RHOS, baseline_sweep, default_phis, write_csv

FIGURES = ("fig2", "fig3", "fig4", "fig5")


@dataclass(frozen=True)
class SweepSpec:
    """A named omega_r sweep on one scenario (one shipped models/ subdirectory)."""

    name: str
    scenario: Scenario
    omegas: tuple[float, ...]
    label: str


LAMBDA_30, LAMBDA_15 = 1.0 / 30.0, 1.0 / 15.0
NOMINAL = SweepSpec("nominal", Scenario(), FIG2_OMEGAS, "nominal array")
#: Fig. 5 variants: the paper's sigma = lambda/30 and lambda/15, under both position models (DESIGN.md).
IMPAIRED = (
    SweepSpec("spacing_l30", Scenario(spacing_std=LAMBDA_30), FIG5_OMEGAS, "spacing std lambda/30, cumulative"),
    SweepSpec("spacing_l15", Scenario(spacing_std=LAMBDA_15), FIG5_OMEGAS, "spacing std lambda/15, cumulative"),
    SweepSpec("spacing_l30_scaled", Scenario(spacing_std=LAMBDA_30, position_model="scaled"), FIG5_OMEGAS,
              "spacing std lambda/30, scaled (p_k = k d_k)"),
    SweepSpec("spacing_l15_scaled", Scenario(spacing_std=LAMBDA_15, position_model="scaled"), FIG5_OMEGAS,
              "spacing std lambda/15, scaled (p_k = k d_k)"),
)


class Reproduction:
    """Runs the figures into ``out_dir``, caching every evaluation in memory so figures share work."""

    def __init__(self, out_dir: Path, samples: int, seed: int, device="cpu", retrain: Optional[str] = None,
                 log: Callable[[str], None] = print, progress=None, impaired=IMPAIRED):
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.samples = samples
        self.seed = seed
        self.device = torch.device(device)
        self.retrain = retrain
        self.log = log
        self.progress = progress
        self.impaired = tuple(impaired)
        self._models: dict[str, list[LoadedModel]] = {}
        self._ae_rows: dict[str, list[dict]] = {}
        self._baseline: dict[str, list[dict]] = {}

    # -- inputs -----------------------------------------------------------
    def models(self, spec: SweepSpec) -> list[LoadedModel]:
        if spec.name not in self._models:
            if self.retrain:
                directory = self.out / "models" / spec.name
                self.log(f"training {spec.name} ({len(spec.omegas)} omega_r, budget {self.retrain}) into {directory}")
                train_sweep(spec.scenario, TrainingConfig(omegas=spec.omegas, samples_per_stage=BUDGETS[self.retrain],
                                                          budget=self.retrain), directory, self.device)
            else:
                directory = models_dir() / spec.name
            self._models[spec.name] = load_sweep(directory, spec.scenario, self.device)
        return self._models[spec.name]

    def autoencoder_rows(self, spec: SweepSpec) -> list[dict]:
        """Evaluation of every model of the sweep (each calibrates its own threshold on its own H0 set)."""
        if spec.name not in self._ae_rows:
            rows = []
            for loaded in self.models(spec):
                result = evaluate(AutoencoderSystem(loaded.model, spec.scenario, self.device), self.samples,
                                  self.seed, self.device, progress=self.progress)
                rows.append({"omega": loaded.omega, "model": str(loaded.path), **result.to_dict(),
                             "budget": loaded.metadata["training"].get("budget"),
                             "samples_per_stage": loaded.metadata["training"].get("samples_per_stage")})
                self.log(f"  {spec.name} omega_r={loaded.omega:<8g} Pd {result.pd:.4f}  Pfa {result.pfa:.4f}  "
                         f"RMSE {result.rmse_deg:.3f} deg  sigma {result.sigma_deg:.3f} deg  SER {result.ser:.4g}")
            self._ae_rows[spec.name] = rows
            _write_json(self.out / f"{spec.name}_autoencoder.json", {"scenario": spec.scenario.to_dict(), "rows": rows})
        return self._ae_rows[spec.name]

    def baseline_rows(self, spec: SweepSpec) -> list[dict]:
        if spec.name not in self._baseline:
            self.log(f"baseline sweep on the {spec.label} (designed for the nominal array)")
            rows = baseline_sweep(spec.scenario, DEFAULT_RHOS, default_phis(), self.samples, self.seed, self.device,
                                  progress=self.progress)
            write_csv(rows, self.out / f"{spec.name}_baseline.csv")
            self._baseline[spec.name] = rows
        return self._baseline[spec.name]

    # -- figures ----------------------------------------------------------
    def tradeoff(self, spec: SweepSpec, prefix: str) -> list[Path]:
        baseline = self.baseline_rows(spec)
        ae = self.autoencoder_rows(spec)
        table = comparison_table(ae, baseline)
        _write_json(self.out / f"{prefix}_table.json", {"scenario": spec.scenario.to_dict(), "rows": table})
        (self.out / f"{prefix}_table.md").write_text(markdown_table(table))
        return plot_tradeoff(baseline, self.out, title=f"{spec.label}, $P_{{fa}}$ = {spec.scenario.pfa:g}",
                             extra_series=[("autoencoder (omega_r)", ae)], prefix=prefix)

    def fig2(self) -> list[Path]:
        return self.tradeoff(NOMINAL, "fig2")

    def fig3(self) -> list[Path]:
        angles = np.linspace(-90.0, 90.0, 721)
        patterns = []
        for loaded in self.models(NOMINAL):
            if loaded.omega not in (0.0, 0.03, 0.09, 0.4, 1.0):
                continue
            system = AutoencoderSystem(loaded.model, NOMINAL.scenario)
            energy_per_symbol = float(system.constellation.abs().square().mean())
            pattern = energy_per_symbol * beampattern(NOMINAL.scenario.true_positions(),
                                                       system.beam.detach().cpu().numpy(), np.radians(angles))
            patterns.append((f"omega_r = {loaded.omega:g}", angles, pattern))
        return plot_beampatterns(patterns, NOMINAL.scenario, self.out)

    def fig4(self) -> list[Path]:
        rows = [r for r in self.autoencoder_rows(NOMINAL) if r["omega"] > 0 and r["sigma_deg"] is not None]
        return plot_rmse_vs_sigma(rows, self.out)

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


def front_at_ser(baseline_rows, ser: float) -> dict:
    """The baseline point of best Pd among those with SER <= ``ser``: its Pd and RMSE, and the best RMSE there.

    NaN when no baseline point reaches that SER.
    """
    ok = [r for r in baseline_rows if r["ser"] <= ser]
    if not ok:
        return {"baseline_pd": math.nan, "baseline_rmse_deg": math.nan, "baseline_best_rmse_deg": math.nan}
    best = max(ok, key=lambda r: r["pd"])
    rmse = [r["rmse_deg"] for r in ok if not math.isnan(r["rmse_deg"])]
    return {"baseline_pd": best["pd"], "baseline_rmse_deg": best["rmse_deg"],
            "baseline_best_rmse_deg": min(rmse, default=math.nan)}


def comparison_table(ae_rows, baseline_rows) -> list[dict]:
    """One row per omega_r: the AE's figures beside the baseline's best at the same or lower SER."""
    table = []
    for r in ae_rows:
        ref = front_at_ser(baseline_rows, r["ser"])
        table.append({
            "omega": r["omega"], "pd": r["pd"], "pfa": r["pfa"], "pfa_ci_low": r["pfa_ci_low"],
            "pfa_ci_high": r["pfa_ci_high"], "rmse_deg": r["rmse_deg"], "sigma_deg": r["sigma_deg"],
            "sigma_rms_deg": r.get("sigma_rms_deg"), "ser": r["ser"],
            **ref,
            "pd_gap": r["pd"] - ref["baseline_pd"],
            "rmse_ratio": r["rmse_deg"] / ref["baseline_rmse_deg"] if ref["baseline_rmse_deg"] else math.nan,
        })
    return table


def markdown_table(table) -> str:
    head = ("| omega_r | Pd | Pfa [95% CI] | RMSE (deg) | sigma mean / RMS (deg) | SER | baseline best Pd at SER <= | "
            "baseline RMSE there | baseline best RMSE at SER <= | Pd - baseline | RMSE / baseline |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|\n")
    lines = []
    for r in table:
        lines.append(
            f"| {r['omega']:g} | {r['pd']:.4f} | {r['pfa']:.4f} [{r['pfa_ci_low']:.4f}, {r['pfa_ci_high']:.4f}] | "
            f"{r['rmse_deg']:.3f} | {r['sigma_deg']:.3f} / {_fmt(r.get('sigma_rms_deg'), '.3f')} | {r['ser']:.4g} | {_fmt(r['baseline_pd'], '.4f')} | "
            f"{_fmt(r['baseline_rmse_deg'], '.3f')} | {_fmt(r['baseline_best_rmse_deg'], '.3f')} | {_fmt(r['pd_gap'], '+.4f')} | {_fmt(r['rmse_ratio'], '.2f')} |"
        )
    return head + "\n".join(lines) + "\n"


def _fmt(value: float, spec: str) -> str:
    return "n/a" if value is None or math.isnan(value) else format(value, spec)


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, default=float))
