#!/usr/bin/env python3
"""Where does the autoencoder's Pd gain over the baseline come from: its transmitter or its receivers?

Trains only the AE's radar receivers (detector, angle and uncertainty
estimators, J_NLL of eq. 6) behind the baseline's fixed transmitter (LS/ISAC
beam of eq. 10 and 4-QAM), then evaluates them and the MAPRT detector on that
same beam at Pfa = 1e-2 (docs/REPRODUCTION.md, "Fig. 2").

    .venv/bin/python examples/experiments/learned_receivers_behind_ls_beam.py --rho 0.5 --steps 8000
"""

from __future__ import annotations

import argparse

import torch

from isac_ae import Scenario
from isac_ae.autoencoder import AutoencoderSystem, Trainer, TrainingConfig
from isac_ae.autoencoder.training import RADAR_NETWORKS, Stage
from isac_ae.baselines import BaselineSystem
from isac_ae.evaluation import evaluate


class LearnedRadarBehindBaseline(AutoencoderSystem):
    """The baseline's transmitter and ML comm receiver, the AE's radar receivers."""

    def __init__(self, model, scenario, baseline: BaselineSystem):
        super().__init__(model, scenario)
        self.baseline = baseline

    def transmit(self, messages):
        return self.baseline.transmit(messages)

    def comm_receive(self, z, kappa):
        return self.baseline.comm_receive(z, kappa)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rho", type=float, default=0.5)
    parser.add_argument("--phi-deg", type=float, default=0.0)
    parser.add_argument("--steps", type=int, default=8000, help="training steps of 10 000 samples")
    parser.add_argument("--samples", type=int, default=1_000_000, help="test (and H0) snapshots")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    sc = Scenario()
    baseline = BaselineSystem(sc, args.rho, torch.deg2rad(torch.tensor(args.phi_deg)).item())
    trainer = Trainer(sc, TrainingConfig(omegas=(1.0,), seed=args.seed))
    fixed = (baseline.constellation.unsqueeze(0), baseline.beam.unsqueeze(0))
    trainer.model.transmitter = lambda sectors: fixed  # the baseline's transmitter, not trained
    for name, module in trainer.model.named_children():
        module.requires_grad_(name in RADAR_NETWORKS)
    optimizer = torch.optim.Adam([p for p in trainer.model.parameters() if p.requires_grad], lr=0.01)
    stage = Stage("radar receivers", RADAR_NETWORKS, "nll", transmitter=False)
    for step in range(args.steps):
        radar, _ = trainer.losses(stage, 10_000)
        optimizer.zero_grad()
        radar.sum().backward()
        optimizer.step()
        if step == (3 * args.steps) // 4:  # as the schedule's receiver stage: last quarter at lr/10
            for group in optimizer.param_groups:
                group["lr"] = 0.001
    learned = evaluate(LearnedRadarBehindBaseline(trainer.model.member(0), sc, baseline), args.samples, seed=1)
    maprt = evaluate(baseline, args.samples, seed=1)
    print(f"LS/ISAC beam rho = {args.rho}, phi = {args.phi_deg} deg, SER {maprt.ser:.5f}")
    for name, r in (("learned radar receivers", learned), ("MAPRT", maprt)):
        print(
            f"  {name:24s} Pd {r.pd:.4f}  Pfa {r.pfa:.4f} [{r.pfa_ci_low:.4f}, {r.pfa_ci_high:.4f}]  "
            f"RMSE {r.rmse_deg:.3f} deg"
        )


if __name__ == "__main__":
    main()
