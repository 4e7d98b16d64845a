"""Hardware impairments of a real phased array, in torch: the array model and the signal impairments.

The array model (:class:`ArrayModel`) holds, for K elements:

* ``positions`` (K,) real, in wavelengths (the nominal array is ``k/2``);
* ``gain_tx``, ``gain_rx`` (K,) complex per-element gains (amplitude and
  phase of each TX / RX chain; the RX gains include the channel-to-channel
  mismatch of the digital channels the elements feed);
* ``coupling`` (K, K) complex mutual-coupling matrix C (identity when absent).

With ``a(theta)_k = exp(-j 2 pi p_k sin(theta))`` (:func:`isac_ae.array.steering`),
the physical model is

* transmission: the far field toward theta of the K-element signal y is
  ``a(theta)^T C diag(g_tx) y``;
* reception: the K-element snapshot of a unit plane wave from theta is
  ``diag(g_rx) C a(theta)``.

The *effective manifolds* fold everything into one vector each, so that
eq. (1) and (2) keep their form with a_tx, a_rx replaced by them:
``steering_tx(theta) = diag(g_tx) C^T a(theta)`` (the field is
``steering_tx(theta)^T y``) and ``steering_rx(theta) = diag(g_rx) C a(theta)``.
The transpose on the TX side is what makes the same C serve both directions:
a reciprocal (passive) coupling network has C = C^T, so for equal gains the
two manifolds are the same vector, as in the paper's a_tx = a_rx.

Angles are in radians here (the core's convention); the user-facing
magnitudes (:class:`ImpairmentMagnitudes`) and the ADAR1000 phase step are in
degrees. Every tensor of a model shares one device and one precision (float32
positions with complex64 gains, or float64 with complex128); the steering
vectors follow them and are differentiable in theta and in every tensor of the
model, so a model whose tensors require grad can be fitted by gradient descent.

Signal impairments act on sample streams with time along ``dim`` (default the
last): :func:`adc_quantise` (b bits, clipping at full scale), :func:`apply_cfo`
(a carrier-frequency offset's phase ramp), :func:`add_noise` (complex white
Gaussian noise). Analog weights are quantised as an ADAR1000 applies them
(:func:`quantise_adar1000`, and :func:`quantise_adar1000_ste` for training).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import torch

from .array import impaired_positions, nominal_positions, steering
from .scenario import POSITION_MODELS

#: ADAR1000 phase resolution: 7 bits over the circle, degrees.
ADAR1000_PHASE_STEP_DEG = 360.0 / 128
#: ADAR1000 VGA gain codes 0..127 (0 switches the element off).
ADAR1000_MAX_GAIN_CODE = 127

Range = tuple[float, float]


def _as_range(value, name: str) -> Range:
    """A value or a (lo, hi) pair as a checked (lo, hi) tuple of finite floats."""
    lo, hi = (value, value) if np.isscalar(value) else tuple(value)
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ValueError(f"{name} must be a finite value or a (lo, hi) range with lo <= hi, got {value!r}")
    return lo, hi


@dataclass(frozen=True)
class ImpairmentMagnitudes:
    """How large the impairments of a drawn array are (:meth:`ArrayModel.draw`).

    A field given as a range (lo, hi) is drawn uniformly in it once per array
    (an unknown but fixed property of one board); a single value fixes it.

    * ``gain_min``: per-element TX and RX gain factors uniform in [gain_min, 1]
      (1 = no gain error).
    * ``phase_std_deg``: per-element TX and RX phase errors, normal with this
      standard deviation in degrees; ``None``: uniform over the whole circle
      (an uncalibrated board).
    * ``coupling_db``: nearest-neighbour coupling level |c1| in dB (< 0), or a
      range; ``None``: no coupling (C = I). The coupling phase is uniform.
    * ``spacing_wavelengths``: mean element spacing, wavelengths, or a range.
    * ``spacing_std``: standard deviation of each spacing, wavelengths, drawn
      by ``position_model`` (Sec. IV-E, :func:`isac_ae.array.impaired_positions`).
    * ``channel_mismatch_db``: each digital RX channel's gain is offset by
      U[-m, 0] dB, so two channels differ by at most m dB.
    * ``rx_channels``: the number of digital RX channels; the K elements feed
      them in contiguous groups of K / rx_channels (the Phaser's two
      sub-arrays). ``None``: one channel per element (a digital array).
    """

    gain_min: float = 1.0
    phase_std_deg: float | None = 0.0
    coupling_db: None | float | Range = None
    spacing_wavelengths: float | Range = 0.5
    spacing_std: float = 0.0
    position_model: str = "cumulative"
    channel_mismatch_db: float = 0.0
    rx_channels: int | None = None

    def __post_init__(self):
        if not 0.0 < self.gain_min <= 1.0:
            raise ValueError(f"gain_min must lie in (0, 1], got {self.gain_min}")
        if self.phase_std_deg is not None and not (math.isfinite(self.phase_std_deg) and self.phase_std_deg >= 0.0):
            raise ValueError(f"phase_std_deg must be None (uniform) or a finite value >= 0, got {self.phase_std_deg}")
        if self.coupling_db is not None:
            coupling = _as_range(self.coupling_db, "coupling_db")
            if coupling[1] >= 0.0:
                raise ValueError(f"coupling_db must be below 0 dB, got {self.coupling_db!r}")
            object.__setattr__(self, "coupling_db", coupling)
        spacing = _as_range(self.spacing_wavelengths, "spacing_wavelengths")
        if spacing[0] <= 0.0:
            raise ValueError(f"spacing_wavelengths must be > 0, got {self.spacing_wavelengths!r}")
        object.__setattr__(self, "spacing_wavelengths", spacing)
        if not (math.isfinite(self.spacing_std) and self.spacing_std >= 0.0):
            raise ValueError(f"spacing_std must be a finite value >= 0 wavelengths, got {self.spacing_std}")
        if self.position_model not in POSITION_MODELS:
            raise ValueError(f"position_model must be one of {POSITION_MODELS}, got {self.position_model!r}")
        if not (math.isfinite(self.channel_mismatch_db) and self.channel_mismatch_db >= 0.0):
            raise ValueError(f"channel_mismatch_db must be a finite value >= 0, got {self.channel_mismatch_db}")
        if self.rx_channels is not None and (int(self.rx_channels) != self.rx_channels or self.rx_channels < 1):
            raise ValueError(f"rx_channels must be None or an integer >= 1, got {self.rx_channels}")


def nearest_neighbour_coupling(num_elements: int, c1: complex, *, dtype=torch.complex64, device="cpu") -> torch.Tensor:
    """Symmetric Toeplitz coupling matrix C_ij = c1^|i-j| (C_ii = 1), shape (K, K)."""
    distance = np.abs(np.subtract.outer(np.arange(num_elements), np.arange(num_elements)))
    return torch.as_tensor(np.complex128(c1) ** distance, dtype=dtype, device=device)


# Stream of the non-positional draws; positions use the seed itself, so that a
# spacing-only draw equals Scenario(impairment_seed=seed).true_positions().
_DRAW_STREAM = 1
_DRIFT_STREAM = 2


@dataclass(frozen=True, eq=False)  # tensors have no single truth value: compare by identity
class ArrayModel:
    """A phased array with its impairments: positions (K,) wavelengths, gains (K,), coupling (K, K).

    See the module docstring for the conventions. Build one with
    :meth:`nominal`, :meth:`from_positions`, :meth:`draw` or :meth:`from_dict`;
    make a tensor trainable with ``model.gain_rx.requires_grad_()`` and hand
    it to an optimiser to fit the model.
    """

    positions: torch.Tensor
    gain_tx: torch.Tensor
    gain_rx: torch.Tensor
    coupling: torch.Tensor

    def __post_init__(self):
        p = self.positions
        if p.ndim != 1 or not p.is_floating_point():
            raise ValueError(f"ArrayModel: positions must be a real (K,) tensor, got {p.dtype} {tuple(p.shape)}")
        k = p.shape[0]
        cdtype = p.dtype.to_complex()
        for name, shape in (("gain_tx", (k,)), ("gain_rx", (k,)), ("coupling", (k, k))):
            t = getattr(self, name)
            if tuple(t.shape) != shape or t.dtype != cdtype or t.device != p.device:
                raise ValueError(
                    f"ArrayModel: {name} must be a {cdtype} tensor of shape {shape} on {p.device} "
                    f"(matching positions), got {t.dtype} {tuple(t.shape)} on {t.device}"
                )

    @property
    def num_elements(self) -> int:
        return self.positions.shape[0]

    # --- constructors -------------------------------------------------------
    @classmethod
    def from_positions(cls, positions, *, dtype=torch.float32, device="cpu") -> ArrayModel:
        """Unit gains and no coupling at the given positions (K,), wavelengths."""
        p = torch.as_tensor(np.asarray(positions, dtype=np.float64), dtype=dtype, device=device)
        k, cdtype = p.shape[0], dtype.to_complex()
        ones = torch.ones(k, dtype=cdtype, device=device)
        return cls(p, ones, ones.clone(), torch.eye(k, dtype=cdtype, device=device))

    @classmethod
    def nominal(cls, num_antennas: int, *, dtype=torch.float32, device="cpu") -> ArrayModel:
        """The ideal lambda/2 array: its manifolds equal :func:`isac_ae.array.steering` exactly."""
        return cls.from_positions(nominal_positions(num_antennas), dtype=dtype, device=device)

    @classmethod
    def draw(
        cls, num_elements: int, magnitudes: ImpairmentMagnitudes, seed: int, *, dtype=torch.float32, device="cpu"
    ) -> ArrayModel:
        """One seeded random board with the given impairment magnitudes.

        Drawn in NumPy float64, so a seed gives the same board on every device.
        Every random number is drawn whatever the magnitudes, so changing one
        magnitude leaves the others' realisations unchanged. The positions use
        ``seed`` as :func:`isac_ae.array.impaired_positions` does (scaled from
        lambda/2 to the drawn mean spacing), so with a mean spacing of 1/2 they
        equal ``Scenario(spacing_std=s, impairment_seed=seed).true_positions()``.
        """
        if int(seed) != seed or seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {seed}")
        m, k = magnitudes, int(num_elements)
        channels = k if m.rx_channels is None else m.rx_channels
        if k < 1 or k % channels:
            raise ValueError(f"K = {num_elements} elements cannot feed {channels} RX channels in equal groups")
        rng = np.random.default_rng([seed, _DRAW_STREAM])

        mean_spacing = rng.uniform(*m.spacing_wavelengths)
        positions = (
            2.0 * mean_spacing * impaired_positions(k, m.spacing_std / (2.0 * mean_spacing), seed, m.position_model)
        )

        def element_gains():
            amplitude = m.gain_min + (1.0 - m.gain_min) * rng.random(k)
            uniform_phase, normal_phase = 2.0 * np.pi * rng.random(k), rng.standard_normal(k)
            phase = uniform_phase if m.phase_std_deg is None else math.radians(m.phase_std_deg) * normal_phase
            return amplitude * np.exp(1j * phase)

        gain_tx, gain_rx = element_gains(), element_gains()
        mismatch_db = -m.channel_mismatch_db * rng.random(channels)
        gain_rx = gain_rx * np.repeat(10.0 ** (mismatch_db / 20.0), k // channels)

        level_u, coupling_phase = rng.random(), 2.0 * np.pi * rng.random()
        cdtype = dtype.to_complex()
        if m.coupling_db is None:
            coupling = torch.eye(k, dtype=cdtype, device=device)
        else:
            lo, hi = m.coupling_db
            c1 = 10.0 ** ((lo + (hi - lo) * level_u) / 20.0) * np.exp(1j * coupling_phase)
            coupling = nearest_neighbour_coupling(k, c1, dtype=cdtype, device=device)
        return cls(
            torch.as_tensor(positions, dtype=dtype, device=device),
            torch.as_tensor(gain_tx, dtype=cdtype, device=device),
            torch.as_tensor(gain_rx, dtype=cdtype, device=device),
            coupling,
        )

    def with_phase_drift(self, std_deg: float, seed: int) -> ArrayModel:
        """The same board on another run: every TX and RX gain turned by an independent N(0, std_deg^2) phase.

        A real array's calibration values differ slightly from run to run; the
        seed picks the run.
        """
        if not (math.isfinite(std_deg) and std_deg >= 0.0):
            raise ValueError(f"std_deg must be a finite value >= 0, got {std_deg}")
        rng = np.random.default_rng([seed, _DRIFT_STREAM])
        drift = torch.as_tensor(
            np.exp(1j * math.radians(std_deg) * rng.standard_normal((2, self.num_elements))),
            dtype=self.gain_tx.dtype,
            device=self.gain_tx.device,
        )
        return dataclasses.replace(self, gain_tx=self.gain_tx * drift[0], gain_rx=self.gain_rx * drift[1])

    # --- manifolds ------------------------------------------------------------
    def steering_tx(self, theta: torch.Tensor) -> torch.Tensor:
        """Effective TX manifold diag(g_tx) C^T a(theta), (...,) radians -> (..., K) complex.

        The field radiated toward theta by the K-element signal y is
        ``steering_tx(theta)^T y = a(theta)^T C diag(g_tx) y``.
        """
        return self.gain_tx * (steering(self.positions, theta) @ self.coupling)

    def steering_rx(self, theta: torch.Tensor) -> torch.Tensor:
        """Effective RX manifold diag(g_rx) C a(theta), (...,) radians -> (..., K) complex.

        The snapshot the K elements deliver for a unit plane wave from theta.
        """
        return self.gain_rx * (steering(self.positions, theta) @ self.coupling.mT)

    # --- device and precision ---------------------------------------------------
    def to(self, device=None, dtype: torch.dtype | None = None) -> ArrayModel:
        """A copy on ``device`` with real precision ``dtype`` (float32 or float64; complex tensors follow)."""
        dtype = self.positions.dtype if dtype is None else dtype
        cdtype = dtype.to_complex()
        return ArrayModel(
            self.positions.to(device=device, dtype=dtype),
            self.gain_tx.to(device=device, dtype=cdtype),
            self.gain_rx.to(device=device, dtype=cdtype),
            self.coupling.to(device=device, dtype=cdtype),
        )

    # --- (de)serialisation --------------------------------------------------------
    FORMAT = "isac_ae.array_model/1"

    def to_dict(self) -> dict:
        """A JSON-able dict: positions in wavelengths, complex values as [re, im] pairs (exact round trip)."""

        def pairs(t):
            return torch.view_as_real(t.detach().cpu().to(torch.complex128)).tolist()

        return {
            "format": self.FORMAT,
            "positions_wavelengths": self.positions.detach().cpu().double().tolist(),
            "gain_tx": pairs(self.gain_tx),
            "gain_rx": pairs(self.gain_rx),
            "coupling": pairs(self.coupling),
        }

    @classmethod
    def from_dict(cls, data: dict, *, dtype=torch.float32, device="cpu") -> ArrayModel:
        """Inverse of :meth:`to_dict`; a missing or malformed field raises ValueError naming it."""
        if not isinstance(data, dict) or data.get("format") != cls.FORMAT:
            raise ValueError(f"not an array model: expected a dict with format {cls.FORMAT!r}")
        fields = {}
        for name, key in (
            ("positions", "positions_wavelengths"),
            ("gain_tx", "gain_tx"),
            ("gain_rx", "gain_rx"),
            ("coupling", "coupling"),
        ):
            if key not in data:
                raise ValueError(f"array model: missing field {key!r}")
            try:
                values = np.asarray(data[key], dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"array model: field {key!r} is not numeric ({exc})") from None
            if not np.all(np.isfinite(values)):
                raise ValueError(f"array model: field {key!r} has non-finite values")
            if name != "positions":
                if values.ndim < 1 or values.shape[-1] != 2:
                    raise ValueError(f"array model: field {key!r} must hold [re, im] pairs")
                values = values[..., 0] + 1j * values[..., 1]
            fields[name] = torch.as_tensor(
                values, dtype=dtype if name == "positions" else dtype.to_complex(), device=device
            )
        return cls(**fields)


# --- analog weights: the ADAR1000 ------------------------------------------------
def adar1000_codes(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The ADAR1000 gain and phase codes nearest to a weight vector (..., K) complex.

    The largest |w_k| of each vector maps to gain code 127 (the chip sets the
    weights' ratios; the overall level is the receiver's gain). Gain law
    assumed: amplitude = code / 127, linear in the code, 0 = element off. It is
    the law pyadi-iio's CN0566 calibration assumes (it scales gain codes by
    measured amplitude ratios); the datasheet's VGA is not exactly linear, so a
    measured table should replace it once a board is characterised.
    Returns (gain_code, phase_code), int64 tensors (..., K): gain 0..127, phase
    0..127 in steps of :data:`ADAR1000_PHASE_STEP_DEG`.
    """
    magnitude = weights.abs()
    scale = magnitude.amax(-1, keepdim=True)
    relative = magnitude / torch.where(scale > 0, scale, torch.ones_like(scale))
    gain_code = torch.round(relative * ADAR1000_MAX_GAIN_CODE).long()
    step = math.radians(ADAR1000_PHASE_STEP_DEG)
    phase_code = torch.remainder(torch.round(weights.angle() / step).long(), 128)
    return gain_code, phase_code


def adar1000_weights(gain_code: torch.Tensor, phase_code: torch.Tensor, dtype=torch.complex64) -> torch.Tensor:
    """The complex weight (code/127) exp(j phase_code * 2.8125 deg) an ADAR1000 channel applies."""
    real = dtype.to_real()
    amplitude = gain_code.to(real) / ADAR1000_MAX_GAIN_CODE
    return torch.polar(amplitude, phase_code.to(real) * math.radians(ADAR1000_PHASE_STEP_DEG))


def quantise_adar1000(weights: torch.Tensor) -> torch.Tensor:
    """The ADAR1000-representable weights nearest to ``weights`` (..., K), at the input's scale.

    ``max_k |w_k| * adar1000_weights(*adar1000_codes(w))``: every element is an
    exact code pair times one common factor per vector.
    """
    scale = weights.abs().amax(-1, keepdim=True)
    return scale * adar1000_weights(*adar1000_codes(weights), dtype=weights.dtype)


class _StraightThrough(torch.autograd.Function):
    """Forward: the quantised weights; backward: the identity (straight-through estimator)."""

    @staticmethod
    def forward(ctx, weights):
        return quantise_adar1000(weights)

    @staticmethod
    def backward(ctx, grad):
        return grad


def quantise_adar1000_ste(weights: torch.Tensor) -> torch.Tensor:
    """:func:`quantise_adar1000` in the forward pass, gradient passed through unchanged (for training)."""
    return _StraightThrough.apply(weights)


# --- signal impairments -------------------------------------------------------------
def adc_quantise(x: torch.Tensor, bits: int, full_scale: float = 1.0) -> torch.Tensor:
    """A b-bit two's-complement ADC: I and Q rounded to steps of full_scale / 2^(b-1), clipped.

    Codes run from -2^(b-1) to 2^(b-1) - 1, so the output lies in
    [-full_scale, full_scale - step]. Real or complex x, any shape.
    """
    if int(bits) != bits or not 1 <= bits <= 32:
        raise ValueError(f"bits must be an integer in [1, 32], got {bits}")
    if not (math.isfinite(full_scale) and full_scale > 0):
        raise ValueError(f"full_scale must be > 0, got {full_scale}")
    step = full_scale / 2 ** (bits - 1)
    top = 2 ** (bits - 1)

    def quantise(v):
        return torch.clamp(torch.round(v / step), -top, top - 1) * step

    if x.is_complex():
        return torch.complex(quantise(x.real), quantise(x.imag))
    return quantise(x)


def apply_cfo(
    x: torch.Tensor, cfo_hz, sample_rate_hz: float, *, phase_rad: float = 0.0, start: int = 0, dim: int = -1
) -> torch.Tensor:
    """x[n] exp(j (2 pi cfo n / fs + phase)) along ``dim``, n = start, start + 1, ...

    ``start`` continues the ramp across consecutive buffers. The ramp is
    computed in float64 and reduced modulo one cycle, so long streams keep
    their phase accuracy in complex64; differentiable in a tensor ``cfo_hz``.
    """
    if not (math.isfinite(sample_rate_hz) and sample_rate_hz > 0):
        raise ValueError(f"sample_rate_hz must be > 0, got {sample_rate_hz}")
    n = x.shape[dim]
    index = torch.arange(start, start + n, dtype=torch.float64, device=x.device)
    cfo = torch.as_tensor(cfo_hz, dtype=torch.float64, device=x.device)
    cycles = torch.remainder(index * (cfo / sample_rate_hz) + phase_rad / (2 * math.pi), 1.0)
    ramp = torch.polar(torch.ones_like(cycles), 2 * math.pi * cycles)
    ramp = ramp.to(x.dtype if x.is_complex() else x.dtype.to_complex())
    shape = [1] * x.ndim
    shape[dim] = n
    return x * ramp.reshape(shape)


def add_noise(x: torch.Tensor, power: float, generator: torch.Generator) -> torch.Tensor:
    """x + n with n ~ CN(0, power) independent per sample (real and imaginary parts of variance power/2)."""
    if not (math.isfinite(power) and power >= 0):
        raise ValueError(f"noise power must be a finite value >= 0, got {power}")
    dtype = x.dtype if x.is_complex() else x.dtype.to_complex()
    return x + torch.randn(x.shape, generator=generator, dtype=dtype, device=x.device) * math.sqrt(power)
