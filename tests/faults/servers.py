"""Real processes for the fault-injection tests, and what the tests share.

* :class:`PersistentRedis`: a ``redis-server`` that keeps its data across a
  kill (append-only file, fsync on every write) in a temporary directory,
  and can be killed and started again on the same port.
* :func:`gunicorn`: ``gunicorn`` serving :mod:`tests.faults.fault_app` on
  127.0.0.1, stopped (with every worker) when the block ends.
* :func:`sign_in_users`, :func:`lineage`, :func:`record_figures`: users
  signed in for real, which sign-in each access token descends from, and the
  figures a test observed (printed, and appended to a JSON-lines file that
  SECURITY.md's "Faults survived" table is made from).

Everything listens on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from flask_adobe_oauth.testing import StandInAdobe

from ..redis_fixture import REDIS_SERVER, free_port, stop_process
from ..test_scale import REQUEST_TIMEOUT, ROOT, THREADS, Visit, one_user

#: Where the figures go, one JSON object a line (``FAULT_FIGURES`` overrides).
FIGURES = Path(
    os.environ.get("FAULT_FIGURES") or Path(tempfile.gettempdir()) / "flask-adobe-oauth-faults.jsonl"
)
FAULT_APP = "tests.faults.fault_app:create_app()"


def record_figures(name: str, figures: dict[str, Any]) -> None:
    """Print what a test observed and append it to :data:`FIGURES`."""
    line = json.dumps({"test": name, **figures}, sort_keys=True, default=str)
    print(f"\nFIGURES {line}")
    with suppress(OSError), FIGURES.open("a") as out:
        out.write(line + "\n")


# -- Redis that survives a kill ----------------------------------------------------------


class PersistentRedis:
    """``redis-server`` on 127.0.0.1 with ``appendonly yes``, ``appendfsync always``:
    every write acknowledged is on disk, so a SIGKILL loses nothing and a
    restart in the same directory, on the same port, has every record."""

    def __init__(self) -> None:
        binary = REDIS_SERVER if shutil.which(REDIS_SERVER) else shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (apt-get install redis-server); these tests need it")
        self.binary = binary
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = tempfile.mkdtemp(prefix="ao-redis-aof-")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 15.0) -> None:
        """Start (or start again) and wait until it answers, its data loaded."""
        assert self.process is None or self.process.poll() is not None
        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                self.workdir,
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=2)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    client.ping()  # raises BusyLoadingError (a ConnectionError) while loading the AOF
                    return
                except redis.ConnectionError:
                    if self.process.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        pytest.fail(f"redis-server did not start on 127.0.0.1:{self.port}")
                    time.sleep(0.02)
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: no shutdown, no last save; only what was fsynced survives."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            stop_process(self.process, timeout=10)

    def __enter__(self) -> PersistentRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)


# -- gunicorn ----------------------------------------------------------------------------


def children_of(pid: int) -> set[int]:
    """The live child processes of ``pid`` (from /proc)."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat.rpartition(")")[2].split()
        if len(fields) > 1 and int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


@contextmanager
def gunicorn(
    standin: StandInAdobe,
    redis_url: str,
    *,
    workers: int = 4,
    threads: int = 1,
    options: dict[str, Any] | None = None,
    app: str = FAULT_APP,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``gunicorn -w workers [--threads threads]`` serving the fault app, pointed at
    ``standin`` with ``options`` (``ADOBE_OAUTH_*`` keys) and Redis storage at
    ``redis_url``; its base URL and master process."""
    port = free_port()
    env = {
        **os.environ,
        "SCALE_ADOBE_CONFIG": json.dumps({**standin.config(), **(options or {})}),
        "SCALE_REDIS_URL": redis_url,
    }
    command = [sys.executable, "-m", "gunicorn", "--workers", str(workers)]
    if threads > 1:
        command += ["--threads", str(threads)]
    command += [
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(ROOT),
        "--timeout",
        "60",
        "--graceful-timeout",
        "3",
        app,
    ]
    with tempfile.TemporaryFile() as log:
        # Its own process group, so that workers left by a killed master go too.
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        try:
            while True:
                try:
                    if requests.get(base + "/", timeout=2).status_code == 200:
                        break
                except (requests.ConnectionError, requests.Timeout):
                    # Not listening yet, or listening with no worker booted yet
                    # (a loaded machine, or gunicorn 23: its master accepts first).
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail("gunicorn did not start:\n" + log.read().decode(errors="replace")[-2000:])
                time.sleep(0.1)
            while len(children_of(process.pid)) < workers and time.monotonic() < deadline:
                time.sleep(0.05)
            yield base, process
        finally:
            stop_process(process, timeout=15)
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)  # the group this test started, if any is left


# -- users ---------------------------------------------------------------------------------


def sign_in_users(base: str, numbers: range) -> tuple[list[Visit], list[requests.Session]]:
    """A real sign-in for each user number (:func:`tests.test_scale.one_user`), on
    :data:`~tests.test_scale.THREADS` threads; the visits and each user's browser."""
    browsers = [requests.Session() for _ in numbers]
    with ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="sign-in") as pool:
        futures = [pool.submit(one_user, base, n, b) for n, b in zip(numbers, browsers, strict=True)]
        _, pending = wait(futures, timeout=90)
        assert not pending, f"{len(pending)} sign-ins did not finish in time"
        return [f.result() for f in futures], browsers


def lineage(standin: StandInAdobe) -> dict[str, str]:
    """The code of the sign-in each access token descends from (through any
    refreshes), by the token's sha256."""
    with standin.state.lock:
        return {
            hashlib.sha256(value.encode()).hexdigest(): grant.family
            for value, grant in standin.state.grants.items()
            if grant.kind == "access" and grant.family
        }


def get(
    browser: requests.Session, url: str, *, timeout: float = REQUEST_TIMEOUT, **kwargs: Any
) -> requests.Response:
    """One request as a browser would send it, on a connection of its own
    (``Connection: close``: no reuse of a connection a killed worker held)."""
    headers = {"Connection": "close", "Accept": BROWSER_ACCEPT, **kwargs.pop("headers", {})}
    return browser.get(url, allow_redirects=False, timeout=timeout, headers=headers, **kwargs)


#: What a browser's page load sends as Accept (the extension redirects page loads
#: to the sign-in, and answers other clients 401).
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
