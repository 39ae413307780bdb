"""Adobe having a bad time: slow, trickling, resetting connections, failing
with 5xx, while signed-in users keep using the app.

Each case runs ``gunicorn -w 2 --threads 32`` with Redis storage, pointed at
a fresh stand-in, with small deadlines (``timeout`` = ``api_timeout`` =
:data:`DEADLINE`). Users sign in for real, then the fault starts and each
user makes one request that needs one call to Adobe: ``/api`` (Analytics,
through ``adobe.session``) or ``/whoami`` with an access token due for a
refresh (the token endpoint). What must hold:

* every user gets an answer within the deadline plus :data:`MARGIN`: a 502
  page (``provider_error``), never a 500, never a hang;
* the tokens are kept: when Adobe is well again (``clear_faults()``, or the
  burst is over) every user is still signed in, with their own token (the
  very same one after an Analytics fault; a refresh of their own after a
  token endpoint fault), and the app needed no restart;
* one exception, counted and asserted as such: when Adobe *handled* a
  refresh but its answer never arrived in time (slower than the deadline,
  or trickling), Adobe has rotated that user's refresh token and the new
  one is lost, so the user is sent to sign in again (a redirect, not an
  error page).

Cases marked ``needs_whole_call_deadline`` (the trickles) pass only when
``timeout`` and ``api_timeout`` bound the whole call, cutting a read in
progress, headers or body: a trickle resets a per-read timeout with every
few bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import redis

from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.tokens import EXPIRY_MARGIN

from ..redis_fixture import _redis_client_fixture, _redis_url_fixture
from .load import Answer, once_each, statuses
from .servers import gunicorn, lineage, record_figures, sign_in_users

__all__ = ["_redis_client_fixture", "_redis_url_fixture"]  # fixtures used by name

USERS = 32
#: gunicorn -w 2 with this many threads each: room for every user's request at
#: once even when one worker accepts most of them.
WORKER_THREADS = USERS
DEADLINE = 2.0
#: An answer may take the deadline plus this (the app's own work, queueing).
MARGIN = 2.0
#: The stand-in's access tokens in the refresh cases: the app counts a token
#: expired 60 s early, so these are due for a refresh 2 s after sign-in.
SHORT_LIFETIME = EXPIRY_MARGIN + 2


@dataclass(frozen=True)
class Case:
    """A fault, which view meets it, and what users see."""

    fault: Callable[[StandInAdobe], None]
    #: "/api" (one Analytics call) or "/whoami" with a token due for refresh (one token call).
    path: str
    #: What users get while it lasts.
    during: frozenset[int] = frozenset({502})
    #: Adobe handles the refresh but the app never gets the answer: users may be signed out.
    rotation_lost: bool = False
    #: A burst that ends by itself after this many calls (no clear_faults()).
    burst: int = 0
    #: Fails until every call has a whole-call deadline.
    needs_deadline: bool = False


CASES: dict[str, Case] = {
    "slow-within-deadline-api": Case(lambda s: s.slow_down(DEADLINE / 2), "/api", frozenset({200})),
    "slow-within-deadline-refresh": Case(
        lambda s: s.slow_down(DEADLINE / 2, endpoints=["token"]), "/whoami", frozenset({200})
    ),
    "slower-than-deadline-api": Case(lambda s: s.slow_down(DEADLINE + 1), "/api"),
    "slower-than-deadline-refresh": Case(
        lambda s: s.slow_down(DEADLINE + 1, endpoints=["token"]), "/whoami", rotation_lost=True
    ),
    "trickling-body-api": Case(lambda s: s.trickle(8, 0.2, endpoints=["api"]), "/api", needs_deadline=True),
    "trickling-headers-api": Case(
        lambda s: s.trickle(4, 0.2, headers=True, endpoints=["api"]), "/api", needs_deadline=True
    ),
    "trickling-body-refresh": Case(
        lambda s: s.trickle(32, 0.25, endpoints=["token"]), "/whoami", rotation_lost=True, needs_deadline=True
    ),
    "reset-before-answer-api": Case(lambda s: s.reset_connections(0, endpoints=["api"]), "/api"),
    "reset-before-answer-refresh": Case(lambda s: s.reset_connections(0, endpoints=["token"]), "/whoami"),
    "reset-mid-body-api": Case(lambda s: s.reset_connections(200, endpoints=["api"]), "/api"),
    "5xx-burst-api": Case(
        lambda s: s.fail_calls(503, count=USERS // 2), "/api", frozenset({502, 200}), burst=USERS // 2
    ),
    "5xx-outage-refresh": Case(lambda s: s.fail_calls(500, endpoints=["token"]), "/whoami"),
}


def refreshes_granted(standin: StandInAdobe) -> int:
    """Refreshes Adobe performed (rotating the refresh token), whether or not the answer arrived."""
    return sum(1 for c in standin.token_calls() if c.grant_type == "refresh_token" and c.status == 200)


def case_param(name: str) -> Any:
    marks = []
    if CASES[name].needs_deadline:
        marks.append(pytest.mark.needs_whole_call_deadline)
    return pytest.param(name, id=name, marks=marks)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", [case_param(n) for n in CASES])
def test_adobe_fault_gives_502_pages_in_time_and_keeps_the_users_signed_in(
    name: str, redis_url: str, redis_client: redis.Redis
) -> None:
    case = CASES[name]
    refresh = case.path == "/whoami"
    # Every browser here signs in as the stand-in's one user, whose Analytics
    # budget (12 calls per 6 s) they would share: the stand-in's limit is off
    # (rate_limit=None), and ours too, so that only the injected fault counts.
    options = {
        "ADOBE_OAUTH_TIMEOUT": DEADLINE,
        "ADOBE_OAUTH_API_TIMEOUT": DEADLINE,
        "ADOBE_OAUTH_API_RATE_LIMIT": False,
    }
    with (
        StandInAdobe(rate_limit=None) as standin,
        gunicorn(standin, redis_url, workers=2, threads=WORKER_THREADS, options=options) as (base, _),
    ):
        if refresh:
            standin.state.access_token_lifetime = SHORT_LIFETIME
        visits, browsers = sign_in_users(base, range(USERS))
        code_of = {v.number: v.code for v in visits}
        signed_in_with = {v.number: v.answer["token_sha256"] for v in visits}
        if refresh:
            time.sleep(SHORT_LIFETIME - EXPIRY_MARGIN)  # every token is due for a refresh now

        granted_before = refreshes_granted(standin)
        case.fault(standin)
        try:
            during = once_each(
                base, case.path, visits, browsers, threads=USERS, timeout=DEADLINE + MARGIN + 2
            )
        finally:
            if not case.burst:
                standin.clear_faults()
        lost = 0
        if case.rotation_lost:
            # The users come back once Adobe has finished the refreshes the app gave up on.
            until = time.monotonic() + DEADLINE + 5
            while refreshes_granted(standin) < granted_before + USERS and time.monotonic() < until:
                time.sleep(0.05)
            lost = refreshes_granted(standin) - granted_before  # none of their answers reached the app
        # Adobe is well again: the same users, the same app processes.
        after = once_each(base, case.path, visits, browsers, threads=USERS, timeout=DEADLINE + MARGIN + 2)

        figures = {
            "users": USERS,
            "deadline_s": DEADLINE,
            "statuses_during": statuses(during),
            "slowest_answer_s": round(max(a.elapsed for a in during), 2),
            "statuses_after": statuses(after),
            "refreshes_granted_by_adobe": refreshes_granted(standin) - granted_before,
            "refreshes_lost": lost,
        }
        record_figures(f"adobe_fault[{name}]", figures)

        # Every user answered in time, with what the case expects: no 500, no hang.
        late = [round(a.elapsed, 2) for a in during if a.status is None or a.elapsed > DEADLINE + MARGIN]
        assert not late, (
            f"{len(late)} of {USERS} answers later than {DEADLINE + MARGIN} s: {statuses(during)}"
        )
        assert {a.status for a in during} <= case.during, statuses(during)
        assert {a.code for a in during if a.status == 502} <= {"provider_error"}
        if case.burst:
            assert sum(a.status == 502 for a in during) == case.burst
        family = lineage(standin)

        def own(answer: Answer) -> bool:
            if case.path == "/api":  # the very token the user signed in with
                return answer.token_sha256 == signed_in_with[answer.user]
            return family.get(answer.token_sha256 or "") == code_of[answer.user]

        assert all(own(a) for a in during if a.status == 200)
        # Adobe is well again: every user is signed in with their own token, except,
        # where Adobe handled a refresh whose answer never arrived, users sent to sign in.
        signed_out = [a for a in after if a.status == 302]
        expected = {200, 302} if case.rotation_lost else {200}
        assert {a.status for a in after} <= expected, statuses(after)
        assert len(signed_out) == lost  # exactly the users whose rotated refresh token was lost
        assert all(a.location.startswith("/adobe/login") for a in signed_out)
        assert all(own(a) for a in after if a.status == 200)
        assert all(a.elapsed < DEADLINE + MARGIN for a in after)
