"""Adobe's refusals on the Analytics 2.0 side, held to Adobe's published docs
(AdobeDocs/analytics-2.0-apis), over real HTTP against the stand-in: the
error shapes (the gateway's ``error_code``/``message``, the API's
``errorCode``/``errorDescription``/``errorId`` from swagger.json
``ReportErrorStatus``), 401013 and 403025, the codes of the swagger enum,
the rate limit of 12 calls every 6 seconds per user (Analytics 2.0 FAQ), and
how the demo dashboard stays within it. What Adobe's answers hold is in
``test_analytics_adobe.py``."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from flask_adobe_oauth import ProviderError
from flask_adobe_oauth.analytics import (
    AnalyticsError,
    NoAnalyticsProfile,
    adobe_error_fields,
)
from flask_adobe_oauth.testing import StandInAdobe, login_as
from flask_adobe_oauth.testing.analytics import (
    DEFAULT_COMPANIES,
    ERROR_CODES,
    AnalyticsControls,
)

from .helpers import api_calls, dashboard, freeze, is_uuid, login, one_clock, page
from .test_analytics_standin import headers, issue_token, report_body, reports_url, suites_url

EXAMPLE = DEFAULT_COMPANIES[0]
WEB = EXAMPLE.suites[0]
WEEK = {"from": "2026-01-05", "to": "2026-01-11"}
JSON = {"Accept": "application/json"}
TOO_MANY = {"error_code": "429050", "message": "Too many requests"}


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
    analytics_client: FlaskClient, standin: StandInAdobe
) -> None:
    freeze(standin)
    token = issue_token(standin)
    for _ in range(12):
        assert requests.get(f"{standin.url}/discovery/me", headers=headers(standin, token), timeout=10).ok
    raw = requests.get(f"{standin.url}/discovery/me", headers=headers(standin, token), timeout=10)
    assert (raw.status_code, raw.json()) == (429, TOO_MANY)
    assert "Retry-After" not in raw.headers  # Adobe documents none
    limited = analytics_client.get("/a/companies", headers=JSON)
    assert (limited.status_code, limited.json["error"]) == (429, "rate_limited")


def test_401013_after_one_refresh_means_login_again(analytics_app: Flask, standin: StandInAdobe) -> None:
    client = analytics_app.test_client()
    login(client)
    refused = '{"error_code":"401013","message":"Oauth token is not valid"}'
    standin.fail_next_api(401, refused)
    standin.fail_next_api(401, refused)
    response = client.get("/a/companies", headers=JSON)
    assert (response.status_code, response.json["error"]) == (401, "login_required")
    assert "401013" in response.json["message"]
    assert [c.grant_type for c in standin.token_calls()] == ["authorization_code", "refresh_token"]


def test_403025_is_a_profile_error_saying_an_admin_must_add_the_user(
    analytics_client: FlaskClient, standin: StandInAdobe
) -> None:
    standin.analytics.users_without_profile.add(standin.state.user.sub)
    token = issue_token(standin)
    raw = requests.get(f"{standin.url}/discovery/me", headers=headers(standin, token), timeout=10)
    assert (raw.status_code, raw.json()) == (403, {"error_code": "403025", "message": "Profile is not valid"})
    body = analytics_client.get("/a/companies").json
    assert body["type"] == "NoAnalyticsProfile" and body["code"] == "403025"
    assert (body["status"], body["status_code"]) == (403, 403)
    assert "no Adobe Analytics product profile" in body["message"]
    assert "Admin Console" in body["message"] and "403025 Profile is not valid" in body["message"]
    assert issubclass(NoAnalyticsProfile, AnalyticsError) and issubclass(AnalyticsError, ProviderError)
    standin.analytics.users_without_profile.clear()
    assert analytics_client.get("/a/companies").status_code == 200


def test_an_api_error_carries_adobes_code_and_error_id(analytics_client: FlaskClient) -> None:
    body = analytics_client.post("/a/report/exampl0", json=report_body(rsid="acme.global")).json
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


DEMO_CLICKS: list[dict[str, Any]] = (
    [WEEK]
    + [{"rsid": s.rsid, **WEEK} for s in EXAMPLE.suites[:5]]
    + [{"days": n} for n in (7, 30, 90)]
    + [{"company": "exampl0", **WEEK}]
)


def test_normal_clicking_stays_within_12_calls_in_6_seconds(standin: StandInAdobe) -> None:
    """Adobe's own 429, as the demo shows it: our limiter off (``api_rate_limit=False``)."""
    freeze(standin)  # every load below counts as within the same 6 seconds
    client = dashboard(standin, ADOBE_OAUTH_API_RATE_LIMIT=False)
    assert [client.get("/dashboard", query_string=q).status_code for q in DEMO_CLICKS] == [
        200
    ] * 10  # 12 calls
    limited = client.get("/dashboard", query_string=WEEK)
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "6"
    assert "rate-limiting requests right now. Try again in 6 seconds" in page(limited)
    assert standin.state.user.sub in page(limited)


def test_with_our_limiter_the_thirteenth_call_waits_its_turn_and_adobe_never_answers_429(
    standin: StandInAdobe, seen: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = one_clock(standin, monkeypatch)
    client = dashboard(standin)  # the IMS preset's limit: Adobe's 12 calls per 6 s
    seen.clear()
    assert [client.get("/dashboard", query_string=q).status_code for q in DEMO_CLICKS] == [200] * 10
    assert clock.waits == []  # 12 calls: within the limit, nobody waited
    start = clock.now
    again = client.get("/dashboard", query_string=WEEK)
    assert again.status_code == 200 and "data-rsid" in page(again)
    # The 13th call went out one window (and the slack for network jitter)
    # after the first, where Adobe's sliding window has room again.
    assert clock.waits == [pytest.approx(6.25)] and clock.now == pytest.approx(start + 6.25)
    assert len(api_calls(seen)) == 13  # and the stand-in, counting as Adobe does, let it through


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
