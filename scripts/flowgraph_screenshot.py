#!/usr/bin/env python3
"""Screenshot of a running Qt flowgraph under a virtual X server (default: the AE simulation).

    scripts/flowgraph_screenshot.py [FLOWGRAPH.grc] [--out PNG] [--wait S] [-- FLOWGRAPH OPTIONS...]

Compiles the flowgraph with the venv's grcc (`make setup` first), runs it with the
venv's Python on a fresh Xvfb display, gives its window the .grc's window_size
(GNU Radio 3.10's Qt template ignores it, and Xvfb has no window manager to size
windows), and after --wait seconds saves that window with ImageMagick's `import`.
Needs Xvfb and xwininfo (Debian: xvfb, x11-utils) and import (imagemagick, not in
the set-up: a tool for the documentation only). Standard library only.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SIZE = (1400, 1000)  # when the .grc has no window_size


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        """Bad input: one line, exit code 2."""
        print(f"flowgraph_screenshot: {message}", file=sys.stderr)
        sys.exit(2)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = _Parser(description=__doc__.splitlines()[0])
    parser.add_argument("grc", nargs="?", type=Path, default=REPO / "examples" / "simulation" / "isac_ae_sim.grc")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "flowgraph_running.png", help="PNG to write")
    parser.add_argument(
        "--wait",
        type=float,
        default=20.0,
        help="seconds the flowgraph runs before the shot (start-up includes its threshold calibration)",
    )
    parser.add_argument("--venv", type=Path, default=REPO / ".venv")
    # Split by hand: argparse would give the first option after -- to the optional positional.
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.flowgraph_args = argv[split + 1 :]
    if not args.grc.is_file():
        parser.error(f"no flowgraph {args.grc}")
    if not (args.venv / "bin" / "grcc").is_file():
        parser.error(f"no {args.venv}/bin/grcc (run make setup)")
    missing = [tool for tool in ("Xvfb", "xwininfo", "import") if shutil.which(tool) is None]
    if missing:
        parser.error(f"not installed: {', '.join(missing)} (Debian: xvfb, x11-utils, imagemagick)")
    if args.wait <= 0:
        parser.error("--wait must be positive")
    return args


def grc_window(grc: Path) -> tuple[str, tuple[int, int]]:
    """The flowgraph's window title and window_size (width, height in pixels) from its .grc options."""
    text = grc.read_text()
    title = re.search(r"^    title: (.+)$", text, re.M)
    size = re.search(r"^    window_size: \((\d+), *(\d+)\)", text, re.M)
    return (
        title.group(1).strip("'\"") if title else grc.stem,
        (int(size.group(1)), int(size.group(2))) if size else DEFAULT_SIZE,
    )


def start_xvfb(screen: str) -> tuple[subprocess.Popen, str]:
    """Xvfb on a free display number (it picks one and reports it through -displayfd)."""
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", screen, "-nolisten", "tcp"],
        pass_fds=(write_fd,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        raise SystemExit("flowgraph_screenshot: Xvfb did not start")
    return xvfb, f":{number}"


def find_window(title: str, env: dict) -> int | None:
    proc = subprocess.run(["xwininfo", "-name", title], env=env, capture_output=True, text=True)
    match = re.search(r"Window id: (0x[0-9a-f]+)", proc.stdout)
    return int(match.group(1), 16) if match else None


def resize_window(display: str, window: int, size: tuple[int, int]) -> None:
    """What a window manager would do: XResizeWindow (libX11 through ctypes, no extra package)."""
    x11 = ctypes.CDLL("libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XResizeWindow.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_uint, ctypes.c_uint]
    x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    dpy = x11.XOpenDisplay(display.encode())
    if not dpy:
        raise SystemExit(f"flowgraph_screenshot: cannot open display {display}")
    x11.XResizeWindow(dpy, window, *size)
    x11.XCloseDisplay(dpy)  # flushes the request


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM (the generated flowgraph stops its top block on it), SIGKILL after 15 s."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    title, size = grc_window(args.grc)
    with tempfile.TemporaryDirectory() as tmp:
        grcc = subprocess.run(
            [str(args.venv / "bin" / "grcc"), "-o", tmp, str(args.grc)], capture_output=True, text=True
        )
        flowgraph = Path(tmp) / f"{args.grc.stem}.py"
        if grcc.returncode != 0 or not flowgraph.is_file():
            sys.stderr.write(grcc.stdout + grcc.stderr)
            return 1
        xvfb, display = start_xvfb(f"{size[0] + 200}x{size[1] + 200}x24")
        # A fresh HOME: no Qt window geometry or GNU Radio preferences of an earlier run.
        env = dict(
            os.environ,
            DISPLAY=display,
            QT_QPA_PLATFORM="xcb",
            HOME=tmp,
            XDG_RUNTIME_DIR=tmp,
            XDG_CONFIG_HOME=f"{tmp}/config",
            XDG_CACHE_HOME=f"{tmp}/cache",
        )
        log_path = Path(tmp) / "flowgraph.log"
        try:
            with open(log_path, "w") as log:
                proc = subprocess.Popen(
                    [str(args.venv / "bin" / "python"), str(flowgraph), *args.flowgraph_args],
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            try:
                start, window = time.monotonic(), None
                while time.monotonic() - start < args.wait and proc.poll() is None:
                    if window is None and (window := find_window(title, env)) is not None:
                        resize_window(display, window, size)
                    time.sleep(0.5)
                if proc.poll() is not None or window is None:
                    sys.stderr.write(log_path.read_text())
                    what = "the flowgraph ended" if proc.poll() is not None else "no window " + repr(title)
                    print(f"flowgraph_screenshot: {what} within {args.wait:g} s", file=sys.stderr)
                    return 1
                args.out.parent.mkdir(parents=True, exist_ok=True)
                subprocess.run(
                    ["import", "-display", display, "-window", hex(window), str(args.out)], env=env, check=True
                )
            finally:
                stop(proc)
        finally:
            xvfb.terminate()
            xvfb.wait()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
