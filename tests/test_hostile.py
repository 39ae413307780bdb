"""Hostile input at every door of the login flow.

For every case the app answers a clear 4xx (502 when the provider is at
fault) — never a 500 (``TESTING`` is on, so an unhandled exception fails the
test outright) — makes no token call for a callback it rejects itself,
stores no token, consumes the state the callback named, and echoes nothing
unescaped. The provider is the stand-in over real HTTP; its token endpoint
misbehaves through ``fail_next_token``.
"""

from __future__ import annotations

import json
import os
import socket
import string
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict
from werkzeug.test import TestResponse
from werkzeug.urls import iri_to_uri

from flask_adobe_oauth.pages import _PAGE as ERROR_PAGE_TEMPLATE
from flask_adobe_oauth.protocol import new_state
from flask_adobe_oauth.testing import StandInAdobe, login_as

from .conftest import authorize, login, make_app, start_login


@pytest.fixture
def standin() -> Iterator[StandInAdobe]:
    """A stand-in that sends RFC 9207's ``iss`` (Adobe IMS does not), so the
    issuer checks of the callback are reached."""
    with StandInAdobe(send_iss=True) as server:
        yield server


MARK = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
CRLF = "\r\nSet-Cookie: injected=1\r\nX-Injected: 1"
FUZZ = settings(
    # Bounded for CI; HOSTILE_FUZZ_EXAMPLES=5000 for a deeper local hunt.
    max_examples=int(os.environ.get("HOSTILE_FUZZ_EXAMPLES", "200")),
    # In CI the same examples every run (a red CI names a real regression);
    # locally new ones each run, to keep hunting.
    derandomize=bool(os.environ.get("CI")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

Params = dict[str, str]
Query = list[tuple[str, str]] | str


# -- helpers ------------------------------------------------------------------


def begin(client: FlaskClient, next_url: str | None = None) -> Params:
    """Start a login and have the stand-in approve it: the real callback's
    parameters (``code``, ``state``, ``iss``), not yet delivered."""
    callback = authorize(start_login(client, next_url))
    return {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}


def deliver(client: FlaskClient, query: Query, **kwargs: Any) -> TestResponse:
    """GET the callback with ``query``: pairs (repeats allowed) or a raw
    query string, passed to the app byte for byte (latin-1 as WSGI wants)."""
    if isinstance(query, str):
        return client.get("/adobe/callback", environ_overrides={"QUERY_STRING": query}, **kwargs)
    raw = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
    return client.get("/adobe/callback", environ_overrides={"QUERY_STRING": raw}, **kwargs)


def stored_token(client: FlaskClient) -> Any:
    with client.session_transaction() as sess:
        return sess.get("_ao_t")


def pending_states(client: FlaskClient) -> list[str]:
    with client.session_transaction() as sess:
        return [record[0] for record in sess.get("_ao_p", [])]


def assert_clean_refusal(response: TestResponse, statuses: set[int]) -> None:
    """A clear error page: expected status, not cached, nothing echoed raw."""
    assert response.status_code in statuses, (response.status_code, response.data[:300])
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = response.get_data()
    for tag in (b"<script", b"<img"):
        assert tag not in body.lower()
    assert MARK.encode() not in body
    for name, value in response.headers.items():
        assert "\r" not in value and "\n" not in value, name
        assert name.lower() not in ("x-injected",)
    assert "injected=1" not in response.headers.get("Set-Cookie", "")
    if response.mimetype == "application/json":
        assert response.json is not None and {"error", "message"} <= set(response.json)
    else:
        assert response.mimetype == "text/html"


def assert_state_consumed(client: FlaskClient, standin: StandInAdobe, real: Params) -> None:
    """The untouched, otherwise valid callback of the same login is refused now."""
    before = len(standin.token_calls())
    again = deliver(client, list(real.items()))
    assert again.status_code == 403, again.data[:300]
    assert len(standin.token_calls()) == before
    assert stored_token(client) is None


def browser_target(location: str, site: str = "https://app.example") -> tuple[str, str]:
    """Where a browser goes for ``Location`` (it drops tabs and newlines and
    reads backslashes as slashes): (scheme, host)."""
    cleaned = location.replace("\\", "/")
    for ch in "\t\r\n":
        cleaned = cleaned.replace(ch, "")
    cleaned = cleaned.lstrip("".join(chr(c) for c in range(0x21)))
    parts = urlsplit(urljoin(site + "/", cleaned))
    return parts.scheme, parts.netloc


# -- callback: state, code, error, iss ------------------------------------------------

# (case id, builder from the real callback's params, allowed statuses, names the real state)
CallbackCase = tuple[str, Callable[[Params], Query], set[int], bool]

CALLBACK_CASES: list[CallbackCase] = [
    ("state-missing", lambda p: [("code", p["code"])], {400}, False),
    ("state-empty", lambda p: [("state", ""), ("code", p["code"])], {400}, False),
    ("state-forged", lambda p: [("state", new_state()), ("code", p["code"])], {403}, False),
    ("state-prefix-of-real", lambda p: [("state", p["state"][:-1]), ("code", p["code"])], {403}, False),
    ("state-real-plus-suffix", lambda p: [("state", p["state"] + "A"), ("code", p["code"])], {403}, False),
    ("state-10kb", lambda p: [("state", "A" * 10240), ("code", p["code"])], {403}, False),
    ("state-invalid-utf8-escaped", lambda p: f"state=%FF%FE%C3%28&code={p['code']}", {403}, False),
    ("state-invalid-utf8-raw", lambda p: f"state=\xff\xfe\xc3(&code={p['code']}", {400}, False),
    ("state-percent-garbage", lambda p: f"state=%zz%%%0%G1%00&code={p['code']}", {403}, False),
    ("state-crlf", lambda p: [("state", p["state"] + CRLF), ("code", p["code"])], {403}, False),
    ("state-html", lambda p: [("state", MARK), ("code", p["code"])], {403}, False),
    (
        "state-duplicated",
        lambda p: [("state", p["state"]), ("state", p["state"]), ("code", p["code"])],
        {400},
        True,
    ),
    (
        "state-forged-then-real",
        lambda p: [("state", "x"), ("state", p["state"]), ("code", p["code"])],
        {400},
        True,
    ),
    (
        "state-empty-then-real",
        lambda p: [("state", ""), ("state", p["state"]), ("code", p["code"])],
        {400},
        True,
    ),
    ("code-missing", lambda p: [("state", p["state"])], {400}, True),
    ("code-empty", lambda p: [("state", p["state"]), ("code", "")], {400}, True),
    (
        "code-duplicated",
        lambda p: [("state", p["state"]), ("code", p["code"]), ("code", p["code"])],
        {400},
        True,
    ),
    ("code-two-values", lambda p: [("state", p["state"]), ("code", "x"), ("code", p["code"])], {400}, True),
    ("code-10kb", lambda p: [("state", p["state"]), ("code", "c" * 10240)], {400}, True),
    ("code-crlf", lambda p: [("state", p["state"]), ("code", p["code"] + CRLF)], {400}, True),
    # Printable ASCII is a well-formed code (RFC 6749 A.11): only Adobe can refuse it.
    ("code-html", lambda p: [("state", p["state"]), ("code", MARK)], {502}, True),
    ("code-invalid-utf8-escaped", lambda p: f"state={p['state']}&code=%FF%FE", {502}, True),
    ("code-invalid-utf8-raw", lambda p: f"state={p['state']}&code=\xff\xfe", {400}, False),
    ("code-non-ascii", lambda p: [("state", p["state"]), ("code", p["code"] + "\u00e9")], {400}, True),
    ("code-nul", lambda p: [("state", p["state"]), ("code", p["code"] + "\x00")], {400}, True),
    (
        "error-access-denied-html-description",
        lambda p: [("state", p["state"]), ("error", "access_denied"), ("error_description", MARK)],
        {403},
        True,
    ),
    (
        "error-access-denied-js-description",
        lambda p: [
            ("state", p["state"]),
            ("error", "access_denied"),
            ("error_description", "javascript:alert(document.cookie)</p><script>x()</script>"),
        ],
        {403},
        True,
    ),
    (
        "error-description-crlf",
        lambda p: [("state", p["state"]), ("error", "access_denied"), ("error_description", CRLF)],
        {403},
        True,
    ),
    (
        "error-description-10kb",
        lambda p: [("state", p["state"]), ("error", "access_denied"), ("error_description", "<" * 10240)],
        {403},
        True,
    ),
    ("error-code-html", lambda p: [("state", p["state"]), ("error", MARK)], {400}, True),
    ("error-code-crlf", lambda p: [("state", p["state"]), ("error", "server_error" + CRLF)], {400}, True),
    (
        "error-with-code",
        lambda p: [("state", p["state"]), ("code", p["code"]), ("error", "login_required")],
        {400},
        True,
    ),
    (
        "error-duplicated",
        lambda p: [("state", p["state"]), ("error", "access_denied"), ("error", "server_error")],
        {400},
        True,
    ),
    (
        "iss-other",
        lambda p: [("state", p["state"]), ("code", p["code"]), ("iss", "https://evil.example")],
        {400},
        True,
    ),
    (
        "iss-duplicated",
        lambda p: [("state", p["state"]), ("code", p["code"]), ("iss", p["iss"]), ("iss", p["iss"])],
        {400},
        True,
    ),
    (
        "iss-crlf",
        lambda p: [("state", p["state"]), ("code", p["code"]), ("iss", p["iss"] + CRLF)],
        {400},
        True,
    ),
]


@pytest.mark.parametrize("as_json", [False, True], ids=["html", "json"])
@pytest.mark.parametrize(
    ("build", "statuses", "names_state"), [c[1:] for c in CALLBACK_CASES], ids=[c[0] for c in CALLBACK_CASES]
)
def test_hostile_callback_is_refused_without_a_token_call(
    client: FlaskClient,
    standin: StandInAdobe,
    build: Callable[[Params], Query],
    statuses: set[int],
    names_state: bool,
    as_json: bool,
) -> None:
    real = begin(client)
    headers = {"Accept": "application/json"} if as_json else {"Accept": "text/html"}
    response = deliver(client, build(real), headers=headers)
    assert_clean_refusal(response, statuses)
    if statuses == {502}:  # passed every local check; the stand-in refused the code
        assert [c.status for c in standin.token_calls()] == [400]
    else:
        assert standin.token_calls() == []
    assert stored_token(client) is None
    if names_state:
        assert real["state"] not in pending_states(client)
        assert_state_consumed(client, standin, real)
    else:
        # A state this browser never issued leaves its real pending login
        # alone: otherwise any page could cancel a user's sign-in.
        before = len(standin.token_calls())
        assert deliver(client, list(real.items())).status_code == 302
        assert len(standin.token_calls()) == before + 1


def test_replayed_callback_is_refused_and_makes_no_second_token_call(
    client: FlaskClient, standin: StandInAdobe
) -> None:
    real = begin(client)
    assert deliver(client, list(real.items())).status_code == 302
    with client.session_transaction() as sess:
        sess.pop("_ao_t")
    replay = deliver(client, list(real.items()))
    assert_clean_refusal(replay, {403})
    assert len(standin.token_calls()) == 1
    assert stored_token(client) is None


def test_expired_state_is_refused_and_consumed(client: FlaskClient, standin: StandInAdobe) -> None:
    real = begin(client)
    with client.session_transaction() as sess:  # the login was started long ago
        sess["_ao_p"] = [[s, 1, n] for s, _, n in sess["_ao_p"]]
    response = deliver(client, list(real.items()))
    assert_clean_refusal(response, {400})
    assert b"expired" in response.data
    assert standin.token_calls() == []
    assert pending_states(client) == []
    assert_state_consumed(client, standin, real)


def test_state_from_another_browser_is_refused(app: Flask, standin: StandInAdobe) -> None:
    """Login CSRF: the attacker's own, validly issued callback in the victim's browser."""
    attacker, victim = app.test_client(), app.test_client()
    attackers_callback = begin(attacker)
    begin(victim)  # the victim has a pending login of their own
    response = deliver(victim, list(attackers_callback.items()))
    assert_clean_refusal(response, {403})
    assert standin.token_calls() == []
    assert stored_token(victim) is None
    # Still bound to the attacker's browser, and usable there only.
    assert deliver(attacker, list(attackers_callback.items())).status_code == 302


def test_callback_without_any_session_is_refused(app: Flask, standin: StandInAdobe) -> None:
    real = begin(app.test_client())
    response = deliver(app.test_client(), list(real.items()))
    assert_clean_refusal(response, {403})
    assert standin.token_calls() == []


def test_callback_with_a_tampered_session_cookie_is_refused(app: Flask, standin: StandInAdobe) -> None:
    client = app.test_client()
    real = begin(client)
    cookie = client.get_cookie("session")
    assert cookie is not None
    forged = cookie.value[:-4] + ("AAAA" if not cookie.value.endswith("AAAA") else "BBBB")
    client.set_cookie("session", forged)
    response = deliver(client, list(real.items()))
    assert_clean_refusal(response, {403})
    assert standin.token_calls() == []


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_callback_refuses_other_methods(client: FlaskClient, standin: StandInAdobe, method: str) -> None:
    real = begin(client)
    response = client.open("/adobe/callback", method=method, query_string=real)
    assert response.status_code == 405
    assert standin.token_calls() == []
    assert deliver(client, list(real.items())).status_code == 302


# -- the token endpoint misbehaves ------------------------------------------------

TOKEN_FAULTS: list[tuple[str, dict[str, Any]]] = [
    (
        "400-invalid_grant",
        {
            "status": 400,
            "body": '{"error":"invalid_grant","error_description":"bad code"}',
            "content_type": "application/json",
        },
    ),
    (
        "400-error-description-html",
        {
            "status": 400,
            "body": json.dumps({"error": "invalid_grant", "error_description": MARK}),
            "content_type": "application/json",
        },
    ),
    (
        "400-error-code-html",
        {"status": 400, "body": json.dumps({"error": MARK}), "content_type": "application/json"},
    ),
    (
        "401-invalid_client",
        {"status": 401, "body": '{"error":"invalid_client"}', "content_type": "application/json"},
    ),
    ("500", {"status": 500, "body": "Internal Server Error"}),
    ("503-html", {"status": 503, "body": f"<html><body>{MARK}</body></html>", "content_type": "text/html"}),
    (
        "200-html",
        {"status": 200, "body": f"<html><body>Sign in{MARK}</body></html>", "content_type": "text/html"},
    ),
    (
        "200-invalid-json",
        {"status": 200, "body": '{"access_token": "abc", ', "content_type": "application/json"},
    ),
    ("200-empty", {"status": 200, "body": "", "content_type": "application/json"}),
    ("200-json-list", {"status": 200, "body": "[]", "content_type": "application/json"}),
    ("200-json-string", {"status": 200, "body": '"access_token"', "content_type": "application/json"}),
    (
        "200-no-access_token",
        {
            "status": 200,
            "body": '{"token_type":"bearer","expires_in":3600}',
            "content_type": "application/json",
        },
    ),
    (
        "200-empty-access_token",
        {
            "status": 200,
            "body": '{"access_token":"","token_type":"bearer"}',
            "content_type": "application/json",
        },
    ),
    (
        "200-numeric-access_token",
        {
            "status": 200,
            "body": '{"access_token":12345,"token_type":"bearer"}',
            "content_type": "application/json",
        },
    ),
    (
        "200-token_type-mac",
        {
            "status": 200,
            "body": '{"access_token":"abc","token_type":"mac","mac_key":"k"}',
            "content_type": "application/json",
        },
    ),
    (
        "200-token_type-list",
        {
            "status": 200,
            "body": '{"access_token":"abc","token_type":["bearer"]}',
            "content_type": "application/json",
        },
    ),
    (
        "200-expires_in-text",
        {
            "status": 200,
            "body": '{"access_token":"abc","expires_in":"soon"}',
            "content_type": "application/json",
        },
    ),
    (
        "200-expires_in-negative",
        {"status": 200, "body": '{"access_token":"abc","expires_in":-5}', "content_type": "application/json"},
    ),
    (
        "200-expires_in-infinite",
        {
            "status": 200,
            "body": '{"access_token":"abc","expires_in":1e999}',
            "content_type": "application/json",
        },
    ),
    (
        "200-expires_in-nan",
        {
            "status": 200,
            "body": '{"access_token":"abc","expires_in":NaN}',
            "content_type": "application/json",
        },
    ),
    (
        "200-expires_in-400-digit-integer",
        {
            "status": 200,
            "body": '{"access_token":"abc","expires_in":1' + "0" * 400 + "}",
            "content_type": "application/json",
        },
    ),
    (
        "200-expires-infinite",
        {
            "status": 200,
            "body": '{"access_token":"abc","expires":Infinity}',
            "content_type": "application/json",
        },
    ),
    (
        "200-error-field",
        {
            "status": 200,
            "body": '{"error":"invalid_grant","access_token":"abc"}',
            "content_type": "application/json",
        },
    ),
    ("302-redirect", {"status": 302, "body": "", "headers": {"Location": "http://127.0.0.1:9/steal"}}),
]


def _redirect_307(standin: StandInAdobe) -> dict[str, Any]:
    # Points back at the real token endpoint: following it would re-POST the
    # form (code, verifier, secret) and show up as a second token call.
    return {"status": 307, "body": "", "headers": {"Location": standin.url + "/ims/token/v3"}}


@pytest.mark.parametrize(
    "fault",
    [f for _, f in TOKEN_FAULTS] + ["307"],
    ids=[n for n, _ in TOKEN_FAULTS] + ["307-redirect-to-token-endpoint"],
)
def test_token_endpoint_fault_is_a_502_and_stores_nothing(
    client: FlaskClient, standin: StandInAdobe, fault: dict[str, Any] | str
) -> None:
    spec = _redirect_307(standin) if fault == "307" else fault
    assert isinstance(spec, dict)
    real = begin(client)
    standin.fail_next_token(**spec)
    response = deliver(client, list(real.items()))
    assert_clean_refusal(response, {502})
    assert len(standin.token_calls()) == 1  # never re-sent, redirects not followed
    assert stored_token(client) is None
    # The stand-in left the code unused (the fault answered instead), so only
    # the consumed state stops a retry of the same callback.
    assert_state_consumed(client, standin, real)


def test_token_endpoint_slower_than_the_timeout_is_a_502(standin: StandInAdobe) -> None:
    client = make_app(standin, timeout=0.5).test_client()
    real = begin(client)
    standin.fail_next_token(
        200, '{"access_token":"late","token_type":"bearer"}', content_type="application/json", delay=2
    )
    response = deliver(client, list(real.items()))
    assert_clean_refusal(response, {502})
    assert b"did not answer within 0.5 s" in response.data
    assert stored_token(client) is None
    assert_state_consumed(client, standin, real)


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_token_endpoint_refusing_connections_is_a_502(standin: StandInAdobe) -> None:
    client = make_app(standin, token_url=f"http://127.0.0.1:{_closed_port()}/ims/token/v3").test_client()
    real = begin(client)
    response = deliver(client, list(real.items()))
    assert_clean_refusal(response, {502})
    assert b"could not connect" in response.data
    assert standin.token_calls() == []
    assert stored_token(client) is None
    assert_state_consumed(client, standin, real)


_JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["bearer", "Bearer", "mac", "", "3600", "1e999", "-1", MARK]),
)
_JSON_VALUES = st.one_of(
    _JSON_SCALARS,
    st.lists(_JSON_SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=5), _JSON_SCALARS, max_size=2),
)
_TOKEN_KEYS = [
    "access_token",
    "token_type",
    "expires_in",
    "expires",
    "scope",
    "refresh_token",
    "user_id",
    "id_token",
    "error",
]


@FUZZ
@given(body=st.dictionaries(st.sampled_from(_TOKEN_KEYS), _JSON_VALUES, max_size=8))
@example(body={"access_token": "a", "expires_in": 10**400})
@example(body={"access_token": "\u0100", "token_type": "bearer"})
@example(body={"access_token": "a\r\nX-Injected: 1", "token_type": "bearer"})
@example(body={"access_token": "a", "expires": -(10**400)})
@example(
    body={"access_token": "a", "token_type": "bearer", "expires_in": 86399, "scope": [None, 1, {"x": 1}]}
)
def test_fuzzed_token_response_is_a_login_or_a_502(
    app: Flask, standin: StandInAdobe, body: dict[str, Any]
) -> None:
    """Whatever JSON the token endpoint answers, the callback logs in or
    answers 502 — never a 500 — and stores a token only on success."""
    client = app.test_client()
    real = begin(client)
    standin.fail_next_token(200, json.dumps(body, allow_nan=True), content_type="application/json")
    response = deliver(client, list(real.items()))
    stored = stored_token(client)
    if response.status_code == 302:
        assert stored is not None and stored["a"] == body["access_token"]
    else:
        assert_clean_refusal(response, {502})
        assert stored is None


_FORM_KEYS = st.sampled_from(
    ["state", "access_token", "token_type", "expires_in", "expires", "scope", "user_id", "x"]
)
_FORM_VALUES = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    st.sampled_from(["", "bearer", "mac", "1e999", "nan", "-1", "1" + "0" * 400, MARK, CRLF]),
)


@FUZZ
@given(
    pairs=st.lists(st.tuples(_FORM_KEYS, _FORM_VALUES), max_size=7),
    with_state=st.booleans(),
    with_token=st.booleans(),
)
@example(pairs=[("access_token", "\u0100")], with_state=True, with_token=False)
@example(pairs=[("expires_in", "1" + "0" * 400)], with_state=True, with_token=True)
def test_fuzzed_implicit_grant_post_is_a_login_or_a_clean_refusal(
    standin: StandInAdobe, pairs: list[tuple[str, str]], with_state: bool, with_token: bool
) -> None:
    """The implicit grant's callback takes a same-origin POST of the fragment:
    whatever the form holds, it logs in or refuses cleanly, never a 500."""
    app = make_app(standin, response_type="token")
    client = app.test_client()
    real_state = parse_qs(urlsplit(start_login(client)).query)["state"][0]
    form = list(pairs)
    if with_token:
        form.insert(0, ("access_token", "fuzz-access-token"))
    if with_state:
        form.insert(0, ("state", real_state))
    response = client.post(
        "/adobe/callback",
        data=MultiDict(form),
        headers={"Sec-Fetch-Site": "same-origin", "Accept": "text/html"},
    )
    event(f"HTTP {response.status_code}")
    if response.status_code == 303:
        assert stored_token(client) is not None
        assert [v for k, v in form if k == "state"] == [real_state]
    else:
        assert_clean_refusal(response, {400, 403, 502})
        assert stored_token(client) is None
    assert standin.token_calls() == []  # the implicit grant never calls the token endpoint


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


# -- fuzzing the callback query string ----------------------------------------------------------

_KEYS = st.sampled_from(["state", "code", "error", "error_description", "iss", "next", "scope", "x"])
_VALUES = st.one_of(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=60),
    st.sampled_from(["", MARK, CRLF, "access_denied", "%FF", "\x00", "A" * 5000, "javascript:alert(1)"]),
)


@FUZZ
@given(
    pairs=st.lists(st.tuples(_KEYS, _VALUES), max_size=6),
    include_state=st.integers(min_value=0, max_value=2),
    accept=st.sampled_from(["text/html", "application/json", "*/*"]),
)
def test_fuzzed_callback_query_is_refused_cleanly(
    app: Flask, standin: StandInAdobe, pairs: list[tuple[str, str]], include_state: int, accept: str
) -> None:
    client = app.test_client()
    state = start_login(client)  # a pending login whose state the fuzzer may name
    real_state = parse_qs(urlsplit(state).query)["state"][0]
    query = list(pairs)
    for _ in range(include_state):
        query.insert(0, ("state", real_state))
    calls_before = len(standin.token_calls())
    response = deliver(client, query, headers={"Accept": accept})
    calls = len(standin.token_calls()) - calls_before
    # No real code exists for this login, so nothing can succeed; a code that
    # passes the local checks goes to the stand-in, which refuses it.
    assert_clean_refusal(response, {400, 403} if calls == 0 else {502})
    assert calls <= 1
    assert stored_token(client) is None
    if any(k == "state" and v == real_state for k, v in query):
        assert pending_states(client) == []
    for _, value in query:
        # A value that is a piece of the page's own markup ("<", "</p>") is
        # there anyway; any other value with "<" must not come back raw.
        if "<" in value and value not in ERROR_PAGE_TEMPLATE:
            assert value.encode() not in response.get_data()


@FUZZ
@given(raw=st.binary(max_size=300), with_state=st.booleans())
def test_fuzzed_raw_query_bytes_are_refused_cleanly(
    app: Flask, standin: StandInAdobe, raw: bytes, with_state: bool
) -> None:
    client = app.test_client()
    real_state = parse_qs(urlsplit(start_login(client)).query)["state"][0]
    text = raw.decode("latin-1")
    if with_state:
        text = f"state={real_state}&" + text
    calls_before = len(standin.token_calls())
    response = deliver(client, text)
    calls = len(standin.token_calls()) - calls_before
    assert_clean_refusal(response, {400, 403} if calls == 0 else {502})
    assert stored_token(client) is None


def _random_path(length: int) -> str:
    """A high-entropy path, as long report URLs are: zlib cannot shrink it."""
    import secrets

    return "/" + secrets.token_urlsafe(length)[: length - 1]


@pytest.mark.parametrize("signed_in", [False, True], ids=["anonymous", "signed-in"])
def test_long_next_targets_never_push_the_cookie_past_what_browsers_keep(
    client: FlaskClient, standin: StandInAdobe, signed_in: bool
) -> None:
    """A link to /login with a long ``next`` (a crafted one, or a long report
    URL), followed a few times, must not grow the session cookie past ~4 KB:
    browsers silently ignore such a Set-Cookie, which would lose the pending
    login (and any newer token) without a word."""
    if signed_in:
        assert login(client).status_code == 302
    for _ in range(6):
        response = client.get("/adobe/login", query_string={"next": _random_path(2000)})
        assert response.status_code == 302
        for header in response.headers.getlist("Set-Cookie"):
            assert len(header) <= 4093, len(header)
    # The newest login still completes, and a signed-in user keeps the token meanwhile.
    state = parse_qs(urlsplit(response.headers["Location"]).query)["state"][0]
    assert state in pending_states(client)
    assert (stored_token(client) is not None) == signed_in
    callback = authorize(response.headers["Location"])
    params = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
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


@pytest.mark.parametrize("path", ["/adobe/login", "/adobe/callback"])
def test_raw_non_utf8_query_bytes_are_a_400_everywhere(client: FlaskClient, path: str) -> None:
    response = client.get(path, environ_overrides={"QUERY_STRING": "next=/\xff\xfe&state=\xc3("})
    assert_clean_refusal(response, {400})


# -- logout ---------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE"])
def test_logout_by_other_methods_is_refused(client: FlaskClient, standin: StandInAdobe, method: str) -> None:
    login(client)
    response = client.open("/adobe/logout", method=method)
    assert response.status_code == 405
    assert stored_token(client) is not None
    assert standin.revoke_calls() == []


CROSS_SITE = [
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Origin": "http://localhost.evil.example"},
    {"Origin": "https://localhost"},  # another scheme is another origin
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
    {"Sec-Fetch-Site": "cross-site", "Origin": "http://localhost"},
]


@pytest.mark.parametrize("headers", CROSS_SITE, ids=[json.dumps(h) for h in CROSS_SITE])
@pytest.mark.parametrize("as_json", [False, True], ids=["form", "fetch"])
def test_cross_site_logout_post_is_refused(
    client: FlaskClient, standin: StandInAdobe, headers: dict[str, str], as_json: bool
) -> None:
    login(client)
    extra = {"Accept": "application/json"} if as_json else {}
    response = client.post("/adobe/logout", headers={**headers, **extra})
    assert_clean_refusal(response, {403})
    assert stored_token(client) is not None
    assert standin.revoke_calls() == []


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://localhost"}, {"Sec-Fetch-Site": "none"}, {}],
    ids=["sec-fetch-same-origin", "origin-same", "sec-fetch-none", "no-headers"],
)
def test_same_site_logout_post_works(
    client: FlaskClient, standin: StandInAdobe, headers: dict[str, str]
) -> None:
    login(client)
    response = client.post("/adobe/logout", headers=headers)
    assert response.status_code == 303
    assert stored_token(client) is None
    assert len(standin.revoke_calls()) == 1


def test_logout_with_a_login_as_token_and_hostile_origin_keeps_it(client: FlaskClient) -> None:
    login_as(client)
    assert client.post("/adobe/logout", headers={"Origin": MARK}).status_code == 403
    assert stored_token(client) is not None


def test_known_limit_an_old_cookie_revives_its_pending_state_but_the_code_is_one_time(
    app: Flask, standin: StandInAdobe
) -> None:
    """With the cookie session the pending login lives only in the cookie, so
    replaying the cookie from before the callback brings the consumed state
    back. The provider's one-time code is the backstop: the second exchange
    is refused (and the stand-in, like RFC 6749 §4.1.2 asks, revokes what the
    code gave). A server-side session closes the gap (SECURITY.md)."""
    client = app.test_client()
    real = begin(client)
    cookie = client.get_cookie("session")
    assert cookie is not None
    old_cookie = cookie.value
    assert deliver(client, list(real.items())).status_code == 302
    first_access_token = stored_token(client)["a"]

    client.set_cookie("session", old_cookie)  # e.g. a copy stolen before the callback
    replay = deliver(client, list(real.items()))
    assert len(standin.token_calls()) == 2  # the state passed again: this is the limit
    assert_clean_refusal(replay, {502})
    assert stored_token(client) is None
    assert standin.is_revoked(first_access_token) or not standin.is_valid_access_token(first_access_token)


def test_server_side_session_closes_the_old_cookie_gap(standin: StandInAdobe) -> None:
    """Under Flask-Session the cookie holds only a session id; the pending
    login lives on the server, so an old cookie cannot bring it back."""
    import cachelib
    from flask_session import Session

    app = make_app(standin)
    app.config.update(SESSION_TYPE="cachelib", SESSION_CACHELIB=cachelib.SimpleCache())
    Session(app)
    client = app.test_client()
    real = begin(client)
    cookie = client.get_cookie("session")
    assert cookie is not None
    old_cookie = cookie.value
    assert deliver(client, list(real.items())).status_code == 302

    client.set_cookie("session", old_cookie)
    replay = deliver(client, list(real.items()))
    assert_clean_refusal(replay, {403})
    assert len(standin.token_calls()) == 1
