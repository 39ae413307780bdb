"""The documentation site builds, warning-free, with the pages it promises.

``make docs`` (and Read the Docs) run the same ``sphinx-build -W``: a
docstring that breaks reStructuredText, a broken link between pages or a
page left out of the table of contents fails here, not on a reader. The
guides are the site's own pages; the README, the front page, links to them.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .test_readme import DOCS_PAGE_URL, readme_links

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"

#: Each guide, and words of its own that show its text is on the page.
GUIDES = {
    "commands": ("flask adobe standin", "exits 1 if any row is"),
    "configuration": ("max_response_bytes", "Keys set <em>after</em>"),
    "demo": ("Sign in with Adobe", "_images/dashboard.png"),
    "flask-login": ("find_or_create_user", "Most apps already have users"),
    "implicit": ("response_type=token", "OAuth Single-Page App"),
    "production": ("ADOBE_OAUTH_API_RATE_STORAGE", "More than one worker"),
    "organisation": ("ADOBE_OAUTH_ALLOWED_ORGS", "Users in several organisations"),
    "pages": ("adobe_oauth/error.html", "unauthorized_handler"),
    "proxy": ("ProxyFix", "X-Forwarded-"),
    "real-adobe": ("Redirect URI pattern", "When the redirect URI does not match"),
    "service": ("OAuth Server-to-Server", "service_session"),
    "storage": ("The cookie limit", "class SQLiteStorage", "Several workers refreshing at once"),
    "testing": ("fail_next_token", "The stand-in fails where Adobe fails"),
    "tokens": ("Every Adobe token answer becomes one", "Refresh refused"),
    "troubleshooting": ("no sign-in was started in this browser session", "403025"),
    "what-you-get": ("GET /adobe/login?next=/path", "Signals:"),
}

#: The API reference, one page per topic, and what each documents.
API_PAGES = {
    "blueprint": ("flask_adobe_oauth.make_adobe_blueprint", "flask_adobe_oauth.blueprint.AdobeBlueprint"),
    "views": (
        "flask_adobe_oauth.adobe_login_required",
        "flask_adobe_oauth.adobe",
        "flask_adobe_oauth.extension.AdobeContext",
        "flask_adobe_oauth.api.AdobeSession",
        "flask_adobe_oauth.ratelimit.RateLimiter",
    ),
    "tokens": (
        "flask_adobe_oauth.Token",
        "flask_adobe_oauth.storage.Storage",
        "flask_adobe_oauth.storage.SessionStorage",
        "flask_adobe_oauth.storage.RedisStorage",
        "flask_adobe_oauth.storage.CacheStorage",
        "flask_adobe_oauth.storage.ServerSideStorage",
        "flask_adobe_oauth.storage.sqla.SQLAlchemyStorage",
    ),
    "errors": ("flask_adobe_oauth.errors.AdobeOAuthError", "flask_adobe_oauth.errors.RateLimited"),
    "signals": ("flask_adobe_oauth.signals.logged_in", "flask_adobe_oauth.signals.logged_out"),
    "service": ("flask_adobe_oauth.service.AdobeService",),
    "analytics": ("flask_adobe_oauth.analytics.companies",),
    "testing": (
        "flask_adobe_oauth.testing.StandInAdobe",
        "flask_adobe_oauth.testing.login_as",
        "flask_adobe_oauth.testing.live.ServerThread",
    ),
    "cli": ("flask_adobe_oauth.cli.run_checks",),
    "protocol": ("flask_adobe_oauth.protocol.check_callback",),
}


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


def _text(page: str, keep: str = "") -> str:
    """A built page's words: its tags dropped (but ``<keep>``), entities read."""
    tags = rf"<(?!/?{keep}>)[^>]+>" if keep else r"<[^>]+>"
    return html.unescape(re.sub(tags, "", page))


def _in_toctree(html_page: str, page: str) -> bool:
    return f'href="{page}.html"' in html_page


@pytest.mark.timeout(300)
def test_the_site_builds_without_warnings_and_has_its_pages(site: Path) -> None:
    index = _page(site, "index.html")
    assert "flask-adobe-oauth" in index
    assert "Sign in with Adobe in a Flask app" in index  # the intro, on the page itself
    for page in (
        "getting-started",
        "security",
        "api",
        "changelog",
        "guides/index",
        "development",
        "benchmarks",
    ):
        assert _in_toctree(index, page), f"{page} is not in the table of contents"
    assert '<span class="caption-text">API</span>' in index

    started = _page(site, "getting-started.html")
    for heading in ("Install", "Quickstart", "Try it against the stand-in", "Test it"):
        assert f'{heading}<a class="headerlink"' in started, heading
    assert "make_adobe_blueprint" in started and "standin_run.py" in started
    assert 'pip install "flask-adobe-oauth[jwt]"' in _text(started)
    assert 'href="guides/real-adobe.html"' in started

    security = _page(site, "security.html")
    for heading in ("Reporting a vulnerability", "What is defended, and where it is tested", "Known limits"):
        assert heading in security, heading

    development = _text(_page(site, "development.html"))
    assert "make demo" in development and "make test" in development  # CONTRIBUTING.md, included

    benchmarks = _text(_page(site, "benchmarks.html"))
    assert "Flask-Dance" in benchmarks and "python -m bench" in benchmarks

    assert "Version 0.1.0" in _page(site, "changelog.html")


@pytest.mark.timeout(300)
def test_every_guide_has_its_own_text(site: Path) -> None:
    """The guides are written in docs/, not pulled out of the README."""
    assert {p.stem for p in (DOCS / "guides").glob("*.md")} == {*GUIDES, "index"}
    contents = _page(site, "guides/index.html")
    for guide, phrases in GUIDES.items():
        assert _in_toctree(contents, guide), f"guides/{guide} is not in the guides' table of contents"
        page = _page(site, f"guides/{guide}.html")
        text = _text(page, keep="em")
        for phrase in phrases:
            assert phrase in text or phrase in page, f"guides/{guide}: {phrase!r} is not on the page"
    for page in DOCS.rglob("*.md"):
        include = re.search(r"\{include\}\s+(\.\./)+README\.md", page.read_text(encoding="utf-8"))
        assert not include, f"{page.name} still includes the README"


@pytest.mark.timeout(300)
def test_the_api_reference_is_generated_from_the_docstrings_one_page_per_topic(site: Path) -> None:
    hub = _page(site, "api.html")
    assert {p.stem for p in (DOCS / "api").glob("*.rst")} == set(API_PAGES)
    for topic, names in API_PAGES.items():
        assert _in_toctree(hub, f"api/{topic}"), f"api/{topic} is not in the API table of contents"
        page = _page(site, f"api/{topic}.html")
        for name in names:
            assert f'id="{name}"' in page, f"{name} is not documented on api/{topic}"
    # a docstring's words, and the type hints in the description
    blueprint = _page(site, "api/blueprint.html")
    assert "A blueprint with" in blueprint
    assert "Return type" in blueprint
    # the commands' --help, from the code
    cli = _page(site, "api/cli.html")
    for usage in ("flask adobe standin [OPTIONS]", "flask adobe check [OPTIONS]", "--online"):
        assert usage in cli, usage
    # no page is as tall as the single one was: about 200 objects
    for topic in API_PAGES:
        assert _page(site, f"api/{topic}.html").count('class="sig sig-object') < 90, topic


@pytest.mark.timeout(300)
def test_every_guide_is_built_and_its_api_links_resolve(site: Path) -> None:
    """The guides' ``{py:class}`` links point into the API reference; one that
    names nothing is plain code (no warning, as ``nitpicky`` is off)."""
    pages = [f"guides/{guide.stem}" for guide in sorted((DOCS / "guides").glob("*.md"))]
    for name in pages:
        html_page = _page(site, f"{name}.html")
        roles = html_page.count('<code class="xref py')
        linked = len(
            re.findall(
                r'<a class="reference internal" href="[^"]*"(?: title="[^"]*")?><code class="xref py',
                html_page,
            )
        )
        assert roles == linked, f"{name}: {roles - linked} API link(s) name nothing"


@pytest.mark.timeout(300)
def test_the_readme_links_lead_to_pages_of_the_site(site: Path) -> None:
    """The README links to the site by absolute URL (it is PyPI's page too):
    each such link names a page this build makes, and a heading on it."""
    links = [link for link in readme_links() if link.startswith(DOCS_PAGE_URL)]
    pages = {link[len(DOCS_PAGE_URL) :].split("#", 1)[0] for link in links}
    assert {"getting-started.html", "guides/index.html", "security.html", "api.html"} <= pages
    assert {f"guides/{guide}.html" for guide in GUIDES} <= pages, "a guide the README does not list"
    for link in links:
        page, _, anchor = link[len(DOCS_PAGE_URL) :].partition("#")
        built = _page(site, page)
        if anchor:
            assert f'id="{anchor}"' in built, f"README: {link} names no heading of {page}"
