"""isac-ae study fig5 at the tiny budget: run files, table and plots, resuming, refusals, Ray against in-process."""

import dataclasses
import json
import shutil
import subprocess
import sys

import pytest

from isac_ae import study
from isac_ae.cli import main
from isac_ae.pretrained import FIG5_OMEGAS

SWEEP = "spacing_l30_scaled"  # the position model under which the baseline pays for the impairment
KEYS = (f"{SWEEP}_r0_s0", f"{SWEEP}_r1_s0")
STUDY = ["study", "fig5", "--realisations", "2", "--seeds", "1", "--budget", "tiny", "--impairments", SWEEP]


def _runs():
    return study.plan(study.select_sweeps("fig5", [SWEEP]), 2, 1, "tiny")


def _numbers(path):
    """A run file without its timing (which differs between any two executions)."""
    data = json.loads(path.read_text())
    del data["timing"]
    return data


@pytest.fixture(scope="module")
def sequential(tmp_path_factory):
    """The 2 realisations x 1 seed study, in process (the reference)."""
    out = tmp_path_factory.mktemp("sequential")
    assert main([*STUDY, "--sequential", "--out", str(out)]) == 0
    return out


def test_sequential_study_writes_one_file_per_run_and_the_report(sequential):
    assert sorted(p.name for p in (sequential / "runs").iterdir()) == [f"{k}.json" for k in KEYS]
    runs = [_numbers(sequential / "runs" / f"{k}.json") for k in KEYS]
    for realisation, run in enumerate(runs):
        assert run["config"]["scenario"]["impairment_seed"] == realisation
        assert run["config"]["scenario"]["position_model"] == "scaled"
        assert [r["omega"] for r in run["comparison"]] == list(FIG5_OMEGAS)
        assert run["baseline_front"] and all(r["front_pd"] or r["front_rmse"] for r in run["baseline_front"])
    # Two arrays: the AE and the baseline front both differ between the realisations.
    assert [r["pd"] for r in runs[0]["comparison"]] != [r["pd"] for r in runs[1]["comparison"]]
    assert runs[0]["baseline_front"] != runs[1]["baseline_front"]

    summary = json.loads((sequential / "study_fig5.json").read_text())
    (sweep,) = summary["sweeps"]
    assert sweep["realisations"] == [0, 1] and sweep["seeds"] == [0]
    for i, row in enumerate(sweep["rows"]):
        pair = sorted(run["comparison"][i]["pd"] for run in runs)
        assert (row["pd"]["min"], row["pd"]["max"], row["pd"]["n"]) == (pair[0], pair[1], 2)
        assert row["pd"]["median"] == pytest.approx(sum(pair) / 2)
    table = (sequential / "study_fig5.md").read_text()
    assert f"({SWEEP})" in table and table.count("\n| ") == 1 + len(FIG5_OMEGAS)  # header and one row per omega_r
    for suffix in ("png", "pdf"):
        assert (sequential / f"study_fig5_{SWEEP}.{suffix}").stat().st_size > 1000


def test_an_interrupted_study_redoes_only_the_missing_run(sequential, tmp_path, monkeypatch):
    class Interrupted(Exception):
        pass

    def stop(run, result):
        raise Interrupted

    with pytest.raises(Interrupted):
        study.Study(_runs(), tmp_path).run(0, on_run=stop)
    first = tmp_path / "runs" / f"{KEYS[0]}.json"
    assert [p.name for p in (tmp_path / "runs").iterdir()] == [first.name]
    stamp, content = first.stat().st_mtime_ns, first.read_bytes()

    trained = []
    train = study.train
    monkeypatch.setattr(study, "train", lambda run, progress=None: trained.append(run.key) or train(run, progress))
    assert main([*STUDY, "--sequential", "--out", str(tmp_path)]) == 0
    assert trained == [KEYS[1]]
    assert (first.stat().st_mtime_ns, first.read_bytes()) == (stamp, content)
    for key in KEYS:  # and the resumed study holds what an uninterrupted one does
        assert _numbers(tmp_path / "runs" / f"{key}.json") == _numbers(sequential / "runs" / f"{key}.json")


def _corrupt(path):
    path.write_text(path.read_text()[:100])


def _other_budget(path):
    data = json.loads(path.read_text())
    data["config"]["training"]["samples_per_stage"] *= 2
    path.write_text(json.dumps(data))


def _other_run(path):
    path.write_text(path.with_name(f"{KEYS[0]}.json").read_text())


@pytest.mark.parametrize(
    "damage, message",
    [
        (_corrupt, "cannot be read"),
        (_other_budget, "training.samples_per_stage: 40000 != 20000"),
        (_other_run, f"holds run '{KEYS[0]}', not '{KEYS[1]}'"),
    ],
)
def test_a_damaged_or_foreign_run_file_is_refused_not_redone(sequential, tmp_path, capsys, damage, message):
    out = tmp_path / "study"
    shutil.copytree(sequential, out)
    path = out / "runs" / f"{KEYS[1]}.json"
    damage(path)
    before = path.read_bytes()
    capsys.readouterr()
    assert main([*STUDY, "--sequential", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and message in err
    assert path.read_bytes() == before


def test_a_run_file_from_before_a_later_config_field_is_used_not_redone(sequential, tmp_path, monkeypatch):
    """TrainingConfig.sector_conditioned came after the first studies: their run files lack it, and its default
    (False) is what they ran with."""
    out = tmp_path / "study"
    shutil.copytree(sequential, out)
    path = out / "runs" / f"{KEYS[1]}.json"
    data = json.loads(path.read_text())
    del data["config"]["training"]["sector_conditioned"]
    path.write_text(json.dumps(data))
    trained = []
    monkeypatch.setattr(study, "train", lambda run, progress=None: trained.append(run.key))
    assert main([*STUDY, "--sequential", "--out", str(out)]) == 0
    assert trained == []

    data["config"]["training"]["sector_conditioned"] = True  # present and different: refused
    path.write_text(json.dumps(data))
    assert main([*STUDY, "--sequential", "--out", str(out)]) == 2
    assert trained == []


@pytest.mark.parametrize(
    "args, message",
    [
        (["--realisations", "0"], "--realisations: must be an integer >= 1, got 0"),
        (["--seeds", "-1"], "--seeds: must be an integer >= 1"),
        (["--impairments", "spacing_l99"], "unknown fig5 sweep(s) 'spacing_l99'"),
        (["--samples", "500"], "--samples 500 is too few for Pfa 0.01"),
        (["--workers", "2"], "takes no --workers"),
        (["--address", "127.0.0.1:9"], "drop --workers and --sequential"),
    ],
)
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys, args, message):
    assert main([*STUDY, "--sequential", "--out", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("isac-ae: error:") and err.count("\n") == 1 and message in err, err
    assert not (tmp_path / "runs").exists()


def test_unknown_figure_and_unwritable_output_are_refused(tmp_path, capsys):
    args = ["--realisations", "1", "--seeds", "1", "--sequential"]
    assert main(["study", "fig2", *args, "--out", str(tmp_path)]) == 2
    assert "invalid choice: 'fig2'" in capsys.readouterr().err
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["study", "fig5", *args, "--out", str(blocker / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot write to output directory {blocker / 'out'}" in err


def test_missing_ray_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees without the extra
    assert main([*STUDY, "--workers", "2", "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"isac-ae: error: {study.EXTRA_MISSING}\n"


def test_ray_gives_the_in_process_numbers(sequential, tmp_path):
    pytest.importorskip("ray")
    study.Study(_runs(), tmp_path).run(workers=2)
    for key in KEYS:  # bit for bit: each run trains and evaluates on one thread wherever it executes
        assert _numbers(tmp_path / "runs" / f"{key}.json") == _numbers(sequential / "runs" / f"{key}.json")


def test_the_core_and_the_cli_do_not_import_ray():
    code = "import sys, isac_ae.cli, isac_ae.study; sys.exit('ray' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


@pytest.mark.parametrize("workers", [0, 1])
def test_a_failing_run_is_named_and_leaves_no_file(tmp_path, workers):
    if workers:
        pytest.importorskip("ray")
    too_few = dataclasses.replace(_runs()[0], samples=10)  # trains, then the evaluation refuses 10 H0 snapshots
    with pytest.raises(study.StudyError, match=f"^run {KEYS[0]} failed: .*H0"):
        study.Study([too_few], tmp_path).run(workers)
    assert not list((tmp_path / "runs").glob("*"))


def test_the_pd_gap_spread_splits_into_seeds_and_realisations():
    """Against a hand computation: realisation 0 has seeds at 0.10 / 0.20 / 0.40 (range 0.30, mean 0.233...),
    realisation 1 at 0.00 / 0.05 and a NaN (range 0.05, mean 0.025), realisation 2 one finite value (no range,
    mean -0.10)."""
    nan = float("nan")
    values = {(0, 0): 0.1, (0, 1): 0.2, (0, 2): 0.4, (1, 0): 0.0, (1, 1): 0.05, (1, 2): nan, (2, 0): -0.1}
    ranges = study.seeds_and_realisations(values)
    assert ranges["seeds"] == pytest.approx((0.30 + 0.05) / 2)
    assert ranges["realisations"] == pytest.approx(0.7 / 3 + 0.1)
    one_seed = study.seeds_and_realisations({(0, 0): 0.1, (1, 0): 0.3})
    assert one_seed["seeds"] is None and one_seed["realisations"] == pytest.approx(0.2)
    assert study.seeds_and_realisations({(0, 0): nan}) == {"seeds": None, "realisations": None}
