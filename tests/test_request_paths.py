"""What every request of a signed-in user goes through, kept honest.

* A user is only ever handed the token their own session holds, however
  sessions interleave, share an access token's tail, or run in threads.
* ``ADOBE_OAUTH_*`` keys changed after registration take effect at the next
  request that uses the extension, by every way of writing ``app.config``;
  ``app.config`` itself is left as Flask made it, and a bad value fails only
  the Adobe routes (issue 23 removed the watched config and the parsed-token
  cache that these tests once covered).
* The cookie budget is first checked against a bound that never falls below
  the real Set-Cookie header.
* The token endpoint gets, byte for byte, the request ``Session.request``
  would have sent.
"""

from __future__ import annotations

import copy
import pickle
import random
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import flask
import pytest
from flask import Flask, jsonify
from flask import session as flask_session

from flask_adobe_oauth import adobe, adobe_login_required, make_adobe_blueprint
from flask_adobe_oauth.authserver import ProviderClient
from flask_adobe_oauth.config import resolve
from flask_adobe_oauth.cookies import session_cookie_bound, session_cookie_size
from flask_adobe_oauth.extension import get_runtime
from flask_adobe_oauth.testing import StandInAdobe, login_as
from flask_adobe_oauth.tokens import Token
from flask_adobe_oauth.transport import environment_for

from .helpers import SECRET_KEY, make_app
from .test_cookie_budget import COOKIE_SETTINGS, session_values

# -- a user only ever gets their own token ---------------------------


def whoami_app(standin: StandInAdobe) -> Flask:
    app = make_app(standin)

    @app.get("/whoami")
    @adobe_login_required
    def whoami() -> Any:
        token = adobe.token
        assert token is not None
        return jsonify(
            access=token.access_token,
            refresh=token.refresh_token,
            user=token.user_id,
            expires=token.expires_at,
            scope=sorted(token.scope),
        )

    return app


def test_interleaved_sessions_each_get_their_own_token(standin: StandInAdobe) -> None:
    """Users whose records differ in one field only (the user, the refresh
    token, the expiry, the scope), or whose access tokens end alike, in a
    cache of two entries: every answer is the token of that client's own
    session, never another's."""
    app = whoami_app(standin)
    tail = "-" + "t" * 40  # longer than the part of the access token that names an entry
    shared = "shared-access-token" + tail
    variants: list[dict[str, Any]] = [
        {"access_token": shared, "user_id": "ann@AdobeID", "refresh_token": "r-1", "expires_at": 4_000_000_000},
        {"access_token": shared, "user_id": "bob@AdobeID", "refresh_token": "r-1", "expires_at": 4_000_000_000},
        {"access_token": shared, "user_id": "ann@AdobeID", "refresh_token": "r-2", "expires_at": 4_000_000_000},
        {"access_token": shared, "user_id": "ann@AdobeID", "refresh_token": "r-1", "expires_at": 4_000_000_600},
        {"access_token": shared, "user_id": "ann@AdobeID", "refresh_token": "r-1", "expires_at": 4_000_000_000,
         "scope": ["openid"]},
        {"access_token": "other-access-token" + tail, "user_id": "cat@AdobeID", "expires_at": 4_000_000_000},
        {"access_token": "a-third-one" + tail, "user_id": "dan@AdobeID", "refresh_token": "r-3",
         "expires_at": 4_000_000_000},
    ]  # fmt: skip
    clients = []
    for fields in variants:
        client = app.test_client()
        token = login_as(client, **fields)
        clients.append((client, token))
    rounds = [*clients] * 6
    random.Random(16).shuffle(rounds)
    for client, token in rounds:
        response = client.get("/whoami")
        assert response.status_code == 200
        assert response.json == {
            "access": token.access_token,
            "refresh": token.refresh_token,
            "user": token.user_id,
            "expires": token.expires_at,
            "scope": sorted(token.scope),
        }


def test_two_threads_of_requests_never_cross(standin: StandInAdobe) -> None:
    """Two users' requests at once, many times: each gets their own token."""
    app = whoami_app(standin)
    users = []
    for name in ("ann", "bob"):
        client = app.test_client()
        users.append((client, login_as(client, access_token=f"{name}-token-" + "x" * 40, user_id=name)))
    wrong: list[str] = []

    def run(client: Any, token: Token) -> None:
        for _ in range(150):
            answer = client.get("/whoami").json
            if answer["access"] != token.access_token or answer["user"] != token.user_id:
                wrong.append(f"{token.user_id} got {answer['user']}")

    threads = [threading.Thread(target=run, args=user) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


def record(**fields: Any) -> dict[str, Any]:
    return {"a": "access-" + "a" * 40, "r": "refresh", "e": 4_000_000_000, "u": "ann@AdobeID", **fields}


def test_a_guarded_answer_varies_on_the_cookie(standin: StandInAdobe) -> None:
    """The guard reads the session as ``flask.session`` does, so Flask marks
    the answer ``Vary: Cookie`` (a shared cache must not serve it to another
    user), even when the view itself never touches the session."""
    app = make_app(standin)

    @app.get("/plain")
    @adobe_login_required
    def plain() -> Any:
        return "ok"

    client = app.test_client()
    login_as(client)
    response = client.get("/plain")
    assert response.status_code == 200
    assert "Cookie" in response.headers.get("Vary", "")


def test_the_guard_outside_a_request_fails_as_before(app: Flask) -> None:
    guarded = adobe_login_required(lambda: "ok")
    with pytest.raises(RuntimeError, match="outside of request context"):
        guarded()
    with app.app_context(), pytest.raises(RuntimeError, match="outside of request context"):
        guarded()


# -- config changes: every write is noticed ------------

Write = Callable[[flask.Config], None]

WRITES: dict[str, Write] = {
    "item": lambda c: c.__setitem__("ADOBE_OAUTH_PROMPT", "login"),
    "update": lambda c: c.update({"ADOBE_OAUTH_PROMPT": "login"}),
    "update keywords": lambda c: c.update(ADOBE_OAUTH_PROMPT="login"),
    "setdefault": lambda c: c.setdefault("ADOBE_OAUTH_PROMPT", "login"),
    "|=": lambda c: c.__ior__({"ADOBE_OAUTH_PROMPT": "login"}),
    "from_mapping": lambda c: c.from_mapping(ADOBE_OAUTH_PROMPT="login"),
    "from_object": lambda c: c.from_object(type("Settings", (), {"ADOBE_OAUTH_PROMPT": "login"})),
}


def login_location(client: Any) -> str:
    response = client.get("/adobe/login")
    assert response.status_code == 302, response.data[:200]
    return str(response.headers["Location"])


@pytest.mark.parametrize("write", WRITES.values(), ids=list(WRITES))
def test_every_way_of_writing_the_config_is_noticed(standin: StandInAdobe, write: Write) -> None:
    app = make_app(standin)
    client = app.test_client()
    assert "prompt=" not in login_location(client)
    write(app.config)
    assert "prompt=login" in login_location(client)


@pytest.mark.parametrize("remove", ["del", "pop", "popitem"])
def test_removing_a_key_is_noticed(standin: StandInAdobe, remove: str) -> None:
    app = make_app(standin)
    client = app.test_client()
    app.config["ADOBE_OAUTH_PROMPT"] = "login"
    assert "prompt=login" in login_location(client)
    if remove == "del":
        del app.config["ADOBE_OAUTH_PROMPT"]
    elif remove == "pop":
        app.config.pop("ADOBE_OAUTH_PROMPT")
    else:
        assert app.config.popitem() == ("ADOBE_OAUTH_PROMPT", "login")  # the last one set
    assert "prompt=" not in login_location(client)


def test_clearing_the_config_is_noticed(standin: StandInAdobe) -> None:
    app = make_app(standin)
    client = app.test_client()
    app.config["ADOBE_OAUTH_PROMPT"] = "login"
    assert "prompt=login" in login_location(client)
    kept = {k: v for k, v in app.config.items() if k != "ADOBE_OAUTH_PROMPT"}
    app.config.clear()
    dict.update(app.config, kept)  # behind the watch's back: only clear() was noted
    assert "prompt=" not in login_location(client)


def test_monkeypatched_and_attribute_writes_are_noticed(
    standin: StandInAdobe, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(standin)
    client = app.test_client()
    before = get_runtime("adobe", app)
    monkeypatch.setitem(app.config, "ADOBE_OAUTH_CLIENT_ID", "patched-id")
    assert "client_id=patched-id" in login_location(client)
    app.secret_key = "another-secret-key-for-this-test"
    login_location(client)
    assert get_runtime("adobe", app) is not before
    monkeypatch.undo()
    assert f"client_id={standin.client_id}" in login_location(client)


def test_a_bad_value_fails_the_adobe_routes_naming_the_key_and_no_other_page(standin: StandInAdobe) -> None:
    """A bad value typed into an ``ADOBE_OAUTH_*`` key at run time: the
    sign-in and the guarded views answer a page naming the key until it is
    fixed; the app's own pages, which use nothing of the extension, work on."""
    app = make_app(standin)

    @app.get("/about")
    def about() -> str:
        return "about us"

    client = app.test_client()
    login_location(client)
    app.config["ADOBE_OAUTH_TOKEN_URL"] = "http://tokens.example.com/token"
    for _ in range(3):
        response = client.get("/adobe/login")
        assert response.status_code == 500
        assert b"ADOBE_OAUTH_TOKEN_URL" in response.data
        assert b"tokens.example.com" not in response.headers.get("Location", "").encode()
        assert client.get("/about").data == b"about us"
    app.config["ADOBE_OAUTH_TOKEN_URL"] = standin.options()["token_url"]
    login_location(client)


def test_a_replaced_config_is_still_noticed(standin: StandInAdobe) -> None:
    app = make_app(standin)
    client = app.test_client()
    login_location(client)
    app.config = flask.Config(app.root_path, {**app.config, "ADOBE_OAUTH_CLIENT_ID": "replaced-id"})
    assert "client_id=replaced-id" in login_location(client)
    app.config["ADOBE_OAUTH_CLIENT_ID"] = "then-written-id"
    assert "client_id=then-written-id" in login_location(client)
    app.config = dict(app.config, ADOBE_OAUTH_CLIENT_ID="a-plain-dict-id")  # type: ignore[assignment]
    assert "client_id=a-plain-dict-id" in login_location(client)


def test_an_apps_own_config_class_is_left_alone_and_still_compared(standin: StandInAdobe) -> None:
    class OwnConfig(flask.Config):
        pass

    class OwnFlask(Flask):
        config_class = OwnConfig

    app = OwnFlask(__name__)
    app.config.update(SECRET_KEY=SECRET_KEY, **standin.config())
    app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")
    assert type(app.config) is OwnConfig
    client = app.test_client()
    login_location(client)
    app.config["ADOBE_OAUTH_CLIENT_ID"] = "own-class-id"
    assert "client_id=own-class-id" in login_location(client)


def test_app_config_is_left_as_flask_made_it(app: Flask) -> None:
    """The extension notices changes by comparing, never by replacing or
    wrapping ``app.config`` (no Flask extension changes its class)."""
    assert type(app.config) is flask.Config
    assert repr(app.config).startswith("<Config {")
    again = pickle.loads(pickle.dumps(app.config))
    assert dict(again) == dict(app.config)
    assert dict(copy.deepcopy(app.config)) == dict(app.config)


# -- the cookie bound never falls below the measure ------------------------------------------


@pytest.mark.parametrize("permanent", [False, True])
@pytest.mark.parametrize("settings", COOKIE_SETTINGS)
@pytest.mark.parametrize("kind", ["noise", "compressible", "tagged"])
def test_the_cookie_bound_is_never_below_the_measure(
    standin: StandInAdobe, settings: str, kind: str, permanent: bool
) -> None:
    app = make_app(standin)
    app.config.update(COOKIE_SETTINGS[settings])
    for size in range(0, 4200, 131):
        data = session_values(kind, size)
        with app.test_request_context("/apps/marketing/adobe-analytics/"):
            flask_session.permanent = permanent
            bound, exact = session_cookie_bound(app, data), session_cookie_size(app, data)
            assert bound is not None and exact is not None
            assert exact <= bound


def test_no_bound_without_itsdangerous_signing(standin: StandInAdobe) -> None:
    app = make_app(standin)

    class Unsigned(flask.sessions.SecureCookieSessionInterface):
        def get_signing_serializer(self, app: Flask) -> Any:
            return None

    app.session_interface = Unsigned()
    with app.test_request_context():
        assert session_cookie_bound(app, {"a": 1}) is None


# -- the token request is what Session.request would have sent ---------------------------------


class Recorder:
    """An HTTP server on 127.0.0.1 that keeps every request's raw bytes and
    answers with a token."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head = data.split(b"\r\n\r\n", 1)[0]
                length = [int(v) for k, _, v in (line.partition(b":") for line in head.split(b"\r\n"))
                          if k.lower() == b"content-length"]  # fmt: skip
                while length and len(data) < len(head) + 4 + length[0]:
                    data += conn.recv(65536)
                self.requests.append(data)
                body = b'{"access_token":"at","token_type":"bearer","expires_in":60}'
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
                )


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    server = Recorder()
    yield server
    server.sock.close()


@pytest.mark.parametrize("client_auth", ["client_secret_basic", "client_secret_post"])
@pytest.mark.parametrize("session_extras", [False, True])
def test_the_token_request_is_what_session_request_sends(
    recorder: Recorder, client_auth: str, session_extras: bool
) -> None:
    options = {
        "client_id": "the client",
        "client_secret": "s3cr+t/value",
        "token_url": recorder.url + "/ims/token/v3",
        "userinfo_url": recorder.url + "/ims/userinfo/v2",
        "client_auth": client_auth,
    }
    client = ProviderClient(resolve(options, {}))
    called: list[int] = []
    if session_extras:  # what an app might have set on the session: still merged in
        client.http.params = {"tenant": "acme"}
        client.http.headers["X-Extra"] = "1"
        client.http.hooks["response"].append(lambda response, **_: called.append(response.status_code))
    form = {"grant_type": "authorization_code", "code": "the code", "redirect_uri": "http://localhost/cb?x=1"}
    client.exchange_code(form["code"], form["redirect_uri"], "the-verifier")
    client.userinfo(Token(access_token="user-token"))
    ours = recorder.requests[:]
    recorder.requests.clear()

    url = options["token_url"]
    full = {**form, "code_verifier": "the-verifier"}
    if client_auth == "client_secret_basic":
        extra: dict[str, Any] = {"data": full, "auth": ("the+client", "s3cr%2Bt%2Fvalue")}
    else:
        extra = {"data": {**full, "client_id": "the client", "client_secret": "s3cr+t/value"}}
    for target, kwargs in (
        (url, extra),
        (options["userinfo_url"], {"headers": {"Authorization": "Bearer user-token"}}),
    ):
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        client.http.request(
            "POST" if kwargs else "GET",
            target,
            headers=headers,
            allow_redirects=False,
            stream=True,
            timeout=5,
            **kwargs,
            **environment_for(target),
        ).close()
    assert ours == recorder.requests
    assert called == ([200] * 4 if session_extras else [])
