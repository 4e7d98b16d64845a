"""Running ISAC figures of merit of a flowgraph: Pd, Pfa, RMSE, SER (a sink with getters and a message port).

The definitions are the evaluation's (:mod:`isac_ae.evaluation`): Pd over the
snapshots with a target, Pfa over those without, the RMSE of the angle over
present-and-detected targets (degrees), the SER over all messages.
"""

from __future__ import annotations

import json
import math
import os
import threading
from pathlib import Path

import numpy as np
import pmt
from gnuradio import gr

from ..evaluation import clopper_pearson, rmse_interval
from . import checks

_COUNTS = ("items", "targets", "detected", "absent", "false_alarms", "symbol_errors", "non_finite_estimates")


def _writable(json_path) -> str:
    """``json_path`` ("" for none) if a file can be written there: refused at construction, not at stop."""
    json_path = str(json_path or "")
    if not json_path:
        return json_path
    path = Path(os.path.expanduser(json_path)).absolute()
    if path.is_dir():
        raise ValueError(f"json_path {json_path!r} is a directory; give a file name")
    parent = path.parent
    while not parent.exists():  # the directories stop() will create
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"json_path {json_path!r}: cannot write under {parent}")
    return str(path)


class isac_metrics(gr.sync_block):
    """Sink. In: t (byte), theta (float, rad), detection (byte), theta_hat (float, rad), m (byte), m_hat (byte).

    Getters (thread-safe, for GUI labels and function probes): ``pd()``,
    ``pfa()``, ``rmse_deg()``, ``ser()``, ``counts()``, ``metrics()`` (all in
    one dict, with the evaluation's 95 % intervals (Clopper-Pearson for the
    rates, :func:`~isac_ae.evaluation.rmse_interval` for the RMSE) and the
    standard error of the RMSE), ``summary()`` (one line of text). ``reset()`` starts counting afresh
    (e.g. after a parameter change). ``epoch``: any value (e.g. the operating point (omega_r, sectors)); a
    new one through ``set_epoch`` resets the counts, so that a flowgraph's labels show the point in force
    rather than an average over every point it went through (the items already in the buffers, sent at the
    old point, count towards the new one: a few batches).

    Every ``report_every`` items (0: never) the block publishes ``metrics()`` as
    a PMT dict on its message port ``metrics``. With ``json_path`` the final
    figures are written there as JSON when the flowgraph stops; ``log_at_stop``
    logs the summary line. ``label`` names the system in both (e.g. "AE").

    A detected target whose theta_hat is NaN or infinite counts as detected and
    its squared error enters the RMSE, which becomes NaN (or infinite), as in
    :func:`isac_ae.evaluation.evaluate`; ``non_finite_estimates`` counts such
    targets so that the cause is visible.
    """

    def __init__(
        self, report_every: int = 100_000, json_path: str = "", label: str = "", log_at_stop: bool = True, epoch=None
    ):
        report_every = checks.integer(report_every, "report_every (items)", 0)
        gr.sync_block.__init__(
            self,
            name="isac_metrics",
            in_sig=[np.uint8, np.float32, np.uint8, np.float32, np.uint8, np.uint8],
            out_sig=None,
        )
        self._report_every = report_every
        self._json_path = _writable(json_path)
        self._label = str(label or "")
        self._log_at_stop = checks.flag(log_at_stop, "log_at_stop")
        self._lock = threading.Lock()
        self._port = pmt.intern("metrics")
        self.message_port_register_out(self._port)
        self._epoch = epoch
        self.reset()

    # --- accumulation ---------------------------------------------------------
    def reset(self) -> None:
        with self._lock:
            self._counts = dict.fromkeys(_COUNTS, 0)
            self._sq_error = 0.0  # sum of (theta_hat - theta)^2, rad^2
            self._sq_error2 = 0.0  # sum of (theta_hat - theta)^4, for the RMSE's standard error

    def set_epoch(self, epoch) -> None:
        """A new operating point: counting restarts when ``epoch`` differs from the one in force (GRC's callback)."""
        with self._lock:
            changed, self._epoch = epoch != self._epoch, epoch
        if changed:
            self.reset()

    def epoch(self):
        """The operating point the counts belong to (what ``set_epoch`` last set)."""
        return self._epoch

    def _accumulate(self, t, theta, detection, theta_hat, m, m_hat) -> None:
        present = t != 0
        decided = detection != 0
        hit = present & decided
        # evaluate()'s terms: every present-and-detected target, its squared error as it is.
        sq = np.square(theta_hat[hit].astype(np.float64) - theta[hit].astype(np.float64))
        n_present = int(np.count_nonzero(present))
        n_hit = int(np.count_nonzero(hit))
        with self._lock:
            c = self._counts
            c["items"] += len(t)
            c["targets"] += n_present
            c["absent"] += len(t) - n_present
            c["detected"] += n_hit
            c["non_finite_estimates"] += n_hit - int(np.count_nonzero(np.isfinite(sq)))
            c["false_alarms"] += int(np.count_nonzero(decided)) - n_hit
            c["symbol_errors"] += int(np.count_nonzero(m != m_hat))
            self._sq_error += float(sq.sum())
            self._sq_error2 += float(np.square(sq).sum())

    def work(self, input_items, output_items):
        n = len(input_items[0])
        every = self._report_every
        start = 0
        while start < n:
            stop = n
            if every:
                done = self._counts["items"]
                stop = min(n, start + every - done % every)
            self._accumulate(*(x[start:stop] for x in input_items))
            if every and self._counts["items"] % every == 0:
                self.message_port_pub(self._port, pmt.to_pmt(self.metrics()))
            start = stop
        return n

    def stop(self) -> bool:
        if self._json_path:
            path = Path(self._json_path)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(self.metrics(), indent=1) + "\n")
            except OSError as exc:  # e.g. a full disk: the summary below still reports the figures
                self.logger.error(f"could not write the metrics to {path}: {exc}")
        if self._log_at_stop:
            self.logger.info(self.summary())
        return True

    # --- getters --------------------------------------------------------------
    def _snapshot(self):
        with self._lock:
            return dict(self._counts), self._sq_error, self._sq_error2

    @staticmethod
    def _ratio(num: int, den: int) -> float:
        return num / den if den else float("nan")

    @staticmethod
    def _rmse(c: dict, s1: float) -> float:
        return math.degrees(math.sqrt(s1 / c["detected"])) if c["detected"] else float("nan")

    @staticmethod
    def _rmse_stderr(c: dict, s1: float, s2: float) -> float:
        n = c["detected"]
        if n < 2 or s1 <= 0.0:
            return float("nan")
        mse = s1 / n
        var = max(s2 / n - mse * mse, 0.0) * n / (n - 1)
        return math.degrees(math.sqrt(var / n) / (2.0 * math.sqrt(mse)))

    def counts(self) -> dict:
        return self._snapshot()[0]

    def pd(self) -> float:
        c = self.counts()
        return self._ratio(c["detected"], c["targets"])

    def pfa(self) -> float:
        c = self.counts()
        return self._ratio(c["false_alarms"], c["absent"])

    def ser(self) -> float:
        c = self.counts()
        return self._ratio(c["symbol_errors"], c["items"])

    def rmse_deg(self) -> float:
        c, s1, _ = self._snapshot()
        return self._rmse(c, s1)

    def rmse_stderr_deg(self) -> float:
        """Standard error of :meth:`rmse_deg` (delta method on the mean squared error), degrees."""
        return self._rmse_stderr(*self._snapshot())

    def label(self) -> str:
        return self._label

    def metrics(self) -> dict:
        """Everything at once, from one snapshot: figures of merit, 95 % intervals, counts."""
        c, s1, s2 = self._snapshot()
        out = {
            "label": self._label,
            "pd": self._ratio(c["detected"], c["targets"]),
            "pd_ci": list(clopper_pearson(c["detected"], c["targets"])),
            "pfa": self._ratio(c["false_alarms"], c["absent"]),
            "pfa_ci": list(clopper_pearson(c["false_alarms"], c["absent"])),
            "rmse_deg": self._rmse(c, s1),
            "rmse_ci_deg": [math.degrees(x) for x in rmse_interval(s1, s2, c["detected"])],
            "rmse_stderr_deg": self._rmse_stderr(c, s1, s2),
            "ser": self._ratio(c["symbol_errors"], c["items"]),
            "ser_ci": list(clopper_pearson(c["symbol_errors"], c["items"])),
        }
        out.update(c)
        return out

    def summary(self) -> str:
        """One line: label, Pd, Pfa, RMSE, SER and the number of items."""
        r = self.metrics()
        name = f"{self._label}: " if self._label else ""
        return (
            f"{name}Pd {r['pd']:.4f}  Pfa {r['pfa']:.4f}  RMSE {r['rmse_deg']:.3f} deg  "
            f"SER {r['ser']:.5f}  ({r['items']} items, {r['targets']} targets)"
        )
