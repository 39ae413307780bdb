"""POST /logout: forgets, revokes (best effort), refuses cross-site requests."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from flask_adobe_oauth.testing import StandInAdobe

from .conftest import login, make_app


def stored_token(client: FlaskClient) -> dict[str, str] | None:
    with client.session_transaction() as sess:
        return sess.get("_ao_t")


@pytest.mark.parametrize("provider", ["ims", "legacy"])
def test_logout_forgets_and_revokes_at_adobe(standin: StandInAdobe, provider: str) -> None:
    client = make_app(standin, provider).test_client()
    login(client)
    token = stored_token(client)
    assert token is not None
    response = client.post(
        "/adobe/logout", headers={"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert stored_token(client) is None
    assert client.get("/dashboard").status_code == 302
    revoked = token.get("r") or token["a"]
    assert standin.is_revoked(revoked)
    assert not standin.is_valid_access_token(token["a"])
    assert len(standin.revoke_calls()) == 1


def test_get_logout_is_405(client: FlaskClient) -> None:
    login(client)
    assert client.get("/adobe/logout").status_code == 405
    assert stored_token(client) is not None


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
    ],
)
def test_cross_site_logout_is_403_and_keeps_the_login(
    client: FlaskClient, standin: StandInAdobe, headers: dict[str, str]
) -> None:
    login(client)
    response = client.post("/adobe/logout", headers=headers)
    assert response.status_code == 403
    assert stored_token(client) is not None
    assert standin.revoke_calls() == []


def test_revoke_failure_still_logs_out_locally(client: FlaskClient, standin: StandInAdobe) -> None:
    login(client)
    standin.fail_next_revoke(503)
    response = client.post("/adobe/logout")
    assert response.status_code == 303
    assert stored_token(client) is None
    assert [c.status for c in standin.revoke_calls()] == [503]


def test_revoke_timeout_still_logs_out_locally(standin: StandInAdobe) -> None:
    client = make_app(standin, timeout=0.3).test_client()
    login(client)
    standin.fail_next_revoke(200, delay=1.5)
    assert client.post("/adobe/logout").status_code == 303
    assert stored_token(client) is None


def test_logout_without_login_is_harmless(client: FlaskClient, standin: StandInAdobe) -> None:
    assert client.post("/adobe/logout").status_code == 303
    assert standin.revoke_calls() == []
