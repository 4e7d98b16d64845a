#!/usr/bin/env python3
"""Run the headless AE flowgraph for a fixed number of snapshots, print its live metrics, then the core's.

    GRC_BLOCKS_PATH=$PWD/grc .venv/bin/python examples/simulation/demo_headless.py [--items N] [--model FILE]

Compiles ``isac_ae_sim_no_gui.grc`` with grcc (into --out, default a temporary
directory), runs it (random messages -> AE transmitter -> C++ radar and comm
channels -> AE receivers -> metrics) and prints Pd, Pfa, RMSE and SER once a
second while it runs. Then ``isac_ae.evaluation.evaluate`` of the same model
on as many snapshots, with the same H0 stream (so the same threshold; beyond
the 2e6 H0 snapshots a block calibrates on, the core takes the flowgraph's
threshold), and whether the two agree within 5 standard deviations of their
difference.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
Z = 5.0
PFA = 0.01  # the paper's false-alarm rate, for the flowgraph and the core alike


def compile_flowgraph(out: Path, name: str = "isac_ae_sim_no_gui"):
    grcc = shutil.which("grcc")
    if grcc is None:
        raise SystemExit("grcc not found: install Debian's gnuradio")
    env = dict(os.environ)
    env["GRC_BLOCKS_PATH"] = os.pathsep.join(filter(None, [str(REPO / "grc"), env.get("GRC_BLOCKS_PATH")]))
    proc = subprocess.run(
        [sys.executable, grcc, "-o", str(out), str(HERE / f"{name}.grc")], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise SystemExit(f"grcc failed:\n{proc.stdout}{proc.stderr}")
    spec = importlib.util.spec_from_file_location(name, out / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def _tolerance(name: str, fg: dict, core: dict) -> float:
    if name == "rmse_deg":
        return Z * fg["rmse_stderr_deg"] * math.sqrt(1 + fg["detected"] / max(core["detected"], 1))
    n_fg, n_core, p = {
        "pd": (fg["targets"], core["targets"], core["pd"]),
        "pfa": (fg["absent"], core["samples"] - core["targets"], core["target_pfa"]),
        "ser": (fg["items"], core["samples"], max(core["ser"], 1.0 / core["samples"])),
    }[name]
    return Z * math.sqrt(p * (1 - p) * (1 / n_fg + 1 / n_core))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="snapshots to run (default %(default)s)")
    parser.add_argument(
        "--model",
        default="nominal/omega_0.09.safetensors",
        help="model file, or a name in the shipped models directory (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the flowgraph and the core (default %(default)s)")
    parser.add_argument("--out", default=None, help="directory for the compiled flowgraph and metrics JSON")
    parser.add_argument("--no-core", action="store_true", help="skip the core's evaluation")
    args = parser.parse_args(argv)

    import torch

    from isac_ae.autoencoder import AutoencoderSystem
    from isac_ae.autoencoder.modelfile import load_model
    from isac_ae.blocks.ae_common import resolve_model_path
    from isac_ae.blocks.checks import MAX_H0_SAMPLES
    from isac_ae.evaluation import evaluate, min_h0_samples, seed_streams

    if args.items < min_h0_samples(PFA):
        parser.error(f"--items must be >= {min_h0_samples(PFA)} (the H0 snapshots a threshold at Pfa {PFA} needs)")

    torch.set_num_threads(1)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="isac_ae_flowgraph_"))
    out.mkdir(parents=True, exist_ok=True)
    top_block = compile_flowgraph(out)
    model = str(resolve_model_path(args.model))
    h0_seed = seed_streams(args.seed, 2)[0]  # the H0 stream of evaluate(seed): the same threshold
    h0_samples = min(args.items, MAX_H0_SAMPLES)
    tb = top_block(
        items=args.items,
        model=model,
        seed=args.seed,
        pfa=PFA,
        h0_seed=h0_seed,
        h0_samples=h0_samples,
        metrics_json=str(out / "isac_ae_sim"),
    )
    print(
        f"flowgraph isac_ae_sim_no_gui: {args.items} snapshots, model {model}, "
        f"{tb.ae_radar_receiver.describe_threshold()}",
        flush=True,
    )
    start = time.perf_counter()
    tb.start()
    waiter = threading.Thread(target=tb.wait)
    waiter.start()
    while waiter.is_alive():
        waiter.join(1.0)
        items = tb.ae_metrics.counts()["items"]
        rate = items / (time.perf_counter() - start)
        print(f"  live  {tb.ae_metrics.summary()}  [{rate / 1e6:.2f} M snapshots/s]", flush=True)
    wall = time.perf_counter() - start
    fg = tb.ae_metrics.metrics()
    print(f"flowgraph done: {fg['items']} snapshots in {wall:.1f} s ({fg['items'] / wall / 1e6:.2f} M/s)")
    if args.no_core:
        return 0

    loaded = load_model(model)
    t0 = time.perf_counter()
    same_h0 = h0_samples == args.items  # else the core uses the flowgraph's threshold
    core = evaluate(
        AutoencoderSystem(
            loaded.model, loaded.scenario.replace(pfa=PFA), omega=loaded.omega if loaded.conditioned else None
        ),
        samples=args.items,
        seed=args.seed,
        threshold=None if same_h0 else tb.ae_radar_receiver.threshold(),
    ).to_dict()
    print(
        f"core evaluate: {args.items} snapshots in {time.perf_counter() - t0:.1f} s (threshold {core['threshold']!r})"
    )
    print(f"\n{'metric':10s} {'flowgraph':>12s} {'core':>12s} {'5-sigma tol':>12s}  agree")
    agree_all = True
    for name in ("pd", "pfa", "rmse_deg", "ser"):
        tol = _tolerance(name, fg, core)
        agree = abs(fg[name] - core[name]) <= tol
        agree_all &= agree
        print(f"{name:10s} {fg[name]:12.5f} {core[name]:12.5f} {tol:12.5f}  {'yes' if agree else 'NO'}")
    (out / "comparison.json").write_text(json.dumps({"flowgraph": fg, "core": core}, indent=1) + "\n")
    print(f"\nwrote {out / 'comparison.json'}")
    return 0 if agree_all else 1


if __name__ == "__main__":
    sys.exit(main())
