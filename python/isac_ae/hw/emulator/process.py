"""The emulator in a child process, for clients that hold Python's GIL while they wait for it.

gr-iio's blocks call libiio from C++ without releasing the GIL, so an
emulator thread in the same interpreter could never answer them; a child
process can. pylibiio and pyadi-iio release the GIL and may use
:class:`~.server.Emulator` in-process.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

_READY = re.compile(r"^emulating \S+ at (.+) \(Ctrl-C stops\)$")


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class EmulatorProcess:
    """``python -m isac_ae.hw.emulator`` as a child process on free ports; ``uris`` once started.

    Use as a context manager; leaving it interrupts the child (as Ctrl-C would)
    and waits for it.
    """

    def __init__(
        self,
        device: str = "pluto2",
        seed: int = 0,
        latency: int = 50,
        noise_std: float = 1e-3,
        comm_receiver: bool = False,
        source: str = "loopback",
        truth_json=None,
    ):
        self.args = (
            [
                "--device",
                device,
                "--port",
                "0",
                "--seed",
                str(seed),
                "--latency",
                str(latency),
                "--noise-std",
                repr(noise_std),
                "--source",
                source,
            ]
            + (["--comm-receiver"] if comm_receiver else [])
            + (["--truth-json", str(truth_json)] if truth_json else [])
        )
        self.uris: list[str] = []
        self._proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> EmulatorProcess:
        # the child imports this package from where the parent found it
        root = str(Path(__file__).resolve().parents[3])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "isac_ae.hw.emulator", *self.args],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            # stop() interrupts the child with SIGINT; a parent started in the background by a
            # non-interactive shell has SIGINT ignored, and the child would inherit that through exec
            preexec_fn=_sigint_default,
        )
        line = self._proc.stdout.readline().strip()
        match = _READY.match(line)
        if match is None:
            self.stop(timeout)
            raise RuntimeError(f"emulator did not start (said {line!r})")
        self.uris = match.group(1).split(" and ")
        return self

    @property
    def uri(self) -> str:
        return self.uris[0]

    @property
    def pid(self) -> int:
        """The child's process id (while it runs)."""
        if self._proc is None:
            raise RuntimeError("the emulator process is not running")
        return self._proc.pid

    def stop(self, timeout: float = 10.0) -> int:
        """Interrupt the child and return its exit code (0 after a clean stop)."""
        if self._proc is None:
            return 0
        if self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc.stdout.close()
        code, self._proc = self._proc.returncode, None
        return code

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
