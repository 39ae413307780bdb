"""A gunicorn worker SIGKILLed in the middle of a load of token refreshes.

``gunicorn -w 4 --threads 4`` with Redis storage; 200 users signed in with
access tokens the app must refresh 3 s later, then the token endpoint turns
slow (0.3 s a call) and every user makes a request, so that at any moment
a dozen refreshes are in flight. One worker is killed while they are. What
must hold:

* only requests already in flight at the killed worker fail (no answer);
  every request sent after the kill gets one, from the other workers;
* no answer carries another user's token (each token is traced back
  through its refreshes to the user's own sign-in);
* gunicorn's master starts a new worker in its place;
* afterwards every user is signed in with their own token, except users
  whose refresh Adobe performed for the killed worker: Adobe rotated their
  refresh token and the new one died with the worker, so they are sent to
  sign in again (a redirect, never a 500). They are counted.
"""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis

from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.tokens import EXPIRY_MARGIN

from ..redis_fixture import _redis_client_fixture, _redis_url_fixture
from ..test_scale import THREADS, USERS, assert_each_user_has_exactly_their_own_token
from .load import Answer, once_each, statuses
from .servers import children_of, gunicorn, lineage, record_figures, sign_in_users

__all__ = ["_redis_client_fixture", "_redis_url_fixture"]  # fixtures used by name

WORKERS, WORKER_THREADS = 4, 4
REFRESH_DELAY = 0.3
ANSWER_BOUND = 20.0
#: Access tokens the stand-in issues last this long: the app counts a token
#: expired 60 s early (``EXPIRY_MARGIN``), so each is used for 3 s, then refreshed.
TOKEN_LIFETIME = 63.0


def refreshes(standin: StandInAdobe) -> int:
    return sum(1 for c in standin.token_calls() if c.grant_type == "refresh_token")


@pytest.mark.timeout(150)
def test_a_worker_killed_mid_refresh_fails_only_its_requests_and_mixes_no_tokens(
    redis_url: str, redis_client: redis.Redis
) -> None:
    with (
        StandInAdobe(rate_limit=None, access_token_lifetime=TOKEN_LIFETIME) as standin,
        gunicorn(standin, redis_url, workers=WORKERS, threads=WORKER_THREADS) as (base, master),
    ):
        visits, browsers = sign_in_users(base, range(USERS))
        assert_each_user_has_exactly_their_own_token(standin, visits)
        code_of = {v.number: v.code for v in visits}
        workers_before = children_of(master.pid)
        assert len(workers_before) == WORKERS

        standin.slow_down(REFRESH_DELAY, endpoints=["token"])
        time.sleep(TOKEN_LIFETIME - EXPIRY_MARGIN)  # every access token is due for a refresh
        killed: dict[str, Any] = {}

        def kill_a_worker_mid_refresh() -> None:
            deadline = time.monotonic() + 60
            while refreshes(standin) < USERS // 4 and time.monotonic() < deadline:
                time.sleep(0.01)
            victim = min(children_of(master.pid))
            killed["refreshes_before"] = refreshes(standin)
            killed["at"] = time.monotonic()
            os.kill(victim, signal.SIGKILL)
            killed["pid"] = victim

        with ThreadPoolExecutor(max_workers=1) as killer:
            done = killer.submit(kill_a_worker_mid_refresh)
            answers: list[Answer] = once_each(
                base, "/whoami", visits, browsers, threads=THREADS, timeout=ANSWER_BOUND
            )
            done.result(timeout=60)
        standin.clear_faults()
        kill, victim = killed["at"], str(killed["pid"])

        failed = [a for a in answers if a.status is None]
        # The kill came mid-load: refreshes done before it and after it, requests across it.
        assert 0 < killed["refreshes_before"] < USERS
        assert any(a.start < kill < a.end for a in answers if a.status == 200)
        # Only requests in flight at the killed worker fail: all were sent before the kill.
        assert all(a.start < kill for a in failed), [(a.start - kill, a.error) for a in failed]
        assert len(failed) <= THREADS
        # Everything else was answered, by a live worker, with the user's own token.
        answered = [a for a in answers if a.status is not None]
        assert {a.status for a in answered} == {200}, statuses(answers)
        family = lineage(standin)
        assert all(family[a.token_sha256 or ""] == code_of[a.user] for a in answered)
        assert all(a.pid != victim for a in answered if a.start > kill)

        # The master put a new worker in the killed one's place.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            workers = children_of(master.pid)
            if len(workers) == WORKERS and int(victim) not in workers:
                break
            time.sleep(0.1)
        assert len(workers) == WORKERS and int(victim) not in workers
        respawned = workers - workers_before
        assert len(respawned) == 1

        # Afterwards: each user signed in with their own token, or (a failed request
        # whose refresh Adobe performed) sent to sign in again.
        after = once_each(base, "/whoami", visits, browsers, threads=THREADS, timeout=ANSWER_BOUND)
        failed_users = {a.user for a in failed}
        family = lineage(standin)
        signed_out = [a for a in after if a.status == 302]
        assert {a.status for a in after} <= {200, 302}, statuses(after)
        assert all(a.location.startswith("/adobe/login") for a in signed_out)
        assert {a.user for a in signed_out} <= failed_users
        assert all(family[a.token_sha256 or ""] == code_of[a.user] for a in after if a.status == 200)
        # Every worker serves again, the new one included (bounded: a few rounds).
        pids: set[str] = set()
        for _ in range(20):
            more = once_each(base, "/", visits[:64], browsers[:64], threads=THREADS, timeout=ANSWER_BOUND)
            pids |= {a.pid for a in more if a.pid}
            if str(next(iter(respawned))) in pids:
                break
        assert str(next(iter(respawned))) in pids

        record_figures(
            "worker_kill",
            {
                "users": USERS,
                "workers": f"{WORKERS} x {WORKER_THREADS} threads",
                "refresh_delay_s": REFRESH_DELAY,
                "requests": len(answers),
                "refreshes_done_at_kill": killed["refreshes_before"],
                "refreshes_total": refreshes(standin),
                "statuses": statuses(answers),
                "failed_requests": len(failed),
                "users_signed_out": len(signed_out),
                "statuses_after": statuses(after),
                "respawned": len(respawned),
            },
        )
