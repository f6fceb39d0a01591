"""gg.onnx.export: onnx.checker passes and onnxruntime reproduces glassgrad's outputs (to 1e-5)
at two batch sizes through a dynamic batch axis, for the model families the exporter covers."""

from __future__ import annotations

import io

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.onnx import ExportError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
nn = gg.nn
TOL = 1e-5


class LeNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.BatchNorm2d(6), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.Tanh(), nn.AvgPool2d(2))
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.drop = nn.Dropout(0.3)
        self.fc2 = nn.Linear(120, 10)

    def forward(self, x):
        x = self.features(x)
        x = x.view(x.size(0), -1)
        return self.fc2(self.drop(gg.sigmoid(self.fc1(x))))


class RNNClassifier(nn.Module):
    def __init__(self, kind="LSTM", bidirectional=False):
        super().__init__()
        self.emb = nn.Embedding(30, 8)
        self.rnn = getattr(nn, kind)(8, 12, num_layers=2, batch_first=True, bidirectional=bidirectional)
        self.fc = nn.Linear(12 * (2 if bidirectional else 1), 4)

    def forward(self, x):
        out, _ = self.rnn(self.emb(x))
        return self.fc(out[:, -1])


class Encoder(nn.Module):
    def __init__(self, batch_first=True, norm_first=False, activation="relu"):
        super().__init__()
        layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.1, batch_first=batch_first,
                                           norm_first=norm_first, activation=activation)
        self.enc = nn.TransformerEncoder(layer, 2)
        self.head = nn.Linear(16, 3)
        self.batch_first = batch_first

    def forward(self, x):
        h = self.enc(x)
        return self.head(h.mean(1 if self.batch_first else 0))


class Decoderish(nn.Module):
    """ConvTranspose, LayerNorm, GELU, concatenation, permute, slicing and softmax."""

    def __init__(self):
        super().__init__()
        self.up = nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1)
        self.norm = nn.LayerNorm(8)
        self.act = nn.GELU()

    def forward(self, x):
        y = self.act(self.norm(self.up(x)))                 # (N, 4, 8, 8)
        z = gg.cat([y, y[:, :1] * 2.0 - 1.0], dim=1)        # (N, 5, 8, 8)
        z = z.permute(0, 2, 3, 1).reshape(-1, 8, 40)
        return z.softmax(-1)[:, ::2, 3:30].unsqueeze(1)


class Misc(nn.Module):
    """Adaptive pooling, padding, chunk, flip, expand, where, clamp, amax, stack, an index
    array, a vanilla RNN and cross-attention with causal mask and returned weights."""

    def __init__(self):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d((2, 3))
        self.rnn = nn.RNN(6, 5, nonlinearity="relu")
        self.attn = nn.MultiheadAttention(6, 2, batch_first=True)
        self.register_buffer("mask", gg.tensor(np.arange(12) % 3 == 0).reshape(1, 12))

    def forward(self, x):                                   # (N, 2, 6, 6)
        p = self.pool(gg.nn.functional.pad(x, (1, 1, 0, 2)))  # (N, 2, 2, 3)
        a, b = p.chunk(2, dim=1)
        s = gg.stack([a.flip(3), b.clamp(-0.5, 0.5)], dim=-1).reshape(x.shape[0], 12).double().float()
        s = gg.where(self.mask, s, s * 0.1) + s.amax(1, keepdim=True).expand(-1, 12)
        seq = x[:, 0, :, :]                                   # (N, 6, 6) as (batch, time, feat)
        h, _ = self.rnn(seq.transpose(0, 1))
        o, w = self.attn(seq, h.transpose(0, 1)[:, :, [0, 1, 2, 3, 4, 0]] * 1.0, seq, is_causal=True,
                         attn_mask=None)
        return gg.cat([s, o.reshape(x.shape[0], -1), w.reshape(x.shape[0], -1)], dim=1)


def _x(shape, kind="float"):
    rng = np.random.default_rng(sum(shape))
    if kind == "int":
        return gg.tensor(rng.integers(0, 30, shape).astype(np.int64))
    return gg.tensor(rng.standard_normal(shape).astype(np.float32))


MODELS = {
    "mlp": (lambda: nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 8), nn.ELU(),
                                  nn.Linear(8, 3), nn.LogSoftmax(1)), lambda b: _x((b, 6))),
    "lenet": (LeNet, lambda b: _x((b, 1, 28, 28))),
    "lstm": (RNNClassifier, lambda b: _x((b, 7), "int")),
    "gru_bidirectional": (lambda: RNNClassifier("GRU", True), lambda b: _x((b, 7), "int")),
    "transformer": (Encoder, lambda b: _x((b, 5, 16))),
    "transformer_seq_first_prenorm_gelu": (lambda: Encoder(False, True, "gelu"), lambda b: _x((5, b, 16))),
    "convtranspose_misc": (Decoderish, lambda b: _x((b, 3, 4, 4))),
    "misc_ops_rnn_cross_attention": (Misc, lambda b: _x((b, 2, 6, 6))),
}


def _batch_axis(name):
    return 1 if name == "transformer_seq_first_prenorm_gelu" else 0


def export_and_compare(model, make, batch_axis=0, sizes=(1, 5), opset=None):
    """Export with a dynamic batch axis; the max |onnxruntime - glassgrad| over two batch sizes."""
    gg.manual_seed(0)
    buf = io.BytesIO()
    proto = gg.onnx.export(model, make(2), buf, input_names=["x"], output_names=["y"],
                           dynamic_axes={"x": {batch_axis: "batch"}, "y": {0: "batch"}},
                           opset_version=opset)
    onnx.checker.check_model(onnx.load_from_string(buf.getvalue()), full_check=True)
    assert proto.graph.input[0].type.tensor_type.shape.dim[batch_axis].dim_param == "batch"
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    worst = 0.0
    for b in sizes:
        x = make(b)
        want = model(x).detach().numpy()
        got = sess.run(None, {"x": x.numpy()})[0]
        assert got.shape == want.shape
        worst = max(worst, float(np.abs(got - want).max()))
    return worst


@pytest.mark.parametrize("name", sorted(MODELS))
def test_onnxruntime_reproduces_glassgrad(name):
    gg.manual_seed(1)
    build, make = MODELS[name]
    model = build()
    if name == "lenet":  # non-trivial running statistics
        bn = model.features[1]
        bn.running_mean.copy_(gg.randn(6) * 0.1)
        bn.running_var.copy_(gg.rand(6) + 0.5)
    model.train()
    diff = export_and_compare(model.eval(), make, _batch_axis(name))
    assert diff <= TOL, f"{name}: max difference {diff}"


def test_export_restores_modes_and_writes_atomically(tmp_path):
    model = MODELS["lenet"][0]()
    model.train()
    gg.onnx.export(model, _x((2, 1, 28, 28)), tmp_path / "m.onnx")
    assert model.training and model.features[1].training
    m = onnx.load(str(tmp_path / "m.onnx"))
    assert {i.name for i in m.graph.initializer} >= {"fc1.weight", "features.0.weight"}
    assert [p.name for p in tmp_path.iterdir()] == ["m.onnx"]


@pytest.mark.parametrize("opset", [17, 18, 20])
def test_opsets(opset):
    diff = export_and_compare(Encoder(activation="gelu").eval(), MODELS["transformer"][1], opset=opset)
    assert diff <= TOL


def test_unsupported_op_names_the_op_and_the_module():
    class Block(nn.Module):
        def forward(self, x):
            return x.cumsum(1)

    model = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.ReLU(), Block()))
    with pytest.raises(ExportError, match=r"op CumSum \(called in 1\.1 \(Block\)\) has no ONNX converter"):
        gg.onnx.export(model, _x((2, 3)), io.BytesIO())


def test_values_computed_outside_the_ops_are_refused():
    class Gate(nn.Module):
        def forward(self, x):
            return x * (x > 0)

    with pytest.raises(ExportError,
                       match=r"(Cast|Mul) in 1 \(Gate\) reads a tensor of shape \(2, 3\).*comparison"):
        gg.onnx.export(nn.Sequential(nn.Linear(3, 3), Gate()), _x((2, 3)), io.BytesIO())


def test_bad_arguments():
    model = nn.Linear(3, 2)
    with pytest.raises(TypeError, match="args must be a Tensor"):
        gg.onnx.export(model, np.zeros((2, 3)), io.BytesIO())
    with pytest.raises(ValueError, match="opset_version must be 17..21"):
        gg.onnx.export(model, _x((2, 3)), io.BytesIO(), opset_version=9)
    with pytest.raises(ValueError, match=r"dynamic_axes names \['z'\]"):
        gg.onnx.export(model, _x((2, 3)), io.BytesIO(), dynamic_axes={"z": [0]})


def test_cli_export_of_a_trained_run(tmp_path, capsys):
    from glassgrad.cli import main

    out = tmp_path / "run"
    assert main(["train", "--dataset", "blobs", "--hidden", "16,8", "--activation", "tanh", "--epochs", "2",
                 "--no-plots", "-q", "--out", str(out)]) == 0
    assert main(["export", str(out), str(tmp_path / "model.onnx")]) == 0
    assert "wrote" in capsys.readouterr().out
    from glassgrad.cli import _model_from_checkpoint

    model, cfg, _ = _model_from_checkpoint(str(out))
    sess = ort.InferenceSession(str(tmp_path / "model.onnx"), providers=["CPUExecutionProvider"])
    for b in (1, 9):
        x = _x((b, cfg["in_features"]))
        got = sess.run(None, {"input": x.numpy()})[0]
        np.testing.assert_allclose(got, model(x).detach().numpy(), atol=TOL, rtol=0)
    assert main(["export", str(tmp_path / "nothing"), str(tmp_path / "x.onnx")]) == 2


@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=False), (2, 8, 8)),
    (lambda: nn.AvgPool2d(3, 2, padding=1, count_include_pad=True), (2, 8, 8)),
    (lambda: nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, count_include_pad=True), (2, 8, 8)),
    (lambda: nn.AvgPool2d(3, 2, padding=1, ceil_mode=True, divisor_override=5), (2, 8, 8)),
    (lambda: nn.AvgPool2d(2, ceil_mode=True), (2, 7, 7)),
    (lambda: nn.MaxPool2d(3, 2, padding=1, ceil_mode=True), (2, 8, 8)),
    (lambda: nn.MaxPool2d(2, dilation=2), (2, 8, 8)),
    (lambda: nn.AvgPool1d(3, 2, padding=1), (2, 8)),
    (lambda: nn.Conv1d(2, 3, 3, padding=2, dilation=2, bias=False), (2, 8)),
    (lambda: nn.Conv3d(2, 3, 2, stride=2, groups=1), (2, 4, 4, 4)),
    (lambda: nn.ConvTranspose1d(2, 4, 3, stride=3, groups=2), (2, 8)),
], ids=lambda v: "" if callable(v) else "x".join(map(str, v)))
def test_pooling_and_convolution_variants(layer, shape):
    gg.manual_seed(3)
    diff = export_and_compare(layer().eval(), lambda b: _x((b,) + shape))
    assert diff <= TOL
