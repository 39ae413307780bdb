"""Every rejection at /callback: a clear 4xx (or 502 when Adobe failed), no
token call when the request itself is bad, nothing stored, state consumed."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_adobe_oauth import login_failed
from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.live import free_port

from .conftest import authorize, local, make_app, query, start_login


def assert_nothing_stored(client: FlaskClient) -> None:
    with client.session_transaction() as sess:
        assert "_ao_t" not in sess


def test_access_denied_is_a_403_page_with_the_description_escaped(
    app: Flask, client: FlaskClient, standin: StandInAdobe
) -> None:
    state = query(start_login(client))["state"][0]
    errors: list[Any] = []

    def on_fail(sender: Flask, error: Any) -> None:
        errors.append(error)

    with login_failed.connected_to(on_fail, app):
        response = client.get(
            "/adobe/callback",
            query_string={
                "state": state,
                "error": "access_denied",
                "error_description": "<script>alert(1)</script>",
            },
        )
    assert response.status_code == 403
    assert b"<script>alert(1)" not in response.data
    assert b"&lt;script&gt;" in response.data
    assert errors and errors[0].provider_error == "access_denied"
    assert standin.token_calls() == []
    assert_nothing_stored(client)
    with client.session_transaction() as sess:
        assert "_ao_p" not in sess  # the state was consumed


def test_denied_on_the_consent_page_comes_back_as_access_denied(standin: StandInAdobe) -> None:
    standin.app.config["STANDIN_AUTO_APPROVE"] = False
    client = make_app(standin).test_client()
    response = standin.sign_in(client, allow=False)
    assert response.status_code == 403
    assert b"access_denied" in response.data
    assert standin.token_calls() == []


def test_missing_state_is_400(client: FlaskClient, standin: StandInAdobe) -> None:
    start_login(client)
    response = client.get("/adobe/callback?code=abc")
    assert response.status_code == 400
    assert b"no state" in response.data
    assert standin.token_calls() == []


def test_forged_state_is_403(client: FlaskClient, standin: StandInAdobe) -> None:
    start_login(client)
    assert client.get("/adobe/callback?code=abc&state=forged-state-value-xxxxxxx").status_code == 403
    assert standin.token_calls() == []
    assert_nothing_stored(client)


def test_replayed_state_is_rejected(client: FlaskClient, standin: StandInAdobe) -> None:
    callback = local(authorize(start_login(client)))
    assert client.get(callback).status_code == 302
    client.post("/adobe/logout")
    assert client.get(callback).status_code == 403
    assert len(standin.token_calls()) == 1
    assert_nothing_stored(client)


def test_state_from_another_browser_session_is_rejected(app: Flask, standin: StandInAdobe) -> None:
    attacker, victim = app.test_client(), app.test_client()
    callback = local(authorize(start_login(attacker)))  # a validly produced state and code
    start_login(victim)
    assert victim.get(callback).status_code == 403
    assert standin.token_calls() == []
    assert_nothing_stored(victim)


def test_expired_state_is_400_and_consumed(client: FlaskClient, standin: StandInAdobe) -> None:
    callback = local(authorize(start_login(client)))
    with client.session_transaction() as sess:
        sess["_ao_p"] = [[r[0], 1, r[2]] for r in sess["_ao_p"]]  # expired long ago
    response = client.get(callback)
    assert response.status_code == 400
    assert b"expired" in response.data
    assert standin.token_calls() == []
    with client.session_transaction() as sess:
        assert "_ao_p" not in sess


def test_rejected_callback_consumes_the_state(client: FlaskClient, standin: StandInAdobe) -> None:
    callback = local(authorize(start_login(client)))
    state = query(callback)["state"][0]
    assert client.get("/adobe/callback", query_string={"state": state}).status_code == 400  # no code
    assert client.get(callback).status_code == 403  # the real code now finds no pending login
    assert standin.token_calls() == []


def test_issuer_mismatch_is_rejected_without_a_token_call(client: FlaskClient, standin: StandInAdobe) -> None:
    callback = local(authorize(start_login(client)))
    assert "iss=" not in callback  # Adobe IMS sends no iss (nor does the stand-in by default)
    tampered = callback + "&iss=https%3A%2F%2Fevil.example"
    response = client.get(tampered)
    assert response.status_code == 400
    assert b"issuer" in response.data
    assert standin.token_calls() == []


def test_repeated_code_parameter_is_rejected(client: FlaskClient, standin: StandInAdobe) -> None:
    callback = local(authorize(start_login(client)))
    assert client.get(callback + "&code=second").status_code == 400
    assert standin.token_calls() == []


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        ({"status": 500, "body": "boom"}, b"did not answer JSON"),
        ({"status": 200, "body": "<html>hi</html>", "content_type": "text/html"}, b"did not answer JSON"),
        (
            {"status": 400, "body": '{"error":"invalid_grant"}', "content_type": "application/json"},
            b"invalid_grant",
        ),
        (
            {"status": 200, "body": '{"token_type":"bearer"}', "content_type": "application/json"},
            b"no access_token",
        ),
        (
            {
                "status": 200,
                "body": '{"access_token":"x","token_type":"mac"}',
                "content_type": "application/json",
            },
            b"other than bearer",
        ),
        ({"status": 307, "headers": {"Location": "http://127.0.0.1:9/steal"}}, b"redirect"),
    ],
)
def test_token_endpoint_failures_are_a_502_page(
    client: FlaskClient, standin: StandInAdobe, fault: dict[str, Any], needle: bytes
) -> None:
    callback = local(authorize(start_login(client)))
    standin.fail_next_token(**fault)
    response = client.get(callback)
    assert response.status_code == 502
    assert needle in response.data
    assert standin.client_secret.encode() not in response.data
    assert_nothing_stored(client)


def test_token_endpoint_timeout_is_a_502(standin: StandInAdobe) -> None:
    client = make_app(standin, timeout=0.3).test_client()
    callback = local(authorize(start_login(client)))
    standin.fail_next_token(delay=1.5)
    response = client.get(callback)
    assert response.status_code == 502
    assert b"did not answer within" in response.data


def test_refused_connection_is_a_502(standin: StandInAdobe) -> None:
    port = free_port()
    client = make_app(standin, token_url=f"http://127.0.0.1:{port}/token").test_client()
    response = client.get(local(authorize(start_login(client))))
    assert response.status_code == 502
    assert b"could not connect" in response.data


def test_json_clients_get_json_errors(client: FlaskClient) -> None:
    start_login(client)
    response = client.get("/adobe/callback?code=x", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_state"


def test_callback_in_a_session_that_started_no_login_names_the_usual_causes(
    app: Flask, standin: StandInAdobe
) -> None:
    started = app.test_client()
    callback = local(authorize(start_login(started)))
    fresh = app.test_client()  # e.g. a worker with another SECRET_KEY could not read the cookie
    response = fresh.get(callback)
    assert response.status_code == 403
    assert b"SECRET_KEY" in response.data
    assert standin.token_calls() == []
