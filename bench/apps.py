"""The three apps under test: this project, Flask-Dance and Authlib's Flask client.

Each app is configured the way its library's documentation shows, against the
same stand-in Adobe (same URLs, credentials, scope, PKCE S256, HTTP Basic
client authentication), and has the same routes:

* ``/bare``    — returns ``"ok"``, no login check;
* ``/session`` — returns ``"ok"`` after reading the session (the floor of any
  guard that keeps the token in Flask's session);
* ``/guarded`` — returns ``"ok"`` behind the library's login check;
* ``/api/one`` — one call to the stand-in's ``/ims/userinfo/v2`` as the user;
* ``/api/hundred`` — 100 such calls in one request;
* a login URL and a callback, as the library provides or documents them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, redirect, session, url_for

from flask_adobe_oauth import adobe, adobe_login_required, make_adobe_blueprint
from flask_adobe_oauth.testing import StandInAdobe

SECRET_KEY = "bench-secret-key-not-for-production"

#: The IMS scope every library asks for (this project's IMS default).
SCOPE = [
    "openid",
    "AdobeID",
    "read_organizations",
    "additional_info.projectedProductContext",
    "offline_access",
]

API_CALLS = 100


@dataclass
class Subject:
    """One library's app, and how the benchmarks drive it."""

    name: str
    app: Flask
    #: Where a browser is sent to start a login (what the library's guard redirects to).
    login_path: str
    #: Where a completed login lands.
    after_login: str
    #: True when the test client's session holds a token.
    has_token: Callable[[Any], bool]


def _base_app(name: str) -> Flask:
    app = Flask(f"bench_{name}")
    # Not TESTING: an exception in a view is a 500 answer, as in production.
    app.config.update(SECRET_KEY=SECRET_KEY, TESTING=False)
    # ... and is not logged: the parallel-tabs benchmark provokes Flask-Dance's
    # MismatchingStateError on purpose and reports the status codes instead.
    app.logger.setLevel(logging.CRITICAL)

    @app.get("/bare")
    def bare() -> Any:
        return "ok"

    @app.get("/session")
    def reads_session() -> Any:
        # Reading Flask's session costs something of its own (it adds
        # "Vary: Cookie"); every guard that keeps the token there pays it.
        session.get("-")
        return "ok"

    return app


def _session_has(client: Any, key: str) -> bool:
    with client.session_transaction() as sess:
        return key in sess


# -- this project -----------------------------------------------------------------


def ours(standin: StandInAdobe) -> Subject:
    app = _base_app("ours")
    app.register_blueprint(make_adobe_blueprint(**standin.options(), scope=SCOPE), url_prefix="/adobe")
    userinfo = f"{standin.url}/ims/userinfo/v2"

    @app.get("/guarded")
    @adobe_login_required
    def guarded() -> Any:
        return "ok"

    @app.get("/api/one")
    @adobe_login_required
    def api_one() -> Any:
        return adobe.session.get(userinfo).json()["sub"]

    @app.get("/api/hundred")
    @adobe_login_required
    def api_hundred() -> Any:
        for _ in range(API_CALLS):
            sub = adobe.session.get(userinfo).json()["sub"]
        return sub

    return Subject(
        "flask-adobe-oauth",
        app,
        # What @adobe_login_required sends a browser to from /guarded.
        login_path="/adobe/login?next=%2Fguarded",
        after_login="/guarded",
        has_token=lambda client: _session_has(client, "_ao_t"),
    )


# -- Flask-Dance --------------------------------------------------------------------


def flask_dance(standin: StandInAdobe) -> Subject:
    from flask_dance.consumer import OAuth2ConsumerBlueprint

    # oauthlib refuses http:// URLs unless told otherwise; the stand-in is on
    # 127.0.0.1 without TLS (as are the other two libraries' calls).
    os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    opts = standin.options()
    app = _base_app("flask_dance")
    bp = OAuth2ConsumerBlueprint(
        "adobe",
        __name__,
        client_id=opts["client_id"],
        client_secret=opts["client_secret"],
        base_url=standin.url,
        authorization_url=opts["authorize_url"],
        token_url=opts["token_url"],
        scope=SCOPE,
        use_pkce=True,
        redirect_url="/",
    )
    app.register_blueprint(bp, url_prefix="/login")
    userinfo = f"{standin.url}/ims/userinfo/v2"

    @app.get("/guarded")
    def guarded() -> Any:
        if not bp.session.authorized:
            return redirect(url_for("adobe.login"))
        return "ok"

    @app.get("/api/one")
    def api_one() -> Any:
        if not bp.session.authorized:
            return redirect(url_for("adobe.login"))
        return bp.session.get(userinfo).json()["sub"]

    @app.get("/api/hundred")
    def api_hundred() -> Any:
        if not bp.session.authorized:
            return redirect(url_for("adobe.login"))
        for _ in range(API_CALLS):
            sub = bp.session.get(userinfo).json()["sub"]
        return sub

    return Subject(
        "Flask-Dance",
        app,
        login_path="/login/adobe",
        after_login="/",
        has_token=lambda client: _session_has(client, "adobe_oauth_token"),
    )


# -- Authlib --------------------------------------------------------------------------


def authlib(standin: StandInAdobe) -> Subject:
    from authlib.integrations.flask_client import OAuth

    opts = standin.options()
    app = _base_app("authlib")
    # Authlib has no token storage: the documented pattern is a fetch_token
    # function reading wherever the app keeps it; here, the session.
    oauth = OAuth(app, fetch_token=lambda name: session.get(f"{name}_token"))
    oauth.register(
        "adobe",
        client_id=opts["client_id"],
        client_secret=opts["client_secret"],
        authorize_url=opts["authorize_url"],
        access_token_url=opts["token_url"],
        api_base_url=standin.url,
        client_kwargs={
            "scope": " ".join(SCOPE),
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic",
        },
        # server metadata, so the id_token can be checked as Authlib does for OIDC.
        # Authlib takes one issuer: the name the stand-in's id_tokens carry (as
        # Adobe's, "<issuer>/ims"), not the one its discovery document gives.
        issuer=standin.issuers[1],
        jwks_uri=opts["jwks_url"],
        userinfo_endpoint=opts["userinfo_url"],
    )
    client = oauth.create_client("adobe")
    userinfo = f"{standin.url}/ims/userinfo/v2"

    @app.get("/login")
    def login() -> Any:
        return client.authorize_redirect(url_for("callback", _external=True))

    @app.get("/callback")
    def callback() -> Any:
        session["adobe_token"] = client.authorize_access_token()
        return redirect("/")

    @app.get("/guarded")
    def guarded() -> Any:
        if not client.token:
            return redirect(url_for("login"))
        return "ok"

    @app.get("/api/one")
    def api_one() -> Any:
        if not client.token:
            return redirect(url_for("login"))
        return client.get(userinfo).json()["sub"]

    @app.get("/api/hundred")
    def api_hundred() -> Any:
        if not client.token:
            return redirect(url_for("login"))
        for _ in range(API_CALLS):
            sub = client.get(userinfo).json()["sub"]
        return sub

    return Subject(
        "Authlib",
        app,
        login_path="/login",
        after_login="/",
        has_token=lambda client_: _session_has(client_, "adobe_token"),
    )


FACTORIES: list[Callable[[StandInAdobe], Subject]] = [ours, flask_dance, authlib]
