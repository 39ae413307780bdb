"""The demo in a real headless Chromium (Debian's /usr/bin/chromium) driven by
Playwright: sign in on the stand-in's consent page, see the dashboard, reload,
log in from a second tab while the first is mid-login, log out.

This test must run in CI: without Chromium it fails instead of skipping
(``make test`` installs it through ``system-deps``).
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page

from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.analytics import DEFAULT_COMPANIES, Company, Suite

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
EXAMPLE = DEFAULT_COMPANIES[0]


def suite_ids(page: Page) -> list[str]:
    return [row.get_attribute("data-rsid") or "" for row in page.locator("#suites tbody tr").all()]


def test_sign_in_dashboard_reload_second_tab_and_logout(
    browser: Browser, demo_url: str, consent_standin: StandInAdobe
) -> None:
    standin = consent_standin.url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15000)
    seen: list[str] = []
    problems: list[str] = []
    context.on("request", lambda request: seen.append(request.url))
    context.on(
        "response",
        lambda r: (
            problems.append(f"HTTP {r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")  # the stand-in has no icon
            else None
        ),
    )
    context.on("weberror", lambda error: problems.append(str(error.error)))
    page = context.new_page()

    # The landing page, then Adobe's (stand-in) consent page.
    page.goto(demo_url + "/")
    assert page.locator("#sign-in").inner_text().strip() == "Sign in with Adobe"
    page.click("#sign-in")
    page.wait_for_url(standin + "/ims/authorize/v2?**")
    assert "Stand-in Adobe ID" in page.content()
    page.click("#allow")

    # The dashboard: profile, report suites, the chart.
    page.wait_for_url(demo_url + "/dashboard")
    assert page.locator("#profile").inner_text().count("Ada Analyst") == 1
    assert suite_ids(page) == [s.rsid for s in EXAMPLE.suites]
    assert page.locator("#suite-name").inner_text() == EXAMPLE.suites[0].name
    chart = page.locator("svg#chart")
    assert chart.is_visible()
    assert chart.bounding_box() is not None and chart.bounding_box()["width"] > 500  # type: ignore[index]
    assert page.locator("svg#chart g.day").count() == 30
    assert page.locator("svg#chart path.series").get_attribute("d").startswith("M")  # type: ignore[union-attr]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-dashboard.png"), full_page=True)
    assert (ARTIFACTS / "browser-dashboard.png").stat().st_size > 10_000

    # Choosing another suite and a preset range goes through real links.
    page.click(f"#suites tr[data-rsid='{EXAMPLE.suites[4].rsid}'] a")
    page.wait_for_url("**rsid=" + EXAMPLE.suites[4].rsid + "**")
    assert page.locator("#suite-name").inner_text() == EXAMPLE.suites[4].name
    page.click("text=7 days")
    page.wait_for_url("**days=7**")
    assert page.locator("svg#chart g.day").count() == 7

    # Reloading keeps the session.
    page.reload()
    assert page.url.startswith(demo_url + "/dashboard")
    assert page.locator("svg#chart").is_visible()

    # Parallel flows: tab 1 starts a login, tab 2 starts and finishes one, then tab 1 finishes.
    page.goto(demo_url + "/adobe/login?next=/dashboard%3Fcompany%3Dacmeout1")
    page.wait_for_url(standin + "/ims/authorize/v2?**")
    second = context.new_page()
    second.goto(demo_url + "/adobe/login?next=/dashboard")
    second.wait_for_url(standin + "/ims/authorize/v2?**")
    second.click("#allow")
    second.wait_for_url(demo_url + "/dashboard")
    assert suite_ids(second) == [s.rsid for s in EXAMPLE.suites]
    page.click("#allow")
    page.wait_for_url(demo_url + "/dashboard?company=acmeout1")
    assert suite_ids(page) == [s.rsid for s in DEFAULT_COMPANIES[1].suites]
    codes = [c for c in consent_standin.token_calls() if c.grant_type == "authorization_code"]
    assert [c.status for c in codes] == [200, 200, 200]

    # Log out with the POST form; the guarded page then sends the browser to log in.
    page.click("#logout")
    page.wait_for_url(demo_url + "/")
    assert page.locator("#sign-in").is_visible()
    assert consent_standin.revoke_calls()[-1].status == 200
    response = second.goto(demo_url + "/dashboard")
    assert response is not None
    second.wait_for_url(standin + "/ims/authorize/v2?**")
    first_hop = response.request.redirected_from
    assert first_hop is not None and first_hop.redirected_from is not None
    assert first_hop.url.startswith(demo_url + "/adobe/login?next=")
    assert first_hop.redirected_from.url == demo_url + "/dashboard"
    assert second.locator("#allow").is_visible()

    # Nothing was fetched from anywhere but the demo and the stand-in, and no page broke.
    assert all(url.startswith((demo_url, standin)) for url in seen), seen
    assert problems == []
    context.close()


def test_filter_sort_and_pages_of_many_suites_without_javascript(
    browser: Browser, demo_url: str, consent_standin: StandInAdobe
) -> None:
    """The suites table's filter, sorting and pages are plain forms and links: they
    work with JavaScript off (the demo's CSP allows none anyway)."""
    many = tuple(
        Suite(f"shop{i:03d}.{('eu', 'us', 'jp')[i % 3]}", f"Store {(i * 7) % 120:03d}") for i in range(120)
    )
    consent_standin.analytics.companies = (Company(EXAMPLE.global_company_id, "Big Corp", many),)
    consent_standin.analytics.rate_limit = None
    context = browser.new_context(viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    context.set_default_timeout(15000)
    problems: list[str] = []
    context.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    page = context.new_page()
    page.goto(demo_url + "/adobe/login?next=/dashboard")
    page.click("#allow")
    page.wait_for_url(demo_url + "/dashboard")

    # 50 of 120, in Adobe's order, with a way to the next 50.
    assert suite_ids(page) == [s.rsid for s in many[:50]]
    assert "Showing 1–50 of 120 · page 1 of 3" in page.locator("#suites-status").inner_text()
    page.click("#next-page")
    page.wait_for_url("**page=2**")
    assert suite_ids(page) == [s.rsid for s in many[50:100]]

    # Type a filter and press Enter: the rows that match, from every page, on page 1.
    page.get_by_label("Filter by name or id").fill("STORE 01")
    page.keyboard.press("Enter")
    page.wait_for_url("**q=STORE+01**")
    assert "page=" not in page.url
    names = page.locator("#suites tbody tr td:first-child").all_inner_texts()
    assert sorted(names) == [f"Store {n:03d}" for n in range(10, 20)]
    assert page.locator("#suites-pages").count() == 0

    # A column heading sorts by it, then the other way; aria-sort says which.
    page.click("#suites thead >> text=Name")
    page.wait_for_url("**sort=name**")
    assert page.locator("#suites tbody tr td:first-child").all_inner_texts() == [
        f"Store {n:03d}" for n in range(10, 20)
    ]
    assert page.locator("#suites th[aria-sort]").all_inner_texts() == ["NAME ▲"]
    assert page.locator("#suites th[aria-sort]").get_attribute("aria-sort") == "ascending"
    page.click("#suites thead >> text=Name")
    page.wait_for_url("**dir=desc**")
    assert page.locator("#suites tbody tr td:first-child").all_inner_texts() == [
        f"Store {n:03d}" for n in range(19, 9, -1)
    ]
    assert page.locator("#suites th[aria-sort]").get_attribute("aria-sort") == "descending"
    assert page.get_by_label("Filter by name or id").input_value() == "STORE 01"  # the filter is kept
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-suites-filtered.png"), full_page=True)

    # Choosing a suite keeps the table as it is.
    page.click("#suites tbody tr:first-child a")
    page.wait_for_url("**rsid=**")
    assert page.locator("#suite-name").inner_text() == "Store 019"
    assert page.locator("#suites tr.selected td:first-child").inner_text() == "Store 019"
    assert len(suite_ids(page)) == 10

    # Nothing matches: it says so, and one click clears the filter (the order stays).
    page.get_by_label("Filter by name or id").fill("<b>nothing</b>")
    page.keyboard.press("Enter")
    page.wait_for_selector("#no-match")
    assert page.locator("#no-match").inner_text().startswith("No report suite matches “<b>nothing</b>”.")
    assert page.locator("#suites b").count() == 0  # shown as text, not markup
    page.click("#no-match >> text=Clear the filter")
    page.wait_for_selector("#suites tbody tr[data-rsid]")
    assert len(suite_ids(page)) == 50
    assert page.locator("#suites tbody tr td:first-child").first.inner_text() == "Store 119"  # still Z to A
    assert page.get_by_label("Filter by name or id").input_value() == ""
    width = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert width[0] <= width[1]
    page.screenshot(path=str(ARTIFACTS / "browser-suites.png"), full_page=True)
    assert problems == []
    context.close()
