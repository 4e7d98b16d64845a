"""The learned ISAC receivers as GNU Radio blocks: radar (detector, angle, uncertainty) and comm.

Both call :class:`isac_ae.autoencoder.AutoencoderSystem` of a trained model:
one batched forward pass per work() call, under ``torch.inference_mode()``
with one torch thread. The detection rule is the evaluation's: the detector's
logit > threshold (the logit, not q = sigmoid(logit), so float32 saturation of
q at 1 creates no ties).
"""

from __future__ import annotations

import math
import threading

import numpy as np
import torch
from gnuradio import gr

from ..evaluation import h0_scores, threshold_for_pfa
from . import checks
from .ae_common import BATCH_ITEMS, DEFAULT_MODEL, OnceWarning, TorchThread, finite_rows, load_system

THRESHOLD_MODES = ("pfa", "logit")


class ae_radar_receiver(gr.sync_block):
    """In: z_r (vlen K). Out: q (float), theta_hat (float, rad), sigma_hat (float, rad), detection (byte).

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

    A snapshot with a NaN or infinite sample gives q, theta_hat, sigma_hat = NaN
    and detection 0, and logs one warning.
    """

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
    ):
        self._h0_samples = checks.integer(h0_samples, "h0_samples", 1, checks.MAX_H0_SAMPLES)
        self._seed = checks.h0_seed(seed)
        system, loaded = load_system(model, K, M)
        self._system = system
        self._loaded = loaded
        self._num_antennas = loaded.scenario.num_antennas
        self._h0 = None
        self._lock = threading.Lock()
        self._threshold = math.inf
        self._pfa = float("nan")
        self._mode = None
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

    # --- threshold ----------------------------------------------------------
    def _h0_scores(self) -> np.ndarray:
        if self._h0 is None:
            self._h0 = h0_scores(self._system, self._h0_samples, self._seed)
        return self._h0

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
        threshold = threshold_for_pfa(self._h0_scores(), pfa)
        with self._lock:
            self._threshold, self._pfa, self._mode = threshold, pfa, "pfa"

    def set_threshold(self, threshold: float) -> None:
        """Use the logit threshold ``threshold`` (detection: logit > threshold)."""
        threshold = float(threshold)
        if math.isnan(threshold):
            raise ValueError("threshold must not be NaN")
        with self._lock:
            self._threshold, self._pfa, self._mode = threshold, float("nan"), "logit"

    def threshold(self) -> float:
        """The logit threshold in use."""
        return self._threshold

    def pfa(self) -> float:
        """The target false-alarm rate of a calibrated threshold (NaN for a given logit threshold)."""
        return self._pfa

    def mode(self) -> str:
        return self._mode

    def h0_seed(self) -> int:
        return self._seed

    def system(self):
        return self._system

    def scenario(self):
        return self._system.scenario

    def model_path(self) -> str:
        return str(self._loaded.path)

    def describe_threshold(self) -> str:
        if self._mode == "pfa":
            return (
                f"logit threshold {self._threshold!r} (Pfa {self._pfa:g} calibrated on {self._h0_samples} "
                f"H0 snapshots, seed {self._seed})"
            )
        return f"logit threshold {self._threshold!r} (given)"

    # --- streaming ----------------------------------------------------------
    def start(self) -> bool:
        self.logger.info(self.describe_threshold())
        return True

    def work(self, input_items, output_items):
        self._torch_thread()
        z = input_items[0]
        ok = finite_rows(z)
        all_ok = bool(ok.all())
        zt = torch.from_numpy(z)
        if not all_ok:
            zt = zt.clone()
            zt[torch.from_numpy(~ok)] = 0
            self._non_finite(f"{int((~ok).sum())} of {len(z)} snapshots in this batch")
        threshold = self._threshold
        with torch.inference_mode():
            logit, theta, sigma = self._system.radar_receive(zt)
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


class ae_comm_receiver(gr.sync_block):
    """In: z_c, kappa (complex). Out: m_hat (byte) [, probabilities (vlen |M| float)].

    m_hat is :meth:`AutoencoderSystem.comm_receive` (the comm network on the
    CSI-equalised z_c / kappa). With ``probabilities`` the block has a second
    output: the softmax of the network's logits, p(m | z_c, kappa).

    An item with a NaN or infinite input, or kappa = 0, gives m_hat = 0
    (probabilities NaN) and logs one warning.
    """

    def __init__(self, model=DEFAULT_MODEL, K: int = 16, M: int = 4, probabilities: bool = False):
        system, loaded = load_system(model, K, M)
        self._system = system
        self._loaded = loaded
        self._num_messages = loaded.scenario.num_messages
        self._probabilities = checks.flag(probabilities, "probabilities")
        outputs = [np.uint8] + ([(np.float32, self._num_messages)] if self._probabilities else [])
        gr.sync_block.__init__(self, name="ae_comm_receiver", in_sig=[np.complex64, np.complex64], out_sig=outputs)
        self.set_min_output_buffer(BATCH_ITEMS)
        self._torch_thread = TorchThread()
        self._non_finite = OnceWarning(self, "NaN or infinite z_c or kappa, or kappa = 0: those items give index 0")

    def _logits(self, z: torch.Tensor, kappa: torch.Tensor) -> torch.Tensor:
        """(N, |M|) logits of the comm network."""
        return self._system.comm_logits(z, kappa)

    def system(self):
        return self._system

    def num_messages(self) -> int:
        return self._num_messages

    def model_path(self) -> str:
        return str(self._loaded.path)

    def work(self, input_items, output_items):
        self._torch_thread()
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
                logits = self._logits(zt, kt)
                m_hat = logits.argmax(-1)
                probs = torch.softmax(logits, -1)
            else:
                m_hat = self._system.comm_receive(zt, kt)
        output_items[0][:] = m_hat.numpy()
        if not all_ok:
            output_items[0][~ok] = 0
        if self._probabilities:
            output_items[1][:] = probs.numpy()
            if not all_ok:
                output_items[1][~ok] = np.nan
        return len(z)
