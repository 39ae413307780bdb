"""The Analytics 2.0 side held to Adobe's published docs (AdobeDocs/analytics-2.0-apis),
over real HTTP against the stand-in: report suite ``expansion`` and filters
(report-suites.json getSuites_1), partial reports (HTTP 206 with
``columns.columnErrors``, swagger.json ``RankedColumnError``), Adobe's error
shapes (the gateway's ``error_code``/``message``, the API's ``errorCode``/
``errorDescription``/``errorId`` from swagger.json ``ReportErrorStatus``),
the rate limit of 12 calls every 6 seconds per user (Analytics 2.0 FAQ),
numbers that are not finite, and what the demo dashboard makes of each."""

from __future__ import annotations

import io
import json
import re
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
from flask import Flask, jsonify, request
from flask.testing import FlaskClient

from example_app import create_app
from flask_adobe_oauth import ProviderError
from flask_adobe_oauth.analytics import (
    AnalyticsError,
    ColumnError,
    NoAnalyticsProfile,
    RankedReportRequest,
    ReportColumnError,
    adobe_error_fields,
    companies,
    date_range,
    page_views_by_day,
    ranked_report,
    report_suites,
)
from flask_adobe_oauth.testing import StandInAdobe, login_as
from flask_adobe_oauth.testing.analytics import (
    DEFAULT_COMPANIES,
    ERROR_CODES,
    AnalyticsControls,
    daily_page_views,
    metric_value,
)

from .adobe_spec import COLUMN_ERROR_CODES
from .conftest import SECRET_KEY, login, make_app
from .test_analytics_standin import headers, issue_token, report_body, reports_url, suites_url

EXAMPLE, ACME = DEFAULT_COMPANIES
WEB = EXAMPLE.suites[0]
WEEK = {"from": "2026-01-05", "to": "2026-01-11"}
WEEK_DAYS = [date(2026, 1, d) for d in range(5, 12)]
JSON = {"Accept": "application/json"}
TOO_MANY = {"error_code": "429050", "message": "Too many requests"}


def is_uuid(value: Any) -> bool:
    try:
        return str(uuid.UUID(str(value))) == value
    except ValueError:
        return False


def freeze(standin: StandInAdobe, at: float = 1_000_000.0) -> list[float]:
    """Stop the clock the stand-in's rate limit counts in; move it with ``now[0] += s``."""
    now = [at]
    standin.analytics.clock = lambda: now[0]
    return now


@pytest.fixture
def seen(standin: StandInAdobe) -> list[tuple[str, str, dict[str, list[str]]]]:
    """Every request the stand-in receives: method, path and query."""
    calls: list[tuple[str, str, dict[str, list[str]]]] = []
    inner = standin.app.wsgi_app

    def record(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        calls.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], parse_qs(environ["QUERY_STRING"])))
        return inner(environ, start_response)

    standin.app.wsgi_app = record
    return calls


def api_calls(seen: list[tuple[str, str, dict[str, list[str]]]]) -> list[str]:
    """The Analytics API calls among ``seen``: the path of each."""
    return [path for _, path, _ in seen if path == "/discovery/me" or path.startswith("/api/")]


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


@pytest.fixture
def helper_app(standin: StandInAdobe) -> Flask:
    """An app whose views call the analytics helpers as the signed-in user."""
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


@pytest.fixture
def helpers(helper_app: Flask) -> FlaskClient:
    client = helper_app.test_client()
    assert login(client).status_code == 302
    return client


def dashboard(standin: StandInAdobe, **config: Any) -> FlaskClient:
    """The demo dashboard, signed in for real at ``standin``."""
    app = create_app({**standin.config(), "SECRET_KEY": SECRET_KEY, "TESTING": True, **config})
    client = app.test_client()
    assert login(client, next_url="/dashboard").status_code == 302
    return client


def page(response: Any) -> str:
    return str(response.get_data(as_text=True))


# -- report suites: expansion and filters (report-suites.json getSuites_1) ---------------


def test_without_expansion_a_suite_is_only_its_rsid_and_id(standin: StandInAdobe) -> None:
    token = issue_token(standin)
    body = requests.get(suites_url(standin), headers=headers(standin, token), timeout=10).json()
    assert body["content"][0] == {"rsid": WEB.rsid, "id": WEB.rsid}
    assert all(set(s) == {"rsid", "id"} for s in body["content"])


@pytest.mark.parametrize(
    ("expansion", "fields"),
    [
        ("name", {"name"}),
        ("name,currency", {"name", "currency"}),
        (" timezoneZoneinfo , currency,", {"timezoneZoneinfo", "currency"}),
        ("calendarType", {"calendarType"}),
        ("parentRsid", set()),  # a suite that is not virtual has no parent
        (
            "name,parentRsid,currency,calendarType,timezoneZoneinfo",
            {"name", "currency", "calendarType", "timezoneZoneinfo"},
        ),
    ],
)
def test_expansion_adds_exactly_the_fields_asked_for(
    standin: StandInAdobe, expansion: str, fields: set[str]
) -> None:
    token = issue_token(standin)
    body = requests.get(
        suites_url(standin), params={"expansion": expansion}, headers=headers(standin, token), timeout=10
    ).json()
    assert set(body["content"][0]) == {"rsid", "id"} | fields
    dumped = WEB.dump()
    assert {k: body["content"][0][k] for k in fields} == {k: dumped[k] for k in fields}


def test_an_unknown_expansion_is_a_400_in_adobes_shape(standin: StandInAdobe) -> None:
    token = issue_token(standin)
    response = requests.get(
        suites_url(standin), params={"expansion": "name,owner"}, headers=headers(standin, token), timeout=10
    )
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"errorCode", "errorDescription", "errorId"}
    assert body["errorCode"] == "invalid_parameters" and "owner" in body["errorDescription"]
    assert is_uuid(body["errorId"])


def test_rsids_and_rsid_contains_filter_the_suites(standin: StandInAdobe) -> None:
    token = issue_token(standin)

    def listed(**params: str) -> tuple[list[str], int]:
        body = requests.get(suites_url(standin), params=params, headers=headers(standin, token), timeout=10)
        return [s["rsid"] for s in body.json()["content"]], body.json()["totalElements"]

    assert listed(rsids="examplecorp.docs,examplecorp.blog,acme.global") == (
        ["examplecorp.blog", "examplecorp.docs"],
        2,
    )
    web = [s.rsid for s in EXAMPLE.suites if "web" in s.rsid]
    assert listed(rsidContains="web") == (web, len(web)) and len(web) == 5
    assert listed(rsidContains="web", rsids="examplecorp.web.de,examplecorp.blog") == (
        ["examplecorp.web.de"],
        1,
    )
    assert listed(rsids="") == ([], 0)


def test_the_helper_asks_for_the_fields_it_reads(helpers: FlaskClient, seen: list[Any]) -> None:
    listed = helpers.get("/a/suites/exampl0").json
    assert listed == [
        {"rsid": s.rsid, "name": s.name, "timezone": s.timezone, "currency": s.currency}
        for s in EXAMPLE.suites
    ]
    (query,) = [q for _, path, q in seen if path.endswith("/collections/suites")]
    assert query == {"limit": ["100"], "expansion": ["name,currency,timezoneZoneinfo"], "page": ["0"]}


def test_the_helper_passes_adobes_filters(helpers: FlaskClient, seen: list[Any]) -> None:
    listed = helpers.get("/a/suites/exampl0", query_string={"rsids": "examplecorp.blog,examplecorp.web.fr"})
    assert [s["rsid"] for s in listed.json] == ["examplecorp.blog", "examplecorp.web.fr"]
    listed = helpers.get("/a/suites/exampl0", query_string={"contains": "app."})
    assert [s["rsid"] for s in listed.json] == ["examplecorp.app.ios", "examplecorp.app.android"]
    queries = [q for _, path, q in seen if path.endswith("/collections/suites")]
    assert queries[0]["rsids"] == ["examplecorp.blog,examplecorp.web.fr"]
    assert queries[1]["rsidContains"] == ["app."] and "rsids" not in queries[1]


# -- a bare JSON array of suites (the example in Adobe's report-suites.md) --------------


def bare(*rsids: str) -> str:
    return json.dumps([{"rsid": r, "id": r, "name": r.upper(), "currency": "USD"} for r in rsids])


def test_a_short_bare_list_is_the_only_page(
    helpers: FlaskClient, standin: StandInAdobe, seen: list[Any]
) -> None:
    standin.fail_next_api(200, bare("one.suite", "two.suite"))
    listed = helpers.get("/a/suites/exampl0").json
    assert listed == [
        {"rsid": "one.suite", "name": "ONE.SUITE", "timezone": "", "currency": "USD"},
        {"rsid": "two.suite", "name": "TWO.SUITE", "timezone": "", "currency": "USD"},
    ]
    assert len([p for p in api_calls(seen) if p.endswith("/suites")]) == 1


def test_a_full_bare_list_page_is_followed_by_the_next(
    helpers: FlaskClient, standin: StandInAdobe, seen: list[Any]
) -> None:
    standin.fail_next_api(200, bare("a", "b"))
    standin.fail_next_api(200, bare("c"))
    listed = helpers.get("/a/suites/exampl0", query_string={"size": 2}).json
    assert [s["rsid"] for s in listed] == ["a", "b", "c"]
    pages = [q["page"] for _, p, q in seen if p.endswith("/suites")]
    assert pages == [["0"], ["1"]]


def test_a_bare_list_repeated_for_every_page_is_an_error_not_a_loop(
    helpers: FlaskClient, standin: StandInAdobe, seen: list[Any]
) -> None:
    standin.fail_next_api(200, bare("a", "b"))
    standin.fail_next_api(200, bare("a", "b"))
    failed = helpers.get("/a/suites/exampl0", query_string={"size": 2})
    assert failed.status_code == 599
    assert "repeats a page" in failed.json["message"]
    assert len(api_calls(seen)) == 2


# -- partial reports: HTTP 206 with columns.columnErrors ----------------------------------


def two_metrics(columns: tuple[str, str] | None = ("pv", "rev")) -> dict[str, Any]:
    metrics: list[dict[str, str]] = [{"id": "metrics/pageviews"}, {"id": "metrics/revenue"}]
    if columns:
        for metric, column in zip(metrics, columns, strict=True):
            metric["columnId"] = column
    return report_body(metricContainer={"metrics": metrics}, settings={"dimensionSort": "asc"})


def test_a_metric_the_user_may_not_read_is_a_206_column_error(standin: StandInAdobe) -> None:
    token = issue_token(standin)
    response = requests.post(
        reports_url(standin), json=two_metrics(), headers=headers(standin, token), timeout=10
    )
    assert response.status_code == 206
    body = response.json()
    assert body["columns"]["columnIds"] == ["pv", "rev"]
    (error,) = body["columns"]["columnErrors"]
    assert set(error) == {"columnId", "errorCode", "errorId", "errorDescription"}
    assert (error["columnId"], error["errorCode"]) == ("rev", "unauthorized_metric")
    assert error["errorCode"] in COLUMN_ERROR_CODES and is_uuid(error["errorId"])
    days = [date(2026, 1, d) for d in range(1, 8)]
    assert [r["data"] for r in body["rows"]] == [[daily_page_views(WEB, d), 0] for d in days]
    assert body["summaryData"]["totals"] == [sum(daily_page_views(WEB, d) for d in days), 0]


def test_tests_choose_which_metrics_are_unauthorized(standin: StandInAdobe) -> None:
    token = issue_token(standin)
    standin.analytics.unauthorized_metrics.discard("metrics/revenue")
    allowed = requests.post(
        reports_url(standin), json=two_metrics(), headers=headers(standin, token), timeout=10
    )
    assert allowed.status_code == 200
    assert "columnErrors" not in allowed.json()["columns"]
    day = date(2026, 1, 1)
    assert allowed.json()["rows"][0]["data"] == [
        daily_page_views(WEB, day),
        metric_value(WEB, day, "metrics/revenue"),
    ]
    standin.analytics.unauthorized_metrics.add("metrics/pageviews")
    refused = requests.post(
        reports_url(standin), json=report_body(), headers=headers(standin, token), timeout=10
    )
    assert refused.status_code == 206
    assert refused.json()["columns"]["columnErrors"][0]["columnId"] == "0"  # no columnId sent: the index


def test_ranked_report_names_the_failed_columns(helpers: FlaskClient) -> None:
    body = helpers.post("/a/report/exampl0", json=two_metrics(columns=None)).json
    assert body["column_ids"] == ["0", "1"]  # the helper gave each metric a columnId
    (error,) = body["column_errors"]
    assert error["column_id"] == "1" and error["metric_id"] == "metrics/revenue"
    assert error["code"] == "unauthorized_metric" and "metrics/revenue" in error["description"]
    assert is_uuid(error["error_id"])
    assert [row[1] for row in body["rows"]] == [daily_page_views(WEB, date(2026, 1, d)) for d in range(1, 8)]
    assert ColumnError("1", "metrics/revenue", "x", "y").error_id is None  # the id is optional


def test_page_views_the_user_may_not_read_are_an_error_not_zeros(
    helpers: FlaskClient, standin: StandInAdobe, seen: list[Any]
) -> None:
    standin.analytics.unauthorized_metrics.add("metrics/pageviews")
    failed = helpers.get(f"/a/views/exampl0/{WEB.rsid}")
    assert failed.status_code == 599
    body = failed.json
    assert body["type"] == "ReportColumnError" and body["code"] == "unauthorized_metric"
    assert body["status"] == 206 and body["status_code"] == 403
    assert "metrics/pageviews" in body["message"] and "unauthorized_metric" in body["message"]
    assert body["columns"][0]["metric_id"] == "metrics/pageviews"
    assert issubclass(ReportColumnError, AnalyticsError)
    (sent,) = [p for p in api_calls(seen) if p.endswith("/reports")]
    assert sent == "/api/exampl0/reports"
    standin.analytics.unauthorized_metrics.discard("metrics/pageviews")
    assert helpers.get(f"/a/views/exampl0/{WEB.rsid}").json["days"] == [
        daily_page_views(WEB, d) for d in WEEK_DAYS
    ]


def test_page_views_request_sends_a_column_id(helpers: FlaskClient, standin: StandInAdobe) -> None:
    sent: list[Any] = []
    inner = standin.app.wsgi_app

    def keep_body(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ["PATH_INFO"].endswith("/reports"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length)
            sent.append(json.loads(raw))
            environ["wsgi.input"] = io.BytesIO(raw)
        return inner(environ, start_response)

    standin.app.wsgi_app = keep_body
    assert helpers.get(f"/a/views/exampl0/{WEB.rsid}").status_code == 200
    assert sent[0]["metricContainer"]["metrics"] == [{"columnId": "0", "id": "metrics/pageviews"}]


def test_a_206_that_names_no_failed_column_is_an_error(helpers: FlaskClient, standin: StandInAdobe) -> None:
    standin.fail_next_api(206, json.dumps({"rows": [], "summaryData": {"totals": [0]}}))
    failed = helpers.get(f"/a/views/exampl0/{WEB.rsid}")
    assert failed.status_code == 599 and "partial report" in failed.json["message"]


def test_the_dashboard_says_page_views_are_unavailable_instead_of_a_zero_chart(standin: StandInAdobe) -> None:
    client = dashboard(standin)
    standin.analytics.unauthorized_metrics.add("metrics/pageviews")
    response = client.get("/dashboard", query_string=WEEK)
    assert response.status_code == 200
    html = page(response)
    notice = re.search(r'<div class="alert alert-note" id="column-error"[^>]*>(.*?)</div>', html, re.S)
    assert notice is not None
    assert "Page views are not available" in notice.group(1) and "unauthorized_metric" in notice.group(1)
    assert "product profile" in notice.group(1)
    assert 'id="chart"' not in html and 'id="total"' not in html  # no zeros drawn or summed
    assert re.findall(r'data-rsid="([^"]+)"', html) == [s.rsid for s in EXAMPLE.suites]
    standin.analytics.unauthorized_metrics.discard("metrics/pageviews")
    html = page(client.get("/dashboard", query_string=WEEK))
    assert 'id="column-error"' not in html
    assert f'id="total">{sum(daily_page_views(WEB, d) for d in WEEK_DAYS):,}<' in html


# -- Adobe's error shapes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"error_code": "429050", "message": "Too many requests"}, ("429050", "Too many requests", None)),
        ({"error_code": 403025, "message": "Profile is not valid"}, ("403025", "Profile is not valid", None)),
        (
            {"errorCode": "invalid_parameters", "errorDescription": "bad rsid", "errorId": "a-1"},
            ("invalid_parameters", "bad rsid", "a-1"),
        ),
        ({"error": "invalid_token", "error_description": "expired"}, ("invalid_token", "expired", None)),
        ({"errorCode": True, "errorDescription": ["x"]}, (None, None, None)),
        ({"errorCode": "two words", "errorDescription": "ok\x00\x1b[31m"}, (None, "ok[31m", None)),
        ({"errorCode": "x", "errorDescription": "y" * 500, "errorId": "z" * 65}, ("x", "y" * 120, None)),
        ([{"errorCode": "x"}], (None, None, None)),
        (None, (None, None, None)),
    ],
)
def test_adobe_error_fields_reads_every_shape_and_only_clean_text(body: Any, fields: tuple[Any, ...]) -> None:
    assert adobe_error_fields(body) == fields


def test_the_standins_own_429_is_adobes_shape_and_rate_limited_in_the_app(
    helpers: FlaskClient, standin: StandInAdobe
) -> None:
    freeze(standin)
    token = issue_token(standin)
    for _ in range(12):
        assert requests.get(f"{standin.url}/discovery/me", headers=headers(standin, token), timeout=10).ok
    raw = requests.get(f"{standin.url}/discovery/me", headers=headers(standin, token), timeout=10)
    assert (raw.status_code, raw.json()) == (429, TOO_MANY)
    assert "Retry-After" not in raw.headers  # Adobe documents none
    limited = helpers.get("/a/companies", headers=JSON)
    assert (limited.status_code, limited.json["error"]) == (429, "rate_limited")


def test_401013_after_one_refresh_means_login_again(helper_app: Flask, standin: StandInAdobe) -> None:
    client = helper_app.test_client()
    login(client)
    refused = '{"error_code":"401013","message":"Oauth token is not valid"}'
    standin.fail_next_api(401, refused)
    standin.fail_next_api(401, refused)
    response = client.get("/a/companies", headers=JSON)
    assert (response.status_code, response.json["error"]) == (401, "login_required")
    assert "401013" in response.json["message"]
    assert [c.grant_type for c in standin.token_calls()] == ["authorization_code", "refresh_token"]


def test_403025_is_a_profile_error_saying_an_admin_must_add_the_user(
    helpers: FlaskClient, standin: StandInAdobe
) -> None:
    standin.analytics.users_without_profile.add(standin.state.user.sub)
    token = issue_token(standin)
    raw = requests.get(f"{standin.url}/discovery/me", headers=headers(standin, token), timeout=10)
    assert (raw.status_code, raw.json()) == (403, {"error_code": "403025", "message": "Profile is not valid"})
    body = helpers.get("/a/companies").json
    assert body["type"] == "NoAnalyticsProfile" and body["code"] == "403025"
    assert (body["status"], body["status_code"]) == (403, 403)
    assert "no Adobe Analytics product profile" in body["message"]
    assert "Admin Console" in body["message"] and "403025 Profile is not valid" in body["message"]
    assert issubclass(NoAnalyticsProfile, AnalyticsError) and issubclass(AnalyticsError, ProviderError)
    standin.analytics.users_without_profile.clear()
    assert helpers.get("/a/companies").status_code == 200


def test_an_api_error_carries_adobes_code_and_error_id(helpers: FlaskClient) -> None:
    body = helpers.post("/a/report/exampl0", json=report_body(rsid="acme.global")).json
    assert body["type"] == "AnalyticsError"
    assert (body["code"], body["status"], body["status_code"]) == ("invalid_parameters", 400, 502)
    assert is_uuid(body["error_id"])
    assert "HTTP 400 (invalid_parameters: rsid is missing" in body["message"]
    assert f"error id {body['error_id']}" in body["message"]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"rsid": "nope"}, 400),
        ({"globalFilters": []}, 400),
        ({"metricContainer": {"metrics": [{"id": "metrics/pageviews", "columnId": 0}]}}, 400),
        (
            {
                "metricContainer": {
                    "metrics": [
                        {"id": "metrics/visits", "columnId": "a"},
                        {"id": "metrics/pageviews", "columnId": "a"},
                    ]
                }
            },
            400,
        ),
        ({"dimension": "variables/evar1"}, 400),
        ({"settings": {"limit": 0}}, 400),
    ],
)
def test_every_api_refusal_uses_a_code_of_the_swagger_enum(
    standin: StandInAdobe, change: dict[str, Any], status: int
) -> None:
    token = issue_token(standin)
    response = requests.post(
        reports_url(standin), json={**report_body(), **change}, headers=headers(standin, token), timeout=10
    )
    assert response.status_code == status
    body = response.json()
    assert set(body) == {"errorCode", "errorDescription", "errorId"}
    assert body["errorCode"] in ERROR_CODES and is_uuid(body["errorId"])


def test_refusals_of_the_request_itself_use_enum_codes(standin: StandInAdobe) -> None:
    token = issue_token(standin)
    sent = headers(standin, token)
    not_json = requests.post(
        reports_url(standin), data="{", headers={**sent, "Content-Type": "application/json"}, timeout=10
    )
    assert (not_json.status_code, not_json.json()["errorCode"]) == (400, "invalid_json_input")
    not_object = requests.post(reports_url(standin), json=[1], headers=sent, timeout=10)
    assert (not_object.status_code, not_object.json()["errorCode"]) == (400, "invalid_request")
    stranger = requests.get(
        suites_url(standin, "stranger9"), headers=headers(standin, token, "stranger9"), timeout=10
    )
    assert (stranger.status_code, stranger.json()["errorCode"]) == (403, "insufficient_access")
    for answer in (not_json, not_object, stranger):
        assert answer.json()["errorCode"] in ERROR_CODES


# -- the rate limit: 12 calls every 6 seconds per user (Analytics 2.0 FAQ) ---------------


def call_each_endpoint(standin: StandInAdobe, token: str, n: int) -> list[int]:
    """``n`` calls cycling through discovery, report suites and a report; their statuses."""
    statuses = []
    for i in range(n):
        if i % 3 == 0:
            answer = requests.get(f"{standin.url}/discovery/me", headers=headers(standin, token), timeout=10)
        elif i % 3 == 1:
            answer = requests.get(suites_url(standin), headers=headers(standin, token), timeout=10)
        else:
            answer = requests.post(
                reports_url(standin), json=report_body(), headers=headers(standin, token), timeout=10
            )
        statuses.append(answer.status_code)
    return statuses


def test_the_13th_call_within_6_seconds_is_a_429_by_default(standin: StandInAdobe) -> None:
    assert standin.analytics.rate_limit == (12, 6.0)
    now = freeze(standin)
    token = issue_token(standin)
    assert call_each_endpoint(standin, token, 12) == [200] * 12  # discovery, suites and reports all count
    now[0] += 5.9
    refused = requests.post(
        reports_url(standin), json=report_body(), headers=headers(standin, token), timeout=10
    )
    assert (refused.status_code, refused.json()) == (429, TOO_MANY)
    now[0] += 0.1  # six seconds after the first call: the window has moved on
    assert call_each_endpoint(standin, token, 12) == [200] * 12
    assert call_each_endpoint(standin, token, 1) == [429]


def test_the_window_slides(standin: StandInAdobe) -> None:
    now = freeze(standin)
    token = issue_token(standin)
    assert call_each_endpoint(standin, token, 6) == [200] * 6
    now[0] += 3
    assert call_each_endpoint(standin, token, 7) == [200] * 6 + [429]
    now[0] += 3  # the first six are out of the window, the last six still in it
    assert call_each_endpoint(standin, token, 7) == [200] * 6 + [429]


def test_the_limit_is_per_user(standin: StandInAdobe) -> None:
    freeze(standin)
    first = issue_token(standin)
    other = standin.mint_token(user_id="9F9F9F9F@AdobeID")["access_token"]
    assert call_each_endpoint(standin, first, 13)[-1] == 429
    assert call_each_endpoint(standin, other, 12) == [200] * 12


def test_the_limit_counts_in_the_stand_ins_clock(standin: StandInAdobe) -> None:
    token = issue_token(standin)
    standin.state.clock_offset -= 3600  # however long the calls take, a moved clock starts a new window
    call_each_endpoint(standin, token, 12)
    standin.state.clock_offset += 3600
    assert call_each_endpoint(standin, token, 12) == [200] * 12


def test_rate_limit_none_disables_it_at_start_or_at_runtime(standin: StandInAdobe) -> None:
    freeze(standin)
    token = issue_token(standin)
    assert call_each_endpoint(standin, token, 13)[-1] == 429
    standin.analytics.rate_limit = None
    assert call_each_endpoint(standin, token, 20) == [200] * 20
    with StandInAdobe(rate_limit=None) as unlimited:
        assert unlimited.analytics.rate_limit is None
        assert set(call_each_endpoint(unlimited, issue_token(unlimited), 20)) == {200}


def test_rate_limit_is_configurable(standin: StandInAdobe) -> None:
    with StandInAdobe(rate_limit=(2, 60.0)) as tight:
        now = freeze(tight)
        token = issue_token(tight)
        assert call_each_endpoint(tight, token, 3) == [200, 200, 429]
        now[0] += 60
        assert call_each_endpoint(tight, token, 1) == [200]
    for bad in ((0, 6.0), (12, 0.0), (True, 6.0)):
        with pytest.raises(ValueError, match="rate_limit"):
            AnalyticsControls(rate_limit=bad)  # type: ignore[arg-type]


# -- numbers that are not finite ------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        '{"rows":[{"itemId":"1260004","value":"Jan 5, 2026","data":[NaN]}],"summaryData":{"totals":[1]}}',
        '{"rows":[{"itemId":"1260004","value":"Jan 5, 2026","data":[Infinity]}],"summaryData":{"totals":[1]}}',
        '{"rows":[{"itemId":"1260004","value":"Jan 5, 2026","data":[-Infinity]}],"summaryData":{"totals":[1]}}',
        '{"rows":[{"itemId":"1260004","value":"Jan 5, 2026","data":[true]}],"summaryData":{"totals":[1]}}',
        '{"rows":[],"summaryData":{"totals":[NaN]}}',
        '{"rows":[],"summaryData":{"totals":[Infinity]}}',
        '{"rows":[],"summaryData":{"totals":[false]}}',
        '{"rows":[],"summaryData":{"totals":["12"]}}',
        '{"rows":[],"summaryData":[1]}',
    ],
)
def test_numbers_that_are_not_finite_are_a_provider_error(
    helpers: FlaskClient, standin: StandInAdobe, body: str
) -> None:
    standin.fail_next_api(200, body)
    failed = helpers.get(f"/a/views/exampl0/{WEB.rsid}")
    assert failed.status_code == 599
    assert failed.json["type"] == "ProviderError"
    assert "finite number" in failed.json["message"] or "summaryData.totals" in failed.json["message"]
    standin.fail_next_api(200, body)
    assert helpers.get(f"/a/views/exampl0/{WEB.rsid}", headers=JSON).status_code == 599  # and again: no crash


def test_whole_floats_are_numbers(helpers: FlaskClient, standin: StandInAdobe) -> None:
    standin.fail_next_api(
        200,
        '{"rows":[{"itemId":"1260005","value":"Jan 5, 2026","data":[12.0]}],"summaryData":{"totals":[12.0]}}',
    )
    body = helpers.get(f"/a/views/exampl0/{WEB.rsid}").json
    assert body == {"days": [12, 0, 0, 0, 0, 0, 0], "total": 12}


# -- the demo dashboard within Adobe's limits ------------------------------------------------


def test_the_dashboard_reuses_each_users_lists(standin: StandInAdobe, seen: list[Any]) -> None:
    client = dashboard(standin)
    for rsid in (WEB.rsid, EXAMPLE.suites[3].rsid, WEB.rsid):
        assert client.get("/dashboard", query_string={**WEEK, "rsid": rsid}).status_code == 200
    assert api_calls(seen) == [
        "/discovery/me",
        "/api/exampl0/reportsuites/collections/suites",
        "/api/exampl0/reports",
        "/api/exampl0/reports",
        "/api/exampl0/reports",
    ]
    other = client.application.test_client()  # another user of the same app: lists of their own
    login_as(other, user_id="9F9F9F9F@AdobeID")
    seen.clear()
    assert other.get("/dashboard", query_string=WEEK).status_code == 200
    assert api_calls(seen)[:2] == ["/discovery/me", "/api/exampl0/reportsuites/collections/suites"]


def test_normal_clicking_stays_within_12_calls_in_6_seconds(standin: StandInAdobe) -> None:
    freeze(standin)  # every load below counts as within the same 6 seconds
    client = dashboard(standin)
    clicks: list[dict[str, Any]] = (
        [WEEK]
        + [{"rsid": s.rsid, **WEEK} for s in EXAMPLE.suites[:5]]
        + [{"days": n} for n in (7, 30, 90)]
        + [{"company": "exampl0", **WEEK}]
    )
    assert [client.get("/dashboard", query_string=q).status_code for q in clicks] == [200] * 10  # 12 calls
    limited = client.get("/dashboard", query_string=WEEK)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "6"
    assert "rate-limiting requests right now. Try again in 6 seconds" in page(limited)
    assert standin.state.user.sub in page(limited)


def test_the_dashboard_tells_a_user_without_a_profile_what_to_do(standin: StandInAdobe) -> None:
    client = dashboard(standin)
    standin.analytics.users_without_profile.add(standin.state.user.sub)
    response = client.get("/dashboard", query_string=WEEK)
    assert response.status_code == 403
    html = page(response)
    assert "no Adobe Analytics product profile" in html and "Admin Console" in html
    assert "data-rsid" not in html


def test_the_dashboard_shows_the_companys_rate_limit_policy(standin: StandInAdobe) -> None:
    html = page(dashboard(standin).get("/dashboard", query_string=WEEK))
    assert '<code id="rate-policy">aa_api_tier10_tp</code>' in html


def test_the_dashboard_cache_can_be_turned_off(standin: StandInAdobe, seen: list[Any]) -> None:
    client = dashboard(standin, DASHBOARD_CACHE_SECONDS=0)
    client.get("/dashboard", query_string=WEEK)
    client.get("/dashboard", query_string=WEEK)
    assert api_calls(seen).count("/discovery/me") == 2


def test_date_range_is_what_page_views_by_day_sends() -> None:
    assert (
        date_range(date(2026, 1, 5), date(2026, 1, 11)) == "2026-01-05T00:00:00.000/2026-01-12T00:00:00.000"
    )
