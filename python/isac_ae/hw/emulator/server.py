"""The emulator: libiio's network protocol (iiod, text protocol of libiio 0.x) on 127.0.0.1.

One listening socket per context (PORT, PORT+1, ...), one thread per client
connection (libiio opens one connection per context and one more per buffer).
Commands end in CRLF; every reply starts with a decimal integer line, negative
for -errno. Attribute access goes to the profile's device tree; buffers go
through the sample clock, the converter words (:mod:`.samples`) and the
:class:`~.source.SampleSource`.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import struct
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from . import profiles
from . import samples as words
from .profiles import PROFILES, scene_attr
from .source import (
    AttrKey,
    DeviceState,
    LoopbackSource,
    RxRequest,
    SampleSource,
    TxBurst,
)
from .tree import VERSION, Attr, AttrError, ContextTree, Device, parse_number

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
#: Longest command line and attribute write the server reads (filter files are a few kB).
MAX_LINE = 4096
MAX_WRITE = 1 << 20
#: Largest buffer transfer (bytes) one READBUF/WRITEBUF may ask for.
MAX_TRANSFER = 1 << 28
#: Longest wait (s) of an RX read for a streaming TX that has not yet sent the samples the read covers, and
#: of a streaming WRITEBUF for room; within libiio's 2.5 s remote timeout. After it the DAC underflows
#: (silence) or the TX queue grows, as on a board whose host falls behind.
STREAM_WAIT_S = 1.0
#: Kernel buffers a streaming TX may be ahead of its radio's RX (libiio's default buffer count).
TX_BUFFERS_AHEAD = 4


@dataclass
class _Buffer:
    """A buffer a connection opened: device, enabled scan elements (sorted indices), mask, size, cyclic."""

    device: Device
    radio: str
    elements: list[int]
    channels: tuple[int, ...]
    mask: int
    samples: int
    cyclic: bool

    @property
    def sample_size(self) -> int:
        return 2 * len(self.elements)


class _Closed(Exception):
    """The client went away (or the emulator is stopping)."""


class Emulator:
    """An IIO emulator serving one device profile to unmodified libiio clients on 127.0.0.1.

    ``device``: "pluto2", "phaser" (CN0566 on ``port``, its Pluto on ``port + 1``),
    "fmcomms5" or "quadmxfe". ``comm_receiver`` adds a 1R1T Pluto (radio "comm")
    on the next port. ``port`` 0 picks free ports. ``source`` makes the RX
    samples (default: :class:`LoopbackSource` seeded with ``seed``). Use as a
    context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        device: str = "pluto2",
        port: int = 0,
        source: SampleSource | None = None,
        seed: int = 0,
        comm_receiver: bool = False,
    ):
        if device not in PROFILES:
            raise ValueError(f"unknown device {device!r}; choose one of {', '.join(PROFILES)}")
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise ValueError(f"port must be an integer in [0, 65535], got {port!r}")
        if source is not None and not isinstance(source, SampleSource):
            raise TypeError("source must have transmit(burst) and receive(request) (isac_ae.hw.emulator.SampleSource)")
        self.device = device
        self.scene = scene_attr()
        self.contexts: list[ContextTree] = PROFILES[device](self.scene)
        if comm_receiver:
            self.contexts.append(profiles.comm_receiver(self.scene))
        self.source: SampleSource = source if source is not None else LoopbackSource(seed=seed)
        self._requested_port = port
        self._xml = [ctx.xml().encode() for ctx in self.contexts]
        self._lock = threading.RLock()
        self._version = 0
        self._snapshot: DeviceState | None = None
        self._clock: dict[str, int] = {}
        self._tx_end: dict[str, int] = {}
        self._cyclic_owner: dict[str, _Buffer] = {}
        # the DAC plays the DDS while no TX buffer is open: which writes retune it, and the open buffers
        self._radios = {ctx.radio: ctx for ctx in self.contexts if ctx.radio}
        self._dds_attrs = {
            id(attr): ctx
            for ctx in self._radios.values()
            for dev in ctx.devices
            for chn in dev.channels
            if chn.tone is not None
            for attr in chn.attrs.values()
        }
        self._tx_open: dict[str, int] = {}
        # Streaming (non-cyclic) TX: the open buffers per radio, the RX buffers per radio, and per radio the
        # first RX sample not yet handed to the source (a one-shot burst may still land from there on).
        self._streaming: dict[str, int] = {}
        self._rx_open: dict[str, int] = {}
        self._computed: dict[str, int] = {}
        self._stream_moved = threading.Condition(self._lock)
        self._listeners: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self.ports: list[int] = []

    # --- life cycle -----------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The first context's port (the URI a client opens; the Phaser's Pluto is on port + 1)."""
        if not self.ports:
            raise RuntimeError("the emulator is not started")
        return self.ports[0]

    @property
    def uris(self) -> list[str]:
        """One libiio URI per context, in profile order."""
        return [f"ip:{HOST}:{p}" for p in self.ports]

    @property
    def uri(self) -> str:
        return self.uris[0]

    def start(self) -> Emulator:
        if self._listeners:
            raise RuntimeError("the emulator is already started")
        self._stopping.clear()
        self._listeners = _bind(self._requested_port, len(self.contexts))
        self.ports = [s.getsockname()[1] for s in self._listeners]
        with self._lock:
            for ctx in self._radios.values():
                self._play_dds(ctx)
        for index, listener in enumerate(self._listeners):
            self._spawn(self._accept_loop, listener, index)
        log.info("emulating %s on %s", self.device, ", ".join(self.uris))
        return self

    def stop(self) -> None:
        """Close the listening sockets and every connection, and wait for the threads."""
        self._stopping.set()
        for listener in self._listeners:
            _close(listener)
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            _close(conn)
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=5)
        self._listeners, self._threads = [], []
        self.ports = []

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _spawn(self, target, *args) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=f"iio-emulator-{target.__name__}")
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _accept_loop(self, listener: socket.socket, index: int) -> None:
        while not self._stopping.is_set():
            try:
                conn, peer = listener.accept()
            except OSError:
                return
            if not ipaddress.ip_address(peer[0]).is_loopback:
                _close(conn)
                continue
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                if self._stopping.is_set():  # accepted while stop() was closing the connections
                    _close(conn)
                    return
                self._connections.add(conn)
            self._spawn(self._serve, conn, index)

    def _serve(self, conn: socket.socket, index: int) -> None:
        session = _Session(self, conn, self.contexts[index], self._xml[index])
        try:
            session.run()
        except (_Closed, OSError):
            pass
        except Exception:
            log.exception("connection ended by an error")
        finally:
            session.close_all()
            with self._lock:
                self._connections.discard(conn)
            _close(conn)

    # --- state shared by the sessions ----------------------------------------------------------

    def state(self) -> DeviceState:
        """A snapshot of every attribute of every context (what a sample source sees)."""
        with self._lock:
            if self._snapshot is None:
                values = {}
                for ctx in self.contexts:
                    for dev in ctx.devices:
                        for kind, table in (("attr", dev.attrs), ("debug", dev.debug), ("buffer", dev.buffer)):
                            for name, attr in table.items():
                                values[AttrKey(dev.key, None, False, kind, name)] = attr.get()
                        for chn in dev.channels:
                            for name, attr in chn.attrs.items():
                                values[AttrKey(dev.key, chn.id, chn.output, "attr", name)] = attr.get()
                self._snapshot = DeviceState(values)
            return self._snapshot

    def write_attr(self, attr: Attr, text: str) -> None:
        with self._lock:
            attr.set(text)
            self._snapshot = None
            ctx = self._dds_attrs.get(id(attr))
            if ctx is not None and not self._tx_open.get(ctx.radio):
                self._play_dds(ctx)

    def read_attr(self, attr: Attr) -> str:
        with self._lock:
            return attr.get()

    def rx_request(self, buf: _Buffer, n: int) -> RxRequest:
        """The next ``n`` samples of ``buf``'s radio clock, with the state at this moment."""
        with self._lock:
            start = self._clock.get(buf.radio, 0)
            self._clock[buf.radio] = start + n
            return RxRequest(buf.radio, buf.device.name, buf.channels, start, n, self.state())

    def receive(self, request: RxRequest) -> np.ndarray:
        self._pace_rx(request)
        out = np.ascontiguousarray(self.source.receive(request), dtype=np.complex64)
        if out.shape != (len(request.channels), request.n):
            raise AttrError(errno.EIO, f"source gave shape {out.shape}, not {(len(request.channels), request.n)}")
        return out

    def _pace_rx(self, request: RxRequest) -> None:
        """Hold an RX read back until every streaming TX has sent the samples it covers (at most
        :data:`STREAM_WAIT_S`), then mark them as heard.

        The emulator's clock advances with the RX reads, not with time: without this a reader
        would run ahead of a streaming transmitter into silence, where a board's RX and TX share
        one sample clock. A reader of another radio (the comm receiver) is paced the same way.
        """
        end = request.start + request.n

        def sent() -> bool:  # True once the transmitter is past this read (or there is none)
            ends = [self._tx_end.get(radio, 0) for radio, count in self._streaming.items() if count]
            return not ends or min(ends) >= end

        with self._lock:
            # after the wait, a transmitter that fell behind underflows here (silence), as on a board
            self._stream_moved.wait_for(sent, timeout=STREAM_WAIT_S)
            self._computed[request.radio] = max(self._computed.get(request.radio, 0), end)
            self._stream_moved.notify_all()

    def transmit(self, buf: _Buffer, tx: np.ndarray) -> None:
        with self._lock:
            now = self._clock.get(buf.radio, 0)
            if buf.cyclic:
                start = now
                self._cyclic_owner[buf.radio] = buf
            else:
                # A streaming buffer waits for room (TX_BUFFERS_AHEAD kernel buffers ahead of what the
                # radio's RX has heard), as a board's DMA blocks the writer, but only while someone reads.
                ahead = TX_BUFFERS_AHEAD * buf.samples
                if (
                    self._rx_open.get(buf.radio)
                    and self._tx_end.get(buf.radio, 0) - self._computed.get(buf.radio, 0) > ahead
                ):
                    self._stream_moved.wait_for(
                        lambda: (
                            self._tx_end.get(buf.radio, 0) - self._computed.get(buf.radio, 0) <= ahead
                            or not self._rx_open.get(buf.radio)
                        ),
                        timeout=STREAM_WAIT_S,
                    )
                # RX samples reserved for a read but not yet made can still carry the burst
                start = max(self._computed.get(buf.radio, 0), self._tx_end.get(buf.radio, 0))
                self._tx_end[buf.radio] = start + tx.shape[1]
                self._cyclic_owner.pop(buf.radio, None)
                self._stream_moved.notify_all()
            self.source.transmit(TxBurst(buf.radio, buf.device.name, buf.channels, start, tx, buf.cyclic, self.state()))

    def opened(self, buf: _Buffer) -> None:
        """A buffer was opened: a TX buffer takes the DAC from the DDS."""
        with self._lock:
            if buf.device.stream == "tx":
                self._tx_open[buf.radio] = self._tx_open.get(buf.radio, 0) + 1
                if not buf.cyclic:
                    self._streaming[buf.radio] = self._streaming.get(buf.radio, 0) + 1
            else:
                self._rx_open[buf.radio] = self._rx_open.get(buf.radio, 0) + 1

    def closed(self, buf: _Buffer) -> None:
        """A buffer was closed: a cyclic TX buffer stops, the last TX buffer hands the DAC back to the DDS."""
        with self._lock:
            self._stream_moved.notify_all()
            if buf.device.stream != "tx":
                self._rx_open[buf.radio] -= 1
                return
            if not buf.cyclic:
                self._streaming[buf.radio] -= 1
            self._tx_open[buf.radio] -= 1
            if not self._tx_open[buf.radio]:
                self._play_dds(self._radios[buf.radio])
            elif self._cyclic_owner.get(buf.radio) is buf:
                del self._cyclic_owner[buf.radio]
                silence = np.zeros((buf.device.stream_channels, 0), np.complex64)
                self.source.transmit(
                    TxBurst(
                        buf.radio,
                        buf.device.name,
                        buf.channels,
                        self._clock.get(buf.radio, 0),
                        silence,
                        True,
                        self.state(),
                    )
                )

    def _play_dds(self, ctx: ContextTree) -> None:
        """Hand the source the DDS output of ``ctx``'s radio as one cyclic period (silence if no tone is on)."""
        tx = next(dev for dev in ctx.devices if dev.stream == "tx")
        tones = [
            (
                chn.tone,
                float(chn.attrs["scale"].get()),
                parse_number(chn.attrs["frequency"].get()),
                parse_number(chn.attrs["sampling_frequency"].get()),
                int(chn.attrs["phase"].get()),
            )
            for dev in ctx.devices
            for chn in dev.channels
            if chn.tone is not None and chn.attrs["raw"].get() == "1"
        ]
        samples = words.dds(tones, tx.stream_channels, tx.bits)
        now = self._clock.get(ctx.radio, 0)
        self._cyclic_owner.pop(ctx.radio, None)
        self._tx_end[ctx.radio] = now
        self.source.transmit(
            TxBurst(ctx.radio, tx.name, tuple(range(tx.stream_channels)), now, samples, True, self.state())
        )


class _Session:
    """One client connection: reads commands, answers them."""

    def __init__(self, emulator: Emulator, conn: socket.socket, ctx: ContextTree, xml: bytes):
        self.emu = emulator
        self.conn = conn
        self.ctx = ctx
        self.xml = xml
        self.rfile = conn.makefile("rb", buffering=1 << 16)
        self.buffers: dict[str, _Buffer] = {}
        # the next capture of each RX buffer, made while the client digests the last one, as a DMA ring
        # of more than one kernel buffer holds it (so it shows the state of the time it was captured)
        self.next_rx: dict[str, tuple[int, Future]] = {}
        self.worker: ThreadPoolExecutor | None = None

    def run(self) -> None:
        while True:
            line = self.rfile.readline(MAX_LINE)
            if not line:
                raise _Closed
            if not line.endswith(b"\n"):
                # a line longer than any command: answer once and drop the client
                self.reply(-errno.EINVAL)
                raise _Closed
            tokens = line.decode("ascii", "replace").split()
            if not tokens:
                continue
            log.debug("%s <- %s", self.ctx.description, " ".join(tokens))
            verb = tokens[0].upper()
            if verb in ("EXIT", "QUIT"):
                raise _Closed
            handler = _HANDLERS.get(verb)
            if handler is None:
                self.reply(-errno.EINVAL)
                continue
            try:
                handler(self, tokens[1:])
            except AttrError as exc:
                self.reply(-exc.code)
            except (ValueError, IndexError):
                self.reply(-errno.EINVAL)

    def send(self, *chunks: bytes) -> None:
        for chunk in chunks:
            self.conn.sendall(chunk)

    def reply(self, value: int) -> None:
        self.send(b"%d\n" % value)

    def read_exact(self, n: int) -> bytes:
        data = self.rfile.read(n)
        if len(data) != n:
            raise _Closed
        return data

    def device(self, ref: str) -> Device:
        dev = self.ctx.find(ref)
        if dev is None:
            raise AttrError(errno.ENODEV, ref)
        return dev

    def close_all(self) -> None:
        for buf in self.buffers.values():
            self.emu.closed(buf)
        self.buffers.clear()
        self.next_rx.clear()
        if self.worker is not None:
            self.worker.shutdown(wait=True)

    # --- commands --------------------------------------------------------------------------

    def cmd_print(self, args: list[str]) -> None:
        self.send(b"%d\n" % len(self.xml), self.xml, b"\n")

    def cmd_version(self, args: list[str]) -> None:
        major, minor, git = VERSION
        self.send(f"{major}.{minor}.{git}\n".encode())

    def cmd_timeout(self, args: list[str]) -> None:
        if int(args[0]) < 0:
            raise ValueError("negative timeout")
        self.reply(0)

    def cmd_help(self, args: list[str]) -> None:
        self.send(b"Commands: PRINT VERSION TIMEOUT OPEN CLOSE READ WRITE READBUF WRITEBUF GETTRIG SETTRIG SET EXIT\n")

    def _table(self, dev: Device, args: list[str]) -> tuple[dict[str, Attr], list[str]]:
        """The attribute table a READ/WRITE addresses, and the remaining arguments."""
        where = args[0].upper() if args else ""
        if where == "DEBUG":
            return dev.debug, args[1:]
        if where == "BUFFER":
            return dev.buffer, args[1:]
        if where in ("INPUT", "OUTPUT"):
            chn = dev.channel(args[1], where == "OUTPUT")
            if chn is None:
                raise AttrError(errno.ENOENT, args[1])
            return chn.attrs, args[2:]
        return dev.attrs, args

    def cmd_read(self, args: list[str]) -> None:
        dev = self.device(args[0])
        table, rest = self._table(dev, args[1:])
        if rest:
            attr = table.get(rest[0])
            if attr is None:
                raise AttrError(errno.ENOENT, rest[0])
            data = self.emu.read_attr(attr).encode() + b"\0"
            self.send(b"%d\n" % len(data), data, b"\n")
            return
        # no name: every attribute of the table, each as a big-endian length and the value padded to 4 bytes
        block = bytearray()
        for attr in table.values():
            data = self.emu.read_attr(attr).encode() + b"\0"
            block += struct.pack(">i", len(data)) + data + b"\0" * (-len(data) % 4)
        self.send(b"%d\n" % len(block), bytes(block), b"\n")

    def cmd_write(self, args: list[str]) -> None:
        length = int(args[-1])
        if not 0 <= length <= MAX_WRITE:
            # the payload cannot be skipped safely: answer and drop the client
            self.reply(-errno.EFBIG)
            raise _Closed
        try:
            table, rest = self._table(self.device(args[0]), args[1:-1])
            if not rest:
                raise AttrError(errno.ENOSYS, "writing all attributes at once")
            attr = table.get(rest[0])
            if attr is None:
                raise AttrError(errno.ENOENT, rest[0])
        except (AttrError, ValueError, IndexError):
            self.read_exact(length)  # the value follows the command whatever the answer
            raise
        text = self.read_exact(length).rstrip(b"\0").decode("ascii", "replace")
        self.emu.write_attr(attr, text)
        self.reply(length)

    def cmd_open(self, args: list[str]) -> None:
        dev = self.device(args[0])
        samples, mask = int(args[1]), int(args[2], 16)
        cyclic = len(args) > 3 and args[3].upper() == "CYCLIC"
        if dev.stream is None:
            raise AttrError(errno.ENOENT, f"{dev.name} has no buffer")
        if dev.id in self.buffers:
            raise AttrError(errno.EBUSY, f"{dev.name} already open")
        ordered = dev.ordered_channels()
        if samples <= 0 or mask <= 0 or mask >> len(ordered):
            raise ValueError("bad sample count or mask")
        enabled = [chn for bit, chn in enumerate(ordered) if mask >> bit & 1]
        if any(chn.scan_index is None for chn in enabled):
            raise ValueError("mask enables a channel that is not a scan element")
        elements = [chn.scan_index for chn in enabled]
        buf = _Buffer(dev, self.ctx.radio, elements, words.complex_channels(elements), mask, samples, cyclic)
        self.buffers[dev.id] = buf
        self.emu.opened(buf)
        self.reply(0)

    def cmd_close(self, args: list[str]) -> None:
        buf = self.buffers.pop(self.device(args[0]).id, None)
        if buf is None:
            raise AttrError(errno.EBADF, args[0])
        self.next_rx.pop(buf.device.id, None)
        self.emu.closed(buf)
        self.reply(0)

    def _buffer(self, ref: str, stream: str) -> _Buffer:
        buf = self.buffers.get(self.device(ref).id)
        if buf is None:
            raise AttrError(errno.EBADF, f"{ref} not open")
        if buf.device.stream != stream:
            raise AttrError(errno.EINVAL, f"{ref} is not an {stream.upper()} device")
        return buf

    def cmd_readbuf(self, args: list[str]) -> None:
        buf = self._buffer(args[0], "rx")
        nbytes = int(args[1])
        if not 0 <= nbytes <= MAX_TRANSFER:
            raise ValueError("transfer size")
        n = nbytes // buf.sample_size
        if n == 0:
            self.reply(0)
            return
        pending = self.next_rx.pop(buf.device.id, None)
        if pending is not None and pending[0] == n:
            data = pending[1].result()
        else:
            data = self._capture(buf, self.emu.rx_request(buf, n))
        if buf.device.kernel_buffers > 1:
            if self.worker is None:
                self.worker = ThreadPoolExecutor(1, thread_name_prefix="iio-emulator-rx")
            # the clock and the state are taken now; only the samples are made in the background
            ahead = self.emu.rx_request(buf, n)
            self.next_rx[buf.device.id] = (n, self.worker.submit(self._capture, buf, ahead))
        words_hex = "".join(
            f"{(buf.mask >> (32 * i)) & 0xFFFFFFFF:08x}" for i in reversed(range(buf.device.mask_words))
        )
        self.send(b"%d\n%s\n" % (len(data), words_hex.encode()), data)
        if len(data) < nbytes:
            # iiod ends a short transfer with a zero-length chunk
            self.reply(0)

    def _capture(self, buf: _Buffer, request: RxRequest) -> memoryview:
        return words.pack_rx(self.emu.receive(request), buf.channels, buf.elements, buf.device.bits)

    def cmd_writebuf(self, args: list[str]) -> None:
        buf = self._buffer(args[0], "tx")
        nbytes = int(args[1])
        if not 0 < nbytes <= min(MAX_TRANSFER, buf.samples * buf.sample_size) or nbytes % buf.sample_size:
            raise ValueError("transfer size")
        self.reply(0)
        data = self.read_exact(nbytes)
        self.emu.transmit(buf, words.unpack_tx(data, buf.elements, buf.device.stream_channels, buf.device.bits))
        self.reply(nbytes)

    def cmd_gettrig(self, args: list[str]) -> None:
        self.device(args[0])
        self.reply(0)

    def cmd_settrig(self, args: list[str]) -> None:
        self.device(args[0])
        if len(args) > 1:
            self.device(args[1])
        self.reply(0)

    def cmd_set(self, args: list[str]) -> None:
        dev = self.device(args[0])
        if args[1].upper() != "BUFFERS_COUNT" or int(args[2]) < 1:
            raise ValueError("SET <dev> BUFFERS_COUNT <n>")
        with self.emu._lock:
            dev.kernel_buffers = int(args[2])
        self.reply(0)


_HANDLERS = {
    "PRINT": _Session.cmd_print,
    "VERSION": _Session.cmd_version,
    "TIMEOUT": _Session.cmd_timeout,
    "HELP": _Session.cmd_help,
    "READ": _Session.cmd_read,
    "WRITE": _Session.cmd_write,
    "OPEN": _Session.cmd_open,
    "CLOSE": _Session.cmd_close,
    "READBUF": _Session.cmd_readbuf,
    "WRITEBUF": _Session.cmd_writebuf,
    "GETTRIG": _Session.cmd_gettrig,
    "SETTRIG": _Session.cmd_settrig,
    "SET": _Session.cmd_set,
}


def _bind(port: int, count: int) -> list[socket.socket]:
    """Listening sockets on 127.0.0.1 at ``port`` .. ``port + count - 1`` (consecutive free ports if port is 0)."""
    attempts = 50 if port == 0 else 1
    for _ in range(attempts):
        sockets: list[socket.socket] = []
        try:
            first = _listen(port)
            sockets.append(first)
            base = first.getsockname()[1]
            for k in range(1, count):
                sockets.append(_listen(base + k))
            return sockets
        except OSError as exc:
            for s in sockets:
                _close(s)
            if port != 0:
                raise OSError(exc.errno, f"cannot listen on {HOST}:{port}..{port + count - 1}: {exc.strerror}") from exc
    raise OSError(errno.EADDRINUSE, f"no {count} consecutive free ports on {HOST}")


def _listen(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(16)
    except OSError:
        sock.close()
        raise
    return sock


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
