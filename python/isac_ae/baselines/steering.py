"""What a model-based design believes the array is: its TX and RX steering vectors as functions of the angle.

The baseline of Sec. IV-B designs its beams (eq. (9)) and searches its angles
(eq. (18)) with the steering vectors of an array. The paper uses the nominal
lambda/2 array; on a real board three better beliefs exist, all exposed here
with one interface (``tx(theta)``, ``rx(theta)``: angles (G,) radians -> (G, K)
complex128):

* :class:`PositionSteering`: ideal elements at given positions (the nominal
  array, or the true positions of Sec. IV-E);
* :class:`ArraySteering`: an :class:`~isac_ae.impairments.ArrayModel` with
  gains and coupling (a twin's hidden truth: the oracle no bench has; or the
  model a boresight calibration gives);
* :class:`DictionarySteering`: a steering dictionary measured at G angles and
  interpolated between them, with no parametric model of the array (the
  "dictionary learning" of the authors' later work, here learned from a
  measured manifold).

Convention (docs/ARCHITECTURE.md): the field radiated toward theta by the
K-element signal y is ``tx(theta) @ y``; a unit plane wave from theta gives the
snapshot ``rx(theta)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.interpolate import CubicSpline

from ..array import steering_matrix
from ..impairments import ArrayModel


@dataclass(frozen=True)
class PositionSteering:
    """Ideal isotropic elements at ``positions`` (K,), wavelengths: tx = rx = a(theta)."""

    positions: np.ndarray

    @property
    def num_elements(self) -> int:
        return len(self.positions)

    def tx(self, theta_rad) -> np.ndarray:
        return steering_matrix(self.positions, theta_rad).T

    rx = tx


@dataclass(frozen=True, eq=False)
class ArraySteering:
    """The manifolds of an :class:`~isac_ae.impairments.ArrayModel` (gains, coupling, positions), in float64."""

    array: ArrayModel

    @property
    def num_elements(self) -> int:
        return self.array.num_elements

    def _manifold(self, method: str, theta_rad) -> np.ndarray:
        array = self.array.to(device="cpu", dtype=torch.float64)
        theta = torch.as_tensor(np.atleast_1d(np.asarray(theta_rad, dtype=np.float64)))
        with torch.no_grad():
            return getattr(array, method)(theta).numpy()

    def tx(self, theta_rad) -> np.ndarray:
        return self._manifold("steering_tx", theta_rad)

    def rx(self, theta_rad) -> np.ndarray:
        return self._manifold("steering_rx", theta_rad)


class DictionarySteering:
    """A steering dictionary measured at G angles, interpolated in u = sin(theta) between them.

    angles_rad: (G,) distinct measurement angles; response: (G, K) complex,
    the array's response to a plane wave from each angle, each row known only
    up to a complex factor (a measured manifold is relative to element 0);
    nominal_positions: (K,) wavelengths, whose phase progression is taken out
    before interpolating (what is left, the response over the nominal
    steering vector, varies slowly in u: gains, coupling and the phase ramps of
    small position errors); tx_over_rx: (K,) complex, the TX over the RX gain
    of each chain (from a calibration; ones for an analog array used by
    reciprocity).

    Between the angles the ratio is a cubic spline in u; beyond the measured
    range it stays at its value at the nearest measured angle (a dictionary
    knows nothing there: the nominal structure with the edge's deviation is
    the least committal guess).
    """

    def __init__(self, angles_rad, response, nominal_positions, tx_over_rx=None):
        angles = np.asarray(angles_rad, dtype=np.float64)
        response = np.asarray(response, dtype=np.complex128)
        positions = np.asarray(nominal_positions, dtype=np.float64)
        k = positions.size
        if angles.ndim != 1 or response.shape != (angles.size, k) or angles.size < 2:
            raise ValueError(
                f"a dictionary needs G >= 2 angles (G,) and responses (G, K = {k}); got "
                f"{angles.shape} and {response.shape}"
            )
        if not (np.all(np.isfinite(angles)) and np.all(np.isfinite(response))):
            raise ValueError("a dictionary's angles and responses must be finite")
        if np.any(np.abs(angles) >= np.pi / 2) or np.any(np.diff(np.sort(angles)) <= 0):
            raise ValueError("a dictionary's angles must be distinct and inside (-90, 90) degrees")
        tx_over_rx = np.ones(k, np.complex128) if tx_over_rx is None else np.asarray(tx_over_rx, np.complex128)
        if tx_over_rx.shape != (k,) or not np.all(np.isfinite(tx_over_rx)):
            raise ValueError(f"tx_over_rx must be K = {k} finite factors, got shape {tx_over_rx.shape}")
        order = np.argsort(angles)
        u = np.sin(angles[order])
        ratio = response[order] / steering_matrix(positions, angles[order]).T
        self.positions = positions
        self.tx_over_rx = tx_over_rx
        self._u_range = (u[0], u[-1])
        self._ratio = CubicSpline(u, ratio, axis=0)

    @property
    def num_elements(self) -> int:
        return self.positions.size

    def rx(self, theta_rad) -> np.ndarray:
        theta = np.atleast_1d(np.asarray(theta_rad, dtype=np.float64))
        u = np.clip(np.sin(theta), *self._u_range)
        return self._ratio(u) * steering_matrix(self.positions, theta).T

    def tx(self, theta_rad) -> np.ndarray:
        return self.rx(theta_rad) * self.tx_over_rx
