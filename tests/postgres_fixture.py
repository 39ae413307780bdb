"""A real PostgreSQL server for the SQLAlchemy storage tests.

One server per test session, on a free port of 127.0.0.1, its data and its
unix socket in a temporary directory, stopped and removed at the end. Like
``redis_fixture``: when the server binaries are missing, the tests fail in
CI (which installs PostgreSQL with ``make system-deps``) and are skipped
only elsewhere.

PostgreSQL refuses to run as root, so under root (a container) ``initdb``
and ``pg_ctl`` run as the ``postgres`` system user, in a directory given
to it.
"""

from __future__ import annotations

import glob
import os
import pwd
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from flask_adobe_oauth.testing.live import free_port

from .redis_fixture import ServerMissing

DATABASE = "adobe_oauth_test"


def _version(bindir: str) -> tuple[int, ...]:
    name = Path(bindir).parent.name
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def find_bindir() -> str | None:
    """The directory of ``initdb``, ``pg_ctl`` and ``postgres``: ``pg_config --bindir``,
    else Debian's ``/usr/lib/postgresql/<version>/bin`` (newest first), else ``PATH``."""
    candidates: list[str] = []
    pg_config = shutil.which("pg_config")
    if pg_config is not None:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=False
            )
            candidates.append(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True)
    initdb = shutil.which("initdb")
    if initdb is not None:
        candidates.append(str(Path(os.path.realpath(initdb)).parent))
    for bindir in candidates:
        if bindir and all(
            os.access(Path(bindir, tool), os.X_OK) for tool in ("initdb", "pg_ctl", "postgres")
        ):
            return bindir
    return None


def _as_server_user(args: list[str]) -> list[str]:
    """``args`` run as the ``postgres`` user when we are root (PostgreSQL refuses root)."""
    if os.geteuid() != 0:
        return args
    runuser = shutil.which("runuser")
    if runuser is not None:
        return [runuser, "-u", "postgres", "--", *args]
    return ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(args)]


def _run(args: list[str], timeout: float = 60) -> None:
    result = subprocess.run(
        _as_server_user(args), capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"{Path(args[0]).name} failed: {(result.stdout + result.stderr)[-2000:]}")


def _missing(reason: str) -> None:
    """Fail in CI, where PostgreSQL is installed; skip elsewhere."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}; CI must run the PostgreSQL tests (make system-deps installs it)")
    pytest.skip(f"{reason} (apt-get install postgresql, or make system-deps)")


@contextmanager
def postgres_server(max_connections: int = 300) -> Iterator[tuple[str, Path]]:
    """A PostgreSQL server on a free port of 127.0.0.1, its data in a temporary
    directory (fsync off: a throwaway server), stopped and removed at the
    end; the SQLAlchemy URL of its database ``adobe_oauth_test``
    (``postgresql+psycopg://``) and the server's log file.
    :class:`ServerMissing` when it is not installed or does not start."""
    bindir = find_bindir()
    if bindir is None:
        raise ServerMissing("PostgreSQL's server (initdb, pg_ctl, postgres) is not installed")
    server_user = None
    if os.geteuid() == 0:
        try:
            server_user = pwd.getpwnam("postgres")
        except KeyError:
            raise ServerMissing(
                "running as root, and there is no postgres user to run the server as"
            ) from None
    workdir = tempfile.mkdtemp(prefix="ao-postgres-")
    data, sockets, logfile = Path(workdir, "data"), Path(workdir, "run"), Path(workdir, "server.log")
    sockets.mkdir()
    if server_user is not None:
        for path in (workdir, sockets):
            os.chown(path, server_user.pw_uid, server_user.pw_gid)
    port = free_port()
    ctl = str(Path(bindir, "pg_ctl"))
    started = False
    try:
        initdb = str(Path(bindir, "initdb"))
        # --auth=trust: a throwaway server, reachable only from this machine.
        _run([initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets} "
            f"-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections={max_connections}"
        )
        _run([ctl, "-D", str(data), "-o", options, "-l", str(logfile), "-w", "-t", "60", "start"], timeout=90)
        started = True
        admin = create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", isolation_level="AUTOCOMMIT"
        )
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {DATABASE}"))
        admin.dispose()
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{DATABASE}", logfile
    finally:
        if started:
            subprocess.run(
                _as_server_user([ctl, "-D", str(data), "-m", "fast", "-w", "-t", "60", "stop"]),
                capture_output=True,
                timeout=90,
                check=False,
            )
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(scope="session", name="postgres_server")
def _postgres_server_fixture() -> Iterator[str]:
    """A PostgreSQL server started for this session; yields the SQLAlchemy URL
    of its database ``adobe_oauth_test`` (``postgresql+psycopg://``)."""
    with ExitStack() as stack:
        try:
            url, _ = stack.enter_context(postgres_server())
        except ServerMissing as exc:
            _missing(str(exc))
        yield url


@pytest.fixture(name="postgres_url")
def _postgres_url_fixture(postgres_server: str) -> str:
    """The session server's database, emptied (every table dropped) before the test."""
    engine = create_engine(postgres_server)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    return postgres_server


@pytest.fixture(name="engines")
def _engines_fixture() -> Iterator[Callable[[Engine], Engine]]:
    """Register an engine made by a test; disposed (its pooled connections
    closed) after the test, so tests never hold PostgreSQL connections open."""
    made: list[Engine] = []

    def keep(engine: Engine) -> Engine:
        made.append(engine)
        return engine

    yield keep
    for engine in made:
        engine.dispose()
