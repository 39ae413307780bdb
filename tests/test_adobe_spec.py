"""Every request the Analytics helpers send, and every answer of the stand-in,
checked against Adobe's spec (AdobeDocs/analytics-2.0-apis, as transcribed in
``tests/adobe_spec.py``).

* The helpers of ``flask_adobe_oauth.analytics`` run as a signed-in user of
  the stand-in; a response hook on ``adobe.session`` records each exchange.
* The stand-in is called directly on its error paths.
* The checker is shown to catch what it is meant to catch, so that a test
  passing on it means something.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import jsonify
from jsonschema import Draft7Validator

from flask_adobe_oauth import adobe
from flask_adobe_oauth.analytics import (
    companies,
    date_range,
    page_views_by_day,
    ranked_report,
    report_suites,
)
from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.analytics import DEFAULT_COMPANIES, DEFAULT_UNAUTHORIZED_METRICS

from . import adobe_spec as spec
from .adobe_spec import check_exchange, check_request, check_response, operation_for
from .helpers import login, make_app
from .test_analytics_standin import headers, report_body, reports_url, suites_url

EXAMPLE, ACME = DEFAULT_COMPANIES
WEB = EXAMPLE.suites[0]
#: A metric the stand-in knows but no user may read (HTTP 206, unauthorized_metric).
UNAUTHORIZED_METRIC = sorted(DEFAULT_UNAUTHORIZED_METRICS)[0]


@pytest.fixture
def standin(adobe_standin: StandInAdobe) -> StandInAdobe:
    """The stand-in without Adobe's 12-calls-per-6-seconds limit: these tests make many calls at once."""
    adobe_standin.analytics.rate_limit = None
    return adobe_standin


@pytest.fixture
def token(standin: StandInAdobe) -> str:
    return str(standin.mint_token(scope="openid AdobeID read_organizations")["access_token"])


def problems_of(response: requests.Response, *, strict: bool = False) -> list[str]:
    return check_exchange(response.request, response, strict=strict)


# -- (a) what the helpers send, and what the stand-in answers them ----------------------


def capture_helper_exchanges(standin: StandInAdobe) -> list[requests.Response]:
    """Sign in for real at the stand-in, run every helper in a view, and return
    each exchange ``adobe.session`` made (the responses, each with its request)."""
    app = make_app(standin)
    seen: list[requests.Response] = []

    def record(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        response.content  # read now: the helper closes the response  # noqa: B018
        seen.append(response)

    @app.get("/run-helpers")
    def run_helpers() -> Any:
        session = adobe.session
        session.hooks["response"].append(record)
        try:
            found = companies()
            paged = report_suites(EXAMPLE.global_company_id, page_size=5)  # three pages
            acme = report_suites(ACME.global_company_id, rsid_contains="acme")
            picked = report_suites(EXAMPLE.global_company_id, rsids=[WEB.rsid, EXAMPLE.suites[1].rsid])
            series = page_views_by_day(
                EXAMPLE.global_company_id, WEB.rsid, date(2026, 1, 1), date(2026, 1, 14)
            )
            pages = ranked_report(
                EXAMPLE.global_company_id,
                {
                    "rsid": WEB.rsid,
                    "globalFilters": [
                        {"type": "dateRange", "dateRange": date_range(date(2026, 1, 1), date(2026, 1, 31))}
                    ],
                    "metricContainer": {"metrics": [{"id": "metrics/pageviews"}, {"id": "metrics/visits"}]},
                    "dimension": "variables/page",
                    "settings": {"limit": 5, "page": 0},
                },
            )
            partial = ranked_report(  # a metric the user may not read: HTTP 206
                EXAMPLE.global_company_id,
                {
                    "rsid": WEB.rsid,
                    "globalFilters": [
                        {"type": "dateRange", "dateRange": date_range(date(2026, 1, 1), date(2026, 1, 7))}
                    ],
                    "metricContainer": {
                        "metrics": [{"id": "metrics/pageviews"}, {"id": UNAUTHORIZED_METRIC}]
                    },
                    "dimension": "variables/daterangeday",
                },
            )
        finally:
            session.hooks["response"].remove(record)
        return jsonify(
            companies=len(found),
            suites=[len(paged), len(acme), len(picked)],
            days=len(series.days),
            pages=len(pages.rows),
            partial=[e.code for e in partial.column_errors],
        )

    client = app.test_client()
    assert login(client).status_code == 302
    result = client.get("/run-helpers")
    assert result.status_code == 200, result.get_data(as_text=True)
    assert result.json == {
        "companies": 2,
        "suites": [len(EXAMPLE.suites), len(ACME.suites), 2],
        "days": 14,
        "pages": 5,
        "partial": ["unauthorized_metric"],
    }
    return seen


def test_every_exchange_of_the_helpers_matches_adobes_spec(standin: StandInAdobe) -> None:
    exchanges = capture_helper_exchanges(standin)
    found = {
        f"{r.request.method} {r.request.path_url}": problems
        for r in exchanges
        if (problems := problems_of(r, strict=True))
    }
    assert found == {}
    calls = [
        (op.operation_id if (op := operation_for(r.request)) else None, r.status_code) for r in exchanges
    ]
    # Not vacuous: every operation was called, the paged one page by page, and
    # both a whole (200) and a partial (206) report came back.
    assert calls == [
        ("discovery/me", 200),
        ("getSuites_1", 200),
        ("getSuites_1", 200),
        ("getSuites_1", 200),
        ("getSuites_1", 200),
        ("getSuites_1", 200),
        ("runReport", 200),
        ("runReport", 200),
        ("runReport", 206),
    ]


def test_the_helpers_ask_for_the_suite_fields_they_read(standin: StandInAdobe) -> None:
    """Adobe lists only ``rsid`` (and ``id``) unless ``expansion`` asks for more
    (report-suites.json getSuites_1), and the helpers read name, currency and timezone."""
    asked = [
        parse_qs(urlsplit(r.request.url or "").query).get("expansion", [""])
        for r in capture_helper_exchanges(standin)
        if (op := operation_for(r.request)) and op.operation_id == "getSuites_1"
    ]
    assert len(asked) == 5
    for (expansion,) in asked:
        assert set(expansion.split(",")) >= {"name", "currency", "timezoneZoneinfo"}


# -- (b) the stand-in's answers, called directly ------------------------------------------


def test_the_standins_happy_answers_match_the_spec(standin: StandInAdobe, token: str) -> None:
    sent = headers(standin, token)
    answers = [
        requests.get(f"{standin.url}/discovery/me", headers=headers(standin, token, None), timeout=10),
        requests.get(suites_url(standin), headers=sent, timeout=10),
        requests.get(
            suites_url(standin),
            params={"limit": "3", "page": "4", "expansion": ",".join(spec.SUITE_EXPANSIONS)},
            headers=sent,
            timeout=10,
        ),
        requests.get(
            suites_url(standin),
            params={"rsids": f"{WEB.rsid},nosuch", "rsidContains": "web", "expansion": "calendarType"},
            headers=sent,
            timeout=10,
        ),
        requests.post(reports_url(standin), json=report_body(), headers=sent, timeout=10),
        requests.post(
            reports_url(standin),
            json=report_body(
                dimension="variables/page",
                metricContainer={
                    "metrics": [
                        {"columnId": "pv", "id": "metrics/pageviews", "sort": "desc"},
                        {"columnId": "v", "id": "metrics/visits"},
                        {"columnId": "u", "id": "metrics/visitors"},
                    ]
                },
                settings={"limit": 3, "page": 1, "dimensionSort": "desc"},
            ),
            headers=sent,
            timeout=10,
        ),
    ]
    assert [a.status_code for a in answers] == [200] * len(answers)
    assert {a.request.url: problems_of(a, strict=True) for a in answers} == {
        a.request.url: [] for a in answers
    }


def post_report(standin: StandInAdobe, token: str, **change: Any) -> requests.Response:
    return requests.post(
        reports_url(standin), json={**report_body(), **change}, headers=headers(standin, token), timeout=10
    )


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"rsid": "nosuch.suite"}, id="unknown rsid"),
        pytest.param({"rsid": ACME.suites[0].rsid}, id="rsid of another company"),
        pytest.param({"metricContainer": {"metrics": [{"id": "metrics/nosuch"}]}}, id="unknown metric"),
        pytest.param(
            {
                "globalFilters": [
                    {"type": "dateRange", "dateRange": "2026-02-01T00:00:00.000/2026-01-01T00:00:00.000"}
                ]
            },
            id="date range ending before it starts",
        ),
        pytest.param({"globalFilters": []}, id="no date range"),
        pytest.param({"dimension": "variables/nosuch"}, id="unknown dimension"),
    ],
)
def test_refused_reports_answer_a_report_error_status(
    standin: StandInAdobe, token: str, change: dict[str, Any]
) -> None:
    response = post_report(standin, token, **change)
    assert response.status_code == 400
    assert problems_of(response) == []  # the request is well-formed; the answer is ReportErrorStatus


def test_a_malformed_date_range_is_refused_in_adobes_words(standin: StandInAdobe, token: str) -> None:
    response = post_report(
        standin, token, globalFilters=[{"type": "dateRange", "dateRange": "2026-02-01/2026-01-01"}]
    )
    assert response.status_code == 400
    # The request itself breaks the dateRange grammar (reports/index.md), and nothing else.
    (problem,) = check_request(response.request)
    assert "body /globalFilters/0/dateRange: '2026-02-01/2026-01-01' does not match" in problem
    assert check_response(response.request, response) == []


def test_an_unauthorized_metric_is_a_206_with_a_column_error(standin: StandInAdobe, token: str) -> None:
    response = post_report(
        standin,
        token,
        metricContainer={
            "metrics": [
                {"columnId": "0", "id": "metrics/pageviews"},
                {"columnId": "1", "id": UNAUTHORIZED_METRIC},
            ]
        },
    )
    assert response.status_code == 206
    assert problems_of(response, strict=True) == []
    errors = response.json()["columns"]["columnErrors"]
    assert [(e["columnId"], e["errorCode"]) for e in errors] == [("1", "unauthorized_metric")]


@pytest.mark.parametrize("operation", ["getSuites_1", "runReport"])
def test_a_missing_company_header_is_refused_in_adobes_words(
    standin: StandInAdobe, token: str, operation: str
) -> None:
    without = headers(standin, token, None)
    if operation == "runReport":
        response = requests.post(reports_url(standin), json=report_body(), headers=without, timeout=10)
    else:
        response = requests.get(suites_url(standin), headers=without, timeout=10)
    assert 400 <= response.status_code < 500
    assert check_request(response.request) == [
        f"{operation} request: the header x-proxy-global-company-id is missing"
    ]
    assert check_response(response.request, response) == []


def test_a_company_header_naming_another_company_is_refused(standin: StandInAdobe, token: str) -> None:
    response = requests.post(
        reports_url(standin),
        json=report_body(),
        headers=headers(standin, token, ACME.global_company_id),
        timeout=10,
    )
    assert 400 <= response.status_code < 500
    assert check_request(response.request) == [
        f"runReport request: x-proxy-global-company-id {ACME.global_company_id!r} is not the path's company "
        f"{EXAMPLE.global_company_id!r}"
    ]
    assert check_response(response.request, response) == []


def test_an_unknown_expansion_is_refused(standin: StandInAdobe, token: str) -> None:
    response = requests.get(
        suites_url(standin), params={"expansion": "name,owner"}, headers=headers(standin, token), timeout=10
    )
    assert response.status_code == 400
    request_problems = check_request(response.request)
    assert len(request_problems) == 1
    assert "query expansion" in request_problems[0]
    assert "'owner'" in request_problems[0]
    assert check_response(response.request, response) == []


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "x"}, {"page": "-1"}])
def test_bad_paging_is_refused_in_adobes_words(
    standin: StandInAdobe, token: str, params: dict[str, str]
) -> None:
    response = requests.get(suites_url(standin), params=params, headers=headers(standin, token), timeout=10)
    assert response.status_code == 400
    assert len(check_request(response.request)) == 1
    assert check_response(response.request, response) == []


@pytest.mark.parametrize(
    ("change", "status"),
    [
        pytest.param({"Authorization": "Bearer not-a-token-of-the-standin"}, 401, id="unknown token"),
        pytest.param({"x-api-key": "someone-else"}, 403, id="unknown API key"),
    ],
)
def test_gateway_refusals_have_the_gateways_shape(
    standin: StandInAdobe, token: str, change: dict[str, str], status: int
) -> None:
    response = requests.get(suites_url(standin), headers={**headers(standin, token), **change}, timeout=10)
    assert response.status_code == status
    assert problems_of(response) == []


def test_a_missing_api_key_is_a_403_of_the_gateway(standin: StandInAdobe, token: str) -> None:
    sent = headers(standin, token)
    del sent["x-api-key"]
    response = requests.get(suites_url(standin), headers=sent, timeout=10)
    assert response.status_code == 403
    assert check_request(response.request) == [
        "getSuites_1 request: the required header x-api-key is missing or empty"
    ]
    assert check_response(response.request, response) == []


def test_the_rate_limit_answers_the_faqs_429() -> None:
    with StandInAdobe() as limited:  # Adobe's default limit, not lifted
        fresh = str(limited.mint_token(scope="openid AdobeID")["access_token"])
        answers = [
            requests.get(f"{limited.url}/discovery/me", headers=headers(limited, fresh, None), timeout=10)
            for _ in range(13)
        ]
    assert [a.status_code for a in answers] == [200] * 12 + [429]
    assert problems_of(answers[-1]) == []
    assert answers[-1].json() == {"error_code": "429050", "message": "Too many requests"}


# -- the checker catches what it should ------------------------------------------------------

BASE = "https://analytics.adobe.io"
GOOD_HEADERS = {
    "Authorization": "Bearer abc.def-ghi_jkl",
    "x-api-key": "client",
    "x-proxy-global-company-id": "co0",
}
GOOD_BODY: dict[str, Any] = {
    "rsid": "suite",
    "globalFilters": [{"type": "dateRange", "dateRange": "2026-01-01T00:00:00.000/2026-02-01T00:00:00.000"}],
    "metricContainer": {"metrics": [{"columnId": "0", "id": "metrics/pageviews"}]},
    "dimension": "variables/daterangeday",
    "settings": {"limit": 10, "page": 0, "dimensionSort": "asc"},
}
GOOD_REPORT: dict[str, Any] = {
    "totalPages": 1,
    "firstPage": True,
    "lastPage": True,
    "numberOfElements": 1,
    "number": 0,
    "totalElements": 1,
    "columns": {"dimension": {"id": "variables/daterangeday", "type": "time"}, "columnIds": ["0"]},
    "rows": [{"itemId": "1260001", "value": "Jan 1, 2026", "data": [12.0]}],
    "summaryData": {"filteredTotals": [12], "totals": [12]},
}
GOOD_PAGE: dict[str, Any] = {
    "content": [{"rsid": "suite", "name": "Suite"}],
    "totalElements": 1,
    "totalPages": 1,
    "number": 0,
    "size": 10,
    "numberOfElements": 1,
    "firstPage": True,
    "lastPage": True,
}


def prepared(
    method: str = "POST",
    path: str = "/api/co0/reports",
    *,
    headers: dict[str, str] | None = None,
    body: Any = GOOD_BODY,
    params: Any = None,
) -> requests.PreparedRequest:
    return requests.Request(
        method,
        BASE + path,
        headers=GOOD_HEADERS if headers is None else headers,
        json=body if method == "POST" else None,
        params=params,
    ).prepare()


def answer(status: int, body: Any, content_type: str = "application/json") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response.headers["Content-Type"] = content_type
    return response


def test_the_derived_schemas_are_valid_json_schema() -> None:
    schemas = [
        getattr(spec, name) for name in dir(spec) if name.isupper() and isinstance(getattr(spec, name), dict)
    ]
    for operation in spec.OPERATIONS:
        schemas += [*operation.responses.values(), operation.other_errors]
        schemas += [p.schema for p in operation.query.values()]
        if operation.body is not None:
            schemas += [operation.body, spec.closed(operation.body)]
    assert len(schemas) > 30
    for schema in schemas:
        Draft7Validator.check_schema(schema)


def test_a_conforming_exchange_has_no_problems() -> None:
    assert check_exchange(prepared(), answer(200, GOOD_REPORT), strict=True) == []
    suites = prepared("GET", "/api/co0/reportsuites/collections/suites", params={"limit": 5, "page": 2})
    assert check_exchange(suites, answer(200, GOOD_PAGE)) == []
    me = prepared("GET", "/discovery/me", headers={k: v for k, v in GOOD_HEADERS.items() if "proxy" not in k})
    body = {"imsUserId": "u@AdobeID", "imsOrgs": [{"imsOrgId": "o@AdobeOrg", "companies": []}]}
    assert check_exchange(me, answer(200, body)) == []


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        pytest.param(
            prepared(path="/api/co0/report"), "no operation of the spec has this path", id="unknown path"
        ),
        pytest.param(prepared("GET", body=None), "the spec has only POST here", id="wrong method"),
        pytest.param(
            prepared(headers={k: v for k, v in GOOD_HEADERS.items() if k != "x-api-key"}),
            "the required header x-api-key is missing",
            id="no x-api-key",
        ),
        pytest.param(
            prepared(headers={k: v for k, v in GOOD_HEADERS.items() if k != "Authorization"}),
            "the required header Authorization is missing",
            id="no Authorization",
        ),
        pytest.param(
            prepared(headers={**GOOD_HEADERS, "Authorization": "Token abc"}),
            "Authorization is not 'Bearer <token>'",
            id="not Bearer",
        ),
        pytest.param(
            prepared(headers={**GOOD_HEADERS, "Authorization": "Bearer "}),
            "Authorization is not 'Bearer <token>'",
            id="Bearer without a token",
        ),
        pytest.param(
            prepared(headers={k: v for k, v in GOOD_HEADERS.items() if "proxy" not in k}),
            "x-proxy-global-company-id is missing",
            id="no company header",
        ),
        pytest.param(
            prepared(headers={**GOOD_HEADERS, "x-proxy-global-company-id": "other0"}),
            "'other0' is not the path's company 'co0'",
            id="another company",
        ),
        pytest.param(
            prepared(params={"rsid": "suite"}),
            "the query parameter 'rsid' is not in the spec",
            id="unknown query",
        ),
        pytest.param(
            prepared(body={**GOOD_BODY, "globalFilters": [{"type": "daterange", "dateRange": "td-7d/td"}]}),
            "/globalFilters/0/type: 'daterange' is not one of",
            id="filter type outside the enum",
        ),
        pytest.param(
            prepared(body={**GOOD_BODY, "globalFilters": [{"type": "dateRange", "dateRange": "last week"}]}),
            "/globalFilters/0/dateRange: 'last week' does not match",
            id="date range outside the grammar",
        ),
        pytest.param(
            prepared(body={**GOOD_BODY, "settings": {"limit": "10"}}),
            "/settings/limit: '10' is not of type 'integer'",
            id="limit as text",
        ),
        pytest.param(
            prepared(body={**GOOD_BODY, "settings": {"page": 2**31}}),
            "/settings/page: 2147483648 is greater than the maximum",
            id="page beyond int32",
        ),
        pytest.param(
            prepared(body={**GOOD_BODY, "metricContainer": {"metrics": {"id": "metrics/pageviews"}}}),
            "/metricContainer/metrics: {'id': 'metrics/pageviews'} is not of type 'array'",
            id="metrics not a list",
        ),
        pytest.param(prepared(body=[GOOD_BODY]), "body (top): [", id="body not an object"),
        pytest.param(
            prepared("GET", "/api/co0/reportsuites/collections/suites", params={"expansion": "name,owner"}),
            "query expansion (top): 'owner' is not one of",
            id="expansion outside the enum",
        ),
        pytest.param(
            prepared(
                "GET",
                "/api/co0/reportsuites/collections/suites",
                params=[("expansion", "name"), ("expansion", "currency")],
            ),
            "'expansion' is sent 2 times, not once, its items joined by commas",
            id="expansion exploded",
        ),
        pytest.param(
            prepared("GET", "/api/co0/reportsuites/collections/suites", params={"limit": "ten"}),
            "query limit (top): 'ten' does not match",
            id="limit not a number",
        ),
        pytest.param(
            prepared("GET", "/api/co0/reportsuites/collections/suites", params={"pageSize": "5"}),
            "the query parameter 'pageSize' is not in the spec",
            id="unknown suites query",
        ),
    ],
)
def test_the_checker_reports_bad_requests(request_: requests.PreparedRequest, expected: str) -> None:
    found = check_request(request_)
    assert any(expected in p for p in found), found


def test_the_checker_wants_json_sent_as_json() -> None:
    sent = prepared()
    sent.headers["Content-Type"] = "text/plain"
    assert check_request(sent) == ["runReport request: Content-Type 'text/plain' is not application/json"]


def test_strict_checking_refuses_undeclared_request_members() -> None:
    typo = {**GOOD_BODY, "metricsContainer": GOOD_BODY["metricContainer"]}
    assert check_request(prepared(body=typo)) == []  # the spec allows members it does not declare
    assert any(
        "'metricsContainer' was unexpected" in p for p in check_request(prepared(body=typo), strict=True)
    )
    nested = {**GOOD_BODY, "settings": {"limt": 5}}
    assert any(
        "/settings: " in p and "'limt'" in p for p in check_request(prepared(body=nested), strict=True)
    )


def _report_with(**change: Any) -> dict[str, Any]:
    return {**GOOD_REPORT, **change}


@pytest.mark.parametrize(
    ("request_", "response", "expected"),
    [
        pytest.param(
            prepared(),
            answer(400, {"errorCode": "invalid_rsid", "errorDescription": "no"}),
            "/errorCode: 'invalid_rsid' is not one of",
            id="error code outside ReportErrorStatus",
        ),
        pytest.param(
            prepared(),
            answer(400, {"errorDescription": "no"}),
            "'errorCode' is a required property",
            id="no error code",
        ),
        pytest.param(
            prepared(),
            answer(200, _report_with(rows=[{"itemId": "1", "value": "a", "data": ["12"]}])),
            "/rows/0/data/0: '12' is not of type 'number'",
            id="row data as text",
        ),
        pytest.param(
            prepared(),
            answer(200, _report_with(rows=[{"itemId": "1", "value": "a", "data": [1, 2]}])),
            "/rows/0/data: 2 numbers for 1 columns",
            id="row data for another number of columns",
        ),
        pytest.param(
            prepared(),
            answer(200, _report_with(summaryData={})),
            "'totals' is a required property",
            id="no totals",
        ),
        pytest.param(
            prepared(),
            answer(206, GOOD_REPORT),
            "'columnErrors' is a required property",
            id="206 without errors",
        ),
        pytest.param(
            prepared(),
            answer(
                206,
                _report_with(
                    columns={
                        **GOOD_REPORT["columns"],
                        "columnErrors": [{"columnId": "0", "errorCode": "denied"}],
                    }
                ),
            ),
            "/columns/columnErrors/0/errorCode: 'denied' is not one of",
            id="column error code outside RankedColumnError",
        ),
        pytest.param(
            prepared(),
            answer(
                200,
                _report_with(
                    columns={
                        **GOOD_REPORT["columns"],
                        "columnErrors": [{"columnId": "0", "errorCode": "unauthorized_metric"}],
                    }
                ),
            ),
            "/columns/columnErrors: [",
            id="200 with column errors",
        ),
        pytest.param(
            prepared(),
            answer(200, _report_with(columns={"dimension": {"id": "x", "type": "date"}, "columnIds": ["0"]})),
            "/columns/dimension/type: 'date' is not one of",
            id="dimension type outside ReportDimension",
        ),
        pytest.param(prepared(), answer(201, GOOD_REPORT), "gives no HTTP 201 answer", id="undeclared 2xx"),
        pytest.param(
            prepared(),
            answer(200, b"<html>", "text/html"),
            "Content-Type 'text/html' is not application/json",
            id="html",
        ),
        pytest.param(
            prepared(), answer(200, b"{", "application/json"), "the body is not JSON", id="not JSON"
        ),
        pytest.param(
            prepared(),
            answer(429, {"error_code": "429000", "message": "slow down"}),
            "/error_code: '429000' is not one of ['429050']",
            id="429 with another code",
        ),
        pytest.param(
            prepared(),
            answer(403, {"error_code": "401013", "message": "Oauth token is not valid"}),
            "'401013' does not start with the status 403",
            id="gateway code of another status",
        ),
        pytest.param(
            prepared(),
            answer(403, {"error": "forbidden"}),
            "is not valid under any of the given schemas",
            id="unknown error shape",
        ),
        pytest.param(
            prepared("GET", "/api/co0/reportsuites/collections/suites"),
            answer(200, [{"rsid": "suite"}]),
            "(top): [{'rsid': 'suite'}] is not of type 'object'",
            id="suites as a bare list (the guide's example)",
        ),
        pytest.param(
            prepared("GET", "/api/co0/reportsuites/collections/suites"),
            answer(200, {**GOOD_PAGE, "content": [{"name": "no rsid"}]}),
            "/content/0: 'rsid' is a required property",
            id="suite without rsid",
        ),
        pytest.param(
            prepared("GET", "/api/co0/reportsuites/collections/suites"),
            answer(200, {**GOOD_PAGE, "content": [{"rsid": "s", "calendarType": {"type": "LUNAR"}}]}),
            "/content/0/calendarType/type: 'LUNAR' is not one of",
            id="calendar type outside CalendarSettings",
        ),
        pytest.param(
            prepared("GET", "/discovery/me", headers={"Authorization": "Bearer t", "x-api-key": "k"}),
            answer(200, {"imsUserId": "u@AdobeID"}),
            "'imsOrgs' is a required property",
            id="discovery without orgs",
        ),
        pytest.param(
            prepared("GET", "/discovery/me", headers={"Authorization": "Bearer t", "x-api-key": "k"}),
            answer(
                200, {"imsUserId": "u", "imsOrgs": [{"imsOrgId": "o", "companies": [{"companyName": "C"}]}]}
            ),
            "/imsOrgs/0/companies/0: 'globalCompanyId' is a required property",
            id="company without id",
        ),
    ],
)
def test_the_checker_reports_bad_answers(
    request_: requests.PreparedRequest, response: requests.Response, expected: str
) -> None:
    assert check_request(request_) == []
    found = check_response(request_, response)
    assert any(expected in p for p in found), found


# -- the transcription against Adobe's files (opt-in) ------------------------------------------


@pytest.fixture
def adobe_spec_files() -> Iterator[dict[str, Any]]:
    """Adobe's two spec files at the recorded commit, from a clone of AdobeDocs/analytics-2.0-apis
    named by ``ADOBE_SPEC_REPO`` (the test is skipped without one)."""
    repo = os.environ.get("ADOBE_SPEC_REPO")
    if not repo:
        pytest.skip("set ADOBE_SPEC_REPO to a clone of AdobeDocs/analytics-2.0-apis")

    def show(path: str) -> Any:
        out = subprocess.run(
            ["git", "-C", repo, "show", f"{spec.SPEC_COMMIT}:{path}"],
            capture_output=True,
            check=True,
            timeout=60,
        )
        return json.loads(out.stdout)

    yield {"swagger": show("static/swagger.json"), "suites": show("static/report-suites.json")}


def test_the_enums_are_adobes(adobe_spec_files: dict[str, Any]) -> None:
    definitions = adobe_spec_files["swagger"]["definitions"]
    schemas = adobe_spec_files["suites"]["components"]["schemas"]

    def enum(schema: dict[str, Any], member: str) -> list[str]:
        return list(schema["properties"][member]["enum"])

    assert enum(definitions["ReportErrorStatus"], "errorCode") == list(spec.REPORT_ERROR_CODES)
    assert enum(definitions["RankedColumnError"], "errorCode") == list(spec.COLUMN_ERROR_CODES)
    assert enum(definitions["ReportFilter"], "type") == list(spec.FILTER_TYPES)
    assert enum(definitions["ReportDimension"], "type") == list(spec.DIMENSION_TYPES)
    assert enum(schemas["CalendarSettings"], "type") == list(spec.CALENDAR_TYPES)
    suites = adobe_spec_files["suites"]["paths"]["/{globalCompanyId}/reportsuites/collections/suites"]["get"]
    expansion = next(p for p in suites["parameters"] if p.get("name") == "expansion")
    assert expansion["schema"]["items"]["enum"] == list(spec.SUITE_EXPANSIONS)
    # Every member Adobe declares is declared here, with the same JSON type.
    for name, ours in [
        ("RankedRequest", spec.RANKED_REQUEST),
        ("ReportFilter", spec.REPORT_FILTER),
        ("RankedSettings", spec.RANKED_SETTINGS),
        ("ReportMetric", spec.REPORT_METRIC),
        ("RankedReportData", spec.RANKED_REPORT_DATA),
        ("Row", spec.ROW),
        ("RankedColumnError", spec.RANKED_COLUMN_ERROR),
        ("ReportErrorStatus", spec.REPORT_ERROR_STATUS),
    ]:
        theirs = definitions[name]["properties"]
        assert set(theirs) <= set(ours["properties"]), name
        for member, declared in theirs.items():
            if "type" in declared and "type" in ours["properties"][member]:
                assert declared["type"] == ours["properties"][member]["type"], (name, member)
    assert set(schemas["Suite"]["properties"]) == set(spec.SUITE["properties"])
