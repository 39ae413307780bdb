"""Timing and counting helpers shared by the benchmarks."""

from __future__ import annotations

import gc
import io
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from werkzeug.test import EnvironBuilder


@dataclass(frozen=True)
class Stat:
    """Median and spread of several repetitions.

    ``low``/``high`` are the first and third quartiles (with fewer than four
    values, the min and max): a burst of other work on a shared machine
    spoils a few repetitions, and quartiles show the spread without letting
    those few decide it. ``minimum``/``maximum`` are kept too.
    """

    median: float
    low: float
    high: float
    minimum: float
    maximum: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Stat:
        data = sorted(values)
        if len(data) >= 4:
            low, _, high = statistics.quantiles(data, n=4, method="inclusive")
        else:
            low, high = data[0], data[-1]
        return cls(statistics.median(data), low, high, data[0], data[-1])

    @property
    def spread(self) -> float:
        """Half the interquartile range, relative to the median (0.03 = ±3 %)."""
        return (self.high - self.low) / 2 / self.median if self.median else 0.0


def timed(action: Callable[[], Any], count: int) -> float:
    """Run ``action`` ``count`` times; operations per second."""
    gc.collect()
    start = time.perf_counter()
    for _ in range(count):
        action()
    return count / (time.perf_counter() - start)


def local(url: str) -> str:
    """``url`` as a path + query for the Flask test client."""
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


class WSGICall:
    """Calls a WSGI app directly with a prepared GET request, as a server would."""

    def __init__(self, app: Any, path: str, cookie: str) -> None:
        self.app = app
        self.environ = EnvironBuilder(path=path, headers={"Cookie": cookie}).get_environ()
        self.status = ""

    def _start_response(self, status: str, headers: Any, exc_info: Any = None) -> Any:
        self.status = status
        return None

    def __call__(self) -> bytes:
        environ = dict(self.environ)
        environ["wsgi.input"] = io.BytesIO()
        result = self.app(environ, self._start_response)
        try:
            return b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()


class PortLog:
    """WSGI middleware for the stand-in: the client ports that called ``path``.

    Each TCP connection has its own client port, so the number of distinct
    ports seen is the number of connections used.
    """

    def __init__(self, wsgi_app: Any, path: str) -> None:
        self.wsgi_app = wsgi_app
        self.path = path
        self.ports: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == self.path:
            with self._lock:
                self.ports.append(f"{environ.get('REMOTE_ADDR')}:{environ.get('REMOTE_PORT')}")
        return self.wsgi_app(environ, start_response)

    def reset(self) -> None:
        with self._lock:
            self.ports.clear()

    def summary(self) -> tuple[int, int]:
        """(calls seen, distinct connections)."""
        with self._lock:
            return len(self.ports), len(set(self.ports))
