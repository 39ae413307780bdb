"""Every Adobe token response shape normalises into one Token."""

from __future__ import annotations

import time

import pytest

from flask_adobe_oauth import ProviderError, Token
from flask_adobe_oauth.tokens import parse_scope, split_scope, token_from_response

NOW = 1_700_000_000.0


def test_legacy_shape_absolute_expires_user_id_and_scope() -> None:
    token = token_from_response(
        {
            "access_token": "1882994084537-e850e548",
            "client_id": "app",
            "user_id": "003D48@AdobeID",
            "expires": 1385586084,
            "scope": "ReportSuite Report",
        },
        now=NOW,
    )
    assert token.expires_at == 1385586084
    assert token.user_id == "003D48@AdobeID"
    assert token.scope == {"ReportSuite", "Report"}
    assert token.refresh_token is None


def test_ims_v3_shape_seconds_lowercase_bearer_refresh_and_id_token() -> None:
    token = token_from_response(
        {
            "access_token": "a",
            "refresh_token": "r",
            "id_token": "i",
            "token_type": "bearer",
            "expires_in": 86399,
        },
        requested_scope=("openid", "AdobeID"),
        now=NOW,
    )
    assert token.expires_at == NOW + 86399
    assert token.refresh_token == "r"
    assert token.id_token == "i"
    assert token.scope == {"openid", "AdobeID"}  # RFC 6749 §5.1: omitted scope = requested scope


@pytest.mark.parametrize("milliseconds", [86_399_000, 3_599_000, 59_000])
def test_ims_v1_expires_in_is_read_as_milliseconds_whatever_its_size(milliseconds: int) -> None:
    data = {"access_token": "a", "token_type": "bearer", "expires_in": milliseconds}
    token = token_from_response(data, now=NOW, expires_in_ms=True)
    assert token.expires_at == NOW + milliseconds / 1000


def test_v3_expires_in_is_seconds_even_when_large() -> None:
    """No guessing by magnitude: a long-lived token in seconds stays seconds."""
    token = token_from_response({"access_token": "a", "expires_in": 30_000_000}, now=NOW)
    assert token.expires_at == NOW + 30_000_000


@pytest.mark.parametrize(
    ("token_url", "unit", "expected"),
    [
        ("https://ims-na1.adobelogin.com/ims/token/v1", None, "milliseconds"),
        ("https://ims-na1.adobelogin.com/ims/token/v3", None, "seconds"),
        ("https://ims-na1.adobelogin.com/ims/token/v3", "milliseconds", "milliseconds"),
        ("https://ims-na1.adobelogin.com/ims/token/v1", "seconds", "seconds"),
    ],
)
def test_the_unit_follows_the_endpoint_or_the_option(token_url: str, unit: str | None, expected: str) -> None:
    from flask_adobe_oauth.config import resolve

    options = {"client_id": "c1", "client_secret": "s3cr3t-value", "token_url": token_url}
    if unit:
        options["expires_in_unit"] = unit
    assert resolve(options, {}).expires_in_unit == expected


def test_standard_rfc6749_shape_with_uppercase_bearer() -> None:
    token = token_from_response({"access_token": "a", "token_type": "Bearer", "expires_in": "3600"}, now=NOW)
    assert token.expires_at == NOW + 3600


def test_comma_separated_scope_is_split() -> None:
    token = token_from_response({"access_token": "a", "scope": "openid,AdobeID, read_organizations"}, now=NOW)
    assert token.scope == {"openid", "AdobeID", "read_organizations"}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "no access_token"),
        ({"access_token": ""}, "no access_token"),
        ({"access_token": 5}, "no access_token"),
        ({"access_token": "a", "token_type": "mac"}, "other than bearer"),
        ({"access_token": "a", "expires_in": "soon"}, "non-numeric"),
        ({"access_token": "a", "expires_in": -5}, "invalid"),
        ({"access_token": "a", "expires_in": True}, "non-numeric"),
    ],
)
def test_unusable_responses_raise_provider_error(data: dict[str, object], message: str) -> None:
    with pytest.raises(ProviderError, match=message):
        token_from_response(data)


def test_refresh_without_new_refresh_token_keeps_the_old_one() -> None:
    token = token_from_response({"access_token": "a2", "expires_in": 10}, previous_refresh_token="r1")
    assert token.refresh_token == "r1"


def test_compact_round_trip_drops_the_id_token() -> None:
    token = Token("a", "r", NOW, frozenset({"x", "y"}), "u", id_token="secret-id-token")
    data = token.to_dict()
    assert "secret-id-token" not in str(data)
    assert Token.from_dict(data) == token
    assert set(data) == {"a", "r", "e", "s", "u"}


def test_expired_uses_a_sixty_second_margin() -> None:
    assert Token("a", expires_at=time.time() + 30).expired
    assert not Token("a", expires_at=time.time() + 120).expired
    assert not Token("a", expires_at=None).expired


def test_repr_shows_no_secret() -> None:
    text = repr(Token("ACCESS-SECRET", "REFRESH-SECRET", NOW, frozenset(), "u", "ID-SECRET"))
    assert "SECRET" not in text


def test_scope_parsing_keeps_order_and_drops_repeats() -> None:
    assert split_scope("openid, AdobeID openid") == ["openid", "AdobeID"]
    assert split_scope(["openid", "a,b"]) == ["openid", "a", "b"]
    assert parse_scope(None) == frozenset()


def test_configured_scope_is_stored_as_a_short_tag_and_restored() -> None:
    configured = frozenset({"openid", "AdobeID", "offline_access"})
    token = Token("a", scope=configured)
    data = token.to_dict(default_scope=configured)
    assert "s" not in data and len(data["S"]) == 6
    assert Token.from_dict(data, default_scope=configured).scope == configured


def test_a_tag_from_another_configuration_gives_no_scope_rather_than_a_wrong_one() -> None:
    data = Token("a", scope=frozenset({"openid"})).to_dict(default_scope=frozenset({"openid"}))
    assert Token.from_dict(data, default_scope=frozenset({"openid", "Report"})).scope == frozenset()
    assert Token.from_dict(data).scope == frozenset()


def test_a_scope_other_than_the_configured_one_is_stored_in_full() -> None:
    data = Token("a", scope=frozenset({"openid"})).to_dict(default_scope=frozenset({"openid", "Report"}))
    assert data["s"] == "openid"
