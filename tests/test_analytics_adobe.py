"""The Analytics 2.0 side held to Adobe's published docs (AdobeDocs/analytics-2.0-apis),
over real HTTP against the stand-in: report suite ``expansion`` and filters
(report-suites.json getSuites_1), a bare JSON array of suites, partial
reports (HTTP 206 with ``columns.columnErrors``, swagger.json
``RankedColumnError``), numbers that are not finite, and what the demo
dashboard makes of each. Adobe's refusals (error shapes, 401013, 403025,
the rate limit) are in ``test_analytics_adobe_refusals.py``."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient

from flask_adobe_oauth.analytics import (
    AnalyticsError,
    ColumnError,
    ReportColumnError,
    date_range,
)
from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.analytics import (
    DEFAULT_COMPANIES,
    daily_page_views,
    metric_value,
)

from .adobe_spec import COLUMN_ERROR_CODES
from .helpers import api_calls, dashboard, is_uuid, page
from .test_analytics_standin import headers, issue_token, report_body, reports_url, suites_url

EXAMPLE = DEFAULT_COMPANIES[0]
WEB = EXAMPLE.suites[0]
WEEK = {"from": "2026-01-05", "to": "2026-01-11"}
WEEK_DAYS = [date(2026, 1, d) for d in range(5, 12)]
JSON = {"Accept": "application/json"}


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


def test_the_helper_asks_for_the_fields_it_reads(analytics_client: FlaskClient, seen: list[Any]) -> None:
    listed = analytics_client.get("/a/suites/exampl0").json
    assert listed == [
        {"rsid": s.rsid, "name": s.name, "timezone": s.timezone, "currency": s.currency}
        for s in EXAMPLE.suites
    ]
    (query,) = [q for _, path, q in seen if path.endswith("/collections/suites")]
    assert query == {"limit": ["100"], "expansion": ["name,currency,timezoneZoneinfo"], "page": ["0"]}


def test_the_helper_passes_adobes_filters(analytics_client: FlaskClient, seen: list[Any]) -> None:
    listed = analytics_client.get(
        "/a/suites/exampl0", query_string={"rsids": "examplecorp.blog,examplecorp.web.fr"}
    )
    assert [s["rsid"] for s in listed.json] == ["examplecorp.blog", "examplecorp.web.fr"]
    listed = analytics_client.get("/a/suites/exampl0", query_string={"contains": "app."})
    assert [s["rsid"] for s in listed.json] == ["examplecorp.app.ios", "examplecorp.app.android"]
    queries = [q for _, path, q in seen if path.endswith("/collections/suites")]
    assert queries[0]["rsids"] == ["examplecorp.blog,examplecorp.web.fr"]
    assert queries[1]["rsidContains"] == ["app."] and "rsids" not in queries[1]


# -- a bare JSON array of suites (the example in Adobe's report-suites.md) --------------


def bare(*rsids: str) -> str:
    return json.dumps([{"rsid": r, "id": r, "name": r.upper(), "currency": "USD"} for r in rsids])


def test_a_short_bare_list_is_the_only_page(
    analytics_client: FlaskClient, standin: StandInAdobe, seen: list[Any]
) -> None:
    standin.fail_next_api(200, bare("one.suite", "two.suite"))
    listed = analytics_client.get("/a/suites/exampl0").json
    assert listed == [
        {"rsid": "one.suite", "name": "ONE.SUITE", "timezone": "", "currency": "USD"},
        {"rsid": "two.suite", "name": "TWO.SUITE", "timezone": "", "currency": "USD"},
    ]
    assert len([p for p in api_calls(seen) if p.endswith("/suites")]) == 1


def test_a_full_bare_list_page_is_followed_by_the_next(
    analytics_client: FlaskClient, standin: StandInAdobe, seen: list[Any]
) -> None:
    standin.fail_next_api(200, bare("a", "b"))
    standin.fail_next_api(200, bare("c"))
    listed = analytics_client.get("/a/suites/exampl0", query_string={"size": 2}).json
    assert [s["rsid"] for s in listed] == ["a", "b", "c"]
    pages = [q["page"] for _, p, q in seen if p.endswith("/suites")]
    assert pages == [["0"], ["1"]]


def test_a_bare_list_repeated_for_every_page_is_an_error_not_a_loop(
    analytics_client: FlaskClient, standin: StandInAdobe, seen: list[Any]
) -> None:
    standin.fail_next_api(200, bare("a", "b"))
    standin.fail_next_api(200, bare("a", "b"))
    failed = analytics_client.get("/a/suites/exampl0", query_string={"size": 2})
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


def test_ranked_report_names_the_failed_columns(analytics_client: FlaskClient) -> None:
    body = analytics_client.post("/a/report/exampl0", json=two_metrics(columns=None)).json
    assert body["column_ids"] == ["0", "1"]  # the helper gave each metric a columnId
    (error,) = body["column_errors"]
    assert error["column_id"] == "1" and error["metric_id"] == "metrics/revenue"
    assert error["code"] == "unauthorized_metric" and "metrics/revenue" in error["description"]
    assert is_uuid(error["error_id"])
    assert [row[1] for row in body["rows"]] == [daily_page_views(WEB, date(2026, 1, d)) for d in range(1, 8)]
    assert ColumnError("1", "metrics/revenue", "x", "y").error_id is None  # the id is optional


def test_page_views_the_user_may_not_read_are_an_error_not_zeros(
    analytics_client: FlaskClient, standin: StandInAdobe, seen: list[Any]
) -> None:
    standin.analytics.unauthorized_metrics.add("metrics/pageviews")
    failed = analytics_client.get(f"/a/views/exampl0/{WEB.rsid}")
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
    assert analytics_client.get(f"/a/views/exampl0/{WEB.rsid}").json["days"] == [
        daily_page_views(WEB, d) for d in WEEK_DAYS
    ]


def test_page_views_request_sends_a_column_id(analytics_client: FlaskClient, standin: StandInAdobe) -> None:
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
    assert analytics_client.get(f"/a/views/exampl0/{WEB.rsid}").status_code == 200
    assert sent[0]["metricContainer"]["metrics"] == [{"columnId": "0", "id": "metrics/pageviews"}]


def test_a_206_that_names_no_failed_column_is_an_error(
    analytics_client: FlaskClient, standin: StandInAdobe
) -> None:
    standin.fail_next_api(206, json.dumps({"rows": [], "summaryData": {"totals": [0]}}))
    failed = analytics_client.get(f"/a/views/exampl0/{WEB.rsid}")
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
    analytics_client: FlaskClient, standin: StandInAdobe, body: str
) -> None:
    standin.fail_next_api(200, body)
    failed = analytics_client.get(f"/a/views/exampl0/{WEB.rsid}")
    assert failed.status_code == 599
    assert failed.json["type"] == "ProviderError"
    assert "finite number" in failed.json["message"] or "summaryData.totals" in failed.json["message"]
    standin.fail_next_api(200, body)
    assert (
        analytics_client.get(f"/a/views/exampl0/{WEB.rsid}", headers=JSON).status_code == 599
    )  # and again: no crash


def test_whole_floats_are_numbers(analytics_client: FlaskClient, standin: StandInAdobe) -> None:
    standin.fail_next_api(
        200,
        '{"rows":[{"itemId":"1260005","value":"Jan 5, 2026","data":[12.0]}],"summaryData":{"totals":[12.0]}}',
    )
    body = analytics_client.get(f"/a/views/exampl0/{WEB.rsid}").json
    assert body == {"days": [12, 0, 0, 0, 0, 0, 0], "total": 12}


def test_date_range_is_what_page_views_by_day_sends() -> None:
    assert (
        date_range(date(2026, 1, 5), date(2026, 1, 11)) == "2026-01-05T00:00:00.000/2026-01-12T00:00:00.000"
    )
