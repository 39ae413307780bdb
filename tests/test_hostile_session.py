"""A login is bound to the browser that started it: its pending state lives
in that browser's own signed session (RFC 6749 §10.12, RFC 9700 §4.7). A
callback from another browser, with no session, with a tampered cookie, or
with an old copy of the cookie is refused — except the one known limit of
the cookie session, where the provider's one-time code is the backstop
(SECURITY.md); a server-side session closes it.
"""

from __future__ import annotations

from flask import Flask

from flask_adobe_oauth.testing import StandInAdobe

from .helpers import assert_clean_refusal, begin, deliver, make_app, stored_token


def test_state_from_another_browser_is_refused(app: Flask, standin: StandInAdobe) -> None:
    """Login CSRF: the attacker's own, validly issued callback in the victim's browser."""
    attacker, victim = app.test_client(), app.test_client()
    attackers_callback = begin(attacker)
    begin(victim)  # the victim has a pending login of their own
    response = deliver(victim, list(attackers_callback.items()))
    assert_clean_refusal(response, {403})
    assert standin.token_calls() == []
    assert stored_token(victim) is None
    # Still bound to the attacker's browser, and usable there only.
    assert deliver(attacker, list(attackers_callback.items())).status_code == 302


def test_callback_without_any_session_is_refused(app: Flask, standin: StandInAdobe) -> None:
    real = begin(app.test_client())
    # e.g. a worker with another SECRET_KEY could not read the cookie
    response = deliver(app.test_client(), list(real.items()))
    assert_clean_refusal(response, {403})
    assert b"SECRET_KEY" in response.data  # the page names the usual causes
    assert standin.token_calls() == []


def test_callback_with_a_tampered_session_cookie_is_refused(app: Flask, standin: StandInAdobe) -> None:
    client = app.test_client()
    real = begin(client)
    cookie = client.get_cookie("session")
    assert cookie is not None
    forged = cookie.value[:-4] + ("AAAA" if not cookie.value.endswith("AAAA") else "BBBB")
    client.set_cookie("session", forged)
    response = deliver(client, list(real.items()))
    assert_clean_refusal(response, {403})
    assert standin.token_calls() == []


def test_known_limit_an_old_cookie_revives_its_pending_state_but_the_code_is_one_time(
    app: Flask, standin: StandInAdobe
) -> None:
    """With the cookie session the pending login lives only in the cookie, so
    replaying the cookie from before the callback brings the consumed state
    back. The provider's one-time code is the backstop: the second exchange
    is refused (and the stand-in, like RFC 6749 §4.1.2 asks, revokes what the
    code gave). A server-side session closes the gap (SECURITY.md)."""
    client = app.test_client()
    real = begin(client)
    cookie = client.get_cookie("session")
    assert cookie is not None
    old_cookie = cookie.value
    assert deliver(client, list(real.items())).status_code == 302
    first_access_token = stored_token(client)["a"]

    client.set_cookie("session", old_cookie)  # e.g. a copy stolen before the callback
    replay = deliver(client, list(real.items()))
    assert len(standin.token_calls()) == 2  # the state passed again: this is the limit
    assert_clean_refusal(replay, {502})
    assert stored_token(client) is None
    assert standin.is_revoked(first_access_token) or not standin.is_valid_access_token(first_access_token)


def test_server_side_session_closes_the_old_cookie_gap(standin: StandInAdobe) -> None:
    """Under Flask-Session the cookie holds only a session id; the pending
    login lives on the server, so an old cookie cannot bring it back."""
    import cachelib
    from flask_session import Session

    app = make_app(standin)
    app.config.update(SESSION_TYPE="cachelib", SESSION_CACHELIB=cachelib.SimpleCache())
    Session(app)
    client = app.test_client()
    real = begin(client)
    cookie = client.get_cookie("session")
    assert cookie is not None
    old_cookie = cookie.value
    assert deliver(client, list(real.items())).status_code == 302

    client.set_cookie("session", old_cookie)
    replay = deliver(client, list(real.items()))
    assert_clean_refusal(replay, {403})
    assert len(standin.token_calls()) == 1
