"""The demo and the extension's own pages on a phone-sized screen, in a real
headless Chromium: nothing wider than the screen, text readable, buttons big
enough to tap, the whole sign-in usable with a thumb.

Screenshots go to ``artifacts/phone-*.png`` for a look by eye.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
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


Box = dict[str, float]


def overlap(a: Box, b: Box) -> bool:
    """Whether two boxes (getBoundingClientRect) share any area."""
    return (
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
    )


def assert_chart_reads(page: Page, name: str) -> None:
    """The chart shown (of the two drawings, the one CSS shows at this width) has
    labels that do not run into each other: the rotated "Page views" and the y
    tick labels, the x tick labels side by side, the "0" and the first date; and
    all are inside the chart, none cut off. ``artifacts/{name}.png``: the card, for the eye."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#chart-card").screenshot(path=str(ARTIFACTS / f"{name}.png"))
    geometry = page.evaluate(
        """() => {
            const shown = [...document.querySelectorAll('svg.chart')].filter(s => s.getBoundingClientRect().width > 0);
            const box = e => { const r = e.getBoundingClientRect();
                return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, text: e.textContent}; };
            const svg = shown[0];
            return {shown: shown.map(s => s.id), svg: box(svg), title: box(svg.querySelector('text.axis')),
                    y: [...svg.querySelectorAll('text.y-tick')].map(box),
                    x: [...svg.querySelectorAll('text.x-tick')].map(box)};
        }"""
    )
    assert len(geometry["shown"]) == 1, f"{name}: one chart drawing shown, not {geometry['shown']}"
    title, y_ticks, x_ticks = geometry["title"], geometry["y"], geometry["x"]
    assert title["text"] == "Page views" and len(y_ticks) >= 3 and len(x_ticks) >= 3, geometry
    hit = [t["text"] for t in y_ticks if overlap(title, t)]
    assert hit == [], f"{name}: 'Page views' overlaps the y tick labels {hit}"
    ordered = sorted(x_ticks, key=lambda t: t["left"])
    together = [(a["text"], b["text"]) for a, b in pairwise(ordered) if a["right"] + 2 > b["left"]]
    assert together == [], f"{name}: x labels run together: {together}"
    zero = y_ticks[0]
    assert zero["text"] == "0", y_ticks
    hit = [t["text"] for t in x_ticks if overlap(zero, t)]
    assert hit == [], f"{name}: the '0' tick collides with {hit}"
    svg = geometry["svg"]
    outside = [
        t["text"]
        for t in [title, *y_ticks, *x_ticks]
        if t["left"] < svg["left"] - 0.5
        or t["right"] > svg["right"] + 0.5
        or t["top"] < svg["top"] - 0.5
        or t["bottom"] > svg["bottom"] + 0.5
    ]
    assert outside == [], f"{name}: labels cut off at the chart's edge: {outside}"


def assert_title_is_one_block(page: Page, name: str) -> None:
    """The chart's title reads as one run of text: read line by line, left to
    right, its words come in their order (two columns side by side would read
    "Page views by Example Corp — day · Website"), none split over two lines."""
    found = page.evaluate(
        """() => {
            const h = document.querySelector('#chart-card h2');
            const words = [];
            const walk = document.createTreeWalker(h, NodeFilter.SHOW_TEXT);
            while (walk.nextNode()) {
                const node = walk.currentNode, re = /\\S+/g;
                let m;
                while ((m = re.exec(node.data))) {
                    const range = document.createRange();
                    range.setStart(node, m.index);
                    range.setEnd(node, m.index + m[0].length);
                    const rects = [...range.getClientRects()];
                    words.push({word: m[0], top: rects[0].top, left: rects[0].left, lines: new Set(rects.map(r => Math.round(r.top))).size});
                }
            }
            const style = getComputedStyle(h);
            return {words, height: h.getBoundingClientRect().height, line: parseFloat(style.lineHeight) || 1.5 * parseFloat(style.fontSize)};
        }"""
    )
    words = found["words"]
    assert len(words) >= 5, found
    assert [w["word"] for w in words if w["lines"] != 1] == [], f"{name}: title words split over lines"
    tops = sorted({round(w["top"]) for w in words})
    line_of = {t: n for n, t in enumerate(tops)}
    read = sorted(words, key=lambda w: (line_of[round(w["top"])], w["left"]))
    assert [w["word"] for w in read] == [w["word"] for w in words], (
        f"{name}: the title is split into columns: {read}"
    )
    assert len(tops) <= 3 and found["height"] <= len(tops) * found["line"] + 2, f"{name}: title {found}"


def assert_suite_ids_whole(page: Page, name: str) -> None:
    """No report suite id shown is broken mid-word: its text goes on to a new
    line only after a dot (``examplecorp.`` / ``web.prod``), and the cell's
    ``word-break`` and ``overflow-wrap`` are normal. ``artifacts/{name}.png``:
    the table's card, for the eye."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#suites-card").screenshot(path=str(ARTIFACTS / f"{name}.png"))
    ids = page.evaluate(
        """() => [...document.querySelectorAll('#suites td code')].filter(e => e.offsetParent !== null).map(e => {
            const chars = [];  // each character of the id with the top of its line
            const walk = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
            while (walk.nextNode()) {
                const node = walk.currentNode;
                for (let i = 0; i < node.data.length; i++) {
                    const range = document.createRange();
                    range.setStart(node, i);
                    range.setEnd(node, i + 1);
                    chars.push([node.data[i], Math.round(range.getBoundingClientRect().top)]);
                }
            }
            const breaks = [];  // the text before each line break
            chars.forEach(([c, top], i) => { if (i && top > chars[i - 1][1]) breaks.push(e.textContent.slice(0, i)); });
            const style = getComputedStyle(e);
            return {id: e.textContent, breaks, wordBreak: style.wordBreak, overflowWrap: style.overflowWrap};
        })"""
    )
    assert ids, f"{name}: no report suite ids"
    broken = [i for i in ids if any(not b.endswith(".") for b in i["breaks"])]
    assert broken == [], f"{name}: report suite ids broken mid-word: {broken[:3]}"
    styled = [i for i in ids if i["wordBreak"] != "normal" or i["overflowWrap"] != "normal"]
    assert styled == [], f"{name}: report suite ids may break anywhere: {styled[:3]}"


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
    assert_chart_reads(page, "phone-chart-30-days")
    assert_title_is_one_block(page, "dashboard")
    assert_suite_ids_whole(page, "phone-suites")
    for days in (7, 90):
        with page.expect_navigation():
            page.locator(".pills a", has_text=f"{days} days").tap()
        assert page.locator("#chart-narrow g.day").count() == days
        assert_fits_the_phone(page, f"dashboard-{days}-days")
        assert_chart_reads(page, f"phone-chart-{days}-days")
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
    assert_chart_reads(page, "phone-chart-many-suites")
    assert_title_is_one_block(page, "many-suites")  # a long suite name
    assert_suite_ids_whole(page, "phone-suites-many")

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


def test_the_chart_on_a_desktop_is_the_wide_drawing(browser: Browser, demo_url: str) -> None:
    """Above the phone width the 760-unit drawing is shown, with the same
    checks: the phone's drawing changes nothing there."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15000)
    try:
        page = context.new_page()
        page.goto(demo_url + "/adobe/login?next=/dashboard")
        page.locator("#allow").click()
        page.wait_for_url("**/dashboard**")
        assert page.locator("#chart").is_visible() and not page.locator("#chart-narrow").is_visible()
        assert_chart_reads(page, "desktop-chart")
        assert_title_is_one_block(page, "desktop")
        title = page.locator("#chart-card h2").bounding_box()
        assert title is not None and title["height"] < 30  # one line on a desktop
        assert_suite_ids_whole(page, "desktop-suites")
    finally:
        context.close()
