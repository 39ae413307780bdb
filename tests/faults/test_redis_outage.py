"""Redis killed (SIGKILL) and started again while 200 signed-in users load
``gunicorn -w 4`` with :class:`~flask_adobe_oauth.storage.RedisStorage`.

Redis keeps an append-only file fsynced on every write, as a production
Redis that must not lose sign-ins does, and comes back on the same port.
What must hold:

* during the outage every request gets an answer, a 503 page
  (``storage_unavailable``), within a few seconds: no 500, no hang;
* sign-ins attempted during the outage fail with the same 503, not a 500;
* no answer ever carries another user's token;
* once Redis is back, without restarting the app (the same worker
  processes), every user whose token was stored before the outage is still
  signed in with exactly their own token, and new sign-ins work.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import requests

from flask_adobe_oauth.testing import StandInAdobe

from ..test_scale import THREADS, USERS, assert_each_user_has_exactly_their_own_token, issued_tokens
from .load import Answer, once_each, run_load, statuses
from .servers import PersistentRedis, children_of, get, gunicorn, record_figures, sign_in_users

#: Seconds of load before the kill, of outage, and of load after Redis is back.
BEFORE, OUTAGE, AFTER = 1.5, 3.0, 2.5
#: No answer may take longer (Redis refuses connections at once while down: a
#: hang would be a missing deadline, not a slow machine).
ANSWER_BOUND = 5.0
SIGN_IN_THREADS = 4


def try_sign_in(base: str, number: int) -> tuple[int | None, str | None]:
    """One whole sign-in by a new browser: the callback's status (None: no answer)
    and, when it stored a token and the guarded view then answered, the sha256
    that view reports."""
    with requests.Session() as browser:
        try:
            start = get(browser, f"{base}/adobe/login", params={"next": f"/whoami?u={number}"})
            at_adobe = get(browser, start.headers["Location"])
            callback = at_adobe.headers["Location"]
            assert parse_qs(urlsplit(callback).query).get("code")
            back = get(browser, callback, timeout=ANSWER_BOUND + 5)
            if back.status_code != 302:
                return back.status_code, None
            view = get(browser, base + back.headers["Location"])
        except requests.RequestException:
            return None, None
        if view.status_code != 200:  # Redis went down between the callback and the view
            return 302, None
        assert view.json()["marker"] == str(number)
        return 302, view.json()["token_sha256"]


@pytest.mark.timeout(150)
def test_redis_killed_and_restarted_under_load_users_stay_signed_in() -> None:
    with (
        StandInAdobe(rate_limit=None) as standin,
        PersistentRedis() as store,
        gunicorn(standin, store.url, workers=4) as (base, master),
    ):
        visits, browsers = sign_in_users(base, range(USERS))
        assert_each_user_has_exactly_their_own_token(standin, visits)
        own = {v.number: v.answer["token_sha256"] for v in visits}
        workers_before = children_of(master.pid)
        assert len(workers_before) == 4

        cookie_of_user_0 = browsers[0].cookies.get_dict()
        stop = threading.Event()
        times: dict[str, float] = {}
        sign_ins: list[tuple[float, int | None, str | None, float]] = []  # start, status, sha256, end

        def keep_signing_in(index: int) -> None:
            number = 10_000 + index * 1000
            while not stop.is_set():
                started = time.monotonic()
                status, sha = try_sign_in(base, number)
                sign_ins.append((started, status, sha, time.monotonic()))
                number += 1
                time.sleep(0.2)

        with ThreadPoolExecutor(max_workers=1 + SIGN_IN_THREADS) as pool:
            load = pool.submit(
                run_load,
                base,
                "/whoami",
                visits,
                browsers,
                threads=THREADS - SIGN_IN_THREADS,
                stop=stop,
                timeout=ANSWER_BOUND + 5,
                limit=BEFORE + OUTAGE + AFTER + 30,
            )
            signers = [pool.submit(keep_signing_in, i) for i in range(SIGN_IN_THREADS)]
            try:
                time.sleep(BEFORE)
                times["kill"] = time.monotonic()
                store.kill()
                time.sleep(OUTAGE / 2)
                page = requests.get(
                    f"{base}/whoami?u=0",
                    cookies=cookie_of_user_0,
                    headers={"Accept": "application/json"},
                    allow_redirects=False,
                    timeout=ANSWER_BOUND,
                )
                time.sleep(OUTAGE / 2)
                times["restart"] = time.monotonic()
                store.start()
                times["up"] = time.monotonic()
                time.sleep(AFTER)
            finally:
                stop.set()
            answers: list[Answer] = load.result(timeout=ANSWER_BOUND + 30)
            for signer in signers:
                signer.result(timeout=ANSWER_BOUND + 30)

        kill, up = times["kill"], times["up"]
        before = [a for a in answers if a.end < kill]
        during = [a for a in answers if a.start > kill and a.end < times["restart"]]
        after = [a for a in answers if a.start > up]

        # Every request got an answer in time; no 500, nothing but 200 and 503.
        assert all(a.status is not None for a in answers), statuses(answers)
        assert {a.status for a in answers} <= {200, 503}, statuses(answers)
        assert max(a.elapsed for a in answers) < ANSWER_BOUND
        assert {a.code for a in answers if a.status == 503} == {"storage_unavailable"}
        # No cross-talk, ever: a 200 carries the user's own token.
        assert all(a.token_sha256 == own[a.user] for a in answers if a.status == 200)
        # Healthy before, 503 pages all through the outage, healthy again after.
        assert before and {a.status for a in before} == {200}
        assert len(during) >= 50 and {a.status for a in during} == {503}, statuses(during)
        assert after and {a.status for a in after} == {200}, statuses(after)
        first_ok = min(a.end for a in answers if a.status == 200 and a.start > kill)
        # The 503 is the extension's page for a store that failed, naming no detail.
        assert page.status_code == 503 and page.json()["error"] == "storage_unavailable"
        assert page.headers["Cache-Control"].startswith("no-store")

        # Sign-ins during the outage fail with the 503 page; after it, they work.
        sign_ins_during = [s for s in sign_ins if kill < s[0] and s[3] < times["restart"]]
        sign_ins_after = [s for s in sign_ins if s[0] > up]
        assert sign_ins_during and {s[1] for s in sign_ins_during} == {503}, sign_ins_during
        assert sign_ins_after and {s[1] for s in sign_ins_after} == {302}, sign_ins_after
        issued = issued_tokens(standin)
        assert all(s[2] in issued.values() for s in sign_ins_after)  # tokens issued for them

        # Every user signed in before the outage still is, with exactly their token,
        # served by the same worker processes: the app recovered without a restart.
        final = once_each(base, "/whoami", visits, browsers, threads=THREADS, timeout=ANSWER_BOUND + 5)
        final_by_user: dict[int, Answer] = {a.user: a for a in final}
        assert len(final_by_user) == USERS
        assert all(a.status == 200 for a in final_by_user.values()), statuses(final)
        assert all(
            a.token_sha256 == own[a.user] == issued[visits[a.user].code] for a in final_by_user.values()
        )
        assert children_of(master.pid) == workers_before
        assert {a.pid for a in final} <= {str(p) for p in workers_before}
        client = redis.Redis.from_url(store.url)
        try:
            stored = len(list(client.scan_iter(match="scale:*")))
        finally:
            client.close()
        # One record per sign-in that completed, plus at most one per signing thread
        # whose write Redis made durable just before the kill, its reply lost.
        completed = sum(1 for s in sign_ins if s[1] == 302)
        assert USERS + completed <= stored <= USERS + completed + SIGN_IN_THREADS

        figures: dict[str, Any] = {
            "users": USERS,
            "workers": 4,
            "requests": len(answers),
            "outage_s": round(up - kill, 2),
            "statuses_before": statuses(before),
            "statuses_during_outage": statuses(during),
            "statuses_after": statuses(after),
            "slowest_answer_s": round(max(a.elapsed for a in answers), 3),
            "slowest_503_s": round(max(a.elapsed for a in answers if a.status == 503), 3),
            "redis_start_and_load_s": round(up - times["restart"], 3),
            "first_200_after_redis_start_s": round(first_ok - times["restart"], 3),
            "sign_ins_during_outage": statuses([Answer(0, 0, 0, s[1]) for s in sign_ins_during]),
            "sign_ins_after": len(sign_ins_after),
            "still_signed_in_after": sum(a.status == 200 for a in final_by_user.values()),
            "records_in_redis": stored,
        }
        record_figures("redis_outage", figures)
