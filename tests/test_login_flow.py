"""The whole login over real HTTP against the stand-in: both presets, both
client authentication methods, and what each step sends and stores."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_adobe_oauth import Token, logged_in, logged_out, login_failed, make_adobe_blueprint
from flask_adobe_oauth.protocol import pkce_challenge
from flask_adobe_oauth.testing import StandInAdobe

from .helpers import authorize, local, login, make_app, pending_states, query, start_login, stored_token


@pytest.mark.parametrize("provider", ["ims", "legacy"])
@pytest.mark.parametrize("client_auth", ["client_secret_basic", "client_secret_post"])
def test_full_login_stores_a_token_and_returns_to_next(
    standin: StandInAdobe, provider: str, client_auth: str
) -> None:
    app = make_app(standin, provider, client_auth=client_auth)
    client = app.test_client()
    assert client.get("/dashboard").status_code == 302

    response = login(client, next_url="/dashboard?tab=2")

    assert response.status_code == 302
    assert response.headers["Location"] == "/dashboard?tab=2"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    calls = standin.token_calls()
    assert [(c.grant_type, c.client_auth, c.status) for c in calls] == [
        ("authorization_code", client_auth, 200)
    ]
    dashboard = client.get("/dashboard")
    assert dashboard.status_code == 200
    assert dashboard.json["user"] == standin.state.user.sub
    stored = stored_token(client)
    assert standin.is_valid_access_token(stored["a"])
    if provider == "ims":
        assert "r" in stored  # offline_access is in the IMS preset's scope
        assert "openid" in dashboard.json["scope"]
    else:
        assert "r" not in stored
        assert dashboard.json["scope"] == ["Company", "Report", "ReportSuite"]


def test_authorize_url_carries_state_pkce_scope_and_redirect_uri(
    client: FlaskClient, standin: StandInAdobe
) -> None:
    url = start_login(client)
    params = query(url)
    assert url.startswith(standin.url + "/ims/authorize/v2?")
    assert params["client_id"] == [standin.client_id]
    assert params["response_type"] == ["code"]
    assert params["redirect_uri"] == ["http://localhost/adobe/callback"]
    assert params["code_challenge_method"] == ["S256"]
    assert len(params["state"][0]) >= 22  # 128 bits, base64url
    assert params["scope"][0].split(" ")[:2] == ["openid", "AdobeID"]
    assert "client_secret" not in url


def test_each_login_gets_a_fresh_state_and_pkce_challenge(client: FlaskClient) -> None:
    first, second = query(start_login(client)), query(start_login(client))
    assert first["state"] != second["state"]
    assert first["code_challenge"] != second["code_challenge"]


def test_token_request_repeats_redirect_uri_and_sends_the_pkce_verifier(
    client: FlaskClient, standin: StandInAdobe
) -> None:
    authorize_url = start_login(client)
    client.get(local(authorize(authorize_url)))
    form = standin.token_calls()[0].form
    assert form["redirect_uri"] == "http://localhost/adobe/callback"
    assert pkce_challenge(form["code_verifier"]) == query(authorize_url)["code_challenge"][0]
    assert "client_secret" not in form  # client_secret_basic by default


def test_pkce_can_be_turned_off(standin: StandInAdobe) -> None:
    client = make_app(standin, use_pkce=False).test_client()
    url = start_login(client)
    assert "code_challenge" not in query(url)
    assert client.get(local(authorize(url))).status_code == 302
    assert "code_verifier" not in standin.token_calls()[0].form


def test_ims_v1_token_endpoint_expiry_in_milliseconds_is_understood(standin: StandInAdobe) -> None:
    client = make_app(standin, token_url=standin.url + "/ims/token/v1").test_client()
    login(client)
    expires = stored_token(client)["e"]
    assert 86000 < expires - time.time() < 86400


def test_parallel_logins_in_two_tabs_both_complete(client: FlaskClient, standin: StandInAdobe) -> None:
    tab1 = authorize(start_login(client, "/one"))
    tab2 = authorize(start_login(client, "/two"))
    assert client.get(local(tab2)).headers["Location"] == "/two"
    assert client.get(local(tab1)).headers["Location"] == "/one"
    assert len(standin.token_calls()) == 2


def test_pending_logins_are_capped_oldest_dropped(standin: StandInAdobe) -> None:
    client = make_app(standin, max_pending_logins=3).test_client()
    urls = [authorize(start_login(client)) for _ in range(4)]
    assert len(pending_states(client)) == 3
    assert client.get(local(urls[0])).status_code == 403  # the oldest was dropped
    assert client.get(local(urls[3])).status_code == 302
    assert len(standin.token_calls()) == 1


def test_unsafe_next_is_ignored_and_redirect_to_used(standin: StandInAdobe) -> None:
    client = make_app(standin, redirect_to="index").test_client()
    response = login(client, next_url="//evil.example/steal")
    assert response.headers["Location"] == "/"


def test_userinfo_sub_becomes_user_id_at_ims_login(client: FlaskClient, standin: StandInAdobe) -> None:
    login(client)
    assert client.get("/dashboard").json["user"] == standin.state.user.sub
    with client.session_transaction() as sess:
        assert "id_token" not in str(sess)  # never stored


def test_signals_fire_on_login_and_logout(app: Flask, client: FlaskClient) -> None:
    seen: list[str] = []

    def on_login(sender: Flask, token: object) -> None:
        seen.append("in")

    def on_logout(sender: Flask) -> None:
        seen.append("out")

    with logged_in.connected_to(on_login, app), logged_out.connected_to(on_logout, app):
        login(client)
        client.post("/adobe/logout")
    assert seen == ["in", "out"]


def test_login_failed_fires_with_the_refusal(app: Flask, client: FlaskClient) -> None:
    errors: list[Any] = []

    def on_fail(sender: Flask, error: Any) -> None:
        errors.append(error)

    state = query(start_login(client))["state"][0]
    with login_failed.connected_to(on_fail, app):
        response = client.get("/adobe/callback", query_string={"state": state, "error": "access_denied"})
    assert response.status_code == 403
    assert [e.provider_error for e in errors] == ["access_denied"]


def test_signals_name_the_blueprint_that_fired(standin: StandInAdobe) -> None:
    app = make_app(standin)
    app.register_blueprint(make_adobe_blueprint(name="adobe_eu"), url_prefix="/eu")
    seen: list[tuple[str, str]] = []

    def on_login(sender: Flask, token: object, blueprint: str) -> None:
        seen.append(("in", blueprint))

    def on_logout(sender: Flask, **extra: object) -> None:
        seen.append(("out", str(extra["blueprint"])))

    client = app.test_client()
    with logged_in.connected_to(on_login, app), logged_out.connected_to(on_logout, app):
        standin.sign_in(client, blueprint="adobe_eu")
        client.post("/eu/logout")
        standin.sign_in(client)
    assert seen == [("in", "adobe_eu"), ("out", "adobe_eu"), ("in", "adobe")]


def test_a_logged_in_receiver_returning_false_keeps_the_token_out_of_storage(app: Flask) -> None:
    kept: list[str] = []

    def keep_it_myself(sender: Flask, token: Token) -> bool:
        kept.append(token.access_token)
        return False

    client = app.test_client()
    with logged_in.connected_to(keep_it_myself, app):
        assert login(client).status_code == 302
    assert len(kept) == 1
    assert stored_token(client) is None
    assert client.get("/dashboard").status_code == 302  # not signed in as far as the blueprint knows


def test_redirect_uri_option_is_sent_to_authorize_and_token(standin: StandInAdobe) -> None:
    uri = "http://127.0.0.1:5000/adobe/callback"
    client = make_app(standin, redirect_uri=uri).test_client()
    url = start_login(client)
    assert query(url)["redirect_uri"] == [uri]
    client.get(local(authorize(url)))
    assert standin.token_calls()[0].form["redirect_uri"] == uri
