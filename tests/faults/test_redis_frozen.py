"""A Redis that stops answering (SIGSTOP: the socket stays open, nothing comes
back) must cost a request a bounded wait and a 503, never a hang."""

from __future__ import annotations

import os
import signal

import pytest

from flask_adobe_oauth.errors import StorageUnavailable
from flask_adobe_oauth.storage import RedisStorage

from .servers import PersistentRedis


def test_from_url_bounds_every_wait_on_redis() -> None:
    storage = RedisStorage.from_url("redis://127.0.0.1:1/0", socket_timeout=0.4, connect_timeout=0.3)
    kwargs = storage.redis.connection_pool.connection_kwargs
    assert (kwargs["socket_timeout"], kwargs["socket_connect_timeout"]) == (0.4, 0.3)
    default = RedisStorage.from_url("redis://127.0.0.1:1/0").redis.connection_pool.connection_kwargs
    assert default["socket_timeout"] == 2.0 and default["socket_connect_timeout"] == 1.0


@pytest.mark.timeout(30)
def test_a_frozen_redis_is_storage_unavailable_not_a_hang() -> None:
    with PersistentRedis() as server:
        storage = RedisStorage.from_url(server.url, socket_timeout=0.5)
        storage._write("probe", "{}", 60)  # connected and working
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGSTOP)
        try:
            with pytest.raises(StorageUnavailable):
                storage._read("probe")
        finally:
            os.kill(server.process.pid, signal.SIGCONT)
        assert storage._read("probe") == "{}"  # back once Redis is
