"""The implicit grant (the seed's ``response_type=token``), opt-in: the token
arrives in the URL fragment, which a small same-origin page posts back with
the state. Checked at the HTTP level and in a real headless Chromium."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from html import unescape
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.live import serve

from .helpers import authorize, expire_pending_logins, make_app, query, start_login, stored_token


@pytest.fixture
def standin() -> Iterator[StandInAdobe]:
    """Adobe gives the implicit grant to Single-Page App credentials only."""
    with StandInAdobe(credential="spa") as server:
        yield server


@pytest.fixture
def implicit_app(standin: StandInAdobe) -> Flask:
    return make_app(standin, response_type="token")


def test_a_web_app_credential_refuses_the_implicit_grant(adobe_standin: StandInAdobe) -> None:
    """Adobe Developer Console docs: OAuth Web App credentials have no implicit
    flow. The refusal comes back as an error page, with no token stored."""
    client = make_app(adobe_standin, response_type="token").test_client()
    back = authorize(start_login(client))
    params = query(back)
    assert params["error"] == ["unsupported_response_type"]
    assert "Web App" in params["error_description"][0]
    response = client.get(urlsplit(back).path + "?" + urlsplit(back).query)
    assert response.status_code == 400
    assert b"unsupported_response_type" in response.data
    assert stored_token(client) is None


def fragment_of(client: FlaskClient, next_url: str | None = None) -> dict[str, str]:
    url = authorize(start_login(client, next_url))
    assert urlsplit(url).query == ""  # nothing in the part servers see
    return dict(parse_qsl(urlsplit(url).fragment))


def test_authorize_asks_for_a_token_without_pkce(implicit_app: Flask) -> None:
    params = query(start_login(implicit_app.test_client()))
    assert params["response_type"] == ["token"]
    assert "code_challenge" not in params


def test_callback_without_query_serves_the_fragment_page(implicit_app: Flask) -> None:
    response = implicit_app.test_client().get("/adobe/callback")
    assert response.status_code == 200
    assert b"location.hash" in response.data
    assert "script-src 'sha256-" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_posted_fragment_logs_in_without_any_token_endpoint_call(
    implicit_app: Flask, standin: StandInAdobe
) -> None:
    client = implicit_app.test_client()
    fragment = fragment_of(client, "/dashboard")
    response = client.post("/adobe/callback", data=fragment, headers={"Origin": "http://localhost"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/dashboard"
    token = stored_token(client)
    assert token is not None and token["a"] == fragment["access_token"]
    assert standin.token_calls() == []
    assert client.get("/dashboard").json["user"] == standin.state.user.sub  # from userinfo


def test_cross_site_post_of_a_fragment_is_refused(implicit_app: Flask) -> None:
    client = implicit_app.test_client()
    fragment = fragment_of(client)
    response = client.post("/adobe/callback", data=fragment, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert stored_token(client) is None


def test_posted_fragment_with_a_foreign_state_is_refused(implicit_app: Flask) -> None:
    attacker, victim = implicit_app.test_client(), implicit_app.test_client()
    fragment = fragment_of(attacker)
    start_login(victim)
    assert victim.post("/adobe/callback", data=fragment).status_code == 403
    assert stored_token(victim) is None


def test_token_in_the_query_string_is_refused_and_consumes_the_state(implicit_app: Flask) -> None:
    client = implicit_app.test_client()
    fragment = fragment_of(client)
    response = client.get("/adobe/callback", query_string=fragment)
    assert response.status_code == 400
    assert b"fragment" in response.data
    assert client.post("/adobe/callback", data=fragment).status_code == 403  # state already used
    assert stored_token(client) is None


# -- errors after the POST-back: the browser shows a page, an API client gets JSON -------

#: What headless Chromium sent with the fragment page's form submission (a
#: navigation; captured from the browser test below). The page's no-referrer
#: policy makes its Origin "null"; Sec-Fetch-Site says it is this site.
CHROMIUM_NAVIGATION = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/jxl,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7",
    "Cache-Control": "max-age=0",
    "Origin": "null",
    "Sec-Fetch-Site": "same-origin",
    "Sec-Fetch-Mode": "navigate",
    "Sec-Fetch-Dest": "document",
    "Upgrade-Insecure-Requests": "1",
}
#: A browser without the W3C Fetch Metadata headers (Safari before 16.4; any
#: browser outside a secure context): only its navigation Accept tells.
NO_FETCH_METADATA_NAVIGATION = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Upgrade-Insecure-Requests": "1",
}
BROWSERS = {"chromium": CHROMIUM_NAVIGATION, "no-fetch-metadata": NO_FETCH_METADATA_NAVIGATION}
#: Clients that ask for JSON, or that are scripts rather than page loads.
API_CLIENTS = {
    "accept-json": {"Accept": "application/json"},
    "accept-json-over-html": {"Accept": "text/html;q=0.5,application/json"},
    "xhr": {"X-Requested-With": "XMLHttpRequest", "Origin": "http://localhost"},
    "fetch": {
        "Accept": "*/*",
        "Sec-Fetch-Site": "same-origin",
        "Sec-Fetch-Mode": "cors",
        "Sec-Fetch-Dest": "empty",
    },
    "requests": {"Accept": "*/*"},
    "no-headers": {},
    # A script cannot set Sec-Fetch-* (forbidden header names); a navigation
    # that asks for JSON, if one existed, still gets what it asked for.
    "navigation-asking-json": {**CHROMIUM_NAVIGATION, "Accept": "application/json"},
}


def denied_fragment(client: FlaskClient) -> dict[str, str]:
    """The user clicks Deny on the stand-in's consent page: Adobe's answer
    (error=access_denied with the state), as the fragment page posts it."""
    reply = requests.get(start_login(client), allow_redirects=False, timeout=10)
    assert reply.status_code == 200, reply.text[:200]  # the consent page
    request_id = re.search(r'name="request" value="([^"]+)"', reply.text)
    assert request_id is not None
    decision = requests.post(
        urlsplit(reply.url)._replace(path="/ims/authorize/decision", query="").geturl(),
        data={"request": request_id.group(1), "decision": "deny"},
        allow_redirects=False,
        timeout=10,
    )
    assert decision.status_code == 302
    back = urlsplit(decision.headers["Location"])
    answer = dict(parse_qsl(back.fragment or back.query))
    assert answer["error"] == "access_denied" and answer["state"]
    return answer


def unknown_state_fragment(client: FlaskClient) -> dict[str, str]:
    start_login(client)  # a login is pending, but not this one
    return {"access_token": "x", "token_type": "bearer", "state": "not-the-pending-state-at-all"}


def expired_fragment(client: FlaskClient) -> dict[str, str]:
    state = query(start_login(client))["state"][0]
    expire_pending_logins(client)
    return {"access_token": "x", "token_type": "bearer", "state": state}


#: Situation: (how to get the posted fragment, status, the page's headline).
FAILURES: dict[str, tuple[Any, int, str]] = {
    "denied": (denied_fragment, 403, "You cancelled the sign-in"),
    "unknown-state": (unknown_state_fragment, 403, "This sign-in was already used"),
    "expired": (expired_fragment, 400, "This sign-in expired"),
}


@pytest.fixture
def consenting_standin() -> Iterator[StandInAdobe]:
    """A stand-in that shows its consent page (Allow / Deny) instead of approving."""
    with StandInAdobe(auto_approve=False, credential="spa") as server:
        yield server


def headline(response: TestResponse) -> str:
    match = re.search(r"<h1>(.*?)</h1>", response.get_data(as_text=True), re.S)
    assert match, response.get_data(as_text=True)[:300]
    return unescape(match.group(1))


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("browser", BROWSERS)
def test_a_failed_post_back_shows_the_browser_the_html_error_page(
    consenting_standin: StandInAdobe, failure: str, browser: str
) -> None:
    """The fragment page's form submission is a navigation: the user sees the
    error page (same status as ever), not a raw JSON body."""
    client = make_app(consenting_standin, response_type="token").test_client()
    make_fragment, status, title = FAILURES[failure]
    response = client.post("/adobe/callback", data=make_fragment(client), headers=BROWSERS[browser])
    assert response.status_code == status
    assert response.mimetype == "text/html", response.get_data(as_text=True)[:200]
    assert headline(response) == title
    assert '<a class="button" href="/adobe/login">Try again</a>' in response.get_data(as_text=True)
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"
    assert response.headers["Cache-Control"] == "no-store"
    assert stored_token(client) is None


@pytest.mark.parametrize("failure", FAILURES)
@pytest.mark.parametrize("api_client", API_CLIENTS)
def test_a_failed_post_to_the_callback_by_an_api_client_is_still_json(
    consenting_standin: StandInAdobe, failure: str, api_client: str
) -> None:
    client = make_app(consenting_standin, response_type="token").test_client()
    make_fragment, status, _ = FAILURES[failure]
    response = client.post("/adobe/callback", data=make_fragment(client), headers=API_CLIENTS[api_client])
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.json is not None and response.json["login_url"] == "/adobe/login"
    assert stored_token(client) is None


def test_a_cross_site_post_navigation_gets_the_html_page_too(implicit_app: Flask) -> None:
    """Another site's auto-submitting form is refused (403) with the page, not JSON."""
    client = implicit_app.test_client()
    headers = {**CHROMIUM_NAVIGATION, "Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}
    response = client.post("/adobe/callback", data=fragment_of(client), headers=headers)
    assert response.status_code == 403
    assert response.mimetype == "text/html"
    assert headline(response) == "This request came from another site"
    assert stored_token(client) is None


def test_code_flow_callback_refuses_post(client: FlaskClient) -> None:
    assert client.post("/adobe/callback", data={"state": "x"}).status_code == 405


@pytest.fixture
def served(implicit_app: Flask) -> Iterator[str]:
    with serve(implicit_app) as url:
        yield url


@pytest.fixture
def served_with_consent(consenting_standin: StandInAdobe) -> Iterator[str]:
    with serve(make_app(consenting_standin, response_type="token")) as url:
        yield url


def test_implicit_login_in_a_real_browser(served: str, standin: StandInAdobe, browser: Any) -> None:
    page = browser.new_page()
    page.goto(f"{served}/dashboard")  # guarded: login → stand-in → fragment page → POST
    page.wait_for_url(f"{served}/dashboard", timeout=15_000)
    body = json.loads(page.inner_text("body"))
    assert body["user"] == standin.state.user.sub
    assert "#" not in page.url
    assert standin.token_calls() == []


@pytest.mark.parametrize("where", ["fragment", "query"])
def test_a_denial_in_a_real_browser_shows_the_html_error_page(
    served_with_consent: str, consenting_standin: StandInAdobe, where: str, browser: Any
) -> None:
    """Deny on the consent page in headless Chromium. RFC 6749 §4.2.2.1 puts an
    implicit grant's error in the fragment, which the fragment page posts
    back; some servers put it in the query (a GET). Either way the user sees
    the HTML error page. The stand-in's answer is moved to ``where``."""
    from playwright.sync_api import Route

    def answer_in(route: Route) -> None:
        answer = route.fetch(max_redirects=0)
        back = urlsplit(answer.headers["location"])
        params = back.query or back.fragment
        assert "error=access_denied" in params
        moved = back._replace(
            query=params if where == "query" else "", fragment=params if where == "fragment" else ""
        )
        route.fulfill(response=answer, headers={**answer.headers, "location": moved.geturl()})

    method = "POST" if where == "fragment" else "GET"
    page = browser.new_page()
    page.route(f"{consenting_standin.url}/ims/authorize/decision", answer_in)
    page.goto(f"{served_with_consent}/dashboard")  # guarded: login → the stand-in's consent page
    with page.expect_response(
        lambda r: r.request.method == method and urlsplit(r.url).path == "/adobe/callback",
        timeout=15_000,
    ) as shown:
        page.click("#deny")
    page.wait_for_load_state()
    assert shown.value.status == 403
    assert shown.value.headers["content-type"].startswith("text/html")
    assert page.inner_text("h1") == "You cancelled the sign-in"
    assert page.locator("a.button", has_text="Try again").get_attribute("href") == "/adobe/login"
    assert urlsplit(page.url).path == "/adobe/callback" and "#" not in page.url
    assert consenting_standin.token_calls() == []
