"""Labelled ISAC captures on a digital board, recorded as SigMF: atomic, resumable, retried.

A capture session takes a :class:`CapturePlan` (device profile, scenario,
scenes, beam, constellation, seed, frame layout) and, for scene i, makes the
scene real through the bench's scene controller, transmits one frame
(:func:`~isac_ae.hw.frames.build_frame` of the beam and the symbols of the
messages drawn for i), captures the board's K RX channels and the comm
receiver, and writes the recording ``capture_<i:06d>``:

* ``.sigmf-data``: ``cf32_le``, ``K + 1`` interleaved channels of 2 frame
  lengths each: channels 0..K-1 are the board's RX channels, channel K the
  comm receiver (full scale 1). The comm receiver has its own clock (and
  may have its own rate, ``isac_ae:comm_sample_rate_hz``): sample n of
  channel K is not simultaneous with sample n of the board's channels; each
  receiver finds the frame by its own preamble search.
* ``.sigmf-meta``: global fields (the device profile, K, sample rate, LO,
  calibration, frame layout, scenario, scene, beam, constellation, seed,
  package version, ``isac_ae:comm_lost``: why the comm frame was lost or
  null; the ``isac_ae`` extension is declared), one capture segment (LO, UTC
  datetime), and one annotation per receiver that found the frame (the
  board's always) over the frame's data section with the labels: target
  present, its angle, the comm receiver's angle (degrees) and the message
  index of every snapshot (``isac_ae:messages``).

Atomic: both files are written under hidden temporary names, fsynced, and
renamed data first, meta last; the meta is the commit record, so a
``.sigmf-meta`` never exists without its data. A ``.sigmf-data`` without its
meta (a kill between the two renames) and stale temporaries are not
recordings: nothing reads them and the next session on the directory deletes
them. Resumable: scene i and its messages depend only on (seed, i), so
rerunning a session skips the complete recordings and takes the others; a
directory of another device, K, scenario, seed, layout, beam, constellation,
calibration or tuning is refused. A bench error (a device that disconnects,
a board frame that is not found) is retried with a fresh connection a
bounded number of times, in the same scene; then :class:`CaptureError` says
which capture failed, and no file of it is left.

A comm frame lost in a deep fade (the comm receiver finds no preamble, or
its pilot halves disagree) is not a bench error: it is what the channel did
in that scene, so the recording is written with its radar part whole and
``isac_ae:comm_lost`` (the reason) in its meta, and no comm annotation.
Retrying it would not help (a scene's fade is the same on a retry, on a
bench as on a twin) and re-drawing the fade until a frame gets through
would record a channel without its deep fades, the ones a receiver's
errors come from (``isac-ae hw evaluate`` counts them as lost too).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import hashlib
import json
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, NamedTuple, Optional, Sequence

import numpy as np
from sigmf import SigMFFile, error, keys, sigmffile

from .. import __version__
from ..scenario import Scenario
from .device import CommReceiver, DeviceError, Transceiver, next_port_uri
from .emulator.source import parse_scene
from .frames import (
    CommBlock,
    FrameError,
    FrameLayout,
    RadarBlock,
    build_frame,
    comm_block,
    comm_frame,
    find_frame,
    radar_block,
)
from .profiles import profile as get_profile
from .scene import EmulatorSceneController, Scene, SceneController, Target

FORMAT = "isac_ae.capture/1"
NS = "isac_ae:"
STEM = "capture_{:06d}"
_META_NAME = re.compile(r"^capture_(\d{6})\.sigmf-meta$")
_DATA_NAME = re.compile(r"^capture_(\d{6})\.sigmf-data$")
_TEMP_NAME = re.compile(r"^\.capture_\d{6}\.sigmf-(data|meta)\.tmp$")
_LOCK_NAME = ".capture.lock"
#: Global fields that identify a session: a directory holds captures of one value of each.
_PLAN_FIELDS = ("device", "num_antennas", "scenario", "seed", "frame_layout", "beam", "constellation", "calibration")
_BENCH_FIELDS = ("sample_rate_hz", "lo_hz", "comm_sample_rate_hz")
#: The AD9361's highest sample rate: a Pluto comm receiver cannot follow a faster board.
_AD9361_MAX_RATE_HZ = 61.44e6
_SCENE_STREAM, _MESSAGE_STREAM = 1, 2
#: What a bench raises when a device disconnects or a capture misses the frame: retried with a new connection.
_RETRIED = (DeviceError, ConnectionError, OSError, FrameError)


class CaptureError(RuntimeError):
    """A capture session or a recording that cannot go on or be read (one line that says why)."""


# --- the plan: what is captured ---------------------------------------------------------------------


@dataclass(frozen=True)
class CapturePlan:
    """Everything that decides the recordings of a session (and so must match to resume one).

    device: a digital profile name (K = its elements = scenario.num_antennas);
    scenes: one per capture, at most one target, the comm receiver's angle set;
    beam: (K,) complex TX weights; constellation: (M,) complex, M = scenario.num_messages;
    seed: draws the messages of every capture (and the scenes, see :func:`draw_scenes`);
    calibration: JSON-able description of the calibration in use (None: uncalibrated).
    """

    device: str
    scenario: Scenario
    scenes: tuple[Scene, ...]
    beam: np.ndarray
    constellation: np.ndarray
    seed: int
    layout: FrameLayout = FrameLayout(data=4096)
    calibration: Optional[dict] = None

    def __post_init__(self):
        prof = get_profile(self.device)
        prof.check_scenario(self.scenario, "isac")
        k, m = prof.num_elements, self.scenario.num_messages
        beam = np.asarray(self.beam, dtype=np.complex128)
        constellation = np.asarray(self.constellation, dtype=np.complex128)
        if beam.shape != (k,) or not np.all(np.isfinite(beam)):
            raise ValueError(f"the beam must be {k} finite complex weights, got shape {beam.shape}")
        if constellation.shape != (m,) or not np.all(np.isfinite(constellation)):
            raise ValueError(f"the constellation must be {m} finite complex points, got shape {constellation.shape}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
        scenes = tuple(self.scenes)
        if not scenes:
            raise ValueError("a capture session needs at least one scene")
        for i, scene in enumerate(scenes):
            if len(scene.targets) > 1 or scene.comm_angle_deg is None:
                raise ValueError(
                    f"scene {i} ({scene.describe()}): a labelled ISAC capture has at most one target "
                    "and the comm receiver's angle"
                )
            parse_scene(scene.to_json())  # angles within [-90, 90] degrees, amplitudes >= 0
        try:
            json.dumps(self.calibration, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"the calibration description must be JSON-able: {exc}") from None
        for name, value in (
            ("beam", beam),
            ("constellation", constellation),
            ("scenes", scenes),
            ("seed", int(self.seed)),
        ):
            object.__setattr__(self, name, value)

    @property
    def num_antennas(self) -> int:
        return self.beam.shape[0]

    def messages(self, index: int) -> np.ndarray:
        """The message indices of capture ``index``, (N,) int64, uniform over the constellation."""
        rng = np.random.default_rng([self.seed, _MESSAGE_STREAM, index])
        return rng.integers(0, self.scenario.num_messages, self.layout.data)

    def frame(self, index: int) -> np.ndarray:
        """The TX frame of capture ``index``, (K, L) complex64."""
        return build_frame(self.layout, self.beam, self.constellation[self.messages(index)])

    def identity(self) -> dict:
        """The plan's session fields (:data:`_PLAN_FIELDS`), as JSON values."""
        return _jsonable(
            {
                "device": self.device,
                "num_antennas": self.num_antennas,
                "scenario": self.scenario.to_dict(),
                "seed": self.seed,
                "frame_layout": dataclasses.asdict(self.layout),
                "beam": _pairs(self.beam),
                "constellation": _pairs(self.constellation),
                "calibration": self.calibration,
            }
        )


def draw_scenes(
    scenario: Scenario, count: int, seed: int, target_amplitude: float = 0.0, comm_amplitude: float = 0.0
) -> tuple[Scene, ...]:
    """``count`` scenes of the scenario: a target with probability p_target at an angle uniform over the
    target sector, the comm receiver uniform over the comm sector (degrees). Scene i depends only on
    (seed, i). The amplitudes (full scale) are what a twin gives them (:func:`twin_amplitudes`)."""
    for name, value, least in (("the number of captures", count, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    scenes = []
    for i in range(int(count)):
        rng = np.random.default_rng([seed, _SCENE_STREAM, i])
        present = rng.random() < scenario.p_target
        theta, vartheta = rng.uniform(*scenario.target_sector_deg), rng.uniform(*scenario.comm_sector_deg)
        targets = (Target(float(theta), float(target_amplitude)),) if present else ()
        scenes.append(Scene(targets=targets, comm_angle_deg=float(vartheta), comm_amplitude=float(comm_amplitude)))
    return tuple(scenes)


def twin_amplitudes(scenario: Scenario, layout: FrameLayout, noise_power: float) -> tuple[float, float]:
    """(target, comm) RMS amplitudes that give a twin the scenario's SNR_r and SNR_c.

    A frame sends y scaled by tx_scale, and a twin's echo and comm channel
    gains multiply what is sent, so sigma^2 = SNR N0 of eq. (1)-(2) (N0 = 1,
    E||y||^2 = 1) becomes amplitude^2 tx_scale^2 = SNR noise_power, with
    ``noise_power`` the twin's per-sample noise power (full scale,
    ``TwinTruth.noise_power``).
    """
    return (
        layout.amplitude_for(scenario.radar_gain_var, noise_power),
        layout.amplitude_for(scenario.comm_gain_var, noise_power),
    )


# --- the bench: who captures ------------------------------------------------------------------------


class Bench:
    """One connection to the bench: the K-element board, the comm receiver, the scene controller."""

    def __init__(self, board: Transceiver, comm: CommReceiver, scenes: SceneController):
        self.board, self.comm, self.scenes = board, comm, scenes

    def settings(self) -> dict:
        """What the recordings say of the bench: the rates and the carrier the devices report (Hz, the
        :data:`_BENCH_FIELDS`), the URIs and the scene controller (a twin's or an operator's)."""
        dev = self.board.dev
        if hasattr(type(dev), "rx_lo"):  # AD9361 boards
            rate, lo = float(dev.sample_rate), float(dev.rx_lo)
        else:  # the MxFE samples RF directly: the carrier is its main NCO's frequency
            rate = float(next(iter(dev.rx_sample_rate.values())))
            lo = float(next(iter(dev.rx_main_nco_frequencies.values()))[0])
        return {
            "sample_rate_hz": rate,
            "lo_hz": lo,
            "comm_sample_rate_hz": float(self.comm.dev.sample_rate),
            "uris": [self.board.uri, self.comm.uri],
            "scene_controller": type(self.scenes).__name__,
        }

    def close(self) -> None:
        """Release the buffers; a device that is gone already is not an error here."""
        with contextlib.suppress(*_RETRIED):
            self.board.close()


def open_bench(
    device: str,
    uri: str,
    comm_uri: Optional[str] = None,
    *,
    lo_hz: Optional[float] = None,
    sample_rate_hz: Optional[float] = None,
    comm_sample_rate_hz: Optional[float] = None,
    scene_controller: Callable[[list[str]], SceneController] = EmulatorSceneController,
) -> Bench:
    """Connect to a bench through :mod:`isac_ae.hw.device`: the board at ``uri``, the comm receiver at
    ``comm_uri`` (default: the next port, as the emulator serves it), and ``scene_controller(uris)``
    (a twin's by default; ``lambda uris: OperatorSceneController()`` on a real bench).

    The comm receiver runs at the board's rate, or at the Pluto's default
    where the board is faster than a Pluto (a twin maps samples one to one).
    """
    prof = get_profile(device)
    comm_uri = comm_uri or next_port_uri(uri)
    board = Transceiver(prof, uri, lo_hz=lo_hz, sample_rate_hz=sample_rate_hz)
    rate = sample_rate_hz or prof.default_sample_rate_hz
    if comm_sample_rate_hz is None:
        comm_sample_rate_hz = rate if rate <= _AD9361_MAX_RATE_HZ else get_profile("pluto2").default_sample_rate_hz
    comm = CommReceiver(comm_uri, lo_hz or prof.default_lo_hz, comm_sample_rate_hz)
    return Bench(board, comm, scene_controller([uri, comm_uri]))


# --- the session ---------------------------------------------------------------------------------------


def capture_session(
    out_dir: str | Path,
    plan: CapturePlan,
    connect: Callable[[], Bench],
    *,
    retries: int = 3,
    retry_delay_s: float = 2.0,
    log: Callable[[str], None] = lambda line: None,
) -> list[Path]:
    """Record every scene of ``plan`` into ``out_dir`` (created); return the paths of all its ``.sigmf-meta``.

    ``connect()`` opens the bench (e.g. ``lambda: open_bench(...)``); it is
    called again after a bench error, up to ``retries`` times per capture,
    ``retry_delay_s`` apart. Complete recordings already in ``out_dir`` are
    kept and skipped; ``log`` receives one line per capture and per retry.
    Raises :class:`CaptureError` for a directory of another session, another
    process writing to it, or a capture that still fails after the retries.
    """
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise ValueError(f"retries must be a non-negative integer, got {retries!r}")
    if not (math.isfinite(retry_delay_s) and retry_delay_s >= 0):
        raise ValueError(f"retry_delay_s must be >= 0 seconds, got {retry_delay_s!r}")
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CaptureError(f"cannot create the capture directory {out}: {exc.strerror or exc}") from None
    with _locked(out):
        _remove_incomplete(out)
        existing = _existing(out, plan)
        todo = [i for i in range(len(plan.scenes)) if i not in existing]
        if len(todo) < len(plan.scenes):
            log(f"{out}: {len(plan.scenes) - len(todo)} of {len(plan.scenes)} captures already complete")
        # The bench's rates and carrier must stay those of the directory's captures, across reconnections too.
        reference = next(iter(existing.values()), None)
        bench: Optional[Bench] = None
        try:
            for i in todo:
                log(f"capture {i + 1}/{len(plan.scenes)}: {plan.scenes[i].describe()}")
                bench, taken = _acquire_retried(bench, connect, plan, i, retries, retry_delay_s, log)
                reference = reference or {NS + name: value for name, value in _jsonable(taken.settings).items()}
                _compare(reference, _jsonable(taken.settings), _BENCH_FIELDS, "bench")
                if taken.comm_lost is not None:
                    log(f"capture {i + 1}: comm frame lost ({taken.comm_lost}); recorded with its radar part")
                _write_recording(out, STEM.format(i), *_recording(plan, i, taken))
        finally:
            if bench is not None:
                bench.close()
    return captures_in(out)


def _acquire_retried(bench, connect, plan, index, retries, delay, log):
    """(bench, :class:`_Taken`) of capture ``index``, reconnecting after a bench error."""
    for attempt in range(retries + 1):
        try:
            if bench is None:
                bench = connect()
                if bench.board.profile.name != plan.device:
                    bench.close()
                    raise CaptureError(f"the plan is for a {plan.device} but the bench is a {bench.board.profile.name}")
            return bench, _acquire(bench, plan, index)
        except _RETRIED as exc:
            if bench is not None:
                bench.close()
            bench, error = None, f"{type(exc).__name__}: {exc}"
            if attempt < retries:
                log(f"capture {index + 1}: {error}; reconnecting in {delay:g} s (retry {attempt + 1}/{retries})")
                time.sleep(delay)
    raise CaptureError(
        f"{STEM.format(index)}: the bench failed {retries + 1} times (last: {error}); the captures "
        "before it are complete: run the same session again to resume"
    )


class _Taken(NamedTuple):
    """One capture as acquired: samples (2L, K + 1) complex64, where the frame starts in the board's and the
    comm receiver's channels (None: the comm frame was lost), why it was lost (None: decoded), the bench's
    settings (:meth:`Bench.settings`)."""

    samples: np.ndarray
    board_start: int
    comm_start: Optional[int]
    comm_lost: Optional[str]
    settings: dict


def _acquire(bench: Bench, plan: CapturePlan, index: int) -> _Taken:
    """Capture ``index``; FrameError (retried) where the board's own frame is missing."""
    k, n, layout = plan.num_antennas, 2 * plan.layout.length, plan.layout
    frame = plan.frame(index)
    bench.scenes.set(plan.scenes[index])
    bench.board.send(frame)
    bench.comm.flush()
    board = bench.board.capture(n)
    comm = bench.comm.capture(n)
    # The board hears its own frame through the direct leakage whatever the scene: missing it is a bench fault.
    board_start = find_frame(layout, board, k)
    try:
        comm_start, comm_lost = find_frame(layout, comm, k), None
        comm_frame(layout, comm[comm_start : comm_start + layout.length])  # the pilots decide whether it is lost
    except FrameError as exc:
        comm_start, comm_lost = None, str(exc)
    samples = np.empty((n, k + 1), np.complex64)
    samples[:, :k] = board.T
    samples[:, k] = comm
    return _Taken(samples, board_start, comm_start, comm_lost, bench.settings())


def _recording(plan: CapturePlan, index: int, taken: _Taken):
    """The data (bytes) and the validated SigMFFile metadata of one capture."""
    k, layout, scene, settings = plan.num_antennas, plan.layout, plan.scenes[index], taken.settings
    data = taken.samples.tobytes()  # C order: time-major, the K + 1 channels interleaved
    target = scene.targets[0].angle_deg if scene.targets else None
    fields = {
        **plan.identity(),
        **_jsonable(settings),
        "format": FORMAT,
        "version": __version__,
        "index": index,
        "scene": json.loads(scene.to_json()),
        "channels": [f"board rx {c}" for c in range(k)] + ["comm rx 0"],
        "comm_lost": taken.comm_lost,
    }
    meta = SigMFFile(
        global_info={
            keys.DATATYPE_KEY: "cf32_le",
            keys.SAMPLE_RATE_KEY: settings["sample_rate_hz"],
            keys.NUM_CHANNELS_KEY: k + 1,
            keys.HW_KEY: get_profile(plan.device).description,
            keys.RECORDER_KEY: f"isac_ae {__version__} (isac_ae.hw.capture)",
            keys.DESCRIPTION_KEY: (
                f"ISAC capture {index}: channels 0..{k - 1} the board's RX, channel {k} the comm "
                "receiver on its own clock; one frame (quiet, preamble, pilots, data) transmitted "
                "cyclically"
            ),
            keys.EXTENSIONS_KEY: [{"name": NS[:-1], "version": FORMAT.split("/")[1], "optional": True}],
            keys.SHA512_KEY: hashlib.sha512(data).hexdigest(),
            **{NS + name: value for name, value in fields.items()},
        }
    )
    meta.add_capture(0, {keys.FREQUENCY_KEY: settings["lo_hz"], keys.DATETIME_KEY: _utc_now()})
    labels = {
        NS + "target_present": bool(scene.targets),
        NS + "target_angle_deg": target,
        NS + "comm_angle_deg": scene.comm_angle_deg,
        NS + "messages": plan.messages(index).tolist(),
    }
    for receiver, channels, start in (("board", list(range(k)), taken.board_start), ("comm", [k], taken.comm_start)):
        if start is None:  # a lost comm frame: its data section is nowhere to be found
            continue
        label = f"{receiver} data: " + (f"target {target:+.2f} deg" if target is not None else "no target")
        meta.add_annotation(
            start + layout.data_start,
            layout.data,
            {keys.LABEL_KEY: label, NS + "receiver": receiver, NS + "channels": channels, **labels},
        )
    meta.validate()
    return data, meta


def _write_recording(out: Path, stem: str, data: bytes, meta) -> None:
    """Temporaries, fsync, rename data then meta, fsync the directory; nothing of ``stem`` is left on failure."""
    paths = {ext: out / f"{stem}.sigmf-{ext}" for ext in ("data", "meta")}
    temps = {ext: out / f".{stem}.sigmf-{ext}.tmp" for ext in ("data", "meta")}
    try:
        _write_synced(temps["data"], data)
        _write_synced(temps["meta"], (meta.dumps(pretty=True) + "\n").encode())
        os.replace(temps["data"], paths["data"])
        os.replace(temps["meta"], paths["meta"])
        _fsync_directory(out)
    except BaseException:
        for path in (temps["data"], temps["meta"]):
            path.unlink(missing_ok=True)
        if not paths["meta"].exists():
            paths["data"].unlink(missing_ok=True)
        raise


def _write_synced(path: Path, content: bytes) -> None:
    with open(path, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _locked(out: Path):
    """One session per directory (an advisory lock the kernel drops with its holder, killed or not)."""
    with open(out / _LOCK_NAME, "a") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CaptureError(f"another capture session is writing to {out}") from None
        yield


def _remove_incomplete(out: Path) -> None:
    """Delete stale temporaries and data files without their meta (a session killed mid-write)."""
    for path in out.iterdir():
        orphan = _DATA_NAME.match(path.name) and not path.with_suffix(".sigmf-meta").exists()
        if orphan or _TEMP_NAME.match(path.name):
            path.unlink()


def _existing(out: Path, plan: CapturePlan) -> dict[int, dict]:
    """The global objects of the complete recordings in ``out``, by index; CaptureError if any belongs to
    another session or lacks its data."""
    identity, found = plan.identity(), {}
    size = 2 * plan.layout.length * (plan.num_antennas + 1) * np.dtype(np.complex64).itemsize
    for path in captures_in(out):
        index = int(_META_NAME.match(path.name).group(1))
        meta = _read_meta(path)
        glob = meta["global"]
        _compare(glob, identity, _PLAN_FIELDS, "session")
        if index < len(plan.scenes) and glob[NS + "scene"] != json.loads(plan.scenes[index].to_json()):
            raise CaptureError(
                f"{path} was taken in another scene ({glob[NS + 'scene']}) than this session's "
                f"capture {index}: use another directory"
            )
        data = path.with_suffix(".sigmf-data")
        if not data.exists() or data.stat().st_size != size:
            raise CaptureError(
                f"{path} has no complete {data.name} beside it ({size} bytes): delete both to capture it again"
            )
        found[index] = glob
    return found


def _compare(glob: dict, identity: dict, names: Sequence[str], what: str) -> None:
    for name in names:
        if glob.get(NS + name) != identity[name]:
            field, there, here = _difference(name, glob.get(NS + name), identity[name])
            raise CaptureError(
                f"the directory holds captures of another {what}: {field} is {_short(there)} there, "
                f"{_short(here)} here (use another directory)"
            )


def _difference(name: str, there, here) -> tuple:
    """The first differing entry of two JSON values, by its dotted name (``scenario.snr_comm_db``)."""
    if isinstance(there, dict) and isinstance(here, dict):
        key = next(k for k in sorted(set(there) | set(here)) if there.get(k) != here.get(k))
        return _difference(f"{name}.{key}", there.get(key), here.get(key))
    return name, there, here


# --- reading captures back ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaptureLabels:
    """The ground truth of one capture: angles in degrees, messages (N,) int64, beam (K,), constellation (M,)."""

    index: int
    scene: Scene
    target_present: bool
    target_angle_deg: Optional[float]
    comm_angle_deg: float
    messages: np.ndarray
    beam: np.ndarray
    constellation: np.ndarray


class Capture(NamedTuple):
    """One capture read back: the board's snapshots z (N, K), the comm symbols z_c and CSI kappa (N,),
    both in units of the measured noise (N0 = 1), and the labels.

    A comm frame lost in a deep fade (:attr:`comm_lost`) has z_c = 0 and kappa = NaN (CFO and noise power
    NaN), as a live link gives it (``OverTheAirLink``, the Comm Frame Receiver): its symbols are decided
    from nothing, and a loss over the comm receiver must leave them out. The radar part and the labels
    are whole either way.
    """

    radar: RadarBlock
    comm: CommBlock
    labels: CaptureLabels

    @property
    def comm_lost(self) -> bool:
        """Whether the comm receiver lost this frame (then only the radar part and the labels are data)."""
        return bool(np.isnan(self.comm.kappa).any())


def captures_in(directory: str | Path) -> list[Path]:
    """The ``.sigmf-meta`` of every complete recording in ``directory``, by index."""
    return sorted(p for p in Path(directory).iterdir() if _META_NAME.match(p.name))


def load_capture(path: str | Path, device: Optional[str] = None, num_antennas: Optional[int] = None) -> Capture:
    """Read a recording (its ``.sigmf-meta`` or ``.sigmf-data`` path, or the stem) and turn it into snapshots
    through :func:`~isac_ae.hw.frames.radar_block` and :func:`~isac_ae.hw.frames.comm_block`.

    The data's SHA-512 is checked against the meta. ``device`` / ``num_antennas``:
    what the caller expects; a capture of another device or K is refused. A
    comm frame lost in a deep fade (``isac_ae:comm_lost`` in the meta, or one
    whose pilots do not decode here) gives the lost comm part of
    :class:`Capture`, never an error: the radar part is kept.
    """
    meta_path = sigmffile.get_sigmf_filenames(path)["meta_fn"]
    glob = _read_meta(meta_path)["global"]
    for name, wanted in (("device", device), ("num_antennas", num_antennas)):
        if wanted is not None and glob.get(NS + name) != wanted:
            raise CaptureError(
                f"{meta_path} is a capture of {glob.get(NS + 'device')} with K = "
                f"{glob.get(NS + 'num_antennas')}, not {name} = {wanted}"
            )
    try:
        recording = sigmffile.fromfile(meta_path)
    except error.SigMFError as exc:
        raise CaptureError(f"{meta_path}: {exc}") from None
    layout = FrameLayout(**glob[NS + "frame_layout"])
    k = glob[NS + "num_antennas"]
    samples = recording.read_samples()  # (2L, K + 1)
    board = next(a for a in recording.get_annotations() if a.get(NS + "receiver") == "board")
    beam, constellation = _complex(glob[NS + "beam"]), _complex(glob[NS + "constellation"])
    messages = np.asarray(board[NS + "messages"], dtype=np.int64)
    labels = CaptureLabels(
        index=glob[NS + "index"],
        scene=scene_from_dict(glob[NS + "scene"]),
        target_present=board[NS + "target_present"],
        target_angle_deg=board[NS + "target_angle_deg"],
        comm_angle_deg=board[NS + "comm_angle_deg"],
        messages=messages,
        beam=beam,
        constellation=constellation,
    )
    frame = build_frame(layout, beam, constellation[messages])
    return Capture(
        radar=radar_block(layout, samples[:, :k].T, frame), comm=_comm(glob, layout, samples[:, k], k), labels=labels
    )


def _comm(glob: dict, layout: FrameLayout, samples: np.ndarray, k: int) -> CommBlock:
    """The comm part of a recording: decoded from its comm channel ``samples`` (2L,), or lost (z_c 0, kappa NaN).

    Recordings from before ``isac_ae:comm_lost`` was written carry no verdict: their frame is decoded here, and
    lost if its pilots do not decode.
    """
    if glob.get(NS + "comm_lost") is None:
        try:
            return comm_block(layout, samples, k)
        except FrameError:
            pass
    nan = math.nan
    return CommBlock(
        z=np.zeros(layout.data, np.complex64),
        kappa=np.full(layout.data, complex(nan, nan), np.complex64),
        cfo_cycles_per_sample=nan,
        noise_power=nan,
    )


def scene_from_dict(data: dict) -> Scene:
    """A :class:`Scene` from its JSON object (:meth:`Scene.to_json`), checked as the emulator checks one."""
    data = json.loads(parse_scene(json.dumps(data)))
    return Scene(
        targets=tuple(Target(t["angle_deg"], t.get("amplitude", 0.0)) for t in data.get("targets", [])),
        comm_angle_deg=data.get("comm_angle_deg"),
        comm_amplitude=data.get("comm_amplitude", 0.0),
    )


def _read_meta(path: Path) -> dict:
    """The JSON of an isac_ae capture's ``.sigmf-meta``; CaptureError if it is not one."""
    try:
        meta = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CaptureError(f"no capture at {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CaptureError(f"{path} is not a readable SigMF meta: {exc}") from None
    if not isinstance(meta, dict) or meta.get("global", {}).get(NS + "format") != FORMAT:
        raise CaptureError(f"{path} is not an isac_ae capture (no {NS}format {FORMAT!r})")
    return meta


# --- small helpers -----------------------------------------------------------------------------------------


def _pairs(values: np.ndarray) -> list:
    return [[float(v.real), float(v.imag)] for v in values]


def _complex(pairs: list) -> np.ndarray:
    array = np.asarray(pairs, dtype=np.float64).reshape(-1, 2)
    return array[:, 0] + 1j * array[:, 1]


def _jsonable(value):
    """``value`` as it reads back from JSON (tuples become lists), so that stored and new fields compare."""
    return json.loads(json.dumps(value))


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _utc_now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
