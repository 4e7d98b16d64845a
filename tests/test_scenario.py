import numpy as np
import pytest

from isac_ae import Scenario, ScenarioError
from isac_ae.array import impaired_positions, nominal_positions


def test_paper_defaults():
    sc = Scenario()
    assert (sc.num_antennas, sc.num_messages) == (16, 4)
    assert (sc.snr_comm_db, sc.snr_radar_db, sc.pfa, sc.p_target) == (20.0, 0.0, 1e-2, 0.5)
    assert sc.target_sector_deg == (-20.0, 20.0) and sc.comm_sector_deg == (30.0, 50.0)
    assert sc.comm_gain_var == pytest.approx(100.0) and sc.radar_gain_var == pytest.approx(1.0)
    np.testing.assert_allclose(sc.theta_vector, np.deg2rad([-20, 20, 30, 50]))


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"num_antennas": 0}, "K"),
        ({"num_messages": 1}, "|M|"),
        ({"target_sector_deg": (10.0, -10.0)}, "must not exceed"),
        ({"comm_sector_deg": (30.0, 95.0)}, "[-90, 90]"),
        ({"pfa": 0.0}, "Pfa"),
        ({"pfa": 1.0}, "Pfa"),
        ({"p_target": 1.5}, "p_target"),
        ({"spacing_std": -0.1}, "spacing_std"),
        ({"snr_comm_db": float("nan")}, "finite"),
        ({"position_model": "bogus"}, "position_model"),
        # Bounds shared with the C++ blocks (lib/params.h) and physical sense.
        ({"num_antennas": 4097}, "[1, 4096]"),
        ({"num_antennas": 100_000_000}, "[1, 4096]"),
        ({"num_messages": 257}, "[2, 256]"),
        ({"snr_radar_db": 1e6}, "[-200, 200] dB"),
        ({"snr_comm_db": -201.0}, "[-200, 200] dB"),
        ({"spacing_std": 0.6}, "spacing_std"),
        ({"impairment_seed": -1}, "non-negative integer"),
        # Wrong types (as a doctored model file's JSON gives them) are ScenarioErrors, not TypeErrors.
        ({"impairment_seed": 1.5}, "impairment_seed must be an integer"),
        ({"num_antennas": 16.0}, "num_antennas must be an integer"),
        ({"num_antennas": True}, "num_antennas must be an integer"),
        ({"snr_comm_db": "20"}, "snr_comm_db must be a number"),
        ({"target_sector_deg": 5.0}, "(min, max)"),
        ({"target_sector_deg": "ab"}, "(min, max)"),
        ({"target_sector_deg": (-10.0, 0.0, 10.0)}, "(min, max)"),
        ({"comm_sector_deg": ("a", 10.0)}, "must be a number"),
        ({"position_model": None}, "position_model"),
    ],
)
def test_invalid_parameters_are_refused(changes, message):
    with pytest.raises(ScenarioError, match=message.replace("|", r"\|").replace("[", r"\[").replace("]", r"\]")):
        Scenario(**changes)


def test_bounds_are_inclusive_and_numpy_types_are_normalised():
    sc = Scenario(
        num_antennas=np.int64(4096),
        num_messages=256,
        snr_comm_db=200.0,
        snr_radar_db=-200.0,
        spacing_std=0.5,
        impairment_seed=np.int64(3),
        target_sector_deg=np.array([-90.0, 90.0]),
    )
    assert type(sc.num_antennas) is int and type(sc.impairment_seed) is int
    assert sc.target_sector_deg == (-90.0, 90.0) and hash(sc) == hash(Scenario.from_dict(sc.to_dict()))


def test_dict_round_trip():
    sc = Scenario(spacing_std=1 / 30, impairment_seed=7, comm_sector_deg=(20, 40))
    assert Scenario.from_dict(sc.to_dict()) == sc
    with pytest.raises(ScenarioError, match="unknown"):
        Scenario.from_dict({**sc.to_dict(), "bogus": 1})


def test_impairment_is_a_fixed_seeded_realisation():
    a = impaired_positions(16, 1 / 30, seed=3)
    np.testing.assert_array_equal(a, impaired_positions(16, 1 / 30, seed=3))
    assert not np.allclose(a, impaired_positions(16, 1 / 30, seed=4))
    assert a[0] == 0.0 and np.all(np.diff(a) > 0)
    # Spacings are N(1/2, sigma^2): over many seeds their sample std matches sigma.
    spacings = np.concatenate([np.diff(impaired_positions(16, 1 / 30, seed=s)) for s in range(400)])
    n = spacings.size
    assert abs(spacings.mean() - 0.5) < 5 * (1 / 30) / np.sqrt(n)
    assert abs(spacings.std() / (1 / 30) - 1) < 5 / np.sqrt(2 * n)


def test_scaled_position_model_grows_with_index():
    rng = np.random.default_rng(5)
    d = rng.normal(0.5, 1 / 30, size=16)
    np.testing.assert_allclose(impaired_positions(16, 1 / 30, seed=5, model="scaled"), np.arange(16) * d)
    np.testing.assert_array_equal(impaired_positions(16, 0.0, seed=5), nominal_positions(16))
