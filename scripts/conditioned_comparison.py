#!/usr/bin/env python3
"""The omega_r-conditioned model against the 11-member per-omega_r ensemble (and the baseline), on one test set.

Every system is evaluated with the same seed (common random numbers: the same messages, targets and channel
draws) at the scenario's Pfa. The conditioned model runs at every omega_r of the ensemble and at more points
between them, which trace its front; each ensemble member is compared with that front at the member's own
SER (:func:`isac_ae.reproduce.comparison_table`: interpolated in log SER, with the range over the member's
SER interval), and with the conditioned model at the member's omega_r. Writes ``conditioned_comparison.md``
/ ``.json`` and ``conditioned_ser_vs_pd`` / ``conditioned_ser_vs_rmse`` (.png, .pdf) into OUT.

    nice -n 5 python scripts/conditioned_comparison.py --model models/conditioned/conditioned.safetensors \
        --samples 1000000 --out DIR

Runs torch on one thread (on a loaded machine a second OpenMP thread spin-waits).
"""

import argparse
import json
import math
import sys
from pathlib import Path

import torch

from isac_ae.autoencoder import AutoencoderSystem
from isac_ae.autoencoder.modelfile import load_model
from isac_ae.autoencoder.sweep import load_sweep
from isac_ae.evaluation import evaluate
from isac_ae.plots import plot_fronts
from isac_ae.pretrained import sweep_dir
from isac_ae.reproduce import comparison_table
from isac_ae.tradeoff import DEFAULT_RHOS, baseline_sweep, default_phis, mark_fronts

#: Points between the ensemble's omega_r that trace the conditioned model's front.
BETWEEN = (0.002, 0.005, 0.012, 0.02, 0.05, 0.25, 0.85)


def row(system, omega: float, samples: int, seed: int) -> dict:
    return {"omega": omega, **evaluate(system, samples, seed).to_dict()}


def markdown(table: list[dict], at_omega: list[dict], samples: int) -> str:
    lines = [
        f"{samples:g} test and {samples:g} H0 snapshots per point, the same draws for every point, Pfa = 0.01. "
        "'front at its SER': the conditioned model's front (all its points) interpolated at the member's SER, "
        "with the range over the member's SER interval; a Pd difference whose range holds 0, or an RMSE ratio "
        "whose range holds 1, is not resolved by the sample.",
        "",
        "| omega_r | ensemble Pd | ensemble RMSE (deg) | ensemble SER | conditioned Pd at equal SER - ensemble "
        "| conditioned RMSE at equal SER / ensemble | conditioned at this omega_r: Pd / RMSE / SER |",
        "|---|---|---|---|---|---|---|",
    ]
    for t, c in zip(table, at_omega):
        lines.append(
            f"| {t['omega']:g} | {t['pd']:.4f} [{t['pd_ci_low']:.4f}, {t['pd_ci_high']:.4f}] | "
            f"{t['rmse_deg']:.3f} [{t['rmse_ci_low']:.3f}, {t['rmse_ci_high']:.3f}] | {t['ser']:.4g} | "
            f"{-t['pd_gap']:+.4f} [{-t['pd_gap_high']:+.4f}, {-t['pd_gap_low']:+.4f}] | "
            f"{1 / t['rmse_ratio']:.3f} [{1 / t['rmse_ratio_high']:.3f}, {1 / t['rmse_ratio_low']:.3f}] | "
            f"{c['pd']:.4f} / {c['rmse_deg']:.3f} / {c['ser']:.4g} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="the conditioned model file")
    parser.add_argument("--ensemble", type=Path, default=sweep_dir("nominal"), help="the per-omega_r sweep")
    parser.add_argument("--samples", type=float, default=1e6, help="test (and H0) snapshots per point")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--baseline", action="store_true", help="also sweep the baseline's front for the plot")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    samples = int(args.samples)
    torch.set_num_threads(1)
    conditioned = load_model(args.model)
    if not conditioned.conditioned:
        parser.error(f"{args.model} is not a conditioned model")
    ensemble = load_sweep(args.ensemble, conditioned.scenario)
    sc = conditioned.scenario
    args.out.mkdir(parents=True, exist_ok=True)

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    members = [row(AutoencoderSystem(m.model, sc), m.omega, samples, args.seed) for m in ensemble]
    log("ensemble evaluated")
    omegas = sorted({m.omega for m in ensemble} | set(BETWEEN))
    sweep = []
    for w in omegas:
        sweep.append(row(AutoencoderSystem(conditioned.model, sc, omega=w), w, samples, args.seed))
        log(f"conditioned at omega_r {w:g}: Pd {sweep[-1]['pd']:.4f} SER {sweep[-1]['ser']:.4g}")
    mark_fronts(sweep)
    mark_fronts(members)
    table = comparison_table(members, sweep)
    at_omega = [next(r for r in sweep if r["omega"] == m["omega"]) for m in members]
    fronts = [("conditioned AE", sweep), ("11-member ensemble", members)]
    if args.baseline:
        baseline = baseline_sweep(sc, DEFAULT_RHOS, default_phis(), samples, args.seed)
        fronts.append(("baseline", baseline))
    plot_fronts(fronts, args.out, "omega_r-conditioned AE against the per-omega_r ensemble", prefix="conditioned")
    record = {
        "command": " ".join(sys.argv),
        "model": str(args.model),
        "samples": samples,
        "seed": args.seed,
        "ensemble": members,
        "conditioned": sweep,
        "comparison": table,
        "largest_pd_shortfall": max(t["pd_gap"] for t in table if not math.isnan(t["pd_gap"])),
    }
    (args.out / "conditioned_comparison.json").write_text(json.dumps(record, indent=1))
    (args.out / "conditioned_comparison.md").write_text(markdown(table, at_omega, samples))
    print(markdown(table, at_omega, samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
