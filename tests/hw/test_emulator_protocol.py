"""The wire protocol and the faults a server meets: raw sockets beside a real libiio client."""

import errno
import shutil
import socket
import subprocess
import threading

import numpy as np
import pytest

iio = pytest.importorskip("iio", reason="pylibiio is not installed (pip install pylibiio==0.25)")
adi = pytest.importorskip("adi", reason="pyadi-iio is not installed (pip install pylibiio==0.25 pyadi-iio)")

from isac_ae.hw.emulator import Emulator
from tests.helpers import Z


class Raw:
    """A bare text-protocol client."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.file = self.sock.makefile("rb")

    def command(self, line: str) -> int:
        self.sock.sendall(line.encode() + b"\r\n")
        return self.integer()

    def integer(self) -> int:
        return int(self.file.readline())

    def close(self):
        self.file.close()
        self.sock.close()


def _alive(emulator):
    """The server still answers a fresh libiio context."""
    ctx = iio.Context(emulator.uri)
    value = ctx.find_device("ad9361-phy").find_channel("voltage0", False).attrs["sampling_frequency"].value
    del ctx
    return value == "30720000"


def test_protocol_replies(emulate):
    emulator = emulate("pluto2")
    raw = Raw(emulator.port)
    length = raw.command("PRINT")
    xml = raw.file.read(length + 1)
    assert xml.startswith(b"<?xml") and xml.endswith(b"</context>\n")
    assert b'version-major="0"' in xml and b'format="le:S12/16>>0"' in xml
    raw.sock.sendall(b"VERSION\r\n")
    major, minor, tag = raw.file.readline().decode().strip().split(".")
    assert (major, minor, len(tag)) == ("0", "24", 7)
    for line in ("BINARY", "ZPRINT", "FROB iio:device0", "READ", "OPEN iio:device2 zz 0f", "READBUF iio:device2 8"):
        assert raw.command(line) < 0, line
    assert raw.command("READ nodevice sampling_frequency") == -errno.ENODEV
    assert raw.command("READ iio:device0 nope") == -errno.ENOENT
    assert raw.command("READBUF iio:device2 64") == -errno.EBADF
    assert raw.command("TIMEOUT 1000") == 0
    assert raw.command("READ iio:device0 INPUT voltage0 hardwaregain") == len(b"71.000000 dB\0")
    assert raw.file.read(len(b"71.000000 dB\0\n")) == b"71.000000 dB\0\n"
    # a write carries its length, NUL included, and is answered with it
    raw.sock.sendall(b"WRITE iio:device0 OUTPUT altvoltage0 frequency 11\r\n1000000000\0")
    assert raw.integer() == 11
    raw.sock.sendall(b"WRITE iio:device0 OUTPUT altvoltage0 frequency 2\r\nx\0")
    assert raw.integer() == -errno.EINVAL
    # a refused write still consumes its value: the next command is understood
    raw.sock.sendall(b"WRITE nodevice frequency 4\r\nabc\0WRITE iio:device0 OUTPUT nochannel x 2\r\n1\0")
    assert (raw.integer(), raw.integer()) == (-errno.ENODEV, -errno.ENOENT)
    assert raw.command("READ iio:device0 OUTPUT altvoltage0 frequency") == len(b"1000000000\0")
    assert raw.file.readline() == b"1000000000\0\n"
    # a buffer: the mask comes back with every READBUF, then the words
    assert raw.command("OPEN iio:device2 16 00000003") == 0
    for _ in range(2):
        assert raw.command("READBUF iio:device2 64") == 64
        assert raw.file.readline() == b"00000003\n"
        assert len(raw.file.read(64)) == 64
    assert raw.command("CLOSE iio:device2") == 0
    assert raw.command("OPEN iio:device0 16 00000001") < 0  # no buffer on the phy
    raw.close()


def test_survives_clients_that_drop_or_stall(emulate):
    emulator = emulate("pluto2")
    dropped = Raw(emulator.port)
    assert dropped.command("OPEN iio:device2 65536 0000000f") == 0
    dropped.sock.sendall(b"READBUF iio:device2 524288\r\n")
    dropped.file.readline()
    dropped.close()  # gone mid-buffer
    writer = Raw(emulator.port)
    assert writer.command("OPEN iio:device1 1024 0000000f CYCLIC") == 0
    assert writer.command("WRITEBUF iio:device1 8192") == 0
    writer.sock.sendall(b"\0" * 100)
    writer.close()  # gone mid-upload
    stalled = Raw(emulator.port)
    stalled.sock.sendall(b"WRITE iio:device0 DEBUG loopback 100\r\n1")  # promises 100 bytes, sends 1
    long_line = Raw(emulator.port)
    long_line.sock.sendall(b"READ " + b"x" * 10_000 + b"\r\n")
    assert long_line.integer() == -errno.EINVAL
    assert _alive(emulator)
    stalled.close()
    long_line.close()
    assert _alive(emulator)


def test_two_clients_stream_at_once(emulate):
    emulator = emulate("pluto2", noise_std=0.01)
    results, errors = {}, []

    def capture(name):
        try:
            sdr = adi.ad9361(uri=emulator.uri)
            sdr.rx_enabled_channels = [0, 1]
            sdr.rx_buffer_size = 8192
            results[name] = [np.asarray(sdr.rx()) for _ in range(5)]
            del sdr
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=capture, args=(k,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors and sorted(results) == [0, 1]
    for captures in results.values():
        assert all(c.shape == (2, 8192) for c in captures)
    # the two clients share one sample clock: no two captures hold the same noise
    assert not np.array_equal(results[0][0], results[1][0])


def test_listens_on_loopback_only():
    with Emulator("phaser") as emulator:
        assert [s.getsockname() for s in emulator._listeners] == [("127.0.0.1", p) for p in emulator.ports]
        assert emulator.ports[1] == emulator.ports[0] + 1
        assert emulator.uris == [f"ip:127.0.0.1:{p}" for p in emulator.ports]
    with pytest.raises(ValueError):
        Emulator("pluto3")
    with pytest.raises(ValueError):
        Emulator("pluto2", port=70000)
    with pytest.raises(TypeError):
        Emulator("pluto2", source=object())


@pytest.mark.skipif(shutil.which("iio_readdev") is None, reason="libiio-utils (iio_info, iio_readdev) not installed")
def test_libiios_own_tools(emulate):
    emulator = emulate("fmcomms5", noise_std=0.01)
    info = subprocess.run(["iio_info", "-u", emulator.uri], capture_output=True, text=True, timeout=60, check=False)
    assert info.returncode == 0 and "ad9361-phy-B" in info.stdout and "le:S12/16>>0" in info.stdout
    read = subprocess.run(
        ["iio_readdev", "-u", emulator.uri, "-b", "1024", "-s", "4096", "cf-ad9361-A", "voltage0", "voltage1"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert read.returncode == 0
    words = np.frombuffer(read.stdout, "<i2")
    assert words.size == 2 * 4096 and np.all(np.abs(words) <= 2048)
    # codes, with the rounding's 1/12; a sample standard deviation has a relative error of 1/sqrt(2 n)
    sigma = np.sqrt((0.01 * 2048) ** 2 + 1 / 12)
    assert abs(np.std(words) - sigma) < Z * sigma / np.sqrt(2 * words.size)
