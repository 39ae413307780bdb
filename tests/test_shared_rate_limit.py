"""One rate limit for every worker (``api_rate_storage``), and a bound on one
user's waiting calls (``api_rate_waiters``), against a real redis-server.

Two :class:`RateLimiter` objects on one Redis are two processes sharing one
budget; two apps on one Redis are two workers. The limiter's clock, the
shared count's clock and the stand-in's are one stopped clock that moves
only when our limiter waits (``one_clock`` plus the shared count's hook), so
each test sees what Adobe would see in real time without sleeping, and
counts waits and calls, never wall time.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
import redis
from flask import Flask

from flask_adobe_oauth import ConfigurationError, RateLimited, ratelimit
from flask_adobe_oauth.config import resolve
from flask_adobe_oauth.ratelimit import RateLimiter
from flask_adobe_oauth.service import service_for
from flask_adobe_oauth.testing import StandInAdobe, login_as

from .helpers import SECRET_KEY, SharedClock, api_calls, limiter_clock, make_app, one_clock
from .redis_fixture import _redis_client_fixture, _redis_url_fixture, free_port
from .test_ratelimit import app_calling_adobe

__all__ = ["_redis_client_fixture", "_redis_url_fixture"]  # fixtures used by name


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SharedClock:
    """One stopped clock for the limiter, the shared count in Redis and its waits."""
    shared = limiter_clock(monkeypatch)
    monkeypatch.setattr(ratelimit, "_shared_clock", shared)
    return shared


@pytest.fixture
def shared(redis_client: redis.Redis, redis_url: str) -> str:
    """The URL of an emptied Redis, for ``api_rate_storage``."""
    return redis_url


def adobe_clock(standin: StandInAdobe, monkeypatch: pytest.MonkeyPatch) -> SharedClock:
    """``one_clock``, the shared count in Redis counting on it too."""
    now = one_clock(standin, monkeypatch)
    monkeypatch.setattr(ratelimit, "_shared_clock", now)
    return now


# -- two processes, one budget -----------------------------------------------------------


def test_two_limiters_on_one_redis_share_one_budget(clock: SharedClock, shared: str) -> None:
    first, second = (RateLimiter(12, 6.0, max_wait=7.0, storage=shared) for _ in range(2))
    assert [first.acquire("ada", "x") for _ in range(6)] == [0.0] * 6
    assert [second.acquire("ada", "x") for _ in range(6)] == [0.0] * 6
    # The 13th, in either process, waits for the oldest call to leave the window.
    assert second.acquire("ada", "x") == pytest.approx(6.25)
    assert clock.waits == [pytest.approx(6.25)]
    # The window slid for both: 11 more at once (in either), then a wait again.
    assert [(first, second)[n % 2].acquire("ada", "x") for n in range(11)] == [0.0] * 11
    assert first.acquire("ada", "x") == pytest.approx(6.25)
    assert first.acquire("grace", "x") == 0.0  # each user a budget of their own


def test_two_limiters_in_memory_each_count_alone(clock: SharedClock) -> None:
    """What ``memory://`` (the default) does with two workers: twice the budget."""
    first, second = (RateLimiter(12, 6.0, max_wait=7.0) for _ in range(2))
    assert [limiter.acquire("ada", "x") for limiter in (first, second) for _ in range(12)] == [0.0] * 24
    assert clock.waits == []


def test_a_call_refused_by_the_shared_count_takes_no_slot(clock: SharedClock, shared: str) -> None:
    first, second = (RateLimiter(2, 6.0, max_wait=1.0, slack=0.5, storage=shared) for _ in range(2))
    first.acquire("ada", "https://analytics.adobe.io/api")
    second.acquire("ada", "https://analytics.adobe.io/api")
    for limiter in (first, second, first):
        with pytest.raises(RateLimited) as refused:
            limiter.acquire("ada", "https://analytics.adobe.io/api")
        assert refused.value.retry_after == pytest.approx(6.5)
        assert "2 per 6 s" in str(refused.value)
    assert clock.waits == []
    clock.now += 6.5
    assert first.acquire("ada", "x") == second.acquire("ada", "x") == 0.0


def test_a_429_seen_by_one_process_holds_the_users_calls_in_all(clock: SharedClock, shared: str) -> None:
    first, second = (RateLimiter(12, 6.0, max_wait=30.0, storage=shared) for _ in range(2))
    first.hold("ada", 20.0)
    second.hold("ada", 1.0)  # a shorter hold never shortens a longer one
    with pytest.raises(RateLimited) as held:
        second.acquire("ada", "x", max_wait=5.0)
    assert "Adobe answered 429 to this user's calls a moment ago" in str(held.value)
    assert second.acquire("ada", "x") == pytest.approx(20.0)
    assert first.acquire("grace", "x") == 0.0
    assert first.acquire("ada", "x") == 0.0  # the hold is over
    first.hold("ada", float("inf"))
    with pytest.raises(RateLimited) as long:
        second.acquire("ada", "x")
    assert long.value.retry_after == pytest.approx(60.0)  # max_hold, in every process


def test_concurrent_processes_never_get_more_slots_than_the_limit(shared: str) -> None:
    """Four limiters (processes) and 40 threads at once, on the real clocks: 5 slots."""
    limiters = [RateLimiter(5, 3600.0, max_wait=0.0, storage=shared) for _ in range(4)]
    start = threading.Barrier(40)
    outcomes: list[str] = []

    def call(limiter: RateLimiter) -> None:
        start.wait()
        try:
            limiter.acquire("ada", "x")
            outcomes.append("sent")
        except RateLimited:
            outcomes.append("held back")

    threads = [threading.Thread(target=call, args=(limiters[n % 4],)) for n in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["held back"] * 35 + ["sent"] * 5


def test_two_workers_on_one_redis_send_adobe_no_more_than_its_limit(
    standin: StandInAdobe, seen: list[Any], monkeypatch: pytest.MonkeyPatch, shared: str
) -> None:
    """The user's 24 calls, half through each worker: Adobe (the stand-in,
    counting 12 per 6 s on the same clock) never says 429; the 13th waits."""
    clock = adobe_clock(standin, monkeypatch)
    workers = [app_calling_adobe(standin, api_rate_storage=shared) for _ in range(2)]
    clients = [app.test_client() for app in workers]
    for client in clients:
        login_as(client)
    seen.clear()
    assert clients[0].get("/calls/12").json == [200] * 12
    assert clients[1].get("/calls/12").json == [200] * 12
    assert len(api_calls(seen)) == 24
    assert clock.waits == [pytest.approx(6.25)]


def test_in_memory_two_workers_spend_the_budget_twice_and_adobe_says_429(
    standin: StandInAdobe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same, with ``memory://``: the second worker's first call meets Adobe's 429."""
    adobe_clock(standin, monkeypatch)
    clients = [app_calling_adobe(standin).test_client() for _ in range(2)]
    for client in clients:
        login_as(client)
    assert clients[0].get("/calls/12").json == [200] * 12
    (refused,) = clients[1].get("/calls/12").json
    assert refused.startswith("RateLimited 6.00: Adobe rate-limited") and "429050" in refused


def test_adobes_429_in_one_worker_holds_the_user_in_the_other(
    standin: StandInAdobe, seen: list[Any], monkeypatch: pytest.MonkeyPatch, shared: str
) -> None:
    clock = adobe_clock(standin, monkeypatch)
    standin.analytics.rate_limit = (3, 6.0)  # tighter than ours: something else spends the budget
    workers = [app_calling_adobe(standin, api_rate_storage=shared) for _ in range(2)]
    clients = [app.test_client() for app in workers]
    for client in clients:
        login_as(client)
    statuses = clients[0].get("/calls/4").json
    assert statuses[:3] == [200] * 3 and statuses[3].startswith("RateLimited 6.00: Adobe rate-limited")
    seen.clear()
    assert clients[1].get("/calls/1").json == [200]  # waited out Adobe's delay, in the other worker
    assert clock.waits == [pytest.approx(6.0)] and len(api_calls(seen)) == 1


def test_the_service_credential_counts_in_the_same_shared_limiter(
    standin: StandInAdobe, monkeypatch: pytest.MonkeyPatch, shared: str
) -> None:
    """The service's calls use the blueprint's limiter (one Redis pool, one
    count); its token is shared by the workers, so is its budget."""
    clock = adobe_clock(standin, monkeypatch)
    standin.analytics.rate_limit = None  # one technical account: count ours only
    workers = [make_app(standin, api_rate_storage=shared) for _ in range(2)]
    services = [service_for(app) for app in workers]
    with workers[0].app_context():
        from flask_adobe_oauth.extension import get_runtime

        assert services[0].session().limiter is get_runtime().api.limiter
    for n in range(13):
        assert services[n % 2].session().get("/discovery/me").status_code == 200
    assert standin.service_token_mints() == 1  # shared through the same Redis
    assert clock.waits == [pytest.approx(6.25)]


# -- one user's waiting calls ------------------------------------------------------------


class Gate:
    """A ``_sleep`` that keeps each waiting call asleep until the test opens it,
    counting the waits (no wall time: the clock stays stopped)."""

    def __init__(self) -> None:
        self.asleep = threading.Semaphore(0)
        self.open = threading.Event()
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.asleep.release()
        assert self.open.wait(30)


@pytest.fixture
def gate(clock: SharedClock, monkeypatch: pytest.MonkeyPatch) -> Gate:
    sleeper = Gate()
    monkeypatch.setattr(ratelimit, "_sleep", sleeper)
    return sleeper


@pytest.mark.parametrize("where", ["memory", "redis"])
def test_a_user_holds_at_most_waiters_waiting_calls_the_rest_are_refused_at_once(
    gate: Gate, where: str, request: pytest.FixtureRequest
) -> None:
    storage = request.getfixturevalue("shared") if where == "redis" else "memory://"
    limiter = RateLimiter(1, 6.0, max_wait=30.0, storage=storage, waiters=2)
    assert limiter.acquire("ada", "x") == 0.0  # the window is full now
    results: list[Any] = []

    def call(user: str) -> None:
        try:
            results.append((user, limiter.acquire(user, "x")))
        except RateLimited as exc:
            results.append((user, str(exc)))

    waiting = [threading.Thread(target=call, args=("ada",)) for _ in range(2)]
    for thread in waiting:
        thread.start()
    for _ in waiting:
        assert gate.asleep.acquire(timeout=30)  # both asleep, waiting for their turn
    # A third call of the same user, and more: refused at once, while the two still wait.
    for _ in range(3):
        with pytest.raises(RateLimited) as refused:
            limiter.acquire("ada", "x")
        assert "this user already has 2 calls waiting" in str(refused.value)
        assert refused.value.retry_after == pytest.approx(18.75)  # the slot it would have had
    # Another user is not bound by ada's waiting calls.
    assert limiter.acquire("grace", "x") == 0.0
    grace = threading.Thread(target=call, args=("grace",))
    grace.start()
    assert gate.asleep.acquire(timeout=30)
    assert len(gate.waits) == 3 and not results  # three calls asleep, none back yet
    gate.open.set()
    for thread in [*waiting, grace]:
        thread.join(30)
    assert sorted(results) == [("ada", pytest.approx(6.25)), ("ada", pytest.approx(12.5)), ("grace", 6.25)]
    # Their places are free again: ada may wait once more.
    assert limiter.acquire("ada", "x") == pytest.approx(18.75)


def test_with_no_waiters_no_call_waits(clock: SharedClock) -> None:
    limiter = RateLimiter(1, 6.0, max_wait=30.0, waiters=0)
    assert limiter.acquire("ada", "x") == 0.0
    with pytest.raises(RateLimited, match="already has 0 calls waiting"):
        limiter.acquire("ada", "x")
    assert clock.waits == []


# -- Redis failing ------------------------------------------------------------------------


def test_redis_down_costs_the_sharing_never_a_call(
    clock: SharedClock,
    caplog: pytest.LogCaptureFixture,
    standin: StandInAdobe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing listens at the URL: each call is counted in this process instead,
    the limit still kept there, one warning logged, and no error for the user."""
    nowhere = f"redis://127.0.0.1:{free_port()}/0"
    limiter = RateLimiter(12, 6.0, max_wait=30.0, storage=nowhere)
    with caplog.at_level(logging.WARNING, logger="flask_adobe_oauth"):
        assert [limiter.acquire("ada", "x") for _ in range(12)] == [0.0] * 12
        assert limiter.acquire("ada", "x") == pytest.approx(6.25)
        limiter.hold("ada", 20.0)
        assert limiter.acquire("ada", "x") == pytest.approx(20.0)
    warnings = [r.getMessage() for r in caplog.records if "shared rate limit store" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert f"127.0.0.1:{nowhere.rsplit(':', 1)[1]}" in warnings[0] and "ConnectionError" in warnings[0]

    # Through the app: the page is served (a 200, not a 500).
    adobe_clock(standin, monkeypatch)
    client = app_calling_adobe(
        standin, api_rate_storage=f"redis://:s3cret@127.0.0.1:{free_port()}/0"
    ).test_client()
    login_as(client)
    with caplog.at_level(logging.WARNING, logger="flask_adobe_oauth"):
        assert client.get("/calls/12").json == [200] * 12
    assert "s3cret" not in caplog.text and "redis://***@127.0.0.1" in caplog.text


def test_after_an_outage_the_count_is_shared_again(
    clock: SharedClock, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from .faults.servers import PersistentRedis

    monkeypatch.setattr(ratelimit, "RETRY_SHARED", 0.0)  # try the store again at the next call
    with PersistentRedis() as server, caplog.at_level(logging.WARNING, logger="flask_adobe_oauth"):
        first, second = (RateLimiter(12, 6.0, max_wait=7.0, storage=server.url) for _ in range(2))
        assert [first.acquire("ada", "x") for _ in range(12)] == [0.0] * 12
        server.kill()
        assert second.acquire("ada", "x") == 0.0  # counted alone, in this process
        server.start()  # every call it counted was kept (append-only file)
        assert second.acquire("ada", "x") == pytest.approx(6.25)  # the shared count again
    said = [r.getMessage() for r in caplog.records if "shared rate limit store" in r.getMessage()]
    assert len(said) == 2 and "failed" in said[0] and "answers again" in said[1]


# -- the settings -------------------------------------------------------------------------


def resolved(standin: StandInAdobe, **options: Any) -> Any:
    return resolve(options, {**standin.config()})


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "memory://"),
        ("memory://", "memory://"),
        ("MEMORY://", "memory://"),
        ("redis://cache:6379/0", "redis://cache:6379/0"),
        (" rediss://:pw@cache:6380/1 ", "rediss://:pw@cache:6380/1"),
        ("redis+unix:///run/redis.sock?db=0", "redis+unix:///run/redis.sock?db=0"),
    ],
)
def test_api_rate_storage_values(standin: StandInAdobe, given: Any, expected: str) -> None:
    config = resolved(standin, api_rate_storage=given)
    assert config.api_rate_storage == expected
    assert "pw" not in repr(config)


@pytest.mark.parametrize("given", ["memcached://cache:11211", "mongodb://u:hunter2@db", "redis", 6379, True])
def test_api_rate_storage_must_be_memory_or_redis_and_a_password_is_never_shown(
    standin: StandInAdobe, given: Any
) -> None:
    with pytest.raises(ConfigurationError, match="ADOBE_OAUTH_API_RATE_STORAGE") as caught:
        resolved(standin, api_rate_storage=given)
    assert "hunter2" not in str(caught.value)


def test_api_rate_storage_from_the_app_config(standin: StandInAdobe, shared: str) -> None:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=SECRET_KEY, ADOBE_OAUTH_API_RATE_STORAGE=shared, ADOBE_OAUTH_API_RATE_WAITERS="3"
    )
    app.config.update(standin.config())
    from flask_adobe_oauth import make_adobe_blueprint
    from flask_adobe_oauth.extension import get_runtime

    app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")
    with app.app_context():
        limiter = get_runtime().api.limiter
    assert limiter is not None and limiter.shared and limiter.waiters == 3


def test_a_redis_url_redis_py_cannot_read_fails_at_registration(standin: StandInAdobe) -> None:
    with pytest.raises(ConfigurationError, match="not a Redis URL") as caught:
        make_app(standin, api_rate_storage="redis://:hunter2@cache:notaport/0")
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("given", [-1, "many", float("nan")])
def test_api_rate_waiters_must_be_a_number_of_calls(standin: StandInAdobe, given: Any) -> None:
    with pytest.raises(ConfigurationError, match="ADOBE_OAUTH_API_RATE_WAITERS"):
        resolved(standin, api_rate_waiters=given)
    assert resolved(standin).api_rate_waiters == 2
