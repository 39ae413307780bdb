"""A real ``redis-server`` for the storage and scale tests.

One server per test session, on a free port of 127.0.0.1, persisting
nothing; each test gets it emptied. A missing binary fails the tests (CI
installs it), it never skips them.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import pytest
import redis

from flask_adobe_oauth.testing.live import free_port

REDIS_SERVER = "/usr/bin/redis-server"


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> None:
    """Terminate a server started for a test; kill it if it lingers."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ServerMissing(RuntimeError):
    """A server the tests (or the benchmarks) need did not start."""


@contextmanager
def redis_server() -> Iterator[str]:
    """A ``redis-server`` on a free port of 127.0.0.1, persisting nothing; its
    URL (``redis://127.0.0.1:<port>/0``). Stopped and removed at the end;
    :class:`ServerMissing` when it is not installed or does not start."""
    binary = REDIS_SERVER if shutil.which(REDIS_SERVER) else shutil.which("redis-server")
    if binary is None:
        raise ServerMissing(
            "redis-server is not installed (apt-get install redis-server, or make system-deps)"
        )
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="ao-redis-")
    options = ["--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"]
    process = subprocess.Popen(
        [binary, *options, "--dir", workdir, "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url, socket_timeout=2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise ServerMissing(f"redis-server did not start on 127.0.0.1:{port}") from None
                time.sleep(0.05)
        client.close()
        yield url
    finally:
        stop_process(process, timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session", name="redis_url")
def _redis_url_fixture() -> Iterator[str]:
    """``redis://127.0.0.1:<port>/0`` of a redis-server started for this session;
    a missing binary fails the tests (CI installs it), it never skips them."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(redis_server())
        except ServerMissing as exc:
            pytest.fail(str(exc))
        yield url


@pytest.fixture(name="redis_client")
def _redis_client_fixture(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the session's redis-server, emptied before the test."""
    client = redis.Redis.from_url(url=redis_url)
    client.flushdb()
    try:
        yield client
    finally:
        client.close()
