"""A system seen through an array calibration: what makes a calibrated board look nominal.

A calibration estimates each chain's complex gain, g_tx (K,) and g_rx (K,),
relative to the nominal array. :class:`CalibratedSystem` divides them out:
the transmitted beam is pre-corrected (v -> v / g_tx, renormalised to the
beam's power) and the received snapshots are corrected (z -> z / g_rx)
before the receivers see them. The wrapped system (the baseline designed on
the nominal array, or a model trained on it) then sees the array it was
designed for, up to what calibration cannot remove (coupling, position
errors).
"""

from __future__ import annotations

import numpy as np
import torch


class CalibratedSystem:
    """An :class:`isac_ae.evaluation.IsacSystem` with per-chain gain corrections g_tx, g_rx (K,) complex."""

    def __init__(self, system, gain_tx: np.ndarray, gain_rx: np.ndarray):
        k = system.scenario.num_antennas
        gain_tx, gain_rx = np.asarray(gain_tx, np.complex128), np.asarray(gain_rx, np.complex128)
        if gain_tx.shape != (k,) or gain_rx.shape != (k,):
            raise ValueError(f"calibration gains must have shape ({k},), got {gain_tx.shape} and {gain_rx.shape}")
        if not (np.all(np.isfinite(gain_tx)) and np.all(np.isfinite(gain_rx))) or np.any(gain_tx == 0) or np.any(
                gain_rx == 0):
            raise ValueError("calibration gains must be finite and non-zero")
        self.system = system
        self.scenario = system.scenario
        self.name = f"calibrated {getattr(system, 'name', 'system')}"
        device = getattr(system, "device", torch.device("cpu"))
        self._tx = torch.as_tensor(1.0 / gain_tx, dtype=torch.complex64, device=device)
        self._rx = torch.as_tensor(1.0 / gain_rx, dtype=torch.complex64, device=device)

    def transmit(self, messages: torch.Tensor):
        """The wrapped system's y = x v with v pre-corrected, at the beam's own power."""
        y, v = self.system.transmit(messages)
        corrected = v * self._tx
        corrected = corrected * (v.abs().square().sum(-1, keepdim=True) / corrected.abs().square().sum(
            -1, keepdim=True)).sqrt()
        symbols = y @ v.conj() / v.abs().square().sum() if v.ndim == 1 else None
        if symbols is None:
            raise ValueError("a calibrated system needs one beam for all snapshots")
        return symbols.unsqueeze(-1) * corrected, corrected

    def radar_receive(self, z: torch.Tensor):
        return self.system.radar_receive(z * self._rx)

    def comm_receive(self, z: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
        return self.system.comm_receive(z, kappa)
