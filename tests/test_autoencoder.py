import math

import pytest
import torch
from torch import nn

from isac_ae import Scenario
from isac_ae.autoencoder import (
    SIGMA_FLOOR,
    AngleEstimator,
    Beamformer,
    CommReceiver,
    Encoder,
    PresenceDetector,
    UncertaintyEstimator,
    comm_loss,
    detection_loss,
    isac_loss,
    normalise_batch,
    radar_nll,
    regression_mse,
    regression_nll,
)
from isac_ae.channels import CommChannel, RadarChannel


def _widths(module):
    return [(m.in_features, m.out_features) for m in module.modules() if isinstance(m, nn.Linear)]


def test_table_one_widths():
    K, M = 16, 4
    assert _widths(Encoder(K, M)) == [(4, 16), (16, 16), (16, 32), (32, 2)]
    assert _widths(Beamformer(K)) == [(4, 16), (16, 16), (16, 32), (32, 32)]  # K complex outputs = 2K reals
    for head in (PresenceDetector, AngleEstimator, UncertaintyEstimator):
        assert _widths(head(K)) == [(32, 32), (32, 32), (32, 16), (16, 1)]
    assert _widths(CommReceiver(K, M)) == [(2, 16), (16, 32), (32, 32), (32, 4)]
    assert _widths(Encoder(8, 16)) == [(16, 8), (8, 8), (8, 16), (16, 2)]


def test_output_ranges_hold_for_extreme_inputs(generator):
    torch.manual_seed(0)
    z = 1e4 * torch.randn(256, 16, dtype=torch.complex64, generator=generator)
    theta = AngleEstimator(16)(z)
    assert torch.all(theta.abs() <= math.pi / 2)
    sigma_net = UncertaintyEstimator(16)
    with torch.no_grad():
        sigma_net.net[-1].bias.fill_(-1e6)  # drives the pre-activation far below zero
    sigma = sigma_net(z)
    assert torch.all(sigma >= SIGMA_FLOOR)
    loss = regression_nll(theta, sigma, torch.zeros(256), torch.ones(256))
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in sigma_net.parameters())


def test_normalisation_sets_mean_energy():
    y = torch.randn(1000, 16, dtype=torch.complex64) * 3
    scaled, scale = normalise_batch(y)
    assert scaled.abs().square().sum(-1).mean().item() == pytest.approx(1.0, rel=1e-5)
    torch.testing.assert_close(scaled, y * scale)


def test_losses_against_hand_computation():
    t = torch.tensor([1.0, 0.0])
    # q = sigmoid(ln 3) = 3/4 for the present target, q = 1/2 for the absent one.
    logit = torch.tensor([math.log(3.0), 0.0])
    assert detection_loss(logit, t).item() == pytest.approx((-math.log(0.75) - math.log(0.5)) / 2)
    theta_hat, sigma, theta = torch.tensor([0.1, 5.0]), torch.tensor([2.0, 1e-3]), torch.tensor([1.1, 0.0])
    # Only the present target counts: (log 2 + 1 / (2 * 4)) / 2 (the batch mean carries p(t=1)).
    assert regression_nll(theta_hat, sigma, theta, t).item() == pytest.approx((math.log(2) + 1 / 8) / 2)
    assert regression_mse(theta_hat, theta, t).item() == pytest.approx(0.5)
    assert radar_nll(logit, theta_hat, sigma, theta, t).item() == pytest.approx(
        (-math.log(0.75) - math.log(0.5)) / 2 + (math.log(2) + 1 / 8) / 2)
    logits = torch.tensor([[0.0, math.log(3.0)], [0.0, 0.0]])
    assert comm_loss(logits, torch.tensor([1, 0])).item() == pytest.approx((-math.log(0.75) - math.log(0.5)) / 2)
    assert isac_loss(torch.tensor(2.0), torch.tensor(4.0), 0.25).item() == pytest.approx(3.5)
    with pytest.raises(ValueError, match="omega"):
        isac_loss(torch.tensor(1.0), torch.tensor(1.0), 1.5)


def test_gradients_reach_every_network_through_both_channels(generator):
    torch.manual_seed(1)
    sc = Scenario()
    nets = {
        "encoder": Encoder(16, 4), "beamformer": Beamformer(16), "detector": PresenceDetector(16),
        "angle": AngleEstimator(16), "sigma": UncertaintyEstimator(16), "comm": CommReceiver(16, 4),
    }
    n = 512
    messages = torch.randint(4, (n,), generator=generator)
    v = nets["beamformer"](torch.as_tensor(sc.theta_vector, dtype=torch.float32))
    y, scale = normalise_batch(nets["encoder"](messages).unsqueeze(-1) * v)
    radar = RadarChannel(sc)(y, generator)
    comm = CommChannel(sc)(y, scale * v, generator)
    radar_loss = radar_nll(nets["detector"](radar.z), nets["angle"](radar.z), nets["sigma"](radar.z), radar.theta, radar.target)
    loss = isac_loss(radar_loss, comm_loss(nets["comm"](comm.z / comm.kappa), messages), 0.5)
    loss.backward()
    for name, net in nets.items():
        grads = [p.grad for p in net.parameters()]
        assert all(g is not None and torch.isfinite(g).all() for g in grads), name
        assert sum(g.abs().sum() for g in grads) > 0, name
