"""HTTP plumbing for every call to Adobe: hard limits, sessions safe to share
between users, and URLs in messages without their credentials.

``requests``' ``timeout`` bounds each socket operation, not the call: a
server sending a few bytes just before every read timeout keeps a worker
busy as long as it likes, and a small gzip body may inflate to hundreds of
megabytes. So every call gets a **deadline**, past which one watchdog thread
(for the whole process) shuts down the call's connections, ending any read in
progress, and a **size cap** on the body after decompression, read in
bounded chunks.
"""

from __future__ import annotations

import heapq
import http.cookiejar
import itertools
import math
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from .errors import ProviderError

#: Bodies are read (and decompressed) this much at a time.
CHUNK = 64 * 1024
USER_AGENT = "flask-adobe-oauth"


class ResponseTooLarge(ProviderError):
    """An answer's body passed ``max_response_bytes`` (after decompression)."""


class _Watchdog:
    """One daemon thread that runs callbacks at their deadlines."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._cancelled: set[int] = set()
        self._ids = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, when: float, callback: Callable[[], None]) -> int:
        with self._cond:
            ident = next(self._ids)
            heapq.heappush(self._heap, (when, ident, callback))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="adobe-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][1] == ident:
                self._cond.notify()
            return ident

    def disarm(self, ident: int) -> None:
        with self._cond:
            self._cancelled.add(ident)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][1] in self._cancelled:
                    self._cancelled.discard(heapq.heappop(self._heap)[1])
                if not self._heap:
                    self._cond.wait(timeout=30.0)
                    if not self._heap:
                        self._thread = None
                        return
                    continue
                when, _, callback = self._heap[0]
                delay = when - time.monotonic()
                if delay > 0:
                    self._cond.wait(timeout=delay)
                    continue
                heapq.heappop(self._heap)
            with suppress(Exception):  # a failing cut must not stop the watchdog
                callback()


_watchdog = _Watchdog()


class Deadline:
    """The wall-clock limit of one call; connections used inside it are cut when it passes."""

    def __init__(self, seconds: float) -> None:
        if not math.isfinite(seconds):
            # A NaN in the watchdog's heap breaks its order (every deadline
            # after it may fire late), and an infinite one its wait.
            raise ValueError(f"a deadline must be a finite number of seconds, not {seconds!r}")
        self.at = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._connections: list[HTTPConnection] = []
        # The sockets themselves too: an answer with "Connection: close" takes
        # the socket over from its connection (http.client sets conn.sock to
        # None), and the body is then read from a socket no connection names.
        self._sockets: list[socket.socket] = []
        self._ident = _watchdog.arm(self.at, self._expire)

    def remaining(self) -> float:
        """Seconds left, never less than a millisecond (a zero timeout means "no wait")."""
        return max(0.001, self.at - time.monotonic())

    def watch(self, sock: socket.socket | None, connection: HTTPConnection | None = None) -> None:
        """Cut ``sock``, and the socket ``connection`` has then, when the deadline passes."""
        with self._lock:
            if not self.expired:
                if connection is not None:
                    self._connections.append(connection)
                if sock is not None:
                    self._sockets.append(sock)
                return
        _cut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            connections, self._connections = self._connections, []
            sockets, self._sockets = self._sockets, []
        for sock in [*sockets, *(getattr(c, "sock", None) for c in connections)]:
            _cut(sock)

    def close(self) -> None:
        _watchdog.disarm(self._ident)
        with self._lock:
            self._connections, self._sockets = [], []


def _cut(sock: socket.socket | None) -> None:
    """End whatever read is blocked on ``sock``."""
    if sock is not None:
        with suppress(OSError):  # already closed
            sock.shutdown(socket.SHUT_RDWR)


_active = threading.local()


class _WatchedHTTPConnection(HTTPConnection):
    def connect(self) -> None:
        super().connect()
        if getattr(_active, "deadline", None) is not None:
            _active.deadline.watch(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        if getattr(_active, "deadline", None) is not None:
            _active.deadline.watch(getattr(self, "sock", None), self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(_WatchedHTTPConnection, HTTPSConnection):
    """The same hooks over TLS (the MRO puts them before HTTPSConnection's)."""


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class WatchedAdapter(HTTPAdapter):
    """An adapter whose connections the current call's :class:`Deadline` can cut."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if hasattr(manager, "pool_classes_by_scheme") and not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = dict(_POOLS)
        return manager


@contextmanager
def deadline(seconds: float, shown: str) -> Iterator[Deadline]:
    """Run the calls in the block under one wall-clock limit of ``seconds``.

    A call cut by it (or any transport error once it has passed) becomes
    :class:`ProviderError` ``"<shown> did not answer within N s"``.
    """
    limit = Deadline(seconds)
    outer = getattr(_active, "deadline", None)
    _active.deadline = limit
    late = f"{shown} did not answer within {seconds:g} s"
    try:
        yield limit
    except (requests.RequestException, OSError, ProviderError):
        # A cut connection surfaces as whatever the read was doing (a reset, a
        # broken chunk, "could not connect"): name the real cause.
        if limit.expired:
            raise ProviderError(late) from None
        raise
    else:
        # Cut while reading headers, http.client may take the end of the stream
        # for the end of the headers and hand back a truncated "answer".
        if limit.expired:
            raise ProviderError(late)
    finally:
        _active.deadline = outer
        limit.close()


def read_capped(response: requests.Response, max_bytes: int, shown: str) -> None:
    """Read ``response``'s body (decompressed) into ``response.content``, or raise
    :class:`ResponseTooLarge` once it passes ``max_bytes``."""
    if response._content_consumed:  # type: ignore[attr-defined]  # already read
        return
    declared = response.headers.get("Content-Length", "")
    encoded = response.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
    too_large = f"{shown} answered more than {max_bytes:,} bytes"
    if declared.isdigit() and int(declared) > max_bytes and not encoded:
        response.close()
        raise ResponseTooLarge(too_large, status=response.status_code)
    chunks: list[bytes] = []
    total = 0
    for chunk in response.iter_content(CHUNK):
        total += len(chunk)
        if total > max_bytes:
            response.close()
            raise ResponseTooLarge(too_large, status=response.status_code)
        chunks.append(chunk)
    response._content = b"".join(chunks)
    response._content_consumed = True  # type: ignore[attr-defined]


def harden(session: requests.Session) -> None:
    """Make ``session`` safe to share between users: it stores no cookies (one
    response's cookie never rides along with another user's call), and does
    not read the environment on each call (with ``trust_env``, requests
    replaces a Bearer header by ``~/.netrc`` credentials for that host; proxy
    and CA-bundle variables are still honoured, by :func:`environment_for`).
    Its connections can be cut by a call's :class:`Deadline`."""
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    session.headers["User-Agent"] = USER_AGENT
    session.trust_env = False
    for prefix in ("http://", "https://"):
        session.mount(prefix, WatchedAdapter())


@lru_cache(maxsize=128)
def _environment(scheme: str, netloc: str) -> tuple[tuple[tuple[str, str], ...], bool | str]:
    proxies = requests.utils.get_environ_proxies(f"{scheme}://{netloc}/")
    verify: bool | str = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    return tuple(sorted(proxies.items())), verify


def environment_for(url: str) -> dict[str, Any]:
    """``proxies`` and ``verify`` for ``url`` as requests would take them from
    the environment (``HTTPS_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``...),
    read once per host rather than on every call."""
    parts = urlsplit(url)
    proxies, verify = _environment(parts.scheme, parts.netloc)
    return {"proxies": dict(proxies), "verify": verify}


@contextmanager
def transport_errors(url: str, timeout: Any = None) -> Iterator[None]:
    """Turn a failed HTTP call into :class:`ProviderError` naming where, not what
    was sent (requests' own messages may quote the URL's query)."""
    try:
        yield
    except requests.Timeout:
        within = f" within {timeout:g} s" if isinstance(timeout, (int, float)) else " in time"
        raise ProviderError(f"{where(url)} did not answer{within}") from None
    except requests.ConnectionError:
        raise ProviderError(f"could not connect to {where(url)}") from None
    except requests.RequestException as exc:
        raise ProviderError(f"the call to {where(url)} failed ({type(exc).__name__})") from None


def _without_userinfo(netloc: str) -> str:
    """A URL's authority without its ``user:password@``: everything up to the
    LAST ``@`` goes, as URL parsers (and redis-py, SQLAlchemy) read it, since
    a password written by hand may hold an ``@`` of its own."""
    return netloc.rpartition("@")[2]


#: A URL's scheme and authority in free text: the authority ends where
#: urlsplit ends it (RFC 3986 §3.2: at "/", "?" or "#"), or at white space.
_URL_AUTHORITY = re.compile(r"(?<![\w+.-])([A-Za-z][A-Za-z0-9+.-]*://)([^\s/?#]*)")


def hide_credentials(text: str) -> str:
    """``text`` with the ``user:password`` of every URL in it shown as ``***``
    (``redis://:p@ss@cache/0`` as ``redis://***@cache/0``)."""

    def hide(match: re.Match[str]) -> str:
        host = _without_userinfo(match.group(2))
        return match.group(0) if host == match.group(2) else f"{match.group(1)}***@{host}"

    return _URL_AUTHORITY.sub(hide, text)


def where(url: str) -> str:
    """``url`` without credentials, query or fragment, for messages."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{_without_userinfo(parts.netloc)}{parts.path}"
