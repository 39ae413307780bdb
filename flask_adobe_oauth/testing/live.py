"""Serving an app over real HTTP on 127.0.0.1, and headless Chromium settings,
for browser tests of apps that use flask-adobe-oauth."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import make_server

#: Debian's Chromium (``apt-get install chromium``); Playwright's own browser
#: download is not needed: ``chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)``.
CHROMIUM = "/usr/bin/chromium"
#: Headless, and kept off the network: no background, update or sync traffic.
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (or is closed, for refusal tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Serve the WSGI ``app`` on a free port of 127.0.0.1 in a thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
