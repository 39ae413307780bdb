"""Token storages under ``gunicorn -w 4`` (issue 25, "Many workers").

``python -m bench.storage`` (about 2½ minutes on 2 cores; ``--quick``, about
30 s). Three ``gunicorn -w 4`` servers on 127.0.0.1 serve one app
(:mod:`tests.scale_app`), each keeping tokens in one storage: the session
cookie (``SessionStorage``, the default), ``RedisStorage`` on a
``redis-server`` and ``SQLAlchemyStorage`` on a PostgreSQL server, both
started here on free ports of 127.0.0.1 (as ``tests/redis_fixture.py`` and
``tests/postgres_fixture.py`` do) and removed at the end.

One user signs in to each server for real (the login view, the stand-in
Adobe's authorize, the callback); that cookie is then sent with every
request. The load is a fixed number of GET requests over a few connections,
one thread each: samples of the bare view and of the guarded view, of the
three servers, interleaved (the order reversed every other repetition), after
a warm-up. Figures are medians, ± is half the interquartile range; ratios are
guarded / bare paired per repetition: median (quartiles).

Then, per server: how many store round trips one guarded request makes
(Redis's ``INFO commandstats``; PostgreSQL's statement log, switched on for
those requests only), the time of one request in this process without a
server, and whether a sign-out takes effect on every worker: the old cookie,
replayed over all the workers after the sign-out, must be refused each time
(the token is not cached in a worker).

Everything listens on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import os
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
import requests

from flask_adobe_oauth.testing import StandInAdobe

from .measure import Stat, WSGICall
from .run import _fmt_rate, _fmt_ratio, _load, _paired, machine

APP = "tests.scale_app:create_app()"
ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4
#: The issue's targets, guarded / bare, by storage (None: for comparison).
TARGETS: dict[str, float | None] = {"cookie": None, "redis": 0.7, "postgresql": 0.5}
LABELS = {
    "cookie": "cookie (SessionStorage)",
    "redis": "Redis (RedisStorage)",
    "postgresql": "PostgreSQL (SQLAlchemyStorage)",
}
PATHS = ("/bare", "/guarded")
TIMEOUT = 10.0
DATABASE = "adobe_oauth_bench"


@dataclass(frozen=True)
class Settings:
    #: Timed repetitions at most; each runs every server's bare and guarded view once.
    reps: int = 25
    warmup: int = 2
    #: Seconds of timed load after which no repetition is started (at least 3 are run):
    #: on a busy machine fewer repetitions, not a longer run.
    budget: float = 120.0
    #: Requests in one sample, over ``connections`` connections at once.
    requests: int = 1000
    connections: int = 8
    #: Guarded requests whose store commands are counted, per storage.
    profile_requests: int = 100
    #: Direct WSGI calls per sample of the in-process timing, and its samples.
    inprocess_calls: int = 300
    inprocess_reps: int = 7
    #: Replays of the old cookie after the sign-out.
    replays: int = 64


QUICK = Settings(
    reps=6,
    warmup=1,
    budget=15.0,
    requests=500,
    profile_requests=40,
    inprocess_calls=200,
    inprocess_reps=3,
    replays=32,
)


class BenchError(RuntimeError):
    """The benchmark could not do its work (a server, a sign-in or a request failed)."""


# -- servers ------------------------------------------------------------------------------


@contextlib.contextmanager
def environment(**values: str) -> Iterator[None]:
    """``os.environ`` with ``values`` while the block runs (gunicorn's workers inherit it)."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """``tests/redis_fixture.py``'s redis-server (127.0.0.1, persisting nothing); its URL."""
    from tests.redis_fixture import ServerMissing
    from tests.redis_fixture import redis_server as started

    try:
        with started() as url:
            yield url
    except ServerMissing as exc:
        raise BenchError(str(exc)) from None


@dataclass
class Postgres:
    """A PostgreSQL server started for the benchmark."""

    url: str  # SQLAlchemy's, of the database the tokens go to
    admin_url: str  # the same database, for the benchmark's own statements
    log: Path  # the server's log (stderr)


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres]:
    """``tests/postgres_fixture.py``'s PostgreSQL (127.0.0.1, fsync off: a
    throwaway server), stopped and removed at the end."""
    from tests.postgres_fixture import postgres_server as started
    from tests.redis_fixture import ServerMissing

    try:
        with started(max_connections=100) as (base, logfile):
            yield Postgres(base, base + "?application_name=bench-admin", logfile)
    except ServerMissing as exc:
        raise BenchError(str(exc)) from None


def create_token_table(url: str) -> None:
    """The storage's table, made once here, before gunicorn's four workers would race to."""
    from flask_adobe_oauth.storage import SQLAlchemyStorage

    storage = SQLAlchemyStorage.from_url(url)
    storage.create_table()
    storage.engine.dispose()


# -- a browser that signs in -----------------------------------------------------------


def sign_in(base: str) -> str:
    """A real sign-in at ``base`` (the login view, the stand-in's authorize, the
    callback, then the guarded view once); the session cookie's value."""
    with requests.Session() as browser:
        browser.trust_env = False

        def get(url: str, **kwargs: Any) -> requests.Response:
            return browser.get(url, allow_redirects=False, timeout=TIMEOUT, **kwargs)

        start = get(f"{base}/adobe/login", params={"next": "/guarded"})
        at_adobe = get(start.headers.get("Location", ""))
        callback = at_adobe.headers.get("Location", "")
        if start.status_code != 302 or at_adobe.status_code != 302 or not callback.startswith(base):
            raise BenchError(f"the sign-in at {base} did not reach the callback ({at_adobe.status_code})")
        back = get(callback)
        if back.status_code != 302 or back.headers.get("Location") != "/guarded":
            raise BenchError(f"the callback at {base} answered {back.status_code}")
        view = get(base + "/guarded")
        cookie = browser.cookies.get("session")
        if view.status_code != 200 or view.text != "ok" or not cookie:
            raise BenchError(f"the guarded view after the sign-in at {base} answered {view.status_code}")
        return cookie


def sign_out(base: str, cookie: str) -> str:
    """POST the sign-out with ``cookie``; the browser's cookie after it."""
    answer = requests.post(
        f"{base}/adobe/logout", cookies={"session": cookie}, allow_redirects=False, timeout=TIMEOUT
    )
    if answer.status_code != 303:
        raise BenchError(f"the sign-out at {base} answered {answer.status_code}")
    return answer.cookies.get("session") or ""


# -- the load ---------------------------------------------------------------------------------


def raw_request(port: int, path: str, cookie: str, accept: str = "application/json") -> bytes:
    """A GET as bytes: sent as is, so that the load generator spends little CPU."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: {accept}\r\n"
        f"Cookie: session={cookie}\r\n\r\n"
    ).encode("latin-1")


class Connection:
    """A minimal HTTP/1.1 client on one socket: kept open while the server keeps
    it (gunicorn's sync workers close each after one answer: then a new one)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.buffer = b""

    def _recv(self) -> bytes:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection mid-answer")
        return chunk

    def get(self, raw: bytes) -> tuple[int, str, bytes]:
        """Send ``raw``; the status, ``X-Worker-Pid`` and body of the answer."""
        for attempt in range(2):
            fresh = self.sock is None
            if self.sock is None:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self.sock.sendall(raw)
                return self._answer()
            except ConnectionError:
                self.close()
                if fresh or attempt:  # a kept connection the server had closed: once more
                    raise
        raise AssertionError("unreachable")

    def _answer(self) -> tuple[int, str, bytes]:
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise BenchError(f"an answer without Content-Length: {lines[0]}")
        length = int(headers["content-length"])
        while len(rest) < length:
            rest += self._recv()
        body, self.buffer = rest[:length], rest[length:]
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, headers.get("x-worker-pid", ""), body


@dataclass
class Batch:
    """What the requests of one batch got."""

    seconds: float
    statuses: Counter[int]
    pids: set[str]
    bodies: Counter[bytes]


def batch(port: int, raw: bytes, total: int, connections: int) -> Batch:
    """``total`` requests of ``raw`` over ``connections`` connections at once, one
    thread each; started together, timed until the last answer."""
    share = [total // connections + (i < total % connections) for i in range(connections)]
    statuses: list[Counter[int]] = [Counter() for _ in share]
    bodies: list[Counter[bytes]] = [Counter() for _ in share]
    pids: list[set[str]] = [set() for _ in share]
    errors: list[BaseException] = []
    gate = threading.Barrier(connections + 1, timeout=TIMEOUT)

    def work(i: int) -> None:
        connection = Connection(port)
        try:
            gate.wait()
            for _ in range(share[i]):
                status, pid, body = connection.get(raw)
                statuses[i][status] += 1
                bodies[i][body] += 1
                pids[i].add(pid)
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(connections)]
    for thread in threads:
        thread.start()
    gc.collect()
    gate.wait()
    start = time.perf_counter()
    deadline = time.monotonic() + 60
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    seconds = time.perf_counter() - start
    if errors or any(thread.is_alive() for thread in threads):
        raise BenchError(f"the load failed: {errors[0]!r}" if errors else "the load did not finish in 60 s")
    return Batch(seconds, sum(statuses, Counter()), set().union(*pids), sum(bodies, Counter()))


@dataclass
class Server:
    """One gunicorn serving the app with one storage, and the user signed in there."""

    name: str
    base: str
    cookie: str = ""

    @property
    def port(self) -> int:
        return int(urlsplit(self.base).port or 80)

    def raw(self, path: str) -> bytes:
        return raw_request(self.port, path, self.cookie)


def sample(server: Server, path: str, cfg: Settings) -> float:
    """Requests/s of one sample; every answer must be 200 ``ok``."""
    done = batch(server.port, server.raw(path), cfg.requests, cfg.connections)
    if done.statuses != Counter({200: cfg.requests}) or set(done.bodies) != {b"ok"}:
        raise BenchError(f"{server.name} {path}: answers {dict(done.statuses)}")
    return cfg.requests / done.seconds


def throughput(servers: list[Server], cfg: Settings) -> dict[str, dict[str, list[float]]]:
    """Requests/s of each server's bare and guarded view, interleaved."""
    variants = [(server, path) for server in servers for path in PATHS]
    rates: dict[str, dict[str, list[float]]] = {s.name: {p: [] for p in PATHS} for s in servers}
    began = time.monotonic()
    for rep in range(cfg.warmup + cfg.reps):
        # Reversed every other repetition: no variant always runs after the same one.
        for server, path in variants if rep % 2 == 0 else reversed(variants):
            rate = sample(server, path, cfg)
            if rep >= cfg.warmup:
                rates[server.name][path].append(rate)
        if rep + 1 - cfg.warmup >= min(3, cfg.reps) and time.monotonic() - began > cfg.budget:
            break
    return rates


# -- the profile: store round trips per guarded request ------------------------------------


def redis_commands(url: str, server: Server, count: int) -> Counter[str]:
    """Redis commands received during ``count`` guarded requests (``INFO commandstats``)."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        client.config_resetstat()
        done = batch(server.port, server.raw("/guarded"), count, 4)
        if done.statuses != Counter({200: count}):
            raise BenchError(f"redis profile: answers {dict(done.statuses)}")
        stats = client.info("commandstats")
    finally:
        client.close()
    seen: Counter[str] = Counter()
    for name, values in stats.items():
        command = name.removeprefix("cmdstat_").upper()
        if command not in ("INFO", "CONFIG|RESETSTAT"):  # the benchmark's own
            seen[command] = int(values["calls"])
    return seen


#: A statement in PostgreSQL's log, with log_line_prefix '[%p] %a| '.
_STATEMENT = re.compile(r"^\[(\d+)\] ([^|]*)\| LOG:  (?:statement|execute [^:]*): (.*)$")


def postgres_statements(pg: Postgres, server: Server, count: int) -> Counter[str]:
    """Statements PostgreSQL received during ``count`` guarded requests: its log
    of every statement (``log_statement = all``), switched on for them only."""
    from sqlalchemy import create_engine, text

    admin = create_engine(pg.admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text("ALTER SYSTEM SET log_statement = 'all'"))
            connection.execute(text("ALTER SYSTEM SET log_line_prefix = '[%p] %a| '"))
            connection.execute(text("SELECT pg_reload_conf()"))
        time.sleep(0.5)
        # Each worker's database connection reads the new settings before its next statement.
        batch(server.port, server.raw("/guarded"), 4 * WORKERS, 4)
        offset = pg.log.stat().st_size
        done = batch(server.port, server.raw("/guarded"), count, 4)
        if done.statuses != Counter({200: count}):
            raise BenchError(f"postgresql profile: answers {dict(done.statuses)}")
        time.sleep(0.2)
        with pg.log.open("rb") as log:
            log.seek(offset)
            lines = log.read().decode(errors="replace").splitlines()
    finally:
        with admin.connect() as connection:
            connection.execute(text("ALTER SYSTEM RESET log_statement"))
            connection.execute(text("ALTER SYSTEM RESET log_line_prefix"))
            connection.execute(text("SELECT pg_reload_conf()"))
        admin.dispose()
    statements: list[str] = []
    for line in lines:
        match = _STATEMENT.match(line)
        if match:
            statements.append(match.group(3) if match.group(2) != "bench-admin" else "")
        elif line.startswith("\t") and statements and statements[-1]:
            statements[-1] += " " + line.strip()  # a statement's next line
        else:
            statements.append("")  # another message (its DETAIL, say): the statement ended
    return Counter(_shorten(statement) for statement in statements if statement)


def _shorten(statement: str) -> str:
    """A statement as its first words: ``SELECT adobe_oauth_tokens.token FROM ... WHERE ...``;
    the empty statement ``;`` is SQLAlchemy's pre-ping on psycopg."""
    statement = " ".join(statement.split())
    if statement == ";":
        return '";" (pre-ping)'
    found = re.match(r"^(SELECT \S+ FROM \S+) WHERE", statement)
    return f"{found.group(1)} WHERE …" if found else statement[:60]


def per_request(seen: Counter[str], count: int) -> str:
    """``seen`` per request: ``4: BEGIN, SELECT 1, …`` (in the counter's order)."""
    if not seen:
        return "0"
    total = sum(seen.values()) / count
    parts = ", ".join(
        f"{name}" if calls == count else f"{name} ×{calls / count:g}" for name, calls in seen.items()
    )
    return f"{total:g}: {parts}"


# -- in one process: where a guarded request's time goes --------------------------------------


def inprocess(
    standin: StandInAdobe, storages: dict[str, dict[str, str]], servers: list[Server], cfg: Settings
) -> dict[str, dict[str, float]]:
    """Microseconds per request of the bare view, and the guarded view's extra
    time, each app called directly (WSGI, one thread, no server), with the
    cookie of the sign-in."""
    from tests.scale_app import create_app

    calls: dict[tuple[str, str], WSGICall] = {}
    for server in servers:
        env = {"SCALE_REDIS_URL": "", "SCALE_SQL_URL": "", **storages[server.name]}
        with environment(SCALE_ADOBE_CONFIG=json.dumps(standin.config()), **env):
            app = create_app()
        for path in PATHS:
            call = WSGICall(app, path, f"session={server.cookie}")
            if call() != b"ok" or not call.status.startswith("200"):
                raise BenchError(f"{server.name} {path} in process: {call.status}")
            calls[server.name, path] = call
    micros: dict[tuple[str, str], list[float]] = {key: [] for key in calls}
    for _ in range(1 + cfg.inprocess_reps):
        for key, call in calls.items():
            gc.collect()
            start = time.perf_counter()
            for _ in range(cfg.inprocess_calls):
                call()
            micros[key].append((time.perf_counter() - start) / cfg.inprocess_calls * 1e6)
    # The first round is a warm-up; the extra time is paired per round.
    return {
        server.name: {
            "/bare": Stat.of(micros[server.name, "/bare"][1:]).median,
            "extra": Stat.of(
                _paired_difference(micros[server.name, "/guarded"][1:], micros[server.name, "/bare"][1:])
            ).median,
        }
        for server in servers
    }


def _paired_difference(a: list[float], b: list[float]) -> list[float]:
    return [x - y for x, y in zip(a, b, strict=True)]


def round_trip_micros(redis_url: str, pg: Postgres, count: int = 500) -> dict[str, float]:
    """Microseconds of one bare round trip from this process: Redis ``PING``,
    PostgreSQL ``SELECT 1`` (autocommit, on one open connection)."""
    from sqlalchemy import create_engine

    client = redis.Redis.from_url(redis_url)
    engine = create_engine(pg.admin_url, isolation_level="AUTOCOMMIT")
    try:
        client.ping()
        start = time.perf_counter()
        for _ in range(count):
            client.ping()
        redis_us = (time.perf_counter() - start) / count * 1e6
        with engine.connect() as connection:
            raw = connection.connection.dbapi_connection
            assert raw is not None
            cursor = raw.cursor()
            cursor.execute("SELECT 1")
            start = time.perf_counter()
            for _ in range(count):
                cursor.execute("SELECT 1")
                cursor.fetchall()
            pg_us = (time.perf_counter() - start) / count * 1e6
            cursor.close()
    finally:
        client.close()
        engine.dispose()
    return {"redis": redis_us, "postgresql": pg_us}


# -- sign-out on every worker ------------------------------------------------------------


@dataclass
class SignOut:
    before: Batch  # the cookie, before the sign-out
    replayed: Batch  # the same cookie, replayed after it
    after: Batch  # the cookie the browser got from the sign-out


def sign_out_everywhere(server: Server, cfg: Settings) -> SignOut:
    """Sign out once, then send guarded requests over every worker: with the
    cookie from before the sign-out (replayed), and with the browser's new one."""
    guarded = server.raw("/guarded")
    before = batch(server.port, guarded, cfg.replays, cfg.connections)
    new_cookie = sign_out(server.base, server.cookie)
    replayed = batch(server.port, guarded, cfg.replays, cfg.connections)
    after = batch(server.port, raw_request(server.port, "/guarded", new_cookie), cfg.replays, cfg.connections)
    return SignOut(before, replayed, after)


def _refused(done: Batch) -> int:
    return done.statuses[401]


# -- the table ----------------------------------------------------------------------------------


def render(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join(
        [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *(line(r) for r in rows)]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.storage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repetitions (about 30 s)")
    parser.add_argument("--reps", type=int, help=f"timed repetitions at most (default {Settings.reps})")
    parser.add_argument(
        "--budget",
        type=float,
        help=f"seconds of timed load after which no repetition starts (default {Settings.budget:g})",
    )
    parser.add_argument(
        "--connections", type=int, help=f"connections at once (default {Settings.connections})"
    )
    args = parser.parse_args(argv)
    cfg = QUICK if args.quick else Settings()
    if args.reps:
        cfg = dataclasses.replace(cfg, reps=args.reps)
    if args.budget:
        cfg = dataclasses.replace(cfg, budget=args.budget)
    if args.connections:
        cfg = dataclasses.replace(cfg, connections=args.connections)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # tests/ (the fixtures' helpers, gunicorn's launcher)
    from tests.faults.servers import gunicorn

    print(f"machine: {machine()}")
    print(
        f"settings: gunicorn -w {WORKERS} (sync workers) per storage, all on 127.0.0.1; after "
        f"{cfg.warmup} warm-up, up to {cfg.reps} repetitions (as many as start within {cfg.budget:g} s) "
        f"× {cfg.requests} requests per view and storage over {cfg.connections} connections, "
        "interleaved; medians, ± half the interquartile range, "
        "guarded/bare paired per repetition: median (quartiles)",
        flush=True,
    )
    print(f"load average at start: {_load()}", flush=True)
    began = time.perf_counter()
    with contextlib.ExitStack() as stack:
        standin = stack.enter_context(StandInAdobe(keep_alive=True))
        print("starting redis-server and PostgreSQL …", flush=True)
        redis_url = stack.enter_context(redis_server())
        pg = stack.enter_context(postgres_server())
        create_token_table(pg.url)
        storages = {
            "cookie": {},
            "redis": {"SCALE_REDIS_URL": redis_url},
            "postgresql": {"SCALE_SQL_URL": pg.url},
        }
        servers: list[Server] = []
        print(f"starting 3 × gunicorn -w {WORKERS} …", flush=True)
        for name, env in storages.items():
            with environment(SCALE_SQL_URL=env.get("SCALE_SQL_URL", "")):
                base, _ = stack.enter_context(
                    gunicorn(standin, env.get("SCALE_REDIS_URL", ""), workers=WORKERS, app=APP)
                )
            servers.append(Server(name, base))
        for server in servers:
            server.cookie = sign_in(server.base)
        print("requests/s, interleaved …", flush=True)
        cpu, wall = time.process_time(), time.perf_counter()
        rates = throughput(servers, cfg)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        print("store round trips per guarded request, in-process timing …", flush=True)
        by_name = {s.name: s for s in servers}
        trips = {
            "cookie": Counter[str](),
            "redis": redis_commands(redis_url, by_name["redis"], cfg.profile_requests),
            "postgresql": postgres_statements(pg, by_name["postgresql"], cfg.profile_requests),
        }
        one_trip = round_trip_micros(redis_url, pg)
        costs = inprocess(standin, storages, servers, cfg)
        print("sign-out on every worker …", flush=True)
        signouts = {server.name: sign_out_everywhere(server, cfg) for server in servers}
        print("stopping the servers …", flush=True)

    names = [s.name for s in servers]
    ratios = {n: _paired(rates[n]["/guarded"], rates[n]["/bare"]) for n in names}
    rows: list[list[str]] = [
        ["bare view, req/s", *(_fmt_rate(Stat.of(rates[n]["/bare"])) for n in names)],
        ["guarded view, req/s", *(_fmt_rate(Stat.of(rates[n]["/guarded"])) for n in names)],
        ["guarded / bare", *(_fmt_ratio(ratios[n]) for n in names)],
    ]
    targets, results = ["target: guarded / bare"], ["result"]
    missed: list[str] = []
    for n in names:
        target, median = TARGETS[n], Stat.of(ratios[n]).median
        targets.append("(for comparison)" if target is None else f"≥ {target:g}")
        if target is None:
            results.append("—")
        else:
            results.append(f"{'met' if median >= target else 'MISSED'} ({median:.2f})")
            if median < target:
                missed.append(LABELS[n])
    rows += [targets, results]
    replay_row = ["sign-out takes effect on every worker: old cookie replayed, refused"]
    for n in names:
        out = signouts[n]
        cell = f"{_refused(out.replayed)}/{cfg.replays} ({len(out.replayed.pids)} workers)"
        if n == "cookie":
            cell += ": the token is in the cookie itself"
        elif _refused(out.replayed) != cfg.replays:
            missed.append(f"sign-out, {LABELS[n]}")
        replay_row.append(cell)
    rows.append(replay_row)
    rows.append(
        ["the browser's own cookie after the sign-out, refused"]
        + [
            f"{_refused(signouts[n].after)}/{cfg.replays} ({len(signouts[n].after.pids)} workers)"
            for n in names
        ]
    )
    rows.append(
        ["store round trips per guarded request"]
        + [f"{sum(trips[n].values()) / cfg.profile_requests:g}" for n in names]
    )
    rows.append(
        ["in one process, no server: guarded − bare, µs"]
        + [f"{costs[n]['extra']:.0f} (bare {costs[n]['/bare']:.0f})" for n in names]
    )
    print()
    print(render(["", *(LABELS[n] for n in names)], rows))
    print()
    print(f"store commands per guarded request ({cfg.profile_requests} requests, after the timed load):")
    print(f"  Redis (INFO commandstats): {per_request(trips['redis'], cfg.profile_requests)}")
    print(f"  PostgreSQL (log_statement = all): {per_request(trips['postgresql'], cfg.profile_requests)}")
    print(
        f"one round trip from this process, alone: Redis PING {one_trip['redis']:.0f} µs, "
        f"PostgreSQL SELECT 1 {one_trip['postgresql']:.0f} µs"
    )
    before = {n: signouts[n].before for n in names}
    print(
        "before the sign-out, the same cookie: "
        + ", ".join(f"{LABELS[n]} {b.statuses[200]}/{cfg.replays} answered 200" for n, b in before.items())
    )
    print(f"repetitions timed: {len(rates[names[0]]['/bare'])}")
    print(
        f"the load generator (this process) used {cpu:.0f} CPU-seconds in {wall:.0f} s of load: "
        f"{cpu / wall / (os.cpu_count() or 1) * 100:.0f}% of the machine's {os.cpu_count()} CPUs"
    )
    print(f"\ntook {time.perf_counter() - began:.0f} s; load average at the end: {_load()}")
    print("targets missed: " + (", ".join(missed) if missed else "none"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
