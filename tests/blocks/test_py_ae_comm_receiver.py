"""Python AE comm receiver block against isac_ae.autoencoder.AutoencoderSystem.comm_receive."""

import numpy as np
import pytest

from .conftest import NEEDS_GNURADIO

pytest.importorskip("gnuradio", reason=NEEDS_GNURADIO)

import torch  # noqa: E402

from isac_ae.autoencoder.modelfile import ModelFileError  # noqa: E402
from isac_ae.blocks import ae_receivers  # noqa: E402
from isac_ae.channels import CommChannel  # noqa: E402


@pytest.fixture(scope="module")
def received(core):
    """(messages, z_c, kappa) from the core's comm channel at SNR_c = 20 dB."""
    gen = torch.Generator().manual_seed(9)
    m = torch.randint(4, (30_000,), generator=gen)
    with torch.inference_mode():
        y, v = core.transmit(m)
        draw = CommChannel(core.scenario)(y, gen, v=v)
    return m.numpy(), draw.z.numpy().astype(np.complex64), draw.kappa.numpy().astype(np.complex64)


def test_indices_equal_the_core(run, model_path, core, received):
    m, z, kappa = received
    (m_hat,) = run(ae_receivers.ae_comm_receiver(str(model_path)), [(z, "c", 1), (kappa, "c", 1)], [("b", 1)])
    with torch.inference_mode():
        expected = core.comm_receive(torch.from_numpy(z), torch.from_numpy(kappa)).numpy()
    np.testing.assert_array_equal(m_hat, expected)
    assert np.mean(m_hat != m) < 0.02  # SNR_c = 20 dB: a few errors at most


def test_probabilities_output_is_the_softmax_of_the_comm_network(run, model_path, core, received):
    _, z, kappa = received
    rx = ae_receivers.ae_comm_receiver(str(model_path), M=4, probabilities=True)
    m_hat, p = run(rx, [(z, "c", 1), (kappa, "c", 1)], [("b", 1), ("f", 4)])
    with torch.inference_mode():
        expected = core.comm_receive(torch.from_numpy(z), torch.from_numpy(kappa)).numpy()
        logits = core.model.comm(torch.from_numpy(z / kappa).unsqueeze(0))[0]
        probs = torch.softmax(logits, -1).numpy()
    np.testing.assert_array_equal(m_hat, expected)
    np.testing.assert_allclose(p, probs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(p.argmax(axis=1), m_hat)


def test_non_finite_input_or_zero_csi_gives_index_0_and_one_warning(run, model_path, core, received, capfd):
    _, z, kappa = received
    z, kappa = z[:8].copy(), kappa[:8].copy()
    z[1] = np.nan
    kappa[3] = complex(np.inf, 0)
    kappa[4] = 0
    z[6] = complex(0, -np.inf)
    rx = ae_receivers.ae_comm_receiver(str(model_path), probabilities=True)
    m_hat, p = run(rx, [(z, "c", 1), (kappa, "c", 1)], [("b", 1), ("f", 4)])
    bad = np.zeros(8, bool)
    bad[[1, 3, 4, 6]] = True
    np.testing.assert_array_equal(m_hat[bad], 0)
    assert np.isnan(p[bad]).all()
    with torch.inference_mode():
        expected = core.comm_receive(torch.from_numpy(z[~bad]), torch.from_numpy(kappa[~bad])).numpy()
    np.testing.assert_array_equal(m_hat[~bad], expected)
    captured = capfd.readouterr()
    assert (captured.out + captured.err).count("NaN or infinite") == 1


def test_model_mismatch_and_missing_file(model_path, tmp_path):
    with pytest.raises(ModelFileError, match=r"\|M\|=4 \(block: \|M\|=8\)"):
        ae_receivers.ae_comm_receiver(str(model_path), M=8)
    with pytest.raises(ModelFileError, match=r"K=16 \(block: K=4\)"):
        ae_receivers.ae_comm_receiver(str(model_path), K=4)
    with pytest.raises(ModelFileError, match="not found"):
        ae_receivers.ae_comm_receiver(str(tmp_path / "missing.safetensors"))
    with pytest.raises(ValueError, match="probabilities must be True or False"):
        ae_receivers.ae_comm_receiver(str(model_path), probabilities="no")  # bool("no") is True


def test_wrong_item_size_cannot_be_connected(model_path):
    from gnuradio import blocks, gr

    rx = ae_receivers.ae_comm_receiver(str(model_path))
    tb = gr.top_block()
    with pytest.raises(ValueError, match="itemsize mismatch"):
        tb.connect(blocks.vector_source_c([0j] * 16, False, 16), (rx, 0))
