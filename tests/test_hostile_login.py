"""Hostile input at /adobe/login: ``next`` (the open-redirect payloads that
broke real libraries, and a fuzzer), CR/LF in any parameter, raw non-UTF-8
bytes, and long ``next`` targets that could push the session cookie past
what browsers keep.

Each ``next`` goes through a whole login (the stand-in over real HTTP) and
the callback's ``Location`` is resolved as a browser would: it must stay on
this site, and the login itself still succeeds.
"""

from __future__ import annotations

import secrets
import string
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.urls import iri_to_uri

from flask_adobe_oauth.testing import StandInAdobe

from .helpers import (
    CRLF,
    FUZZ,
    assert_clean_refusal,
    authorize,
    deliver,
    login,
    pending_states,
    query,
    stored_token,
)


def browser_target(location: str, site: str = "https://app.example") -> tuple[str, str]:
    """Where a browser goes for ``Location`` (it drops tabs and newlines and
    reads backslashes as slashes): (scheme, host)."""
    cleaned = location.replace("\\", "/")
    for ch in "\t\r\n":
        cleaned = cleaned.replace(ch, "")
    cleaned = cleaned.lstrip("".join(chr(c) for c in range(0x21)))
    parts = urlsplit(urljoin(site + "/", cleaned))
    return parts.scheme, parts.netloc


# -- open redirects through next ------------------------------------------------------

OPEN_REDIRECTS = [
    # Payloads that broke real libraries (CVE-2021-32805 and friends)
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "\t//evil.example",
    "%2F%2Fevil.example",
    "https:evil.example",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "/%0d%0aSet-Cookie:%20injected=1",
    "/\r\nLocation: https://evil.example",
    # and more
    "///evil.example",
    "////evil.example/",
    "/%2Fevil.example",
    "/%2fevil.example",
    "/%5Cevil.example",
    "/%5cevil.example",
    "%252F%252Fevil.example",
    "/%252F%252Fevil.example",
    "/%09/evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "/\x00/evil.example",
    "/\x7f/evil.example",
    " //evil.example",
    "\x00//evil.example",
    "//evil.example@app.example",
    "/@evil.example",
    "http://evil.example",
    "HTTPS://evil.example",
    "https://app.example.evil.example/",
    "//evil%2Eexample",
    "//evil.example%2F..",
    "/\\/evil.example",
    "\\/evil.example",
    "/.\\evil.example",
    "jAvAsCrIpT:alert(1)",
    "java\tscript:alert(1)",
    "vbscript:msgbox(1)",
    "\u3002evil.example",
    "\uff0f\uff0fevil.example",
    "/" + "a" * 5000,
    "",
    "?next=//evil.example",
    "#//evil.example",
    "/ok" + CRLF,
]


@pytest.mark.parametrize("target", OPEN_REDIRECTS, ids=[repr(t)[:40] for t in OPEN_REDIRECTS])
def test_open_redirect_payload_in_next_lands_on_this_site(
    client: FlaskClient, standin: StandInAdobe, target: str
) -> None:
    response = login(client, next_url=target)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert browser_target(location) == ("https", "app.example")
    assert location == "/" or location == iri_to_uri(target)  # unsafe ones are dropped
    assert "\r" not in location and "\n" not in location
    assert "injected" not in response.headers.get("Set-Cookie", "")
    assert stored_token(client) is not None  # the login itself succeeds


@pytest.mark.parametrize(
    "target", ["/dashboard", "/dashboard?tab=2&x=%2F", "/a/b/../c", "/caf%C3%A9", "/search?q=//x"]
)
def test_safe_next_is_kept(client: FlaskClient, target: str) -> None:
    assert login(client, next_url=target).headers["Location"] == target


_NEXT_PIECES = [
    "/",
    "//",
    "\\",
    "%2F",
    "%2f",
    "%5C",
    "%252F",
    "%09",
    "%0d%0a",
    "\t",
    "\r",
    "\n",
    "\x00",
    " ",
    ":",
    "@",
    "?",
    "#",
    ".",
    "..",
    "evil.example",
    "http",
    "https:",
    "javascript:",
    "data:",
    "%",
    "%25",
    "\u3002",
]
_next_text = st.one_of(
    st.lists(st.sampled_from(_NEXT_PIECES), max_size=8).map("".join),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    st.text(alphabet=string.printable, max_size=40),
)


@FUZZ
@given(target=_next_text)
def test_fuzzed_next_never_leaves_the_site(app: Flask, standin: StandInAdobe, target: str) -> None:
    client = app.test_client()
    response = login(client, next_url=target or None)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert browser_target(location) == ("https", "app.example"), location
    assert not any(ch in location for ch in "\r\n\x00")
    assert location == "/" or location == iri_to_uri(target)


def _random_path(length: int) -> str:
    """A high-entropy path, as long report URLs are: zlib cannot shrink it."""
    return "/" + secrets.token_urlsafe(length)[: length - 1]


@pytest.mark.parametrize("was_signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_long_next_targets_never_push_the_cookie_past_what_browsers_keep(
    client: FlaskClient, standin: StandInAdobe, was_signed_in: bool
) -> None:
    """A link to /login with a long ``next`` (a crafted one, or a long report
    URL), followed a few times, must not grow the session cookie past ~4 KB:
    browsers silently ignore such a Set-Cookie, which would lose the pending
    login (and any newer token) without a word."""
    if was_signed_in:
        assert login(client).status_code == 302
    for _ in range(6):
        response = client.get("/adobe/login", query_string={"next": _random_path(2000)})
        assert response.status_code == 302
        for header in response.headers.getlist("Set-Cookie"):
            assert len(header) <= 4093, len(header)
    # The newest login still completes, and a signed-in user keeps the token meanwhile.
    state = query(response.headers["Location"])["state"][0]
    assert state in pending_states(client)
    assert (stored_token(client) is not None) == was_signed_in
    callback = authorize(response.headers["Location"])
    params = {k: v[0] for k, v in query(callback).items()}
    assert deliver(client, list(params.items())).status_code == 302
    assert stored_token(client) is not None


# -- CR/LF and friends at /login ------------------------------------------------------------


@pytest.mark.parametrize("name", ["next", "state", "code", "scope", "redirect_uri", "x"])
def test_crlf_in_any_login_parameter_does_not_reach_a_header(client: FlaskClient, name: str) -> None:
    response = client.get(
        "/adobe/login", environ_overrides={"QUERY_STRING": f"{name}=/a%0d%0aX-Injected:%201"}
    )
    assert response.status_code == 302
    for header, value in response.headers.items():
        assert "\r" not in value and "\n" not in value
        assert header.lower() != "x-injected"


def test_raw_non_utf8_query_bytes_at_login_are_a_400(client: FlaskClient) -> None:
    """Werkzeug would raise a 500 on them (the callback's own cases are in
    ``test_hostile_callback.py``: ``state-invalid-utf8-raw``, ``code-invalid-utf8-raw``)."""
    response = client.get("/adobe/login", environ_overrides={"QUERY_STRING": "next=/\xff\xfe&state=\xc3("})
    assert_clean_refusal(response, {400})
    assert pending_states(client) == []
