"""Sectors live in GNU Radio: the AE blocks of a sector-conditioned model follow set_sectors while running.

The transmitter and the comm receiver move at the next work() call; the radar receiver calibrates the new sectors'
threshold table in the background, keeps the old sectors (and their threshold) until it is ready, then swaps both
in at one work() boundary. The model is a barely trained sector-conditioned autoencoder whose first layers' sector
rows are amplified 30x, so that its beam, its receivers and its detector's threshold move far with the sectors: a
block that kept the old sectors (or the old threshold) fails these checks, which the tests show where it matters.
A model trained at fixed sectors: its receivers refuse other sectors, its transmitter extrapolates with a warning.
"""

import numpy as np
import pytest

from .conftest import NEEDS_GNURADIO

pytest.importorskip("gnuradio", reason=NEEDS_GNURADIO)

import torch  # noqa: E402
from gnuradio import blocks, gr  # noqa: E402

from isac_ae import Scenario  # noqa: E402
from isac_ae.autoencoder import AutoencoderSystem, Trainer, TrainingConfig  # noqa: E402
from isac_ae.autoencoder.model import NETWORKS, SECTOR_FEATURES  # noqa: E402
from isac_ae.autoencoder.modelfile import load_model  # noqa: E402
from isac_ae.autoencoder.sweep import write_sweep  # noqa: E402
from isac_ae.blocks import ae_receivers, ae_transmitters  # noqa: E402
from isac_ae.blocks.ae_common import model_sector_conditioned  # noqa: E402
from isac_ae.evaluation import h0_scores, threshold_for_pfa  # noqa: E402

from ..test_grc import _instantiate, platform  # noqa: E402, F401  (platform: GRC's, as a fixture)
from .conftest import AE_MODEL  # noqa: E402
from .test_py_ae_live_omega import (  # noqa: E402
    H0,
    H0_SEED,
    PFA,
    _noise,
    _pfa_tolerance,
    _switch,
    run_with_a_move,
)

K = 16
OMEGA = float(ae_receivers.OMEGA_GRID[12])  # a grid point: the table's threshold there is the core's calibration
OLD = ((-20.0, 20.0), (30.0, 50.0))  # the model's own sectors
NEW = ((-50.0, -10.0), (0.0, 20.0))  # inside the distribution it trained on


@pytest.fixture(scope="module")
def sector_model(tmp_path_factory):
    """(path, loaded model) of the sector-conditioned test model; its scenario's Pfa is PFA."""
    torch.manual_seed(0)
    config = TrainingConfig(
        omegas=(0.0, 1.0), conditioned=3, sector_conditioned=True, samples_per_stage=2000, batch_size=1000
    )
    trainer = Trainer(Scenario(pfa=PFA), config)
    trainer.run()
    with torch.no_grad():
        for name in NETWORKS:
            trainer.model.network(name).net.layers[0].weight[:, -SECTOR_FEATURES:] *= 30  # the sector rows (last)
    (path,) = write_sweep(trainer, tmp_path_factory.mktemp("sector_conditioned"))
    return path, load_model(path)


def _system(loaded, sectors, model=None):
    scenario = loaded.scenario.replace(target_sector_deg=sectors[0], comm_sector_deg=sectors[1])
    return AutoencoderSystem(model or loaded.model, scenario, omega=OMEGA)


def _calibrated(system) -> float:
    """The core's threshold for PFA at ``system``'s sectors and omega_r (evaluate()'s calibration)."""
    return threshold_for_pfa(h0_scores(system, H0, H0_SEED), PFA)


class _GatedSource(gr.sync_block):
    """Emits ``data`` (N, K) complex64; before item ``gate_item`` leaves, it waits until ``gate()`` is true, so
    that a swap the test waits for happens before the stream ends, however long its preparation takes."""

    def __init__(self, data, gate_item, gate):
        gr.sync_block.__init__(self, name="gated_source", in_sig=None, out_sig=[(np.complex64, data.shape[1])])
        self._data, self._gate_item, self._gate, self._sent = data, gate_item, gate, 0

    def work(self, input_items, output_items):
        if self._sent >= len(self._data):
            return -1  # WORK_DONE
        if self._sent >= self._gate_item and self._gate is not None:
            self._gate()  # on a timeout the stream goes on, and the test finds no swap
            self._gate = None
        n = min(len(output_items[0]), len(self._data) - self._sent)
        if self._gate is not None:
            n = min(n, self._gate_item - self._sent)
        output_items[0][:n] = self._data[self._sent : self._sent + n]
        self._sent += n
        return n


@pytest.fixture(scope="module")
def sector_run(sector_model, tmp_path_factory):
    """A running flowgraph (throttled sources -> AE transmitter, radar receiver on H0 noise, comm receiver with
    probabilities -> file sinks) whose three blocks get set_sectors(NEW) once each has done a quarter of its
    items, as moving a sector slider does. The radar stream waits at three quarters until the receiver has the new
    sectors ready. Returns the inputs, the outputs and, per block, the item counts just before and just after its
    set_sectors call."""
    path, loaded = sector_model
    return run_with_a_move(
        path,
        loaded,
        tmp_path_factory.mktemp("sectors"),
        (2, 15),
        dict(omega=OMEGA, target_sector_deg=OLD[0], comm_sector_deg=OLD[1]),
        lambda block: block.set_sectors(*NEW),
        radar_source=lambda z_r, rrx: _GatedSource(z_r, 3 * len(z_r) // 4, lambda: rrx.wait_sectors(120.0)),
    )


def test_the_transmitter_switches_beam_and_constellation_between_two_work_calls(sector_run):
    run, loaded = sector_run, sector_run["loaded"]
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
    assert tx.sectors_deg() == NEW and tx.sector_conditioned()


def test_the_radar_receiver_swaps_the_new_sectors_and_their_threshold_together(sector_run):
    """Every item before the logged swap is the old sectors' outputs and detection at the old threshold, every
    one from it the new sectors' at the new threshold (the core's calibration at the new sectors); the swap lies
    at a work() boundary after set_sectors was called. On the new sectors' H0 input the false-alarm rate is the
    scenario's Pfa within binomial bounds, before and after; the old threshold would miss it."""
    run, loaded = sector_run, sector_run["loaded"]
    z, q, theta, det = run["inputs"]["z_r"], run["q"], run["theta"], run["det"]
    assert len(q) == len(theta) == len(det) == len(z)  # no item lost
    rrx = run["blocks"]["radar"]
    ((k, sectors),) = rrx.sector_swaps()
    before, _, starts = run["bounds"]["radar"]
    assert sectors == NEW and rrx.sectors_deg() == NEW and k in starts and before <= k < len(z)
    old, new = _system(loaded, OLD), _system(loaded, NEW)
    with torch.inference_mode():
        (logit_old, theta_old, _), (logit_new, theta_new, _) = (
            s.radar_receive(torch.from_numpy(z)) for s in (old, new)
        )
    close = dict(rtol=1e-5, atol=1e-6)
    matches_old, matches_new = (
        np.isclose(theta, t.numpy(), **close) & np.isclose(q, torch.sigmoid(logit).numpy(), **close)
        for logit, t in ((logit_old, theta_old), (logit_new, theta_new))
    )
    assert matches_old[:k].all() and matches_new[k:].all()
    assert np.mean(matches_old & matches_new) < 0.01  # the two sectors' outputs tell them apart
    thresholds = {"old": run["old_threshold"], "new": rrx.threshold()}
    assert thresholds == {"old": _calibrated(old), "new": _calibrated(new)}
    assert rrx.describe_threshold().endswith("sectors target [-50, -10], comm [0, 20] deg)")
    for part, logit, threshold in ((slice(None, k), logit_old, "old"), (slice(k, None), logit_new, "new")):
        logit = logit.numpy()[part]
        clear = np.abs(logit - thresholds[threshold]) > 1e-4  # batch-dependent float32 rounding flips only ties
        np.testing.assert_array_equal(det[part][clear], (logit > thresholds[threshold])[clear])
        tolerance = _pfa_tolerance(len(logit))
        assert PFA == loaded.scenario.pfa
        assert abs(det[part].mean() - PFA) <= tolerance, f"{threshold}: Pfa {det[part].mean():.4f} ± {tolerance:.4f}"
    kept = np.mean(logit_new.numpy()[k:] > thresholds["old"])  # had the threshold stayed, the Pfa it would give
    tolerance = _pfa_tolerance(len(z) - k)
    assert abs(kept - PFA) > tolerance, f"the old threshold gives {kept:.4f} at the new sectors: the test cannot tell"


def test_the_comm_receiver_switches_sectors_between_two_work_calls(sector_run):
    run, loaded = sector_run, sector_run["loaded"]
    z, kappa, m_hat, p = run["inputs"]["z_c"], run["inputs"]["kappa"], run["m_hat"], run["p"]
    assert len(m_hat) == len(p) == len(z)  # no item lost
    with torch.inference_mode():
        logits_old, logits_new = (
            _system(loaded, s).comm_logits(torch.from_numpy(z), torch.from_numpy(kappa)) for s in (OLD, NEW)
        )
    p_old, p_new = torch.softmax(logits_old, -1).numpy(), torch.softmax(logits_new, -1).numpy()
    close = dict(rtol=1e-5, atol=1e-6)
    k = _switch(
        np.isclose(p, p_old, **close).all(1), np.isclose(p, p_new, **close).all(1), run["bounds"]["comm"], "comm"
    )
    np.testing.assert_array_equal(m_hat[:k], logits_old[:k].argmax(-1).numpy())
    np.testing.assert_array_equal(m_hat[k:], logits_new[k:].argmax(-1).numpy())
    assert run["blocks"]["comm"].sectors_deg() == NEW


def _run_radar(rrx, z):
    """Run ``rrx`` on ``z`` in a flowgraph of its own; returns q."""
    tb = gr.top_block()
    tb.connect(blocks.vector_source_c(z.ravel().tolist(), False, K), rrx)
    q_sink = blocks.vector_sink_f()
    tb.connect((rrx, 0), q_sink)
    for port, size in ((1, 4), (2, 4), (3, 1)):
        tb.connect((rrx, port), blocks.null_sink(size))
    tb.run()
    return np.asarray(q_sink.data())


def test_new_weights_run_at_the_sectors_in_force_when_swapped_in(sector_model):
    """Weights prepared at the old sectors, then a sector move before their swap: they are prepared again at the
    new sectors and swapped in with them and the threshold of both. (The message goes to the port's handler
    directly: a stopped flowgraph delivers none.)"""
    from .test_py_online_finetune import _perturbed

    path, loaded = sector_model
    rrx = ae_receivers.ae_radar_receiver(str(path), pfa=PFA, h0_samples=H0, seed=H0_SEED, omega=OMEGA)
    state = _perturbed(loaded.model, ae_receivers.RADAR_NETWORKS, seed=4)
    message = ae_receivers.weights_message(state, ae_receivers.transmitter_digest(loaded.model), generation=1)
    rrx._on_weights(message)
    assert rrx.wait_prepared(1, 120.0) and rrx.refused_messages() == 0
    rrx.set_target_sector(NEW[0])
    rrx.set_comm_sector(NEW[1])
    assert rrx.wait_sectors(120.0) and rrx.sectors_deg() == OLD  # ready, not yet in use
    z = _noise(4096, 8)
    q = _run_radar(rrx, z)
    model = load_model(path).model
    model.load_state_dict(state, strict=False)
    new = _system(loaded, NEW, model)
    assert rrx.generation() == 1 and rrx.swaps() == [(0, 1)] and rrx.sector_swaps() == [(0, NEW)]
    with torch.inference_mode():
        expected = torch.sigmoid(new.radar_receive(torch.from_numpy(z))[0]).numpy()
    np.testing.assert_allclose(q, expected, rtol=1e-5, atol=1e-6)
    assert rrx.threshold() == _calibrated(new)


def test_comm_weights_prepared_before_a_move_run_at_the_new_sectors(sector_model, run):
    """The comm receiver moves at once; weights prepared at the old sectors and swapped in later run at the new."""
    from .test_py_online_finetune import _perturbed

    path, loaded = sector_model
    crx = ae_receivers.ae_comm_receiver(str(path), probabilities=True, omega=OMEGA)
    state = _perturbed(loaded.model, ae_receivers.COMM_NETWORKS, seed=5)
    crx._on_weights(ae_receivers.weights_message(state, ae_receivers.transmitter_digest(loaded.model), generation=1))
    assert crx.wait_prepared(1, 120.0) and crx.refused_messages() == 0
    crx.set_sectors(*NEW)
    z, kappa = _noise(2048, 10)[:, 0] * 3, _noise(2048, 11)[:, 0]
    _, p = run(crx, [(z, "c", 1), (kappa, "c", 1)], [("b", 1), ("f", 4)])
    model = load_model(path).model
    model.load_state_dict(state, strict=False)
    with torch.inference_mode():
        p_old, p_new = (
            torch.softmax(_system(loaded, s, model).comm_logits(torch.from_numpy(z), torch.from_numpy(kappa)), -1)
            for s in (OLD, NEW)
        )
    assert crx.generation() == 1 and crx.sectors_deg() == NEW
    np.testing.assert_allclose(p, p_new.numpy(), rtol=1e-5, atol=1e-6)
    assert np.abs(p_old.numpy() - p).max() > 0.01  # the old sectors' probabilities differ


def test_a_move_back_before_the_swap_leaves_the_receiver_as_it_was(sector_model):
    path, _ = sector_model
    rrx = ae_receivers.ae_radar_receiver(str(path), pfa=PFA, h0_samples=H0, seed=H0_SEED, omega=OMEGA)
    threshold = rrx.threshold()
    rrx.set_sectors(*NEW)
    assert rrx.wait_sectors(120.0)
    rrx.set_sectors([], [])  # empty: the model's own, still in use
    assert rrx.wait_sectors(0.0)
    _run_radar(rrx, _noise(64, 9))
    assert rrx.sector_swaps() == [] and rrx.sectors_deg() == OLD and rrx.threshold() == threshold


def test_a_fixed_sector_models_receivers_refuse_other_sectors_and_its_transmitter_warns_once(
    model_path, sector_model, capfd
):
    assert not model_sector_conditioned(AE_MODEL) and model_sector_conditioned(sector_model[0])
    refused = r"sectors target \[-50.0, -10.0\], comm \[30.0, 50.0\] deg given, but omega_0.09.safetensors is not a "
    refused += r"sector-conditioned model \(it was trained for the target sector \[-20, 20\] and the comm sector "
    receivers = [
        ae_receivers.ae_radar_receiver(str(model_path), mode="logit", target_sector_deg=OLD[0], comm_sector_deg=[]),
        ae_receivers.ae_comm_receiver(str(model_path)),
    ]
    for rx in receivers:
        assert not rx.sector_conditioned()
        rx.set_sectors(*OLD)  # the model's own sectors: what a flowgraph passes for such a model
        rx.set_sectors([], [])
        with pytest.raises(ValueError, match=refused):
            rx.set_target_sector(NEW[0])
        assert rx.sectors_deg() == OLD
    with pytest.raises(ValueError, match="is not a sector-conditioned model"):
        ae_receivers.ae_comm_receiver(str(model_path), comm_sector_deg=NEW[1])
    with pytest.raises(ValueError, match="is not a sector-conditioned model"):
        ae_receivers.ae_radar_receiver(str(model_path), target_sector_deg=NEW[0])
    capfd.readouterr()
    tx = ae_transmitters.ae_transmitter(str(model_path), target_sector_deg=NEW[0])
    tx.set_sectors(*OLD)
    tx.set_sectors(*NEW)
    loaded = load_model(model_path)
    extrapolated = AutoencoderSystem(
        loaded.model, loaded.scenario.replace(target_sector_deg=NEW[0], comm_sector_deg=NEW[1])
    )
    np.testing.assert_array_equal(tx.beam(), extrapolated.beam.numpy())  # it still moves the beam
    output = "".join(capfd.readouterr())
    warning = "was trained at the fixed sectors target [-20, 20], comm [30, 50] deg: the beam for other sectors is"
    assert output.count(warning) == 1 and "(target [-50, -10], comm [30, 50] deg)" in output
    quiet = ae_transmitters.ae_transmitter(str(model_path))
    quiet.set_sectors(*OLD)
    assert warning not in "".join(capfd.readouterr())


@pytest.mark.parametrize(
    "sectors, match",
    [
        (([10, -10], None), "must not exceed"),
        ((None, [0, 95]), r"must lie in \[-90, 90\]"),
        (([1, 2, 3], None), r"\(min, max\) in degrees, or empty"),
        ((None, 5.0), r"\(min, max\) in degrees, or empty"),
    ],
)
def test_bad_sectors_are_refused_and_change_nothing(sector_model, sectors, match):
    path, _ = sector_model
    for block in (ae_receivers.ae_comm_receiver(str(path)), ae_transmitters.ae_transmitter(str(path))):
        with pytest.raises(ValueError, match=match):
            block.set_sectors(*sectors)
        assert block.sectors_deg() == OLD


def test_a_move_outside_the_trained_distribution_is_noted_once(sector_model, capfd):
    path, _ = sector_model
    crx = ae_receivers.ae_comm_receiver(str(path))
    crx.set_comm_sector([-80, 80])
    crx.set_comm_sector([-85, 80])
    crx.set_comm_sector(NEW[1])  # inside again: nothing
    output = "".join(capfd.readouterr())
    assert output.count("these sectors lie outside those") == 1 and "comm [-80, 80] deg" in output


def test_grc_make_and_callbacks_hand_sectors_to_the_blocks(platform, sector_model, run):  # noqa: F811
    """Each AE block's GRC make template and callback (what a sector slider's variable change runs) reach its
    sectors."""
    path = str(sector_model[0])
    old = {"model": path, "target_sector": str(list(OLD[0])), "comm_sector": str(list(OLD[1]))}
    new = {"target_sector": str(list(NEW[0])), "comm_sector": str(list(NEW[1]))}
    tx = _instantiate(platform, "isac_ae_ae_transmitter", old, new)
    crx = _instantiate(platform, "isac_ae_ae_comm_receiver", old, new)
    rrx = _instantiate(platform, "isac_ae_ae_radar_receiver", dict(old, h0_samples="20000"), new)
    made = _instantiate(platform, "isac_ae_ae_radar_receiver", dict(old, h0_samples="20000", **new), {})
    assert tx.sectors_deg() == crx.sectors_deg() == made.sectors_deg() == NEW
    assert rrx.wait_sectors(120.0) and rrx.sectors_deg() == OLD  # prepared, in use from its next work() call
    run(rrx, [(_noise(8, 1), "c", K)], [("f", 1), ("f", 1), ("f", 1), ("b", 1)])
    assert rrx.sectors_deg() == NEW and rrx.threshold() == made.threshold()
    with pytest.raises(ValueError, match="not a sector-conditioned model"):
        _instantiate(platform, "isac_ae_ae_comm_receiver", {}, new)  # the shipped default model
