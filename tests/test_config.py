"""Configuration is checked when the blueprint is registered, naming the key."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from flask_adobe_oauth import ConfigurationError, make_adobe_blueprint
from flask_adobe_oauth.extension import get_runtime


def register(config: dict[str, Any], **options: Any) -> Flask:
    app = Flask(__name__)
    app.config.update({"SECRET_KEY": "k", "ADOBE_OAUTH_CLIENT_ID": "id", "ADOBE_OAUTH_CLIENT_SECRET": "s"})
    app.config.update(config)
    app.register_blueprint(make_adobe_blueprint(**options), url_prefix="/adobe")
    return app


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"ADOBE_OAUTH_CLIENT_ID": None}, "ADOBE_OAUTH_CLIENT_ID"),
        ({"ADOBE_OAUTH_CLIENT_SECRET": ""}, "ADOBE_OAUTH_CLIENT_SECRET"),
        ({"ADOBE_OAUTH_PROVIDER": "okta"}, "ADOBE_OAUTH_PROVIDER"),
        ({"ADOBE_OAUTH_TOKEN_URL": "http://tokens.example.com/token"}, "ADOBE_OAUTH_TOKEN_URL"),
        ({"ADOBE_OAUTH_AUTHORIZE_URL": "/relative"}, "ADOBE_OAUTH_AUTHORIZE_URL"),
        ({"ADOBE_OAUTH_CLIENT_AUTH": "private_key_jwt"}, "ADOBE_OAUTH_CLIENT_AUTH"),
        ({"ADOBE_OAUTH_RESPONSE_TYPE": "id_token"}, "ADOBE_OAUTH_RESPONSE_TYPE"),
        ({"ADOBE_OAUTH_STATE_MAX_AGE": 0}, "ADOBE_OAUTH_STATE_MAX_AGE"),
        ({"ADOBE_OAUTH_USE_PKCE": "maybe"}, "ADOBE_OAUTH_USE_PKCE"),
        ({"ADOBE_OAUTH_STORAGE": object()}, "ADOBE_OAUTH_STORAGE"),
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SESSION_COOKIE_SAMESITE": "Strict"}, "SESSION_COOKIE_SAMESITE"),
    ],
)
def test_bad_configuration_fails_at_registration_naming_the_key(config: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigurationError, match=key):
        register(config)


def test_unknown_option_is_a_type_error_at_once() -> None:
    with pytest.raises(TypeError, match="client_secrte"):
        make_adobe_blueprint(client_secrte="typo")


def test_argument_wins_over_config_and_config_over_preset() -> None:
    app = register({"ADOBE_OAUTH_SCOPE": "openid,AdobeID", "ADOBE_OAUTH_TIMEOUT": "3"}, client_id="from-arg")
    cfg = get_runtime("adobe", app).config
    assert cfg.client_id == "from-arg"
    assert cfg.scope == ("openid", "AdobeID")
    assert cfg.timeout == 3.0
    assert cfg.token_url == "https://ims-na1.adobelogin.com/ims/token/v3"


def test_legacy_preset_uses_the_seed_endpoints() -> None:
    cfg = get_runtime("adobe", register({"ADOBE_OAUTH_PROVIDER": "legacy"})).config
    assert cfg.authorize_url == "https://marketing.adobe.com/authorize"
    assert cfg.token_url == "https://api.omniture.com/token"
    assert cfg.issuer is None


def test_contradictory_pkce_with_implicit_grant_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="implicit"):
        register({}, response_type="token", use_pkce=True)


def test_secret_never_appears_in_config_repr() -> None:
    cfg = get_runtime("adobe", register({"ADOBE_OAUTH_CLIENT_SECRET": "s3cr3t-value"})).config
    assert "s3cr3t-value" not in repr(cfg)


def test_two_blueprints_with_different_names_coexist() -> None:
    app = register({})
    app.register_blueprint(make_adobe_blueprint(name="adobe2", provider="legacy"), url_prefix="/legacy")
    assert get_runtime("adobe2", app).config.provider == "legacy"
    assert get_runtime("adobe", app).config.provider == "ims"
    assert get_runtime("adobe2", app).pending_key != get_runtime("adobe", app).pending_key


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ADOBE_OAUTH_CLIENT_ID", "..."),
        ("ADOBE_OAUTH_CLIENT_ID", "your-client-id"),
        ("ADOBE_OAUTH_CLIENT_ID", "<client id>"),
        ("ADOBE_OAUTH_CLIENT_ID", "   "),
        ("ADOBE_OAUTH_CLIENT_SECRET", "changeme"),
        ("ADOBE_OAUTH_CLIENT_SECRET", "xxxxxxxx"),
        ("ADOBE_OAUTH_CLIENT_SECRET", "{client_secret}"),
        ("SECRET_KEY", "..."),
        ("SECRET_KEY", "changeme"),
    ],
)
def test_placeholder_credentials_fail_at_registration(key: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=key):
        register({key: value})


def test_real_looking_credentials_are_not_taken_for_placeholders() -> None:
    app = register({"ADOBE_OAUTH_CLIENT_ID": "4f1d0a9b8c", "ADOBE_OAUTH_CLIENT_SECRET": "p8e-Xx_1aB"})
    assert get_runtime("adobe", app).config.client_id == "4f1d0a9b8c"


def test_a_misspelt_config_key_is_named_with_the_right_one() -> None:
    with pytest.raises(ConfigurationError, match=r"ADOBE_OAUTH_CLIENTID.*did you mean ADOBE_OAUTH_CLIENT_ID"):
        register({"ADOBE_OAUTH_CLIENTID": "abc"})


def test_keys_set_after_registration_take_effect_at_the_next_request() -> None:
    app = register({})
    app.config.update(
        ADOBE_OAUTH_CLIENT_ID="set-later",
        ADOBE_OAUTH_AUTHORIZE_URL="http://127.0.0.1:9/ims/authorize/v2",
    )
    response = app.test_client().get("/adobe/login")
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("http://127.0.0.1:9/ims/authorize/v2?")
    assert "client_id=set-later" in location
    assert get_runtime("adobe", app).config.client_id == "set-later"


def test_a_bad_key_set_after_registration_fails_the_next_request_naming_it() -> None:
    app = register({})
    app.config["ADOBE_OAUTH_TOKEN_URL"] = "http://tokens.example.com/token"
    client = app.test_client()
    for _ in range(2):  # never falls back to the old value silently
        response = client.get("/adobe/login")
        assert response.status_code == 500
        assert b"ADOBE_OAUTH_TOKEN_URL" in response.data
        assert b"Traceback" not in response.data


def test_a_placeholder_set_after_registration_is_refused_too() -> None:
    app = register({})
    app.config["ADOBE_OAUTH_CLIENT_SECRET"] = "..."
    response = app.test_client().get("/adobe/login", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.json is not None and "ADOBE_OAUTH_CLIENT_SECRET" in response.json["message"]


def test_unchanged_config_keeps_the_same_runtime_objects() -> None:
    app = register({})
    before = get_runtime("adobe", app)
    app.test_client().get("/adobe/login")
    assert get_runtime("adobe", app) is before


def test_every_option_is_declared_once_and_named_everywhere() -> None:
    """The options are Config's fields; make_adobe_blueprint's docstring, the
    defaults and the config keys are derived from them, so none can be missing
    from one of them, and a misspelt keyword is refused with a suggestion."""
    import dataclasses
    import inspect

    from flask_adobe_oauth.config import CONFIG_KEYS, DEFAULTS, OPTIONS, Config

    declared = [f.name for f in dataclasses.fields(Config) if "doc" in f.metadata]
    assert list(OPTIONS) == declared == list(DEFAULTS)
    assert len(OPTIONS) >= 30
    # name is an argument only: a blueprint's name is needed before there is an app.
    assert list(CONFIG_KEYS) == [f"ADOBE_OAUTH_{name.upper()}" for name in OPTIONS if name != "name"]
    assert "ADOBE_OAUTH_NAME" not in CONFIG_KEYS
    # cleandoc: Python 3.13 strips a docstring's indentation when compiling, older ones keep it.
    doc = inspect.cleandoc(make_adobe_blueprint.__doc__ or "")
    assert all(f"\n    {name}: " in doc for name in OPTIONS)
    assert "Default: ``10.0``" in doc.split("\n    timeout: ")[1].split("\n")[0]
    with pytest.raises(TypeError, match="'clientid'; did you mean 'client_id'"):
        make_adobe_blueprint(clientid="x")


def test_adobe_oauth_name_is_refused_as_an_unknown_key() -> None:
    """It was listed as known (and suggested for typos) but never read."""
    with pytest.raises(ConfigurationError, match="ADOBE_OAUTH_NAME is not an option"):
        register({"ADOBE_OAUTH_NAME": "admin"})


NUMBER_KEYS = (
    "ADOBE_OAUTH_TIMEOUT",
    "ADOBE_OAUTH_API_TIMEOUT",
    "ADOBE_OAUTH_API_RATE_WAIT",
    "ADOBE_OAUTH_MAX_RESPONSE_BYTES",
    "ADOBE_OAUTH_STATE_MAX_AGE",
    "ADOBE_OAUTH_MAX_PENDING_LOGINS",
)


@pytest.mark.parametrize("value", ["inf", "Infinity", "-inf", "nan", float("inf"), float("nan")])
@pytest.mark.parametrize("key", NUMBER_KEYS)
def test_a_number_that_is_not_finite_is_refused_naming_the_key(key: str, value: Any) -> None:
    """Issue #27, 2: "inf" was taken as a timeout (then every call failed with
    OverflowError, a 500) or raised a raw OverflowError at registration."""
    with pytest.raises(ConfigurationError, match=f"{key} must be a finite number"):
        register({key: value})
    with pytest.raises(ConfigurationError, match=key):  # as an argument too
        register({}, **{key.removeprefix("ADOBE_OAUTH_").lower(): value})
