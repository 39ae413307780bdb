"""The version matrix: ``.venv/bin/nox`` (nox and uv come with the ``dev`` extra).

* ``tests-3.10`` … ``tests-3.13``: the whole suite on the newest versions of
  every dependency, on each Python the package declares (a Python missing
  from the machine is skipped; ``.ci/run`` runs every one it finds).
* ``minimum``: the suite on the lowest version every declared spec allows
  (``uv pip install --resolution lowest-direct``), on the oldest Python, after
  checking that the runtime dependencies really are at their floors. The
  browser tests are off there (the lowest Playwright predates the machine's
  Chromium); the fault suite needs no more than the floors and runs.
* ``package``: ``python -m build`` and ``twine check --strict``; the wheel
  holds the licence; the wheel alone, in a fresh environment with every
  dependency at its floor, signs a user in against the stand-in; the sdist
  holds a test suite that runs.

``make test`` is the quick loop (lint and the suite on this machine's
Python); ``bash .ci/run`` is that plus this matrix.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import tarfile
import zipfile
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

nox.options.default_venv_backend = "uv"
nox.options.sessions = ["tests", "minimum", "package"]
nox.options.reuse_existing_virtualenvs = False
# Never fetch an interpreter: the matrix runs on the Pythons the machine has.
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")

_FLOOR = re.compile(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*>=\s*([0-9][^,;\s]*)\s*$")


def _pyproject() -> dict[str, object]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - nox itself on 3.10
        import tomli as tomllib
    with open(ROOT / "pyproject.toml", "rb") as file:
        return tomllib.load(file)


def floors(*extras: str) -> dict[str, str]:
    """``{name: lowest version}`` of the runtime dependencies (and ``extras``)."""
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    specs = list(project["dependencies"])
    for extra in extras:
        specs += [s for s in project["optional-dependencies"][extra] if not s.startswith("flask-adobe-oauth")]
    found = {}
    for spec in specs:
        match = _FLOOR.match(spec)
        if not match:
            raise SystemExit(f"pyproject.toml: {spec!r} is not NAME>=FLOOR, so the floor jobs cannot pin it")
        found[match.group(1).lower()] = match.group(3)
    return found


def _check_floors(session: nox.Session, expected: dict[str, str]) -> None:
    """Fail unless every ``expected`` package is installed at exactly its floor."""
    session.run("python", str(ROOT / ".ci" / "check_floors.py"), json.dumps(expected))


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The whole suite, newest versions of everything."""
    session.install("pip", "-e", ".[test]")  # pip: the README's install test runs it
    session.run("pytest", "-p", "no:cacheprovider", *session.posargs)


@nox.session(python=PYTHONS[0])
def minimum(session: nox.Session) -> None:
    """The suite on the lowest versions every declared spec allows."""
    session.install("--resolution=lowest-direct", "-e", ".[test]")
    session.install("pip")  # the README's install test runs it (not a dependency: no floor)
    _check_floors(session, floors("jwt", "redis", "cachelib", "sqlalchemy"))
    session.run("pytest", "-p", "no:cacheprovider", *session.posargs, env={"NO_BROWSER_TESTS": "1"})


@nox.session(python=PYTHONS[0])
def package(session: nox.Session) -> None:
    """Build, check the metadata, and use the wheel and the sdist as users will."""
    session.install("build>=1.2", "twine>=6.1")
    tmp = Path(session.create_tmp()).resolve()
    dist = tmp / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--installer=uv", "--outdir", str(dist), str(ROOT))
    wheel = next(dist.glob("*.whl"))
    sdist = next(dist.glob("*.tar.gz"))
    session.run("twine", "check", "--strict", str(wheel), str(sdist))

    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    for needed in ("licenses/LICENSE", "flask_adobe_oauth/py.typed", "templates/adobe_oauth/error.html"):
        if not any(name.endswith(needed) for name in names):
            session.error(f"{wheel.name} lacks {needed}")
    with tarfile.open(sdist) as archive:
        members = archive.getnames()
    for needed in ("LICENSE", "CHANGES.rst", "tests/conftest.py", "tests/helpers.py", "docs/conf.py"):
        if not any(name.endswith("/" + needed) for name in members):
            session.error(f"{sdist.name} lacks {needed}")

    # The wheel alone, every runtime dependency (and PyJWT) pinned to its floor,
    # in a fresh environment; run from a folder outside the repository.
    venv = tmp / "wheel-venv"
    shutil.rmtree(venv, ignore_errors=True)
    session.run("uv", "venv", "--quiet", "--python", str(session.python), str(venv), external=True)
    python = venv / "bin" / "python"
    pins = [f"{name}=={version}" for name, version in floors("jwt").items()]
    session.run("uv", "pip", "install", "--python", str(python), f"{wheel}[jwt]", *pins, external=True)
    outside = tmp / "outside"
    outside.mkdir(exist_ok=True)
    shutil.copy(ROOT / ".ci" / "wheel_signin.py", outside / "wheel_signin.py")
    with session.chdir(outside):
        session.run(str(python), "wheel_signin.py", external=True)

    # The sdist's own tests collect and run (a part of them: the rest is the matrix).
    unpacked = tmp / "sdist"
    shutil.rmtree(unpacked, ignore_errors=True)
    unpacked.mkdir()
    with tarfile.open(sdist) as archive:
        archive.extractall(unpacked, filter="data")
    (source,) = unpacked.iterdir()
    session.install(f"{source}[test]")
    with session.chdir(source):
        session.run(
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "tests/test_protocol.py",
            "tests/test_login_flow.py",
            "tests/test_tokens.py",
        )
