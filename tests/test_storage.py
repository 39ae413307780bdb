"""Token storage on real servers: Redis (directly and through cachelib), a
SQL database through SQLAlchemy (a SQLite file and a real PostgreSQL
server), Flask-Session, and the session cookie's size guard.

Every login here is a real one against the stand-in, whose tokens are
JWT-shaped and 1–2 KB like Adobe's; Redis is a real ``redis-server`` and
PostgreSQL a real server (``postgres_fixture``). Each backend's tests read
that backend's own records. That the whole cookie stays within browsers' 4
KB whatever the extension adds is in ``test_cookie_budget.py``; what only
the SQL storage does is in ``test_sqlalchemy_storage.py``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import cachelib
import pytest
import redis
from flask import Flask, request
from flask.testing import FlaskClient
from flask_session import Session
from sqlalchemy import MetaData, create_engine, select
from sqlalchemy.engine import Engine

from flask_adobe_oauth import CookieTooLarge, Token, adobe, make_adobe_blueprint
from flask_adobe_oauth.cookies import MAX_COOKIE_SIZE, session_cookie_size
from flask_adobe_oauth.errors import StorageUnavailable
from flask_adobe_oauth.storage import (
    TOKEN_KEY,
    CacheStorage,
    RedisStorage,
    ServerSideStorage,
    SessionStorage,
    SQLAlchemyStorage,
)
from flask_adobe_oauth.storage.sqla import token_table
from flask_adobe_oauth.testing import StandInAdobe, User

from .helpers import (
    authorize,
    big_user,
    cookie_session,
    local,
    login,
    make_app,
    session_cookie,
    start_login,
    store_expired,
)
from .postgres_fixture import _engines_fixture, _postgres_server_fixture, _postgres_url_fixture
from .redis_fixture import _redis_client_fixture, _redis_url_fixture, free_port

__all__ = [  # fixtures used by name
    "_engines_fixture",
    "_postgres_server_fixture",
    "_postgres_url_fixture",
    "_redis_client_fixture",
    "_redis_url_fixture",
]

PREFIX = "ao-test:"
BACKENDS = ["redis", "cachelib", "sqlite", "postgresql"]
SQL_BACKENDS = ("sqlite", "postgresql")


def make_storage(kind: str, redis_url: str) -> ServerSideStorage:
    """A server-side storage on its own client of the test redis-server."""
    if kind == "redis":
        return RedisStorage(redis.Redis.from_url(redis_url), prefix=PREFIX)
    parts = urlsplit(redis_url)
    cache = cachelib.RedisCache(host=parts.hostname, port=parts.port, key_prefix="cachelib:")
    return CacheStorage(cache, prefix=PREFIX)


def records(client: redis.Redis) -> dict[str, bytes]:
    """Our token records in Redis, by Redis key."""
    found = {}
    for name in client.scan_iter(match=f"*{PREFIX}*"):
        value = client.get(name)
        if value is not None:
            found[name.decode()] = value
    return found


class Backend:
    """One server-side backend under test: storages on it, as separate app
    instances would each make their own, and its real stored records."""

    def __init__(
        self,
        kind: str,
        *,
        redis_url: str | None = None,
        redis_client: redis.Redis | None = None,
        sql_url: str | None = None,
        keep: Callable[[Engine], Engine] | None = None,
    ) -> None:
        self.kind = kind
        self.redis_url, self.redis_client = redis_url, redis_client
        self.sql_url, self.keep = sql_url, keep

    def make(self) -> ServerSideStorage:
        """A new storage on its own client or engine (as another app instance would have)."""
        if self.sql_url is None:
            assert self.redis_url is not None
            return make_storage(self.kind, self.redis_url)
        assert self.keep is not None
        if self.kind == "sqlite":  # as the docs advise: WAL and a busy timeout
            storage = SQLAlchemyStorage.from_url(self.sql_url)
        else:  # an engine of the app's own
            storage = SQLAlchemyStorage(create_engine(self.sql_url))
        self.keep(storage.engine)
        storage.create_table()
        return storage

    def _rows(self) -> list[Any]:
        assert self.sql_url is not None and self.keep is not None
        table = token_table(MetaData())
        engine = self.keep(create_engine(self.sql_url))
        with engine.connect() as connection:
            return list(connection.execute(select(table)))

    def records(self) -> dict[str, bytes]:
        """Every stored record (live or not), by its name in the store: the Redis
        key (which ends with the session's key), or the row's key."""
        if self.kind == "cachelib":  # its values are pickled: read them back through cachelib
            assert self.redis_url is not None and self.redis_client is not None
            parts = urlsplit(self.redis_url)
            cache = cachelib.RedisCache(host=parts.hostname, port=parts.port, key_prefix="cachelib:")
            values = {name: cache.get(name.removeprefix("cachelib:")) for name in records(self.redis_client)}
            return {name: value.encode() for name, value in values.items() if isinstance(value, str)}
        if self.redis_client is not None:
            return records(self.redis_client)
        return {row.key: row.token.encode() for row in self._rows()}

    def ttl(self, name: str) -> float:
        """Seconds the record ``name`` has left."""
        if self.redis_client is not None:
            return float(self.redis_client.ttl(name))
        (expires,) = [row.expires_at for row in self._rows() if row.key == name]
        if expires.tzinfo is None:  # SQLite keeps the UTC wall time
            expires = expires.replace(tzinfo=timezone.utc)
        return (expires - datetime.now(timezone.utc)).total_seconds()


@pytest.fixture(name="backend")
def _backend_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The backend named by the test's parameter, on its real server (started
    only for the backends a test asks for)."""
    kind: str = request.param
    if kind in ("redis", "cachelib"):
        yield Backend(
            kind,
            redis_url=request.getfixturevalue("redis_url"),
            redis_client=request.getfixturevalue("redis_client"),
        )
        return
    keep = request.getfixturevalue("engines")
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'tokens.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    yield Backend(kind, sql_url=url, keep=keep)


def every(backends: list[str] = BACKENDS) -> pytest.MarkDecorator:
    """Run the test once per backend (the ``backend`` fixture)."""
    return pytest.mark.parametrize("backend", backends, indirect=True)


# -- server-side storage: one real login at a time ------------------------------------


@every()
def test_token_lands_in_the_store_and_the_cookie_holds_only_a_key(
    standin: StandInAdobe, backend: Backend
) -> None:
    app = make_app(standin, storage=backend.make())
    client = app.test_client()

    response = login(client, next_url="/dashboard")

    assert response.status_code == 302
    assert client.get("/dashboard").json["user"] == standin.state.user.sub
    stored = backend.records()
    assert len(stored) == 1
    (name, value), issued = next(iter(stored.items())), standin.token_calls()
    assert len(issued) == 1
    access = [t for t, g in standin.state.grants.items() if g.kind == "access"]
    assert len(access) == 1 and access[0].encode() in value
    assert b"id_token" not in value and Token.from_dict(json.loads(value)).user_id == standin.state.user.sub
    # The refresh token's own lifetime (14 days at the stand-in) bounds the record's.
    assert 13 * 86400 < backend.ttl(name) <= 14 * 86400
    cookie = session_cookie(client)
    assert len(response.headers["Set-Cookie"]) < 200
    held = cookie_session(app, cookie)
    assert set(held) == {"_ao_k"}
    assert name.endswith(held["_ao_k"])


@every()
def test_record_lives_as_long_as_a_token_without_refresh_token(
    standin: StandInAdobe, backend: Backend
) -> None:
    client = make_app(standin, "legacy", storage=backend.make()).test_client()
    login(client)
    (name,) = backend.records()
    assert 86000 < backend.ttl(name) <= 86400  # the legacy token's own lifetime


@every()
def test_logout_deletes_the_record_and_a_replayed_cookie_no_longer_authorizes(
    standin: StandInAdobe, backend: Backend
) -> None:
    app = make_app(standin, storage=backend.make())
    client = app.test_client()
    login(client)
    old_cookie = session_cookie(client)
    assert client.get("/dashboard").status_code == 200

    assert client.post("/adobe/logout").status_code == 303

    assert backend.records() == {}
    thief = app.test_client()
    thief.set_cookie("session", old_cookie)
    assert thief.get("/dashboard").status_code == 302
    assert thief.get("/dashboard", headers={"Accept": "application/json"}).status_code == 401


@every()
def test_each_login_gets_a_fresh_key_so_a_planted_session_never_names_the_token(
    standin: StandInAdobe, backend: Backend
) -> None:
    app = make_app(standin, storage=backend.make())
    # The attacker logs in with their own account and plants their cookie in the victim's browser.
    standin.state.user = User(sub="ATTACKER0000000000000000@AdobeID", email="mallory@example.com")
    attacker = app.test_client()
    login(attacker)
    planted = session_cookie(attacker)
    victim = app.test_client()
    victim.set_cookie("session", planted)

    standin.state.user = User()
    login(victim)

    assert victim.get("/dashboard").json["user"] == User().sub
    assert cookie_session(app, session_cookie(victim))["_ao_k"] != cookie_session(app, planted)["_ao_k"]
    assert attacker.get("/dashboard").status_code == 302  # the planted key names nothing now
    assert len(backend.records()) == 1


@every()
def test_signing_in_again_as_the_same_user_gets_a_fresh_key_and_the_old_cookie_names_nothing(
    standin: StandInAdobe, backend: Backend
) -> None:
    """A second sign-in is not a refresh: nothing that named the first one
    (a copy of the cookie left on a shared machine, say) reaches the new token."""
    app = make_app(standin, storage=backend.make())
    browser = app.test_client()
    login(browser)
    before = session_cookie(browser)
    login(browser)  # the same Adobe user signs in again in the same browser

    assert cookie_session(app, session_cookie(browser))["_ao_k"] != cookie_session(app, before)["_ao_k"]
    assert browser.get("/dashboard").status_code == 200
    copy = app.test_client()
    copy.set_cookie("session", before)
    assert copy.get("/dashboard").status_code == 302
    assert len(live_tokens(backend)) == 1


@every()
def test_two_app_instances_with_the_same_secret_key_and_store_share_logins(
    standin: StandInAdobe, backend: Backend
) -> None:
    first = make_app(standin, storage=backend.make())
    second = make_app(standin, storage=backend.make())
    one, two = first.test_client(), second.test_client()

    # Login started on one instance, callback handled by the other.
    callback_url = authorize(start_login(one, "/dashboard"))
    two.set_cookie("session", session_cookie(one))
    assert two.get(local(callback_url)).headers["Location"] == "/dashboard"
    one.set_cookie("session", session_cookie(two))
    assert one.get("/dashboard").json["user"] == standin.state.user.sub
    assert two.get("/dashboard").json["user"] == standin.state.user.sub

    # Logout on one instance logs the same cookie out on the other.
    assert one.post("/adobe/logout").status_code == 303
    assert two.get("/dashboard").status_code == 302
    assert backend.records() == {}


def stale_login(app: Flask, client: FlaskClient, backend: Backend) -> None:
    """Log ``client`` in for real, then make its stored token expired as far as the app knows."""
    login(client)
    (raw,) = backend.records().values()
    real = Token.from_dict(json.loads(raw))
    assert real.refresh_token
    store_expired(client, real)


def stored(app: Flask, client: FlaskClient) -> Token:
    """The token ``client``'s session leads to, read through the app's storage."""
    with app.test_request_context():
        from flask import session

        session.update(cookie_session(app, session_cookie(client)))
        token = app.extensions["adobe_oauth"]["adobe"].storage.get()
    assert token is not None
    return token


def live_tokens(backend: Backend) -> list[Token]:
    """The tokens the store holds (not Redis's pointers to a successor)."""
    return [Token.from_dict(json.loads(v)) for v in backend.records().values() if b'"a"' in v]


@every()
def test_a_stale_cookie_copy_reads_the_token_another_instance_refreshed(
    standin: StandInAdobe, backend: Backend
) -> None:
    first = make_app(standin, storage=backend.make())
    second = make_app(standin, storage=backend.make())
    one, two = first.test_client(), second.test_client()
    stale_login(first, one, backend)
    two.set_cookie("session", session_cookie(one))

    assert one.get("/me").status_code == 200  # instance one refreshes, rotating the refresh token
    assert two.get("/me").status_code == 200  # instance two reads the refreshed token

    refreshes = [c.status for c in standin.token_calls() if c.grant_type == "refresh_token"]
    assert refreshes == [200]
    (fresh,) = live_tokens(backend)
    assert not fresh.expired
    # Logging out with the stale cookie ends the refreshed login too.
    assert two.post("/adobe/logout").status_code == 303
    assert one.get("/dashboard").status_code == 302
    assert live_tokens(backend) == []


@every()
def test_a_refresh_racing_one_in_another_instance_keeps_the_user_logged_in(
    standin: StandInAdobe, backend: Backend
) -> None:
    first = make_app(standin, storage=backend.make())
    second = make_app(standin, storage=backend.make())
    loaded, go = threading.Event(), threading.Event()

    @second.before_request
    def read_the_stale_token_then_wait() -> None:
        if request.path == "/me":
            assert adobe.token is not None and adobe.token.expired
            loaded.set()
            go.wait(10)

    one, two = first.test_client(), second.test_client()
    stale_login(first, one, backend)
    two.set_cookie("session", session_cookie(one))
    answers: list[Any] = []
    racing = threading.Thread(target=lambda: answers.append(two.get("/me")))
    racing.start()
    try:
        assert loaded.wait(10)
        assert one.get("/me").status_code == 200  # instance one refreshes first
    finally:
        go.set()
        racing.join(10)

    assert answers[0].status_code == 200  # instance two's refresh was refused, yet it found the new token
    refreshes = [c.status for c in standin.token_calls() if c.grant_type == "refresh_token"]
    assert refreshes == [200, 400]
    assert one.get("/dashboard").status_code == 200
    assert len(live_tokens(backend)) == 1


@every()
def test_a_burst_of_refreshes_in_two_instances_keeps_every_request_signed_in(
    standin: StandInAdobe, backend: Backend
) -> None:
    """Twelve requests of one user whose token just expired, on two app
    instances (two workers) at once. Each instance refreshes once; Adobe
    grants one refresh and refuses the other (the refresh token rotates), and
    its refusal can come back before the winner has stored the new token. The
    loser reads the store again until the token is there (``successor_wait``)
    instead of signing the user out."""
    instances = [make_app(standin, storage=backend.make()) for _ in range(2)]
    first = instances[0].test_client()
    stale_login(instances[0], first, backend)
    cookie = session_cookie(first)
    per_instance = 6
    start = threading.Barrier(2 * per_instance)
    statuses: list[int] = []

    def user_request(app: Flask) -> None:
        client = app.test_client()
        client.set_cookie("session", cookie)
        start.wait(10)
        statuses.append(client.get("/me").status_code)

    threads = [threading.Thread(target=user_request, args=(app,)) for app in instances for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert statuses == [200] * 12
    refreshes = [c.status for c in standin.token_calls() if c.grant_type == "refresh_token"]
    assert refreshes.count(200) == 1 and set(refreshes) <= {200, 400}
    # One token (Redis and cachelib keep a record of it per request that stored it).
    (fresh,) = {token for token in live_tokens(backend) if not token.expired}
    assert fresh.refresh_token is not None
    for app in instances:  # the same browser, on either worker, goes on without another refresh
        client = app.test_client()
        client.set_cookie("session", cookie)
        assert client.get("/me").status_code == 200
    assert len([c for c in standin.token_calls() if c.grant_type == "refresh_token"]) == len(refreshes)


@every()
def test_a_refresh_refused_for_good_signs_the_user_out_after_the_successor_wait(
    standin: StandInAdobe, backend: Backend
) -> None:
    """No other worker refreshed (the grant was revoked at Adobe): nothing
    comes, and after ``successor_wait`` the user is asked to sign in. The
    record is left alone (the refusal may be a lost race whose winner could
    not store its token and handed it over in its cookie), and the refused
    refresh token is not sent to Adobe again."""
    storage = backend.make()
    storage.successor_wait = 0.3
    app = make_app(standin, storage=storage)
    client = app.test_client()
    stale_login(app, client, backend)
    (stale,) = [token for token in live_tokens(backend) if token.expired]
    assert stale.refresh_token
    standin.state.revoke(stale.refresh_token)
    began = time.monotonic()
    response = client.get("/me", headers={"Accept": "application/json"})
    assert response.status_code == 401
    assert time.monotonic() - began >= 0.3
    assert [token.refresh_token for token in live_tokens(backend)] == [stale.refresh_token]
    assert client.get("/me", headers={"Accept": "application/json"}).status_code == 401
    assert [c.status for c in standin.token_calls() if c.grant_type == "refresh_token"] == [400]


def test_an_unreachable_redis_fails_the_login_with_a_clear_page(standin: StandInAdobe) -> None:
    dead = redis.Redis(host="127.0.0.1", port=free_port(), socket_connect_timeout=2)
    client = make_app(standin, storage=RedisStorage(dead)).test_client()
    response = login(client)
    assert response.status_code == 503
    assert b"storage_unavailable" in response.data
    assert StorageUnavailable.status_code == 503


# -- Flask-Session (server-side sessions) ----------------------------------------------


def flask_session_app(standin: StandInAdobe, redis_url: str, **options: Any) -> Flask:
    app = make_app(standin, **options)
    app.config.update(SESSION_TYPE="redis", SESSION_REDIS=redis.Redis.from_url(redis_url))
    Session(app)
    return app


def test_redis_storage_works_under_flask_session(
    standin: StandInAdobe, redis_url: str, redis_client: redis.Redis
) -> None:
    app = flask_session_app(standin, redis_url, storage=make_storage("redis", redis_url))
    client = app.test_client()
    login(client)
    old_cookie = session_cookie(client)

    assert client.get("/dashboard").json["user"] == standin.state.user.sub
    assert len(records(redis_client)) == 1
    assert any(name.startswith(b"session:") for name in redis_client.keys("*"))  # Flask-Session's own

    assert client.post("/adobe/logout").status_code == 303
    assert records(redis_client) == {}
    thief = app.test_client()
    thief.set_cookie("session", old_cookie)
    assert thief.get("/dashboard").status_code == 302


def test_session_storage_under_flask_session_takes_a_token_too_big_for_a_cookie(
    standin: StandInAdobe, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    standin.state.user = big_user()
    app = flask_session_app(standin, redis_url)
    client = app.test_client()
    with caplog.at_level(logging.WARNING, "flask_adobe_oauth"):
        assert login(client).status_code == 302
    assert client.get("/dashboard").json["user"] == standin.state.user.sub
    assert len(session_cookie(client)) < 100  # only Flask-Session's id
    assert not [r for r in caplog.records if "cookie" in r.getMessage()]


# -- the cookie guard -------------------------------------------------------------------


def test_a_real_ims_login_fits_the_cookie_and_the_guard_measures_it_exactly(
    standin: StandInAdobe,
) -> None:
    app = make_app(standin)
    client = app.test_client()
    response = login(client)
    header = response.headers["Set-Cookie"]
    stored = cookie_session(app, session_cookie(client))
    assert "r" in stored[TOKEN_KEY]  # access and refresh token, both 1–2 KB JWTs
    with app.test_request_context():
        predicted = session_cookie_size(app, stored)
    # The measurement is of the header Flask really sends (the signature's
    # timestamp may differ by one base64 character at a second boundary).
    assert predicted is not None and abs(predicted - len(header)) <= 1
    assert 1500 < len(header) < MAX_COOKIE_SIZE


def test_a_token_too_big_for_the_cookie_fails_the_login_with_a_clear_page(
    standin: StandInAdobe, caplog: pytest.LogCaptureFixture
) -> None:
    standin.state.user = big_user()
    app = make_app(standin)
    client = app.test_client()

    with caplog.at_level(logging.WARNING, "flask_adobe_oauth"):
        response = login(client)

    assert response.status_code == CookieTooLarge.status_code == 507
    assert b"cookie_too_large" in response.data
    assert b"server-side" in response.data
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("server-side token storage" in w and "RedisStorage" in w for w in warnings)
    cookie = client.get_cookie("session")
    assert cookie is None or TOKEN_KEY not in cookie_session(app, cookie.value)
    assert client.get("/dashboard").status_code == 302


def test_a_token_too_big_for_the_cookie_goes_to_the_fallback_storage(
    standin: StandInAdobe, redis_url: str, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    standin.state.user = big_user()
    app = make_app(standin, storage=SessionStorage(fallback=make_storage("redis", redis_url)))
    client = app.test_client()

    with caplog.at_level(logging.WARNING, "flask_adobe_oauth"):
        response = login(client, next_url="/dashboard")

    assert response.status_code == 302
    assert len(response.headers["Set-Cookie"]) < 200
    assert client.get("/dashboard").json["user"] == standin.state.user.sub
    assert set(cookie_session(app, session_cookie(client))) == {"_ao_k"}
    assert len(records(redis_client)) == 1
    assert any("server-side" in r.getMessage() for r in caplog.records)

    assert client.post("/adobe/logout").status_code == 303
    assert records(redis_client) == {}
    assert client.get("/dashboard").status_code == 302


def test_a_small_token_stays_in_the_cookie_even_with_a_fallback(
    standin: StandInAdobe, redis_url: str, redis_client: redis.Redis
) -> None:
    app = make_app(standin, storage=SessionStorage(fallback=make_storage("redis", redis_url)))
    client = app.test_client()
    login(client)
    assert TOKEN_KEY in cookie_session(app, session_cookie(client))
    assert records(redis_client) == {}
    assert client.get("/dashboard").status_code == 200


@pytest.mark.parametrize("where", ["cookie", "fallback"])
def test_a_refused_refresh_waits_for_another_workers_token_only_where_one_could_appear(
    standin: StandInAdobe, redis_url: str, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    """With the token in the cookie, no other worker can change it during this
    request: a refused refresh signs the user out at once. In the fallback
    store, the request looks for another worker's token first."""
    from flask_adobe_oauth import extension

    polls: list[float] = []
    monkeypatch.setattr(extension, "_sleep", polls.append)
    fallback = make_storage("redis", redis_url)
    storage = SessionStorage(fallback=fallback, max_cookie_size=900 if where == "fallback" else 4000)
    app = make_app(standin, storage=storage)
    client = app.test_client()
    login(client)
    in_cookie = TOKEN_KEY in cookie_session(app, session_cookie(client))
    assert in_cookie == (where == "cookie")
    token = store_expired(client, stored(app, client))
    assert token.refresh_token
    standin.state.revoke(token.refresh_token)

    assert client.get("/me", headers={"Accept": "application/json"}).status_code == 401
    if where == "cookie":
        assert polls == []
    else:  # successor_wait of looking, every 50 ms, then the sign-out
        assert len(polls) == round(fallback.successor_wait / extension.SUCCESSOR_POLL)
        assert set(polls) == {extension.SUCCESSOR_POLL}


def test_one_session_storage_shared_by_two_blueprints_keeps_each_ones_scope(standin: StandInAdobe) -> None:
    """The app's storage object is not changed by registering: each blueprint
    works on its own copy, with its own scope."""
    shared = SessionStorage(session_key="_shared_t")
    app = make_app(standin, scope=["openid", "AdobeID"], storage=shared)
    app.register_blueprint(
        make_adobe_blueprint(name="reports", scope=["openid", "Report"], storage=shared), url_prefix="/r"
    )
    assert shared.default_scope is None
    mine = app.extensions["adobe_oauth"]
    assert mine["adobe"].storage.default_scope == frozenset({"openid", "AdobeID"})
    assert mine["reports"].storage.default_scope == frozenset({"openid", "Report"})


@pytest.mark.parametrize("wait", [float("nan"), float("inf"), -1, 31, True])
def test_successor_wait_must_be_a_bounded_number(redis_url: str, wait: Any) -> None:
    with pytest.raises(ValueError, match="successor_wait"):
        RedisStorage(redis.Redis.from_url(redis_url), successor_wait=wait)


def shared_storage(kind: str, redis_url: str) -> Any:
    """One storage object of ``kind``, to hand to two blueprints."""
    if kind == "session":
        return SessionStorage()
    if kind == "session-fallback":
        return SessionStorage(fallback=make_storage("redis", redis_url), max_cookie_size=900)
    return make_storage(kind, redis_url)


@pytest.mark.parametrize("how", ["argument", "app-wide"])
@pytest.mark.parametrize("kind", ["redis", "cachelib", "session", "session-fallback"])
def test_one_storage_object_for_two_blueprints_keeps_their_logins_apart(
    standin: StandInAdobe, redis_url: str, kind: str, how: str
) -> None:
    """Issue #27, 1: signed in to ``adobe`` only, a view guarded for ``admin``
    asks for a login, and signing out of ``admin`` leaves ``adobe`` signed in."""
    from flask_adobe_oauth import adobe_login_required

    storage = shared_storage(kind, redis_url)
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-secret-key-not-for-production", TESTING=True, **standin.config())
    given = {"storage": storage} if how == "argument" else {}
    if how == "app-wide":
        app.config["ADOBE_OAUTH_STORAGE"] = storage
    app.register_blueprint(make_adobe_blueprint(**given), url_prefix="/adobe")
    app.register_blueprint(make_adobe_blueprint(name="admin", **given), url_prefix="/admin-auth")

    @app.get("/mine")
    @adobe_login_required
    def mine() -> Any:
        return "adobe"

    @app.get("/admin")
    @adobe_login_required(blueprint="admin")
    def admin() -> Any:
        return "admin"

    client = app.test_client()
    login(client)
    assert client.get("/mine").status_code == 200
    assert client.get("/admin").status_code == 302  # not signed in to admin

    callback = client.get("/admin-auth/login")
    assert client.get(local(authorize(callback.headers["Location"]))).status_code == 302
    assert client.get("/admin").status_code == 200

    assert client.post("/admin-auth/logout").status_code == 303
    assert client.get("/admin").status_code == 302
    assert client.get("/mine").status_code == 200  # still signed in to adobe
    # The app's own object is left as it was: each blueprint works on a copy.
    assert storage.blueprint is None
    assert storage.session_key in {
        TOKEN_KEY,
        "_ao_k",
    }


@pytest.mark.parametrize("option", ["ttl", "moved_grace"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), 0, -5, True])
def test_record_lifetimes_must_be_finite_seconds(redis_url: str, option: str, value: Any) -> None:
    """Issue #27, 2: a NaN or infinite ``ttl`` reached Redis as an expiry it refuses
    (a 503 at every sign-in); 0 is "never expires" to cachelib."""
    with pytest.raises(ValueError, match=option):
        RedisStorage(redis.Redis.from_url(redis_url), **{option: value})
    with pytest.raises(ValueError, match=option):
        CacheStorage(cachelib.SimpleCache(), **{option: value})


GARBAGE_RECORDS = [
    "[1, 2]",
    '"a token"',
    '"moved"',
    "42",
    "null",
    "true",
    '{"moved": 5}',
    '{"a": 5}',
    '{"a": "x", "r": 5}',
    '{"a": "x", "e": "soon"}',
    '{"a": "x", "e": [1]}',
    '{"a": "x", "s": ["Report"]}',
    '{"a": "x", "u": {"id": 1}}',
    "[" * 100_000,
    "not json",
]


@pytest.mark.parametrize("raw", GARBAGE_RECORDS, ids=lambda raw: raw[:20])
@every(["redis", "cachelib"])
def test_a_server_side_record_that_is_not_a_token_is_no_login(
    standin: StandInAdobe, backend: Backend, raw: str
) -> None:
    """Issue #27, 5: a record that is a JSON list, string or number (or a token
    with fields of the wrong type) gave a 500; it is no login."""
    storage = backend.make()
    app = make_app(standin, storage=storage)
    client = app.test_client()
    login(client)
    key = cookie_session(app, session_cookie(client))["_ao_k"]
    assert isinstance(storage, (RedisStorage, CacheStorage))
    if isinstance(storage, RedisStorage):
        storage.redis.set(PREFIX + key, raw)
    else:
        storage.cache.set(PREFIX + key, raw)

    assert client.get("/dashboard").status_code == 302
    assert client.get("/dashboard", headers={"Accept": "application/json"}).status_code == 401
    assert client.post("/adobe/logout").status_code == 303
    login(client)  # and signing in again works
    assert client.get("/dashboard").status_code == 200
