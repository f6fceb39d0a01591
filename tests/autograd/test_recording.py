"""The recording hook (``glassgrad.autograd.recording``): one recorder at a time sees every
op call through ``Function.apply`` and the few other events through ``recording.*``; the
modules that report them do not know which recorder listens."""

from __future__ import annotations

import io

import numpy as np
import pytest

import glassgrad as gg
from glassgrad import nn
from glassgrad.autograd import recording
from glassgrad.onnx import ExportError


class _Log:
    """A recorder that runs every op eagerly and logs what it is told."""

    busy = False

    def __init__(self):
        self.log = []

    def apply(self, cls, args, kwargs):
        self.log.append(("op", cls.__name__))
        self.busy = True
        try:
            return cls.apply(*args, **kwargs)
        finally:
            self.busy = False

    def constant(self, t):
        self.log.append(("constant", tuple(t.shape)))

    def module(self, m):
        self.log.append(("module", type(m).__name__))

    def module_hooks(self, m):
        self.log.append(("hooks", type(m).__name__))

    def inplace(self, t, op, graph):
        self.log.append(("inplace", op, graph))


def test_a_recorder_hears_ops_modules_constants_and_inplace_writes():
    rec = _Log()
    lin = nn.Linear(3, 2)
    recording.install(rec)
    try:
        assert recording.active() is rec
        x = gg.zeros(4, 3)
        y = lin(x)
        z = gg.ones(2)
        z += 1
        F = nn.functional
        F.adaptive_avg_pool1d(y.unsqueeze(1), 3)
    finally:
        recording.uninstall()
    assert recording.active() is None
    log = rec.log
    assert ("constant", (4, 3)) in log  # gg.zeros: the same values on every call
    assert ("module", "Linear") in log
    assert ("op", "Linear") in log
    assert ("inplace", "add_", False) in log
    # the adaptive pooling's constant matrix (2 -> 3 windows) is reported as a constant
    assert ("constant", (3, 2)) in log
    # nothing is reported when no recorder is installed
    n = len(log)
    lin(gg.zeros(1, 3))
    assert len(log) == n


def test_a_recorder_hears_about_module_hooks():
    rec = _Log()
    lin = nn.Linear(3, 2)
    lin.register_forward_hook(lambda m, i, o: None)
    recording.install(rec)
    try:
        lin(gg.zeros(1, 3))
    finally:
        recording.uninstall()
    assert ("hooks", "Linear") in rec.log


def test_capture_refuses_module_hooks():
    lin = nn.Linear(3, 2)
    lin.register_forward_hook(lambda m, i, o: None)
    with pytest.raises(gg.CaptureError, match="capture: Linear has forward or backward hooks"):
        gg.capture(lambda x: lin(x))(gg.zeros(1, 3))


def test_onnx_export_refuses_module_hooks_with_its_own_error():
    pytest.importorskip("onnx")
    model = nn.Sequential(nn.Linear(3, 2))
    model[0].register_forward_hook(lambda m, i, o: None)
    with pytest.raises(ExportError, match="onnx.export: Linear has forward or backward hooks"):
        gg.onnx.export(model, (gg.zeros(1, 3),), io.BytesIO())
    assert recording.active() is None


def test_where_in_a_create_graph_backward_takes_numbers():
    """``ops/_dual.where`` on Tensors with a Python number (the KL-divergence backward):
    the double backward matches the analytic one."""
    t = gg.tensor(np.array([[0.0, 0.2, 0.8]], np.float32), requires_grad=True)
    x = gg.tensor(np.log(np.array([[0.3, 0.3, 0.4]], np.float32)))
    loss = nn.functional.kl_div(x, t, reduction="sum")
    (g,) = gg.autograd.grad(loss, t, create_graph=True)
    (h,) = gg.autograd.grad(g.sum(), t)
    # d/dt (log t + 1 - x) = 1/t where t > 0, and 0 where t == 0
    expect = np.where(t.array > 0, 1 / np.where(t.array > 0, t.array, 1), 0)
    np.testing.assert_allclose(h.array, expect, rtol=1e-6)
