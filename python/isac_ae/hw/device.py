"""The hardware layer: the boards of :mod:`isac_ae.hw.profiles` through pyadi-iio's own classes.

One class per role, whatever stands behind the URI (a board or the IIO emulator):

* :class:`Transceiver`: a fully digital board (``pluto2``: ``adi.ad9361`` 2R2T,
  ``fmcomms5``: ``adi.FMComms5``, ``quadmxfe``: ``adi.QuadMxFE``) sending a
  cyclic K-channel TX buffer and capturing K RX channels;
* :class:`CommReceiver`: the separate one-antenna comm receiver (a Pluto);
* :class:`PhaserArray`: the CN0566 (``adi.CN0566``) with its Pluto
  (``adi.ad9361``): analog receive weights on 8 elements, 2 sub-array channels.

Samples cross this layer as complex arrays at full scale 1 (the DAC's and
ADC's codes are scaled here), shape (channels, samples). Every failure to
reach or configure a device is a :class:`DeviceError` with one line that says
what to check. Importing this module does not import pyadi-iio; opening a
device does.
"""

from __future__ import annotations

import contextlib
import re
import socket
from typing import Optional

import numpy as np

from .profiles import DeviceProfile
from .profiles import profile as get_profile

_URI = re.compile(r"^(ip:[^\s]+|usb:[0-9.]*|local:|serial:[^\s]+)$")
#: pyadi-iio class per digital profile.
_CLASSES = {"pluto2": "ad9361", "fmcomms5": "FMComms5", "quadmxfe": "QuadMxFE"}
#: Signed code of full scale per converter word: 12-bit AD9361 ADC samples, 16-bit DAC words everywhere.
_RX_FULL_SCALE = {"pluto2": 2048.0, "fmcomms5": 2048.0, "quadmxfe": 32768.0, "phaser": 2048.0}
#: +-1.0 maps to the largest int16 code (32768 would wrap at exactly full scale).
_TX_FULL_SCALE = 32767.0
#: iiod's TCP port, what an ip: URI without a port reaches.
IIOD_PORT = 30431


class DeviceError(RuntimeError):
    """A device that cannot be reached, is not what the profile says, or refuses a setting."""


def check_uri(uri: str) -> str:
    """``uri`` if it is a libiio URI (ip:HOST[:PORT], usb:[BUS.DEV.IF], local:, serial:...), else DeviceError."""
    if not isinstance(uri, str) or not _URI.match(uri):
        raise DeviceError(f"{uri!r} is not a libiio URI (expected ip:HOST[:PORT], usb:[BUS.DEV.INTF] or local:)")
    return uri


def next_port_uri(uri: str) -> str:
    """The URI one port up (``ip:HOST:PORT`` -> ``ip:HOST:PORT+1``): where the emulator serves a board's second
    context (the Phaser's Pluto, a digital board's comm receiver)."""
    match = re.match(r"^ip:(.+):(\d+)$", uri)
    if not match:
        raise DeviceError(f"{uri} names no port, so the second context's URI cannot be derived: give it explicitly")
    return f"ip:{match.group(1)}:{int(match.group(2)) + 1}"


def _probe(uri: str) -> None:
    """For an ``ip:`` URI, refuse at once (one line) when nothing listens there; libiio would say "No device"."""
    match = re.match(r"^ip:(\[[^\]]+\]|[^:]+)(?::(\d+))?$", uri)
    if not match:
        return
    host, port = match.group(1).strip("[]"), int(match.group(2) or IIOD_PORT)
    try:
        with socket.create_connection((host, port), timeout=5.0):
            pass
    except OSError as exc:
        raise DeviceError(
            f"nothing answers at {uri} ({exc.strerror or exc}): is the board on the network, or "
            "`isac-ae hw emulate` running?"
        ) from exc


def _io(what: str, uri: str, call, *args):
    """Run a libiio operation; a device that drops off mid-run is a DeviceError (one line), not a traceback."""
    try:
        return call(*args)
    except (OSError, TimeoutError) as exc:
        raise DeviceError(
            f"{uri}: {what} failed ({getattr(exc, 'strerror', None) or exc}): did the device drop off?"
        ) from exc


def _open(class_name: str, uri: str, **kwargs):
    import adi

    check_uri(uri)
    _probe(uri)
    try:
        return getattr(adi, class_name)(uri=uri, **kwargs)
    except (OSError, ConnectionError) as exc:
        raise DeviceError(
            f"cannot reach {uri} ({exc.strerror or exc}): is the board plugged in, or `isac-ae hw emulate` running?"
        ) from exc
    except Exception as exc:  # pyadi-iio raises bare Exceptions for a context that lacks its devices
        raise DeviceError(f"{uri} is not a device adi.{class_name} can drive: {exc}") from exc


class Transceiver:
    """A fully digital K-element board: cyclic TX on K channels, captures on K RX channels."""

    def __init__(
        self,
        profile: str | DeviceProfile,
        uri: str,
        lo_hz: Optional[float] = None,
        sample_rate_hz: Optional[float] = None,
        rx_gain_db: float = 30.0,
    ):
        self.profile = get_profile(profile) if isinstance(profile, str) else profile
        if self.profile.name not in _CLASSES:
            raise DeviceError(
                f"the {self.profile.name} profile is not a digital transceiver (choose one of {', '.join(_CLASSES)})"
            )
        self.uri = uri
        self.dev = _open(_CLASSES[self.profile.name], uri)
        k = self.profile.num_elements
        rx, tx = len(self.dev.rx_channel_names) // 2, len(self.dev.tx_channel_names) // 2
        if rx < k or tx < k:
            raise DeviceError(
                f"{uri} has {rx} RX and {tx} TX channels; the {self.profile.name} profile needs {k} "
                "of each (a Pluto must be in 2R2T mode)"
            )
        self.rx_full_scale = _RX_FULL_SCALE[self.profile.name]
        try:
            self._configure(lo_hz, sample_rate_hz, rx_gain_db)
        except (OSError, ValueError) as exc:
            raise DeviceError(f"{uri} refused a setting: {exc}") from exc

    def _configure(self, lo_hz, sample_rate_hz, rx_gain_db) -> None:
        p, dev, k = self.profile, self.dev, self.profile.num_elements
        if p.name != "quadmxfe":  # AD9361 boards: rate, LOs and manual gains; the MxFE keeps its JESD set-up
            dev.sample_rate = int(sample_rate_hz or p.default_sample_rate_hz)
            dev.rx_lo = dev.tx_lo = int(lo_hz or p.default_lo_hz)
            for name in [n for n in dir(type(dev)) if n.startswith("gain_control_mode_chan")]:
                setattr(dev, name, "manual")
            for name in [n for n in dir(type(dev)) if n.startswith("rx_hardwaregain_chan")]:
                setattr(dev, name, rx_gain_db)
        dev.rx_enabled_channels = list(range(k))
        dev.tx_enabled_channels = list(range(k))
        dev.tx_cyclic_buffer = True
        # One kernel buffer: a capture never predates the TX frame or the scene it is meant to see.
        dev._rxadc.set_kernel_buffers_count(1)

    def send(self, frame: np.ndarray) -> None:
        """Transmit ``frame`` (K, L) complex, full scale 1, as a cyclic buffer (replacing the previous one)."""
        frame = np.asarray(frame)
        if frame.shape[0] != self.profile.num_elements:
            raise ValueError(f"a frame for {self.profile.num_elements} TX channels, got {frame.shape[0]}")
        _io("transmitting", self.uri, self._send, frame)

    def _send(self, frame: np.ndarray) -> None:
        self.dev.tx_destroy_buffer()
        self.dev.tx([row * _TX_FULL_SCALE for row in frame])
        self.dev.rx_destroy_buffer()  # the next capture starts after the new frame is on the air

    def capture(self, samples: int) -> np.ndarray:
        """``samples`` from each RX channel, (K, samples) complex, full scale 1."""
        if self.dev.rx_buffer_size != samples:
            self.dev.rx_destroy_buffer()
            self.dev.rx_buffer_size = samples
        return np.asarray(self.dev.rx(), dtype=np.complex128).reshape(self.profile.num_elements, samples) / (
            self.rx_full_scale
        )

    def close(self) -> None:
        self.dev.tx_destroy_buffer()
        self.dev.rx_destroy_buffer()


class CommReceiver:
    """The one-antenna comm receiver: a Pluto (``adi.Pluto``) capturing its RX1.

    It must sample at the board's rate; a Pluto reaches 61.44 MS/s, so a
    Quad-MxFE bench needs another receiver at its rate (e.g. a spare MxFE RX
    channel on a separate antenna). The twin maps samples one to one and so
    runs the Pluto at its own default rate.
    """

    def __init__(self, uri: str, lo_hz: float, sample_rate_hz: float, rx_gain_db: float = 30.0):
        self.uri = uri
        self.dev = _open("Pluto", uri)
        try:
            self.dev.sample_rate = int(sample_rate_hz)
            self.dev.rx_lo = int(lo_hz)
            self.dev.gain_control_mode_chan0 = "manual"
            self.dev.rx_hardwaregain_chan0 = rx_gain_db
            self.dev.rx_enabled_channels = [0]
            self.dev._rxadc.set_kernel_buffers_count(1)
        except (OSError, ValueError) as exc:
            raise DeviceError(f"{uri} refused a setting: {exc}") from exc

    def capture(self, samples: int) -> np.ndarray:
        """(samples,) complex, full scale 1."""
        return _io("capturing", self.uri, self._capture, samples)

    def _capture(self, samples: int) -> np.ndarray:
        if self.dev.rx_buffer_size != samples:
            self.dev.rx_destroy_buffer()
            self.dev.rx_buffer_size = samples
        return np.asarray(self.dev.rx(), dtype=np.complex128).reshape(samples) / _RX_FULL_SCALE["pluto2"]

    def flush(self) -> None:
        """Drop what the receiver captured before now (a new frame or scene is on the air)."""
        _io("flushing", self.uri, self.dev.rx_destroy_buffer)

    def close(self) -> None:
        with contextlib.suppress(OSError, TimeoutError):
            self.dev.rx_destroy_buffer()


class PhaserArray:
    """The CN0566 Phaser: 8 analog receive weights (two ADAR1000) summed into its Pluto's 2 RX channels.

    ``uri`` reaches the CN0566, ``sdr_uri`` its Pluto (default: the next port,
    as the emulator serves it). The Pluto's TX channel 0 drives the bench's
    source (a horn at a known angle), or the twin's.
    """

    def __init__(
        self, uri: str, sdr_uri: Optional[str] = None, lo_hz: Optional[float] = None, rx_gain_db: float = 30.0
    ):
        self.profile = get_profile("phaser")
        self.uri = uri
        sdr_uri = sdr_uri or next_port_uri(uri)
        self.sdr = _open("ad9361", sdr_uri)
        self.dev = _open("CN0566", uri, sdr=self.sdr)
        try:
            self.dev.configure(device_mode="rx")
            self.sdr.sample_rate = int(self.profile.default_sample_rate_hz)
            self.sdr.gain_control_mode_chan0 = self.sdr.gain_control_mode_chan1 = "manual"
            self.sdr.rx_hardwaregain_chan0 = self.sdr.rx_hardwaregain_chan1 = rx_gain_db
            self.sdr.rx_enabled_channels = [0, 1]
            self.sdr.tx_enabled_channels = [0]
            self.sdr.tx_cyclic_buffer = True
            self.sdr._rxadc.set_kernel_buffers_count(1)
            for k in range(self.profile.num_elements):
                element = self.dev.elements.get(k + 1)
                element.rx_enable = True
                element.rx_attenuator = False
        except (OSError, ValueError) as exc:
            raise DeviceError(f"{uri} refused a setting: {exc}") from exc
        self.weights = np.zeros(self.profile.num_elements, np.complex128)

    def set_weights(self, weights: np.ndarray) -> np.ndarray:
        """Apply receive weights (8,) complex (element k at array index k); returns the weights actually
        applied, quantised to the ADAR1000's 2.8125 deg phase steps and 0..127 gain codes."""
        import torch

        from ..impairments import adar1000_codes, adar1000_weights

        w = torch.as_tensor(np.asarray(weights, np.complex128))
        if w.shape != (self.profile.num_elements,):
            raise ValueError(f"the Phaser takes {self.profile.num_elements} weights, got shape {tuple(w.shape)}")
        gain, phase = adar1000_codes(w)
        for k in range(self.profile.num_elements):
            self.dev.set_chan_gain(k, int(gain[k]), apply_cal=False)
            self.dev.set_chan_phase(k, float(phase[k]) * self.profile.weight_phase_step_deg, apply_cal=False)
        self.dev.latch_rx_settings()
        self.sdr.rx_destroy_buffer()  # the next capture sees the new weights
        self.weights = adar1000_weights(gain, phase).numpy()
        return self.weights

    def send(self, samples: np.ndarray) -> None:
        """The bench source's signal on the Pluto's TX1, (L,) complex, full scale 1, cyclic."""
        self.sdr.tx_destroy_buffer()
        self.sdr.tx(np.asarray(samples) * _TX_FULL_SCALE)
        self.sdr.rx_destroy_buffer()

    def capture(self, samples: int) -> np.ndarray:
        """The two sub-array sums, (2, samples) complex, full scale 1."""
        return _io("capturing", self.uri, self._capture, samples)

    def _capture(self, samples: int) -> np.ndarray:
        if self.sdr.rx_buffer_size != samples:
            self.sdr.rx_destroy_buffer()
            self.sdr.rx_buffer_size = samples
        return np.asarray(self.sdr.rx(), dtype=np.complex128).reshape(2, samples) / _RX_FULL_SCALE["phaser"]

    def close(self) -> None:
        """Stop the source's cyclic TX and release the Pluto's buffers; safe on a device already gone."""
        with contextlib.suppress(OSError, TimeoutError):
            self.sdr.tx_destroy_buffer()
            self.sdr.rx_destroy_buffer()
