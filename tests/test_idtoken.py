"""id_token verification at the callback: signature against the stand-in's
JWKS, ``iss``, ``aud``, ``exp`` and ``nonce``; the JWKS cache; and the
fallback when PyJWT is missing.

The bad id_tokens are real RS256 JWTs, served by the stand-in's token
endpoint (``fail_next_token`` with a 200 JSON body) in answer to a real
code exchange.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from flask_adobe_oauth import ConfigurationError, idtoken
from flask_adobe_oauth.errors import IdTokenError
from flask_adobe_oauth.protocol import oidc_nonce
from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.keys import SigningKey, b64url

from .helpers import SECRET_KEY, authorize, local, login, make_app, query, start_login, stored_token


@pytest.fixture(autouse=True)
def fresh_jwks_cache() -> Iterator[None]:
    idtoken.clear_cache()
    yield
    idtoken.clear_cache()


def _claims(standin: StandInAdobe, state: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": standin.issuer,
        "sub": standin.state.user.sub,
        "aud": standin.client_id,
        "iat": now,
        "exp": now + 3600,
        "nonce": oidc_nonce(SECRET_KEY.encode(), state),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _callback_with_id_token(
    client: FlaskClient, standin: StandInAdobe, key: SigningKey | None = None, **changes: Any
) -> Any:
    """A real login whose token response carries an id_token signed by
    ``key`` (the stand-in's own by default) with ``changes`` to its claims."""
    url = start_login(client)
    state = query(url)["state"][0]
    callback = authorize(url)
    id_token = (key or standin.state.key).sign(_claims(standin, state, **changes))  # type: ignore[union-attr]
    body = {
        "access_token": "at-" + "x" * 40,
        "token_type": "bearer",
        "expires_in": 3600,
        "id_token": id_token,
    }
    standin.fail_next_token(200, json.dumps(body), content_type="application/json")
    return client.get(local(callback))


def test_valid_id_token_is_accepted_and_its_sub_is_the_user(
    client: FlaskClient, standin: StandInAdobe
) -> None:
    response = login(client)
    assert response.status_code == 302
    assert stored_token(client)["u"] == standin.state.user.sub
    assert standin.jwks_calls() == 1


def test_authorize_request_carries_a_nonce_bound_to_the_state(client: FlaskClient) -> None:
    params = query(start_login(client))
    assert params["nonce"] == [oidc_nonce(SECRET_KEY.encode(), params["state"][0])]


def test_each_login_gets_a_different_nonce(client: FlaskClient) -> None:
    assert query(start_login(client))["nonce"] != query(start_login(client))["nonce"]


def test_no_nonce_without_openid_scope(standin: StandInAdobe) -> None:
    client = make_app(standin, scope=["AdobeID"]).test_client()
    assert "nonce" not in query(start_login(client))


def test_no_nonce_for_the_legacy_preset(standin: StandInAdobe) -> None:
    client = make_app(standin, "legacy").test_client()
    assert "nonce" not in query(start_login(client))


def test_crafted_valid_id_token_passes(client: FlaskClient, standin: StandInAdobe) -> None:
    """The control for the failures below: the same path with nothing wrong."""
    response = _callback_with_id_token(client, standin, sub="crafted-user")
    assert response.status_code == 302
    assert stored_token(client)["u"] == "crafted-user"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"iss": "https://evil.example"}, "issuer"),
        ({"iss": None}, "MissingRequiredClaim"),
        ({"aud": "another-client"}, "another client"),
        ({"aud": ["another-client", "standin-client"], "azp": "another-client"}, "several audiences"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"exp": None}, "MissingRequiredClaim"),
        ({"nonce": "not-the-nonce"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"sub": None}, "MissingRequiredClaim"),
    ],
    ids=[
        "wrong-iss",
        "no-iss",
        "wrong-aud",
        "multi-aud-wrong-azp",
        "expired",
        "no-exp",
        "wrong-nonce",
        "no-nonce",
        "no-sub",
    ],
)
def test_bad_id_token_claims_fail_the_login_and_store_nothing(
    client: FlaskClient, standin: StandInAdobe, changes: dict[str, Any], words: str
) -> None:
    response = _callback_with_id_token(client, standin, **changes)
    assert response.status_code == 502
    assert b"invalid_id_token" in response.data
    assert words.encode() in response.data
    assert stored_token(client) is None


def test_expiry_within_the_leeway_is_accepted(client: FlaskClient, standin: StandInAdobe) -> None:
    response = _callback_with_id_token(client, standin, exp=int(time.time()) - idtoken.LEEWAY // 2)
    assert response.status_code == 302


def test_wrong_signature_under_a_known_kid_is_rejected(client: FlaskClient, standin: StandInAdobe) -> None:
    forger = SigningKey()
    forger.kid = standin.state.key.kid  # type: ignore[union-attr]
    response = _callback_with_id_token(client, standin, key=forger)
    assert response.status_code == 502
    assert b"signature is invalid" in response.data
    assert stored_token(client) is None


def test_unknown_kid_is_rejected_after_one_refetch(client: FlaskClient, standin: StandInAdobe) -> None:
    login(client)  # caches the JWKS
    assert standin.jwks_calls() == 1
    response = _callback_with_id_token(client.application.test_client(), standin, key=SigningKey())
    assert response.status_code == 502
    assert b"does not publish" in response.data
    assert standin.jwks_calls() == 2


def test_tampered_payload_is_rejected(client: FlaskClient, standin: StandInAdobe) -> None:
    url = start_login(client)
    state = query(url)["state"][0]
    callback = authorize(url)
    good = standin.state.key.sign(_claims(standin, state))  # type: ignore[union-attr]
    header, _, signature = good.split(".")
    evil = standin.state.key.sign(_claims(standin, state, sub="admin")).split(".")[1]  # type: ignore[union-attr]
    body = {"access_token": "at", "token_type": "bearer", "id_token": f"{header}.{evil}.{signature}"}
    standin.fail_next_token(200, json.dumps(body), content_type="application/json")
    response = client.get(local(callback))
    assert response.status_code == 502
    assert stored_token(client) is None


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_unsigned_or_symmetric_id_token_is_rejected(
    client: FlaskClient, standin: StandInAdobe, alg: str
) -> None:
    url = start_login(client)
    state = query(url)["state"][0]
    callback = authorize(url)
    claims = _claims(standin, state)
    key = standin.state.key
    assert key is not None
    header = b64url(json.dumps({"alg": alg, "typ": "JWT", "kid": key.kid}).encode())
    payload = b64url(json.dumps(claims).encode())
    if alg == "none":
        forged = f"{header}.{payload}."
    else:  # algorithm confusion: an HMAC keyed with the provider's public key
        public = json.dumps(key.jwks()["keys"][0]).encode()
        forged = f"{header}.{payload}." + b64url(
            hmac.new(public, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        )
    body = {"access_token": "at", "token_type": "bearer", "id_token": forged}
    standin.fail_next_token(200, json.dumps(body), content_type="application/json")
    response = client.get(local(callback))
    assert response.status_code == 502
    assert b"algorithm" in response.data
    assert stored_token(client) is None


def test_garbage_id_token_is_a_502_not_a_500(client: FlaskClient, standin: StandInAdobe) -> None:
    url = start_login(client)
    callback = authorize(url)
    body = {"access_token": "at", "token_type": "bearer", "id_token": "not.a.jwt<script>"}
    standin.fail_next_token(200, json.dumps(body), content_type="application/json")
    response = client.get(local(callback))
    assert response.status_code == 502
    assert b"<script>" not in response.data
    assert stored_token(client) is None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "id_token",
    [
        "",
        "onlyonepart",
        "two.parts",
        "four.parts.in.it",
        ".payload.signature",
        "!!!!.payload.signature",
        _b64(b"[1,2]") + ".e30.sig",  # a header that is not an object
        _b64(b'"alg"') + ".e30.sig",
        _b64(b"\xff\xfe") + ".e30.sig",  # not UTF-8
        _b64(b"{" * 5000) + ".e30.sig",  # too long to be a header
        _b64(b'{"alg":"RS256"') + ".e30.sig",  # truncated JSON
    ],
)
def test_a_malformed_header_is_an_id_token_error(id_token: str) -> None:
    with pytest.raises(IdTokenError, match="not a well-formed JWT"):
        idtoken._header(id_token)


def test_the_header_is_read_as_a_jose_header() -> None:
    token = _b64(b'{"alg":"RS256","kid":"k1"}') + "." + _b64(b"{}") + ".c2ln"
    assert idtoken._header(token) == {"alg": "RS256", "kid": "k1"}


@pytest.mark.parametrize("header", [b"[]", b'{"alg":"RS256"', b"\xff"])
def test_a_token_with_a_malformed_header_fails_the_login_cleanly(
    client: FlaskClient, standin: StandInAdobe, header: bytes
) -> None:
    url = start_login(client)
    callback = authorize(url)
    forged = _b64(header) + "." + _b64(b'{"sub":"x"}') + ".c2ln"
    body = {"access_token": "at", "token_type": "bearer", "id_token": forged}
    standin.fail_next_token(200, json.dumps(body), content_type="application/json")
    response = client.get(local(callback))
    assert response.status_code == 502
    assert b"well-formed" in response.data
    assert stored_token(client) is None


def test_jwks_is_cached_across_logins(client: FlaskClient, standin: StandInAdobe) -> None:
    for _ in range(3):
        assert login(client).status_code == 302
    assert standin.jwks_calls() == 1
    other_browser = client.application.test_client()
    assert login(other_browser).status_code == 302
    assert standin.jwks_calls() == 1


def test_rotated_key_is_fetched_on_unknown_kid(client: FlaskClient, standin: StandInAdobe) -> None:
    assert login(client).status_code == 302
    standin.state.key = SigningKey()  # the provider rotates its signing key
    assert login(client).status_code == 302
    assert standin.jwks_calls() == 2
    assert login(client).status_code == 302
    assert standin.jwks_calls() == 2


def test_unreachable_jwks_is_a_502_and_stores_nothing(standin: StandInAdobe) -> None:
    client = make_app(standin, jwks_url=standin.url + "/ims/no-such-keys").test_client()
    response = login(client)
    assert response.status_code == 502
    assert stored_token(client) is None


def test_jwks_url_without_issuer_is_a_configuration_error(standin: StandInAdobe) -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET_KEY, **standin.config())
    del app.config["ADOBE_OAUTH_ISSUER"]
    from flask_adobe_oauth import make_adobe_blueprint

    with pytest.raises(ConfigurationError, match="ISSUER"):
        app.register_blueprint(make_adobe_blueprint(provider="legacy"), url_prefix="/adobe")


def test_without_pyjwt_logins_work_unverified_with_one_warning(
    client: FlaskClient,
    standin: StandInAdobe,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setitem(sys.modules, "jwt", None)  # import jwt now raises ImportError
    monkeypatch.setitem(sys.modules, "jwt.algorithms", None)
    monkeypatch.setattr(idtoken, "_warned", False)
    with caplog.at_level(logging.WARNING, logger="flask_adobe_oauth"):
        assert login(client).status_code == 302
        assert login(client).status_code == 302
    warnings = [r for r in caplog.records if "NOT verified" in r.getMessage()]
    assert len(warnings) == 1
    assert standin.jwks_calls() == 0
    assert stored_token(client)["u"] == standin.state.user.sub  # from userinfo instead


def test_jwks_redirect_is_not_followed(standin: StandInAdobe) -> None:
    """The JWKS is fetched like every provider call: a redirect is an error,
    never followed to wherever it points."""
    redirecting = (
        f"{standin.url}/ims/authorize/v2?client_id={standin.client_id}&response_type=code"
        "&state=s&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fkeys"
    )
    client = make_app(standin, jwks_url=redirecting).test_client()
    response = login(client)
    assert response.status_code == 502
    assert b"redirect" in response.data
    assert stored_token(client) is None


def test_a_jwks_url_answering_something_else_is_a_502(standin: StandInAdobe) -> None:
    client = make_app(standin, jwks_url=standin.url + "/ims/.well-known/openid-configuration").test_client()
    response = login(client)
    assert response.status_code == 502
    assert b"JWKS" in response.data
    assert stored_token(client) is None


def test_unknown_kids_refetch_the_jwks_at_most_once_per_interval(
    client: FlaskClient, standin: StandInAdobe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """id_tokens naming a key id Adobe does not publish (an attacker's, or a
    misconfigured provider's) cost at most one JWKS fetch per interval; a key
    Adobe really rotated to is still picked up by the first refetch after it."""
    now = [5000.0]
    monkeypatch.setattr(idtoken, "_clock", lambda: now[0])
    assert login(client).status_code == 302  # caches the JWKS
    assert standin.jwks_calls() == 1
    rogue = SigningKey()
    for _ in range(4):
        response = _callback_with_id_token(client.application.test_client(), standin, key=rogue)
        assert response.status_code == 502
        assert b"does not publish" in response.data
    assert standin.jwks_calls() == 2  # one refetch for the unknown kid, not one per callback
    assert login(client).status_code == 302  # known keys still verify, from the cache
    assert standin.jwks_calls() == 2

    standin.state.key = SigningKey()  # Adobe rotates its signing key
    now[0] += idtoken.JWKS_MIN_REFETCH + 1
    assert login(client).status_code == 302  # the new kid is fetched and verifies
    assert standin.jwks_calls() == 3
    assert login(client).status_code == 302
    assert standin.jwks_calls() == 3


def test_concurrent_unknown_kids_share_one_refetch(
    app: Flask, client: FlaskClient, standin: StandInAdobe
) -> None:
    from flask_adobe_oauth.extension import get_runtime

    assert login(client).status_code == 302  # caches the JWKS
    provider = get_runtime(app=app).client
    claims = _claims(standin, "s", nonce=None)
    forged = SigningKey().sign(claims)
    barrier = threading.Barrier(6)
    errors: list[str] = []

    def callback() -> None:
        barrier.wait()
        try:
            idtoken.verify_id_token(provider, forged, None)
        except IdTokenError as exc:
            errors.append(exc.message)

    threads = [threading.Thread(target=callback) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(errors) == 6 and all("does not publish" in e for e in errors)
    assert standin.jwks_calls() == 2
