"""The networks of Table I, the normalisation layer and the losses of eqs. (3)-(8)."""

import math

import pytest
import torch

from isac_ae import Scenario
from isac_ae.autoencoder import (
    SIGMA_FLOOR,
    Autoencoder,
    comm_loss,
    detection_loss,
    isac_loss,
    radar_nll,
    regression_mse,
    regression_nll,
)
from isac_ae.autoencoder.networks import EnsembleLinear
from isac_ae.autoencoder.training import SCHEDULES, Trainer, TrainingConfig


def _widths(module):
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, EnsembleLinear)]


def test_table_one_widths():
    ae = Autoencoder(16, 4)
    assert _widths(ae.encoder) == [(4, 16), (16, 16), (16, 32), (32, 2)]
    assert _widths(ae.beamformer) == [(4, 16), (16, 16), (16, 32), (32, 32)]  # K complex outputs = 2K reals
    for head in (ae.detector, ae.angle, ae.uncertainty):
        assert _widths(head) == [(32, 32), (32, 32), (32, 16), (16, 1)]
    assert _widths(ae.comm) == [(2, 16), (16, 32), (32, 32), (32, 4)]
    # below K = 16 the hidden layers keep MIN_HIDDEN = 16 units (Table I's K = 2 encoder collapsed)
    assert _widths(Autoencoder(8, 16).encoder) == [(16, 16), (16, 16), (16, 16), (16, 2)]
    assert _widths(Autoencoder(2, 4).comm) == [(2, 16), (16, 16), (16, 16), (16, 4)]


def test_ensemble_members_are_independent_models(generator):
    torch.manual_seed(3)
    ensemble = Autoencoder(16, 4, members=3)
    z = torch.randn(3, 100, 16, dtype=torch.complex64, generator=generator)
    sectors = torch.tensor(Scenario().theta_vector, dtype=torch.float32)
    points, beam = ensemble.transmitter(sectors)
    outputs = ensemble.radar(z)
    for i in range(3):
        single = ensemble.member(i)
        p, v = single.transmitter(sectors)
        torch.testing.assert_close(p[0], points[i])
        torch.testing.assert_close(v[0], beam[i])
        for got, want in zip(single.radar(z[i : i + 1]), outputs):
            torch.testing.assert_close(got[0], want[i])
    # Changing one member's weights changes no other member's outputs.
    with torch.no_grad():
        ensemble.angle.net.layers[0].weight[1] += 1.0
    theta_after = ensemble.radar(z)[1]
    torch.testing.assert_close(theta_after[[0, 2]], outputs[1][[0, 2]])
    assert not torch.allclose(theta_after[1], outputs[1][1])


def test_transmitter_meets_the_energy_constraint_exactly():
    torch.manual_seed(4)
    ae = Autoencoder(16, 4, members=2)
    points, v = ae.transmitter(torch.tensor(Scenario().theta_vector, dtype=torch.float32))
    # E||y||^2 over equiprobable messages, y = x(m) v.
    energy = (points.abs().square().unsqueeze(-1) * v.abs().square().unsqueeze(-2)).sum(-1).mean(-1)
    torch.testing.assert_close(energy, torch.ones(2), rtol=1e-6, atol=0)


def test_output_ranges_hold_for_extreme_inputs(generator):
    torch.manual_seed(0)
    ae = Autoencoder(16, 4)
    z = 1e4 * torch.randn(1, 256, 16, dtype=torch.complex64, generator=generator)
    with torch.no_grad():
        ae.uncertainty.net.layers[-1].bias.fill_(-1e6)  # drives the pre-activation far below zero
    _, theta, sigma = ae.radar(z)
    assert torch.all(theta.abs() <= math.pi / 2)
    assert torch.all(sigma >= SIGMA_FLOOR)
    loss = regression_nll(theta, sigma, torch.zeros(256), torch.ones(256))
    loss.sum().backward()
    assert torch.isfinite(loss).all()
    assert all(torch.isfinite(p.grad).all() for p in ae.uncertainty.parameters())


def test_radar_heads_compute_table_one_on_re_im_features(generator):
    # Model files store the first radar layer for the input [Re z, Im z] (Table I). The heads take
    # the interleaved view of z instead; they must compute the same function of z.
    torch.manual_seed(5)
    ae = Autoencoder(16, 4, members=2)
    z = torch.randn(2, 50, 16, dtype=torch.complex64, generator=generator)
    x = torch.cat([z.real, z.imag], dim=-1)
    for head, out in zip((ae.detector, ae.angle, ae.uncertainty), ae.radar(z)):
        layers = head.net.layers
        h = x
        for i, layer in enumerate(layers):
            h = h @ layer.weight + layer.bias
            h = h.relu() if i < len(layers) - 1 else h
        want = {
            ae.detector: h.squeeze(-1),
            ae.angle: 0.5 * math.pi * torch.tanh(h.squeeze(-1)),
            ae.uncertainty: torch.nn.functional.softplus(h.squeeze(-1)) + SIGMA_FLOOR,
        }[head]
        torch.testing.assert_close(out, want)


def test_losses_against_hand_computation():
    t = torch.tensor([1.0, 0.0])
    # q = sigmoid(ln 3) = 3/4 for the present target, q = 1/2 for the absent one.
    logit = torch.tensor([math.log(3.0), 0.0])
    assert detection_loss(logit, t).item() == pytest.approx((-math.log(0.75) - math.log(0.5)) / 2)
    theta_hat, sigma, theta = torch.tensor([0.1, 5.0]), torch.tensor([2.0, 1e-3]), torch.tensor([1.1, 0.0])
    # Only the present target counts: (log 2 + 1 / (2 * 4)) / 2 (the batch mean carries p(t=1)).
    assert regression_nll(theta_hat, sigma, theta, t).item() == pytest.approx((math.log(2) + 1 / 8) / 2)
    assert regression_mse(theta_hat, theta, t).item() == pytest.approx(0.5)
    # The present rows alone, divided by the batch size, give the same terms (what the trainer computes).
    present = t.bool()
    assert regression_nll(
        theta_hat[present], sigma[present], theta[present], t[present], snapshots=2
    ).item() == pytest.approx((math.log(2) + 1 / 8) / 2)
    assert regression_mse(theta_hat[present], theta[present], t[present], snapshots=2).item() == pytest.approx(0.5)
    assert radar_nll(logit, theta_hat, sigma, theta, t).item() == pytest.approx(
        (-math.log(0.75) - math.log(0.5)) / 2 + (math.log(2) + 1 / 8) / 2
    )
    logits = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]])
    assert comm_loss(logits, torch.tensor([1, 0])).item() == pytest.approx((-math.log(0.75) - math.log(0.5)) / 2)
    assert isac_loss(torch.tensor(2.0), torch.tensor(4.0), 0.25).item() == pytest.approx(3.5)
    with pytest.raises(ValueError, match="omega"):
        isac_loss(torch.tensor(1.0), torch.tensor(1.0), 1.5)


def test_losses_keep_one_value_per_member():
    # Two members: the second member's outputs are the first's, shifted; each loss is its own member's.
    logits = torch.tensor([[[0.0, math.log(3.0)], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    messages = torch.tensor([1, 0])
    torch.testing.assert_close(
        comm_loss(logits, messages), torch.tensor([(-math.log(0.75) - math.log(0.5)) / 2, math.log(2.0)])
    )
    theta_hat = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    torch.testing.assert_close(
        regression_mse(theta_hat, torch.zeros(2), torch.tensor([1, 0])), torch.tensor([0.0, 0.5])
    )
    torch.testing.assert_close(
        isac_loss(torch.tensor([1.0, 1.0]), torch.tensor([3.0, 3.0]), torch.tensor([0.0, 1.0])),
        torch.tensor([3.0, 1.0]),
    )


def test_gradients_reach_every_network_through_both_channels():
    trainer = Trainer(Scenario(), TrainingConfig(omegas=(0.5,), schedule="joint", batch_size=512, seed=1))
    radar, comm = trainer.losses(SCHEDULES["joint"][0], 512)
    isac_loss(radar, comm, 0.5).sum().backward()
    for name, net in trainer.model.named_children():
        grads = [p.grad for p in net.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads), name
        assert sum(g.abs().sum() for g in grads) > 0, name
