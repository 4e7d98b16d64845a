"""Digital-twin channel blocks: their draws against eq. (1) and (2) on the twin's hidden manifolds, the seed's
guarantee, setters, refusals, GRC, and the twin flowgraph against the core's evaluation over the same twin.

The manifolds the statistics are checked against are evaluated here in float64 NumPy from the twin's truth
(positions, gains, coupling) by the definitions a_tx = diag(g_tx) C^T a, a_rx = diag(g_rx) C a; the
nominal manifold is the control that the impairments are there. Tolerances are Z sigma of the sample size.
"""

import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest

from .conftest import NEEDS_GNURADIO

pytest.importorskip("gnuradio", reason=NEEDS_GNURADIO)

from isac_ae.blocks import twin_channels  # noqa: E402
from isac_ae.hw.twin import DigitalTwin  # noqa: E402
from tests.test_flowgraphs import test_gui_flowgraph_starts_offscreen as gui_starts_offscreen  # noqa: E402
from tests.test_grc import _instantiate  # noqa: E402
from tests.test_grc import platform as grc_platform  # noqa: E402,F401  (a fixture: GRC's platform with grc/)

from ..helpers import Z  # noqa: E402

K = 16
DEVICE = "quadmxfe"
TWIN_SEED = 3
RADAR_OUT = [("c", K), ("b", 1), ("f", 1)]  # z_r, t, theta
COMM_OUT = [("c", 1), ("c", 1), ("f", 1)]  # z_c, kappa, vartheta


@pytest.fixture(scope="module")
def truth():
    return DigitalTwin(DEVICE, TWIN_SEED).truth


def _crandn(rng, *shape):
    return ((rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / math.sqrt(2)).astype(np.complex64)


def _manifolds(truth, theta, nominal=False):
    """(a_tx, a_rx), each (N, K) complex128, of the twin's array (or the nominal lambda/2 one) at theta (N,) rad."""
    array = truth.array.to_dict()
    pairs = lambda key: np.asarray(array[key])[..., 0] + 1j * np.asarray(array[key])[..., 1]  # noqa: E731
    positions = np.arange(K) / 2 if nominal else np.asarray(array["positions_wavelengths"])
    a = np.exp(-2j * np.pi * np.outer(np.sin(np.asarray(theta, np.float64)), positions))
    if nominal:
        return a, a
    coupling = pairs("coupling")
    return pairs("gain_tx") * (a @ coupling), pairs("gain_rx") * (a @ coupling.T)


def _radar(**kw):
    kw.setdefault("twin_seed", TWIN_SEED)
    return twin_channels.twin_radar_channel(DEVICE, K, **kw)


def _comm(**kw):
    kw.setdefault("twin_seed", TWIN_SEED)
    return twin_channels.twin_comm_channel(DEVICE, K, **kw)


# --- the draws against the model ----------------------------------------------------------
def test_radar_under_h0_is_unit_noise(run, rng):
    n = 20_000
    z, t, theta = run(_radar(p_target=0.0, seed=11), [(_crandn(rng, n, K), "c", K)], RADAR_OUT)
    assert z.shape == (n, K) and not t.any()
    m = z.size  # |z_ik|^2 ~ Exp(1): mean 1, variance 1
    assert abs(np.mean(np.abs(z) ** 2) - 1) < Z / math.sqrt(m)
    assert abs(np.mean(z.real)) < Z * math.sqrt(0.5 / m) and abs(np.mean(z.imag)) < Z * math.sqrt(0.5 / m)
    # Independent elements: E z_0 z_1^* = 0, with variance 1/n per snapshot average.
    assert abs(np.mean(z[:, 0] * z[:, 1].conj())) < Z / math.sqrt(n)
    lo, hi = np.radians([-20.0, 20.0])
    assert abs(theta.mean() - (lo + hi) / 2) < Z * (hi - lo) / math.sqrt(12 * n)


def test_radar_echo_follows_the_twins_manifolds(run, rng, truth):
    """z = alpha a_rx(theta) a_tx(theta)^T y + n on the twin's manifolds: the matched projection's power is
    sigma_r^2 |a_tx^T y|^2 + 1/||a_rx||^2 per snapshot (exponential), and the nominal manifold misses it."""
    n, snr_db = 20_000, 10.0
    y = _crandn(rng, n, K)
    z, t, theta = run(_radar(p_target=1.0, snr_db=snr_db, seed=12), [(y, "c", K)], RADAR_OUT)
    assert t.all()
    sigma2 = 10 ** (snr_db / 10)

    def projection_power(nominal):
        a_tx, a_rx = _manifolds(truth, theta, nominal)
        energy = np.sum(np.abs(a_rx) ** 2, axis=1)
        w = np.sum(a_rx.conj() * z, axis=1) / energy
        mean = sigma2 * np.abs(np.sum(a_tx * y, axis=1)) ** 2 + 1 / energy
        return np.sum(np.abs(w) ** 2), np.sum(mean), Z * math.sqrt(np.sum(mean**2))

    got, expected, tol = projection_power(nominal=False)
    assert abs(got - expected) < tol, (got, expected, tol)
    got, expected, tol = projection_power(nominal=True)
    assert abs(got - expected) > tol, "the twin's echo looks nominal: its impairments are missing"


def test_radar_beamscan_on_the_true_manifold_peaks_at_the_target(run, rng, truth):
    """The beamscan |a_rx(phi)^H z|^2 / ||a_rx(phi)||^2 with the twin's RX manifold, averaged over snapshots
    at phi = theta + d, is largest at d = 0 (Cauchy-Schwarz), each neighbour below it by > Z standard errors."""
    n = 20_000
    y = _crandn(rng, n, K)
    z, _, theta = run(_radar(p_target=1.0, snr_db=10.0, seed=13), [(y, "c", K)], RADAR_OUT)

    def scan(offset_deg):
        _, a_rx = _manifolds(truth, theta + math.radians(offset_deg))
        return np.abs(np.sum(a_rx.conj() * z, axis=1)) ** 2 / np.sum(np.abs(a_rx) ** 2, axis=1)

    peak = scan(0.0)
    for offset in (-4.0, -1.0, -0.5, 0.5, 1.0, 4.0):
        drop = peak - scan(offset)
        assert drop.mean() > Z * drop.std() / math.sqrt(n), offset


def test_comm_csi_and_symbol_follow_the_twins_tx_manifold(run, rng, truth):
    """kappa = beta a_tx(vartheta)^T v and z_c = beta a_tx^T y + n on the block's own vartheta, with y and v
    independent: beta = kappa / a_tx^T v is CN(0, sigma_c^2) and z_c - beta a_tx^T y is unit noise."""
    n, snr_db, sector = 20_000, 20.0, (30.0, 50.0)
    y, v = _crandn(rng, n, K), _crandn(rng, n, K)
    z, kappa, vartheta = run(_comm(snr_db=snr_db, sector_deg=sector, seed=14), [(y, "c", K), (v, "c", K)], COMM_OUT)
    lo, hi = np.radians(sector)
    assert vartheta.min() >= np.float32(lo) and vartheta.max() <= np.float32(hi)
    assert abs(vartheta.mean() - (lo + hi) / 2) < Z * (hi - lo) / math.sqrt(12 * n)

    def residual_power(nominal):
        a_tx, _ = _manifolds(truth, vartheta, nominal)
        beta = kappa / np.sum(a_tx * v, axis=1)
        return beta, np.mean(np.abs(z - beta * np.sum(a_tx * y, axis=1)) ** 2)

    beta, noise = residual_power(nominal=False)
    sigma2 = 10 ** (snr_db / 10)
    assert abs(np.mean(np.abs(beta) ** 2) / sigma2 - 1) < Z / math.sqrt(n)  # |beta|^2 ~ Exp(sigma_c^2)
    assert abs(noise - 1) < Z / math.sqrt(n)
    _, noise = residual_power(nominal=True)
    assert noise - 1 > Z / math.sqrt(n), "the twin's comm channel looks nominal: its impairments are missing"


# --- the seed's guarantee ---------------------------------------------------------------------
def test_a_seed_gives_the_same_output_however_the_stream_is_split(run, rng):
    n = 3000  # three chunks, the last one partial
    y, v = _crandn(rng, n, K), _crandn(rng, n, K)
    first = run(_radar(seed=5), [(y, "c", K)], RADAR_OUT)
    for max_items in (13, 1500):  # chunks cut anywhere by work() calls
        again = run(_radar(seed=5), [(y, "c", K)], RADAR_OUT, max_noutput_items=max_items)
        for a, b in zip(first, again):
            np.testing.assert_array_equal(a, b)
    comm = run(_comm(seed=5), [(y, "c", K), (v, "c", K)], COMM_OUT)
    comm_split = run(_comm(seed=5), [(y, "c", K), (v, "c", K)], COMM_OUT, max_noutput_items=13)
    for a, b in zip(comm, comm_split):
        np.testing.assert_array_equal(a, b)
    other = run(_radar(seed=6), [(y, "c", K)], RADAR_OUT)
    assert not np.array_equal(first[2], other[2])
    # The draws do not depend on the input: two transmitters see the same targets and angles.
    _, t, theta = run(_radar(seed=5), [(_crandn(rng, n, K), "c", K)], RADAR_OUT)
    np.testing.assert_array_equal(t, first[1])
    np.testing.assert_array_equal(theta, first[2])
    # A radar and a comm channel of the same seed draw independent streams (same uniforms would map alike).
    u_radar = (first[2] - math.radians(-20)) / math.radians(40)
    u_comm = (comm[2] - math.radians(30)) / math.radians(20)
    assert abs(np.corrcoef(u_radar, u_comm)[0, 1]) < Z / math.sqrt(n)


def test_truth_json_gives_the_twin_it_holds(run, rng, tmp_path, truth):
    """A truth JSON (as `isac-ae hw emulate --truth-json` writes it) runs the same board as its seed."""
    path = tmp_path / "truth.json"
    truth.write_json(path)
    y, v = _crandn(rng, 2000, K), _crandn(rng, 2000, K)
    from_seed = run(_radar(seed=8), [(y, "c", K)], RADAR_OUT)
    block = _radar(seed=8, twin_seed=None, truth_json=str(path))
    assert block.truth().seed == TWIN_SEED and block.device() == DEVICE
    for a, b in zip(from_seed, run(block, [(y, "c", K)], RADAR_OUT)):
        np.testing.assert_array_equal(a, b)
    from_seed = run(_comm(seed=8), [(y, "c", K), (v, "c", K)], COMM_OUT)
    from_file = run(_comm(seed=8, twin_seed=None, truth_json=str(path)), [(y, "c", K), (v, "c", K)], COMM_OUT)
    for a, b in zip(from_seed, from_file):
        np.testing.assert_array_equal(a, b)
    other = run(_radar(seed=8, twin_seed=TWIN_SEED + 1, p_target=1.0), [(y, "c", K)], RADAR_OUT)
    assert not np.allclose(other[0], run(_radar(seed=8, p_target=1.0), [(y, "c", K)], RADAR_OUT)[0])


# --- setters ------------------------------------------------------------------------------------
def test_setters_take_degrees_and_act_as_the_constructor(run, rng):
    y = _crandn(rng, 2000, K)
    built = _radar(snr_db=10.0, sector_deg=(-10.0, 30.0), p_target=0.3, seed=4)
    moved = _radar(seed=4)
    moved.set_snr_db(10.0)
    moved.set_sector(-10.0, 30.0)
    moved.set_p_target(0.3)
    assert (moved.snr_db(), moved.sector(), moved.p_target()) == (10.0, [-10.0, 30.0], 0.3)
    for a, b in zip(run(built, [(y, "c", K)], RADAR_OUT), run(moved, [(y, "c", K)], RADAR_OUT)):
        np.testing.assert_array_equal(a, b)
    comm_built = _comm(snr_db=5.0, sector_deg=(-40.0, -35.0), seed=4)
    comm_moved = _comm(seed=4)
    comm_moved.set_snr_db(5.0)
    comm_moved.set_sector(-40.0, -35.0)
    assert (comm_moved.snr_db(), comm_moved.sector()) == (5.0, [-40.0, -35.0])
    inputs = [(y, "c", K), (y, "c", K)]
    for a, b in zip(run(comm_built, inputs, COMM_OUT), run(comm_moved, inputs, COMM_OUT)):
        np.testing.assert_array_equal(a, b)


def test_refused_setters_leave_the_block_as_it_was(run, rng):
    block = _radar(seed=2)
    block.set_p_target(1.0)
    block.set_sector(5.0, 6.0)
    for bad in [(6.0, 5.0), (-91.0, 0.0), (float("nan"), 0.0), (0.0, float("inf"))]:
        with pytest.raises(ValueError, match=r"sector must satisfy -90 <= min <= max <= 90 \(degrees\)"):
            block.set_sector(*bad)
    with pytest.raises(ValueError, match=r"p_target must lie in \[0, 1\]"):
        block.set_p_target(1.5)
    with pytest.raises(ValueError, match="snr_db must be a finite number"):
        block.set_snr_db(float("nan"))
    with pytest.raises(ValueError, match=r"snr_db must lie in \[-200, 200\] dB"):
        block.set_snr_db(1e6)
    assert (block.sector(), block.p_target(), block.snr_db()) == ([5.0, 6.0], 1.0, 0.0)
    _, t, theta = run(block, [(_crandn(rng, 500, K), "c", K)], RADAR_OUT)
    assert t.all()
    assert theta.min() >= np.float32(math.radians(5)) and theta.max() <= np.float32(math.radians(6))


# --- refusals -------------------------------------------------------------------------------------
def _truth_file(tmp_path, name, data):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


def _bad_inputs(tmp_path):
    other_device = DigitalTwin("fmcomms5", 1).truth.to_dict()
    other_k = dict(other_device, profile=DEVICE)  # a quadmxfe truth whose array has 4 elements
    return [
        (dict(device="nosuch"), "unknown device profile 'nosuch'; known: .*quadmxfe"),
        (dict(device="phaser", K=8), "the phaser profile cannot run a live ISAC loop"),
        (dict(K=8), "device quadmxfe has K = 16 elements, the block K = 8"),
        (dict(K=16.5), "K must be an integer"),
        (
            dict(twin_seed=None, truth_json=_truth_file(tmp_path, "fm.json", other_device)),
            "holds a fmcomms5 twin, not a quadmxfe one",
        ),
        (
            dict(twin_seed=None, truth_json=_truth_file(tmp_path, "k4.json", other_k)),
            "holds an array of K = 4 elements, the block K = 16",
        ),
        (
            dict(twin_seed=0, truth_json=_truth_file(tmp_path, "both.json", other_device)),
            "give the twin's twin_seed or its truth_json, not both",
        ),
        (dict(twin_seed=None, truth_json=str(tmp_path / "absent.json")), "cannot read truth_json"),
        (dict(twin_seed=None, truth_json=_truth_file(tmp_path, "text.json", "not json")), "is not a twin truth"),
        (dict(twin_seed=None, truth_json=_truth_file(tmp_path, "other.json", {"format": "x"})), "is not a twin truth"),
        (dict(twin_seed=-1), r"twin_seed must be an integer in \[0, "),
        (dict(seed=1.5), "seed must be an integer"),
        (dict(sector_deg=(20.0, -20.0)), r"sector must satisfy -90 <= min <= max <= 90 \(degrees\)"),
        (dict(snr_db=float("inf")), "snr_db must be a finite number"),
    ]


@pytest.mark.parametrize(
    "block", [twin_channels.twin_radar_channel, twin_channels.twin_comm_channel], ids=["radar", "comm"]
)
def test_bad_input_is_refused_with_one_clear_error(block, tmp_path):
    for kwargs, message in _bad_inputs(tmp_path):
        args = kwargs.pop("device", DEVICE), kwargs.pop("K", K)
        kwargs.setdefault("twin_seed", TWIN_SEED)
        with pytest.raises(ValueError, match=message) as info:
            block(*args, **kwargs)
        assert "\n" not in str(info.value), str(info.value)
    if block is twin_channels.twin_radar_channel:
        with pytest.raises(ValueError, match=r"p_target must lie in \[0, 1\]"):
            _radar(p_target=-0.1)


# --- GRC and the twin flowgraph ----------------------------------------------------------------------
def test_grc_builds_the_blocks_and_its_callbacks_hand_degrees(grc_platform, tmp_path, truth):  # noqa: F811
    """The YAML's make template and callbacks (what GRC generates) build the blocks, from a seed or a truth JSON."""
    path = tmp_path / "truth.json"
    truth.write_json(path)
    later = {"sector": "[5, 25]", "snr_db": "7"}
    for block_id in ("isac_ae_twin_radar_channel", "isac_ae_twin_comm_channel"):
        block = _instantiate(grc_platform, block_id, {"sector": "[-20, 20]", "twin_seed": "4"}, later)
        assert (block.sector(), block.snr_db(), block.truth().seed) == ([5.0, 25.0], 7.0, 4), block_id
        from_file = _instantiate(grc_platform, block_id, {"truth_json": str(path), "twin_seed": "4"}, {})
        assert from_file.truth().seed == TWIN_SEED, block_id  # the JSON wins over the (hidden) twin seed
    radar = _instantiate(grc_platform, "isac_ae_twin_radar_channel", {}, {"p_target": "0.25"})
    assert radar.p_target() == 0.25


@pytest.fixture(scope="module")
def twin_compiled(tmp_path_factory):
    """grcc the twin flowgraphs (GUI and no_gui) into one directory, as tests/test_flowgraphs.py does."""
    from tests.test_flowgraphs import EXAMPLES, _env

    grcc = shutil.which("grcc")
    if grcc is None:
        pytest.skip("grcc (GNU Radio Companion compiler) not installed")
    out = tmp_path_factory.mktemp("twin_flowgraphs")
    names = ("isac_ae_twin_sim", "isac_ae_twin_sim_no_gui")
    proc = subprocess.run(
        [sys.executable, grcc, "-o", str(out)] + [str(EXAMPLES / f"{n}.grc") for n in names],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=600,
    )
    return {name: (proc, out / f"{name}.py") for name in names}


def test_twin_flowgraph_agrees_with_the_core_over_the_same_twin(twin_compiled, tmp_path, truth):
    """The headless twin flowgraph (truth from a JSON) against evaluate() over the same twin's in-process
    channels: the flowgraph-vs-core tolerances of tests/test_flowgraphs.py; and far from the nominal channels."""
    from isac_ae.autoencoder import AutoencoderSystem
    from isac_ae.autoencoder.modelfile import load_model
    from isac_ae.channels import Channels
    from isac_ae.evaluation import evaluate
    from isac_ae.pretrained import models_dir
    from tests.test_flowgraphs import (
        ITEMS,
        MODEL,
        SEED,
        _agree,
        _binomial_tol,
        _h0_args,
        _logged_threshold,
        _run_no_gui,
    )

    path = tmp_path / "truth.json"
    truth.write_json(path)
    output, reports = _run_no_gui(
        twin_compiled,
        "isac_ae_twin_sim_no_gui",
        tmp_path,
        "--model",
        MODEL,
        "--device",
        DEVICE,
        "--truth-json",
        str(path),
        *_h0_args(),
    )
    loaded = load_model(models_dir() / MODEL)
    system = AutoencoderSystem(loaded.model, loaded.scenario)
    twin = DigitalTwin(DEVICE, truth=truth)
    sc = loaded.scenario
    core = evaluate(system, samples=ITEMS, seed=SEED, channels=Channels(twin.radar_channel(sc), twin.comm_channel(sc)))
    assert _logged_threshold(output) == pytest.approx(core.threshold, rel=1e-6)
    fg = reports["ae"]
    _agree(fg, core, "AE over the twin")
    nominal = evaluate(system, samples=ITEMS, seed=SEED)
    assert abs(fg["pd"] - nominal.pd) > _binomial_tol(nominal.pd, fg["targets"], nominal.targets), (
        "the twin flowgraph's Pd is the nominal channels' one: the twin is not in the loop"
    )


def test_twin_gui_flowgraph_starts_offscreen(twin_compiled, tmp_path):
    gui_starts_offscreen(twin_compiled, tmp_path, "isac_ae_twin_sim")
