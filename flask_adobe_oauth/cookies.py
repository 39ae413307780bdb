"""Measuring the session cookie Flask will send, against what browsers keep.

RFC 6265 §6.1 lets a browser cap a cookie (name, value and attributes) at
4096 bytes and drop a larger one without a word, which looks to the user
like being signed out. Used by :class:`~flask_adobe_oauth.SessionStorage`
when it stores a token and by the login view when it adds a pending login.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import session
from werkzeug.http import dump_cookie

if TYPE_CHECKING:
    from flask import Flask

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
