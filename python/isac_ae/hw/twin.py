"""Digital twins of the device profiles: a seeded hidden truth and the physics of a bench.

A twin is what stands in for a board on a machine without one. Its
:class:`TwinTruth` is a seeded realisation of the profile's typical
impairments (:mod:`isac_ae.hw.profiles`): the array model (per-element TX/RX
gains, positions, coupling), a TX-to-RX latency, the direct TX-to-RX leakage
of a monostatic board, DC offsets, the noise floor, and the comm receiver's
latency and carrier-frequency offset. It is used two ways:

* in-process (:meth:`DigitalTwin.radar_channel`, :meth:`DigitalTwin.comm_channel`):
  the core's channels of eq. (1) and (2) seen through the board's array model,
  snapshot by snapshot, fast enough to train and evaluate on;
* behind the IIO emulator (:class:`TwinSource`): sample by sample, from the
  TX buffers a client sends to the RX buffers it reads, with the latency,
  leakage, DC offset, CFO and converter quantisation a real capture has, so
  the code that copes with them (:mod:`isac_ae.hw.frames`) is exercised.

The scene (what is in front of the array) is the emulator's scene attribute
(:func:`isac_ae.hw.emulator.source.parse_scene`): targets with an angle and an
RMS amplitude (Swerling 1: a new CN(0, amplitude^2) gain every sample, the
paper's model), the comm receiver's angle and its RMS channel amplitude
(Rayleigh, drawn anew whenever the scene changes: block fading). Amplitudes
and noise are in DAC/ADC full-scale units.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ..channels import CommChannel, RadarChannel
from ..impairments import ArrayModel
from ..scenario import Scenario
from .emulator.profiles import COMM_RADIO
from .profiles import DeviceProfile
from .profiles import profile as get_profile

_TRUTH_FORMAT = "isac_ae.twin_truth/1"
_TRUTH_STREAM = 7  # seed stream of the signal-level truth (the array uses its own)


@dataclass(frozen=True)
class TwinTruth:
    """The hidden impairments of one simulated board (what calibration tries to recover).

    array: the board's ArrayModel (K elements); latency: TX-to-RX samples;
    leakage: (K_rx, K_tx) complex direct coupling; dc_offset: (K_rx,) complex;
    noise_power: complex noise power per RX sample (full scale 1);
    comm_latency: samples from the board's DAC to the comm receiver's ADC;
    comm_cfo: the comm receiver's carrier-frequency offset, cycles per sample;
    comm_noise_power: as noise_power, at the comm receiver.
    """

    profile: str
    seed: int
    array: ArrayModel
    latency: int
    leakage: np.ndarray
    dc_offset: np.ndarray
    noise_power: float
    comm_latency: int
    comm_cfo: float
    comm_noise_power: float

    @classmethod
    def draw(cls, profile: DeviceProfile, seed: int, lo_hz: Optional[float] = None) -> "TwinTruth":
        """A seeded board of ``profile`` with its typical impairment magnitudes."""
        array = profile.draw_array(seed, lo_hz)
        rng = np.random.default_rng([seed, _TRUTH_STREAM])
        k_rx, k_tx = profile.rx_channels, profile.tx_channels
        leakage_db = rng.uniform(-30.0, -20.0, (k_rx, k_tx))
        leakage = 10 ** (leakage_db / 20) * np.exp(2j * np.pi * rng.random((k_rx, k_tx)))
        dc = 10 ** (profile.dc_offset_dbfs / 20) * np.exp(2j * np.pi * rng.random(k_rx))
        lo = profile.default_lo_hz if lo_hz is None else lo_hz
        cfo_hz = rng.uniform(-1.0, 1.0) * 2 * profile.reference_ppm * 1e-6 * lo
        # The frame's pilot halves (H = 512) resolve +-1/(2H) ~ +-1e-3 cycles per sample; two boards with
        # free-running references are further apart (tens of kHz at 2.4 GHz) and must share a reference
        # or be tuned first. The twin models that residual: at most 4e-4 cycles per sample.
        cfo = float(np.clip(cfo_hz / profile.default_sample_rate_hz, -4e-4, 4e-4))
        return cls(
            profile=profile.name,
            seed=int(seed),
            array=array,
            latency=int(rng.integers(*profile.latency_samples)),
            leakage=leakage,
            dc_offset=dc,
            noise_power=1e-5,
            comm_latency=int(rng.integers(*profile.latency_samples)),
            comm_cfo=cfo,
            comm_noise_power=1e-5,
        )

    def to_dict(self) -> dict:
        """JSON-able (complex values as [re, im] pairs), for ``--truth-json``."""
        pairs = lambda a: np.stack([np.real(a), np.imag(a)], -1).tolist()  # noqa: E731
        return {
            "format": _TRUTH_FORMAT,
            "profile": self.profile,
            "seed": self.seed,
            "array": self.array.to_dict(),
            "latency": self.latency,
            "leakage": pairs(self.leakage),
            "dc_offset": pairs(self.dc_offset),
            "noise_power": self.noise_power,
            "comm_latency": self.comm_latency,
            "comm_cfo": self.comm_cfo,
            "comm_noise_power": self.comm_noise_power,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "TwinTruth":
        if not isinstance(data, dict) or data.get("format") != _TRUTH_FORMAT:
            raise ValueError(f"not a twin truth: expected a dict with format {_TRUTH_FORMAT!r}")
        cplx = lambda v: np.asarray(v, float)[..., 0] + 1j * np.asarray(v, float)[..., 1]  # noqa: E731
        return cls(
            profile=data["profile"],
            seed=int(data["seed"]),
            array=ArrayModel.from_dict(data["array"]),
            latency=int(data["latency"]),
            leakage=cplx(data["leakage"]),
            dc_offset=cplx(data["dc_offset"]),
            noise_power=float(data["noise_power"]),
            comm_latency=int(data["comm_latency"]),
            comm_cfo=float(data["comm_cfo"]),
            comm_noise_power=float(data["comm_noise_power"]),
        )

    def write_json(self, path: Path) -> None:
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1))
        tmp.replace(path)


class DigitalTwin:
    """A simulated board: its profile, its hidden truth, and the in-process channels it implies."""

    def __init__(
        self,
        profile: str | DeviceProfile,
        seed: int = 0,
        truth: Optional[TwinTruth] = None,
        lo_hz: Optional[float] = None,
    ):
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        self.truth = truth if truth is not None else TwinTruth.draw(self.profile, seed, lo_hz)
        if self.truth.profile != self.profile.name:
            raise ValueError(f"the truth belongs to a {self.truth.profile} twin, not {self.profile.name}")

    def radar_channel(self, scenario: Scenario, device="cpu") -> RadarChannel:
        """Eq. (1) through the board's array model, one draw per snapshot (N0 = 1, the scenario's SNR)."""
        self.profile.check_scenario(scenario)
        return RadarChannel(scenario, device=device, array=self.truth.array.to(device))

    def comm_channel(self, scenario: Scenario, device="cpu") -> CommChannel:
        """Eq. (2) through the board's TX manifold."""
        self.profile.check_scenario(scenario)
        return CommChannel(scenario, device=device, array=self.truth.array.to(device))

    def source(self) -> "TwinSource":
        """The sample-level physics for the IIO emulator."""
        return TwinSource(self.truth, self.profile)


#: Streamed TX buffers a twin keeps for readers that lag behind (the oldest are dropped first).
MAX_STREAMED_BURSTS = 256


class TwinSource:
    """The emulator's :class:`~isac_ae.hw.emulator.source.SampleSource` for a twin.

    Digital boards: RX of the board's radio = leakage @ tx(t - L) + the
    targets' echoes alpha_n a_rx(theta) a_tx(theta)^T tx(t - L) + DC + noise;
    with the AD9361's ``loopback`` debug attribute at 1, RX = TX(t - L)
    (digital loopback, used to find the latency). The comm receiver's radio
    (:data:`COMM_RADIO`) hears beta a_tx(vartheta)^T tx(t - L_c), turned by
    its CFO. Phaser: the Pluto's RX channel c is the sum over sub-array c of
    the ADAR1000 weights times the elements' response to a source at each
    target angle radiating the Pluto's TX channel 0.
    """

    def __init__(self, truth: TwinTruth, profile: DeviceProfile):
        self.truth = truth
        self.profile = profile
        self.array = truth.array.to(dtype=torch.float64)
        self._lock = threading.Lock()
        self._tx: dict[str, tuple[int, np.ndarray]] = {}  # radio -> (start, cyclic samples (K_tx, L))
        self._bursts: dict[str, list[tuple[int, np.ndarray]]] = {}  # radio -> streamed (start, samples)
        self._heard: dict[str, int] = {}  # radio -> first TX sample its last RX read could hear
        self._rng = np.random.default_rng([truth.seed, _TRUTH_STREAM + 1])
        self._scene_text: Optional[str] = None
        self._beta = 0j

    # -- SampleSource ------------------------------------------------------------
    def transmit(self, burst) -> None:
        with self._lock:
            samples = np.asarray(burst.samples, np.complex128)
            if burst.cyclic:
                self._bursts.pop(burst.radio, None)
                if samples.shape[1] == 0:
                    self._tx.pop(burst.radio, None)
                else:
                    self._tx[burst.radio] = (burst.start, samples)
            else:
                self._tx.pop(burst.radio, None)
                bursts = self._bursts.setdefault(burst.radio, [])
                bursts.append((burst.start, samples))
                # every reader has heard what ended before the slowest one's last read
                heard = min(self._heard.values(), default=0)
                bursts[:] = [b for b in bursts if b[0] + b[1].shape[1] > heard][-MAX_STREAMED_BURSTS:]

    def receive(self, request) -> np.ndarray:
        with self._lock:
            scene = request.state.scene
            latency = self.truth.comm_latency if request.radio == COMM_RADIO else self.truth.latency
            self._heard[request.radio] = request.start - latency
            if request.radio == COMM_RADIO:
                out = self._comm(request, scene)
            elif self.profile.beamforming == "analog":
                out = self._phaser(request, scene)
            else:
                out = self._board(request, scene)
        return out.astype(np.complex64)

    def comm_gain(self) -> complex:
        """The comm channel's fading gain beta of the current scene (the truth a test compares with), full scale."""
        with self._lock:
            return complex(self._beta)

    # -- physics ---------------------------------------------------------------------
    def _board_tx(self, first: int, n: int) -> np.ndarray:
        """What the board's DACs send at samples first .. first+n-1, (K_tx, n); silence before any burst.

        A cyclic buffer is taken as having always been on air (its periodic
        extension): the emulator keeps one sample clock per radio and does not
        pace them against each other, so another radio (the comm receiver)
        can only hear the board as a steady periodic signal, as it would once
        the buffer has been running for a while. Streamed (one-shot) buffers
        play once each, from the sample the emulator placed them at, and
        silence in between (the DAC underflows); the emulator paces every
        reader against a streaming transmitter, so all radios hear them.
        """
        tx = np.zeros((self.profile.tx_channels, n), np.complex128)
        radios = [r for r in self._tx if r != COMM_RADIO]
        if radios:
            start, samples = self._tx[radios[0]]
            t = np.arange(first, first + n)
            rows = min(samples.shape[0], tx.shape[0])
            tx[:rows] = samples[:rows, (t - start) % samples.shape[1]]
        for radio, bursts in self._bursts.items():
            if radio == COMM_RADIO:
                continue
            for start, samples in bursts:
                lo, hi = max(first, start), min(first + n, start + samples.shape[1])
                if lo < hi:
                    rows = min(samples.shape[0], tx.shape[0])
                    tx[:rows, lo - first : hi - first] += samples[:rows, lo - start : hi - start]
        return tx

    def _noise(self, rows: int, n: int, power: float) -> np.ndarray:
        return np.sqrt(power / 2) * (self._rng.standard_normal((rows, n)) + 1j * self._rng.standard_normal((rows, n)))

    def _manifolds(self, angle_deg: float) -> tuple[np.ndarray, np.ndarray]:
        theta = torch.tensor(np.radians(angle_deg), dtype=torch.float64)
        return self.array.steering_tx(theta).numpy(), self.array.steering_rx(theta).numpy()

    def _board(self, request, scene: dict) -> np.ndarray:
        rows, n, t = list(request.channels), request.n, self.truth
        tx = self._board_tx(request.start - t.latency, n)
        if _is_loopback(request.state):
            return tx[rows] if max(rows) < tx.shape[0] else np.zeros((len(rows), n))
        rx = t.leakage @ tx + t.dc_offset[:, None]
        for target in scene.get("targets", []):
            a_tx, a_rx = self._manifolds(target["angle_deg"])
            alpha = target.get("amplitude", 0.0) * self._noise(1, n, 1.0)[0]
            rx += np.outer(a_rx, alpha * (a_tx @ tx))
        rx += self._noise(rx.shape[0], n, t.noise_power)
        return rx[rows]

    def _comm(self, request, scene: dict) -> np.ndarray:
        t, n = self.truth, request.n
        text = json.dumps(scene, sort_keys=True)
        if text != self._scene_text:  # block fading: a new channel realisation for every scene
            self._scene_text = text
            self._beta = scene.get("comm_amplitude", 0.0) * self._noise(1, 1, 1.0)[0, 0]
        rx = self._noise(1, n, t.comm_noise_power)[0]
        if "comm_angle_deg" in scene:
            a_tx, _ = self._manifolds(scene["comm_angle_deg"])
            samples = np.arange(request.start, request.start + n)
            rx += (
                self._beta
                * (a_tx @ self._board_tx(request.start - t.comm_latency, n))
                * np.exp(2j * np.pi * t.comm_cfo * samples)
            )
        return np.tile(rx, (len(request.channels), 1))

    def _phaser(self, request, scene: dict) -> np.ndarray:
        t, n = self.truth, request.n
        weights = phaser_weights(request.state, self.profile)  # (2, 8): sub-array c's weight on element k
        source = self._board_tx(request.start - t.latency, n)[0]
        rx = self._noise(2, n, t.noise_power) + t.dc_offset[:, None]
        for target in scene.get("targets", []):
            _, a_rx = self._manifolds(target["angle_deg"])
            rx += np.outer(weights @ a_rx, target.get("amplitude", 0.0) * source)
        return rx[list(request.channels)]


def _is_loopback(state) -> bool:
    try:
        return state.value("ad9361-phy", "loopback", kind="debug").strip() == "1"
    except KeyError:
        return False


def phaser_weights(state, profile: DeviceProfile) -> np.ndarray:
    """The receive weights the two ADAR1000s apply, (2, 8) complex: row c sums sub-array c (BEAM0, BEAM1).

    Element e (1..8) of the map is array index e - 1; a channel's weight is
    (gain code / 127) exp(j phase), zero when powered down.
    """
    weights = np.zeros((2, profile.num_elements), np.complex128)
    for row, (label, elements) in enumerate(profile.element_map):
        for k, element in enumerate(elements):
            channel = f"voltage{k}"
            if state.value(label, "powerdown", channel).strip() == "1":
                continue
            code = state.number(label, "hardwaregain", channel)
            phase = np.radians(state.number(label, "phase", channel))
            weights[row, element - 1] = code / 127.0 * np.exp(1j * phase)
    return weights
