"""The demo and the extension's own pages on a phone-sized screen, in a real
headless Chromium: nothing wider than the screen, text readable, buttons big
enough to tap, the whole sign-in usable with a thumb.

Screenshots go to ``artifacts/phone-*.png`` for a look by eye.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.analytics import DEFAULT_COMPANIES, Company, Suite

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
#: A common phone: 390 × 844 CSS pixels at 3× (an iPhone 12-15 class screen).
PHONE = {"width": 390, "height": 844}
#: WCAG 2.2 target size (minimum, 2.5.8): 24 × 24 CSS pixels; aim for 44 on primary buttons.
MIN_TARGET = 24


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True)
    context.set_default_timeout(15000)
    try:
        yield context
    finally:
        context.close()


def assert_fits_the_phone(page: Page, name: str) -> None:
    """No horizontal scrolling, readable text, tappable controls; a screenshot for the eye."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"phone-{name}.png"), full_page=True)
    overflow = page.evaluate(
        """() => {
            const width = document.documentElement.clientWidth;
            const wide = [...document.querySelectorAll('body *')]
                .filter(e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.right > width + 1; })
                .filter(e => !e.closest('[data-scroll-x]'))  // a table meant to scroll sideways inside its box
                .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + Math.round(e.getBoundingClientRect().right));
            return {scroll: document.documentElement.scrollWidth, width, wide: wide.slice(0, 5)};
        }"""
    )
    assert overflow["scroll"] <= overflow["width"], f"{name}: wider than the phone: {overflow}"
    small_text = page.evaluate(
        """() => [...document.querySelectorAll('p, li, td, th, label, a, button, dd, dt, h1, h2, span')]
            .filter(e => e.offsetParent !== null && e.textContent.trim())
            .filter(e => parseFloat(getComputedStyle(e).fontSize) < 12)
            .map(e => e.tagName + ': ' + e.textContent.trim().slice(0, 30)).slice(0, 5)"""
    )
    assert small_text == [], f"{name}: text under 12 px: {small_text}"
    tiny_targets = page.evaluate(
        f"""() => [...document.querySelectorAll('button, input[type=submit], input[type=search], select, input[type=date], .pager a')]
            .filter(e => e.offsetParent !== null)
            .filter(e => {{ const r = e.getBoundingClientRect(); return r.height < {MIN_TARGET} || r.width < {MIN_TARGET}; }})
            .map(e => e.tagName + '#' + e.id).slice(0, 5)"""
    )
    assert tiny_targets == [], f"{name}: controls smaller than {MIN_TARGET} px: {tiny_targets}"
    chart_text = page.evaluate(
        """() => [...document.querySelectorAll('svg.chart text')]
            .map(t => t.getBoundingClientRect().height).filter(h => h > 0)"""
    )
    assert all(h >= 10 for h in chart_text), f"{name}: chart labels {min(chart_text)} px high"
    viewport_meta = page.evaluate("() => document.querySelector('meta[name=viewport]')?.content || ''")
    assert "width=device-width" in viewport_meta, f"{name}: no responsive viewport meta"


def test_the_whole_sign_in_on_a_phone(phone: BrowserContext, demo_url: str) -> None:
    problems: list[str] = []
    phone.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    phone.on("weberror", lambda error: problems.append(str(error.error)))
    page = phone.new_page()
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.goto(demo_url + "/")
    assert_fits_the_phone(page, "landing")
    page.locator("a", has_text="Sign in with Adobe").first.tap()
    page.wait_for_selector("#allow")
    assert_fits_the_phone(page, "consent")
    page.locator("#allow").tap()
    page.wait_for_url("**/dashboard**")
    page.wait_for_selector("svg")
    assert_fits_the_phone(page, "dashboard")
    with page.expect_navigation():
        page.locator("#logout").tap()
    page.wait_for_selector("text=Sign in with Adobe")
    assert_fits_the_phone(page, "signed-out")
    assert problems == []  # no failed request (favicon included), no script or console error


def test_the_extensions_error_page_on_a_phone(phone: BrowserContext, demo_url: str) -> None:
    page = phone.new_page()
    response = page.goto(demo_url + "/adobe/callback?state=" + "x" * 22 + "&code=abc")
    assert response is not None and response.status == 403
    assert_fits_the_phone(page, "error")
    retry = page.locator("a", has_text="Try again")
    assert retry.count() >= 1  # a way back, big enough to tap
    box = retry.first.bounding_box()
    assert box is not None and box["height"] >= MIN_TARGET


def test_many_report_suites_and_their_filter_on_a_phone(
    phone: BrowserContext, demo_url: str, consent_standin: StandInAdobe
) -> None:
    """A company with 150 suites, some with long names: the table shows 50, the
    filter and the pager fit the screen and are big enough to tap."""
    many = tuple(
        Suite(
            f"emea.retail.storefront.{i:03d}",
            f"Example Retail International — Storefront number {i:03d} ({('Deutschland', 'France', 'United Kingdom')[i % 3]})",
            "Europe/Berlin",
            "EUR",
        )
        for i in range(150)
    )
    consent_standin.analytics.companies = (
        Company(DEFAULT_COMPANIES[0].global_company_id, "Example Retail", many),
    )
    consent_standin.analytics.rate_limit = None
    problems: list[str] = []
    phone.on("response", lambda r: problems.append(f"HTTP {r.status} {r.url}") if r.status >= 400 else None)
    page = phone.new_page()
    page.goto(demo_url + "/adobe/login?next=/dashboard")
    page.locator("#allow").tap()
    page.wait_for_url("**/dashboard**")
    assert page.locator("#suites tbody tr").count() == 50
    assert page.locator("#q").is_visible() and page.locator("#next-page").is_visible()
    assert_fits_the_phone(page, "dashboard-many-suites")

    page.locator("#q").tap()
    page.locator("#q").fill("united kingdom")
    with page.expect_navigation():
        page.locator("#suites-filter button").tap()
    assert page.locator("#suites tbody tr").count() == 50
    assert "of 50 matching" in page.locator("#suites-status").inner_text()
    assert page.locator("#suites-pages").count() == 0
    assert_fits_the_phone(page, "dashboard-suites-filtered")

    page.locator("#q").fill("nothing like it")
    with page.expect_navigation():
        page.locator("#q").press("Enter")
    assert page.locator("#no-match").is_visible()
    assert_fits_the_phone(page, "dashboard-suites-no-match")
    assert problems == []
