"""The helpers shipped for users' own tests: login_as, the pytest plugin,
and ServerThread, the one way an app is served in a thread."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from flask_adobe_oauth.testing import StandInAdobe, login_as
from flask_adobe_oauth.testing.live import QuietRequestHandler, ServerThread, serve

pytest_plugins = ["pytester"]


def test_login_as_lets_a_guarded_view_run_with_the_given_fields(client: FlaskClient) -> None:
    token = login_as(client, user_id="bob@AdobeID", scope="openid Report")
    assert token.scope == {"openid", "Report"}
    response = client.get("/dashboard")
    assert response.status_code == 200
    assert response.json == {"user": "bob@AdobeID", "scope": ["Report", "openid"]}
    assert client.get("/reports").status_code == 200


def test_login_as_goes_through_a_custom_storage(standin: StandInAdobe) -> None:
    from flask_adobe_oauth import Token

    class DictStorage:
        """A storage keyed by nothing: enough to see login_as use it."""

        def __init__(self) -> None:
            self.token: Token | None = None

        def get(self) -> Token | None:
            return self.token

        def set(self, token: Token) -> None:
            self.token = token

        def delete(self) -> None:
            self.token = None

    from .helpers import make_app

    storage = DictStorage()
    app: Flask = make_app(standin, storage=storage)
    client = app.test_client()
    login_as(client, user_id="carol@AdobeID")
    assert storage.token is not None and storage.token.user_id == "carol@AdobeID"
    assert client.get("/dashboard").json["user"] == "carol@AdobeID"


def test_standin_serves_only_on_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        StandInAdobe(host="0.0.0.0")


def test_standin_stops_and_frees_its_port() -> None:
    server = StandInAdobe().start()
    url = server.url
    assert requests.get(url + "/ims/keys", timeout=5).status_code == 200
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/ims/keys", timeout=5)


def test_plugin_fixture_is_available_to_a_users_project_without_setup(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests
        from flask import Flask
        from flask_adobe_oauth import make_adobe_blueprint, adobe_login_required
        from flask_adobe_oauth.testing import login_as

        def test_users_own(adobe_standin):
            app = Flask(__name__)
            app.config.update(SECRET_KEY="k", **adobe_standin.config())
            app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")

            @app.get("/private")
            @adobe_login_required
            def private():
                return "private"

            client = app.test_client()
            assert client.get("/private").status_code == 302
            login_as(client)
            assert client.get("/private").data == b"private"
            assert requests.get(adobe_standin.url + "/ims/keys", timeout=5).ok
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def _app_calling_adobe(standin: StandInAdobe, url: str) -> Flask:
    from flask_adobe_oauth import adobe, adobe_login_required, make_adobe_blueprint

    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-secret-key-not-for-production", **standin.config())
    app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")

    @app.get("/companies")
    @adobe_login_required
    def companies() -> object:
        return adobe.session.get(url).json()

    return app


def test_login_as_signs_in_with_a_token_the_standin_accepts(standin: StandInAdobe) -> None:
    client = _app_calling_adobe(standin, "/discovery/me").test_client()
    token = login_as(client)
    assert standin.is_valid_access_token(token.access_token)
    assert token.user_id == standin.state.user.sub
    assert token.refresh_token  # the default IMS scope has offline_access
    response = client.get("/companies")
    assert response.status_code == 200
    assert response.json["imsUserId"] == standin.state.user.sub


def test_login_as_with_another_user_id_is_that_user_at_the_standin(standin: StandInAdobe) -> None:
    client = _app_calling_adobe(standin, "/ims/userinfo/v2").test_client()
    login_as(client, user_id="someone@AdobeID")
    assert client.get("/companies").json["sub"] == "someone@AdobeID"


def test_adobe_absolute_urls_reach_the_standin_the_app_points_at(standin: StandInAdobe) -> None:
    client = _app_calling_adobe(standin, "https://analytics.adobe.io/discovery/me").test_client()
    login_as(client)
    response = client.get("/companies")
    assert response.status_code == 200
    assert response.json["imsUserId"] == standin.state.user.sub


def test_a_refused_token_is_reported_as_refused_not_as_signed_out(
    standin: StandInAdobe, caplog: pytest.LogCaptureFixture
) -> None:
    client = _app_calling_adobe(standin, "/discovery/me").test_client()
    login_as(client, access_token="not-a-token-of-the-standin")
    response = client.get("/companies", headers={"Accept": "application/json"})
    assert response.status_code == 401
    message = response.json["message"]
    assert "Adobe refused the stored access token" in message
    assert "401013" in message  # Adobe's own error code, quoted
    assert "not-a-token-of-the-standin" not in message
    assert any("Adobe refused" in r.getMessage() for r in caplog.records)


def test_adobe_urls_are_not_moved_when_the_app_points_at_adobe_itself(standin: StandInAdobe) -> None:
    from flask_adobe_oauth.extension import get_runtime

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test-secret-key-not-for-production",
        ADOBE_OAUTH_CLIENT_ID="id",
        ADOBE_OAUTH_CLIENT_SECRET="secret-value",
        ADOBE_OAUTH_API_BASE_URL="https://analytics.adobe.io/api/exampl0",
    )
    from flask_adobe_oauth import make_adobe_blueprint

    app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")
    session = get_runtime(None, app).api
    assert (
        session.absolute("https://analytics.adobe.io/discovery/me")
        == "https://analytics.adobe.io/discovery/me"
    )
    assert session.absolute("/reports") == "https://analytics.adobe.io/api/exampl0/reports"
    pointed = _app_calling_adobe(standin, "/x")
    moved = get_runtime(None, pointed).api.absolute("https://analytics.adobe.io/discovery/me?x=1")
    assert moved == standin.url + "/discovery/me?x=1"


# -- ServerThread --------------------------------------------------------------------------


def _wsgi(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """Echoes a POST body, streams a body of unknown length, fails, or says ok."""
    path = environ["PATH_INFO"]
    if path == "/echo":
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response(
            "200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))]
        )
        return [body]
    if path == "/stream":  # no Content-Length: chunked on a kept connection
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([b"one ", b"two ", b"three"])
    if path == "/boom":
        raise RuntimeError("the app failed")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def _counting(accepted: list[Any]) -> type[QuietRequestHandler]:
    """A request handler that notes every TCP connection the server accepts."""

    class Counting(QuietRequestHandler):
        def setup(self) -> None:
            super().setup()
            accepted.append(self.client_address)

    return Counting


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "example.com", ""])
def test_server_thread_serves_on_loopback_only(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        ServerThread(_wsgi, host=host)


def test_server_thread_serves_stops_and_frees_its_port() -> None:
    server = ServerThread(_wsgi)
    assert server.url == f"http://127.0.0.1:{server.port}"  # known before serving
    with server:
        assert requests.get(server.url + "/", timeout=5).text == "ok"
        with pytest.raises(OSError):  # in use: an error, not werkzeug's sys.exit
            ServerThread(_wsgi, port=server.port)
    with pytest.raises(requests.ConnectionError):
        requests.get(server.url + "/", timeout=5)
    with pytest.raises(RuntimeError, match="stopped"):
        server.start()
    server.stop()  # again: nothing to do
    with ServerThread(_wsgi, port=server.port) as again:  # the port is free for the next server
        assert requests.get(again.url + "/", timeout=5).text == "ok"


def test_a_server_thread_never_started_frees_its_port_on_stop() -> None:
    server = ServerThread(_wsgi)
    server.stop()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", server.port))


def test_serve_yields_the_url_of_a_server_thread() -> None:
    with serve(_wsgi) as url:
        assert requests.get(url + "/", timeout=5).text == "ok"
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/", timeout=5)


def test_werkzeugs_server_opens_a_connection_per_request() -> None:
    accepted: list[Any] = []
    with ServerThread(_wsgi, request_handler=_counting(accepted)) as server, requests.Session() as http:
        for _ in range(3):
            assert http.get(server.url + "/", timeout=5).text == "ok"
    assert len(accepted) == 3


def test_keep_alive_serves_many_requests_on_one_connection() -> None:
    accepted: list[Any] = []
    handler = _counting(accepted)
    with ServerThread(_wsgi, request_handler=handler, keep_alive=True) as server, requests.Session() as http:
        for number in range(3):
            assert http.get(server.url + "/", timeout=5).text == "ok"
            payload = b"x" * (1000 * number)  # the body is read whole: the next request line follows it
            assert http.post(server.url + "/echo", data=payload, timeout=5).content == payload
            streamed = http.get(server.url + "/stream", timeout=5)
            assert (streamed.text, streamed.headers["Transfer-Encoding"]) == ("one two three", "chunked")
            assert http.head(server.url + "/", timeout=5).status_code == 200
            assert "Connection" not in streamed.headers
        assert len(accepted) == 1
        # A failing app: a 500, and the connection is closed (what was sent may not be whole).
        failed = http.get(server.url + "/boom", timeout=5)
        assert (failed.status_code, failed.headers["Connection"]) == (500, "close")
        assert http.get(server.url + "/", timeout=5).text == "ok"
        assert len(accepted) == 2


def test_keep_alive_answers_on_the_raw_connection_one_request_after_another() -> None:
    server = ServerThread(_wsgi, request_handler=QuietRequestHandler, keep_alive=True)
    with server, socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        answers = b""
        for _ in range(2):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            while not answers.endswith(b"\r\n\r\nok"):
                answers += sock.recv(4096)
            answers += b"|"
        assert answers.count(b"HTTP/1.1 200 OK") == 2
        # HTTP/1.0 without keep-alive: answered, then closed.
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        rest = b""
        while chunk := sock.recv(4096):
            rest += chunk
        assert rest.startswith(b"HTTP/1.1 200 OK") and rest.endswith(b"ok")


def test_stopping_a_keep_alive_server_closes_its_idle_connections() -> None:
    server = ServerThread(_wsgi, keep_alive=True, name="kept-alive-to-stop").start()
    with requests.Session() as http:
        assert http.get(server.url + "/", timeout=5).text == "ok"  # a connection kept in the pool
        began = time.monotonic()
        server.stop()
        assert time.monotonic() - began < 2
        # Not answered on the kept connection by a handler left behind.
        with pytest.raises(requests.ConnectionError):
            http.get(server.url + "/", timeout=5)
    assert not [t for t in threading.enumerate() if t.name == "kept-alive-to-stop"]


def test_keep_alive_needs_a_threaded_server() -> None:
    with pytest.raises(ValueError, match="threaded"):
        ServerThread(_wsgi, keep_alive=True, threaded=False)


def test_the_quiet_handler_logs_nothing(
    caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    for keep_alive in (False, True):
        with ServerThread(_wsgi, request_handler=QuietRequestHandler, keep_alive=keep_alive) as server:
            assert requests.get(server.url + "/?code=secret-code", timeout=5).ok
            assert requests.get(server.url + "/missing?state=secret-state", timeout=5).ok
        with StandInAdobe(keep_alive=keep_alive) as standin:
            assert requests.get(standin.url + "/ims/keys?code=secret-code", timeout=5).ok
            requests.get(standin.url + "/ims/authorize/v2?state=secret-state", timeout=5)
    assert [r.getMessage() for r in caplog.records if r.name == "werkzeug"] == []
    out, err = capfd.readouterr()
    assert "secret" not in out + err
    # werkzeug's own handler logs each request line: the capture above would have seen it.
    with ServerThread(_wsgi) as server:
        assert requests.get(server.url + "/?code=secret-code", timeout=5).ok
    # (Its value is masked once an app of the extension is registered in the process: logs.py.)
    assert any("GET /?code=" in r.getMessage() for r in caplog.records if r.name == "werkzeug")


def test_a_standin_served_keep_alive_is_the_whole_standin_on_one_connection() -> None:
    ports: list[str] = []
    with StandInAdobe(keep_alive=True) as standin, requests.Session() as http:
        app = standin.app.wsgi_app

        def noting(environ: dict[str, Any], start_response: Any) -> Any:
            ports.append(environ["REMOTE_PORT"])
            return app(environ, start_response)

        standin.app.wsgi_app = noting
        token = standin.mint_token(scope="openid AdobeID")["access_token"]
        auth = {"Authorization": f"Bearer {token}", "x-api-key": standin.client_id}
        for _ in range(3):
            assert http.get(standin.url + "/ims/keys", timeout=5).ok
            me = http.get(standin.url + "/discovery/me", headers=auth, timeout=5)  # the Analytics API
            assert me.json()["imsUserId"] == standin.state.user.sub
        assert len(set(ports)) == 1
        # Its faults too: a reset written on the raw socket, then well again.
        standin.reset_connections(count=1, endpoints="keys")
        with pytest.raises(requests.ConnectionError):
            http.get(standin.url + "/ims/keys", timeout=5)
        assert http.get(standin.url + "/ims/keys", timeout=5).ok
