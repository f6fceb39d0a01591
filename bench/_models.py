"""Model builders shared by the bench scripts (no side effects on import)."""

from __future__ import annotations

from typing import Any


def gg_lstm_classifier(hidden: int, cell: str = "LSTM") -> Any:
    """Row-wise MNIST classifier in glassgrad: ``nn.LSTM(28, hidden)`` (or ``nn.GRU`` with
    ``cell="GRU"``) over the 28 rows, then ``Linear(hidden, 10)`` on the last hidden state
    (bench_lstm.py, bench_allocator.py)."""
    from glassgrad import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = getattr(nn, cell)(28, hidden, batch_first=True)
            self.fc = nn.Linear(hidden, 10)

        def forward(self, x: Any) -> Any:
            _, h = self.rnn(x)
            return self.fc((h[0] if cell == "LSTM" else h)[-1])

    return Net()
