"""The C++ fixed-beam transmitter and the model-based baseline transmitter built on it.

The beam maths stays in the Python core (:mod:`isac_ae.baselines.beams`); the C++
block only applies ``y = x(m) w``.
"""

from __future__ import annotations

import math

import numpy as np

from gnuradio import gr

from ..array import nominal_positions
from ..baselines import isac_beam, ls_beam, qam_constellation
from .cpp_common import complex_list, module, sector_rad


def weights_transmitter(K: int, constellation, weights):
    """In: message index (byte). Out: y = constellation[m] * weights, v = weights (vlen K).

    Setters (thread-safe, while running): ``set_weights``, ``set_constellation``.
    An index >= len(constellation) gives y = 0 and one logged warning.
    """
    return module().weights_transmitter(
        int(K), complex_list(constellation, "constellation"), complex_list(weights, "weights")
    )


class baseline_transmitter(gr.hier_block2):
    """The paper's baseline transmitter: 4-QAM (square |M|-QAM) on the ISAC beam of eq. (10).

    The radar and comm LS beams (eq. 9) are designed once for the nominal
    lambda/2 array over the target and comm sectors (degrees); ``rho`` (radar
    share, [0, 1]) and ``phi_deg`` (relative phase) mix them. ``set_rho`` and
    ``set_phi`` recompute the beam with the core's ``isac_beam`` and hand it to
    the C++ block. In: message index (byte). Out: y, v (vlen K).

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
        K = int(K)
        if K < 1:
            raise ValueError(f"K must be >= 1, got {K}")
        positions = nominal_positions(K)
        self._radar_beam = ls_beam(positions, sector_rad(target_sector_deg, "target_sector_deg"))
        self._comm_beam = ls_beam(positions, sector_rad(comm_sector_deg, "comm_sector_deg"))
        self._rho = float(rho)
        self._phi_deg = float(phi_deg)
        beam = self._beam(self._rho, self._phi_deg)  # raises ValueError on a bad rho
        self.transmitter = weights_transmitter(K, qam_constellation(int(M)), beam)
        gr.hier_block2.__init__(
            self,
            "baseline_transmitter",
            gr.io_signature(1, 1, gr.sizeof_char),
            gr.io_signature(2, 2, gr.sizeof_gr_complex * K),
        )
        self.connect(self, self.transmitter)
        self.connect((self.transmitter, 0), (self, 0))
        self.connect((self.transmitter, 1), (self, 1))

    def _beam(self, rho: float, phi_deg: float) -> np.ndarray:
        return isac_beam(self._radar_beam, self._comm_beam, rho, math.radians(phi_deg))

    def set_rho(self, rho: float) -> None:
        beam = self._beam(float(rho), self._phi_deg)
        self._rho = float(rho)
        self.transmitter.set_weights([complex(w) for w in beam])

    def set_phi(self, phi_deg: float) -> None:
        beam = self._beam(self._rho, float(phi_deg))
        self._phi_deg = float(phi_deg)
        self.transmitter.set_weights([complex(w) for w in beam])

    def rho(self) -> float:
        return self._rho

    def phi(self) -> float:
        """Degrees."""
        return self._phi_deg

    def weights(self):
        return self.transmitter.weights()

    def constellation(self):
        return self.transmitter.constellation()
