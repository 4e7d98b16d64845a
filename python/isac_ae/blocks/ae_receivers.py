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
"""

from __future__ import annotations

import copy
import hashlib
import math
import threading
from dataclasses import dataclass
from typing import Optional

import numpy as np
import pmt
import torch
from gnuradio import gr
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from ..autoencoder import AutoencoderSystem
from ..autoencoder.model import TRANSMITTER, Autoencoder, omega_condition
from ..evaluation import h0_scores, threshold_for_pfa
from . import checks
from .ae_common import BATCH_ITEMS, DEFAULT_MODEL, OnceWarning, TorchThread, checked_omega, finite_rows, load_system

THRESHOLD_MODES = ("pfa", "logit")

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
    """A system's detector at every omega_r of a grid, as a system for :func:`h0_scores`: ``radar_receive(z (N,
    K))`` gives (logits (N, G), None, None), and h0_scores draws the same snapshots as for ``system`` itself."""

    def __init__(self, system: AutoencoderSystem, omegas: np.ndarray):
        self.scenario, self.transmit, self._model = system.scenario, system.transmit, system.model
        conditions = omega_condition(torch.as_tensor(omegas, dtype=torch.float32))
        self._conditions = conditions.unsqueeze(1)  # (G, 1, 2): one omega_r at a time, as AutoencoderSystem's

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
    feature (the grid is uniform in it).
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


class _WeightSwap:
    """The weights port of a receiver: a background thread prepares each new set of weights, work() swaps it in.

    A subclass names its ``_networks``, implements ``_prepare(system)`` (what else the new system needs,
    computed in the background) and ``_swap(system, prepared)`` (install both; runs under ``_swap_lock``),
    calls ``_init_weights_port(model)`` after gr.sync_block's __init__ and ``_take_prepared()`` at the start
    of work(). Messages that arrive while others are being prepared wait, and are then prepared together.
    ``set_omega`` installs the same weights at another omega_r through ``_swap(system, None)``, and new
    weights run at the omega_r in force when they are swapped in.
    """

    _networks: tuple = ()

    def _init_weights_port(self, model: Autoencoder) -> None:
        self._transmitter = transmitter_digest(model)
        self._shapes = {name: tuple(t.shape) for name, t in model.state_dict().items()}
        self._generation = 0
        self._swaps: list[tuple[int, int]] = []
        self._refused = 0
        self._swap_lock = threading.Lock()
        self._swap_changed = threading.Condition(self._swap_lock)
        self._messages = []  # arrived, not yet prepared
        self._prepared = None  # (generation, system, prepared), waiting for the next work() call
        self._worker = None
        self.message_port_register_in(pmt.intern(WEIGHTS_PORT))
        self.set_msg_handler(pmt.intern(WEIGHTS_PORT), self._on_weights)

    def _on_weights(self, message) -> None:
        with self._swap_lock:
            self._messages.append(message)
            if self._worker is None:
                self._worker = threading.Thread(target=self._prepare_loop, name=f"{self.name()} weights", daemon=True)
                self._worker.start()
            self._swap_changed.notify_all()

    def _refuse(self, exc: Exception) -> None:
        with self._swap_lock:
            self._refused += 1
        self.logger.error(f"weights message refused, the receiver keeps its weights: {exc}")

    def _prepare_loop(self) -> None:
        torch.set_num_threads(1)
        while True:
            with self._swap_lock:
                self._swap_changed.wait_for(lambda: self._messages)
                messages, self._messages = self._messages, []
            # The messages that arrived during the last preparation are merged in order (a later tensor replaces
            # an earlier one) and prepared once: a message for the other receiver's networks loses nothing.
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
            if not tensors:
                continue
            try:
                with self._swap_lock:
                    base = (self._prepared[1] if self._prepared is not None else self._system).model
                model = copy.deepcopy(base)
                model.load_state_dict(tensors, strict=False)
                with torch.inference_mode():
                    system = self._system_at(model, self._system.omega)
                    prepared = self._prepare(system)
            except Exception as exc:  # noqa: BLE001  (reported; the receiver keeps the weights it has)
                self._refuse(exc)
                continue
            with self._swap_lock:
                self._prepared = (generation, system, prepared)
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
        """Swap in weights that are ready (called at the start of work(), so between two work() calls)."""
        if self._prepared is None:
            return
        with self._swap_lock:
            (generation, system, prepared), self._prepared = self._prepared, None
            if system.omega != self._system.omega:  # set_omega while the weights were prepared
                system = self._system_at(system.model, self._system.omega)
            self._swap(system, prepared)
            self._generation = generation
            self._swaps.append((self.nitems_read(0), generation))
            self._swap_changed.notify_all()
        self.logger.info(f"weights of generation {generation} in use from item {self.nitems_read(0)}")

    def _system_at(self, model: Autoencoder, omega: Optional[float]) -> AutoencoderSystem:
        with torch.inference_mode():
            return AutoencoderSystem(model, self._loaded.scenario, omega=omega)

    def set_omega(self, omega) -> None:
        """Move a conditioned model to omega_r ``omega`` in [0, 1] (None: its default point); GRC's callback.

        In use from the next work() call (the radar receiver's threshold with it). A model that is not
        conditioned refuses any omega but None (ValueError)."""
        omega = checked_omega(self._loaded, omega)
        with self._swap_lock:
            if omega != self._system.omega:
                self._swap(self._system_at(self._system.model, omega), None)  # the same weights: nothing prepared

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
        """(first item, generation) of every swap so far: the items before the first item ran earlier weights."""
        with self._swap_lock:
            return list(self._swaps)

    def refused_messages(self) -> int:
        """Weights messages refused so far (each logged as an error)."""
        return self._refused

    def wait_prepared(self, generation: int, timeout: Optional[float] = None) -> bool:
        """Wait until weights of ``generation`` or later are in use or ready for the next work() call (False on
        timeout)."""

        def ready():
            return (self._prepared[0] if self._prepared is not None else self._generation) >= generation

        with self._swap_lock:
            return bool(self._swap_changed.wait_for(ready, timeout))


class ae_radar_receiver(gr.sync_block, _WeightSwap):
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
    logit depends on the model alone, not on the sectors, the transmitted beam
    (``ae_transmitter.set_sectors``), the SNRs or the true array. K is the
    model's (a block for another K refuses the model).

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

    A snapshot with a NaN or infinite sample gives q, theta_hat, sigma_hat = NaN
    and detection 0, and logs one warning.
    """

    _networks = RADAR_NETWORKS

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
    ):
        self._h0_samples = checks.integer(h0_samples, "h0_samples", 1, checks.MAX_H0_SAMPLES)
        self._seed = checks.h0_seed(seed)
        system, loaded = load_system(model, K, M, omega)
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
        self._init_weights_port(loaded.model)

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
        z = input_items[0]
        ok = finite_rows(z)
        all_ok = bool(ok.all())
        zt = torch.from_numpy(z)
        if not all_ok:
            zt = zt.clone()
            zt[torch.from_numpy(~ok)] = 0
            self._non_finite(f"{int((~ok).sum())} of {len(z)} snapshots in this batch")
        with torch.inference_mode():
            logit, theta, sigma = system.radar_receive(zt)
            q = torch.sigmoid(logit)
            detection = logit > threshold
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


class ae_comm_receiver(gr.sync_block, _WeightSwap):
    """In: z_c, kappa (complex); message port ``weights``. Out: m_hat (byte) [, probabilities (vlen |M| float)].

    m_hat is :meth:`AutoencoderSystem.comm_receive` (the comm network on the
    CSI-equalised z_c / kappa). With ``probabilities`` the block has a second
    output: the softmax of the network's logits, p(m | z_c, kappa).

    New weights of the comm network (a :func:`weights_message` on ``weights``)
    are swapped in between two work() calls.

    A conditioned model runs at omega_r ``omega`` (None: its default point),
    which :meth:`set_omega` moves from the next work() call.

    An item with a NaN or infinite input, or kappa = 0, gives m_hat = 0
    (probabilities NaN) and logs one warning.
    """

    _networks = COMM_NETWORKS

    def __init__(self, model=DEFAULT_MODEL, K: int = 16, M: int = 4, probabilities: bool = False, omega=None):
        system, loaded = load_system(model, K, M, omega)
        self._system = system
        self._loaded = loaded
        self._num_messages = loaded.scenario.num_messages
        self._probabilities = checks.flag(probabilities, "probabilities")
        outputs = [np.uint8] + ([(np.float32, self._num_messages)] if self._probabilities else [])
        gr.sync_block.__init__(self, name="ae_comm_receiver", in_sig=[np.complex64, np.complex64], out_sig=outputs)
        self.set_min_output_buffer(BATCH_ITEMS)
        self._torch_thread = TorchThread()
        self._non_finite = OnceWarning(self, "NaN or infinite z_c or kappa, or kappa = 0: those items give index 0")
        self._init_weights_port(loaded.model)

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
        system = self._system  # one system for the whole call (set_omega and new weights replace it)
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
