"""The C++ fixed-beam transmitter and the model-based baseline transmitter built on it.

The beam maths stays in the Python core (:mod:`isac_ae.baselines.beams`); the C++
block only applies ``y = x(m) w``.
"""

from __future__ import annotations

import math

import numpy as np
from gnuradio import gr

from ..baselines import isac_beam, ls_beam, qam_constellation
from ..scenario import Scenario
from . import checks
from .cpp_common import complex_list, module


def weights_transmitter(K: int, constellation, weights):
    """In: message index (byte). Out: y = constellation[m] * weights, v = weights (vlen K).

    Setters (thread-safe, while running): ``set_weights``, ``set_constellation``.
    An index >= len(constellation) gives y = 0 and one logged warning.
    """
    return module().weights_transmitter(
        checks.integer(K, "K", 1, checks.MAX_ANTENNAS),
        complex_list(constellation, "constellation"),
        complex_list(weights, "weights"),
    )


class baseline_transmitter(gr.hier_block2):
    """The paper's baseline transmitter: 4-QAM (square |M|-QAM) on the ISAC beam of eq. (10).

    The radar and comm LS beams (eq. 9) are designed for the nominal lambda/2
    array over the target and comm sectors (degrees); ``rho`` (radar share,
    [0, 1]) and ``phi_deg`` (relative phase, degrees) mix them. ``set_rho``,
    ``set_phi`` and ``set_sectors`` recompute the beam with the core's
    ``ls_beam`` / ``isac_beam`` and hand it to the C++ block. In: message index
    (byte). Out: y, v (vlen K).

    A hier block around one ``weights_transmitter`` (``.transmitter``): the hier
    block carries the Python callbacks; the flowgraph runs the C++ block alone.
    """

    def __init__(
        self,
        K: int = 16,
        M: int = 4,
        rho: float = 0.5,
        phi_deg: float = 0.0,
        target_sector_deg=(-20.0, 20.0),
        comm_sector_deg=(30.0, 50.0),
    ):
        # The core's scenario checks K (before a K-sized beam design), |M| and both sectors.
        self._scenario = Scenario(
            num_antennas=checks.integer(K, "K"),
            num_messages=checks.integer(M, "M"),
            target_sector_deg=checks.sector_deg(target_sector_deg, "target_sector_deg"),
            comm_sector_deg=checks.sector_deg(comm_sector_deg, "comm_sector_deg"),
        )
        K = self._scenario.num_antennas
        constellation = qam_constellation(self._scenario.num_messages)
        self._radar_beam, self._comm_beam = self._design_beams(self._scenario)
        self._rho = float(rho)
        self._phi_deg = checks.finite_real(phi_deg, "phi_deg")
        beam = self._beam(self._rho, self._phi_deg)  # raises ValueError on a bad rho
        self.transmitter = weights_transmitter(K, constellation, beam)
        gr.hier_block2.__init__(
            self,
            "baseline_transmitter",
            gr.io_signature(1, 1, gr.sizeof_char),
            gr.io_signature(2, 2, gr.sizeof_gr_complex * K),
        )
        self.connect(self, self.transmitter)
        self.connect((self.transmitter, 0), (self, 0))
        self.connect((self.transmitter, 1), (self, 1))

    @staticmethod
    def _design_beams(scenario: Scenario) -> tuple[np.ndarray, np.ndarray]:
        """(radar, comm) LS beams of eq. (9) for the nominal array, (K,) each."""
        positions = scenario.nominal_positions()
        return ls_beam(positions, scenario.target_sector_rad), ls_beam(positions, scenario.comm_sector_rad)

    def _beam(self, rho: float, phi_deg: float, beams=None) -> np.ndarray:
        radar, comm = beams or (self._radar_beam, self._comm_beam)
        return isac_beam(radar, comm, rho, math.radians(phi_deg))

    def set_rho(self, rho: float) -> None:
        beam = self._beam(float(rho), self._phi_deg)
        self._rho = float(rho)
        self.transmitter.set_weights([complex(w) for w in beam])

    def set_phi(self, phi_deg: float) -> None:
        """Relative phase of the comm beam, degrees."""
        phi_deg = checks.finite_real(phi_deg, "phi_deg")
        beam = self._beam(self._rho, phi_deg)
        self._phi_deg = phi_deg
        self.transmitter.set_weights([complex(w) for w in beam])

    def set_sectors(self, target_sector_deg, comm_sector_deg) -> None:
        """New target and comm sectors, degrees: redesign both LS beams, keep rho and phi."""
        scenario = self._scenario.replace(
            target_sector_deg=checks.sector_deg(target_sector_deg, "target_sector_deg"),
            comm_sector_deg=checks.sector_deg(comm_sector_deg, "comm_sector_deg"),
        )
        if scenario == self._scenario:
            return
        beams = self._design_beams(scenario)
        beam = self._beam(self._rho, self._phi_deg, beams)
        self._scenario, (self._radar_beam, self._comm_beam) = scenario, beams
        self.transmitter.set_weights([complex(w) for w in beam])

    def rho(self) -> float:
        return self._rho

    def phi(self) -> float:
        """Degrees."""
        return self._phi_deg

    def sectors_deg(self) -> tuple:
        """(target sector, comm sector), degrees."""
        return self._scenario.target_sector_deg, self._scenario.comm_sector_deg

    def weights(self):
        return self.transmitter.weights()

    def constellation(self):
        return self.transmitter.constellation()
