"""No sign-in lost to a failed write or a lost refresh race (#25).

Adobe rotates refresh tokens (RFC 9700 §4.14.2): once a refresh has
succeeded, the refresh token it used is refused for good. So a refreshed
token that the store failed to keep must not be lost (the store still holds
the rotated-away one), and a request that lost a refresh race must not send
the browser a session cookie without the token, overwriting the winner's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient

from flask_adobe_oauth import extension
from flask_adobe_oauth.cookies import LOGIN_ROOM
from flask_adobe_oauth.extension import get_runtime
from flask_adobe_oauth.signals import token_refreshed
from flask_adobe_oauth.storage import RedisStorage, SessionStorage
from flask_adobe_oauth.testing import StandInAdobe, login_as
from flask_adobe_oauth.tokens import Token

from .helpers import login, make_app, store_expired, stored_token
from .redis_fixture import _redis_client_fixture, _redis_url_fixture
from .test_refresh import cookie_value, expire_locally, refresh_calls

__all__ = ["_redis_client_fixture", "_redis_url_fixture"]

PREFIX = "ao-writes:"


@pytest.fixture
def refusing_writes(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    """The session's redis-server, which the test may make refuse writes
    (maxmemory 1, noeviction: every write is an OOM error); healed after."""
    before = redis_client.config_get("maxmemory-policy")["maxmemory-policy"]
    redis_client.config_set("maxmemory-policy", "noeviction")
    try:
        yield redis_client
    finally:
        redis_client.config_set("maxmemory", 0)
        redis_client.config_set("maxmemory-policy", before)


def test_a_refreshed_token_the_store_refused_is_not_lost(
    standin: StandInAdobe, redis_url: str, refusing_writes: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(extension, "_clock", lambda: now[0])
    app = make_app(standin, storage=redis_storage(redis_url))
    client, real = due_for_refresh(app)
    assert real.refresh_token
    calls_before = len(refresh_calls(standin))

    refusing_writes.config_set("maxmemory", 1)
    with pytest.raises(redis.ResponseError):  # the server really refuses writes now
        refusing_writes.set(PREFIX + "probe", "x")
    during = client.get("/dashboard")
    # Served with the refreshed token, which the session cookie now carries.
    assert during.status_code == 200
    assert len(refresh_calls(standin)) == calls_before + 1  # Adobe rotated the refresh token
    assert stored_refresh_token(app, client) == real.refresh_token  # the store refused it
    assert client.get("/dashboard").status_code == 200  # still down: served from the cookie
    assert len(refresh_calls(standin)) == calls_before + 1

    refusing_writes.config_set("maxmemory", 0)  # healed
    now[0] += extension.REFRESH_REUSE_SECONDS * 10  # minutes later (the measured outage's length)
    after = client.get("/dashboard")
    assert after.status_code == 200, after.headers.get("Location")
    assert len(refresh_calls(standin)) == calls_before + 1  # the old refresh token was not sent again
    # The fresh token is in the store now, and gone from the cookie.
    assert stored_refresh_token(app, client) not in (None, real.refresh_token)
    assert handover(client) is None
    assert client.get("/dashboard").status_code == 200
    assert len(refresh_calls(standin)) == calls_before + 1


def test_the_unstored_token_reaches_another_worker_in_the_cookie(
    standin: StandInAdobe, redis_url: str, refusing_writes: redis.Redis
) -> None:
    """Two apps on one Redis stand for two gunicorn workers (or machines):
    the second has no memory of the first's refresh, only the cookie."""
    first, second = (make_app(standin, storage=redis_storage(redis_url)) for _ in range(2))
    browser, real = due_for_refresh(first)

    refresh_during_outage(browser, refusing_writes)
    held = handover(browser)
    assert held is not None and held[1]["r"] != real.refresh_token

    other = second.test_client()
    other.set_cookie("session", cookie_value(browser))
    assert other.get("/dashboard").status_code == 200
    assert len(refresh_calls(standin)) == 1  # the rotated-away refresh token never went to Adobe
    assert stored_refresh_token(second, other) == held[1]["r"]
    assert handover(other) is None


def test_an_unstored_token_past_its_expiry_is_refreshed_with_its_own_refresh_token(
    standin: StandInAdobe, redis_url: str, refusing_writes: redis.Redis
) -> None:
    app = make_app(standin, storage=redis_storage(redis_url))
    browser, real = due_for_refresh(app)
    refresh_during_outage(browser, refusing_writes)
    held = handover(browser)
    assert held is not None
    with browser.session_transaction() as sess:  # its access token expired in the meantime
        key = get_runtime(app=app).handover_key
        sess[key] = [held[0], {**held[1], "e": int(time.time()) - 10}]
    fresh_app = make_app(standin, storage=redis_storage(redis_url))
    other = fresh_app.test_client()
    other.set_cookie("session", cookie_value(browser))
    assert other.get("/dashboard").status_code == 200
    calls = refresh_calls(standin)
    assert len(calls) == 2  # one refresh with the handed-over refresh token, none with the old one
    assert stored_refresh_token(fresh_app, other) not in (None, real.refresh_token, held[1]["r"])


def test_a_handover_is_bound_to_the_stored_token(
    standin: StandInAdobe, redis_url: str, refusing_writes: redis.Redis
) -> None:
    """A handover from an old cookie does nothing once the store holds
    another token (a later refresh, or a new sign-in)."""
    app = make_app(standin, storage=redis_storage(redis_url))
    browser, _ = due_for_refresh(app)
    refresh_during_outage(browser, refusing_writes)
    old_cookie = cookie_value(browser)
    assert browser.post("/adobe/logout").status_code == 303
    replay = make_app(standin, storage=redis_storage(redis_url)).test_client()
    replay.set_cookie("session", old_cookie)
    assert replay.get("/dashboard").status_code == 302  # signed out stays signed out


def test_one_failed_write_keeps_the_fresh_token_past_the_reuse_window(
    standin: StandInAdobe, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = redis_storage(redis_url)
    app = make_app(standin, storage=storage)
    client, _ = due_for_refresh(app)
    runtime = get_runtime(app=app)
    write = type(runtime.storage)._write
    failing = [True]

    def write_once_failing(self: Any, key: str, value: str, ttl: int) -> None:
        if failing[0]:
            failing[0] = False
            from flask_adobe_oauth.errors import StorageUnavailable

            raise StorageUnavailable("Redis failed: OutOfMemoryError")
        write(self, key, value, ttl)

    monkeypatch.setattr(type(runtime.storage), "_write", write_once_failing)
    monkeypatch.setattr(extension, "fits_session_cookie", lambda *a, **k: False)  # no room in the cookie
    now = [1000.0]
    monkeypatch.setattr(extension, "_clock", lambda: now[0])
    assert client.get("/dashboard").status_code == 503
    now[0] += extension.REFRESH_REUSE_SECONDS * 10  # the user comes back minutes later
    assert client.get("/dashboard").status_code == 200
    assert len(refresh_calls(standin)) == 1


def test_unstored_tokens_are_bounded_in_count(standin: StandInAdobe, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extension, "MAX_UNSTORED", 2)
    runtime = get_runtime(app=make_app(standin))
    for n in range(5):
        old = Token(f"a{n}", refresh_token=f"r{n}", expires_at=time.time() - 10)
        runtime.keep_unstored(old, Token(f"a{n}'", refresh_token=f"r{n}'", expires_at=time.time() + 3600))
    assert len(runtime._recent) == 2
    # The newest are kept.
    assert runtime.refresh(Token("a4", refresh_token="r4"))[0].access_token == "a4'"


# -- the cookie session behind several workers --------------------------------------------


def two_workers(standin: StandInAdobe) -> tuple[Flask, Flask]:
    """Two apps of one site (one secret key): as two gunicorn workers, each
    has its own process state, so neither knows of the other's refresh."""
    return make_app(standin), make_app(standin)


def test_a_request_that_lost_the_refresh_race_leaves_the_cookie_alone(standin: StandInAdobe) -> None:
    first, second = two_workers(standin)
    browser = first.test_client()
    assert login(browser).status_code == 302
    expire_locally(browser)
    cookie = cookie_value(browser)

    winner = first.test_client()
    winner.set_cookie("session", cookie)
    won = winner.get("/dashboard")
    assert won.status_code == 200 and "Set-Cookie" in won.headers  # the new token

    loser = second.test_client()
    loser.set_cookie("session", cookie)
    lost = loser.get("/dashboard", headers={"Accept": "application/json"})
    assert lost.status_code == 401  # Adobe refused the rotated-away refresh token
    assert "Set-Cookie" not in lost.headers  # so the browser keeps the winner's cookie
    assert len(refresh_calls(standin)) == 2

    # The winner's cookie, which the browser kept, works on either worker.
    kept = second.test_client()
    kept.set_cookie("session", cookie_value(winner))
    assert kept.get("/dashboard").status_code == 200
    assert len(refresh_calls(standin)) == 2


def test_a_dead_refresh_token_in_the_cookie_is_sent_to_adobe_once_per_process(
    signed_in: FlaskClient, standin: StandInAdobe, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = stored_token(signed_in)
    assert token is not None
    standin.state.revoke(token["r"])
    expire_locally(signed_in)
    now = [1000.0]
    monkeypatch.setattr(extension, "_clock", lambda: now[0])
    for _ in range(3):
        response = signed_in.get("/dashboard", headers={"Accept": "application/json"})
        assert response.status_code == 401 and "Set-Cookie" not in response.headers
    assert len(refresh_calls(standin)) == 1
    now[0] += extension.REFUSED_MEMORY_SECONDS  # forgotten: asked once more
    assert signed_in.get("/dashboard").status_code == 302
    assert len(refresh_calls(standin)) == 2
    # A new sign-in replaces the dead token.
    assert login(signed_in).status_code == 302
    assert signed_in.get("/dashboard").status_code == 200


def due_for_refresh(app: Flask) -> tuple[FlaskClient, Token]:
    """A browser signed in to ``app`` whose access token is due for a refresh
    (its refresh token the live one), and the token it was issued."""
    browser = app.test_client()
    real = login_as(browser)
    store_expired(browser, real)
    return browser, real


def refresh_during_outage(browser: FlaskClient, refusing_writes: redis.Redis) -> None:
    """A request that refreshes ``browser``'s due token while Redis refuses
    writes: served, with the new token handed over in the cookie; then healed."""
    refusing_writes.config_set("maxmemory", 1)
    assert browser.get("/dashboard").status_code == 200
    refusing_writes.config_set("maxmemory", 0)


def handover(client: FlaskClient) -> Any:
    """The unstored token the session cookie carries for the next request, or None."""
    with client.session_transaction() as sess:
        return sess.get(extension.HANDOVER_KEY)


def stored_refresh_token(app: Flask, client: FlaskClient) -> str | None:
    """The refresh token the app's storage holds for ``client`` now."""
    with client.session_transaction() as sess, app.test_request_context():
        from flask import session

        session.update(sess)
        token = get_runtime(app=app).storage.get()
    return token.refresh_token if token is not None else None


# -- the handover's edges (a security review of it) ----------------------------------------


def redis_storage(url: str, **options: Any) -> RedisStorage:
    return RedisStorage(redis.Redis.from_url(url), prefix=PREFIX, **options)


def test_a_request_refused_during_the_outage_leaves_the_winners_handover_working(
    standin: StandInAdobe, redis_url: str, refusing_writes: redis.Redis
) -> None:
    """Two requests of one user at once on two workers while Redis refuses
    writes: the first refreshes and hands the token over in its cookie; the
    second sends the rotated-away refresh token, is refused, and must not
    delete the record the handover is bound to (Redis allows DEL when full)."""
    first, second = (make_app(standin, storage=redis_storage(redis_url, successor_wait=0)) for _ in range(2))
    browser, _ = due_for_refresh(first)
    sent_together = cookie_value(browser)
    refusing_writes.config_set("maxmemory", 1)
    assert browser.get("/dashboard").status_code == 200  # the winner, with the handover
    loser = second.test_client()
    loser.set_cookie("session", sent_together)
    lost = loser.get("/dashboard", headers={"Accept": "application/json"})
    assert lost.status_code == 401 and "Set-Cookie" not in lost.headers
    refusing_writes.config_set("maxmemory", 0)
    kept = second.test_client()  # the browser kept the winner's cookie
    kept.set_cookie("session", cookie_value(browser))
    assert kept.get("/dashboard").status_code == 200
    assert [c.status for c in standin.token_calls() if c.grant_type == "refresh_token"] == [200, 400]


def test_token_refreshed_is_sent_once_per_refresh_even_when_it_could_not_be_stored(
    standin: StandInAdobe, redis_url: str, refusing_writes: redis.Redis
) -> None:
    app = make_app(standin, storage=redis_storage(redis_url))
    sent: list[Token] = []

    def on_refresh(sender: Flask, token: Token) -> None:
        sent.append(token)

    browser, _ = due_for_refresh(app)
    with token_refreshed.connected_to(on_refresh, app):
        refusing_writes.config_set("maxmemory", 1)
        assert browser.get("/dashboard").status_code == 200
        refusing_writes.config_set("maxmemory", 0)
        assert browser.get("/dashboard").status_code == 200  # stores the handed-over token
    assert len(sent) == 1 == len(refresh_calls(standin))
    assert sent[0].refresh_token == stored_refresh_token(app, browser)


def test_a_new_sign_in_drops_the_previous_accounts_handover(
    standin: StandInAdobe, redis_url: str, refusing_writes: redis.Redis
) -> None:
    app = make_app(standin, storage=redis_storage(redis_url))
    browser, _ = due_for_refresh(app)
    refresh_during_outage(browser, refusing_writes)
    assert handover(browser) is not None
    assert login(browser).status_code == 302  # another sign-in in this browser
    assert handover(browser) is None  # the old account's live tokens are out of the cookie


def test_sign_out_revokes_the_handed_over_token(
    standin: StandInAdobe, redis_url: str, refusing_writes: redis.Redis
) -> None:
    app = make_app(standin, storage=redis_storage(redis_url))
    browser, _ = due_for_refresh(app)
    refusing_writes.config_set("maxmemory", 1)
    assert browser.get("/dashboard").status_code == 200
    held = handover(browser)
    assert browser.post("/adobe/logout").status_code == 303
    refusing_writes.config_set("maxmemory", 0)
    # The live refresh token is the handed-over one, not the rotated-away one the store held.
    assert standin.is_revoked(held[1]["r"])
    assert handover(browser) is None


def test_the_handover_leaves_room_for_a_sign_in_and_keeps_the_storages_cookie_size(
    standin: StandInAdobe, redis_url: str, refusing_writes: redis.Redis
) -> None:
    app = make_app(standin, storage=SessionStorage(fallback=redis_storage(redis_url), max_cookie_size=700))
    browser, _ = due_for_refresh(app)  # too big for 700 bytes: in Redis
    refusing_writes.config_set("maxmemory", 1)
    during = browser.get("/dashboard")
    assert during.status_code == 503  # no room under the storage's own 700 bytes: kept in the process
    assert handover(browser) is None and len(during.headers.get("Set-Cookie", "")) <= 700 - LOGIN_ROOM
    refusing_writes.config_set("maxmemory", 0)
    assert browser.get("/dashboard").status_code == 200  # the same process hands it on
    assert len(refresh_calls(standin)) == 1
