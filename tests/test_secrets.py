"""No secret leaks: the app runs under a real Werkzeug server on 127.0.0.1,
a ``requests`` session plays the browser, and everything is recorded — every
log record at DEBUG (root, so werkzeug, urllib3 and flask_adobe_oauth too)
emitted by the app's threads (the test's own browser logs in the main
thread and is left out) and every response of the app (status, headers including Location and
Set-Cookie, body) — through full logins, API calls, refreshes, logouts and
failures. Then:

* the client secret (and SECRET_KEY) appears nowhere at all;
* no authorization code appears in any response, nor in any log record
  except the access-log line of the callback request that carried it (the
  request line is what a web server logs; see SECURITY.md);
* access, refresh and id tokens appear in no log record, no URL, no
  Location header and no error page; the only place they may be is the
  ``TOKEN_KEY`` entry of the signed session cookie, which is decoded and
  checked.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask

from flask_adobe_oauth import idtoken
from flask_adobe_oauth.storage import TOKEN_KEY
from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.keys import SigningKey, b64url
from flask_adobe_oauth.testing.live import ServerThread

from .helpers import SECRET_KEY, make_app

WATCHED_LOGGERS = ("", "werkzeug", "urllib3", "requests", "flask_adobe_oauth", "flask.app")


@dataclass
class Recorded:
    """What one scenario left behind."""

    responses: list[requests.Response] = field(default_factory=list)
    logs: list[logging.LogRecord] = field(default_factory=list)


class Browser:
    """A ``requests`` session that follows redirects by hand and records the app's answers."""

    def __init__(self, app_url: str, record: Recorded) -> None:
        self.app_url = app_url
        self.http = requests.Session()
        self.http.headers["Accept"] = "text/html,application/xhtml+xml,*/*;q=0.8"  # a browser's page loads
        self.record = record

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        response = self.http.request(method, url, allow_redirects=False, timeout=10, **kwargs)
        if url.startswith(self.app_url):
            self.record.responses.append(response)
        return response

    def go(self, url: str, method: str = "GET", **kwargs: Any) -> requests.Response:
        """Request ``url`` and follow redirects (at most 6), as a browser would."""
        response = self.request(method, url, **kwargs)
        for _ in range(6):
            if response.status_code not in (301, 302, 303, 307, 308):
                break
            url = requests.compat.urljoin(url, response.headers["Location"])
            response = self.request("GET", url)
        return response

    def login(self, next_path: str = "/dashboard") -> requests.Response:
        return self.go(f"{self.app_url}/adobe/login?next={next_path}")

    def logout(self) -> requests.Response:
        return self.go(f"{self.app_url}/adobe/logout", method="POST", headers={"Origin": self.app_url})

    def session_data(self, app: Flask) -> dict[str, Any]:
        cookie = self.http.cookies.get("session")
        if not cookie:
            return {}
        data = app.session_interface.get_signing_serializer(app).loads(cookie)  # type: ignore[attr-defined]
        return dict(data)


class LiveApp(ServerThread):
    """``app`` served by Werkzeug's own threaded server with its normal access log
    (werkzeug's own request handler, the default)."""


class _Collect(logging.Handler):
    def __init__(self, sink: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == threading.main_thread().ident:
            return  # the test's own browser (requests/urllib3 in this thread), not the app
        self.format(record)  # fills record.message and exc_text
        self.sink.append(record)


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    idtoken.clear_cache()
    record = Recorded()
    handler = _Collect(record.logs)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    saved = {name: logging.getLogger(name).level for name in WATCHED_LOGGERS}
    root = logging.getLogger()
    root.addHandler(handler)
    for name in WATCHED_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield record
    finally:
        root.removeHandler(handler)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


def _log_text(record: logging.LogRecord) -> str:
    parts = [record.getMessage(), record.exc_text or "", record.stack_info or ""]
    return "\n".join(parts)


def _response_text(response: requests.Response) -> str:
    head = f"{response.status_code} {response.reason}\n" + "\n".join(
        f"{k}: {v}" for k, v in response.headers.items()
    )
    return head + "\n\n" + response.content.decode("utf-8", "replace")


def _issued(standin: StandInAdobe) -> dict[str, set[str]]:
    """Every code, access and refresh token the stand-in issued."""
    with standin.state.lock:
        grants = dict(standin.state.grants)
    issued: dict[str, set[str]] = {"code": set(), "access": set(), "refresh": set()}
    for value, grant in grants.items():
        issued[grant.kind].add(value)
    return issued


def _id_token_prefix(standin: StandInAdobe) -> str:
    key = standin.state.key
    assert key is not None
    header = {"alg": "RS256", "typ": "JWT", "kid": key.kid}
    return b64url(json.dumps(header, separators=(",", ":")).encode()) + "."


def assert_no_leaks(
    recorded: Recorded,
    standin: StandInAdobe,
    browsers: list[tuple[Browser, Flask]],
    extra_secrets: tuple[str, ...] = (),
) -> None:
    issued = _issued(standin)
    assert issued["code"], "the scenario should have issued at least one code"
    never_anywhere = [standin.client_secret, SECRET_KEY, *extra_secrets]
    tokens = issued["access"] | issued["refresh"]

    log_texts = [(r, _log_text(r)) for r in recorded.logs]
    response_texts = [(r, _response_text(r)) for r in recorded.responses]
    assert response_texts, "nothing was recorded"

    for secret in never_anywhere:
        for record, text in log_texts:
            assert secret not in text, f"secret in log record {record.name}: {text[:200]}"
        for response, text in response_texts:
            assert secret not in text, f"secret in response to {response.url}"
            assert secret not in response.url

    for code in issued["code"]:
        for response, text in response_texts:
            assert code not in text, f"code in response to {response.url}"
        for record, text in log_texts:
            if code in text:
                # Only the access-log line of the callback request itself.
                assert record.name == "werkzeug" and "GET /adobe/callback?" in text, text[:300]

    for token in tokens:
        for record, text in log_texts:
            assert token not in text, f"token in log record {record.name}: {text[:200]}"
        for response, _ in response_texts:
            assert token not in response.url
            assert token not in response.headers.get("Location", "")
            body = response.content.decode("utf-8", "replace")
            assert token not in body, f"token in the body of {response.url}"
            for name, value in response.headers.items():
                if name.lower() != "set-cookie":
                    assert token not in value, name

    # id_tokens: every JWT the stand-in signs starts with the same encoded
    # header (its key id); none may show up in a log or a response.
    id_token_prefix = _id_token_prefix(standin)
    for record, text in log_texts:
        assert id_token_prefix not in text, f"id_token in log record {record.name}"
    for response, text in response_texts:
        assert id_token_prefix not in text, f"id_token in response to {response.url}"

    # The session cookie: signed but readable. The token lives under TOKEN_KEY
    # by design, and nowhere else in it; no secret and no code at all.
    for browser, app in browsers:
        data = browser.session_data(app)
        serialized = json.dumps(data)
        for secret in never_anywhere:
            assert secret not in serialized
        for code in issued["code"]:
            assert code not in serialized
        rest = json.dumps({k: v for k, v in data.items() if k != TOKEN_KEY})
        for token in tokens:
            assert token not in rest
        assert id_token_prefix not in serialized  # the id_token is never stored


# -- scenarios ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "client_auth"),
    [("ims", "client_secret_basic"), ("ims", "client_secret_post"), ("legacy", "client_secret_post")],
)
def test_full_flows_leak_nothing(
    recorded: Recorded, standin: StandInAdobe, provider: str, client_auth: str
) -> None:
    app = make_app(standin, provider, client_auth=client_auth)
    with LiveApp(app) as live:
        browser = Browser(live.url, recorded)
        assert browser.go(f"{live.url}/dashboard").status_code == 200  # guarded page -> login -> back
        assert browser.login("/dashboard?tab=2").status_code == 200  # a second login
        stored = browser.session_data(app)[TOKEN_KEY]
        assert standin.is_valid_access_token(stored["a"])  # the token IS in the session, by design
        if provider == "ims":
            assert browser.go(f"{live.url}/me").status_code == 200  # an API call with the token
            standin.expire_access_tokens()
            assert browser.go(f"{live.url}/me").status_code == 200  # 401 -> refresh -> retry
            assert {c.grant_type for c in standin.token_calls()} == {"authorization_code", "refresh_token"}
        assert browser.logout().status_code == 200
        assert len(standin.revoke_calls()) == 1
        assert TOKEN_KEY not in browser.session_data(app)
    assert_no_leaks(recorded, standin, [(browser, app)])
    assert any(r.name == "werkzeug" for r in recorded.logs), "the access log was not captured"
    assert any(r.name.startswith("urllib3") for r in recorded.logs), "urllib3's debug log was not captured"


def _begin(browser: Browser) -> str:
    """Start a login and get the stand-in's answer: the callback URL, not yet visited."""
    authorize = browser.request("GET", f"{browser.app_url}/adobe/login").headers["Location"]
    return browser.request("GET", authorize).headers["Location"]


def test_token_endpoint_failures_that_echo_secrets_leak_nothing(
    recorded: Recorded, standin: StandInAdobe
) -> None:
    """A provider error page quoting the request (code, secret) back must not
    reach the user or the log."""
    app = make_app(standin)
    with LiveApp(app) as live:
        browser = Browser(live.url, recorded)
        for status, content_type, template in [
            (
                400,
                "application/json",
                '{{"error":"invalid_grant","error_description":"code {code} with secret {secret}"}}',
            ),
            (500, "text/html", "<html>Traceback: code={code} client_secret={secret}</html>"),
            (200, "application/json", '{{"token_type":"bearer","debug":"{code} {secret}"}}'),
            (200, "application/json", '{{"access_token":"{code}","token_type":"mac"}}'),
            (307, "text/plain", ""),
        ]:
            callback = _begin(browser)
            code = parse_qs(urlsplit(callback).query)["code"][0]
            body = template.format(code=code, secret=standin.client_secret)
            headers = {"Location": f"{standin.url}/steal?code={code}&secret={standin.client_secret}"}
            standin.fail_next_token(status, body, content_type=content_type, headers=headers)
            response = browser.go(callback)
            assert response.status_code == 502
    assert len(standin.token_calls()) == 5
    assert_no_leaks(recorded, standin, [(browser, app)])


def test_transport_failures_leak_nothing(recorded: Recorded, standin: StandInAdobe) -> None:
    app = make_app(standin, timeout=0.5)
    with LiveApp(app) as live:
        browser = Browser(live.url, recorded)
        callback = _begin(browser)
        standin.fail_next_token(200, "{}", content_type="application/json", delay=2)
        assert browser.go(callback).status_code == 502  # timeout
        assert browser.go(callback).status_code == 403  # replay: state consumed
    assert_no_leaks(recorded, standin, [(browser, app)])


def test_callback_errors_leak_nothing(recorded: Recorded, standin: StandInAdobe) -> None:
    app = make_app(standin)
    with LiveApp(app) as live:
        browser = Browser(live.url, recorded)
        callback = _begin(browser)
        code = parse_qs(urlsplit(callback).query)["code"][0]
        assert browser.go(callback + "&code=" + code).status_code == 400  # repeated code
        assert browser.go(callback).status_code == 403  # the state is gone now
        other = Browser(live.url, recorded)
        assert other.go(_begin(browser)).status_code == 403  # another browser's callback
        assert browser.go(f"{live.url}/adobe/callback?error=access_denied&state=x").status_code == 403
    assert standin.token_calls() == []
    assert_no_leaks(recorded, standin, [(browser, app), (other, app)])


def test_refresh_and_revoke_failures_leak_nothing(recorded: Recorded, standin: StandInAdobe) -> None:
    app = make_app(standin)
    with LiveApp(app) as live:
        browser = Browser(live.url, recorded)
        assert browser.login().status_code == 200
        refresh_token = browser.session_data(app)[TOKEN_KEY]["r"]
        standin.expire_access_tokens()
        standin.fail_next_token(
            400,
            json.dumps(
                {"error": "invalid_grant", "error_description": f"refresh token {refresh_token} is dead"}
            ),
            content_type="application/json",
        )
        response = browser.request("GET", f"{live.url}/me", headers={"Accept": "application/json"})
        assert response.status_code == 401  # refresh refused: login required
        assert browser.login().status_code == 200
        standin.fail_next_revoke(500, f"cannot revoke {browser.session_data(app)[TOKEN_KEY]['a']}")
        assert browser.logout().status_code == 200
    assert_no_leaks(recorded, standin, [(browser, app)])


def test_id_token_and_jwks_failures_leak_nothing(recorded: Recorded, standin: StandInAdobe) -> None:
    app = make_app(standin, jwks_url=standin.url + "/ims/no-keys-here")
    with LiveApp(app) as live:
        browser = Browser(live.url, recorded)
        assert browser.login().status_code == 502  # JWKS unreachable: the id_token cannot be checked
    good = make_app(standin)
    with LiveApp(good) as live:
        second = Browser(live.url, recorded)
        assert second.login().status_code == 200  # caches the real key
        assert standin.state.key is not None
        forger = SigningKey()
        forger.kid = standin.state.key.kid
        standin.state.key = forger  # same key id, another key: a bad signature
        assert second.login().status_code == 502
        assert b"signature" in recorded.responses[-1].content
    assert_no_leaks(recorded, standin, [(browser, app), (second, good)])


@pytest.mark.parametrize("leak", ["token-in-log", "secret-in-page", "code-in-log-line", "token-in-location"])
def test_the_checker_catches_a_leaky_app(recorded: Recorded, standin: StandInAdobe, leak: str) -> None:
    """The checks above are not vacuous: an app that leaks is caught."""
    from flask import redirect

    from flask_adobe_oauth import adobe, logged_in

    app = make_app(standin)
    leaky = logging.getLogger("leaky.app")

    @app.get("/leak")
    def leak_view() -> Any:
        token = adobe.token
        assert token is not None
        if leak == "secret-in-page":
            return f"configured with {app.config['ADOBE_OAUTH_CLIENT_SECRET']}"
        return redirect(f"/elsewhere?t={token.access_token}")

    def on_login(sender: Flask, token: Any) -> None:
        if leak == "token-in-log":
            leaky.debug("got %s", token.access_token)
        if leak == "code-in-log-line":
            from flask import request

            leaky.info("callback %s", request.args.get("code"))

    with logged_in.connected_to(on_login, app), LiveApp(app) as live:
        browser = Browser(live.url, recorded)
        assert browser.login().status_code == 200
        if leak in ("secret-in-page", "token-in-location"):
            browser.request("GET", f"{live.url}/leak")
    with pytest.raises(AssertionError):
        assert_no_leaks(recorded, standin, [(browser, app)])
