"""The over-the-air frame: what a digital board transmits for one block of ISAC snapshots, and how a
capture is turned back into snapshots.

A frame on the K TX channels, sent as a cyclic buffer, is

``| quiet | preamble | pilots | data |``

* ``quiet`` (Q samples): all TX channels silent, so each RX channel's noise
  power can be measured (the snapshots are scaled to N0 = 1, the core's
  convention);
* ``preamble`` (P samples): a known, seeded unit-modulus sequence per TX
  channel, different on every channel (nearly orthogonal). It finds the frame
  in a capture and measures the direct TX-to-RX leakage of a monostatic board,
  which is then removed from the snapshots (self-interference cancellation;
  the least-squares estimate of the K_rx x K_tx leakage leaves a residual of
  about K_tx / P of the noise power: 0.8 % for K = 16 and P = 2048);
* ``pilots`` (2 x H samples): the beam v times a known unit-modulus sequence,
  sent twice: the comm receiver estimates its carrier-frequency offset from
  the phase between the two halves and its CSI kappa = beta a^T v from both;
* ``data`` (N samples): the snapshots, y_n = x_n v.

Every sample is scaled by ``tx_scale`` so that no DAC clips. Sample n of the
data block is ISAC snapshot n; the RX side returns the K-element snapshots
z_n (radar) or the symbols z_c,n with their CSI (comm), both in units where
the noise power is 1. Shapes: TX (K_tx, L), RX (channels, M), complex.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy import stats


class FrameError(RuntimeError):
    """A capture in which the frame cannot be found or is not complete."""


@dataclass(frozen=True)
class FrameLayout:
    """Lengths of the frame's sections (samples) and the TX scale (full scale 1)."""

    data: int
    quiet: int = 1024
    preamble: int = 2048
    pilot_half: int = 512
    tx_scale: float = 0.25
    seed: int = 0x15AC

    def __post_init__(self):
        for name in ("data", "quiet", "preamble", "pilot_half"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                raise ValueError(f"frame {name} length must be a positive integer, got {getattr(self, name)}")
        if not 0.0 < self.tx_scale <= 1.0:
            raise ValueError(f"tx_scale must lie in (0, 1], got {self.tx_scale}")

    @property
    def length(self) -> int:
        return self.quiet + self.preamble + 2 * self.pilot_half + self.data

    @property
    def preamble_start(self) -> int:
        return self.quiet

    @property
    def pilot_start(self) -> int:
        return self.quiet + self.preamble

    @property
    def data_start(self) -> int:
        return self.pilot_start + 2 * self.pilot_half

    def amplitude_for(self, gain_var: float, noise_power: float) -> float:
        """The RMS path amplitude (full scale) that gives an echo or comm channel the variance ``gain_var``
        (sigma^2 = SNR N0 of eq. (1)-(2), N0 = 1, E||y||^2 = 1) at a receiver whose noise power is
        ``noise_power`` (full scale): what is sent is y scaled by tx_scale, so
        amplitude^2 tx_scale^2 = gain_var noise_power."""
        return math.sqrt(gain_var * noise_power) / self.tx_scale

    def preamble_symbols(self, tx_channels: int) -> np.ndarray:
        """The known preamble, unit-modulus QPSK, (tx_channels, P) complex128."""
        rng = np.random.default_rng([self.seed, 1])
        return np.exp(0.5j * np.pi * (rng.integers(0, 4, (tx_channels, self.preamble)) + 0.5))

    def pilot_symbols(self) -> np.ndarray:
        """One half of the pilot block, unit-modulus QPSK, (H,) complex128."""
        rng = np.random.default_rng([self.seed, 2])
        return np.exp(0.5j * np.pi * (rng.integers(0, 4, self.pilot_half) + 0.5))


def build_frame(layout: FrameLayout, beam: np.ndarray, symbols: np.ndarray) -> np.ndarray:
    """The TX frame for one block: beam v (K,), symbols x (N,) -> (K, L) complex64, data y_n = x_n v."""
    beam = np.asarray(beam, dtype=np.complex128)
    symbols = np.asarray(symbols, dtype=np.complex128)
    if beam.ndim != 1:
        raise ValueError(f"beam must be a (K,) vector, got shape {beam.shape}")
    if symbols.shape != (layout.data,):
        raise ValueError(f"the frame carries {layout.data} data symbols, got shape {symbols.shape}")
    return snapshot_frame(layout, beam, np.outer(symbols, beam))


def snapshot_frame(layout: FrameLayout, beam: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The TX frame for one block of snapshots: beam v (K,), snapshots y (N, K) -> (K, L) complex64.

    The data section is y as the system made it (E||y||^2 = 1, the paper's
    power constraint; y_n = x_n v for every system here); the preamble's
    per-channel amplitude 1/sqrt(K) gives it the same total power, the pilots
    have the beam's.
    """
    beam = np.asarray(beam, dtype=np.complex128)
    y = np.asarray(y, dtype=np.complex128)
    if beam.ndim != 1:
        raise ValueError(f"beam must be a (K,) vector, got shape {beam.shape}")
    k = beam.shape[0]
    if y.shape != (layout.data, k):
        raise ValueError(f"the frame carries {layout.data} snapshots of K = {k}, got shape {y.shape}")
    frame = np.zeros((k, layout.length), dtype=np.complex128)
    frame[:, layout.preamble_start : layout.pilot_start] = layout.preamble_symbols(k) / np.sqrt(k)
    pilots = np.tile(layout.pilot_symbols(), 2)
    frame[:, layout.pilot_start : layout.data_start] = np.outer(beam, pilots)
    frame[:, layout.data_start :] = y.T
    frame *= layout.tx_scale
    peak = np.abs(frame).max()
    if peak > 1.0:
        raise ValueError(f"the frame would clip the DAC (peak {peak:.3g} > 1): lower tx_scale")
    return frame.astype(np.complex64)


#: The preamble is correlated in this many segments, combined in power: a CFO that turns the phase by a
#: cycle over the whole preamble (1/P cycles per sample) would cancel one long correlation; the segments
#: keep the peak up to about 1/(P / SEGMENTS), beyond the pilots' own +-1/(2 H) range.
PREAMBLE_SEGMENTS = 4
#: Smallest normalised correlation between the two pilot halves of a frame taken as found (at an SNR of
#: 0 dB per pilot sample it is about 0.5; a misplaced frame gives about 1/sqrt(H)).
PILOT_AGREEMENT = 0.3


def find_frame(layout: FrameLayout, rx: np.ndarray, tx_channels: int, stream: bool = False) -> int:
    """Index in ``rx`` (C, M) of the first sample of a complete frame (its quiet section).

    The metric at each lag is the energy of the (combined) RX channels'
    correlation with every TX channel's preamble sequence, in
    :data:`PREAMBLE_SEGMENTS` segments, summed: it peaks where the preamble
    arrives whatever the (unknown) leakage or channel mixes the TX channels,
    and a carrier-frequency offset within the pilots' range does not cancel it.
    Raises :class:`FrameError` when no complete frame fits or no peak stands out.

    A capture of a cyclic buffer must hold two frame lengths (the frame then
    lies whole in it wherever the capture starts). With ``stream`` (frames
    streamed one after another, as :func:`next_frame` searches them) any
    capture of at least one frame length is searched.
    """
    rx = np.atleast_2d(rx)
    length, total = layout.length, rx.shape[1]
    if total < (1 if stream else 2) * length:
        needs = "a frame" if stream else "2 frames"
        raise FrameError(f"a capture of {total} samples cannot hold a complete frame of {length} (needs {needs})")
    reference = layout.preamble_symbols(tx_channels)
    # One fixed random combination of the RX channels keeps every TX channel's preamble in it (the
    # leakage or channel would have to cancel exactly) and costs T correlations instead of C x T.
    weights = np.exp(2j * np.pi * np.random.default_rng([layout.seed, 3]).random(rx.shape[0]))
    combined = weights @ rx
    size = 1 << int(np.ceil(np.log2(total + layout.preamble)))
    spectrum = np.fft.fft(combined, size)  # (S,)
    segment = layout.preamble // PREAMBLE_SEGMENTS
    metric = np.zeros(total)
    for s in range(PREAMBLE_SEGMENTS):
        # segment s of every sequence, kept at its place in the preamble, so all segments peak at one lag
        part = np.zeros_like(reference)
        part[:, s * segment : (s + 1) * segment] = reference[:, s * segment : (s + 1) * segment]
        corr = np.fft.ifft(spectrum[None, :] * np.fft.fft(part, size, axis=1).conj(), axis=1)  # (T, S)
        metric += np.sum(np.abs(corr[:, :total]) ** 2, axis=0)
    # A preamble that starts at lag l belongs to the frame starting at l - quiet; it must be complete.
    lags = np.arange(total)
    valid = (lags >= layout.quiet) & (lags - layout.quiet + length <= total)
    if not np.any(valid):
        raise FrameError("no complete frame in the capture")
    best = int(np.argmax(np.where(valid, metric, -1.0)))
    # Away from the preamble the metric is a sum of T x SEGMENTS squared magnitudes of (nearly) Gaussian
    # correlations: chi-square with 2 T SEGMENTS degrees of freedom, scaled. Accept a peak only above the
    # level that noise alone exceeds with probability 1e-6 anywhere in the capture.
    dof = 2 * tx_channels * PREAMBLE_SEGMENTS
    background = np.median(metric[valid])
    level = stats.chi2.isf(1e-6 / total, dof) / stats.chi2.median(dof)
    if metric[best] < level * background:
        raise FrameError(
            f"no preamble found (peak {metric[best]:.3g} vs median {background:.3g}): is the transmitter on?"
        )
    return best - layout.quiet


@dataclass
class RadarBlock:
    """The radar side of one received frame.

    z: (N, K_rx) snapshots in units of the measured noise (N0 = 1 per channel);
    noise_power: (K_rx,) the noise power per channel the snapshots were scaled by, full-scale units;
    leakage: (K_rx, K_tx) estimated direct TX-to-RX coupling (removed from z).
    """

    z: np.ndarray
    noise_power: np.ndarray
    leakage: np.ndarray


def radar_block(
    layout: FrameLayout,
    rx: np.ndarray,
    tx_frame: np.ndarray,
    leakage: Optional[np.ndarray] = None,
    noise_power: Optional[np.ndarray] = None,
) -> RadarBlock:
    """Snapshots of one frame from a monostatic capture ``rx`` (K_rx, M) of the cyclic ``tx_frame`` (K_tx, L).

    ``leakage`` (K_rx, K_tx): the direct TX-to-RX coupling measured beforehand
    with the scene empty. Without it, it is estimated by least squares on this
    frame's preamble (its rows are nearly orthogonal), which also takes away
    the echo of anything that does not fluctuate within the frame: a still
    reflector at a bench's range has the leakage's delay. So measure it with
    the reflector removed, as :class:`~isac_ae.hw.link.OverTheAirLink` does.
    ``noise_power`` (K_rx,): the channels' noise powers measured beforehand
    (over a longer record than one quiet section); without it, this frame's
    quiet section gives them (+-3 % per channel). What is left is the echo plus
    noise, scaled to unit noise power per channel.
    """
    start = find_frame(layout, rx, tx_frame.shape[0])
    return radar_frame(layout, rx[:, start : start + layout.length], tx_frame, leakage, noise_power)


def radar_frame(
    layout: FrameLayout,
    frame: np.ndarray,
    tx_frame: np.ndarray,
    leakage: Optional[np.ndarray] = None,
    noise_power: Optional[np.ndarray] = None,
) -> RadarBlock:
    """:func:`radar_block` of a frame already found: ``frame`` (K_rx, L) starts at its quiet section."""
    frame = np.asarray(frame, dtype=np.complex128)
    if frame.shape[1] != layout.length:
        raise FrameError(f"a frame has {layout.length} samples, got {frame.shape[1]}")
    quiet = frame[:, : layout.quiet]
    dc = quiet.mean(axis=1, keepdims=True)
    measured = np.mean(np.abs(quiet - dc) ** 2, axis=1)
    if np.any(measured <= 0):
        raise FrameError("an RX channel delivers no noise at all: is it connected?")
    noise_power = measured if noise_power is None else np.asarray(noise_power, dtype=np.float64)
    if leakage is None:
        sent = tx_frame[:, layout.preamble_start : layout.pilot_start].astype(np.complex128)
        got = frame[:, layout.preamble_start : layout.pilot_start] - dc
        leakage = np.linalg.lstsq(sent.T, got.T, rcond=None)[0].T  # (K_rx, K_tx)
    data = frame[:, layout.data_start :] - dc - leakage @ tx_frame[:, layout.data_start :]
    z = (data / np.sqrt(noise_power)[:, None]).T
    return RadarBlock(z=z.astype(np.complex64), noise_power=noise_power, leakage=leakage)


@dataclass
class CommBlock:
    """The comm side of one received frame: z (N,) and kappa (N,) in units of the measured noise (N0 = 1),
    and the estimated carrier-frequency offset in cycles per sample."""

    z: np.ndarray
    kappa: np.ndarray
    cfo_cycles_per_sample: float
    noise_power: float


def comm_block(layout: FrameLayout, rx: np.ndarray, tx_channels: int) -> CommBlock:
    """Symbols and CSI of one frame from the one-antenna comm receiver's capture ``rx`` (M,) or (1, M).

    The CFO comes from the phase between the two identical pilot halves (an
    unambiguous range of +-1/(2H) cycles per sample), the CSI kappa from the
    pilots after removing it; the data symbols are de-rotated with the same
    estimate, so z / kappa is the equalised symbol the receivers expect.
    """
    rx = np.atleast_2d(rx)[:1]
    start = find_frame(layout, rx, tx_channels)
    return comm_frame(layout, rx[0, start : start + layout.length])


def comm_frame(layout: FrameLayout, frame: np.ndarray) -> CommBlock:
    """:func:`comm_block` of a frame already found: ``frame`` (L,) starts at its quiet section."""
    frame = np.asarray(frame, dtype=np.complex128).reshape(-1)
    if frame.shape[0] != layout.length:
        raise FrameError(f"a frame has {layout.length} samples, got {frame.shape[0]}")
    quiet = frame[: layout.quiet]
    dc = quiet.mean()
    noise_power = float(np.mean(np.abs(quiet - dc) ** 2))
    if noise_power <= 0:
        raise FrameError("the comm receiver delivers no noise at all: is it connected?")
    frame = frame - dc
    h = layout.pilot_half
    pilots = layout.pilot_symbols()
    first = frame[layout.pilot_start : layout.pilot_start + h] * pilots.conj()
    second = frame[layout.pilot_start + h : layout.data_start] * pilots.conj()
    agreement = np.abs(np.sum(second * first.conj())) / np.sqrt(
        np.sum(np.abs(first) ** 2) * np.sum(np.abs(second) ** 2)
    )
    if not agreement > PILOT_AGREEMENT:
        # The two pilot halves must be the same signal: a frame found at the wrong place, or one the
        # channel drowned, is not decoded as if it were data.
        raise FrameError(f"the pilot halves do not agree (normalised correlation {agreement:.2f}): frame lost")
    cfo = float(np.angle(np.sum(second * first.conj())) / (2.0 * np.pi * h))
    derotate = np.exp(-2j * np.pi * cfo * np.arange(layout.length))
    frame = frame * derotate
    kappa = np.mean(frame[layout.pilot_start : layout.data_start] * np.tile(pilots, 2).conj())
    scale = 1.0 / np.sqrt(noise_power)
    z = frame[layout.data_start :] * scale
    return CommBlock(
        z=z.astype(np.complex64),
        kappa=np.full(layout.data, kappa * scale, dtype=np.complex64),
        cfo_cycles_per_sample=cfo,
        noise_power=noise_power,
    )


def next_frame(layout: FrameLayout, rx: np.ndarray, tx_channels: int) -> tuple[Optional[int], int]:
    """Search a stream of frames sent one after another (gaps of silence allowed) for the next one.

    ``rx`` (C, M): the stream's samples not yet searched. Only its first
    ``2 L - 1`` samples are searched: a window that short holds at most one
    complete frame, so frames are found in order and none is skipped.
    Returns ``(start, consumed)``: the frame's first sample (None if the
    window holds no complete frame) and how many samples the caller may drop
    (the frame's end, or all but the last L - 1 samples, where a frame may
    still be incomplete). ``(None, 0)`` while fewer than ``2 L - 1`` samples
    are there.
    """
    rx = np.atleast_2d(rx)
    window = 2 * layout.length - 1
    if rx.shape[1] < window:
        return None, 0
    try:
        start = find_frame(layout, rx[:, :window], tx_channels, stream=True)
    except FrameError:
        return None, window - (layout.length - 1)
    return start, start + layout.length
