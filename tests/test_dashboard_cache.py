"""The demo dashboard against a slow, rate-limited Adobe: what it caches per
user, what it asks Adobe on each view, and what it asks at once.

Every call is counted where Adobe would count it: at the stand-in, by a WSGI
middleware around its app. Nothing here measures time: the rate limit's
clock is frozen where it matters, and concurrency is shown by the order in
which calls start and end.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from cachelib import BaseCache, FileSystemCache
from flask import Flask
from flask.testing import FlaskClient

from example_app import CACHE_KEY, DashboardCache, create_app
from flask_adobe_oauth.testing import StandInAdobe, login_as
from flask_adobe_oauth.testing.analytics import DEFAULT_COMPANIES, daily_page_views

from .helpers import one_clock
from .redis_fixture import _redis_client_fixture, _redis_url_fixture

__all__ = ["_redis_client_fixture", "_redis_url_fixture"]

SECRET_KEY = "test-secret-key-not-for-production"
EXAMPLE, ACME = DEFAULT_COMPANIES
WEB = EXAMPLE.suites[0]
WEEK = {"from": "2026-01-05", "to": "2026-01-11"}
RELOAD = {"company": EXAMPLE.global_company_id, "rsid": WEB.rsid, **WEEK}
RANGE_SWITCH = {"company": EXAMPLE.global_company_id, "rsid": WEB.rsid, "days": "7"}

USERINFO = "/ims/userinfo/v2"
DISCOVERY = "/discovery/me"
SUITES = f"/api/{EXAMPLE.global_company_id}/reportsuites/collections/suites"
REPORT = f"/api/{EXAMPLE.global_company_id}/reports"
BOB = "B0B0B0B0B0B0B0B0B0B0B0B0@AdobeID"


class Calls:
    """WSGI middleware around the stand-in: each call's start and end, path and status."""

    def __init__(self, standin: StandInAdobe) -> None:
        self.inner = standin.app.wsgi_app
        self.events: list[tuple[str, str]] = []  # ("start" | "end", path)
        self.statuses: list[tuple[str, int]] = []
        self.hold: dict[str, threading.Event] = {}  # path -> answer only once this is set
        self.held_too_long: list[str] = []
        self.lock = threading.Lock()
        standin.app.wsgi_app = self

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ["PATH_INFO"]
        with self.lock:
            self.events.append(("start", path))
            release = self.hold.get(path)
        if release is not None and not release.wait(10):
            self.held_too_long.append(path)

        def recording(status: str, headers: Any, exc_info: Any = None) -> Any:
            with self.lock:
                self.statuses.append((path, int(status.split()[0])))
            return start_response(status, headers, exc_info)

        try:
            return self.inner(environ, recording)
        finally:
            with self.lock:
                self.events.append(("end", path))

    def started(self) -> list[str]:
        with self.lock:
            return [path for what, path in self.events if what == "start"]

    def analytics(self) -> list[str]:
        """The Analytics 2.0 calls started, in order (what Adobe's rate limit counts)."""
        return [p for p in self.started() if p == DISCOVERY or p.startswith("/api/")]

    def userinfo(self) -> int:
        return self.started().count(USERINFO)

    def clear(self) -> None:
        with self.lock:
            self.events.clear()
            self.statuses.clear()


@pytest.fixture
def calls(standin: StandInAdobe) -> Calls:
    return Calls(standin)


@pytest.fixture
def demo(standin: StandInAdobe) -> Flask:
    return make_demo(standin)


def make_demo(standin: StandInAdobe, **config: Any) -> Flask:
    # Members of the stand-in's organisation only: the company-wide (service) view needs it.
    members = {"ADOBE_OAUTH_ALLOWED_ORGS": standin.state.user.org_id}
    return create_app({**standin.config(), "SECRET_KEY": SECRET_KEY, "TESTING": True, **members, **config})


def signed_in(app: Flask, standin: StandInAdobe) -> FlaskClient:
    """A client of ``app`` after a whole login at the stand-in, as its user."""
    client = app.test_client()
    assert standin.sign_in(client, next_url="/dashboard").status_code == 302
    return client


def as_user(app: Flask, user_id: str) -> FlaskClient:
    """A client of ``app`` holding a token of another user (no login signal sent)."""
    client = app.test_client()
    login_as(client, user_id=user_id)
    return client


def view(client: FlaskClient, query: dict[str, str]) -> str:
    response = client.get("/dashboard", query_string=query)
    assert response.status_code == 200, response.get_data(as_text=True)[-600:]
    return str(response.get_data(as_text=True))


def company_names(page: str) -> list[str]:
    return re.findall(r'<option value="[^"]+"(?: selected)?>([^<]+)</option>', page)


def frozen_rate_limit(standin: StandInAdobe) -> None:
    """Every Analytics call from now on counts in one and the same 6-second window."""
    standin.analytics.clock = lambda: 1_000_000.0


# -- what each view asks Adobe ------------------------------------------------------------------


def test_a_cold_view_asks_discovery_suites_and_report_and_later_views_only_the_report(
    demo: Flask, standin: StandInAdobe, calls: Calls
) -> None:
    client = signed_in(demo, standin)
    calls.clear()
    page = view(client, RELOAD)
    assert calls.analytics() == [DISCOVERY, SUITES, REPORT]
    assert calls.userinfo() == 1
    assert standin.state.user.name in page and 'id="chart"' in page

    calls.clear()
    page = view(client, RELOAD)  # a reload
    assert calls.analytics() == [REPORT]
    assert calls.userinfo() == 0  # the profile is cached too
    assert standin.state.user.name in page and standin.state.user.email in page

    calls.clear()
    page = view(client, RANGE_SWITCH)  # a click on "7 days"
    assert calls.analytics() == [REPORT]
    assert calls.userinfo() == 0
    # One title a day in each drawing: the desktop's and the phone's.
    assert len(re.findall(r"<title>[^<]+ page views</title>", page)) == 2 * 7
    assert re.findall(r'data-rsid="([^"]+)"', page) == [s.rsid for s in EXAMPLE.suites]

    calls.clear()
    view(client, {**RELOAD, "rsid": EXAMPLE.suites[3].rsid})  # another suite of the company
    assert calls.analytics() == [REPORT]

    calls.clear()
    page = view(client, {"company": ACME.global_company_id, **WEEK})  # another company: its suites once
    acme = f"/api/{ACME.global_company_id}"
    assert calls.analytics() == [f"{acme}/reportsuites/collections/suites", f"{acme}/reports"]
    assert re.findall(r'data-rsid="([^"]+)"', page) == [s.rsid for s in ACME.suites]
    calls.clear()
    view(client, {"company": ACME.global_company_id, "days": "30"})
    assert calls.analytics() == [f"{acme}/reports"]


def test_the_report_is_always_asked_for_and_its_numbers_are_the_ranges(
    demo: Flask, standin: StandInAdobe
) -> None:
    client = signed_in(demo, standin)
    view(client, RELOAD)
    page = view(client, {**RELOAD, "from": "2026-02-01", "to": "2026-02-03"})
    total = sum(daily_page_views(WEB, date(2026, 2, d)) for d in (1, 2, 3))
    assert f'id="total">{total:,}<' in page


# -- per user -------------------------------------------------------------------------------------


def test_two_users_never_see_each_others_cached_profile_or_lists(
    demo: Flask, standin: StandInAdobe, calls: Calls
) -> None:
    ada = signed_in(demo, standin)
    page = view(ada, WEEK)
    assert company_names(page) == ["Example Corp", "Acme Outdoor"]

    # Bob's Adobe answers with other lists: one company, of another name.
    bob_discovery = {
        "imsUserId": BOB,
        "imsOrgs": [
            {
                "imsOrgId": "B0B@AdobeOrg",
                "companies": [{"globalCompanyId": EXAMPLE.global_company_id, "companyName": "Bob Corp"}],
            }
        ],
    }
    body = json.dumps(bob_discovery)
    standin.fail_calls(200, 1, body=body, content_type="application/json", endpoints=["api"])
    bob = as_user(demo, BOB)
    calls.clear()
    page = view(bob, WEEK)
    assert calls.analytics() == [DISCOVERY, SUITES, REPORT]  # nothing of Ada's was used
    assert calls.userinfo() == 1
    assert company_names(page) == ["Bob Corp"]
    assert "Test User B0B0B0B0B0B0B0B0B0B0B0B0" in page and standin.state.user.name not in page

    calls.clear()
    ada_page, bob_page = view(ada, WEEK), view(bob, WEEK)
    assert calls.analytics() == [REPORT, REPORT]  # both from their own cache
    assert company_names(ada_page) == ["Example Corp", "Acme Outdoor"]
    assert standin.state.user.name in ada_page and "Test User B0B0" not in ada_page
    assert company_names(bob_page) == ["Bob Corp"]
    assert "Test User B0B0" in bob_page and standin.state.user.name not in bob_page


def test_a_token_without_a_user_id_caches_nothing(demo: Flask, calls: Calls) -> None:
    client = demo.test_client()
    login_as(client, user_id="")
    view(client, WEEK)
    calls.clear()
    view(client, WEEK)
    assert calls.analytics() == [DISCOVERY, SUITES, REPORT]


def test_sign_out_forgets_the_users_entries_and_only_theirs(
    demo: Flask, standin: StandInAdobe, calls: Calls
) -> None:
    cache: DashboardCache = demo.extensions[CACHE_KEY]
    ada = signed_in(demo, standin)
    bob = as_user(demo, BOB)
    view(ada, WEEK)
    view(bob, WEEK)
    ada_key, bob_key = cache.key(f"user:{standin.state.user.sub}"), cache.key(f"user:{BOB}")
    assert cache.backend.get(ada_key) is not None and cache.backend.get(bob_key) is not None

    assert ada.post("/adobe/logout").status_code == 303
    assert cache.backend.get(ada_key) is None
    assert cache.backend.get(bob_key) is not None
    calls.clear()
    view(bob, WEEK)
    assert calls.analytics() == [REPORT]  # Bob's lists are still his

    # Ada back with a token put in place directly (no login signal): the sign-out alone emptied her cache.
    login_as(ada)
    calls.clear()
    view(ada, WEEK)
    assert calls.analytics() == [DISCOVERY, SUITES, REPORT]
    assert calls.userinfo() == 1


def test_a_refused_cross_site_sign_out_forgets_nothing(demo: Flask, standin: StandInAdobe) -> None:
    cache: DashboardCache = demo.extensions[CACHE_KEY]
    ada = signed_in(demo, standin)
    view(ada, WEEK)
    response = ada.post("/adobe/logout", headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert cache.backend.get(cache.key(f"user:{standin.state.user.sub}")) is not None


def test_signing_in_again_starts_from_adobes_current_lists(
    demo: Flask, standin: StandInAdobe, calls: Calls
) -> None:
    client = signed_in(demo, standin)
    view(client, WEEK)
    assert standin.sign_in(client, next_url="/dashboard").status_code == 302
    calls.clear()
    view(client, WEEK)
    assert calls.analytics() == [DISCOVERY, SUITES, REPORT]


def test_entries_last_dashboard_cache_seconds(standin: StandInAdobe, calls: Calls) -> None:
    app = make_demo(standin, DASHBOARD_CACHE_SECONDS=60)
    cache: DashboardCache = app.extensions[CACHE_KEY]
    now = [1_800_000_000.0]
    cache.clock = lambda: now[0]
    client = signed_in(app, standin)
    view(client, WEEK)
    now[0] += 59
    calls.clear()
    view(client, WEEK)
    assert calls.analytics() == [REPORT] and calls.userinfo() == 0
    now[0] += 2  # 61 s after they were fetched
    calls.clear()
    view(client, WEEK)
    assert calls.analytics() == [DISCOVERY, SUITES, REPORT] and calls.userinfo() == 1


# -- Adobe's rate limit -----------------------------------------------------------------------------


def test_ten_views_in_one_rate_limit_window_get_no_429(
    demo: Flask, standin: StandInAdobe, calls: Calls
) -> None:
    assert standin.analytics.rate_limit == (12, 6.0)  # the stand-in's default: Adobe's
    frozen_rate_limit(standin)
    client = signed_in(demo, standin)
    clicks = [WEEK, RELOAD, RELOAD, RANGE_SWITCH, RELOAD, {**RANGE_SWITCH, "days": "30"}]
    clicks += [{**RELOAD, "rsid": s.rsid} for s in EXAMPLE.suites[1:4]] + [RELOAD]
    assert len(clicks) == 10
    for query in clicks:
        view(client, query)
    assert len(calls.analytics()) == 12  # 3 for the first view, 1 for each of the 9 others
    assert [status for _, status in calls.statuses if status == 429] == []


def test_without_the_cache_the_fifth_view_is_refused(standin: StandInAdobe, calls: Calls) -> None:
    """What the cache buys: uncached, each view costs 3 calls, and 12 are allowed
    (our own limiter off, so Adobe's 429 is what the fifth view meets)."""
    frozen_rate_limit(standin)
    app = make_demo(standin, DASHBOARD_CACHE_SECONDS=0, ADOBE_OAUTH_API_RATE_LIMIT="off")
    client = signed_in(app, standin)
    answers = [client.get("/dashboard", query_string=RELOAD).status_code for _ in range(5)]
    assert answers == [200, 200, 200, 200, 429]
    assert calls.analytics().count(DISCOVERY) == 5 and calls.userinfo() == 5


def test_without_the_cache_our_limiter_makes_the_fifth_view_wait_instead(
    standin: StandInAdobe, calls: Calls, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``api_rate_limit`` on (the IMS preset's 12 per 6 s), the 13th call
    waits for its turn: the fifth view is slower, not refused, and Adobe never
    answers 429."""
    clock = one_clock(standin, monkeypatch)
    client = signed_in(make_demo(standin, DASHBOARD_CACHE_SECONDS=0), standin)
    answers = [client.get("/dashboard", query_string=RELOAD).status_code for _ in range(5)]
    assert answers == [200] * 5
    assert [status for _, status in calls.statuses if status == 429] == []
    assert len(clock.waits) == 1 and clock.waits[0] == pytest.approx(6.25)
    assert calls.analytics().count(DISCOVERY) == 5


def test_a_429_from_userinfo_leaves_the_report_shown(
    demo: Flask, standin: StandInAdobe, calls: Calls
) -> None:
    client = signed_in(demo, standin)  # (the sign-in reads the profile: the fault comes after it)
    standin.fail_calls(
        429,
        1,
        body="{}",
        content_type="application/json",
        headers={"Retry-After": "9"},
        endpoints=["userinfo"],
    )
    response = client.get("/dashboard", query_string=WEEK)
    page = str(response.get_data(as_text=True))
    assert response.status_code == 429 and response.headers["Retry-After"] == "9"
    assert "Could not read your Adobe profile: Adobe is rate-limiting requests right now" in page
    assert standin.state.user.sub in page  # from the token
    assert 'id="chart"' in page  # IMS's limit is not Analytics': the report was still asked for
    calls.clear()
    page = view(client, WEEK)
    assert calls.userinfo() == 1  # a profile that failed is not cached
    assert calls.analytics() == [REPORT]
    assert standin.state.user.name in page


# -- at once ----------------------------------------------------------------------------------------


def test_the_profile_is_read_while_the_analytics_calls_run(
    demo: Flask, standin: StandInAdobe, calls: Calls
) -> None:
    """userinfo is answered only once the report call has arrived: a dashboard
    making its calls one after another would never get there (the hold gives
    up after 10 s, and the test fails on it), and one asking the profile after
    the report would start userinfo after the report ended."""
    client = signed_in(demo, standin)
    report_arrived = threading.Event()
    calls.hold[USERINFO] = report_arrived
    inner = calls.inner

    def report_arrives(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ["PATH_INFO"] == REPORT:
            report_arrived.set()
        return inner(environ, start_response)

    calls.inner = report_arrives
    calls.clear()
    try:
        page = view(client, WEEK)
    finally:
        report_arrived.set()  # never leave a stand-in thread waiting
    assert calls.held_too_long == []
    events = calls.events
    assert events.index(("start", USERINFO)) < events.index(("start", REPORT))
    assert events.index(("start", DISCOVERY)) < events.index(("end", USERINFO))
    assert events.index(("start", REPORT)) < events.index(("end", USERINFO))
    assert standin.state.user.name in page and 'id="chart"' in page


def test_a_refresh_forced_on_both_threads_happens_once(
    demo: Flask, standin: StandInAdobe, calls: Calls
) -> None:
    """Adobe ending the token early: userinfo and discovery both get a 401 at
    once, and the refresh token (rotated at each use) is used once."""
    client = signed_in(demo, standin)
    standin.expire_access_tokens()
    page = view(client, WEEK)
    assert [c.grant_type for c in standin.token_calls()] == ["authorization_code", "refresh_token"]
    assert standin.state.user.name in page and 'id="chart"' in page
    calls.clear()
    view(client, WEEK)
    assert calls.analytics() == [REPORT]


# -- the service account -------------------------------------------------------------------------------


def test_the_service_accounts_lists_are_cached_apart_from_the_users(
    demo: Flask, standin: StandInAdobe, calls: Calls
) -> None:
    ada = signed_in(demo, standin)
    service = {**WEEK, "source": "service"}
    view(ada, WEEK)
    calls.clear()
    page = view(ada, service)
    assert calls.analytics() == [DISCOVERY, SUITES, REPORT]  # not the user's lists
    assert calls.userinfo() == 0  # the profile is still the user's, cached
    assert "<strong>the company's service account</strong>" in page and standin.state.user.name in page
    calls.clear()
    view(ada, service)
    view(ada, WEEK)
    assert calls.analytics() == [REPORT, REPORT]
    # The company's lists are the same for every user who may look: Bob reuses them, with his own profile.
    bob = as_user(demo, BOB)
    calls.clear()
    page = view(bob, service)
    assert calls.analytics() == [REPORT] and calls.userinfo() == 1
    assert "Test User B0B0" in page and standin.state.user.name not in page
    # Ada's sign-out is hers: the service account's lists stay.
    assert ada.post("/adobe/logout").status_code == 303
    calls.clear()
    view(bob, service)
    assert calls.analytics() == [REPORT]
    assert standin.service_token_mints() == 1


# -- where the cache lives -----------------------------------------------------------------------------


def test_processes_share_one_redis_cache(
    standin: StandInAdobe, calls: Calls, redis_url: str, redis_client: redis.Redis
) -> None:
    """Two apps (two gunicorn workers, say) on one DASHBOARD_CACHE_REDIS_URL."""
    first, second = (make_demo(standin, DASHBOARD_CACHE_REDIS_URL=redis_url) for _ in range(2))
    ada = signed_in(first, standin)
    view(ada, WEEK)
    keys = redis_client.keys("example_app:*")
    assert len(keys) == 1 and 0 < redis_client.ttl(keys[0]) <= 300
    elsewhere = as_user(second, standin.state.user.sub)  # the same user, served by the other worker
    calls.clear()
    page = view(elsewhere, WEEK)
    assert calls.analytics() == [REPORT] and calls.userinfo() == 0
    assert standin.state.user.name in page
    assert elsewhere.post("/adobe/logout").status_code == 303  # forgotten for every worker
    assert redis_client.keys("example_app:*") == []
    login_as(ada)
    calls.clear()
    view(ada, WEEK)
    assert calls.analytics() == [DISCOVERY, SUITES, REPORT]


def test_any_cachelib_cache_can_be_given(standin: StandInAdobe, calls: Calls, tmp_path: Path) -> None:
    shared = FileSystemCache(str(tmp_path))
    first, second = (make_demo(standin, DASHBOARD_CACHE=shared) for _ in range(2))
    view(signed_in(first, standin), WEEK)
    calls.clear()
    view(as_user(second, standin.state.user.sub), WEEK)
    assert calls.analytics() == [REPORT]
    with pytest.raises(TypeError, match="cachelib"):
        make_demo(standin, DASHBOARD_CACHE={})


class BrokenCache(BaseCache):
    def get(self, key: str) -> Any:
        raise ConnectionError("the cache is down")

    def set(self, key: str, value: Any, timeout: int | timedelta | None = None) -> bool | None:
        raise ConnectionError("the cache is down")

    def delete(self, key: str) -> bool:
        raise ConnectionError("the cache is down")


def test_a_cache_outage_costs_calls_not_the_page(standin: StandInAdobe, calls: Calls) -> None:
    client = signed_in(make_demo(standin, DASHBOARD_CACHE=BrokenCache()), standin)
    for _ in range(2):
        calls.clear()
        page = view(client, WEEK)
        assert calls.analytics() == [DISCOVERY, SUITES, REPORT]
        assert standin.state.user.name in page
    assert client.post("/adobe/logout").status_code == 303
