"""Throughput of the C++ GNU Radio blocks (vectors/s, K = 16) against in-tree GNU Radio blocks doing comparable work.

Each measurement runs one flowgraph: a repeating vector source -> head(N) ->
the block(s) under test -> null sinks, and reports N / wall time (the best of
--repeats runs). Every row is timed in the same run as its reference, so the
ratio is meaningful on a loaded machine even when the absolute rate is not.

  block                 reference (in-tree GNU Radio)
  radar_channel         analog.noise_source_c (K samples per vector) + blocks.multiply_cc (vlen K) + add_cc (vlen K)
  comm_channel          analog.noise_source_c + blocks.multiply_cc (vlen K) + a K-sum (blocks.integrate_cc)
  weights_transmitter   digital.chunks_to_symbols_bc + blocks.repeat(K) + stream_to_vector + multiply_const_vcc
  ml_detector           blocks.divide_cc (z / kappa) + digital.constellation_decoder_cb (4-QAM)
  maprt_detector        FFT beamscan: fft_vcc(4096) of zero-padded snapshots + complex_to_mag_squared + argmax_fs
  (harness)             vector source -> head -> null sink, the ceiling of this measurement

Usage: python benchmarks/bench_cpp_blocks.py [--items N] [--repeats R] [--json]
Run it with `nice -n 19` on a shared machine.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
from gnuradio import analog, blocks, digital, gr

from gr_harness import C, K, crandn, fft_beamscan, harness, maprt, sinks, source, timed
from isac_ae.array import nominal_positions
from isac_ae.baselines import ls_beam, qam_constellation
from isac_ae.blocks import cpp_channels, cpp_receivers, cpp_transmitters


def radar_block(n, y):
    tb = gr.top_block()
    src, head = source(y, n, K)
    ch = cpp_channels.radar_channel(K, (), 0.0, (-20.0, 20.0), 0.5, seed=1)
    tb.connect(src, head, ch)
    sinks(tb, ch, [C * K, 1, 4])
    return tb


def radar_reference(n, y):
    """Noise generation and a per-element product and sum: the memory and RNG work of eq. (1)."""
    tb = gr.top_block()
    src, head = source(y, n, K)
    noise = analog.noise_source_c(analog.GR_GAUSSIAN, 1.0, 1)
    s2v = blocks.stream_to_vector(C, K)
    gain = blocks.vector_source_c(crandn(np.random.default_rng(2), 64 * K).tolist(), True, K)
    mult = blocks.multiply_cc(K)
    add = blocks.add_cc(K)
    tb.connect(src, head, (mult, 0))
    tb.connect(gain, (mult, 1))
    tb.connect(noise, s2v, (add, 1))
    tb.connect(mult, (add, 0))
    tb.connect(add, blocks.null_sink(C * K))
    return tb


def comm_block(n, y):
    tb = gr.top_block()
    src, head = source(y, n, K)
    ch = cpp_channels.comm_channel(K, (), 20.0, (30.0, 50.0), seed=1)
    tb.connect(src, head, (ch, 0))
    tb.connect(head, (ch, 1))
    sinks(tb, ch, [C, C, 4])
    return tb


def comm_reference(n, y):
    """Per-element product with a random vector and a K-sum, plus one noise sample per vector."""
    tb = gr.top_block()
    src, head = source(y, n, K)
    steer = blocks.vector_source_c(crandn(np.random.default_rng(3), 64 * K).tolist(), True, K)
    mult = blocks.multiply_cc(K)
    v2s = blocks.vector_to_stream(C, K)
    integ = blocks.integrate_cc(K)
    noise = analog.noise_source_c(analog.GR_GAUSSIAN, 1.0, 1)
    add = blocks.add_cc()
    tb.connect(src, head, (mult, 0))
    tb.connect(steer, (mult, 1))
    tb.connect(mult, v2s, integ, (add, 0))
    tb.connect(noise, (add, 1))
    tb.connect(add, blocks.null_sink(C))
    return tb


def _messages(n):
    src = blocks.vector_source_b(np.random.default_rng(4).integers(0, 4, 4096).astype(np.uint8).tolist(), True)
    return src, blocks.head(1, n)


def transmitter_block(n, beam):
    tb = gr.top_block()
    src, head = _messages(n)
    tx = cpp_transmitters.weights_transmitter(K, qam_constellation(4), beam)
    tb.connect(src, head, tx)
    sinks(tb, tx, [C * K, C * K])
    return tb


def transmitter_reference(n, beam):
    tb = gr.top_block()
    src, head = _messages(n)
    sym = digital.chunks_to_symbols_bc(qam_constellation(4).tolist(), 1)
    rep = blocks.repeat(C, K)
    s2v = blocks.stream_to_vector(C, K)
    scale = blocks.multiply_const_vcc(beam.tolist())
    tb.connect(src, head, sym, rep, s2v, scale, blocks.null_sink(C * K))
    return tb


def ml_block(n, z, kappa):
    tb = gr.top_block()
    sz, hz = source(z, n, 1)
    sk, hk = source(kappa, n, 1)
    det = cpp_receivers.ml_detector()
    tb.connect(sz, hz, (det, 0))
    tb.connect(sk, hk, (det, 1))
    tb.connect(det, blocks.null_sink(1))
    return tb


def ml_reference(n, z, kappa):
    tb = gr.top_block()
    sz, hz = source(z, n, 1)
    sk, hk = source(kappa, n, 1)
    div = blocks.divide_cc()
    dec = digital.constellation_decoder_cb(digital.constellation_qpsk().base())
    tb.connect(sz, hz, (div, 0))
    tb.connect(sk, hk, (div, 1))
    tb.connect(div, dec, blocks.null_sink(1))
    return tb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2_000_000, help="vectors per run (the MAPRT runs use a quarter)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    n, r = args.items, args.repeats
    rng = np.random.default_rng(0)
    beam = ls_beam(nominal_positions(K), np.deg2rad((-20.0, 20.0))).astype(np.complex64)
    y = qam_constellation(4)[rng.integers(0, 4, 1024)][:, None].astype(np.complex64) * beam
    z_c, kappa = crandn(rng, 4096), crandn(rng, 4096)
    # Radar snapshots as the channel makes them (half with a target), for the detectors.
    z_r = cpp_channels.radar_channel(K, (), 0.0, (-20.0, 20.0), 0.5, seed=9)
    tb = gr.top_block()
    src, head = source(y, 1024, K)
    snk = blocks.vector_sink_c(K)
    tb.connect(src, head, z_r)
    tb.connect((z_r, 0), snk)
    tb.connect((z_r, 1), blocks.null_sink(1))
    tb.connect((z_r, 2), blocks.null_sink(4))
    tb.run()
    z_snap = np.asarray(snk.data(), np.complex64).reshape(-1, K)

    n_maprt = max(1, n // 4)
    rows = [
        ("harness (source -> head -> sink)", n, lambda: harness(n), None),
        ("radar_channel", n, lambda: radar_block(n, y), lambda: radar_reference(n, y)),
        ("comm_channel", n, lambda: comm_block(n, y), lambda: comm_reference(n, y)),
        ("weights_transmitter", n, lambda: transmitter_block(n, beam), lambda: transmitter_reference(n, beam)),
        ("ml_detector", n, lambda: ml_block(n, z_c, kappa), lambda: ml_reference(n, z_c, kappa)),
        ("maprt_detector", n_maprt, lambda: maprt(n_maprt, z_snap), lambda: fft_beamscan(n_maprt, z_snap)),
    ]
    results = []
    for name, items, block, reference in rows:
        rate = items / timed(block, r)[0]
        ref = items / timed(reference, r)[0] if reference else None
        results.append(
            {"block": name, "vectors_per_s": rate, "reference_per_s": ref, "ratio": rate / ref if ref else None}
        )

    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"C++ blocks, K = {K}: vectors (items) per second, best of {r} runs")
    print(f"{'block':34s} {'block /s':>12s} {'reference /s':>13s} {'ratio':>7s}")
    for row in results:
        ref = f"{row['reference_per_s']:13.3e}" if row["reference_per_s"] else f"{'-':>13s}"
        ratio = f"{row['ratio']:7.2f}" if row["ratio"] else f"{'-':>7s}"
        print(f"{row['block']:34s} {row['vectors_per_s']:12.3e} {ref} {ratio}")


if __name__ == "__main__":
    main()
