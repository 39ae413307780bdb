"""The stand-in's Analytics 2.0 API over real HTTP, and the typed helpers in
``flask_adobe_oauth.analytics`` calling it through ``adobe.session``."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import requests
from flask import jsonify
from flask.testing import FlaskClient

from flask_adobe_oauth.analytics import (
    companies,
    date_range,
    page_views_by_day,
    ranked_report,
    report_suites,
)
from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.analytics import DEFAULT_COMPANIES, daily_page_views

from .helpers import login, make_app, one_clock, stored_token

EXAMPLE = DEFAULT_COMPANIES[0]
ACME = DEFAULT_COMPANIES[1]
WEB = EXAMPLE.suites[0]


def issue_token(standin: StandInAdobe) -> str:
    body = standin.state.issue_tokens(
        standin.client_id, standin.state.user, "openid AdobeID", shape="v3", issuer=standin.url
    )
    return str(body["access_token"])


def headers(
    standin: StandInAdobe, token: str, company: str | None = EXAMPLE.global_company_id
) -> dict[str, str]:
    sent = {"Authorization": f"Bearer {token}", "x-api-key": standin.client_id}
    if company:
        sent["x-proxy-global-company-id"] = company
    return sent


def report_body(
    rsid: str = WEB.rsid, start: str = "2026-01-01", end: str = "2026-01-08", **extra: Any
) -> Any:
    return {
        "rsid": rsid,
        "globalFilters": [{"type": "dateRange", "dateRange": f"{start}T00:00:00.000/{end}T00:00:00.000"}],
        "metricContainer": {"metrics": [{"id": "metrics/pageviews"}]},
        "dimension": "variables/daterangeday",
        **extra,
    }


@pytest.fixture
def token(standin: StandInAdobe) -> str:
    return issue_token(standin)


def suites_url(standin: StandInAdobe, gcid: str = EXAMPLE.global_company_id) -> str:
    return f"{standin.url}/api/{gcid}/reportsuites/collections/suites"


def reports_url(standin: StandInAdobe, gcid: str = EXAMPLE.global_company_id) -> str:
    return f"{standin.url}/api/{gcid}/reports"


# -- shapes ---------------------------------------------------------------------


def test_discovery_lists_the_users_org_and_companies(standin: StandInAdobe, token: str) -> None:
    response = requests.get(f"{standin.url}/discovery/me", headers=headers(standin, token, None), timeout=10)
    assert response.status_code == 200
    body = response.json()
    assert body["imsUserId"] == standin.state.user.sub
    assert [org["imsOrgId"] for org in body["imsOrgs"]] == [standin.state.user.org_id]
    assert body["imsOrgs"][0]["companies"] == [
        {
            "globalCompanyId": "exampl0",
            "companyName": "Example Corp",
            "apiRateLimitPolicy": "aa_api_tier10_tp",
        },
        {
            "globalCompanyId": "acmeout1",
            "companyName": "Acme Outdoor",
            "apiRateLimitPolicy": "aa_api_tier10_tp",
        },
    ]


def test_report_suites_are_paged_like_adobe(standin: StandInAdobe, token: str) -> None:
    pages = [
        requests.get(
            suites_url(standin), params={"limit": 5, "page": n}, headers=headers(standin, token), timeout=10
        ).json()
        for n in range(3)
    ]
    assert [len(p["content"]) for p in pages] == [5, 5, 3]
    assert {(p["totalElements"], p["totalPages"], p["size"]) for p in pages} == {(13, 3, 5)}
    assert [p["number"] for p in pages] == [0, 1, 2]
    assert [p["lastPage"] for p in pages] == [False, False, True]
    rsids = [s["rsid"] for p in pages for s in p["content"]]
    assert rsids == [s.rsid for s in EXAMPLE.suites]
    assert set(pages[0]["content"][0]) == {"rsid", "id"}  # no expansion asked for
    beyond = requests.get(
        suites_url(standin), params={"limit": 5, "page": 3}, headers=headers(standin, token), timeout=10
    ).json()
    assert beyond["content"] == []


def test_report_suites_default_page_size_is_ten(standin: StandInAdobe, token: str) -> None:
    body = requests.get(suites_url(standin), headers=headers(standin, token), timeout=10).json()
    assert (len(body["content"]), body["totalPages"], body["number"]) == (10, 2, 0)


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "x"}, {"page": "-1"}, {"limit": "1001"}])
def test_bad_paging_parameters_are_a_400(standin: StandInAdobe, token: str, params: dict[str, str]) -> None:
    response = requests.get(suites_url(standin), params=params, headers=headers(standin, token), timeout=10)
    assert response.status_code == 400
    assert response.json()["errorCode"] == "invalid_parameters"


def test_daterangeday_report_has_one_row_per_day(standin: StandInAdobe, token: str) -> None:
    response = requests.post(
        reports_url(standin),
        json=report_body(settings={"dimensionSort": "asc"}),
        headers=headers(standin, token),
        timeout=10,
    )
    assert response.status_code == 200
    body = response.json()
    days = [date(2026, 1, d) for d in range(1, 8)]
    assert [r["itemId"] for r in body["rows"]] == [f"12600{d.day:02d}" for d in days]
    assert [r["value"] for r in body["rows"]] == [f"Jan {d.day}, 2026" for d in days]
    assert [r["data"] for r in body["rows"]] == [[daily_page_views(WEB, d)] for d in days]
    assert body["summaryData"]["totals"] == [sum(daily_page_views(WEB, d) for d in days)]
    assert body["totalElements"] == 7


def test_report_rows_are_ranked_by_the_metric_unless_sorted(standin: StandInAdobe, token: str) -> None:
    body = requests.post(
        reports_url(standin), json=report_body(), headers=headers(standin, token), timeout=10
    ).json()
    values = [r["data"][0] for r in body["rows"]]
    assert values == sorted(values, reverse=True)
    assert len(set(values)) > 1


def test_report_data_is_deterministic_per_suite_and_range(standin: StandInAdobe, token: str) -> None:
    def run(rsid: str, start: str, end: str) -> Any:
        return requests.post(
            reports_url(standin),
            json=report_body(rsid, start, end, settings={"dimensionSort": "asc"}),
            headers=headers(standin, token),
            timeout=10,
        ).json()

    first = run(WEB.rsid, "2026-03-01", "2026-04-01")
    assert run(WEB.rsid, "2026-03-01", "2026-04-01") == first
    with StandInAdobe() as other:  # another server, same numbers
        again = requests.post(
            reports_url(other),
            json=report_body(WEB.rsid, "2026-03-01", "2026-04-01", settings={"dimensionSort": "asc"}),
            headers=headers(other, issue_token(other)),
            timeout=10,
        ).json()
    assert again["rows"] == first["rows"]
    assert len(first["rows"]) == 31
    assert run(EXAMPLE.suites[1].rsid, "2026-03-01", "2026-04-01")["rows"] != first["rows"]
    assert run(WEB.rsid, "2026-03-10", "2026-03-12")["rows"] == first["rows"][9:11]


def test_report_limit_and_page_settings(standin: StandInAdobe, token: str) -> None:
    body = requests.post(
        reports_url(standin),
        json=report_body(start="2026-01-01", end="2026-03-02", settings={"dimensionSort": "asc"}),
        headers=headers(standin, token),
        timeout=10,
    ).json()
    assert (len(body["rows"]), body["totalElements"], body["totalPages"]) == (50, 60, 2)
    second = requests.post(
        reports_url(standin),
        json=report_body(start="2026-01-01", end="2026-03-02", settings={"dimensionSort": "asc", "page": 1}),
        headers=headers(standin, token),
        timeout=10,
    ).json()
    assert second["rows"][0]["value"] == "Feb 20, 2026"
    assert len(second["rows"]) == 10


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"rsid": "acme.global"}, "invalid_parameters"),
        ({"globalFilters": []}, "invalid_parameters"),
        (
            {"globalFilters": [{"type": "dateRange", "dateRange": "2026-02-01/2026-01-01"}]},
            "invalid_parameters",
        ),
        (
            {
                "globalFilters": [
                    {"type": "dateRange", "dateRange": "2026-02-01T00:00:00.000/2026-01-01T00:00:00.000"}
                ]
            },
            "invalid_parameters",
        ),
        ({"metricContainer": {"metrics": [{"id": "metrics/nonexistent"}]}}, "invalid_parameters"),
        ({"dimension": "variables/evar1"}, "invalid_parameters"),
    ],
)
def test_bad_report_requests_are_a_400(
    standin: StandInAdobe, token: str, change: dict[str, Any], code: str
) -> None:
    response = requests.post(
        reports_url(standin), json={**report_body(), **change}, headers=headers(standin, token), timeout=10
    )
    assert response.status_code == 400
    assert response.json()["errorCode"] == code


# -- what the gateway checks ------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer unknown-token", "Basic abc"])
def test_a_missing_or_unknown_token_is_401013(standin: StandInAdobe, authorization: str | None) -> None:
    sent = {"x-api-key": standin.client_id}
    if authorization is not None:
        sent["Authorization"] = authorization
    response = requests.get(f"{standin.url}/discovery/me", headers=sent, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"error_code": "401013", "message": "Oauth token is not valid"}


def test_an_expired_or_revoked_token_is_401013(standin: StandInAdobe) -> None:
    expired, revoked = issue_token(standin), issue_token(standin)
    standin.expire_access_tokens()
    fresh = issue_token(standin)
    standin.state.revoke(revoked)
    for value, status in ((expired, 401), (revoked, 401), (fresh, 200)):
        response = requests.get(suites_url(standin), headers=headers(standin, value), timeout=10)
        assert response.status_code == status
    response = requests.post(
        reports_url(standin), json=report_body(), headers=headers(standin, expired), timeout=10
    )
    assert response.json()["error_code"] == "401013"


@pytest.mark.parametrize(("api_key", "code"), [(None, "403000"), ("someone-else", "403003")])
def test_the_api_key_must_be_a_known_client(
    standin: StandInAdobe, token: str, api_key: str | None, code: str
) -> None:
    sent = headers(standin, token)
    del sent["x-api-key"]
    if api_key:
        sent["x-api-key"] = api_key
    response = requests.get(suites_url(standin), headers=sent, timeout=10)
    assert response.status_code == 403
    assert response.json()["error_code"] == code


def test_the_company_header_is_required_except_on_discovery(standin: StandInAdobe, token: str) -> None:
    without = headers(standin, token, None)
    assert requests.get(f"{standin.url}/discovery/me", headers=without, timeout=10).status_code == 200
    response = requests.get(suites_url(standin), headers=without, timeout=10)
    assert (response.status_code, response.json()["errorCode"]) == (400, "invalid_request")
    response = requests.post(reports_url(standin), json=report_body(), headers=without, timeout=10)
    assert (response.status_code, response.json()["errorCode"]) == (400, "invalid_request")


def test_the_company_must_be_one_of_the_users(standin: StandInAdobe, token: str) -> None:
    response = requests.get(
        suites_url(standin, "stranger9"), headers=headers(standin, token, "stranger9"), timeout=10
    )
    assert (response.status_code, response.json()["errorCode"]) == (403, "insufficient_access")
    mismatch = requests.get(
        suites_url(standin, ACME.global_company_id), headers=headers(standin, token), timeout=10
    )
    assert mismatch.status_code == 400
    acme = requests.get(
        suites_url(standin, ACME.global_company_id),
        headers=headers(standin, token, ACME.global_company_id),
        timeout=10,
    )
    assert [s["rsid"] for s in acme.json()["content"]] == [s.rsid for s in ACME.suites]


def test_injected_faults_answer_once_then_the_api_recovers(standin: StandInAdobe, token: str) -> None:
    standin.fail_next_api(
        429, '{"error_code":"429050","message":"Too many requests"}', headers={"Retry-After": "7"}
    )
    standin.fail_next_api(500)
    first = requests.get(suites_url(standin), headers=headers(standin, token), timeout=10)
    second = requests.get(suites_url(standin), headers=headers(standin, token), timeout=10)
    third = requests.get(suites_url(standin), headers=headers(standin, token), timeout=10)
    assert (first.status_code, first.headers["Retry-After"]) == (429, "7")
    assert second.status_code == 500
    assert third.status_code == 200


# -- the typed helpers through adobe.session --------------------------------------


@pytest.fixture
def helper_client(standin: StandInAdobe) -> FlaskClient:
    """An app whose views call the helpers, logged in for real at the stand-in."""
    app = make_app(standin)

    @app.get("/helpers/companies")
    def list_companies() -> Any:
        return jsonify([c.__dict__ for c in companies()])

    @app.get("/helpers/suites/<gcid>/<int:size>")
    def list_suites(gcid: str, size: int) -> Any:
        return jsonify([s.rsid for s in report_suites(gcid, page_size=size)])

    @app.get("/helpers/views/<gcid>/<rsid>/<start>/<end>")
    def views(gcid: str, rsid: str, start: str, end: str) -> Any:
        series = page_views_by_day(gcid, rsid, date.fromisoformat(start), date.fromisoformat(end))
        return jsonify(
            days=[[d.day.isoformat(), d.page_views] for d in series.days],
            total=series.total,
            peak=series.peak.day.isoformat() if series.peak else None,
        )

    @app.get("/helpers/pages/<gcid>/<rsid>")
    def pages(gcid: str, rsid: str) -> Any:
        report = ranked_report(
            gcid,
            {
                "rsid": rsid,
                "globalFilters": [
                    {"type": "dateRange", "dateRange": date_range(date(2026, 1, 1), date(2026, 1, 31))}
                ],
                "metricContainer": {"metrics": [{"id": "metrics/pageviews"}, {"id": "metrics/visits"}]},
                "dimension": "variables/page",
            },
        )
        return jsonify(rows=[[r.value, *r.data] for r in report.rows], totals=list(report.totals))

    client = app.test_client()
    assert login(client).status_code == 302
    return client


def test_companies_helper_reads_discovery(helper_client: FlaskClient, standin: StandInAdobe) -> None:
    body = helper_client.get("/helpers/companies").json
    assert body == [
        {
            "global_company_id": "exampl0",
            "name": "Example Corp",
            "ims_org_id": standin.state.user.org_id,
            "api_rate_limit_policy": "aa_api_tier10_tp",
        },
        {
            "global_company_id": "acmeout1",
            "name": "Acme Outdoor",
            "ims_org_id": standin.state.user.org_id,
            "api_rate_limit_policy": "aa_api_tier10_tp",
        },
    ]


@pytest.mark.parametrize("size", [1, 5, 13, 100])
def test_report_suites_helper_reads_every_page(
    helper_client: FlaskClient, standin: StandInAdobe, size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 13 pages of one suite are more than Adobe's 12 calls in 6 s: the 13th
    # waits its turn (api_rate_limit), on a clock the stand-in counts in too.
    clock = one_clock(standin, monkeypatch)
    assert helper_client.get(f"/helpers/suites/exampl0/{size}").json == [s.rsid for s in EXAMPLE.suites]
    assert len(clock.waits) == (1 if size == 1 else 0)


def test_page_views_by_day_helper_gives_every_day_in_order(helper_client: FlaskClient) -> None:
    body = helper_client.get(f"/helpers/views/exampl0/{WEB.rsid}/2026-01-25/2026-02-03").json
    days = [date(2026, 1, d) for d in range(25, 32)] + [date(2026, 2, d) for d in range(1, 4)]
    assert body["days"] == [[d.isoformat(), daily_page_views(WEB, d)] for d in days]
    assert body["total"] == sum(daily_page_views(WEB, d) for d in days)
    assert body["peak"] == max(days, key=lambda d: daily_page_views(WEB, d)).isoformat()


def test_ranked_report_helper_returns_rows_and_totals(helper_client: FlaskClient) -> None:
    body = helper_client.get(f"/helpers/pages/exampl0/{WEB.rsid}").json
    assert body["rows"][0][0] == "Home"
    assert all(len(row) == 3 for row in body["rows"])
    assert [r[1] for r in body["rows"]] == sorted((r[1] for r in body["rows"]), reverse=True)
    assert body["totals"][0] == sum(daily_page_views(WEB, date(2026, 1, d)) for d in range(1, 32))


def test_helpers_turn_adobe_failures_into_typed_errors(
    helper_client: FlaskClient, standin: StandInAdobe, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = one_clock(standin, monkeypatch)
    standin.fail_next_api(500, '{"errorCode":"server_error"}')
    failed = helper_client.get("/helpers/companies", headers={"Accept": "application/json"})
    assert failed.status_code == 502
    assert failed.json["error"] == "provider_error"
    assert "HTTP 500 (server_error)" in failed.json["message"]
    standin.fail_next_api(200, '{"content": 5}')
    odd = helper_client.get("/helpers/suites/exampl0/5", headers={"Accept": "application/json"})
    assert odd.status_code == 502
    assert "content" in odd.json["message"]
    standin.fail_next_api(429, "{}", headers={"Retry-After": "3"})
    limited = helper_client.get("/helpers/companies", headers={"Accept": "application/json"})
    assert (limited.status_code, limited.json["error"], limited.headers["Retry-After"]) == (
        429,
        "rate_limited",
        "3",
    )
    assert clock.waits == []
    assert helper_client.get("/helpers/companies").status_code == 200
    assert clock.waits == [pytest.approx(3.0)]  # the next call waited out Adobe's Retry-After


def test_helpers_never_put_the_token_in_an_error(helper_client: FlaskClient, standin: StandInAdobe) -> None:
    access = stored_token(helper_client)["a"]
    standin.fail_next_api(503, "upstream down", content_type="text/plain")
    failed = helper_client.get("/helpers/companies", headers={"Accept": "application/json"})
    assert failed.status_code == 502
    assert access not in failed.get_data(as_text=True)
