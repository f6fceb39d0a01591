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
epoch seconds: numpy 0.79 0.71 0.79; glassgrad 0.83 0.83 0.99; torch 1.03 1.02 1.09
ratio                   epoch medians  median of turns
glassgrad / torch               0.80x            0.82x
glassgrad / numpy               1.09x            1.14x
"""
LENET = """\
ratio glassgrad/torch: 1.13x (best), 1.14x (median)
ratio glassgrad/numpy: 1.02x (best), 1.05x (median)

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


TRANSFORMER = """\
glassgrad  median    86.00 ms/step  (best 77.51)
torch      median    97.47 ms/step  (best 90.22)
glassgrad / torch: 0.88 (best 0.86, median of per-turn ratios 0.86)
"""
INFERENCE = """\
model    batch  glassgrad µs   torch µs   ratio  per-turn   numpy µs  gg/numpy
mlp          1          37.1       38.2   0.97x     0.88x       13.8     2.69x
lstm       256      105781.3    74449.7   1.42x     1.44x   148899.4     0.71x
"""


def test_parsers_read_the_printed_figures():
    mlp = G["mlp_rows"](MLP, "MLP")
    assert mlp[0][1:] == (f"{0.83 / 1.02:.2f}x", "0.80x", "≤ 0.9x", True)
    assert mlp[1][1:] == (f"{0.83 / 0.71:.2f}x", "1.09x", "≤ 1.1x", True)
    assert mlp[2][1:] == ("4.2", "vs 81.1", "≤ PyTorch", True)
    lenet = G["lenet_rows"](LENET)
    assert [r[1:3] for r in lenet] == [("1.13x", "1.14x"), ("1.02x", "1.05x"), ("16.9", "vs 30.1")]
    assert lenet[0][4] is False and lenet[1][4] is True
    lstm = G["rnn_rows"](LSTM, "LSTM")
    assert lstm[0][1:3] == (f"{18.64 / 13.14:.2f}x", f"{19.42 / 13.16:.2f}x")
    assert lstm[1][1:3] == ("39.2", "vs 140.7")
    assert G["transformer_rows"](TRANSFORMER)[0][1:] == ("0.86x", "0.88x", "≤ 1.2x", True)
    inf = G["inference_rows"](INFERENCE)
    assert [r[1:3] for r in inf] == [("0.88x t", f"0.97x (NumPy {13.8 / 38.2:.2f}x)"),
                                     ("1.44x t", f"1.42x (NumPy {148899.4 / 74449.7:.2f}x)")]
    assert [r[4] for r in inf] == [True, False]
    assert G["scaling_rows"](SCALING, False)[1][1:3] == ("57.0%", "(NumPy loop 54.2%)")
    assert G["transformer_rows"]("nothing here")[0][4] is None


def test_write_readme_replaces_only_the_marked_section(tmp_path):
    p = tmp_path / "README.md"
    p.write_text("# M\n\nintro\n\n## Old\n\nkept\n", encoding="utf-8")
    G["write_readme"]("first table", str(p))
    text = p.read_text(encoding="utf-8")
    assert text.index("## Goals") < text.index("## Old") and "first table" in text
    G["write_readme"]("second table", str(p))
    text = p.read_text(encoding="utf-8")
    assert "second table" in text and "first table" not in text
    assert text.count(G["START"]) == 1 and text.endswith("kept\n")
