"""Twins with chosen impairments, served by an emulator, and the statistical tolerances of the calibration and
manifold measurements on them (tests/hw/test_calibration.py, tests/hw/test_manifold.py).

Every tolerance is a first-order standard deviation derived from the
measurement's sample count and the twin's SNR (its noise power, the scene's
amplitude, the hidden manifolds), times Z.
"""

import contextlib
import dataclasses
import math

import numpy as np
import torch

from isac_ae.hw.emulator import Emulator
from isac_ae.hw.frames import FrameLayout
from isac_ae.hw.profiles import profile
from isac_ae.hw.scene import EmulatorSceneController
from isac_ae.hw.twin import DigitalTwin, TwinTruth

#: Rounding noise of a 12-bit ADC (step 1/2048 of full scale) on I and Q, per complex sample.
ADC_NOISE = 2 * (1 / 2048) ** 2 / 12
#: The source tone's amplitude (calibration.source_tone's default) and the frames' TX scale.
TONE = 0.5
TX_SCALE = FrameLayout(data=1).tx_scale


def variant(name: str, seed: int, *, coupling: bool = True, spacing_std: float = 0.0) -> DigitalTwin:
    """The seeded twin of ``name``, without coupling if ``coupling`` is False, with N(0, spacing_std^2)
    (wavelengths) errors added to each element position if ``spacing_std`` > 0."""
    truth = TwinTruth.draw(profile(name), seed)
    array = truth.array
    if not coupling:
        array = dataclasses.replace(array, coupling=torch.eye(array.num_elements, dtype=array.coupling.dtype))
    if spacing_std:
        errors = np.random.default_rng([seed, 99]).normal(0.0, spacing_std, array.num_elements)
        array = dataclasses.replace(array, positions=array.positions + torch.as_tensor(errors, dtype=torch.float32))
    return DigitalTwin(name, truth=dataclasses.replace(truth, array=array))


@contextlib.contextmanager
def served(twin: DigitalTwin):
    """An emulator serving ``twin`` (digital boards with their comm receiver); yields (uris, scene controller)."""
    with Emulator(
        twin.profile.name, source=twin.source(), comm_receiver=twin.profile.beamforming == "digital"
    ) as emulator:
        yield emulator.uris, EmulatorSceneController(emulator.uris)


def noise_power(twin: DigitalTwin) -> float:
    """Complex noise power per RX sample: the twin's thermal noise plus the ADC's rounding."""
    return twin.truth.noise_power + ADC_NOISE


def manifold(twin: DigitalTwin, angles_deg, side: str = "rx") -> np.ndarray:
    """The truth's effective manifold (G, K) complex128 at the angles (degrees)."""
    array = twin.truth.array.to(dtype=torch.float64)
    theta = torch.tensor(np.radians(np.atleast_1d(angles_deg)), dtype=torch.float64)
    return (array.steering_rx(theta) if side == "rx" else array.steering_tx(theta)).numpy()


def relative(vectors: np.ndarray) -> np.ndarray:
    """(..., K) divided by element 0: the calibration's and the manifold's normalisation."""
    vectors = np.asarray(vectors, dtype=np.complex128)
    return vectors / vectors[..., :1]


def ratio_std(covariance: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Std of each real part of a_k / a_0 (K,), for an estimate of a (K,) with complex error covariance (K, K)."""
    k = a.size
    out = np.zeros(k)
    for element in range(1, k):
        c = (np.eye(k)[element] - a[element] / a[0] * np.eye(k)[0]) / a[0]
        out[element] = math.sqrt(np.real(c.conj() @ covariance @ c) / 2)
    return out


def eigenvector_ratio_std(a: np.ndarray, power: float, noise: float, n: int) -> np.ndarray:
    """Principal eigenvector of n snapshots s a + noise, s ~ CN(0, power): std of each real part of a_k / a_0.

    First order: the estimate's error is isotropic across a, with variance
    noise (power ||a||^2 + noise) / (n power^2 ||a||^2) per element (the
    along-a part only scales the vector and drops out of the ratios).
    """
    norm2 = float(np.sum(np.abs(a) ** 2))
    per_element = noise * (power * norm2 + noise) / (n * power**2 * norm2)
    return ratio_std(per_element * np.eye(a.size), a)


def within(estimate: np.ndarray, truth: np.ndarray, std: np.ndarray, z: float) -> bool:
    """Ratios to element 0 (..., K): element 0 is 1 (the reference, up to rounding), and both real parts of
    estimate - truth of the others lie inside z std, element by element."""
    error, bound = (estimate - truth)[..., 1:], z * std[..., 1:]
    return bool(
        np.allclose(estimate[..., 0], 1.0, rtol=0, atol=1e-12)
        and np.all(np.abs(error.real) <= bound)
        and np.all(np.abs(error.imag) <= bound)
    )
