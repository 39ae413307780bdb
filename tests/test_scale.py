"""Many users at once, on real servers: ``gunicorn -w 4`` with Redis storage,
and a threaded server with the default cookie storage.

Each simulated user is a ``requests.Session`` that runs the whole flow over
HTTP: ``/adobe/login`` → the stand-in's authorize → ``/adobe/callback`` →
a guarded view that reports a hash of the access token it sees. The
stand-in issued exactly one access token for each user's authorization
code, so every user must end with exactly that token: a lost login or a
token crossing to another user fails the test. The load is bounded in
users, threads and total time; everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import redis
import requests

from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.live import ServerThread

from .redis_fixture import _redis_client_fixture, _redis_url_fixture
from .scale_app import create_app

__all__ = ["_redis_client_fixture", "_redis_url_fixture"]  # fixtures used by name

USERS = 200
THREADS = 32
#: Upper bound on the whole load; a healthy run takes a fraction of it.
LOAD_DEADLINE = 90.0
REQUEST_TIMEOUT = 30.0
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Visit:
    """What one simulated user saw."""

    number: int
    code: str
    login_pid: str
    callback_pid: str
    view_pid: str
    answer: dict[str, Any]
    cookie_size: int


def one_user(base: str, number: int, browser: requests.Session | None = None) -> Visit:
    """A whole login by a fresh browser (or ``browser``), then a call to the guarded view."""
    with browser or requests.Session() as browser:

        def get(url: str, **kwargs: Any) -> requests.Response:
            return browser.get(url, allow_redirects=False, timeout=REQUEST_TIMEOUT, **kwargs)

        start = get(f"{base}/adobe/login", params={"next": f"/whoami?u={number}"})
        assert start.status_code == 302, start.text
        at_adobe = get(start.headers["Location"])
        assert at_adobe.status_code == 302, at_adobe.text
        callback_url = at_adobe.headers["Location"]
        assert callback_url.startswith(base + "/adobe/callback?")
        code = parse_qs(urlsplit(callback_url).query)["code"][0]
        back = get(callback_url)
        assert back.status_code == 302, back.text
        assert back.headers["Location"] == f"/whoami?u={number}"
        cookie_size = len(back.headers["Set-Cookie"])
        view = get(base + back.headers["Location"])
        assert view.status_code == 200, view.text
        return Visit(
            number,
            code,
            start.headers["X-Worker-Pid"],
            back.headers["X-Worker-Pid"],
            view.headers["X-Worker-Pid"],
            view.json(),
            cookie_size,
        )


def run_users(base: str) -> list[Visit]:
    """:data:`USERS` users on :data:`THREADS` threads, within :data:`LOAD_DEADLINE` seconds."""
    pool = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="user")
    try:
        futures = [pool.submit(one_user, base, n) for n in range(USERS)]
        _, pending = wait(futures, timeout=LOAD_DEADLINE)
        assert not pending, f"{len(pending)} of {USERS} users did not finish in time"
        return [future.result() for future in futures]
    finally:
        # Requests time out on their own; queued users are dropped.
        pool.shutdown(wait=False, cancel_futures=True)


def issued_tokens(standin: StandInAdobe) -> dict[str, str]:
    """sha256 of the access token the stand-in issued, by the code it was exchanged for."""
    with standin.state.lock:
        return {
            grant.origin: hashlib.sha256(value.encode()).hexdigest()
            for value, grant in standin.state.grants.items()
            if grant.kind == "access" and grant.origin
        }


def assert_each_user_has_exactly_their_own_token(standin: StandInAdobe, visits: list[Visit]) -> None:
    issued = issued_tokens(standin)
    assert len(visits) == USERS
    assert len({v.code for v in visits}) == USERS
    for visit in visits:
        assert visit.answer["marker"] == str(visit.number)
        assert visit.answer["user"] == standin.state.user.sub
        assert visit.answer["token_sha256"] == issued[visit.code], f"user {visit.number} got another token"
    assert len({v.answer["token_sha256"] for v in visits}) == USERS
    exchanges = [c for c in standin.token_calls() if c.grant_type == "authorization_code"]
    assert len(exchanges) == USERS and {c.status for c in exchanges} == {200}


# -- gunicorn -w 4 with Redis storage ------------------------------------------------------


@pytest.fixture
def standin() -> Iterator[StandInAdobe]:
    with StandInAdobe() as server:
        yield server


@pytest.fixture
def gunicorn_app(standin: StandInAdobe, redis_url: str, redis_client: redis.Redis) -> Iterator[str]:
    """``gunicorn -w 4`` serving :mod:`tests.scale_app` on 127.0.0.1 with Redis storage; its base URL."""
    from .faults.servers import gunicorn  # imported here: it builds on this module's helpers

    with gunicorn(standin, redis_url, workers=4, app="tests.scale_app:create_app()") as (base, _):
        yield base


@pytest.mark.timeout(180)
def test_200_concurrent_users_on_gunicorn_4_workers_each_get_their_own_token(
    gunicorn_app: str, standin: StandInAdobe, redis_client: redis.Redis
) -> None:
    visits = run_users(gunicorn_app)

    assert_each_user_has_exactly_their_own_token(standin, visits)
    # Nothing lives in a worker's memory: logins started in one worker
    # finished in another, and views ran in workers that saw neither.
    crossed = [v for v in visits if v.login_pid != v.callback_pid]
    pids = {p for v in visits for p in (v.login_pid, v.callback_pid, v.view_pid)}
    assert len(pids) >= 2
    assert crossed, "no login was handled by two workers"
    print(f"\n{USERS} users, {len(pids)} workers, {len(crossed)} logins crossed workers")
    # The tokens are in Redis, one record per login; the cookies hold only keys.
    assert len(list(redis_client.scan_iter(match="scale:*"))) == USERS
    assert max(v.cookie_size for v in visits) < 200


def test_logout_in_one_worker_ends_the_login_in_every_worker(
    gunicorn_app: str, redis_client: redis.Redis
) -> None:
    browser, other_browser = requests.Session(), requests.Session()
    one_user(gunicorn_app, 0, browser)
    other = one_user(gunicorn_app, 1, other_browser)
    old_cookie, other_cookie = browser.cookies.get("session"), other_browser.cookies.get("session")
    assert old_cookie and other_cookie
    assert len(list(redis_client.scan_iter(match="scale:*"))) == 2

    out = requests.post(
        f"{gunicorn_app}/adobe/logout",
        cookies={"session": old_cookie},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )
    assert out.status_code == 303

    # The old cookie, replayed, now fails in every worker. Replays go in
    # concurrent batches until at least two workers have answered (bounded).
    def replay(_: int) -> tuple[int, str]:
        answer = requests.get(
            f"{gunicorn_app}/whoami",
            headers={"Accept": "application/json"},
            cookies={"session": old_cookie},
            timeout=REQUEST_TIMEOUT,
        )
        return answer.status_code, answer.headers["X-Worker-Pid"]

    pids: set[str] = set()
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(25):
            answers = list(pool.map(replay, range(8)))
            assert {status for status, _ in answers} == {401}
            pids |= {pid for _, pid in answers}
            if len(pids) >= 2:
                break
    assert len(pids) >= 2
    # The other user is still signed in, with their own token.
    still = requests.get(f"{gunicorn_app}/whoami", cookies={"session": other_cookie}, timeout=REQUEST_TIMEOUT)
    assert still.status_code == 200
    assert still.json()["token_sha256"] == other.answer["token_sha256"]
    assert len(list(redis_client.scan_iter(match="scale:*"))) == 1


# -- a threaded server with the default cookie storage ---------------------------------------


@pytest.mark.timeout(180)
def test_200_concurrent_users_on_a_threaded_server_with_cookie_storage(standin: StandInAdobe) -> None:
    app = create_app(standin.config(), redis_url="")
    with ServerThread(app) as server:
        visits = run_users(server.url)

    assert_each_user_has_exactly_their_own_token(standin, visits)
    assert {v.login_pid for v in visits} == {str(os.getpid())}  # one process, many threads
    assert min(v.cookie_size for v in visits) > 1500  # the tokens themselves are in the cookies
