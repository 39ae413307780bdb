"""The demo dashboard through a real login against the stand-in Adobe."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.datastructures import MultiDict

from example_app import create_app, parse_range, suite_table
from example_app.__main__ import demo_config
from example_app.chart import ASCENT_EM, DESCENT_EM, NARROW, WIDE, line_chart, text_width
from flask_adobe_oauth.analytics import DayCount, PageViewsByDay, ReportSuite
from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.analytics import DEFAULT_COMPANIES, Company, Suite, daily_page_views
from flask_adobe_oauth.testing.live import free_port

from .helpers import SECRET_KEY, login, one_clock, stored_token

EXAMPLE, ACME = DEFAULT_COMPANIES
WEB = EXAMPLE.suites[0]
WEEK = {"from": "2026-01-05", "to": "2026-01-11"}
WEEK_DAYS = [date(2026, 1, d) for d in range(5, 12)]


@pytest.fixture
def demo(standin: StandInAdobe) -> Flask:
    return create_app({**standin.config(), "SECRET_KEY": SECRET_KEY, "TESTING": True})


@pytest.fixture
def signed_in(demo: Flask) -> FlaskClient:
    client = demo.test_client()
    response = login(client, next_url="/dashboard")
    assert (response.status_code, response.headers["Location"]) == (302, "/dashboard")
    return client


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def drawing(page: str, svg_id: str) -> str:
    """One of the chart's two drawings (desktop ``chart``, phone ``chart-narrow``) in ``page``."""
    found = re.search(rf'<svg class="chart" id="{svg_id}" .*?</svg>', page, re.S)
    assert found is not None, f"no svg#{svg_id}"
    return found.group(0)


def test_landing_page_offers_sign_in_with_adobe(demo: Flask) -> None:
    response = demo.test_client().get("/")
    assert response.status_code == 200
    page = text(response)
    assert "Sign in with Adobe" in page
    assert 'href="/adobe/login?next=/dashboard"' in page
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_dashboard_without_login_redirects_to_adobe_login(demo: Flask) -> None:
    response = demo.test_client().get("/dashboard?rsid=x")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/adobe/login?next=")


def test_dashboard_shows_profile_companies_suites_and_chart(
    signed_in: FlaskClient, standin: StandInAdobe
) -> None:
    response = signed_in.get("/dashboard", query_string=WEEK)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = text(response)
    user = standin.state.user
    assert user.name in page and user.email in page and user.sub in page
    assert '<option value="exampl0" selected>Example Corp</option>' in page
    assert '<option value="acmeout1">Acme Outdoor</option>' in page
    assert re.findall(r'data-rsid="([^"]+)"', page) == [s.rsid for s in EXAMPLE.suites]
    assert f'<tr class="selected" data-rsid="{WEB.rsid}">' in page
    titles = re.findall(r"<title>([^<]+ page views)</title>", drawing(page, "chart"))
    assert re.findall(r"<title>([^<]+ page views)</title>", drawing(page, "chart-narrow")) == titles
    expected = [daily_page_views(WEB, d) for d in WEEK_DAYS]
    assert [int(t.rsplit(": ", 1)[1].split()[0].replace(",", "")) for t in titles] == expected
    assert titles[0].startswith("Mon, Jan 5, 2026")
    assert f'id="total">{sum(expected):,}<' in page
    assert 'class="series" d="M' in page


def test_dashboard_lists_suites_from_every_page(standin: StandInAdobe) -> None:
    app = create_app({**standin.config(), "SECRET_KEY": SECRET_KEY, "DASHBOARD_SUITES_PAGE_SIZE": 4})
    client = app.test_client()
    login(client)
    page = text(client.get("/dashboard", query_string=WEEK))
    assert re.findall(r'data-rsid="([^"]+)"', page) == [s.rsid for s in EXAMPLE.suites]


def test_choosing_a_company_and_a_suite(signed_in: FlaskClient) -> None:
    page = text(signed_in.get("/dashboard", query_string={"company": "acmeout1", **WEEK}))
    assert re.findall(r'data-rsid="([^"]+)"', page) == [s.rsid for s in ACME.suites]
    assert '<option value="acmeout1" selected>' in page
    suite = ACME.suites[2]
    page = text(signed_in.get("/dashboard", query_string={"company": "acmeout1", "rsid": suite.rsid, **WEEK}))
    assert f'<tr class="selected" data-rsid="{suite.rsid}">' in page
    assert f'<span id="suite-name">{suite.name}</span>' in page
    assert f'id="total">{sum(daily_page_views(suite, d) for d in WEEK_DAYS):,}<' in page
    # links in the suite table keep the company and the date range
    assert (
        f"/dashboard?company=acmeout1&amp;rsid={ACME.suites[0].rsid}&amp;from=2026-01-05&amp;to=2026-01-11"
        in page
    )


def test_unknown_company_or_suite_falls_back_to_the_first(signed_in: FlaskClient) -> None:
    page = text(signed_in.get("/dashboard", query_string={"company": "nope", "rsid": "nope", **WEEK}))
    assert '<option value="exampl0" selected>' in page
    assert f'<tr class="selected" data-rsid="{WEB.rsid}">' in page


def test_date_range_presets_and_refusals() -> None:
    yesterday = datetime.now(timezone.utc).date() - timedelta(days=1)
    start, end, note = parse_range(MultiDict({"days": "7"}))
    assert (start, end, note) == (yesterday - timedelta(days=6), yesterday, None)
    assert parse_range(MultiDict(WEEK)) == (date(2026, 1, 5), date(2026, 1, 11), None)
    for bad in (
        {"from": "2026-02-01", "to": "2026-01-01"},
        {"from": "x", "to": "y"},
        {"from": "2020-01-01", "to": "2026-01-01"},
    ):
        start, end, note = parse_range(MultiDict(bad))
        assert note is not None
        assert (end - start).days == 29


def test_a_long_range_draws_a_point_per_day(signed_in: FlaskClient) -> None:
    page = text(signed_in.get("/dashboard", query_string={"from": "2026-01-01", "to": "2026-03-31"}))
    for svg in ("chart", "chart-narrow"):
        assert len(re.findall(r"<title>[^<]+ page views</title>", drawing(page, svg))) == 90
    assert '<a href="/dashboard?company=exampl0&amp;rsid=examplecorp.web.prod&amp;days=90" class="">' in page


# -- the chart's two drawings (chart.py); tests/test_phone.py measures them in Chromium ----


def series_of(days: int, peak: int) -> PageViewsByDay:
    start = date(2026, 1, 1)
    counts = tuple(DayCount(start + timedelta(n), peak * (n % 7 + 1) // 7) for n in range(days))
    end = start + timedelta(days - 1)
    return PageViewsByDay("rs", start, end, counts, sum(c.page_views for c in counts))


def test_the_chart_is_drawn_for_a_desktop_and_for_a_phone() -> None:
    chart = line_chart(series_of(30, 18_432))
    assert (chart.width, chart.font) == (WIDE.width, WIDE.font)
    assert chart.narrow is not None and chart.narrow.narrow is None
    assert (chart.narrow.width, chart.narrow.font) == (NARROW.width, NARROW.font)
    for c in (chart, chart.narrow):
        assert len(c.points) == 30 and all(
            c.left < p.x < c.right and c.top <= p.y <= c.bottom for p in c.points
        )
        assert [t.label for t in c.y_ticks] == ["0", "5k", "10k", "15k", "20k"]
    assert len(chart.narrow.x_ticks) < len(chart.x_ticks) <= 8  # fewer dates where fewer fit


@pytest.mark.parametrize("days", [1, 2, 7, 30, 31, 90, 365])
@pytest.mark.parametrize("peak", [0, 9, 18_432, 2_500_000, 7_777_777_777])
def test_the_charts_labels_leave_room_for_each_other(days: int, peak: int) -> None:
    """By the chart's own (wide-erring) estimate of text widths: the rotated
    title clear of the y labels, the "0" above the dates, dates apart and inside."""
    wide = line_chart(series_of(days, peak))
    assert wide.narrow is not None
    for c in (wide, wide.narrow):
        line = (ASCENT_EM + DESCENT_EM) * c.font
        assert c.y_title_at - ASCENT_EM * c.font >= 0
        assert c.y_title_at + DESCENT_EM * c.font < min(
            c.tick_x - text_width(t.label, c.font) for t in c.y_ticks
        )
        assert c.tick_x < c.left
        zero, top = c.y_ticks[0], c.y_ticks[-1]
        assert zero.label == "0" and top.at + c.tick_dy - ASCENT_EM * c.font >= 0
        assert zero.at + c.tick_dy + DESCENT_EM * c.font < c.x_label_y - ASCENT_EM * c.font
        assert c.x_label_y - ASCENT_EM * c.font + line <= c.height
        assert c.x_ticks and c.x_ticks[0].at == c.points[0].x
        widest = max(text_width(t.label, c.font) for t in c.x_ticks)
        assert all(b.at - a.at >= widest + c.font - 0.1 for a, b in pairwise(c.x_ticks))  # x rounded to 0.1
        assert all(t.at - text_width(t.label, c.font) / 2 >= 0 for t in c.x_ticks)
        assert all(t.at + text_width(t.label, c.font) / 2 <= c.width for t in c.x_ticks)


def test_rate_limiting_is_shown_not_crashed(
    signed_in: FlaskClient, standin: StandInAdobe, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = one_clock(standin, monkeypatch)
    # The first Analytics call (discovery) gets the 429; userinfo runs beside it, unharmed.
    standin.fail_calls(
        429, 1, body="{}", content_type="application/json", headers={"Retry-After": "30"}, endpoints=["api"]
    )
    response = signed_in.get("/dashboard", query_string=WEEK)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    assert "rate-limiting requests right now. Try again in 30 seconds" in text(response)
    assert standin.state.user.sub in text(response)  # who is signed in, from the token
    assert "data-rsid" not in text(response)  # no further calls after a 429
    # Within the 30 s Adobe asked for, the next view does not call Adobe at all
    # (api_rate_limit holds the user's calls back; longer than api_rate_wait).
    held = signed_in.get("/dashboard", query_string=WEEK)
    assert held.status_code == 429 and held.headers["Retry-After"] == "30"
    clock.now += 30
    assert signed_in.get("/dashboard", query_string=WEEK).status_code == 200


def test_an_adobe_failure_is_a_502_page_with_the_profile(
    signed_in: FlaskClient, standin: StandInAdobe
) -> None:
    # userinfo gets the 500 (it runs beside the Analytics calls: aimed at it alone)
    body = '{"errorCode":"server_error"}'
    standin.fail_calls(500, 1, body=body, content_type="application/json", endpoints=["userinfo"])
    response = signed_in.get("/dashboard", query_string=WEEK)
    assert response.status_code == 502
    page = text(response)
    assert 'id="problem"' in page and "HTTP 500" in page
    # what did work is still shown
    assert re.findall(r'data-rsid="([^"]+)"', page) == [s.rsid for s in EXAMPLE.suites]
    assert standin.state.user.sub in page
    signed_in.application.extensions["example_app.cache"].clear()  # so the next load asks discovery
    standin.fail_calls(503, 1, body="down", endpoints=["api"])  # userinfo fine, discovery fails
    response = signed_in.get("/dashboard", query_string=WEEK)
    assert response.status_code == 502
    assert "Adobe could not answer: Adobe answered HTTP 503" in text(response)
    assert "data-rsid" not in text(response)


def test_adobe_unreachable_is_a_502_page_not_a_crash(signed_in: FlaskClient, standin: StandInAdobe) -> None:
    standin.stop()
    response = signed_in.get("/dashboard", query_string=WEEK)
    assert response.status_code == 502
    assert "could not connect to" in text(response)
    assert standin.state.user.sub in text(response)


def test_a_token_the_server_expired_is_refreshed(signed_in: FlaskClient, standin: StandInAdobe) -> None:
    standin.expire_access_tokens()
    response = signed_in.get("/dashboard", query_string=WEEK)
    assert response.status_code == 200
    assert [c.grant_type for c in standin.token_calls()] == ["authorization_code", "refresh_token"]


def test_logout_revokes_and_the_dashboard_asks_for_login_again(
    signed_in: FlaskClient, standin: StandInAdobe
) -> None:
    page = text(signed_in.get("/dashboard", query_string=WEEK))
    assert '<form method="post" action="/adobe/logout">' in page
    access = stored_token(signed_in)["a"]
    response = signed_in.post("/adobe/logout")
    assert response.status_code == 303
    assert not standin.is_valid_access_token(access)  # its refresh token was revoked
    assert signed_in.get("/dashboard").status_code == 302
    assert "Sign in with Adobe" in text(signed_in.get("/"))


def test_demo_config_without_credentials_starts_the_standin() -> None:
    config, standin, notes = demo_config({})
    try:
        assert standin is not None
        assert config["ADOBE_OAUTH_CLIENT_ID"] == standin.client_id
        assert config["ADOBE_OAUTH_TOKEN_URL"].startswith(standin.url + "/")
        assert config["DEMO_STANDIN_URL"] == standin.url
        assert len(config["SECRET_KEY"]) >= 32
        assert any(standin.url in n for n in notes) and any("SECRET_KEY" in n for n in notes)
    finally:
        if standin is not None:
            standin.stop()


def test_demo_config_with_credentials_talks_to_adobe() -> None:
    env = {
        "ADOBE_OAUTH_CLIENT_ID": "cid",
        "ADOBE_OAUTH_CLIENT_SECRET": "sec",
        "SECRET_KEY": "k" * 32,
        "HOME": "/x",
    }
    config, standin, _notes = demo_config(env)
    assert standin is None
    assert config == {
        "ADOBE_OAUTH_CLIENT_ID": "cid",
        "ADOBE_OAUTH_CLIENT_SECRET": "sec",
        "SECRET_KEY": "k" * 32,
    }
    app = create_app(config)
    assert "DEMO_STANDIN_URL" not in app.config
    assert "Demo mode" not in text(app.test_client().get("/"))


def read_until_open(demo: subprocess.Popen[str]) -> str:
    """What ``python -m example_app`` printed up to its "Open http..." line."""
    assert demo.stdout is not None
    printed = []
    for line in demo.stdout:
        printed.append(line)
        if "Open http" in line:
            break
    return "".join(printed)


def test_python_m_example_app_runs_the_demo_against_the_standin() -> None:
    """The README's demo command, for real: a process serving the dashboard, a stand-in beside it."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADOBE_OAUTH_") and k != "SECRET_KEY"}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    demo = subprocess.Popen(
        [sys.executable, "-m", "example_app", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        said = read_until_open(demo)
        assert "started a stand-in Adobe" in said and "using a random one" in said
        assert f"Open http://127.0.0.1:{port}/" in said
        browser = requests.Session()
        browser.headers["Accept"] = "text/html,application/xhtml+xml,*/*;q=0.8"  # a browser's page loads
        consent = None
        for _ in range(50):  # the server thread may still be binding
            try:
                consent = browser.get(f"http://127.0.0.1:{port}/dashboard", timeout=10)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert consent is not None and "/ims/authorize/v2?" in consent.url
        request_id = re.search(r'name="request" value="([^"]+)"', consent.text)
        assert request_id is not None
        standin = consent.url.split("/ims/")[0]
        dashboard = browser.post(
            standin + "/ims/authorize/decision",
            data={"request": request_id.group(1), "decision": "allow"},
            timeout=10,
        )
        assert dashboard.url == f"http://127.0.0.1:{port}/dashboard"
        assert dashboard.status_code == 200
        assert "Ada Analyst" in dashboard.text and 'id="chart"' in dashboard.text
    finally:
        demo.terminate()
        output, _ = demo.communicate(timeout=10)
    assert '"GET /adobe/callback" 302' in output
    assert "code=" not in output and "state=" not in output  # the log leaves out query strings


# -- what a newcomer noticed ------------------------------------------------------------------


def test_signing_out_says_so(signed_in: FlaskClient) -> None:
    response = signed_in.post("/adobe/logout", follow_redirects=True)
    assert "You are signed out" in text(response)
    assert "You are signed out" not in text(signed_in.get("/"))  # said once


def test_a_range_reaching_past_yesterday_says_there_is_no_data_yet(signed_in: FlaskClient) -> None:
    today = date.today()
    start, end = today - timedelta(days=3), today + timedelta(days=3)
    page = text(signed_in.get(f"/dashboard?from={start.isoformat()}&to={end.isoformat()}"))
    assert "Adobe has no data after yesterday" in page


def test_the_stand_in_has_no_data_for_days_to_come(standin: StandInAdobe) -> None:
    from flask_adobe_oauth.analytics import page_views_by_day

    app = create_app({**standin.config(), "SECRET_KEY": SECRET_KEY})
    client = app.test_client()
    login(client)
    today = date.today()
    with app.test_request_context("/"):
        from flask import session

        with client.session_transaction() as saved:
            session.update(saved)
        series = page_views_by_day(
            "exampl0", "examplecorp.web.prod", today - timedelta(days=2), today + timedelta(days=2)
        )
    counts = {d.day: d.page_views for d in series.days}
    assert counts[today - timedelta(days=1)] > 0
    assert counts[today + timedelta(days=1)] == 0 and counts[today + timedelta(days=2)] == 0


def test_an_unknown_company_or_suite_is_named_not_silently_replaced(signed_in: FlaskClient) -> None:
    page = text(signed_in.get("/dashboard?company=nope1&rsid=examplecorp.web.prod"))
    assert "You have no company &#39;nope1&#39;; showing Example Corp." in page
    page = text(signed_in.get("/dashboard?company=exampl0&rsid=gone.suite"))
    assert "Example Corp has no report suite &#39;gone.suite&#39;; showing Example Corp — Website." in page


def test_a_company_without_report_suites_has_an_empty_state(
    signed_in: FlaskClient, standin: StandInAdobe
) -> None:
    empty = '{"content": [], "totalElements": 0, "totalPages": 0, "number": 0, "size": 100, "numberOfElements": 0, "firstPage": true, "lastPage": true}'
    assert signed_in.get("/dashboard").status_code == 200  # profile and companies now cached
    standin.fail_next_api(200, empty)  # so the next Analytics call is Acme's suites
    page = text(signed_in.get("/dashboard?company=acmeout1"))
    assert 'id="no-suites"' in page and "Acme Outdoor has no report suite your Adobe account may read" in page


def test_a_refused_sign_in_is_the_demos_own_page(demo: Flask) -> None:
    client = demo.test_client()
    start = client.get("/adobe/login")
    state = start.headers["Location"].split("state=")[1].split("&")[0]
    page = client.get(f"/adobe/callback?state={state}&error=access_denied")
    assert page.status_code == 403
    body = text(page)
    assert 'id="sign-in-problem"' in body and "You cancelled the sign-in" in body
    assert "Analytics dashboard" in body  # the demo's header, not the extension's plain page


# -- the report suites table: filter, sort, pages (issue 17) ---------------------------------

#: 120 suites whose names, ids, time zones and currencies each sort differently from
#: the order Adobe lists them in (and from each other).
ZONES = ("US/Pacific", "Europe/Berlin", "Asia/Tokyo", "Europe/London", "America/Sao_Paulo")
MONEY = ("USD", "EUR", "JPY", "GBP")
MANY = tuple(
    Suite(f"rs{(i * 11) % 120:03d}.brand", f"Site {(i * 7) % 120:03d}", ZONES[i % 5], MONEY[i % 4], 1000 + i)
    for i in range(120)
)
BIG = Company(EXAMPLE.global_company_id, "Big Corp", MANY)
PER_PAGE = 50


@pytest.fixture
def big(signed_in: FlaskClient, standin: StandInAdobe) -> FlaskClient:
    """``signed_in`` at a stand-in whose first company has 120 report suites, with no rate limit."""
    standin.analytics.companies = (BIG, ACME)
    standin.analytics.rate_limit = None
    return signed_in


def rows(page: str) -> list[str]:
    return re.findall(r'data-rsid="([^"]+)"', page)


def by_rsid(rsids: list[str]) -> list[Suite]:
    found = {s.rsid: s for s in MANY}
    return [found[r] for r in rsids]


def table_view(client: FlaskClient, **args: str) -> str:
    response = client.get("/dashboard", query_string={**WEEK, **args})
    assert response.status_code == 200, response.status_code
    return text(response)


def test_many_suites_are_shown_fifty_a_page_in_adobes_order(big: FlaskClient) -> None:
    page = table_view(big)
    assert rows(page) == [s.rsid for s in MANY[:PER_PAGE]]
    assert "Showing 1–50 of 120 · page 1 of 3" in page
    assert '<span class="tag" id="suites-count">120</span>' in page
    assert 'aria-sort="' not in page
    assert 'id="prev-page"' not in page
    nxt = re.search(r'<a rel="next" id="next-page" href="([^"]+)">', page)
    assert nxt is not None
    assert (
        nxt.group(1)
        == f"/dashboard?company=exampl0&amp;rsid={MANY[0].rsid}&amp;from=2026-01-05&amp;to=2026-01-11&amp;page=2"
    )

    page = table_view(big, page="2")
    assert rows(page) == [s.rsid for s in MANY[PER_PAGE : 2 * PER_PAGE]]
    assert "Showing 51–100 of 120 · page 2 of 3" in page
    assert 'id="prev-page" href="/dashboard?company=exampl0&amp;rsid=' in page  # page 1: no page=
    assert 'id="next-page"' in page
    page = table_view(big, page="3")
    assert rows(page) == [s.rsid for s in MANY[2 * PER_PAGE :]]
    assert "Showing 101–120 of 120 · page 3 of 3" in page
    assert 'id="next-page"' not in page
    for wild, shown in (("99", 3), ("0", 1), ("-4", 1), ("two", 1), ("9" * 5000, 3), ("", 1)):
        assert f"page {shown} of 3" in table_view(big, page=wild), wild


def test_the_filter_matches_name_or_rsid_ignoring_case(big: FlaskClient) -> None:
    page = table_view(big, q="  SITE 01 ")
    assert sorted(s.name for s in by_rsid(rows(page))) == [f"Site {n:03d}" for n in range(10, 20)]
    assert 'value="SITE 01"' in page  # stripped, as typed
    assert "Showing 1–10 of 10 matching “SITE 01” (120 in all)" in page
    assert '<span class="tag" id="suites-count">10 of 120</span>' in page
    assert 'id="suites-pages"' not in page  # one page: no pager
    page = table_view(big, q="rs11")
    assert sorted(rows(page)) == [f"rs{n:03d}.brand" for n in range(110, 120)]
    page = table_view(big, q=".BRAND")
    assert len(rows(page)) == PER_PAGE and "of 120 matching" in page
    # the filter keeps Adobe's order
    page = table_view(big, q="site 1")
    assert rows(page) == [s.rsid for s in MANY if "site 1" in s.name.lower()][:PER_PAGE]


@pytest.mark.parametrize(
    ("key", "field"), [("name", "name"), ("rsid", "rsid"), ("timezone", "timezone"), ("currency", "currency")]
)
def test_sorting_by_each_column_both_ways(big: FlaskClient, key: str, field: str) -> None:
    def expected(reverse: bool) -> list[str]:
        ordered = sorted(
            MANY, key=lambda s: (getattr(s, field).lower(), s.name.lower(), s.rsid), reverse=reverse
        )
        return [s.rsid for s in ordered]

    page = table_view(big, sort=key)
    assert rows(page) == expected(False)[:PER_PAGE]
    headers = re.findall(r"<th scope=\"col\"([^>]*)><a class=\"sort\" href=\"([^\"]+)\">", page)
    assert len(headers) == 4
    sorted_headers = [(attrs, href) for attrs, href in headers if "aria-sort" in attrs]
    assert len(sorted_headers) == 1
    attrs, href = sorted_headers[0]
    assert attrs == ' aria-sort="ascending"'
    assert f"sort={key}&amp;dir=desc" in href  # its heading now sorts the other way
    others = [href for attrs, href in headers if "aria-sort" not in attrs]
    assert all("dir=" not in h for h in others)  # other headings sort ascending
    assert f"sorted by {dict(COLUMN_NAMES)[key]}, ascending" in page

    page = table_view(big, sort=key, dir="desc")
    assert rows(page) == expected(True)[:PER_PAGE]
    assert page.count('aria-sort="descending"') == 1 and 'aria-sort="ascending"' not in page
    page = table_view(big, sort=key, dir="desc", page="3")
    assert rows(page) == expected(True)[2 * PER_PAGE :]
    # the column's heading link sorts ascending again, back on page 1
    back = re.search(r'aria-sort="descending"><a class="sort" href="([^"]+)"', page)
    assert back is not None and "dir=" not in back.group(1) and "page=" not in back.group(1)
    assert f"sort={key}" in back.group(1)


COLUMN_NAMES = (
    ("name", "name"),
    ("rsid", "report suite id"),
    ("timezone", "time zone"),
    ("currency", "currency"),
)


def test_a_heading_link_sorts_and_adobes_order_comes_back(big: FlaskClient) -> None:
    page = table_view(big)
    name = re.search(r'<a class="sort" href="([^"]+)">Name', page)
    assert name is not None
    page = text(big.get(name.group(1).replace("&amp;", "&")))
    assert rows(page) == [s.rsid for s in sorted(MANY, key=lambda s: s.name)][:PER_PAGE]
    adobe = re.search(r'<a id="adobe-order" href="([^"]+)"', page)
    assert adobe is not None and "sort=" not in adobe.group(1)
    page = text(big.get(adobe.group(1).replace("&amp;", "&")))
    assert rows(page) == [s.rsid for s in MANY[:PER_PAGE]]


def test_an_order_without_a_sort_keeps_adobes_order_as_the_page_says(big: FlaskClient) -> None:
    page = table_view(big, dir="desc")
    assert rows(page) == [s.rsid for s in MANY[:PER_PAGE]]
    assert "in Adobe's order" in page and "dir=desc" not in page


def test_an_unknown_sort_key_or_order_falls_back_never_a_500(big: FlaskClient) -> None:
    by_name = [s.rsid for s in sorted(MANY, key=lambda s: s.name)]
    for wild in ("__class__", "base", "name; drop table", "<b>", "x" * 10_000):
        page = table_view(big, sort=wild)
        assert rows(page) == by_name[:PER_PAGE], wild
        assert '<th scope="col" aria-sort="ascending"><a class="sort" href="' in page
        assert re.search(r'aria-sort="ascending"><a class="sort" href="[^"]+">Name', page)
        assert "<b>" not in page.split("<main>")[1] and "x" * 200 not in page
    page = table_view(big, sort="rsid", dir="sideways")
    assert 'aria-sort="ascending"' in page
    multi = big.get("/dashboard?q=a&q=b&sort=rsid&sort=name&page=1&page=2&dir=desc&dir=asc")
    assert multi.status_code == 200


def test_no_match_says_so_with_a_way_back(big: FlaskClient) -> None:
    page = table_view(big, q="nothing-like-this", sort="rsid")
    assert rows(page) == []
    row = re.search(r'<tr id="no-match"><td colspan="4">(.*?)</td></tr>', page)
    assert row is not None
    assert "No report suite matches “nothing-like-this”." in row.group(1)
    clear = re.search(r'href="([^"]+)">Clear the filter</a>', row.group(1))
    assert clear is not None
    assert clear.group(1) == (
        f"/dashboard?company=exampl0&amp;rsid={MANY[0].rsid}&amp;from=2026-01-05&amp;to=2026-01-11&amp;sort=rsid"
    )
    assert re.search(r'id="suites-status">0 of 120 match · sorted by report suite id', page)
    assert 'id="suites-pages"' not in page
    assert 'id="chart"' in page  # the chosen suite's report is still there
    page = text(big.get(clear.group(1).replace("&amp;", "&")))
    assert len(rows(page)) == PER_PAGE and 'id="no-match"' not in page


def test_a_hostile_filter_is_escaped_and_bounded(big: FlaskClient) -> None:
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    page = table_view(big, q=hostile)
    main = page.split("<main>")[1]
    assert "<script" not in main and "<img" not in main
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in main
    assert 'id="no-match"' in page
    page = table_view(big, q="site" + "z" * 500)
    assert 'value="site' + "z" * 96 + '"' in page  # 100 characters kept
    assert "z" * 97 not in page
    assert 'maxlength="100"' in page
    assert table_view(big, q="\x00\u202e\ud7ff 🙂")  # odd characters: still a page


def test_the_table_keeps_the_other_choices_and_they_keep_it(big: FlaskClient, standin: StandInAdobe) -> None:
    chosen = MANY[7]
    args = {
        "company": "exampl0",
        "rsid": chosen.rsid,
        "q": "site",
        "sort": "rsid",
        "dir": "desc",
        "page": "2",
    }
    page = table_view(big, **args)
    assert f'<span id="suite-name">{chosen.name}</span>' in page
    form = re.search(
        r'<form method="get" action="/dashboard" class="filter" id="suites-filter".*?</form>', page, re.S
    )
    assert form is not None
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(0)))
    # a new filter starts on page 1, in the same order, for the same company, suite and dates
    assert hidden == {
        "company": "exampl0",
        "rsid": chosen.rsid,
        "from": "2026-01-05",
        "to": "2026-01-11",
        "sort": "rsid",
        "dir": "desc",
    }
    assert '<label class="small" for="q">' in form.group(0) and 'id="q" name="q" value="site"' in form.group(
        0
    )
    # a suite's link, a preset and the date form keep the filter, order and page
    other = rows(page)[0]
    assert (
        f"/dashboard?company=exampl0&amp;rsid={other}&amp;from=2026-01-05&amp;to=2026-01-11"
        "&amp;q=site&amp;sort=rsid&amp;dir=desc&amp;page=2" in page
    )
    assert (
        "/dashboard?company=exampl0&amp;rsid="
        + chosen.rsid
        + "&amp;q=site&amp;sort=rsid&amp;dir=desc&amp;page=2&amp;days=7"
        in page
    )
    rng = re.search(r'<form method="get" action="/dashboard" class="range">.*?</form>', page, re.S)
    assert rng is not None
    for name, value in (("q", "site"), ("sort", "rsid"), ("dir", "desc"), ("page", "2")):
        assert f'<input type="hidden" name="{name}" value="{value}">' in rng.group(0)
    # the service account's view keeps them too
    standin.analytics.companies = (BIG, ACME)
    service = re.search(r'<a id="as-service" href="([^"]+)"', page)
    assert service is not None and "q=site&amp;sort=rsid&amp;dir=desc&amp;page=2" in service.group(1)


def test_filtering_sorting_and_paging_ask_adobe_nothing_more(
    big: FlaskClient, seen: list[tuple[str, str, dict[str, list[str]]]]
) -> None:
    def analytics_calls(**args: str) -> list[str]:
        seen.clear()
        table_view(big, **args)
        return [path for _, path, _ in seen if path == "/discovery/me" or path.startswith("/api/")]

    first = analytics_calls()
    suites = "/api/exampl0/reportsuites/collections/suites"
    assert first == ["/discovery/me", suites, suites, "/api/exampl0/reports"]  # 120 suites: 2 pages of 100
    plain = analytics_calls()
    assert plain == ["/api/exampl0/reports"]
    for args in (
        {"q": "site 1"},
        {"sort": "currency", "dir": "desc"},
        {"page": "3"},
        {"q": "zzz"},
        {"sort": "?"},
    ):
        assert analytics_calls(**args) == plain, args


def test_suite_table_on_its_own() -> None:
    suites = [ReportSuite(s.rsid, s.name, s.timezone, s.currency) for s in MANY]
    table = suite_table(suites, MultiDict({"q": "SITE 00", "sort": "name", "dir": "desc"}))
    assert [s.name for s in table.rows] == [f"Site {n:03d}" for n in range(9, -1, -1)]
    assert (table.first, table.last, table.matched, table.total, table.pages) == (1, 10, 10, 120, 1)
    assert table.args() == {"q": "SITE 00", "sort": "name", "dir": "desc", "page": None}
    empty = suite_table([], MultiDict({"page": "4", "sort": "nope"}))
    assert (empty.rows, empty.first, empty.last, empty.page, empty.pages, empty.sort) == (
        [],
        0,
        0,
        1,
        1,
        "name",
    )
    assert suite_table(suites, MultiDict()).args() == {"q": None, "sort": None, "dir": None, "page": None}
