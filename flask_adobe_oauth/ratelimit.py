"""Keeping each user's calls under Adobe's rate limit, on our side.

Adobe's Analytics 2.0 APIs allow each user 12 calls every 6 seconds (the
API FAQ, "Rate limits"); the 13th gets HTTP 429 with
``{"error_code":"429050"}`` and no ``Retry-After``. Rather than send a call
Adobe will refuse, :class:`RateLimiter` counts each user's recent calls on
a sliding window and, when the window is full, makes the call wait for the
next free slot, briefly (at most ``max_wait`` seconds); a call that would
wait longer is refused here, at once, with :class:`RateLimited` and the
time to wait, and Adobe never sees it. After Adobe answers 429 anyway
(another process used the same user's budget), :meth:`RateLimiter.hold`
keeps that user's calls from Adobe until the delay it asked for is over.

Calls are counted when they are sent; Adobe counts them when they arrive,
a network hop later, so each call is kept in the window ``slack`` seconds
longer than the limit's own period, so that jitter in that hop does not
bring two calls closer at Adobe than they left here.

The count is per process: with several workers, each keeps its own. The
limit can be lowered (``api_rate_limit``) to the share of each worker.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

from .errors import RateLimited

__all__ = ["RateLimiter"]

#: The longest a 429 holds a user's calls back here, whatever delay Adobe named.
MAX_HOLD = 60.0

#: The clock and the sleep the limiter uses (monotonic; tests replace them).
_clock: Callable[[], float] = time.monotonic
_sleep: Callable[[float], None] = time.sleep


class _Window:
    """One user's calls: when each recent (or reserved) call goes out, oldest first."""

    __slots__ = ("held_until", "times")

    def __init__(self) -> None:
        self.times: deque[float] = deque()
        self.held_until = 0.0


class RateLimiter:
    """At most ``calls`` calls per ``seconds`` for each key (a user), waiting
    at most ``max_wait`` seconds for a slot.

    Thread-safe; it remembers at most ``max_keys`` users (the least recently
    seen are forgotten first, and only once their window is over, or when
    the table is full).
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
    ) -> None:
        numbers = (seconds, max_wait, slack, max_hold)
        if calls < 1 or not all(math.isfinite(n) and n >= 0 for n in numbers) or not seconds > 0:
            raise ValueError("calls ≥ 1, seconds > 0, and finite max_wait, slack and max_hold ≥ 0 are needed")
        self.max_hold = max_hold
        self.calls = calls
        self.seconds = seconds
        self.max_wait = max_wait
        #: How long a call stays in the window: the period, and the slack.
        self.span = seconds + slack
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._windows: OrderedDict[str, _Window] = OrderedDict()

    def acquire(self, key: str, where: str, max_wait: float | None = None) -> float:
        """Take a slot for one call of ``key`` to ``where`` (a URL as shown in
        messages): returns at once when the window has room, else sleeps until
        the next slot, and returns the seconds waited. Raises
        :class:`RateLimited` (without waiting) when the slot is more than
        ``max_wait`` seconds away (the limiter's, or the call's own when that
        is shorter)."""
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
            if wait > (self.max_wait if max_wait is None else min(max_wait, self.max_wait)):
                why = (
                    "Adobe answered 429 to this user's calls a moment ago"
                    if window.held_until > now
                    else f"this user's calls would go past Adobe's limit of {self.calls} per {self.seconds:g} s"
                )
                raise RateLimited(
                    where,
                    wait,
                    message=f"the call to {where} was held back: {why}; retry after {wait:.1f} s",
                )
            times.append(start)
        if wait > 0:
            _sleep(wait)
        return wait

    def hold(self, key: str, seconds: float) -> None:
        """Adobe answered 429 for ``key``: send none of its calls for ``seconds``,
        at most :attr:`max_hold` (a ``Retry-After`` of a day, or an HTTP-date
        read with a skewed clock, holds a minute; Adobe then answers again)."""
        seconds = min(seconds, self.max_hold) if math.isfinite(seconds) else self.max_hold
        with self._lock:
            now = _clock()
            window = self._window(key, now)
            window.held_until = max(window.held_until, now + seconds)

    def _window(self, key: str, now: float) -> _Window:
        """``key``'s window, made when new; old windows are dropped on the way."""
        windows = self._windows
        window = windows.get(key)
        if window is not None:
            windows.move_to_end(key)
            return window
        while windows:
            oldest_key, oldest = next(iter(windows.items()))
            over = not oldest.times or oldest.times[-1] <= now - self.span
            if len(windows) < self.max_keys and not (over and oldest.held_until <= now):
                break
            del windows[oldest_key]
        window = windows[key] = _Window()
        return window

    def __repr__(self) -> str:
        return f"RateLimiter({self.calls} calls / {self.seconds:g} s, max_wait={self.max_wait:g} s)"
