"""`source .venv/bin/activate` is all GNU Radio Companion needs (written by scripts/setup.sh).

The activation puts the venv's installed blocks first on GRC_BLOCKS_PATH
(deactivate restores the old value) and the venv's Python and GRC tools first on
PATH; the venv's `grcc` then compiles an example and runs it with the venv's
Python. Checked on the venv of the interpreter running the tests, in a shell that
inherits none of the caller's GRC_BLOCKS_PATH, PYTHONPATH or activation.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("gnuradio", reason="GNU Radio is not installed")

REPO = Path(__file__).resolve().parents[1]
VENV = Path(sys.prefix)
if sys.prefix == sys.base_prefix or not (VENV / "bin" / "activate").is_file():
    pytest.skip("not run from a venv (make test runs the tests with .venv/bin/python)", allow_module_level=True)
BLOCKS = VENV / "share" / "gnuradio" / "grc" / "blocks"
# What a venv activation or the test runner may have exported.
INHERITED = (
    "GRC_BLOCKS_PATH",
    "PYTHONPATH",
    "PYTHONHOME",
    "VIRTUAL_ENV",
    "VIRTUAL_ENV_PROMPT",
    "_OLD_VIRTUAL_PATH",
    "_OLD_GRC_BLOCKS_PATH",
    "_ISAC_AE_GRC_ACTIVE",
)


def _bash(script: str, cwd: Path, grc_blocks_path: str | None = None) -> subprocess.CompletedProcess:
    """Run a bash script in a fresh environment: PATH without the venv, GRC_BLOCKS_PATH as given."""
    env = {k: v for k, v in os.environ.items() if k not in INHERITED}
    venv_bin = (VENV / "bin").resolve()
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if p and Path(p).resolve() != venv_bin)
    if grc_blocks_path is not None:
        env["GRC_BLOCKS_PATH"] = grc_blocks_path
    env["ACTIVATE"] = str(VENV / "bin" / "activate")
    return subprocess.run(["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("old", [None, "/elsewhere/blocks:/more/blocks"], ids=["unset", "set"])
def test_activate_sets_grc_blocks_path_and_deactivate_restores_it(tmp_path, old):
    # Sourced twice, as a user re-activating does: the second must not stack a second copy.
    proc = _bash(
        'source "$ACTIVATE"; source "$ACTIVATE"\n'
        'printf "%s\\n" "$GRC_BLOCKS_PATH" "$(command -v python)" "$(command -v grcc)" '
        '"$(command -v gnuradio-companion)"\n'
        "deactivate\n"
        'printf "%s\\n" "${GRC_BLOCKS_PATH-<unset>}" "$(command -v grcc)"\n',
        tmp_path,
        old,
    )
    assert proc.returncode == 0, proc.stderr
    active, python, grcc, grc, restored, grcc_after = proc.stdout.splitlines()
    entries = active.split(os.pathsep)
    assert entries[0] == str(BLOCKS)
    assert entries[1:] == (old.split(os.pathsep) if old else [])
    installed = sorted(p.name for p in BLOCKS.glob("isac_ae_*.block.yml"))
    assert installed == sorted(p.name for p in (REPO / "grc").glob("*.block.yml")), (
        f"{BLOCKS} does not hold every block of grc/ (run make setup)"
    )
    assert (python, grcc, grc) == (
        str(VENV / "bin" / "python"),
        str(VENV / "bin" / "grcc"),
        str(VENV / "bin" / "gnuradio-companion"),
    )
    assert restored == (old if old is not None else "<unset>")
    assert grcc_after != str(VENV / "bin" / "grcc")


def test_grcc_of_the_activated_venv_compiles_and_runs_an_example(tmp_path):
    """grcc -r runs the flowgraph with its own interpreter: the example's isac_ae blocks import only under the
    venv's."""
    example = REPO / "examples" / "simulation" / "isac_baseline_sim_no_gui.grc"
    proc = _bash(f'source "$ACTIVATE" && grcc -o out -r "{example}"', tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert (tmp_path / "out" / "isac_baseline_sim_no_gui.py").is_file(), output
    assert "Traceback" not in output, output
    assert "Baseline: Pd" in output, output  # the ISAC Metrics block's summary when the run ends
