"""The documentation site builds, warning-free, with the pages it promises.

``make docs`` runs the same ``sphinx-build -W --keep-going``: a docstring
that breaks reStructuredText, a README section marker that went missing or
a page left out of the table of contents fails here, not on a reader.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html", str(DOCS), str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
    return out


def _page(site: Path, name: str) -> str:
    path = site / name
    assert path.is_file(), f"{name} was not built"
    return path.read_text(encoding="utf-8")


@pytest.mark.timeout(300)
def test_the_site_builds_without_warnings_and_has_its_pages(site: Path) -> None:
    index = _page(site, "index.html")
    assert "flask-adobe-oauth" in index
    assert "Sign in with Adobe in a Flask app" in index  # the README's intro, included
    for page in ("getting-started", "security", "api", "changelog", "guides/index"):
        assert f'href="{page}.html"' in index, f"{page} is not in the table of contents"

    started = _page(site, "getting-started.html")
    for heading in ("Install", "Quickstart", "Try it against the stand-in", "Test it"):
        assert f'{heading}<a class="headerlink"' in started, heading
    assert "make_adobe_blueprint" in started and "standin_run.py" in started
    # README's (#real-adobe-locally) leads to the guide on the docs site
    assert 'href="guides/real-adobe.html#real-adobe-locally"' in started

    security = _page(site, "security.html")
    for heading in ("Reporting a vulnerability", "What is defended, and where it is tested", "Known limits"):
        assert heading in security, heading

    assert "Version 0.1.0" in _page(site, "changelog.html")


@pytest.mark.timeout(300)
def test_the_api_reference_is_generated_from_the_docstrings(site: Path) -> None:
    api = _page(site, "api.html")
    for name in (
        "flask_adobe_oauth.make_adobe_blueprint",
        "flask_adobe_oauth.AdobeBlueprint",
        "flask_adobe_oauth.adobe_login_required",
        "flask_adobe_oauth.adobe",
        "flask_adobe_oauth.AdobeContext",
        "flask_adobe_oauth.AdobeSession",
        "flask_adobe_oauth.Token",
        "flask_adobe_oauth.Storage",
        "flask_adobe_oauth.SessionStorage",
        "flask_adobe_oauth.RedisStorage",
        "flask_adobe_oauth.CacheStorage",
        "flask_adobe_oauth.ServerSideStorage",
        "flask_adobe_oauth.signals.logged_in",
        "flask_adobe_oauth.AdobeOAuthError",
        "flask_adobe_oauth.RateLimited",
        "flask_adobe_oauth.analytics.companies",
        "flask_adobe_oauth.service.AdobeService",
        "flask_adobe_oauth.testing.StandInAdobe",
        "flask_adobe_oauth.testing.login_as",
        "flask_adobe_oauth.testing.live.ServerThread",
        "flask_adobe_oauth.protocol.check_callback",
    ):
        assert f'id="{name}"' in api, f"{name} is not documented"
    # a docstring's words, and the type hints in the description
    assert "A blueprint with" in api
    assert "Return type" in api


@pytest.mark.timeout(300)
def test_every_guide_is_built_and_its_api_links_resolve(site: Path) -> None:
    """The guides' ``{py:class}`` links point into the API reference; one that
    names nothing is plain code (no warning, as ``nitpicky`` is off)."""
    for guide in sorted((DOCS / "guides").glob("*.md")):
        html = _page(site, f"guides/{guide.stem}.html")
        roles = html.count('<code class="xref py')
        linked = len(
            re.findall(
                r'<a class="reference internal" href="[^"]*"(?: title="[^"]*")?><code class="xref py', html
            )
        )
        assert roles == linked, f"guides/{guide.stem}.md: {roles - linked} API link(s) name nothing"


def test_every_readme_section_marker_is_paired_and_included() -> None:
    """The pages include README sections between ``<!-- docs:start:NAME -->``
    and ``<!-- docs:end:NAME -->``; a marker no page uses is a section the
    site silently lacks."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    starts = re.findall(r"<!-- docs:start:([\w-]+) -->", readme)
    ends = re.findall(r"<!-- docs:end:([\w-]+) -->", readme)
    assert starts and starts == ends
    assert len(set(starts)) == len(starts)
    pages = "\n".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md") if "_build" not in p.parts)
    for name in starts:
        assert f":start-after: <!-- docs:start:{name} -->" in pages, f"README section {name} is on no page"
        assert f":end-before: <!-- docs:end:{name} -->" in pages, f"README section {name} is cut short"
