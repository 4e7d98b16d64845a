"""The measured array response a_true(theta) over a grid of angles, and over-the-air beampatterns.

A :class:`Manifold` holds, for G angles (degrees), the K elements' complex
response to a plane wave from each angle, relative to element 0 (its response
is 1 at every angle): the absolute level and phase of a source differ from
one angle to the next (distance, cable, a free-running oscillator), so only
the ratios between elements at one angle are measurable. On a twin it equals
the truth's ``steering_rx(theta) / steering_rx(theta)[0]``: gains, coupling
and positions included, which is what a boresight calibration cannot give.

* digital boards (:func:`measure_digital`): a reflector at each angle, all RX
  channels at once, the principal eigenvector of the echo's covariance
  (:func:`isac_ae.hw.calibration.rx_responses`);
* Phaser (:func:`measure_phaser`): one element of a sub-array on at a time,
  at gain code 127, while a reference element is on in the *other*
  sub-array. The two elements then reach the Pluto on different channels of
  one capture, so the ratio of the two channels' tone amplitudes is the
  ratio of the elements' responses, whatever the source's phase in that
  capture. The reference is element 0 for the elements of the other
  sub-array, and the first element of the other sub-array (itself measured
  against element 0) for the elements that share element 0's sub-array.

:func:`measure_beampattern` measures the Phaser's output (Rx1 + Rx2) for
fixed receive weights while the source sweeps the angles. Results are saved
as ``.npz`` (the arrays and a JSON header), atomically.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import write_atomically
from ..baselines.steering import DictionarySteering
from .calibration import (
    CalibrationError,
    check_angles,
    check_samples,
    phaser_output,
    place_source,
    play_source,
    rx_responses,
    subarray_channels,
    tone_amplitudes,
    tuned_lo_hz,
    utc_now,
)
from .scene import SceneController

FORMAT = "isac_ae.manifold/1"


@dataclass(frozen=True)
class Manifold:
    """Measured responses (G, K) complex at ``angles_deg`` (G,), element 0 = 1 at every angle.

    ``snr_db`` (G,): the measurement's SNR at each angle (digital boards: the
    echo summed over the elements against one element's noise; Phaser: the
    weakest element's tone against its channel's noise, per sample).
    """

    device: str
    angles_deg: np.ndarray
    response: np.ndarray
    snr_db: np.ndarray
    lo_hz: float
    uri: str
    date: str
    method: str

    def __post_init__(self):
        g = np.shape(self.angles_deg)
        if len(g) != 1 or np.shape(self.response)[:1] != g or np.ndim(self.response) != 2 or np.shape(self.snr_db) != g:
            raise CalibrationError(
                f"a manifold needs angles (G,), responses (G, K) and SNRs (G,); got "
                f"{np.shape(self.angles_deg)}, {np.shape(self.response)}, {np.shape(self.snr_db)}"
            )

    @property
    def num_elements(self) -> int:
        return self.response.shape[1]

    def dictionary(self, nominal_positions, calibration=None) -> DictionarySteering:
        """The steering dictionary a baseline can be designed with: these responses interpolated in angle.

        nominal_positions: (K,) wavelengths (their phase progression is taken out
        before interpolating). The TX manifold is the RX one times each chain's
        TX over RX gain from ``calibration`` (exact when the coupling is
        symmetric, as a passive array's is); without a calibration, or on a
        receive-only array (tx_correction None), the two are taken equal.
        """
        tx_over_rx = None
        if calibration is not None:
            if calibration.num_elements != self.num_elements:
                raise CalibrationError(
                    f"the calibration has K = {calibration.num_elements}, the manifold K = {self.num_elements}"
                )
            tx_over_rx = calibration.tx_gain / calibration.rx_gain
        return DictionarySteering(np.radians(self.angles_deg), self.response, nominal_positions, tx_over_rx)

    def save(self, path) -> None:
        """Write an ``.npz``: angles_deg, response, snr_db and a JSON header (device, LO, URI, date, method)."""
        header = {
            "format": FORMAT,
            "device": self.device,
            "lo_hz": self.lo_hz,
            "uri": self.uri,
            "date": self.date,
            "method": self.method,
            "normalisation": "element 0 = 1 at every angle",
        }
        buffer = io.BytesIO()
        np.savez(
            buffer,
            angles_deg=self.angles_deg,
            response=self.response,
            snr_db=self.snr_db,
            header=np.array(json.dumps(header)),
        )
        write_atomically(Path(path), buffer.getvalue())

    @classmethod
    def load(cls, path, device: str | None = None) -> Manifold:
        """Read a manifold; CalibrationError if it is not one, or not of ``device`` (a profile name) when given."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                arrays = {name: data[name] for name in ("angles_deg", "response", "snr_db")}
        except (OSError, ValueError, KeyError) as exc:
            raise CalibrationError(f"{path} is not a manifold file: {exc}") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise CalibrationError(f"{path} is not a manifold file (expected format {FORMAT!r})")
        if device is not None and header.get("device") != device:
            raise CalibrationError(f"{path} was measured on a {header.get('device')}, not a {device}")
        return cls(
            device=header["device"],
            lo_hz=float(header["lo_hz"]),
            uri=header["uri"],
            date=header["date"],
            method=header["method"],
            **arrays,
        )


def measure_digital(
    board, scenes: SceneController, angles_deg, *, amplitude: float = 0.1, data: int = 4096
) -> Manifold:
    """The RX manifold of a :class:`~isac_ae.hw.device.Transceiver`: a reflector at each angle (degrees)."""
    angles = check_angles(angles_deg)
    responses, snr_db, _ = rx_responses(board, scenes, angles, amplitude=amplitude, data=data)
    return Manifold(
        device=board.profile.name,
        angles_deg=angles,
        response=responses,
        snr_db=snr_db,
        lo_hz=tuned_lo_hz(board),
        uri=board.uri,
        date=utc_now(),
        method=(
            f"reflector at each angle; principal eigenvector of the echo covariance over {data} "
            "samples, the leakage measured without it removed"
        ),
    )


def measure_phaser(
    phaser, scenes: SceneController, angles_deg, *, amplitude: float = 0.1, samples: int = 4096
) -> Manifold:
    """The receive manifold of a :class:`~isac_ae.hw.device.PhaserArray`: the source at each angle (degrees),
    one element per sub-array on at a time against a reference in the other (module docstring)."""
    angles = check_angles(angles_deg)
    samples = check_samples(samples)
    k = phaser.profile.num_elements
    channels = subarray_channels(phaser.profile)
    bridge = int(np.flatnonzero(channels != channels[0])[0])  # the reference for element 0's own sub-array
    order = [bridge] + [e for e in range(1, k) if e != bridge]  # the bridge is measured first
    play_source(phaser, samples)
    response = np.ones((angles.size, k), np.complex128)
    snr_db = np.empty(angles.size)
    for i, angle in enumerate(angles):
        place_source(scenes, angle, amplitude)
        worst = np.inf
        for element in order:
            reference = 0 if channels[element] != channels[0] else bridge
            y, noise, _ = phaser_output(phaser, np.eye(k)[element] + np.eye(k)[reference], samples)
            response[i, element] = y[channels[element]] / y[channels[reference]] * response[i, reference]
            worst = min(worst, float(np.min(np.abs(y) ** 2 / noise)))
        snr_db[i] = 10 * np.log10(worst)
    return Manifold(
        device=phaser.profile.name,
        angles_deg=angles,
        response=response,
        snr_db=snr_db,
        lo_hz=tuned_lo_hz(phaser),
        uri=phaser.uri,
        date=utc_now(),
        method=(
            f"source tone at fs/8 at each angle; element k and a reference in the other "
            f"sub-array on at gain code 127, ratio of the two channels' tone amplitudes over "
            f"{samples} samples; references: element 0, and element {bridge} for element 0's "
            "sub-array"
        ),
    )


def measure_beampattern(
    phaser, scenes: SceneController, weights, angles_deg, *, amplitude: float = 0.1, samples: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """The Phaser's output for receive weights (8,) with the source at each angle (degrees).

    Returns (the weights the ADAR1000s applied (8,), the complex tone
    amplitude of Rx1 + Rx2 at each angle (G,)); its squared magnitude is the
    beampattern, in the source's (unknown on a bench) units.
    """
    angles = check_angles(angles_deg)
    samples = check_samples(samples)
    play_source(phaser, samples)
    applied = phaser.set_weights(weights)
    output = np.empty(angles.size, np.complex128)
    for i, angle in enumerate(angles):
        place_source(scenes, angle, amplitude)
        output[i] = tone_amplitudes(phaser.capture(samples))[0].sum()
    return applied, output
