"""Issue 26, the first hour and the first outage: who gets a redirect and who
a 401, what templates and views see of the user, what a misconfigured secret
looks like, and what operators see in their logs when Adobe or the store fails."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask, got_request_exception, render_template_string

from flask_adobe_oauth import adobe, adobe_login_required, make_adobe_blueprint
from flask_adobe_oauth import logs as logs_module
from flask_adobe_oauth.signals import provider_error, storage_failed
from flask_adobe_oauth.storage import RedisStorage
from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.live import free_port, serve

from .helpers import SECRET_KEY, authorize, local, make_app, start_login

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@pytest.fixture(autouse=True)
def fresh_outages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    logs_module.clear_outages()
    yield
    logs_module.clear_outages()


# -- who is redirected ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 302),  # no Accept at all (Flask's test client): as before
        ({"Accept": BROWSER}, 302),  # a browser without Fetch Metadata (plain http, old browsers)
        ({"Accept": BROWSER, "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}, 302),
        ({"Accept": "*/*"}, 401),  # curl, requests
        ({"Accept": "*/*", "Sec-Fetch-Mode": "cors", "Sec-Fetch-Dest": "empty"}, 401),  # fetch()
        ({"Accept": BROWSER, "Sec-Fetch-Mode": "no-cors"}, 401),  # an <img> or a prefetch, not a page load
        ({"Accept": "application/json"}, 401),
    ],
    ids=["no-accept", "old-browser", "navigation", "curl", "fetch", "no-cors", "json"],
)
def test_only_a_browsers_page_load_is_sent_to_the_sign_in(
    standin: StandInAdobe, headers: dict[str, str], expected: int
) -> None:
    answer = make_app(standin).test_client().get("/dashboard", headers=headers)
    assert answer.status_code == expected
    if expected == 401:
        assert answer.json == {"error": "login_required", "login_url": "/adobe/login?next=/dashboard",
                               "message": "you are not signed in with Adobe"}  # fmt: skip
    else:
        assert answer.headers["Location"] == "/adobe/login?next=/dashboard"


def test_curl_and_requests_get_the_401_over_real_http(standin: StandInAdobe) -> None:
    with serve(make_app(standin)) as url:
        answer = requests.get(f"{url}/dashboard", allow_redirects=False, timeout=10)
    assert answer.status_code == 401 and answer.json()["error"] == "login_required"


# -- the user, in views and templates ------------------------------------------------------------


def test_adobe_and_its_user_are_in_templates_and_views(standin: StandInAdobe) -> None:
    app = make_app(standin)
    page = "{% if adobe.authorized %}Hello {{ adobe.user.name }} <{{ adobe.user.email }}>{% else %}Sign in{% endif %}"

    @app.get("/hello")
    def hello() -> str:
        return render_template_string(page)

    @app.get("/who")
    @adobe_login_required
    def who() -> Any:
        user = adobe.user
        assert user is not None
        return {"id": user.id, "name": user.name, "email": user.email}

    client = app.test_client()
    assert client.get("/hello").data == b"Sign in"
    standin.sign_in(client)
    person = standin.state.user
    assert client.get("/hello").get_data(as_text=True) == f"Hello {person.name} <{person.email}>"
    assert client.get("/who").json == {"id": person.sub, "name": person.name, "email": person.email}


def test_the_provider_name_is_read_in_any_case(standin: StandInAdobe) -> None:
    options = {k: v for k, v in standin.options().items() if k != "provider"}
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET_KEY, ADOBE_OAUTH_PROVIDER=" IMS ")
    app.register_blueprint(make_adobe_blueprint(**options), url_prefix="/adobe")
    assert standin.sign_in(app.test_client()).status_code == 302


# -- the access log never shows the code ---------------------------------------------------------


def test_the_dev_servers_access_log_hides_the_code_and_state(
    standin: StandInAdobe, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(standin)
    with serve(app) as url, caplog.at_level(logging.INFO, logger="werkzeug"), requests.Session() as browser:
        browser.headers["Accept"] = BROWSER
        at_adobe = browser.get(f"{url}/adobe/login", allow_redirects=False, timeout=10).headers["Location"]
        callback = browser.get(at_adobe, allow_redirects=False, timeout=10).headers["Location"]
        assert browser.get(callback, allow_redirects=False, timeout=10).status_code == 302
    code = dict(p.split("=", 1) for p in callback.split("?", 1)[1].split("&"))["code"]
    lines = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    callback_lines = [line for line in lines if "/adobe/callback" in line]
    assert callback_lines and all("code=***" in line and "state=***" in line for line in callback_lines)
    assert not any(code in line for line in lines)


def test_gunicorns_access_log_record_is_masked_too() -> None:
    """gunicorn's access logger passes its fields as a dict (``r`` the request
    line, ``q`` the query); the filter masks them the same way."""
    record = logging.LogRecord(
        "gunicorn.access", logging.INFO, __file__, 1, '%(h)s "%(r)s" %(s)s', None, None
    )
    record.args = {"h": "127.0.0.1", "r": "GET /adobe/callback?code=abc123&state=xyz HTTP/1.1",
                   "q": "code=abc123&state=xyz", "s": "302"}  # fmt: skip
    assert logs_module.HideSecretParameters().filter(record)
    assert record.getMessage() == '127.0.0.1 "GET /adobe/callback?code=***&state=*** HTTP/1.1" 302'
    assert isinstance(record.args, dict) and record.args["q"] == "code=***&state=***"
    assert "werkzeug" in logs_module.ACCESS_LOGGERS and "gunicorn.access" in logs_module.ACCESS_LOGGERS


# -- a wrong secret is named ----------------------------------------------------------------------


def test_a_wrong_client_secret_is_named_on_the_page_and_in_the_log(
    standin: StandInAdobe, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(standin, client_secret="a-typo-in-the-secret-0000")
    client = app.test_client()
    callback = authorize(start_login(client))
    with caplog.at_level(logging.WARNING, logger="flask_adobe_oauth"):
        answer = client.get(local(callback), headers={"Accept": BROWSER})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 502
    assert "ADOBE_OAUTH_CLIENT_SECRET" in page and "Trying again will not help" in page
    assert "Try again</a>" not in page  # a retry repeats the failure
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("ADOBE_OAUTH_CLIENT_ID / ADOBE_OAUTH_CLIENT_SECRET" in w for w in warnings), warnings
    assert not any("a-typo-in-the-secret" in w for w in warnings) and "a-typo-in-the-secret" not in page


def test_a_redirect_uri_the_credential_does_not_allow_is_named(standin: StandInAdobe) -> None:
    client = make_app(standin).test_client()
    callback = authorize(start_login(client))
    standin.fail_next_token(
        400,
        '{"error": "invalid_grant", "error_description": "redirect_uri does not match the authorization request"}',
        content_type="application/json",
    )
    answer = client.get(local(callback), headers={"Accept": BROWSER})
    assert answer.status_code == 502
    assert "ADOBE_OAUTH_REDIRECT_URI" in answer.get_data(as_text=True)


# -- outages leave a WARNING, a signal and got_request_exception ----------------------------------


def test_an_adobe_api_outage_is_a_warning_once_a_minute_with_signals(
    standin: StandInAdobe, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(standin)

    @app.get("/companies")
    @adobe_login_required
    def companies() -> Any:
        return {"status": adobe.session.get("/discovery/me").status_code}

    client = app.test_client()
    standin.sign_in(client)
    now = [1000.0]
    monkeypatch.setattr(logs_module, "_clock", lambda: now[0])
    failures: list[Any] = []
    provider_error.connect(lambda sender, **extra: failures.append(extra["error"]), app, weak=False)
    trackers: list[Any] = []
    got_request_exception.connect(
        lambda sender, **extra: trackers.append(extra["exception"]), app, weak=False
    )

    standin.fail_calls(503, endpoints=["api"])
    with caplog.at_level(logging.WARNING, logger="flask_adobe_oauth"):
        for _ in range(3):
            assert client.get("/companies").json == {"status": 503}
        warnings = [r for r in caplog.records if r.name == "flask_adobe_oauth.api"]
        assert len(warnings) == 1 and "HTTP 503" in warnings[0].getMessage()
        now[0] += 61
        client.get("/companies")
        warnings = [r for r in caplog.records if r.name == "flask_adobe_oauth.api"]
        assert len(warnings) == 2 and "2 more since the last warning" in warnings[1].getMessage()
    standin.clear_faults()
    standin.reset_connections(endpoints=["api"], count=1)  # Adobe unreachable: a 502 page
    answer = client.get("/companies", headers={"Accept": BROWSER})
    assert answer.status_code == 502
    assert len(failures) == 1 and len(trackers) == 1 and trackers[0] is failures[0]


def test_a_redis_outage_is_a_warning_a_503_and_a_signal(
    standin: StandInAdobe, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"redis://:s3cret-pass@127.0.0.1:{free_port()}/0"
    app = make_app(standin, storage=RedisStorage.from_url(dead))
    failed: list[Any] = []
    storage_failed.connect(lambda sender, **extra: failed.append(extra["error"]), app, weak=False)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, logger="flask_adobe_oauth"):
        callback = authorize(start_login(client))
        answer = client.get(local(callback), headers={"Accept": BROWSER})
    assert answer.status_code == 503
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("token storage failed: Redis" in w for w in warnings), warnings
    assert not any("s3cret-pass" in w for w in warnings)
    assert len(failed) == 1
