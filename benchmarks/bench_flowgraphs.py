"""Throughput of the Python GNU Radio blocks (vectors/s, K = 16) and of the headless example flowgraphs.

Each measurement runs one flowgraph to completion and reports N / wall time
(the best of --repeats runs; building the flowgraph, loading the model and
calibrating thresholds are not timed). Every row is timed in the same run as
its references, so ratios stay meaningful on a loaded machine.

  block / flowgraph          references (same run)
  ae_transmitter             C++ weights_transmitter; in-tree chunks_to_symbols_bc + repeat(K)
                             + stream_to_vector + multiply_const_vcc
  ae_radar_receiver          C++ maprt_detector (the baseline's radar receiver); in-tree FFT beamscan
                             (fft_vcc 4096 + mag^2 + argmax)
  ae_radar_receiver, default buffers   the same block fed through GNU Radio's default 64 KiB buffers (512 snapshots)
  ae_comm_receiver           C++ ml_detector; in-tree divide_cc + constellation_decoder_cb (4-QAM)
  isac_metrics               in-tree sub_ff + multiply_ff (squared error), and_bb, xor_bb into null sinks
  beampattern (D = 1000)     in-tree keep_one_in_n (the decimation alone)
  isac_ae_sim_no_gui         isac_baseline_sim_no_gui (C++ receivers); the C++ chain without receivers
                             (transmitter -> both channels -> null sinks); harness
  isac_compare_sim_no_gui    both systems on the same draws
  (harness)                  vector source -> head -> null sink, the ceiling of this measurement

The AE blocks ask for 8192-item output buffers, and the flowgraphs set the
radar channel's "Min Output Buffer" to 8192, so a work() call is a batch of
up to 8192 snapshots (one torch forward pass with one thread).

Usage: python benchmarks/bench_flowgraphs.py [--items N] [--flowgraph-items N] [--repeats R] [--json]
Run it with `nice -n 19` and OMP_NUM_THREADS=1 on a shared machine; GRC_BLOCKS_PATH is set to grc/ here.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from gnuradio import blocks, digital, gr

from gr_harness import C, K, crandn, fft_beamscan, harness, maprt, sinks, source, timed
from isac_ae.autoencoder.modelfile import load_model
from isac_ae.blocks import ae_receivers, ae_transmitters, beampattern, cpp_channels, cpp_receivers, cpp_transmitters
from isac_ae.blocks import metrics as isac_metrics
from isac_ae.blocks.ae_common import BATCH_ITEMS, DEFAULT_MODEL, resolve_model_path

REPO = Path(__file__).resolve().parents[1]
MODEL = str(resolve_model_path(DEFAULT_MODEL))


# --- transmitter -------------------------------------------------------------------
def _messages(n):
    return source(np.random.default_rng(4).integers(0, 4, 4096).astype(np.uint8), n, 1, "b")


def ae_tx(n, model=MODEL, **kwargs):
    tb = gr.top_block()
    src, head = _messages(n)
    tx_block = ae_transmitters.ae_transmitter(model, **kwargs)
    tb.python_blocks = [tx_block]  # a Python block must outlive the run: the top block alone does not keep it
    tb.connect(src, head, tx_block)
    sinks(tb, tx_block, [C * K, C * K])
    return tb


def cpp_tx(n, tx):
    tb = gr.top_block()
    src, head = _messages(n)
    block = cpp_transmitters.weights_transmitter(K, tx.constellation(), tx.beam())
    tb.connect(src, head, block)
    sinks(tb, block, [C * K, C * K])
    return tb


def intree_tx(n, tx):
    tb = gr.top_block()
    src, head = _messages(n)
    sym = digital.chunks_to_symbols_bc(tx.constellation().tolist(), 1)
    rep = blocks.repeat(C, K)
    s2v = blocks.stream_to_vector(C, K)
    scale = blocks.multiply_const_vcc(tx.beam().tolist())
    tb.connect(src, head, sym, rep, s2v, scale, blocks.null_sink(C * K))
    return tb


# --- radar receivers ---------------------------------------------------------------
def ae_radar(n, z, threshold, buffer=BATCH_ITEMS, model=MODEL, **kwargs):
    """The AE radar receiver with a logit ``threshold`` (None: ``kwargs`` say how it calibrates)."""
    tb = gr.top_block()
    src, head = source(z, n, K, buffer=buffer)
    rule = dict(mode="logit", threshold=threshold) if threshold is not None else {}
    rx = ae_receivers.ae_radar_receiver(model, **rule, **kwargs)
    tb.python_blocks = [rx]
    tb.connect(src, head, rx)
    sinks(tb, rx, [4, 4, 4, 1])
    return tb


# --- comm receivers ----------------------------------------------------------------
def _comm_inputs(tb, n, z, kappa, block):
    sz, hz = source(z, n, 1)
    sk, hk = source(kappa, n, 1)
    tb.connect(sz, hz, (block, 0))
    tb.connect(sk, hk, (block, 1))


def ae_comm(n, z, kappa, model=MODEL, **kwargs):
    tb = gr.top_block()
    rx = ae_receivers.ae_comm_receiver(model, **kwargs)
    tb.python_blocks = [rx]
    _comm_inputs(tb, n, z, kappa, rx)
    tb.connect(rx, blocks.null_sink(1))
    return tb


def ml(n, z, kappa):
    tb = gr.top_block()
    det = cpp_receivers.ml_detector()
    _comm_inputs(tb, n, z, kappa, det)
    tb.connect(det, blocks.null_sink(1))
    return tb


def intree_ml(n, z, kappa):
    tb = gr.top_block()
    div = blocks.divide_cc()
    _comm_inputs(tb, n, z, kappa, div)
    tb.connect(div, digital.constellation_decoder_cb(digital.constellation_qpsk().base()), blocks.null_sink(1))
    return tb


# --- metrics and beampattern ------------------------------------------------------
def _metric_streams(rng):
    t = rng.integers(0, 2, 4096).astype(np.uint8)
    theta = rng.uniform(-0.35, 0.35, 4096).astype(np.float32)
    det = (rng.random(4096) < 0.5).astype(np.uint8)
    theta_hat = (theta + rng.normal(0, 0.02, 4096)).astype(np.float32)
    m = rng.integers(0, 4, 4096).astype(np.uint8)
    return [(t, "b"), (theta, "f"), (det, "b"), (theta_hat, "f"), (m, "b"), ((m + (rng.random(4096) < 0.01)) % 4, "b")]


def metrics_block(n, streams):
    tb = gr.top_block()
    met = isac_metrics.isac_metrics(report_every=100_000, log_at_stop=False)
    tb.python_blocks = [met]  # a Python block must outlive the run: the top block alone does not keep it
    for port, (data, kind) in enumerate(streams):
        src, head = source(data.astype(np.uint8 if kind == "b" else np.float32), n, 1, kind)
        tb.connect(src, head, (met, port))
    return tb


def metrics_reference(n, streams):
    tb = gr.top_block()
    heads = []
    for data, kind in streams:
        src, head = source(data.astype(np.uint8 if kind == "b" else np.float32), n, 1, kind)
        tb.connect(src, head)
        heads.append(head)
    sub, sq, land, lxor = blocks.sub_ff(), blocks.multiply_ff(), blocks.and_bb(), blocks.xor_bb()
    tb.connect(heads[3], (sub, 0))
    tb.connect(heads[1], (sub, 1))
    tb.connect(sub, (sq, 0))
    tb.connect(sub, (sq, 1))
    tb.connect(sq, blocks.null_sink(4))
    tb.connect(heads[0], (land, 0))
    tb.connect(heads[2], (land, 1))
    tb.connect(land, blocks.null_sink(1))
    tb.connect(heads[4], (lxor, 0))
    tb.connect(heads[5], (lxor, 1))
    tb.connect(lxor, blocks.null_sink(1))
    return tb


def beampattern_block(n, v, decimation):
    tb = gr.top_block()
    src, head = source(v, n, K)
    bp = beampattern.beampattern(K, points=256, decimation=decimation)
    tb.python_blocks = [bp]
    tb.connect(src, head, bp, blocks.null_sink(4 * 256))
    return tb


def keep_one_in_n(n, v, decimation):
    tb = gr.top_block()
    src, head = source(v, n, K)
    tb.connect(src, head, blocks.keep_one_in_n(C * K, decimation), blocks.null_sink(C * K))
    return tb


# --- flowgraphs ---------------------------------------------------------------------
def compile_flowgraphs(out: Path) -> dict:
    """grcc the no_gui examples into ``out`` and import their top blocks."""
    grcc = shutil.which("grcc")
    if grcc is None:
        raise SystemExit("grcc not found (install gnuradio)")
    env = dict(os.environ, GRC_BLOCKS_PATH=str(REPO / "grc"))
    files = sorted((REPO / "examples" / "simulation").glob("*_no_gui.grc"))
    subprocess.run(
        [sys.executable, grcc, "-o", str(out)] + [str(f) for f in files], check=True, env=env, stdout=subprocess.DEVNULL
    )
    classes = {}
    for f in files:
        spec = importlib.util.spec_from_file_location(f.stem, out / f"{f.stem}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        classes[f.stem] = getattr(module, f.stem)
    return classes


def flowgraph(cls, n, **kwargs):
    def build():
        return cls(items=n, **kwargs)

    return build


def channels_only(n, tx):
    """The C++ part of the AE flowgraph: transmitter (fixed AE beam) -> radar and comm channels -> null sinks."""
    tb = gr.top_block()
    src, head = _messages(n)
    wt = cpp_transmitters.weights_transmitter(K, tx.constellation(), tx.beam())
    rc = cpp_channels.radar_channel(K, (), 0.0, (-20.0, 20.0), 0.5, seed=1)
    cc = cpp_channels.comm_channel(K, (), 20.0, (30.0, 50.0), seed=1)
    tb.connect(src, head, wt)
    tb.connect((wt, 0), rc)
    tb.connect((wt, 0), (cc, 0))
    tb.connect((wt, 1), (cc, 1))
    sinks(tb, rc, [C * K, 1, 4])
    sinks(tb, cc, [C, C, 4])
    return tb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="vectors per block run")
    parser.add_argument("--flowgraph-items", type=int, default=1_000_000, help="snapshots per flowgraph run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    n, nf, r = args.items, args.flowgraph_items, args.repeats
    rng = np.random.default_rng(0)

    tx = ae_transmitters.ae_transmitter(MODEL)
    threshold = ae_receivers.ae_radar_receiver(MODEL, mode="pfa", h0_samples=50_000).threshold()
    # Radar snapshots of the AE beam through the C++ channel (half with a target), 8192 of them, repeated.
    loaded = load_model(MODEL)
    y = (tx.constellation()[rng.integers(0, 4, 8192)][:, None] * tx.beam()).astype(np.complex64)
    tb = gr.top_block()
    src, head = source(y, 8192, K)
    ch = cpp_channels.radar_channel(K, (), loaded.scenario.snr_radar_db, (-20.0, 20.0), 0.5, seed=9)
    snk = blocks.vector_sink_c(K)
    tb.connect(src, head, ch, snk)
    tb.connect((ch, 1), blocks.null_sink(1))
    tb.connect((ch, 2), blocks.null_sink(4))
    tb.run()
    z_r = np.asarray(snk.data(), np.complex64).reshape(-1, K)
    z_c, kappa = crandn(rng, 8192), crandn(rng, 8192)
    v = crandn(rng, 1024, K)
    streams = _metric_streams(rng)
    n_slow = max(1, n // 4)  # MAPRT and the FFT beamscan are slower: fewer items

    rows = [
        ("harness (source -> head -> sink)", n, harness, []),
        (
            "ae_transmitter",
            n,
            ae_tx,
            [
                ("C++ weights_transmitter", lambda k: cpp_tx(k, tx)),
                ("in-tree symbols+repeat+scale", lambda k: intree_tx(k, tx)),
            ],
        ),
        (
            "ae_radar_receiver",
            n,
            lambda k: ae_radar(k, z_r, threshold),
            [
                ("C++ maprt_detector", lambda k: maprt(min(k, n_slow), z_r)),
                ("in-tree FFT beamscan", lambda k: fft_beamscan(min(k, n_slow), z_r)),
            ],
        ),
        ("ae_radar_receiver, default buffers", n, lambda k: ae_radar(k, z_r, threshold, buffer=None), []),
        (
            "ae_comm_receiver",
            n,
            lambda k: ae_comm(k, z_c, kappa),
            [
                ("C++ ml_detector", lambda k: ml(k, z_c, kappa)),
                ("in-tree divide+decoder", lambda k: intree_ml(k, z_c, kappa)),
            ],
        ),
        (
            "isac_metrics",
            n,
            lambda k: metrics_block(k, streams),
            [("in-tree sub/multiply/and/xor", lambda k: metrics_reference(k, streams))],
        ),
        (
            "beampattern (D = 1000)",
            n,
            lambda k: beampattern_block(k, v, 1000),
            [("in-tree keep_one_in_n", lambda k: keep_one_in_n(k, v, 1000))],
        ),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        classes = compile_flowgraphs(Path(tmp))
        ae_kwargs = dict(h0_samples=50_000)
        ae = classes["isac_ae_sim_no_gui"]
        bl = classes["isac_baseline_sim_no_gui"]
        cmp = classes["isac_compare_sim_no_gui"]
        rows += [
            (
                "isac_ae_sim_no_gui (flowgraph)",
                nf,
                lambda k: flowgraph(ae, k, **ae_kwargs)(),
                [
                    ("isac_baseline_sim_no_gui", lambda k: flowgraph(bl, k)()),
                    ("C++ tx + channels only", lambda k: channels_only(k, tx)),
                    ("harness", harness),
                ],
            ),
            ("isac_compare_sim_no_gui (flowgraph)", nf, lambda k: flowgraph(cmp, k, **ae_kwargs)(), []),
        ]
        results = []
        if not args.json:
            print(
                f"vectors (snapshots) per second of wall time, and per CPU-second of this process (all its "
                f"threads), best of {r} runs; K = {K}, torch threads 1"
            )
            print(f"{'':48s} {'wall /s':>10s} {'CPU /s':>10s}")
        for name, items, build, references in rows:
            wall, cpu = timed(lambda build=build, items=items: build(items), r)
            row = {
                "what": name,
                "items": items,
                "vectors_per_s": items / wall,
                "vectors_per_cpu_s": items / cpu,
                "references": [],
            }
            for ref_name, ref_build in references:
                ref_items = n_slow if ref_name in ("C++ maprt_detector", "in-tree FFT beamscan") else items
                ref_wall, ref_cpu = timed(lambda ref_build=ref_build, ref_items=ref_items: ref_build(ref_items), r)
                row["references"].append(
                    {
                        "reference": ref_name,
                        "per_s": ref_items / ref_wall,
                        "per_cpu_s": ref_items / ref_cpu,
                        "ratio": (items / wall) / (ref_items / ref_wall),
                    }
                )
            results.append(row)
            if not args.json:
                print(f"{name:48s} {row['vectors_per_s']:10.3e} {row['vectors_per_cpu_s']:10.3e}", flush=True)
                for ref in row["references"]:
                    print(
                        f"    vs {ref['reference']:41s} {ref['per_s']:10.3e} {ref['per_cpu_s']:10.3e}   "
                        f"ratio {ref['ratio']:6.2f}",
                        flush=True,
                    )
    if args.json:
        print(
            json.dumps(
                {"K": K, "model": MODEL, "repeats": r, "torch_threads": torch.get_num_threads(), "results": results},
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
