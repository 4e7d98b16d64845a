#!/usr/bin/env python3
"""Online fine-tuning on a board's digital twin: a headless flowgraph whose receivers improve while it runs.

    .venv/bin/python examples/simulation/online_finetune_twin.py [--rounds 4] [--after 500000] [--model FILE]

random messages -> AE Transmitter -> Twin Radar and Comm Channels (the
Quad-MxFE's hidden impairments, twin seed 0 by default) -> AE Radar and Comm
Receivers -> ISAC Metrics. The Online Fine-Tuning block takes the channels'
outputs with their labels, trains the receivers in the background and sends
the weights that pass its held-out check to the receivers' ``weights`` ports,
which swap them in (the radar receiver with its threshold recalibrated) without
stopping the stream. The script prints each round's check as it happens and,
for every set of weights the radar receiver ran, the live metrics of the
items it ran them on (the metrics are reset when the script sees a swap, at
most --poll seconds late). It stops --after snapshots after the last round.
Swap the twin channels for the over-the-air frame receivers
(``isac_ae.blocks.ota``) and the same block fine-tunes on a board.
"""

from __future__ import annotations

import argparse
import sys
import time


def build(args):
    import numpy as np
    from gnuradio import blocks, gr

    from isac_ae.blocks import ae_receivers, ae_transmitters, online_finetune, twin_channels
    from isac_ae.blocks import metrics as isac_metrics

    tb = gr.top_block("online_finetune_twin")
    rng = np.random.default_rng(args.seed)
    tb.src = blocks.vector_source_b(rng.integers(0, 4, 1 << 16).astype(np.uint8).tolist(), True)
    tb.tx = ae_transmitters.ae_transmitter(args.model)
    tb.radar = twin_channels.twin_radar_channel(args.device, args.K, seed=args.seed, twin_seed=args.twin_seed)
    tb.comm = twin_channels.twin_comm_channel(args.device, args.K, seed=args.seed + 1, twin_seed=args.twin_seed)
    tb.radar_rx = ae_receivers.ae_radar_receiver(args.model, args.K, pfa=args.pfa, h0_samples=args.h0_samples)
    tb.comm_rx = ae_receivers.ae_comm_receiver(args.model, args.K)
    tb.metrics = isac_metrics.isac_metrics(report_every=0, label="AE", log_at_stop=False)
    tb.tuner = online_finetune.online_finetune(
        args.model,
        args.K,
        steps=args.steps,
        rounds=args.rounds,
        pfa=args.pfa,
        h0_samples=args.h0_samples,
        seed=args.seed,
    )
    tb.connect(tb.src, tb.tx)
    tb.connect((tb.tx, 0), tb.radar)
    tb.connect((tb.tx, 0), (tb.comm, 0))
    tb.connect((tb.tx, 1), (tb.comm, 1))
    tb.connect((tb.radar, 0), tb.radar_rx)
    tb.connect((tb.comm, 0), (tb.comm_rx, 0))
    tb.connect((tb.comm, 1), (tb.comm_rx, 1))
    tb.connect((tb.comm, 2), blocks.null_sink(gr.sizeof_float))
    for port in (0, 2):  # q and sigma_hat
        tb.connect((tb.radar_rx, port), blocks.null_sink(gr.sizeof_float))
    metric_inputs = [(tb.radar, 1), (tb.radar, 2), (tb.radar_rx, 3), (tb.radar_rx, 1), (tb.src, 0), (tb.comm_rx, 0)]
    tuner_inputs = [(tb.radar, 0), (tb.radar, 1), (tb.radar, 2), (tb.comm, 0), (tb.comm, 1), (tb.src, 0)]
    for sink, inputs in ((tb.metrics, metric_inputs), (tb.tuner, tuner_inputs)):
        for port, source in enumerate(inputs):
            tb.connect(source, (sink, port))
    for rx in (tb.radar_rx, tb.comm_rx):
        tb.msg_connect(tb.tuner, "weights", rx, "weights")
    return tb


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="nominal/omega_0.09.safetensors", help="model file (default %(default)s)")
    parser.add_argument("--device", default="quadmxfe", help="the twin's device profile (default %(default)s)")
    parser.add_argument("--K", type=int, default=16, help="antennas, the device's (default %(default)s)")
    parser.add_argument("--twin-seed", type=int, default=0, help="the twin's hidden impairments (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=4, help="fine-tuning rounds (default %(default)s)")
    parser.add_argument("--steps", type=int, default=100, help="Adam steps per round (default %(default)s)")
    parser.add_argument(
        "--after", type=int, default=500_000, help="snapshots after the last round (default %(default)s)"
    )
    parser.add_argument("--pfa", type=float, default=0.01, help="target false-alarm rate (default %(default)s)")
    parser.add_argument(
        "--h0-samples", type=int, default=200_000, help="H0 snapshots per threshold (default %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=1, help="stream and training seed (default %(default)s)")
    parser.add_argument("--poll", type=float, default=0.2, help="seconds between looks at the flowgraph")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.after < 0:
        parser.error("--rounds must be >= 1 and --after >= 0")

    import torch

    torch.set_num_threads(1)
    try:
        tb = build(args)
    except Exception as exc:  # noqa: BLE001  (a bad parameter: one line, exit code 2)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.device} twin (seed {args.twin_seed}), model {args.model}: {tb.radar_rx.describe_threshold()}")
    start = time.perf_counter()
    tb.start()
    generation, shown, done_at = 0, 0, None
    try:
        while True:
            time.sleep(args.poll)
            records = tb.tuner.history()
            for record in records[shown:]:
                print(f"  check  {record.describe()}", flush=True)
            shown = len(records)
            if tb.radar_rx.generation() != generation:
                print(f"weights {generation}: {tb.metrics.summary()}", flush=True)
                tb.metrics.reset()
                generation = tb.radar_rx.generation()
            if tb.tuner.error() is not None:
                print(f"fine-tuning failed: {tb.tuner.error()}", file=sys.stderr)
                return 1
            if tb.tuner.finished() and done_at is None:
                done_at = tb.metrics.counts()["items"]
            if done_at is not None and tb.metrics.counts()["items"] - done_at >= args.after:
                break
    finally:
        tb.stop()
        tb.wait()
    wall = time.perf_counter() - start
    print(f"weights {generation}: {tb.metrics.summary()}")
    print(
        f"{tb.radar_rx.nitems_read(0)} snapshots in {wall:.1f} s; {tb.tuner.generation()} weights messages sent, "
        f"radar receiver swaps at items {[item for item, _ in tb.radar_rx.swaps()]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
