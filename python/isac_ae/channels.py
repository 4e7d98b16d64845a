"""The radar channel of eq. (1) and the MISO comm channel of eq. (2), in torch.

Both are differentiable with respect to the transmitted signal ``y`` for a
realisation of their random variables, run on whatever device ``y`` lives on,
and draw every random variable from a caller-supplied ``torch.Generator`` so
that a seed makes a run repeatable.

Shapes: ``y`` is (..., N, K) complex (one snapshot per row), or a
:class:`Beamformed` signal that stands for it; ``v`` is broadcastable to it
((K,), (N, K), or (E, 1, K) for an ensemble). The random
variables are drawn once per snapshot, shape (N,), and shared by the leading
dimensions: an ensemble of transmitters sees the same channel realisations.
A channel object is the seam behind which a hardware digital twin, a board
(:mod:`isac_ae.hw.link`) or captured over-the-air data stand: anything with the same
call signature and return type plugs into training and evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

import torch

from .array import steering
from .impairments import ArrayModel
from .scenario import Scenario


@dataclass
class Beamformed:
    """A transmit signal y_n = x_n v with one beam for all N snapshots, kept factored.

    symbols: (..., N) complex x_n; beam: (..., K) complex v (same leading
    dimensions). Both channels only need the projections a^T y_n = x_n (a^T v)
    onto steering vectors, so the factored form costs one (..., K) x (K, N)
    product instead of forming and differentiating the (..., N, K) signal
    (a tenth of a training step, docs/PERFORMANCE.md).
    """

    symbols: torch.Tensor
    beam: torch.Tensor

    @property
    def shape(self) -> torch.Size:
        return self.symbols.shape + self.beam.shape[-1:]

    @property
    def dtype(self) -> torch.dtype:
        return self.symbols.dtype


def project(y, a: torch.Tensor) -> torch.Tensor:
    """a_n^T y_n for every snapshot: y (..., N, K) or :class:`Beamformed`, a (N, K) -> (..., N)."""
    if isinstance(y, Beamformed):
        return y.symbols * beam_gain(y.beam, a)
    return (a * y).sum(-1)


def beam_gain(beam: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """a_n^T v of one beam v (..., K) for every steering vector a (N, K) -> (..., N)."""
    return torch.matmul(beam, a.mT)


@dataclass
class RadarDraw:
    """One batch through the radar channel.

    z: (..., N, K) complex received snapshots; target: (N,) bool presence t;
    theta: (N,) target angle in radians (drawn even when absent); alpha: (N,)
    complex Swerling-1 gain.
    """

    z: torch.Tensor
    target: torch.Tensor
    theta: torch.Tensor
    alpha: torch.Tensor


@dataclass
class CommDraw:
    """One batch through the comm channel.

    z: (..., N) complex received symbol; kappa: (..., N) complex CSI beta a(vartheta)^T v;
    vartheta: (N,) receiver angle in radians; beta: (N,) complex fading gain.
    """

    z: torch.Tensor
    kappa: torch.Tensor
    vartheta: torch.Tensor
    beta: torch.Tensor


def complex_normal(shape, variance: float, generator: torch.Generator, device, dtype=torch.complex64):
    """Samples of CN(0, variance): independent real and imaginary parts of variance/2."""
    return torch.randn(shape, generator=generator, device=device, dtype=dtype) * variance**0.5


def uniform(shape, low: float, high: float, generator: torch.Generator, device, dtype=torch.float32):
    return low + (high - low) * torch.rand(shape, generator=generator, device=device, dtype=dtype)


def radar_response(y, theta: torch.Tensor, alpha: torch.Tensor, array: ArrayModel, ideal: Optional[bool] = None):
    """Noise-free target echo alpha a_rx(theta) a_tx(theta)^T y of ``array``, shape of ``y`` (..., N, K).

    ``ideal``: whether ``array`` has unit gains and no coupling, if the caller already knows.
    """
    ideal = _is_ideal(array) if ideal is None else ideal
    if isinstance(y, Beamformed) and not ideal:
        # a_tx^T v = a^T C diag(g_tx) v: the board's TX side moves onto the one beam (a (K,) product) and the
        # plain steering vectors do, instead of an (N, K) x (K, K) product for a_tx
        a = steering(array.positions, theta)
        a_rx = array.gain_rx * (a @ array.coupling.mT)
        return (alpha * project(transmitted_beam(y, array), a)).unsqueeze(-1) * a_rx
    a_tx, a_rx = _manifolds(array, theta, ideal)
    return (alpha * project(y, a_tx)).unsqueeze(-1) * a_rx


def transmitted_beam(y: Beamformed, array: ArrayModel) -> Beamformed:
    """``y`` with its beam v replaced by C diag(g_tx) v, so that plain steering vectors a give
    a^T C diag(g_tx) v = steering_tx^T v (the array's TX gains and coupling applied once, to the beam)."""
    return Beamformed(y.symbols, (array.gain_tx * y.beam) @ array.coupling.mT)


def _manifolds(array: ArrayModel, theta: torch.Tensor, ideal: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """(steering_tx, steering_rx) at theta (N,) -> two (N, K); one plain steering matrix when the array is ideal."""
    a = steering(array.positions, theta)
    if ideal:
        return a, a
    # array.steering_tx / steering_rx, sharing the one steering matrix (the exponentials are the cost)
    return array.gain_tx * (a @ array.coupling), array.gain_rx * (a @ array.coupling.mT)


def _is_ideal(array: ArrayModel) -> bool:
    """Unit gains and no coupling: the manifolds are plain steering vectors (the training fast path)."""
    eye = torch.eye(array.num_elements, dtype=array.coupling.dtype, device=array.coupling.device)
    return bool(torch.all(array.gain_tx == 1) and torch.all(array.gain_rx == 1) and torch.equal(array.coupling, eye))


class _ArrayChannel:
    """A channel seen through an array model: the scenario's true (possibly spacing-impaired) array by
    default, bare ``positions`` (K,) wavelengths, or a full :class:`~isac_ae.impairments.ArrayModel`
    (per-element gains, coupling) as a hardware digital twin has."""

    def __init__(self, scenario: Scenario, positions=None, device="cpu", array: Optional[ArrayModel] = None):
        if positions is not None and array is not None:
            raise ValueError("give the channel positions or an array model, not both")
        if array is None:
            pos = scenario.true_positions() if positions is None else positions
            array = ArrayModel.from_positions(pos, device=device)
        if array.num_elements != scenario.num_antennas:
            raise ValueError(
                f"the array model has {array.num_elements} elements, the scenario K = {scenario.num_antennas}"
            )
        self.scenario = scenario
        self.device = torch.device(device)
        self.array = array.to(self.device)
        self.positions = self.array.positions
        self._ideal = _is_ideal(self.array)


class RadarChannel(_ArrayChannel):
    """Monostatic single-target channel, eq. (1)."""

    def __call__(self, y, generator: torch.Generator, target: Optional[bool] = None) -> RadarDraw:
        """Pass ``y`` (..., N, K) (or :class:`Beamformed`) through the channel.

        ``target`` forces the hypothesis: ``None`` draws t ~ Bernoulli(p_target),
        ``False``/``True`` fixes it (e.g. an H0 set for threshold calibration).
        """
        n, dev = y.shape[-2], self.device
        if target is None:
            t = torch.rand(n, generator=generator, device=dev) < self.scenario.p_target
        elif isinstance(target, bool):
            t = torch.full((n,), target, device=dev)
        else:
            raise ValueError(f"target must be None or a bool, got {target!r}")
        return self._draw(y, generator, t)

    def draw_grouped(self, y, generator: torch.Generator) -> RadarDraw:
        """A training batch with the present targets first (a simulation-only speed-up of training).

        The number of present targets is drawn ~ Binomial(N, p_target) and
        they take the first rows: the same batch as ``self(y, generator)`` up to
        the order of its (independent, identically distributed) snapshots, so
        a mean over the batch has the same distribution, and the present rows
        are one slice.
        """
        n, dev = y.shape[-2], self.device
        count = torch.tensor(float(n), device=dev)
        present = torch.binomial(count, torch.tensor(self.scenario.p_target, device=dev), generator=generator)
        return self._draw(y, generator, torch.arange(n, device=dev) < present)

    def _draw(self, y, generator: torch.Generator, t: torch.Tensor) -> RadarDraw:
        sc, n, dev = self.scenario, y.shape[-2], self.device
        theta = uniform(n, *sc.target_sector_rad, generator, dev)
        alpha = complex_normal(n, sc.radar_gain_var, generator, dev, y.dtype)
        noise = complex_normal(y.shape[-2:], sc.noise_power, generator, dev, y.dtype)
        echo = radar_response(y, theta, alpha * t, self.array, self._ideal)
        return RadarDraw(z=echo + noise, target=t, theta=theta, alpha=alpha)


def grouped(radar, y, generator: torch.Generator) -> RadarDraw:
    """A radar draw with the present targets first, from any radar channel: its own grouped draw when it
    has one (the simulated channel), else the ordinary draw reordered (a twin or captured data)."""
    if hasattr(radar, "draw_grouped"):
        return radar.draw_grouped(y, generator)
    draw = radar(y, generator)
    order = torch.argsort((~draw.target).to(torch.int8), stable=True)
    return RadarDraw(
        z=draw.z.index_select(-2, order), target=draw.target[order], theta=draw.theta[order], alpha=draw.alpha[order]
    )


class CommChannel(_ArrayChannel):
    """Rayleigh MISO channel to a single-antenna receiver, eq. (2), with CSI."""

    def __call__(self, y, generator: torch.Generator, v: Optional[torch.Tensor] = None) -> CommDraw:
        """Pass ``y`` (..., N, K) (or :class:`Beamformed`) through the channel.

        ``v`` (broadcastable to ``y``) defines the CSI kappa = beta a^T v; it is
        needed only for a dense ``y`` (a :class:`Beamformed` signal carries its beam).
        """
        if v is None and not isinstance(y, Beamformed):
            raise ValueError("the comm channel needs the beamformer v unless y is Beamformed")
        sc = self.scenario
        n = y.shape[-2]
        dev = self.device
        vartheta = uniform(n, *sc.comm_sector_rad, generator, dev)
        beta = complex_normal(n, sc.comm_gain_var, generator, dev, y.dtype)
        noise = complex_normal(n, sc.noise_power, generator, dev, y.dtype)
        if isinstance(y, Beamformed) and not self._ideal:
            y = transmitted_beam(y, self.array)  # the TX side on the beam: plain steering vectors then suffice
            if v is not None:
                v = (self.array.gain_tx * v) @ self.array.coupling.mT
            a = steering(self.positions, vartheta)
        else:
            a = steering(self.positions, vartheta) if self._ideal else self.array.steering_tx(vartheta)
        z = beta * project(y, a) + noise
        kappa = beta * (beam_gain(y.beam, a) if v is None else (a * v).sum(-1))
        return CommDraw(z=z, kappa=kappa, vartheta=vartheta, beta=beta)


class RadarChannelProtocol(Protocol):
    """What evaluation needs of a radar channel: the simulated one, a digital twin, a board."""

    scenario: Scenario

    def __call__(self, y: Beamformed, generator: torch.Generator, target: Optional[bool] = None) -> RadarDraw:
        """Snapshots of ``y`` (N snapshots of one beam); ``target`` None draws t ~ Bernoulli(p_target),
        a bool fixes it (an H0 set for the threshold)."""


class CommChannelProtocol(Protocol):
    """What evaluation needs of a comm channel: the symbols and the CSI the receiver has."""

    def __call__(self, y: Beamformed, generator: torch.Generator) -> CommDraw:
        """The comm receiver's z_c and kappa for ``y``."""


@dataclass
class Channels:
    """The radar and comm channels a system is evaluated through (the seam behind which a digital
    twin or a board stands; training's simulated channels have extra, training-only draws)."""

    radar: RadarChannelProtocol
    comm: CommChannelProtocol

    @classmethod
    def simulated(cls, scenario: Scenario, device="cpu", array: Optional[ArrayModel] = None) -> "Channels":
        """Eq. (1) and (2) through ``array`` (default: the scenario's true array)."""
        return cls(
            RadarChannel(scenario, device=device, array=array), CommChannel(scenario, device=device, array=array)
        )
