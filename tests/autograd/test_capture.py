"""gg.capture: a replayed call must give exactly what the eager call gives (values,
gradients, module state, random masks), re-record when what it read changes, and refuse
with a clear error what a replay could not reproduce."""

import numpy as np
import pytest

import glassgrad as gg
import glassgrad.nn.functional as F
from glassgrad import nn

RNG = np.random.default_rng(0)


def _batches(n, shape, classes=10, sizes=None):
    out = []
    for k in range(n):
        b = sizes[k] if sizes else shape[0]
        out.append((RNG.standard_normal((b,) + shape[1:]).astype(np.float32),
                    RNG.integers(0, classes, b)))
    return out


def _train(model, step_fn, batches, opt_cls=gg.optim.SGD, **kw):
    """Run a few optimizer steps; return the losses, the last gradients and the weights."""
    opt = opt_cls(model.parameters(), **kw)
    losses, grads = [], []
    for x, y in batches:
        opt.zero_grad()
        loss = step_fn(gg.from_numpy(x), gg.from_numpy(y))
        loss.backward()
        losses.append(loss.item())
        grads = [p.grad.array.copy() for p in model.parameters()]
        opt.step()
    state = {k: v.array.copy() for k, v in model.state_dict().items()}
    return losses, grads, state


def _twins(make):
    """Two models with identical weights."""
    gg.manual_seed(1)
    a = make()
    gg.manual_seed(1)
    b = make()
    return a, b


def _compare(make, batches, seed=3, **kw):
    eager, capt = _twins(make)
    gg.manual_seed(seed)
    ref = _train(eager, lambda x, y: F.cross_entropy(eager(x), y), batches, **kw)
    step = gg.capture(lambda x, y: F.cross_entropy(capt(x), y))
    gg.manual_seed(seed)
    got = _train(capt, step, batches, **kw)
    assert got[0] == ref[0]  # losses, bit for bit
    for g, r in zip(got[1], ref[1]):
        np.testing.assert_array_equal(g, r)
    assert got[2].keys() == ref[2].keys()
    for k in ref[2]:
        np.testing.assert_array_equal(got[2][k], ref[2][k], err_msg=k)
    return step


def test_mlp_matches_eager_bit_for_bit_and_records_once():
    step = _compare(lambda: nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 10)),
                    _batches(5, (8, 20)), lr=0.1)
    assert step.records == 1


def test_cnn_with_batchnorm_dropout_and_adam():
    def make():
        return nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
            nn.Dropout2d(0.25), nn.Flatten(), nn.Linear(4 * 4 * 4, 12), nn.Tanh(),
            nn.Dropout(0.3), nn.Linear(12, 10))

    step = _compare(make, _batches(4, (6, 1, 8, 8)), opt_cls=gg.optim.Adam, lr=1e-2)
    assert step.records == 1


def test_batchnorm_cumulative_average_counts_on_replay():
    # momentum=None: the running mean is the average over num_batches_tracked batches,
    # counted by the op (a replay that skipped the module's Python would get it wrong)
    step = _compare(lambda: nn.Sequential(nn.Linear(5, 6), nn.BatchNorm1d(6, momentum=None),
                                          nn.Linear(6, 3)), _batches(4, (7, 5), classes=3),
                    lr=0.05)
    assert step.records == 1


class _LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(6, 8, batch_first=True)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        out, (h, c) = self.rnn(x)
        return self.fc(out[:, -1])


def test_lstm_matches_eager():
    step = _compare(_LSTMNet, _batches(3, (4, 5, 6)), lr=0.1)
    assert step.records == 1


def test_new_shapes_record_again_and_programs_are_kept():
    # a smaller last batch records a second program; the first is replayed afterwards
    step = _compare(lambda: nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 10)),
                    _batches(5, (8, 20), sizes=[8, 8, 3, 8, 3]), lr=0.1)
    assert step.records == 2


def test_requires_grad_and_eval_mode_changes_are_detected():
    model = nn.Sequential(nn.Linear(4, 5), nn.Dropout(0.5), nn.Linear(5, 3))
    f = gg.capture(lambda x: model(x).sum())
    x = gg.from_numpy(RNG.standard_normal((6, 4)).astype(np.float32))
    f(x).backward()
    f(x)
    assert f.records == 1
    model[0].weight.requires_grad_(False)   # freeze a layer: its gradient must not be computed
    model.zero_grad()
    f(x).backward()
    assert f.records == 2
    assert model[0].weight.grad is None and model[2].weight.grad is not None
    model.eval()                             # dropout off: must not replay the training program
    out = f(x)
    assert f.records == 3
    with gg.no_grad():
        ref = model(x).sum()
    assert out.item() == pytest.approx(ref.item(), rel=1e-6)


def test_dropout_draws_a_new_mask_per_replay():
    f = gg.capture(lambda x: F.dropout(x * 1.0, 0.5))
    x = gg.ones(64, requires_grad=True)
    a, b = f(x), f(x)
    assert f.records == 1
    assert not np.array_equal(a.array, b.array)
    b.sum().backward()
    np.testing.assert_array_equal(x.grad.array, b.array)  # δx = m, and y = 1 ⊙ m


def test_constant_arguments_select_programs():
    f = gg.capture(lambda x, s: (x * s).sum())
    x = gg.tensor([1.0, 2.0], requires_grad=True)
    assert f(x, 2.0).item() == 6.0
    assert f(x, 3.0).item() == 9.0
    assert f(x, 2.0).item() == 6.0
    assert f.records == 2


def test_gradients_accumulate_over_several_calls_and_retain_graph():
    w = gg.tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True)
    f = gg.capture(lambda x: (x @ w).tanh().sum())
    xs = [gg.from_numpy(RNG.standard_normal((4, 2)).astype(np.float32)) for _ in range(3)]
    f(xs[0])                     # the recording call
    loss = f(xs[1]) + f(xs[2])   # two replays in one graph
    loss.backward(retain_graph=True)
    g1 = w.grad.array.copy()
    loss.backward()
    np.testing.assert_allclose(w.grad.array, 2 * g1, rtol=1e-6)
    w.grad = None
    ((xs[1] @ w).tanh().sum() + (xs[2] @ w).tanh().sum()).backward()
    np.testing.assert_allclose(g1, w.grad.array, rtol=1e-6)


def test_outputs_keep_their_requires_grad_and_multi_output_ops():
    w = gg.tensor(RNG.standard_normal((3, 4)).astype(np.float32), requires_grad=True)

    def fn(x):
        z = x @ w
        vals, idx = z.max(dim=1)          # a two-output op; only the values get a gradient
        return vals.sum(), z.detach() * 2, idx

    f = gg.capture(fn)
    x = gg.from_numpy(RNG.standard_normal((5, 3)).astype(np.float32))
    f(x)
    loss, zd, idx = f(x)
    assert loss.requires_grad and not zd.requires_grad and not idx.requires_grad
    loss.backward()
    g = w.grad.array.copy()
    w.grad = None
    fn(x)[0].backward()
    np.testing.assert_array_equal(g, w.grad.array)


def test_program_listing_names_the_ops():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    f = gg.capture(lambda x: model(x).sum())
    x = gg.ones(2, 3)
    assert f.program(x) is None
    f(x)
    text = str(f.program(x))
    assert "Linear(%0" in text and "Relu(" in text and "Sum(" in text
    assert "backward ->" in text and "return %" in text
    assert len(f.program(x)) == 3


def test_eager_under_no_grad_anomaly_and_for_double_backward():
    w = gg.tensor([1.5, -2.0], requires_grad=True)
    f = gg.capture(lambda x: (x * w).pow(2).sum())
    x = gg.tensor([1.0, 3.0])
    with gg.no_grad():
        f(x)
    with gg.autograd.detect_anomaly():
        f(x)
    assert f.records == 0
    f(x)
    out = f(x)
    assert f.records == 1
    with pytest.raises(RuntimeError, match="double backward"):
        gg.grad(out, [w], create_graph=True)
    (g,) = gg.grad(f.fn(x), [w], create_graph=True)  # the function itself: fine
    assert g.requires_grad


def test_in_place_change_of_an_output_before_backward_is_caught():
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    f = gg.capture(lambda x: (x * w).relu())
    x = gg.tensor([1.0, -1.0])
    f(x)
    y = f(x)
    with gg.no_grad():
        y.mul_(2)
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


@pytest.mark.parametrize("body, match", [
    (lambda x, w: (x * w).sum() if (x * w).sum().item() > 0 else x.sum(), r"item\(\) read"),
    (lambda x, w: x * w * (x > 0), "made inside the captured function"),
    (lambda x, w: x.add_(1) * w, "in-place add_"),
    (lambda x, w: [1.0], "must return a Tensor"),
    (lambda x, w: x, "not the result of a glassgrad op"),
    (lambda x, w: x * gg.from_numpy(np.ones(2, np.float32) * 2) * w, "made inside"),
    (lambda x, w: gg.ops.elementwise.Mul.apply(x, np.ones(2, np.float32)) * w,
     "writeable array"),
])
def test_refused_while_recording(body, match):
    w = gg.tensor([1.0, 2.0], requires_grad=True)
    f = gg.capture(body)
    with pytest.raises(gg.CaptureError, match=match):
        f(gg.tensor([1.0, -1.0]), w)
    # nothing is left switched on: eager ops and value reads work again
    assert (w * 2).sum().item() == 6.0


def test_refuses_hooks_and_bad_arguments():
    model = nn.Linear(2, 2)
    model.register_forward_hook(lambda m, i, o: None)
    with pytest.raises(gg.CaptureError, match="hooks"):
        gg.capture(lambda x: model(x).sum())(gg.ones(1, 2))

    def hooked(x, w):
        h = x * w
        h.register_hook(lambda g: g * 2)
        return h.sum()

    w = gg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(gg.CaptureError, match="hook"):
        gg.capture(hooked)(gg.ones(2), w)
    with pytest.raises(gg.CaptureError, match="hashable"):
        gg.capture(lambda x, d: x.sum())(gg.ones(2), {"a": 1})
    with pytest.raises(gg.CaptureError, match="separate arguments"):
        gg.capture(lambda xs: xs[0].sum())([gg.ones(2)])


def test_decorator_form_and_reset():
    w = gg.tensor([2.0], requires_grad=True)

    @gg.capture
    def f(x):
        return (x * w).sum()

    x = gg.tensor([3.0])
    f(x)
    f(x)
    f.reset()
    assert f(x).item() == 6.0 and f.records == 2
    assert "captured" in repr(f)


def test_docs_listing_is_what_the_code_prints():
    import os
    import re

    doc = open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "capture.md")).read()
    shown = re.search(r">>> print\(step.program\(x, y\)\)\n(.*?)\n```", doc, re.S).group(1)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    step = gg.capture(lambda x, y: F.cross_entropy(model(x), y))
    x, y = gg.zeros(32, 784), gg.from_numpy(np.zeros(32, np.int64))
    step(x, y)
    assert str(step.program(x, y)) == shown


def test_outside_tensor_with_a_graph_is_refused():
    base = gg.tensor([1.0, 2.0], requires_grad=True)
    w = base * 2   # part of a graph built outside the function
    f = gg.capture(lambda x: (x * w).sum())
    with pytest.raises(gg.CaptureError, match="computed\\s+outside"):
        f(gg.ones(2))
    g = gg.capture(lambda x, w: (x * w).sum())   # passed as an argument: fine
    g(gg.ones(2), w)
    g(gg.ones(2), base * 3).backward()
    np.testing.assert_array_equal(base.grad.array, [3.0, 3.0])


def test_transformer_layer_with_embedding_and_attention_dropout():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(20, 8)
            self.enc = nn.TransformerEncoderLayer(8, 2, 16, dropout=0.2, batch_first=True)
            self.fc = nn.Linear(8, 10)

        def forward(self, idx):
            return self.fc(self.enc(self.emb(idx)).mean(1))

    batches = [(RNG.integers(0, 20, (3, 5)), RNG.integers(0, 10, 3)) for _ in range(3)]
    step = _compare(Net, batches, opt_cls=gg.optim.Adam, lr=1e-2)
    assert step.records == 1


def test_causal_attention_with_dropout_replays_new_masks():
    q = gg.from_numpy(RNG.standard_normal((2, 4, 3)).astype(np.float32)).requires_grad_()
    f = gg.capture(lambda q: F.scaled_dot_product_attention(q, q, q, dropout_p=0.5,
                                                            is_causal=True).sum())
    gg.manual_seed(0)
    a = [f(q).item() for _ in range(3)]
    gg.manual_seed(0)
    b = [F.scaled_dot_product_attention(q, q, q, dropout_p=0.5, is_causal=True).sum().item()
         for _ in range(3)]
    assert a == b and len(set(a)) == 3 and f.records == 1


def test_tensor_indices_and_gather_replay_with_the_new_indices():
    w = gg.tensor(np.arange(12, dtype=np.float32).reshape(3, 4), requires_grad=True)
    f = gg.capture(lambda idx, cols, m: (w[idx, :2].sum() + w[1, cols].sum() * 10
                                         + w[m].sum() * 100 + w.gather(1, cols.reshape(1, 2)
                                                                       .expand(3, 2)).sum()))
    calls = [(gg.tensor([0, 2]), gg.tensor([1, 3]), gg.tensor([True, False, True])),
             (gg.tensor([1, 1]), gg.tensor([0, 2]), gg.tensor([False, True, True])),
             (gg.tensor([2, 0]), gg.tensor([3, 3]), gg.tensor([True, True, False]))]
    for a in calls:
        w.grad = None
        out = f(*a)
        out.backward()
        got = (out.item(), w.grad.array.copy())
        w.grad = None
        ref = f.fn(*a)
        ref.backward()
        assert got[0] == ref.item()
        np.testing.assert_array_equal(got[1], w.grad.array)
    assert f.records == 1
    # a mask selecting another number of rows changes an output shape: refused, not wrong
    with pytest.raises(gg.CaptureError, match="depends on the values"):
        f(gg.tensor([0, 1]), gg.tensor([0, 1]), gg.tensor([True, False, False]))


def test_numpy_array_indices_are_refused_not_frozen():
    w = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    f = gg.capture(lambda x: (w[np.array([0, 2])] * x).sum())
    with pytest.raises(gg.CaptureError, match="writeable array"):
        f(gg.ones(2))
    g = gg.capture(lambda x: (w[[0, 2]] * x).sum())   # a Python list: a constant
    g(gg.ones(2))
    assert g(gg.tensor([1.0, 2.0])).item() == 7.0


@pytest.mark.parametrize("loss", [
    lambda z, yi, yf: F.cross_entropy(z, yi),
    lambda z, yi, yf: F.cross_entropy(z, yi, weight=gg.ones(4) * 2, label_smoothing=0.1),
    lambda z, yi, yf: F.cross_entropy(z, yf.softmax(1)),
    lambda z, yi, yf: F.mse_loss(z, yf),
    lambda z, yi, yf: F.l1_loss(z, yf),
    lambda z, yi, yf: F.binary_cross_entropy(z.sigmoid(), yf),
    lambda z, yi, yf: F.binary_cross_entropy_with_logits(z, yf),
    lambda z, yi, yf: F.nll_loss(z.log_softmax(1), yi),
    lambda z, yi, yf: F.nll_loss(z.log_softmax(1), yi, weight=gg.ones(4) * 2, ignore_index=1),
    lambda z, yi, yf: F.smooth_l1_loss(z, yf, beta=0.5),
    lambda z, yi, yf: F.huber_loss(z, yf, delta=0.3),
    lambda z, yi, yf: F.kl_div(z.log_softmax(1), yf, reduction="batchmean"),
    lambda z, yi, yf: F.kl_div(z.log_softmax(1), yf.log(), log_target=True),
])
def test_losses_replay_like_eager(loss):
    w = gg.from_numpy(RNG.standard_normal((5, 4)).astype(np.float32)).requires_grad_()
    f = gg.capture(lambda x, yi, yf: loss(x @ w, yi, yf))
    for _ in range(3):
        args = (gg.from_numpy(RNG.standard_normal((6, 5)).astype(np.float32)),
                gg.from_numpy(RNG.integers(0, 4, 6)),
                gg.from_numpy(RNG.random((6, 4)).astype(np.float32)))
        w.grad = None
        out = f(*args)
        out.backward()
        got = (out.item(), w.grad.array.copy())
        w.grad = None
        ref = loss(args[0] @ w, *args[1:])
        ref.backward()
        assert got[0] == ref.item()
        np.testing.assert_array_equal(got[1], w.grad.array)
    assert f.records == 1


def test_loss_target_values_are_checked_on_every_replay():
    w = gg.ones(3, 4, requires_grad=True)
    nll = gg.capture(lambda x, y: F.nll_loss((x @ w).log_softmax(1), y))
    bce = gg.capture(lambda x, t: F.binary_cross_entropy(x @ w, t))
    x = gg.full((2, 3), 0.1)
    nll(x, gg.tensor([0, 3]))
    bce(x, gg.zeros(2, 4))
    with pytest.raises(IndexError, match="nll_loss: target 4 is out of bounds"):
        nll(x, gg.tensor([4, 0]))
    with pytest.raises(ValueError, match="binary_cross_entropy: all elements of input"):
        bce(x * 10, gg.zeros(2, 4))
    assert nll.records == 1 and bce.records == 1


def test_indexing_with_a_tensor_while_recording_is_a_copy_not_a_view():
    # advanced indexing copies: the result must not share the base's version counter
    # (else an in-place change of the base would be blamed on the result's saved values)
    w = gg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    seen = []

    def fn(idx):
        z = w * 1.0
        r = z[idx]
        seen.append(r._version is z._version)
        return r.sum()

    gg.capture(fn)(gg.tensor([0, 2]))
    assert seen == [False]


def test_adaptive_avg_pool_with_uneven_windows_is_captured():
    # its averaging matrices are made inside the op: constants of the shapes, not refused
    pool = gg.nn.AdaptiveAvgPool2d((2, 3))
    x = gg.randn(2, 3, 5, 7, requires_grad=True)
    step = gg.capture(lambda t: pool(t).sum())
    for _ in range(2):
        x.grad = None
        loss = step(x)
        loss.backward()
    x2 = x.detach().requires_grad_(True)
    pool(x2).sum().backward()
    assert abs(loss.item() - pool(x2).sum().item()) < 1e-5
    np.testing.assert_allclose(x.grad.numpy(), x2.grad.numpy(), rtol=1e-6)
