"""The code of the README and of the documentation runs as written.

Every fenced code block of README.md and of the pages in ``docs/`` is
either a file of ``docs/examples/`` (byte for byte, so the two cannot
drift) or says why it is not run. The tests below run those files: the
Quickstart app, its stand-in run, its tests, the storage and proxy recipes,
and the install itself, in a fresh virtual environment outside this
repository, the way a newcomer would.

The README is also the package's page on PyPI: a short front page whose
links all work from there.
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
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
README = ROOT / "README.md"
#: Where the README's links lead: the files of this repository on GitHub,
#: the pages of the documentation site.
REPO_URL = "https://github.com/flask-adobe-oauth/flask-adobe-oauth"
REPO_FILE_URL = f"{REPO_URL}/blob/main/"
RAW_FILE_URL = "https://raw.githubusercontent.com/flask-adobe-oauth/flask-adobe-oauth/main/"
DOCS_URL = "https://flask-adobe-oauth.readthedocs.io/"
DOCS_PAGE_URL = f"{DOCS_URL}en/latest/"
README_MAX_LINES = 250


def markdown_pages() -> list[Path]:
    """README.md and every Markdown page of the documentation site."""
    pages = (p for p in DOCS.rglob("*.md") if not {"_build", "examples"} & set(p.relative_to(DOCS).parts))
    return [README, *sorted(pages)]


_FENCE = re.compile(r"^(`{3,})\s*([^`]*)$")
#: MyST directives that show code; every other ```{name} block (toctree,
#: include, note...) is not code, though code blocks may sit inside it.
_CODE_DIRECTIVES = ("{code-block}", "{code}", "{sourcecode}", "{code-cell}")


def code_blocks(page: Path) -> list[tuple[int, str, str, str]]:
    """``(line, info string, code, marker line)`` for every fenced code block
    of a Markdown page: the marker line is the last non-blank line before it."""
    lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
    found: list[tuple[int, str, str, str]] = []

    def scan(first: int, last: int) -> None:
        index = first
        while index < last:
            opening = _FENCE.match(lines[index].rstrip("\n"))
            if not opening:
                index += 1
                continue
            fence, info = opening.group(1), opening.group(2).strip()
            close = index + 1
            while close < last and not (
                set(lines[close].strip()) == {"`"} and len(lines[close].strip()) >= len(fence)
            ):
                close += 1
            if info.startswith("{") and not info.startswith(_CODE_DIRECTIVES):
                scan(index + 1, close)  # a directive: its body may hold code blocks
            else:
                before = "".join(lines[:index]).rstrip("\n").rsplit("\n", 1)[-1]
                found.append((index + 1, info, "".join(lines[index + 1 : close]), before))
            index = close + 1

    scan(0, len(lines))
    return found


def _name(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


_MARKER = re.compile(r"<!-- (example: (?P<path>\S+)|not run: (?P<why>.+?)) -->")


def shown_examples(page: Path) -> set[Path]:
    """The example files a page shows; fails on a block with no marker or a
    block that differs from its file."""
    examples = set()
    for line, info, code, before in code_blocks(page):
        where = f"{_name(page)} line {line}"
        marker = _MARKER.fullmatch(before.strip())
        assert marker, f"{where}: a ```{info} block needs <!-- example: path --> or <!-- not run: why -->"
        if marker.group("path"):
            path = ROOT / marker.group("path")
            assert EXAMPLES in path.parents, f"{where}: examples live in docs/examples/"
            assert path.is_file(), f"{where}: {marker.group('path')} does not exist"
            assert code == path.read_text(encoding="utf-8"), f"{where} differs from {path.name}"
            examples.add(path)
    return examples


@pytest.mark.parametrize("page", markdown_pages(), ids=_name)
def test_every_code_block_is_an_example_file_or_says_why_not(page: Path) -> None:
    shown_examples(page)


def test_every_example_file_is_shown_in_the_readme_or_the_docs() -> None:
    """None is left behind, stale: each is on the front page or a docs page."""
    shown = set().union(*(shown_examples(page) for page in markdown_pages()))
    assert shown == {p for p in EXAMPLES.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    assert len(code_blocks(README)) >= 6
    # the Quickstart, its stand-in run and its tests are on the front page itself
    assert {EXAMPLES / n for n in ("install.sh", "app.py", "standin_run.py", "test_app.py")} <= (
        shown_examples(README)
    )


def test_the_code_block_reader_sees_through_myst_directives(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "```{toctree}\nguides/index\n```\n\ntext\n\n<!-- not run: a shell -->\n```bash\nls\n```\n"
        "\n````{note}\n<!-- example: docs/examples/test.sh -->\n```bash\npytest\n```\n````\n"
        "\n```{code-block} python\nx = 1\n```\n",
        encoding="utf-8",
    )
    assert code_blocks(page) == [
        (8, "bash", "ls\n", "<!-- not run: a shell -->"),
        (14, "bash", "pytest\n", "<!-- example: docs/examples/test.sh -->"),
        (19, "{code-block} python", "x = 1\n", "````"),
    ]


# -- the README as a front page (and PyPI's long description) ----------------------

_FENCED = re.compile(r"^(`{3,}).*?^\1\s*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(`+).+?\1", re.DOTALL)
_LINK_TARGETS = (
    re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]*)"),  # [text](target), ![alt](image)
    re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S*?)>?(?:\s|$)", re.MULTILINE),  # [label]: target
    re.compile(r"\b(?:href|src)\s*=\s*[\"']([^\"']*)", re.IGNORECASE),  # <a href>, <img src>
)


def readme_links(text: str | None = None) -> list[str]:
    """Every link and image target of the README, outside code."""
    text = README.read_text(encoding="utf-8") if text is None else text
    prose = _CODE_SPAN.sub("", _FENCED.sub("", text))
    return [target for pattern in _LINK_TARGETS for target in pattern.findall(prose)]


def test_the_link_reader_finds_every_kind_of_link() -> None:
    text = (
        "[a](docs/a.md) ![b](docs/b.png) [c](#c)\n[d]: ../d.md\n[e]: https://e.example\n"
        "<img src=\"f.png\"> <a href='https://g.example'>g</a> `[h](h.md)`\n```md\n[i](i.md)\n```\n"
    )
    assert readme_links(text) == [
        "docs/a.md",
        "docs/b.png",
        "#c",
        "../d.md",
        "https://e.example",
        "f.png",
        "https://g.example",
    ]


def test_the_readme_is_a_short_front_page_whose_links_work_on_pypi() -> None:
    """PyPI shows the README with no repository around it: a relative link or
    image there leads nowhere. Links go to the repository on GitHub or the
    documentation site, absolute."""
    text = README.read_text(encoding="utf-8")
    lines = text.count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; the guides belong in docs/"
    assert not re.search(r"not (yet )?on PyPI|from a clone", text, re.IGNORECASE)
    assert 'pip install "flask-adobe-oauth[jwt]"' in text
    links = readme_links()
    assert len(links) >= 10
    for target in links:
        assert target.startswith("https://"), f"README.md: {target!r} is not an absolute https:// link"
        if target.startswith(REPO_URL + "/"):
            assert target.startswith(REPO_FILE_URL), f"README.md: link files as {REPO_FILE_URL}<path>"
        if target.startswith(DOCS_URL) and target != DOCS_URL:
            assert target.startswith(DOCS_PAGE_URL), f"README.md: link pages as {DOCS_PAGE_URL}<page>.html"
    # files of this repository that the README links to exist
    for target in links:
        for prefix in (REPO_FILE_URL, RAW_FILE_URL):
            if target.startswith(prefix):
                path = target[len(prefix) :].split("#", 1)[0]
                assert (ROOT / path).is_file(), f"README.md links to {path}, which is not in the repository"


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


def _stop(process: subprocess.Popen[str]) -> signal.Signals | None:
    """Stop ``process`` as a user or a CI runner would: Ctrl+C (SIGINT), then
    SIGTERM if it is still running 5 s later, then SIGKILL. Returns the
    signal it stopped on (None: it had stopped by itself).

    SIGTERM is needed where SIGINT is ignored: a shell starts background jobs
    with SIGINT ignored (POSIX, Shell Command Language 2.11), some CI runners
    start their steps that way, and Python then leaves it ignored."""
    for sig, seconds in ((signal.SIGINT, 5), (signal.SIGTERM, 10)):
        if process.poll() is not None:
            return None
        process.send_signal(sig)
        try:
            process.wait(timeout=seconds)
            return sig
        except subprocess.TimeoutExpired:
            pass
    process.kill()
    process.wait()
    return signal.SIGKILL


#: Runs standin_run.py with SIGINT as given: inherited dispositions survive exec (POSIX).
_LAUNCH = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.{}); "
    "os.execv(sys.executable, [sys.executable, 'standin_run.py'])"
)


@pytest.mark.parametrize("sigint", ["SIG_DFL", "SIG_IGN"], ids=["ctrl-c", "sigint-ignored"])
def test_standin_run_serves_the_quickstart_app_with_a_real_sign_in(sigint: str) -> None:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-c", _LAUNCH.format(sigint)],
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
            browser.headers["Accept"] = (
                "text/html,application/xhtml+xml,*/*;q=0.8"  # a page load, as a browser's
            )
            # / → /adobe/login → the stand-in's authorize → /adobe/callback → /
            response = browser.get(f"http://127.0.0.1:{port}/", timeout=10)
            assert response.status_code == 200, response.text
            assert [r.status_code for r in response.history] == [302, 302, 302, 302]
            assert response.json()["companies"] == ["Example Corp", "Acme Outdoor"]
            assert response.json()["user"].endswith("@AdobeID")
    finally:
        stopped_by = _stop(process)
    output = process.communicate()[0]
    if sigint == "SIG_DFL":
        # Ctrl+C: app.run returns (or KeyboardInterrupt ends the script), the stand-in stops.
        assert stopped_by == signal.SIGINT, output[-2000:]
        assert process.returncode in (0, 1, -signal.SIGINT), output[-2000:]
    else:
        # SIGINT ignored, as in a background job: SIGTERM's default action ends it.
        assert stopped_by == signal.SIGTERM, output[-2000:]
        assert process.returncode == -signal.SIGTERM, output[-2000:]


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


def _this_checkout_as_a_wheel(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A wheel of this checkout, built from a copy of it, and a constraints
    file pinning the package to the checkout's version: with the wheel's
    folder in ``PIP_FIND_LINKS``, the README's ``pip install
    "flask-adobe-oauth[jwt]"`` installs this code, not a release of that
    name from PyPI. Returns the wheel's folder, the constraints file and the
    copied source."""
    source = tmp_path / "source"
    _copy_checkout(source)
    version = re.search(
        r'^\[project\][^\[]*?^version = "([^"]+)"', (source / "pyproject.toml").read_text(), re.M | re.S
    )
    assert version, "no [project] version in pyproject.toml"
    wheels = tmp_path / "wheels"
    _run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(source)],
        tmp_path,
        600,
    )
    assert [w.name for w in wheels.iterdir()] == [f"flask_adobe_oauth-{version[1]}-py3-none-any.whl"]
    constraints = tmp_path / "constraints.txt"
    constraints.write_text(f"flask-adobe-oauth=={version[1]}\n")
    return wheels, constraints, source


def test_a_newcomer_installs_the_package_and_the_quickstart_test_passes(tmp_path: Path) -> None:
    """The README's install, Quickstart and test, in a fresh virtual
    environment outside this repository: nothing from the development
    setup helps. The install is ``pip install "flask-adobe-oauth[jwt]"``, as
    from PyPI, and gets a wheel of this checkout."""
    wheels, constraints, source = _this_checkout_as_a_wheel(tmp_path)
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
    env["PIP_FIND_LINKS"] = " ".join([str(wheels), *env.get("PIP_FIND_LINKS", "").split()])
    env["PIP_CONSTRAINT"] = " ".join([str(constraints), *env.get("PIP_CONSTRAINT", "").split()])
    output = _run(["bash", "-c", script], tmp_path, 900, env)
    assert "2 passed" in output
    python = tmp_path / "myapp" / ".venv" / "bin" / "python"
    assert python.is_file()
    # what was installed is this checkout's code, file for file
    where = _run(
        [str(python), "-c", "import flask_adobe_oauth; print(flask_adobe_oauth.__file__)"], tmp_path, 60
    )
    installed = Path(where.strip()).parent
    ours = source / "flask_adobe_oauth"
    files = sorted(
        p.relative_to(ours) for p in ours.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    )
    assert files and all(p.suffix in (".py", ".html", ".typed") for p in files)
    for name in files:
        assert (installed / name).read_bytes() == (ours / name).read_bytes(), f"{name} is not this checkout's"
