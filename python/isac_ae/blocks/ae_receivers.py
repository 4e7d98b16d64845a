"""The learned ISAC receivers as GNU Radio blocks: radar (detector, angle, uncertainty) and comm.

Both call :class:`isac_ae.autoencoder.AutoencoderSystem` of a trained model:
one batched forward pass per work() call, under ``torch.inference_mode()``
with one torch thread. The detection rule is the evaluation's: the detector's
logit > threshold (the logit, not q = sigmoid(logit), so float32 saturation of
q at 1 creates no ties).

New receiver weights (online fine-tuning, :mod:`isac_ae.blocks.online_finetune`)
arrive on the message port ``weights`` (:data:`WEIGHTS_PORT`) as a
:func:`weights_message`. A background thread checks them against the block's
model and prepares the new system (the radar receiver also recalibrates its
threshold for them); the next work() call swaps it in, so one work() call runs
one set of weights, the stream never waits for the preparation and no item is
dropped or repeated.

A conditioned model's receivers run at omega_r ``omega`` and move with
``set_omega`` at the next work() call. The radar receiver's calibrated
threshold follows without a calibration on the stream's path: it calibrates
once, at construction, a threshold at every omega_r of :data:`OMEGA_GRID`
(the same H0 snapshots through the detector at each) and interpolates
between them (:class:`ThresholdTable`).

A sector-conditioned model's receivers also run at the sectors
``target_sector_deg``, ``comm_sector_deg`` (``set_sectors``). The comm
receiver moves at the next work() call; the radar receiver's threshold table
depends on the sectors (they are an input of its detector), so the background
thread calibrates the new sectors' table as it prepares new weights, and the
next work() call after that swaps the new sectors and their table in
together. Any other model's receivers refuse sectors other than the model's.
"""

from __future__ import annotations

import copy
import hashlib
import math
import threading
from dataclasses import dataclass
from typing import NamedTuple, Optional

import numpy as np
import pmt
import torch
from gnuradio import gr
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from ..autoencoder import AutoencoderSystem
from ..autoencoder.model import TRANSMITTER, Autoencoder, condition_inputs, omega_condition
from ..evaluation import h0_scores, threshold_for_pfa
from ..scenario import Scenario
from . import checks
from .ae_common import (
    BATCH_ITEMS,
    DEFAULT_MODEL,
    OnceWarning,
    SectorControls,
    TorchThread,
    checked_omega,
    checked_sectors,
    finite_rows,
    load_system,
    sector_scenario,
)

THRESHOLD_MODES = ("pfa", "logit")
#: What the AE radar receiver estimates theta_hat and sigma_hat for: every snapshot, or the detections only.
ESTIMATE_MODES = ("all", "detections")

#: Message port on which the receivers take new weights (:func:`weights_message`).
WEIGHTS_PORT = "weights"
#: The networks each receiver runs, by their names in model files.
RADAR_NETWORKS = ("detector", "angle", "uncertainty")
COMM_NETWORKS = ("comm",)


# --- the weights message ---------------------------------------------------------------------------------


def transmitter_digest(model: Autoencoder) -> str:
    """SHA-256 (hex) of a model's transmitter weights (encoder, beamformer).

    Receiver weights are fine-tuned for the beam and constellation that were
    sent: a weights message names its transmitter by this digest, and a
    receiver refuses weights fine-tuned for another one.
    """
    h = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        if name.split(".")[0] in TRANSMITTER:
            h.update(name.encode())
            h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


@dataclass(frozen=True)
class WeightsUpdate:
    """A decoded weights message: ``generation`` (1, 2, ... per sender), the transmitter digest, and the
    tensors by their model-file names (e.g. ``detector.net.layers.0.weight``), float32."""

    generation: int
    transmitter: str
    state: dict


def weights_message(state: dict, transmitter: str, generation: int):
    """The PMT that carries receiver weights: a dict {generation: long, transmitter: symbol (the
    :func:`transmitter_digest`), weights: u8vector (the tensors ``state`` in safetensors format)}."""
    blob = save_tensors({name: t.detach().cpu().contiguous() for name, t in state.items()})
    message = pmt.make_dict()
    message = pmt.dict_add(message, pmt.intern("generation"), pmt.from_long(int(generation)))
    message = pmt.dict_add(message, pmt.intern("transmitter"), pmt.intern(transmitter))
    return pmt.dict_add(message, pmt.intern("weights"), pmt.init_u8vector(len(blob), list(blob)))


def read_weights_message(message) -> WeightsUpdate:
    """Decode a :func:`weights_message`; ValueError naming what is wrong with any other PMT."""
    if not pmt.is_dict(message):
        raise ValueError(f"a weights message is a PMT dict (see weights_message), got {pmt.write_string(message)[:80]}")
    fields = {}
    for key, check in (("generation", pmt.is_integer), ("transmitter", pmt.is_symbol), ("weights", pmt.is_u8vector)):
        value = pmt.dict_ref(message, pmt.intern(key), pmt.PMT_NIL)
        if not check(value):
            raise ValueError(
                f"a weights message needs the field {key!r} ({check.__name__[3:]}), it is missing or not one"
            )
        fields[key] = value
    try:
        state = load_tensors(bytes(pmt.u8vector_elements(fields["weights"])))
    except SafetensorError as exc:
        raise ValueError(f"the weights of a weights message are not safetensors data: {exc}") from None
    return WeightsUpdate(pmt.to_long(fields["generation"]), pmt.symbol_to_string(fields["transmitter"]), state)


# --- thresholds over omega_r -----------------------------------------------------------------------------


def _coordinate(omegas) -> np.ndarray:
    """What the threshold table interpolates in: omega_condition's log feature of omega_r, float64."""
    return omega_condition(torch.as_tensor(omegas, dtype=torch.float64))[..., 1].numpy()


def omega_grid(points: int) -> np.ndarray:
    """``points`` omega_r from 0 to 1, uniform in :func:`_coordinate` (omega_condition inverted on a dense grid)."""
    dense = np.concatenate([[0.0], np.geomspace(1e-9, 1.0, 100_001)])
    u = _coordinate(dense)
    return np.interp(np.linspace(u[0], u[-1], points), u, dense)


#: The omega_r at which a conditioned radar receiver calibrates its threshold (see ThresholdTable).
OMEGA_GRID = omega_grid(33)


class _GridDetector:
    """A system's detector at every omega_r of a grid (and at the system's sectors, for a sector-conditioned
    model), as a system for :func:`h0_scores`: ``radar_receive(z (N, K))`` gives (logits (N, G), None, None), and
    h0_scores draws the same snapshots as for ``system`` itself."""

    def __init__(self, system: AutoencoderSystem, omegas: np.ndarray):
        self.scenario, self.transmit, self._model = system.scenario, system.transmit, system.model
        sectors = None
        if system.model.sector_conditioned:
            theta = torch.as_tensor(system.scenario.theta_vector, dtype=torch.float32)  # as AutoencoderSystem's
            sectors = theta.expand(len(omegas), len(theta))
        conditions = condition_inputs(torch.as_tensor(omegas, dtype=torch.float32), sectors)
        self._conditions = conditions.unsqueeze(1)  # (G, 1, F): one omega_r at a time, as AutoencoderSystem's

    def radar_receive(self, z: torch.Tensor):
        x = self._model.radar_features(z.unsqueeze(0))
        return torch.stack([self._model.detector(x, c)[0] for c in self._conditions], dim=-1), None, None


class ThresholdTable:
    """The H0 detector logits a radar receiver calibrates on, and its thresholds at any omega_r.

    ``scores``: :func:`h0_scores` of ``samples`` snapshots drawn with ``seed``,
    (samples,) for a model that is not conditioned; for a conditioned one
    (samples, G), column g the same snapshots through the detector at
    omega_r = ``omegas[g]`` (:data:`OMEGA_GRID`), each the threshold
    calibration of :class:`AutoencoderSystem` at that omega_r. Between grid
    points a threshold is interpolated linearly in omega_condition's log
    feature (the grid is uniform in it). A sector-conditioned model's table
    holds one pair of sectors, ``system``'s: its detector reads them.
    """

    def __init__(self, system: AutoencoderSystem, samples: int, seed: int, omegas: np.ndarray = OMEGA_GRID):
        self.omegas = np.asarray(omegas, dtype=np.float64) if system.model.conditioned else None
        self.scores = h0_scores(system if self.omegas is None else _GridDetector(system, self.omegas), samples, seed)
        self._coordinates = None if self.omegas is None else _coordinate(self.omegas)

    def thresholds(self, pfa: float) -> np.ndarray:
        """The threshold for false-alarm rate ``pfa`` at each grid omega_r, (G,) (G = 1 without a grid)."""
        scores = self.scores.reshape(len(self.scores), -1)
        return np.array([threshold_for_pfa(scores[:, g], pfa) for g in range(scores.shape[1])])

    def threshold(self, thresholds: np.ndarray, omega: Optional[float]) -> float:
        """From :meth:`thresholds`, the one at ``omega`` (None without a grid)."""
        if self.omegas is None:
            return float(thresholds[0])
        return float(np.interp(_coordinate(omega), self._coordinates, thresholds))


class _Prepared(NamedTuple):
    """What the background thread hands the next work() call: a system (weights, sectors), what else it needs
    (``_prepare``'s result), the generation of its weights and whether they differ from those in use."""

    generation: int
    system: AutoencoderSystem
    prepared: object
    new_weights: bool


class _LiveReceiver(SectorControls):
    """A receiver's run-time inputs: new weights on its message port, omega_r and the sectors.

    A background thread prepares each new set of weights and, where the sectors change what a receiver needs
    (``_sector_preparation``: the radar receiver's threshold table), each new pair of sectors; the next work()
    call swaps the prepared system in. A subclass names its ``_networks``, implements ``_prepare(system)`` (what
    else the new system needs, computed in the background) and ``_swap(system, prepared)`` (install both; runs
    under ``_swap_lock``), calls ``_init_live(model)`` after gr.sync_block's __init__ and ``_take_prepared()``
    at the start of work(). Messages that arrive while others are being prepared wait, and are then prepared
    together, at the latest sectors asked for. ``set_omega`` (and ``set_sectors`` where the sectors need no
    preparation) installs the same weights at another point through ``_swap(system, None)``; new weights run
    at the omega_r and sectors in force when they are swapped in.
    """

    _networks: tuple = ()
    _sector_preparation = False

    def _init_live(self, model: Autoencoder) -> None:
        self._transmitter = transmitter_digest(model)
        self._shapes = {name: tuple(t.shape) for name, t in model.state_dict().items()}
        self._generation = 0
        self._swaps: list[tuple[int, int]] = []
        self._sector_swaps: list[tuple[int, tuple]] = []
        self._refused = 0
        self._swap_lock = threading.Lock()
        self._swap_changed = threading.Condition(self._swap_lock)
        self._messages = []  # arrived, not yet prepared
        self._wanted: Scenario = self._system.scenario  # the sectors asked for: in use, prepared or being prepared
        self._prepared: Optional[_Prepared] = None  # waiting for the next work() call
        self._worker = None
        self.message_port_register_in(pmt.intern(WEIGHTS_PORT))
        self.set_msg_handler(pmt.intern(WEIGHTS_PORT), self._on_weights)
        self._init_sector_note()
        self._note_sectors(self._wanted)

    def _next_locked(self) -> AutoencoderSystem:
        """The system the next work() call will run: the prepared one, else the one in use."""
        return self._prepared.system if self._prepared is not None else self._system

    def _pending_locked(self) -> bool:
        """Whether the background thread has something to prepare."""
        moved = self._sector_preparation and self._wanted != self._next_locked().scenario
        return bool(self._messages) or moved

    def _wake_locked(self) -> None:
        if self._worker is None and self._pending_locked():
            self._worker = threading.Thread(target=self._prepare_loop, name=f"{self.name()} prepare", daemon=True)
            self._worker.start()
        self._swap_changed.notify_all()

    def _on_weights(self, message) -> None:
        with self._swap_lock:
            self._messages.append(message)
            self._wake_locked()

    def _refuse(self, exc: Exception) -> None:
        with self._swap_lock:
            self._refused += 1
        self.logger.error(f"weights message refused, the receiver keeps its weights: {exc}")

    def _merged(self, messages) -> tuple[dict, Optional[int]]:
        """The tensors of this receiver's networks in ``messages`` and the generation of the last message that
        held any; refused messages are logged and left out."""
        # Merged in order (a later tensor replaces an earlier one) and prepared once: a message for the other
        # receiver's networks loses nothing.
        tensors, generation = {}, None
        for message in messages:
            try:
                update = read_weights_message(message)
                ours = self._checked(update)
            except ValueError as exc:
                self._refuse(exc)
                continue
            if ours:
                tensors.update(ours)
                generation = update.generation
        return tensors, generation

    def _prepare_loop(self) -> None:
        torch.set_num_threads(1)
        while True:
            with self._swap_lock:
                self._swap_changed.wait_for(self._pending_locked)
                messages, self._messages = self._messages, []
                scenario = self._wanted
                base = self._prepared
                start = self._next_locked()
            tensors, generation = self._merged(messages)
            moved = self._sector_preparation and scenario != start.scenario
            if not tensors and not moved:
                continue
            try:
                model = start.model
                if tensors:
                    model = copy.deepcopy(model)
                    model.load_state_dict(tensors, strict=False)
                system = self._system_at(model, self._system.omega, scenario)
                with torch.inference_mode():
                    prepared = self._prepare(system)
            except Exception as exc:  # noqa: BLE001  (reported; the receiver keeps what it runs)
                if tensors:
                    self._refuse(exc)
                if moved:
                    self._sectors_failed(scenario, exc)
                continue
            with self._swap_lock:
                carried = base is not None and self._prepared is base and base.new_weights  # not taken meanwhile
                if tensors or scenario == self._wanted:  # a move no longer asked for is dropped
                    generation = generation if tensors else (base.generation if carried else self._generation)
                    self._prepared = _Prepared(generation, system, prepared, bool(tensors) or carried)
                self._swap_changed.notify_all()

    def _sectors_failed(self, scenario: Scenario, exc: Exception) -> None:
        (t0, t1), (c0, c1) = scenario.target_sector_deg, scenario.comm_sector_deg
        self.logger.error(
            f"preparing the sectors target [{t0:g}, {t1:g}], comm [{c0:g}, {c1:g}] deg failed, the receiver "
            f"keeps its sectors: {exc}"
        )
        with self._swap_lock:
            if self._wanted == scenario:
                self._wanted = self._next_locked().scenario
            self._swap_changed.notify_all()

    def _checked(self, update: WeightsUpdate) -> dict:
        """``update``'s tensors of this receiver's networks (none: the message is for the other receiver);
        ValueError for weights of another model or shape, or non-finite ones."""
        if update.transmitter != self._transmitter:
            raise ValueError(
                "the weights were fine-tuned for another transmitter than this receiver's model (give the "
                "online fine-tuning block the receivers' model file)"
            )
        ours = {k: v for k, v in update.state.items() if k.split(".")[0] in self._networks}
        for name, tensor in ours.items():
            if name not in self._shapes:
                raise ValueError(f"the message holds {name!r}, a tensor this receiver's model does not have")
            if tuple(tensor.shape) != self._shapes[name]:
                raise ValueError(
                    f"{name} has shape {tuple(tensor.shape)} in the message, {self._shapes[name]} in this "
                    f"receiver's model (K = {self._loaded.scenario.num_antennas}, "
                    f"|M| = {self._loaded.scenario.num_messages})"
                )
            if not torch.isfinite(tensor).all():
                raise ValueError(f"{name} holds NaN or infinite weights")
        return ours

    def _take_prepared(self) -> None:
        """Swap in what is ready (called at the start of work(), so between two work() calls)."""
        if self._prepared is None:
            return
        with self._swap_lock:
            ready, self._prepared = self._prepared, None
            system = ready.system
            # Prepared sectors come with what they need; others follow the sectors in use (set_sectors meanwhile).
            scenario = system.scenario if self._sector_preparation else self._system.scenario
            if system.omega != self._system.omega or system.scenario != scenario:  # moved while prepared
                system = self._system_at(system.model, self._system.omega, scenario)
            moved = system.scenario != self._system.scenario
            self._swap(system, ready.prepared)
            item = self.nitems_read(0)
            if ready.new_weights:
                self._generation = ready.generation
                self._swaps.append((item, ready.generation))
            sectors = self.sectors_deg()
            if moved:
                self._sector_swaps.append((item, sectors))
            self._swap_changed.notify_all()
        if ready.new_weights:
            self.logger.info(f"weights of generation {ready.generation} in use from item {item}")
        if moved:
            (t0, t1), (c0, c1) = sectors
            self.logger.info(f"sectors target [{t0:g}, {t1:g}], comm [{c0:g}, {c1:g}] deg in use from item {item}")

    def _system_at(self, model: Autoencoder, omega: Optional[float], scenario: Scenario) -> AutoencoderSystem:
        with torch.inference_mode():
            return AutoencoderSystem(model, scenario, omega=omega)

    def set_omega(self, omega) -> None:
        """Move a conditioned model to omega_r ``omega`` in [0, 1] (None: its default point); GRC's callback.

        In use from the next work() call (the radar receiver's threshold with it). A model that is not
        conditioned refuses any omega but None (ValueError)."""
        omega = checked_omega(self._loaded, omega)
        with self._swap_lock:
            if omega != self._system.omega:  # the same weights and sectors: nothing prepared
                self._swap(self._system_at(self._system.model, omega, self._system.scenario), None)

    def set_sectors(self, target_sector_deg=None, comm_sector_deg=None) -> None:
        """Move a sector-conditioned model to new sectors (min, max), degrees; GRC's callback.

        None keeps a sector, an empty sequence selects the model's. The comm receiver uses them from the next
        work() call; the radar receiver calibrates their threshold table in the background and swaps both in
        together at the work() call after that (:meth:`wait_sectors`), running the old sectors until then. A
        model that is not sector-conditioned refuses sectors other than its own (ValueError)."""
        with self._swap_lock:
            current = self._wanted
            scenario = checked_sectors(
                self._loaded, sector_scenario(self._loaded, current, target_sector_deg, comm_sector_deg)
            )
            if scenario == current:
                return
            self._note_sectors(scenario)
            self._wanted = scenario
            if not self._sector_preparation:
                self._swap(self._system_at(self._system.model, self._system.omega, scenario), None)
                return
            ready = self._prepared
            if ready is not None and not ready.new_weights and ready.system.scenario != scenario:
                self._prepared = None  # a move no longer asked for
            self._wake_locked()

    def wait_sectors(self, timeout: Optional[float] = None) -> bool:
        """Wait until the sectors asked for are in use or ready for the next work() call (False on timeout)."""
        with self._swap_lock:
            return bool(self._swap_changed.wait_for(lambda: self._next_locked().scenario == self._wanted, timeout))

    # --- getters ------------------------------------------------------------------------------------------
    def omega(self) -> float:
        """omega_r the receiver runs at (a conditioned model's current point, another model's trained one)."""
        omega = self._system.omega
        return self._loaded.omega if omega is None else omega

    def conditioned(self) -> bool:
        """Whether the model is conditioned on omega_r (``set_omega`` moves it)."""
        return self._loaded.conditioned

    def generation(self) -> int:
        """The generation of the weights in use (0: the model file's)."""
        return self._generation

    def swaps(self) -> list[tuple[int, int]]:
        """(first item, generation) of every weights swap so far: the items before the first item ran earlier
        weights."""
        with self._swap_lock:
            return list(self._swaps)

    def sector_swaps(self) -> list[tuple[int, tuple]]:
        """(first item, (target sector, comm sector) degrees) of every prepared sector swap so far (the radar
        receiver's; the comm receiver's sectors need no preparation)."""
        with self._swap_lock:
            return list(self._sector_swaps)

    def refused_messages(self) -> int:
        """Weights messages refused so far (each logged as an error)."""
        return self._refused

    def wait_prepared(self, generation: int, timeout: Optional[float] = None) -> bool:
        """Wait until weights of ``generation`` or later are in use or ready for the next work() call (False on
        timeout)."""

        def ready():
            return (self._prepared.generation if self._prepared is not None else self._generation) >= generation

        with self._swap_lock:
            return bool(self._swap_changed.wait_for(ready, timeout))


class ae_radar_receiver(gr.sync_block, _LiveReceiver):
    """In: z_r (vlen K); message port ``weights``. Out: q (float), theta_hat (float, rad), sigma_hat (float,
    rad), detection (byte).

    q = sigmoid(logit) is the detector's probability of a target, theta_hat and
    sigma_hat the angle estimate and its predicted standard deviation, and
    detection = logit > threshold, all from :meth:`AutoencoderSystem.radar_receive`.

    Threshold (``mode``):
    * ``"pfa"``: calibrated at construction for the false-alarm rate ``pfa`` on
      ``h0_samples`` target-free snapshots of the model's scenario drawn with
      ``seed`` (the core's :func:`~isac_ae.evaluation.h0_scores` and
      :func:`~isac_ae.evaluation.threshold_for_pfa`, so the same seed and size
      give the threshold that ``evaluate`` uses for seed ``s`` when
      ``seed = seed_streams(s, 2)[0]``). ``set_pfa`` recalibrates on the same
      H0 scores. ``h0_samples`` is at most ``checks.MAX_H0_SAMPLES`` (2e6,
      about 4 s of calibration on one core) and at least the evaluation's
      minimum for ``pfa`` (10 expected false alarms).
    * ``"logit"``: ``threshold`` is the logit threshold itself.

    The calibrated threshold follows the flowgraph's scenario without being
    recomputed: a target-free snapshot is noise, CN(0, I_K) with N0 = 1, so its
    logit depends on the model (and the condition its detector reads) alone,
    not on the transmitted beam, the SNRs or the true array. K is the model's
    (a block for another K refuses the model).

    ``target_sector_deg``, ``comm_sector_deg`` (degrees; None or empty: the
    model's): the sectors a sector-conditioned model runs at, an input of its
    detector and estimators, so its threshold depends on them. The table
    below is calibrated for them at construction; :meth:`set_sectors` has the
    new sectors' table calibrated in a background thread (the construction's
    work again, in either mode) while the block keeps running at the old
    sectors with their threshold (the false-alarm rate holds; detection and
    estimates are the old sectors' for those items), then swaps the new
    sectors and their threshold in together between two work() calls
    (logged with the first item; :meth:`sector_swaps`, :meth:`wait_sectors`).
    A model that is not sector-conditioned takes its own sectors only
    (ValueError for others: its receivers have no sector input).

    A conditioned model runs at omega_r ``omega`` (None: its default point),
    which :meth:`set_omega` moves from the next work() call. Its calibrated
    threshold is that of a :class:`ThresholdTable`: the same H0 snapshots
    through the detector at each of the 33 omega_r of :data:`OMEGA_GRID`
    (33 times the calibration above, at construction; the 33 logits of every
    H0 snapshot are kept for ``set_pfa``: 26 MB at 2e5), interpolated at the
    omega_r in use, so moving omega_r costs the stream nothing. At a grid
    point it is the calibration of ``AutoencoderSystem(model, sc, omega=w)``;
    between grid points the Pfa it gives was measured within 0.5 % (relative)
    of the target on the shipped conditioned model, under the calibration's
    own 2.2 % standard error at 2e5 snapshots (``benchmarks/bench_live_omega.py``;
    the table took about 3 s there). A "logit" threshold stays as given at every omega_r.

    New weights of the detector, angle and uncertainty networks (a
    :func:`weights_message` on ``weights``) are swapped in between two work()
    calls together with their threshold: in "pfa" mode it is recalibrated for
    them in the background on H0 snapshots of the same size and seed (so the
    false-alarm rate holds at every item), a "logit" threshold stays as given.
    They run at the omega_r and sectors in force when swapped in (weights and
    a sector move prepared together when both are pending).

    ``estimate``: ``"all"`` runs the angle and uncertainty estimators on every
    snapshot; ``"detections"`` on the detected ones only (theta_hat, sigma_hat
    NaN where detection is 0), detect-then-estimate as a radar does, which
    saves most of their cost when targets are rare (:meth:`set_estimate`).

    A snapshot with a NaN or infinite sample gives q, theta_hat, sigma_hat = NaN
    and detection 0, and logs one warning.
    """

    _networks = RADAR_NETWORKS
    _sector_preparation = True  # the threshold table is calibrated for the sectors

    def __init__(
        self,
        model=DEFAULT_MODEL,
        K: int = 16,
        M: int = 0,
        mode: str = "pfa",
        threshold: float = 0.0,
        pfa: float = 1e-2,
        h0_samples: int = 200_000,
        seed: int = 0,
        omega=None,
        target_sector_deg=None,
        comm_sector_deg=None,
        estimate: str = "all",
    ):
        self.set_estimate(estimate)
        self._h0_samples = checks.integer(h0_samples, "h0_samples", 1, checks.MAX_H0_SAMPLES)
        self._seed = checks.h0_seed(seed)
        system, loaded = load_system(model, K, M, omega, target_sector_deg, comm_sector_deg)
        checked_sectors(loaded, system.scenario)
        self._system = system
        self._loaded = loaded
        self._num_antennas = loaded.scenario.num_antennas
        self._table: Optional[ThresholdTable] = None  # H0 logits of the weights in use, computed when needed
        self._thresholds = None  # (G,) "pfa" mode: the table's thresholds for self._pfa
        self._lock = threading.Lock()  # the threshold rule, the table and what work() reads
        self._threshold = math.inf
        self._pfa = float("nan")
        self._mode = None
        self._live = (system, self._threshold)  # what a work() call runs with: one tuple, replaced as a whole
        self.set_threshold_rule(mode, threshold, pfa)
        gr.sync_block.__init__(
            self,
            name="ae_radar_receiver",
            in_sig=[(np.complex64, self._num_antennas)],
            out_sig=[np.float32, np.float32, np.float32, np.uint8],
        )
        self.set_min_output_buffer(BATCH_ITEMS)
        self._torch_thread = TorchThread()
        self._non_finite = OnceWarning(
            self, "NaN or infinite samples in z_r: those snapshots give NaN estimates and detection 0"
        )
        self._init_live(loaded.model)

    # --- threshold ----------------------------------------------------------
    def _calibration(self) -> ThresholdTable:
        if self._table is None:
            self._table = ThresholdTable(self._system, self._h0_samples, self._seed)
        return self._table

    def _publish(self) -> None:
        """Hand work() the system in use and its threshold (with self._lock held)."""
        if self._mode == "pfa":
            self._threshold = self._table.threshold(self._thresholds, self._system.omega)
        self._live = (self._system, self._threshold)

    def set_threshold_rule(self, mode: str, threshold: float = 0.0, pfa: float = 1e-2) -> None:
        """``mode`` "pfa" (calibrate at ``pfa``) or "logit" (use ``threshold``); GRC's callback."""
        if mode not in THRESHOLD_MODES:
            raise ValueError(f"threshold mode must be one of {THRESHOLD_MODES}, got {mode!r}")
        if mode == "pfa":
            self.set_pfa(pfa)
        else:
            self.set_threshold(threshold)

    def set_pfa(self, pfa: float) -> None:
        """Calibrate the threshold for false-alarm rate ``pfa`` (0 < pfa < 1) on the H0 scores."""
        checks.h0_samples(self._h0_samples, pfa)  # pfa in (0, 1) and enough H0 snapshots for it
        pfa = float(pfa)
        with self._lock:  # the H0 scores and the threshold of one set of weights
            self._thresholds = self._calibration().thresholds(pfa)
            self._pfa, self._mode = pfa, "pfa"
            self._publish()

    def set_threshold(self, threshold: float) -> None:
        """Use the logit threshold ``threshold`` (detection: logit > threshold)."""
        threshold = float(threshold)
        if math.isnan(threshold):
            raise ValueError("threshold must not be NaN")
        with self._lock:
            self._threshold, self._pfa, self._mode, self._thresholds = threshold, float("nan"), "logit", None
            self._publish()

    def set_estimate(self, estimate: str) -> None:
        """Estimate theta_hat and sigma_hat for ``"all"`` snapshots or the ``"detections"`` only, from the next
        work() call; GRC's callback."""
        if estimate not in ESTIMATE_MODES:
            raise ValueError(f"estimate must be one of {ESTIMATE_MODES}, got {estimate!r}")
        self._estimate = estimate

    def estimate(self) -> str:
        return self._estimate

    def threshold(self) -> float:
        """The logit threshold in use."""
        return self._live[1]

    def pfa(self) -> float:
        """The target false-alarm rate of a calibrated threshold (NaN for a given logit threshold)."""
        return self._pfa

    def mode(self) -> str:
        return self._mode

    def h0_seed(self) -> int:
        return self._seed

    def threshold_table(self) -> Optional[tuple[np.ndarray, np.ndarray]]:
        """(grid omega_r (G,), thresholds (G,)) of a conditioned model in "pfa" mode, else None."""
        with self._lock:
            if self._mode != "pfa" or self._table.omegas is None:
                return None
            return self._table.omegas.copy(), self._thresholds.copy()

    def system(self):
        return self._system

    def scenario(self):
        return self._system.scenario

    def model_path(self) -> str:
        return str(self._loaded.path)

    def describe_threshold(self) -> str:
        if self._mode == "pfa":
            at = (
                f", interpolated at omega_r {self._system.omega:g} from {len(self._table.omegas)} grid points"
                if self._table.omegas is not None
                else ""
            )
            if self._loaded.sector_conditioned:
                (t0, t1), (c0, c1) = self.sectors_deg()
                at += f", sectors target [{t0:g}, {t1:g}], comm [{c0:g}, {c1:g}] deg"
            return (
                f"logit threshold {self._threshold!r} (Pfa {self._pfa:g} calibrated on {self._h0_samples} "
                f"H0 snapshots, seed {self._seed}{at})"
            )
        return f"logit threshold {self._threshold!r} (given)"

    # --- new weights ----------------------------------------------------------
    def _prepare(self, system: AutoencoderSystem):
        """New weights' H0 logits and their thresholds at the Pfa in force (None in "logit" mode)."""
        table = ThresholdTable(system, self._h0_samples, self._seed)
        with self._lock:
            mode, pfa = self._mode, self._pfa
        return table, pfa, (table.thresholds(pfa) if mode == "pfa" else None)

    def _swap(self, system: AutoencoderSystem, prepared) -> None:
        with self._lock:
            if prepared is not None:
                table, pfa, thresholds = prepared
                if self._mode == "pfa" and (thresholds is None or pfa != self._pfa):  # the rule changed meanwhile
                    thresholds = table.thresholds(self._pfa)
                self._table, self._thresholds = table, thresholds
            self._system = system
            self._publish()

    # --- streaming ----------------------------------------------------------
    def start(self) -> bool:
        self.logger.info(self.describe_threshold())
        return True

    def work(self, input_items, output_items):
        self._torch_thread()
        self._take_prepared()
        system, threshold = self._live  # one system and its threshold for the whole call
        every_snapshot = self._estimate == "all"
        z = input_items[0]
        ok = finite_rows(z)
        all_ok = bool(ok.all())
        zt = torch.from_numpy(z)
        if not all_ok:
            zt = zt.clone()
            zt[torch.from_numpy(~ok)] = 0
            self._non_finite(f"{int((~ok).sum())} of {len(z)} snapshots in this batch")
        with torch.inference_mode():
            if every_snapshot:
                logit, theta, sigma = system.radar_receive(zt)
                detection = logit > threshold
            else:
                logit = system.radar_detect(zt)
                detection = logit > threshold
                theta, sigma = torch.full((2, len(zt)), math.nan)
                if bool(detection.any()):
                    theta[detection], sigma[detection] = system.radar_estimate(zt[detection])
            q = torch.sigmoid(logit)
        out_q, out_theta, out_sigma, out_det = output_items
        out_q[:] = q.numpy()
        out_theta[:] = theta.numpy()
        out_sigma[:] = sigma.numpy()
        out_det[:] = detection.numpy()
        if not all_ok:
            bad = ~ok
            out_q[bad] = np.nan
            out_theta[bad] = np.nan
            out_sigma[bad] = np.nan
            out_det[bad] = 0
        return len(z)


class ae_comm_receiver(gr.sync_block, _LiveReceiver):
    """In: z_c, kappa (complex); message port ``weights``. Out: m_hat (byte) [, probabilities (vlen |M| float)].

    m_hat is :meth:`AutoencoderSystem.comm_receive` (the comm network on the
    CSI-equalised z_c / kappa). With ``probabilities`` the block has a second
    output: the softmax of the network's logits, p(m | z_c, kappa).

    New weights of the comm network (a :func:`weights_message` on ``weights``)
    are swapped in between two work() calls.

    A conditioned model runs at omega_r ``omega`` (None: its default point),
    which :meth:`set_omega` moves from the next work() call. A sector-conditioned
    one runs at ``target_sector_deg``, ``comm_sector_deg`` (degrees; None or
    empty: the model's), which :meth:`set_sectors` moves from the next work()
    call; any other model takes its own sectors only (ValueError for others).

    An item with a NaN or infinite input, or kappa = 0, gives m_hat = 0
    (probabilities NaN) and logs one warning.
    """

    _networks = COMM_NETWORKS

    def __init__(
        self,
        model=DEFAULT_MODEL,
        K: int = 16,
        M: int = 4,
        probabilities: bool = False,
        omega=None,
        target_sector_deg=None,
        comm_sector_deg=None,
    ):
        system, loaded = load_system(model, K, M, omega, target_sector_deg, comm_sector_deg)
        checked_sectors(loaded, system.scenario)
        self._system = system
        self._loaded = loaded
        self._num_messages = loaded.scenario.num_messages
        self._probabilities = checks.flag(probabilities, "probabilities")
        outputs = [np.uint8] + ([(np.float32, self._num_messages)] if self._probabilities else [])
        gr.sync_block.__init__(self, name="ae_comm_receiver", in_sig=[np.complex64, np.complex64], out_sig=outputs)
        self.set_min_output_buffer(BATCH_ITEMS)
        self._torch_thread = TorchThread()
        self._non_finite = OnceWarning(self, "NaN or infinite z_c or kappa, or kappa = 0: those items give index 0")
        self._init_live(loaded.model)

    def _prepare(self, system: AutoencoderSystem) -> None:
        """The comm network needs nothing beyond its weights."""

    def _swap(self, system: AutoencoderSystem, prepared) -> None:
        self._system = system

    def system(self):
        return self._system

    def num_messages(self) -> int:
        return self._num_messages

    def model_path(self) -> str:
        return str(self._loaded.path)

    def work(self, input_items, output_items):
        self._torch_thread()
        self._take_prepared()
        system = self._system  # one system for the whole call (set_omega, set_sectors and new weights replace it)
        z, kappa = input_items[0], input_items[1]
        ok = finite_rows(z) & finite_rows(kappa) & (kappa != 0)
        all_ok = bool(ok.all())
        zt, kt = torch.from_numpy(z), torch.from_numpy(kappa)
        if not all_ok:
            bad = torch.from_numpy(~ok)
            zt, kt = zt.clone(), kt.clone()
            zt[bad], kt[bad] = 0, 1
            self._non_finite(f"{int((~ok).sum())} of {len(z)} items in this batch")
        with torch.inference_mode():
            if self._probabilities:
                logits = system.comm_logits(zt, kt)
                m_hat = logits.argmax(-1)
                probs = torch.softmax(logits, -1)
            else:
                m_hat = system.comm_receive(zt, kt)
        output_items[0][:] = m_hat.numpy()
        if not all_ok:
            output_items[0][~ok] = 0
        if self._probabilities:
            output_items[1][:] = probs.numpy()
            if not all_ok:
                output_items[1][~ok] = np.nan
        return len(z)
