"""The pytest plugin: an ``adobe_standin`` fixture, registered on install.

::

    def test_dashboard(adobe_standin):
        app = create_app(**adobe_standin.config())
        ...
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .server import StandInAdobe


@pytest.fixture
def adobe_standin() -> Iterator[StandInAdobe]:
    """A started stand-in Adobe server on 127.0.0.1, stopped after the test."""
    from .server import StandInAdobe

    with StandInAdobe() as server:
        yield server
