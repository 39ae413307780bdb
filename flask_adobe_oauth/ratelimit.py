"""Keeping each user's calls under Adobe's rate limit, on our side.

Adobe's Analytics 2.0 APIs allow each user 12 calls every 6 seconds (the API FAQ, "Rate limits"); the 13th
gets HTTP 429 with ``{"error_code":"429050"}`` and no ``Retry-After``. :class:`RateLimiter` counts each user's
recent calls on a sliding window; when it is full, a call waits for the next free slot (at most ``max_wait``
seconds) or is refused here, at once, with :class:`RateLimited`. After a 429 anyway, :meth:`RateLimiter.hold`
keeps that user's calls from Adobe for the delay it asked for. Each call stays in the window ``slack`` seconds
longer than the period: Adobe counts calls when they arrive, a network hop after they were counted here.

The count (``storage``: ``api_rate_storage``, a storage URI as Flask-Limiter spells it) is kept in this
process (``memory://``: with several workers, Adobe's one budget per user is spent several times over) or in
Redis (``redis://``, ``rediss://``, ``redis+unix://``: one count per user for every worker, each turn one
atomic Lua script on the Redis server's clock). When Redis fails (down, unreachable, slower than
:data:`SHARED_TIMEOUT`), no call is refused or fails for it: this process counts alone for
:data:`RETRY_SHARED` seconds, with a warning in the log, then tries again.

Waiting calls hold a thread each: so that one user cannot tie up every thread of a worker, a user may have
at most ``waiters`` calls waiting in one process (``api_rate_waiters``).
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigurationError, RateLimited
from .transport import hide_credentials

__all__ = ["MEMORY", "RateLimiter"]

log = logging.getLogger("flask_adobe_oauth.api")

#: The longest a 429 holds a user's calls back here, whatever delay Adobe named.
MAX_HOLD = 60.0
MEMORY = "memory://"
#: Calls of one user that may wait for their turn at once, per process, by default.
DEFAULT_WAITERS = 2
#: After the shared store failed, how long this process counts alone before trying it again.
RETRY_SHARED = 5.0
#: How long one command to the shared store may take (to connect, and to answer).
SHARED_TIMEOUT = 0.5
#: How long a user's count outlives its last call in Redis (it only collects users who stopped calling).
_EXPIRE_MARGIN = 60.0
#: Redis keys: ``<prefix>{<user digest>}:w`` (the calls) and ``:h`` (a hold); the braces keep both
#: in one Redis Cluster slot.
SHARED_PREFIX = "adobe_oauth:rate:"
SHARED_SCHEMES = ("redis", "rediss", "redis+unix")

#: The clock and the sleep of the limiter (monotonic; tests replace them), and the shared count's
#: clock (None: the Redis server's own ``TIME``).
_clock: Callable[[], float] = time.monotonic
_sleep: Callable[[float], None] = time.sleep
_shared_clock: Callable[[], float] | None = None

# Both scripts start with _NOW: ARGV[1], the time now ('' for the server's TIME),
# and ARGV[2], how long a key outlives its use. Redis runs a script without
# interleaving any other command, so two processes never take one slot.
_NOW = """
local now = tonumber(ARGV[1])
if not now then
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local margin = tonumber(ARGV[2])
"""

# One user's turn, the steps of RateLimiter._reserve in memory. KEYS: the user's calls (a sorted set of the
# times they go out) and their hold (the time until which Adobe asked us to wait). ARGV[3..6]: calls, span,
# the longest wait allowed, a unique member. Returns {taken, the wait (a string: Lua numbers come back as
# integers), held}.
_ACQUIRE = """
local calls, span, max_wait = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
local start, held = now, 0
local held_until = tonumber(redis.call('GET', KEYS[2]) or '')
if held_until and held_until > now then
  start, held = held_until, 1
end
local count = redis.call('ZCARD', KEYS[1])
if count >= calls then
  local oldest = redis.call('ZRANGE', KEYS[1], count - calls, count - calls, 'WITHSCORES')
  start = math.max(start, tonumber(oldest[2]) + span)
end
local wait = start - now
if wait > max_wait then
  return {0, tostring(wait), held}
end
redis.call('ZADD', KEYS[1], start, ARGV[6])
redis.call('PEXPIRE', KEYS[1], math.ceil((wait + span + margin) * 1000))
return {1, tostring(wait), 0}
"""

# Adobe answered 429: hold the user's calls for ARGV[3] seconds (never shortening a longer hold).
_HOLD = """
local seconds = tonumber(ARGV[3])
local held_until = tonumber(redis.call('GET', KEYS[1]) or '') or 0
if now + seconds > held_until then
  redis.call('SET', KEYS[1], tostring(now + seconds), 'PX', math.ceil((seconds + margin) * 1000))
end
return 1
"""

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


def storage_scheme(uri: str) -> str:
    return uri.partition("://")[0].strip().lower()


def check_storage(uri: Any) -> str:
    """``memory://`` or a Redis URL, else ConfigurationError; a wrong one is shown by its scheme
    only (it may carry a password)."""
    scheme = storage_scheme(uri) if isinstance(uri, str) and "://" in uri else ""
    if scheme in (*SHARED_SCHEMES, "memory"):
        return MEMORY if scheme == "memory" else str(uri).strip()
    shown = f"a {scheme}:// URL" if scheme else f"a {type(uri).__name__}"
    raise ConfigurationError(
        "ADOBE_OAUTH_API_RATE_STORAGE must be memory:// or a redis://, rediss:// or redis+unix:// URL "
        f"(a storage URI as Flask-Limiter's), not {shown}"
    )


def redis_client(uri: str) -> Any:
    """One redis-py client (one connection pool) per URI and process, shared by every limiter using
    it (and the service token's store); it connects at its first command."""
    with _clients_lock:
        if uri in _clients:
            return _clients[uri]
        try:
            import redis  # the "redis" extra; imported only for a shared count
        except ImportError:
            raise ConfigurationError(
                "ADOBE_OAUTH_API_RATE_STORAGE names Redis, and redis-py is not installed: "
                "pip install 'flask-adobe-oauth[redis]'"
            ) from None
        # Flask-Limiter's redis+unix:///path/to/socket is redis-py's unix:///path/to/socket.
        url = "unix" + uri[uri.index("://") :] if storage_scheme(uri) == "redis+unix" else uri
        try:
            client = redis.Redis.from_url(
                url, socket_timeout=SHARED_TIMEOUT, socket_connect_timeout=SHARED_TIMEOUT
            )
        except ValueError:
            raise ConfigurationError(
                f"ADOBE_OAUTH_API_RATE_STORAGE is not a Redis URL redis-py can read: {hide_credentials(uri)}"
            ) from None
        _clients[uri] = client
        return client


class _SharedCount:
    """The windows of every user in Redis."""

    def __init__(self, uri: str, prefix: str) -> None:
        client = redis_client(uri)
        self.shown, self.prefix = hide_credentials(uri), prefix
        self.acquire = client.register_script(_NOW + _ACQUIRE)
        self.hold = client.register_script(_NOW + _HOLD)
        self._down_until = 0.0
        self._outage = False
        self._lock = threading.Lock()

    def usable(self) -> bool:
        return time.monotonic() >= self._down_until

    def run(self, script: Any, key: str, *args: Any) -> Any:
        """``script``'s answer for ``key``, or None when the store failed: then this process counts
        alone for a while (said once per outage)."""
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]  # any user id makes a short, plain key
        keys = [f"{self.prefix}{{{digest}}}:w", f"{self.prefix}{{{digest}}}:h"]
        try:
            now = "" if _shared_clock is None else repr(float(_shared_clock()))
            answer = script(
                keys=keys[1:] if script is self.hold else keys, args=[now, repr(_EXPIRE_MARGIN), *args]
            )
        except Exception as exc:  # redis-py's errors, OSError: never an error for the user
            with self._lock:
                self._down_until = time.monotonic() + RETRY_SHARED
                first, self._outage = not self._outage, True
            if first:
                log.warning(
                    "the shared rate limit store %s failed (%s); each process counts its own calls "
                    "to Adobe until it answers again (retried every %g s)",
                    self.shown,
                    type(exc).__name__,
                    RETRY_SHARED,
                )
            return None
        if self._outage:
            with self._lock:
                was, self._outage = self._outage, False
            if was:
                log.warning("the shared rate limit store %s answers again", self.shown)
        return answer


@dataclass
class _Window:
    """One user's calls: when each recent (or reserved) call goes out, oldest first."""

    times: deque[float] = field(default_factory=deque)
    held_until: float = 0.0


class RateLimiter:
    """At most ``calls`` calls per ``seconds`` for each key (a user), waiting at most ``max_wait`` seconds
    for a slot, with at most ``waiters`` calls of one key waiting at once in this process (None: no such
    bound), counted in ``storage``: ``memory://`` or a Redis URL. Thread-safe; in memory it remembers at
    most ``max_keys`` users (the least recently seen go first, once their window is over or the table full).
    """

    def __init__(
        self,
        calls: int,
        seconds: float,
        max_wait: float,
        *,
        slack: float = 0.25,
        max_keys: int = 10_000,
        max_hold: float = MAX_HOLD,
        storage: str = MEMORY,
        waiters: int | None = DEFAULT_WAITERS,
        prefix: str = SHARED_PREFIX,
    ) -> None:
        numbers = (seconds, max_wait, slack, max_hold)
        if calls < 1 or not all(math.isfinite(n) and n >= 0 for n in numbers) or not seconds > 0:
            raise ValueError("calls ≥ 1, seconds > 0, and finite max_wait, slack and max_hold ≥ 0 are needed")
        if waiters is not None and (isinstance(waiters, bool) or waiters < 0):
            raise ValueError("waiters must be a number of calls, 0 or more (or None for no bound)")
        self.calls, self.seconds, self.max_wait, self.max_hold = calls, seconds, max_wait, max_hold
        self.waiters, self.max_keys, self.storage = waiters, max_keys, check_storage(storage)
        #: How long a call stays in the window: the period, and the slack.
        self.span = seconds + slack
        self._lock = threading.Lock()
        self._windows: OrderedDict[str, _Window] = OrderedDict()
        #: Calls of each key waiting for their turn in this process now.
        self._waiting: dict[str, int] = {}
        self._shared = None if self.storage == MEMORY else _SharedCount(self.storage, prefix)

    @property
    def shared(self) -> bool:
        """True when the count is kept in a store shared by processes."""
        return self._shared is not None

    def acquire(self, key: str, where: str, max_wait: float | None = None, *, bounded: bool = True) -> float:
        """Take a slot for one call of ``key`` to ``where`` (a URL as shown in messages), sleeping
        until it comes; returns the seconds waited. Raises :class:`RateLimited` at once, taking no
        slot, when the slot is more than ``max_wait`` away (the limiter's, or the call's own if
        shorter), or when ``key`` already has ``waiters`` calls waiting here (unless not ``bounded``:
        the service credential's calls are many users')."""
        allowed = self.max_wait if max_wait is None else min(max_wait, self.max_wait)
        with self._lock:  # a place among the key's waiting calls, if one is free
            waiting = self._waiting.get(key, 0)
            place = not bounded or self.waiters is None or waiting < self.waiters
            if place:
                self._waiting[key] = waiting + 1
        try:
            taken, wait, held = self._reserve(key, allowed if place else 0.0)
            if not taken:
                if held:
                    why = "Adobe answered 429 to this user's calls a moment ago"
                elif not place and wait <= allowed:
                    calls = f"{self.waiters} call{'s' if self.waiters != 1 else ''}"
                    why = f"this user already has {calls} waiting for a turn under Adobe's limit"
                else:
                    why = f"this user's calls would go past Adobe's limit of {self.calls} per {self.seconds:g} s"
                message = f"the call to {where} was held back: {why}; retry after {wait:.1f} s"
                raise RateLimited(where, wait, message=message)
            if wait > 0:
                _sleep(wait)
            return wait
        finally:
            if place:
                with self._lock:
                    self._waiting[key] -= 1
                    if not self._waiting[key]:
                        del self._waiting[key]

    def hold(self, key: str, seconds: float) -> None:
        """Adobe answered 429 for ``key``: send none of its calls (from any process, with a shared
        store) for ``seconds``, at most :attr:`max_hold` (a ``Retry-After`` of a day, or read with a
        skewed clock, holds a minute)."""
        seconds = min(seconds, self.max_hold) if math.isfinite(seconds) else self.max_hold
        with self._lock:  # here too, for the times the shared store fails
            now = _clock()
            window = self._window(key, now)
            window.held_until = max(window.held_until, now + seconds)
        if self._shared is not None and self._shared.usable():
            self._shared.run(self._shared.hold, key, repr(seconds))

    def _reserve(self, key: str, may_wait: float) -> tuple[bool, float, bool]:
        """``(taken, wait, held)``: a slot at most ``may_wait`` seconds away taken for ``key``, the
        wait for it, and whether a 429's hold keeps it back."""
        shared = self._shared
        if shared is not None and shared.usable():
            member = secrets.token_hex(8)  # two calls at the same instant are two members
            answer = shared.run(shared.acquire, key, self.calls, repr(self.span), repr(may_wait), member)
            if answer is not None:
                return bool(int(answer[0])), float(answer[1]), bool(int(answer[2]))
        with self._lock:
            now = _clock()
            window = self._window(key, now)
            times = window.times
            while times and times[0] <= now - self.span:
                times.popleft()
            start = max(now, window.held_until)
            if len(times) >= self.calls:
                start = max(start, times[len(times) - self.calls] + self.span)
            wait = start - now
            if wait > may_wait:
                return False, wait, window.held_until > now
            times.append(start)
            return True, wait, False

    def _window(self, key: str, now: float) -> _Window:
        """``key``'s window, made when new; old windows are dropped on the way."""
        windows = self._windows
        if key in windows:
            windows.move_to_end(key)
            return windows[key]
        while windows:
            oldest_key, oldest = next(iter(windows.items()))
            over = not oldest.times or oldest.times[-1] <= now - self.span
            if len(windows) < self.max_keys and not (over and oldest.held_until <= now):
                break
            del windows[oldest_key]
        window = windows[key] = _Window()
        return window

    def __repr__(self) -> str:
        where = "" if self._shared is None else f", storage={self._shared.shown!r}"
        return f"RateLimiter({self.calls} calls / {self.seconds:g} s, max_wait={self.max_wait:g} s{where})"
