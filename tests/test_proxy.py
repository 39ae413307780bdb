"""Behind a reverse proxy: with werkzeug's ``ProxyFix`` the redirect_uri is
built from ``X-Forwarded-Proto`` / ``X-Forwarded-Host``; without it, those
headers are ignored (so a client cannot spoof them)."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from flask_adobe_oauth.testing import StandInAdobe

from .helpers import authorize, local, make_app, query, start_login

FORWARDED = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "analytics.example.com"}


def _behind_proxy(standin: StandInAdobe, **options: object) -> Flask:
    app = make_app(standin, **options)
    app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]
    return app


def test_proxyfix_makes_the_redirect_uri_https_on_the_public_host(standin: StandInAdobe) -> None:
    client = _behind_proxy(standin).test_client()
    response = client.get("/adobe/login", headers=FORWARDED)
    assert response.status_code == 302
    assert query(response.headers["Location"])["redirect_uri"] == [
        "https://analytics.example.com/adobe/callback"
    ]


def test_full_login_behind_the_proxy_repeats_the_https_redirect_uri(standin: StandInAdobe) -> None:
    client = _behind_proxy(standin).test_client()
    url = client.get("/adobe/login", headers=FORWARDED).headers["Location"]
    callback = authorize(url)
    assert callback.startswith("https://analytics.example.com/adobe/callback?")
    response = client.get(local(callback), headers=FORWARDED)
    assert response.status_code == 302
    assert standin.token_calls()[0].form["redirect_uri"] == "https://analytics.example.com/adobe/callback"


def test_without_proxyfix_forwarded_headers_are_ignored(standin: StandInAdobe) -> None:
    client = make_app(standin).test_client()
    response = client.get("/adobe/login", headers=FORWARDED)
    assert query(response.headers["Location"])["redirect_uri"] == ["http://localhost/adobe/callback"]


def test_proxyfix_trusts_only_the_configured_number_of_hops(standin: StandInAdobe) -> None:
    """A client-supplied value in front of the proxy's own is not used."""
    client = _behind_proxy(standin).test_client()
    headers = {"X-Forwarded-Proto": "http, https", "X-Forwarded-Host": "evil.example, analytics.example.com"}
    response = client.get("/adobe/login", headers=headers)
    assert query(response.headers["Location"])["redirect_uri"] == [
        "https://analytics.example.com/adobe/callback"
    ]


def test_configured_redirect_uri_wins_over_forwarded_headers(standin: StandInAdobe) -> None:
    uri = "https://fixed.example.com/adobe/callback"
    client = _behind_proxy(standin, redirect_uri=uri).test_client()
    response = client.get("/adobe/login", headers={**FORWARDED, "X-Forwarded-Host": "evil.example"})
    assert query(response.headers["Location"])["redirect_uri"] == [uri]
    assert query(start_login(client))["redirect_uri"] == [uri]  # and without the headers too
