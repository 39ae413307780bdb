"""One service token for every worker: ``gunicorn -w 4`` serving a view that
reads Analytics with the app's service credential, its token shared through
Redis. Adobe (the stand-in) counts the tokens it issued."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from flask_adobe_oauth.testing import StandInAdobe

from ..redis_fixture import _redis_client_fixture, _redis_url_fixture
from .servers import gunicorn

__all__ = ["_redis_client_fixture", "_redis_url_fixture"]  # fixtures used by name

CALLS = 80


@pytest.fixture
def standin() -> Iterator[StandInAdobe]:
    with StandInAdobe(rate_limit=None) as server:  # one technical account, many calls
        yield server


def burst(base: str) -> list[requests.Response]:
    def one(_: int) -> requests.Response:
        with requests.Session() as browser:  # a connection each, spread over the workers
            return browser.get(base + "/service", timeout=30)

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(one, range(CALLS)))


@pytest.mark.timeout(120)
def test_four_workers_share_one_service_token_per_expiry(standin: StandInAdobe, redis_url: str) -> None:
    standin.slow_down(0.2, endpoints=["token"])  # minting takes a while, as at Adobe: workers ask at once
    with gunicorn(standin, redis_url, workers=4, threads=4) as (base, _):
        first = burst(base)
        assert [r.status_code for r in first] == [200] * CALLS
        assert len({r.headers["X-Worker-Pid"] for r in first}) >= 2
        assert len({r.json()["token_sha256"] for r in first}) == 1
        assert standin.service_token_mints() == 1

        standin.expire_access_tokens()  # Adobe ends the token early: every worker meets a 401
        second = burst(base)
        assert [r.status_code for r in second] == [200] * CALLS
        assert len({r.json()["token_sha256"] for r in second}) == 1
        assert standin.service_token_mints() == 2  # one replacement, for all four workers
