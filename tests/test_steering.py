"""The baseline designed for any array: LS beams and the MAPRT search on a steering model or dictionary."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from isac_ae import Scenario
from isac_ae.array import nominal_positions, steering_matrix
from isac_ae.baselines import (
    ArraySteering,
    BaselineSystem,
    DictionaryMaprt,
    DictionarySteering,
    MaprtDetector,
    PositionSteering,
    ls_beam,
    ls_beam_for,
)
from isac_ae.hw.profiles import profile
from isac_ae.impairments import ArrayModel

SECTOR = np.deg2rad((-20.0, 20.0))


@pytest.fixture(scope="module")
def board() -> ArrayModel:
    """A Quad-MxFE-like board: gains, coupling and position errors (the twin's magnitudes), float64."""
    return profile("quadmxfe").draw_array(0, dtype=torch.float64)


def _snapshots(rx_manifold, generator, n=4000):
    """Half noise only, half a unit-power plane wave at a random sector angle plus noise (SNR 10 dB per element)."""
    theta = torch.empty(n // 2, dtype=torch.float64).uniform_(*SECTOR, generator=generator)
    wave = torch.as_tensor(rx_manifold(theta.numpy()))
    wave = wave / wave.abs().square().mean(-1, keepdim=True).sqrt()
    noise = torch.randn(n, 16, dtype=torch.complex128, generator=generator) * math.sqrt(0.1)
    return torch.cat([noise[: n // 2], noise[n // 2 :] + wave])


def test_dictionary_search_on_ideal_elements_is_the_maprt_detector(generator):
    """On the nominal array the normalised statistic and its grid are the fast detector's (its exhaustive
    reference): equal statistics, and the same angle except at float32 ties."""
    positions = nominal_positions(16)
    reference = MaprtDetector(positions, SECTOR)
    search = DictionaryMaprt(PositionSteering(positions).rx, SECTOR)
    z = _snapshots(PositionSteering(positions).rx, generator)
    ours, exhaustive = search(z), reference.fine(z)
    np.testing.assert_allclose(ours.statistic.numpy(), exhaustive.statistic.numpy(), rtol=1e-5)
    assert (ours.index != exhaustive.index).float().mean() < 0.01


def test_dictionary_search_finds_the_exhaustive_maximum_on_an_impaired_array(board, generator):
    """Against a float64 brute force over every grid point of |a^H z|^2 K / ||a||^2 on the board's manifold."""
    steering = ArraySteering(board)
    search = DictionaryMaprt(steering.rx, SECTOR)
    z = _snapshots(steering.rx, generator)
    a = steering.rx(np.arcsin(search.u_grid))  # (G, K)
    brute = np.abs(z.numpy() @ a.conj().T) ** 2 * 16 / np.sum(np.abs(a) ** 2, axis=1)
    out = search(z)
    np.testing.assert_allclose(out.statistic.numpy(), brute.max(axis=1), rtol=1e-4)
    # The angle differs only where two grid points tie to float32 precision.
    picked = brute[np.arange(len(z)), out.index.numpy()]
    np.testing.assert_allclose(picked, brute.max(axis=1), rtol=1e-4)


def test_ls_beam_on_known_gains_is_the_nominal_beam_precorrected(generator):
    """With per-element TX gains g only, A_true y = A_nom (g y): the LS solution is y_nom / g (then normalised)."""
    k = 16
    gains = torch.polar(
        torch.empty(k, dtype=torch.float64).uniform_(0.5, 1.0, generator=generator),
        torch.empty(k, dtype=torch.float64).uniform_(-math.pi, math.pi, generator=generator),
    )
    array = dataclasses.replace(ArrayModel.nominal(k, dtype=torch.float64), gain_tx=gains)
    beam = ls_beam_for(ArraySteering(array).tx, SECTOR)
    expected = ls_beam(nominal_positions(k), SECTOR) / gains.numpy()
    # Equal up to a real scale: the nominal LS target is sum |a|^2 = K, the gains' target sum |g a|^2.
    scale = np.vdot(expected, beam) / np.vdot(expected, expected)
    np.testing.assert_allclose(beam, scale * expected, atol=1e-9)


def test_dictionary_interpolates_a_measured_manifold(board):
    """From the board's manifold every 5 deg (relative to element 0, as measured), the dictionary matches the
    true steering vectors between the measurements (normalised correlation > 0.999) and at them (exactly)."""
    steering = ArraySteering(board)
    measured_deg = np.arange(-60.0, 60.1, 5.0)
    truth = steering.rx(np.radians(measured_deg))
    dictionary = DictionarySteering(np.radians(measured_deg), truth / truth[:, :1], nominal_positions(16))

    def correlation(theta_deg):
        a, b = dictionary.rx(np.radians(theta_deg)), steering.rx(np.radians(theta_deg))
        return np.abs(np.sum(a.conj() * b, 1)) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)

    np.testing.assert_allclose(correlation(measured_deg), 1.0, atol=1e-12)
    assert correlation(measured_deg[:-1] + 2.5).min() > 0.999
    # Beyond the measured range the deviation from nominal is held: still far better than nominal at 70 deg.
    nominal = PositionSteering(nominal_positions(16)).rx(np.radians([70.0]))
    true70 = steering.rx(np.radians([70.0]))
    nominal_corr = np.abs(np.vdot(nominal[0], true70[0])) / np.linalg.norm(nominal) / np.linalg.norm(true70)
    assert correlation(np.array([70.0]))[0] > nominal_corr


def test_baseline_on_a_steering_model(board):
    sc = Scenario()
    ideal = BaselineSystem(sc, 0.5, 0.3)
    same = BaselineSystem(sc, 0.5, 0.3, steering=ArraySteering(ArrayModel.nominal(16, dtype=torch.float64)))
    np.testing.assert_allclose(same.beam.numpy(), ideal.beam.numpy(), atol=1e-6)
    oracle = BaselineSystem(sc, 0.5, 0.3, steering=ArraySteering(board))
    # The oracle's radar beam puts the design's flat pattern on the TRUE array.
    pattern = np.abs(ArraySteering(board).tx(np.radians(np.linspace(-15, 15, 31))) @ oracle.radar_beam) ** 2
    nominal_pattern = np.abs(ArraySteering(board).tx(np.radians(np.linspace(-15, 15, 31))) @ ideal.radar_beam) ** 2
    assert np.ptp(10 * np.log10(pattern)) < np.ptp(10 * np.log10(nominal_pattern))
    with pytest.raises(ValueError, match="K = 8"):
        BaselineSystem(sc, 0.5, 0.0, steering=PositionSteering(nominal_positions(8)))


@pytest.mark.parametrize(
    "angles, response, match",
    [
        (np.radians([0.0]), np.ones((1, 16)), "G >= 2"),
        (np.radians([0.0, 10.0]), np.ones((2, 8)), "G >= 2"),
        (np.radians([0.0, 0.0]), np.ones((2, 16)), "distinct"),
        (np.radians([0.0, 95.0]), np.ones((2, 16)), "inside"),
        (np.radians([0.0, 10.0]), np.array([[np.nan] * 16, [1] * 16]), "finite"),
    ],
)
def test_bad_dictionaries_are_refused(angles, response, match):
    with pytest.raises(ValueError, match=match):
        DictionarySteering(angles, response, nominal_positions(16))


def test_bad_dictionary_search_is_refused():
    steering = PositionSteering(nominal_positions(16))
    with pytest.raises(ValueError, match="sector"):
        DictionaryMaprt(steering.rx, (0.5, -0.5))
    with pytest.raises(ValueError, match="coarse_stride"):
        DictionaryMaprt(steering.rx, SECTOR, coarse_stride=0)
    with pytest.raises(ValueError, match="steering vectors"):
        DictionaryMaprt(lambda theta: steering_matrix(nominal_positions(16), theta), SECTOR)  # (K, G), transposed
