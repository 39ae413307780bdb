"""Our side of Adobe's rate limit (``api_rate_limit``, ``flask_adobe_oauth.ratelimit``).

Adobe's Analytics 2.0 FAQ: 12 requests every 6 seconds per user, then 429
``{"error_code":"429050"}``. The stand-in enforces exactly that on its own
clock; here that clock and our limiter's are one stopped clock
(``one_clock``) that moves only when our limiter waits, so each test sees
what Adobe would see in real time without sleeping.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from flask import Flask, jsonify, request

from flask_adobe_oauth import ConfigurationError, ProviderError, RateLimited, adobe, adobe_login_required
from flask_adobe_oauth.config import resolve
from flask_adobe_oauth.ratelimit import RateLimiter
from flask_adobe_oauth.testing import StandInAdobe, login_as

from .helpers import SharedClock, api_calls, limiter_clock, make_app, one_clock

COMPANY = "exampl0"
SUITES = f"/api/{COMPANY}/reportsuites/collections/suites"


def app_calling_adobe(standin: StandInAdobe, **options: Any) -> Flask:
    """An app whose ``/calls/<n>`` makes ``n`` Analytics calls as the user, and
    ``/userinfo/<n>`` as many userinfo calls; each answers the statuses it got."""
    app = make_app(standin, **options)

    @app.get("/calls/<int:n>")
    @adobe_login_required
    def calls(n: int) -> Any:
        statuses = []
        timeout = request.args.get("timeout", type=float)
        for _ in range(n):
            try:
                response = adobe.session.get(
                    SUITES, headers={"x-proxy-global-company-id": COMPANY}, timeout=timeout
                )
                statuses.append(response.status_code)
            except RateLimited as exc:
                statuses.append(f"RateLimited {exc.retry_after:.2f}: {exc}")
                break
            except ProviderError as exc:
                statuses.append(f"ProviderError: {exc}")
                break
        return jsonify(statuses)

    @app.get("/userinfo/<int:n>")
    @adobe_login_required
    def userinfo(n: int) -> Any:
        return jsonify([adobe.session.get("/ims/userinfo/v2").status_code for _ in range(n)])

    return app


# -- the limiter alone ------------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SharedClock:
    return limiter_clock(monkeypatch)


def test_twelve_calls_go_at_once_and_the_thirteenth_waits_one_window(clock: SharedClock) -> None:
    limiter = RateLimiter(12, 6.0, max_wait=7.0, slack=0.25)
    assert [limiter.acquire("ada", "x") for _ in range(12)] == [0.0] * 12
    assert limiter.acquire("ada", "x") == pytest.approx(6.25)
    assert clock.waits == [pytest.approx(6.25)]
    # The window slides: the next 11 slots opened with the 13th call's.
    assert [limiter.acquire("ada", "x") for _ in range(11)] == [0.0] * 11
    assert limiter.acquire("ada", "x") == pytest.approx(6.25)


def test_the_window_slides_call_by_call(clock: SharedClock) -> None:
    limiter = RateLimiter(3, 6.0, max_wait=10.0, slack=0.0)
    for _ in range(3):
        limiter.acquire("ada", "x")
        clock.now += 1.0  # calls at 0, 1 and 2 s
    assert clock.now == 1_000_003.0
    assert limiter.acquire("ada", "x") == pytest.approx(3.0)  # the call of 0 s leaves at 6 s
    assert limiter.acquire("ada", "x") == pytest.approx(1.0)  # the call of 1 s leaves at 7 s


def test_a_call_stays_in_the_window_for_the_slack_too(clock: SharedClock) -> None:
    """Adobe counts a call when it arrives, a network hop after it left here."""
    limiter = RateLimiter(3, 6.0, max_wait=10.0, slack=0.25)
    for _ in range(3):
        limiter.acquire("ada", "x")
    clock.now += 6.1  # past Adobe's 6 s since they left, not since they arrived
    assert limiter.acquire("ada", "x") == pytest.approx(0.15)


def test_each_user_has_a_window_of_their_own(clock: SharedClock) -> None:
    limiter = RateLimiter(2, 6.0, max_wait=0.0)
    for user in ("ada", "grace", "linus"):
        assert [limiter.acquire(user, "x") for _ in range(2)] == [0.0, 0.0]
    with pytest.raises(RateLimited):
        limiter.acquire("ada", "x")


def test_a_call_that_would_wait_too_long_is_refused_at_once_and_takes_no_slot(clock: SharedClock) -> None:
    limiter = RateLimiter(2, 6.0, max_wait=1.0, slack=0.5)
    limiter.acquire("ada", "https://analytics.adobe.io/api")
    limiter.acquire("ada", "https://analytics.adobe.io/api")
    for _ in range(3):
        with pytest.raises(RateLimited) as refused:
            limiter.acquire("ada", "https://analytics.adobe.io/api")
        assert refused.value.retry_after == pytest.approx(6.5)
        assert refused.value.status_code == 429
        assert "held back" in str(refused.value) and "12" not in str(refused.value)
        assert "2 per 6 s" in str(refused.value)
    assert clock.waits == []  # refused without sleeping
    clock.now += 6.5
    assert limiter.acquire("ada", "x") == 0.0  # the refusals took no slot


def test_hold_keeps_a_users_calls_back_for_the_delay_adobe_asked(clock: SharedClock) -> None:
    limiter = RateLimiter(12, 6.0, max_wait=30.0)
    limiter.hold("ada", 20.0)
    limiter.hold("ada", 1.0)  # a shorter hold never shortens a longer one
    assert limiter.acquire("ada", "x") == pytest.approx(20.0)
    assert limiter.acquire("grace", "x") == 0.0
    assert limiter.acquire("ada", "x") == 0.0  # the hold is over


def test_concurrent_calls_never_get_more_slots_than_the_limit() -> None:
    limiter = RateLimiter(5, 3600.0, max_wait=0.0)
    start = threading.Barrier(20)
    outcomes: list[str] = []

    def call() -> None:
        start.wait()
        try:
            limiter.acquire("ada", "x")
            outcomes.append("sent")
        except RateLimited:
            outcomes.append("held back")

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["held back"] * 15 + ["sent"] * 5


def test_it_remembers_a_bounded_number_of_users(clock: SharedClock) -> None:
    limiter = RateLimiter(12, 6.0, max_wait=0.0, max_keys=100)
    for n in range(5_000):
        limiter.acquire(f"user{n}", "x")
    assert len(limiter._windows) <= 100
    clock.now += 60
    limiter.acquire("late", "x")
    assert len(limiter._windows) == 1  # windows that are over go first


def test_bad_settings_are_refused() -> None:
    for args in ((0, 6.0, 1.0), (12, 0.0, 1.0), (12, 6.0, -1.0)):
        with pytest.raises(ValueError):
            RateLimiter(*args)


# -- the setting --------------------------------------------------------------------------------------


def resolved(standin: StandInAdobe, provider: str = "ims", **options: Any) -> Any:
    return resolve(options, {**standin.config(provider)})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, (12, 6.0)),
        ((10, 5), (10, 5.0)),
        ([3, 1.5], (3, 1.5)),
        ("12/6", (12, 6.0)),
        (" 6 / 6 ", (6, 6.0)),
        (False, None),
        ("off", None),
        ("none", None),
    ],
)
def test_api_rate_limit_values(standin: StandInAdobe, given: Any, expected: Any) -> None:
    assert resolved(standin, api_rate_limit=given).api_rate_limit == expected


@pytest.mark.parametrize(
    "given", [(0, 6), (12, 0), (12, -1), "12", "a/b", "12/6/1", True, 12, (12,), "12/1e9"]
)
def test_bad_api_rate_limit_values_fail_at_start_up(standin: StandInAdobe, given: Any) -> None:
    with pytest.raises(ConfigurationError, match="ADOBE_OAUTH_API_RATE_LIMIT"):
        resolved(standin, api_rate_limit=given)


def test_the_legacy_preset_has_no_limit_of_ours(standin: StandInAdobe) -> None:
    assert resolved(standin, "legacy").api_rate_limit is None
    assert resolved(standin, "legacy", api_rate_limit="5/1").api_rate_limit == (5, 1.0)


def test_api_rate_wait_must_not_be_negative(standin: StandInAdobe) -> None:
    assert resolved(standin).api_rate_wait == 7.0
    with pytest.raises(ConfigurationError, match="ADOBE_OAUTH_API_RATE_WAIT"):
        resolved(standin, api_rate_wait=-1)


# -- through adobe.session, against the stand-in ----------------------------------------------------


def test_thirty_calls_in_one_request_all_pass_and_adobe_never_says_429(
    standin: StandInAdobe, seen: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = one_clock(standin, monkeypatch)
    client = app_calling_adobe(standin).test_client()
    login_as(client)
    seen.clear()
    assert client.get("/calls/30").json == [200] * 30
    assert len(api_calls(seen)) == 30
    # Calls 13 and 25 each waited for the window to slide.
    assert clock.waits == [pytest.approx(6.25), pytest.approx(6.25)]


def test_without_our_limit_the_thirteenth_call_meets_adobes_429(
    standin: StandInAdobe, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = one_clock(standin, monkeypatch)
    client = app_calling_adobe(standin, api_rate_limit=False).test_client()
    login_as(client)
    statuses = client.get("/calls/13").json
    assert statuses[:12] == [200] * 12
    assert statuses[12].startswith("RateLimited 6.00: Adobe rate-limited") and "429050" in statuses[12]
    assert clock.waits == []


def test_a_call_over_api_rate_wait_is_held_back_without_reaching_adobe(
    standin: StandInAdobe, seen: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    one_clock(standin, monkeypatch)
    client = app_calling_adobe(standin, api_rate_wait=0).test_client()
    login_as(client)
    seen.clear()
    statuses = client.get("/calls/13").json
    assert statuses[:12] == [200] * 12
    assert statuses[12].startswith("RateLimited 6.25: the call to") and "held back" in statuses[12]
    assert len(api_calls(seen)) == 12  # the 13th never left


def test_users_do_not_share_a_budget(standin: StandInAdobe, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = one_clock(standin, monkeypatch)
    app = app_calling_adobe(standin, api_rate_wait=0)
    ada, grace = app.test_client(), app.test_client()
    login_as(ada)
    login_as(grace, user_id="grace@AdobeID")
    assert ada.get("/calls/12").json == [200] * 12
    assert grace.get("/calls/12").json == [200] * 12
    assert clock.waits == []


def test_after_adobes_429_the_users_next_calls_wait_out_the_delay(
    standin: StandInAdobe, seen: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process spent the user's budget: Adobe says 429 to a call we
    thought was within it; the calls after it wait instead of hammering."""
    clock = one_clock(standin, monkeypatch)
    standin.analytics.rate_limit = (3, 6.0)  # tighter than ours: the other workers' share
    client = app_calling_adobe(standin).test_client()
    login_as(client)
    seen.clear()
    statuses = client.get("/calls/5").json
    assert statuses[:3] == [200] * 3 and statuses[3].startswith("RateLimited 6.00: Adobe rate-limited")
    assert len(api_calls(seen)) == 4
    assert client.get("/calls/1").json == [200]  # waited Adobe's 6 s (its default), then passed
    assert clock.waits == [pytest.approx(6.0)]
    assert len(api_calls(seen)) == 5


def test_sign_in_server_calls_are_not_counted(standin: StandInAdobe, monkeypatch: pytest.MonkeyPatch) -> None:
    """Userinfo is IMS's, not the Analytics API's: on the stand-in both share one
    host, yet only calls under ``api_base_url`` that are not IMS endpoints count."""
    clock = one_clock(standin, monkeypatch)
    client = app_calling_adobe(standin, api_rate_wait=0).test_client()
    login_as(client)
    assert client.get("/userinfo/30").json == [200] * 30
    assert client.get("/calls/12").json == [200] * 12
    assert clock.waits == []


# -- what review found --------------------------------------------------------------------------------


def test_the_api_is_recognised_however_its_url_is_spelt(standin: StandInAdobe) -> None:
    app = make_app(standin)
    with app.test_request_context():
        from flask_adobe_oauth.extension import get_runtime

        api = get_runtime().api
        base = standin.url  # the stand-in serves the API at its root, as analytics.adobe.io does
        host, port = base.removeprefix("http://").split(":")
        counted = [
            f"{base}{SUITES}",
            f"HTTP://{host.upper()}:{port}{SUITES}",
            f"{base}",
            f"{base}?x=1",
            f"http://{host}:{port}/discovery/me",
        ]
        assert [api.counts_against_limit(u) for u in counted] == [True] * len(counted)
        not_counted = [
            f"{base}/ims/userinfo/v2",
            f"{base}/ims/token/v3",
            f"{base}/ims/keys",
            f"http://localhost:{port}{SUITES}",  # another host name, another budget
            f"http://{host}:{int(port) + 1}{SUITES}",
            "https://analytics.adobe.io.evil.example/api",
            "not a url",
        ]
        assert [api.counts_against_limit(u) for u in not_counted] == [False] * len(not_counted)


def test_a_base_url_with_a_path_counts_only_below_it(standin: StandInAdobe) -> None:
    app = make_app(standin, api_base_url=f"{standin.url}/api")
    with app.test_request_context():
        from flask_adobe_oauth.extension import get_runtime

        api = get_runtime().api
        assert api.counts_against_limit(f"{standin.url}/api/{COMPANY}/reports")
        assert api.counts_against_limit(f"{standin.url}/api")
        assert not api.counts_against_limit(f"{standin.url}/apix/reports")
        assert not api.counts_against_limit(f"{standin.url}/discovery/me")


def test_a_429_from_a_host_a_redirect_led_to_holds_nothing(
    standin: StandInAdobe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only Adobe's API can say this user's calls must wait: a 429 with a
    Retry-After of a day from the host a redirect went to holds back nothing."""
    from flask import Flask as Other

    from flask_adobe_oauth.testing.live import QuietRequestHandler, ServerThread

    elsewhere = Other("elsewhere")
    elsewhere.add_url_rule("/busy", "busy", lambda: ("busy", 429, {"Retry-After": "86400"}))
    clock = one_clock(standin, monkeypatch)
    with ServerThread(elsewhere, request_handler=QuietRequestHandler) as other:
        standin.fail_calls(302, 1, headers={"Location": f"{other.url}/busy"}, endpoints=["api"])
        client = app_calling_adobe(standin, api_rate_wait=0).test_client()
        login_as(client)
        statuses = client.get("/calls/1").json
        assert statuses[0].startswith("RateLimited 86400.00: Adobe rate-limited")
        assert client.get("/calls/11").json == [200] * 11  # no hold: the user's calls go on (12 in all)
    assert clock.waits == []


def test_adobes_retry_after_holds_at_most_a_minute_here(clock: SharedClock) -> None:
    limiter = RateLimiter(12, 6.0, max_wait=0.0)
    limiter.hold("ada", 86400.0)
    with pytest.raises(RateLimited) as held:
        limiter.acquire("ada", "https://analytics.adobe.io/api")
    assert held.value.retry_after == pytest.approx(60.0)
    assert "Adobe answered 429 to this user's calls a moment ago" in str(held.value)
    clock.now += 60
    assert limiter.acquire("ada", "x") == 0.0
    limiter.hold("ada", float("inf"))
    with pytest.raises(RateLimited) as again:
        limiter.acquire("ada", "x")
    assert again.value.retry_after == pytest.approx(60.0)


@pytest.mark.parametrize("given", [-1, float("inf"), float("nan"), "inf", 61, True, "soon"])
def test_api_rate_wait_must_be_a_bounded_number(standin: StandInAdobe, given: Any) -> None:
    with pytest.raises(ConfigurationError, match="ADOBE_OAUTH_API_RATE_WAIT"):
        resolved(standin, api_rate_wait=given)


def test_the_wait_for_a_turn_counts_against_the_calls_own_timeout(
    standin: StandInAdobe, seen: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = one_clock(standin, monkeypatch)
    client = app_calling_adobe(standin).test_client()
    login_as(client)
    assert client.get("/calls/12").json == [200] * 12
    seen.clear()
    # timeout=2: the turn is 6.25 s away, so the call is not sent at all.
    (held,) = client.get("/calls/1?timeout=2").json
    assert held.startswith("RateLimited 6.25: the call to") and "held back" in held
    assert clock.waits == [] and api_calls(seen) == []
    # timeout=6.5: it waits its turn, and has what is left, 0.25 s, to be answered.
    standin.slow_down(0.6, endpoints=["api"])
    (late,) = client.get("/calls/1?timeout=6.5").json
    assert clock.waits == [pytest.approx(6.25)]
    assert late.startswith("ProviderError") and "did not answer within 0.25 s" in late


def test_a_timeout_that_is_not_a_finite_positive_number_is_refused_before_anything_is_sent(
    standin: StandInAdobe, seen: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue #27, 2: ``timeout=float("nan")`` (which parses from a user's
    text) compared as "not too long" with every wait, so after a 429 the call
    slept the whole hold; "inf" ended in OverflowError (a 500). Both, and a
    pair holding one, are a ValueError now, before any wait or call."""
    clock = one_clock(standin, monkeypatch)
    standin.analytics.rate_limit = (3, 6.0)
    app = app_calling_adobe(standin)

    @app.get("/timed")
    @adobe_login_required
    def timed() -> Any:
        timeout = request.args.get("timeout", type=float)
        given = (5.0, timeout) if request.args.get("pair") else timeout
        try:
            adobe.session.get(SUITES, headers={"x-proxy-global-company-id": COMPANY}, timeout=given)
        except ValueError as exc:
            return str(exc), 400
        return "sent"

    client = app.test_client()
    login_as(client)
    statuses = client.get("/calls/4").json  # Adobe's 429: this user's calls are held 6 s
    assert statuses[3].startswith("RateLimited 6.00: Adobe rate-limited")
    seen.clear()
    for text in ("nan", "inf", "-inf", "0", "-1"):
        for pair in ("", "1"):
            answer = client.get("/timed", query_string={"timeout": text, "pair": pair})
            assert answer.status_code == 400, (text, pair, answer.text)
            assert "timeout must be a finite number of seconds above 0" in answer.text
    assert clock.waits == [] and api_calls(seen) == []
    assert client.get("/timed", query_string={"timeout": "7"}).text == "sent"  # waited out the hold
    assert clock.waits == [pytest.approx(6.0)]
