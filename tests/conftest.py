"""Shared test helpers: an app wired to the stand-in, and a real login round trip.

The provider is always the package's stand-in, a real HTTP server on
127.0.0.1 (the ``adobe_standin`` fixture from the package's pytest plugin);
nothing in the flow is mocked.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask, jsonify, request
from flask.testing import FlaskClient

from flask_adobe_oauth import adobe, adobe_login_required, make_adobe_blueprint
from flask_adobe_oauth.testing import StandInAdobe

SECRET_KEY = "test-secret-key-not-for-production"


def make_app(standin: StandInAdobe, provider: str = "ims", **options: Any) -> Flask:
    """A small app using the extension, pointed at ``standin``."""
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET_KEY, TESTING=True)
    app.config.update(standin.config(provider))
    app.register_blueprint(make_adobe_blueprint(**options), url_prefix="/adobe")

    @app.get("/")
    def index() -> Any:
        return "home"

    @app.route("/dashboard", methods=["GET", "POST", "PUT", "OPTIONS"])
    @adobe_login_required
    def dashboard() -> Any:
        if request.method == "OPTIONS":
            return "", 204
        token = adobe.token
        assert token is not None
        return jsonify(user=token.user_id, scope=sorted(token.scope))

    @app.get("/reports")
    @adobe_login_required(scopes=["Report"])
    def reports() -> Any:
        return "reports"

    @app.get("/me")
    @adobe_login_required
    def me() -> Any:
        return adobe.session.get("/ims/userinfo/v2").json()

    return app


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def local(url: str) -> str:
    """``url`` as a path + query for the Flask test client."""
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def start_login(client: FlaskClient, next_url: str | None = None) -> str:
    """GET /adobe/login; the authorize URL it redirects to."""
    response = client.get("/adobe/login", query_string={"next": next_url} if next_url else None)
    assert response.status_code == 302, response.data
    return response.headers["Location"]


def authorize(authorize_url: str) -> str:
    """Visit the stand-in's authorize URL over real HTTP; the callback URL it sends back."""
    response = requests.get(authorize_url, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def login(client: FlaskClient, next_url: str | None = None) -> Any:
    """A whole login: /login, the stand-in's authorize, /callback. The callback's response."""
    callback_url = authorize(start_login(client, next_url))
    return client.get(local(callback_url))


@pytest.fixture
def standin(adobe_standin: StandInAdobe) -> StandInAdobe:
    return adobe_standin


@pytest.fixture
def app(standin: StandInAdobe) -> Flask:
    return make_app(standin)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
