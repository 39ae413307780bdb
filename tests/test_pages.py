"""The extension's pages: plain words first, the technical detail second, a
way back; templates an app can override, and a fallback when the override
is broken. Against the real stand-in. The ``unauthorized_handler`` hook is
in ``test_decorators.py``."""

from __future__ import annotations

import logging
import re
from html import unescape
from pathlib import Path

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_adobe_oauth import (
    AdobeOAuthError,
    ConfigurationError,
    CookieTooLarge,
    LoginRequired,
    ProviderError,
    RateLimited,
)
from flask_adobe_oauth.analytics import AnalyticsError, NoAnalyticsProfile, ReportColumnError
from flask_adobe_oauth.errors import (
    AuthorizationDenied,
    CallbackError,
    CrossSiteRequest,
    IdTokenError,
    InsufficientScope,
    StateError,
    StorageUnavailable,
)
from flask_adobe_oauth.pages import _WORDING, TEMPLATE_DIR, error_response, situation
from flask_adobe_oauth.storage import RedisStorage
from flask_adobe_oauth.testing import StandInAdobe, login_as
from flask_adobe_oauth.testing.live import free_port

from .helpers import (
    authorize,
    big_user,
    expire_pending_logins,
    local,
    login,
    make_app,
    query,
    start_login,
)

HTML = {"Accept": "text/html"}
BUILTIN_CSP = "default-src 'none'; style-src 'unsafe-inline'"


def text(response: TestResponse) -> str:
    return unescape(response.get_data(as_text=True))


def headline(response: TestResponse) -> str:
    match = re.search(r"<h1>(.*?)</h1>", response.get_data(as_text=True), re.S)
    assert match, response.get_data(as_text=True)[:500]
    return unescape(match.group(1))


def assert_builtin_page(response: TestResponse, status: int) -> None:
    """The built-in page, with every header the extension guarantees."""
    assert response.status_code == status
    assert response.mimetype == "text/html"
    assert response.headers["Content-Security-Policy"] == BUILTIN_CSP
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = response.get_data(as_text=True)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in body
    assert '<a href="/">Go to the home page</a>' in body


def deny(client: FlaskClient, description: str | None = None, error: str = "access_denied") -> TestResponse:
    """Adobe sends the user back with ``error=`` (the stand-in's consent page, declined)."""
    params = {"state": query(start_login(client))["state"][0], "error": error}
    if description is not None:
        params["error_description"] = description
    return client.get("/adobe/callback", query_string=params, headers=HTML)


def with_templates(app: Flask, folder: Path, **files: str) -> Flask:
    """``app`` with ``folder`` as its template folder, holding ``files``
    (``error="..."`` is ``adobe_oauth/error.html``)."""
    for stem, source in files.items():
        path = folder / "adobe_oauth" / f"{stem}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    app.template_folder = str(folder)
    return app


# -- the built-in page ---------------------------------------------------------------------


def test_a_cancelled_sign_in_says_so_first_and_the_detail_second(client: FlaskClient) -> None:
    response = deny(client, '<script>alert("x")</script> & more')
    assert_builtin_page(response, 403)
    assert headline(response) == "You cancelled the sign-in"
    body = response.get_data(as_text=True)
    assert "<script" not in body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; more" in body
    # The plain words come before the technical detail, which is the exact message.
    detail = re.search(r'<p class="detail">(.*?)</p>', body, re.S)
    assert detail is not None
    assert body.index("You cancelled the sign-in") < body.index('<p class="detail">')
    assert unescape(detail.group(1)).startswith(
        'Adobe did not authorize the login: access_denied (<script>alert("x")</script> & more)'
    )
    assert "<code>authorization_denied</code> · HTTP 403" in body
    # A way back: try again (the login) and the site's home.
    assert '<a class="button" href="/adobe/login">Try again</a>' in body


def test_declining_on_the_stand_ins_consent_page_is_a_cancelled_sign_in(standin: StandInAdobe) -> None:
    standin.app.config["STANDIN_AUTO_APPROVE"] = False
    client = make_app(standin).test_client()
    response = standin.sign_in(client, allow=False)
    assert_builtin_page(response, 403)
    assert headline(response) == "You cancelled the sign-in"
    assert "access_denied" in text(response)  # Adobe's error code, in the detail
    assert standin.token_calls() == []


def test_the_home_link_follows_the_apps_script_root(client: FlaskClient) -> None:
    response = client.get("/adobe/callback?code=x", headers=HTML, environ_overrides={"SCRIPT_NAME": "/shop"})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert '<a href="/shop/">Go to the home page</a>' in body
    assert '<a class="button" href="/shop/adobe/login">Try again</a>' in body


def test_a_page_without_a_retry_url_has_no_try_again(app: Flask) -> None:
    with app.test_request_context("/anywhere", headers=HTML):
        response = error_response(CrossSiteRequest("sign-out must come from a page of this site"))
    assert_builtin_page(response, 403)
    assert "Try again" not in response.get_data(as_text=True)
    assert headline(response) == "This request came from another site"


def _situations(standin: StandInAdobe, client: FlaskClient, app: Flask) -> dict[str, TestResponse]:
    """One real response per situation the callback and the guards reach."""
    out: dict[str, TestResponse] = {}
    out["denied"] = deny(client, error="server_error")
    start_login(client)
    out["state_missing"] = client.get("/adobe/callback?code=abc", headers=HTML)
    callback = local(authorize(start_login(client)))
    expire_pending_logins(client)
    out["state_expired"] = client.get(callback, headers=HTML)
    callback = local(authorize(start_login(client)))
    assert client.get(callback).status_code == 302  # signed in
    start_login(client)  # another sign-in is pending, so the old one is told apart as used
    out["state_used"] = client.get(callback, headers=HTML)
    out["state_not_started"] = app.test_client().get(local(authorize(start_login(client))), headers=HTML)
    out["callback_error"] = client.get(local(authorize(start_login(client))) + "&code=again", headers=HTML)
    standin.fail_next_token(500, "boom")
    out["provider_error"] = client.get(local(authorize(start_login(client))), headers=HTML)
    standin.fail_next_token(400, '{"error":"invalid_grant"}', content_type="application/json")
    out["provider_refused"] = client.get(local(authorize(start_login(client))), headers=HTML)
    unreachable = make_app(standin, token_url=f"http://127.0.0.1:{free_port()}/token").test_client()
    out["provider_unreachable"] = unreachable.get(local(authorize(start_login(unreachable))), headers=HTML)
    login_as(client, scope=["openid"])
    out["insufficient_scope"] = client.get("/reports", headers=HTML)
    login(client)
    standin.fail_next_api(429, "{}", headers={"Retry-After": "7"})
    out["rate_limited"] = client.get("/me", headers=HTML)
    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=2)
    out["storage_unavailable"] = login(make_app(standin, storage=RedisStorage(dead)).test_client())
    misconfigured = make_app(standin, redirect_to="no_such_endpoint").test_client()
    out["configuration_error"] = misconfigured.get(local(authorize(start_login(misconfigured))), headers=HTML)
    return out


def test_each_situation_has_its_own_headline_and_status(
    standin: StandInAdobe, app: Flask, client: FlaskClient
) -> None:
    statuses = {
        "denied": 400,
        "state_missing": 400,
        "state_expired": 400,
        "state_used": 403,
        "state_not_started": 403,
        "callback_error": 400,
        "provider_error": 502,
        "provider_refused": 502,
        "provider_unreachable": 502,
        "insufficient_scope": 403,
        "rate_limited": 429,
        "storage_unavailable": 503,
        "configuration_error": 500,
    }
    responses = _situations(standin, client, app)
    seen: dict[str, str] = {}
    for key, response in responses.items():
        assert_builtin_page(response, statuses[key])
        assert headline(response) == _WORDING[key][0], key
        assert _WORDING[key][1] in text(response), key
        seen[headline(response)] = key
    assert len(seen) == len(responses)  # no two situations share a headline
    assert responses["rate_limited"].headers["Retry-After"] == "7"
    assert standin.client_secret not in "".join(r.get_data(as_text=True) for r in responses.values())


def test_a_token_too_big_for_the_cookie_has_its_own_page(standin: StandInAdobe) -> None:
    standin.state.user = big_user()
    response = login(make_app(standin).test_client())
    assert_builtin_page(response, 507)
    assert headline(response) == "Your sign-in couldn’t be saved"
    assert "server-side" in text(response)  # the technical detail is still there


@pytest.mark.parametrize(
    ("exc", "key"),
    [
        (AuthorizationDenied("access_denied", None), "cancelled"),
        (AuthorizationDenied("temporarily_unavailable", None), "denied"),
        (StateError("this sign-in is unknown or was already used", 403, reason="used"), "state_used"),
        (StateError("something else"), "state_invalid"),
        (ProviderError("Adobe did not answer", status=None), "provider_unreachable"),
        (ProviderError("refused", "invalid_grant", status=400), "provider_refused"),
        (ProviderError("broken", status=500), "provider_error"),
        (IdTokenError("bad signature", status=200), "provider_unverified"),
        (NoAnalyticsProfile("no profile", "403025", 403), "analytics_no_profile"),
        (ReportColumnError("no page views", "metrics/pageviews", ()), "analytics_column"),
        (AnalyticsError("bad request", "invalid_parameters", 400), "analytics_error"),
        (RateLimited("https://analytics.adobe.io/x", None), "rate_limited"),
        (StorageUnavailable("redis is down"), "storage_unavailable"),
        (CookieTooLarge("too big"), "cookie_too_large"),
        (CrossSiteRequest("from elsewhere"), "cross_site"),
        (LoginRequired("you are not signed in with Adobe"), "login_required"),
        (InsufficientScope(frozenset({"Report"})), "insufficient_scope"),
        (ConfigurationError("bad"), "configuration_error"),
        (CallbackError("odd"), "callback_error"),
        (AdobeOAuthError("other"), "error"),
    ],
)
def test_every_error_class_is_worded(app: Flask, exc: AdobeOAuthError, key: str) -> None:
    assert situation(exc) == key
    with app.test_request_context("/", headers=HTML):
        response = error_response(exc)
    assert_builtin_page(response, exc.status_code)
    assert headline(response) == _WORDING[key][0]
    assert f"<code>{exc.error}</code> · HTTP {exc.status_code}" in response.get_data(as_text=True)


def test_the_documented_situations_are_the_worded_ones() -> None:
    doc = (TEMPLATE_DIR / "adobe_oauth" / "error.html").read_text()
    listed = doc.split("to word it yourself:")[1].split("message ")[0]
    assert set(re.findall(r"[a-z_]+", listed)) == set(_WORDING)
    assert len(set(_WORDING.values())) == len(_WORDING)


def test_json_answers_are_unchanged(client: FlaskClient) -> None:
    start_login(client)
    response = client.get("/adobe/callback?code=x", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_data() == (
        b'{"error": "invalid_state", "login_url": "/adobe/login", '
        b'"message": "the callback has no state; start the sign-in again"}\n'
    )
    assert "Content-Security-Policy" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"
    response = client.get("/dashboard", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert response.get_data() == (
        b'{"error": "login_required", "login_url": "/adobe/login?next=/dashboard", '
        b'"message": "you are not signed in with Adobe"}\n'
    )


#: A browser's form submission: a navigation (W3C Fetch Metadata, and the
#: Accept every browser sends when it loads a page).
FORM_NAVIGATION = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
    "Sec-Fetch-Site": "same-origin",
}


def test_a_form_post_to_a_guarded_view_without_login_gets_the_sign_in_page(client: FlaskClient) -> None:
    """A page's form posting to a guarded view after the login is gone: the
    browser shows the answer, so it is the 401 page with a sign-in link (no
    redirect: the POST cannot be replayed), not raw JSON."""
    response = client.post("/dashboard", headers=FORM_NAVIGATION)
    assert_builtin_page(response, 401)
    assert headline(response) == "Please sign in"
    assert '<a class="button" href="/adobe/login?next=/dashboard">Try again</a>' in response.get_data(
        as_text=True
    )
    for api in (
        {},
        {"Accept": "*/*", "Sec-Fetch-Mode": "cors"},
        {**FORM_NAVIGATION, "X-Requested-With": "XMLHttpRequest"},
    ):
        response = client.post("/dashboard", headers=api)
        assert response.status_code == 401
        assert response.json is not None and response.json["login_url"] == "/adobe/login?next=/dashboard"


def test_a_cross_site_sign_out_form_gets_the_page(client: FlaskClient) -> None:
    login_as(client)
    headers = {**FORM_NAVIGATION, "Sec-Fetch-Site": "cross-site"}
    response = client.post("/adobe/logout", headers=headers)
    assert_builtin_page(response, 403)
    assert headline(response) == "This request came from another site"
    response = client.post("/adobe/logout", headers={**headers, "Accept": "application/json"})
    assert response.status_code == 403 and response.json is not None
    assert response.json["error"] == "cross_site_request"


# -- an app's own templates ------------------------------------------------------------------

OVERRIDE = """<!doctype html><title>{{ brand }}</title>
<h1>{{ headline }}</h1>
<ul>
<li id="summary">{{ summary }}</li>
<li id="situation">{{ situation }}</li>
<li id="message">{{ message }}</li>
<li id="code">{{ code }}</li>
<li id="status">{{ status }}</li>
<li id="provider">{{ error.provider_error }}</li>
<li id="retry">{{ retry_url }}</li>
<li id="home">{{ home_url }}</li>
</ul>
<link rel="stylesheet" href="/static/site.css">
"""


def test_an_apps_error_template_is_used_with_every_variable(standin: StandInAdobe, tmp_path: Path) -> None:
    app = with_templates(make_app(standin), tmp_path, error=OVERRIDE)
    app.context_processor(lambda: {"brand": "Acme Analytics"})
    response = deny(app.test_client(), "<b>no</b>")
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert "<title>Acme Analytics</title>" in body  # the app's context processors apply
    assert "<h1>You cancelled the sign-in</h1>" in body
    assert '<li id="situation">cancelled</li>' in body
    assert (
        '<li id="message">Adobe did not authorize the login: access_denied (&lt;b&gt;no&lt;/b&gt;)</li>'
        in body
    )
    assert '<li id="code">authorization_denied</li>' in body
    assert '<li id="status">403</li>' in body
    assert '<li id="provider">access_denied</li>' in body
    assert '<li id="retry">/adobe/login</li>' in body
    assert '<li id="home">/</li>' in body
    assert "Content-Security-Policy" not in response.headers  # their page may load their CSS
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_an_override_extending_the_layout_keeps_the_blocks_it_leaves_out(
    standin: StandInAdobe, tmp_path: Path
) -> None:
    source = '{% extends "adobe_oauth/base.html" %}{% block summary %}Ask Acme support.{% endblock %}'
    app = with_templates(make_app(standin), tmp_path, error=source)
    response = deny(app.test_client())
    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert headline(response) == "You cancelled the sign-in"  # default block
    assert "<p>Ask Acme support.</p>" in body  # their block
    assert '<a href="/">Go to the home page</a>' in body
    assert "<code>authorization_denied</code> · HTTP 403" in body
    assert "Content-Security-Policy" not in response.headers


def test_an_apps_layout_is_used_by_its_pages_only(standin: StandInAdobe, tmp_path: Path) -> None:
    layout = (
        '<html><link rel="stylesheet" href="/static/site.css"><main>{% block content %}{% endblock %}</main>'
    )
    app = with_templates(make_app(standin), tmp_path, base=layout)
    response = deny(app.test_client())  # the built-in error page keeps the built-in layout
    assert_builtin_page(response, 403)
    assert "site.css" not in response.get_data(as_text=True)
    app = with_templates(
        make_app(standin),
        tmp_path,
        error='{% extends "adobe_oauth/base.html" %}{% block content %}<h1>{{ headline }}</h1>{% endblock %}',
    )
    response = deny(app.test_client())
    assert response.get_data(as_text=True) == (
        '<html><link rel="stylesheet" href="/static/site.css"><main><h1>You cancelled the sign-in</h1></main>'
    )
    assert "Content-Security-Policy" not in response.headers


@pytest.mark.parametrize(
    ("files", "problem"),
    [
        ({"error": "<h1>{% if %}broken</h1>"}, "TemplateSyntaxError"),
        ({"error": '{% extends "adobe_oauth/missing.html" %}'}, "TemplateNotFound: adobe_oauth/missing.html"),
        ({"error": "<p>{{ error.nope.deeper }}</p>"}, "UndefinedError"),
        ({"error": '{% extends "adobe_oauth/error.html" %}'}, "RecursionError"),
        ({"error": '{% extends "adobe_oauth/base.html" %}', "base": "{% block %}"}, "TemplateSyntaxError"),
        ({"error": '{% extends "adobe_oauth/base.html" %}', "base": "{{ 1 / 0 }}"}, "ZeroDivisionError"),
    ],
    ids=["syntax", "extends-missing", "undefined", "extends-itself", "broken-base", "raising-base"],
)
def test_a_broken_override_falls_back_to_the_built_in_page(
    standin: StandInAdobe,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    files: dict[str, str],
    problem: str,
) -> None:
    app = with_templates(make_app(standin), tmp_path, **files)
    app.config["TESTING"] = False  # a 500 would be an answer, not a raised exception
    with caplog.at_level(logging.ERROR, "flask_adobe_oauth"):
        response = deny(app.test_client(), "<i>x</i>")
    assert_builtin_page(response, 403)
    assert headline(response) == "You cancelled the sign-in"
    assert "&lt;i&gt;x&lt;/i&gt;" in response.get_data(as_text=True)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    message = errors[0].getMessage()
    assert "adobe_oauth/error.html" in message
    assert str(tmp_path) in message  # the file at fault
    assert problem in message


def test_an_override_of_another_page_leaves_the_error_page_built_in(
    standin: StandInAdobe, tmp_path: Path
) -> None:
    app = with_templates(make_app(standin), tmp_path, implicit="<p>{{ script }}</p>")
    assert deny(app.test_client()).headers["Content-Security-Policy"] == BUILTIN_CSP


# -- the implicit grant's page -------------------------------------------------------------------


def test_the_implicit_page_is_built_in_with_the_strict_csp(standin: StandInAdobe) -> None:
    from flask_adobe_oauth.pages import FRAGMENT_CSP as _FRAGMENT_CSP
    from flask_adobe_oauth.pages import FRAGMENT_SCRIPT as _FRAGMENT_SCRIPT

    response = make_app(standin, response_type="token").test_client().get("/adobe/callback")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == _FRAGMENT_CSP
    assert f"<script>{_FRAGMENT_SCRIPT}</script>" in response.get_data(as_text=True)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in response.get_data(
        as_text=True
    )


def test_an_implicit_override_carries_the_hashed_script(standin: StandInAdobe, tmp_path: Path) -> None:
    from flask_adobe_oauth.pages import FRAGMENT_SCRIPT as _FRAGMENT_SCRIPT
    from flask_adobe_oauth.pages import SCRIPT_HASH as _SCRIPT_HASH

    source = '{% extends "adobe_oauth/base.html" %}{% block content %}<h1>Acme is signing you in</h1>{% endblock %}'
    app = with_templates(make_app(standin, response_type="token"), tmp_path, implicit=source)
    response = app.test_client().get("/adobe/callback")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<h1>Acme is signing you in</h1>" in body
    assert f"<script>{_FRAGMENT_SCRIPT}</script>" in body  # from the layout's scripts block
    assert response.headers["Content-Security-Policy"] == f"form-action 'self'; script-src {_SCRIPT_HASH}"


def test_an_implicit_override_without_the_script_falls_back(
    standin: StandInAdobe, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from flask_adobe_oauth.pages import FRAGMENT_CSP as _FRAGMENT_CSP

    app = with_templates(make_app(standin, response_type="token"), tmp_path, implicit="<p>Signing in</p>")
    with caplog.at_level(logging.ERROR, "flask_adobe_oauth"):
        response = app.test_client().get("/adobe/callback")
    assert response.status_code == 200
    assert response.headers["Content-Security-Policy"] == _FRAGMENT_CSP
    assert "Signing you in…" in response.get_data(as_text=True)
    assert any("adobe_oauth/implicit.html" in r.getMessage() for r in caplog.records)
