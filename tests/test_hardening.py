"""Regressions for defects a security review found; each reproduces the
original attack or crash and checks the fixed behaviour."""

from __future__ import annotations

import base64
import time

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_adobe_oauth import Token, adobe, adobe_login_required, make_adobe_blueprint
from flask_adobe_oauth.extension import get_runtime
from flask_adobe_oauth.storage import CacheStorage
from flask_adobe_oauth.storage.base import DEFAULT_TTL, record_ttl
from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.live import free_port

from .helpers import SECRET_KEY, authorize, local, login, make_app, start_login, stored_token


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example\\@analytics.adobe.io/x",  # urlsplit: adobe.io; urllib3 connects to evil.example
        "https://analytics.adobe.io\\@evil.example/x",
        "https://user:password@analytics.adobe.io/x",
        "https://analytics.adobe.io.evil.example/x",
        "http://analytics.adobe.io/x",  # the token never goes over plain http to a public host
    ],
)
def test_token_is_not_sent_where_urllib3_would_connect_elsewhere(
    app: Flask, client: FlaskClient, url: str
) -> None:
    @app.get("/call")
    @adobe_login_required
    def call() -> str:
        adobe.session.get(url)
        return "sent"

    login(client)
    response = client.get("/call")
    assert response.status_code == 400
    assert b"refusing to send the Adobe token" in response.data
    assert b"password" not in response.data


def test_implicit_grant_ignores_a_posted_user_id_and_scopes_beyond_the_request(standin: StandInAdobe) -> None:
    from urllib.parse import parse_qsl, urlsplit

    standin.state.credential = "spa"  # only Single-Page App credentials have the implicit grant
    client = make_app(standin, response_type="token").test_client()
    fragment = dict(parse_qsl(urlsplit(authorize(start_login(client))).fragment))
    fragment.update(user_id="victim@AdobeID", scope=fragment.get("scope", "") + " Report admin_everything")
    assert client.post("/adobe/callback", data=fragment).status_code == 303
    seen = client.get("/dashboard").json
    assert seen["user"] == standin.state.user.sub
    assert "admin_everything" not in seen["scope"] and "Report" not in seen["scope"]
    assert client.get("/reports").status_code == 403


def test_login_renews_a_server_side_session_id_so_a_planted_one_gains_nothing(standin: StandInAdobe) -> None:
    from cachelib import SimpleCache
    from flask_session import Session

    app = make_app(standin)
    app.config.update(SESSION_TYPE="cachelib", SESSION_CACHELIB=SimpleCache())
    Session(app)
    attacker, victim = app.test_client(), app.test_client()
    attacker.get("/adobe/login")
    planted = attacker.get_cookie("session")
    assert planted is not None
    victim.set_cookie("session", planted.value)  # e.g. cookie tossing from a sibling subdomain
    assert victim.get(local(authorize(start_login(victim)))).status_code == 302
    renewed = victim.get_cookie("session")
    assert renewed is not None and renewed.value != planted.value
    assert victim.get("/dashboard").status_code == 200
    assert attacker.get("/dashboard").status_code == 302


@pytest.mark.parametrize(
    ("header", "expected"),
    # An unreadable Retry-After backs off one whole window of Adobe's limit (6 s).
    [("120", "120"), ("9" * 400, "86400"), ("\u00b2", "6"), ("Fri, 31 Dec 9999 23:59:59 GMT", "86400")],
)
def test_hostile_retry_after_is_bounded_never_a_500(
    signed_in: FlaskClient, standin: StandInAdobe, header: str, expected: str | None
) -> None:
    standin.fail_next_api(429, "{}", headers={"Retry-After": header})
    response = signed_in.get("/me")
    assert response.status_code == 429
    assert response.headers.get("Retry-After") == expected


def test_a_failing_cachelib_backend_is_a_503_not_a_500(standin: StandInAdobe) -> None:
    from cachelib.redis import RedisCache

    app = make_app(standin, storage=CacheStorage(RedisCache(host="127.0.0.1", port=free_port())))
    app.config["TESTING"] = False
    client = app.test_client()
    with client.session_transaction() as sess:
        sess["_ao_k"] = "A" * 43  # a returning user's key
    response = client.get("/dashboard", headers={"Accept": "application/json"})
    assert response.status_code == 503
    assert response.json["error"] == "storage_unavailable"


def test_lost_login_in_an_unguarded_view_goes_to_its_own_blueprints_login(standin: StandInAdobe) -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET_KEY)
    app.register_blueprint(make_adobe_blueprint(name="work", **standin.options()), url_prefix="/work")
    app.register_blueprint(make_adobe_blueprint(name="personal", **standin.options()), url_prefix="/personal")

    @app.get("/reports")
    def reports() -> str:
        return get_runtime("personal").api.get("/ims/userinfo/v2").text

    response = app.test_client().get("/reports")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/personal/login?next=")


def test_redirect_to_naming_no_endpoint_fails_the_login_clearly_and_stores_nothing(
    standin: StandInAdobe,
) -> None:
    client = make_app(standin, redirect_to="dashbaord").test_client()
    response = login(client)
    assert response.status_code == 500
    assert b"ADOBE_OAUTH_REDIRECT_TO" in response.data
    assert stored_token(client) is None


@pytest.mark.parametrize("created_at", ["1e400", "NaN", "-1e400"])
def test_absurd_refresh_token_claims_give_the_default_ttl_not_a_crash(created_at: str) -> None:
    claims = f'{{"created_at": {created_at}, "expires_in": 1000}}'.encode()
    payload = base64.urlsafe_b64encode(claims).rstrip(b"=").decode()
    token = Token("a", refresh_token=f"eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln", expires_at=time.time() + 60)
    assert record_ttl(token, DEFAULT_TTL) == DEFAULT_TTL


def test_head_on_the_callback_is_answered_like_get_not_405(client: FlaskClient) -> None:
    start_login(client)
    assert client.head("/adobe/callback").status_code == 400


#: JSON nested deeper than Python's parser can recurse (it raises RecursionError).
DEEP_JSON = "[" * 100_000 + "]" * 100_000


def test_deeply_nested_json_from_the_token_endpoint_is_a_502(
    client: FlaskClient, standin: StandInAdobe
) -> None:
    callback = local(authorize(start_login(client)))
    standin.fail_next_token(200, DEEP_JSON, content_type="application/json")
    response = client.get(callback)
    assert response.status_code == 502
    assert b"did not answer JSON" in response.data
    assert stored_token(client) is None  # nothing stored


def test_deeply_nested_json_from_analytics_is_a_502(
    app: Flask, client: FlaskClient, standin: StandInAdobe
) -> None:
    from flask_adobe_oauth.analytics import companies
    from flask_adobe_oauth.testing import login_as

    @app.get("/companies")
    @adobe_login_required
    def listed() -> object:
        return [c.name for c in companies()]

    login_as(client)
    assert client.get("/companies").status_code == 200
    standin.fail_next_api(200, DEEP_JSON)
    response = client.get("/companies", headers={"Accept": "application/json"})
    assert response.status_code == 502
    assert response.json is not None and "not JSON" in response.json["message"]
    standin.fail_next_api(500, DEEP_JSON)  # the error body is read for Adobe's error code too
    assert client.get("/companies", headers={"Accept": "application/json"}).status_code == 502
