"""The CN0566 Phaser steered by learned weights: a live beampattern measured over the air.

The Phaser is an analog receive-only array (docs/HARDWARE.md): a learned TX
beam v can be applied to it only as receive weights (reciprocity), quantised
to the ADAR1000's steps. :class:`phaser_beam_scan` scans that beam
electronically across a grid of angles phi, w_k(phi) = v_k exp(+j 2 pi p_k
sin phi), as ADI's Phaser examples scan theirs, and measures the power of
Rx1 + Rx2 (the two sub-arrays) at each phi with the bench's source at a
fixed angle theta_s: P(phi) = |sum_k w_k(phi) a_k(theta_s)|^2 g, the beam's
pattern moved by sin(theta_s) - sin(phi). Next to it, the pattern the core
predicts for the quantised weights on the nominal array. The weights are set
through pyadi-iio's ``adi.CN0566`` (:class:`isac_ae.hw.device.PhaserArray`),
the samples come from gr-iio's source on the Phaser's Pluto.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from gnuradio import gr

from ..array import nominal_positions, steering_matrix
from ..atomic import write_atomically
from . import checks
from .iio_exit import RunClock

__all__ = ["phaser_beam_scan", "scan_weights"]

#: Phaser elements.
K = 8


def scan_weights(beam: np.ndarray, positions: np.ndarray, scan_rad: np.ndarray) -> np.ndarray:
    """The beam (K,) steered to each scan angle (G,): (G, K), w_k(phi) = v_k exp(+j 2 pi p_k sin phi)."""
    return np.asarray(beam)[None, :] * steering_matrix(positions, scan_rad).T.conj()  # steering: (K, G)


class phaser_beam_scan(gr.basic_block):
    """Scans a beam across angles on a CN0566 and measures its pattern; one output vector per sweep.

    The beam is an AE Transmitter's (``model``, K = 8, at the given sectors; the setters change it from the
    next sweep). In: Rx1 and Rx2 of the Phaser's Pluto (complex). Out: measured (vlen G) and predicted
    (vlen G) power per scan angle, dB relative to their peaks. ``settle`` samples are dropped after each
    weight change (what the radio and GNU Radio hold from before), ``integrate`` samples averaged.
    ``sweeps`` > 0 ends the run after that many sweeps; ``json_path`` (optional) receives each sweep.
    """

    def __init__(
        self,
        model: str = "phaser/omega_0.09.safetensors",
        target_sector_deg=None,
        comm_sector_deg=None,
        uri: str = "ip:phaser.local",
        sdr_uri: str = "ip:192.168.2.1",
        scan_deg=(-60.0, 60.0, 2.0),
        source_deg: float = 0.0,
        settle: int = 32768,
        integrate: int = 4096,
        sweeps: int = 0,
        json_path: str = "",
    ):
        first, last, step = (checks.finite_real(x, "scan_deg") for x in scan_deg)
        if not (-90 <= first <= last <= 90 and step > 0):
            raise ValueError(f"scan_deg needs -90 <= first <= last <= 90 and step > 0, got {scan_deg}")
        self.scan_deg = np.arange(first, last + step / 2, step)
        self._source = math.radians(checks.finite_real(source_deg, "source_deg"))
        self._settle = checks.integer(settle, "settle", 0)
        self._integrate = checks.integer(integrate, "integrate", 1)
        self._sweeps = checks.integer(sweeps, "sweeps", 0)
        self._json = str(json_path)
        g = len(self.scan_deg)
        gr.basic_block.__init__(
            self,
            name="phaser_beam_scan",
            in_sig=[np.complex64, np.complex64],
            out_sig=[(np.float32, g), (np.float32, g)],
        )
        from ..hw.device import PhaserArray
        from .ae_transmitters import ae_transmitter

        # the transmitter block's beam logic (sectors in degrees, the model's beamformer), not in the flowgraph
        self._transmitter = ae_transmitter(model, K, 0, target_sector_deg, comm_sector_deg)
        self._phaser = PhaserArray(uri, sdr_uri)
        self._positions = nominal_positions(K)
        self._weights = None  # (G, K) of the sweep in progress
        self._index = self._skip = 0
        self._power: list[float] = []
        self._acc = self._count = 0
        self.sweeps_done = 0
        self.applied = np.zeros((g, K), np.complex128)  # what the ADAR1000s applied in the last sweep
        self._clock = RunClock()

    def start(self) -> bool:
        self._clock.start()
        return True

    def forecast(self, noutput_items, ninputs):
        return [1] * ninputs

    def set_target_sector(self, sector_deg) -> None:
        """The beam's target sector (degrees), from the next sweep."""
        self._transmitter.set_target_sector(sector_deg)

    def set_comm_sector(self, sector_deg) -> None:
        """The beam's comm sector (degrees), from the next sweep."""
        self._transmitter.set_comm_sector(sector_deg)

    def _apply(self, index: int) -> None:
        self.applied[index] = self._phaser.set_weights(self._weights[index] / np.abs(self._weights[index]).max())
        self._skip, self._acc, self._count = self._settle, 0.0, 0

    def predicted_db(self) -> np.ndarray:
        """The pattern of the applied (quantised) weights on the nominal array with the source at source_deg."""
        response = self.applied @ steering_matrix(self._positions, np.array([self._source]))[:, 0]
        power = np.abs(response) ** 2
        return 10 * np.log10(np.maximum(power / power.max(), 1e-12))

    def general_work(self, input_items, output_items):
        rx1, rx2 = input_items
        if self._weights is None:  # a sweep starts with the beam in force
            self._weights = scan_weights(self._transmitter.beam(), self._positions, np.radians(self.scan_deg))
            self._index, self._power = 0, []
            self._apply(0)
        n = min(len(rx1), len(rx2))
        taken = 0
        while taken < n and self._weights is not None:
            if self._skip:
                drop = min(self._skip, n - taken)
                self._skip -= drop
                taken += drop
                continue
            use = min(self._integrate - self._count, n - taken)
            total = rx1[taken : taken + use] + rx2[taken : taken + use]
            self._acc += float(np.sum(np.abs(total) ** 2))
            self._count += use
            taken += use
            if self._count == self._integrate:
                self._power.append(self._acc / self._count)
                self._index += 1
                if self._index < len(self.scan_deg):
                    self._apply(self._index)
                else:
                    self._weights = None  # sweep done: the next work() call starts another
        self.consume(0, taken)
        self.consume(1, taken)
        if self._weights is not None or len(self._power) != len(self.scan_deg):
            return 0
        measured = np.asarray(self._power)
        measured_db = 10 * np.log10(np.maximum(measured / measured.max(), 1e-12))
        output_items[0][0] = measured_db
        output_items[1][0] = self.predicted_db()
        self.sweeps_done += 1
        if self._json:
            record = {
                "scan_deg": self.scan_deg.tolist(),
                "source_deg": math.degrees(self._source),
                "measured_power": measured.tolist(),
                "applied_weights": [[w.real, w.imag] for w in self.applied.reshape(-1)],
                "sweep": self.sweeps_done,
            }
            write_atomically(Path(self._json), json.dumps(record).encode())
        self._power = []
        self.produce(0, 1)
        self.produce(1, 1)
        if self._sweeps and self.sweeps_done >= self._sweeps:
            self._clock.hold_end()
            return gr.WORK_DONE
        return gr.WORK_CALLED_PRODUCE
