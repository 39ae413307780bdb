"""The run-time object of a registered blueprint, and the ``adobe`` proxy.

:class:`BlueprintRuntime` exists once per app and blueprint name and holds
only what every request shares (configuration, pooled HTTP sessions,
storage). Everything about the current user lives in :class:`AdobeContext`,
created per request on ``flask.g`` — never on a shared object (as Flask-Dance once
did, leaking tokens between threads).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, cast
from urllib.parse import urlsplit

from flask import current_app, g, has_request_context, request, session
from werkzeug.local import LocalProxy

from .api import AdobeSession
from .authserver import ProviderClient
from .config import SNAPSHOT_KEYS, Config, config_snapshot
from .cookies import LOGIN_ROOM, MAX_COOKIE_SIZE, fits_session_cookie
from .errors import (
    AdobeOAuthError,
    LoginRequired,
    NotAllowed,
    OutsideRequest,
    ProviderError,
    StorageUnavailable,
)
from .signals import send, token_refreshed
from .storage import TOKEN_KEY, SessionStorage
from .tokens import Storage, Token

if TYPE_CHECKING:
    from flask import Flask

log = logging.getLogger("flask_adobe_oauth.signin")

EXTENSION_KEY = "adobe_oauth"
#: The session key of the default blueprint's pending logins (``<key>_<name>``
#: for another blueprint name; see :func:`~flask_adobe_oauth.protocol.load_pending`).
PENDING_KEY = "_ao_p"
#: The session key of the chosen organisation (``<key>_<name>`` for another blueprint).
ORG_KEY = "_ao_org"
#: The session key of a refreshed token the storage failed to store
#: (``<key>_<name>`` for another blueprint; :meth:`AdobeContext.refresh`).
HANDOVER_KEY = "_ao_h"
#: How long a refresh result is reused for other requests that raced on the
#: same (now rotated-away) refresh token.
REFRESH_REUSE_SECONDS = 30.0
#: How many refresh results a process keeps (a refreshed token that could not
#: be stored is kept until its access token expires, for its user's next request).
MAX_UNSTORED = 10_000
#: How long a process remembers that Adobe refused a refresh token, so a
#: dead one left in a session cookie is not sent to Adobe on every request.
REFUSED_MEMORY_SECONDS = 3600.0
#: How many refused refresh tokens (their hashes) a process remembers.
MAX_REFUSED = 10_000
#: The clock refresh results expire by (monotonic; tests move it).
_clock: Callable[[], float] = time.monotonic
#: Seconds between reads of the store while waiting for another worker's refreshed token.
SUCCESSOR_POLL = 0.05
#: However long a storage asks to wait for another worker's token, no longer than this.
MAX_SUCCESSOR_WAIT = 30.0
_sleep: Callable[[float], None] = time.sleep


#: Hosts of the retired legacy service (the seed's marketing.adobe.com and api.omniture.com).
RETIRED_HOSTS = (".adobe.com", ".omniture.com")
_retired_warned = threading.Event()


def warn_if_retired(config: Config) -> bool:
    """Log once per process when the ``legacy`` preset points at Adobe's own hosts.

    Adobe's Analytics 2.0 migration guide: the legacy Analytics OAuth and the
    1.3/1.4 APIs it served are retired, so such a login cannot work. The
    preset stays for servers of that shape (and the seed's flow).
    """
    if config.provider != "legacy":
        return False
    hosts = {(urlsplit(u).hostname or "").lower() for u in (config.authorize_url, config.token_url)}
    if not any(h == d[1:] or h.endswith(d) for h in hosts for d in RETIRED_HOSTS):
        return False
    if not _retired_warned.is_set():
        _retired_warned.set()
        log.warning(
            "ADOBE_OAUTH_PROVIDER='legacy' points at Adobe's retired Analytics 1.x OAuth service; "
            "use the 'ims' preset with an OAuth Web App credential and the Analytics 2.0 APIs"
        )
    return True


class BlueprintRuntime:
    """What one registered blueprint shares across all requests of an app."""

    #: The ``app.config`` values the configuration was resolved from.
    snapshot: tuple[Any, ...] = ()
    #: Resolves the configuration again and returns a new runtime.
    rebuild: Callable[[], BlueprintRuntime] | None = None

    def __init__(self, config: Config) -> None:
        warn_if_retired(config)
        self.config = config
        self.name = config.name
        suffix = "" if config.name == "adobe" else "_" + config.name
        self.pending_key = PENDING_KEY + suffix
        #: The session key of the organisation the user chose (:attr:`AdobeContext.org_id`).
        self.org_key = ORG_KEY + suffix
        self.handover_key = HANDOVER_KEY + suffix
        self.storage: Storage = config.storage or SessionStorage(TOKEN_KEY)
        if isinstance(self.storage, SessionStorage) and self.storage.default_scope is None:
            # A copy: the app's own object is left as it was, so one storage
            # handed to two blueprints keeps each blueprint's scope.
            self.storage = self.storage.with_default_scope(frozenset(config.scope))
        bind = getattr(self.storage, "for_blueprint", None)
        if callable(bind):
            # Every storage of the package keeps each blueprint's tokens apart:
            # this blueprint gets its copy, with its own key in the session
            # (TOKEN_KEY_<name> for the default one). An app's storage without
            # for_blueprint is used as given.
            self.storage = bind(config.name)
        self.client = ProviderClient(config)
        self.api = AdobeSession(config, lambda: context(self.name))
        self._guard = threading.Lock()
        #: Refreshes in flight, by refresh token hash; empty when none is.
        self._locks: dict[str, _Refresh] = {}
        #: Recent refresh results, by the hash of the refresh token they
        #: replaced; each expires after REFRESH_REUSE_SECONDS.
        self._recent: dict[str, tuple[float, Token]] = {}
        #: Refresh tokens Adobe refused (by hash), until when to answer for
        #: Adobe, and its answer.
        self._refused: dict[str, tuple[float, ProviderError]] = {}

    def refresh(self, token: Token) -> tuple[Token, bool]:
        """Refresh ``token`` once per process, however many requests race on it;
        the new token, and whether this call was the one that asked Adobe.

        Adobe rotates refresh tokens (RFC 9700 §4.14.2), so of two refreshes
        with the same one the second fails with ``invalid_grant`` (RFC 6749
        §5.2). Requests of one user that arrive together therefore wait for
        the first refresh and share its outcome instead of logging the user
        out: its new token, or its :class:`ProviderError` (after a 5xx or a
        timeout the refresh token is still unused, and the next request
        tries again; a refusal is final). A request starts a refresh only
        when none is in flight, so there is never more than one at a time
        per refresh token, and nothing stays in the table once it is done.
        Waiting needs no timeout of its own: the refresh is one call to
        Adobe, bounded by ``ADOBE_OAUTH_TIMEOUT``.
        """
        assert token.refresh_token
        key = _hash(token.refresh_token)
        while True:
            with self._guard:
                now = _clock()
                for stale in [k for k, (until, _) in self._recent.items() if until <= now]:
                    del self._recent[stale]
                recent = self._recent.get(key)
                if recent is not None:
                    return recent[1], False
                refused = self._refused.get(key)
                if refused is not None:
                    if refused[0] > now:
                        # Adobe's refusal is final (a rotated-away or revoked
                        # refresh token never works again): answer for it.
                        raise _copy_of(refused[1])
                    del self._refused[key]
                flight = self._locks.get(key)
                leading = flight is None
                if flight is None:
                    flight = self._locks[key] = _Refresh()
            if leading:
                return self._lead(key, flight, token), True
            flight.done.wait()
            if flight.token is not None:
                return flight.token, False
            if flight.error is not None:
                raise _copy_of(flight.error)
            # The refresh died of something else (a bug, an interrupt): not
            # Adobe's answer, so try again, one request at a time as before.

    def _lead(self, key: str, flight: _Refresh, token: Token) -> Token:
        """Run the refresh ``flight`` stands for and hand its outcome to its waiters."""
        try:
            # Who may enter is asked again with each new token, so a person
            # removed from the organisation loses access within one token's life.
            fresh = self.client.admit(self.client.refresh(token))
        except BaseException as exc:
            with self._guard:
                del self._locks[key]
                if isinstance(exc, (ProviderError, NotAllowed)):
                    flight.error = exc  # Adobe's answer (or the rules'), shared with the waiters
                if isinstance(exc, ProviderError) and exc.refused:
                    # A copy without the traceback, whose frames it would keep alive.
                    refusal = cast(ProviderError, _copy_of(exc))
                    _bounded_put(
                        self._refused, key, (_clock() + REFUSED_MEMORY_SECONDS, refusal), MAX_REFUSED
                    )
            flight.done.set()
            raise
        # Publish the result and retire the flight in one step: a request
        # arriving in between would find neither, and refresh with the
        # rotated-away token (invalid_grant: a logout).
        with self._guard:
            self._recent[key] = (_clock() + REFRESH_REUSE_SECONDS, fresh)
            del self._locks[key]
            flight.token = fresh
        flight.done.set()
        return fresh

    def keep_unstored(self, replaced: Token, fresh: Token) -> None:
        """Keep ``fresh``, the refresh of ``replaced`` that the storage failed
        to store, until its access token expires (at least
        REFRESH_REUSE_SECONDS; at most MAX_UNSTORED of them): the store still
        holds ``replaced``, whose refresh token Adobe rotated away, and
        :meth:`refresh` hands ``fresh`` to this user's next request in this
        process instead of sending Adobe that token. (Other processes find
        it in the session cookie: :meth:`AdobeContext.refresh`.)
        """
        assert replaced.refresh_token
        key = _hash(replaced.refresh_token)
        left = fresh.expires_at - time.time() if fresh.expires_at is not None else 0.0
        with self._guard:
            until = _clock() + max(REFRESH_REUSE_SECONDS, left)
            _bounded_put(self._recent, key, (until, fresh), MAX_UNSTORED)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _bounded_put(table: dict[str, Any], key: str, value: Any, limit: int) -> None:
    """``table[key] = value``, dropping the oldest entries beyond ``limit``."""
    table.pop(key, None)
    table[key] = value
    while len(table) > limit:
        del table[next(iter(table))]


def _copy_of(error: AdobeOAuthError) -> AdobeOAuthError:
    """A fresh instance of ``error`` for one waiter: one exception object
    raised in several threads would pile their tracebacks together."""
    try:
        return copy.copy(error)
    except Exception:  # a subclass that cannot be rebuilt from its message
        if isinstance(error, ProviderError):
            return ProviderError(error.message, error.provider_error, error.status)
        return AdobeOAuthError(error.message)


class _Refresh:
    """One refresh in flight: its leader runs it, the others wait on ``done``."""

    __slots__ = ("done", "error", "token")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.token: Token | None = None
        self.error: ProviderError | NotAllowed | None = None


_reconfigure_lock = threading.Lock()


def _up_to_date(runtimes: dict[str, BlueprintRuntime], name: str, app: Flask) -> BlueprintRuntime:
    """The runtime of ``name``, built again if ``ADOBE_OAUTH_*`` keys (or
    ``SECRET_KEY``) changed since it was: ``app.config.update(...)`` after
    ``register_blueprint`` is a common order (a test fixture pointing an app
    at a stand-in, say), and ignoring it would send users to the wrong server
    without a word. Checked on every use, as Flask-Dance re-reads its config
    before each request; ``app.config`` itself is left alone. A bad value
    raises :class:`~flask_adobe_oauth.errors.ConfigurationError` naming the key, so
    the Adobe routes and guarded views fail with a page saying so, while the
    app's other pages, which never get here, keep working."""
    runtime = runtimes[name]
    current = config_snapshot(app.config)
    if runtime.snapshot == current or runtime.rebuild is None:
        return runtime
    with _reconfigure_lock:
        runtime = runtimes[name]
        if runtime.snapshot == current or runtime.rebuild is None:
            return runtime
        changed = [
            key
            for key, old, new in zip(SNAPSHOT_KEYS, runtime.snapshot, current, strict=True)
            if old is not new and old != new
        ]
        runtime = runtimes[name] = runtime.rebuild()  # raises ConfigurationError naming a bad key
    log.info("%s changed after the blueprint was registered; the new value is used", ", ".join(changed))
    return runtime


def get_runtime(name: str | None = None, app: Flask | None = None) -> BlueprintRuntime:
    """The runtime of the blueprint ``name`` (or the only/default one) in ``app``."""
    if app is None:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
    runtimes: dict[str, BlueprintRuntime] = app.extensions.get(EXTENSION_KEY, {})
    if name is None:
        if len(runtimes) == 1:
            name = next(iter(runtimes))
        elif has_request_context() and request.blueprint in runtimes:
            name = request.blueprint
        else:
            name = "adobe"
    if name not in runtimes:
        raise AdobeOAuthError(
            f"no Adobe blueprint named {name!r} is registered on this app; "
            "register make_adobe_blueprint() first"
        )
    return _up_to_date(runtimes, name, app)


@dataclass(frozen=True)
class AdobeUser:
    """The signed-in user, as ``adobe.user`` gives it (and templates: ``adobe.user.name``)."""

    id: str | None
    name: str | None
    email: str | None


class AdobeContext:
    """The current request's view of the user's Adobe login (``adobe``)."""

    def __init__(self, runtime: BlueprintRuntime) -> None:
        self._runtime = runtime
        self._token: Token | None = None
        #: What the storage holds (the token, unless one was handed over).
        self._stored: Token | None = None
        self._loaded = False

    @property
    def runtime(self) -> BlueprintRuntime:
        """The blueprint's :class:`BlueprintRuntime` (its config, storage, clients)."""
        return self._runtime

    @property
    def token(self) -> Token | None:
        """The stored token, or None. Read once per request."""
        if not self._loaded:
            self._token = self._stored = self._runtime.storage.get()
            self._loaded = True
            if self._runtime.handover_key in session:
                self._take_over()
        return self._token

    @property
    def authorized(self) -> bool:
        """A token is stored and is unexpired or can be refreshed."""
        token = self.token
        return token is not None and (not token.expired or bool(token.refresh_token))

    @property
    def user(self) -> AdobeUser | None:
        """Who is signed in: Adobe's user id, name and e-mail address (the
        last two as Adobe gave them at sign-in, when it did), or None."""
        token = self.token
        if token is None:
            return None
        return AdobeUser(token.user_id, token.name, token.email)

    @property
    def org_id(self) -> str | None:
        """The Adobe organisation the user works in here: the one they chose
        (:func:`choose_org`), or the only one they were admitted for; None
        when the blueprint has no rule about organisations, or before a user
        admitted for several has chosen."""
        token = self.token
        if token is None or not token.orgs:
            return None
        chosen = session.get(self._runtime.org_key)
        if isinstance(chosen, str) and chosen in token.orgs:
            return chosen
        return next(iter(token.orgs)) if len(token.orgs) == 1 else None

    def choose_org(self, org_id: str) -> None:
        """Work in ``org_id`` from now on (one the user was admitted for)."""
        token = self.token
        if token is None or org_id not in token.orgs:
            raise NotAllowed("You can only choose an Adobe organisation your account was admitted for.")
        session[self._runtime.org_key] = org_id

    @property
    def session(self) -> AdobeSession:
        """A ``requests.Session`` (one per process) that calls Adobe as this user."""
        return self._runtime.api

    @property
    def config(self) -> Config:
        return self._runtime.config

    def store(self, token: Token) -> None:
        """Store ``token`` as the user's token."""
        self._runtime.storage.set(token)
        self._token = self._stored = token
        self._loaded = True

    def store_login(self, token: Token) -> None:
        """Store the token of a new sign-in. The previous sign-in's record is
        deleted first, so that nothing that named it (a copy of the old
        cookie, a key planted in the session before) reaches the new token:
        a storage that updates a record in place for the same user (a
        refresh, :meth:`store`) must never do so across two sign-ins."""
        self._runtime.storage.delete()
        session.pop(self._runtime.handover_key, None)
        self.store(token)

    def forget(self) -> None:
        """Delete the user's token from storage (no revocation)."""
        self._runtime.storage.delete()
        session.pop(self._runtime.org_key, None)
        session.pop(self._runtime.handover_key, None)
        self._token, self._loaded = None, True

    def usable_token(self) -> Token:
        """An unexpired token, refreshed if needed; else :class:`LoginRequired`."""
        token = self.token
        if token is None:
            raise LoginRequired("you are not signed in with Adobe", self._runtime.name)
        if token.expired:
            if not token.refresh_token:
                self.forget()
                raise LoginRequired("your Adobe session expired", self._runtime.name, expired=True)
            token = self.refresh()
        return token

    def replacement(self, refused: Token) -> Token | None:
        """After Adobe refused ``refused`` with a 401: a refreshed token, or None
        without a refresh token (for :class:`~flask_adobe_oauth.api.AdobeSession`)."""
        return self.refresh() if refused.refresh_token else None

    def token_rejected(self, message: str) -> NoReturn:
        """Adobe refused the token again: forget it and ask the user to sign in."""
        self.forget()
        log.warning("%s; the user must sign in again", message)
        raise LoginRequired(message + "; sign in again", self._runtime.name)

    def _successor(self, token: Token) -> Token | None:
        """After Adobe refused to refresh ``token``: the token another worker's
        refresh stored in its place, if one appears within the storage's
        ``successor_wait`` seconds (server-side storage; Adobe's refusal can
        arrive before the winner has stored its answer), else None."""
        storage = self._runtime.storage
        wait = getattr(storage, "successor_wait", 0.0)
        wait = min(float(wait), MAX_SUCCESSOR_WAIT) if isinstance(wait, (int, float)) and wait > 0 else 0.0
        polls = math.ceil(wait / SUCCESSOR_POLL)  # counted, not timed: bounded whatever the clock does
        for poll in range(polls + 1):
            again = storage.get()
            if (
                again is not None
                and again.refresh_token != token.refresh_token
                and not again.expired
                and again.user_id == token.user_id  # never another user's (a storage of the app's own)
            ):
                return again
            if poll < polls:
                _sleep(SUCCESSOR_POLL)
        return None

    def refresh(self) -> Token:
        """Refresh the token now and store the result.

        An Adobe refusal (``invalid_grant`` and the like) raises
        :class:`LoginRequired`; a transport failure raises
        :class:`ProviderError`, since a network blip is no reason to log the
        user out. Either way the stored token and the cookie are left alone:
        a refusal may be a lost race, whose winner's answer carries the new
        token (see :meth:`_refreshed`).
        """
        token = self.token
        if token is None or not token.refresh_token:
            raise LoginRequired("your Adobe session expired", self._runtime.name)
        fresh, led = self._refreshed(token)
        if fresh is self._stored:
            return fresh  # another worker's refresh, found in the store
        try:
            self._keep(fresh)
        finally:
            if led:  # once per refresh Adobe made, stored or not
                app = current_app._get_current_object()  # type: ignore[attr-defined]
                send(token_refreshed, app, token=fresh, blueprint=self._runtime.name)
        return fresh

    def _keep(self, fresh: Token) -> None:
        """Store ``fresh``, the refresh of the stored token."""
        try:
            self.store(fresh)
        except StorageUnavailable:
            # Adobe has rotated the refresh token the store still holds
            # (RFC 9700 §4.14.2), so the new token must not be lost: it is
            # kept in this process and handed over in the user's session
            # cookie, where the next request finds it whichever worker or
            # machine serves it. With it there, this request goes on with
            # it; without (no room in the cookie), it answers 503, the
            # storage's failure, never a sign-in.
            stored = self._stored
            assert stored is not None
            self._runtime.keep_unstored(stored, fresh)
            if not self._hand_over(stored, fresh):
                raise
            self._token = fresh
            return
        session.pop(self._runtime.handover_key, None)

    def _refreshed(self, token: Token) -> tuple[Token, bool]:
        """Adobe's refresh of ``token`` (and whether this request asked Adobe),
        or the token another worker's refresh stored in its place;
        :class:`LoginRequired` when Adobe refuses."""
        try:
            return self._runtime.refresh(token)
        except NotAllowed:
            self.forget()  # no longer admitted (the new token was revoked): signed out
            raise
        except ProviderError as exc:
            if not exc.refused:
                raise
            again = self._successor(token)
            if again is not None:
                self._token = self._stored = again
                return again, False
            # The refusal may be a lost race: several requests of one user
            # sent this token at once, and another worker's refresh rotated
            # the refresh token first (RFC 9700 §4.14.2). With the cookie
            # session its answer carries the new token in its Set-Cookie, and
            # a cookie without the token from this answer, arriving last,
            # would sign the user out; with a store that refused the winner's
            # write, its answer hands the new token over in the cookie, and
            # deleting the record here would lose it. So this request answers
            # "signed out" and changes nothing. The cost: a refresh token that
            # is truly dead stays until the next sign-in replaces it; each
            # process sends it to Adobe once, then remembers the refusal for
            # REFUSED_MEMORY_SECONDS (BlueprintRuntime.refresh).
            self._token = None
            raise LoginRequired(
                "your Adobe session expired and could not be renewed", self._runtime.name, expired=True
            ) from None

    def _hand_over(self, replaced: Token, fresh: Token) -> bool:
        """Put ``fresh``, which the storage failed to store, in the session
        cookie for the next request to store, if the cookie has room for it
        (leaving room for a sign-in, as a token in the cookie does); bound to
        ``replaced``'s refresh token, so it is used only while the store
        still holds ``replaced``. The cookie is signed, as it is when it
        keeps the token itself (the default storage)."""
        assert replaced.refresh_token
        record = [_hash(replaced.refresh_token), fresh.to_dict()]
        limit = getattr(self._runtime.storage, "max_cookie_size", MAX_COOKIE_SIZE) - LOGIN_ROOM
        if not fits_session_cookie(current_app, {**dict(session), self._runtime.handover_key: record}, limit):
            log.warning("a refreshed Adobe token could not be stored and has no room in the session cookie")
            return False
        session[self._runtime.handover_key] = record
        return True

    def _take_over(self) -> None:
        """Use the token an earlier request handed over (:meth:`_hand_over`),
        and store it; drop the handover if it is not for the stored token."""
        handed = self._handed_over()
        if handed is None:
            session.pop(self._runtime.handover_key, None)
            return
        self._token = handed
        with suppress(StorageUnavailable):  # still down: the cookie keeps it for the next request
            self.store(handed)
            session.pop(self._runtime.handover_key, None)

    def _handed_over(self) -> Token | None:
        """The token handed over in the session, if it replaced the stored one."""
        stored, record = self._stored, session.get(self._runtime.handover_key)
        if stored is None or not stored.refresh_token or not (isinstance(record, list) and len(record) == 2):
            return None
        if record[0] != _hash(stored.refresh_token):
            return None
        try:
            handed = Token.from_dict(record[1])
        except (TypeError, ValueError, KeyError, AttributeError):
            return None
        return handed if handed.user_id == stored.user_id else None


def context(name: str | None = None) -> AdobeContext:
    """The :class:`AdobeContext` of the current request (created on first use),
    kept on ``flask.g``, so it lives exactly as long as the request. Without
    a name, inside a view guarded for a blueprint
    (``@adobe_login_required(blueprint=...)``), that blueprint's."""
    if not has_request_context():
        raise OutsideRequest("adobe is used outside a request; it is bound to the current user")
    wanted = name if name is not None else g.get(_GUARDED)
    # By the name asked for (None: the default one) and by the blueprint's own
    # name: the blueprint is found, and its settings compared with app.config,
    # once per request and name, not at every use of ``adobe``.
    contexts: dict[str | None, AdobeContext] = g.setdefault(_CONTEXTS, {})
    ctx = contexts.get(wanted)
    if ctx is None:
        runtime = get_runtime(wanted)
        ctx = contexts.get(runtime.name)
        if ctx is None or ctx.runtime is not runtime:
            ctx = contexts[runtime.name] = AdobeContext(runtime)
        contexts[wanted] = ctx
    return ctx


def adobe_for(name: str) -> AdobeContext:
    """The current user's sign-in with the blueprint ``name``: what ``adobe``
    is inside a view guarded for it, anywhere in a request."""
    return context(name)


@contextmanager
def guarding(name: str) -> Iterator[None]:
    """While a view guarded for blueprint ``name`` runs, ``adobe`` means its sign-in."""
    before = g.get(_GUARDED)
    setattr(g, _GUARDED, name)
    try:
        yield
    finally:
        setattr(g, _GUARDED, before)


#: Where on ``flask.g`` the blueprint of the guarded view running now is named.
_GUARDED = "_adobe_oauth_guarded"
#: Where on ``flask.g`` the request's contexts are kept, by blueprint name.
_CONTEXTS = "_adobe_oauth_contexts"


#: The current request's :class:`AdobeContext`: ``adobe.authorized``,
#: ``adobe.token``, ``adobe.session``.
adobe: AdobeContext = cast(AdobeContext, LocalProxy(context))
