"""The playground: watch every gradient while a small network learns, in the browser.

``glassgrad playground`` (or :func:`serve`) starts a local web server on 127.0.0.1 and prints
its URL. The page picks a toy data set, the layers, loss, optimizer, learning rate and batch
size; glassgrad trains the network on the server and streams snapshots to the page (Server-Sent
Events): the data and decision boundary, train/test loss, every hidden neuron over the plane,
and for the current batch each layer's δ = ∂L/∂Z, ∂W and ∂b with shapes and norms, the
gradient-flow chart and, on clicking a layer, its trace rows (formulas, broadcast sums).

Built on the standard library only (``http.server``); the page is plain HTML, SVG and canvas
code shipped in ``glassgrad/playground/static`` — nothing is loaded from the network, and
nothing of the training is re-implemented in JavaScript. See ``docs/playground.md``.
"""

from __future__ import annotations

import sys
import threading
from typing import Any, TextIO

from .server import PlaygroundServer, make_server
from .session import ConfigError, Limits, Session, default_config, validate_config

__all__ = ["serve", "make_server", "PlaygroundServer", "Session", "Limits", "ConfigError",
           "default_config", "validate_config"]


def serve(host: str = "127.0.0.1", port: int = 0, out: TextIO | None = None,
          ready: threading.Event | None = None, **kwargs: Any) -> None:
    """Serve the playground until Ctrl-C (KeyboardInterrupt), then stop every session and
    release the port. Prints the URL to ``out`` (default stdout). ``kwargs`` go to
    :class:`PlaygroundServer` (``max_sessions``, ``limits``, ``idle_timeout``, ...)."""
    out = out or sys.stdout
    srv = make_server(host, port, **kwargs)
    # everything after the port is bound sits in the try: a Ctrl-C that arrives while the
    # URL is printed or the serving thread starts stops as cleanly as one while serving
    try:
        t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True)
        t.start()
        print(f"glassgrad playground: {srv.url}  (Ctrl-C stops)", file=out, flush=True)
        if ready is not None:
            ready.set()
        while t.is_alive():
            t.join(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
        print("glassgrad playground: stopped", file=out, flush=True)
