"""Measuring the session cookie Flask will send, against what browsers keep.

RFC 6265 §6.1 lets a browser cap a cookie (name, value and attributes) at
4096 bytes and drop a larger one without a word, which looks to the user
like being signed out. Used by :class:`~flask_adobe_oauth.SessionStorage`
when it stores a token and by the login view when it adds a pending login.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from flask import current_app, session
from werkzeug.http import dump_cookie

from .errors import CookieTooLarge
from .protocol import Pending

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("flask_adobe_oauth")

#: The session cookie's budget: its whole Set-Cookie (name, value and
#: attributes), which RFC 6265 §6.1 lets a browser cap at 4096 bytes; past
#: that the cookie is dropped without a word. Stay a little below.
MAX_COOKIE_SIZE = 4000

#: Room a token stored in the cookie leaves free for one pending login, so
#: that a user whose token fills the cookie can still start the next login:
#: its ``[state, expires_at, ""]`` record adds 70 to 100 bytes to the signed,
#: compressed cookie (up to ~150 under a long blueprint name; the login page
#: answers CookieTooLarge rather than overflow when it does not fit).
LOGIN_ROOM = 160


def session_cookie_size(app: Flask, data: dict[str, Any]) -> int | None:
    """The length of the ``Set-Cookie`` header Flask would send for ``data``:
    the cookie's name, its value (the session serialized, maybe compressed,
    signed and timestamped, exactly as the app's session interface does it)
    and its attributes, which RFC 6265 §6.1 counts too.

    None when the app's sessions are not kept in a signed cookie (for
    example with Flask-Session, whose cookie holds only a session id).
    """
    interface = app.session_interface
    get_serializer = getattr(interface, "get_signing_serializer", None)
    if get_serializer is None:
        return None
    serializer = get_serializer(app)
    if serializer is None:  # no SECRET_KEY: Flask will refuse the session anyway
        return None
    value = serializer.dumps(data)
    partitioned = getattr(interface, "get_cookie_partitioned", lambda app: False)(app)
    header = dump_cookie(
        interface.get_cookie_name(app),
        value,
        expires=interface.get_expiration_time(app, session),
        path=interface.get_cookie_path(app),
        domain=interface.get_cookie_domain(app),
        secure=interface.get_cookie_secure(app),
        httponly=interface.get_cookie_httponly(app),
        samesite=interface.get_cookie_samesite(app),
        partitioned=partitioned,
        max_size=0,  # no werkzeug warning: the caller decides what to do
    )
    return len(header.encode("latin-1", "replace"))


def fits_session_cookie(app: Flask, data: dict[str, Any], limit: int = MAX_COOKIE_SIZE) -> bool:
    """True when the session ``data`` gives a Set-Cookie of at most ``limit`` bytes
    (always True when sessions are not kept in a signed cookie).

    Measured exactly, by serializing and signing ``data`` as Flask will
    (tens of microseconds): an estimate from its JSON misses what Flask's
    tagged serializer, compression and the cookie's attributes add.
    """
    size = session_cookie_size(app, data)
    return size is None or size <= limit


def fit_pending_logins(key: str, records: list[Pending], limit: int = MAX_COOKIE_SIZE) -> list[Pending]:
    """``records`` (the pending logins kept under the session's ``key``), trimmed
    so the whole session cookie stays within ``limit`` bytes, the
    budget (RFC 6265 §6.1: a larger Set-Cookie is silently dropped, losing
    the new pending login and anything else the cookie gained). Older pending
    logins go first, then the new one's ``next`` (long ``next`` targets are
    what can overflow it). When not even the new login fits, the app's
    session holds too much for a cookie: :class:`CookieTooLarge` (507)."""
    app = cast("Flask", current_app._get_current_object())  # type: ignore[attr-defined]
    base = dict(session)

    def fits(candidate: list[Pending]) -> bool:
        return fits_session_cookie(app, {**base, key: [r.dump() for r in candidate]}, limit)

    while len(records) > 1 and not fits(records):
        records = records[1:]
    newest = records[-1]
    if newest.next and not fits(records):
        log.info("dropped a next target too long for the session cookie")
        records = [*records[:-1], Pending(newest.state, newest.expires_at, None)]
    if not fits(records):
        base.pop(key, None)
        log.warning(
            "no room in the session cookie for a pending sign-in: the session already makes it "
            "%s bytes of the %d browsers keep. Fix: keep sessions or tokens on the server "
            "(Flask-Session, or flask_adobe_oauth.storage.RedisStorage or CacheStorage)",
            session_cookie_size(app, base),
            limit,
        )
        raise CookieTooLarge(
            "the sign-in cannot start: this site's session cookie has no room left for it; "
            "the site needs server-side sessions or token storage"
        )
    return records
