"""The one list of shipped sweeps (isac_ae.pretrained.SWEEPS) agrees with models/ and with pyproject's data-files."""

import tomllib
from pathlib import Path

import pytest

from isac_ae import Scenario
from isac_ae.autoencoder.modelfile import read_metadata
from isac_ae.pretrained import SWEEPS, sweep_dir

ROOT = Path(__file__).resolve().parents[1]


def test_every_models_directory_is_a_registered_sweep_and_back():
    shipped = {p.parent.name for p in (ROOT / "models").glob("*/*.safetensors")}
    assert shipped == set(SWEEPS)


@pytest.mark.parametrize("name", list(SWEEPS))
def test_sweep_directory_holds_exactly_its_omega_grid_on_its_scenario(name):
    sweep = SWEEPS[name]
    files = sorted((ROOT / "models" / name).glob("*.safetensors"))
    assert {p.name for p in files} == set(sweep.filenames())
    for path in files:
        meta = read_metadata(path)
        assert Scenario.from_dict(meta["scenario"]) == sweep.scenario, path
        assert meta["omega"] in sweep.omegas
        assert ("conditioning" in meta) == sweep.conditioned


def test_pyproject_installs_every_sweep_and_nothing_else():
    data_files = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    expected = {f"share/isac_ae/models/{name}": [f"models/{name}/*.safetensors"] for name in SWEEPS}
    assert data_files == expected


def test_sweep_dir_names_the_shipped_sweeps_when_unknown():
    assert sweep_dir("nominal").name == "nominal"
    with pytest.raises(KeyError, match="shipped: nominal, spacing_l30"):
        sweep_dir("spacing_l60")
