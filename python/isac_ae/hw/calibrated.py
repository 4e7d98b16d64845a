"""A system seen through an array calibration: what makes a calibrated board look nominal.

A :class:`~isac_ae.hw.calibration.Calibration` holds each chain's complex
correction factor relative to element 0 (c_k = g_0 / g_k). :class:`CalibratedSystem`
applies them around a system: the transmitted beam is pre-corrected
(v -> v c_tx, at the beam's own power) and the received snapshots are
corrected (z -> z c_rx) before the receivers see them, as
``Calibration.precorrect_tx`` / ``correct_rx`` do on arrays. The wrapped system
(the baseline designed on the nominal array, or a model trained on it) then
sees the array it was designed for, up to what a boresight calibration cannot
remove (coupling, position errors).
"""

from __future__ import annotations

import torch


class CalibratedSystem:
    """An :class:`isac_ae.evaluation.IsacSystem` wrapped in a board's calibration."""

    def __init__(self, system, calibration):
        k = system.scenario.num_antennas
        if calibration.num_elements != k:
            raise ValueError(f"the calibration has K = {calibration.num_elements}, the system K = {k}")
        self.system = system
        self.scenario = system.scenario
        self.name = f"calibrated {getattr(system, 'name', 'system')}"
        device = getattr(system, "device", torch.device("cpu"))
        tx = calibration.rx_correction if calibration.tx_correction is None else calibration.tx_correction
        self._tx = torch.as_tensor(tx, dtype=torch.complex64, device=device)
        self._rx = torch.as_tensor(calibration.rx_correction, dtype=torch.complex64, device=device)

    def transmit(self, messages: torch.Tensor):
        """The wrapped system's y = x v with v pre-corrected, at the beam's own power (one beam only)."""
        y, v = self.system.transmit(messages)
        if v.ndim != 1:
            raise ValueError("a calibrated system needs one beam for all snapshots")
        corrected = v * self._tx
        corrected = corrected * (v.norm() / corrected.norm())
        symbols = y @ v.conj() / v.abs().square().sum()
        return symbols.unsqueeze(-1) * corrected, corrected

    def radar_receive(self, z: torch.Tensor):
        return self.system.radar_receive(z * self._rx)

    def comm_receive(self, z: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
        return self.system.comm_receive(z, kappa)
