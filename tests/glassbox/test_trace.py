"""Backward traces: the recorded δ, ∂W, ∂b of an MLP equal the textbook derivation."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil

import numpy as np
import pytest

import glassgrad as gg
from glassgrad.autograd.function import Function
from glassgrad.autograd.grad_mode import STATE
from glassgrad.glassbox import FORMULAS, broadcast_marks, formula_for

nn = gg.nn
F = gg.nn.functional


def _mlp(dtype=gg.float64, seed=0):
    gg.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3))
    model.to(dtype)
    rng = np.random.default_rng(seed)
    x = gg.tensor(rng.normal(size=(6, 4)), dtype=dtype)
    y = gg.tensor(np.array([0, 1, 2, 0, 1, 2]))
    return model, x, y


def _hand_backprop(model, x, y):
    """The textbook derivation in NumPy (row-major batch form)."""
    W1, b1 = model[0].weight.array, model[0].bias.array
    W2, b2 = model[2].weight.array, model[2].bias.array
    X = x.array
    z1 = X @ W1.T + b1
    a1 = np.maximum(z1, 0)
    z2 = a1 @ W2.T + b2
    p = np.exp(z2 - z2.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(3)[y.array]
    N = X.shape[0]
    d2 = (p - onehot) / N                  # δ² = ∂L/∂z²
    dW2 = d2.T @ a1                        # ∂L/∂W² = δ²ᵀ a¹
    db2 = d2.sum(0)                        # ∂L/∂b² = Σ_rows δ²
    da1 = d2 @ W2                          # ∂L/∂a¹ = δ² W²
    d1 = da1 * (z1 > 0)                    # δ¹ = ∂L/∂a¹ ⊙ relu'(z¹)
    dW1 = d1.T @ X
    db1 = d1.sum(0)
    return dict(d2=d2, dW2=dW2, db2=db2, da1=da1, d1=d1, dW1=dW1, db1=db1)


def test_mlp_trace_matches_hand_derivation():
    model, x, y = _mlp()
    loss = F.cross_entropy(model(x), y)
    with gg.trace(model=model, keep_values=True) as t:
        loss.backward()
    h = _hand_backprop(model, x, y)
    ops = [r.op for r in t]
    assert ops == ["CrossEntropy", "Linear", "Relu", "Linear"]
    ce, lin2, relu, lin1 = t.records
    assert lin2.module == "model.2 (Linear)" and lin1.module == "model.0 (Linear)"
    assert relu.module == "model.1 (ReLU)"
    # layer 2: receives δ², sends ∂L/∂a¹, ∂W², ∂b²
    np.testing.assert_allclose(lin2.grad("dY").value, h["d2"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(lin2.grad("dX").value, h["da1"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(lin2.grad("dW").value, h["dW2"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(lin2.grad("db").value, h["db2"], rtol=1e-12, atol=1e-14)
    assert lin2.grad("dY").shape == (6, 3)
    assert lin2.grad("dW").shape == (3, 5) and lin2.grad("dW").to == "model.2.weight"
    assert lin2.grad("db").shape == (3,) and lin2.grad("db").to == "model.2.bias"
    assert lin2.grad("dX").to == "ReluBackward"
    assert lin2.grad("dW").formula == "dW = dYᵀ @ X"
    assert lin2.grad("dX").formula == "dX = dY @ W"
    assert lin2.grad("db").formula == "db = sum_rows(dY)"
    # layer 1: receives δ¹ (after the ReLU), sends ∂W¹, ∂b¹ (x needs no gradient)
    np.testing.assert_allclose(lin1.grad("dY").value, h["d1"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(lin1.grad("dW").value, h["dW1"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(lin1.grad("db").value, h["db1"], rtol=1e-12, atol=1e-14)
    assert [g.name for g in lin1.sent] == ["dW", "db"]
    assert lin1.grad("dW").shape == (5, 4)
    # the trace's gradients are what .grad got
    np.testing.assert_allclose(model[0].weight.grad.array, h["dW1"], rtol=1e-12)
    # statistics
    st = lin1.grad("dW").stats
    v = h["dW1"]
    assert st.norm == pytest.approx(np.linalg.norm(v))
    assert st.mean == pytest.approx(v.mean())
    assert st.max_abs == pytest.approx(np.abs(v).max())
    assert st.zeros == pytest.approx(np.mean(v == 0))
    assert relu.grad("dX").stats.zeros == pytest.approx(np.mean(h["d1"] == 0))
    assert all(r.seconds >= 0 for r in t)
    # broadcast marks: the biases were summed over the batch axis
    assert str(lin2.grad("db").broadcast) == "Σ axis 0: (6, 3)→(3,)"
    assert lin2.grad("dW").broadcast is None
    # the table reads like the derivation
    text = t.table()
    for s in ("model.2 (Linear)", "dW = dYᵀ @ X", "model.0.bias", "(5, 4)", "Σ axis 0"):
        assert s in text
    assert lin2.signature == "Linear(X (6, 5) float64, W (3, 5) float64, b (3,) float64) → Y (6, 3) float64"
    assert ("   forward: Relu(X (6, 5) float64) → Z (6, 5) float64   (derivation: "
            "docs/derivations/elementwise.md#pointwise-functions)") in t.table(forward=True)
    assert STATE.observers == []


def test_composed_mlp_with_named_params_float32():
    rng = np.random.default_rng(1)
    W = gg.tensor(rng.normal(size=(3, 4)).astype(np.float32), requires_grad=True)
    b = gg.tensor(rng.normal(size=(3,)).astype(np.float32), requires_grad=True)
    x = gg.tensor(rng.normal(size=(5, 4)).astype(np.float32))
    with gg.trace(params={"W": W, "b": b}, keep_values=True) as t:
        loss = (x @ W.T + b).tanh().sum()
        loss.backward()
    names = [r.op for r in t]
    assert names == ["Sum", "Tanh", "Add", "MatMul", "Permute"]
    add = t.find(op="Add")[0]
    assert add.grad("dB").to == "b"
    assert str(add.grad("dB").broadcast) == "Σ axis 0: (5, 3)→(3,)"
    assert add.grad("dB").dtype == "float32"
    perm = t.find(op="PermuteBackward")[0]
    assert perm.grad("dX").to == "W"
    np.testing.assert_allclose(perm.grad("dX").value, W.grad.array, rtol=1e-6)
    assert t.grads_to("W")[0].shape == (3, 4)


def test_explain_leaves_grad_untouched_and_prints(capsys):
    model, x, y = _mlp()
    loss = F.cross_entropy(model(x), y)
    t = gg.explain(loss, model=model)
    out = capsys.readouterr().out
    assert "LinearBackward" in out and "model.0.weight" in out
    assert model[0].weight.grad is None
    assert len(t) == 4
    loss.backward()  # the graph was retained
    assert model[0].weight.grad is not None
    t2 = gg.explain(F.cross_entropy(model(x), y), file=None, accumulate=True, keep_values=True)
    assert t2.records[1].module == "Linear"  # no model given: the class name
    dW = t2.find(op="Linear")[-1].grad("dW").value
    np.testing.assert_allclose(model[0].weight.grad.array, 2 * dW, rtol=1e-12)


def test_explain_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        gg.explain(gg.ones(3).sum())
    with pytest.raises(RuntimeError, match="scalar"):
        gg.explain(gg.ones(3, requires_grad=True) * 2)
    with pytest.raises(TypeError, match="Tensor"):
        gg.explain(3.0)


def test_trace_removes_observer_on_error():
    a = gg.ones(2, requires_grad=True)
    with pytest.raises(ZeroDivisionError):
        with gg.trace():
            (a * 2).sum().backward()
            1 / 0
    assert STATE.observers == []


def test_json_and_html_export(tmp_path):
    model, x, y = _mlp(gg.float32)
    loss = F.cross_entropy(model(x), y)
    with gg.trace(model=model, keep_values=True) as t:
        loss.backward()
    p = tmp_path / "t.json"
    t.to_json(p, values=True)
    d = json.loads(p.read_text())
    assert d["format"] == "glassgrad-trace" and len(d["nodes"]) == 4
    lin = d["nodes"][1]
    assert lin["op"] == "Linear" and lin["module"] == "model.2 (Linear)"
    sent = {g["name"]: g for g in lin["sent"]}
    assert sent["dW"]["shape"] == [3, 5] and sent["db"]["broadcast"]["axes"] == [0]
    np.testing.assert_allclose(np.array(sent["dW"]["value"]), model[2].weight.grad.array, rtol=1e-6)
    h = tmp_path / "t.html"
    t.to_html(h)
    page = h.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<table>" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "dW = dYᵀ @ X" in page and "model.2 (Linear)" in page
    assert "<table>" in t._repr_html_()


def test_trace_under_create_graph():
    x = gg.tensor([0.5, -1.0, 2.0], requires_grad=True, dtype=gg.float64)
    with gg.trace(keep_values=True) as t:
        (g,) = gg.grad((x ** 3).sum(), [x], create_graph=True)
    np.testing.assert_allclose(t.find(op="Pow")[0].grad("dA").value, 3 * x.array ** 2)
    (g.sum()).backward()
    np.testing.assert_allclose(x.grad.array, 6 * x.array)


class _Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        """VJP: ``dx = g ⊙ 3x²``."""
        (x,) = ctx.saved_tensors
        return g * 3 * x ** 2


def test_user_function_formula_from_docstring():
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    with gg.trace() as t:
        _Cube.apply(x).sum().backward()
    assert t[1].sent[0].formula == "dx = g ⊙ 3x²"
    assert formula_for(_Cube).grads == ("dx = g ⊙ 3x²",)


def _all_op_classes():
    import glassgrad.ops as ops
    import glassgrad.tensor as tmod

    found = []
    mods = [importlib.import_module(f"glassgrad.ops.{m.name}") for m in pkgutil.iter_modules(ops.__path__)
            if m.name != "_numba_kernels"]   # (optional compiled loops, no ops; needs Numba)
    mods += [importlib.import_module(f"glassgrad.func.{n}") for n in ("_batched_linear", "_batched_rnn")]
    for mod in mods + [tmod]:
        for c in vars(mod).values():
            if inspect.isclass(c) and issubclass(c, Function) and c.__module__ == mod.__name__:
                found.append(c)
    return found


def test_every_op_has_a_formula():
    classes = _all_op_classes()
    assert len(classes) > 50
    missing = [f"{c.__module__}.{c.__name__}" for c in classes if c not in FORMULAS]
    assert not missing, f"add these ops to glassgrad/glassbox/formulas.py: {missing}"
    for c in classes:
        f = FORMULAS[c]
        params = list(inspect.signature(c.forward).parameters)[1:]
        variadic = any(inspect.signature(c.forward).parameters[p].kind == inspect.Parameter.VAR_POSITIONAL
                       for p in params)
        if not variadic:  # trailing option arguments may be left out of the table
            assert len(f.inputs) <= len(params), (c.__name__, f.inputs, params)
            n_req = sum(1 for p in params
                        if inspect.signature(c.forward).parameters[p].default is inspect.Parameter.empty)
            assert len(f.inputs) >= n_req, (c.__name__, f.inputs, params)
        assert any(f.grads), c.__name__


def _node(fn, *shapes, grads=None):
    ts = [gg.randn(*s, requires_grad=True) for s in shapes]
    return fn(*ts).grad_fn


@pytest.mark.parametrize("fn,shapes,expect", [
    (lambda a, b: a + b, [(4, 3), (3,)], {1: ((0,), (4, 3), (3,))}),
    (lambda a, b: a - b, [(4, 1), (4, 3)], {0: ((1,), (4, 3), (4, 1))}),
    (lambda a, b: a * b, [(2, 1, 3), (5, 1)], {0: ((1,), (2, 5, 3), (2, 1, 3)),
                                              1: ((0, 2), (2, 5, 3), (5, 1))}),
    (lambda a, b: a / b, [(3,), (3,)], {}),
    (lambda a, b: a.maximum(b), [(2, 3), (1, 3)], {1: ((0,), (2, 3), (1, 3))}),
    (lambda a: a.expand(4, 2, 3), [(2, 1)], {0: ((0, 2), (4, 2, 3), (2, 1))}),
    (lambda a, b: a @ b, [(5, 2, 3), (3, 4)], {1: ((0,), (5, 3, 4), (3, 4))}),
    (lambda a, b: a @ b, [(5, 2, 3), (5, 3, 4)], {}),
])
def test_broadcast_marks(fn, shapes, expect):
    node = _node(fn, *shapes)
    marks = {m.input: (m.axes, m.grad_shape, m.input_shape) for m in broadcast_marks(node)}
    assert marks == expect


def test_broadcast_marks_where_pow_linear():
    a = gg.randn(3, 1, requires_grad=True)
    b = gg.randn(4, requires_grad=True)
    node = gg.where(gg.randn(3, 4) > 0, a, b).grad_fn
    assert {m.input: m.axes for m in broadcast_marks(node)} == {1: (1,), 2: (0,)}
    p = gg.rand(3, requires_grad=True) + 0.5
    node = (gg.rand(2, 3, requires_grad=True) ** p).grad_fn
    assert {m.input: m.axes for m in broadcast_marks(node)} == {1: (0,)}
    lin = F.linear(gg.randn(2, 7, 4), gg.randn(3, 4, requires_grad=True),
                   gg.randn(3, requires_grad=True)).grad_fn
    assert [(m.input, m.axes) for m in broadcast_marks(lin)] == [(2, (0, 1))]


def test_json_is_strict_with_nonfinite_gradients():
    x = gg.tensor([0.0, 1.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        with gg.trace(keep_values=True) as t:
            x.log().sum().backward()
    text = t.to_json(values=True)
    d = json.loads(text)  # strict JSON: no NaN/Infinity literals
    g = d["nodes"][1]["sent"][0]
    assert g["value"] == [None, 1.0] and g["stats"]["nonfinite"] == 1
    assert "Infinity" not in text and "NaN" not in text


class _Zoo(nn.Module):
    """One of each fused layer: conv, batch norm, max pool, LSTM, layer norm, embedding,
    attention, linear, cross-entropy."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.pool = nn.MaxPool2d(2)
        self.lstm = nn.LSTM(4, 3, batch_first=True)
        self.ln = nn.LayerNorm(3)
        self.emb = nn.Embedding(5, 3)
        self.attn = nn.MultiheadAttention(3, 1, batch_first=True)
        self.fc = nn.Linear(3, 2)

    def forward(self, x, ids):
        h = self.pool(self.bn(self.conv(x)).relu())
        h = h.reshape(h.shape[0], 2, -1)[:, :, :4]
        o, _ = self.lstm(h)
        o = self.ln(o) + self.emb(ids)
        a, _ = self.attn(o, o, o)
        return self.fc(a.mean(1))


def test_trace_covers_fused_layers():
    gg.manual_seed(0)
    m = _Zoo()
    x, ids = gg.randn(2, 1, 8, 8), gg.tensor([[1, 2], [3, 4]])
    loss = F.cross_entropy(m(x, ids), gg.tensor([0, 1]))
    with gg.trace(model=m, keep_values=True) as t:
        loss.backward()
    ops = {r.op for r in t}
    assert {"ConvNd", "BatchNorm", "MaxPoolNd", "LSTMLayer", "LayerNorm", "Embedding",
            "Linear", "CrossEntropy"} <= ops
    for r in t:
        for g in r.sent:
            assert g.formula, (r.node, g.name)
    conv = t.find(op="ConvNd")[0]
    assert conv.module == "model.conv (Conv2d)"
    np.testing.assert_allclose(conv.grad("dW").value, m.conv.weight.grad.array, rtol=1e-6)
    assert conv.grad("dW").to == "model.conv.weight"
    emb = t.find(op="Embedding")[0]
    assert emb.grad("dW").formula == "dW = zeros(W.shape); dW[idx] += dZ"


def test_broadcast_marks_conv_and_norm_parameters():
    x = gg.randn(2, 3, 5, 5)
    conv = F.conv2d(x, gg.randn(4, 3, 3, 3, requires_grad=True), gg.randn(4, requires_grad=True))
    assert [(m.input, m.axes, m.grad_shape, m.input_shape) for m in broadcast_marks(conv.grad_fn)] \
        == [(2, (0, 2, 3), (2, 4, 3, 3), (4,))]
    bn = F.batch_norm(x, None, None, gg.ones(3, requires_grad=True), gg.zeros(3, requires_grad=True),
                      training=True)
    assert [(m.input, m.axes) for m in broadcast_marks(bn.grad_fn)] == [(1, (0, 2, 3)), (2, (0, 2, 3))]
    ln = F.layer_norm(gg.randn(2, 7, 4), (4,), gg.ones(4, requires_grad=True),
                      gg.zeros(4, requires_grad=True))
    assert [(m.input, m.axes) for m in broadcast_marks(ln.grad_fn)] == [(1, (0, 1)), (2, (0, 1))]
