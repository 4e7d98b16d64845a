"""Converter words: complex samples <-> the interleaved 16-bit words of an IIO buffer.

Scan element ``2k`` of a stream device is I of complex channel k and ``2k + 1``
its Q; a buffer holds one 16-bit word per enabled element and sample, in
scan-index order, samples after each other (libiio's layout).
"""

from __future__ import annotations

import numpy as np


def complex_channels(elements: list[int]) -> tuple[int, ...]:
    """Complex channels touched by the enabled scan elements (sorted)."""
    return tuple(sorted({e // 2 for e in elements}))


def pack_rx(samples: np.ndarray, channels: tuple[int, ...], elements: list[int], bits: int) -> memoryview:
    """RX words of ``samples`` (complex (len(channels), n), full scale +-1) for the enabled elements.

    An ADC of ``bits`` bits maps +1 to 2^(bits-1) and saturates at its codes
    [-2^(bits-1), 2^(bits-1) - 1]; the code sits sign-extended in a 16-bit word
    (``le:S12/16>>0`` for the AD9361).
    """
    full = float(1 << (bits - 1))
    parts = samples.view(np.float32).reshape(len(channels), samples.shape[1], 2)
    row = {c: i for i, c in enumerate(channels)}
    # (elements, n): the I or Q row of each enabled element, in one gather
    scaled = parts[[row[e // 2] for e in elements], :, [e % 2 for e in elements]]
    scaled *= full
    np.rint(scaled, out=scaled)
    np.clip(scaled, -full, full - 1, out=scaled)
    return memoryview(np.ascontiguousarray(scaled.T, dtype="<i2")).cast("B")


def unpack_tx(data: bytes, elements: list[int], n_channels: int, bits: int) -> np.ndarray:
    """TX samples (complex (n_channels, n), full scale +-1) from the words of the enabled elements.

    A DAC of ``bits`` bits takes the top ``bits`` bits of each 16-bit word (the
    AD9361 drops the 4 LSBs), so a word w gives (w >> (16 - bits)) / 2^(bits-1).
    Elements not enabled give 0.
    """
    words = np.frombuffer(data, dtype="<i2").reshape(-1, len(elements))
    shift = 16 - bits
    scale = 1.0 / (1 << (bits - 1))
    out = np.zeros((n_channels, 2 * words.shape[0]), np.float32)
    for col, element in enumerate(elements):
        out[element // 2, element % 2 :: 2] = (words[:, col] >> shift) * scale
    return out.view(np.complex64)


def dds(tones: list, n_channels: int, bits: int) -> np.ndarray:
    """One period (2^16 samples) of the DDS output on each TX channel: complex (n_channels, 2^16).

    ``tones``: ((channel, part), scale, frequency Hz, DDS clock Hz, phase millidegrees) of each
    enabled tone; part 0 adds scale sin(2 pi k t / 2^16 + phase) to I, part 1 to Q, with k the
    16-bit phase increment. The sum takes the DAC's ``bits`` (truncated), as the DMA words do.
    Empty (n_channels, 0) when no tone has a scale.
    """
    tones = [tone for tone in tones if tone[1] > 0]
    if not tones:
        return np.zeros((n_channels, 0), np.complex64)
    period = 1 << 16
    t = np.arange(period, dtype=np.int64)
    out = np.zeros((n_channels, period, 2), np.float64)
    for (channel, part), scale, hz, clock, millideg in tones:
        increment = round(hz * period / clock)
        out[channel, :, part] += scale * np.sin(
            2 * np.pi * ((increment * t) % period) / period + np.radians(millideg / 1000)
        )
    full = 1 << (bits - 1)
    out = np.clip(np.floor(out * full), -full, full - 1) / full
    return out.astype(np.float32).view(np.complex64)[..., 0]
