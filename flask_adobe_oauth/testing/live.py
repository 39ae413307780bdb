"""Serving a WSGI app over real HTTP on the loopback interface, and headless
Chromium settings, for tests of apps that use flask-adobe-oauth.

:class:`ServerThread` is the one way this project serves an app in a thread:
the stand-in Adobe (:class:`~flask_adobe_oauth.testing.StandInAdobe`), the
benchmarks and the tests that need a real server all use it::

    with ServerThread(app) as server:
        requests.get(server.url + "/")
"""

from __future__ import annotations

import io
import ipaddress
import socket
import socketserver
import threading
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from types import TracebackType
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import InternalServerError
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

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

#: The host names :class:`ServerThread` binds; anything else is refused.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")

# What a client going away looks like to a request handler.
_DROPPED = (ConnectionError, TimeoutError)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (or is closed, for refusal tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class QuietRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler, logging nothing: request lines carry codes
    and states (a server's errors, from the app, are still logged)."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log(self, *args: Any, **kwargs: Any) -> None:
        pass


class _KeepAliveHandler(WSGIRequestHandler):
    """werkzeug's request handler, keeping HTTP/1.1 connections open between requests.

    werkzeug's own ``run_wsgi`` closes every connection (it sends
    ``Connection: close``, then drains the socket, which would swallow the
    next request on a kept connection). This one reads the request body whole
    first, so the next request line is where the client left it, and answers
    with a ``Content-Length`` or chunked body. The WSGI environ is werkzeug's
    (``werkzeug.socket`` included, for answers written on the raw socket).
    """

    protocol_version = "HTTP/1.1"
    #: An idle kept connection is closed after this many seconds.
    timeout = 60
    # TCP_NODELAY, as production servers set it: otherwise a body, written
    # after the headers, waits for the client's delayed ACK (40 ms) on every
    # reused connection.
    disable_nagle_algorithm = True

    def run_wsgi(self) -> None:
        if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
            self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        self.environ = environ = self.make_environ()
        try:
            body = self._read_body(environ)
        except ValueError:
            self.send_error(400, "Bad Content-Length")  # and Connection: close
            return
        except (OSError, EOFError):  # the client went away, or sent a broken chunked body
            self.close_connection = True
            return
        environ["wsgi.input"] = io.BytesIO(body)

        status: str | None = None
        headers: list[tuple[str, str]] = []
        headers_sent = False
        chunked = False
        bodiless = environ["REQUEST_METHOD"] == "HEAD"

        def write(data: bytes) -> None:
            nonlocal headers_sent, chunked
            if status is None:
                raise AssertionError("write() before start_response")
            if not headers_sent:
                headers_sent = True
                code, _, reason = status.partition(" ")
                self.send_response(int(code), reason)
                names = set()
                for name, value in headers:
                    self.send_header(name, value)
                    names.add(name.lower())
                no_body = bodiless or int(code) < 200 or int(code) in (204, 304)
                if "content-length" not in names and not no_body:
                    if self.request_version >= "HTTP/1.1":
                        chunked = True
                        self.send_header("Transfer-Encoding", "chunked")
                    else:  # the end of the connection is the end of the body
                        self.close_connection = True
                if self.close_connection:
                    self.send_header("Connection", "close")
                self.end_headers()
            if data and not bodiless:
                self.wfile.write(b"%x\r\n%b\r\n" % (len(data), data) if chunked else data)

        def start_response(
            status_line: str, response_headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            nonlocal status, headers
            if exc_info:
                try:
                    if headers_sent:
                        raise exc_info[1].with_traceback(exc_info[2])
                finally:
                    exc_info = None
            elif status is not None:
                raise AssertionError("Headers already set")
            status, headers = status_line, list(response_headers)
            return write

        def execute(app: WSGIApplication) -> None:
            result: Iterable[bytes] = app(environ, start_response)
            try:
                for data in result:
                    write(data)
                if not headers_sent:
                    write(b"")
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()

        try:
            execute(self.server.app)
        except _DROPPED as error:
            self.close_connection = True
            self.connection_dropped(error, environ)
        except Exception:
            self.close_connection = True  # what went out of the answer, if anything, is not whole
            if not headers_sent:
                status, headers = None, []
                with suppress(Exception):
                    execute(InternalServerError())
            self.server.log("error", "Error on request:\n%s", traceback.format_exc())

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        if environ.get("wsgi.input_terminated"):  # chunked: werkzeug's reader ends at the last chunk
            return bytes(environ["wsgi.input"].read())
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        body = self.rfile.read(length) if length else b""
        if len(body) < length:
            raise EOFError("the client closed the connection inside the body")
        return body


_keeping_alive_classes: dict[type[WSGIRequestHandler], type[WSGIRequestHandler]] = {}


def _keeping_alive(handler: type[WSGIRequestHandler]) -> type[WSGIRequestHandler]:
    """``handler`` with :class:`_KeepAliveHandler`'s ``run_wsgi`` under its own
    (made once per handler class)."""
    if issubclass(handler, _KeepAliveHandler):
        return handler
    if handler is WSGIRequestHandler:
        return _KeepAliveHandler
    made = _keeping_alive_classes.get(handler)
    if made is None:
        made = type(f"KeepAlive{handler.__name__}", (handler, _KeepAliveHandler), {})
        made = _keeping_alive_classes.setdefault(handler, made)
    return made


class _BindFailed(Exception):
    """Carries a bind error past werkzeug, which prints it and calls ``sys.exit(1)``."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


class _Server(BaseWSGIServer):
    """werkzeug's server that raises on a failed bind and can close its open connections."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def server_bind(self) -> None:
        try:
            super().server_bind()
        except OSError as error:
            raise _BindFailed(error) from error

    def server_activate(self) -> None:
        try:
            super().server_activate()
        except OSError as error:
            raise _BindFailed(error) from error

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        with self._open_lock:
            self._open.add(connection)
        return connection, address

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Shut every open connection: a handler waiting on one (a kept-alive
        connection, idle) sees the end of it and finishes."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _ThreadedServer(socketserver.ThreadingMixIn, _Server):
    multithread = True
    daemon_threads = True


class ServerThread:
    """A WSGI app served over real HTTP on the loopback interface, in a daemon thread.

    ::

        with ServerThread(app) as server:       # or server = ServerThread(app).start()
            requests.get(server.url + "/")      # ... server.stop()

    The port is bound when the object is made (``port=0``: a free one), so
    :attr:`url` is known before :meth:`start`; :attr:`app` may be replaced
    until then (and after, for the next requests). Only ``host`` names in
    :data:`LOOPBACK_HOSTS` are accepted, and the address bound must be a
    loopback one. A port in use raises :class:`OSError`.

    The server is werkzeug's development server. ``threaded`` serves each
    connection in its own thread. ``request_handler`` is a
    :class:`werkzeug.serving.WSGIRequestHandler` subclass: werkzeug's own
    (which logs every request) by default, :class:`QuietRequestHandler` to
    log nothing. werkzeug's server closes every connection after its answer;
    ``keep_alive=True`` keeps HTTP/1.1 connections open between requests, as
    production servers do (clients' connection pools then reuse them; with
    TCP_NODELAY), and combines with ``request_handler`` (whose own
    ``run_wsgi``, if it has one, must call ``super().run_wsgi()``).

    :meth:`stop` stops accepting, shuts the connections still open (an idle
    kept-alive one, an answer still being sent), frees the port and joins the
    thread. A stopped ``ServerThread`` does not start again: make another.
    """

    def __init__(
        self,
        app: WSGIApplication,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        request_handler: type[WSGIRequestHandler] | None = None,
        threaded: bool = True,
        keep_alive: bool = False,
        name: str = "wsgi-server",
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError(
                f"serves on the loopback interface only ({', '.join(LOOPBACK_HOSTS)}), not {host!r}"
            )
        if keep_alive and not threaded:
            raise ValueError("keep_alive needs threaded=True: one kept connection would hold the server")
        handler = request_handler or WSGIRequestHandler
        if keep_alive:
            handler = _keeping_alive(handler)
        server_class = _ThreadedServer if threaded else _Server
        try:
            self._server: _Server = server_class(host, port, app, handler)
        except _BindFailed as failed:
            raise failed.error from None
        address = str(self._server.server_address[0])
        if not ipaddress.ip_address(address.partition("%")[0]).is_loopback:
            self._server.server_close()
            raise ValueError(f"{host!r} is bound to {address}, which is not a loopback address")
        self.host = host
        #: The port bound.
        self.port = int(self._server.server_port)
        #: ``http://host:port``, no trailing slash.
        self.url = f"http://{f'[{host}]' if ':' in host else host}:{self.port}"
        self.keep_alive = keep_alive
        self._name = name
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def app(self) -> WSGIApplication:
        """The WSGI app served: replaceable, for the next requests."""
        return self._server.app

    @app.setter
    def app(self, app: WSGIApplication) -> None:
        self._server.app = app

    @property
    def serving(self) -> bool:
        """Started and not stopped."""
        return self._thread is not None and not self._stopped

    def start(self) -> ServerThread:
        """Serve in a daemon thread (once; again is a no-op)."""
        if self._stopped:
            raise RuntimeError("this ServerThread was stopped; make a new one")
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=self._name,
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, shut open connections, free the port, join the thread
        (waiting at most ``timeout`` seconds). Again is a no-op."""
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None:
            self._server.shutdown()  # returns once serve_forever has stopped
        self._server.close_connections()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "serving" if self.serving else "stopped" if self._stopped else "bound"
        return f"<ServerThread {self.url} {state}{' keep-alive' if self.keep_alive else ''}>"


@contextmanager
def serve(app: WSGIApplication, **options: Any) -> Iterator[str]:
    """Serve the WSGI ``app`` on a free port of 127.0.0.1 in a thread; yields its base URL.

    A shorthand for :class:`ServerThread` (``options`` are its keyword arguments)."""
    with ServerThread(app, **options) as server:
        yield server.url
