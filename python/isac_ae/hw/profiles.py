"""Device profiles: what each supported board can do in the ISAC loop, and how far a real one is from ideal.

A :class:`DeviceProfile` is data: K (the elements the model sees), the
digital TX/RX channel counts, analog or digital beamforming, how the weights
are quantised, the pyadi-iio classes that drive the board, whether it runs the
paper's full loop (TX beam, K-element echo, comm receiver), its default LO and
sample rate, converter resolutions, and the impairment magnitudes a digital
twin of the board draws from. Importable without GNU Radio and pyadi-iio.

Units: frequencies in Hz, sample rates in samples/s, lengths in metres,
positions and spacings of the array model in wavelengths, angles and phases in
degrees, levels in dB (dBFS: relative to the converter's full scale).

Where the numbers come from:

* datasheets: the ADAR1000's 360/128 deg phase step and 7-bit gain codes;
  the AD9361/AD9363 (12-bit ADC and DAC; its TX buffer holds 16-bit words)
  and the AD9081 (12-bit ADC, 16-bit DAC); the CN0566's 8 elements at 10.0-10.5 GHz in two ADAR1000 sub-arrays of
  four, element map BEAM0 -> elements 7, 8, 5, 6 and BEAM1 -> 3, 4, 1, 2
  (pyadi-iio's CN0566 class).
* one measured Phaser: per-element gain factors 0.75-1.0, phase offsets
  anywhere on the circle, 1.44 dB between the two sub-array channels, element
  spacing 14-15 mm (pyadi-iio's class says 15 mm, ADI's examples 14 mm;
  lambda/2 is 14.6 mm at 10.25 GHz). The digital boards get the same
  per-channel magnitudes until one is measured.
* assumed, to be measured on a real bench: nearest-neighbour coupling of
  -25..-15 dB, the TX-to-RX latency range, the reference tolerance behind the
  carrier-frequency offset between separate boards, the residual DC offset and
  the per-run phase drift. They size the twin's impairments so that the code
  which estimates them is exercised, not a claim about a particular board.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch

from ..impairments import (
    ADAR1000_MAX_GAIN_CODE,
    ADAR1000_PHASE_STEP_DEG,
    ArrayModel,
    ImpairmentMagnitudes,
    quantise_adar1000,
    quantise_adar1000_ste,
)

SPEED_OF_LIGHT = 299_792_458.0

#: What a scenario can be checked for: the paper's full ISAC loop, or applying
#: weights and measuring their beampattern over the air.
USES = ("isac", "beampattern")

Range = tuple[float, float]


class ProfileError(ValueError):
    """A device profile cannot do what was asked of it (or does not exist)."""


@dataclass(frozen=True)
class DeviceProfile:
    """One board: capabilities, defaults and typical impairment magnitudes (module docstring for units)."""

    name: str
    description: str
    num_elements: int  # K, the elements the array model sees
    tx_channels: int  # digital TX channels
    rx_channels: int  # digital RX channels
    beamforming: str  # "analog" (weights in the RF chips) or "digital" (weights in the baseband samples)
    pyadi_classes: tuple[str, ...]
    full_isac_loop: bool
    loop_limit: str  # why the full loop cannot run; "" when it can
    lo_range_hz: Range
    default_lo_hz: float
    default_sample_rate_hz: float
    adc_bits: int
    dac_bits: int
    array_magnitudes: ImpairmentMagnitudes  # at lambda/2 spacing; see magnitudes()
    latency_samples: tuple[int, int]  # range of the unknown, fixed TX-to-RX latency
    reference_ppm: float  # frequency tolerance of each board's reference: the CFO between two boards
    dc_offset_dbfs: float  # residual DC offset after the transceiver's tracking
    phase_drift_deg: float  # standard deviation of the per-run phase drift of each chain
    weight_phase_step_deg: float | None = None  # analog weights only
    weight_gain_codes: int | None = None  # analog weights only: codes 0..weight_gain_codes-1
    # (chip label, board elements behind its channels 1..4); element k of the array model is board element k + 1
    element_map: tuple[tuple[str, tuple[int, ...]], ...] = ()
    element_spacing_m: Range | None = None  # physical spacing when the board fixes it

    # --- the array model of this board -----------------------------------------------------
    def wavelength_m(self, lo_hz: float | None = None) -> float:
        """Carrier wavelength in metres at ``lo_hz`` (default: the profile's LO), checked against the LO range."""
        lo = self.default_lo_hz if lo_hz is None else float(lo_hz)
        low, high = self.lo_range_hz
        if not (math.isfinite(lo) and low <= lo <= high):
            raise ProfileError(
                f"the {self.name} profile tunes {low / 1e9:g}-{high / 1e9:g} GHz, got an LO of {lo / 1e9:g} GHz"
            )
        return SPEED_OF_LIGHT / lo

    def magnitudes(self, lo_hz: float | None = None) -> ImpairmentMagnitudes:
        """The impairment magnitudes of a real board at ``lo_hz``: the fixed element spacing in wavelengths."""
        wavelength = self.wavelength_m(lo_hz)
        if self.element_spacing_m is None:
            return self.array_magnitudes
        spacing = tuple(d / wavelength for d in self.element_spacing_m)
        return dataclasses.replace(self.array_magnitudes, spacing_wavelengths=spacing)

    def draw_array(self, seed: int, lo_hz: float | None = None, *, dtype=torch.float32, device="cpu") -> ArrayModel:
        """One seeded random board of this kind (the hidden truth of a digital twin)."""
        return ArrayModel.draw(self.num_elements, self.magnitudes(lo_hz), seed, dtype=dtype, device=device)

    def quantise_weights(self, weights: torch.Tensor, straight_through: bool = False) -> torch.Tensor:
        """Weights (..., K) as the board applies them.

        Analog boards quantise to their phase-shifter and gain codes
        (``straight_through``: gradient passed unchanged, for training);
        digital boards apply the weights in the baseband samples, where the
        DAC quantises the whole signal, so the weights pass unchanged.
        """
        if weights.shape[-1] != self.num_elements:
            raise ProfileError(
                f"the {self.name} profile has K = {self.num_elements} elements, "
                f"got weights of length {weights.shape[-1]}"
            )
        if self.beamforming == "digital":
            return weights
        return quantise_adar1000_ste(weights) if straight_through else quantise_adar1000(weights)

    # --- what it can run ---------------------------------------------------------------------
    def check_scenario(self, scenario, use: str = "isac") -> None:
        """Raise :class:`ProfileError` if the board cannot run ``scenario`` for ``use`` (one of :data:`USES`).

        "isac" needs the paper's loop on K = scenario.num_antennas elements;
        "beampattern" needs K weights the board can apply (on the Phaser as
        receive weights, by reciprocity).
        """
        if use not in USES:
            raise ValueError(f"use must be one of {USES}, got {use!r}")
        if use == "isac" and not self.full_isac_loop:
            raise ProfileError(f"the {self.name} profile cannot run a live ISAC loop: {self.loop_limit}")
        if scenario.num_antennas != self.num_elements:
            raise ProfileError(
                f"the {self.name} profile has K = {self.num_elements} elements; the scenario has "
                f"K = {scenario.num_antennas} (train or pick a model for K = {self.num_elements})"
            )


# AD9361-class boards (Pluto, FMComms5): 12-bit converters, buffers captured
# rather than streamed, at a rate above the 2.083 MS/s the AD9361 reaches
# without its decimating FIR.
_AD9361_RATE_HZ = 2_500_000.0
_BOARD = ImpairmentMagnitudes(gain_min=0.75, phase_std_deg=None, coupling_db=(-25.0, -15.0), channel_mismatch_db=1.44)
_SIGNAL = {"latency_samples": (32, 4096), "reference_ppm": 25.0, "dc_offset_dbfs": -40.0, "phase_drift_deg": 2.0}

PROFILES: dict[str, DeviceProfile] = {
    "phaser": DeviceProfile(
        name="phaser",
        description="CN0566 Phaser: 8-element 10 GHz receive array (two ADAR1000) on a Pluto's 2 RX channels",
        num_elements=8,
        tx_channels=1,
        rx_channels=2,
        beamforming="analog",
        pyadi_classes=("adi.CN0566", "adi.ad9361"),
        full_isac_loop=False,
        loop_limit=(
            "its array is analog and receive-only (8 elements summed into 2 sub-array channels, TX on one "
            "Pluto channel), so there is no K-element echo; use it for calibration, manifold measurement and "
            "over-the-air beampatterns of quantised receive weights"
        ),
        lo_range_hz=(10.0e9, 10.5e9),
        default_lo_hz=10.25e9,
        default_sample_rate_hz=_AD9361_RATE_HZ,
        adc_bits=12,
        dac_bits=12,
        array_magnitudes=dataclasses.replace(_BOARD, rx_channels=2),
        weight_phase_step_deg=ADAR1000_PHASE_STEP_DEG,
        weight_gain_codes=ADAR1000_MAX_GAIN_CODE + 1,
        element_map=(("BEAM0", (7, 8, 5, 6)), ("BEAM1", (3, 4, 1, 2))),
        element_spacing_m=(0.014, 0.015),
        **_SIGNAL,
    ),
    "pluto2": DeviceProfile(
        name="pluto2",
        description="ADALM-Pluto rev C/D in 2R2T mode (AD9363): a 2-element digital array",
        num_elements=2,
        tx_channels=2,
        rx_channels=2,
        beamforming="digital",
        pyadi_classes=("adi.ad9361",),
        full_isac_loop=True,
        loop_limit="",
        # The AD9363 as specified; many units tune 70 MHz-6 GHz once told they carry an AD9364.
        lo_range_hz=(325e6, 3.8e9),
        default_lo_hz=2.4e9,
        default_sample_rate_hz=_AD9361_RATE_HZ,
        adc_bits=12,
        dac_bits=12,
        array_magnitudes=_BOARD,
        **_SIGNAL,
    ),
    "fmcomms5": DeviceProfile(
        name="fmcomms5",
        description="FMComms5: two synchronised AD9361, a 4-element digital array (4R4T)",
        num_elements=4,
        tx_channels=4,
        rx_channels=4,
        beamforming="digital",
        pyadi_classes=("adi.FMComms5",),
        full_isac_loop=True,
        loop_limit="",
        lo_range_hz=(70e6, 6.0e9),
        default_lo_hz=2.4e9,
        default_sample_rate_hz=_AD9361_RATE_HZ,
        adc_bits=12,
        dac_bits=12,
        array_magnitudes=_BOARD,
        **_SIGNAL,
    ),
    "quadmxfe": DeviceProfile(
        name="quadmxfe",
        description="Quad-MxFE: four AD9081, a 16-element digital array (16R16T), the paper's K",
        num_elements=16,
        tx_channels=16,
        rx_channels=16,
        beamforming="digital",
        pyadi_classes=("adi.QuadMxFE",),
        full_isac_loop=True,
        loop_limit="",
        # Direct RF sampling: the carrier is the NCO frequency, here within the
        # first Nyquist zone of the 4 GS/s ADC; 250 MS/s after the DDCs.
        lo_range_hz=(0.1e9, 2.0e9),
        default_lo_hz=1.0e9,
        default_sample_rate_hz=250e6,
        adc_bits=12,
        dac_bits=16,
        array_magnitudes=_BOARD,
        **_SIGNAL,
    ),
}


def profile(name: str) -> DeviceProfile:
    """The profile called ``name`` (one of :data:`PROFILES`); ProfileError naming the known ones otherwise."""
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        raise ProfileError(f"unknown device profile {name!r}; known: {', '.join(PROFILES)}") from None
