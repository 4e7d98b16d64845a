"""Does online fine-tuning stall the stream? Snapshots/s of one flowgraph with the block idle and training.

The flowgraph is the C++ part of the AE simulation, which runs above 1 M
snapshots/s here: messages -> weights transmitter (the shipped model's beam and
constellation) -> C++ radar and comm channels (8192-item buffers), whose
outputs feed

  reference   null sinks only (no online block): the stream's own rate;
  idle        the online block, copying every item into its windows as when
              training, but held_out_fraction = 1e-9, so its held-out window never
              fills and training never starts;
  training    the online block with its defaults (65536 + 16384-item windows,
              100 steps of 1024 per round, one torch thread): it trains from the
              first 82 k items on, for the whole run.

Each variant runs N snapshots unthrottled (the rate the machine allows), and
again behind a throttle at 1 M snapshots/s (what a device delivering 1 M
snapshots/s asks of it). Variants alternate within each round, and each
figure is the median over the rounds, as ratios to the reference and to idle
measured in the same run. The training variant also reports the Adam steps
it finished during the run, so training demonstrably ran alongside.

Usage: python benchmarks/bench_online_finetune.py [--items N] [--rounds R] [--rate R] [--json]
Run it with `nice -n 19` on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch
from gnuradio import blocks, gr

from gr_harness import C, K, source
from isac_ae.blocks import ae_transmitters, cpp_channels, cpp_transmitters, online_finetune
from isac_ae.blocks.ae_common import BATCH_ITEMS, DEFAULT_MODEL

VARIANTS = ("reference", "idle", "training")


def build(n: int, variant: str, tx, rate: float | None):
    """The flowgraph of ``variant`` for ``n`` snapshots (throttled to ``rate`` snapshots/s when given)."""
    tb = gr.top_block()
    src, head = source(np.random.default_rng(4).integers(0, 4, 4096).astype(np.uint8), n, 1, "b")
    wt = cpp_transmitters.weights_transmitter(K, tx.constellation(), tx.beam())
    rc = cpp_channels.radar_channel(K, (), 0.0, (-20.0, 20.0), 0.5, seed=1)
    cc = cpp_channels.comm_channel(K, (), 20.0, (30.0, 50.0), seed=2)
    for block in (head, wt, rc, cc):
        block.set_min_output_buffer(BATCH_ITEMS)
    if rate is None:
        tb.connect(src, head)
    else:
        throttle = blocks.throttle(1, rate)
        throttle.set_min_output_buffer(BATCH_ITEMS)
        tb.connect(src, throttle, head)
    tb.connect(head, wt)
    tb.connect((wt, 0), rc)
    tb.connect((wt, 0), (cc, 0))
    tb.connect((wt, 1), (cc, 1))
    tb.connect((cc, 2), blocks.null_sink(4))
    if variant == "reference":
        sinks = [blocks.null_sink(size) for size in (C * K, 1, 4, C, C)]
        for (b, port), sink in zip([(rc, 0), (rc, 1), (rc, 2), (cc, 0), (cc, 1)], sinks):
            tb.connect((b, port), sink)
        return tb, sinks[0], None
    kwargs = dict(held_out_fraction=1e-9) if variant == "idle" else {}
    block = online_finetune.online_finetune(DEFAULT_MODEL, K=K, M=4, **kwargs)
    for port, (b, out) in enumerate([(rc, 0), (rc, 1), (rc, 2), (cc, 0), (cc, 1), (head, 0)]):
        tb.connect((b, out), (block, port))
    return tb, block, block


def run(n: int, variant: str, tx, rate: float | None) -> dict:
    """The stream's rate: N over the time until the consumer of z_r has taken the last snapshot (so the end of
    a training round in progress, which the flowgraph waits for when it stops, is not counted)."""
    tb, consumer, block = build(n, variant, tx, rate)
    tb.start()
    start = time.perf_counter()
    while consumer.nitems_read(0) < n:
        time.sleep(0.001)
    wall = time.perf_counter() - start
    tb.wait()
    result = {"rate": n / wall, "wall_s": wall}
    if block is not None:
        result["steps"] = block.steps_done()
        result["rounds"] = block.rounds_done()
        result["windows"] = block.windows()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=4_000_000, help="snapshots per run (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default %(default)s)")
    parser.add_argument("--rate", type=float, default=1e6, help="throttled rate, snapshots/s (default %(default)g)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tx = ae_transmitters.ae_transmitter(DEFAULT_MODEL)
    results = {(v, r): [] for v in VARIANTS for r in (None, args.rate)}
    for _ in range(args.rounds):
        for rate in (None, args.rate):
            for variant in VARIANTS:
                results[variant, rate].append(run(args.items, variant, tx, rate))

    def median(variant, rate, key="rate"):
        return statistics.median(r[key] for r in results[variant, rate])

    rows = []
    for rate in (None, args.rate):
        ref, idle = median("reference", rate), median("idle", rate)
        for variant in VARIANTS:
            row = {
                "variant": variant,
                "throttle": rate,
                "snapshots_per_s": median(variant, rate),
                "vs_reference": median(variant, rate) / ref,
                "vs_idle": median(variant, rate) / idle if variant != "reference" else None,
                "runs": results[variant, rate],
            }
            if variant == "training":
                row["adam_steps_in_run"] = median(variant, rate, "steps")
            rows.append(row)
    if args.json:
        print(json.dumps({"items": args.items, "rounds": args.rounds, "rows": rows}, indent=2))
        return
    print(f"{args.items} snapshots per run, K = {K}, median of {args.rounds} interleaved rounds, one torch thread")
    print(f"{'variant':10s} {'throttle':>10s} {'snapshots/s':>12s} {'/ reference':>12s} {'/ idle':>8s}  training")
    for row in rows:
        throttle = "none" if row["throttle"] is None else f"{row['throttle']:.3g}/s"
        vs_idle = "" if row["vs_idle"] is None else f"{row['vs_idle']:.3f}"
        steps = f"{row['adam_steps_in_run']:.0f} Adam steps in the run" if "adam_steps_in_run" in row else ""
        print(
            f"{row['variant']:10s} {throttle:>10s} {row['snapshots_per_s'] / 1e6:10.3f} M "
            f"{row['vs_reference']:12.3f} {vs_idle:>8s}  {steps}"
        )


if __name__ == "__main__":
    main()
