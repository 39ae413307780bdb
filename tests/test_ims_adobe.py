"""Adobe IMS as it really behaves, and the product meeting it.

Each behaviour comes from Adobe's published documents (Adobe Developer
Console docs: User Authentication implementation guide and API reference,
Admin Authentication API reference; Analytics 2.0 FAQ), and each test runs
over real HTTP against the stand-in, which behaves the same way.
"""

from __future__ import annotations

import logging
import threading
import time
from urllib.parse import urlsplit

import pytest
import requests
from flask.testing import FlaskClient

from flask_adobe_oauth import ConfigurationError, RateLimited, adobe, make_adobe_blueprint
from flask_adobe_oauth import extension as extension_module
from flask_adobe_oauth.config import IMS_ISSUERS, PRESETS, resolve
from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.state import DEFAULT_REDIRECT_URI, Fault

from .helpers import SECRET_KEY, authorize, local, login, make_app, query, start_login, stored_token

CREDENTIALS = {"client_id": "c1", "client_secret": "s3cr3t-value"}


# -- issuer ------------------------------------------------------------------------


def test_the_ims_preset_accepts_both_of_adobes_issuer_names() -> None:
    config = resolve(CREDENTIALS, {})
    assert (
        config.issuers
        == IMS_ISSUERS
        == ("https://ims-na1.adobelogin.com", "https://ims-na1.adobelogin.com/ims")
    )
    assert PRESETS["ims"]["issuer"] == IMS_ISSUERS


def test_issuer_takes_a_list_or_space_separated_text() -> None:
    listed = resolve({**CREDENTIALS, "issuer": ["https://a.example", "https://b.example"]}, {})
    spaced = resolve(CREDENTIALS, {"ADOBE_OAUTH_ISSUER": "https://a.example https://b.example"})
    assert listed.issuers == spaced.issuers == ("https://a.example", "https://b.example")
    assert listed.issuer == "https://a.example"
    with pytest.raises(ConfigurationError, match="ADOBE_OAUTH_ISSUER"):
        resolve({**CREDENTIALS, "issuer": ["https://a.example", 5]}, {})


def test_an_id_token_naming_the_ims_form_of_the_issuer_signs_in(standin: StandInAdobe) -> None:
    """The stand-in's id_tokens carry ``<issuer>/ims``, as Adobe's Admin Authentication
    reference says IMS's do, while its discovery names ``<issuer>``."""
    assert requests.get(f"{standin.url}/ims/.well-known/openid-configuration", timeout=5).json()[
        "issuer"
    ] == (standin.url)
    client = make_app(standin, scope=["openid", "AdobeID"]).test_client()
    assert login(client).status_code == 302
    assert stored_token(client) is not None


def test_with_only_the_discovery_issuer_configured_the_ims_form_is_refused(standin: StandInAdobe) -> None:
    """What a single-issuer setting would do with a real Adobe id_token: refuse it."""
    client = make_app(standin, scope=["openid", "AdobeID"], issuer=standin.url).test_client()
    response = login(client)
    assert response.status_code == 502
    assert b"issuer" in response.data
    assert stored_token(client) is None


# -- iss on the authorization response (RFC 9207) ----------------------------------------


def test_adobe_sends_no_iss_and_the_login_works(client: FlaskClient) -> None:
    callback = authorize(start_login(client))
    assert "iss" not in query(callback)
    assert client.get(local(callback)).status_code == 302


def test_an_iss_naming_either_ims_issuer_is_accepted() -> None:
    with StandInAdobe(send_iss=True) as server:
        client = make_app(server).test_client()
        callback = authorize(start_login(client))
        assert query(callback)["iss"] == [server.url]
        assert client.get(local(callback)).status_code == 302
        other = make_app(server).test_client()
        callback = authorize(start_login(other)).replace(
            "iss=" + requests.utils.quote(server.url, safe=""),
            "iss=" + requests.utils.quote(server.url + "/ims", safe=""),
        )
        assert query(callback)["iss"] == [server.url + "/ims"]
        assert other.get(local(callback)).status_code == 302


# -- expires_in units ----------------------------------------------------------------


def test_ims_token_v1_answers_milliseconds_and_one_hour_is_one_hour() -> None:
    with StandInAdobe(access_token_lifetime=3599) as server:
        app = make_app(server, token_url=f"{server.url}/ims/token/v1")

        @app.get("/expiry")
        def expiry() -> str:
            assert adobe.token is not None
            return repr(adobe.token.expires_at)

        client = app.test_client()
        before = time.time()
        assert login(client).status_code == 302
        assert server.token_calls()[0].path == "/ims/token/v1"
        body = server.state.issue_tokens(
            server.client_id, server.state.user, "", shape="v1", issuer=server.url
        )
        assert body["expires_in"] == 3_599_000  # what /ims/token/v1 answers: milliseconds
        expires_at = float(client.get("/expiry").get_data(as_text=True))
        assert before + 3599 - 5 <= expires_at <= time.time() + 3599  # one hour, not 41 days


# -- redirect URI patterns ------------------------------------------------------------------


def test_a_redirect_uri_outside_the_patterns_lands_on_the_default_uri_and_the_exchange_fails() -> None:
    with StandInAdobe(redirect_uri_patterns=[r"https://app\.example\.com/adobe/callback"]) as server:
        # An unescaped dot in a pattern would let "appXexample.com" through; escaped, it does not.
        client = make_app(server, redirect_uri="https://appXexample.com/adobe/callback").test_client()
        back = authorize(start_login(client))
        assert back.startswith(DEFAULT_REDIRECT_URI + "?")
        response = client.get(local(back))
        assert response.status_code == 502
        assert b"invalid_grant" in response.data
        assert [c.status for c in server.token_calls()] == [400]
        assert stored_token(client) is None


def test_a_redirect_uri_matching_a_pattern_is_used() -> None:
    with StandInAdobe(redirect_uri_patterns=[r"https://app\.example\.com/adobe/.*"]) as server:
        client = make_app(server, redirect_uri="https://app.example.com/adobe/callback").test_client()
        back = authorize(start_login(client))
        assert back.startswith("https://app.example.com/adobe/callback?")
        assert client.get(local(back)).status_code == 302


def test_no_redirect_uri_goes_to_the_default_one(standin: StandInAdobe) -> None:
    reply = requests.get(
        f"{standin.url}/ims/authorize/v2",
        params={"client_id": standin.client_id, "response_type": "code", "state": "s" * 22},
        allow_redirects=False,
        timeout=5,
    )
    assert reply.status_code == 302
    assert reply.headers["Location"].startswith(DEFAULT_REDIRECT_URI + "?code=")


# -- prompt -----------------------------------------------------------------------------


def test_prompt_login_shows_the_sign_in_page_even_when_signed_in(standin: StandInAdobe) -> None:
    client = make_app(standin, prompt="login").test_client()
    url = start_login(client)
    assert query(url)["prompt"] == ["login"]
    page = requests.get(url, allow_redirects=False, timeout=5)
    assert page.status_code == 200 and 'id="allow"' in page.text
    assert standin.state.prompts == ["login"]


def test_a_switch_account_link_asks_for_prompt_login_and_odd_values_are_ignored(client: FlaskClient) -> None:
    switch = client.get("/adobe/login?prompt=login")
    assert query(switch.headers["Location"])["prompt"] == ["login"]
    odd = client.get("/adobe/login?prompt=consent%20select_account")
    assert "prompt" not in query(odd.headers["Location"])


def test_prompt_none_when_signed_out_at_adobe_is_a_clear_login_required(
    client: FlaskClient, standin: StandInAdobe
) -> None:
    standin.state.signed_in = False
    back = authorize(client.get("/adobe/login?prompt=none").headers["Location"])
    assert query(back)["error"] == ["login_required"]
    response = client.get(local(back))
    assert response.status_code == 400
    assert b"login_required" in response.data
    assert standin.token_calls() == []


def test_a_bad_prompt_option_fails_at_registration() -> None:
    with pytest.raises(ConfigurationError, match="ADOBE_OAUTH_PROMPT"):
        resolve({**CREDENTIALS, "prompt": "consent"}, {})


# -- ending the Adobe session --------------------------------------------------------------


def test_logout_can_end_the_adobe_session_too(standin: StandInAdobe) -> None:
    client = make_app(standin, end_adobe_session=True).test_client()
    login(client)
    token = stored_token(client)
    assert token is not None
    response = client.post("/adobe/logout")
    assert response.status_code == 303
    target = response.headers["Location"]
    assert target.startswith(f"{standin.url}/ims/logout/v1?")
    assert query(target) == {"client_id": [standin.client_id], "redirect_uri": ["http://localhost/"]}
    assert all(str(v) not in target for v in token.values() if isinstance(v, str) and len(v) > 20)
    assert stored_token(client) is None
    reply = requests.get(target, allow_redirects=False, timeout=5)
    assert reply.status_code == 302 and reply.headers["Location"] == "http://localhost/"
    assert standin.state.logouts == [standin.client_id] and not standin.state.signed_in


def test_logout_stays_local_by_default(signed_in: FlaskClient, standin: StandInAdobe) -> None:
    assert signed_in.post("/adobe/logout").headers["Location"] == "/"
    assert standin.state.logouts == [] and standin.state.signed_in


def test_ending_the_adobe_session_needs_a_logout_url() -> None:
    with pytest.raises(ConfigurationError, match="ADOBE_OAUTH_LOGOUT_URL"):
        resolve({**CREDENTIALS, "provider": "legacy", "end_adobe_session": True}, {})


# -- the legacy preset ------------------------------------------------------------------


def test_the_retired_legacy_service_is_warned_about_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from flask import Flask

    monkeypatch.setattr(extension_module, "_retired_warned", threading.Event())
    caplog.set_level(logging.WARNING, logger="flask_adobe_oauth")
    for _ in range(2):
        app = Flask(__name__)
        app.config.update(SECRET_KEY=SECRET_KEY)
        app.register_blueprint(make_adobe_blueprint(provider="legacy", **CREDENTIALS), url_prefix="/adobe")
    warnings = [r for r in caplog.records if "retired" in r.getMessage()]
    assert len(warnings) == 1


def test_the_legacy_preset_on_another_server_is_not_warned_about(
    standin: StandInAdobe, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(extension_module, "_retired_warned", threading.Event())
    caplog.set_level(logging.WARNING, logger="flask_adobe_oauth")
    make_app(standin, "legacy")
    assert not [r for r in caplog.records if "retired" in r.getMessage()]


# -- Analytics calls: their own timeout, and the back-off on 429 --------------------------------


def test_api_calls_use_api_timeout_not_the_token_timeout(standin: StandInAdobe) -> None:
    app = make_app(standin, timeout=0.3, api_timeout=5)
    client = app.test_client()
    login(client)
    standin.state.api_faults.append(Fault(200, '{"sub": "slow"}', "application/json", delay=0.8))
    assert client.get("/me").json == {"sub": "slow"}  # slower than timeout, within api_timeout

    quick = make_app(standin, api_timeout=0.3).test_client()
    login(quick)
    standin.state.api_faults.append(Fault(200, "{}", "application/json", delay=1.5))
    response = quick.get("/me")
    assert response.status_code == 502
    assert b"did not answer within 0.3 s" in response.data


def test_a_429_without_retry_after_backs_off_one_window(
    signed_in: FlaskClient, standin: StandInAdobe
) -> None:
    standin.fail_next_api(429, '{"error_code":"429050","message":"Too many requests"}')
    response = signed_in.get("/me")
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "6"
    assert b"429050" in response.data


def test_rate_limited_carries_adobes_words_and_the_delay(
    signed_in: FlaskClient, standin: StandInAdobe
) -> None:
    standin.fail_next_api(429, '{"error_code":"429050","message":"Too many requests"}')
    app = signed_in.application
    with signed_in.session_transaction() as sess:
        saved = dict(sess)
    with app.test_request_context("/"):
        from flask import session

        session.update(saved)
        with pytest.raises(RateLimited) as caught:
            adobe.session.get("/ims/userinfo/v2")
    assert caught.value.retry_after == 6.0
    assert "429050 Too many requests" in str(caught.value)
    assert urlsplit(standin.url).netloc in str(caught.value)
