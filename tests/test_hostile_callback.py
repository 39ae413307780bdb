"""Hostile input at /adobe/callback: the query (``state``, ``code``, ``error``,
``iss``) and the implicit grant's posted form, over the whole path.

Every refusal of ``check_callback`` is a unit test in ``test_protocol.py``;
here one or two cases of each kind of refusal go through the real app and
the stand-in, for what only the whole path shows: a clear 4xx page or JSON
(502 when the provider is at fault), never a 500 (``TESTING`` is on, so an
unhandled exception fails the test outright), no token call for a callback
the app rejects itself, no token stored, the named state consumed, nothing
echoed unescaped. The parser's own cases (raw and percent-escaped non-UTF-8
bytes, broken escapes) exist only here. The fuzzers try the rest.

Where else: a login bound to another browser or a tampered cookie is in
``test_hostile_session.py``; a misbehaving token endpoint in
``test_hostile_token_endpoint.py``; ``next`` in ``test_hostile_login.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import event, example, given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from flask_adobe_oauth.extension import PENDING_KEY
from flask_adobe_oauth.pages import TEMPLATE_DIR
from flask_adobe_oauth.protocol import new_state
from flask_adobe_oauth.storage import TOKEN_KEY
from flask_adobe_oauth.testing import StandInAdobe

from .helpers import (
    CRLF,
    FUZZ,
    MARK,
    Params,
    Query,
    assert_clean_refusal,
    assert_state_consumed,
    begin,
    deliver,
    expire_pending_logins,
    make_app,
    pending_states,
    query,
    start_login,
    stored_token,
)

# The built-in error page's own markup (its templates' source), to tell a piece
# of it ("<p") apart from an echo of the request.
ERROR_PAGE_TEMPLATE = "".join(
    (TEMPLATE_DIR / "adobe_oauth" / name).read_text(encoding="utf-8") for name in ("base.html", "error.html")
)


@pytest.fixture
def standin() -> Iterator[StandInAdobe]:
    """A stand-in that sends RFC 9207's ``iss`` (Adobe IMS does not), so the
    issuer checks of the callback are reached."""
    with StandInAdobe(send_iss=True) as server:
        yield server


# -- one or two cases of each kind of refusal ------------------------------------------------


def case(
    name: str,
    build: Callable[[Params], Query],
    statuses: set[int],
    names_state: bool,
    says: bytes | None = None,
) -> Any:
    """A callback case: ``build`` makes the query from the real callback's
    params; ``names_state``: it names this browser's real state; ``says``: a
    word the page or JSON must carry."""
    return pytest.param(build, statuses, names_state, says, id=name)


CALLBACK_CASES = [
    # No usable state: nothing to consume (unit: no-state, empty-state).
    case("state-missing", lambda p: [("code", p["code"])], {400}, False, b"no state"),
    # A state this browser never issued (unit: foreign-state, state-10kb, ...).
    case("state-forged", lambda p: [("state", new_state()), ("code", p["code"])], {403}, False),
    case("state-crlf", lambda p: [("state", p["state"] + CRLF), ("code", p["code"])], {403}, False),
    case("state-html", lambda p: [("state", MARK), ("code", p["code"])], {403}, False),
    # The query parser's cases: Werkzeug's decoding, not check_callback's.
    case("state-invalid-utf8-escaped", lambda p: f"state=%FF%FE%C3%28&code={p['code']}", {403}, False),
    case("state-invalid-utf8-raw", lambda p: f"state=\xff\xfe\xc3(&code={p['code']}", {400}, False),
    case("state-percent-garbage", lambda p: f"state=%zz%%%0%G1%00&code={p['code']}", {403}, False),
    case("code-invalid-utf8-raw", lambda p: f"state={p['state']}&code=\xff\xfe", {400}, False),
    # Names the real state, but not once (unit: state-repeated, two-states, ...).
    case(
        "state-duplicated",
        lambda p: [("state", p["state"]), ("state", p["state"]), ("code", p["code"])],
        {400},
        True,
    ),
    # A missing or malformed code (unit: no-code, empty-code, code-*).
    case("code-missing", lambda p: [("state", p["state"])], {400}, True),
    case("code-crlf", lambda p: [("state", p["state"]), ("code", p["code"] + CRLF)], {400}, True),
    # Printable ASCII is a well-formed code (RFC 6749 A.11): only Adobe can refuse it.
    case("code-html", lambda p: [("state", p["state"]), ("code", MARK)], {502}, True),
    case("code-invalid-utf8-escaped", lambda p: f"state={p['state']}&code=%FF%FE", {502}, True),
    # error= from Adobe, its description shown escaped (unit: error, error-*).
    case(
        "error-access-denied-html-description",
        lambda p: [("state", p["state"]), ("error", "access_denied"), ("error_description", MARK)],
        {403},
        True,
        b"access_denied",
    ),
    case(
        "error-access-denied-js-description",
        lambda p: [
            ("state", p["state"]),
            ("error", "access_denied"),
            ("error_description", "javascript:alert(document.cookie)</p><script>x()</script>"),
        ],
        {403},
        True,
    ),
    case(
        "error-description-crlf",
        lambda p: [("state", p["state"]), ("error", "access_denied"), ("error_description", CRLF)],
        {403},
        True,
    ),
    case(
        "error-code-html", lambda p: [("state", p["state"]), ("error", MARK)], {400}, True, b"invalid_error"
    ),
    # Mix-up (RFC 9207; unit: iss-other, iss-repeated, iss-crlf).
    case(
        "iss-other",
        lambda p: [("state", p["state"]), ("code", p["code"]), ("iss", "https://evil.example")],
        {400},
        True,
        b"issuer",
    ),
]


@pytest.mark.parametrize("as_json", [False, True], ids=["html", "json"])
@pytest.mark.parametrize(("build", "statuses", "names_state", "says"), CALLBACK_CASES)
def test_hostile_callback_is_refused_without_a_token_call(
    client: FlaskClient,
    standin: StandInAdobe,
    build: Callable[[Params], Query],
    statuses: set[int],
    names_state: bool,
    says: bytes | None,
    as_json: bool,
) -> None:
    real = begin(client)
    headers = {"Accept": "application/json"} if as_json else {"Accept": "text/html"}
    response = deliver(client, build(real), headers=headers)
    assert_clean_refusal(response, statuses)
    if says is not None:
        assert says in response.data
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


# -- the state's lifetime: one use, a deadline -----------------------------------------------


def test_replayed_callback_is_refused_and_makes_no_second_token_call(
    client: FlaskClient, standin: StandInAdobe
) -> None:
    real = begin(client)
    assert deliver(client, list(real.items())).status_code == 302
    with client.session_transaction() as sess:
        sess.pop(TOKEN_KEY)
    replay = deliver(client, list(real.items()))
    assert_clean_refusal(replay, {403})
    assert len(standin.token_calls()) == 1
    assert stored_token(client) is None


def test_expired_state_is_refused_and_consumed(client: FlaskClient, standin: StandInAdobe) -> None:
    real = begin(client)
    expire_pending_logins(client)  # the login was started long ago
    response = deliver(client, list(real.items()))
    assert_clean_refusal(response, {400})
    assert b"expired" in response.data
    assert standin.token_calls() == []
    with client.session_transaction() as sess:
        assert PENDING_KEY not in sess
    assert_state_consumed(client, standin, real)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_callback_refuses_other_methods(client: FlaskClient, standin: StandInAdobe, method: str) -> None:
    real = begin(client)
    response = client.open("/adobe/callback", method=method, query_string=real)
    assert response.status_code == 405
    assert standin.token_calls() == []
    assert deliver(client, list(real.items())).status_code == 302


# -- fuzzing the callback ------------------------------------------------------------------------

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
    real_state = query(start_login(client))["state"][0]  # a pending login the fuzzer may name
    params = list(pairs)
    for _ in range(include_state):
        params.insert(0, ("state", real_state))
    calls_before = len(standin.token_calls())
    response = deliver(client, params, headers={"Accept": accept})
    calls = len(standin.token_calls()) - calls_before
    # No real code exists for this login, so nothing can succeed; a code that
    # passes the local checks goes to the stand-in, which refuses it.
    assert_clean_refusal(response, {400, 403} if calls == 0 else {502})
    assert calls <= 1
    assert stored_token(client) is None
    if any(k == "state" and v == real_state for k, v in params):
        assert pending_states(client) == []
    for _, value in params:
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
    real_state = query(start_login(client))["state"][0]
    text = raw.decode("latin-1")
    if with_state:
        text = f"state={real_state}&" + text
    calls_before = len(standin.token_calls())
    response = deliver(client, text)
    calls = len(standin.token_calls()) - calls_before
    assert_clean_refusal(response, {400, 403} if calls == 0 else {502})
    assert stored_token(client) is None


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
    real_state = query(start_login(client))["state"][0]
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
