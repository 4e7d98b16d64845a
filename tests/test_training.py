"""Staged training: frozen networks, checkpoints and resume, and what a short training reaches."""

import math

import pytest
import torch

from isac_ae import Scenario
from isac_ae.autoencoder import AutoencoderSystem, Trainer, TrainingConfig, TrainingError
from isac_ae.autoencoder.training import SCHEDULES
from isac_ae.baselines import BaselineSystem
from isac_ae.evaluation import evaluate

from .helpers import proportion_tolerance

TINY = dict(samples_per_stage=2_000, batch_size=500, seed=7)  # 4 steps per stage


def _snapshot(model):
    return {name: {k: v.clone() for k, v in net.state_dict().items()} for name, net in model.named_children()}


def _same(a, b):
    return all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("stage", SCHEDULES["staged"], ids=lambda stage: stage.name)
def test_step_losses_equal_eqs_3_to_8_on_the_whole_batch(stage):
    # The trainer keeps y factored and runs the estimators on the present rows only. On the same
    # draws, the plain formulas (dense y, every row through every network, torch's cross-entropy)
    # must give the same losses.
    trainer = Trainer(Scenario(), TrainingConfig(omegas=(0.2, 0.7), batch_size=3000, seed=3))
    n, gen = 3000, trainer.generator
    start = gen.get_state()
    radar, comm = trainer.losses(stage, n)
    gen.set_state(start)
    messages = torch.randint(trainer.scenario.num_messages, (n,), generator=gen)
    points, v = trainer.model.transmitter(trainer.sectors)
    y = points[:, messages].unsqueeze(-1) * v.unsqueeze(-2)
    rd = trainer.radar.draw_grouped(y, gen)
    cd = trainer.comm(y, gen, v=v.unsqueeze(-2))
    logit, theta_hat, sigma = (x.double() for x in trainer.model.radar(rd.z))
    # Eqs. (3)-(6) written out independently of losses.py, in float64: batch means with the
    # presence label as a mask, so p(t=1) E[. | t=1] is the mean of t * (.) over all N rows.
    t, theta = rd.target.double(), rd.theta.double()
    q = torch.sigmoid(logit)
    bce = -(t * torch.log(q) + (1 - t) * torch.log1p(-q)).mean(-1)
    nll = (t * (torch.log(sigma) + (theta - theta_hat) ** 2 / (2 * sigma**2))).mean(-1)
    want = {
        "mse": (t * (theta_hat - theta) ** 2).mean(-1),
        "regression": nll,
        "detection": bce,
        "nll": bce + nll,
    }[stage.radar_loss].float()
    logits = trainer.model.comm(cd.z / cd.kappa)
    want_comm = torch.nn.functional.cross_entropy(logits.transpose(1, 2), messages.expand(2, n), reduction="none")
    torch.testing.assert_close(radar, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(comm, want_comm.mean(-1), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("schedule", ["staged", "paper"])
def test_each_stage_changes_exactly_its_networks(schedule):
    trainer = Trainer(Scenario(), TrainingConfig(omegas=(0.3, 0.8), schedule=schedule, **TINY))
    for stage in SCHEDULES[schedule]:
        before = _snapshot(trainer.model)
        trainer.run(max_steps=trainer.config.steps_per_stage)
        after = _snapshot(trainer.model)
        trained = {"comm", *stage.trains} | ({"encoder", "beamformer"} if stage.transmitter else set())
        for name in before:
            assert _same(before[name], after[name]) != (name in trained), (stage.name, name)
    assert trainer.finished


def test_a_resumed_run_ends_with_the_same_weights(tmp_path):
    config = TrainingConfig(omegas=(0.1, 0.9), **TINY)
    straight = Trainer(Scenario(), config)
    straight.run()
    checkpoint = tmp_path / "checkpoint.pt"
    first = Trainer(Scenario(), config, checkpoint=checkpoint, checkpoint_every=3)
    first.run(max_steps=9)  # interrupted inside stage 3, after the step-9 checkpoint... of stage 3's step 1
    resumed = Trainer(Scenario(), config, checkpoint=checkpoint, checkpoint_every=3)
    resumed.run()
    assert resumed.finished
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key


def test_a_checkpoint_of_another_run_is_refused(tmp_path):
    checkpoint = tmp_path / "checkpoint.pt"
    Trainer(Scenario(), TrainingConfig(omegas=(0.5,), **TINY), checkpoint=checkpoint).run(max_steps=4)
    other = Trainer(Scenario(snr_radar_db=3.0), TrainingConfig(omegas=(0.5,), **TINY), checkpoint=checkpoint)
    with pytest.raises(TrainingError, match="another run"):
        other.run()
    checkpoint.write_bytes(b"not a checkpoint")
    with pytest.raises(TrainingError, match="cannot read checkpoint"):
        Trainer(Scenario(), TrainingConfig(omegas=(0.5,), **TINY), checkpoint=checkpoint).run()


@pytest.mark.parametrize(
    "bad",
    [
        dict(omegas=()),
        dict(omegas=(1.2,)),
        dict(omegas=(0.5,), schedule="x"),
        dict(omegas=(0.5,), samples_per_stage=0),
        dict(omegas=(0.5,), learning_rate=0.0),
    ],
)
def test_bad_configuration_is_refused(bad):
    with pytest.raises(TrainingError):
        TrainingConfig(**bad)


def test_quick_training_reaches_the_single_function_baselines():
    """omega_r = 0 is a comm-only system, omega_r = 1 a radar-only one: compare with rho = 0 and rho = 1.

    Tolerances: the AE's Rayleigh SER may sit up to 1 dB of beam gain above the
    LS comm beam's (SER ~ 1/SNR at high SNR, so a factor 10^0.1 = 1.26) after
    a short training, plus 5 binomial sigma of both estimates; its Pd at the
    same Pfa may lose 0.03 to the MAPRT detector after a short training, plus
    5 sigma of both estimates.
    """
    sc = Scenario()
    trainer = Trainer(sc, TrainingConfig(omegas=(0.0, 1.0), samples_per_stage=1_000_000, seed=1))
    model = trainer.run()
    n = 100_000
    comm_only = evaluate(AutoencoderSystem(model.member(0), sc), n, seed=2)
    radar_only = evaluate(AutoencoderSystem(model.member(1), sc), n, seed=2)
    base_comm = evaluate(BaselineSystem(sc, rho=0.0, phi_rad=0.0), n, seed=2)
    base_radar = evaluate(BaselineSystem(sc, rho=1.0, phi_rad=0.0), n, seed=2)
    ser_sigma = math.hypot(proportion_tolerance(comm_only.ser, n), proportion_tolerance(base_comm.ser, n))
    assert comm_only.ser <= 10**0.1 * base_comm.ser + ser_sigma
    pd_sigma = math.hypot(
        proportion_tolerance(radar_only.pd, radar_only.targets), proportion_tolerance(base_radar.pd, base_radar.targets)
    )
    assert radar_only.pd >= base_radar.pd - 0.03 - pd_sigma
    # Each is bad at the function it was not trained for.
    assert comm_only.pd < 0.5 * base_radar.pd and radar_only.ser > 10 * base_comm.ser


def test_run_in_pieces_never_rolls_back_to_the_checkpoint(tmp_path):
    config = TrainingConfig(omegas=(0.4,), **TINY)
    pieces = Trainer(Scenario(), config, checkpoint=tmp_path / "checkpoint.pt", checkpoint_every=2)
    for _ in range(3):
        pieces.run(max_steps=3)  # 3 is not a multiple of the checkpoint period
    straight = Trainer(Scenario(), config)
    straight.run(max_steps=9)
    assert pieces.steps_done == straight.steps_done == 9
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, pieces.model.state_dict()[key]), key
