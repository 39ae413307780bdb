"""The implicit grant (the seed's ``response_type=token``), opt-in: the token
arrives in the URL fragment, which a small same-origin page posts back with
the state. Checked at the HTTP level and in a real headless Chromium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.live import CHROMIUM, CHROMIUM_ARGS, serve

from .conftest import authorize, make_app, query, start_login


@pytest.fixture
def standin() -> Iterator[StandInAdobe]:
    """Adobe gives the implicit grant to Single-Page App credentials only."""
    with StandInAdobe(credential="spa") as server:
        yield server


@pytest.fixture
def implicit_app(standin: StandInAdobe) -> Flask:
    return make_app(standin, response_type="token")


def test_a_web_app_credential_refuses_the_implicit_grant(adobe_standin: StandInAdobe) -> None:
    """Adobe Developer Console docs: OAuth Web App credentials have no implicit
    flow. The refusal comes back as an error page, with no token stored."""
    client = make_app(adobe_standin, response_type="token").test_client()
    back = authorize(start_login(client))
    params = query(back)
    assert params["error"] == ["unsupported_response_type"]
    assert "Web App" in params["error_description"][0]
    response = client.get(urlsplit(back).path + "?" + urlsplit(back).query)
    assert response.status_code == 400
    assert b"unsupported_response_type" in response.data
    assert stored(client) is None


def fragment_of(client: FlaskClient, next_url: str | None = None) -> dict[str, str]:
    url = authorize(start_login(client, next_url))
    assert urlsplit(url).query == ""  # nothing in the part servers see
    return dict(parse_qsl(urlsplit(url).fragment))


def stored(client: FlaskClient) -> dict[str, str] | None:
    with client.session_transaction() as sess:
        return sess.get("_ao_t")


def test_authorize_asks_for_a_token_without_pkce(implicit_app: Flask) -> None:
    params = query(start_login(implicit_app.test_client()))
    assert params["response_type"] == ["token"]
    assert "code_challenge" not in params


def test_callback_without_query_serves_the_fragment_page(implicit_app: Flask) -> None:
    response = implicit_app.test_client().get("/adobe/callback")
    assert response.status_code == 200
    assert b"location.hash" in response.data
    assert "script-src 'sha256-" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_posted_fragment_logs_in_without_any_token_endpoint_call(
    implicit_app: Flask, standin: StandInAdobe
) -> None:
    client = implicit_app.test_client()
    fragment = fragment_of(client, "/dashboard")
    response = client.post("/adobe/callback", data=fragment, headers={"Origin": "http://localhost"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/dashboard"
    token = stored(client)
    assert token is not None and token["a"] == fragment["access_token"]
    assert standin.token_calls() == []
    assert client.get("/dashboard").json["user"] == standin.state.user.sub  # from userinfo


def test_cross_site_post_of_a_fragment_is_refused(implicit_app: Flask) -> None:
    client = implicit_app.test_client()
    fragment = fragment_of(client)
    response = client.post("/adobe/callback", data=fragment, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert stored(client) is None


def test_posted_fragment_with_a_foreign_state_is_refused(implicit_app: Flask) -> None:
    attacker, victim = implicit_app.test_client(), implicit_app.test_client()
    fragment = fragment_of(attacker)
    start_login(victim)
    assert victim.post("/adobe/callback", data=fragment).status_code == 403
    assert stored(victim) is None


def test_token_in_the_query_string_is_refused_and_consumes_the_state(implicit_app: Flask) -> None:
    client = implicit_app.test_client()
    fragment = fragment_of(client)
    response = client.get("/adobe/callback", query_string=fragment)
    assert response.status_code == 400
    assert b"fragment" in response.data
    assert client.post("/adobe/callback", data=fragment).status_code == 403  # state already used
    assert stored(client) is None


def test_code_flow_callback_refuses_post(client: FlaskClient) -> None:
    assert client.post("/adobe/callback", data={"state": "x"}).status_code == 405


@pytest.fixture
def served(implicit_app: Flask) -> Iterator[str]:
    with serve(implicit_app) as url:
        yield url


def test_implicit_login_in_a_real_browser(served: str, standin: StandInAdobe) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page()
            page.goto(f"{served}/dashboard")  # guarded: login → stand-in → fragment page → POST
            page.wait_for_url(f"{served}/dashboard", timeout=15_000)
            body = json.loads(page.inner_text("body"))
            assert body["user"] == standin.state.user.sub
            assert "#" not in page.url
        finally:
            browser.close()
    assert standin.token_calls() == []
