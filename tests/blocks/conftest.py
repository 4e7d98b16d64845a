"""Flowgraph helpers for the block tests: vector_source -> block -> vector_sink in a gr.top_block.

Every test module here starts with ``pytest.importorskip("gnuradio", ...)``: without
GNU Radio each one is reported as skipped with its reason, none is dropped silently.
"""

import numpy as np
import pytest

try:
    from gnuradio import blocks, gr
except ImportError:  # the test modules skip themselves; these helpers are then never called
    blocks = gr = None

#: Why a block test module is skipped without GNU Radio (pytest.importorskip's reason).
NEEDS_GNURADIO = "GNU Radio is not installed: the GNU Radio blocks (C++ and Python) cannot be built or run"

_DTYPES = {"c": np.complex64, "f": np.float32, "b": np.uint8}


def _source(data, kind, vlen):
    flat = np.asarray(data, dtype=_DTYPES[kind]).ravel().tolist()
    return getattr(blocks, f"vector_source_{kind}")(flat, False, vlen)


def _run_into_sinks(tb, block, outputs, max_noutput_items):
    """Connect a vector sink to each of ``block``'s outputs, run ``tb``, return the sinks' data as arrays."""
    sinks = []
    for port, (kind, vlen) in enumerate(outputs):
        sink = getattr(blocks, f"vector_sink_{kind}")(vlen)
        tb.connect((block, port), sink)
        sinks.append(sink)
    if max_noutput_items is None:
        tb.run()
    else:
        tb.run(max_noutput_items)
    result = []
    for sink, (kind, vlen) in zip(sinks, outputs):
        data = np.asarray(sink.data(), dtype=_DTYPES[kind])
        result.append(data.reshape(-1, vlen) if vlen > 1 else data)
    return result


def run_block(block, inputs, outputs, max_noutput_items=None):
    """Run ``block`` on finite inputs and return its outputs as arrays.

    inputs: list of (array, kind, vlen), kind in 'c', 'f', 'b'; outputs: list of (kind, vlen).
    Returns one array per output, shape (N, vlen) for vlen > 1 else (N,).
    """
    tb = gr.top_block()
    for port, (data, kind, vlen) in enumerate(inputs):
        tb.connect(_source(data, kind, vlen), (block, port))
    return _run_into_sinks(tb, block, outputs, max_noutput_items)


def run_repeated(block, vectors, num_items, outputs, max_noutput_items=None):
    """Feed each input port one fixed complex vector, repeated ``num_items`` times (source + head)."""
    tb = gr.top_block()
    for port, vec in enumerate(vectors):
        vec = np.asarray(vec, dtype=np.complex64)
        src = blocks.vector_source_c(vec.tolist(), True, len(vec))
        head = blocks.head(gr.sizeof_gr_complex * len(vec), num_items)
        tb.connect(src, head, (block, port))
    return _run_into_sinks(tb, block, outputs, max_noutput_items)


@pytest.fixture(scope="session")
def cpp():
    from isac_ae import kernels

    return kernels.load()  # with GNU Radio present, a missing build is a failure, not a skip


@pytest.fixture
def run():
    return run_block


@pytest.fixture
def run_rep():
    return run_repeated


#: The shipped model the learned-block tests run (relative to the models directory).
AE_MODEL = "nominal/omega_0.09.safetensors"


@pytest.fixture(autouse=True, scope="module")
def _restore_torch_threads():
    """The learned blocks set torch to one thread (process-wide); give the rest of the session its setting back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_path():
    from isac_ae.pretrained import models_dir

    return models_dir() / AE_MODEL


@pytest.fixture(scope="module")
def core(model_path):
    """The core's AutoencoderSystem of the model the blocks load."""
    from isac_ae.autoencoder import AutoencoderSystem
    from isac_ae.autoencoder.modelfile import load_model

    loaded = load_model(model_path)
    return AutoencoderSystem(loaded.model, loaded.scenario)
