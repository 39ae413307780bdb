"""@adobe_login_required: 302 for page loads, 401 JSON for the rest, 403 for
missing scopes, OPTIONS through; and the blueprint's ``unauthorized_handler``,
which replaces the redirect and the 401."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import unquote

import pytest
from flask import Flask, Response, jsonify
from flask.testing import FlaskClient

from flask_adobe_oauth import LoginRequired, adobe, adobe_login_required, make_adobe_blueprint
from flask_adobe_oauth.blueprint import AdobeBlueprint
from flask_adobe_oauth.testing import StandInAdobe, login_as

from .helpers import SECRET_KEY, login, stored_token

HTML = {"Accept": "text/html"}


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
    assert stored_token(client) is None


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


# -- unauthorized_handler --------------------------------------------------------------------------


def guarded_app(standin: StandInAdobe, bp: AdobeBlueprint) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET_KEY, TESTING=True)
    app.config.update(standin.config())
    app.register_blueprint(bp, url_prefix="/adobe")

    @app.get("/dashboard")
    @adobe_login_required
    def dashboard() -> Any:
        return "dashboard"

    @app.get("/unguarded")
    def unguarded() -> Any:
        return adobe.session.get("/ims/userinfo/v2").json()  # LoginRequired escapes the view

    return app


def test_make_adobe_blueprint_returns_an_adobe_blueprint() -> None:
    bp = make_adobe_blueprint()
    assert isinstance(bp, AdobeBlueprint)
    assert bp.unauthorized_callback is None


@pytest.mark.parametrize("when", ["before", "after"])
def test_the_unauthorized_handler_replaces_the_redirect_and_the_401(standin: StandInAdobe, when: str) -> None:
    bp = make_adobe_blueprint()
    seen: list[LoginRequired] = []

    def handler(error: LoginRequired) -> Any:
        seen.append(error)
        return jsonify(error=error.error, where="handler"), 401

    if when == "before":
        assert bp.unauthorized_handler(handler) is handler
    app = guarded_app(standin, bp)
    if when == "after":
        bp.unauthorized_handler(handler)
    client = app.test_client()
    for headers in (HTML, {"Accept": "application/json"}):
        response = client.get("/dashboard", headers=headers)
        assert response.status_code == 401
        assert response.json == {"error": "login_required", "where": "handler"}
    response = client.get("/unguarded", headers=HTML)  # via the app-wide error handler
    assert response.status_code == 401
    assert response.json == {"error": "login_required", "where": "handler"}
    assert len(seen) == 3 and all(e.blueprint == "adobe" for e in seen)
    login(client)
    assert client.get("/dashboard").data == b"dashboard"  # a signed-in user never meets it


@pytest.mark.parametrize(
    ("returned", "status", "body", "location"),
    [
        ("please sign in", 200, b"please sign in", None),
        (("nope", 403), 403, b"nope", None),
        (Response("elsewhere", status=303, headers={"Location": "/welcome"}), 303, b"elsewhere", "/welcome"),
    ],
    ids=["str", "tuple", "response"],
)
def test_the_unauthorized_handlers_return_value_becomes_the_response(
    standin: StandInAdobe, returned: Any, status: int, body: bytes, location: str | None
) -> None:
    bp = make_adobe_blueprint()
    bp.unauthorized_handler(lambda error: returned)
    client = guarded_app(standin, bp).test_client()
    for path in ("/dashboard", "/unguarded"):
        response = client.get(path, headers=HTML)
        assert response.status_code == status
        assert response.data == body
        assert response.headers.get("Location") == location


def test_without_a_handler_the_redirect_stays(standin: StandInAdobe) -> None:
    client = guarded_app(standin, make_adobe_blueprint()).test_client()
    response = client.get("/dashboard", headers=HTML)
    assert response.status_code == 302
    assert response.headers["Location"] == "/adobe/login?next=/dashboard"


def test_the_handler_survives_a_config_change_after_registration(standin: StandInAdobe) -> None:
    bp = make_adobe_blueprint()
    app = guarded_app(standin, bp)
    bp.unauthorized_handler(lambda error: ("handled", 401))
    app.config["ADOBE_OAUTH_SCOPE"] = "openid,AdobeID"  # the state is rebuilt before the request
    assert app.test_client().get("/dashboard", headers=HTML).data == b"handled"
