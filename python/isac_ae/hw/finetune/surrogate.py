"""Fine-tuning method (a), the surrogate: fit the array model to a measured manifold, then train through it.

1. :func:`fit_array` fits an :class:`~isac_ae.impairments.ArrayModel`
   (per-element RX gains, element positions, nearest-neighbour coupling c1) to
   a measured :class:`~isac_ae.hw.manifold.Manifold` by weighted least squares,
   with L-BFGS in float64, from the nominal array (or a calibration's gains);
   the TX gains come from a calibration's TX measurement (below).
2. :func:`finetune` absorbs the inverse of the fitted gains into the nominal
   model (:func:`corrected_model`: what a calibration does, as weights),
   builds ``Channels.simulated(scenario, array=fitted)`` and continues
   training the whole autoencoder through it with the core's
   :class:`~isac_ae.autoencoder.training.Trainer` (schedule ``joint``: the six
   networks together on J_ISAC), with a checkpoint it resumes from.

What the measurements pin down. The manifold is a *receive-side*
measurement relative to element 0,
``m_k(theta) = steering_rx(theta)_k / steering_rx(theta)_0
= g_rx,k (C a(theta))_k / (g_rx,0 (C a(theta))_0)``: it determines the RX gains
relative to element 0, the positions relative to element 0 (a common shift
multiplies every element by one phase, which cancels) and the coupling C. It
says nothing about the TX gains, which on a real board (and on the twins,
:meth:`ArrayModel.draw`) are separate chains drawn independently of the RX
ones. Captures do not pin them either: every capture sends one beam v, so the
comm receiver sees ``beta a_tx(vartheta)^T v`` and the radar
``alpha a_tx(theta)^T v``, one complex number per scene and angle multiplied
by a fresh random gain (Rayleigh beta, Swerling alpha) that hides its phase:
what survives is the magnitude of one beam's pattern at the scene angles,
too little to solve for K complex gains. A TX measurement does pin them: a
calibration's :func:`~isac_ae.hw.calibration.tx_response` measures
``steering_tx(0) = diag(g_tx) C^T 1`` relative to element 0, and with the
fitted (symmetric) coupling ``g_tx,k / g_tx,0 = t_k (C 1)_0 / (C 1)_k``. So
the TX gains come from the calibration when it has a TX measurement, are the
RX gains on an analog receive-only array (the Phaser applies TX weights as
receive weights) and nominal (1) otherwise: the report says which.

Conventions: gains relative to element 0 (its gain is 1, as in a
calibration), positions in wavelengths with element 0 at its nominal place;
the absolute level of the array (|g_0|) is not measurable, so the fitted
channel's SNR is the scenario's at element 0. Angles in degrees at this
surface.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from ...atomic import write_atomically
from ...autoencoder.model import Autoencoder
from ...autoencoder.training import StepReport, Trainer, TrainingConfig, TrainingError
from ...channels import Channels
from ...impairments import ArrayModel
from ...scenario import Scenario
from ..calibration import Calibration
from ..manifold import Manifold
from ..profiles import profile as get_profile

METHOD = "surrogate"
#: The parameters :func:`fit_array` can free (the others keep their starting values).
FREE_PARAMETERS = ("gain_rx", "positions", "coupling")
#: Training samples through the fitted channel per budget (batches of :data:`BATCH_SIZE`).
BUDGETS = {"quick": 300_000, "full": 20_000_000}
BATCH_SIZE = 10_000
#: Adam's step, a tenth of training's: the corrected start (:func:`corrected_model`) is already good, and at
#: training's 0.01 the quick budget first undid part of it (held-out J_ISAC on the quadmxfe twin, seed 0:
#: -0.027 against -0.047 at 0.001, from -0.041 at the start).
LEARNING_RATE = 0.001
_RECORD_FORMAT = "isac_ae.finetune_surrogate/1"


@dataclass(frozen=True)
class FitReport:
    """How well a fitted array model explains the measured manifold, and where its TX gains come from.

    residual: ``||measured - model|| / ||measured||`` over the grid's measured ratios (elements 1..K-1;
    element 0 is 1 by definition); start_residual: the same for the starting model (nominal array or
    the calibration's gains); c1_db, c1_phase_deg: the fitted coupling (c1_db None without it);
    tx_source: "calibration", "reciprocity" or "nominal" (:func:`fit_array`); truth: errors against a
    known truth (:func:`truth_errors`), None on a bench.
    """

    residual: float
    start_residual: float
    start: str
    free: tuple[str, ...]
    angles: int
    iterations: int
    seconds: float
    c1_db: Optional[float]
    c1_phase_deg: float
    tx_source: str
    truth: Optional[dict] = None

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["free"] = list(self.free)
        return d


def _check_free(free) -> tuple[str, ...]:
    free = tuple(free)
    unknown = [p for p in free if p not in FREE_PARAMETERS]
    if unknown or len(set(free)) != len(free):
        raise ValueError(f"free parameters must be distinct names among {FREE_PARAMETERS}, got {list(free)}")
    return free


def _check_inputs(manifold: Manifold, device: str, calibration: Optional[Calibration]) -> int:
    """K of ``device``'s profile, after checking the manifold and calibration belong to it (ValueError)."""
    prof = get_profile(device)
    k = prof.num_elements
    if manifold.device != prof.name:
        raise ValueError(f"the manifold was measured on a {manifold.device}, not a {prof.name}")
    if manifold.num_elements != k:
        raise ValueError(f"the manifold has K = {manifold.num_elements} elements, the {prof.name} has K = {k}")
    response = np.asarray(manifold.response)
    if not (np.all(np.isfinite(response)) and np.all(np.isfinite(manifold.snr_db))):
        raise ValueError("the manifold has non-finite responses or SNRs")
    if calibration is not None:
        if calibration.device != prof.name:
            raise ValueError(f"the calibration was made on a {calibration.device}, not a {prof.name}")
        if calibration.num_elements != k:
            raise ValueError(f"the calibration has K = {calibration.num_elements} elements, the {prof.name} K = {k}")
    return k


def _coupling(c1: torch.Tensor, k: int) -> torch.Tensor:
    """C_ij = c1^|i-j| (K, K), differentiable in c1 (as :func:`isac_ae.impairments.nearest_neighbour_coupling`)."""
    powers = [torch.ones_like(c1)]
    for _ in range(k - 1):
        powers.append(powers[-1] * c1)
    distance = torch.abs(torch.arange(k)[:, None] - torch.arange(k)[None, :])
    return torch.stack(powers)[distance]


def _relative(array: ArrayModel, theta: torch.Tensor) -> torch.Tensor:
    """The manifold a measurement of ``array`` gives: steering_rx relative to element 0, (G, K)."""
    a = array.steering_rx(theta)
    return a / a[:, :1]


def _residual(measured: torch.Tensor, model: torch.Tensor) -> float:
    """||measured - model|| / ||measured|| over elements 1..K-1."""
    return float((measured[:, 1:] - model[:, 1:]).norm() / measured[:, 1:].norm())


def fit_array(
    manifold: Manifold,
    device: str,
    *,
    calibration: Optional[Calibration] = None,
    free=FREE_PARAMETERS,
    truth: Optional[ArrayModel] = None,
    max_iterations: int = 500,
) -> tuple[ArrayModel, FitReport]:
    """Fit the array model of ``device`` (a profile name) to its measured manifold (module docstring).

    The loss is the squared error of the ratios m_k(theta), k >= 1, each angle
    weighted by its measured SNR (linear): about the inverse of the ratios'
    noise variance up to a common factor, as every angle is measured with the
    same number of samples. ``free``: which of :data:`FREE_PARAMETERS` move;
    the rest keep the starting model's values (nominal positions, no
    coupling, unit gains or the calibration's). Free gains start at their
    least-squares solution for the starting positions and coupling (the model
    is linear in them), then everything free descends together.
    ``calibration`` (this device's): the starting RX gains, and the TX gains
    from its TX measurement. TX gains (module docstring): the calibration's
    corrected for the fitted coupling; the RX gains on an analog
    receive-only array (its TX weights are applied as receive weights); else
    nominal. ``truth``: the twin's hidden array, to report the errors against
    it. The fit is deterministic (a fixed start and L-BFGS): no seed.
    Returns (the fitted model, float32 on the CPU, gains relative to element
    0; its :class:`FitReport`). ValueError for a manifold or calibration of
    another device or K.
    """
    k = _check_inputs(manifold, device, calibration)
    free = _check_free(free)
    started = time.perf_counter()
    f64, c128 = torch.float64, torch.complex128
    theta = torch.as_tensor(np.radians(manifold.angles_deg), dtype=f64)
    measured = torch.as_tensor(np.asarray(manifold.response), dtype=c128)
    weight = torch.as_tensor(10.0 ** (np.asarray(manifold.snr_db) / 10.0), dtype=f64)
    weight = (weight / weight.mean())[:, None]

    nominal = ArrayModel.nominal(k, dtype=f64)
    gain_start = torch.as_tensor(calibration.rx_gain, dtype=c128) if calibration is not None else nominal.gain_rx
    gain_start = _unit_first(gain_start)
    # Real parameters, element 0's gain and position fixed (the reference): offsets from the start.
    gain_offset = torch.zeros(k - 1, 2, dtype=f64, requires_grad="gain_rx" in free)
    position_offset = torch.zeros(k - 1, dtype=f64, requires_grad="positions" in free)
    c1_parts = torch.zeros(2, dtype=f64, requires_grad="coupling" in free)

    def model() -> ArrayModel:
        gains = gain_start + torch.cat([torch.zeros(1, dtype=c128), torch.view_as_complex(gain_offset)])
        positions = nominal.positions + torch.cat([torch.zeros(1, dtype=f64), position_offset])
        coupling = _coupling(torch.complex(c1_parts[0], c1_parts[1]), k)
        return ArrayModel(positions, nominal.gain_tx, gains, coupling)

    scale = float((weight * measured[:, 1:].abs().square()).sum())

    def loss() -> torch.Tensor:
        error = measured[:, 1:] - _relative(model(), theta)[:, 1:]
        return (weight * error.abs().square()).sum() / scale

    with torch.no_grad():
        start_residual = _residual(measured, _relative(model(), theta))
        if "gain_rx" in free:
            # The model is linear in the gains at fixed positions and coupling: start them at their weighted
            # least-squares solution, so the joint descent does not trade a gain phase for a position error
            # (from unit gains it can settle in a local minimum a wavelength off).
            basis = _relative(dataclasses.replace(model(), gain_rx=torch.ones(k, dtype=c128)), theta)
            solved = (weight * basis.conj() * measured).sum(0) / (weight * basis.abs().square()).sum(0)
            gain_start = _unit_first(solved)
    parameters = [p for p in (gain_offset, position_offset, c1_parts) if p.requires_grad]
    iterations = 0
    if parameters:
        optimiser = torch.optim.LBFGS(
            parameters,
            lr=1.0,
            max_iter=max_iterations,
            history_size=50,
            tolerance_grad=1e-14,
            tolerance_change=1e-16,
            line_search_fn="strong_wolfe",
        )

        def closure():
            optimiser.zero_grad()
            value = loss()
            value.backward()
            return value

        optimiser.step(closure)
        iterations = int(optimiser.state[parameters[0]]["n_iter"])
    with torch.no_grad():
        fitted = model()
        residual = _residual(measured, _relative(fitted, theta))
        tx_source, gain_tx = _tx_gains(get_profile(device), calibration, fitted)
        fitted = dataclasses.replace(fitted, gain_tx=gain_tx)
    c1 = complex(fitted.coupling[1, 0])
    report = FitReport(
        residual=residual,
        start_residual=start_residual,
        start="calibration" if calibration is not None else "nominal",
        free=free,
        angles=int(theta.numel()),
        iterations=iterations,
        seconds=time.perf_counter() - started,
        c1_db=20 * math.log10(abs(c1)) if c1 else None,
        c1_phase_deg=math.degrees(np.angle(c1)),
        tx_source=tx_source,
        truth=None if truth is None else truth_errors(fitted, truth),
    )
    return fitted.to(dtype=torch.float32), report


def _unit_first(gains: torch.Tensor) -> torch.Tensor:
    """Gains (K,) relative to element 0, element 0 exactly 1."""
    return torch.cat([torch.ones(1, dtype=gains.dtype), gains[1:] / gains[0]])


def _tx_gains(prof, calibration: Optional[Calibration], fitted: ArrayModel) -> tuple[str, torch.Tensor]:
    """(where they come from, the TX gains (K,) relative to element 0).

    "reciprocity" on an analog receive-only array (the Phaser), whose TX weights are applied as receive
    weights: the RX gains. "calibration": from its boresight TX measurement t and the fitted coupling,
    g_k = t_k (C 1)_0 / (C 1)_k. "nominal" (1) when neither holds.
    """
    if prof.beamforming == "analog":
        return "reciprocity", fitted.gain_rx
    if calibration is None or calibration.tx_correction is None:
        return "nominal", torch.ones_like(fitted.gain_rx)
    boresight = fitted.coupling.sum(-1)  # C 1 (C is symmetric: C^T 1 = C 1)
    t = torch.as_tensor(calibration.tx_gain, dtype=boresight.dtype)
    return "calibration", _unit_first(t / boresight)


def truth_errors(fitted: ArrayModel, truth: ArrayModel) -> dict:
    """Errors of a fitted model against a known truth, both relative to element 0 (the largest over elements).

    gain_rx_db / gain_tx_db: |20 log10 |g_fit,k / g_true,k||, gains relative to element 0;
    phase_rx_deg / phase_tx_deg: |angle(g_fit,k / g_true,k)|; position_wavelengths:
    |p_fit,k - p_true,k| with element 0 at the same place; coupling: max |C_fit - C_true| entrywise.
    """
    if fitted.num_elements != truth.num_elements:
        raise ValueError(f"the fitted model has K = {fitted.num_elements}, the truth K = {truth.num_elements}")
    f, t = fitted.to(dtype=torch.float64), truth.to(dtype=torch.float64)

    def gain(a, b):
        ratio = (a / a[0]) / (b / b[0])
        return float(20 * ratio.abs().log10().abs().max()), math.degrees(float(ratio.angle().abs().max()))

    rx_db, rx_deg = gain(f.gain_rx, t.gain_rx)
    tx_db, tx_deg = gain(f.gain_tx, t.gain_tx)
    position = ((f.positions - f.positions[0]) - (t.positions - t.positions[0])).abs().max()
    return {
        "gain_rx_db": rx_db,
        "phase_rx_deg": rx_deg,
        "gain_tx_db": tx_db,
        "phase_tx_deg": tx_deg,
        "position_wavelengths": float(position),
        "coupling": float((f.coupling - t.coupling).abs().max()),
    }


def manifold_residual(manifold: Manifold, array: ArrayModel) -> float:
    """``||measured - model|| / ||measured||`` of ``array``'s manifold over the grid (elements 1..K-1)."""
    if array.num_elements != manifold.num_elements:
        raise ValueError(f"the array has K = {array.num_elements}, the manifold K = {manifold.num_elements}")
    theta = torch.as_tensor(np.radians(manifold.angles_deg), dtype=torch.float64)
    measured = torch.as_tensor(np.asarray(manifold.response), dtype=torch.complex128)
    with torch.no_grad():
        return _residual(measured, _relative(array.to(dtype=torch.float64), theta))


def _complex_scaling(factors: torch.Tensor) -> torch.Tensor:
    """The real (2K, 2K) matrix T with [Re(z c), Im(z c)] = [Re z, Im z] T for per-element factors c (K,)."""
    a, b = torch.diag(factors.real), torch.diag(factors.imag)
    return torch.cat([torch.cat([a, b], 1), torch.cat([-b, a], 1)], 0)


@torch.no_grad()
def corrected_model(model: Autoencoder, tx_correction, rx_correction) -> Autoencoder:
    """A copy of ``model`` with per-element corrections (K,) complex absorbed into its weights.

    The beamformer's output layer is turned so that it emits v c_tx (the
    transmitter's normalisation then restores the power), and the first layer
    of each radar receiver so that it reads z c_rx: the system
    :class:`~isac_ae.hw.calibrated.CalibratedSystem` makes around the model,
    as an ordinary model that training can continue from. The comm receiver
    sees z / kappa, which the TX correction changes in both alike: untouched.
    """
    k = model.num_antennas
    for name, factors in (("tx_correction", tx_correction), ("rx_correction", rx_correction)):
        if tuple(np.shape(factors)) != (k,):
            raise ValueError(f"{name} must hold K = {k} factors, got shape {tuple(np.shape(factors))}")
    out = copy.deepcopy(model)
    last = out.beamformer.net.layers[-1]  # outputs [Re v, Im v]

    def scaling(factors):
        return _complex_scaling(
            torch.as_tensor(factors, dtype=last.weight.dtype.to_complex(), device=last.weight.device)
        )

    tx = scaling(tx_correction)
    last.weight.copy_(last.weight @ tx)
    last.bias.copy_(last.bias @ tx)
    rx = scaling(rx_correction)
    for head in (out.detector, out.angle, out.uncertainty):
        first = head.net.layers[0]  # weight rows in the layout [Re z, Im z] (networks.RadarHead)
        first.weight.copy_(rx @ first.weight)
    return out


def _digest(*parts) -> str:
    """SHA-256 over JSON-able parts and arrays (NumPy or torch), in order."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, torch.Tensor):
            part = part.detach().cpu().numpy()
        if isinstance(part, np.ndarray):
            h.update(f"{part.dtype}{part.shape}".encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(json.dumps(part, sort_keys=True).encode())
    return h.hexdigest()


def finetune(
    model: Autoencoder,
    scenario: Scenario,
    omega: float,
    manifold: Manifold,
    device: str,
    *,
    calibration: Optional[Calibration] = None,
    budget: str = "quick",
    checkpoint: Optional[Path] = None,
    checkpoint_every: int = 100,
    progress: Optional[Callable[[StepReport], None]] = None,
    free=FREE_PARAMETERS,
    correct: bool = True,
    seed: int = 0,
    torch_device="cpu",
) -> tuple[Autoencoder, dict]:
    """Fine-tune a nominal one-member ``model`` (trained for ``scenario`` at ``omega``) on ``device``'s impairments.

    Fits the array model to ``manifold`` (and ``calibration``'s TX
    measurement, :func:`fit_array`); ``correct``: absorbs the inverse of the
    fitted gains into the model (:func:`corrected_model`: the model as a
    calibration would present it, so training starts from there rather than
    from a beam the board scrambles); then trains all six networks through
    ``Channels.simulated(scenario, array=fitted)`` on J_ISAC for the
    ``budget``'s samples (:data:`BUDGETS`, schedule ``joint``, Adam at
    :data:`LEARNING_RATE`, ``seed`` for the draws). ``progress`` gets the
    Trainer's :class:`StepReport` after every step. ``checkpoint``: the
    Trainer's checkpoint file, written every ``checkpoint_every`` steps and at
    the end; the fit is recorded beside it
    (``<checkpoint>.fit.json``), so a run resumed with the same inputs trains
    through the same fitted channel and one with other inputs (manifold,
    calibration, model, options) is refused. Returns (the fine-tuned model,
    metadata for the model file: method, device, the data used, the fit's
    report and array, the budget in samples and seconds). ValueError for a
    manifold or calibration of another device or K, a scenario the device
    cannot run, or a model that does not fit the scenario.
    """
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {tuple(BUDGETS)}, got {budget!r}")
    if not (isinstance(omega, (int, float)) and 0.0 <= omega <= 1.0):
        raise ValueError(f"omega_r must lie in [0, 1], got {omega!r}")
    prof = get_profile(device)
    prof.check_scenario(scenario)
    if model.members != 1 or (model.num_antennas, model.num_messages) != (
        scenario.num_antennas,
        scenario.num_messages,
    ):
        raise ValueError(
            f"the model (K = {model.num_antennas}, |M| = {model.num_messages}, {model.members} member(s)) is not "
            f"one model of the scenario (K = {scenario.num_antennas}, |M| = {scenario.num_messages})"
        )
    free = _check_free(free)
    _check_inputs(manifold, device, calibration)
    try:
        config = TrainingConfig(
            omegas=(float(omega),),
            samples_per_stage=BUDGETS[budget],
            batch_size=BATCH_SIZE,
            learning_rate=LEARNING_RATE,
            schedule="joint",
            seed=seed,
            budget=budget,
        )
    except TrainingError as exc:
        raise ValueError(str(exc)) from None
    start_weights = _digest(*(t for _, t in sorted(model.state_dict().items())))
    inputs = _digest(
        prof.name,
        manifold.angles_deg,
        np.asarray(manifold.response),
        manifold.snr_db,
        None if calibration is None else calibration.to_dict(),
        start_weights,
        scenario.to_dict(),
        config.to_dict(),
        list(free),
        bool(correct),
    )
    fitted, report = _recorded_fit(checkpoint, inputs, manifold, device, calibration, free)

    trainer = Trainer(
        scenario,
        config,
        device=torch_device,
        checkpoint=checkpoint,
        checkpoint_every=checkpoint_every,
        channels=Channels.simulated(scenario, torch_device, array=fitted),
    )
    start = corrected_model(model, 1 / fitted.gain_tx, 1 / fitted.gain_rx) if correct else model
    trainer.model.load_state_dict(start.state_dict())  # a checkpoint, if any, replaces it in run()
    started = time.perf_counter()
    try:
        tuned = trainer.run(progress)
    except TrainingError as exc:
        raise ValueError(str(exc)) from None
    metadata = {
        "method": METHOD,
        "device": prof.name,
        "data": {
            "manifold": {
                "angles": int(np.size(manifold.angles_deg)),
                "angles_deg": [float(np.min(manifold.angles_deg)), float(np.max(manifold.angles_deg))],
                "snr_db": [float(np.min(manifold.snr_db)), float(np.max(manifold.snr_db))],
                "method": manifold.method,
                "date": manifold.date,
                "uri": manifold.uri,
            },
            "calibration": None
            if calibration is None
            else {"method": calibration.method, "date": calibration.date, "diagnostics": calibration.diagnostics},
        },
        "fit": report.to_dict(),
        "fitted_array": fitted.to_dict(),
        "start": {
            "nominal_weights_sha256": start_weights,
            "corrected": bool(correct),  # the fitted gains' inverse absorbed before training
        },
        "budget": {
            "name": budget,
            "training_samples": trainer.steps_done * config.batch_size,
            "fit_seconds": report.seconds,
            "training_seconds": time.perf_counter() - started,  # this session's (a resumed run: since resuming)
        },
        "training": config.to_dict(),
    }
    return tuned, metadata


def _recorded_fit(checkpoint, inputs: str, manifold, device, calibration, free) -> tuple[ArrayModel, FitReport]:
    """The fit of this run: read from ``<checkpoint>.fit.json`` when resuming, else made (and recorded)."""
    record = None if checkpoint is None else Path(checkpoint).with_name(Path(checkpoint).name + ".fit.json")
    if record is not None and record.exists():
        try:
            data = json.loads(record.read_text())
            same = data["format"] == _RECORD_FORMAT and data["inputs_sha256"] == inputs
            fitted = ArrayModel.from_dict(data["array"])
            report = FitReport(**{**data["report"], "free": tuple(data["report"]["free"])})
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"cannot read the fit record {record}: {exc}") from None
        if not same:
            raise ValueError(
                f"checkpoint {checkpoint} belongs to another fine-tuning run (other manifold, calibration, model "
                "or options); use another checkpoint or delete it and its .fit.json to start afresh"
            )
        return fitted, report
    if checkpoint is not None and Path(checkpoint).exists():
        raise ValueError(f"checkpoint {checkpoint} has no fit record ({record.name}): not a surrogate fine-tuning run")
    fitted, report = fit_array(manifold, device, calibration=calibration, free=free)
    if record is not None:
        record.parent.mkdir(parents=True, exist_ok=True)
        text = {
            "format": _RECORD_FORMAT,
            "inputs_sha256": inputs,
            "array": fitted.to_dict(),
            "report": report.to_dict(),
        }
        write_atomically(record, json.dumps(text, indent=1).encode())
    return fitted, report
