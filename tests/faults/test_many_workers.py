"""Refreshes behind several gunicorn workers and instances: no sign-in lost
to a refresh race or a failed write (#25).

Adobe rotates refresh tokens (RFC 9700 §4.14.2): once one refresh has
succeeded, the refresh token it used is refused for good. Two ways that
used to sign users out, measured under real gunicorn:

* **the cookie session on ``-w 4``**: one user's requests arrive together
  with an access token due; one worker refreshes, the others are refused,
  and if their answers (a cookie without the token) arrive last, the
  browser keeps them: signed out in 12 of 12 runs before the fix;
* **a store refusing writes** (Redis at ``maxmemory``) while tokens are
  refreshed: the store kept the rotated-away refresh tokens, and after it
  healed 6 of 8 users had to sign in again.

The stand-in issues access tokens of 63 s, which the app counts as expired
60 s early (``EXPIRY_MARGIN``): each is due for a refresh 3 s after it was
issued. Every wait is bounded.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.tokens import EXPIRY_MARGIN

from ..redis_fixture import _redis_client_fixture, _redis_url_fixture
from ..test_scale import Visit
from .load import Answer, ask, statuses
from .servers import gunicorn, lineage, record_figures, sign_in_users

__all__ = ["_redis_client_fixture", "_redis_url_fixture"]  # fixtures used by name

TOKEN_LIFETIME = 63.0
DUE = TOKEN_LIFETIME - EXPIRY_MARGIN + 0.2
ANSWER_BOUND = 20.0


def refreshes(standin: StandInAdobe) -> list[int]:
    """The statuses of the refresh calls Adobe received, in order."""
    return [c.status for c in standin.token_calls() if c.grant_type == "refresh_token"]


@pytest.mark.timeout(120)
def test_a_refresh_burst_on_four_workers_with_the_cookie_session_keeps_the_user_signed_in() -> None:
    rounds, burst = 4, 20
    with (
        StandInAdobe(rate_limit=None, access_token_lifetime=TOKEN_LIFETIME) as standin,
        gunicorn(standin, "", workers=4) as (base, _),  # no Redis: tokens in the session cookie
    ):
        visits, browsers = sign_in_users(base, range(1))
        browser, user = browsers[0], visits[0].number
        code = visits[0].code
        outcomes = []
        for _ in range(rounds):
            time.sleep(DUE)  # the access token in the cookie is due
            before = len(refreshes(standin))
            # One browser, many requests at once (tabs, a page's XHRs): the
            # cookie jar keeps the last Set-Cookie to arrive, as a browser does.
            go = threading.Barrier(burst)

            def one(_: int, go: threading.Barrier = go) -> Answer:
                go.wait(timeout=10)
                return ask(browser, f"{base}/whoami?u={user}", user, ANSWER_BOUND)

            with ThreadPoolExecutor(max_workers=burst) as pool:
                answers = list(pool.map(one, range(burst)))
            assert all(a.status in (200, 302) for a in answers), statuses(answers)
            pids = {a.pid for a in answers}
            after = ask(browser, f"{base}/whoami?u={user}", user, ANSWER_BOUND)
            made = refreshes(standin)[before:]
            outcomes.append((after.status, len(pids), made.count(200), len(made) - made.count(200)))
            # Still signed in, with a token descending from the user's own sign-in.
            assert after.status == 200, outcomes
            assert lineage(standin)[after.token_sha256 or ""] == code
            assert made.count(200) >= 1  # the due token was refreshed, by some worker
        # The race was real: requests were served by several workers at once.
        assert max(o[1] for o in outcomes) > 1, outcomes
        record_figures(
            "cookie_refresh_burst",
            {
                "workers": 4,
                "rounds": rounds,
                "burst": burst,
                "signed_in_after": sum(o[0] == 200 for o in outcomes),
            },
        )


@pytest.mark.timeout(150)
def test_redis_refusing_writes_during_refreshes_signs_nobody_out(
    redis_url: str, redis_client: redis.Redis
) -> None:
    users = 8
    policy = redis_client.config_get("maxmemory-policy")["maxmemory-policy"]
    with (
        StandInAdobe(rate_limit=None, access_token_lifetime=TOKEN_LIFETIME) as standin,
        gunicorn(standin, redis_url, workers=2) as (first, _),
        gunicorn(standin, redis_url, workers=2) as (second, _),
    ):
        visits, browsers = sign_in_users(first, range(users))
        codes = {v.number: v.code for v in visits}
        time.sleep(DUE)  # every user's access token is due
        redis_client.config_set("maxmemory-policy", "noeviction")
        redis_client.config_set("maxmemory", 1)
        try:
            with pytest.raises(redis.ResponseError):  # the server really refuses writes
                redis_client.set("many-workers:probe", "x")
            during = each_user(first, visits, browsers)
        finally:
            redis_client.config_set("maxmemory", 0)  # healed
            redis_client.config_set("maxmemory-policy", policy)
        # Adobe refreshed every token once; the store could keep none of them.
        assert refreshes(standin) == [200] * users
        assert {a.status for a in during} <= {200, 503}, statuses(during)
        # After it heals, each user's next request lands on the other instance
        # (other processes, which never saw the refresh): all still signed in.
        after = each_user(second, visits, browsers)
        assert [a.status for a in after] == [200] * users, statuses(after)
        assert refreshes(standin) == [200] * users  # no rotated-away refresh token went to Adobe
        family = lineage(standin)
        assert all(family[a.token_sha256 or ""] == codes[a.user] for a in after)
        # And the store has the new tokens: the first instance serves them too.
        again = each_user(first, visits, browsers)
        assert [a.status for a in again] == [200] * users, statuses(again)
        record_figures(
            "redis_refusing_writes_during_refreshes",
            {
                "users": users,
                "instances": "2 x 2 workers",
                "during": statuses(during),
                "signed_in_after": sum(a.status == 200 for a in after),
            },
        )


def each_user(base: str, visits: list[Visit], browsers: list[requests.Session]) -> list[Answer]:
    """One request of each user to ``/whoami`` on ``base``, a few at a time."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(
            pool.map(
                lambda pair: ask(pair[1], f"{base}/whoami?u={pair[0].number}", pair[0].number, ANSWER_BOUND),
                zip(visits, browsers, strict=True),
            )
        )
