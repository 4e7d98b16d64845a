"""Online fine-tuning block and the weights port of the AE receivers.

A swap mid-stream loses no item and each item runs exactly one set of weights;
a worse candidate is not sent; on the Quad-MxFE twin (seed 0), where the
nominal omega_r = 0.09 receivers lose most of their Pd, the weights the block
sends during a run raise Pd and lower the RMSE at the receivers' outputs,
beyond 5 standard errors of the segments before the first and after the last
swap, with the false-alarm rate still at its target; bad input is refused
clearly.
"""

import math
import re
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from .conftest import NEEDS_GNURADIO

pytest.importorskip("gnuradio", reason=NEEDS_GNURADIO)

import pmt  # noqa: E402
import torch  # noqa: E402
from gnuradio import blocks, gr  # noqa: E402

from isac_ae.autoencoder import AutoencoderSystem  # noqa: E402
from isac_ae.autoencoder.model import Autoencoder  # noqa: E402
from isac_ae.autoencoder.modelfile import ModelFileError, load_model  # noqa: E402
from isac_ae.blocks import ae_receivers, ae_transmitters, online_finetune, twin_channels  # noqa: E402
from isac_ae.channels import RadarChannel  # noqa: E402
from isac_ae.evaluation import h0_scores, threshold_for_pfa  # noqa: E402
from isac_ae.hw.finetune.receivers import RECEIVERS  # noqa: E402
from isac_ae.pretrained import sweep_dir  # noqa: E402

from ..helpers import Z  # noqa: E402

K, PFA, H0 = 16, 0.01, 50_000
#: A generous bound on any wait for a background thread on a loaded 2-core machine.
TIMEOUT = 120.0


def _wait(condition, what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def _perturbed(model: Autoencoder, networks, seed: int) -> dict:
    """The receivers' weights of ``model`` with 10 % noise: another set of weights of the same shapes."""
    gen = torch.Generator().manual_seed(seed)
    return {
        k: v * (1 + 0.1 * torch.randn(v.shape, generator=gen))
        for k, v in model.state_dict().items()
        if k.split(".")[0] in networks
    }


class _GatedSource(gr.sync_block):
    """Streams the rows of its arrays; after ``half`` items it waits for ``gate`` before streaming the rest."""

    def __init__(self, columns, half, gate):
        types = [c.dtype if c.ndim == 1 else (c.dtype, c.shape[1]) for c in columns]
        gr.sync_block.__init__(self, "gated_source", in_sig=None, out_sig=types)
        self.columns, self.half, self.gate, self.position = columns, half, gate, 0

    def work(self, input_items, output_items):
        total = len(self.columns[0])
        if self.position >= total:
            return -1  # WORK_DONE
        limit = total if self.gate.is_set() else self.half
        if self.position >= limit:
            self.gate.wait(0.01)
            return 0
        n = min(len(output_items[0]), limit - self.position)
        for out, column in zip(output_items, self.columns):
            out[:n] = column[self.position : self.position + n]
        self.position += n
        return n


def _run_gated(receivers_inputs, half, on_half):
    """Run receivers on gated sources: ``on_half()`` runs once every receiver has read ``half`` items, then the
    rest streams. Returns the outputs of every receiver port as arrays."""
    tb = gr.top_block()
    gate = threading.Event()
    sinks = []
    keep = []
    for block, columns, outputs in receivers_inputs:
        src = _GatedSource(columns, half, gate)
        keep.append(src)
        for port in range(len(columns)):
            tb.connect((src, port), (block, port))
        for port, (make, vlen) in enumerate(outputs):
            sink = make(vlen)
            tb.connect((block, port), sink)
            sinks.append((sink, vlen))
    tb.start()
    try:
        for block, _, _ in receivers_inputs:
            _wait(lambda b=block: b.nitems_read(0) >= half, "the first half")
        on_half()
        gate.set()
    finally:
        gate.set()
        tb.wait()
    out = []
    for sink, vlen in sinks:
        data = np.asarray(sink.data())
        out.append(data.reshape(-1, vlen) if vlen > 1 else data)
    return out


def test_weights_swapped_mid_stream_lose_no_item(model_path, core):
    """A weights message posted half-way is swapped in at exactly the next item: N items in, N out on every port,
    the first half from the model file's weights and threshold, the second from the new weights and the threshold
    recalibrated for them."""
    n, half = 24_000, 12_000
    gen = torch.Generator().manual_seed(3)
    with torch.inference_mode():
        m = torch.randint(4, (n,), generator=gen)
        y, v = core.transmit(m)
        z_r = RadarChannel(core.scenario)(y, gen).z.numpy().astype(np.complex64)
    z_c = ((torch.randn(n, generator=gen) + 1j * torch.randn(n, generator=gen)) * 3).numpy().astype(np.complex64)
    kappa = (torch.randn(n, generator=gen) + 1j * torch.randn(n, generator=gen)).numpy().astype(np.complex64)
    kappa[kappa == 0] = 1
    state = _perturbed(core.model, ae_receivers.RADAR_NETWORKS + ae_receivers.COMM_NETWORKS, seed=5)
    message = ae_receivers.weights_message(state, ae_receivers.transmitter_digest(core.model), generation=7)
    new_model = load_model(model_path).model
    new_model.load_state_dict(state, strict=False)
    new = AutoencoderSystem(new_model, core.scenario)

    rrx = ae_receivers.ae_radar_receiver(str(model_path), pfa=PFA, h0_samples=H0, seed=2)
    crx = ae_receivers.ae_comm_receiver(str(model_path), probabilities=True)
    old_threshold = rrx.threshold()

    def post():
        for rx in (rrx, crx):
            rx._post(pmt.intern(ae_receivers.WEIGHTS_PORT), message)
        for rx in (rrx, crx):
            assert rx.wait_prepared(7, TIMEOUT)
        assert rrx.generation() == crx.generation() == 0  # ready, not yet in use: no work() call since

    q, theta, sigma, det, m_hat, p = _run_gated(
        [
            (rrx, [z_r], [(blocks.vector_sink_f, 1)] * 3 + [(blocks.vector_sink_b, 1)]),
            (crx, [z_c, kappa], [(blocks.vector_sink_b, 1), (blocks.vector_sink_f, 4)]),
        ],
        half,
        post,
    )
    for out in (q, theta, sigma, det, m_hat, p):
        assert len(out) == n  # nothing lost, nothing repeated
    assert rrx.swaps() == [(half, 7)] and crx.swaps() == [(half, 7)]
    assert rrx.generation() == crx.generation() == 7 and rrx.refused_messages() == crx.refused_messages() == 0
    new_threshold = threshold_for_pfa(h0_scores(new, H0, 2), PFA)
    assert rrx.threshold() == pytest.approx(new_threshold, rel=1e-6) and new_threshold != old_threshold

    first, second = slice(0, half), slice(half, n)
    with torch.inference_mode():
        for system, part, threshold in ((core, first, old_threshold), (new, second, new_threshold)):
            logit, theta_core, sigma_core = system.radar_receive(torch.from_numpy(z_r[part]))
            np.testing.assert_allclose(theta[part], theta_core.numpy(), rtol=1e-5, atol=1e-6)
            np.testing.assert_allclose(sigma[part], sigma_core.numpy(), rtol=1e-5, atol=1e-7)
            clear = np.abs(logit.numpy() - threshold) > 1e-4  # batch-dependent float32 rounding flips only ties
            np.testing.assert_array_equal(det[part][clear], (logit.numpy() > threshold)[clear])
            logits = system.comm_logits(torch.from_numpy(z_c[part]), torch.from_numpy(kappa[part]))
            np.testing.assert_array_equal(m_hat[part], logits.argmax(-1).numpy())
            np.testing.assert_allclose(p[part], torch.softmax(logits, -1).numpy(), rtol=1e-5, atol=1e-6)
    # the two sets differ on these items, so the comparison above tells which one ran where
    assert np.mean(np.abs(theta[second] - core.radar_receive(torch.from_numpy(z_r[second]))[1].detach().numpy())) > 1e-3


def test_messages_for_either_receiver_all_take_effect(model_path, core):
    """Radar weights (generations 1, 2) then comm weights (3), posted at once to both receivers: each receiver
    ends with its networks' latest weights and generation, whatever the messages that arrive together."""
    digest = ae_receivers.transmitter_digest(core.model)
    sent = [
        _perturbed(core.model, ae_receivers.RADAR_NETWORKS, 1),
        _perturbed(core.model, ae_receivers.RADAR_NETWORKS, 2),
        _perturbed(core.model, ae_receivers.COMM_NETWORKS, 3),
    ]
    rrx = ae_receivers.ae_radar_receiver(str(model_path), mode="logit")
    crx = ae_receivers.ae_comm_receiver(str(model_path))
    tb = gr.top_block()
    tb.connect(blocks.vector_source_c([1j] * K * 64, True, K), blocks.head(8 * K, 10**9), rrx)
    for port, size in enumerate([4, 4, 4, 1]):
        tb.connect((rrx, port), blocks.null_sink(size))
    comm_src = blocks.vector_source_c([1 + 1j] * 64, True)
    tb.connect(comm_src, blocks.head(8, 10**9), (crx, 0))
    tb.connect(comm_src, (crx, 1))
    tb.connect(crx, blocks.null_sink(1))
    for generation, state in enumerate(sent, 1):
        message = ae_receivers.weights_message(state, digest, generation)
        for rx in (rrx, crx):
            rx._post(pmt.intern(ae_receivers.WEIGHTS_PORT), message)
    tb.start()
    try:
        _wait(lambda: rrx.generation() == 2 and crx.generation() == 3, "the last weights of each receiver")
    finally:
        tb.stop()
        tb.wait()
    for rx, expected in ((rrx, sent[1]), (crx, sent[2])):
        state = rx.system().model.state_dict()
        for name, tensor in expected.items():
            assert torch.equal(state[name], tensor), name
    assert rrx.refused_messages() == crx.refused_messages() == 0


# --- the twin flowgraph -----------------------------------------------------------------------------------


class _Recorder(gr.sync_block):
    """Keeps the items of its float32 inputs (each as float32) in memory: cheaper than vector sinks' lists."""

    def __init__(self, types):
        gr.sync_block.__init__(self, "recorder", in_sig=types, out_sig=None)
        self.chunks = [[] for _ in types]

    def work(self, input_items, output_items):
        for chunks, x in zip(self.chunks, input_items):
            chunks.append(x.copy())
        return len(input_items[0])

    def arrays(self):
        columns = [np.concatenate(c) if c else np.empty(0) for c in self.chunks]
        n = min(len(c) for c in columns)  # a stop may cut the ports at slightly different items
        return [c[:n] for c in columns]


def _twin_flowgraph(model, tuner, receivers=None, recorder=None, items=10**9):
    """Random messages -> AE transmitter -> Quad-MxFE twin channels (twin seed 0) -> the online block
    [-> AE receivers -> recorder of (detection, theta_hat, t, theta, m_hat, m)]."""
    tb = gr.top_block()
    rng = np.random.default_rng(1)
    src = blocks.vector_source_b(rng.integers(0, 4, 1 << 16).astype(np.uint8).tolist(), True)
    head = blocks.head(1, items)
    tx = ae_transmitters.ae_transmitter(model)
    rc = twin_channels.twin_radar_channel("quadmxfe", K, seed=11, twin_seed=0)
    cc = twin_channels.twin_comm_channel("quadmxfe", K, seed=12, twin_seed=0)
    tb.keep = [tx, rc, cc, tuner] + ([] if receivers is None else [*receivers, recorder])
    tb.connect(src, head, tx)
    tb.connect((tx, 0), rc)
    tb.connect((tx, 0), (cc, 0))
    tb.connect((tx, 1), (cc, 1))
    tb.connect((cc, 2), blocks.null_sink(4))
    for port, (block, out) in enumerate([(rc, 0), (rc, 1), (rc, 2), (cc, 0), (cc, 1), (head, 0)]):
        tb.connect((block, out), (tuner, port))
    if receivers is None:
        for port, size in ((0, 8 * K), (1, 1), (2, 4)):
            tb.connect((rc, port), blocks.null_sink(size))
        tb.connect((cc, 0), blocks.null_sink(8))
        tb.connect((cc, 1), blocks.null_sink(8))
        return tb
    rrx, crx = receivers
    tb.connect((rc, 0), rrx)
    tb.connect((cc, 0), (crx, 0))
    tb.connect((cc, 1), (crx, 1))
    for port, size in ((0, 4), (2, 4)):
        tb.connect((rrx, port), blocks.null_sink(size))
    for port, (block, out) in enumerate([(rrx, 3), (rrx, 1), (rc, 1), (rc, 2), (crx, 0), (head, 0)]):
        tb.connect((block, out), (recorder, port))
    for rx in receivers:
        tb.msg_connect(tuner, ae_receivers.WEIGHTS_PORT, rx, ae_receivers.WEIGHTS_PORT)
    return tb


def _tuner(model_path, **kwargs):
    settings = dict(window=32_768, held_out=8192, steps=100, rounds=2, pfa=PFA, h0_samples=H0, h0_seed=0, seed=1)
    settings.update(kwargs)
    return online_finetune.online_finetune(str(model_path), K=K, M=4, **settings)


def test_a_worse_candidate_is_not_sent(model_path):
    """Every round's candidate replaced by untrained receivers (a fixed seed): the check sees a lower Pd and a
    higher SER and sends nothing, although the untrained radar networks' J_NLL is lower than the nominal ones'
    on this twin (whose confident angle errors cost more log-likelihood than an untrained guess): the loss alone
    would have sent them. The training itself goes on from the trained weights."""
    with torch.random.fork_rng():
        torch.manual_seed(0)
        untrained = Autoencoder(K, 4)
    bad = {k: v for k, v in untrained.state_dict().items() if k.split(".")[0] in RECEIVERS}
    offered = []

    def worse(candidate):
        offered.append(candidate)
        return dict(bad)

    tuner = _tuner(model_path, window=4096, held_out=4096, steps=5, candidate_hook=worse)
    debug = blocks.message_debug()
    tb = _twin_flowgraph(str(model_path), tuner)
    tb.msg_connect(tuner, ae_receivers.WEIGHTS_PORT, debug, "store")
    tb.start()
    try:
        _wait(tuner.finished, "two rounds")
    finally:
        tb.stop()
        tb.wait()
    assert tuner.error() is None
    records = tuner.history()
    assert len(records) == 2 and len(offered) == 2
    assert debug.num_messages() == 0 and tuner.generation() == 0
    for r in records:
        assert not r.radar_sent and not r.comm_sent
        assert r.pd[1] < r.pd[0] and r.ser[1] > r.ser[0] and r.comm_loss[1] > r.comm_loss[0]
        assert r.radar_loss[1] < r.radar_loss[0]
    nominal = load_model(model_path).model.state_dict()
    for name, tensor in tuner.weights().items():  # the reference stays the model file's
        assert torch.equal(tensor, nominal[name])
    assert not torch.equal(offered[-1]["detector.net.layers.0.weight"], nominal["detector.net.layers.0.weight"])


def _pd_se(hits, targets):
    p = hits.mean()
    return p, math.sqrt(max(p * (1 - p), 1.0 / len(targets)) / len(targets))


def test_pd_and_rmse_improve_on_the_twin_during_a_run(model_path):
    """On the uncalibrated twin the nominal receivers detect about 10 % of the targets (0.76 on the nominal
    array). Two rounds of 100 steps send improved weights; the receivers' own outputs after the last swap
    (at least 100 000 items) beat those before the first swap in Pd and MSE by more than 5 standard errors
    of the difference, the Pfa stays at its target within 5 standard errors (test items and calibration
    draws), and the SER is not worse beyond 5 standard errors."""
    tuner = _tuner(model_path)
    rrx = ae_receivers.ae_radar_receiver(str(model_path), pfa=PFA, h0_samples=H0, seed=0)
    crx = ae_receivers.ae_comm_receiver(str(model_path))
    recorder = _Recorder([np.uint8, np.float32, np.uint8, np.float32, np.uint8, np.uint8])
    tb = _twin_flowgraph(str(model_path), tuner, (rrx, crx), recorder)
    after = 100_000
    tb.start()
    try:
        _wait(tuner.finished, "two rounds")
        records = tuner.history()
        radar_generation = max((r.generation for r in records if r.radar_sent), default=0)
        assert radar_generation > 0, [r.describe() for r in records]
        _wait(lambda: rrx.generation() == radar_generation, "the last radar weights in use")
        last = rrx.swaps()[-1][0]
        _wait(lambda: recorder.nitems_read(0) > last + after, "items after the last swap")
    finally:
        tb.stop()
        tb.wait()
    assert tuner.error() is None and rrx.refused_messages() == crx.refused_messages() == 0
    for name, tensor in tuner.weights().items():  # the receivers run the weights last sent
        if name.split(".")[0] in ae_receivers.RADAR_NETWORKS:
            assert torch.equal(rrx.system().model.state_dict()[name], tensor)

    det, theta_hat, t, theta, m_hat, m = recorder.arrays()
    first = rrx.swaps()[0][0]
    assert first > 0
    segments = {"before": slice(0, first), "after": slice(last, len(det))}
    stats = {}
    for name, part in segments.items():
        target, hit = t[part] == 1, (det[part] == 1) & (t[part] == 1)
        sq = (theta_hat[part][hit].astype(np.float64) - theta[part][hit]) ** 2
        stats[name] = dict(
            pd=_pd_se(hit[target], target[target]),
            pfa=det[part][~target].mean(),
            absent=int((~target).sum()),
            mse=(sq.mean(), sq.std(ddof=1) / math.sqrt(len(sq))),
            ser=_pd_se(m_hat[part] != m[part], m[part]),
        )
    b, a = stats["before"], stats["after"]
    assert b["pd"][0] < 0.2  # the nominal receivers on this twin
    assert a["pd"][0] - b["pd"][0] > Z * math.hypot(a["pd"][1], b["pd"][1]), stats
    assert b["mse"][0] - a["mse"][0] > Z * math.hypot(a["mse"][1], b["mse"][1]), stats
    assert abs(a["pfa"] - PFA) < Z * math.sqrt(PFA * (1 - PFA) * (1 / a["absent"] + 1 / H0)), stats
    assert a["ser"][0] - b["ser"][0] < Z * math.hypot(a["ser"][1], b["ser"][1]), stats
    assert all(r.pd[1] >= r.pd[0] for r in records if r.radar_sent)


# --- bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(K=8), ModelFileError, r"K=16 \(block: K=8\)"),
        (dict(M=8), ModelFileError, r"\|M\|=4 \(block: \|M\|=8\)"),
        (dict(window=512, batch_size=1024), ValueError, r"window must be an integer in \[1024, "),
        (dict(held_out=0), ValueError, r"held_out must be an integer in \[1, "),
        (dict(held_out_fraction=1.0), ValueError, r"held_out_fraction must lie in \(0, 1\)"),
        (dict(learning_rate=0.0), ValueError, "learning_rate must be positive"),
        (dict(learning_rate=float("nan")), ValueError, "learning_rate must be a finite number"),
        (dict(steps=0), ValueError, r"steps must be an integer in \[1, "),
        (dict(rounds=-1), ValueError, r"rounds must be an integer in \[0, "),
        (dict(pfa=1e-2, h0_samples=100), ValueError, r"h0_samples \(for pfa 0.01\) must be an integer in \[1000, "),
        (dict(h0_seed=-1), ValueError, r"h0_seed must be an integer in \[0, "),
        (dict(candidate_hook="worse"), ValueError, "candidate_hook must be callable"),
    ],
)
def test_bad_parameters_are_clear_errors(model_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        online_finetune.online_finetune(str(model_path), **kwargs)


def test_a_conditioned_model_is_refused():
    with pytest.raises(ValueError, match="conditioned model: online fine-tuning takes a model of one omega_r"):
        online_finetune.online_finetune(str(sweep_dir("conditioned") / "conditioned.safetensors"))


def test_the_grc_make_template_builds_the_block_with_its_defaults():
    """The GRC block's make line, with every parameter at its YAML default (strings quoted as GRC quotes them),
    builds the block; its asserts hold for those defaults."""
    import yaml  # a dependency of GNU Radio's GRC

    grc = Path(__file__).resolve().parents[2] / "grc"
    spec = yaml.safe_load((grc / "isac_ae_online_finetune.block.yml").read_text())
    quoted = ("file_open", "string")
    values = {p["id"]: p["default"] if p["dtype"] in quoted else eval(p["default"]) for p in spec["parameters"]}
    render = lambda text: re.sub(r"\$\{\s*(\w+)\s*\}", lambda m: repr(values[m.group(1)]), text)  # noqa: E731
    namespace = {}
    exec(spec["templates"]["imports"], namespace)
    block = eval(render(spec["templates"]["make"]), namespace)
    assert isinstance(block, online_finetune.online_finetune) and block.windows() == (0, 0)
    for check in spec["asserts"]:
        assert eval(check.strip()[2:-1], {}, dict(values)), check
    ports = {p.get("id") for p in spec["outputs"]}
    assert ports == {ae_receivers.WEIGHTS_PORT}
    for receiver in ("radar", "comm"):
        rx = yaml.safe_load((grc / f"isac_ae_ae_{receiver}_receiver.block.yml").read_text())
        assert {p.get("id") for p in rx["inputs"] if p["domain"] == "message"} == {ae_receivers.WEIGHTS_PORT}


def test_a_stream_of_another_k_cannot_be_connected(model_path):
    tuner = online_finetune.online_finetune(str(model_path), window=1024, held_out=1024, h0_samples=1000)
    tb = gr.top_block()
    with pytest.raises(ValueError, match="itemsize mismatch"):
        tb.connect(blocks.vector_source_c([0j] * 8, False, 8), (tuner, 0))


def test_bad_items_are_left_out_of_the_windows_and_lost_comm_parts_keep_their_radar_part(model_path, capfd):
    """A NaN z_r or theta and t > 1 keep an item out of the windows; kappa = 0, m >= |M| or an infinite z_c keep
    its radar part only (kappa NaN); the rest are split into held-out and training items by blocks of
    split_items (fraction 1/4: every fourth block held out)."""
    n, split = 10_000, 1000
    rng = np.random.default_rng(2)
    z = (rng.standard_normal((n, K)) + 1j * rng.standard_normal((n, K))).astype(np.complex64)
    t, theta = rng.integers(0, 2, n).astype(np.uint8), rng.uniform(-0.3, 0.3, n).astype(np.float32)
    z_c, kappa = np.ones(n, np.complex64), np.ones(n, np.complex64)
    m = rng.integers(0, 4, n).astype(np.uint8)
    z[10, 3], kappa[2500], t[3100], m[3200], z_c[7000], theta[9999] = np.nan, 0, 2, 4, np.inf, np.nan
    bad, lost = np.zeros(n, bool), np.zeros(n, bool)
    bad[[10, 3100, 9999]] = True
    lost[[2500, 3200, 7000]] = True
    tuner = online_finetune.online_finetune(
        str(model_path), window=1 << 16, held_out=1 << 16, split_items=split, h0_samples=1000
    )
    tb = gr.top_block()
    for port, (data, make, vlen) in enumerate(
        [
            (z, blocks.vector_source_c, K),
            (t, blocks.vector_source_b, 1),
            (theta, blocks.vector_source_f, 1),
            (z_c, blocks.vector_source_c, 1),
            (kappa, blocks.vector_source_c, 1),
            (m, blocks.vector_source_b, 1),
        ]
    ):
        tb.connect(make(data.ravel().tolist(), False, vlen), (tuner, port))
    tb.run()
    held = (np.arange(n) // split) % 4 == 3
    assert tuner.windows() == (int((~held & ~bad).sum()), int((held & ~bad).sum()))
    assert tuner.comm_lost_in_windows() == (int((~held & lost).sum()), int((held & lost).sum()))
    captured = capfd.readouterr()
    assert (captured.out + captured.err).count("left out of the windows") == 1
    assert (captured.out + captured.err).count("their radar part only is kept") == 1
    assert tuner.rounds_done() == 0  # the windows never filled


def test_receivers_refuse_weights_of_another_model_or_shape(model_path, core, capfd):
    """Refused messages are logged errors; the receiver keeps its weights and the stream runs on."""
    digest = ae_receivers.transmitter_digest(core.model)
    pluto = load_model(sweep_dir("pluto2") / "omega_0.09.safetensors").model
    wrong_shape = dict(_perturbed(core.model, ("detector",), 1))
    wrong_shape["detector.net.layers.0.weight"] = torch.zeros(1, 16, 32)
    messages = [
        (pmt.from_long(3), "a weights message is a PMT dict"),
        (pmt.dict_add(pmt.make_dict(), pmt.intern("generation"), pmt.from_long(1)), "needs the field 'transmitter'"),
        (
            ae_receivers.weights_message(
                _perturbed(pluto, ("detector",), 1), ae_receivers.transmitter_digest(pluto), 1
            ),
            "fine-tuned for another transmitter",
        ),
        (ae_receivers.weights_message(wrong_shape, digest, 1), r"has shape \(1, 16, 32\) in the message"),
        (
            ae_receivers.weights_message({"detector.net.layers.0.bias": torch.full((1, 1, 32), math.nan)}, digest, 1),
            "NaN or infinite weights",
        ),
    ]
    rrx = ae_receivers.ae_radar_receiver(str(model_path), mode="logit", threshold=0.0)
    tb = gr.top_block()
    src = blocks.vector_source_c([0j] * K * 64, True, K)
    tb.connect(src, blocks.head(8 * K, 10**9), rrx)
    for port, size in enumerate([4, 4, 4, 1]):
        tb.connect((rrx, port), blocks.null_sink(size))
    tb.start()
    try:
        for count, (message, _) in enumerate(messages, 1):
            rrx._post(pmt.intern(ae_receivers.WEIGHTS_PORT), message)
            _wait(lambda c=count: rrx.refused_messages() == c, f"message {count} refused")
    finally:
        tb.stop()
        tb.wait()
    assert rrx.generation() == 0 and rrx.swaps() == []
    log = capfd.readouterr()
    log = log.out + log.err
    for _, match in messages:
        assert len(re.findall(match, log)) == 1, match
