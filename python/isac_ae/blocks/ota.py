"""Over-the-air frame blocks: what sits between the ISAC blocks and gr-iio's source and sink.

A hardware flowgraph differs from a simulation one only in its channel
blocks: in place of the Radar and Comm Channels,

``AE Transmitter -> Frame Transmitter -> FMComms2 Sink`` (K TX channels) and
``FMComms2 Source -> Radar Frame Receiver -> AE Radar Receiver``,
``Pluto Source (comm receiver) -> Comm Frame Receiver -> AE Comm Receiver``.

The frame is :mod:`isac_ae.hw.frames`' (quiet, preamble, pilots, data): the
Frame Transmitter cuts the snapshot stream into blocks of N and streams one
frame per block, back to back (one gr-iio buffer per frame, so a frame is
never split by an underflow); the receivers find the frames in their RX
streams in order (:func:`isac_ae.hw.frames.next_frame`) and put out N
snapshots per frame, in units of the measured noise (N0 = 1), as the
evaluation over the air does. Frame i of a receiver is taken to be frame i of
the transmitter: a frame a receiver misses entirely (an RX overflow on a
bench) would shift its later output against the messages, and a trailing
partial block (fewer than N snapshots at the end) is not sent.

The ground truth of a bench cannot come from the channel: the radar and comm
frame receivers put out the labels of the scene the bench holds (target
present or not, its angle; the comm receiver's angle), given as parameters
and setters, as an operator enters where the reflector stands. ``isac-ae hw
scene`` puts a twin's scene in place (or asks the operator) and measures the
background (leakage, noise) the radar frame receiver removes.

Every block buffers its input internally, so no block waits on a full
buffer of another chain (the flowgraph's chains drift apart by the frames
in flight). SDR sources never end: a receiver given ``frames`` > 0 ends the
run (returns WORK_DONE) once it has put out that many frames.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Optional

import numpy as np
import pmt
from gnuradio import gr

from ..hw.background import Background
from ..hw.frames import FrameError, FrameLayout, comm_frame, next_frame, radar_frame, snapshot_frame
from . import checks
from .iio_exit import RunClock

__all__ = ["comm_frame_receiver", "frame_layout", "frame_transmitter", "radar_frame_receiver"]

#: Message port on which the Frame Transmitter publishes each frame's snapshots and beam (y | v rows,
#: (N, 2K) complex, flattened) and the Radar Frame Receiver takes them.
SENT_PORT = "sent"

#: Default snapshots per frame (the evaluation's default block).
DEFAULT_FRAME_SNAPSHOTS = 2048


def frame_layout(frame_snapshots) -> FrameLayout:
    """The frame of ``frame_snapshots`` snapshots (the other sections are :class:`FrameLayout`'s defaults)."""
    return FrameLayout(data=checks.integer(frame_snapshots, "frame_snapshots", 1, 1 << 22))


class _Queue:
    """Rows appended in blocks, taken from the front: (n, width) arrays of one dtype."""

    def __init__(self, width: int, dtype):
        self._blocks: deque = deque()
        self._width, self._dtype = width, dtype
        self.size = 0

    def append(self, rows: np.ndarray) -> None:
        if len(rows):
            self._blocks.append(np.array(rows, dtype=self._dtype).reshape(len(rows), self._width))
            self.size += len(rows)

    def take(self, n: int) -> np.ndarray:
        """The first ``n`` rows (n <= size), removed."""
        out = np.empty((n, self._width), self._dtype)
        filled = 0
        while filled < n:
            block = self._blocks[0]
            count = min(n - filled, len(block))
            out[filled : filled + count] = block[:count]
            if count == len(block):
                self._blocks.popleft()
            else:
                self._blocks[0] = block[count:]
            filled += count
        self.size -= n
        return out


class frame_transmitter(gr.basic_block):
    """Snapshots to frames on K TX streams.

    In: y (vlen K), v (vlen K) from a transmitter block. Out: K complex streams, TX1..TXK, full scale 1
    (gr-iio's fc32 sinks map 1.0 to the DAC's full scale); one frame of L samples per N snapshots, made
    only when the outputs have room for it (so nothing is left inside the block when its input ends).
    The frame's pilots carry the beam of the block's first snapshot. Message port ``sent``: each frame's
    snapshots and beam, for the Radar Frame Receiver.
    """

    def __init__(self, K: int = 2, frame_snapshots: int = DEFAULT_FRAME_SNAPSHOTS):
        self._k = checks.integer(K, "K", 1, checks.MAX_ANTENNAS)
        self.layout = frame_layout(frame_snapshots)
        gr.basic_block.__init__(
            self, name="frame_transmitter", in_sig=[(np.complex64, self._k)] * 2, out_sig=[np.complex64] * self._k
        )
        self.set_output_multiple(self.layout.length)
        self.set_min_output_buffer(2 * self.layout.length)
        self.frames_sent = 0
        self.message_port_register_out(pmt.intern(SENT_PORT))

    def forecast(self, noutput_items, ninputs):
        return [noutput_items // self.layout.length * self.layout.data] * ninputs

    def general_work(self, input_items, output_items):
        n, length = self.layout.data, self.layout.length
        frames = min(len(input_items[0]) // n, len(input_items[1]) // n, len(output_items[0]) // length)
        for f in range(frames):
            y, v = input_items[0][f * n : (f + 1) * n], input_items[1][f * n : (f + 1) * n]
            frame = snapshot_frame(self.layout, v[0], y)
            for channel, port in enumerate(output_items):
                port[f * length : (f + 1) * length] = frame[channel]
            # the radar side needs what was sent (to remove the leakage); a message, not a stream, so the
            # two chains never wait on each other's buffers
            rows = np.concatenate([y, v], axis=1).reshape(-1).astype(np.complex128)
            self.message_port_pub(pmt.intern(SENT_PORT), pmt.init_c64vector(rows.size, rows))
        self.frames_sent += frames
        self.consume_each(frames * n)
        return frames * length


class _FrameReceiver(gr.basic_block):
    """A receiver side: RX streams in, frames found in order, N output items per frame."""

    def __init__(self, name, layout, rx_channels, tx_channels, in_sig, out_sig, out_widths, frames):
        gr.basic_block.__init__(self, name=name, in_sig=in_sig, out_sig=out_sig)
        self.layout = layout
        self._frames_wanted = checks.integer(frames, "frames", 0)
        self._clock = RunClock()
        self._tx_channels = tx_channels
        self._rx = _Queue(rx_channels, np.complex64)  # samples not yet searched, (time, channel)
        self._window = np.zeros((0, rx_channels), np.complex64)
        self._out = [_Queue(width, dtype) for width, dtype in out_widths]
        self._outputs_done = 0
        self.frames_found = 0

    def start(self) -> bool:
        self._clock.start()
        return True

    def forecast(self, noutput_items, ninputs):
        return [1] * ninputs  # whatever has arrived is taken

    def _take_rx(self, input_items, first: int) -> None:
        """Take (and consume) what has arrived on the RX inputs ``first``, ``first + 1``, ..."""
        ports = input_items[first:]
        n = min(len(port) for port in ports)
        if n:
            self._rx.append(np.stack([port[:n] for port in ports], axis=1))
            for port in range(first, first + len(ports)):
                self.consume(port, n)

    def _frames(self):
        """Yield each complete frame, (K_rx, L), in stream order (up to the run's number of frames)."""
        length = self.layout.length
        while not (self._frames_wanted and self.frames_found >= self._frames_wanted):
            need = 2 * length - 1 - len(self._window)
            if need > 0:
                if self._rx.size == 0:
                    return
                self._window = np.concatenate([self._window, self._rx.take(min(need, self._rx.size))])
                if len(self._window) < 2 * length - 1:
                    return
            start, consumed = next_frame(self.layout, self._window.T, self._tx_channels)
            frame = None if start is None else self._window[start : start + length].T
            self._window = self._window[consumed:]
            if frame is not None:
                self.frames_found += 1
                yield frame
                if self._frames_wanted and self.frames_found >= self._frames_wanted:
                    return

    def _emit(self, output_items) -> int:
        out = min([queue.size for queue in self._out] + [len(port) for port in output_items])
        if out == 0:
            # a run of a given number of frames ends here: the SDR sources never end on their own
            done = self._frames_wanted and self._outputs_done >= self._frames_wanted * self.layout.data
            if done:
                self._clock.hold_end()
            return gr.WORK_DONE if done else 0
        for queue, port in zip(self._out, output_items):
            rows = queue.take(out)
            port[:out] = rows.reshape(port[:out].shape)
        self._outputs_done += out
        return out


class radar_frame_receiver(_FrameReceiver):
    """The radar side of a monostatic board: its K RX streams to snapshots z_r, with the bench's labels.

    In: K RX streams (complex, full scale 1); message port ``sent`` from the Frame Transmitter (what it sent).
    Out: z_r (vlen K) in units of the noise (N0 = 1), the direct TX-to-RX leakage removed; t (byte) and
    theta (float, radians): the scene's labels (parameters). ``background``: the JSON of ``isac-ae hw scene``
    (leakage and noise powers measured with the scene empty); empty = both estimated on each frame (the
    leakage estimate then also removes a still reflector's echo).
    """

    def __init__(
        self,
        K: int = 2,
        frame_snapshots: int = DEFAULT_FRAME_SNAPSHOTS,
        device: str = "pluto2",
        background: str = "",
        target_present: bool = True,
        target_deg: float = 0.0,
        frames: int = 0,
    ):
        k = checks.integer(K, "K", 1, checks.MAX_ANTENNAS)
        self._background: Optional[Background] = Background.load(background, device) if background else None
        if self._background is not None and self._background.num_elements != k:
            raise ValueError(f"the background has {self._background.num_elements} RX channels, K = {k}")
        super().__init__(
            "radar_frame_receiver",
            frame_layout(frame_snapshots),
            k,
            k,
            [np.complex64] * k,
            [(np.complex64, k), np.uint8, np.float32],
            [(k, np.complex64), (1, np.uint8), (1, np.float32)],
            frames,
        )
        self._k = k
        self._sent = _Queue(2 * k, np.complex64)
        self._found: deque = deque()
        self.message_port_register_in(pmt.intern(SENT_PORT))
        self.set_msg_handler(pmt.intern(SENT_PORT), self._on_sent)
        self.set_scene(target_present, target_deg)

    def set_scene(self, target_present: bool, target_deg: float) -> None:
        """The labels of the frames found from now on: is a target there, at which angle (degrees)."""
        present = checks.flag(target_present, "target_present")
        angle = checks.finite_real(target_deg, "target_deg")
        if not -90.0 <= angle <= 90.0:
            raise ValueError(f"target_deg must lie in [-90, 90] degrees, got {angle}")
        self._labels = (np.uint8(present), np.float32(math.radians(angle)))

    def _on_sent(self, message) -> None:
        rows = np.asarray(pmt.c64vector_elements(message), dtype=np.complex64)
        if rows.size != self.layout.data * 2 * self._k:
            raise ValueError(
                f"a sent frame of {rows.size} values, expected N x 2K = {self.layout.data * 2 * self._k}: are the "
                "Frame Transmitter's K and frame_snapshots this block's?"
            )
        self._sent.append(rows.reshape(self.layout.data, 2 * self._k))

    def general_work(self, input_items, output_items):
        self._take_rx(input_items, 0)
        self._found.extend(self._frames())
        # a frame can only be heard after it was sent, but its snapshots may reach this block a call later
        while self._found and self._sent.size >= self.layout.data:
            frame = self._found.popleft()
            rows = self._sent.take(self.layout.data)
            tx = snapshot_frame(self.layout, rows[0, self._k :], rows[:, : self._k])
            leakage = None if self._background is None else self._background.leakage
            noise = None if self._background is None else self._background.noise_power
            try:
                z = radar_frame(self.layout, frame, tx, leakage, noise).z
            except FrameError:  # an RX channel without any noise (unplugged): no decision is possible
                z = np.full((self.layout.data, self._k), complex(math.nan, math.nan), np.complex64)
            self._out[0].append(z)
            self._out[1].append(np.full((self.layout.data, 1), self._labels[0]))
            self._out[2].append(np.full((self.layout.data, 1), self._labels[1]))
        return self._emit(output_items)


class comm_frame_receiver(_FrameReceiver):
    """The comm receiver's side: its one RX stream to the symbols z_c and the CSI kappa, with its label.

    In: the comm receiver's RX stream (complex, full scale 1). Out: z_c, kappa (complex) in units of the
    measured noise (N0 = 1), CFO removed; vartheta (float, radians): the comm receiver's angle (a parameter).
    A frame whose pilots the receiver cannot trust (a deep fade) gives kappa = NaN: its symbols are decided
    from nothing and count as errors, as in ``isac-ae hw evaluate``. K: the transmitter's TX channels.
    """

    def __init__(
        self, K: int = 2, frame_snapshots: int = DEFAULT_FRAME_SNAPSHOTS, comm_deg: float = 40.0, frames: int = 0
    ):
        k = checks.integer(K, "K", 1, checks.MAX_ANTENNAS)
        super().__init__(
            "comm_frame_receiver",
            frame_layout(frame_snapshots),
            1,
            k,
            [np.complex64],
            [np.complex64, np.complex64, np.float32],
            [(1, np.complex64), (1, np.complex64), (1, np.float32)],
            frames,
        )
        self.set_comm_deg(comm_deg)
        self.frames_lost = 0
        self.kappas: list[complex] = []

    def set_comm_deg(self, comm_deg: float) -> None:
        """The comm receiver's angle (degrees), the label of the frames found from now on."""
        angle = checks.finite_real(comm_deg, "comm_deg")
        if not -90.0 <= angle <= 90.0:
            raise ValueError(f"comm_deg must lie in [-90, 90] degrees, got {angle}")
        self._label = np.float32(math.radians(angle))

    def general_work(self, input_items, output_items):
        self._take_rx(input_items, 0)
        for frame in self._frames():
            n = self.layout.data
            try:
                block = comm_frame(self.layout, frame[0])
                z, kappa = block.z, block.kappa
                self.kappas.append(complex(kappa[0]))
            except FrameError:
                self.frames_lost += 1
                z, kappa = np.zeros(n, np.complex64), np.full(n, complex(math.nan, math.nan), np.complex64)
            self._out[0].append(z.reshape(n, 1))
            self._out[1].append(kappa.reshape(n, 1))
            self._out[2].append(np.full((n, 1), self._label))
        return self._emit(output_items)
