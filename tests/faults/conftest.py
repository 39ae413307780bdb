"""The fault-injection suite: real processes (gunicorn, redis-server, the
stand-in) killed, slowed and cut while users load them. It runs with the
rest of the tests; each test is bounded in users, threads and time."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs_whole_call_deadline: passes only when every call to Adobe has a wall-clock "
        "deadline that also cuts a body being read (a trickle defeats per-read timeouts)",
    )
