"""Stream rate of the IIO emulator: 2-channel 12-bit IQ over loopback, pyadi-iio's rx() against a raw READBUF reader.

The emulator runs in a child process (its own interpreter, as a board is its
own machine) serving the 2R2T Pluto; both readers capture the same buffer size
from it, in interleaved rounds, and the medians are reported in MB/s of
buffer words (4 bytes per complex sample and channel) and in MS/s per channel.
The target is 40 MB/s, more than a Pluto moves over USB 2.

Usage: python benchmarks/bench_emulator.py [--buffer N] [--seconds S] [--rounds R] [--noise-std X] [--json]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import time

import adi
from isac_ae.hw.emulator.process import EmulatorProcess

TARGET_MB_S = 40.0
#: enabled scan elements: I and Q of RX1 and RX2, 2 bytes each
BYTES_PER_SAMPLE = 8


def pyadi_rate(uri: str, buffer: int, seconds: float) -> float:
    """Bytes per second pyadi-iio's rx() delivers (buffer words, as received)."""
    sdr = adi.ad9361(uri=uri)
    sdr.rx_enabled_channels = [0, 1]
    sdr.rx_buffer_size = buffer
    sdr.rx()  # opens the buffer
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sdr.rx()
        count += 1
    elapsed = time.perf_counter() - start
    sdr.rx_destroy_buffer()
    del sdr
    return count * buffer * BYTES_PER_SAMPLE / elapsed


def raw_rate(port: int, buffer: int, seconds: float) -> float:
    """Bytes per second a bare READBUF loop receives into one reused buffer."""
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
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sock.sendall(b"READBUF iio:device2 %d\r\n" % nbytes)
        assert int(line()) == nbytes
        line()  # the mask
        got = 0
        while got < nbytes:
            got += sock.recv_into(data[got:], nbytes - got)
        count += 1
    elapsed = time.perf_counter() - start
    sock.sendall(b"CLOSE iio:device2\r\nEXIT\r\n")
    sock.close()
    return count * nbytes / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buffer", type=int, default=1 << 16, help="samples per buffer (default %(default)s)")
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="length of one round per reader (default %(default)s)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--noise-std", type=float, default=1e-3, help="RX noise of the loopback source")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    rates: dict[str, list[float]] = {"pyadi-iio rx()": [], "raw READBUF": []}
    with EmulatorProcess("pluto2", noise_std=args.noise_std) as emulator:
        port = int(emulator.uri.rsplit(":", 1)[1])
        for _ in range(args.rounds):
            rates["pyadi-iio rx()"].append(pyadi_rate(emulator.uri, args.buffer, args.seconds))
            rates["raw READBUF"].append(raw_rate(port, args.buffer, args.seconds))
    result = {name: statistics.median(values) / 1e6 for name, values in rates.items()}
    if args.json:
        print(json.dumps({"buffer": args.buffer, "noise_std": args.noise_std, "MB_per_s": result,
                          "target_MB_per_s": TARGET_MB_S}))
        return
    print(f"2-channel 12-bit IQ, {args.buffer} samples per buffer, median of {args.rounds} x {args.seconds} s")
    for name, mb in result.items():
        verdict = "meets" if mb >= TARGET_MB_S else "below"
        print(f"  {name:16s} {mb:7.1f} MB/s  {mb / BYTES_PER_SAMPLE:6.2f} MS/s per channel"
              f"  ({verdict} {TARGET_MB_S:.0f} MB/s)")


if __name__ == "__main__":
    main()
