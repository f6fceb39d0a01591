"""Inference speed: glassgrad vs PyTorch (CPU), ``eval()`` and ``no_grad()``, same weights.

Models: MLP 784-256-10, LeNet-5 (as ``bench_lenet.py``), LSTM 128 over the 28 rows of an
MNIST image then ``Linear(128, 10)`` (as ``bench_lstm.py``, ``nn.LSTM(batch_first=True)``),
each at batch 1 and batch 256 (``--batches``). PyTorch's initial weights are copied into
glassgrad's model; inputs are fixed random arrays (the speed does not depend on the data);
the outputs are checked to agree before timing. A hand-written NumPy forward of each model
(``_numpy_ref.py``'s ``predict`` for LeNet-5 and the LSTM; ``relu(x·W₁ᵀ + b₁)·W₂ᵀ + b₂``
for the MLP) takes its turns too: the bar for "no framework tax", and where PyTorch is
ahead of it, the sign that PyTorch's kernels beat every NumPy formulation.

Timing: for every (model, batch) the two frameworks take turns (``--reps`` turns of about
``--turn`` seconds each, the same number of calls for both); reported are the median time
per forward call, the ratio of the medians and the median of the per-turn ratios, then the
NumPy forward's median and glassgrad's ratio to it.

    python bench/bench_inference.py                      # 2 threads each
    python bench/bench_inference.py --models lenet --batches 1 --reps 3

``--threads`` sets PyTorch's intra-op threads and the BLAS threads NumPy uses (set before
NumPy is imported).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from typing import Any, Callable

import _threads  # first: it sets the BLAS threads before NumPy loads

_threads.from_argv("2")

import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "src"))
sys.path.insert(0, HERE)

from _models import gg_lstm_classifier  # noqa: E402
from _numpy_ref import NumpyLeNet, NumpyLSTM  # noqa: E402

MODELS = ("mlp", "lenet", "lstm")


def _torch_model(name: str) -> Any:
    import torch
    from torch import nn

    if name == "mlp":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    if name == "lenet":
        from bench_lenet import torch_lenet

        return torch_lenet()

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = nn.LSTM(28, 128, batch_first=True)
            self.fc = nn.Linear(128, 10)

        def forward(self, x: Any) -> Any:
            _, (h, _) = self.rnn(x)
            return self.fc(h[-1])

    assert torch is not None
    return Net()


def _gg_model(name: str) -> Any:
    from glassgrad import nn

    if name == "mlp":
        return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    if name == "lenet":
        from bench_lenet import gg_lenet

        return gg_lenet()
    return gg_lstm_classifier(128, "LSTM")


def _input_shape(name: str, batch: int) -> tuple:
    return {"mlp": (batch, 784), "lenet": (batch, 1, 28, 28), "lstm": (batch, 28, 28)}[name]


def _numpy_forward(name: str, state: dict[str, np.ndarray]) -> Callable[[np.ndarray], Any]:
    """The hand-written NumPy forward of model ``name`` with PyTorch's state-dict arrays."""
    if name == "lenet":
        return NumpyLeNet(state).predict
    if name == "lstm":
        return NumpyLSTM(state).predict
    w1, b1, w2, b2 = (np.ascontiguousarray(state[k], np.float32)
                      for k in ("0.weight", "0.bias", "2.weight", "2.bias"))

    def mlp(x: np.ndarray) -> np.ndarray:
        h = x @ w1.T
        h += b1
        np.maximum(h, 0, out=h)
        y = h @ w2.T
        y += b2
        return y
    return mlp


def make_pair(name: str, batch: int, seed: int) -> dict[str, Callable[[], Any]]:
    """``{"glassgrad": f, "torch": f, "numpy": f}``: each ``f()`` runs one forward pass
    (eval, no_grad; the NumPy forward) on the same fixed input and returns the output as
    an array."""
    import torch

    import glassgrad as gg

    torch.manual_seed(seed)
    tm = _torch_model(name).eval()
    gm = _gg_model(name)
    gm.load_state_dict({k: gg.tensor(v.detach().numpy().copy())
                        for k, v in tm.state_dict().items()})
    gm.eval()
    x = np.random.default_rng(seed).standard_normal(_input_shape(name, batch)).astype(np.float32)
    tx, gx = torch.from_numpy(x), gg.from_numpy(x)

    def run_torch() -> Any:
        with torch.no_grad():
            return tm(tx)

    def run_gg() -> Any:
        with gg.no_grad():
            return gm(gx)

    fwd = _numpy_forward(name, {k: v.detach().numpy() for k, v in tm.state_dict().items()})

    def run_numpy() -> Any:
        return fwd(x)

    a, b = run_gg().numpy(), run_torch().numpy()
    for other, what in ((b, "PyTorch's"), (run_numpy(), "the NumPy forward's")):
        if not np.allclose(a, other, rtol=1e-4, atol=1e-4):
            raise RuntimeError(f"{name} b{batch}: outputs differ from {what} (max "
                               f"{np.abs(a - other).max():.3g})")
    return {"glassgrad": run_gg, "torch": run_torch, "numpy": run_numpy}


def time_pair(fns: dict[str, Callable[[], Any]], reps: int, turn: float) -> dict[str, list]:
    """Per-call seconds of each turn, the frameworks alternating."""
    t0 = time.perf_counter()
    fns["torch"]()
    calls = max(1, int(turn / max(time.perf_counter() - t0, 1e-6)))
    times: dict[str, list] = {k: [] for k in fns}
    for _ in range(reps):
        for k, f in fns.items():
            _threads.settle()   # the other framework's threads idle first
            t0 = time.perf_counter()
            for _ in range(calls):
                f()
            times[k].append((time.perf_counter() - t0) / calls)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--batches", default="1,256")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--turn", type=float, default=0.2, help="seconds per turn (about)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    print(f"inference, eval() + no_grad(); NumPy {np.__version__}, PyTorch {torch.__version__}, "
          f"{a.threads} thread(s) each, {a.reps} alternating turns")
    print(f"{'model':8s} {'batch':>5s} {'glassgrad µs':>13s} {'torch µs':>10s} "
          f"{'ratio':>7s} {'per-turn':>9s} {'numpy µs':>10s} {'gg/numpy':>9s}")
    for name in a.models.split(","):
        if name not in MODELS:
            ap.error(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
        for bs in (int(b) for b in a.batches.split(",")):
            times = time_pair(make_pair(name, bs, a.seed), a.reps, a.turn)
            g, t, n = (statistics.median(times[k]) for k in ("glassgrad", "torch", "numpy"))
            turns = statistics.median(x / y for x, y in zip(times["glassgrad"], times["torch"]))
            print(f"{name:8s} {bs:5d} {g * 1e6:13.1f} {t * 1e6:10.1f} {g / t:6.2f}x "
                  f"{turns:8.2f}x {n * 1e6:10.1f} {g / n:8.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
