"""Stream rate of the IIO emulator: 2-channel 12-bit IQ over loopback, pyadi-iio's rx() against a raw READBUF reader.

The emulator runs in a child process (its own interpreter, as a board is its
own machine) serving the 2R2T Pluto; both readers capture the same buffer size
from it, in interleaved rounds, and the medians are reported in MB/s of
buffer words (4 bytes per complex sample and channel) and in MS/s per channel.
The target is 40 MB/s, more than a Pluto moves over USB 2. On a shared
machine the wall-clock rate follows the load, so the CPU time of the emulator
and of the reading client are reported too: MB per CPU-second of each side,
which bound the rate an idle machine reaches (the emulator makes the next
capture while the client digests the last, so the two overlap).

Usage: python benchmarks/bench_emulator.py [--buffer N] [--seconds S] [--rounds R] [--noise-std X] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import time

import adi

from isac_ae.hw.emulator.process import EmulatorProcess

Rate = tuple[float, float, float]

TARGET_MB_S = 40.0
#: enabled scan elements: I and Q of RX1 and RX2, 2 bytes each
BYTES_PER_SAMPLE = 8


def cpu_seconds(pid: int | None = None) -> float:
    """CPU time (user + system) of this process, or of process ``pid``."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(read, server_pid: int, seconds: float) -> Rate:
    """(bytes per wall second, bytes per client CPU-second, bytes per emulator CPU-second) of ``read()``."""
    nbytes, wall, client, server = 0, time.perf_counter(), cpu_seconds(), cpu_seconds(server_pid)
    while time.perf_counter() - wall < seconds:
        nbytes += read()
    wall, client, server = (time.perf_counter() - wall, cpu_seconds() - client, cpu_seconds(server_pid) - server)
    return nbytes / wall, nbytes / client, nbytes / server


def pyadi_rate(uri: str, server_pid: int, buffer: int, seconds: float) -> Rate:
    """Rates of pyadi-iio's rx() (buffer words, as received)."""
    sdr = adi.ad9361(uri=uri)
    sdr.rx_enabled_channels = [0, 1]
    sdr.rx_buffer_size = buffer
    sdr.rx()  # opens the buffer

    def read() -> int:
        sdr.rx()
        return buffer * BYTES_PER_SAMPLE

    rates = measure(read, server_pid, seconds)
    sdr.rx_destroy_buffer()
    return rates


def raw_rate(port: int, server_pid: int, buffer: int, seconds: float) -> Rate:
    """Rates of a bare READBUF loop receiving into one reused buffer."""
    nbytes = buffer * BYTES_PER_SAMPLE
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = sock.makefile("rb", buffering=0)
    data = memoryview(bytearray(nbytes))

    def line() -> bytes:
        out = bytearray()
        while not out.endswith(b"\n"):
            out += reader.read(1)
        return bytes(out)

    sock.sendall(b"OPEN iio:device2 %d 0000000f\r\n" % buffer)
    assert int(line()) == 0

    def read() -> int:
        sock.sendall(b"READBUF iio:device2 %d\r\n" % nbytes)
        assert int(line()) == nbytes
        line()  # the mask
        got = 0
        while got < nbytes:
            got += sock.recv_into(data[got:], nbytes - got)
        return nbytes

    rates = measure(read, server_pid, seconds)
    sock.sendall(b"CLOSE iio:device2\r\nEXIT\r\n")
    sock.close()
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buffer", type=int, default=1 << 16, help="samples per buffer (default %(default)s)")
    parser.add_argument(
        "--seconds", type=float, default=1.0, help="length of one round per reader (default %(default)s)"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--noise-std", type=float, default=1e-3, help="RX noise of the loopback source")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    rates: dict[str, list[Rate]] = {"pyadi-iio rx()": [], "raw READBUF": []}
    with EmulatorProcess("pluto2", noise_std=args.noise_std) as emulator:
        port = int(emulator.uri.rsplit(":", 1)[1])
        for _ in range(args.rounds):
            rates["pyadi-iio rx()"].append(pyadi_rate(emulator.uri, emulator.pid, args.buffer, args.seconds))
            rates["raw READBUF"].append(raw_rate(port, emulator.pid, args.buffer, args.seconds))
    # medians of wall rate, client MB per CPU-s, emulator MB per CPU-s
    result = {name: [statistics.median(r[k] for r in values) / 1e6 for k in range(3)] for name, values in rates.items()}
    if args.json:
        print(
            json.dumps(
                {
                    "buffer": args.buffer,
                    "noise_std": args.noise_std,
                    "target_MB_per_s": TARGET_MB_S,
                    "MB_per_s": {name: r[0] for name, r in result.items()},
                    "client_MB_per_cpu_s": {name: r[1] for name, r in result.items()},
                    "emulator_MB_per_cpu_s": {name: r[2] for name, r in result.items()},
                }
            )
        )
        return
    print(
        f"2-channel 12-bit IQ, {args.buffer} samples per buffer, median of {args.rounds} x {args.seconds} s,"
        f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )
    for name, (wall, client, server) in result.items():
        verdict = "meets" if wall >= TARGET_MB_S else "below"
        print(
            f"  {name:16s} {wall:7.1f} MB/s ({verdict} {TARGET_MB_S:.0f})  {wall / BYTES_PER_SAMPLE:6.2f} MS/s per"
            f" channel;  per CPU-second: client {client:6.1f} MB, emulator {server:6.1f} MB"
        )


if __name__ == "__main__":
    main()
