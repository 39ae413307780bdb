"""What a release carries: the version in one place, the licence, the links.

The build itself (``python -m build``, ``twine check --strict``, the wheel
signing a user in with every dependency at its floor, the sdist's tests) is
``nox -s package``, which ``.ci/run`` runs; the floors are ``nox -s minimum``.
"""

from __future__ import annotations

import re
from importlib.metadata import metadata
from pathlib import Path

import flask_adobe_oauth

ROOT = Path(__file__).resolve().parent.parent


def _pyproject_version() -> str:
    match = re.search(r'^version = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M)
    assert match
    return match.group(1)


def test_version_is_the_installed_distributions() -> None:
    assert flask_adobe_oauth.__version__ == _pyproject_version()
    assert flask_adobe_oauth.__version__ == metadata("flask-adobe-oauth")["Version"]


def test_metadata_names_the_licence_the_authors_and_the_project_links() -> None:
    meta = metadata("flask-adobe-oauth")
    assert meta["License-Expression"] == "BSD-3-Clause"
    assert "BSD 3-Clause License" in (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert meta["Author"] or meta["Author-email"]
    links = {entry.split(",", 1)[0].strip().lower() for entry in meta.get_all("Project-URL") or []}
    assert {"documentation", "source", "changes", "issues"} <= links
    classifiers = meta.get_all("Classifier") or []
    for minor in (10, 11, 12, 13):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert "Framework :: Flask" in classifiers
    assert "Typing :: Typed" in classifiers


def test_every_dependency_has_a_floor_the_minimum_job_can_pin() -> None:
    """``nox -s minimum`` and ``nox -s package`` pin each runtime requirement
    to its ``>=`` floor; a requirement without one would go untested there."""
    for requirement in metadata("flask-adobe-oauth").get_all("Requires-Dist") or []:
        name, _, marker = requirement.partition(";")
        if "extra ==" in marker and not any(
            f'extra == "{e}"' in marker for e in ("jwt", "redis", "cachelib", "sqlalchemy")
        ):
            continue
        assert re.fullmatch(r"[A-Za-z0-9_.-]+(\[[^\]]+\])?>=[0-9][0-9.]*", name.strip().replace(" ", "")), (
            requirement
        )
