"""Throughput of the digital twin's in-process channels, as a ratio to the simulated channels in the same run.

Both pass the same beamformed batch (K = 16, one beam, factored y = x v)
through eq. (1) and eq. (2): the simulated channels through the scenario's
ideal array (plain steering vectors), the twin's through its board's array
model (per-element TX/RX gains and mutual coupling: two extra K x K products
per draw). Target of issue "Over the air, part 1": the twin at >= 1 M
snapshots/s for K = 16. Also times the sample-level path (frames through the
emulator's twin source, no network) for orientation.

Usage: python benchmarks/bench_twin.py [--snapshots N] [--threads T] [--rounds R] [--json]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from isac_ae import Scenario
from isac_ae.baselines import ls_beam
from isac_ae.channels import Beamformed, Channels
from isac_ae.hw.twin import DigitalTwin


def _rate(channels: Channels, y: Beamformed, generator: torch.Generator) -> float:
    start = time.perf_counter()
    channels.radar(y, generator)
    channels.comm(y, generator)
    return y.shape[-2] / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=1 << 20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sc = Scenario()
    twin = DigitalTwin("quadmxfe", seed=0)
    variants = {
        "simulated (ideal array)": Channels.simulated(sc),
        "twin (quadmxfe board: gains, coupling, spacing)": Channels(twin.radar_channel(sc), twin.comm_channel(sc)),
    }
    beam = torch.as_tensor(ls_beam(sc.nominal_positions(), sc.target_sector_rad), dtype=torch.complex64)
    gen = torch.Generator().manual_seed(0)
    symbols = torch.exp(0.5j * torch.pi * (torch.randint(4, (args.snapshots,), generator=gen) + 0.5)).to(
        torch.complex64
    )
    y = Beamformed(symbols, beam)
    rates = {name: [] for name in variants}
    with torch.inference_mode():
        for channels in variants.values():
            _rate(channels, y, gen)  # warm-up
        for _ in range(args.rounds):  # interleaved, so drift in the machine's speed hits both alike
            for name, channels in variants.items():
                rates[name].append(_rate(channels, y, gen))
    medians = {name: float(np.median(r)) for name, r in rates.items()}
    reference = medians["simulated (ideal array)"]
    result = {name: {"snapshots_per_s": rate, "ratio": rate / reference} for name, rate in medians.items()}
    if args.json:
        print(json.dumps(result))
        return
    print(
        f"radar + comm channel, K = 16, {args.snapshots} snapshots per call, {args.threads} threads, "
        f"median of {args.rounds} interleaved rounds"
    )
    for name, r in result.items():
        print(f"  {name:50s} {r['snapshots_per_s'] / 1e6:6.2f} M snapshots/s  ({r['ratio']:.2f}x the simulated)")


if __name__ == "__main__":
    main()
