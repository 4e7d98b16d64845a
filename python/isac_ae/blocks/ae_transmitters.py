"""The learned ISAC transmitter as a GNU Radio block (encoder + beamformer of a trained model)."""

from __future__ import annotations

import threading

import numpy as np
import torch
from gnuradio import gr

from ..autoencoder import AutoencoderSystem
from .ae_common import (
    BATCH_ITEMS,
    DEFAULT_MODEL,
    OnceWarning,
    SectorControls,
    TorchThread,
    checked_omega,
    load_system,
    sector_scenario,
)


class ae_transmitter(gr.sync_block, SectorControls):
    """In: message index m (byte). Out: y = x(m) v and v (vlen K complex), as the C++ transmitters.

    ``model``: a model file (.safetensors), a path or a name relative to the
    shipped models directory (e.g. ``"nominal/omega_0.09.safetensors"``).
    ``K``, ``M``: what the flowgraph expects (0: take the model's); a model for
    another K or |M| raises :class:`~isac_ae.autoencoder.modelfile.ModelFileError`.
    ``target_sector_deg``, ``comm_sector_deg``: Theta of the beamformer, in
    degrees (None or empty: the sectors the model was trained for); they can
    change while running (:meth:`set_sectors`), which recomputes the beam
    through the model's beamformer network. A sector-conditioned model also
    moves its constellation (the encoder reads the sectors too), and its
    receivers move with ``set_sectors`` of theirs; any other model was trained
    at one pair of sectors, and its beam for others is extrapolated (logged
    once).
    ``omega``: omega_r of a conditioned model (None: its default point); it can
    change while running (:meth:`set_omega`), which recomputes the beam and the
    constellation. A model that is not conditioned refuses any omega but None.

    Each work() call transmits with one beam and constellation: a change takes
    effect at the next work() call, never within one.

    y and v are :meth:`AutoencoderSystem.transmit` of the core. A byte >= |M|
    gives y = 0 (v unchanged) and logs one warning.
    """

    def __init__(
        self, model=DEFAULT_MODEL, K: int = 16, M: int = 4, target_sector_deg=None, comm_sector_deg=None, omega=None
    ):
        system, loaded = load_system(model, K, M, omega, target_sector_deg, comm_sector_deg)
        self._loaded = loaded
        self._num_antennas = loaded.scenario.num_antennas
        self._num_messages = loaded.scenario.num_messages
        self._lock = threading.Lock()  # serialises the setters; work() reads self._system without waiting
        self._system = system
        gr.sync_block.__init__(
            self,
            name="ae_transmitter",
            in_sig=[np.uint8],
            out_sig=[(np.complex64, self._num_antennas), (np.complex64, self._num_antennas)],
        )
        self.set_min_output_buffer(BATCH_ITEMS)
        self._torch_thread = TorchThread()
        self._bad_index = OnceWarning(self, f"message index >= |M| = {self._num_messages}: transmitting y = 0")
        self._init_sector_note()
        self._note_sectors(system.scenario)

    # --- run-time control ---------------------------------------------------
    def set_sectors(self, target_sector_deg=None, comm_sector_deg=None) -> None:
        """New Theta, degrees: recompute the beam with the model's beamformer.

        None keeps a sector as it is; an empty sequence selects the sector the model was trained for. In use
        from the next work() call.
        """
        scenario = sector_scenario(self._loaded, self._system.scenario, target_sector_deg, comm_sector_deg)
        self._note_sectors(scenario)
        self._replace(scenario=scenario)

    def set_omega(self, omega) -> None:
        """Move a conditioned model to omega_r ``omega`` in [0, 1] (None: its default point); GRC's callback.

        The new beam and constellation are in use from the next work() call. A model that is not conditioned
        refuses any omega but None (ValueError)."""
        self._replace(omega=checked_omega(self._loaded, omega))

    def _replace(self, **change) -> None:
        """Recompute the transmitter for a new scenario and/or omega_r (the other kept)."""
        with self._lock:
            current = self._system
            scenario, omega = change.get("scenario", current.scenario), change.get("omega", current.omega)
            if scenario != current.scenario or omega != current.omega:
                self._system = AutoencoderSystem(self._loaded.model, scenario, omega=omega)

    # --- getters ------------------------------------------------------------
    def beam(self) -> np.ndarray:
        """The unit-energy beamformer v (K,) complex64 now transmitted."""
        return self._system.beam.detach().cpu().numpy().copy()

    def constellation(self) -> np.ndarray:
        """x(0), ..., x(|M|-1), complex64."""
        return self._system.constellation.detach().cpu().numpy().copy()

    def system(self) -> AutoencoderSystem:
        """The core system in use (read-only use)."""
        return self._system

    def scenario(self):
        return self._system.scenario

    def model_path(self) -> str:
        return str(self._loaded.path)

    def omega(self) -> float:
        """omega_r now transmitted (a conditioned model's current point, another model's trained one)."""
        omega = self._system.omega
        return self._loaded.omega if omega is None else omega

    def conditioned(self) -> bool:
        """Whether the model is conditioned on omega_r (:meth:`set_omega` moves it)."""
        return self._loaded.conditioned

    def num_antennas(self) -> int:
        return self._num_antennas

    def num_messages(self) -> int:
        return self._num_messages

    # --- streaming ----------------------------------------------------------
    def work(self, input_items, output_items):
        self._torch_thread()
        m = input_items[0]
        system = self._system  # one system for the whole call (a setter replaces it, never changes it)
        bad = m >= self._num_messages
        any_bad = bool(bad.any())
        index = torch.from_numpy(m.astype(np.int64))
        if any_bad:
            index[torch.from_numpy(bad)] = 0
            self._bad_index(f"first bad value {int(m[bad][0])}")
        with torch.inference_mode():
            y, v = system.transmit(index)
        out_y, out_v = output_items
        out_y[:] = y.numpy()
        if any_bad:
            out_y[bad] = 0
        out_v[:] = v.numpy()
        return len(m)
