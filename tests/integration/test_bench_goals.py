"""bench/bench_goals.py reads the figures out of the bench scripts' outputs (checked on
outputs the scripts printed; the full run takes minutes and is not part of the suite)."""

from __future__ import annotations

import runpy
from pathlib import Path

G = runpy.run_path(str(Path(__file__).resolve().parents[2] / "bench" / "bench_goals.py"),
                   run_name="bench_goals")

MLP = """\
framework   s/epoch (median)     min     max  test acc  peak MiB
numpy                 0.790   0.710   0.794    91.33%       3.5
glassgrad             0.834   0.828   0.990    91.33%       4.2
torch                 1.034   1.022   1.092    91.33%      81.1
ratio                   epoch medians  median of turns
glassgrad / torch               0.80x            0.82x
glassgrad / numpy               1.09x            1.14x
"""
LENET = """\
ratio glassgrad/torch: 1.13x (best), 1.14x (median)

peak memory (max RSS of a child process training 50 batches):
  glassgrad: peak    68.9 MiB, after imports/data/model    52.0 MiB, training adds   16.9 MiB
  torch    : peak   333.2 MiB, after imports/data/model   303.1 MiB, training adds   30.1 MiB
"""
LSTM = """\
variant             wall s/epoch     min     max  vs torch  CPU s/epoch  vs torch  last loss  peak MiB
glassgrad                  19.42   18.64   19.98     1.48x        37.95     1.45x    2.12387      39.2
glassgrad-composed         29.96   29.01   36.00     2.28x        58.19     2.22x    2.12387      48.0
torch                      13.16   13.14   13.91     1.00x        26.17     1.00x    2.12387     140.7
"""
SCALING = """\
float32 GEMM peak (NumPy BLAS, 2048^3): 156.3 GFLOP/s; OPENBLAS_CORETYPE=None threads=2

 batch  gg us/sample  torch us/sample  ratio  gg %peak  numpy %peak
  1024          8.34             9.61   0.87     62.8%        65.5%

 width  gg us/sample  torch us/sample  ratio  gg %peak  numpy %peak
  4096        146.92           179.73   0.82     57.0%        54.2%
"""


def test_parsers_read_the_printed_figures():
    assert G["ratio"](MLP, "glassgrad / torch") == 0.80
    assert G["ratio"](MLP, "glassgrad / numpy") == 1.09
    assert G["mlp_memory"](MLP, "glassgrad") == 4.2 and G["mlp_memory"](MLP, "torch") == 81.1
    assert G["lenet"](LENET) == (1.14, 16.9, 30.1)
    assert G["lstm"](LSTM) == (1.48, 39.2, 140.7)
    assert G["scaling"](SCALING) == {"batch 1024": (62.8, 65.5), "width 4096": (57.0, 54.2)}
    assert G["ratio"]("nothing here", "glassgrad / torch") is None
