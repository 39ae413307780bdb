"""The stand-in's users in organisations, over real HTTP: IMS's profile
(``/ims/profile/v1``) and what each scope adds to it, userinfo agreeing with
it, Analytics' ``/discovery/me`` listing the orgs where the profile shows
Analytics, and how a test chooses who signs in next.

The four users are :func:`~flask_adobe_oauth.testing.example_users`: a
member of org A (the default user), an outsider in org B, a user of both,
and a user of org A without the Analytics product.
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from flask import Flask, jsonify

from flask_adobe_oauth import adobe, adobe_login_required
from flask_adobe_oauth.testing import ProductContext, Role, StandInAdobe, User, example_users, login_as
from flask_adobe_oauth.testing.analytics import OTHER_ORG_COMPANIES, Company, Suite
from flask_adobe_oauth.testing.state import (
    ANALYTICS_SERVICE_CODE,
    DEFAULT_ORG_ID,
    OTHER_ORG_ID,
    PRODUCT_CONTEXT_SCOPE,
    ROLES_SCOPE,
)

from .helpers import make_app, stored_token

ORG_A, ORG_B = DEFAULT_ORG_ID, OTHER_ORG_ID
#: What Adobe lists for Analytics (Developer Console docs, User Authentication, "Scopes").
ANALYTICS_SCOPE = "openid,AdobeID,read_organizations,additional_info.projectedProductContext"
ALL_SCOPES = f"{ANALYTICS_SCOPE},{ROLES_SCOPE},additional_info.job_function"
#: The keys every profile has, whatever the scope (Adobe's ImsProfile).
BASE_KEYS = {
    "userId",
    "authId",
    "email",
    "emailVerified",
    "name",
    "displayName",
    "first_name",
    "last_name",
    "account_type",
    "countryCode",
    "preferred_languages",
}
[GLOBEX] = OTHER_ORG_COMPANIES


@pytest.fixture
def users() -> dict[str, User]:
    return example_users()


@pytest.fixture
def standin(users: dict[str, User]) -> Any:
    with StandInAdobe(users=list(users.values())) as server:
        yield server


def token_of(standin: StandInAdobe, user: User, scope: str = ALL_SCOPES) -> str:
    return str(standin.mint_token(scope=scope, user_id=user.sub)["access_token"])


def profile(standin: StandInAdobe, token: str, **params: str) -> requests.Response:
    return requests.get(
        standin.profile_url, params=params, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )


def discovery(standin: StandInAdobe, token: str) -> requests.Response:
    sent = {"Authorization": f"Bearer {token}", "x-api-key": standin.client_id}
    return requests.get(f"{standin.url}/discovery/me", headers=sent, timeout=10)


def analytics_orgs(body: dict[str, Any]) -> list[str]:
    """The orgs a profile shows Analytics in."""
    return [
        c["prodCtx"]["owningEntity"]
        for c in body["projectedProductContext"]
        if c["prodCtx"]["serviceCode"] == ANALYTICS_SERVICE_CODE
    ]


# -- the profile of each user -----------------------------------------------------------


def test_the_profile_url_is_the_standins_ims_profile_endpoint(standin: StandInAdobe) -> None:
    assert standin.profile_url == standin.url + "/ims/profile/v1"
    assert standin.options()["profile_url"] == standin.profile_url
    assert standin.config()["ADOBE_OAUTH_PROFILE_URL"] == standin.profile_url
    assert "profile_url" not in standin.options("legacy")


def test_a_members_profile_in_adobes_shape(standin: StandInAdobe, users: dict[str, User]) -> None:
    member = users["member"]
    response = profile(standin, token_of(standin, member), client_id=standin.client_id)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == BASE_KEYS | {"projectedProductContext", "roles", "job_function"}
    assert (body["userId"], body["email"], body["emailVerified"], body["name"]) == (
        member.sub,
        member.email,
        True,
        member.name,
    )
    assert (body["first_name"], body["last_name"], body["displayName"]) == ("Ada", "Analyst", "Ada Analyst")
    [context] = body["projectedProductContext"]
    assert set(context) == {"prodCtx"}
    ctx = context["prodCtx"]
    assert (ctx["serviceCode"], ctx["owningEntity"], ctx["label"], ctx["statusCode"]) == (
        ANALYTICS_SERVICE_CODE,
        ORG_A,
        "Adobe Analytics",
        "ACTIVE",
    )
    assert set(ctx) >= {"ident", "groupid", "serviceLevel", "createDts", "modDts"}
    assert len(ctx["ident"]) == 26 and ctx["ident"].isalnum() and ctx["ident"].isupper()
    assert isinstance(ctx["createDts"], int) and isinstance(ctx["modDts"], int)
    assert body["roles"] == [] and body["job_function"] is None
    # The same facts as userinfo, in its names.
    info = requests.get(
        f"{standin.url}/ims/userinfo/v2",
        headers={"Authorization": f"Bearer {token_of(standin, member)}"},
        timeout=10,
    ).json()
    assert (info["sub"], info["email"], info["email_verified"], info["name"]) == (
        body["userId"],
        body["email"],
        body["emailVerified"],
        body["name"],
    )
    assert (info["given_name"], info["family_name"], info["account_type"]) == (
        body["first_name"],
        body["last_name"],
        body["account_type"],
    )


def test_an_outsiders_profile_names_only_the_other_org(standin: StandInAdobe, users: dict[str, User]) -> None:
    body = profile(standin, token_of(standin, users["outsider"])).json()
    assert body["userId"] == users["outsider"].sub
    assert [c["prodCtx"]["owningEntity"] for c in body["projectedProductContext"]] == [ORG_B]
    assert ORG_A not in str(body)


def test_a_two_org_users_profile_has_a_context_in_each_and_their_role(
    standin: StandInAdobe, users: dict[str, User]
) -> None:
    both = users["both"]
    body = profile(standin, token_of(standin, both)).json()
    assert analytics_orgs(body) == [ORG_A, ORG_B]
    idents = {c["prodCtx"]["ident"] for c in body["projectedProductContext"]}
    assert len(idents) == 2  # a product profile of each org, each its own
    [role] = body["roles"]
    assert role["principal"].startswith(ORG_B + ":")
    assert {k: v for k, v in role.items() if k != "principal"} == {
        "organization": ORG_B,
        "named_role": "org_admin",
        "target": ORG_B,
        "target_type": "TRG_ORG",
        "target_data": {},
    }


def test_a_user_without_analytics_has_only_their_other_product(
    standin: StandInAdobe, users: dict[str, User]
) -> None:
    body = profile(standin, token_of(standin, users["no_analytics"])).json()
    assert [
        (c["prodCtx"]["serviceCode"], c["prodCtx"]["owningEntity"]) for c in body["projectedProductContext"]
    ] == [("dma_tartan", ORG_A)]
    assert analytics_orgs(body) == []


# -- what each scope adds -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "added"),
    [
        ("openid,AdobeID", set()),
        ("openid AdobeID email profile", set()),
        (f"openid,{PRODUCT_CONTEXT_SCOPE}", {"projectedProductContext"}),
        (f"openid,{ROLES_SCOPE}", {"roles"}),
        ("openid additional_info.job_function", {"job_function"}),
        (ALL_SCOPES, {"projectedProductContext", "roles", "job_function"}),
    ],
)
def test_each_scope_adds_its_part_of_the_profile(
    standin: StandInAdobe, users: dict[str, User], scope: str, added: set[str]
) -> None:
    body = profile(standin, token_of(standin, users["both"], scope)).json()
    assert set(body) == BASE_KEYS | added


def test_the_job_function_is_the_users(standin: StandInAdobe) -> None:
    analyst = User(sub="JOB0@AdobeID", job_function="Marketing analyst")
    standin.add_user(analyst)
    body = profile(standin, token_of(standin, analyst, "openid,additional_info.job_function")).json()
    assert body["job_function"] == "Marketing analyst"


# -- refused tokens ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Bearer not-a-token-of-the-standin", "Basic dXNlcjpwYXNz", "bearer x y"],
)
def test_a_missing_or_invalid_token_is_a_401(standin: StandInAdobe, header: str | None) -> None:
    sent = {} if header is None else {"Authorization": header}
    response = requests.get(standin.profile_url, headers=sent, timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.headers["Cache-Control"] == "no-store"


def test_an_expired_or_revoked_token_is_a_401(standin: StandInAdobe, users: dict[str, User]) -> None:
    expiring, revoked = token_of(standin, users["member"]), token_of(standin, users["member"])
    assert profile(standin, expiring).status_code == 200
    standin.state.revoke(revoked)
    assert profile(standin, revoked).status_code == 401
    standin.expire_access_tokens()
    assert profile(standin, expiring).status_code == 401
    assert profile(standin, token_of(standin, users["member"])).status_code == 200  # a new one is fine


def test_a_refresh_token_is_no_access_token(standin: StandInAdobe) -> None:
    refresh = standin.mint_token(scope="openid,offline_access")["refresh_token"]
    assert profile(standin, refresh).status_code == 401


def test_the_profile_fails_with_userinfo(standin: StandInAdobe, users: dict[str, User]) -> None:
    token = token_of(standin, users["member"])
    standin.fail_calls(503, count=1, endpoints="userinfo")
    assert profile(standin, token).status_code == 503
    assert profile(standin, token).status_code == 200


# -- /discovery/me agrees with the profile ------------------------------------------------------


@pytest.mark.parametrize("name", ["member", "outsider", "both"])
def test_discovery_lists_the_orgs_the_profile_shows_analytics_in(
    standin: StandInAdobe, users: dict[str, User], name: str
) -> None:
    token = token_of(standin, users[name])
    shown = profile(standin, token).json()
    found = discovery(standin, token)
    assert found.status_code == 200
    body = found.json()
    assert body["imsUserId"] == shown["userId"]
    assert [org["imsOrgId"] for org in body["imsOrgs"]] == analytics_orgs(shown)
    companies = {org["imsOrgId"]: [c["globalCompanyId"] for c in org["companies"]] for org in body["imsOrgs"]}
    expected = {
        "member": {ORG_A: ["exampl0", "acmeout1"]},
        "outsider": {ORG_B: ["globex0"]},
        "both": {ORG_A: ["exampl0", "acmeout1"], ORG_B: ["globex0"]},
    }
    assert companies == expected[name]


def test_a_user_without_analytics_is_refused_403025_everywhere(
    standin: StandInAdobe, users: dict[str, User]
) -> None:
    token = token_of(standin, users["no_analytics"])
    sent = {"Authorization": f"Bearer {token}", "x-api-key": standin.client_id}
    answers = [
        discovery(standin, token),
        requests.get(
            f"{standin.url}/api/exampl0/reportsuites/collections/suites",
            headers={**sent, "x-proxy-global-company-id": "exampl0"},
            timeout=10,
        ),
    ]
    for answer in answers:
        assert (answer.status_code, answer.json()) == (
            403,
            {"error_code": "403025", "message": "Profile is not valid"},
        )


def test_users_without_profile_lose_analytics_in_the_profile_too(
    standin: StandInAdobe, users: dict[str, User]
) -> None:
    both = users["both"]
    token = token_of(standin, both)
    standin.analytics.users_without_profile.add(both.sub)
    assert analytics_orgs(profile(standin, token).json()) == []
    assert discovery(standin, token).json()["error_code"] == "403025"
    standin.analytics.users_without_profile.clear()
    assert analytics_orgs(profile(standin, token).json()) == [ORG_A, ORG_B]
    assert discovery(standin, token).status_code == 200


def test_a_company_of_another_org_is_not_the_users(standin: StandInAdobe, users: dict[str, User]) -> None:

    def suites(user: User, gcid: str) -> int:
        sent = {
            "Authorization": f"Bearer {token_of(standin, user)}",
            "x-api-key": standin.client_id,
            "x-proxy-global-company-id": gcid,
        }
        url = f"{standin.url}/api/{gcid}/reportsuites/collections/suites"
        return requests.get(url, headers=sent, timeout=10).status_code

    assert (suites(users["member"], "globex0"), suites(users["member"], "exampl0")) == (403, 200)
    assert (suites(users["outsider"], "exampl0"), suites(users["outsider"], "globex0")) == (403, 200)
    assert (suites(users["both"], "exampl0"), suites(users["both"], "globex0")) == (200, 200)


def test_analytics_only_in_the_second_org_lists_that_org_alone(standin: StandInAdobe) -> None:
    partly = User(
        sub="PARTLY0@AdobeID",
        orgs=[ORG_A, ORG_B],
        product_contexts=[
            ProductContext(ORG_A, "dma_tartan", "Adobe Marketing Cloud"),
            ProductContext.analytics(ORG_B),
        ],
    )
    standin.add_user(partly)
    token = token_of(standin, partly)
    assert analytics_orgs(profile(standin, token).json()) == [ORG_B]
    body = discovery(standin, token).json()
    assert [(o["imsOrgId"], [c["globalCompanyId"] for c in o["companies"]]) for o in body["imsOrgs"]] == [
        (ORG_B, ["globex0"])
    ]


def test_companies_of_no_org_are_in_the_users_own_org(standin: StandInAdobe, users: dict[str, User]) -> None:
    # As before users had organisations: a user of any org sees them, unless
    # that org has companies of its own.
    elsewhere = User(sub="ELSEWHERE0@AdobeID", org_id="0123456789ABCDEF01234567@AdobeOrg")
    standin.add_user(elsewhere)

    def listed(user: User) -> list[tuple[str, list[str]]]:
        body = discovery(standin, token_of(standin, user)).json()
        return [(o["imsOrgId"], [c["globalCompanyId"] for c in o["companies"]]) for o in body["imsOrgs"]]

    assert listed(elsewhere) == [(elsewhere.org_id, ["exampl0", "acmeout1"])]
    assert listed(users["outsider"]) == [(ORG_B, ["globex0"])]
    standin.analytics.companies = (Company("bigco0", "Big Corp", (Suite("big.web", "Big — Web"),)),)
    assert listed(elsewhere) == [(elsewhere.org_id, ["bigco0"])]
    assert listed(users["outsider"]) == [(ORG_B, ["bigco0"])]  # org B has no company of its own now
    assert listed(users["both"]) == [(ORG_A, ["bigco0"]), (ORG_B, [])]


# -- users, and who signs in next -----------------------------------------------------------


def test_user_keeps_its_old_constructor_and_gains_orgs() -> None:
    plain = User()
    assert (plain.org_id, plain.orgs, plain.email_verified) == (ORG_A, [ORG_A], True)
    assert [(c.service_code, c.owning_entity) for c in plain.contexts()] == [(ANALYTICS_SERVICE_CODE, ORG_A)]
    assert User(org_id=ORG_B).orgs == [ORG_B]
    assert User(orgs=[ORG_B, ORG_A]).org_id == ORG_B
    assert User(org_id=ORG_A, orgs=[ORG_B, ORG_A]).member_of == [ORG_B, ORG_A]
    assert (
        User(sub="X@AdobeID", email="x@example.com", name="X Y", org_id=ORG_B).userinfo()["sub"]
        == "X@AdobeID"
    )
    assert User(product_contexts=[]).contexts() == []
    with pytest.raises(ValueError, match="not one of orgs"):
        User(org_id=ORG_A, orgs=[ORG_B])
    with pytest.raises(ValueError, match="product context"):
        User(product_contexts=[ProductContext.analytics(ORG_B)])
    with pytest.raises(ValueError, match="role"):
        User(roles=[Role(ORG_B)])


def test_the_standin_knows_its_users(users: dict[str, User]) -> None:
    with StandInAdobe(users=[users["outsider"], users["both"]]) as standin:
        assert standin.state.user is users["outsider"]  # the first signs in unless user= says
        assert [u.sub for u in standin.users] == [users["outsider"].sub, users["both"].sub]
        standin.state.user = users["member"]  # whoever state.user is set to becomes known
        assert users["member"] in standin.users
    with StandInAdobe(user=users["both"], users=[users["member"]]) as standin:
        assert standin.state.user is users["both"]
        assert {u.sub for u in standin.users} == {users["both"].sub, users["member"].sub}


def _profile_app(standin: StandInAdobe) -> Flask:
    app = make_app(standin, scope=ALL_SCOPES.split(","))

    @app.get("/profile")
    @adobe_login_required
    def whose() -> Any:
        return jsonify(adobe.session.get(standin.profile_url).json())

    return app


def test_sign_in_as_a_user_signs_that_user_in(standin: StandInAdobe, users: dict[str, User]) -> None:
    client = _profile_app(standin).test_client()
    assert standin.sign_in(client, user=users["outsider"]).status_code == 302
    assert stored_token(client)["u"] == users["outsider"].sub
    body = client.get("/profile").json
    assert (body["userId"], analytics_orgs(body)) == (users["outsider"].sub, [ORG_B])
    # state.user is who the stand-in's browser is signed in as: the next sign-in too.
    other = _profile_app(standin).test_client()
    assert standin.sign_in(other).status_code == 302
    assert stored_token(other)["u"] == users["outsider"].sub
    # Setting state.user chooses the next one, as before.
    standin.state.user = users["both"]
    assert standin.sign_in(other).status_code == 302
    assert analytics_orgs(other.get("/profile").json) == [ORG_A, ORG_B]


def test_login_as_a_known_user_id_is_that_user(standin: StandInAdobe, users: dict[str, User]) -> None:
    client = _profile_app(standin).test_client()
    login_as(client, user_id=users["both"].sub)
    body = client.get("/profile").json
    assert (body["userId"], body["email"], analytics_orgs(body)) == (
        users["both"].sub,
        users["both"].email,
        [ORG_A, ORG_B],
    )
    login_as(client, user_id="STRANGER0@AdobeID")  # unknown: a new user in org A, as before
    body = client.get("/profile").json
    assert (body["userId"], body["email"], analytics_orgs(body)) == (
        "STRANGER0@AdobeID",
        "stranger0@example.com",
        [ORG_A],
    )


def test_the_extensions_rules_read_the_standins_profile(
    standin: StandInAdobe, users: dict[str, User]
) -> None:
    # The contract with the extension's side of "who may enter": its
    # allowed_orgs / required_products decide from this profile at the callback.
    app = make_app(standin, allowed_orgs=[ORG_A], required_products=[ANALYTICS_SERVICE_CODE])
    answers = {
        name: standin.sign_in(app.test_client(), user=user).status_code for name, user in users.items()
    }
    assert answers == {"member": 302, "outsider": 403, "both": 302, "no_analytics": 403}
