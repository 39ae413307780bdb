"""The README's code runs as written.

Every fenced code block of README.md is either a file of ``docs/examples/``
(byte for byte, so the two cannot drift) or says why it is not run. The
tests below run those files: the Quickstart app, its stand-in run, its
tests, the storage and proxy recipes, and the install itself, in a fresh
virtual environment outside this repository, the way a newcomer would.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import redis
import requests

from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.live import free_port

from .redis_fixture import _redis_client_fixture, _redis_url_fixture

__all__ = ["_redis_client_fixture", "_redis_url_fixture"]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
README = ROOT / "README.md"

_BLOCK = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_MARKER = re.compile(r"<!-- (example: (?P<path>\S+)|not run: (?P<why>.+?)) -->")


def readme_blocks() -> list[tuple[int, str, str, str]]:
    """``(line, language, code, marker line)`` for every fenced block of the README."""
    text = README.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        found.append((text.count("\n", 0, match.start()) + 1, match.group(1), match.group(2), before))
    return found


def test_every_readme_code_block_is_an_example_file_or_says_why_not() -> None:
    blocks = readme_blocks()
    assert len(blocks) >= 8
    examples = set()
    for line, language, code, before in blocks:
        marker = _MARKER.fullmatch(before.strip())
        assert marker, (
            f"README line {line}: a ```{language} block needs <!-- example: path --> or <!-- not run: why -->"
        )
        if marker.group("path"):
            path = ROOT / marker.group("path")
            assert EXAMPLES in path.parents, f"README line {line}: examples live in docs/examples/"
            assert code == path.read_text(encoding="utf-8"), f"README line {line} differs from {path.name}"
            examples.add(path)
    # Every example file is shown in the README (none is left behind, stale).
    assert examples == {p for p in EXAMPLES.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def _run(args: list[str], cwd: Path, timeout: float, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output


@pytest.mark.parametrize(
    ("app", "cwd"), [("app", EXAMPLES), ("example_app", ROOT)], ids=["quickstart", "demo"]
)
def test_the_flask_command_loads_the_app_as_the_readme_runs_it(app: str, cwd: Path) -> None:
    """``flask --app app run`` looks at every name in the module, the ``adobe``
    proxy included, while no request is active: that must not break loading."""
    env = {
        **os.environ,
        "SECRET_KEY": "k" * 64,
        "ADOBE_OAUTH_CLIENT_ID": "abc123client",
        "ADOBE_OAUTH_CLIENT_SECRET": "def456secret",
    }
    output = _run([sys.executable, "-m", "flask", "--app", app, "routes"], cwd, 60, env)
    assert "adobe.login" in output and "adobe.callback" in output


def test_the_quickstart_tests_pass_as_written() -> None:
    output = _run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_app.py"], EXAMPLES, 120
    )
    assert "2 passed" in output


def _wait_for_port(port: int, process: subprocess.Popen[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()[0]
        try:
            requests.get(f"http://127.0.0.1:{port}/adobe/login", timeout=1, allow_redirects=False)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise AssertionError(f"nothing served on port {port} after {seconds} s")


def test_standin_run_serves_the_quickstart_app_with_a_real_sign_in() -> None:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "standin_run.py"],
        cwd=EXAMPLES,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_for_port(port, process, 20)
        with requests.Session() as browser:
            browser.trust_env = False
            # / → /adobe/login → the stand-in's authorize → /adobe/callback → /
            response = browser.get(f"http://127.0.0.1:{port}/", timeout=10)
            assert response.status_code == 200, response.text
            assert [r.status_code for r in response.history] == [302, 302, 302, 302]
            assert response.json()["companies"] == ["Example Corp", "Acme Outdoor"]
            assert response.json()["user"].endswith("@AdobeID")
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl+C: app.run returns, the stand-in stops
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode in (0, 1, -signal.SIGINT)


@pytest.fixture
def examples(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``docs/examples`` importable, with a clean slate of its module names."""
    names = {p.stem for p in EXAMPLES.glob("*.py")}
    monkeypatch.syspath_prepend(str(EXAMPLES))
    for name in names:
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield
    for name in names:
        sys.modules.pop(name, None)


def _environment(monkeypatch: pytest.MonkeyPatch, standin: StandInAdobe) -> None:
    """What ``app.py`` reads from the environment, as a deployment sets it."""
    monkeypatch.setenv("SECRET_KEY", "k" * 32)
    monkeypatch.setenv("ADOBE_OAUTH_CLIENT_ID", standin.client_id)
    monkeypatch.setenv("ADOBE_OAUTH_CLIENT_SECRET", standin.client_secret)


def _import(name: str) -> ModuleType:
    return __import__(name)


@pytest.mark.usefixtures("examples")
def test_the_error_page_override_next_to_app_py_is_used(adobe_standin: StandInAdobe) -> None:
    app = _import("app").create_app({"SECRET_KEY": "k" * 32, **adobe_standin.config()})
    client = app.test_client()
    login = client.get("/adobe/login")
    state = login.headers["Location"].split("state=", 1)[1].split("&", 1)[0]
    response = client.get(
        f"/adobe/callback?error=access_denied&state={state}", headers={"Accept": "text/html"}
    )
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "You cancelled the sign-in" in page  # the built-in wording, through the override
    assert "Questions? Write to support@example.com." in page  # the override's own words
    assert "Content-Security-Policy" not in response.headers  # the app's page, the app's CSP
    assert adobe_standin.token_calls() == []


@pytest.mark.usefixtures("examples")
def test_api_app_answers_a_missing_login_its_own_way(adobe_standin: StandInAdobe) -> None:
    from flask_adobe_oauth.testing import login_as

    app = _import("api_app").create_api({"SECRET_KEY": "k" * 32, **adobe_standin.config()})
    client = app.test_client()
    for accept in ("text/html", "application/json"):  # a browser would have got a 302
        response = client.get("/api/me", headers={"Accept": accept})
        assert response.status_code == 401
        assert response.json == {"error": "sign_in_first", "sign_in_at": "/adobe/login"}
    login_as(client)
    assert client.get("/api/me").json == {"user": adobe_standin.state.user.sub}


@pytest.mark.usefixtures("examples")
def test_app_reads_its_secrets_from_the_environment_and_refuses_none(
    monkeypatch: pytest.MonkeyPatch, adobe_standin: StandInAdobe
) -> None:
    from flask_adobe_oauth import ConfigurationError

    for key in ("SECRET_KEY", "ADOBE_OAUTH_CLIENT_ID", "ADOBE_OAUTH_CLIENT_SECRET"):
        monkeypatch.delenv(key, raising=False)
    app_module = _import("app")
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        app_module.create_app()
    _environment(monkeypatch, adobe_standin)
    app = app_module.create_app()
    assert app.config["ADOBE_OAUTH_CLIENT_ID"] == adobe_standin.client_id


@pytest.mark.usefixtures("examples")
def test_wsgi_behind_one_proxy_sends_the_public_https_callback(
    monkeypatch: pytest.MonkeyPatch, adobe_standin: StandInAdobe
) -> None:
    _environment(monkeypatch, adobe_standin)
    app = _import("wsgi").app
    client = app.test_client()
    response = client.get(
        "/adobe/login",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "analytics.example.com"},
    )
    assert response.status_code == 302
    assert (
        "redirect_uri=https%3A%2F%2Fanalytics.example.com%2Fadobe%2Fcallback" in response.headers["Location"]
    )


@pytest.mark.usefixtures("examples")
def test_redis_example_keeps_the_token_in_redis(
    monkeypatch: pytest.MonkeyPatch, adobe_standin: StandInAdobe, redis_url: str, redis_client: redis.Redis
) -> None:
    _environment(monkeypatch, adobe_standin)
    monkeypatch.setenv("REDIS_URL", redis_url)
    app = _import("redis_app").app
    app.config.update(adobe_standin.config())  # after registration: takes effect at the next request
    client = app.test_client()
    assert adobe_standin.sign_in(client, next_url="/").status_code == 302
    assert client.get("/").json["companies"] == ["Example Corp", "Acme Outdoor"]
    keys = redis_client.keys("myapp:adobe:*")
    assert len(keys) == 1
    cookie = client.get_cookie("session")
    assert cookie is not None and len(cookie.value) < 200  # only a key, not the token


@pytest.mark.usefixtures("examples")
def test_sqlite_storage_example_stores_and_forgets_tokens(
    tmp_path: Path, adobe_standin: StandInAdobe
) -> None:
    import sqlite3

    storage = _import("sqlite_storage").SQLiteStorage(str(tmp_path / "tokens.db"))
    app = _import("app").create_app(
        {"SECRET_KEY": "k" * 32, "ADOBE_OAUTH_STORAGE": storage, **adobe_standin.config()}
    )
    client = app.test_client()
    adobe_standin.sign_in(client, next_url="/")
    assert client.get("/").status_code == 200

    def rows() -> int:
        with sqlite3.connect(tmp_path / "tokens.db") as db:
            return int(db.execute("SELECT COUNT(*) FROM adobe_tokens").fetchone()[0])

    assert rows() == 1
    assert client.post("/adobe/logout", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 303
    assert rows() == 0
    assert client.get("/").status_code == 302


def _copy_checkout(target: Path) -> None:
    skip = shutil.ignore_patterns(
        ".venv",
        ".git",
        "__pycache__",
        "*.egg-info",
        ".mypy_cache",
        ".ruff_cache",
        ".hypothesis",
        "artifacts",
        "build",
        "_build",
    )
    shutil.copytree(ROOT, target, ignore=skip)


def test_a_newcomer_installs_from_a_clone_and_the_quickstart_test_passes(tmp_path: Path) -> None:
    """The README's install, Quickstart and test, in a fresh virtual
    environment outside this repository: nothing from the development
    setup helps."""
    _copy_checkout(tmp_path / "flask-adobe-oauth")
    for name in ("app.py", "test_app.py"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    script = "\n".join(
        [
            "set -e",
            (EXAMPLES / "install.sh").read_text(),
            "cp ../app.py ../test_app.py .",
            (EXAMPLES / "test.sh").read_text(),
        ]
    )
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if ".venv" not in p)
    env["PIP_QUIET"] = "1"
    output = _run(["bash", "-c", script], tmp_path, 900, env)
    assert "2 passed" in output
    assert (tmp_path / "myapp" / ".venv").is_dir()
