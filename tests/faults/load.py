"""A bounded load of signed-in users, each answer timed and kept for the checks."""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import requests

from ..test_scale import Visit
from .servers import get


@dataclass
class Answer:
    """One request of the load and what came back."""

    user: int
    start: float  # time.monotonic()
    elapsed: float
    status: int | None  # None: no HTTP answer (see error)
    error: str | None = None
    token_sha256: str | None = None
    pid: str | None = None
    location: str = ""
    #: The extension's error code on an error page (``<code>provider_error</code>``) or in JSON.
    code: str | None = None

    @property
    def end(self) -> float:
        return self.start + self.elapsed


def ask(browser: requests.Session, url: str, user: int, timeout: float) -> Answer:
    """GET ``url`` as ``browser``; the answer, or the error that came instead."""
    start = time.monotonic()
    try:
        response = get(browser, url, timeout=timeout)
    except requests.RequestException as exc:
        return Answer(user, start, time.monotonic() - start, None, type(exc).__name__)
    elapsed = time.monotonic() - start
    token = code = None
    is_json = response.headers.get("Content-Type", "").startswith("application/json")
    if response.status_code == 200 and is_json:
        data = response.json()
        assert data["marker"] == str(user), "an answer for another user's request"
        token = data["token_sha256"]
    elif response.status_code >= 400:
        found = re.search(r"<code>([a-z_]+)</code> · HTTP", response.text)
        code = response.json().get("error") if is_json else found.group(1) if found else None
    return Answer(
        user,
        start,
        elapsed,
        response.status_code,
        token_sha256=token,
        pid=response.headers.get("X-Worker-Pid"),
        location=response.headers.get("Location", ""),
        code=code,
    )


def run_load(
    base: str,
    path: str,
    visits: list[Visit],
    browsers: list[requests.Session],
    *,
    threads: int,
    stop: threading.Event,
    timeout: float,
    limit: float,
    on_answer: Callable[[Answer], None] | None = None,
) -> list[Answer]:
    """Every user asks ``path`` again and again until ``stop`` is set (at most ``limit``
    seconds). Each user's browser is used by one thread only."""
    answers: list[Answer] = []
    lock = threading.Lock()
    until = time.monotonic() + limit

    def worker(index: int) -> None:
        mine = list(range(index, len(visits), threads))
        while not stop.is_set() and time.monotonic() < until:
            for i in mine:
                if stop.is_set():
                    return
                visit = visits[i]
                answer = ask(browsers[i], f"{base}{path}?u={visit.number}", visit.number, timeout)
                with lock:
                    answers.append(answer)
                if on_answer is not None:
                    on_answer(answer)

    pool = [threading.Thread(target=worker, args=(i,), name=f"load-{i}", daemon=True) for i in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=max(0.0, until - time.monotonic()) + timeout + 5)
    assert not any(t.is_alive() for t in pool), "the load did not stop in time"
    return answers


def once_each(
    base: str,
    path: str,
    visits: list[Visit],
    browsers: list[requests.Session],
    *,
    threads: int,
    timeout: float,
) -> list[Answer]:
    """Every user asks ``path`` once, ``threads`` at a time."""
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="once") as pool:
        futures = [
            pool.submit(ask, browsers[i], f"{base}{path}?u={v.number}", v.number, timeout)
            for i, v in enumerate(visits)
        ]
        return [f.result(timeout=timeout + 60) for f in futures]


def statuses(answers: list[Answer]) -> dict[str, int]:
    """How many answers of each status (``"error:<kind>"`` for no answer)."""
    counts = Counter(str(a.status) if a.status is not None else f"error:{a.error}" for a in answers)
    return dict(sorted(counts.items()))
