#!/usr/bin/env python3
"""The sector-conditioned model at the paper's sectors and at sectors it never trained on, against the baseline
redesigned for each (and, at the paper's sectors, the dedicated per-omega_r models).

For each sector pair the baseline is designed anew (LS beams for its sectors, MAPRT grid over its target
sector) and swept over (rho, phi); the sector model runs at a few omega_r, and each of its points is compared
with the baseline's front at the model's own SER (:func:`isac_ae.reproduce.comparison_table`). All systems
of one sector pair see the same test draws (one seed). The pairs are of three kinds: the paper's, others
inside the training distribution (widths 10-50 / 10-30 deg within +-60 deg, never the exact pair), and
outside it (a target sector wider than any drawn, sectors beyond +-60 deg). Writes ``sector_comparison.md``
/ ``.json`` into OUT.

    nice -n 5 python scripts/sector_comparison.py --model models/sectors/conditioned.safetensors \
        --samples 200000 --out DIR

Runs torch on one thread (on a loaded machine a second OpenMP thread spin-waits).
"""

import argparse
import json
import math
import sys
import time
from pathlib import Path

import torch

from isac_ae.autoencoder import AutoencoderSystem
from isac_ae.autoencoder.modelfile import load_model
from isac_ae.autoencoder.sectors import SectorDistribution
from isac_ae.autoencoder.sweep import model_filename
from isac_ae.evaluation import evaluate
from isac_ae.pretrained import sweep_dir
from isac_ae.reproduce import comparison_table
from isac_ae.tradeoff import baseline_sweep, default_phis

#: (target sector, comm sector) in degrees, and what the pair tests.
PAIRS = (
    ((-20.0, 20.0), (30.0, 50.0), "the paper's"),
    ((0.0, 30.0), (-50.0, -30.0), "in the distribution"),
    ((-50.0, -20.0), (10.0, 30.0), "in the distribution"),
    ((-5.0, 5.0), (-40.0, -30.0), "in the distribution (narrow)"),
    ((-40.0, 40.0), (50.0, 60.0), "target wider than trained"),
    ((55.0, 75.0), (-20.0, 0.0), "target beyond +-60 deg"),
    ((-10.0, 10.0), (60.0, 80.0), "comm beyond +-60 deg"),
)
#: The baseline's grid: dense where the fronts turn (rho near 0 and 1), coarse elsewhere.
RHOS = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.98, 1.0)


def ae_row(system, omega: float, samples: int, seed: int) -> dict:
    return {"omega": omega, **evaluate(system, samples, seed).to_dict()}


def _gap(t: dict) -> str:
    if math.isnan(t["pd_gap"]):
        return "below the front's SER"
    return f"{t['pd_gap']:+.3f} [{t['pd_gap_low']:+.3f}, {t['pd_gap_high']:+.3f}]"


def _ratio(t: dict) -> str:
    if math.isnan(t["rmse_ratio"]):
        return "-"
    return f"{t['rmse_ratio']:.2f} [{t['rmse_ratio_low']:.2f}, {t['rmse_ratio_high']:.2f}]"


def markdown(results: list[dict], samples: int) -> str:
    lines = [
        f"{samples:g} test and {samples:g} H0 snapshots per point, Pfa = 0.01, the same draws for every system of "
        "a sector pair. 'Pd - baseline': the model's Pd minus the redesigned baseline's front at the model's SER "
        "(range: the model's interval against the front's over the model's SER interval; a range that holds 0 is "
        "not resolved); 'RMSE / baseline' likewise, as a ratio.",
        "",
        "| target, comm sector (deg) | kind | system | omega_r | Pd | RMSE (deg) | SER | Pd - baseline "
        "| RMSE / baseline |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        sectors = f"{list(result['target_sector_deg'])}, {list(result['comm_sector_deg'])}"
        for name, table in (("sector model", result["sector_model"]), ("dedicated", result.get("dedicated", []))):
            for t in table:
                lines.append(
                    f"| {sectors} | {result['kind']} | {name} | {t['omega']:g} | {t['pd']:.3f} | "
                    f"{t['rmse_deg']:.2f} | {t['ser']:.3g} | {_gap(t)} | {_ratio(t)} |"
                )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, type=Path, help="the sector-conditioned model file")
    parser.add_argument(
        "--dedicated", type=Path, default=sweep_dir("nominal"), help="per-omega_r models (paper's sectors)"
    )
    parser.add_argument("--omegas", default="0.01,0.09,0.4", help="omega_r of the model's points (comma-separated)")
    parser.add_argument("--samples", type=float, default=2e5, help="test (and H0) snapshots per point")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--phi-steps", type=int, default=4, help="phases per rho of the baseline's grid")
    parser.add_argument("--pairs", default=None, help="indices of PAIRS to run (comma-separated; default all)")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    samples, omegas = int(args.samples), [float(w) for w in args.omegas.split(",")]
    torch.set_num_threads(1)
    loaded = load_model(args.model)
    if not loaded.sector_conditioned:
        parser.error(f"{args.model} is not a sector-conditioned model")
    trained_on = SectorDistribution.from_dict(loaded.metadata["conditioning"]["sector_distribution"])
    pairs = PAIRS if args.pairs is None else [PAIRS[int(i)] for i in args.pairs.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    for target, comm, kind in pairs:
        start = time.perf_counter()
        sc = loaded.scenario.replace(target_sector_deg=target, comm_sector_deg=comm)
        model_rows = [ae_row(AutoencoderSystem(loaded.model, sc, omega=w), w, samples, args.seed) for w in omegas]
        baseline = baseline_sweep(sc, RHOS, default_phis(args.phi_steps), samples, args.seed)
        result = {
            "target_sector_deg": target,
            "comm_sector_deg": comm,
            "kind": kind,
            "in_training_distribution": trained_on.contains(sc),
            "sector_model": comparison_table(model_rows, baseline),
            "baseline": baseline,
        }
        if sc == loaded.scenario.replace(target_sector_deg=(-20.0, 20.0), comm_sector_deg=(30.0, 50.0)):
            dedicated = []
            for w in omegas:
                path = args.dedicated / model_filename(w)
                if path.exists():
                    d = load_model(path, sc)
                    dedicated.append(ae_row(AutoencoderSystem(d.model, sc), w, samples, args.seed))
            result["dedicated"] = comparison_table(dedicated, baseline)
        results.append(result)
        print(f"{target}, {comm} ({kind}): {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
        record = {"command": " ".join(sys.argv), "model": str(args.model), "samples": samples, "results": results}
        (args.out / "sector_comparison.json").write_text(json.dumps(record, indent=1))
        (args.out / "sector_comparison.md").write_text(markdown(results, samples))
    print(markdown(results, samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
