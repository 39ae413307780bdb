"""Who may enter (issue 24): the blueprint's rules decide at the callback,
from the user's Adobe profile as the stand-in serves it over real HTTP.

Four users (``example_users()``): ``member`` (org A, Analytics), ``outsider``
(org B), ``both`` (orgs A and B), ``no_analytics`` (org A, another product).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import urllib3
from flask import Flask, jsonify
from markupsafe import escape
from requests.adapters import HTTPAdapter

from flask_adobe_oauth import (
    ConfigurationError,
    adobe,
    adobe_for,
    adobe_login_required,
    login_failed,
    make_adobe_blueprint,
)
from flask_adobe_oauth.errors import NotAllowed
from flask_adobe_oauth.extension import get_runtime
from flask_adobe_oauth.testing import StandInAdobe, User, example_users
from flask_adobe_oauth.testing.state import DEFAULT_ORG_ID as ORG_A
from flask_adobe_oauth.testing.state import OTHER_ORG_ID as ORG_B
from flask_adobe_oauth.tokens import Token

from .helpers import SECRET_KEY, assert_clean_refusal, make_app, store_expired, stored_token

ANALYTICS = "dma_analytics"


@pytest.fixture
def users() -> dict[str, User]:
    return example_users()


@pytest.fixture
def standin(users: dict[str, User]) -> Iterator[StandInAdobe]:
    with StandInAdobe(users=list(users.values())) as server:
        yield server


def org_app(standin: StandInAdobe, **options: Any) -> Flask:
    app = make_app(standin, **options)

    @app.get("/where")
    @adobe_login_required
    def where() -> Any:
        token = adobe.token
        assert token is not None
        return jsonify(orgs=sorted(token.orgs), products=sorted(token.products), org=adobe.org_id)

    @app.get("/b-only")
    @adobe_login_required(orgs=[ORG_B])
    def b_only() -> Any:
        return "org B's page"

    @app.get("/tartan")
    @adobe_login_required(products=["dma_tartan"])
    def tartan() -> Any:
        return "tartan"

    return app


def test_a_member_is_admitted_with_the_orgs_and_products_kept(
    standin: StandInAdobe, users: dict[str, User]
) -> None:
    app = org_app(standin, allowed_orgs=[ORG_A], required_products=[ANALYTICS])
    client = app.test_client()
    answer = standin.sign_in(client, user=users["member"], next_url="/where")
    assert answer.status_code == 302 and answer.headers["Location"] == "/where"
    assert client.get("/where").json == {"orgs": [ORG_A], "products": [ANALYTICS], "org": ORG_A}
    assert stored_token(client)["o"] == ORG_A  # kept with the token: no profile call per request


@pytest.mark.parametrize(
    ("who", "options"),
    [
        ("outsider", {"allowed_orgs": [ORG_A]}),
        ("no_analytics", {"allowed_orgs": [ORG_A], "required_products": [ANALYTICS]}),
        ("member", {"allowed_email_domains": ["example.org"]}),
        ("member", {"authorize": lambda identity: "Only analysts of the EMEA team may look."}),
        ("member", {"authorize": lambda identity: False}),
    ],
    ids=["outsider", "without-the-product", "e-mail-domain", "own-rule-with-reason", "own-rule"],
)
def test_a_user_the_rules_refuse_gets_a_403_page_nothing_stored_tokens_revoked(
    standin: StandInAdobe, users: dict[str, User], who: str, options: dict[str, Any]
) -> None:
    app = org_app(standin, **options)
    refused: list[Any] = []
    login_failed.connect(lambda sender, **extra: refused.append(extra["error"]), app, weak=False)
    client = app.test_client()
    answer = standin.sign_in(client, user=users[who], next_url="/where")
    assert answer.status_code == 403
    assert_clean_refusal(answer, {403})
    assert b"This Adobe account can\xe2\x80\x99t use this site" in answer.data
    assert b"not one of them" in answer.data  # the page says the account is not the organisation's
    assert stored_token(client) is None
    assert client.get("/where").status_code == 302  # still signed out
    (error,) = refused
    assert isinstance(error, NotAllowed) and str(escape(error.reason)) in answer.get_data(as_text=True)
    if "authorize" in options and options["authorize"](None):
        assert "EMEA team" in error.reason
    # The refused sign-in is revoked at Adobe: its refresh token, which ends its
    # access tokens too (RFC 7009 §2.1).
    (revoke,) = standin.revoke_calls()
    assert revoke.form["token_type_hint"] == "refresh_token" and standin.is_revoked(revoke.form["token"])


def test_an_outsider_is_refused_as_json_for_an_api_client(
    standin: StandInAdobe, users: dict[str, User]
) -> None:
    app = org_app(standin, allowed_orgs=[ORG_A])
    client = app.test_client()
    standin.state.user = users["outsider"]
    from .helpers import authorize, local, start_login

    callback = authorize(start_login(client))
    answer = client.get(local(callback), headers={"Accept": "application/json"})
    assert answer.status_code == 403
    assert answer.json["error"] == "not_allowed"


def test_an_email_domain_admits_only_a_verified_address(
    standin: StandInAdobe, users: dict[str, User]
) -> None:
    app = org_app(standin, allowed_email_domains=["Example.COM"])
    assert standin.sign_in(app.test_client(), user=users["member"]).status_code == 302
    users["member"].email_verified = False
    assert standin.sign_in(app.test_client(), user=users["member"]).status_code == 403


def test_the_apps_rule_sees_what_adobe_said(standin: StandInAdobe, users: dict[str, User]) -> None:
    seen: list[Any] = []

    def rule(identity: Any) -> bool:
        seen.append(identity)
        return True

    app = org_app(standin, authorize=rule)
    assert standin.sign_in(app.test_client(), user=users["both"]).status_code == 302
    (identity,) = seen
    assert identity.user_id == users["both"].sub and identity.email == users["both"].email
    assert identity.orgs == {ORG_A, ORG_B} and (ORG_B, ANALYTICS) in identity.products
    assert identity.email_verified is True and identity.profile["name"] == users["both"].name


def test_a_member_removed_from_the_org_is_refused_at_the_next_refresh(
    standin: StandInAdobe, users: dict[str, User]
) -> None:
    app = org_app(standin, allowed_orgs=[ORG_A])
    client = app.test_client()
    assert standin.sign_in(client, user=users["member"]).status_code == 302
    assert client.get("/where").status_code == 200
    profile_reads = len([c for c in standin.calls if c.path.endswith("/profile/v1")])
    for _ in range(3):  # while the access token lives, no profile call per request
        assert client.get("/where").status_code == 200
    assert len([c for c in standin.calls if c.path.endswith("/profile/v1")]) == profile_reads
    # An administrator moves the user out of org A; the access token expires.
    standin.add_user(User(sub=users["member"].sub, email=users["member"].email, org_id=ORG_B))
    store_expired(client, Token.from_dict(stored_token(client)))
    answer = client.get("/where")
    assert answer.status_code == 403 and b"not one of them" in answer.data
    assert stored_token(client) is None
    assert client.get("/where").status_code == 302  # signed out: the next visit signs in again


def test_a_member_still_in_the_org_stays_signed_in_across_a_refresh(
    standin: StandInAdobe, users: dict[str, User]
) -> None:
    app = org_app(standin, allowed_orgs=[ORG_A])
    client = app.test_client()
    standin.sign_in(client, user=users["member"])
    first = stored_token(client)["a"]
    store_expired(client, Token.from_dict(stored_token(client)))
    assert client.get("/where").json["orgs"] == [ORG_A]
    assert stored_token(client)["a"] != first  # refreshed, and admitted again


def test_a_view_narrows_the_blueprints_rule(standin: StandInAdobe, users: dict[str, User]) -> None:
    app = org_app(standin, allowed_orgs=[ORG_A, ORG_B])
    member, both = app.test_client(), app.test_client()
    standin.sign_in(member, user=users["member"])
    standin.sign_in(both, user=users["both"])
    both.post("/adobe/org", data={"org": ORG_A})
    refused = member.get("/b-only")
    assert refused.status_code == 403 and b"another Adobe organisation" in refused.data
    assert member.get("/b-only", headers={"Accept": "application/json"}).json["error"] == "not_allowed"
    assert both.get("/b-only").data == b"org B's page"
    assert member.get("/tartan").status_code == 403  # no such product


def test_narrowing_a_blueprint_without_a_rule_names_the_setting(
    standin: StandInAdobe, users: dict[str, User]
) -> None:
    app = org_app(standin)
    client = app.test_client()
    standin.sign_in(client, user=users["member"])
    answer = client.get("/b-only")
    assert answer.status_code == 500 and b"ADOBE_OAUTH_ALLOWED_ORGS" in answer.data
    assert client.get("/where").status_code == 200  # the unnarrowed views still work


def test_a_user_of_two_orgs_chooses_one_after_signing_in(
    standin: StandInAdobe, users: dict[str, User]
) -> None:
    app = org_app(standin, allowed_orgs=[ORG_A, ORG_B])
    client = app.test_client()
    answer = standin.sign_in(client, user=users["both"], next_url="/where")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/adobe/org?next=")
    picker = client.get(answer.headers["Location"])
    assert picker.status_code == 200
    assert ORG_A.encode() in picker.data and ORG_B.encode() in picker.data
    assert picker.headers["Cache-Control"] == "no-store"
    assert client.get("/where").json["org"] is None  # not chosen yet
    cross = client.post(
        "/adobe/org?next=/where", data={"org": ORG_B}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 403 and client.get("/where").json["org"] is None
    foreign = client.post("/adobe/org?next=/where", data={"org": "0000@AdobeOrg"})
    assert foreign.status_code == 403
    chosen = client.post("/adobe/org?next=/where", data={"org": ORG_B})
    assert chosen.status_code == 303 and chosen.headers["Location"] == "/where"
    assert client.get("/where").json["org"] == ORG_B
    client.post("/adobe/logout")
    assert client.get("/adobe/org").status_code == 302  # signed out: to the sign-in


def test_a_user_of_one_allowed_org_is_not_asked(standin: StandInAdobe, users: dict[str, User]) -> None:
    app = org_app(standin, allowed_orgs=[ORG_B])
    client = app.test_client()
    answer = standin.sign_in(client, user=users["both"], next_url="/where")
    assert answer.headers["Location"] == "/where"
    assert client.get("/where").json == {"orgs": [ORG_B], "products": [ANALYTICS], "org": ORG_B}


def test_a_failed_profile_read_is_a_502_with_nothing_stored(
    standin: StandInAdobe, users: dict[str, User]
) -> None:
    app = org_app(standin, allowed_orgs=[ORG_A])
    client = app.test_client()
    standin.fail_calls(500, endpoints="userinfo")  # the profile fails with userinfo on the stand-in
    answer = standin.sign_in(client, user=users["member"])
    assert answer.status_code == 502
    assert stored_token(client) is None
    assert len(standin.revoke_calls()) == 1


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"allowed_orgs": ["not-an-org"]}, "ADOBE_OAUTH_ALLOWED_ORGS"),
        ({"allowed_orgs": 5}, "ADOBE_OAUTH_ALLOWED_ORGS"),
        ({"required_products": ["bad code!"]}, "ADOBE_OAUTH_REQUIRED_PRODUCTS"),
        ({"allowed_email_domains": ["not a domain"]}, "ADOBE_OAUTH_ALLOWED_EMAIL_DOMAINS"),
        ({"authorize": "yes"}, "ADOBE_OAUTH_AUTHORIZE"),
    ],
)
def test_bad_rules_are_refused_at_registration_naming_the_key(
    standin: StandInAdobe, options: dict[str, Any], key: str
) -> None:
    with pytest.raises(ConfigurationError, match=key):
        make_app(standin, **options)


def test_the_orgs_come_from_the_config_too(standin: StandInAdobe, users: dict[str, User]) -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET_KEY, **standin.config(), ADOBE_OAUTH_ALLOWED_ORGS=f"{ORG_B}, {ORG_A}")
    app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")
    assert standin.sign_in(app.test_client(), user=users["outsider"]).status_code == 302
    app.config["ADOBE_OAUTH_ALLOWED_ORGS"] = ORG_A  # changed at run time: used from the next sign-in
    assert standin.sign_in(app.test_client(), user=users["outsider"]).status_code == 403


def test_orgs_need_a_profile_to_read_them(standin: StandInAdobe) -> None:
    with pytest.raises(ConfigurationError, match="ADOBE_OAUTH_PROFILE_URL"):
        make_app(standin, provider="legacy", allowed_orgs=[ORG_A])


def test_adobes_profile_endpoint_is_never_asked_about_another_servers_tokens(standin: StandInAdobe) -> None:
    """A stand-in (or another provider) without profile_url: the IMS preset's
    profile URL is not used, and the rules that need it say so at start-up."""
    options = {k: v for k, v in standin.options().items() if k != "profile_url"}
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET_KEY)
    with pytest.raises(ConfigurationError, match="ADOBE_OAUTH_PROFILE_URL"):
        app.register_blueprint(make_adobe_blueprint(**options, allowed_orgs=[ORG_A]), url_prefix="/adobe")


# -- several blueprints ----------------------------------------------------------------


def two_blueprint_app(standin: StandInAdobe) -> Flask:
    app = make_app(standin)  # the default blueprint, "adobe"
    app.register_blueprint(
        make_adobe_blueprint(name="adobe_admin", **standin.options()), url_prefix="/admin-auth"
    )

    @app.get("/admin")
    @adobe_login_required(blueprint="adobe_admin")
    def admin() -> Any:
        token = adobe.token  # inside a view guarded for adobe_admin: its sign-in
        assert token is not None
        return jsonify(user=token.user_id, same=adobe_for("adobe_admin").token == token)

    @app.get("/both")
    def both() -> Any:
        return jsonify(
            default=adobe_for("adobe").token is not None, admin=adobe_for("adobe_admin").token is not None
        )

    return app


def test_adobe_in_a_view_guarded_for_a_named_blueprint_is_that_blueprints(
    standin: StandInAdobe, users: dict[str, User]
) -> None:
    app = two_blueprint_app(standin)
    client = app.test_client()
    assert standin.sign_in(client, blueprint="adobe_admin", user=users["both"]).status_code == 302
    assert client.get("/admin").json == {"user": users["both"].sub, "same": True}
    assert client.get("/both").json == {"default": False, "admin": True}
    assert client.get("/dashboard").status_code == 302  # the default blueprint's login is another


# -- a sign-in that ran out: silently renewed first -------------------------------------------


def ran_out(client: Any) -> None:
    """The stored sign-in's access token expired and its refresh token is no
    longer good (IMS refresh tokens last 14 days)."""
    from flask_adobe_oauth.testing import login_as

    login_as(client, access_token="old-access", refresh_token="refresh-gone-at-adobe", expires_at=1.0)


def test_a_sign_in_that_ran_out_is_renewed_without_the_user_seeing_adobe(standin: StandInAdobe) -> None:
    app = org_app(standin)
    client = app.test_client()
    assert standin.sign_in(client).status_code == 302  # signed in at Adobe too
    ran_out(client)
    answer = client.get("/where?x=1")
    assert answer.status_code == 302
    location = answer.headers["Location"]
    query = parse_qs(urlsplit(location).query)
    assert location.startswith("/adobe/login?")
    assert query == {"next": ["/where?x=1"], "prompt": ["none"], "renew": ["1"]}
    authorize_url = client.get(location).headers["Location"]
    assert "prompt=none" in authorize_url
    from .helpers import authorize, local

    back = client.get(local(authorize(authorize_url)))  # no consent page: Adobe answered at once
    assert back.status_code == 302 and back.headers["Location"] == "/where?x=1"
    assert client.get("/where?x=1").status_code == 200


def test_when_adobe_needs_the_user_the_ordinary_sign_in_follows_to_the_same_page(
    standin: StandInAdobe,
) -> None:
    app = org_app(standin)
    client = app.test_client()
    standin.sign_in(client)
    ran_out(client)
    standin.state.signed_in = False  # signed out at Adobe meanwhile
    location = client.get("/where").headers["Location"]
    from .helpers import authorize, local

    back = client.get(local(authorize(client.get(location).headers["Location"])))
    assert back.status_code == 302  # Adobe answered error=login_required
    again = urlsplit(back.headers["Location"])
    assert (again.path, parse_qs(again.query)) == ("/adobe/login", {"next": ["/where"]})  # interactive now
    assert client.get("/where", headers={"Accept": "text/html"}).status_code == 302  # still signed out


def test_no_silent_sign_in_for_someone_never_signed_in_or_an_api_client(standin: StandInAdobe) -> None:
    app = org_app(standin)
    fresh = app.test_client()
    assert "prompt=none" not in fresh.get("/where").headers["Location"]
    api = app.test_client()
    standin.sign_in(api)
    ran_out(api)
    answer = api.get("/where", headers={"Accept": "application/json"})
    assert answer.status_code == 401 and answer.json["error"] == "login_required"


# -- the organisation on org-scoped APIs --------------------------------------------------------


class Recorder(HTTPAdapter):
    """A transport that records the requests sent to it and answers ``{}``:
    Adobe's CJA and Platform hosts are not reachable from the tests, and only
    the headers sent to them are in question here."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[requests.PreparedRequest] = []

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.seen.append(request)
        raw = urllib3.HTTPResponse(
            body=io.BytesIO(b"{}"),
            headers={"Content-Type": "application/json"},
            status=200,
            preload_content=False,
        )
        return self.build_response(request, raw)


def test_org_scoped_apis_get_the_users_organisation_and_others_do_not(
    standin: StandInAdobe, users: dict[str, User]
) -> None:
    app = org_app(standin, allowed_orgs=[ORG_A, ORG_B])

    @app.get("/call")
    @adobe_login_required
    def call() -> Any:
        adobe.session.get("https://cja.adobe.io/data/dataviews")
        adobe.session.get(
            "https://platform.adobe.io/data/foundation/catalog/dataSets",
            headers={"X-Gw-Ims-Org-Id": "mine@AdobeOrg"},
        )
        adobe.session.get("/discovery/me")  # Analytics: the stand-in, no org header
        return "ok"

    recorder = Recorder()
    runtime_session = get_runtime("adobe", app).api
    runtime_session.mount("https://cja.adobe.io/", recorder)
    runtime_session.mount("https://platform.adobe.io/", recorder)
    seen_by_standin: list[dict[str, str]] = []
    inner = standin.app.wsgi_app

    def record(environ: dict[str, Any], start_response: Any) -> Any:
        seen_by_standin.append({k: v for k, v in environ.items() if k.startswith("HTTP_")})
        return inner(environ, start_response)

    standin.app.wsgi_app = record
    client = app.test_client()
    standin.sign_in(client, user=users["both"])
    client.post("/adobe/org", data={"org": ORG_B})
    assert client.get("/call").data == b"ok"
    cja, platform = recorder.seen
    assert cja.headers["x-gw-ims-org-id"] == ORG_B
    assert platform.headers["x-gw-ims-org-id"] == "mine@AdobeOrg"  # the caller's own wins
    assert all("HTTP_X_GW_IMS_ORG_ID" not in headers for headers in seen_by_standin)
