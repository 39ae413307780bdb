"""The stand-in's OAuth Server-to-Server grant (``client_credentials``), over real HTTP.

Adobe Developer Console docs, guides/authentication/ServerToServerAuthentication/ims.md,
"Fetching access tokens": ``POST /ims/token/v3`` with ``grant_type=client_credentials``,
``client_id``, ``client_secret`` and comma-separated ``scope``; the answer is
``{"access_token", "token_type": "bearer", "expires_in": 86399}`` (seconds), no
refresh token.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
import requests

from flask_adobe_oauth.testing import StandInAdobe

from .test_analytics_standin import EXAMPLE, headers, report_body, reports_url

ANALYTICS_SCOPES = (
    "openid,AdobeID,read_organizations,additional_info.projectedProductContext,additional_info.job_function"
)


def mint(
    standin: StandInAdobe,
    *,
    scope: str | None = ANALYTICS_SCOPES,
    secret: str | None = None,
    auth: str = "post",
    version: str = "v3",
) -> requests.Response:
    """A client_credentials token request, the client authenticated in the body
    (``post``, as Adobe's docs show) or with HTTP Basic (``basic``)."""
    form: dict[str, str] = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    sent_secret = standin.client_secret if secret is None else secret
    request_headers: dict[str, str] = {}
    if auth == "post":
        form.update(client_id=standin.client_id, client_secret=sent_secret)
    else:
        pair = f"{standin.client_id}:{sent_secret}".encode()
        request_headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    return requests.post(f"{standin.url}/ims/token/{version}", data=form, headers=request_headers, timeout=10)


def service_token(standin: StandInAdobe) -> str:
    response = mint(standin)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def claims(token: str) -> Any:
    """The payload of one of the stand-in's JWT-shaped access tokens."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


# -- the answer -------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["post", "basic"])
def test_a_good_mint_has_adobes_shape(standin: StandInAdobe, auth: str) -> None:
    response = mint(standin, auth=auth)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}  # no refresh_token, no id_token
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 86399 and isinstance(body["expires_in"], int)  # seconds
    assert standin.is_valid_access_token(body["access_token"])
    (call,) = standin.token_calls()
    assert call.grant_type == "client_credentials"
    assert call.client_auth == f"client_secret_{auth}"
    assert call.status == 200


def test_expires_in_is_the_access_token_lifetime_in_seconds(standin: StandInAdobe) -> None:
    standin.state.access_token_lifetime = 90
    assert mint(standin).json()["expires_in"] == 90


def test_v1_answers_in_milliseconds(standin: StandInAdobe) -> None:
    body = mint(standin, version="v1").json()
    assert body["expires_in"] == 86399 * 1000
    assert "refresh_token" not in body and "id_token" not in body


def test_the_legacy_token_endpoint_has_no_client_credentials(standin: StandInAdobe) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": standin.client_id,
        "client_secret": standin.client_secret,
        "scope": ANALYTICS_SCOPES,
    }
    response = requests.post(f"{standin.url}/token", data=form, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_the_token_acts_as_the_credentials_technical_account(standin: StandInAdobe) -> None:
    first, second = service_token(standin), service_token(standin)
    account = standin.state.user_for(first)
    assert account is not None
    assert account.sub.endswith("@techacct.adobe.com") and account.email.endswith("@techacct.adobe.com")
    assert account.name == "Technical account"
    assert account.org_id == standin.state.user.org_id
    assert account.sub != standin.state.user.sub
    assert standin.state.user_for(second) == account  # the same account at every mint
    assert claims(first)["user_id"] == account.sub
    assert claims(first)["scope"] == ANALYTICS_SCOPES


@pytest.mark.parametrize(
    "scope",
    [
        "openid,AdobeID,read_organizations",
        "openid AdobeID read_organizations",
        "openid, AdobeID, read_organizations",
    ],
)
def test_comma_and_space_separated_scopes(standin: StandInAdobe, scope: str) -> None:
    response = mint(standin, scope=scope)
    assert response.status_code == 200, response.text
    assert claims(response.json()["access_token"])["scope"] == "openid,AdobeID,read_organizations"


# -- refusals ---------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["post", "basic"])
def test_a_wrong_secret_is_invalid_client(standin: StandInAdobe, auth: str) -> None:
    response = mint(standin, secret="not-the-secret", auth=auth)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert standin.token_calls()[0].status == 401


def test_an_unknown_client_is_invalid_client(standin: StandInAdobe) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": "someone-else",
        "client_secret": standin.client_secret,
        "scope": "openid",
    }
    response = requests.post(f"{standin.url}/ims/token/v3", data=form, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("scope", ["openid,AdobeID,manage_client_secrets", "offline_access", "openid bogus"])
def test_a_scope_the_credential_lacks_is_invalid_scope(standin: StandInAdobe, scope: str) -> None:
    response = mint(standin, scope=scope)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_service_scopes_can_be_changed(standin: StandInAdobe) -> None:
    standin.state.service_scopes.append("manage_client_secrets")
    assert mint(standin, scope="openid,manage_client_secrets").status_code == 200
    standin.state.service_scopes = ["openid"]
    assert mint(standin, scope="openid,AdobeID").json()["error"] == "invalid_scope"


@pytest.mark.parametrize("scope", [None, "", " , "])
def test_scope_is_mandatory(standin: StandInAdobe, scope: str | None) -> None:
    response = mint(standin, scope=scope)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


# -- counting mints, faults ------------------------------------------------------------


def test_service_token_mints_counts_only_successes(standin: StandInAdobe) -> None:
    assert standin.service_token_mints() == 0
    service_token(standin)
    mint(standin, auth="basic")
    mint(standin, secret="wrong")
    mint(standin, scope="bogus")
    standin.fail_next_token(503)
    assert mint(standin).status_code == 503
    standin.mint_token(scope="openid offline_access")  # a user's token: not a mint
    assert standin.service_token_mints() == 2
    assert [c.grant_type for c in standin.token_calls()] == ["client_credentials"] * 5
    assert [c.status for c in standin.token_calls()] == [200, 200, 401, 400, 503]


def test_lasting_faults_apply_to_client_credentials(standin: StandInAdobe) -> None:
    standin.fail_calls(502, count=1, endpoints=["token"])
    assert mint(standin).status_code == 502
    standin.slow_down(0.3, endpoints=["token"])
    started = time.monotonic()
    assert mint(standin).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert [c.status for c in standin.token_calls()] == [502, 200]
    assert [c.grant_type for c in standin.token_calls()] == ["client_credentials"] * 2
    assert standin.service_token_mints() == 1


# -- the token at Analytics ---------------------------------------------------------


def test_a_service_token_works_at_discovery_and_reports(standin: StandInAdobe) -> None:
    token = service_token(standin)
    me = requests.get(f"{standin.url}/discovery/me", headers=headers(standin, token, None), timeout=10)
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["imsUserId"].endswith("@techacct.adobe.com")
    assert [org["imsOrgId"] for org in body["imsOrgs"]] == [standin.state.user.org_id]
    assert EXAMPLE.global_company_id in [c["globalCompanyId"] for c in body["imsOrgs"][0]["companies"]]
    report = requests.post(
        reports_url(standin), json=report_body(), headers=headers(standin, token), timeout=10
    )
    assert report.status_code == 200, report.text
    assert len(report.json()["rows"]) == 7


def test_an_expired_service_token_is_refused_then_a_new_one_works(standin: StandInAdobe) -> None:
    token = service_token(standin)
    standin.expire_access_tokens()
    refused = requests.post(
        reports_url(standin), json=report_body(), headers=headers(standin, token), timeout=10
    )
    assert refused.status_code == 401
    assert refused.json() == {"error_code": "401013", "message": "Oauth token is not valid"}
    assert not standin.is_valid_access_token(token)
    fresh = service_token(standin)
    again = requests.post(
        reports_url(standin), json=report_body(), headers=headers(standin, fresh), timeout=10
    )
    assert again.status_code == 200
    assert standin.service_token_mints() == 2
