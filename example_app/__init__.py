"""The demo: a small Adobe Analytics dashboard using flask-adobe-oauth.

``python -m example_app`` runs it on http://127.0.0.1:5000, against a
stand-in Adobe on 127.0.0.1 unless ``ADOBE_OAUTH_CLIENT_ID`` is set.
:func:`create_app` builds it for tests and for your own WSGI server.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeVar

from flask import Flask, current_app, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from flask_adobe_oauth import ProviderError, RateLimited, adobe, adobe_login_required, make_adobe_blueprint
from flask_adobe_oauth.analytics import (
    Company,
    NoAnalyticsProfile,
    PageViewsByDay,
    ReportColumnError,
    ReportSuite,
    companies,
    page_views_by_day,
    report_suites,
)
from flask_adobe_oauth.service import service_session

from .chart import line_chart

__all__ = ["create_app"]

#: Date ranges offered as one-click choices, in days.
PRESETS = (7, 30, 90)
DEFAULT_DAYS = 30
MAX_DAYS = 366

#: How long the companies and report suites of a user are reused (seconds), and
#: how many such lists are kept at most. Adobe allows 12 calls every 6 seconds
#: per user and asks clients to request data once and cache it (Analytics 2.0
#: FAQ): with the lists cached, a page load costs one report call.
CACHE_SECONDS = 300
CACHE_ENTRIES = 512
#: The wait shown after a 429 that names none: Adobe's rate limit window (Analytics 2.0 FAQ).
RATE_WINDOW = 6
CACHE_KEY = "example_app.cache"

T = TypeVar("T")

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class TimedCache:
    """A small in-process cache, safe across threads: an entry lives ``seconds``
    seconds, and past ``size`` entries the least recently used go first."""

    def __init__(self, size: int = CACHE_ENTRIES, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, make: Callable[[], T], seconds: float) -> T:
        """The value cached for ``key``, else ``make()`` (cached if it returns)."""
        if seconds <= 0:
            return make()
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and hit[0] > self._clock():
                self._entries.move_to_end(key)
                return hit[1]  # type: ignore[no-any-return]
        value = make()  # outside the lock: a call to Adobe may take a while
        with self._lock:
            self._entries[key] = (self._clock() + seconds, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The dashboard app. ``config`` must name the ``ADOBE_OAUTH_*`` keys and a ``SECRET_KEY``;
    ``DASHBOARD_SUITES_PAGE_SIZE`` (default 100) is how many report suites to ask Adobe for per page,
    ``DASHBOARD_CACHE_SECONDS`` (default 300, 0 for none) how long each user's companies and report
    suites are reused, ``DEMO_STANDIN_URL`` shows the demo-mode banner. Without ``config``
    (``flask --app example_app ...``) they come from the environment."""
    app = Flask(__name__)
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    if config is None:
        config = {k: v for k, v in os.environ.items() if k.startswith("ADOBE_OAUTH_") or k == "SECRET_KEY"}
    app.config.update(config)
    app.extensions[CACHE_KEY] = TimedCache(int(app.config.get("DASHBOARD_CACHE_ENTRIES", CACHE_ENTRIES)))
    app.register_blueprint(make_adobe_blueprint(redirect_to="dashboard"), url_prefix="/adobe")

    @app.after_request
    def security_headers(response: BaseResponse) -> BaseResponse:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.context_processor
    def demo_banner() -> dict[str, Any]:
        return {"standin_url": app.config.get("DEMO_STANDIN_URL")}

    @app.get("/")
    def index() -> str:
        return render_template("index.html", signed_in=adobe.authorized)

    @app.get("/dashboard")
    @adobe_login_required
    def dashboard() -> tuple[str, int, dict[str, str]]:
        return _dashboard()

    return app


def _today() -> date:
    return datetime.now(timezone.utc).date()


def parse_range(args: Any) -> tuple[date, date, str | None]:
    """The chosen [start, end] (both included) and a note if the choice was refused.

    ``days=N`` means the N days up to yesterday; ``from``/``to`` (ISO dates)
    win when both are given. Default: the last 30 days.
    """
    yesterday = _today() - timedelta(days=1)
    start_text, end_text = args.get("from"), args.get("to")
    if start_text and end_text:
        try:
            start, end = date.fromisoformat(start_text), date.fromisoformat(end_text)
        except ValueError:
            note = "That date range is not a pair of dates; showing the last 30 days."
        else:
            if end < start:
                note = "That date range ends before it starts; showing the last 30 days."
            elif (end - start).days + 1 > MAX_DAYS:
                note = f"Ranges are limited to {MAX_DAYS} days; showing the last 30 days."
            else:
                return start, end, None
        return yesterday - timedelta(days=DEFAULT_DAYS - 1), yesterday, note
    try:
        days = int(args.get("days", DEFAULT_DAYS))
    except ValueError:
        days = DEFAULT_DAYS
    days = min(max(days, 1), MAX_DAYS)
    return yesterday - timedelta(days=days - 1), yesterday, None


def _profile_from_token() -> dict[str, Any]:
    """What the stored token says about the user: the id and how long it lasts."""
    token = adobe.token
    profile: dict[str, Any] = {"sub": token.user_id if token else None, "name": None, "email": None}
    if token and token.expires_at:
        profile["until"] = time.strftime("%b %d, %H:%M UTC", time.gmtime(token.expires_at))
    return _with_display(profile)


def _with_display(profile: dict[str, Any]) -> dict[str, Any]:
    name = str(profile.get("name") or profile.get("email") or profile.get("sub") or "Adobe user")
    profile["display"] = name
    profile["initials"] = "".join(w[0] for w in name.split()[:2]).upper() or "?"
    return profile


def _profile() -> dict[str, Any]:
    """The user's name and email from userinfo (IMS); without a userinfo URL, the token's user id."""
    profile = _profile_from_token()
    url = adobe.config.userinfo_url
    if not url:
        return profile
    response = adobe.session.get(url)  # transport failures raise ProviderError
    try:
        if not response.ok:
            raise ProviderError(f"Adobe answered HTTP {response.status_code} to {url}")
        data = response.json()
    except (ValueError, RecursionError):
        raise ProviderError(f"Adobe answered something that is not JSON to {url}") from None
    finally:
        response.close()
    if isinstance(data, dict):
        profile.update({k: data.get(k) for k in ("sub", "name", "email") if isinstance(data.get(k), str)})
    return _with_display(profile)


def _cached(what: Hashable, make: Callable[[], T], *, service: bool = False) -> T:
    """``make()``, reused for the signed-in user (or, with ``service``, for the
    company's service account) for ``DASHBOARD_CACHE_SECONDS``.

    Keyed by the token's user id, so one user never sees another's lists;
    without a user id nothing is cached.
    """
    token = adobe.token
    if token is None or not token.user_id:
        return make()
    owner = "service account" if service else token.user_id
    cache: TimedCache = current_app.extensions[CACHE_KEY]
    seconds = float(current_app.config.get("DASHBOARD_CACHE_SECONDS", CACHE_SECONDS))
    return cache.get((owner, what), make, seconds)


def _pick_company(found: list[Company], wanted: str | None) -> Company | None:
    return next((c for c in found if c.global_company_id == wanted), found[0] if found else None)


def _pick_suite(found: list[ReportSuite], wanted: str | None) -> ReportSuite | None:
    return next((s for s in found if s.rsid == wanted), found[0] if found else None)


def _dashboard() -> tuple[str, int, dict[str, str]]:
    start, end, range_note = parse_range(request.args)
    view: dict[str, Any] = {
        "profile": None,
        "companies": [],
        "company": None,
        "suites": [],
        "suite": None,
        "series": None,
        "chart": None,
        "start": start,
        "end": end,
        "presets": PRESETS,
        "ends_yesterday": end == _today() - timedelta(days=1),
        "days": (end - start).days + 1,
        "notice": range_note,
        "problem": None,
        "column_problem": None,
        # "service": the data as the company's Server-to-Server credential reads it;
        # the user's own login still decides who may look.
        "source": "service" if request.args.get("source") == "service" else "user",
    }
    service = view["source"] == "service"
    http = service_session() if service else None
    status, headers = 200, {"Cache-Control": "no-store"}
    try:
        try:
            view["profile"] = _profile()
        except ProviderError as exc:  # the profile is nice to have; the reports may still work
            status = 502
            view["problem"] = f"Could not read your Adobe profile: {exc.message}"
            view["profile"] = _profile_from_token()
        view["companies"] = _cached("companies", lambda: companies(http), service=service)
        company = view["company"] = _pick_company(view["companies"], request.args.get("company"))
        if company is not None:
            gcid = company.global_company_id
            page_size = int(current_app.config.get("DASHBOARD_SUITES_PAGE_SIZE", 100))
            view["suites"] = _cached(
                ("suites", gcid, page_size),
                lambda: report_suites(gcid, page_size=page_size, session=http),
                service=service,
            )
            suite = view["suite"] = _pick_suite(view["suites"], request.args.get("rsid"))
            if suite is not None:
                try:
                    series: PageViewsByDay = page_views_by_day(gcid, suite.rsid, start, end, session=http)
                except ReportColumnError as exc:  # HTTP 206: no page views, and no zeros shown for them
                    view["column_problem"] = exc
                else:
                    view["series"] = series
                    view["chart"] = line_chart(series)
    except RateLimited as exc:  # stop calling: Adobe asked us to wait
        status = 429
        wait = int(exc.retry_after + 0.999) if exc.retry_after is not None else RATE_WINDOW
        view["problem"] = f"Adobe is rate-limiting requests right now. Try again in {wait} seconds."
        headers["Retry-After"] = str(wait)
        view["profile"] = view["profile"] or _profile_from_token()
    except NoAnalyticsProfile as exc:  # not a failure of Adobe's: it says what an admin must do
        status = 403
        view["problem"] = exc.message
    except ProviderError as exc:
        status = exc.status_code if 400 <= exc.status_code < 600 else 502
        view["problem"] = f"Adobe could not answer: {exc.message}"

    def link(**changes: Any) -> str:
        args: dict[str, Any] = {
            "company": view["company"].global_company_id if view["company"] else None,
            "rsid": view["suite"].rsid if view["suite"] else None,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "source": "service" if service else None,
        }
        args.update(changes)
        return url_for("dashboard", **{k: v for k, v in args.items() if v is not None})

    def preset_link(days: int) -> str:
        return link(days=days, **{"from": None, "to": None})

    return render_template("dashboard.html", link=link, preset_link=preset_link, **view), status, headers
