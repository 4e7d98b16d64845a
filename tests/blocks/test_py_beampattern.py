"""Python beampattern block against isac_ae.array.beampattern."""

import numpy as np
import pytest

from .conftest import NEEDS_GNURADIO

pytest.importorskip("gnuradio", reason=NEEDS_GNURADIO)

from isac_ae.array import beampattern as array_beampattern  # noqa: E402
from isac_ae.array import impaired_positions, nominal_positions  # noqa: E402
from isac_ae.blocks import beampattern  # noqa: E402


def _beams(rng, n, K=16):
    v = rng.standard_normal((n, K)) + 1j * rng.standard_normal((n, K))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.complex64)


@pytest.mark.parametrize("decimation", [1, 7])
def test_equals_the_core_beampattern(run, rng, decimation):
    v = _beams(rng, 70)
    bp = beampattern.beampattern(K=16, points=256, angle_range_deg=(-90, 90), decimation=decimation)
    (E,) = run(bp, [(v, "c", 16)], [("f", 256)])
    assert E.shape == (70 // decimation, 256)
    angles = np.radians(np.linspace(-90, 90, 256))
    for i, row in enumerate(E):
        expected = array_beampattern(nominal_positions(16), v[(i + 1) * decimation - 1], angles)
        np.testing.assert_allclose(row, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(bp.angles_deg(), np.linspace(-90, 90, 256))
    assert bp.x_step_deg() == pytest.approx(180 / 255)


def test_impaired_positions_range_and_db(run, rng):
    pos = impaired_positions(8, 1 / 30, 0)
    v = _beams(rng, 5, K=8)
    bp = beampattern.beampattern(K=8, positions=pos, points=64, angle_range_deg=(-30, 60), decimation=1, db=True)
    (E,) = run(bp, [(v, "c", 8)], [("f", 64)])
    angles = np.radians(np.linspace(-30, 60, 64))
    for row, vi in zip(E, v):
        np.testing.assert_allclose(row, 10 * np.log10(array_beampattern(pos, vi, angles)), rtol=1e-4, atol=1e-4)


def test_unit_beam_toward_broadside_peaks_at_k(run):
    v = np.full((3, 16), 1 / 4, np.complex64)  # ||v|| = 1, in phase
    (E,) = run(beampattern.beampattern(K=16, points=181, decimation=3), [(v, "c", 16)], [("f", 181)])
    assert E.shape == (1, 181)
    assert E[0].argmax() == 90 and E[0, 90] == pytest.approx(16.0, rel=1e-5)  # |sum v_k|^2 = (16 / 4)^2
    assert E[0, 90] == pytest.approx(np.abs(np.sum(v[2])) ** 2, rel=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(K=0), "K must be"),
        (dict(points=1), "points"),
        (dict(decimation=0), "decimation"),
        (dict(K=4, positions=[0, 0.5]), "positions"),
        (dict(angle_range_deg=(10, -10)), "angle_range_deg"),
        (dict(angle_range_deg=(10, 10)), "min < max"),
        (dict(angle_range_deg=(0,)), r"angle_range_deg must be \(min, max\)"),  # was an unpacking error
        (dict(K=4, positions=[0, 0.5, float("nan"), 1.5]), "finite"),  # was accepted: NaN patterns
        (dict(K=4, positions=[0, 0.5, float("inf"), 1.5]), "finite"),
        (dict(K=2, positions=[0, 1e5]), "within"),
        (dict(K=16.5), "K must be an integer"),  # was silently 16
        (dict(K=10**6), r"K must be an integer in \[1, 4096\]"),
        (dict(points=10**9), "points must be an integer in"),  # was a 7 GiB allocation
        (dict(decimation=10**7), r"decimation \(for K = 16\) must be an integer in \[1, 2097152\]"),  # crashed GR
        (dict(db="no"), "db must be True or False"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        beampattern.beampattern(**kwargs)


def test_wrong_vector_length_cannot_be_connected():
    from gnuradio import blocks, gr

    tb = gr.top_block()
    with pytest.raises(ValueError, match="itemsize mismatch"):
        tb.connect(blocks.vector_source_c([0j] * 8, False, 8), beampattern.beampattern(K=16))
