"""Labelled SigMF captures on the emulated pluto2 twin through pyadi-iio: format, labels, atomicity, resume, retries.

Every session runs against :class:`~isac_ae.hw.emulator.Emulator` serving a
:class:`~isac_ae.hw.twin.DigitalTwin` (the board on one port, its comm
receiver on the next), reached through :mod:`isac_ae.hw.device` as a board
would be.
"""

import dataclasses
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import sigmf
import torch
from sigmf import validate as sigmf_validate

from isac_ae import Scenario, __version__
from isac_ae.baselines import isac_beam, ls_beam, qam_constellation
from isac_ae.hw import capture
from isac_ae.hw.capture import (
    CaptureError,
    CapturePlan,
    capture_session,
    captures_in,
    draw_scenes,
    load_capture,
    open_bench,
    twin_amplitudes,
)
from isac_ae.hw.emulator import Emulator
from isac_ae.hw.frames import FrameLayout
from isac_ae.hw.scene import Scene, Target
from isac_ae.hw.twin import DigitalTwin
from isac_ae.theory import angle_crb, qpsk_ser_awgn

from ..helpers import Z, proportion_tolerance

DEVICE, K, TWIN_SEED, SEED = "pluto2", 2, 3, 7
LAYOUT = FrameLayout(data=1024)
SCENARIO = Scenario(num_antennas=K)
ROOT = Path(__file__).resolve().parents[2]


def _plan(count=4, seed=SEED, scenes=None, device=DEVICE, scenario=SCENARIO) -> CapturePlan:
    """The baseline's ISAC beam and 4-QAM; scenes drawn at the scenario's SNRs on the twin unless given."""
    k = scenario.num_antennas
    positions = scenario.nominal_positions()
    beam = isac_beam(
        ls_beam(positions, scenario.target_sector_rad), ls_beam(positions, scenario.comm_sector_rad), 0.5, 0.0
    )
    if scenes is None:
        amplitudes = twin_amplitudes(scenario, LAYOUT, DigitalTwin(device, TWIN_SEED).truth.noise_power)
        scenes = draw_scenes(scenario, count, seed, *amplitudes)
    assert k == beam.shape[0]
    return CapturePlan(device, scenario, scenes, beam, qam_constellation(scenario.num_messages), seed, LAYOUT)


def _emulator(port=0) -> Emulator:
    return Emulator(DEVICE, port, source=DigitalTwin(DEVICE, TWIN_SEED).source(), comm_receiver=True).start()


def _run(out, plan, **options) -> list[Path]:
    """A session on a fresh emulated twin (what the killed child runs, too)."""
    emulator = _emulator()
    try:
        return capture_session(out, plan, lambda: open_bench(DEVICE, emulator.uri), **options)
    finally:
        emulator.stop()


def _files(directory) -> set[str]:
    return {p.name for p in Path(directory).iterdir()} - {".capture.lock"}


def _pairs(count) -> set[str]:
    return {f"capture_{i:06d}.sigmf-{ext}" for i in range(count) for ext in ("data", "meta")}


def _digest(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _never_connect():
    raise AssertionError("the session connected to a bench it did not need")


def test_recordings_validate_with_sigmf_and_their_labels_are_the_samples_truth(tmp_path):
    # Given scenes (the other way to plan a session): strong targets, so each label can be checked on its samples.
    target_amp, comm_amp = twin_amplitudes(SCENARIO.replace(snr_radar_db=20.0), LAYOUT, 1e-5)
    scenes = (
        Scene((Target(12.0, target_amp),), comm_angle_deg=35.0, comm_amplitude=comm_amp),
        Scene((), comm_angle_deg=45.0, comm_amplitude=comm_amp),
        Scene((Target(-15.0, target_amp),), comm_angle_deg=40.0, comm_amplitude=comm_amp),
    )
    plan = _plan(scenes=scenes)
    paths = _run(tmp_path, plan)
    assert [p.name for p in paths] == [f"capture_{i:06d}.sigmf-meta" for i in range(3)]
    assert _files(tmp_path) == _pairs(3)
    truth = DigitalTwin(DEVICE, TWIN_SEED).truth.array.to(dtype=torch.float64)
    loaded = [load_capture(p, DEVICE, K) for p in paths]
    for i, (path, (radar, comm, labels)) in enumerate(zip(paths, loaded)):
        recording = sigmf.fromfile(path)  # checks the data's SHA-512 against the meta
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # an undeclared extension namespace is a warning in sigmf 1.x
            recording.validate()
            sigmf_validate.validate(json.loads(path.read_text()))
        glob = recording.get_global_info()
        assert glob["core:datatype"] == "cf32_le" and glob["core:num_channels"] == K + 1
        assert glob["core:sample_rate"] == 2.5e6 and recording.get_captures()[0]["core:frequency"] == 2.4e9
        assert glob["isac_ae:device"] == DEVICE and glob["isac_ae:num_antennas"] == K
        assert glob["isac_ae:version"] == __version__ and glob["isac_ae:scene_controller"] == "EmulatorSceneController"
        assert glob["isac_ae:channels"] == ["board rx 0", "board rx 1", "comm rx 0"]
        assert recording.read_samples().shape == (2 * LAYOUT.length, K + 1)
        annotations = recording.get_annotations()
        assert [a["isac_ae:receiver"] for a in annotations] == ["board", "comm"]
        assert all(a["core:sample_count"] == LAYOUT.data for a in annotations)
        # Labels round-trip: what the plan transmitted in which scene.
        assert labels.index == i and labels.scene == scenes[i]
        assert labels.target_present == bool(scenes[i].targets) and labels.comm_angle_deg == scenes[i].comm_angle_deg
        assert labels.target_angle_deg == (scenes[i].targets[0].angle_deg if scenes[i].targets else None)
        np.testing.assert_array_equal(labels.messages, plan.messages(i))
        np.testing.assert_array_equal(labels.beam, plan.beam)
        np.testing.assert_array_equal(labels.constellation, plan.constellation)
        assert radar.z.shape == (LAYOUT.data, K) and comm.z.shape == (LAYOUT.data,)

        # The comm labels are the symbols received: SER at the measured SNR |kappa|^2 with them, ~3/4 with
        # another capture's messages.
        decided = np.argmin(np.abs(comm.z[:, None] / comm.kappa[:, None] - plan.constellation) ** 2, axis=1)
        ser = qpsk_ser_awgn(float(np.abs(comm.kappa[0]) ** 2))
        n = LAYOUT.data
        assert np.mean(decided != labels.messages) <= ser + proportion_tolerance(max(ser, 1 / n), n)
        assert abs(np.mean(decided != plan.messages(i + 1)) - 0.75) < proportion_tolerance(0.75, n)

        # The radar labels: noise alone without a target (unit power per element after the frame's
        # normalisation, tolerance from the quiet samples and the snapshots), an echo from the labelled angle.
        power = np.mean(np.abs(radar.z) ** 2)
        if not labels.target_present:
            assert abs(power - 1 - K / LAYOUT.preamble) < Z * math.sqrt(1 / (LAYOUT.quiet * K) + 1 / radar.z.size)
            continue
        grid = np.radians(np.linspace(-60, 60, 4801))
        a_rx = truth.steering_rx(torch.tensor(grid)).numpy()
        spectrum = np.sum(np.abs(radar.z @ a_rx.conj().T) ** 2, axis=0) / np.sum(np.abs(a_rx) ** 2, axis=1)
        theta = math.radians(labels.target_angle_deg)
        snr = power - 1  # echo power per element and snapshot, noise 1
        std = math.sqrt(angle_crb(truth.positions.numpy(), theta, snr) / LAYOUT.data)
        assert snr > 10 and abs(grid[np.argmax(spectrum)] - theta) < Z * std + math.radians(120 / 4800)


def test_a_rerun_skips_complete_captures_and_extends_a_session(tmp_path):
    first = _run(tmp_path, _plan(2))
    before = {p.name: _digest(p.with_suffix(".sigmf-data")) for p in first}
    lines = []
    paths = _run(tmp_path, _plan(4), log=lines.append)
    assert [p.name for p in paths] == sorted(_pairs(4))[1::2] and _files(tmp_path) == _pairs(4)
    assert {p.name: _digest(p.with_suffix(".sigmf-data")) for p in first} == before  # untouched
    assert lines[0].endswith("2 of 4 captures already complete") and len(lines) == 3
    # Same seed: same scenes and messages as a session of 4 from the start.
    for i, path in enumerate(paths):
        labels = load_capture(path).labels
        assert labels.scene == _plan(4).scenes[i]
        np.testing.assert_array_equal(labels.messages, _plan(4).messages(i))
    # Nothing left to do: no connection at all.
    assert capture_session(tmp_path, _plan(4), _never_connect) == paths


@pytest.mark.parametrize(
    "change, difference",
    [
        (dict(seed=8), "seed is 7 there, 8 here"),
        (dict(scenario=SCENARIO.replace(snr_comm_db=10.0)), "scenario.snr_comm_db is 20.0 there, 10.0 here"),
        (dict(device="fmcomms5", scenario=Scenario(num_antennas=4)), 'device is "pluto2" there, "fmcomms5" here'),
    ],
)
def test_a_directory_of_another_session_is_refused_before_connecting(tmp_path, change, difference):
    _run(tmp_path, _plan(1))
    with pytest.raises(CaptureError, match=f"another session: {difference} [(]use another directory[)]$"):
        capture_session(tmp_path, _plan(1, **change), _never_connect)
    assert _files(tmp_path) == _pairs(1)


def test_a_bench_tuned_otherwise_is_refused_before_writing(tmp_path):
    _run(tmp_path, _plan(1))
    emulator = _emulator()
    try:
        with pytest.raises(CaptureError, match="another bench: lo_hz is 2400000000.0 there, 2000000000.0 here"):
            capture_session(tmp_path, _plan(2), lambda: open_bench(DEVICE, emulator.uri, lo_hz=2.0e9))
    finally:
        emulator.stop()
    assert _files(tmp_path) == _pairs(1)


def test_a_second_session_on_the_same_directory_is_refused(tmp_path):
    import fcntl

    with open(tmp_path / ".capture.lock", "a") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        with pytest.raises(CaptureError, match="another capture session is writing"):
            capture_session(tmp_path, _plan(1), _never_connect)


@pytest.mark.parametrize("where", ["writing the meta", "renaming the meta"])
def test_an_exception_between_data_and_meta_leaves_no_partial_recording(tmp_path, monkeypatch, where):
    write, replace = capture._write_synced, os.replace

    def failing_write(path, content):
        if path.name == ".capture_000001.sigmf-meta.tmp":
            raise RuntimeError("injected")
        write(path, content)

    def failing_replace(src, dst):
        if Path(dst).name == "capture_000001.sigmf-meta":
            assert (tmp_path / "capture_000001.sigmf-data").exists()  # the data is in place, its meta not yet
            raise RuntimeError("injected")
        replace(src, dst)

    if where == "writing the meta":
        monkeypatch.setattr(capture, "_write_synced", failing_write)
    else:
        monkeypatch.setattr(capture.os, "replace", failing_replace)
    with pytest.raises(RuntimeError, match="injected"):
        _run(tmp_path, _plan(3))
    assert _files(tmp_path) == _pairs(1)
    kept = _digest(tmp_path / "capture_000000.sigmf-data")
    monkeypatch.undo()
    assert len(_run(tmp_path, _plan(3))) == 3 and _files(tmp_path) == _pairs(3)
    assert _digest(tmp_path / "capture_000000.sigmf-data") == kept


def test_a_session_killed_with_sigkill_leaves_only_complete_recordings_and_resumes(tmp_path):
    count = 12
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import sys; from tests.hw.test_capture import _plan, _run; _run(sys.argv[1], _plan({count}))",
            str(tmp_path),
        ],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "python"), str(ROOT)])),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not captures_in(tmp_path) and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    done = captures_in(tmp_path)
    assert 1 <= len(done) < count  # killed mid-session
    before = {}
    for path in done:  # every meta there is a whole, valid recording
        sigmf.fromfile(path).validate()
        before[path.name] = _digest(path.with_suffix(".sigmf-data"))
    # What a kill can leave besides: temporaries, and for one instant a data file whose meta is not renamed yet.
    in_flight = f"capture_{len(done):06d}.sigmf-data"
    complete = {p.name for p in done} | {p.with_suffix(".sigmf-data").name for p in done}
    assert all(name.endswith(".tmp") or name == in_flight for name in _files(tmp_path) - complete)
    (tmp_path / in_flight).write_bytes(b"half")  # a kill between the two renames
    # and what a killed, longer session left beyond this one's captures, which nothing overwrites:
    (tmp_path / f"capture_{count + 3:06d}.sigmf-data").write_bytes(b"half")
    (tmp_path / f".capture_{count + 4:06d}.sigmf-meta.tmp").write_text("{")
    paths = _run(tmp_path, _plan(count))
    assert _files(tmp_path) == _pairs(count)
    assert {name: _digest((tmp_path / name).with_suffix(".sigmf-data")) for name in before} == before
    for i, path in enumerate(paths):
        sigmf.fromfile(path).validate()
        np.testing.assert_array_equal(load_capture(path).labels.messages, _plan(count).messages(i))


def test_a_device_that_disconnects_is_reconnected_on_the_same_port(tmp_path):
    emulator = _emulator()
    port, restarted, connections, lines = emulator.port, [], [], []

    def connect():
        bench = open_bench(DEVICE, f"ip:127.0.0.1:{port}")
        if not connections:  # the first bench loses its board in the middle of the second capture
            original, calls = bench.board.capture, []

            def capture_then_unplug(samples):
                calls.append(samples)
                if len(calls) == 2:
                    emulator.stop()
                    threading.Timer(0.4, lambda: restarted.append(_emulator(port))).start()
                return original(samples)

            bench.board.capture = capture_then_unplug
        connections.append(bench)
        return bench

    try:
        paths = capture_session(tmp_path, _plan(3), connect, retries=10, retry_delay_s=0.2, log=lines.append)
    finally:
        emulator.stop()
        time.sleep(0.5)
        for other in restarted:
            other.stop()
    assert restarted and len(connections) == 2
    retries = [line for line in lines if "reconnecting" in line]
    assert retries and all(line.startswith("capture 2: ") for line in retries)
    assert _files(tmp_path) == _pairs(3)
    for path in paths:
        sigmf.fromfile(path).validate()


def test_a_bench_that_stays_down_fails_with_one_clear_error_and_no_partial_file(tmp_path):
    emulator = _emulator()
    uri = emulator.uri

    def connect():
        bench = open_bench(DEVICE, uri)
        original = bench.comm.capture

        def unplug_after_the_first_capture(samples):
            if captures_in(tmp_path):
                emulator.stop()
            return original(samples)

        bench.comm.capture = unplug_after_the_first_capture
        return bench

    try:
        with pytest.raises(
            CaptureError,
            match=r"^capture_000001: the bench failed 3 times \(last: .*\); the "
            "captures before it are complete",
        ):
            capture_session(tmp_path, _plan(3), connect, retries=2, retry_delay_s=0.05)
    finally:
        emulator.stop()
    assert _files(tmp_path) == _pairs(1)


def _without_comm_fade(plan: CapturePlan, index: int) -> CapturePlan:
    """``plan`` with scene ``index``'s comm channel at amplitude 0: a fade of infinite depth, so the comm receiver
    hears noise only (on a twin the deepest fade, the same on every run)."""
    scenes = list(plan.scenes)
    scenes[index] = dataclasses.replace(scenes[index], comm_amplitude=0.0)
    return dataclasses.replace(plan, scenes=tuple(scenes))


def test_a_comm_frame_lost_in_a_fade_is_recorded_with_its_radar_part_not_retried(tmp_path):
    plan = _without_comm_fade(_plan(3), 1)
    lines = []
    paths = _run(tmp_path / "a", plan, retries=2, retry_delay_s=0.0, log=lines.append)
    assert _files(tmp_path / "a") == _pairs(3)
    assert not [line for line in lines if "reconnecting" in line]  # a fade is the channel, not a bench fault
    assert [line for line in lines if "comm frame lost" in line] == [
        f"capture 2: comm frame lost ({json.loads(paths[1].read_text())['global']['isac_ae:comm_lost']}); "
        "recorded with its radar part"
    ]
    for i, path in enumerate(paths):
        recording = sigmf.fromfile(path)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            recording.validate()
            sigmf_validate.validate(json.loads(path.read_text()))
        lost = recording.get_global_info()["isac_ae:comm_lost"]
        receivers = [a["isac_ae:receiver"] for a in recording.get_annotations()]
        assert (lost is not None, receivers) == ((True, ["board"]) if i == 1 else (False, ["board", "comm"]))
        loaded = load_capture(path, DEVICE, K)
        assert loaded.comm_lost == (i == 1) and loaded.labels.scene == plan.scenes[i]
        np.testing.assert_array_equal(loaded.labels.messages, plan.messages(i))
        # The radar part is whole: these scenes have no target, so unit noise power per element (the
        # first test's tolerance).
        assert not loaded.labels.target_present and loaded.radar.z.shape == (LAYOUT.data, K)
        power = np.mean(np.abs(loaded.radar.z) ** 2)
        assert abs(power - 1 - K / LAYOUT.preamble) < Z * math.sqrt(1 / (LAYOUT.quiet * K) + 1 / loaded.radar.z.size)
    lost = load_capture(paths[1]).comm
    assert np.all(np.isnan(lost.kappa)) and not np.any(lost.z) and math.isnan(lost.cfo_cycles_per_sample)
    assert "no preamble found" in json.loads(paths[1].read_text())["global"]["isac_ae:comm_lost"]
    # Same plan, same twin: the same session, byte for byte (the meta differs only in its date).
    again = _run(tmp_path / "b", plan)
    assert [_digest(p.with_suffix(".sigmf-data")) for p in again] == [
        _digest(p.with_suffix(".sigmf-data")) for p in paths
    ]


def test_a_comm_frame_that_does_not_decode_when_loaded_keeps_the_radar_part(tmp_path):
    """What a recording from before ``isac_ae:comm_lost`` holds: a comm channel with no decodable frame."""
    (path,) = _run(tmp_path, _plan(1))
    before = load_capture(path)
    assert not before.comm_lost
    # The comm channel replaced by its own noise level alone (seeded): no frame there any more.
    data = path.with_suffix(".sigmf-data")
    samples = np.frombuffer(data.read_bytes(), np.complex64).reshape(-1, K + 1).copy()
    rng = np.random.default_rng(5)
    scale = math.sqrt(before.comm.noise_power / 2)
    samples[:, K] = scale * (rng.standard_normal(len(samples)) + 1j * rng.standard_normal(len(samples)))
    data.write_bytes(samples.tobytes())
    meta = json.loads(path.read_text())
    meta["global"]["core:sha512"] = hashlib.sha512(samples.tobytes()).hexdigest()
    path.write_text(json.dumps(meta))
    after = load_capture(path)
    assert after.comm_lost and np.all(np.isnan(after.comm.kappa)) and not np.any(after.comm.z)
    # The radar part is what the radar frame gave, bit for bit; the labels are untouched.
    np.testing.assert_array_equal(after.radar.z, before.radar.z)
    np.testing.assert_array_equal(after.radar.leakage, before.radar.leakage)
    np.testing.assert_array_equal(after.labels.messages, before.labels.messages)
    assert after.labels.scene == before.labels.scene


def test_loading_refuses_another_device_or_k_and_a_damaged_recording(tmp_path):
    (path,) = _run(tmp_path, _plan(1))
    with pytest.raises(CaptureError, match="capture of pluto2 with K = 2, not device = fmcomms5"):
        load_capture(path, device="fmcomms5")
    with pytest.raises(CaptureError, match="not num_antennas = 4"):
        load_capture(path, num_antennas=4)
    assert load_capture(path.with_suffix("")).labels.index == 0  # the stem names it too
    data = path.with_suffix(".sigmf-data")
    damaged = bytearray(data.read_bytes())
    damaged[100] ^= 1
    data.write_bytes(bytes(damaged))
    with pytest.raises(CaptureError, match="hash does not match"):
        load_capture(path)
    other = tmp_path / "other.sigmf-meta"
    other.write_text(json.dumps({"global": {"core:datatype": "cf32_le"}}))
    with pytest.raises(CaptureError, match="not an isac_ae capture"):
        load_capture(other)
    with pytest.raises(CaptureError, match="no capture at"):
        load_capture(tmp_path / "missing.sigmf-meta")


def test_drawn_scenes_follow_the_scenario_and_depend_only_on_seed_and_index():
    scenario = SCENARIO.replace(p_target=0.3, target_sector_deg=(-10.0, 30.0), comm_sector_deg=(40.0, 60.0))
    n = 4000
    scenes = draw_scenes(scenario, n, 11, 0.5, 0.25)
    assert scenes[:10] == draw_scenes(scenario, 10, 11, 0.5, 0.25) and scenes[:10] != draw_scenes(scenario, 10, 12)
    present = [s.targets[0].angle_deg for s in scenes if s.targets]
    comm = np.array([s.comm_angle_deg for s in scenes])
    assert abs(len(present) / n - 0.3) < proportion_tolerance(0.3, n)
    assert min(present) >= -10.0 and max(present) <= 30.0 and comm.min() >= 40.0 and comm.max() <= 60.0
    # Uniform over the sector: mean at its centre within Z standard errors (width / sqrt(12 n)).
    assert abs(np.mean(present) - 10.0) < Z * 40.0 / math.sqrt(12 * len(present))
    assert abs(comm.mean() - 50.0) < Z * 20.0 / math.sqrt(12 * n)
    assert all(t.amplitude == 0.5 for s in scenes for t in s.targets) and all(s.comm_amplitude == 0.25 for s in scenes)


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(scenes=()), "at least one scene"),
        (dict(scenes=(Scene((Target(0.0), Target(5.0)), comm_angle_deg=40.0),)), "at most one target"),
        (dict(scenes=(Scene((Target(0.0),)),)), "comm receiver's angle"),
        (dict(scenes=(Scene((Target(95.0),), comm_angle_deg=40.0),)), "angle_deg"),
        (dict(beam=np.ones(3)), "2 finite complex weights"),
        (dict(constellation=np.ones(2)), "4 finite complex points"),
        (dict(seed=-1), "non-negative integer"),
        (dict(calibration={"file": object()}), "JSON-able"),
    ],
)
def test_a_bad_plan_is_refused_with_one_clear_message(change, message):
    plan = _plan(1)
    fields = dict(
        device=plan.device,
        scenario=plan.scenario,
        scenes=plan.scenes,
        beam=plan.beam,
        constellation=plan.constellation,
        seed=plan.seed,
        layout=plan.layout,
    )
    with pytest.raises(ValueError, match=message):
        CapturePlan(**{**fields, **change})
