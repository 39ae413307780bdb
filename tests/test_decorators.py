"""@adobe_login_required: 302 for page loads, 401 JSON for the rest, 403 for
missing scopes, OPTIONS through."""

from __future__ import annotations

import time
from urllib.parse import unquote

from flask import Flask
from flask.testing import FlaskClient

from flask_adobe_oauth import adobe
from flask_adobe_oauth.testing import login_as


def test_browser_get_is_redirected_to_login_with_next(client: FlaskClient) -> None:
    response = client.get("/dashboard?tab=2&x=y")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/adobe/login?next=")
    assert unquote(response.headers["Location"].split("next=")[1]) == "/dashboard?tab=2&x=y"


def test_head_is_redirected_like_get(client: FlaskClient) -> None:
    assert client.head("/dashboard").status_code == 302


def test_json_client_gets_401_with_login_url(client: FlaskClient) -> None:
    response = client.get("/dashboard", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.json["error"] == "login_required"
    assert response.json["login_url"].startswith("/adobe/login?next=")


def test_post_without_login_gets_401_not_a_redirect(client: FlaskClient) -> None:
    response = client.post("/dashboard")
    assert response.status_code == 401
    assert response.json["error"] == "login_required"


def test_options_passes_through_without_login(client: FlaskClient) -> None:
    assert client.options("/dashboard").status_code == 204


def test_stored_token_lets_the_view_run(client: FlaskClient) -> None:
    login_as(client, user_id="alice@AdobeID")
    response = client.get("/dashboard")
    assert response.status_code == 200
    assert response.json["user"] == "alice@AdobeID"


def test_missing_scope_is_403(client: FlaskClient) -> None:
    login_as(client, scope=["openid"])
    response = client.get("/reports", headers={"Accept": "application/json"})
    assert response.status_code == 403
    assert response.json["error"] == "insufficient_scope"
    login_as(client, scope=["openid", "Report"])
    assert client.get("/reports").status_code == 200


def test_expired_token_without_refresh_token_means_login_again(client: FlaskClient) -> None:
    login_as(client, expires_at=time.time() - 10, refresh_token=None)
    assert client.get("/dashboard").status_code == 302
    with client.session_transaction() as sess:
        assert "_ao_t" not in sess


def test_token_in_its_last_minute_counts_as_expired(client: FlaskClient) -> None:
    login_as(client, expires_at=time.time() + 30, refresh_token=None)
    assert client.get("/dashboard").status_code == 302


def test_authorized_reflects_expiry_and_refreshability(app: Flask, client: FlaskClient) -> None:
    @app.get("/status")
    def status() -> dict[str, bool]:
        return {"authorized": adobe.authorized}

    assert client.get("/status").json == {"authorized": False}
    login_as(client)
    assert client.get("/status").json == {"authorized": True}
    login_as(client, expires_at=time.time() - 10, refresh_token=None)
    assert client.get("/status").json == {"authorized": False}
    login_as(client, expires_at=time.time() - 10, refresh_token="rt")
    assert client.get("/status").json == {"authorized": True}


def test_unguarded_view_that_finds_no_login_answers_like_the_decorator(
    app: Flask, client: FlaskClient
) -> None:
    @app.get("/open")
    def open_view() -> str:
        adobe.session.get("/ims/userinfo/v2")
        return "unreachable"

    response = client.get("/open")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/adobe/login?next=")
    assert client.get("/open", headers={"Accept": "application/json"}).status_code == 401
