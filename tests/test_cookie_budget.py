"""The session cookie's budget holds for the whole cookie, whatever the
extension adds: a pending login, a token that nearly fills it, the app's own
data, any cookie attributes. Measured on the Set-Cookie header Flask sends,
against the real stand-in.

The guard itself (a token too big is a clear page or goes to a fallback
storage) is in ``test_storage.py``; a long ``next`` at /login in
``test_hostile_login.py``.
"""

from __future__ import annotations

import secrets
from typing import Any

import cachelib
import pytest
from flask import Flask
from flask import session as flask_session
from flask.testing import FlaskClient

from flask_adobe_oauth import CookieTooLarge
from flask_adobe_oauth.cookies import MAX_COOKIE_SIZE, fits_session_cookie, session_cookie_size
from flask_adobe_oauth.extension import PENDING_KEY
from flask_adobe_oauth.storage import TOKEN_KEY, CacheStorage, SessionStorage
from flask_adobe_oauth.testing import StandInAdobe, login_as

from .helpers import (
    authorize,
    cookie_session,
    local,
    make_app,
    pending_states,
    query,
    session_cookie,
    start_login,
)

# -- the cookie budget holds for the whole cookie, whatever the extension adds ------------
#
# RFC 6265 §6.1: a browser need keep only 4096 bytes of a cookie, counting its
# name, value and attributes; past that the Set-Cookie is dropped without a
# word. The budget (MAX_COOKIE_SIZE) is checked against the header Flask sends.


def _noise(length: int) -> str:
    """High-entropy text (zlib shrinks base64url text by a quarter at most)."""
    return secrets.token_urlsafe(length)[:length]


def assert_within_budget(response: Any) -> None:
    for header in response.headers.getlist("Set-Cookie"):
        pair = header.split(";", 1)[0]
        assert len(pair) <= MAX_COOKIE_SIZE, f"name=value is {len(pair)} bytes"
        assert len(header) <= MAX_COOKIE_SIZE, f"the Set-Cookie header is {len(header)} bytes"


def largest_token_the_cookie_takes(app: Flask) -> tuple[FlaskClient, str]:
    """A client logged in (login_as) with the longest access token SessionStorage
    still keeps in the cookie, and that token."""
    noise = _noise(MAX_COOKIE_SIZE)
    low, high = 0, len(noise)  # low: known to fit; high + 1: known not to
    while low < high:
        middle = (low + high + 1) // 2
        try:
            login_as(app.test_client(), access_token=noise[:middle])
        except CookieTooLarge:
            high = middle - 1
        else:
            low = middle
    client = app.test_client()
    login_as(client, access_token=noise[:low])
    assert low > 3000
    return client, noise[:low]


def test_a_login_started_with_the_largest_token_the_cookie_takes_stays_within_the_budget(
    standin: StandInAdobe,
) -> None:
    """A signed-in user whose token nearly fills the cookie starts another
    login (switch account, re-consent): the pending login must not push the
    cookie past the budget, and the login must still start and finish."""
    app = make_app(standin)
    client, access_token = largest_token_the_cookie_takes(app)
    for next_url in (None, "/dashboard", "/" + _noise(300), None):
        response = client.get("/adobe/login", query_string={"next": next_url} if next_url else None)
        assert response.status_code == 302
        assert_within_budget(response)
        state = query(response.headers["Location"])["state"][0]
        assert pending_states(client)[-1] == state  # the new login was kept
    assert cookie_session(app, session_cookie(client))[TOKEN_KEY]["a"] == access_token
    done = client.get(local(authorize(response.headers["Location"])))
    assert done.status_code == 302
    assert_within_budget(done)
    assert client.get("/dashboard").json["user"] == standin.state.user.sub


def test_a_login_with_no_room_for_one_pending_login_gets_the_cookie_page(standin: StandInAdobe) -> None:
    """When the app's own session data leaves no room for even one pending
    login, /login answers the CookieTooLarge page (server-side storage is the
    fix) instead of a Set-Cookie the browser would drop."""
    app = make_app(standin)
    client = app.test_client()
    fill_session(app, client, spare=20)
    before = session_cookie(client)

    response = client.get("/adobe/login", headers={"Accept": "text/html"})

    assert response.status_code == CookieTooLarge.status_code == 507
    assert response.mimetype == "text/html"
    assert "server-side" in response.get_data(as_text=True)
    assert_within_budget(response)
    assert session_cookie(client) == before  # the app's data untouched, no pending login


COOKIE_SETTINGS: dict[str, dict[str, Any]] = {
    "defaults": {},
    "every-attribute": {
        "SESSION_COOKIE_NAME": "example_corporation_marketing_dashboards_session",
        "SESSION_COOKIE_DOMAIN": "dashboards.analytics.emea.marketing.example-corporation.com",
        "SESSION_COOKIE_PATH": "/apps/marketing/adobe-analytics/",
        "SESSION_COOKIE_SECURE": True,
        "SESSION_COOKIE_SAMESITE": "None",
        "SESSION_COOKIE_PARTITIONED": True,
    },
}


def session_values(kind: str, size: int) -> dict[str, Any]:
    """Session data of about ``size`` characters of JSON."""
    if kind == "noise":
        return {"app": _noise(size)}
    if kind == "compressible":
        return {"app": "report " * (size // 7)}
    # Values Flask's session serializer tags (TaggedJSONSerializer): tuples,
    # bytes, datetimes, UUIDs, Markup; each grows beyond its plain JSON.
    from datetime import datetime, timedelta, timezone
    from uuid import UUID

    from markupsafe import Markup

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    count = size // 90
    return {
        "seen": [(start + timedelta(seconds=secrets.randbelow(10**8))) for _ in range(count)],
        "pairs": [(secrets.randbelow(1000), secrets.token_hex(2)) for _ in range(count)],
        "ids": [UUID(bytes=secrets.token_bytes(16)) for _ in range(count)],
        "raw": secrets.token_bytes(size // 8),
        "title": Markup("<b>%s</b>") % _noise(20),
    }


@pytest.mark.parametrize("permanent", [False, True], ids=["browser-session", "permanent"])
@pytest.mark.parametrize("settings", COOKIE_SETTINGS)
@pytest.mark.parametrize("kind", ["noise", "compressible", "tagged"])
def test_the_cookie_measure_is_the_set_cookie_header_flask_sends(
    standin: StandInAdobe, settings: str, kind: str, permanent: bool
) -> None:
    """fits_session_cookie and session_cookie_size judge the header Flask's
    session interface really writes: serialized (tagged JSON), maybe
    compressed, signed, with the cookie's name and every attribute."""
    app = make_app(standin)
    app.config.update(COOKIE_SETTINGS[settings])
    for size in (500, 2700, 2900, 3100, 3300):
        data = session_values(kind, size)
        with app.test_request_context("/apps/marketing/adobe-analytics/"):
            flask_session.update(data)
            flask_session.permanent = permanent
            response = app.response_class()
            app.session_interface.save_session(app, flask_session, response)
            (header,) = response.headers.getlist("Set-Cookie")
            assert session_cookie_size(app, dict(flask_session)) == len(header)
            for limit in (len(header) - 2, len(header) - 1, len(header), len(header) + 1, MAX_COOKIE_SIZE):
                assert fits_session_cookie(app, dict(flask_session), limit) == (len(header) <= limit)


def fill_session(app: Flask, client: FlaskClient, spare: int, *, besides: str | None = None) -> None:
    """Add app data to ``client``'s session until its cookie (leaving out the
    key ``besides``) is within ``spare`` bytes of the budget, as an app's
    other pages might between the start of a login and its callback."""
    noise = _noise(MAX_COOKIE_SIZE)
    with client.session_transaction() as sess:
        held = {k: v for k, v in sess.items() if k != besides}

    def size(length: int) -> int:
        with app.test_request_context():
            measured = session_cookie_size(app, {**held, "app": noise[:length]})
        assert measured is not None
        return measured

    low, high = 0, len(noise)  # the longest app data leaving ``spare`` bytes
    while low < high:
        middle = (low + high + 1) // 2
        low, high = (middle, high) if size(middle) <= MAX_COOKIE_SIZE - spare else (low, middle - 1)
    assert MAX_COOKIE_SIZE - spare - 10 < size(low) <= MAX_COOKIE_SIZE - spare
    with client.session_transaction() as sess:
        sess["app"] = noise[:low]


@pytest.mark.parametrize("storage", ["cookie", "server-side"])
def test_a_callback_never_writes_a_cookie_past_the_budget(standin: StandInAdobe, storage: str) -> None:
    """Whatever the callback stores (the token, or a server-side record's
    key), the cookie stays within the budget: when the app's own data leaves
    no room, the sign-in fails with the CookieTooLarge page instead."""
    store = SessionStorage() if storage == "cookie" else CacheStorage(cachelib.SimpleCache())
    app = make_app(standin, storage=store)
    client = app.test_client()
    callback = local(authorize(start_login(client)))
    fill_session(app, client, spare=30, besides=PENDING_KEY)  # the callback consumes the pending login

    response = client.get(callback, headers={"Accept": "text/html"})

    assert response.status_code == 507
    assert "server-side" in response.get_data(as_text=True)
    assert_within_budget(response)
    assert "app" in cookie_session(app, session_cookie(client))  # the app's data kept
    assert client.get("/dashboard").status_code == 302  # not signed in
