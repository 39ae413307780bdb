"""The stand-in Adobe served over HTTP/1.1 keep-alive.

``StandInAdobe`` serves with werkzeug's development server, which answers
every request with ``Connection: close`` (werkzeug/serving.py: "Always close
the connection. This disables HTTP/1.1 keep-alive connections"). Against it no
client can reuse a connection, so benchmark 4 would measure the server, not
the libraries, and every login would pay for new TCP connections whatever the
library does.

:class:`KeepAliveStandIn` is the same stand-in — the same provider app, state,
URLs, credentials and ``options()`` — served by a small threaded HTTP/1.1
server from the standard library that keeps connections open, as Adobe's
servers do. ``python -m bench --server werkzeug`` runs against the stand-in's
own server instead.
"""

from __future__ import annotations

import io
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.provider import create_provider_app


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    wsgi_app: Any = None


class _WSGIHandler(BaseHTTPRequestHandler):
    """Runs one WSGI app; keeps the connection open between requests."""

    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection is closed after this many seconds
    # TCP_NODELAY, as production servers set it: otherwise the body, written
    # after the headers, waits for the client's delayed ACK (40 ms) on every
    # reused connection.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # request lines carry codes and states
        pass

    def _environ(self, body: bytes) -> dict[str, Any]:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote(path, encoding="latin-1"),
            "QUERY_STRING": query,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)) if body else "",
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                continue
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        answer: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer["status"], answer["headers"] = status, headers
            return lambda data: None

        result = self.server.wsgi_app(self._environ(body), start_response)
        try:
            payload = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        code, _, reason = answer["status"].partition(" ")
        self.send_response(int(code), reason)
        names = set()
        for name, value in answer["headers"]:
            names.add(name.lower())
            self.send_header(name, value)
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve


class KeepAliveStandIn(StandInAdobe):
    """:class:`StandInAdobe` served over keep-alive HTTP/1.1 on 127.0.0.1."""

    _http: _Server | None = None
    _serving: threading.Thread | None = None

    def start(self) -> KeepAliveStandIn:
        if self._http is not None:
            return self
        server = _Server(("127.0.0.1", 0), _WSGIHandler)
        self.url = f"http://127.0.0.1:{server.server_port}"
        self.app = create_provider_app(self.state, self.url)
        # Through a lambda, so a middleware put on self.app.wsgi_app sees the calls.
        server.wsgi_app = lambda environ, start_response: self.app(environ, start_response)
        self._http = server
        self._serving = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="adobe-standin", daemon=True
        )
        self._serving.start()
        return self

    def stop(self) -> None:
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._serving is not None:
            self._serving.join(timeout=5)
            self._serving = None
