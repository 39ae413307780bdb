"""Adobe data without a signed-in user: an OAuth Server-to-Server credential.

A company dashboard may let users in with their own Adobe login but read the
data as the company's technical account; a scheduled job has no user at all.
Adobe's way for both is the OAuth Server-to-Server credential:
``grant_type=client_credentials`` at IMS's token endpoint, scopes
comma-separated, a bearer token of about 24 h and no refresh token (Adobe
Developer Console docs, Server-to-Server authentication: implementation
guide and API reference; JWT credentials reached end of life in 2025)::

    from flask_adobe_oauth.service import service_session
    from flask_adobe_oauth.analytics import companies

    @app.get("/company")
    @adobe_login_required                 # the user's login decides who may look
    def company():
        return {"companies": [c.name for c in companies(service_session())]}  # the data: the company's

:class:`AdobeService` caches the token and fetches the next one ahead of
expiry, one thread at a time (single flight); given a shared store (Redis, a
cachelib cache, the app's SQL database, found by :func:`service_for`) it
shares it between processes: ``gunicorn -w 8`` mints one token, not eight.
:meth:`AdobeService.session` is an :class:`~flask_adobe_oauth.api.AdobeSession`
with that token, inside a request or outside one (a CLI, a scheduler, a
Celery or RQ worker).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from flask import current_app

from .api import AdobeSession
from .authserver import ProviderClient
from .config import Config, resolve
from .errors import ConfigurationError, ProviderError
from .ratelimit import SHARED_SCHEMES, RateLimiter, redis_client, storage_scheme
from .storage.base import finite_number, load_record
from .tokens import Token
from .transport import where

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["DEFAULT_SERVICE_SCOPE", "AdobeService", "service_config", "service_for", "service_session"]

log = logging.getLogger("flask_adobe_oauth.service")

#: What a Server-to-Server credential for the Analytics 2.0 APIs asks for (the
#: scopes the Developer Console lists for it; ``offline_access`` has no
#: meaning without a user).
DEFAULT_SERVICE_SCOPE = ("openid", "AdobeID", "read_organizations", "additional_info.projectedProductContext")
#: A token with less than this many seconds left is replaced before it is used.
REFRESH_AHEAD = 300.0
#: How long a process waits for another one minting the shared token.
SHARED_WAIT = 10.0
#: A minting lock naming a deadline further ahead than its holder could need
#: (plus this much clock skew between hosts) is not believed.
LOCK_SKEW = 300.0
#: How many stale minting locks one fetch takes over before it just waits.
MAX_TAKEOVERS = 3
EXTENSION_KEY = "adobe_oauth_service"


class SharedStore(Protocol):
    """What :class:`AdobeService` needs of a store shared by processes."""

    def get(self, key: str) -> str | None: ...
    def put(self, key: str, value: str, ttl: float) -> None: ...
    def claim(self, key: str, value: str, ttl: float) -> bool: ...
    def release(self, key: str, value: str) -> None: ...


class _ClientStore:
    """A redis-py client (``SET NX PX`` to claim) or a cachelib cache (``add``) as a :class:`SharedStore`."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.is_redis = hasattr(client, "pipeline")

    def get(self, key: str) -> str | None:
        value = self.client.get(key)
        value = value.decode() if isinstance(value, bytes) else value
        return value if isinstance(value, str) else None

    def put(self, key: str, value: str, ttl: float) -> None:
        if self.is_redis:
            self.client.set(key, value, px=max(1, int(ttl * 1000)))
        else:
            self.client.set(key, value, timeout=max(1, int(ttl)))

    def claim(self, key: str, value: str, ttl: float) -> bool:
        if self.is_redis:
            return bool(self.client.set(key, value, nx=True, px=max(1, int(ttl * 1000))))
        return bool(self.client.add(key, value, timeout=max(1, int(ttl))))

    def release(self, key: str, value: str) -> None:
        if self.get(key) == value:  # only our own claim (a late one may belong to another)
            self.client.delete(key)


def _shared_token(raw: Any) -> Token | None:
    """The token of a shared record, or None for anything else.

    Other processes (and whatever else writes to that Redis or cache) share
    the store, so each field is checked: a string expiry or a number for the
    token would otherwise fail every call of every process until the key
    expired. A record that is not a token is replaced by a fresh mint.
    """
    data: dict[str, Any] = load_record(raw) or {}
    access, expires, scope = data.get("a"), data.get("e"), data.get("s")
    if not (isinstance(access, str) and access and access.isascii() and access.isprintable()):
        return None
    if not (finite_number(expires) and isinstance(scope, list) and all(isinstance(s, str) for s in scope)):
        return None
    try:
        return Token(access, expires_at=float(expires), scope=frozenset(scope))
    except (TypeError, ValueError):
        return None


def shared_store(store: Any) -> SharedStore | None:
    """``store`` as a :class:`SharedStore`: a redis-py client, a cachelib cache,
    this package's ``RedisStorage`` / ``CacheStorage`` (their client is used),
    or a ``SQLAlchemyStorage`` (a table of its database:
    :class:`~flask_adobe_oauth.service_sql.SQLSharedStore`)."""
    if store is None:
        return None
    sqla = sys.modules.get("flask_adobe_oauth.storage.sqla")  # loaded if the app made such a storage
    if sqla is not None and isinstance(store, sqla.SQLAlchemyStorage):
        from .service_sql import SQLSharedStore

        return SQLSharedStore(store)
    inner = getattr(store, "redis", None) or getattr(store, "cache", None) or store
    if hasattr(inner, "claim") and hasattr(inner, "put"):
        return inner  # type: ignore[no-any-return]
    if hasattr(inner, "pipeline") or (hasattr(inner, "add") and hasattr(inner, "set")):
        return _ClientStore(inner)
    raise ConfigurationError(
        "the service token store must be Redis, a cachelib cache or a RedisStorage, CacheStorage "
        "or SQLAlchemyStorage"
    )


def service_config(app_config: Mapping[str, Any], **options: Any) -> Config:
    """The service credential's configuration from ``ADOBE_OAUTH_*`` keys:
    ``ADOBE_OAUTH_SERVICE_CLIENT_ID`` / ``_SECRET`` / ``_SCOPE`` when set, else
    the web credential's id and secret and :data:`DEFAULT_SERVICE_SCOPE`; the
    token URL, API base URL, timeouts and size cap as for the web login.
    ``options`` win over both."""
    get = app_config.get
    wanted: dict[str, Any] = {
        "client_id": get("ADOBE_OAUTH_SERVICE_CLIENT_ID") or get("ADOBE_OAUTH_CLIENT_ID"),
        "client_secret": get("ADOBE_OAUTH_SERVICE_CLIENT_SECRET") or get("ADOBE_OAUTH_CLIENT_SECRET"),
        "scope": get("ADOBE_OAUTH_SERVICE_SCOPE") or list(DEFAULT_SERVICE_SCOPE),
        "client_auth": "client_secret_post",  # as Adobe's Server-to-Server examples send it
        "use_pkce": False,
        "name": "adobe_service",
        **options,
    }
    return resolve(wanted, app_config)


class AdobeService:
    """A client-credentials token, cached, refreshed ahead of expiry, shared.

    ``store`` (optional) shares the token between processes: a redis-py client,
    a cachelib cache, or a ``RedisStorage``, ``CacheStorage`` or ``SQLAlchemyStorage``.
    ``limiter`` (optional) is the rate limiter its calls count in (the
    blueprint's, by :func:`service_for`); else its own.
    """

    def __init__(
        self,
        config: Config,
        *,
        store: Any = None,
        refresh_ahead: float = REFRESH_AHEAD,
        limiter: RateLimiter | None = None,
    ) -> None:
        if config.provider != "ims":
            raise ConfigurationError("a service credential needs the 'ims' provider (client_credentials)")
        if not (finite_number(refresh_ahead) and refresh_ahead >= 0):
            # NaN would make every token fresh forever; inf none, so each call would mint.
            raise ValueError(
                f"refresh_ahead must be a finite number of seconds, at least 0, not {refresh_ahead!r}"
            )
        self.config = config
        self.refresh_ahead = float(refresh_ahead)
        self._store = shared_store(store)
        self._client = ProviderClient(config)
        self._lock = threading.Lock()
        self._session_lock = threading.Lock()
        self._token: Token | None = None
        #: The shared record ``_token`` was read from or written as, exactly:
        #: what :meth:`invalidate` deletes (compare-and-delete).
        self._raw: str | None = None
        # The key names the credential by its client id AND secret, so a process
        # with another secret (rotated, or wrong) never takes this one's token;
        # the secret only as a truncated SHA-256 digest, unguessable for a long random secret.
        credential = hashlib.sha256("\0".join((config.client_id, config.client_secret)).encode()).hexdigest()
        fingerprint = "\0".join((config.token_url, config.client_id, ",".join(config.scope), credential[:32]))
        self._key = "adobe_oauth:service:" + hashlib.sha256(fingerprint.encode()).hexdigest()[:32]
        self._session: AdobeSession | None = None
        self._limiter = limiter
        #: Tokens this process minted (for tests and logs; Adobe's count is the stand-in's).
        self.mints = 0

    def _fresh(self, token: Token) -> bool:
        return token.expires_at is None or token.expires_at - time.time() > self.refresh_ahead

    def token(self) -> Token:
        """A token with more than ``refresh_ahead`` seconds to live; minted (once,
        for every thread and, with a store, every process) when there is none."""
        token = self._token
        if token is not None and self._fresh(token):
            return token
        with self._lock:  # single flight: the others wait for this fetch
            previous = self._token
            if previous is not None and self._fresh(previous):
                return previous
            try:
                token, self._raw = self._shared_or_minted()
            except ProviderError as exc:
                if previous is None or previous.expired:
                    raise
                # Adobe is failing, but the token in hand still works: use it.
                log.warning("could not renew the service token ahead of expiry: %s", exc)
                return previous
            self._token = token
            return token

    def invalidate(self, token: Token | None = None) -> None:
        """Forget the cached token (``token`` only if it is still the one cached)."""
        with self._lock:
            current = self._token
            if token is None or (current is not None and current.access_token == token.access_token):
                # The shared copy goes too, unless another process already replaced
                # it: compared as it was read (another process's JSON may differ from ours).
                stale = self._raw if self._raw is not None else self._stored_value(token or current)
                self._token, self._raw = None, None
                self._store_safely(lambda store: store.release(self._key, stale))

    def _stored_value(self, token: Token | None) -> str:
        if token is None:
            return ""
        return json.dumps({"a": token.access_token, "e": token.expires_at, "s": sorted(token.scope)})

    def _read_shared(self) -> tuple[Token, str] | None:
        """The shared token and its record as stored, when it is a fresh token."""
        raw = self._store_safely(lambda store: store.get(self._key))
        token = _shared_token(raw)
        return (token, raw) if token is not None and self._fresh(token) else None

    def _drop_stale_lock(self, lock_key: str) -> bool:
        """Delete the minting lock when nobody could still be minting under it: its
        deadline is unreadable, past, or further ahead than a mint takes (a lock
        without a TTL is honoured no longer than its holder needs). True when deleted."""
        held = self._store_safely(lambda store: store.get(lock_key))
        if held is None:
            return False
        claim, _, until = held.partition(".") if isinstance(held, str) else ("", "", "")  # <claim>.<ms>
        deadline = int(until) / 1000.0 if claim and until.isascii() and until.isdigit() else 0.0
        now = time.time()
        if now < deadline <= now + self.config.timeout + 5 + LOCK_SKEW:
            return False  # a live claim: wait for its token
        log.warning("the service token's minting lock was stale (no expiry, or past it); taking it over")
        self._store_safely(lambda store: store.release(lock_key, held))
        return True

    def _store_safely(self, action: Callable[[SharedStore], Any]) -> Any:
        """Run ``action(store)``; a failing store costs sharing, never the token."""
        if self._store is None:
            return None
        try:
            return action(self._store)
        except Exception as exc:
            log.warning(
                "the shared service token store failed (%s); minting in this process", type(exc).__name__
            )
            return None

    def _claim(self, lock_key: str, claim: str, hold: float) -> tuple[Token, str | None] | None:
        """None once this process holds the minting lock; else the token to use:
        another process's, or one minted here when the store fails or the holder is stuck."""
        wait_until = time.monotonic() + min(SHARED_WAIT, self.config.timeout + 2)
        takeovers = 0
        while True:
            claimed = self._store_safely(lambda store: store.claim(lock_key, claim, hold))
            if claimed is None:  # the store failed: mint here, unshared
                return self._mint(), None
            if claimed:
                return None
            shared = self._read_shared()  # another process is minting: wait for its token
            if shared is not None:
                return shared
            if takeovers < MAX_TAKEOVERS and self._drop_stale_lock(lock_key):
                takeovers += 1
            elif time.monotonic() > wait_until:
                return self._mint(), None  # it is stuck: mint here rather than fail
            else:
                time.sleep(0.05)

    def _shared_or_minted(self) -> tuple[Token, str | None]:
        """A fresh token and its shared record (None when it is not shared)."""
        if self._store is None:
            return self._mint(), None
        shared = self._read_shared()
        if shared is not None:
            return shared
        hold = self.config.timeout + 5
        # The lock carries its own deadline, so that one left without a TTL
        # (a store that ignores it, a hand-made key) is not honoured forever.
        claim = f"{secrets.token_hex(8)}.{int((time.time() + hold) * 1000)}"
        lock_key = self._key + ":minting"
        waited = self._claim(lock_key, claim, hold)
        if waited is not None:
            return waited
        try:
            shared = self._read_shared()  # minted while we were claiming
            if shared is not None:
                return shared
            token = self._mint()
            ttl = token.expires_at - time.time() - self.refresh_ahead if token.expires_at is not None else 0
            if ttl <= 1:
                return token, None
            value = self._stored_value(token)  # written over whatever the key held
            self._store_safely(lambda store: store.put(self._key, value, ttl))
            return token, value
        finally:
            self._store_safely(lambda store: store.release(lock_key, claim))

    def _mint(self) -> Token:
        """One ``client_credentials`` request (RFC 6749 §4.4) within the deadline."""
        try:
            token = self._client.client_credentials()
        except ProviderError as exc:
            if exc.status not in (400, 401, 403):
                raise
            said = f": {exc.provider_error}" if exc.provider_error else ""
            raise ProviderError(
                f"Adobe refused the service credential (HTTP {exc.status} from {where(self.config.token_url)}{said})",
                exc.provider_error,
                exc.status,
            ) from None
        self.mints += 1
        return token

    def usable_token(self) -> Token:  # this and the next two: the session's TokenSource
        return self.token()

    def replacement(self, refused: Token) -> Token | None:
        self.invalidate(refused)
        return self.token()

    def token_rejected(self, message: str) -> NoReturn:
        self.invalidate()
        raise ProviderError(message.replace("stored access token", "service token"), status=401)

    def session(self) -> AdobeSession:
        """An :class:`~flask_adobe_oauth.api.AdobeSession` sending this service's token
        (one per service, pooled; safe to share between threads)."""
        with self._session_lock:
            if self._session is None:
                # The credential's calls are many users' requests: api_rate_waiters
                # (one user's waiting calls) does not bound them.
                self._session = AdobeSession(
                    self.config, lambda: self, limiter=self._limiter, bound_waiters=False
                )
        return self._session


#: Held while an app's service is made: threads racing on the first call get one.
_made = threading.Lock()


def service_for(app: Flask | None = None, *, store: Any = None) -> AdobeService:
    """The :class:`AdobeService` of ``app`` (the current app by default), made
    once per app and process from its ``ADOBE_OAUTH_*`` keys.

    Without ``store``, the token is shared between processes through the
    blueprint's server-side token storage (Redis, a cache, SQL), else the rate
    limit's Redis (``api_rate_storage``); with the session cookie and
    ``memory://`` each process mints its own. Its calls count in the
    blueprint's rate limiter."""
    app = current_app if app is None else app
    with _made:
        if EXTENSION_KEY not in app.extensions:
            app.extensions[EXTENSION_KEY] = _new_service(app, store)
        service: AdobeService = app.extensions[EXTENSION_KEY]
    return service


def _new_service(app: Flask, store: Any) -> AdobeService:
    from .extension import EXTENSION_KEY as BLUEPRINTS
    from .storage import CacheStorage, RedisStorage

    config = service_config(app.config)
    runtimes = list(app.extensions.get(BLUEPRINTS, {}).values())
    sqla = sys.modules.get("flask_adobe_oauth.storage.sqla")
    server_side = (RedisStorage, CacheStorage, *((sqla.SQLAlchemyStorage,) if sqla is not None else ()))
    if store is None:
        store = next((r.storage for r in runtimes if isinstance(r.storage, server_side)), None)
    if store is None:
        shared = [r.config.api_rate_storage for r in runtimes] + [config.api_rate_storage]
        uri = next((u for u in shared if storage_scheme(u) in SHARED_SCHEMES), None)
        if uri is not None:
            store = redis_client(uri)  # the rate limit's Redis, shared by every process already
    # One limiter for the users' calls and the service's (the same Adobe API):
    # one count, in the storage the blueprint was given (api_rate_storage).
    limiter = None
    if config.api_rate_limit is not None:
        limiter = next((r.api.limiter for r in runtimes if r.api.limiter is not None), None)
    return AdobeService(config, store=store, limiter=limiter)


def service_session(app: Flask | None = None) -> AdobeSession:
    """``service_for(app).session()``: calls to Adobe's APIs as the service credential."""
    return service_for(app).session()
