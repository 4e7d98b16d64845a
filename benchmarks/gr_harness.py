"""What the GNU Radio block benchmarks share: sources, sinks, timing, and the radar-detector flowgraphs."""

from __future__ import annotations

import functools
import math
import time

import numpy as np
from gnuradio import blocks, fft, gr

from isac_ae.blocks import cpp_receivers

K = 16
C = gr.sizeof_gr_complex
FFT_SIZE = 4096
_SOURCES = {"c": (blocks.vector_source_c, C), "f": (blocks.vector_source_f, 4), "b": (blocks.vector_source_b, 1)}


def crandn(rng, *shape):
    """CN(0, 1) samples, complex64."""
    return ((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / math.sqrt(2)).astype(np.complex64)


def timed(build, repeats: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process, all threads) of the fastest of ``repeats`` runs of ``build()``."""
    best = (math.inf, math.inf)
    for _ in range(repeats):
        tb = build()
        start, cpu = time.perf_counter(), time.process_time()
        tb.run()
        best = min(best, (time.perf_counter() - start, time.process_time() - cpu))
    return best


def source(data, n, vlen, kind="c", buffer=None):
    """Repeating vector source of the rows of ``data`` and a head of ``n`` items (optionally a larger buffer)."""
    make, size = _SOURCES[kind]
    src = make(np.asarray(data).ravel().tolist(), True, vlen)
    head = blocks.head(size * vlen, n)
    if buffer:
        head.set_min_output_buffer(buffer)
    return src, head


def sinks(tb, block, sizes):
    """A null sink of the given item size on each output of ``block``."""
    for port, size in enumerate(sizes):
        tb.connect((block, port), blocks.null_sink(size))


def harness(n):
    """Vector source -> head -> null sink: the ceiling of these measurements."""
    tb = gr.top_block()
    src, head = source(np.ones((64, K), np.complex64), n, K)
    tb.connect(src, head, blocks.null_sink(C * K))
    return tb


@functools.cache
def maprt_threshold() -> float:
    """The MAPRT threshold for Pfa = 1e-2, K = 16, [-20, 20] deg: calibrated once, outside the timed runs."""
    return cpp_receivers.h0_threshold(K, (), (-20.0, 20.0), 1e-2)


def maprt(n, z):
    """The C++ MAPRT detector on the rows of ``z`` (threshold for Pfa = 1e-2, K = 16, [-20, 20] deg)."""
    tb = gr.top_block()
    src, head = source(z, n, K)
    det = cpp_receivers.maprt_detector(K, (), (-20.0, 20.0), "statistic", maprt_threshold())
    tb.connect(src, head, det)
    sinks(tb, det, [4, 4, 1])
    return tb


def fft_beamscan(n, z):
    """In-tree reference: beamscan by FFT of the zero-padded snapshot (u step 2/4096 over [-1, 1]) and its argmax."""
    tb = gr.top_block()
    padded = np.zeros((len(z), FFT_SIZE), np.complex64)
    padded[:, :K] = z
    src, head = source(padded, n, FFT_SIZE)
    argmax = blocks.argmax_fs(FFT_SIZE)
    tb.connect(src, head, fft.fft_vcc(FFT_SIZE, True, [], False, 1), blocks.complex_to_mag_squared(FFT_SIZE), argmax)
    tb.connect((argmax, 0), blocks.null_sink(2))
    tb.connect((argmax, 1), blocks.null_sink(2))
    return tb
