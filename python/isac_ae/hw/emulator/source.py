"""What the emulator's buffers carry: the sample-source interface, the device state it sees, a loopback source.

The server owns the protocol, the quantisation and the sample clock; a
:class:`SampleSource` owns the physics. Per stream device the server keeps one
sample clock (shared by the RX and TX devices of one radio): RX sample ``k`` of
a capture that starts at ``start`` is the device's sample ``start + k``, and a
TX burst handed over at ``start`` leaves the DAC from that sample on. Samples
are complex at full scale +-1 (the server maps +-1 to the converter's codes).
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from .tree import parse_number


class AttrKey(NamedTuple):
    """Where an attribute lives: device (label, else name), channel id or None, direction, kind, name.

    ``kind`` is "attr", "debug" or "buffer"; ``output`` is False for device attributes.
    """

    device: str
    channel: str | None
    output: bool
    kind: str
    name: str


class DeviceState(Mapping):
    """A read-only snapshot of every attribute the emulator serves (all of its contexts).

    Taken when a buffer is read or written, so a source sees one consistent state.
    """

    def __init__(self, values: dict[AttrKey, str]):
        self._values = values

    def __getitem__(self, key: AttrKey) -> str:
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def value(
        self, device: str, name: str, channel: str | None = None, output: bool = False, kind: str = "attr"
    ) -> str:
        """An attribute's text, e.g. ``value("BEAM0", "phase", "voltage1")`` or
        ``value("ad9361-phy", "loopback", kind="debug")``. KeyError if it does not exist."""
        return self._values[AttrKey(device, channel, output, kind, name)]

    def number(
        self, device: str, name: str, channel: str | None = None, output: bool = False, kind: str = "attr"
    ) -> float:
        """An attribute's leading number ("71.000000 dB" -> 71.0)."""
        return parse_number(self.value(device, name, channel, output, kind))

    @property
    def scene(self) -> dict:
        """The scene (see :func:`parse_scene`) as a dict."""
        for key, text in self._values.items():
            if key.kind == "debug" and key.name == SCENE_ATTR:
                return json.loads(text)
        return {}


@dataclass(frozen=True)
class RxRequest:
    """A capture the server needs: ``n`` samples of complex channels ``channels`` of ``device``.

    ``channels`` are complex channel numbers (RX1 = 0), ``start`` the device's
    sample clock at the first sample, ``radio`` the clock's name (the RX and TX
    devices of one transceiver share it).
    """

    radio: str
    device: str
    channels: tuple[int, ...]
    start: int
    n: int
    state: DeviceState


@dataclass(frozen=True)
class TxBurst:
    """A TX buffer handed over on WRITEBUF, or the end of transmission on CLOSE.

    ``samples`` is complex (all TX channels of the device, n), zero on the
    channels the buffer does not enable; it leaves the DAC at sample
    ``start`` of the radio's clock. ``cyclic`` repeats it until the next burst;
    n = 0 (cyclic) means the transmitter stops.
    """

    radio: str
    device: str
    channels: tuple[int, ...]
    start: int
    samples: np.ndarray
    cyclic: bool
    state: DeviceState


@runtime_checkable
class SampleSource(Protocol):
    """The physics behind the emulator's buffers (the loopback below, later the digital twin)."""

    def transmit(self, burst: TxBurst) -> None:
        """Take a TX buffer; called in the order the DAC would play them."""

    def receive(self, request: RxRequest) -> np.ndarray:
        """The RX samples of ``request``: complex, full scale +-1, shape (len(channels), n)."""


#: Debug attribute (on each context's control device) holding the scene as JSON text.
SCENE_ATTR = "isac_ae,scene"
#: The empty scene: nothing in front of the array.
DEFAULT_SCENE = '{"targets": []}'
#: Longest scene text: libiio reads attribute values into 1024-byte buffers (with the NUL).
SCENE_MAX_BYTES = 1023


def parse_scene(text: str) -> str:
    """Check a scene written by a client; return it normalised (compact JSON).

    A scene is a JSON object with (all optional):
      ``targets``: list of ``{"angle_deg": a, "range_m": r, "amplitude": g}``, a in [-90, 90]
      degrees, r > 0 metres, g >= 0 (linear, full scale), only ``angle_deg`` required;
      ``comm_angle_deg``: the comm receiver's angle in [-90, 90] degrees;
      ``comm_amplitude``: its channel amplitude (>= 0, linear, full scale).
    Anything else is refused, so a typing error cannot pass silently.
    """
    try:
        scene = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"scene is not JSON: {exc}") from exc
    if not isinstance(scene, dict):
        raise ValueError("scene must be a JSON object")
    unknown = set(scene) - {"targets", "comm_angle_deg", "comm_amplitude"}
    if unknown:
        raise ValueError(f"unknown scene keys {sorted(unknown)}")
    targets = scene.get("targets", [])
    if not isinstance(targets, list):
        raise ValueError("targets must be a list")
    for target in targets:
        if not isinstance(target, dict) or "angle_deg" not in target:
            raise ValueError("each target is an object with angle_deg")
        if set(target) - {"angle_deg", "range_m", "amplitude"}:
            raise ValueError(f"unknown target keys {sorted(set(target) - {'angle_deg', 'range_m', 'amplitude'})}")
        _check_angle(target["angle_deg"], "angle_deg")
        if "range_m" in target and not (_is_number(target["range_m"]) and target["range_m"] > 0):
            raise ValueError("range_m must be a number > 0")
        if "amplitude" in target and not (_is_number(target["amplitude"]) and target["amplitude"] >= 0):
            raise ValueError("amplitude must be a number >= 0")
    if "comm_angle_deg" in scene:
        _check_angle(scene["comm_angle_deg"], "comm_angle_deg")
    if "comm_amplitude" in scene and not (_is_number(scene["comm_amplitude"]) and scene["comm_amplitude"] >= 0):
        raise ValueError("comm_amplitude must be a number >= 0")
    compact = json.dumps(scene, separators=(",", ":"))
    if len(compact.encode()) > SCENE_MAX_BYTES:
        raise ValueError(f"scene longer than {SCENE_MAX_BYTES} bytes")
    return compact


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_angle(value, name: str) -> None:
    if not (_is_number(value) and -90.0 <= value <= 90.0):
        raise ValueError(f"{name} must be a number of degrees in [-90, 90]")


class LoopbackSource:
    """TX looped to RX: ``rx_k[t] = gain_k tx_k[t - latency] + noise``, like the AD9361's digital loopback.

    TX channel k feeds RX channel k of the same radio (RX channels without a
    TX channel get noise only). ``latency`` is in samples, ``gain`` a complex
    scalar or one per channel, ``noise_std`` the standard deviation of each of
    I and Q (full scale 1); noise is drawn from one generator seeded by ``seed``.
    """

    def __init__(
        self, latency: int = 50, gain: complex | Sequence[complex] = 0.5, noise_std: float = 1e-3, seed: int = 0
    ):
        if latency < 0:
            raise ValueError("latency must be >= 0 samples")
        if noise_std < 0:
            raise ValueError("noise_std must be >= 0")
        self.latency = int(latency)
        self.gain = np.atleast_1d(np.asarray(gain, dtype=np.complex64))
        self.noise_std = float(noise_std)
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        # per radio: the cyclic buffer (start, samples) or the queue of one-shot bursts
        self._cyclic: dict[str, tuple[int, np.ndarray]] = {}
        self._bursts: dict[str, list[tuple[int, np.ndarray]]] = {}

    def _gain(self, channel: int) -> np.complex64:
        return self.gain[channel] if self.gain.size > 1 else self.gain[0]

    def transmit(self, burst: TxBurst) -> None:
        with self._lock:
            if burst.cyclic:
                self._bursts.pop(burst.radio, None)
                if burst.samples.shape[1]:
                    self._cyclic[burst.radio] = (burst.start, burst.samples)
                else:
                    self._cyclic.pop(burst.radio, None)
            else:
                self._cyclic.pop(burst.radio, None)
                self._bursts.setdefault(burst.radio, []).append((burst.start, burst.samples))

    def receive(self, request: RxRequest) -> np.ndarray:
        n, k = request.n, len(request.channels)
        with self._lock:
            if self.noise_std > 0:
                # float32 draws: half the cost of float64 and far finer than a 12-bit ADC
                noise = self._rng.standard_normal((k, 2 * n), dtype=np.float32)
                out = noise.view(np.complex64)
                out *= self.noise_std
            else:
                out = np.zeros((k, n), np.complex64)
            first = request.start - self.latency
            cyclic = self._cyclic.get(request.radio)
            bursts = self._bursts.get(request.radio, [])
            # one-shot bursts that ended before this window are never needed again
            bursts[:] = [b for b in bursts if b[0] + b[1].shape[1] > first]
            for row, channel in enumerate(request.channels):
                if cyclic is not None and channel < cyclic[1].shape[0]:
                    start, buf = cyclic
                    t = np.arange(max(first, start), first + n)
                    out[row, t - first] += self._gain(channel) * buf[channel, (t - start) % buf.shape[1]]
                for start, buf in bursts:
                    if channel >= buf.shape[0]:
                        continue
                    lo, hi = max(first, start), min(first + n, start + buf.shape[1])
                    if lo < hi:
                        out[row, lo - first : hi - first] += self._gain(channel) * buf[channel, lo - start : hi - start]
        return out
