"""6. The demo dashboard (``example_app``) against a slow, rate-limited Adobe.

Adobe's API answers in hundreds of milliseconds and allows 12 calls every 6
seconds per user. Here the stand-in adds :data:`DELAY` (100 ms) to every
Analytics and userinfo call and keeps Adobe's rate limit; the dashboard is
the demo app as shipped (its per-user cache on, 300 s). Measured per view:
the page's time in Adobe round trips (page time / :data:`DELAY`) and the
Analytics calls the stand-in received, for a cold view (the first after
login), a reload and a switch of the date range; then ten views by one user
as fast as the test client makes them, and how many calls Adobe refused.

Every repetition signs in a user of its own (``login_as``), so the cold
view is cold and no user's rate-limit window carries over. The calls are
counted by a WSGI middleware around the stand-in's app.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from example_app import create_app
from flask_adobe_oauth.testing import StandInAdobe, login_as

from .apps import SECRET_KEY

#: What the stand-in adds to every Analytics and userinfo call: one Adobe round trip.
DELAY = 0.1
#: A fixed week, the first company's first suite (what the dashboard shows first).
RELOAD = {"company": "exampl0", "rsid": "examplecorp.web.prod", "from": "2026-01-05", "to": "2026-01-11"}
#: A click on the "7 days" pill.
SWITCH = {"company": "exampl0", "rsid": "examplecorp.web.prod", "days": "7"}
#: Ten views in a row by one user: the first after login, then reloads, ranges, suites.
CLICKS: list[dict[str, str]] = [
    RELOAD,
    RELOAD,
    SWITCH,
    {**SWITCH, "days": "30"},
    {**SWITCH, "days": "90"},
    {**RELOAD, "rsid": "examplecorp.shop.prod"},
    {**RELOAD, "rsid": "examplecorp.app.ios"},
    RELOAD,
    SWITCH,
    RELOAD,
]
#: Adobe's limit, which the stand-in keeps by default.
RATE_CALLS, RATE_SECONDS = 12, 6.0


class DashboardError(RuntimeError):
    """The dashboard did not show what it must (a chart, a 200)."""


class AnalyticsCount:
    """WSGI middleware for the stand-in: Analytics calls received, and how many were refused with 429."""

    def __init__(self, wsgi_app: Any) -> None:
        self.wsgi_app = wsgi_app
        self.calls = 0
        self.refused = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path != "/discovery/me" and not path.startswith("/api/"):
            return self.wsgi_app(environ, start_response)
        with self._lock:
            self.calls += 1

        def counting(status: str, headers: Any, exc_info: Any = None) -> Any:
            if status.startswith("429"):
                with self._lock:
                    self.refused += 1
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, counting)

    def take(self) -> tuple[int, int]:
        """(calls, 429s) since the last take."""
        with self._lock:
            counts = self.calls, self.refused
            self.calls = self.refused = 0
        return counts


@dataclass
class Views:
    """Per kind of view ("cold", "reload", "switch"): seconds, and Analytics calls."""

    seconds: dict[str, list[float]] = field(default_factory=dict)
    calls: dict[str, list[int]] = field(default_factory=dict)
    #: The ten views: 429s at the stand-in, Analytics calls, pages answered 429, seconds taken.
    burst_refused: int = 0
    burst_calls: int = 0
    burst_pages_429: int = 0
    burst_seconds: float = 0.0

    def add(self, kind: str, seconds: float, calls: int) -> None:
        self.seconds.setdefault(kind, []).append(seconds)
        self.calls.setdefault(kind, []).append(calls)

    def round_trips(self, kind: str) -> list[float]:
        return [s / DELAY for s in self.seconds[kind]]


def _view(client: Any, query: dict[str, str], *, strict: bool = True) -> tuple[float, int]:
    started = time.perf_counter()
    response = client.get("/dashboard", query_string=query)
    seconds = time.perf_counter() - started
    if strict and (response.status_code != 200 or b'id="chart"' not in response.data):
        raise DashboardError(f"/dashboard answered {response.status_code}: {response.data[-300:]!r}")
    return seconds, response.status_code


def _signed_in(app: Flask, user: str) -> Any:
    client = app.test_client()
    login_as(client, user_id=f"{user}@AdobeID")
    return client


def measure(app: Flask, count: AnalyticsCount, reps: int, warmup: int, tag: str) -> Views:
    views = Views()
    for rep in range(warmup + reps):
        client = _signed_in(app, f"{tag}-{rep}")
        count.take()
        for kind, query in (("cold", RELOAD), ("reload", RELOAD), ("switch", SWITCH)):
            seconds, _ = _view(client, query)
            calls, _ = count.take()
            if rep >= warmup:
                views.add(kind, seconds, calls)
    client = _signed_in(app, f"{tag}-burst")
    count.take()
    started = time.perf_counter()
    statuses = [_view(client, query, strict=False)[1] for query in CLICKS]
    views.burst_seconds = time.perf_counter() - started
    views.burst_calls, views.burst_refused = count.take()
    views.burst_pages_429 = statuses.count(429)
    if any(s not in (200, 429) for s in statuses):
        raise DashboardError(f"the ten views answered {statuses}")
    return views


def dashboard_views(reps: int, warmup: int = 1, uncached_reps: int = 1) -> tuple[Views, Views, Views]:
    """The demo as shipped; the same with ``DASHBOARD_CACHE_SECONDS=0``, where
    our limiter (``api_rate_limit``) makes calls past Adobe's rate wait; and
    with neither, where Adobe answers 429 (for comparison)."""
    with StandInAdobe(keep_alive=True) as standin:
        if standin.analytics.rate_limit != (RATE_CALLS, RATE_SECONDS):
            raise DashboardError(f"the stand-in's rate limit is {standin.analytics.rate_limit}, not Adobe's")
        count = AnalyticsCount(standin.app.wsgi_app)
        standin.app.wsgi_app = count
        standin.slow_down(DELAY, endpoints=["api", "userinfo"])
        config = {**standin.config(), "SECRET_KEY": SECRET_KEY}
        cached = measure(create_app(config), count, reps, warmup, "cached")
        uncached = measure(
            create_app({**config, "DASHBOARD_CACHE_SECONDS": 0}), count, uncached_reps, warmup, "uncached"
        )
        unlimited = measure(
            create_app({**config, "DASHBOARD_CACHE_SECONDS": 0, "ADOBE_OAUTH_API_RATE_LIMIT": False}),
            count,
            uncached_reps,
            warmup,
            "unlimited",
        )
    return cached, uncached, unlimited
