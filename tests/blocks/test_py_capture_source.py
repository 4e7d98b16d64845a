"""Capture Source: SigMF captures of the emulated pluto2 twin (taken through pyadi-iio by tests/hw/test_capture.py's
session), one with its comm frame lost, replayed into vector sinks equal, item for item, what load_capture reads
from them; repeat replays them again; a headless run ends after the last item; the Online Fine-Tuning block takes
every item and trains from them; bad input is refused at construction in one line."""

import hashlib
import json
import math
import re
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import NEEDS_GNURADIO

pytest.importorskip("gnuradio", reason=NEEDS_GNURADIO)
pytest.importorskip("adi", reason="pyadi-iio is not installed (make setup installs it)")

from gnuradio import blocks, gr  # noqa: E402

from isac_ae.blocks import capture_source, online_finetune  # noqa: E402
from isac_ae.hw.capture import captures_in, load_capture, twin_amplitudes  # noqa: E402
from isac_ae.hw.scene import Scene, Target  # noqa: E402
from isac_ae.hw.twin import DigitalTwin  # noqa: E402
from isac_ae.pretrained import models_dir  # noqa: E402

from ..hw.test_capture import DEVICE, LAYOUT, SCENARIO, TWIN_SEED, K, _plan, _run, _without_comm_fade  # noqa: E402

#: The scenes: target angle (degrees, None: no target), comm receiver's angle (degrees). Recording LOST has no comm
#: channel at all (its comm frame is lost), its board's frame is whole.
SCENES = ((12.0, 35.0), (None, 45.0), (-15.0, 40.0), (None, 38.0))
LOST = 2
#: Online Fine-Tuning's split block: 4 per recording, so every recording has held-out items.
SPLIT = LAYOUT.data // 4
PORTS = [("c", K), ("b", 1), ("f", 1), ("c", 1), ("c", 1), ("b", 1)]  # z_r, t, theta, z_c, kappa, m
_SINKS = {"c": blocks.vector_sink_c, "b": blocks.vector_sink_b, "f": blocks.vector_sink_f}
_DTYPES = {"c": np.complex64, "b": np.uint8, "f": np.float32}
_SIZES = {"complex": 8, "byte": 1, "float": 4}
#: A generous bound on a run of a few thousand items on a loaded 2-core machine.
TIMEOUT = 120.0


@pytest.fixture(scope="module")
def captures(tmp_path_factory):
    """One recording per scene of SCENES on the pluto2 twin, at the scenario's SNR_r and SNR_c but for LOST's comm."""
    target, comm = twin_amplitudes(SCENARIO, LAYOUT, DigitalTwin(DEVICE, TWIN_SEED).truth.noise_power)
    scenes = tuple(
        Scene(() if angle is None else (Target(angle, target),), comm_angle_deg=comm_deg, comm_amplitude=comm)
        for angle, comm_deg in SCENES
    )
    out = tmp_path_factory.mktemp("captures")
    _run(out, _without_comm_fade(_plan(scenes=scenes), LOST), retries=0)
    return out


def _read(directory):
    """What load_capture gives for every recording of ``directory``, as the six output streams (the receivers'
    labels: theta in radians, 0 without a target)."""
    columns = [[] for _ in PORTS]
    for path in captures_in(directory):
        radar, comm, labels = load_capture(path, DEVICE, K)
        n = len(radar.z)
        theta = math.radians(labels.target_angle_deg) if labels.target_present else 0.0
        for column, values in zip(
            columns,
            (radar.z, np.full(n, labels.target_present), np.full(n, theta), comm.z, comm.kappa, labels.messages),
        ):
            column.append(values)
    return [np.concatenate(c).astype(_DTYPES[kind]) for c, (kind, _) in zip(columns, PORTS)]


def _sinks(tb, source, items=None):
    """A vector sink on every output of ``source`` (after a head of ``items`` if given)."""
    sinks = []
    for port, (kind, vlen) in enumerate(PORTS):
        sink = _SINKS[kind](vlen)
        if items is None:
            tb.connect((source, port), sink)
        else:
            size = np.dtype(_DTYPES[kind]).itemsize * vlen
            tb.connect((source, port), blocks.head(size, items), sink)
        sinks.append(sink)
    return sinks


def _run_to_end(tb) -> None:
    """``tb.run()``, failing instead of hanging where the flowgraph does not end by itself within TIMEOUT."""
    tb.start()
    waiter = threading.Thread(target=tb.wait, daemon=True)
    waiter.start()
    waiter.join(TIMEOUT)
    if waiter.is_alive():
        tb.stop()
        waiter.join()
        raise AssertionError(f"the flowgraph did not end by itself within {TIMEOUT:g} s")


def _data(sinks):
    """The sinks' items as arrays, (items, K) for z_r, (items,) for the others."""
    columns = [np.asarray(s.data(), _DTYPES[kind]) for s, (kind, _) in zip(sinks, PORTS)]
    return [c.reshape(-1, vlen) if vlen > 1 else c for c, (_, vlen) in zip(columns, PORTS)]


def test_a_headless_replay_puts_out_what_load_capture_reads_and_ends(captures):
    expected = _read(captures)
    paths = captures_in(captures)
    assert [load_capture(p).comm_lost for p in paths] == [i == LOST for i in range(len(SCENES))]  # the premise
    source = capture_source.capture_source(str(captures), DEVICE, K)
    tb = gr.top_block()
    sinks = _sinks(tb, source)
    _run_to_end(tb)  # WORK_DONE after the last item
    got = _data(sinks)
    n = LAYOUT.data
    assert source.recordings() == [p.name for p in paths] and source.items_per_pass() == len(SCENES) * n
    for port, (g, e) in enumerate(zip(got, expected)):
        assert len(g) == len(SCENES) * n, port
        np.testing.assert_array_equal(g, e, err_msg=f"port {port}")
    # the labels are the scenes' (degrees to radians, theta 0 without a target), one scene per recording
    t, theta = got[1].reshape(len(SCENES), n), got[2].reshape(len(SCENES), n)
    assert np.all(t == np.array([[a is not None] for a, _ in SCENES]))
    assert np.all(theta == np.array([[np.float32(math.radians(a or 0.0))] for a, _ in SCENES]))
    # the lost comm frame: its radar items are there (a target), its comm items are z_c 0, kappa NaN
    lost = slice(LOST * n, (LOST + 1) * n)
    assert np.all(np.isfinite(got[0][lost])) and np.all(got[1][lost] == 1)
    assert not np.any(got[3][lost]) and np.all(np.isnan(got[4][lost]))
    assert np.all(np.isfinite(np.delete(got[4], np.r_[lost])))


def test_repeat_replays_the_recordings_again_identically(captures):
    expected = _read(captures)
    source = capture_source.capture_source(str(captures), DEVICE, K, repeat=True)
    items = source.items_per_pass()
    tb = gr.top_block()
    sinks = _sinks(tb, source, items=2 * items)  # a repeating source never ends: the heads do
    _run_to_end(tb)
    for port, (g, e) in enumerate(zip(_data(sinks), expected)):
        assert len(g) == 2 * items, port
        np.testing.assert_array_equal(g[:items], e, err_msg=f"port {port}, first pass")
        np.testing.assert_array_equal(g[items:], e, err_msg=f"port {port}, second pass")


def test_the_online_fine_tuning_block_takes_every_item(captures):
    """Windows larger than the stream: nothing trains, and the windows hold every item, split as the block splits
    them (every fourth block of SPLIT items held out), those of lost comm frames (kappa NaN) for their radar part."""
    expected = _read(captures)
    source = capture_source.capture_source(str(captures), DEVICE, K)
    tuner = _tuner(window=1 << 16, held_out=1 << 16)
    tb = gr.top_block()
    for port in range(len(PORTS)):
        tb.connect((source, port), (tuner, port))
    _run_to_end(tb)
    n = source.items_per_pass()
    assert tuner.nitems_read(0) == n
    held = (np.arange(n) // SPLIT) % 4 == 3
    lost = ~np.isfinite(expected[4])
    assert lost.any()  # the captures hold lost comm frames
    assert tuner.windows() == (int((~held).sum()), int(held.sum()))
    assert tuner.comm_lost_in_windows() == (int((~held & lost).sum()), int((held & lost).sum()))
    assert tuner.rounds_done() == 0


def test_online_fine_tuning_trains_from_a_repeating_capture_source(captures):
    source = capture_source.capture_source(str(captures), DEVICE, K, repeat=True)
    # items per pass a multiple of SPLIT / held-out fraction: each recording stays on one side of the split
    assert source.items_per_pass() % (4 * SPLIT) == 0
    tuner = _tuner(window=1024, held_out=512, steps=3, batch_size=64, rounds=1)
    tb = gr.top_block()
    for port in range(len(PORTS)):
        tb.connect((source, port), (tuner, port))
    tb.start()
    try:
        deadline = time.monotonic() + TIMEOUT
        while not tuner.finished():
            assert time.monotonic() < deadline, f"no round within {TIMEOUT:g} s"
            time.sleep(0.02)
    finally:
        tb.stop()
        tb.wait()
    assert tuner.error() is None and tuner.rounds_done() == 1 and tuner.steps_done() == 3
    record = tuner.history()[0]
    assert record.items >= 1024 + 512 and math.isfinite(record.train_loss)


def _tuner(**settings):
    model = models_dir() / "pluto2" / "omega_0.09.safetensors"
    return online_finetune.online_finetune(
        str(model), K=K, M=SCENARIO.num_messages, split_items=SPLIT, h0_samples=1000, seed=1, **settings
    )


def test_the_grc_block_has_the_block_s_ports_and_builds_it(captures):
    """The GRC make line (strings quoted as GRC quotes them) builds the block; the YAML's outputs have the
    block's item sizes, in order, and are the Online Fine-Tuning block's inputs."""
    import yaml  # a dependency of GNU Radio's GRC

    grc = Path(__file__).resolve().parents[2] / "grc"
    spec = yaml.safe_load((grc / "isac_ae_capture_source.block.yml").read_text())
    values = {"directory": str(captures), "device": DEVICE, "K": K, "repeat": True}
    assert set(values) == {p["id"] for p in spec["parameters"]}
    render = lambda text: re.sub(r"\$\{\s*(\w+)\s*\}", lambda m: repr(values[m.group(1)]), text)  # noqa: E731
    namespace = {}
    exec(spec["templates"]["imports"], namespace)
    block = eval(render(spec["templates"]["make"]), namespace)
    assert isinstance(block, capture_source.capture_source) and block.items_per_pass() > 0
    sizes = [_SIZES[p["dtype"]] * (K if "vlen" in p else 1) for p in spec["outputs"]]
    assert sizes == list(block.output_signature().sizeof_stream_items())
    tuner = yaml.safe_load((grc / "isac_ae_online_finetune.block.yml").read_text())
    strip = lambda ports: [{k: v for k, v in p.items() if k != "vlen"} for p in ports]  # noqa: E731
    assert strip(spec["outputs"]) == strip(tuner["inputs"])
    for check in spec["asserts"]:
        assert eval(check.strip()[2:-1], {}, dict(values)), check


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"directory": ""}, "directory must name a directory"),
        ({"directory": "/nonexistent/captures"}, "does not exist or is not a directory"),
        ({"device": "phaser", "K": 8}, "is a capture of pluto2 with K = 2, not device = phaser"),
        ({"K": 3}, "K = 3, but a pluto2 has 2 elements"),
        ({"device": "hackrf"}, "unknown device profile 'hackrf'"),
        ({"K": 2.5}, "K must be an integer"),
        ({"repeat": "yes"}, "repeat must be True or False"),
    ],
)
def test_bad_input_is_one_clear_error(captures, kwargs, match):
    settings = {"directory": str(captures), "device": DEVICE, "K": K, **kwargs}
    with pytest.raises(ValueError, match=match):
        capture_source.capture_source(**settings)


def _copied(captures, directory, index=0):
    """Recording ``index`` of ``captures`` copied into ``directory``: its .sigmf-data path, its .sigmf-meta path."""
    for path in captures.glob(f"capture_{index:06d}.sigmf-*"):
        shutil.copy(path, directory)
    return directory / f"capture_{index:06d}.sigmf-data", directory / f"capture_{index:06d}.sigmf-meta"


def test_an_empty_directory_a_damaged_recording_and_a_missing_board_frame_are_refused(captures, tmp_path):
    with pytest.raises(ValueError, match="no captures in"):
        capture_source.capture_source(str(tmp_path), DEVICE, K)
    data, meta = _copied(captures, tmp_path)
    samples = np.frombuffer(data.read_bytes(), np.complex64).reshape(-1, K + 1).copy()
    damaged = samples.copy()
    damaged[100, 0] = -damaged[100, 0]
    data.write_bytes(damaged.tobytes())
    with pytest.raises(ValueError, match="capture_000000.sigmf-meta: .*hash does not match"):
        capture_source.capture_source(str(tmp_path), DEVICE, K)
    # The board's channels replaced by noise of their level (seeded), the checksum updated: no board frame.
    rng = np.random.default_rng(3)
    scale = np.sqrt(np.mean(np.abs(samples[:, :K]) ** 2) / 2)
    samples[:, :K] = scale * (rng.standard_normal((len(samples), K)) + 1j * rng.standard_normal((len(samples), K)))
    data.write_bytes(samples.tobytes())
    recorded = json.loads(meta.read_text())
    recorded["global"]["core:sha512"] = hashlib.sha512(samples.tobytes()).hexdigest()
    meta.write_text(json.dumps(recorded))
    with pytest.raises(ValueError, match="capture_000000.sigmf-meta: the board's frame cannot be decoded"):
        capture_source.capture_source(str(tmp_path), DEVICE, K)
