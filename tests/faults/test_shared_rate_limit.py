"""One user's rate limit across machines: two gunicorn instances (two
"machines"), two workers each, sharing one redis-server for the tokens and
for the rate limit (``ADOBE_OAUTH_API_RATE_STORAGE``). Adobe is the
stand-in, counting each user's Analytics calls as Adobe does (12 every 6 s,
then 429050), on its own clock; every call it receives, and what it
answered, is recorded. Nothing here asserts on wall time: the checks count
calls and answers, and compare the order of events.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import redis
import requests

from flask_adobe_oauth.testing import StandInAdobe, User

from ..redis_fixture import _redis_client_fixture, _redis_url_fixture
from .load import Answer, ask, statuses
from .servers import gunicorn, record_figures, sign_in_users

__all__ = ["_redis_client_fixture", "_redis_url_fixture"]  # fixtures used by name

#: What the fault app's /api calls at Adobe (``companies()``): one counted call.
API_PATH = "/discovery/me"
LIMIT = 12  # Adobe's, per user per 6 s; the stand-in's default
ANSWER_TIMEOUT = 40.0


@dataclass(frozen=True)
class AtAdobe:
    """One API call as the stand-in saw it: when it arrived (``time.monotonic``,
    this process's clock) and what it answered."""

    arrived: float
    status: int


def record_api_calls(standin: StandInAdobe) -> list[AtAdobe]:
    """Every Analytics call the stand-in receives from now on."""
    seen: list[AtAdobe] = []
    lock = threading.Lock()
    inner = standin.app.wsgi_app

    def record(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        arrived = time.monotonic()

        def start(status: str, headers: Any, exc_info: Any = None) -> Any:
            if environ["PATH_INFO"] == API_PATH:
                with lock:
                    seen.append(AtAdobe(arrived, int(status.split()[0])))
            return start_response(status, headers, exc_info)

        return inner(environ, start)

    standin.app.wsgi_app = record
    return seen


def fire(
    bases: list[str], path: str, browser: requests.Session, user: int, count: int
) -> tuple[ThreadPoolExecutor, list[Any]]:
    """``count`` requests of one user at once, alternating between ``bases``,
    each on a connection (and a copy of the browser's cookies) of its own."""

    def one(n: int) -> Answer:
        with requests.Session() as copy:
            copy.cookies.update(browser.cookies)
            return ask(copy, f"{bases[n % len(bases)]}{path}?u={user}", user, ANSWER_TIMEOUT)

    pool = ThreadPoolExecutor(max_workers=count, thread_name_prefix="burst")
    return pool, [pool.submit(one, n) for n in range(count)]


def wait_for(condition: Callable[[], bool], limit: float) -> bool:
    until = time.monotonic() + limit
    while not condition():
        if time.monotonic() > until:
            return False
        time.sleep(0.02)
    return True


@pytest.mark.timeout(150)
def test_one_users_burst_across_two_instances_meets_no_429_at_adobe(
    redis_url: str, redis_client: redis.Redis
) -> None:
    """24 calls of one user at once, spread over 2 instances x 2 workers: the
    shared count lets 12 through at once and the rest wait their turn (at most
    ``api_rate_waiters`` a process) or are refused here; Adobe answers every
    call it receives with 200, never 429, and at least a full window passes."""
    burst = 2 * LIMIT
    options = {"ADOBE_OAUTH_API_RATE_STORAGE": redis_url}
    with (
        StandInAdobe() as standin,
        gunicorn(standin, redis_url, workers=2, threads=4, options=options) as (first, _),
        gunicorn(standin, redis_url, workers=2, threads=4, options=options) as (second, _),
    ):
        visits, browsers = sign_in_users(first, range(1))
        at_adobe = record_api_calls(standin)
        pool, futures = fire([first, second], "/api", browsers[0], visits[0].number, burst)
        with pool:
            answers: list[Answer] = [f.result(timeout=ANSWER_TIMEOUT + 30) for f in futures]
        record_figures(
            "shared_rate_limit_burst",
            {
                "instances": "2 x 2 workers x 4 threads",
                "burst": burst,
                "statuses": statuses(answers),
                "adobe_statuses": sorted({c.status for c in at_adobe}),
                "calls_at_adobe": len(at_adobe),
                "workers_answering": len({a.pid for a in answers}),
            },
        )
        assert [c.status for c in at_adobe if c.status != 200] == []  # Adobe never said 429
        served = [a for a in answers if a.status == 200]
        assert len(served) >= LIMIT  # at least a whole window admitted
        assert len(served) == len(at_adobe)  # every call sent was one of these
        refused = [a for a in answers if a.status != 200]
        assert {(a.status, a.code) for a in refused} <= {(429, "rate_limited")}, statuses(answers)
        assert len({a.pid for a in answers}) >= 3  # the burst crossed workers of both instances


@pytest.mark.timeout(150)
def test_a_flooding_user_does_not_keep_another_users_page_waiting(
    redis_url: str, redis_client: redis.Redis
) -> None:
    """One user floods the app with 36 requests that each call Adobe, on 2
    instances x 2 workers x 3 threads, the count shared, a call allowed to
    wait up to 20 s. Another user then asks for a page that calls nothing at
    Adobe. With ``api_rate_waiters`` (2 a user, a process, the default), the
    flood can hold only 2 of each worker's 3 threads waiting; the rest of it
    is refused at once, so the other user's page is answered before the
    flood's first waiting call even reaches Adobe (the 13th call). Without the
    bound every thread would be asleep in the flood and the page would be
    answered only after a wait ended."""
    flood = 36
    options = {"ADOBE_OAUTH_API_RATE_STORAGE": redis_url, "ADOBE_OAUTH_API_RATE_WAIT": 20}
    with (
        StandInAdobe() as standin,
        gunicorn(standin, redis_url, workers=2, threads=3, options=options) as (first, _),
        gunicorn(standin, redis_url, workers=2, threads=3, options=options) as (second, _),
    ):
        flooder, flooder_browsers = sign_in_users(first, range(1))
        standin.state.user = User(sub="9F8E7D6C5B4A39281706F5E4@AdobeID", email="grace@example.com")
        other, other_browsers = sign_in_users(second, range(1, 2))
        at_adobe = record_api_calls(standin)

        pool, futures = fire([first, second], "/api", flooder_browsers[0], flooder[0].number, flood)
        with pool:
            assert wait_for(lambda: len(at_adobe) >= LIMIT, 30)  # the first window went at once
            time.sleep(1.0)  # the flood settles: its next calls are asleep or refused
            pages = [
                ask(other_browsers[0], f"{base}/whoami?u={other[0].number}", other[0].number, ANSWER_TIMEOUT)
                for base in (first, second)
            ]
            # The flood's first waiting call reaches Adobe when its turn comes.
            assert wait_for(lambda: len(at_adobe) > LIMIT, 30)
            first_waited = sorted(c.arrived for c in at_adobe)[LIMIT]
            answers: list[Answer] = [f.result(timeout=ANSWER_TIMEOUT + 30) for f in futures]
        record_figures(
            "shared_rate_limit_flood",
            {
                "instances": "2 x 2 workers x 3 threads",
                "flood": flood,
                "flood_statuses": statuses(answers),
                "calls_at_adobe": len(at_adobe),
                "adobe_statuses": sorted({c.status for c in at_adobe}),
                "other_pages_answered_before_first_wait_ended": sum(p.end < first_waited for p in pages),
            },
        )
        assert [p.status for p in pages] == [200, 200]
        assert all(p.end < first_waited for p in pages)  # not queued behind the flood's waits
        assert [c.status for c in at_adobe if c.status != 200] == []
        waited = len(at_adobe) - LIMIT
        assert 0 < waited <= 4 * 2  # at most 2 waiting calls in each of the 4 processes
        assert sum(a.status == 200 for a in answers) == len(at_adobe)
        assert {(a.status, a.code) for a in answers if a.status != 200} <= {(429, "rate_limited")}
