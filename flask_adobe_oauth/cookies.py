"""Measuring the session cookie Flask will send, against what browsers keep.

RFC 6265 §6.1 lets a browser cap a cookie (name, value and attributes) at
4096 bytes and drop a larger one without a word, which looks to the user
like being signed out.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from flask import current_app, session
from itsdangerous import Serializer, Signer, TimestampSigner
from itsdangerous.url_safe import URLSafeSerializerMixin
from werkzeug.http import dump_cookie

from .errors import CookieTooLarge
from .protocol import Pending

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("flask_adobe_oauth.signin")

#: The budget of the session's whole Set-Cookie: a little below RFC 6265 §6.1's 4096.
MAX_COOKIE_SIZE = 4000

#: Room a token stored in the cookie leaves for one pending login, so a user
#: whose token fills the cookie can still start the next login: its
#: ``[state, expires_at, ""]`` record adds 70 to 100 bytes to the signed,
#: compressed cookie (up to ~150 under a long blueprint name).
LOGIN_ROOM = 160


def session_cookie_size(app: Flask, data: dict[str, Any]) -> int | None:
    """The length of the ``Set-Cookie`` header Flask would send for session
    ``data`` (serialized and signed as the app's session interface does); None
    when sessions are not kept in a signed cookie (Flask-Session, say)."""
    serializer = _signing_serializer(app)
    return None if serializer is None else _set_cookie_length(app, serializer.dumps(data))


def session_cookie_bound(app: Flask, data: dict[str, Any]) -> int | None:
    """A length the ``Set-Cookie`` header of ``data`` cannot exceed, found
    without compressing or signing (half the work); None when it cannot be
    known that way (not itsdangerous's serializer and signer).

    Flask's value is the session's JSON, base64-encoded (compressed first only
    when that is shorter), then a timestamp and signature whose length does not
    depend on what is signed. So ``4 * ceil(len(json) / 3)`` characters plus an
    empty value's signature is never shorter than the real value.
    """
    serializer = _signing_serializer(app)
    if (
        not isinstance(serializer, URLSafeSerializerMixin)
        or type(serializer).dump_payload is not URLSafeSerializerMixin.dump_payload
        or type(serializer).dumps is not Serializer.dumps
    ):
        return None
    signer = serializer.make_signer()
    if type(signer).sign not in (Signer.sign, TimestampSigner.sign):
        return None
    # The JSON before compression and base64 (the mixin's own dump_payload compresses).
    json = super(URLSafeSerializerMixin, serializer).dump_payload(data)
    return _set_cookie_length(app, "a" * (4 * ((len(json) + 2) // 3) + len(signer.sign(b""))))


def _signing_serializer(app: Flask) -> Any:
    get_serializer = getattr(app.session_interface, "get_signing_serializer", None)
    # None without SECRET_KEY too: Flask will refuse the session anyway.
    return None if get_serializer is None else get_serializer(app)


def _set_cookie_length(app: Flask, value: str) -> int:
    interface = app.session_interface
    # Partitioned cookies (CHIPS) exist from Flask 3.1 / Werkzeug 3.1 only.
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
        max_size=0,  # no werkzeug warning: the caller decides what to do
        **({"partitioned": True} if partitioned else {}),
    )
    return len(header.encode("latin-1", "replace"))


def fits_session_cookie(app: Flask, data: dict[str, Any], limit: int = MAX_COOKIE_SIZE) -> bool:
    """True when the session ``data`` gives a Set-Cookie of at most ``limit`` bytes
    (always when sessions are not kept in a signed cookie). Exact: unless
    :func:`session_cookie_bound` already says it fits, ``data`` is signed as
    Flask will and measured."""
    bound = session_cookie_bound(app, data)
    if bound is not None and bound <= limit:
        return True
    size = session_cookie_size(app, data)
    return size is None or size <= limit


def fit_pending_logins(key: str, records: list[Pending], limit: int = MAX_COOKIE_SIZE) -> list[Pending]:
    """``records`` (the pending logins under the session's ``key``) trimmed so the
    session cookie stays within ``limit`` bytes: older pending logins go
    first, then the new one's ``next``. When not even the new login fits,
    :class:`CookieTooLarge` (507)."""
    app = cast("Flask", current_app._get_current_object())  # type: ignore[attr-defined]
    base = dict(session)

    def fits(candidate: list[Pending]) -> bool:
        return fits_session_cookie(app, {**base, key: [r.dump() for r in candidate]}, limit)

    ok = fits(records)  # each candidate measured once
    while len(records) > 1 and not ok:
        records = records[1:]
        ok = fits(records)
    newest = records[-1]
    if newest.next and not ok:
        log.info("dropped a next target too long for the session cookie")
        records = [*records[:-1], Pending(newest.state, newest.expires_at, None)]
        ok = fits(records)
    if not ok:
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
