"""Hard limits on every call to Adobe, against servers that misbehave on purpose.

Each server here is a real HTTP server on 127.0.0.1 that does what a broken
or hostile Adobe might: answer a few bytes at a time (each read stays under
the per-read timeout, so only a whole-call deadline stops it), answer a
gzip body that inflates far past any sane size, or redirect to another
host that answers 401. The assertions are on what the server saw (the
client hung up before it finished) and on what the user got, never on
elapsed time.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask.testing import FlaskClient

from flask_adobe_oauth.testing import StandInAdobe

from .helpers import authorize, local, login, make_app, start_login, stored_token

Handler = Callable[[BaseHTTPRequestHandler], None]


class MisbehavingServer:
    """A threaded HTTP server on 127.0.0.1 answering each path with a handler."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Handler] = {}
        self.seen: list[dict[str, str]] = []
        #: How many chunks a trickle sent before the client hung up (None: it sent them all).
        self.cut_after: list[int | None] = []
        outer = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _any(self) -> None:
                outer.seen.append({k.lower(): v for k, v in self.headers.items()})
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                route = outer.routes.get(self.path.split("?", 1)[0])
                if route is None:
                    self.send_error(404)
                    return
                route(self)

            do_GET = do_POST = _any

        self._server = ThreadingHTTPServer((host, 0), _Handler)
        self._server.daemon_threads = True
        self._server.handle_error = lambda *_: None  # type: ignore[method-assign]  # hang-ups are the point
        self.url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> MisbehavingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def trickle(self, path: str, chunks: list[bytes], pause: float) -> None:
        """Answer ``path`` with ``chunks`` (status line and headers included), one per ``pause``."""

        def handler(h: BaseHTTPRequestHandler) -> None:
            for number, chunk in enumerate(chunks):
                try:
                    h.wfile.write(chunk)
                    h.wfile.flush()
                except OSError:
                    self.cut_after.append(number)
                    h.close_connection = True
                    return
                time.sleep(pause)
            self.cut_after.append(None)
            h.close_connection = True

        self.routes[path] = handler

    def answer(self, path: str, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        def handler(h: BaseHTTPRequestHandler) -> None:
            h.send_response(status)
            for name, value in (headers or {}).items():
                h.send_header(name, value)
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body)

        self.routes[path] = handler


def trickled_token_answer() -> list[bytes]:
    """A valid token answer, sent as ~60 pieces: each arrives well within a 1 s read timeout."""
    body = json.dumps({"access_token": "a" * 40, "token_type": "bearer", "expires_in": 3600}).encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
    head += b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n"
    whole = head + body
    return [whole[i : i + 3] for i in range(0, len(whole), 3)]


@pytest.fixture
def bad() -> Iterator[MisbehavingServer]:
    with MisbehavingServer() as server:
        yield server


# -- the token endpoint ---------------------------------------------------------------------


def test_a_token_endpoint_trickling_its_headers_is_cut_at_the_deadline(
    standin: StandInAdobe, bad: MisbehavingServer
) -> None:
    chunks = trickled_token_answer()
    bad.trickle("/token", chunks, pause=0.25)  # 60 × 0.25 s: 15 s in all, never 1 s silent
    client = make_app(standin, token_url=f"{bad.url}/token", timeout=1).test_client()
    response = client.get(local(authorize(start_login(client))))
    assert response.status_code == 502
    assert "did not answer within 1 s" in response.get_data(as_text=True)
    assert stored_token(client) is None
    for _ in range(100):  # the server notices the hang-up at its next write
        if bad.cut_after:
            break
        time.sleep(0.05)
    assert bad.cut_after and bad.cut_after[0] is not None and bad.cut_after[0] < len(chunks)


def test_a_gzip_bomb_from_the_token_endpoint_is_refused_at_the_cap(
    standin: StandInAdobe, bad: MisbehavingServer
) -> None:
    inflated = b'{"access_token": "' + b"a" * (40 * 1024 * 1024) + b'"}'
    bomb = gzip.compress(inflated, compresslevel=9)
    assert len(bomb) < 200 * 1024  # a small answer on the wire
    bad.answer("/token", 200, bomb, {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    client = make_app(standin, token_url=f"{bad.url}/token", max_response_bytes=1024 * 1024).test_client()
    response = client.get(local(authorize(start_login(client))))
    assert response.status_code == 502
    assert "answered more than 1,048,576 bytes" in response.get_data(as_text=True)


def test_an_answer_declaring_too_large_a_body_is_refused_before_reading(
    standin: StandInAdobe, bad: MisbehavingServer
) -> None:
    bad.answer("/token", 200, b"x" * (2 * 1024 * 1024), {"Content-Type": "application/json"})
    client = make_app(standin, token_url=f"{bad.url}/token", max_response_bytes=1024 * 1024).test_client()
    response = client.get(local(authorize(start_login(client))))
    assert response.status_code == 502
    assert "more than 1,048,576 bytes" in response.get_data(as_text=True)


# -- adobe.session --------------------------------------------------------------------------


def api_app(standin: StandInAdobe, api: str, **options: Any) -> FlaskClient:
    app = make_app(standin, api_base_url=api, **options)

    @app.get("/call/<path:path>")
    def call(path: str) -> Any:
        from flask_adobe_oauth import adobe

        response = adobe.session.get("/" + path)
        return {"status": response.status_code, "size": len(response.content)}

    client = app.test_client()
    assert login(client).status_code == 302
    return client


@pytest.mark.parametrize("close", [False, True], ids=["keep-alive", "connection-close"])
def test_an_api_trickling_its_body_is_cut_at_api_timeout(
    standin: StandInAdobe, bad: MisbehavingServer, close: bool
) -> None:
    # With "Connection: close" http.client hands the socket from the connection
    # to the answer: the deadline must still find it.
    extra = b"Connection: close\r\n" if close else b""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + extra + b"Content-Length: 200\r\n\r\n"
    chunks = [head] + [b" "] * 199 + [b"1"]
    bad.trickle("/slow", chunks, pause=0.25)
    client = api_app(standin, bad.url, api_timeout=1)
    response = client.get("/call/slow")
    assert response.status_code == 502
    assert "did not answer within 1 s" in response.get_data(as_text=True)
    assert stored_token(client) is not None  # a slow Adobe does not sign anyone out
    for _ in range(100):  # the server notices the hang-up at its next write
        if bad.cut_after:
            break
        time.sleep(0.05)
    assert bad.cut_after and bad.cut_after[0] is not None and bad.cut_after[0] < len(chunks)


def test_a_per_call_timeout_is_a_deadline_for_that_call(
    standin: StandInAdobe, bad: MisbehavingServer
) -> None:
    chunks = [b"HTTP/1.1 200 OK\r\n"] + [b"X-Slow: 1\r\n"] * 40 + [b"Content-Length: 2\r\n\r\n{}"]
    bad.trickle("/slow", chunks, pause=0.25)
    app = make_app(standin, api_base_url=bad.url, api_timeout=60)

    @app.get("/quick")
    def quick() -> Any:
        from flask_adobe_oauth import adobe

        return {"status": adobe.session.get("/slow", timeout=1).status_code}

    client = app.test_client()
    login(client)
    response = client.get("/quick")
    assert response.status_code == 502
    assert "did not answer within 1 s" in response.get_data(as_text=True)


def test_a_gzip_bomb_from_an_api_is_refused_at_the_cap(standin: StandInAdobe, bad: MisbehavingServer) -> None:
    bomb = gzip.compress(b"[" + b"0," * (20 * 1024 * 1024) + b"0]", compresslevel=9)
    bad.answer("/bomb", 200, bomb, {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    client = api_app(standin, bad.url, max_response_bytes=1024 * 1024)
    response = client.get("/call/bomb")
    assert response.status_code == 502
    assert "more than 1,048,576 bytes" in response.get_data(as_text=True)


def test_answers_under_the_cap_arrive_whole(standin: StandInAdobe, bad: MisbehavingServer) -> None:
    body = gzip.compress(b"[" + b"0," * 100_000 + b"0]")
    bad.answer("/fine", 200, body, {"Content-Type": "application/json", "Content-Encoding": "gzip"})
    client = api_app(standin, bad.url, max_response_bytes=1024 * 1024)
    assert client.get("/call/fine").json == {"status": 200, "size": 200_003}


# -- redirects to other hosts -----------------------------------------------------------------


def test_a_401_from_another_host_after_a_redirect_does_not_sign_the_user_out(standin: StandInAdobe) -> None:
    with MisbehavingServer() as adobe_api, MisbehavingServer(host="localhost") as elsewhere:
        elsewhere.answer("/whoami", 401, b'{"error": "who are you"}', {"WWW-Authenticate": "Bearer"})
        adobe_api.answer("/moved", 302, b"", {"Location": f"{elsewhere.url}/whoami"})
        client = api_app(standin, adobe_api.url)
        refreshes = len(standin.token_calls())
        assert client.get("/call/moved").json == {"status": 401, "size": 24}
        assert stored_token(client) is not None  # still signed in
        assert len(standin.token_calls()) == refreshes  # and no refresh was spent on it
        first, hop = adobe_api.seen[-1], elsewhere.seen[-1]
        assert first["authorization"].startswith("Bearer ") and first["x-api-key"] == standin.client_id
        assert "authorization" not in hop
        assert "x-api-key" not in hop  # the client id stays with Adobe's hosts too


def test_a_401_from_the_api_itself_still_means_the_token_is_refused(
    standin: StandInAdobe, bad: MisbehavingServer
) -> None:
    bad.answer("/me", 401, b'{"error_code": "401013", "message": "Oauth token is not valid"}')
    client = api_app(standin, bad.url)
    response = client.get("/call/me", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert "401013" in response.json["message"]
    assert stored_token(client) is None


@pytest.mark.parametrize("seconds", [float("nan"), float("inf"), -float("inf")])
def test_a_deadline_that_is_not_finite_is_refused_and_the_others_still_fire_in_order(seconds: float) -> None:
    """Issue #27, 2: a NaN deadline in the shared watchdog's heap broke its
    ordering (another call's 1 s deadline then ran for many); none is armed now."""
    from flask_adobe_oauth.transport import Deadline

    with pytest.raises(ValueError, match="finite"):
        Deadline(seconds)
    later, sooner = Deadline(30.0), Deadline(0.2)
    try:
        started = time.monotonic()
        while not sooner.expired and time.monotonic() - started < 5:
            time.sleep(0.01)
        assert sooner.expired and time.monotonic() - started < 2
        assert not later.expired
    finally:
        later.close()
        sooner.close()
