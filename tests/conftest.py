"""Shared fixtures: the stand-in, an app wired to it, a client, a signed-in
client; the requests the stand-in sees; an app calling the analytics helpers.

Plain helpers (``make_app``, ``login``, ``stored_token``, the hostile-input
kit ...) are in ``helpers.py``. The provider is always the package's
stand-in, a real HTTP server on 127.0.0.1 (the ``adobe_standin`` fixture from
the package's pytest plugin); nothing in the flow is mocked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.live import CHROMIUM, CHROMIUM_ARGS, serve

from .helpers import login, make_analytics_app, make_app


@pytest.fixture
def standin(adobe_standin: StandInAdobe) -> StandInAdobe:
    return adobe_standin


@pytest.fixture
def app(standin: StandInAdobe) -> Flask:
    return make_app(standin)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def signed_in(client: FlaskClient) -> FlaskClient:
    """``client`` after a whole login through the stand-in (the same client)."""
    response = login(client)
    assert response.status_code == 302, response.data[:300]
    return client


@pytest.fixture
def seen(standin: StandInAdobe) -> list[tuple[str, str, dict[str, list[str]]]]:
    """Every request the stand-in receives from now on: method, path and query."""
    calls: list[tuple[str, str, dict[str, list[str]]]] = []
    inner = standin.app.wsgi_app

    def record(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        calls.append((environ["REQUEST_METHOD"], environ["PATH_INFO"], parse_qs(environ["QUERY_STRING"])))
        return inner(environ, start_response)

    standin.app.wsgi_app = record
    return calls


@pytest.fixture
def analytics_app(standin: StandInAdobe) -> Flask:
    """An app whose views call the analytics helpers (``helpers.make_analytics_app``)."""
    return make_analytics_app(standin)


@pytest.fixture
def analytics_client(analytics_app: Flask) -> FlaskClient:
    """A signed-in client of ``analytics_app``."""
    client = analytics_app.test_client()
    assert login(client).status_code == 302
    return client


# -- the demo in a real browser (test_browser.py, test_phone.py) -------------------------------


@pytest.fixture
def consent_standin() -> Iterator[StandInAdobe]:
    """A stand-in that shows its Allow / Deny page, as a browser user sees Adobe's."""
    with StandInAdobe(auto_approve=False) as server:
        yield server


@pytest.fixture
def demo_url(consent_standin: StandInAdobe) -> Iterator[str]:
    """The demo app served over real HTTP on 127.0.0.1, as ``python -m example_app`` would."""
    from example_app import create_app

    app = create_app(
        {
            **consent_standin.config(),
            "SECRET_KEY": "browser-test-secret-key-0123456789",
            "DEMO_STANDIN_URL": consent_standin.url,
        }
    )
    with serve(app) as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright; missing, the test fails (CI installs it).

    The minimum-versions job (``nox -s minimum``) sets ``NO_BROWSER_TESTS=1`` (a name outside ``ADOBE_OAUTH_*``,
    which the demo reads from the environment):
    the lowest Playwright its spec allows predates the machine's Chromium.
    """
    if os.environ.get("NO_BROWSER_TESTS") == "1":
        pytest.skip("browser tests are off in this job (NO_BROWSER_TESTS=1)")
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make system-deps)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
        try:
            yield launched
        finally:
            launched.close()
