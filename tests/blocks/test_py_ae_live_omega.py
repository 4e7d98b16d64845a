"""omega_r live in GNU Radio: the AE blocks follow set_omega (a slider) of a conditioned model at the next work() call.

The model is a barely trained conditioned autoencoder whose first layers' omega_r rows are amplified 30x, so that
its beam, its receivers and its detector's threshold move far with omega_r: a block that kept the old omega_r (or
the old threshold) fails these checks, which the tests show where it matters.
"""

import time

import numpy as np
import pytest

from .conftest import NEEDS_GNURADIO

pytest.importorskip("gnuradio", reason=NEEDS_GNURADIO)

import torch  # noqa: E402
from gnuradio import blocks, gr  # noqa: E402

from isac_ae import Scenario  # noqa: E402
from isac_ae.autoencoder import AutoencoderSystem, Trainer, TrainingConfig  # noqa: E402
from isac_ae.autoencoder.model import NETWORKS  # noqa: E402
from isac_ae.autoencoder.modelfile import load_model  # noqa: E402
from isac_ae.autoencoder.sweep import write_sweep  # noqa: E402
from isac_ae.blocks import ae_receivers, ae_transmitters  # noqa: E402
from isac_ae.blocks.ae_common import model_conditioned  # noqa: E402
from isac_ae.evaluation import h0_scores, threshold_for_pfa  # noqa: E402

from ..helpers import proportion_tolerance  # noqa: E402
from ..test_grc import _instantiate, platform  # noqa: E402, F401  (platform: GRC's, as a fixture)
from .conftest import AE_MODEL  # noqa: E402

K, PFA, H0, H0_SEED = 16, 0.05, 50_000, 3
OLD, NEW = 0.09, 0.8  # the slider's move; NEW lies between two points of OMEGA_GRID
WORK_ITEMS = 1024  # max_noutput_items of the blocks in the running flowgraph: one work() call at most this
C = gr.sizeof_gr_complex


@pytest.fixture(scope="module")
def conditioned(tmp_path_factory):
    """(path, loaded model) of the conditioned test model."""
    torch.manual_seed(0)
    trainer = Trainer(
        Scenario(), TrainingConfig(omegas=(0.0, 1.0), conditioned=3, samples_per_stage=2000, batch_size=1000)
    )
    trainer.run()
    with torch.no_grad():
        for name in NETWORKS:
            trainer.model.network(name).net.layers[0].weight[:, -2:] *= 30  # the omega_r rows (inputs last)
    (path,) = write_sweep(trainer, tmp_path_factory.mktemp("conditioned"))
    return path, load_model(path)


def _system(loaded, omega):
    return AutoencoderSystem(loaded.model, loaded.scenario, omega=omega)


def _pfa_tolerance(n: int) -> float:
    """5 sigma of the difference between a Pfa measured on n snapshots and the threshold's own H0 estimate."""
    return float(np.hypot(proportion_tolerance(PFA, n), proportion_tolerance(PFA, H0)))


def _noise(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return ((rng.standard_normal((n, K)) + 1j * rng.standard_normal((n, K))) / np.sqrt(2)).astype(np.complex64)


def _wait(condition, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


class _Files:
    """File sources and sinks in a directory: exact data in and out of a flowgraph, read back with numpy."""

    def __init__(self, directory):
        self.directory = directory

    def source(self, name, array):
        path = self.directory / f"{name}.in"
        array.tofile(path)
        return blocks.file_source(array.itemsize * int(np.prod(array.shape[1:])), str(path), False)

    def sink(self, name, itemsize):
        sink = blocks.file_sink(itemsize, str(self.directory / f"{name}.out"), False)
        sink.set_unbuffered(True)
        return sink

    def read(self, name, dtype, width=1):
        data = np.fromfile(self.directory / f"{name}.out", dtype=dtype)
        return data.reshape(-1, width) if width > 1 else data


@pytest.fixture(scope="module")
def slider_run(conditioned, tmp_path_factory):
    """A running flowgraph (throttled sources -> AE transmitter, radar receiver on H0 noise, comm receiver with
    probabilities -> file sinks) whose three blocks get set_omega(NEW) once each has done a quarter of its items,
    as a slider move does. Returns the inputs, the outputs and, per block, the item counts just before and just
    after its set_omega call."""
    path, loaded = conditioned
    return run_with_a_move(
        path, loaded, tmp_path_factory.mktemp("slider"), (1, 5), dict(omega=OLD), lambda block: block.set_omega(NEW)
    )


def run_with_a_move(path, loaded, out_dir, seeds, settings: dict, move, radar_source=None) -> dict:
    """Run the three AE blocks of ``path`` (built with ``settings``) on throttled streams, with ``move(block)``
    called on each once it has done a quarter of its items; the slider tests' flowgraph. ``seeds``: (messages,
    first noise seed); ``radar_source(z_r, rrx)``: the block that streams z_r (default: a file source)."""
    files = _Files(out_dir)
    rng = np.random.default_rng(seeds[0])
    n_tx, n_radar, n_comm = 80_000, 200_000, 80_000
    m = rng.integers(0, 4, n_tx).astype(np.uint8)
    z_r = _noise(n_radar, seeds[1])
    z_c = _noise(n_comm, seeds[1] + 1)[:, 0] * 3
    kappa = _noise(n_comm, seeds[1] + 2)[:, 0]
    tx = _recording(ae_transmitters.ae_transmitter)(str(path), **settings)
    rrx = _recording(ae_receivers.ae_radar_receiver)(str(path), pfa=PFA, h0_samples=H0, seed=H0_SEED, **settings)
    crx = _recording(ae_receivers.ae_comm_receiver)(str(path), probabilities=True, **settings)
    old_threshold = rrx.threshold()
    tb = gr.top_block()
    for block in (tx, rrx, crx):
        block.set_max_noutput_items(WORK_ITEMS)
    tb.connect(files.source("m", m), blocks.throttle(1, 40_000), tx)
    tb.connect((tx, 0), files.sink("y", C * K))
    tb.connect((tx, 1), files.sink("v", C * K))
    source = files.source("z_r", z_r) if radar_source is None else radar_source(z_r, rrx)
    tb.connect(source, blocks.throttle(C * K, 100_000), rrx)
    for port, (name, size) in enumerate([("q", 4), ("theta", 4), ("sigma", 4), ("det", 1)]):
        tb.connect((rrx, port), files.sink(name, size))
    tb.connect(files.source("z_c", z_c), blocks.throttle(C, 40_000), (crx, 0))
    tb.connect(files.source("kappa", kappa), (crx, 1))
    tb.connect((crx, 0), files.sink("m_hat", 1))
    tb.connect((crx, 1), files.sink("p", 4 * 4))
    counted = {"tx": (tx, tx.nitems_written, n_tx), "radar": (rrx, rrx.nitems_read, n_radar)}
    counted["comm"] = (crx, crx.nitems_read, n_comm)
    bounds = {}
    tb.start()
    try:
        for name, (_, items, n) in counted.items():
            _wait(lambda items=items, n=n: items(0) >= n // 4, f"a quarter of the {name} items")
        for name, (block, items, _) in counted.items():
            before = items(0)
            move(block)
            bounds[name] = (before, items(0), block.starts)
    finally:
        tb.wait()
    return dict(
        loaded=loaded,
        inputs=dict(m=m, z_r=z_r, z_c=z_c, kappa=kappa),
        bounds=bounds,
        blocks=dict(tx=tx, radar=rrx, comm=crx),
        old_threshold=old_threshold,
        y=files.read("y", np.complex64, K),
        v=files.read("v", np.complex64, K),
        q=files.read("q", np.float32),
        theta=files.read("theta", np.float32),
        det=files.read("det", np.uint8),
        m_hat=files.read("m_hat", np.uint8),
        p=files.read("p", np.float32, 4),
    )


def _switch(matches_old: np.ndarray, matches_new: np.ndarray, bounds, what: str) -> int:
    """The first item of the new omega_r: every item before it is the old system's, every one from it the new's,
    it is the first item of a work() call, and that call is at most one call after set_omega returned."""
    k = int(np.argmin(matches_old)) if not matches_old.all() else len(matches_old)
    assert matches_old[:k].all() and matches_new[k:].all(), f"{what}: the items do not switch once, at one item"
    before, after, starts = bounds
    assert k < len(matches_old), f"{what}: never switched"
    assert k in starts, f"{what}: switched at item {k}, inside a work() call"
    assert before <= k <= after + WORK_ITEMS, f"{what}: switched at item {k}, set_omega between {before} and {after}"
    return k


def _recording(block_class):
    """``block_class`` that records the first item of each of its work() calls in ``starts``."""

    class Recording(block_class):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.starts = []

        def work(self, input_items, output_items):
            self.starts.append(self.nitems_read(0))
            return super().work(input_items, output_items)

    return Recording


def test_the_transmitter_switches_beam_and_constellation_between_two_work_calls(slider_run):
    run, loaded = slider_run, slider_run["loaded"]
    m, y, v = run["inputs"]["m"], run["y"], run["v"]
    assert len(y) == len(v) == len(m)  # no item lost
    old, new = _system(loaded, OLD), _system(loaded, NEW)
    with torch.inference_mode():
        y_old, _ = old.transmit(torch.from_numpy(m.astype(np.int64)))
        y_new, _ = new.transmit(torch.from_numpy(m.astype(np.int64)))
    assert np.abs(new.beam - old.beam).max() > 0.1 and np.abs(new.constellation - old.constellation).max() > 0.1
    k = _switch((v == old.beam.numpy()).all(1), (v == new.beam.numpy()).all(1), run["bounds"]["tx"], "transmitter")
    np.testing.assert_array_equal(y[:k], y_old[:k].numpy())
    np.testing.assert_array_equal(y[k:], y_new[k:].numpy())
    tx = run["blocks"]["tx"]
    assert tx.omega() == NEW and tx.conditioned()
    np.testing.assert_array_equal(tx.beam(), new.beam.numpy())


def test_the_radar_receiver_switches_condition_and_threshold_keeping_pfa(slider_run):
    run, loaded = slider_run, slider_run["loaded"]
    z, q, theta, det = run["inputs"]["z_r"], run["q"], run["theta"], run["det"]
    assert len(q) == len(theta) == len(det) == len(z)  # no item lost
    with torch.inference_mode():
        (logit_old, theta_old, _), (logit_new, theta_new, _) = (
            _system(loaded, w).radar_receive(torch.from_numpy(z)) for w in (OLD, NEW)
        )
    close = dict(rtol=1e-5, atol=1e-6)
    k = _switch(
        np.isclose(theta, theta_old.numpy(), **close) & np.isclose(q, torch.sigmoid(logit_old).numpy(), **close),
        np.isclose(theta, theta_new.numpy(), **close) & np.isclose(q, torch.sigmoid(logit_new).numpy(), **close),
        run["bounds"]["radar"],
        "radar receiver",
    )
    rrx = run["blocks"]["radar"]
    new_threshold, logit_new = rrx.threshold(), logit_new.numpy()[k:]
    clear = np.abs(logit_new - new_threshold) > 1e-4  # batch-dependent float32 rounding flips only ties
    np.testing.assert_array_equal(det[k:][clear], (logit_new > new_threshold)[clear])
    after = len(z) - k
    tolerance = _pfa_tolerance(after)
    assert abs(det[k:].mean() - PFA) <= tolerance, f"Pfa after the move {det[k:].mean():.4f}, tolerance {tolerance:.4f}"
    assert abs(det[:k].mean() - PFA) <= _pfa_tolerance(k)
    kept = np.mean(logit_new > run["old_threshold"])  # had the threshold stayed, this is the Pfa it would give
    assert abs(kept - PFA) > tolerance, f"the old threshold gives {kept:.4f} at omega_r {NEW}: the test cannot tell"
    assert rrx.omega() == NEW and f"interpolated at omega_r {NEW:g}" in rrx.describe_threshold()


def test_the_comm_receiver_switches_condition_between_two_work_calls(slider_run):
    run, loaded = slider_run, slider_run["loaded"]
    z, kappa, m_hat, p = run["inputs"]["z_c"], run["inputs"]["kappa"], run["m_hat"], run["p"]
    assert len(m_hat) == len(p) == len(z)  # no item lost
    with torch.inference_mode():
        logits_old, logits_new = (
            _system(loaded, w).comm_logits(torch.from_numpy(z), torch.from_numpy(kappa)) for w in (OLD, NEW)
        )
    p_old, p_new = torch.softmax(logits_old, -1).numpy(), torch.softmax(logits_new, -1).numpy()
    close = dict(rtol=1e-5, atol=1e-6)
    k = _switch(
        np.isclose(p, p_old, **close).all(1), np.isclose(p, p_new, **close).all(1), run["bounds"]["comm"], "comm"
    )
    np.testing.assert_array_equal(m_hat[:k], logits_old[:k].argmax(-1).numpy())
    np.testing.assert_array_equal(m_hat[k:], logits_new[k:].argmax(-1).numpy())
    assert run["blocks"]["comm"].omega() == NEW


def test_the_threshold_table_holds_pfa_between_its_grid_points(conditioned):
    """At a grid point the table holds the core's calibration at that omega_r; half-way between two (in the log
    feature the grid is uniform in, where linear interpolation errs most) the interpolated threshold gives the
    target Pfa on fresh H0 snapshots at that omega_r, within binomial bounds."""
    path, loaded = conditioned
    rrx = ae_receivers.ae_radar_receiver(str(path), pfa=PFA, h0_samples=H0, seed=H0_SEED)
    grid, thresholds = rrx.threshold_table()
    np.testing.assert_array_equal(grid, ae_receivers.OMEGA_GRID)
    for g in (0, 11, 22, 32):
        calibrated = threshold_for_pfa(h0_scores(_system(loaded, float(grid[g])), H0, H0_SEED), PFA)
        assert thresholds[g] == calibrated
        rrx.set_omega(float(grid[g]))
        assert rrx.threshold() == calibrated
    assert np.ptp(thresholds) > 0.02  # it moves with omega_r: a table is needed
    n = 100_000
    for omega in ae_receivers.omega_grid(65)[1::2][::4]:  # half-way between grid points, across [0, 1]
        rrx.set_omega(float(omega))
        pfa = np.mean(h0_scores(_system(loaded, float(omega)), n, 99) > rrx.threshold())
        assert abs(pfa - PFA) <= _pfa_tolerance(n), f"omega_r {omega:.4f}: Pfa {pfa:.4f}"


def test_new_weights_run_at_the_omega_in_force_when_swapped_in(conditioned):
    """Weights prepared at one omega_r and swapped in after a move run at the new one, with its threshold. (The
    message goes to the port's handler directly: a stopped flowgraph delivers none; test_py_online_finetune sends
    them through the port of a running one.)"""
    from .test_py_online_finetune import _perturbed

    path, loaded = conditioned
    rrx = ae_receivers.ae_radar_receiver(str(path), pfa=PFA, h0_samples=H0, seed=H0_SEED, omega=OLD)
    state = _perturbed(loaded.model, ae_receivers.RADAR_NETWORKS, seed=4)
    message = ae_receivers.weights_message(state, ae_receivers.transmitter_digest(loaded.model), generation=1)
    rrx._on_weights(message)
    assert rrx.wait_prepared(1, 120.0) and rrx.refused_messages() == 0
    rrx.set_omega(NEW)  # after the preparation, before the swap
    z = _noise(4096, 8)
    tb = gr.top_block()
    tb.connect(blocks.vector_source_c(z.ravel().tolist(), False, K), rrx)
    q_sink = blocks.vector_sink_f()
    tb.connect((rrx, 0), q_sink)
    for port, size in ((1, 4), (2, 4), (3, 1)):
        tb.connect((rrx, port), blocks.null_sink(size))
    tb.run()
    model = load_model(path).model
    model.load_state_dict(state, strict=False)
    new = AutoencoderSystem(model, loaded.scenario, omega=NEW)
    assert rrx.generation() == 1 and rrx.omega() == NEW
    with torch.inference_mode():
        expected = torch.sigmoid(new.radar_receive(torch.from_numpy(z))[0]).numpy()
    np.testing.assert_allclose(np.asarray(q_sink.data()), expected, rtol=1e-5, atol=1e-6)
    table = ae_receivers.ThresholdTable(new, H0, H0_SEED)
    assert rrx.threshold() == table.threshold(table.thresholds(PFA), NEW)


def test_a_model_that_is_not_conditioned_refuses_omega(model_path, conditioned):
    blocks_ = [
        ae_transmitters.ae_transmitter(str(model_path)),
        ae_receivers.ae_radar_receiver(str(model_path), mode="logit"),
        ae_receivers.ae_comm_receiver(str(model_path)),
    ]
    for block in blocks_:
        assert not block.conditioned() and block.omega() == pytest.approx(0.09)
        block.set_omega(None)  # the model's own omega_r: what a flowgraph passes for such a model
        with pytest.raises(ValueError, match=r"omega_r = 0.5 given, but omega_0.09.safetensors is not a conditioned"):
            block.set_omega(0.5)
    with pytest.raises(ValueError, match="is not a conditioned model"):
        ae_transmitters.ae_transmitter(AE_MODEL, omega=0.3)
    assert not model_conditioned(AE_MODEL) and model_conditioned(conditioned[0])


@pytest.mark.parametrize("bad", [1.5, -0.1, float("nan"), "0.5", True])
def test_omega_outside_0_1_is_refused(conditioned, bad):
    tx = ae_transmitters.ae_transmitter(str(conditioned[0]))
    assert tx.omega() == pytest.approx(0.09)  # None: the model's default point
    with pytest.raises(ValueError, match=r"omega_r must be a number in \[0, 1\]"):
        tx.set_omega(bad)
    with pytest.raises(ValueError, match=r"omega_r must be a number in \[0, 1\]"):
        ae_receivers.ae_comm_receiver(str(conditioned[0]), omega=bad)


def test_grc_callbacks_hand_omega_to_the_blocks(platform, conditioned):  # noqa: F811  (the fixture)
    """Each AE block's GRC make template and callback (what a slider's variable change runs) reach its omega_r."""
    path = str(conditioned[0])
    made = [
        _instantiate(platform, "isac_ae_ae_transmitter", {"model": path, "omega": "0.09"}, {"omega": "0.8"}),
        _instantiate(
            platform, "isac_ae_ae_radar_receiver", {"model": path, "omega": "0.09", "h0_samples": "20000"}, {}
        ),
        _instantiate(platform, "isac_ae_ae_comm_receiver", {"model": path, "omega": "0.09"}, {"omega": "0.8"}),
    ]
    assert [block.omega() for block in made] == [0.8, 0.09, 0.8]
    with pytest.raises(ValueError, match="not a conditioned model"):
        _instantiate(platform, "isac_ae_ae_comm_receiver", {}, {"omega": "0.5"})  # the shipped default model


_SLIDER_DRIVER = """
import importlib.util, json, sys, time
from PyQt5 import Qt

app = Qt.QApplication([])
spec = importlib.util.spec_from_file_location("fg", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
for model in sys.argv[2:]:
    tb = module.isac_ae_sim(model=model, h0_samples=20000)
    tb.start()
    time.sleep(0.5)
    tb.set_omega_r(0.8)  # what dragging the slider does
    time.sleep(0.5)
    names = ("ae_transmitter", "ae_radar_receiver", "ae_comm_receiver")
    result = {"conditioned": tb.conditioned, "omegas": [getattr(tb, name).omega() for name in names]}
    result["beam"] = tb.ae_transmitter.beam().view("float32").tolist()
    result["threshold"] = tb.ae_radar_receiver.threshold()
    print("RESULT " + json.dumps(result), flush=True)
    tb.stop()
    tb.wait()
"""


def test_the_qt_flowgraph_slider_moves_a_conditioned_model_and_leaves_another(conditioned, tmp_path):
    """isac_ae_sim (Qt, offscreen): its omega_r slider moves all three AE blocks of a conditioned model; with a
    model that is not conditioned the same slider leaves them at the model's omega_r (no error)."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("PyQt5")
    grcc = shutil.which("grcc")
    if grcc is None:
        pytest.skip("grcc (GNU Radio Companion compiler) not installed")
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, GRC_BLOCKS_PATH=str(repo / "grc"), QT_QPA_PLATFORM="offscreen")
    env.update(XDG_RUNTIME_DIR=str(tmp_path), PYTHONPATH=str(Path(ae_receivers.__file__).resolve().parents[2]))
    tmp_path.chmod(0o700)  # Qt wants a private runtime directory
    compiled = subprocess.run(
        [sys.executable, grcc, "-o", str(tmp_path), str(repo / "examples" / "simulation" / "isac_ae_sim.grc")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr
    driver = tmp_path / "drive_omega.py"
    driver.write_text(_SLIDER_DRIVER)
    path, loaded = conditioned
    run = subprocess.run(
        [sys.executable, str(driver), str(tmp_path / "isac_ae_sim.py"), str(path), AE_MODEL],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    import json

    moved, kept = (json.loads(line[7:]) for line in run.stdout.splitlines() if line.startswith("RESULT "))
    assert moved["conditioned"] and moved["omegas"] == [NEW] * 3
    new = _system(loaded, NEW)
    np.testing.assert_array_equal(np.asarray(moved["beam"], np.float32).view(np.complex64), new.beam.numpy())
    table = ae_receivers.ThresholdTable(new, 20000, 0)
    assert moved["threshold"] == table.threshold(table.thresholds(0.01), NEW)
    assert not kept["conditioned"] and kept["omegas"] == [pytest.approx(0.09)] * 3
