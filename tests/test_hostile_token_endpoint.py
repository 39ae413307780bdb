"""A hostile or broken token endpoint behind /adobe/callback (RFC 6749 §5.1,
§7.1): whatever it answers, or if it answers nothing, the callback is a
clean 502 page naming what went wrong — never a 500 — with no secret in it,
the token endpoint called once (never re-sent, redirects not followed),
nothing stored, and the callback's state consumed. The provider is the
stand-in over real HTTP; its token endpoint misbehaves through
``fail_next_token``.

Where else: oversized, slow or gzip-bomb answers are in ``test_limits.py``;
deeply nested JSON in ``test_hardening.py``; a bad id_token in
``test_idtoken.py``; secrets echoed by Adobe in ``test_secrets.py``.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import example, given
from hypothesis import strategies as st

from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.live import free_port

from .helpers import (
    FUZZ,
    MARK,
    assert_clean_refusal,
    assert_state_consumed,
    begin,
    deliver,
    make_app,
    stored_token,
)

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


#: What the page (the error's message) says for some of the faults.
SAYS = {
    "400-invalid_grant": b"invalid_grant",
    "500": b"did not answer JSON",
    "200-html": b"did not answer JSON",
    "200-no-access_token": b"no access_token",
    "200-token_type-mac": b"other than bearer",
    "302-redirect": b"redirect",
    "307-redirect-to-token-endpoint": b"redirect",
}


@pytest.mark.parametrize(
    ("fault", "says"),
    [pytest.param(f, SAYS.get(n), id=n) for n, f in TOKEN_FAULTS]
    + [pytest.param("307", SAYS["307-redirect-to-token-endpoint"], id="307-redirect-to-token-endpoint")],
)
def test_token_endpoint_fault_is_a_502_and_stores_nothing(
    client: FlaskClient, standin: StandInAdobe, fault: dict[str, Any] | str, says: bytes | None
) -> None:
    spec = _redirect_307(standin) if fault == "307" else fault
    assert isinstance(spec, dict)
    real = begin(client)
    standin.fail_next_token(**spec)
    response = deliver(client, list(real.items()))
    assert_clean_refusal(response, {502})
    if says is not None:
        assert says in response.data
    assert standin.client_secret.encode() not in response.data
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


def test_token_endpoint_refusing_connections_is_a_502(standin: StandInAdobe) -> None:
    client = make_app(standin, token_url=f"http://127.0.0.1:{free_port()}/ims/token/v3").test_client()
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
