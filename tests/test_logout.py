"""POST /adobe/logout: forgets the token and revokes it at Adobe (best
effort); refuses other methods and cross-site requests (logout CSRF) with
the login kept and nothing revoked. The page a refused browser sees is in
``test_pages.py``."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskClient

from flask_adobe_oauth.testing import StandInAdobe, login_as

from .helpers import MARK, assert_clean_refusal, login, make_app, stored_token


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


@pytest.mark.parametrize(
    "headers",
    [{"Sec-Fetch-Site": "same-origin"}, {"Origin": "http://localhost"}, {"Sec-Fetch-Site": "none"}, {}],
    ids=["sec-fetch-same-origin", "origin-same", "sec-fetch-none", "no-headers"],
)
def test_same_site_logout_post_works(
    signed_in: FlaskClient, standin: StandInAdobe, headers: dict[str, str]
) -> None:
    response = signed_in.post("/adobe/logout", headers=headers)
    assert response.status_code == 303
    assert stored_token(signed_in) is None
    assert len(standin.revoke_calls()) == 1


def test_revoke_failure_still_logs_out_locally(signed_in: FlaskClient, standin: StandInAdobe) -> None:
    standin.fail_next_revoke(503)
    response = signed_in.post("/adobe/logout")
    assert response.status_code == 303
    assert stored_token(signed_in) is None
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


# -- refused: other methods, other sites ----------------------------------------------------


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
def test_logout_by_other_methods_is_refused(
    signed_in: FlaskClient, standin: StandInAdobe, method: str
) -> None:
    response = signed_in.open("/adobe/logout", method=method)
    assert response.status_code == 405
    assert stored_token(signed_in) is not None
    assert standin.revoke_calls() == []


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_plain_sign_out_link_shows_the_button_and_signs_nobody_out(
    signed_in: FlaskClient, standin: StandInAdobe, method: str
) -> None:
    """Issue 26: a GET (a "Sign out" link, a prefetch, an <img> on another
    site) got Werkzeug's bare 405; it shows a page whose button posts the
    sign-out, and never signs out by itself."""
    response = signed_in.open("/adobe/logout", method=method)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert stored_token(signed_in) is not None and standin.revoke_calls() == []
    if method == "GET":
        page = response.get_data(as_text=True)
        assert '<form method="post" action="/adobe/logout">' in page and ">Sign out</button>" in page
        assert "form-action 'self'" in response.headers["Content-Security-Policy"]
    done = signed_in.post("/adobe/logout")  # the button
    assert done.status_code == 303 and stored_token(signed_in) is None
    assert "You are not signed in." in signed_in.get("/adobe/logout").get_data(as_text=True)


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
    signed_in: FlaskClient, standin: StandInAdobe, headers: dict[str, str], as_json: bool
) -> None:
    extra = {"Accept": "application/json"} if as_json else {}
    response = signed_in.post("/adobe/logout", headers={**headers, **extra})
    assert_clean_refusal(response, {403})
    assert stored_token(signed_in) is not None
    assert standin.revoke_calls() == []


def test_logout_with_a_login_as_token_and_hostile_origin_keeps_it(client: FlaskClient) -> None:
    login_as(client)
    assert client.post("/adobe/logout", headers={"Origin": MARK}).status_code == 403
    assert stored_token(client) is not None
