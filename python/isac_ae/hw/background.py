"""What the radar side removes from every frame, measured once with the scene empty.

A :class:`Background` holds a digital board's direct TX-to-RX leakage
(K_rx x K_tx, least squares over several frame preambles), each RX channel's
noise power and the comm receiver's noise power, all in full-scale units.
:class:`~isac_ae.hw.link.OverTheAirLink` measures it before its first frame;
``isac-ae hw scene`` measures it and saves it as JSON for the hardware
flowgraphs (``examples/hardware``), whose radar frame receiver then removes
the same leakage and scales by the same noise as the evaluation does.
Measured with a target present, the leakage would also take away a still
reflector's echo (it has the leakage's delay at a bench's range): measure it
with the reflector removed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import write_atomically
from .calibration import CalibrationError, _complex, _pairs, expected_elements, read_json

FORMAT = "isac_ae.background/1"


@dataclass(frozen=True)
class Background:
    """leakage (K_rx, K_tx) complex; noise_power (K_rx,) and comm_noise_power, full-scale power units."""

    device: str
    uri: str
    date: str
    leakage: np.ndarray
    noise_power: np.ndarray
    comm_noise_power: float

    def __post_init__(self):
        leakage, noise = np.asarray(self.leakage), np.asarray(self.noise_power)
        if leakage.ndim != 2 or noise.shape != leakage.shape[:1]:
            raise CalibrationError(
                f"a background needs leakage (K_rx, K_tx) and noise powers (K_rx,); got {leakage.shape}, {noise.shape}"
            )
        if not (np.all(np.isfinite(leakage)) and np.all(np.isfinite(noise)) and np.all(noise > 0)):
            raise CalibrationError("a background's leakage must be finite and its noise powers positive")
        if not (np.isfinite(self.comm_noise_power) and self.comm_noise_power >= 0):
            raise CalibrationError(f"comm noise power must be finite and >= 0, got {self.comm_noise_power}")

    @property
    def num_elements(self) -> int:
        return int(np.shape(self.noise_power)[0])

    def to_dict(self) -> dict:
        leakage = np.asarray(self.leakage)
        return {
            "format": FORMAT,
            "device": self.device,
            "uri": self.uri,
            "date": self.date,
            "units": "full scale 1 (leakage: RX amplitude per TX amplitude; powers: |sample|^2)",
            "leakage_shape": list(leakage.shape),
            "leakage": _pairs(leakage.reshape(-1)),
            "noise_power": [float(p) for p in self.noise_power],
            "comm_noise_power": float(self.comm_noise_power),
        }

    def save(self, path) -> None:
        """Write it as JSON, atomically."""
        write_atomically(Path(path), json.dumps(self.to_dict(), indent=1).encode())

    @classmethod
    def load(cls, path, device: str) -> Background:
        """Read a background of ``device`` (a profile name); CalibrationError naming the file otherwise."""
        path = Path(path)
        expected_k = expected_elements(device)
        data = read_json(path, "background")
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise CalibrationError(f"{path} is not a background (expected format {FORMAT!r}): see `isac-ae hw scene`")
        try:
            shape = tuple(int(n) for n in data["leakage_shape"])
            background = cls(
                device=str(data["device"]),
                uri=str(data["uri"]),
                date=str(data["date"]),
                leakage=_complex(data["leakage"], "leakage", str(path)).reshape(shape),
                noise_power=np.asarray(data["noise_power"], dtype=np.float64),
                comm_noise_power=float(data["comm_noise_power"]),
            )
        except KeyError as exc:
            raise CalibrationError(f"{path}: missing field {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise CalibrationError(f"{path}: {exc}") from None
        if background.device != device:
            raise CalibrationError(f"{path} is the background of a {background.device}, not a {device}")
        if background.num_elements != expected_k:
            raise CalibrationError(f"{path} has {background.num_elements} RX channels, a {device} has {expected_k}")
        return background
