"""One service token per process, and one per expiry across processes, whatever
the app's token storage (#25, 2).

``standin.service_token_mints()`` counts what Adobe's token endpoint issued,
so "one mint" is Adobe's count, not ours. Processes are real ones where it
matters (``tests/faults/service_job.py``, started twice on one database),
else several service objects sharing one store, as in ``test_service.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.engine import Engine

from flask_adobe_oauth import make_adobe_blueprint
from flask_adobe_oauth.service import AdobeService, service_config, service_for
from flask_adobe_oauth.service_sql import SQLSharedStore
from flask_adobe_oauth.storage.sqla import SQLAlchemyStorage
from flask_adobe_oauth.testing import StandInAdobe

from .helpers import SECRET_KEY
from .postgres_fixture import _engines_fixture, _postgres_server_fixture, _postgres_url_fixture
from .redis_fixture import _redis_client_fixture, _redis_url_fixture

__all__ = [  # fixtures used by name
    "_engines_fixture",
    "_postgres_server_fixture",
    "_postgres_url_fixture",
    "_redis_client_fixture",
    "_redis_url_fixture",
]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def standin() -> Iterator[StandInAdobe]:
    with StandInAdobe(rate_limit=None) as server:
        yield server


@pytest.fixture(name="sql_url", params=["sqlite", "postgresql"])
def _sql_url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or the test PostgreSQL server's database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def app_with(standin: StandInAdobe, **options: Any) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET_KEY, **standin.config())
    app.register_blueprint(make_adobe_blueprint(**options), url_prefix="/adobe")
    return app


def at_once(count: int, work: Callable[[int], Any]) -> list[Any]:
    """``work(n)`` on ``count`` threads (n = 0, 1...) released together; what each returned."""
    barrier = threading.Barrier(count)
    results: list[Any] = []

    def run(n: int) -> None:
        barrier.wait(30)
        results.append(work(n))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == count
    return results


# -- one process, many threads --------------------------------------------------------------


def test_threads_racing_on_the_first_call_get_one_service_and_one_token(
    standin: StandInAdobe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight threads of a fresh worker ask for the service at once: before, each
    could build its own AdobeService (each minting: up to 4 tokens seen); now
    one is made. Reading the configuration is made slower here, so that the
    threads meet inside the window a busy server opens by chance."""
    from flask_adobe_oauth import service as module

    read = module.service_config

    def slow_read(*args: Any, **kwargs: Any) -> Any:
        time.sleep(0.05)
        return read(*args, **kwargs)

    monkeypatch.setattr(module, "service_config", slow_read)
    standin.slow_down(0.3, endpoints=["token"])  # the first mint is in flight when the others ask
    app = app_with(standin)

    def first_call(_: int) -> tuple[int, str]:
        service = service_for(app)
        return id(service), service.token().access_token

    results = at_once(8, first_call)
    assert len({service for service, _ in results}) == 1
    assert len({token for _, token in results}) == 1
    assert standin.service_token_mints() == 1


# -- SQLAlchemyStorage: through the database ------------------------------------------------


def run_jobs(standin: StandInAdobe, sql_url: str, tmp_path: Path, processes: int) -> list[dict[str, Any]]:
    """``processes`` copies of ``tests/faults/service_job.py`` on one database,
    told to go together; what each printed."""
    go = tmp_path / "go"
    env = {
        **os.environ,
        "JOB_ADOBE_CONFIG": json.dumps(standin.config()),
        "JOB_DATABASE_URL": sql_url,
        "JOB_GO": str(go),
        "JOB_THREADS": "4",
    }
    jobs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.faults.service_job"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for job in jobs:
            assert job.stdout is not None
            line = job.stdout.readline()
            assert line.strip() == "ready", (line, job.stderr.read() if job.stderr else "")
        go.touch()
        outputs = []
        for job in jobs:
            out, err = job.communicate(timeout=90)
            assert job.returncode == 0, err[-2000:]
            outputs.append(json.loads(out.strip().splitlines()[-1]))
        return outputs
    finally:
        for job in jobs:
            if job.poll() is None:
                job.kill()
                job.wait()


@pytest.mark.timeout(180)
def test_two_processes_on_one_database_mint_one_service_token(
    standin: StandInAdobe, sql_url: str, tmp_path: Path
) -> None:
    """Two processes of an app with SQLAlchemyStorage (SQLite file, PostgreSQL),
    four threads each, ask for the service token at the same moment while
    Adobe takes 0.3 s to mint: one token for all eight, minted once. Before,
    only Redis and cachelib were shared, and each process minted its own."""
    SQLAlchemyStorage.from_url(sql_url).create_table()  # the tokens' table; the shared one is the service's
    standin.slow_down(0.3, endpoints=["token"])
    outputs = run_jobs(standin, sql_url, tmp_path, processes=2)
    tokens = {token for output in outputs for token in output["tokens"]}
    assert len(tokens) == 1 and sum(len(o["tokens"]) for o in outputs) == 8
    assert len({o["pid"] for o in outputs}) == 2
    assert sum(o["mints"] for o in outputs) == 1
    assert standin.service_token_mints() == 1


def sql_services(
    standin: StandInAdobe, sql_url: str, engines: Callable[[Engine], Engine], count: int
) -> list[AdobeService]:
    """``count`` services, as ``count`` processes would have, sharing through one database."""
    made = []
    for _ in range(count):
        storage = SQLAlchemyStorage.from_url(sql_url)
        engines(storage.engine)
        made.append(AdobeService(service_config(standin.config()), store=storage))
    return made


def test_a_refused_token_is_replaced_once_for_every_process_sharing_the_database(
    standin: StandInAdobe, sql_url: str, engines: Callable[[Engine], Engine]
) -> None:
    first, second = sql_services(standin, sql_url, engines, 2)
    first.session().get("/discovery/me").raise_for_status()
    assert second.session().get("/discovery/me").status_code == 200  # the shared token
    assert standin.service_token_mints() == 1
    standin.expire_access_tokens()  # Adobe now answers 401 to it
    assert first.session().get("/discovery/me").status_code == 200
    assert second.session().get("/discovery/me").status_code == 200  # the replacement, shared
    assert standin.service_token_mints() == 2


def test_the_sql_store_claims_once_and_forgets_what_expired(
    sql_url: str, engines: Callable[[Engine], Engine]
) -> None:
    storage = SQLAlchemyStorage.from_url(sql_url)
    engines(storage.engine)
    store, other = SQLSharedStore(storage), SQLSharedStore(storage)
    assert store.claim("k:minting", "a.1", 30) is True
    assert other.claim("k:minting", "b.1", 30) is False  # held: the other process waits
    other.release("k:minting", "b.1")  # not its claim: nothing happens
    assert store.get("k:minting") == "a.1"
    store.release("k:minting", "a.1")
    assert other.claim("k:minting", "b.1", 0.05) is True
    time.sleep(0.1)  # the claim's expiry passes (a holder that died)
    assert other.get("k:minting") is None
    assert store.claim("k:minting", "a.2", 30) is True  # an expired claim is taken over
    store.put("k", "first", 30)
    other.put("k", "second", 30)  # written over
    assert store.get("k") == "second"
    store.put("k", "gone", 0.05)
    time.sleep(0.1)
    assert other.get("k") is None
    with storage.engine.connect() as connection:
        keys = sorted(row.key for row in connection.execute(select(store.table)))
    assert keys == ["k", "k:minting"]


def test_a_broken_database_costs_the_sharing_not_the_token(standin: StandInAdobe, tmp_path: Path) -> None:
    storage = SQLAlchemyStorage.from_url(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}")
    service = AdobeService(service_config(standin.config()), store=storage)
    assert service.session().get("/discovery/me").status_code == 200
    assert standin.service_token_mints() == 1


# -- the session cookie: through the rate limit's Redis -------------------------------------


def test_with_the_session_cookie_the_rate_limits_redis_shares_the_service_token(
    standin: StandInAdobe, redis_url: str, redis_client: Any
) -> None:
    standin.slow_down(0.3, endpoints=["token"])
    workers = [app_with(standin, api_rate_storage=redis_url) for _ in range(3)]
    tokens = at_once(3, lambda n: service_for(workers[n]).token().access_token)
    tokens += [service_for(app).token().access_token for app in workers]
    assert len(set(tokens)) == 1
    assert standin.service_token_mints() == 1


def test_with_the_session_cookie_and_memory_each_process_mints_its_own(standin: StandInAdobe) -> None:
    """The cost the production guide names: nothing is shared, one token a process."""
    workers = [app_with(standin) for _ in range(3)]
    assert len({service_for(app).token().access_token for app in workers}) == 3
    assert standin.service_token_mints() == 3
