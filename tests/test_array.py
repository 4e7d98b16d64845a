import numpy as np
import torch

from isac_ae.array import beampattern, nominal_positions, steering, steering_matrix


def test_steering_identities():
    p = nominal_positions(16)
    angles = np.deg2rad(np.linspace(-90, 90, 181))
    a = steering_matrix(p, angles)
    np.testing.assert_allclose(np.abs(a), 1.0)
    np.testing.assert_allclose(a[:, 90], 1.0)  # broadside
    # Eq. (1): exp(-j 2 pi k d sin(theta) / lambda) with d = lambda / 2.
    k = np.arange(16)[:, None]
    np.testing.assert_allclose(a, np.exp(-1j * np.pi * k * np.sin(angles)), atol=1e-12)
    # Mirror symmetry: a(-theta) = conj(a(theta)).
    np.testing.assert_allclose(steering_matrix(p, -angles), np.conj(a), atol=1e-12)


def test_torch_steering_matches_numpy_and_is_differentiable():
    p = nominal_positions(8) + 0.01 * np.arange(8) ** 1.5
    theta = torch.tensor([-0.3, 0.1, 0.7], dtype=torch.float64, requires_grad=True)
    a = steering(torch.as_tensor(p), theta)
    np.testing.assert_allclose(a.detach().numpy(), steering_matrix(p, theta.detach().numpy()).T, atol=1e-12)
    a.real.sum().backward()
    expected = np.sum(
        2
        * np.pi
        * p[None, :]
        * np.cos(theta.detach().numpy())[:, None]
        * np.sin(-2 * np.pi * p[None, :] * np.sin(theta.detach().numpy())[:, None]),
        axis=1,
    )
    np.testing.assert_allclose(theta.grad.numpy(), expected, rtol=1e-9)


def test_steered_beampattern_is_the_dirichlet_kernel():
    K, theta0 = 16, np.deg2rad(25.0)
    p = nominal_positions(K)
    y = np.conj(steering_matrix(p, theta0)[:, 0]) / np.sqrt(K)
    phi = np.deg2rad(np.linspace(-89.5, 89.5, 359))
    x = np.pi * (np.sin(phi) - np.sin(theta0)) / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        dirichlet = np.where(np.abs(np.sin(x)) < 1e-12, K**2, (np.sin(K * x) / np.sin(x)) ** 2)
    np.testing.assert_allclose(beampattern(p, y, phi), dirichlet / K, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(beampattern(p, y, [theta0]), [K])  # full array gain on the steered angle
