"""Per-element gain and phase calibration against a source at boresight, the same code on a bench and a twin.

What a boresight calibration measures is the array's effective response at
theta = 0: ``steering_rx(0) = diag(g_rx) C 1`` and ``steering_tx(0) = diag(g_tx)
C^T 1`` (:mod:`isac_ae.impairments`; the nominal a(0) is all ones). Without
coupling these are the per-element gains themselves. Only ratios between
elements are measurable (a common complex factor is invisible to every beam
and detector), so the convention is: **element 0 is the reference, its gain
is 1**; a correction factor is the inverse of a gain, ``c_k = g_0 / g_k``.

What it cannot remove: coupling is folded into the boresight gains, so
``g_k (C 1)_k`` is exact at 0 deg and off by about the nearest-neighbour
coupling level |c1| elsewhere (growing away from boresight); element
position errors do not show at 0 deg at all (every path length is equal
there). Both need the manifold over angle (:mod:`isac_ae.hw.manifold`).

Procedures, talking only to :mod:`isac_ae.hw.device` classes and a scene
controller (:mod:`isac_ae.hw.scene`), so a bench (operator) and a twin
(emulator) run the same code:

* digital boards (:func:`calibrate_digital`): RX from a reflector at 0 deg,
  the principal eigenvector of the echo's sample covariance (the leakage
  measured with the reflector removed is subtracted first, so a static
  reflector's echo, which the frame's own leakage cancellation takes for
  leakage, survives as well as a fluctuating one); TX from the comm receiver
  at 0 deg, least squares of its capture on the K distinct preambles.
* Phaser (:func:`calibrate_phaser`), as ADI's Phaser workflow does it: the
  two sub-array channels with all elements on (recorded; it is not a
  separate correction, because each element is measured through its own
  channel and so already includes it); element amplitudes one element on at
  a time; element phases by a pairwise null search against element 0. The
  source is the Pluto's TX playing a tone at fs/8.

A :class:`Calibration` is saved as JSON (atomically) and loaded only for the
device and K it was made on. Angles in degrees at this surface; complex
values are stored as [re, im] pairs.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from ..atomic import write_atomically
from ..impairments import ADAR1000_MAX_GAIN_CODE, ArrayModel
from .frames import FrameLayout, build_frame, comm_block, find_frame, radar_block
from .profiles import ProfileError
from .profiles import profile as get_profile
from .scene import Scene, SceneController, Target

FORMAT = "isac_ae.calibration/1"
#: The source tone of the Phaser, cycles per sample (fs / 8, as ADI's CN0566.SDR_init). A capture of a
#: multiple of 8 samples holds whole periods, so the tone's amplitude is free of the receiver's DC offset.
TONE_CYCLES_PER_SAMPLE = 1.0 / 8.0
#: Phase codes an ADAR1000 offers (7 bits over the circle); the null search sweeps all or a uniform subset.
PHASE_CODES = 128


class CalibrationError(ValueError):
    """A calibration that cannot be made, read or used here (wrong device, K, format)."""


def _pairs(values: np.ndarray) -> list:
    return np.stack([values.real, values.imag], axis=-1).tolist()


def _complex(data, name: str, source: str) -> np.ndarray:
    try:
        values = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        values = None
    if values is None or values.ndim != 2 or values.shape[1] != 2:
        raise CalibrationError(f"{source}: {name} is not a list of [re, im] pairs")
    return values[:, 0] + 1j * values[:, 1]


def utc_now() -> str:
    """The current time, UTC, ISO 8601 to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def read_json(path: Path, what: str):
    """The JSON in ``path``; CalibrationError naming the file (a ``what``: "calibration", "background") when
    it cannot be read or is not JSON."""
    try:
        return json.loads(Path(path).read_text())
    except OSError as exc:
        raise CalibrationError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"{path} is not JSON: {exc}") from None


def expected_elements(device: str, num_elements=None) -> int:
    """K of ``device``'s profile (or ``num_elements`` when given); CalibrationError for an unknown profile."""
    try:
        return get_profile(device).num_elements if num_elements is None else int(num_elements)
    except ProfileError as exc:
        raise CalibrationError(str(exc)) from None


def tuned_lo_hz(device) -> float:
    """The carrier a device is tuned to, Hz: the AD9361's RX LO, the AD9081's NCOs (direct RF sampling),
    the Phaser's RF (its ADF4159 LO minus the Pluto's IF, the relation ADI's Phaser examples set)."""
    dev = device.dev
    if device.profile.name == "phaser":
        return float(dev.lo - device.sdr.rx_lo)
    if device.profile.name == "quadmxfe":  # pyadi-iio: {chip: [per coarse DDC]}; element 0 is the first
        return float(
            sum(next(iter(f.values()))[0] for f in (dev.rx_main_nco_frequencies, dev.rx_channel_nco_frequencies))
        )
    return float(dev.rx_lo)


@dataclass(frozen=True)
class Calibration:
    """Per-element complex correction factors of one board (module docstring for the convention).

    rx_correction: (K,) complex, ``c_k = g_0 / g_k`` of the RX gains (element 0 = 1);
    tx_correction: (K,) complex, the same for TX, or None for a receive-only
    array (the Phaser), whose TX weights are applied as receive weights
    (reciprocity) and so use the RX factors; scenes: the scenes the
    measurements were made in (JSON dicts with their labels); diagnostics:
    what the measurement saw (SNRs in dB, the Phaser's channel mismatch).
    """

    device: str
    num_elements: int
    lo_hz: float
    uri: str
    date: str
    method: str
    rx_correction: np.ndarray
    tx_correction: np.ndarray | None
    scenes: tuple = ()
    diagnostics: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        for name in ("rx_correction", "tx_correction"):
            value = getattr(self, name)
            if value is None and name == "tx_correction":
                continue
            value = np.asarray(value, dtype=np.complex128)
            if value.shape != (self.num_elements,) or not np.all(np.isfinite(value)) or np.any(value == 0):
                raise CalibrationError(
                    f"{name} must be {self.num_elements} finite non-zero factors (a dead element "
                    f"cannot be corrected), got {value.tolist()!r}"
                )
            object.__setattr__(self, name, value)

    @property
    def rx_gain(self) -> np.ndarray:
        """Estimated RX gains at boresight, (K,) complex, element 0 = 1."""
        return 1.0 / self.rx_correction

    @property
    def tx_gain(self) -> np.ndarray:
        """Estimated TX gains at boresight, (K,) complex, element 0 = 1 (the RX gains on a receive-only array)."""
        return 1.0 / (self.rx_correction if self.tx_correction is None else self.tx_correction)

    def array_model(self, nominal_positions, *, dtype=torch.float32, device="cpu") -> ArrayModel:
        """What a calibrated baseline designs on: the nominal positions (K,) in wavelengths with the estimated
        gains and no coupling (a boresight calibration cannot see coupling or position errors)."""
        positions = np.asarray(nominal_positions, dtype=np.float64)
        if positions.shape != (self.num_elements,):
            raise CalibrationError(
                f"the calibration has K = {self.num_elements} elements, got {positions.shape} positions"
            )
        model = ArrayModel.from_positions(positions, dtype=dtype, device=device)
        cdtype = dtype.to_complex()
        return dataclasses.replace(
            model,
            gain_tx=torch.as_tensor(self.tx_gain, dtype=cdtype, device=device),
            gain_rx=torch.as_tensor(self.rx_gain, dtype=cdtype, device=device),
        )

    def _check_last_axis(self, x: np.ndarray, name: str) -> np.ndarray:
        x = np.asarray(x)
        if x.ndim < 1 or x.shape[-1] != self.num_elements:
            raise CalibrationError(
                f"{name} must have K = {self.num_elements} elements on its last axis, got shape {x.shape}"
            )
        return x

    def correct_rx(self, z) -> np.ndarray:
        """Snapshots (..., K) as an array of equal gains would deliver them (element 0's scale): z * c_rx.

        Each channel's noise is scaled with it (by |c_k|^2 in power).
        """
        return self._check_last_axis(z, "z") * self.rx_correction

    def precorrect_tx(self, v) -> np.ndarray:
        """TX weights (..., K) pre-distorted so that the array radiates v's pattern: v * c_tx, rescaled to each
        vector's norm (the frame's power budget, ||v|| = 1, holds). On the Phaser these are its receive weights."""
        v = self._check_last_axis(v, "v")
        correction = self.rx_correction if self.tx_correction is None else self.tx_correction
        w = v * correction
        norm_v = np.linalg.norm(v, axis=-1, keepdims=True)
        norm_w = np.linalg.norm(w, axis=-1, keepdims=True)
        return w * np.divide(norm_v, norm_w, out=np.zeros_like(norm_w), where=norm_w > 0)

    # --- (de)serialisation ----------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "device": self.device,
            "num_elements": self.num_elements,
            "date": self.date,
            "lo_hz": self.lo_hz,
            "uri": self.uri,
            "method": self.method,
            "normalisation": "element 0 is the reference: gain 1, correction 1; correction = 1 / gain",
            "rx_correction": _pairs(self.rx_correction),
            "tx_correction": None if self.tx_correction is None else _pairs(self.tx_correction),
            "scenes": list(self.scenes),
            "diagnostics": self.diagnostics,
        }

    @classmethod
    def from_dict(cls, data: dict, source: str = "calibration") -> Calibration:
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CalibrationError(f"{source} is not a calibration (expected format {FORMAT!r})")
        try:
            rx = _complex(data["rx_correction"], "rx_correction", source)
            tx = None if data["tx_correction"] is None else _complex(data["tx_correction"], "tx_correction", source)
            return cls(
                device=str(data["device"]),
                num_elements=int(data["num_elements"]),
                lo_hz=float(data["lo_hz"]),
                uri=str(data["uri"]),
                date=str(data["date"]),
                method=str(data["method"]),
                rx_correction=rx,
                tx_correction=tx,
                scenes=tuple(data.get("scenes", ())),
                diagnostics=dict(data.get("diagnostics", {})),
            )
        except KeyError as exc:
            raise CalibrationError(f"{source}: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:  # CalibrationError included: name the file
            raise CalibrationError(f"{source}: {exc}") from None

    def save(self, path) -> None:
        """Write the calibration as JSON, atomically."""
        write_atomically(Path(path), json.dumps(self.to_dict(), indent=1).encode())

    @classmethod
    def load(cls, path, device: str, num_elements: int | None = None) -> Calibration:
        """Read a calibration for ``device`` (a profile name) with K = ``num_elements`` (default: the profile's).

        CalibrationError, naming both, for a file of another device or K.
        """
        path = Path(path)
        expected_k = expected_elements(device, num_elements)
        calibration = cls.from_dict(read_json(path, "calibration"), str(path))
        if calibration.device != device:
            raise CalibrationError(f"{path} calibrates a {calibration.device}, not a {device}")
        if calibration.num_elements != expected_k:
            raise CalibrationError(
                f"{path} calibrates K = {calibration.num_elements} elements, expected K = {expected_k}"
            )
        return calibration


def _scene_record(scene: Scene) -> dict:
    return {"label": scene.label, **json.loads(scene.to_json())}


def check_angles(angles_deg) -> np.ndarray:
    """Angles as a non-empty 1-D float array in [-90, 90] degrees, else ValueError."""
    angles = np.atleast_1d(np.asarray(angles_deg, dtype=np.float64))
    if angles.ndim != 1 or angles.size == 0 or not np.all(np.isfinite(angles)) or np.any(np.abs(angles) > 90):
        raise ValueError(f"angles must be a non-empty list of degrees in [-90, 90], got {angles_deg!r}")
    return angles


def _check_positive(value: float, name: str) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a number > 0, got {value!r}")
    return float(value)


# --- digital boards -------------------------------------------------------------------------------
def calibration_frame(num_elements: int, data: int) -> tuple[FrameLayout, np.ndarray]:
    """The frame the digital measurements send: the usual preambles, then data on TX channel 0 only.

    One channel because before calibration no beam is known to reach boresight
    (K channels of unknown phases can cancel); its gain is what the RX
    measurement's SNR rests on. Returns (layout, frame (K, L) complex64).
    """
    if int(data) != data or data < 1:
        raise ValueError(f"data must be a positive number of samples, got {data!r}")
    layout = FrameLayout(data=int(data))
    symbols = np.exp(0.5j * np.pi * (np.random.default_rng([layout.seed, 3]).integers(0, 4, layout.data) + 0.5))
    return layout, build_frame(layout, np.eye(num_elements)[0], symbols)


def rx_responses(
    board, scenes: SceneController, angles_deg, *, amplitude: float = 0.1, data: int = 4096
) -> tuple[np.ndarray, np.ndarray, list[Scene]]:
    """The K-channel response to a reflector at each angle, (G, K) complex, element 0 = 1 at every angle.

    The leakage is measured once with the reflector removed; at each angle the
    echo that remains after subtracting it has the sample covariance
    ``P a a^H + noise``, whose principal eigenvector (after whitening by each
    channel's measured noise, undone afterwards) is the response a(theta) up
    to one complex factor. Returns (responses, SNR per angle in dB (echo power
    summed over the elements over the noise of one), the scenes used).
    """
    angles = check_angles(angles_deg)
    _check_positive(amplitude, "amplitude")
    k = board.profile.num_elements
    layout, frame = calibration_frame(k, data)
    board.send(frame)
    empty = Scene(label="reflector removed: leakage")
    scenes.set(empty)
    leakage = radar_block(layout, board.capture(2 * layout.length), frame).leakage
    tx_data = frame[:, layout.data_start :].astype(np.complex128)
    used, responses, snr_db = [empty], np.empty((angles.size, k), np.complex128), np.empty(angles.size)
    for i, angle in enumerate(angles):
        scene = Scene(targets=(Target(float(angle), amplitude),), label=f"reflector at {angle:+.2f} deg")
        scenes.set(scene)
        used.append(scene)
        block = radar_block(layout, board.capture(2 * layout.length), frame)
        # radar_block removed its own leakage estimate, which includes a static reflector's echo:
        # putting that back and removing the reflector-free leakage instead leaves echo + noise.
        scale = np.sqrt(block.noise_power)[:, None]
        echo = block.z.T.astype(np.complex128) + (block.leakage - leakage) @ tx_data / scale
        eigenvalues, vectors = np.linalg.eigh(echo @ echo.conj().T / echo.shape[1])
        response = scale[:, 0] * vectors[:, -1]
        responses[i] = response / response[0]
        noise = eigenvalues[:-1].mean()
        snr_db[i] = 10 * np.log10(max(eigenvalues[-1] - noise, 1e-30) / noise)
    return responses, snr_db, used


#: Frames the TX measurement combines: a comm channel in a fade (a Rayleigh draw on a twin) leaves one
#: preamble at a few dB of SNR; 64 frames add 18 dB (Quad-MxFE twins 0 and 3: 2.6 and -2.2 dB per frame).
TX_FRAMES = 64


def tx_response(
    board, comm, scenes: SceneController, *, amplitude: float = 0.3, data: int = 4096, frames: int = TX_FRAMES
) -> tuple[np.ndarray, float, Scene]:
    """The K TX channels' gains toward the comm receiver placed at 0 deg, (K,) complex, element 0 = 1.

    In each of ``frames`` frames the comm receiver's CFO is estimated from the
    pilots and removed; the preamble section is then the K known sequences
    mixed by beta a_tx(0), solved by least squares. Each frame's solution is
    a_tx(0) up to a complex factor (its CFO phase): the combination is the
    principal eigenvector of their sum of outer products. Returns (gains, SNR
    in dB of the combined estimate: the frames' preamble SNRs summed, the
    scene used).
    """
    _check_positive(amplitude, "amplitude")
    if int(frames) != frames or frames < 1:
        raise ValueError(f"frames must be a positive integer, got {frames!r}")
    k = board.profile.num_elements
    layout, frame = calibration_frame(k, data)
    scene = Scene(comm_angle_deg=0.0, comm_amplitude=amplitude, label="comm receiver at 0 deg")
    scenes.set(scene)
    sent = frame[:, layout.preamble_start : layout.pilot_start].astype(np.complex128)
    mixings, snr = [], 0.0
    for _ in range(int(frames)):
        board.send(frame)
        comm.flush()
        rx = comm.capture(2 * layout.length)
        cfo = comm_block(layout, rx, k).cfo_cycles_per_sample
        start = find_frame(layout, rx, k)
        got = rx[start : start + layout.length] * np.exp(-2j * np.pi * cfo * np.arange(layout.length))
        preamble = got[layout.preamble_start : layout.pilot_start] - got[: layout.quiet].mean()
        mixing, residual = np.linalg.lstsq(sent.T, preamble, rcond=None)[:2]
        noise = float(residual[0]) / (preamble.size - k)
        snr += np.mean(np.abs(sent.T @ mixing) ** 2) / noise
        mixings.append(mixing)
    stacked = np.array(mixings)  # (frames, K)
    gains = np.linalg.eigh(stacked.T @ stacked.conj())[1][:, -1]
    return gains / gains[0], float(10 * np.log10(snr)), scene


def calibrate_digital(
    board,
    comm,
    scenes: SceneController,
    *,
    target_amplitude: float = 0.1,
    comm_amplitude: float = 0.3,
    data: int = 4096,
    tx_frames: int = TX_FRAMES,
) -> Calibration:
    """Calibrate a :class:`~isac_ae.hw.device.Transceiver`'s RX and TX channels (module docstring).

    ``comm`` is its :class:`~isac_ae.hw.device.CommReceiver`; ``data``: samples
    per measurement; ``tx_frames``: frames the TX measurement combines. The
    amplitudes set the twin's scene (a bench gives what it gives).
    """
    rx, rx_snr, rx_scenes = rx_responses(board, scenes, [0.0], amplitude=target_amplitude, data=data)
    tx, tx_snr, tx_scene = tx_response(board, comm, scenes, amplitude=comm_amplitude, data=data, frames=tx_frames)
    return Calibration(
        device=board.profile.name,
        num_elements=board.profile.num_elements,
        lo_hz=tuned_lo_hz(board),
        uri=board.uri,
        date=utc_now(),
        method=(
            f"RX: principal eigenvector of the echo covariance of a reflector at 0 deg ({data} samples, "
            f"the leakage measured without it removed); TX: least squares of the comm receiver at 0 deg "
            f"on the {board.profile.num_elements} per-channel preambles (CFO removed) of {tx_frames} frames, "
            "combined as their principal eigenvector"
        ),
        rx_correction=1.0 / rx[0],
        tx_correction=1.0 / tx,
        scenes=tuple(_scene_record(s) for s in (*rx_scenes, tx_scene)),
        diagnostics={
            "rx_snr_db": float(rx_snr[0]),
            "tx_snr_db": float(tx_snr),
            "samples": int(data),
            "tx_frames": int(tx_frames),
        },
    )


# --- the Phaser -----------------------------------------------------------------------------------
def source_tone(length: int = 1024, amplitude: float = 0.5) -> np.ndarray:
    """The bench source's signal for the Pluto's TX: a tone at fs/8 (whole periods in ``length``), full scale 1."""
    return amplitude * np.exp(2j * np.pi * TONE_CYCLES_PER_SAMPLE * np.arange(length))


def tone_amplitudes(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The complex amplitude of the fs/8 tone in each channel of x (C, N), and each channel's noise power
    (what is left after the tone and the DC offset), both (C,). N must be a multiple of 8."""
    n = np.arange(x.shape[-1])
    reference = np.exp(2j * np.pi * TONE_CYCLES_PER_SAMPLE * n)
    amplitude = np.mean(x * reference.conj(), axis=-1)
    residual = x - x.mean(axis=-1, keepdims=True) - amplitude[:, None] * reference
    return amplitude, np.mean(np.abs(residual) ** 2, axis=-1)


def check_samples(samples: int) -> int:
    period = round(1 / TONE_CYCLES_PER_SAMPLE)
    if int(samples) != samples or samples < period or samples % period:
        raise ValueError(f"samples must be a positive multiple of {period} (whole tone periods), got {samples!r}")
    return int(samples)


def phaser_output(phaser, weights: np.ndarray, samples: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Apply receive weights (8,), capture, and return (tone amplitude of each sub-array channel (2,),
    each channel's noise power (2,), the weights the ADAR1000s applied (8,))."""
    applied = phaser.set_weights(weights)
    amplitude, noise = tone_amplitudes(phaser.capture(samples))
    return amplitude, noise, applied


def play_source(phaser, samples: int) -> None:
    """Start the source tone on the Pluto's TX. The first capture after a new TX buffer can predate it (the
    TX-to-RX latency), so one is discarded."""
    phaser.send(source_tone())
    phaser.capture(samples)


def place_source(scenes: SceneController, angle_deg: float, amplitude: float) -> Scene:
    """Put the source at ``angle_deg`` (RMS amplitude on a twin); returns the scene."""
    scene = Scene(targets=(Target(float(angle_deg), amplitude),), label=f"source at {angle_deg:+.2f} deg")
    scenes.set(scene)
    return scene


def subarray_channels(profile) -> np.ndarray:
    """The digital channel (0 = Rx1, 1 = Rx2) each array element k feeds, (K,) int, from the element map."""
    channels = np.full(profile.num_elements, -1)
    for channel, (_, elements) in enumerate(profile.element_map):
        channels[np.asarray(elements) - 1] = channel
    return channels


def calibrate_phaser(
    phaser, scenes: SceneController, *, amplitude: float = 0.1, samples: int = 4096, phase_steps: int = PHASE_CODES
) -> Calibration:
    """Calibrate a :class:`~isac_ae.hw.device.PhaserArray` against a source at boresight (module docstring).

    The Phaser's output is the digital sum Rx1 + Rx2 (as ADI's examples form
    it), so each element's gain is as that sum sees it, its channel's path
    included. Amplitude: |sum| with only element k on at gain code 127.
    Phase: element 0 and element k on, their amplitudes equalised with the
    gain codes, k's phase swept over ``phase_steps`` equally spaced ADAR1000
    codes (128: every code); the power is ``|A_0|^2 + |A_k|^2 + 2 |A_0 A_k|
    cos(phi + delta_k)``, so the null lies 180 deg from the matching phase
    -delta_k. delta_k is the phase of the sweep's first Fourier coefficient,
    the least-squares fit of that sinusoid to all steps, not quantised to the
    2.8 deg step as the sweep's minimum would be.
    """
    _check_positive(amplitude, "amplitude")
    samples = check_samples(samples)
    if int(phase_steps) != phase_steps or phase_steps < 4 or PHASE_CODES % phase_steps:
        raise ValueError(f"phase_steps must divide {PHASE_CODES} and be at least 4, got {phase_steps!r}")
    k = phaser.profile.num_elements
    scene = place_source(scenes, 0.0, amplitude)
    play_source(phaser, samples)
    channels = subarray_channels(phaser.profile)

    def mismatch_db(weights):  # Rx2 over Rx1, dB, as ADI's channel calibration measures it
        y = phaser_output(phaser, weights, samples)[0]
        return float(20 * np.log10(np.abs(y[1]) / np.abs(y[0])))

    uncalibrated_mismatch = mismatch_db(np.ones(k))
    level, snr_db = np.empty(k), np.empty(k)
    for element in range(k):
        y, noise, _ = phaser_output(phaser, np.eye(k)[element], samples)
        level[element] = np.abs(y.sum())
        snr_db[element] = 10 * np.log10(level[element] ** 2 / noise[channels[element]])
    phase = np.zeros(k)
    codes = np.arange(0, PHASE_CODES, PHASE_CODES // int(phase_steps))
    for element in range(1, k):
        first_harmonic = 0j
        for code in codes:
            weights = np.zeros(k, np.complex128)
            weights[0] = 1.0 / level[0]
            weights[element] = np.exp(2j * np.pi * code / PHASE_CODES) / level[element]
            y, _, applied = phaser_output(phaser, weights, samples)
            turn = applied[element] / applied[0]
            first_harmonic += np.abs(y.sum()) ** 2 * np.conj(turn / np.abs(turn))
        phase[element] = np.angle(first_harmonic)
    gain = level / level[0] * np.exp(1j * phase)
    # The two sub-arrays' coherent sums with the corrected weights: equal when the calibration holds.
    calibrated_mismatch = mismatch_db(1.0 / gain)
    return Calibration(
        device=phaser.profile.name,
        num_elements=k,
        lo_hz=tuned_lo_hz(phaser),
        uri=phaser.uri,
        date=utc_now(),
        method=(
            f"CN0566: amplitude of Rx1 + Rx2 with one element on at gain code {ADAR1000_MAX_GAIN_CODE}; "
            f"phase by null search against element 0 over {int(phase_steps)} phase codes (first-harmonic "
            f"fit); source tone at fs/8 at 0 deg, {samples} samples per capture"
        ),
        rx_correction=1.0 / gain,
        tx_correction=None,
        scenes=(_scene_record(scene),),
        diagnostics={
            "element_snr_db": snr_db.tolist(),
            "samples": samples,
            "phase_steps": int(phase_steps),
            "channel_mismatch_db": uncalibrated_mismatch,
            "calibrated_channel_mismatch_db": calibrated_mismatch,
        },
    )
