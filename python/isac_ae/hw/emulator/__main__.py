"""``python -m isac_ae.hw.emulator --device NAME --port PORT [--seed S] [--truth-json FILE]``: serve an emulated
board until Ctrl-C, backed by the board's digital twin (:mod:`isac_ae.hw.twin`) or a plain TX-to-RX loopback.

:func:`add_arguments` and :func:`run` let another command line (``isac-ae hw
emulate``) offer the same options.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from .profiles import PROFILES
from .server import HOST, Emulator
from .source import LoopbackSource

EXIT_USAGE = 2
#: iiod's port: ``ip:127.0.0.1`` without a port reaches it.
DEFAULT_PORT = 30431


class UsageError(Exception):
    """Bad command-line input: one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be in [0, 65535] (0: free ports), got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The emulator's options, for this module's parser or another command line's."""
    parser.add_argument(
        "--device",
        required=True,
        choices=sorted(PROFILES),
        help="board to emulate (phaser serves the CN0566 on PORT and its Pluto on PORT+1)",
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"TCP port on {HOST}, 0 picks free ports (default %(default)s, iiod's)",
    )
    parser.add_argument(
        "--seed",
        type=_non_negative_int,
        default=0,
        help="seed of the twin's hidden impairments and of the noise (default %(default)s)",
    )
    parser.add_argument(
        "--source",
        choices=("twin", "loopback"),
        default="twin",
        help="twin: the board's digital twin (impairments, scene, comm receiver); loopback: TX "
        "looped to RX with --latency and --noise-std (default %(default)s)",
    )
    parser.add_argument(
        "--truth-json",
        default=None,
        help="write the twin's hidden impairments to this JSON file (to check a calibration)",
    )
    parser.add_argument(
        "--latency",
        type=_non_negative_int,
        default=50,
        help="loopback source: TX-to-RX latency in samples (default %(default)s)",
    )
    parser.add_argument(
        "--noise-std",
        type=_non_negative_float,
        default=1e-3,
        help="loopback source: RX noise standard deviation of I and of Q, full scale 1 (default %(default)s)",
    )
    parser.add_argument(
        "--comm-receiver",
        action="store_true",
        help="also serve the comm receiver, a 1R1T Pluto (radio 'comm'), on the next port "
        "(always on with the twin of a digital board)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every command the clients send")


def run(args: argparse.Namespace, stop: threading.Event | None = None) -> int:
    """Serve until ``stop`` is set, Ctrl-C or SIGTERM; 0 on a clean stop."""
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr
    )
    stop = stop or threading.Event()
    comm_receiver = args.comm_receiver
    if args.source == "twin":
        from ..twin import DigitalTwin

        twin = DigitalTwin(args.device, seed=args.seed)
        source = twin.source()
        comm_receiver = comm_receiver or twin.profile.full_isac_loop
        if args.truth_json:
            try:
                twin.truth.write_json(args.truth_json)
            except OSError as exc:
                raise UsageError(f"cannot write --truth-json {args.truth_json}: {exc}") from exc
    else:
        if args.truth_json:
            raise UsageError("--truth-json needs --source twin (a loopback has no hidden impairments)")
        source = LoopbackSource(latency=args.latency, noise_std=args.noise_std, seed=args.seed)
    emulator = Emulator(args.device, args.port, source=source, comm_receiver=comm_receiver)
    try:
        emulator.start()
    except OSError as exc:
        raise UsageError(str(exc)) from exc
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print(f"emulating {args.device} at {' and '.join(emulator.uris)} (Ctrl-C stops)", flush=True)
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        emulator.stop()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print("emulator stopped", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog="python -m isac_ae.hw.emulator",
        description="IIO emulator: libiio's network protocol on 127.0.0.1 for pyadi-iio and gr-iio",
    )
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except (UsageError, argparse.ArgumentTypeError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
