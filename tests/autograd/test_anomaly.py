"""Anomaly mode pinpoints the op and the user's line that made a NaN/Inf."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import glassgrad as gg


def _line_of(fn, text):
    src, start = inspect.getsourcelines(fn)
    for k, line in enumerate(src):
        if text in line:
            return start + k
    raise AssertionError(text)


def _model_with_planted_log(x, W):
    h = (x @ W).relu()
    p = h / (h.sum(dim=1, keepdim=True) + 1.0)
    return p.log().sum()  # planted: relu makes zeros, log(0) = -inf


def test_planted_log_zero_is_pinpointed():
    x = gg.tensor([[1.0, -2.0], [0.5, 0.5]])
    W = gg.tensor([[1.0, 0.0], [0.0, 1.0]], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(gg.AnomalyError) as ei:
            with gg.detect_anomaly():
                _model_with_planted_log(x, W)
    e = ei.value
    assert e.op == "Log" and e.phase == "forward"
    assert e.filename == __file__
    assert e.lineno == _line_of(_model_with_planted_log, "p.log().sum()")
    msg = str(e)
    assert "'Log' produced Inf" in msg and "(2, 2) float32" in msg and "p.log().sum()" in msg
    # without anomaly mode the same code runs and silently gives -inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert _model_with_planted_log(x, W).item() == -np.inf


def test_backward_nan_names_op_and_creation_line():
    x = gg.tensor([4.0, 0.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(gg.AnomalyError) as ei:
            with gg.detect_anomaly():
                y = x.sqrt()  # the line anomaly mode must report
                y.sum().backward()
    e = ei.value
    assert e.op == "Sqrt" and e.phase == "backward"
    assert "SqrtBackward" in str(e) and "returned Inf" in str(e)
    assert "y = x.sqrt()  # the line anomaly mode must report" in e.where
    assert e.lineno == _line_of(test_backward_nan_names_op_and_creation_line, "y = x.sqrt()")


def test_nan_in_data_is_reported_at_first_use_inside_a_module():
    nn = gg.nn
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
    bad = gg.tensor([[float("nan"), 1.0]])
    with pytest.raises(gg.AnomalyError) as ei:
        with gg.detect_anomaly():
            model(bad)
    e = ei.value
    assert e.op == "Linear" and e.phase == "input" and e.module == "Linear"
    assert "already contains NaN" in str(e) and "model(bad)" in e.where


def test_check_nan_false_and_state_restored():
    x = gg.tensor([0.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with gg.detect_anomaly(check_nan=False):
            y = x.log()
    assert y.item() == -np.inf
    assert not gg.autograd.is_anomaly_enabled()

    @gg.detect_anomaly()
    def f(t):
        return t.log()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(gg.AnomalyError):
            f(x)
    assert not gg.autograd.is_anomaly_enabled()
