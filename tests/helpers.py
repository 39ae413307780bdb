"""Plain helpers the tests import: an app wired to the stand-in, a real login
round trip, what the session and its cookie hold, an app calling the
Analytics helpers, and the hostile-input kit.

Fixtures live in ``conftest.py``; everything here is an ordinary function or
constant, imported with ``from .helpers import ...``. The provider is always
the package's stand-in, a real HTTP server on 127.0.0.1; nothing in the flow
is mocked.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import time
import uuid
from datetime import date
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
import requests
from flask import Flask, jsonify, request
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from werkzeug.test import TestResponse

from flask_adobe_oauth import ProviderError, Token, adobe, adobe_login_required, make_adobe_blueprint
from flask_adobe_oauth.analytics import (
    RankedReportRequest,
    companies,
    page_views_by_day,
    ranked_report,
    report_suites,
)
from flask_adobe_oauth.extension import PENDING_KEY
from flask_adobe_oauth.storage import TOKEN_KEY
from flask_adobe_oauth.testing import StandInAdobe, User, login_as

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


# -- the login round trip -------------------------------------------------------------------


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


# -- what the session holds -----------------------------------------------------------------


def stored_token(client: FlaskClient) -> Any:
    """The token record in ``client``'s session (``TOKEN_KEY``), or None."""
    with client.session_transaction() as sess:
        return sess.get(TOKEN_KEY)


def pending_states(client: FlaskClient) -> list[str]:
    """The states of ``client``'s pending logins (``PENDING_KEY``), oldest first."""
    with client.session_transaction() as sess:
        return [record[0] for record in sess.get(PENDING_KEY, [])]


def expire_pending_logins(client: FlaskClient) -> None:
    """Make every pending login in ``client``'s session one started long ago."""
    with client.session_transaction() as sess:
        sess[PENDING_KEY] = [[state, 1, next_url] for state, _, next_url in sess[PENDING_KEY]]


def session_cookie(client: FlaskClient) -> str:
    """The raw value of ``client``'s session cookie, as the browser holds it."""
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def cookie_session(app: Flask, value: str) -> dict[str, Any]:
    """What a signed session cookie holds."""
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return dict(serializer.loads(value))


def big_user() -> User:
    """A user whose id is long enough to make the stand-in's tokens push the cookie past 4 KB.

    The id is inside both JWTs twice and stored once more; random hex, so
    compression cannot hide it.
    """
    return User(sub=secrets.token_hex(320) + "@AdobeID")


# -- the Analytics side ---------------------------------------------------------------------


def make_analytics_app(standin: StandInAdobe) -> Flask:
    """``make_app`` plus views that call the analytics helpers as the signed-in
    user (``/a/...``); their ``ProviderError`` comes back as ``error_json``, HTTP 599."""
    app = make_app(standin)

    @app.get("/a/companies")
    def list_companies() -> Any:
        return jsonify([c.__dict__ for c in companies()])

    @app.get("/a/suites/<gcid>")
    def list_suites(gcid: str) -> Any:
        rsids = request.args.get("rsids")
        found = report_suites(
            gcid,
            page_size=int(request.args.get("size", 100)),
            rsids=rsids.split(",") if rsids is not None else None,
            rsid_contains=request.args.get("contains"),
        )
        return jsonify([s.__dict__ for s in found])

    @app.get("/a/views/<gcid>/<rsid>")
    def views(gcid: str, rsid: str) -> Any:
        series = page_views_by_day(gcid, rsid, date(2026, 1, 5), date(2026, 1, 11))
        return jsonify(days=[d.page_views for d in series.days], total=series.total)

    @app.post("/a/report/<gcid>")
    def report(gcid: str) -> Any:
        body: RankedReportRequest = request.get_json()
        result = ranked_report(gcid, body)
        return jsonify(
            rows=[[r.value, *r.data] for r in result.rows],
            totals=list(result.totals),
            column_ids=list(result.column_ids),
            column_errors=[e.__dict__ for e in result.column_errors],
        )

    @app.errorhandler(ProviderError)
    def caught(exc: ProviderError) -> Any:  # the helpers' errors, as the app sees them
        return jsonify(error_json(exc)), 599

    return app


def error_json(exc: ProviderError) -> dict[str, Any]:
    return {
        "type": type(exc).__name__,
        "message": exc.message,
        "code": exc.provider_error,
        "status": exc.status,
        "error_id": getattr(exc, "error_id", None),
        "status_code": exc.status_code,
        "columns": [c.__dict__ for c in getattr(exc, "column_errors", ())],
    }


def dashboard(standin: StandInAdobe, **config: Any) -> FlaskClient:
    """The demo dashboard (``example_app``), signed in for real at ``standin``."""
    from example_app import create_app

    app = create_app({**standin.config(), "SECRET_KEY": SECRET_KEY, "TESTING": True, **config})
    client = app.test_client()
    assert login(client, next_url="/dashboard").status_code == 302
    return client


def page(response: Any) -> str:
    return str(response.get_data(as_text=True))


def api_calls(seen: list[tuple[str, str, dict[str, list[str]]]]) -> list[str]:
    """The Analytics API calls among ``seen`` (the fixture): the path of each."""
    return [path for _, path, _ in seen if path == "/discovery/me" or path.startswith("/api/")]


def freeze(standin: StandInAdobe, at: float = 1_000_000.0) -> list[float]:
    """Stop the clock the stand-in's rate limit counts in; move it with ``now[0] += s``."""
    now = [at]
    standin.analytics.clock = lambda: now[0]
    return now


def store_expired(client: FlaskClient, real: Token) -> Token:
    """Store for ``client`` a copy of ``real`` whose access token has expired
    (its refresh token still the live one), as the app's storage keeps it;
    the token stored."""
    return login_as(
        client,
        access_token=real.access_token,
        refresh_token=real.refresh_token,
        expires_at=time.time() - 10,
        user_id=real.user_id,
        scope=real.scope,
    )


@dataclasses.dataclass
class SharedClock:
    """One stopped clock for the stand-in's rate limit and ours
    (:mod:`flask_adobe_oauth.ratelimit`). It moves only when our limiter
    waits: a wait of ``s`` seconds moves it ``s`` seconds at once, so tests
    see what Adobe would see in real time, without sleeping."""

    now: float = 1_000_000.0
    waits: list[float] = dataclasses.field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def limiter_clock(monkeypatch: pytest.MonkeyPatch) -> SharedClock:
    """A :class:`SharedClock` that our rate limiter counts in and waits on."""
    from flask_adobe_oauth import ratelimit

    clock = SharedClock()
    monkeypatch.setattr(ratelimit, "_clock", clock)
    monkeypatch.setattr(ratelimit, "_sleep", clock.sleep)
    return clock


def one_clock(standin: StandInAdobe, monkeypatch: pytest.MonkeyPatch) -> SharedClock:
    """A :class:`SharedClock` that the stand-in's rate limit and ours both count in."""
    clock = limiter_clock(monkeypatch)
    standin.analytics.clock = clock
    return clock


def is_uuid(value: Any) -> bool:
    try:
        return str(uuid.UUID(str(value))) == value
    except ValueError:
        return False


# -- the hostile-input kit ------------------------------------------------------------------

MARK = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
CRLF = "\r\nSet-Cookie: injected=1\r\nX-Injected: 1"
FUZZ = settings(
    # Bounded for CI; HOSTILE_FUZZ_EXAMPLES=5000 for a deeper local hunt.
    max_examples=int(os.environ.get("HOSTILE_FUZZ_EXAMPLES", "200")),
    # In CI the same examples every run (a red CI names a real regression);
    # locally new ones each run, to keep hunting.
    derandomize=bool(os.environ.get("CI")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

Params = dict[str, str]
Query = list[tuple[str, str]] | str


def begin(client: FlaskClient, next_url: str | None = None) -> Params:
    """Start a login and have the stand-in approve it: the real callback's
    parameters (``code``, ``state``, ``iss`` when sent), not yet delivered."""
    callback = authorize(start_login(client, next_url))
    return {k: v[0] for k, v in query(callback).items()}


def deliver(client: FlaskClient, params: Query, **kwargs: Any) -> TestResponse:
    """GET the callback with ``params``: pairs (repeats allowed) or a raw
    query string, passed to the app byte for byte (latin-1 as WSGI wants)."""
    if isinstance(params, str):
        return client.get("/adobe/callback", environ_overrides={"QUERY_STRING": params}, **kwargs)
    raw = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)
    return client.get("/adobe/callback", environ_overrides={"QUERY_STRING": raw}, **kwargs)


def assert_clean_refusal(response: TestResponse, statuses: set[int]) -> None:
    """A clear error page: expected status, not cached, nothing echoed raw."""
    assert response.status_code in statuses, (response.status_code, response.data[:300])
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = response.get_data()
    for tag in (b"<script", b"<img"):
        assert tag not in body.lower()
    assert MARK.encode() not in body
    for name, value in response.headers.items():
        assert "\r" not in value and "\n" not in value, name
        assert name.lower() not in ("x-injected",)
    assert "injected=1" not in response.headers.get("Set-Cookie", "")
    if response.mimetype == "application/json":
        assert response.json is not None and {"error", "message"} <= set(response.json)
    else:
        assert response.mimetype == "text/html"


def assert_state_consumed(client: FlaskClient, standin: StandInAdobe, real: Params) -> None:
    """The untouched, otherwise valid callback of the same login is refused now."""
    before = len(standin.token_calls())
    again = deliver(client, list(real.items()))
    assert again.status_code == 403, again.data[:300]
    assert len(standin.token_calls()) == before
    assert stored_token(client) is None
