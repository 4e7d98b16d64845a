"""Training cost of the omega_r-conditioned model against the 11-member Fig. 2 ensemble, in the same run.

Both train with the staged schedule on batches of 10 000 for the same number of
steps at a budget, so the ratio of their step times is the ratio of their
training times for the whole trade-off (issue target: the conditioned model
no slower than the ensemble). Variants alternate in interleaved rounds and the
rates come from median step times per stage, averaged over the four stages,
as in ``bench_training.py``.

Usage: python benchmarks/bench_conditioned_training.py [--rounds R] [--steps S] [--threads T]
       [--conditioned C] [--hidden-scale H] [--sector-conditioned] [--json]

``--sector-conditioned`` measures the model with the sectors as inputs too (its C conditions each draw their
own sectors, so the channels compute C steering matrices per step where the ensemble shares one).
"""

from __future__ import annotations

import argparse
import json
import statistics

import torch

from bench_training import BATCH, stage_mean_of_medians, trainer_step_times
from isac_ae import Scenario
from isac_ae.autoencoder.training import BUDGETS, SCHEDULES
from isac_ae.pretrained import FIG2_OMEGAS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=8, help="steps per variant and stage in each round")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--conditioned", type=int, default=5, help="omega_r draws per step (the shipped model's)")
    parser.add_argument("--hidden-scale", type=int, default=2, help="width factor (the shipped model's)")
    parser.add_argument("--sector-conditioned", action="store_true", help="the sectors are inputs too")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sc = Scenario()
    stages = len(SCHEDULES["staged"])
    ensemble, conditioned = [[] for _ in range(stages)], [[] for _ in range(stages)]
    for _ in range(args.rounds):
        for stage, times in enumerate(trainer_step_times(sc, FIG2_OMEGAS, args.steps)):
            ensemble[stage] += times
        options = {
            "conditioned": args.conditioned,
            "hidden_scale": args.hidden_scale,
            "sector_conditioned": args.sector_conditioned,
        }
        for stage, times in enumerate(trainer_step_times(sc, (0.0, 1.0), args.steps, **options)):
            conditioned[stage] += times
    step = {"ensemble": stage_mean_of_medians(ensemble), "conditioned": stage_mean_of_medians(conditioned)}
    paper_steps = stages * BUDGETS["paper"] // BATCH
    result = {
        "threads": args.threads,
        "rounds": args.rounds,
        "steps": args.steps,
        "conditioned": args.conditioned,
        "hidden_scale": args.hidden_scale,
        "sector_conditioned": args.sector_conditioned,
        "ms_per_step": {k: 1e3 * v for k, v in step.items()},
        "paper_budget_minutes": {k: paper_steps * v / 60 for k, v in step.items()},
        "conditioned_over_ensemble": step["conditioned"] / step["ensemble"],
        "per_stage_ratio": {
            s.name: statistics.median(c) / statistics.median(e)
            for s, c, e in zip(SCHEDULES["staged"], conditioned, ensemble)
        },
    }
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"training step, {args.rounds} interleaved rounds x {args.steps} steps of {BATCH} per stage, "
        f"{args.threads} thread(s)"
    )
    for name, ms in result["ms_per_step"].items():
        print(f"  {name:12s} {ms:7.1f} ms/step   paper budget: {result['paper_budget_minutes'][name]:6.1f} min")
    print(
        f"  {'sector-' if args.sector_conditioned else ''}conditioned (C = {args.conditioned}, hidden "
        f"x{args.hidden_scale}) / 11-member ensemble: "
        f"{result['conditioned_over_ensemble']:.2f}  (per stage: "
        + ", ".join(f"{k} {v:.2f}" for k, v in result["per_stage_ratio"].items())
        + ")"
    )


if __name__ == "__main__":
    main()
