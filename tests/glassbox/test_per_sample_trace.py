"""gg.trace(per_sample=True): per-layer per-sample gradient norms and dominating samples,
checked against gg.per_sample_grads (float64)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn


@pytest.fixture(autouse=True)
def _f64():
    old = gg.get_default_dtype()
    gg.set_default_dtype(gg.float64)
    yield
    gg.set_default_dtype(old)


def model_and_batch(n=7):
    gg.manual_seed(3)
    m = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 8),
                      nn.LayerNorm(8), nn.Tanh(), nn.Linear(8, 4))
    r = np.random.default_rng(0)
    x = gg.tensor(r.standard_normal((n, 1, 6, 6)))
    return m, x, gg.tensor(r.integers(0, 4, n))


def layer_norms(ps, prefix, n):
    return np.sqrt(sum((v.reshape(n, -1) ** 2).sum(1) for k, v in ps.items() if k.startswith(prefix)))


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_norms_and_top_samples_match_per_sample_grads(reduction):
    m, x, y = model_and_batch()
    n = x.shape[0]
    loss_fn = nn.CrossEntropyLoss(reduction=reduction)
    ps = gg.per_sample_grads(m, loss_fn, x, y)
    scale = 1.0 / n if reduction == "mean" else 1.0     # contributions to the batch gradient
    with gg.trace(model=m, per_sample=True, top_k=2) as t:
        loss_fn(m(x), y).backward()
    rep = t.per_sample
    assert [ly.layer for ly in rep.layers] == ["model.0 (Conv2d)", "model.3 (Linear)",
                                               "model.4 (LayerNorm)", "model.6 (Linear)"]
    for ly, prefix in zip(rep.layers, ["0.", "3.", "4.", "6."]):
        np.testing.assert_allclose(ly.norms, scale * layer_norms(ps, prefix, n), rtol=1e-10)
        assert sorted(ly.params) == ["bias", "weight"]
    total = scale * np.sqrt(sum((v.reshape(n, -1) ** 2).sum(1) for v in ps.values()))
    np.testing.assert_allclose(rep.total.norms, total, rtol=1e-10)
    order = np.argsort(-total)
    assert [i for i, _, _ in rep.total.top] == list(order[:2])
    np.testing.assert_allclose([s for _, _, s in rep.total.top], total[order[:2]] / total.sum())
    # the rows are contributions: they sum to the .grad the backward accumulated
    for k, p in m.named_parameters():
        np.testing.assert_allclose(scale * ps[k].sum(0), p.grad.array, rtol=1e-10, atol=1e-13)


def test_report_in_table_html_and_json():
    m, x, y = model_and_batch()
    with gg.trace(model=m, per_sample=True) as t:
        nn.CrossEntropyLoss()(m(x), y).backward()
    text = str(t)
    top = int(np.argmax(t.per_sample.total.norms))
    assert "per-sample gradient contributions" in text and "(model)" in text and f"#{top} (" in text
    assert "top 3 samples" in t.to_html()
    d = json.loads(t.to_json())["per_sample"]
    assert len(d["layers"]) == 4 and len(d["model"]["norms"]) == 7 and d["model"]["top"][0]["sample"] == top


def test_without_the_option_there_is_no_report_and_grads_are_the_same():
    m, x, y = model_and_batch()
    nn.CrossEntropyLoss()(m(x), y).backward()
    ref = [p.grad.array.copy() for p in m.parameters()]
    m.zero_grad()
    with gg.trace(model=m, per_sample=True):
        nn.CrossEntropyLoss()(m(x), y).backward()
    for r, p in zip(ref, m.parameters()):
        np.testing.assert_array_equal(r, p.grad.array)
    with gg.trace(model=m) as t:
        nn.CrossEntropyLoss()(m(x), y).backward()
    assert t.per_sample is None and "per-sample" not in str(t)


def test_forward_outside_the_block_and_coupled_layers_are_reported():
    m, x, y = model_and_batch()
    loss = nn.CrossEntropyLoss()(m(x), y)
    with gg.trace(model=m, per_sample=True) as t:
        loss.backward()
    assert t.per_sample.layers == [] and "run the forward inside" in t.per_sample.table()
    gg.manual_seed(0)
    bn = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    with gg.trace(model=bn, per_sample=True) as t:
        bn(gg.randn(5, 3)).sum().backward()
    assert "model.1 (BatchNorm1d): batch statistics couple the samples" in t.per_sample.table()
    assert [ly.layer for ly in t.per_sample.layers] == ["model.0 (Linear)", "model.2 (Linear)"]


def test_errors():
    with pytest.raises(TypeError, match="model="):
        gg.trace(per_sample=True)
    with pytest.raises(ValueError, match="top_k"):
        gg.trace(model=nn.Linear(2, 2), per_sample=True, top_k=0)
