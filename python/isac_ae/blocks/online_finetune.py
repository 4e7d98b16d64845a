"""Online fine-tuning of the learned receivers from a running flowgraph (issue 11, the receivers method live).

The block takes the received snapshots with their labels, as the channel
blocks (the C++ or twin channels, or the over-the-air frame receivers) put
them out, keeps the most recent ones in two windows and trains the receivers
(presence detector, angle and uncertainty estimators, comm network; the
transmitter frozen, as it is what was sent) in a background thread, with the
same step as ``isac-ae hw finetune`` method (b)
(:func:`isac_ae.hw.finetune.objective.isac_terms`: the paper's J_ISAC with the
model's omega_r). After every ``steps`` Adam steps it checks the weights on the
held-out window against those it last sent and sends a receiver's new weights
(:func:`isac_ae.blocks.ae_receivers.weights_message` on the message port
``weights``, to the AE Radar and Comm Receivers) only when they make none of
its metrics worse there.

Windows: the stream is cut into blocks of ``split_items`` consecutive items,
a fraction ``held_out_fraction`` of the blocks (evenly spread) feeds the
held-out window and the others the training window, each a ring of the most
recent ``held_out`` and ``window`` labelled items. Blocks rather than single
items: on a board the snapshots of one frame share one scene (one target
angle, one fading draw), so a frame should land on one side only. Training
starts once both windows are full.

The check, on the held-out window, both sets of weights on the same items:

* radar weights are sent when their radar loss (J_NLL, eq. (6)) is lower and
  Pd is not lower and the RMSE over the targets both detect is not higher. Pd
  counts detections at each set's own threshold for ``pfa``, calibrated on
  ``h0_samples`` H0 snapshots drawn with ``h0_seed``, as the AE Radar Receiver
  calibrates (give both the same values and the thresholds are the
  receiver's). The RMSE is over the common detections because the RMSE over
  each set's own detections rises when more, weaker, targets are detected;
* comm weights are sent when their cross-entropy is lower and the SER is not
  higher.

Point estimates on one window decide: a better set of weights whose window
happens to show it worse waits for a later round (training goes on from it).
The weights sent are the comparison's reference from then on. The loss alone
would not do: on the Quad-MxFE twin untrained radar networks have a lower
J_NLL than the nominal ones (whose confident angle errors cost more
log-likelihood) while detecting a third as many targets.

Learning rate 3e-3 by default: from the shipped omega_r = 0.09 model on the
Quad-MxFE twin (seed 0), 100 steps of 1024 raised Pd from 0.096 to 0.166 at
3e-3 and to 0.127 at 1e-3 (one run each, 5e4 evaluation snapshots); 1e-2 did
no better than 3e-3 after 1600 steps (Pd 0.25 against 0.26).

Items whose radar part is unusable (a NaN or infinite z_r or theta, t > 1)
are left out of the windows, with one warning. Items whose comm part is (a
NaN or infinite z_c or kappa, kappa = 0, m >= |M|: a comm frame lost in a deep
fade gives kappa = NaN) keep their radar part: they enter the windows marked
lost (kappa NaN) and count in the radar terms only, as in the receivers'
fine-tuning on captures (:func:`isac_ae.hw.finetune.receivers.receiver_terms`),
with one warning. The work() thread only copies into the windows: the stream never
waits for training.
"""

from __future__ import annotations

import copy
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np
import pmt
import torch
from gnuradio import gr

from ..autoencoder import AutoencoderSystem
from ..autoencoder.model import TRANSMITTER, Autoencoder
from ..evaluation import h0_scores, threshold_for_pfa
from ..hw.finetune.receivers import RECEIVERS, Snapshots, receiver_objective, receiver_terms
from . import checks
from .ae_common import DEFAULT_MODEL, OnceWarning, TorchThread, finite_rows, load_system
from .ae_receivers import COMM_NETWORKS, RADAR_NETWORKS, WEIGHTS_PORT, transmitter_digest, weights_message

__all__ = ["RoundRecord", "online_finetune"]

#: Largest window (items) of either kind: 2^22 snapshots of K = 16 take 640 MB.
MAX_WINDOW = 1 << 22


@dataclass(frozen=True)
class RoundRecord:
    """One round: ``steps`` Adam steps, then the check on the held-out window (losses in nats, RMSE in degrees).

    ``*_sent``: the weights sent (generation ``generation``); ``common_detections``: targets both sets detect.
    """

    round: int
    steps: int
    items: int
    seconds: float
    train_loss: float
    radar_loss: tuple[float, float]
    pd: tuple[float, float]
    rmse_deg: tuple[float, float]
    common_detections: int
    comm_loss: tuple[float, float]
    ser: tuple[float, float]
    radar_sent: bool
    comm_sent: bool
    generation: int

    def describe(self) -> str:
        def pair(name, values, fmt):
            return f"{name} {values[0]:{fmt}} -> {values[1]:{fmt}}"

        sent = [name for name, ok in (("radar", self.radar_sent), ("comm", self.comm_sent)) if ok]
        return (
            f"round {self.round} ({self.steps} steps, {self.items} items): "
            + ", ".join(
                [
                    pair("J_NLL", self.radar_loss, ".4f"),
                    pair("Pd", self.pd, ".4f"),
                    pair("RMSE", self.rmse_deg, ".3f") + " deg",
                    pair("CE", self.comm_loss, ".4f"),
                    pair("SER", self.ser, ".4f"),
                ]
            )
            + (f"; sent {' and '.join(sent)} as generation {self.generation}" if sent else "; nothing sent")
        )


class _Window:
    """A ring of the most recent ``capacity`` labelled items, stored as the arguments of :func:`isac_terms`."""

    def __init__(self, capacity: int, num_antennas: int):
        self.capacity = capacity
        self.filled = 0
        self._next = 0
        self._columns = (
            np.empty((capacity, num_antennas), np.complex64),  # z_r
            np.empty(capacity, np.bool_),  # t
            np.empty(capacity, np.float32),  # theta, rad
            np.empty(capacity, np.complex64),  # z_c
            np.empty(capacity, np.complex64),  # kappa
            np.empty(capacity, np.int64),  # m
        )

    def append(self, rows: list[np.ndarray]) -> None:
        n = len(rows[0])
        if n > self.capacity:
            rows, n = [r[-self.capacity :] for r in rows], self.capacity
        first = min(n, self.capacity - self._next)
        for column, r in zip(self._columns, rows):
            column[self._next : self._next + first] = r[:first]
            column[: n - first] = r[first:]
        self._next = (self._next + n) % self.capacity
        self.filled = min(self.capacity, self.filled + n)

    def comm_lost(self) -> int:
        """Items held for their radar part only (kappa NaN)."""
        return int(np.isnan(self._columns[4][: self.filled]).sum())

    def rows(self, index) -> tuple[torch.Tensor, ...]:
        """Copies of the rows ``index`` (indices into the filled part, or a slice) as tensors: work() goes on
        writing into the ring while they are used."""
        return tuple(torch.from_numpy(np.array(c[: self.filled][index])) for c in self._columns)


class online_finetune(gr.sync_block):
    """In: z_r (vlen K), t (byte), theta (float, rad), z_c, kappa (complex), m (byte). Out: message port ``weights``.

    Fine-tunes the receivers of ``model`` (the receivers' model file) on the stream
    in a background thread (one torch thread) and sends weights that pass the
    held-out check to the AE receivers (see the module docstring).

    window, held_out: items in the training and held-out windows;
    held_out_fraction, split_items: which items go to the held-out window;
    steps: Adam steps of ``batch_size`` items from the training window per
    round, at ``learning_rate``; rounds: rounds to run (0: until the flowgraph
    stops); pfa, h0_samples, h0_seed: the threshold of the check's Pd (those of
    the AE Radar Receiver); seed: the training batches. ``candidate_hook``
    (Python only): a function applied to each round's candidate weights (a
    dict of tensors by model-file name) before the check; the training itself
    goes on from the unmodified weights (tests feed the check a worse set).
    """

    def __init__(
        self,
        model=DEFAULT_MODEL,
        K: int = 16,
        M: int = 4,
        window: int = 65536,
        held_out: int = 16384,
        held_out_fraction: float = 0.25,
        split_items: int = 2048,
        steps: int = 100,
        batch_size: int = 1024,
        learning_rate: float = 3e-3,
        rounds: int = 0,
        pfa: float = 1e-2,
        h0_samples: int = 200_000,
        h0_seed: int = 0,
        seed: int = 0,
        *,
        candidate_hook: Optional[Callable[[dict], dict]] = None,
    ):
        self._batch_size = checks.integer(batch_size, "batch_size", 1, MAX_WINDOW)
        window = checks.integer(window, "window", self._batch_size, MAX_WINDOW)
        held_out = checks.integer(held_out, "held_out", 1, MAX_WINDOW)
        fraction = checks.finite_real(held_out_fraction, "held_out_fraction")
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"held_out_fraction must lie in (0, 1), got {fraction}")
        self._fraction = fraction
        self._split_items = checks.integer(split_items, "split_items", 1, MAX_WINDOW)
        self._steps = checks.integer(steps, "steps", 1)
        rate = checks.finite_real(learning_rate, "learning_rate")
        if rate <= 0:
            raise ValueError(f"learning_rate must be positive, got {rate}")
        self._rounds = checks.integer(rounds, "rounds", 0)
        self._h0_samples = checks.h0_samples(checks.integer(h0_samples, "h0_samples", 1, checks.MAX_H0_SAMPLES), pfa)
        self._pfa = float(pfa)
        self._h0_seed = checks.h0_seed(h0_seed, "h0_seed")
        seed = checks.h0_seed(seed, "seed")
        if candidate_hook is not None and not callable(candidate_hook):
            raise ValueError(f"candidate_hook must be callable, got {candidate_hook!r}")
        self._hook = candidate_hook
        _, loaded = load_system(model, K, M)
        if loaded.conditioned:  # the receivers would have to learn every omega_r the slider may choose
            raise ValueError(
                f"{loaded.path} is an omega_r-conditioned model: online fine-tuning takes a model of one omega_r"
            )
        self._loaded = loaded
        self._scenario = loaded.scenario
        self._omega = loaded.omega
        self._num_messages = self._scenario.num_messages
        self._transmitter = transmitter_digest(loaded.model)

        # training state: the weights trained, the weights last sent (the check's reference) and its threshold
        self._model = copy.deepcopy(loaded.model).cpu()
        for name in TRANSMITTER:
            self._model.network(name).requires_grad_(False)
        params = [p for name in RECEIVERS for p in self._model.network(name).parameters()]
        self._optimizer = torch.optim.Adam(params, lr=rate)
        self._generator = torch.Generator().manual_seed(seed)
        self._reference = copy.deepcopy(loaded.model).cpu().eval()
        self._reference_threshold = None
        self._history: list[RoundRecord] = []
        self._generation = 0
        self._steps_done = 0
        self._error: Optional[str] = None

        K = self._scenario.num_antennas
        self._lock = threading.Lock()
        self._train = _Window(window, K)
        self._held = _Window(held_out, K)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        gr.sync_block.__init__(
            self,
            name="online_finetune",
            in_sig=[(np.complex64, K), np.uint8, np.float32, np.complex64, np.complex64, np.uint8],
            out_sig=None,
        )
        self.message_port_register_out(pmt.intern(WEIGHTS_PORT))
        self._torch_thread = TorchThread()
        self._bad_items = OnceWarning(
            self, "items with a NaN or infinite z_r or theta, or t > 1: left out of the windows"
        )
        self._comm_lost = OnceWarning(
            self, "items with a NaN or infinite z_c or kappa, kappa = 0 or m >= |M|: their radar part only is kept"
        )

    # --- streaming ----------------------------------------------------------
    def _held_out_runs(self, start: int, count: int):
        """(lo, hi, held out?) runs of the items start .. start+count-1, relative to ``start``."""
        first, end = start, start + count
        while first < end:
            block = first // self._split_items
            stop = min(end, (block + 1) * self._split_items)
            held = math.floor((block + 1) * self._fraction) > math.floor(block * self._fraction)
            yield first - start, stop - start, held
            first = stop

    def work(self, input_items, output_items):
        count = len(input_items[0])
        if self._thread is None or not self._thread.is_alive():  # training over (or never started): nothing to keep
            return count
        z, t, theta, z_comm, kappa, m = input_items
        radar_ok = finite_rows(z) & np.isfinite(theta) & (t <= 1)
        comm_ok = finite_rows(z_comm) & finite_rows(kappa) & (kappa != 0) & (m < self._num_messages)
        all_radar, all_comm = bool(radar_ok.all()), bool(comm_ok.all())
        if not all_radar:
            self._bad_items(f"{int((~radar_ok).sum())} of {count} items in this batch")
        if not all_comm:
            self._comm_lost(f"{int((radar_ok & ~comm_ok).sum())} of {count} items in this batch")
            lost = ~comm_ok
            z_comm, kappa, m = np.where(lost, 0, z_comm), np.where(lost, np.nan, kappa), np.where(lost, 0, m)
        columns = (z, t, theta, z_comm, kappa, m)
        for lo, hi, held in self._held_out_runs(self.nitems_read(0), count):
            rows = [x[lo:hi] for x in columns]
            if not all_radar:
                rows = [r[radar_ok[lo:hi]] for r in rows]
            with self._lock:
                (self._held if held else self._train).append(rows)
        return count

    def start(self) -> bool:
        if self._error is None and not self._finished():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="online_finetune training", daemon=True)
            self._thread.start()
        return True

    def stop(self) -> bool:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        return True

    # --- training (background thread) ----------------------------------------
    def _finished(self) -> bool:
        return self._rounds > 0 and len(self._history) >= self._rounds

    def _run(self) -> None:
        self._torch_thread()
        try:
            while not self._stop.is_set() and not self._finished():
                with self._lock:
                    ready = self._train.filled == self._train.capacity and self._held.filled == self._held.capacity
                if not ready:
                    self._stop.wait(0.01)
                    continue
                self._round()
        except Exception as exc:  # noqa: BLE001  (reported; the flowgraph runs on with the weights sent so far)
            self._error = f"{type(exc).__name__}: {exc}"
            self.logger.error(f"online fine-tuning stopped: {self._error}")

    def _round(self) -> None:
        start = time.perf_counter()
        loss = math.nan
        for _ in range(self._steps):
            if self._stop.is_set():
                return
            with self._lock:
                batch = self._train.rows(
                    torch.randint(self._train.filled, (self._batch_size,), generator=self._generator)
                )
            step_loss = receiver_objective(self._model, self._omega, Snapshots(*batch))
            self._optimizer.zero_grad(set_to_none=True)
            step_loss.backward()
            self._optimizer.step()
            self._steps_done += 1
            loss = step_loss.item()
        with self._lock:
            held = self._held.rows(slice(None))
            items = self.nitems_read(0)
        candidate = {k: v.detach().clone() for k, v in self._model.state_dict().items() if k.split(".")[0] in RECEIVERS}
        if self._hook is not None:
            candidate = self._hook(candidate)
        record = self._check(candidate, held, loss, items, time.perf_counter() - start)
        self._history.append(record)
        self.logger.info(record.describe())

    @torch.inference_mode()
    def _threshold(self, model: Autoencoder) -> float:
        system = AutoencoderSystem(model, self._scenario)
        return threshold_for_pfa(h0_scores(system, self._h0_samples, self._h0_seed), self._pfa)

    @torch.inference_mode()
    def _metrics(self, model: Autoencoder, held: tuple, threshold: float) -> dict:
        data = Snapshots(*held)
        system = AutoencoderSystem(model, self._scenario)
        logit, theta_hat, _ = system.radar_receive(data.z)
        radar, comm = receiver_terms(model, data)
        decoded = data.decoded
        return {
            "radar_loss": radar.double().mean().item(),
            "comm_loss": comm.double().mean().item(),  # NaN when every comm frame was lost: nothing sent
            "hit": ((logit > threshold) & data.target).numpy(),
            "sq_error": (theta_hat.double() - data.theta.double()).square().numpy(),
            "errors": (
                system.comm_receive(data.z_comm[decoded], data.kappa[decoded]) != data.messages[decoded]
            ).numpy(),
        }

    def _check(self, candidate: dict, held: tuple, train_loss: float, items: int, seconds: float) -> RoundRecord:
        """Compare ``candidate`` with the weights last sent on ``held``; send the receivers' weights that pass."""
        model = copy.deepcopy(self._reference)
        model.load_state_dict(candidate, strict=False)
        if self._reference_threshold is None:
            self._reference_threshold = self._threshold(self._reference)
        threshold = self._threshold(model)
        old = self._metrics(self._reference, held, self._reference_threshold)
        new = self._metrics(model, held, threshold)
        targets = max(int(held[1].sum()), 1)
        common = old["hit"] & new["hit"]
        rmse = tuple(
            math.degrees(math.sqrt(x["sq_error"][common].mean())) if common.any() else math.nan for x in (old, new)
        )
        pd = (old["hit"].sum() / targets, new["hit"].sum() / targets)
        ser = tuple(x["errors"].mean() if len(x["errors"]) else math.nan for x in (old, new))
        # bool(): numpy comparisons give numpy booleans, which the round records' JSON refuses
        radar_ok = bool(new["radar_loss"] < old["radar_loss"] and pd[1] >= pd[0] and not rmse[1] > rmse[0])
        comm_ok = bool(new["comm_loss"] < old["comm_loss"] and ser[1] <= ser[0])
        sent = [name for name, ok in ((RADAR_NETWORKS, radar_ok), (COMM_NETWORKS, comm_ok)) if ok]
        if sent:
            networks = {n for names in sent for n in names}
            state = {k: v for k, v in candidate.items() if k.split(".")[0] in networks}
            with self._lock:  # weights() reads it from another thread
                self._reference.load_state_dict(state, strict=False)
            if radar_ok:
                self._reference_threshold = threshold
            self._generation += 1
            self.message_port_pub(pmt.intern(WEIGHTS_PORT), weights_message(state, self._transmitter, self._generation))
        return RoundRecord(
            round=len(self._history) + 1,
            steps=self._steps_done,
            items=items,
            seconds=seconds,
            train_loss=train_loss,
            radar_loss=(float(old["radar_loss"]), float(new["radar_loss"])),
            pd=(float(pd[0]), float(pd[1])),
            rmse_deg=rmse,
            common_detections=int(common.sum()),
            comm_loss=(float(old["comm_loss"]), float(new["comm_loss"])),
            ser=(float(ser[0]), float(ser[1])),
            radar_sent=radar_ok,
            comm_sent=comm_ok,
            generation=self._generation,
        )

    # --- getters ------------------------------------------------------------
    def history(self) -> list[RoundRecord]:
        """Every round's check so far (see :class:`RoundRecord`)."""
        return list(self._history)

    def generation(self) -> int:
        """Weights messages sent so far."""
        return self._generation

    def rounds_done(self) -> int:
        return len(self._history)

    def steps_done(self) -> int:
        """Adam steps so far (those of a round in progress included)."""
        return self._steps_done

    def finished(self) -> bool:
        """True once ``rounds`` rounds ran, or training stopped on an error."""
        return self._finished() or self._error is not None

    def error(self) -> Optional[str]:
        """What stopped the training, if it failed (also logged)."""
        return self._error

    def weights(self) -> dict:
        """Copies of the receiver weights last sent (the model file's before any), by model-file name."""
        with self._lock:
            return {k: v.clone() for k, v in self._reference.state_dict().items() if k.split(".")[0] in RECEIVERS}

    def model_path(self) -> str:
        return str(self._loaded.path)

    def windows(self) -> tuple[int, int]:
        """Items now in the (training, held-out) windows."""
        with self._lock:
            return self._train.filled, self._held.filled

    def comm_lost_in_windows(self) -> tuple[int, int]:
        """Items of the (training, held-out) windows kept for their radar part only (comm part lost)."""
        with self._lock:
            return tuple(w.comm_lost() for w in (self._train, self._held))
