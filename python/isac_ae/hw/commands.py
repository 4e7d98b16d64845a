"""``isac-ae hw ...``: the over-the-air commands. Angles in degrees at this surface.

Every command takes ``--device`` (a profile of :mod:`isac_ae.hw.profiles`)
and ``--uri`` (a board's ``ip:``/``usb:`` URI or the emulator's); the second
context (a digital board's comm receiver, the Phaser's Pluto) defaults to
the next port, as ``isac-ae hw emulate`` serves it. On an emulated twin the
scene is set through the emulator; on a real board the operator is asked.
Bad input (a bad URI, nothing listening, an unknown device, a K the device
cannot serve, a calibration of another device) gives one line and exit code 2.
``hw finetune`` writes an ordinary model file; an interrupted run resumes
from its checkpoint in the output directory when the same command is run again.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import math
import sys
import time
from pathlib import Path

import numpy as np

from .profiles import PROFILES

#: The AD9363's highest sample rate.
PLUTO_MAX_RATE_HZ = 61.44e6
#: Below this SNR a calibration's factors are too noisy to trust (a warning, not a refusal).
CALIBRATION_MIN_SNR_DB = 15.0
#: The manifold's angle grid (first, last, step; degrees) and the samples per measurement that
#: ``hw measure-manifold`` and ``hw calibrate`` default to, and that ``hw finetune`` measures with.
MANIFOLD_ANGLES_DEG = (-60.0, 60.0, 5.0)
MEASUREMENT_SAMPLES = 4096
#: Snapshots per scene of the live link in ``hw evaluate``.
LINK_BLOCK = 2048
#: ``hw finetune --method model-free``: snapshots per channel call, i.e. per perturbed beam, each call one scene.
MODEL_FREE_BLOCK = 1024
#: The fine-tuning methods and the optional inputs each takes (the others are refused).
FINETUNE_INPUTS = {
    "surrogate": ("manifold", "calibration"),
    "receivers": ("captures",),
    "model-free": ("block",),
}
#: What ``hw finetune`` measures into its output directory when no file is given (surrogate), and reuses
#: when an earlier run of the command left them there (a new measurement would not resume the same run).
MEASURED_MANIFOLD, MEASURED_CALIBRATION = "manifold.npz", "calibration.json"


def _usage(message: str):
    from ..cli import UsageError

    return UsageError(message)


def _uri(text: str) -> str:
    from .device import DeviceError, check_uri

    try:
        return check_uri(text)
    except DeviceError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_hw_parser(sub, parser_class) -> None:
    """The ``hw`` command and its subcommands on the top-level parser's subparsers ``sub``."""
    from ..cli import SAMPLES_HELP, _finite_float, _positive_int, _samples, _seed
    from .emulator import __main__ as emulator_cli

    hw = sub.add_parser(
        "hw",
        help="hardware in the loop: boards through pyadi-iio, or their twins",
        description="Over-the-air commands (docs/HARDWARE.md).",
    )
    commands = hw.add_subparsers(dest="hw_command", metavar="HW_COMMAND", parser_class=parser_class)
    commands.required = True

    p = commands.add_parser(
        "emulate",
        help="serve a board's digital twin on 127.0.0.1 (libiio protocol) until Ctrl-C",
        description="An IIO emulator backed by the board's digital twin: unmodified pyadi-iio "
        "and gr-iio connect to the printed URIs as to a board.",
    )
    emulator_cli.add_arguments(p)
    p.set_defaults(func=_emulate)

    p = commands.add_parser(
        "evaluate",
        help="evaluate a model file or the baseline over a board (or twin)",
        description="Evaluate a model file or the baseline over the device at the scenario's "
        "Pfa: Pd, Pfa, RMSE, SER, as `isac-ae evaluate` does in simulation.",
    )
    _device_options(p)
    _system_options(p, _finite_float)
    p.add_argument(
        "--calibration",
        default=None,
        help="calibration JSON of this device (isac-ae hw calibrate): "
        "its gains are divided out before the system sees the array",
    )
    p.add_argument("--samples", type=_samples, default=100_000, help=SAMPLES_HELP)
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default %(default)s)")
    p.add_argument(
        "--block",
        type=int,
        default=LINK_BLOCK,
        help="snapshots per scene and frame: targets and angles are drawn per block, so fewer blocks "
        "mean fewer independent angles (default %(default)s)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_evaluate)

    p = commands.add_parser(
        "calibrate",
        help="per-element gain/phase calibration against a source at boresight",
        description="Calibrate the board's RX and TX chains (digital boards: a reflector and the "
        "comm receiver at 0 deg; Phaser: ADI's workflow with the source at 0 deg) and "
        "write the calibration JSON.",
    )
    _device_options(p)
    p.add_argument("--out", required=True, help="calibration JSON to write")
    p.add_argument(
        "--samples", type=int, default=MEASUREMENT_SAMPLES, help="samples per measurement (default %(default)s)"
    )
    p.set_defaults(func=_calibrate)

    p = commands.add_parser(
        "measure-manifold",
        help="the measured array response a_true(theta) over a grid of angles",
        description="Measure the array's receive response at each angle (a reflector or source "
        "placed there; Phaser: one element at a time) and write it as .npz.",
    )
    _device_options(p)
    p.add_argument("--out", required=True, help=".npz file to write")
    p.add_argument(
        "--angles-deg",
        type=float,
        nargs=3,
        metavar=("FIRST", "LAST", "STEP"),
        default=MANIFOLD_ANGLES_DEG,
        help="angle grid in degrees (default %(default)s)",
    )
    p.add_argument(
        "--samples", type=int, default=MEASUREMENT_SAMPLES, help="samples per measurement (default %(default)s)"
    )
    p.set_defaults(func=_measure_manifold)

    p = commands.add_parser(
        "capture",
        help="labelled ISAC captures as SigMF recordings (resumable)",
        description="Record one SigMF recording per scene (board RX channels + the comm "
        "receiver, with the labels); rerunning the same command resumes.",
    )
    _device_options(p)
    _system_options(p, _finite_float)
    p.add_argument("--out", required=True, help="output directory (one capture_NNNNNN.sigmf-{data,meta} per scene)")
    p.add_argument("--captures", type=int, default=16, help="number of scenes / recordings (default %(default)s)")
    p.add_argument("--data-samples", type=int, default=4096, help="snapshots per capture (default %(default)s)")
    p.add_argument("--seed", type=_seed, default=0, help="seed of the scenes and messages (default %(default)s)")
    p.add_argument("--retries", type=int, default=3, help="reconnections after a device error (default %(default)s)")
    p.set_defaults(func=_capture)

    p = commands.add_parser(
        "scene",
        help="measure the background, then put a scene in place for a hardware flowgraph",
        description="Digital boards: measure the direct TX-to-RX leakage and the noise floors with the scene "
        "empty and write them (--background-out) for the Radar Frame Receiver of the hardware flowgraphs, "
        "then put the scene in place: on a twin with the amplitudes that give --snr-radar-db / --snr-comm-db at "
        "the measured noise, on a bench by asking you. Phaser: put the source at --target-deg. The scene stays "
        "until the next one; give the flowgraph the same angles as its labels.",
    )
    _device_options(p)
    p.add_argument("--target-deg", type=_finite_float, default=None, help="target (or source) angle; none if omitted")
    p.add_argument("--comm-deg", type=_finite_float, default=40.0, help="comm receiver's angle (default %(default)s)")
    p.add_argument("--snr-radar-db", type=_finite_float, default=0.0, help="twin: SNR_r (default %(default)s)")
    p.add_argument("--snr-comm-db", type=_finite_float, default=20.0, help="twin: SNR_c (default %(default)s)")
    p.add_argument(
        "--source-amplitude",
        type=_finite_float,
        default=0.1,
        help="Phaser twin: the source's RMS amplitude, full scale (default %(default)s)",
    )
    p.add_argument("--background-out", default=None, help="digital boards: the background JSON to write (required)")
    p.set_defaults(func=_scene)

    p = commands.add_parser(
        "finetune",
        help="fine-tune a nominal model file on the board's impairments (resumable)",
        description="Fine-tune a model file on the device and write OUT/<method>_omega_<w>.safetensors, an ordinary "
        "model file whose metadata records the device, the data used and the method's report. surrogate: fit the "
        "array model to a measured manifold and the calibration's TX measurement, then train the whole model "
        "through it; receivers: the receivers on labelled captures of this model (isac-ae hw capture --model), "
        "the transmitter frozen; model-free: the transmitter trained through the live link. Only what needs the "
        "device connects to it (receivers and a surrogate given --manifold and --calibration do not). Rerunning an "
        "interrupted command resumes from its checkpoint in OUT; a finished one is refused.",
    )
    _device_options(p)
    p.add_argument("--method", required=True, choices=tuple(FINETUNE_INPUTS), help="the fine-tuning method")
    p.add_argument("--model", required=True, help="the nominal model file (.safetensors); its K must be the device's")
    p.add_argument(
        "--out", required=True, help="output directory (the model file, its checkpoint, what this command measures)"
    )
    p.add_argument(
        "--captures",
        default=None,
        help="receivers (required): the directory of isac-ae hw capture --model with this model, on this device",
    )
    p.add_argument(
        "--manifold",
        default=None,
        help=f"surrogate: this device's manifold (.npz of isac-ae hw measure-manifold); default: measured over "
        f"{MANIFOLD_ANGLES_DEG[0]:g}..{MANIFOLD_ANGLES_DEG[1]:g} deg into OUT/{MEASURED_MANIFOLD}",
    )
    p.add_argument(
        "--calibration",
        default=None,
        help=f"surrogate: this device's calibration JSON (isac-ae hw calibrate), whose TX measurement gives the TX "
        f"gains; default: calibrated into OUT/{MEASURED_CALIBRATION}",
    )
    p.add_argument(
        "--budget",
        choices=("quick", "full"),
        default="quick",
        help="the method's budget: quick (a short check) or full (the method's long run) (default %(default)s)",
    )
    p.add_argument("--seed", type=_seed, default=0, help="seed of the method's draws (default %(default)s)")
    p.add_argument(
        "--block",
        type=_positive_int,
        default=None,
        help=f"model-free: snapshots per perturbed beam (one channel call, one scene) (default {MODEL_FREE_BLOCK})",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_finetune)


def _system_options(p: argparse.ArgumentParser, finite_float) -> None:
    """What runs over the air: a model file or the baseline at (rho, phi)."""
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--model", help="model file (.safetensors); its K must be the device's")
    what.add_argument("--baseline", action="store_true", help="the model-based baseline (LS/ISAC beam, MAPRT, ML)")
    p.add_argument(
        "--rho", type=finite_float, default=0.5, help="baseline: radar share of the beam (default %(default)s)"
    )
    p.add_argument(
        "--phi-deg", type=finite_float, default=0.0, help="baseline: comm beam phase, degrees (default %(default)s)"
    )


def _device_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", required=True, choices=sorted(PROFILES), help="device profile")
    p.add_argument(
        "--uri",
        required=True,
        type=_uri,
        help="the board's libiio URI, e.g. ip:192.168.2.1 or the emulator's ip:127.0.0.1:PORT",
    )
    p.add_argument(
        "--comm-uri",
        type=_uri,
        default=None,
        help="the comm receiver's (or the Phaser's Pluto's) URI (default: the next port of --uri)",
    )
    p.add_argument(
        "--scene",
        choices=("auto", "emulator", "operator"),
        default="auto",
        help="who sets each scene: the emulator's twin, or you at the bench (auto: the emulator when --uri is one)",
    )


def _emulate(args) -> int:
    from .emulator import __main__ as emulator_cli

    try:
        return emulator_cli.run(args)
    except emulator_cli.UsageError as exc:
        raise _usage(str(exc)) from None


def _scene_controller(args, uris: list[str]):
    from .scene import EmulatorSceneController, OperatorSceneController

    if args.scene == "operator":
        return OperatorSceneController()
    try:
        return EmulatorSceneController(uris)
    except ConnectionError as exc:
        if args.scene == "emulator":
            raise _usage(str(exc)) from None
        print(f"isac-ae: {exc}; asking the operator instead", file=sys.stderr)
        return OperatorSceneController()


def _evaluate(args) -> int:
    from ..cli import _check_evaluable, _check_rho, _evaluate_and_report, _load
    from ..scenario import Scenario
    from .device import DeviceError
    from .frames import FrameError
    from .profiles import ProfileError, profile

    prof = profile(args.device)
    if not prof.full_isac_loop:
        raise _usage(f"the {prof.name} profile cannot run a live ISAC loop: {prof.loop_limit}")
    if args.model:
        loaded = _load(args.model)
        scenario, identity = loaded.scenario, {"model": str(loaded.path), "omega": loaded.omega}
    else:
        scenario = Scenario(num_antennas=prof.num_elements)
        identity = {"baseline": True, "rho": _check_rho(args.rho), "phi_deg": args.phi_deg}
    try:
        prof.check_scenario(scenario)
    except ProfileError as exc:
        raise _usage(str(exc)) from None
    _check_evaluable(scenario, args.samples)
    if args.block < 1:
        raise _usage(f"--block must be a positive number of snapshots, got {args.block}")
    calibration = _calibration(args.calibration, prof) if args.calibration else None
    link = _open_link(args, prof, scenario, args.block)
    system = _system(args, scenario, loaded.model if args.model else None)
    if calibration is not None:
        from .calibrated import CalibratedSystem

        system = CalibratedSystem(system, calibration)
        identity["calibration"] = args.calibration
    identity.update({"device": prof.name, "uri": args.uri})
    try:
        code = _evaluate_and_report(args, system, "cpu", identity, channels=link.channels())
    except (DeviceError, FrameError, RuntimeError, ValueError) as exc:  # a board gone, no frame, no operator
        raise _usage(f"over the air: {exc}") from None
    finally:
        _close(link.board, link.comm)
    _print_link_stats(link.stats)
    return code


def _open_link(args, prof, scenario, block: int):
    """The live ISAC link (board, comm receiver, scene controller) of ``--uri`` / ``--comm-uri``; close its
    board and comm receiver when done."""
    from .device import DeviceError, Transceiver, next_port_uri
    from .link import OverTheAirLink

    try:
        comm_uri = args.comm_uri or next_port_uri(args.uri)
        board = Transceiver(prof, args.uri)
        comm = _comm_receiver(prof, comm_uri)
    except DeviceError as exc:
        raise _usage(str(exc)) from None
    return OverTheAirLink(scenario, board, comm, _scene_controller(args, [args.uri, comm_uri]), block=block)


def _print_link_stats(stats) -> None:
    print(
        f"device: {stats.snapshots} snapshots in {stats.scenes} scenes, {stats.seconds:.1f} s on the device, "
        f"{stats.lost_comm_frames} comm frames lost",
        file=sys.stderr,
    )


def _comm_receiver(prof, uri: str):
    """The comm receiver (a Pluto) at the board's rate, or at 2.5 MS/s with a warning where a Pluto cannot
    follow the board (the Quad-MxFE's 250 MS/s): a twin maps samples one to one, a bench would not."""
    from .device import CommReceiver

    rate = prof.default_sample_rate_hz
    if rate > PLUTO_MAX_RATE_HZ:
        print(
            f"isac-ae: a Pluto comm receiver cannot sample at the {prof.name}'s {rate / 1e6:g} MS/s; it runs at "
            "2.5 MS/s (a twin maps samples one to one; a bench needs a receiver at the board's rate)",
            file=sys.stderr,
        )
        rate = 2.5e6
    return CommReceiver(uri, prof.default_lo_hz, rate)


def _system(args, scenario, model):
    if model is not None:
        from ..autoencoder import AutoencoderSystem

        return AutoencoderSystem(model, scenario)
    from ..baselines import BaselineSystem

    return BaselineSystem(scenario, args.rho, math.radians(args.phi_deg))


def _calibration(path, prof):
    """The calibration file ``path``, refused unless it is this device's."""
    from .calibration import Calibration, CalibrationError

    try:
        return Calibration.load(path, prof.name, prof.num_elements)
    except (CalibrationError, OSError) as exc:
        raise _usage(f"--calibration {path}: {exc}") from None


def _manifold(path, prof):
    """The manifold file ``path``, refused unless it is this device's, with its K."""
    from .calibration import CalibrationError
    from .manifold import Manifold

    try:
        manifold = Manifold.load(path, device=prof.name)
    except CalibrationError as exc:  # it names the file
        raise _usage(str(exc)) from None
    if manifold.num_elements != prof.num_elements:
        raise _usage(f"{path} has K = {manifold.num_elements} elements, the {prof.name} has K = {prof.num_elements}")
    return manifold


def _capture(args) -> int:
    from ..cli import _check_rho, _load, _output_dir
    from ..scenario import Scenario
    from .capture import CaptureError, CapturePlan, capture_session, draw_scenes, open_bench
    from .device import DeviceError
    from .frames import FrameLayout
    from .link import OverTheAirLink
    from .profiles import ProfileError, profile

    prof = profile(args.device)
    if args.captures < 1 or args.data_samples < 1 or args.retries < 0:
        raise _usage("--captures and --data-samples must be positive, --retries >= 0")
    if args.model:
        loaded = _load(args.model)
        scenario, model = loaded.scenario, loaded.model
    else:
        scenario, model = Scenario(num_antennas=prof.num_elements), None
        _check_rho(args.rho)
    try:
        prof.check_scenario(scenario)
    except ProfileError as exc:
        raise _usage(str(exc)) from None
    system = _system(args, scenario, model)
    layout = FrameLayout(data=args.data_samples)
    out = _output_dir(args.out)

    def connect():
        return open_bench(
            prof.name, args.uri, args.comm_uri, scene_controller=lambda uris: _scene_controller(args, uris)
        )

    try:
        bench = connect()
        # On a twin the scenes carry the amplitudes that give the scenario's SNRs at the measured noise floor.
        link = OverTheAirLink(scenario, bench.board, bench.comm, bench.scenes, layout=layout)
        amplitudes = _recorded_amplitudes(out, list(link.amplitudes()))
        plan = CapturePlan(
            prof.name,
            scenario,
            draw_scenes(scenario, args.captures, args.seed, *amplitudes),
            system.beam.cpu().numpy(),
            system.constellation.cpu().numpy(),
            args.seed,
            layout=layout,
        )
        opened = [bench]  # the session's first connection is the one the noise floor was measured on

        def reuse_then_connect():
            return opened.pop() if opened else connect()

        paths = capture_session(
            out, plan, reuse_then_connect, retries=args.retries, log=lambda line: print(line, file=sys.stderr)
        )
    except (DeviceError, CaptureError, ValueError) as exc:
        raise _usage(str(exc)) from None
    print(f"{len(paths)} recordings in {out}")
    return 0


def _recorded_amplitudes(out, measured: list[float]) -> tuple[float, float]:
    """(target, comm) amplitudes: those of the session's existing recordings where there are some (a resumed
    session must draw the same scenes, and a new noise measurement scatters), else the measured ones."""
    from .capture import CaptureError, captures_in, load_capture

    target, comm = measured
    known_target = known_comm = False
    for path in captures_in(out):
        try:
            scene = load_capture(path).labels.scene
        except CaptureError:
            continue  # the session itself refuses or redoes it
        if not known_comm:
            comm, known_comm = scene.comm_amplitude, True
        if scene.targets and not known_target:
            target, known_target = scene.targets[0].amplitude, True
        if known_target and known_comm:
            break
    return target, comm


def _open_instrument(args, prof):
    """(device, comm receiver or None, scene controller) for calibration and manifold measurement."""
    from .device import DeviceError, PhaserArray, Transceiver, next_port_uri

    try:
        second = args.comm_uri or next_port_uri(args.uri)
        if prof.name == "phaser":
            device, comm = PhaserArray(args.uri, second), None
        else:
            device = Transceiver(prof, args.uri)
            comm = _comm_receiver(prof, second)
    except DeviceError as exc:
        raise _usage(str(exc)) from None
    return device, comm, _scene_controller(args, [args.uri, second])


def _scene(args) -> int:
    from ..scenario import Scenario, ScenarioError
    from .calibration import CalibrationError, place_source
    from .device import DeviceError
    from .frames import FrameError
    from .link import OverTheAirLink
    from .profiles import profile
    from .scene import Scene, Target

    prof = profile(args.device)
    for name in ("target_deg", "comm_deg"):
        value = getattr(args, name)
        if value is not None and not -90.0 <= value <= 90.0:
            raise _usage(f"--{name.replace('_', '-')} must lie in [-90, 90] degrees, got {value:g}")
    if prof.name == "phaser":
        if args.target_deg is None:
            raise _usage("the Phaser's scene is its source: give --target-deg")
        if not args.source_amplitude >= 0:
            raise _usage(f"--source-amplitude must be >= 0, got {args.source_amplitude:g}")
    elif args.background_out is None:
        raise _usage(f"a {prof.name} needs --background-out (the background the flowgraph removes)")
    elif Path(args.background_out).is_dir():
        raise _usage(f"--background-out {args.background_out} is a directory")
    device, comm, scenes = _open_instrument(args, prof)
    try:
        if prof.name == "phaser":
            scene = place_source(scenes, args.target_deg, args.source_amplitude)
        else:
            try:
                scenario = Scenario(
                    num_antennas=prof.num_elements, snr_radar_db=args.snr_radar_db, snr_comm_db=args.snr_comm_db
                )
            except ScenarioError as exc:
                raise _usage(str(exc)) from None
            link = OverTheAirLink(scenario, device, comm, scenes)
            background = link.background()
            background.save(args.background_out)
            radar, comm_amplitude = link.amplitudes()
            targets = () if args.target_deg is None else (Target(args.target_deg, radar),)
            scene = Scene(targets=targets, comm_angle_deg=args.comm_deg, comm_amplitude=comm_amplitude)
            scenes.set(scene)
            noise_dbfs = np.round(10 * np.log10(background.noise_power), 1).tolist()
            leakage_db = 20 * np.log10(np.abs(background.leakage).max())
            print(f"wrote {args.background_out}: noise {noise_dbfs} dBFS, leakage {leakage_db:.1f} dB at most")
    except (CalibrationError, DeviceError, FrameError, OSError, RuntimeError) as exc:
        raise _usage(f"setting the scene failed: {exc}") from None
    finally:
        _close(device, comm)
    print(f"scene: {scene.describe()}")
    return 0


def _close(*devices) -> None:
    """Stop what a command opened (a cyclic TX buffer keeps transmitting otherwise)."""
    for device in devices:
        if device is not None:
            device.close()


def _calibrate(args) -> int:
    from .calibration import CalibrationError
    from .device import DeviceError
    from .frames import FrameError
    from .profiles import profile

    prof = profile(args.device)
    if args.samples < 256:
        raise _usage(f"--samples must be at least 256, got {args.samples}")
    device, comm, scenes = _open_instrument(args, prof)
    try:
        calibration = _run_calibration(prof, device, comm, scenes, args.samples)
        calibration.save(args.out)
    except (CalibrationError, DeviceError, FrameError, OSError, RuntimeError) as exc:
        raise _usage(f"calibration failed: {exc}") from None
    finally:
        _close(device, comm)
    print(f"wrote {args.out}: {calibration.method}")
    print(f"RX correction (element 0 = 1): {np.round(calibration.rx_correction, 3).tolist()}")
    return 0


def _run_calibration(prof, device, comm, scenes, samples: int):
    """Calibrate the opened instrument (:func:`_open_instrument`), warning when its SNR is too low."""
    from .calibration import calibrate_digital, calibrate_phaser

    if prof.name == "phaser":
        calibration = calibrate_phaser(device, scenes, samples=samples)
    else:
        calibration = calibrate_digital(device, comm, scenes, data=samples)
    for name, value in calibration.diagnostics.items():
        if name.endswith("snr_db") and value < CALIBRATION_MIN_SNR_DB:
            # The estimates' error grows as 1/sqrt(SNR): at 3 dB the K = 16 TX factors are ~0.1 off.
            print(
                f"isac-ae: warning: {name} = {value:.1f} dB is below {CALIBRATION_MIN_SNR_DB:g} dB: the factors are "
                "noisy; move the reflector or receiver closer (on a twin: the scene's fading draw) and run again",
                file=sys.stderr,
            )
    return calibration


def _measure_manifold(args) -> int:
    from .calibration import CalibrationError
    from .device import DeviceError
    from .frames import FrameError
    from .profiles import profile

    prof = profile(args.device)
    first, last, step = args.angles_deg
    if not (-90 <= first <= last <= 90 and step > 0):
        raise _usage(f"--angles-deg needs -90 <= FIRST <= LAST <= 90 and STEP > 0, got {args.angles_deg}")
    device, comm, scenes = _open_instrument(args, prof)
    try:
        manifold = _run_manifold(prof, device, scenes, args.angles_deg, args.samples)
        manifold.save(args.out)
    except (CalibrationError, DeviceError, FrameError, OSError, RuntimeError, ValueError) as exc:
        raise _usage(f"manifold measurement failed: {exc}") from None
    finally:
        _close(device, comm)
    count = len(manifold.angles_deg)
    print(f"wrote {args.out}: {count} angles from {first:g} to {last:g} deg, K = {manifold.num_elements}")
    return 0


def _run_manifold(prof, device, scenes, angles_deg, samples: int):
    """Measure the opened instrument's manifold over the grid ``angles_deg`` = (first, last, step), degrees."""
    from .manifold import measure_digital, measure_phaser

    first, last, step = angles_deg
    angles = np.arange(first, last + step / 2, step)
    if prof.name == "phaser":
        return measure_phaser(device, scenes, angles, samples=samples)
    return measure_digital(device, scenes, angles, data=samples)


# --- hw finetune ---------------------------------------------------------------------------------------


def _finetune(args) -> int:
    """Fine-tune ``--model`` on the device with ``--method`` and write the result as a model file in ``--out``.

    Everything given is checked before the device is touched; the output
    directory holds the checkpoint (``<model file stem>.checkpoint.pt``, and
    whatever the method keeps beside it) until the model file is written.
    """
    from ..autoencoder.modelfile import save_model
    from ..autoencoder.sweep import model_filename
    from ..cli import _load, _output_dir
    from .profiles import ProfileError, profile

    prof = profile(args.device)
    method, used = args.method, FINETUNE_INPUTS[args.method]
    for name in ("captures", "manifold", "calibration", "block"):
        if getattr(args, name) is not None and name not in used:
            takes = ", ".join(f"--{u}" for u in used)
            raise _usage(f"--{name} is not an input of --method {method} (it takes {takes})")
    if method == "receivers" and args.captures is None:
        raise _usage("--method receivers needs --captures DIR (isac-ae hw capture --model M records them)")
    run = {"surrogate": _finetune_surrogate, "receivers": _finetune_receivers, "model-free": _finetune_model_free}
    prepared = run[method](args, prof)  # the method's own checks and imports, before any file is written
    loaded = _load(args.model)
    try:
        prof.check_scenario(loaded.scenario)
    except ProfileError as exc:
        raise _usage(f"{args.model}: {exc}") from None
    name = f"{method.replace('-', '_')}_{model_filename(loaded.omega)}"
    checkpoint_name = name.removesuffix(".safetensors") + ".checkpoint.pt"
    out = _output_dir(args.out, [name, checkpoint_name])
    target, checkpoint = out / name, out / checkpoint_name
    if target.exists():
        raise _usage(
            f"{target} exists: this fine-tuning has finished (delete it to run again, or choose another --out)"
        )
    if checkpoint.exists():
        print(f"resuming from {checkpoint} (delete it to start afresh)", file=sys.stderr)
    started = time.perf_counter()
    try:
        with _finetune_progress(not args.quiet) as progress, _one_torch_thread():
            model, metadata, inputs, summary = prepared(loaded, out, checkpoint, progress)
    except KeyboardInterrupt:
        if any(out.glob(checkpoint.name + "*")):
            print(f"isac-ae: the same command resumes from {checkpoint}", file=sys.stderr)
        raise
    training = {
        "budget": args.budget,
        "seed": args.seed,
        "fine_tuning": {
            "method": method,
            "device": prof.name,
            "uri": args.uri,
            "inputs": inputs,
            "report": metadata,  # the method's own record
        },
        "nominal": {
            "path": str(loaded.path.resolve()),
            "sha256": _sha256(loaded.path),
            "training": loaded.metadata["training"],
            "git_commit": loaded.metadata.get("git_commit"),
        },
    }
    try:
        save_model(target, model, loaded.scenario, loaded.omega, training, args.command_line)
    except ValueError as exc:  # non-finite weights: the run diverged
        raise _usage(str(exc)) from None
    for path in out.glob(checkpoint.name + "*"):  # the checkpoint and what the method keeps beside it
        path.unlink()
    print(f"fine-tuned ({method}, {args.budget} budget) in {time.perf_counter() - started:.1f} s: {summary}")
    print(f"wrote {target}")
    return 0


def _sha256(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _file_record(path) -> dict:
    """How a model file names an input file: its absolute path and its SHA-256."""
    return {"path": str(Path(path).resolve()), "sha256": _sha256(path)}


@contextlib.contextmanager
def _one_torch_thread():
    """Torch on one thread while a method runs: on a loaded 2-core machine a second OpenMP thread spin-waits
    for a busy core (a small training step took 190 ms with two threads against 9 ms with one)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def _finetune_progress(enabled: bool):
    """The callback the methods report to, feeding a tqdm bar opened at the first report (what a method measures
    before it trains prints its own lines): a report with ``step`` of ``steps`` (the Trainer's StepReport, the
    receivers' ReceiverProgress) moves the bar there (a resumed run starts where it stopped) and shows the
    report's other numbers."""
    from tqdm import tqdm

    bars = []

    def update(report) -> None:
        if not bars:
            bars.append(
                tqdm(
                    total=report.steps,
                    desc="fine-tuning",
                    unit="step",
                    disable=not enabled,
                    file=sys.stderr,
                    mininterval=0.5 if sys.stderr.isatty() else 30.0,
                )
            )
        bar = bars[0]
        shown = []
        for field in dataclasses.fields(report) if dataclasses.is_dataclass(report) else ():
            value = getattr(report, field.name)
            if field.name in ("step", "steps") or not field.repr:
                continue
            if getattr(value, "numel", lambda: 0)() == 1:  # a one-member loss (tensor)
                value = float(value)
            if isinstance(value, float):
                shown.append(f"{field.name} {value:.4g}")
            elif isinstance(value, (int, str)):
                shown.append(f"{field.name} {value}")
        bar.set_postfix_str(" ".join(shown), refresh=False)
        bar.update(report.step - bar.n)

    try:
        yield update
    finally:
        for bar in bars:
            bar.close()


def _finetune_surrogate(args, prof):
    """Method (a): check the given manifold and calibration now; the run (a callable) measures what is missing."""
    from .calibration import CalibrationError
    from .device import DeviceError
    from .finetune.surrogate import finetune
    from .frames import FrameError

    given_manifold = _manifold(args.manifold, prof) if args.manifold else None
    given_calibration = _calibration(args.calibration, prof) if args.calibration else None

    def run(loaded, out, checkpoint, progress):
        paths = {
            "manifold": Path(args.manifold) if args.manifold else out / MEASURED_MANIFOLD,
            "calibration": Path(args.calibration) if args.calibration else out / MEASURED_CALIBRATION,
        }
        manifold, calibration = given_manifold, given_calibration
        if manifold is None and paths["manifold"].exists():
            manifold = _manifold(paths["manifold"], prof)
            print(f"using {paths['manifold']} of an earlier run (delete it to measure again)", file=sys.stderr)
        if calibration is None and paths["calibration"].exists():
            calibration = _calibration(paths["calibration"], prof)
            print(f"using {paths['calibration']} of an earlier run (delete it to calibrate again)", file=sys.stderr)
        if manifold is None or calibration is None:
            device, comm, scenes = _open_instrument(args, prof)
            try:
                if calibration is None:
                    print(f"calibrating into {paths['calibration']}", file=sys.stderr)
                    calibration = _run_calibration(prof, device, comm, scenes, MEASUREMENT_SAMPLES)
                    calibration.save(paths["calibration"])
                if manifold is None:
                    print(f"measuring the manifold into {paths['manifold']}", file=sys.stderr)
                    manifold = _run_manifold(prof, device, scenes, MANIFOLD_ANGLES_DEG, MEASUREMENT_SAMPLES)
                    manifold.save(paths["manifold"])
            except (CalibrationError, DeviceError, FrameError, OSError, RuntimeError) as exc:
                raise _usage(f"measuring the device failed: {exc}") from None
            finally:
                _close(device, comm)
        try:
            model, metadata = finetune(
                loaded.model,
                loaded.scenario,
                loaded.omega,
                manifold,
                prof.name,
                calibration=calibration,
                budget=args.budget,
                checkpoint=checkpoint,
                progress=progress,
                seed=args.seed,
            )
        except ValueError as exc:
            raise _usage(str(exc)) from None
        fit = metadata["fit"]
        summary = (
            f"manifold residual {fit['residual']:.3g} (start {fit['start_residual']:.3g}), TX gains from the "
            f"{fit['tx_source']}"
        )
        return model, metadata, {name: _file_record(path) for name, path in paths.items()}, summary

    return run


def _finetune_receivers(args, prof):
    """Method (b): the captures are read and checked by the method itself (before it trains)."""
    from .finetune.receivers import finetune_receivers

    def run(loaded, out, checkpoint, progress):
        try:
            model, metadata = finetune_receivers(
                loaded,
                args.captures,
                prof.name,
                budget=args.budget,
                seed=args.seed,
                checkpoint=checkpoint,
                progress=progress,
            )
        except ValueError as exc:
            raise _usage(str(exc)) from None
        loss = metadata["held_out_loss"]
        summary = (
            f"held-out J_ISAC {loss['nominal']:.4g} -> {loss['fine_tuned']:.4g} after {metadata['steps']} steps "
            f"(stopped: {metadata['stopped']})"
        )
        return model, metadata, {"captures": str(Path(args.captures).resolve())}, summary

    return run


def _finetune_model_free(args, prof):
    """Method (c): the transmitter trained through the live link."""
    from .device import DeviceError
    from .frames import FrameError

    module = __package__ + ".finetune.model_free"
    try:
        from .finetune.model_free import finetune_model_free
    except ModuleNotFoundError as exc:
        if exc.name != module:  # a dependency of the module that is missing: a real error
            raise
        raise _usage(f"--method model-free is not available in this installation ({module} is missing)") from None
    block = args.block or MODEL_FREE_BLOCK

    def run(loaded, out, checkpoint, progress):
        link = _open_link(args, prof, loaded.scenario, block)
        try:
            model, metadata = finetune_model_free(
                loaded,
                link.channels(),
                budget=args.budget,
                seed=args.seed,
                checkpoint=checkpoint,
                progress=progress,
                block=block,
                device=prof.name,
            )
        except ValueError as exc:
            raise _usage(str(exc)) from None
        except (DeviceError, FrameError, RuntimeError) as exc:  # a board gone, no frame, no operator
            raise _usage(f"over the air: {exc}") from None
        finally:
            _close(link.board, link.comm)
        stats = link.stats
        summary = (
            f"{stats.snapshots} snapshots in {stats.scenes} scenes over the air, {stats.seconds:.1f} s on the device"
        )
        return model, metadata, {"block": block, "link": dataclasses.asdict(stats)}, summary

    return run
