"""The storages without extra dependencies: the session, and the
server-side ones (Redis, cachelib, or any store through
:class:`ServerSideStorage`). Users import them from :mod:`flask_adobe_oauth.storage`."""

from __future__ import annotations

import base64
import binascii
import copy
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeGuard

from flask import current_app, session

from ..cookies import LOGIN_ROOM, MAX_COOKIE_SIZE, fits_session_cookie, session_cookie_size
from ..errors import CookieTooLarge, StorageUnavailable
from ..logs import outage
from ..tokens import Storage, Token

log = logging.getLogger("flask_adobe_oauth.storage")

#: The session key of the default blueprint's token (``<key>_<name>`` for
#: another blueprint name); tests and apps read it instead of spelling it.
TOKEN_KEY = "_ao_t"
#: Longest a server-side record lives: Adobe IMS refresh tokens last 14 days.
DEFAULT_TTL = 14 * 86400
#: How long a replaced record still leads to its successor, so that a request
#: that raced a refresh in another worker finds the refreshed token.
MOVED_GRACE = 30
#: Seconds a request whose refresh Adobe refused waits for another worker's
#: refreshed token to appear in a server-side store (:class:`ServerSideStorage`).
SUCCESSOR_WAIT = 2.0
#: The longest ``successor_wait`` may be (a request holds its worker that long).
MAX_SUCCESSOR_WAIT = 30.0
PREFIX = "flask-adobe-oauth:"

_KEY = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
_MAX_HOPS = 4


def finite_number(value: Any) -> TypeGuard[float]:
    """True for an int or float that is neither a bool, NaN nor infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def blueprint_key(key: str, blueprint: str | None) -> str:
    """``key`` for the default blueprint (``adobe``, or none), ``<key>_<name>``
    for another, so two blueprints given one storage never read each other's login."""
    return key if blueprint is None or blueprint == "adobe" else f"{key}_{blueprint}"


class SessionStorage:
    """Keeps the token in Flask's session (the signed cookie by default).

    Only the compact form of :meth:`Token.to_dict` is stored, never the
    id_token. The cookie must stay within ``max_cookie_size`` bytes with
    :data:`LOGIN_ROOM` to spare for a later login's pending record; a token
    that would leave less goes to ``fallback`` (a server-side storage), or
    the login fails with :class:`~flask_adobe_oauth.errors.CookieTooLarge`
    rather than with a cookie the browser silently drops. A blueprint not
    named ``adobe`` keeps its token under ``<key>_<name>`` (:meth:`for_blueprint`).
    """

    #: The blueprint this copy stores for (:meth:`for_blueprint`); None: not bound yet.
    blueprint: str | None = None

    def __init__(
        self,
        session_key: str = TOKEN_KEY,
        *,
        fallback: Storage | None = None,
        max_cookie_size: int = MAX_COOKIE_SIZE,
    ) -> None:
        self.session_key = session_key
        self.fallback = fallback
        self.max_cookie_size = max_cookie_size
        #: The configured scope; a token with exactly this scope is stored
        #: with a 6-character tag instead (set by the blueprint).
        self.default_scope: frozenset[str] | None = None

    def with_default_scope(self, scope: frozenset[str]) -> SessionStorage:
        """A copy of this storage that stores tokens of ``scope`` compactly."""
        twin = copy.copy(self)
        twin.default_scope = scope
        return twin

    @property
    def successor_wait(self) -> float:
        """How long a refused refresh waits for another worker's token: none when
        it is in the cookie, which only this browser's request changes; else the fallback's."""
        data = session.get(self.session_key)
        if self.fallback is None or (isinstance(data, dict) and "a" in data):
            return 0.0
        return float(getattr(self.fallback, "successor_wait", 0.0) or 0.0)

    def for_blueprint(self, name: str) -> SessionStorage:
        """A copy for blueprint ``name`` keeping the token under :func:`blueprint_key`,
        with the fallback's own copy for ``name``; itself when it is bound already."""
        if self.blueprint is not None:
            return self
        twin = copy.copy(self)
        twin.blueprint = name
        twin.session_key = blueprint_key(self.session_key, name)
        bind = getattr(self.fallback, "for_blueprint", None)
        if callable(bind):
            twin.fallback = bind(name)
        return twin

    def get(self) -> Token | None:
        data = session.get(self.session_key)
        if not isinstance(data, dict) or "a" not in data:
            return self.fallback.get() if self.fallback is not None else None
        try:
            return Token.from_dict(data, self.default_scope)
        except (TypeError, ValueError):
            return None

    def set(self, token: Token) -> None:
        data = token.to_dict(self.default_scope)
        candidate = {**dict(session), self.session_key: data}
        if fits_session_cookie(current_app, candidate, self.max_cookie_size - LOGIN_ROOM):
            session[self.session_key] = data
            if self.fallback is not None:
                self.fallback.delete()
            return
        log.warning(
            "the Adobe token would make the session cookie %s bytes, more than the %d browsers keep "
            "less %d for a later sign-in; storing it in %s. Fix: use server-side token storage "
            "(flask_adobe_oauth.storage.RedisStorage or CacheStorage, or SessionStorage(fallback=...))",
            session_cookie_size(current_app, candidate),
            self.max_cookie_size,
            LOGIN_ROOM,
            "server-side storage instead" if self.fallback is not None else "nowhere: login refused",
        )
        if self.fallback is None:
            raise CookieTooLarge(
                "the Adobe sign-in worked, but the token is too large for this site's session cookie; "
                "the site needs server-side token storage"
            )
        session.pop(self.session_key, None)
        self.fallback.set(token)

    def delete(self) -> None:
        session.pop(self.session_key, None)
        if self.fallback is not None:
            self.fallback.delete()

    def __repr__(self) -> str:
        return f"SessionStorage(session_key={self.session_key!r}, fallback={self.fallback!r})"


def _adobe_refresh_expiry(refresh_token: str) -> float | None:
    """When an Adobe IMS refresh token expires, from its (unverified) JWT
    claims ``created_at`` and ``expires_in``, in milliseconds; None for other tokens."""
    parts = refresh_token.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        end = (float(payload["created_at"]) + float(payload["expires_in"])) / 1000.0
    except (binascii.Error, ValueError, TypeError, KeyError, OverflowError):
        return None
    return end if math.isfinite(end) else None


def load_record(raw: Any) -> dict[str, Any] | None:
    """A server-side record's JSON object, or None for anything else (a list,
    a string, a number, text that is not JSON, nesting too deep to parse)."""
    if not isinstance(raw, str):
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def record_token(data: Mapping[str, Any]) -> Token | None:
    """The token of a stored record (:meth:`Token.to_dict`'s form), or None
    when a field has a type that form never has: a record written by
    something else is no login, never a 500 later."""
    access, expires = data.get("a"), data.get("e")
    if not (isinstance(access, str) and access) or not (expires is None or finite_number(expires)):
        return None
    if any(data.get(name) is not None and not isinstance(data.get(name), str) for name in "rsSuopnm"):
        return None
    try:
        return Token.from_dict(data)
    except (TypeError, ValueError, KeyError):
        return None


def parse_record(raw: Any) -> Token | None:
    """The token of a server-side record as stored (JSON text), or None."""
    data = load_record(raw)
    return None if data is None else record_token(data)


def record_ttl(token: Token, maximum: int, now: float | None = None) -> int:
    """Seconds a server-side record of ``token`` is worth keeping: the refresh
    token's lifetime when it is known, else the access token's, within 1..``maximum``."""
    now = time.time() if now is None else now
    end = _adobe_refresh_expiry(token.refresh_token) if token.refresh_token else token.expires_at
    if end is None or not math.isfinite(end - now):
        return maximum
    return max(1, min(maximum, math.ceil(end - now)))


class ServerSideStorage:
    """Keeps tokens on the server; the session holds only a random key.

    Every :meth:`set` makes a fresh 256-bit key, so a key planted in a
    victim's session before the login (session fixation) never names their
    token; :meth:`delete` removes the record, so an old cookie replayed after
    logout finds nothing. A record replaced by the same user's refreshed
    token leads to it for ``moved_grace`` seconds, for requests that raced
    the refresh in another worker.

    ``successor_wait``: Adobe's refusal of a refresh that lost to another
    worker's (the refresh token rotates) can arrive before the winner stored
    its token; the request reads the store again for up to this many seconds
    before it signs the user out (a revoked grant costs that long too).

    Each blueprint works on its own copy (:meth:`for_blueprint`), its key in
    the session under ``session_key`` or ``<session_key>_<name>``.
    Subclasses implement :meth:`_read`, :meth:`_write` and :meth:`_remove`
    on ``str`` keys and values, raising :class:`StorageUnavailable` when the
    store fails.
    """

    #: The blueprint this copy stores for (:meth:`for_blueprint`); None: not bound yet.
    blueprint: str | None = None
    #: What the backend raises when it fails, and its name for messages.
    _errors: tuple[type[Exception], ...] = (Exception,)
    _backend = "the token store"

    def __init__(
        self,
        *,
        session_key: str = "_ao_k",
        ttl: int = DEFAULT_TTL,
        moved_grace: int = MOVED_GRACE,
        successor_wait: float = SUCCESSOR_WAIT,
    ) -> None:
        if isinstance(successor_wait, bool) or not 0 <= successor_wait <= MAX_SUCCESSOR_WAIT:
            raise ValueError(f"successor_wait must be seconds from 0 to {MAX_SUCCESSOR_WAIT:g}")
        for name, seconds in (("ttl", ttl), ("moved_grace", moved_grace)):
            if not (finite_number(seconds) and seconds >= 1):  # 0 is "never" to cachelib
                raise ValueError(f"{name} must be a finite number of seconds, at least 1, not {seconds!r}")
        self.session_key = session_key
        self.ttl = ttl
        self.moved_grace = moved_grace
        self.successor_wait = float(successor_wait)

    @contextmanager
    def _unavailable_on_error(self) -> Iterator[None]:
        """Backend errors as :class:`StorageUnavailable` (a 503 page), without
        the driver's message or chained exception (either may quote a URL
        with a password)."""
        try:
            yield
        except self._errors as exc:
            name = type(exc).__name__
            outage(log, f"storage:{self._backend}", "token storage failed: %s (%s)", self._backend, name)
            raise StorageUnavailable(f"{self._backend} failed: {name}") from None

    def _make_room(self, session_key: str, key: str) -> None:
        """Raise :class:`CookieTooLarge` unless the session cookie has room for
        ``key``: a Set-Cookie past RFC 6265 §6.1's size would be dropped,
        losing the sign-in silently."""
        if not fits_session_cookie(current_app, {**dict(session), session_key: key}):
            log.warning(
                "the session cookie has no room for the token's key: the app's session data fills it. "
                "Fix: keep sessions on the server (Flask-Session)"
            )
            raise CookieTooLarge(
                "the Adobe sign-in worked, but this site's session cookie has no room left for it; "
                "the site needs server-side sessions"
            )

    def _read(self, key: str) -> str | None:
        raise NotImplementedError

    def _write(self, key: str, value: str, ttl: int) -> None:
        raise NotImplementedError

    def _remove(self, *keys: str) -> None:
        raise NotImplementedError

    def for_blueprint(self, name: str) -> ServerSideStorage:
        """A copy for blueprint ``name``, its key in the session the blueprint's own
        (:func:`blueprint_key`), sharing the client; itself when it is bound already."""
        if self.blueprint is not None:
            return self
        twin = copy.copy(self)
        twin.blueprint = name
        return twin

    def _session_key(self) -> str:
        return blueprint_key(self.session_key, self.blueprint)

    def _resolve(self) -> tuple[list[str], Token | None]:
        """The keys from the session's key to the live record, and its token."""
        key = session.get(self._session_key())
        seen: list[str] = []
        while isinstance(key, str) and _KEY.match(key) and key not in seen and len(seen) < _MAX_HOPS:
            seen.append(key)
            data = load_record(self._read(key))
            if data is None:  # gone, or not a record of ours: no login
                break
            if "moved" not in data:
                return seen, record_token(data)
            key = data["moved"]
        return seen, None

    def get(self) -> Token | None:
        return self._resolve()[1]

    def set(self, token: Token) -> None:
        session_key = self._session_key()
        key = secrets.token_urlsafe(32)
        self._make_room(session_key, key)
        self._write(key, json.dumps(token.to_dict(), separators=(",", ":")), record_ttl(token, self.ttl))
        old_keys, old = self._resolve()
        if old is not None and old.user_id is not None and old.user_id == token.user_id:
            # A refresh (same user): lead racing requests to the new record.
            for old_key in old_keys:
                self._write(old_key, json.dumps({"moved": key}), self.moved_grace)
        elif old_keys:
            self._remove(*old_keys)
        session[session_key] = key

    def delete(self) -> None:
        keys, _ = self._resolve()
        if keys:
            self._remove(*keys)
        session.pop(self._session_key(), None)


class RedisStorage(ServerSideStorage):
    """Tokens in Redis (``redis`` package), one key per login, with a TTL.

    ::

        import redis
        storage = RedisStorage(redis.Redis.from_url("redis://localhost:6379/0"))
        app.register_blueprint(make_adobe_blueprint(storage=storage), url_prefix="/adobe")

    Records are named ``prefix + key`` and expire after the token's refresh
    lifetime, or ``ttl`` seconds if that is shorter. The keyword options
    (``session_key``, ``moved_grace``, ``successor_wait``) are :class:`ServerSideStorage`'s.
    """

    def __init__(
        self, redis_client: Any, prefix: str = PREFIX, ttl: int = DEFAULT_TTL, **options: Any
    ) -> None:
        super().__init__(ttl=ttl, **options)
        from redis.exceptions import RedisError  # the extra "redis"; imported only when used

        self.redis, self.prefix = redis_client, prefix
        self._errors, self._backend = (RedisError,), "Redis"

    @classmethod
    def from_url(
        cls, url: str, *, socket_timeout: float = 2.0, connect_timeout: float = 1.0, **options: Any
    ) -> RedisStorage:
        """A storage on a new client for ``url`` (``redis://host:port/db``). A
        Redis that stops answering costs each request at most ``connect_timeout``
        to connect and ``socket_timeout`` per command, then a 503, whatever
        redis-py's defaults (some wait forever)."""
        import redis

        client = redis.Redis.from_url(
            url, socket_timeout=socket_timeout, socket_connect_timeout=connect_timeout
        )
        return cls(client, **options)

    def _read(self, key: str) -> str | None:
        with self._unavailable_on_error():
            value = self.redis.get(self.prefix + key)
        return value.decode() if isinstance(value, bytes) else value

    def _write(self, key: str, value: str, ttl: int) -> None:
        with self._unavailable_on_error():
            self.redis.set(self.prefix + key, value, ex=ttl)

    def _remove(self, *keys: str) -> None:
        with self._unavailable_on_error():
            self.redis.delete(*(self.prefix + key for key in keys))

    def __repr__(self) -> str:
        return f"RedisStorage(prefix={self.prefix!r}, ttl={self.ttl})"


class CacheStorage(ServerSideStorage):
    """Tokens in any ``cachelib`` cache (Redis, Memcached, files, …), named
    ``prefix + key``; the options are :class:`RedisStorage`'s.

    A cache shared by every worker is needed when there are several;
    ``cachelib.SimpleCache`` lives in one process and suits only tests and
    single-process servers.
    """

    def __init__(self, cache: Any, prefix: str = PREFIX, ttl: int = DEFAULT_TTL, **options: Any) -> None:
        super().__init__(ttl=ttl, **options)
        self.cache, self.prefix = cache, prefix
        self._backend = f"the cache {type(cache).__name__}"

    def _read(self, key: str) -> str | None:
        with self._unavailable_on_error():
            value = self.cache.get(self.prefix + key)
        return value if isinstance(value, str) else None

    def _write(self, key: str, value: str, ttl: int) -> None:
        with self._unavailable_on_error():
            stored = self.cache.set(self.prefix + key, value, timeout=ttl)
        if not stored:
            raise StorageUnavailable(f"{self._backend} did not store the token")

    def _remove(self, *keys: str) -> None:
        with self._unavailable_on_error():
            self.cache.delete_many(*(self.prefix + key for key in keys))

    def __repr__(self) -> str:
        return f"CacheStorage({type(self.cache).__name__}, prefix={self.prefix!r}, ttl={self.ttl})"
