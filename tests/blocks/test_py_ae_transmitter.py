"""Python AE transmitter block against isac_ae.autoencoder.AutoencoderSystem.transmit."""

import numpy as np
import pytest

from .conftest import NEEDS_GNURADIO

pytest.importorskip("gnuradio", reason=NEEDS_GNURADIO)

import torch  # noqa: E402

from isac_ae import Scenario  # noqa: E402
from isac_ae.autoencoder import Autoencoder, AutoencoderSystem  # noqa: E402
from isac_ae.autoencoder.modelfile import ModelFileError, load_model, save_model  # noqa: E402
from isac_ae.blocks import ae_transmitters  # noqa: E402

from .conftest import AE_MODEL as MODEL  # noqa: E402


def test_outputs_equal_the_core_transmit(run, rng, model_path, core):
    m = rng.integers(0, 4, 20_000).astype(np.uint8)
    tx = ae_transmitters.ae_transmitter(str(model_path), K=16, M=4)
    y, v = run(tx, [(m, "b", 1)], [("c", 16), ("c", 16)])
    with torch.inference_mode():
        y_core, v_core = core.transmit(torch.from_numpy(m.astype(np.int64)))
    np.testing.assert_array_equal(y, y_core.numpy())
    np.testing.assert_array_equal(v, np.broadcast_to(v_core.numpy(), v.shape))
    np.testing.assert_array_equal(tx.beam(), core.beam.numpy())
    np.testing.assert_array_equal(tx.constellation(), core.constellation.numpy())
    assert np.mean(np.sum(np.abs(y) ** 2, axis=1)) == pytest.approx(1.0, rel=0.02)  # E||y||^2 = 1


def test_shipped_model_name_resolves_from_any_directory(monkeypatch, tmp_path, model_path):
    monkeypatch.chdir(tmp_path)
    tx = ae_transmitters.ae_transmitter(MODEL)
    assert tx.model_path() == str(model_path)
    assert (tx.num_antennas(), tx.num_messages()) == (16, 4)
    assert tx.omega() == pytest.approx(0.09)


def test_set_sectors_recomputes_the_beam_through_the_model(run, model_path):
    loaded = load_model(model_path)
    tx = ae_transmitters.ae_transmitter(str(model_path))
    assert tx.sectors_deg() == ((-20.0, 20.0), (30.0, 50.0))
    tx.set_sectors([-40, 0], None)
    assert tx.sectors_deg() == ((-40.0, 0.0), (30.0, 50.0))
    expected = AutoencoderSystem(loaded.model, loaded.scenario.replace(target_sector_deg=(-40, 0))).beam.numpy()
    np.testing.assert_array_equal(tx.beam(), expected)
    assert not np.allclose(expected, AutoencoderSystem(loaded.model, loaded.scenario).beam.numpy())
    m = np.array([0, 1, 2, 3], np.uint8)
    y, v = run(tx, [(m, "b", 1)], [("c", 16), ("c", 16)])
    np.testing.assert_array_equal(v, np.broadcast_to(expected, v.shape))
    tx.set_comm_sector([20, 60])
    assert tx.sectors_deg() == ((-40.0, 0.0), (20.0, 60.0))
    with pytest.raises(ValueError, match="must not exceed"):
        tx.set_target_sector([10, -10])
    with pytest.raises(ValueError, match=r"\(min, max\)"):
        tx.set_target_sector([1, 2, 3])
    constructed = ae_transmitters.ae_transmitter(str(model_path), target_sector_deg=[-40, 0], comm_sector_deg=[20, 60])
    np.testing.assert_array_equal(constructed.beam(), tx.beam())
    tx.set_sectors([], [])  # empty: back to the sectors the model was trained for
    assert tx.sectors_deg() == ((-20.0, 20.0), (30.0, 50.0))
    np.testing.assert_array_equal(tx.beam(), AutoencoderSystem(loaded.model, loaded.scenario).beam.numpy())


def test_index_out_of_range_gives_zeros_and_one_warning(run, model_path, core, capfd):
    m = np.array([0, 4, 3, 255, 1, 7], np.uint8)
    y, v = run(ae_transmitters.ae_transmitter(str(model_path)), [(m, "b", 1)], [("c", 16), ("c", 16)])
    for i, mi in enumerate(m):
        if mi >= 4:
            np.testing.assert_array_equal(y[i], 0)
        else:
            np.testing.assert_array_equal(y[i], (core.constellation[int(mi)] * core.beam).numpy())
    np.testing.assert_array_equal(v, np.broadcast_to(core.beam.numpy(), v.shape))
    captured = capfd.readouterr()
    assert (captured.out + captured.err).count("message index >= |M|") == 1


@pytest.mark.parametrize("K, M, wrong", [(8, 4, r"K=16 \(block: K=8\)"), (16, 16, r"\|M\|=4 \(block: \|M\|=16\)")])
def test_model_for_another_k_or_m_is_refused(model_path, K, M, wrong):
    with pytest.raises(ModelFileError, match=wrong):
        ae_transmitters.ae_transmitter(str(model_path), K=K, M=M)


def test_model_trained_for_k8_is_refused_by_a_k16_block(tmp_path):
    path = save_model(tmp_path / "k8.safetensors", Autoencoder(8, 4), Scenario(num_antennas=8), 0.1, {})
    with pytest.raises(ModelFileError, match=r"K=8 \(block: K=16\)"):
        ae_transmitters.ae_transmitter(str(path), K=16, M=4)
    tx = ae_transmitters.ae_transmitter(str(path), K=0, M=0)  # 0: take the model's
    assert tx.num_antennas() == 8


def test_missing_or_unreadable_model_file_is_a_clear_error(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        ae_transmitters.ae_transmitter(str(tmp_path / "nope.safetensors"))
    with pytest.raises(ModelFileError, match="no model file"):
        ae_transmitters.ae_transmitter("")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="not a readable model file"):
        ae_transmitters.ae_transmitter(str(bad))
    for not_a_file in (str(tmp_path), "/dev/null"):  # were reported as "not found"
        with pytest.raises(ModelFileError, match="is not a regular file"):
            ae_transmitters.ae_transmitter(not_a_file)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(K=16.5), r"K must be an integer >= 1 \(or 0"),  # was silently K = 16
        (dict(M="4"), r"\|M\| must be an integer >= 1 \(or 0"),
        (dict(K=-1), r"K must be an integer >= 1 \(or 0"),
        (dict(target_sector_deg=(20.0, -20.0)), "must not exceed"),
        (dict(target_sector_deg=(float("nan"), 20.0)), r"must lie in \[-90, 90\]"),
        (dict(comm_sector_deg=(30.0, 95.0)), r"must lie in \[-90, 90\]"),
    ],
)
def test_hostile_parameters_are_clear_errors(model_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ae_transmitters.ae_transmitter(str(model_path), **kwargs)


def test_wrong_vector_length_cannot_be_connected(model_path):
    from gnuradio import blocks, gr

    tx = ae_transmitters.ae_transmitter(str(model_path))
    tb = gr.top_block()
    with pytest.raises(ValueError, match="itemsize mismatch"):
        tb.connect((tx, 0), blocks.null_sink(gr.sizeof_gr_complex * 8))
