"""The :class:`Token` type, and turning every Adobe token response into one.

Adobe has answered token requests in three shapes over the years:

* legacy ``api.omniture.com/token``: ``expires`` is an *absolute* Unix time in seconds; no
  ``token_type``, no ``expires_in``, no refresh token;
* IMS ``/ims/token/v3`` and RFC 6749 §5.1: ``expires_in`` in *seconds*, ``token_type``
  ``bearer`` (Adobe writes it lower-case);
* IMS ``/ims/token/v1``: ``expires_in`` in *milliseconds* (3 599 000 is one hour).

The unit is decided by the endpoint (``Config.expires_in_unit``, derived from the token URL
unless set), never by the number's size: a short-lived token answered in milliseconds and a
long-lived one in seconds can carry the same number.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

from .errors import ProviderError

#: A token this many seconds from its expiry already counts as expired, so a
#: call started now does not reach Adobe with a token that died on the way.
EXPIRY_MARGIN = 60.0

_SCOPE_SPLIT = re.compile(r"[\s,]+")
#: RFC 6749 Appendix A.12: ``access-token = 1*VSCHAR`` (printable ASCII).
_VSCHARS = re.compile(r"^[\x20-\x7E]+$")


def split_scope(value: str | Iterable[str] | None) -> list[str]:
    """Scope names in order, without repeats, from a comma- or space-separated
    string or from a list of names (Adobe IMS accepts both separators)."""
    items = [] if value is None else [value] if isinstance(value, str) else [str(item) for item in value]
    names = (name for item in items for name in _SCOPE_SPLIT.split(item) if name)
    return list(dict.fromkeys(names))


def parse_scope(value: str | Iterable[str] | None) -> frozenset[str]:
    return frozenset(split_scope(value))


@dataclass(frozen=True)
class Token:
    """An Adobe access token and what is known about it. Secret fields are left out of ``repr``,
    so that a token printed in a log or a traceback shows no secret."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    #: Unix time in seconds at which the access token stops working, if known.
    expires_at: float | None = None
    scope: frozenset[str] = frozenset()
    user_id: str | None = None
    #: Only present right after the exchange; never stored.
    id_token: str | None = field(default=None, repr=False, compare=False)
    #: The Adobe organisations (IMS org ids, ``...@AdobeOrg``) the user was admitted for at sign-in
    #: and at each refresh: empty when the blueprint has no rule about who may enter (``allowed_orgs``...).
    orgs: frozenset[str] = frozenset()
    #: The products (Adobe ``serviceCode`` values, ``dma_analytics`` for Analytics) the user has there.
    products: frozenset[str] = frozenset()
    #: The user's name and e-mail address, as Adobe gave them at sign-in, when it did.
    name: str | None = None
    email: str | None = None

    @property
    def expired(self) -> bool:
        """True when the token has expired or expires within :data:`EXPIRY_MARGIN`."""
        return self.expires_at is not None and time.time() >= self.expires_at - EXPIRY_MARGIN

    def has_scopes(self, wanted: Iterable[str]) -> frozenset[str]:
        """The scopes in ``wanted`` that this token lacks."""
        return frozenset(wanted) - self.scope

    def with_changes(self, **changes: Any) -> Token:
        """A copy with some fields replaced."""
        return replace(self, **changes)

    def to_dict(self, default_scope: frozenset[str] | None = None) -> dict[str, Any]:
        """A JSON-serialisable dict, as small as possible, for storage backends; never the id_token.

        When the scope equals ``default_scope`` (the configured one, as it almost always is) only
        a short tag of it is kept: ``from_dict`` with the same ``default_scope`` restores it, and
        with another one (the configuration changed since) gives an empty scope, not a wrong one.
        """
        # Short keys keep the session cookie small (RFC 6265 §6.1: browsers need keep
        # only ~4 KB; they drop a cookie past ~4093 bytes without a word).
        tagged = bool(self.scope) and self.scope == default_scope
        data = {
            "a": self.access_token,
            "r": self.refresh_token,
            "e": None if self.expires_at is None else int(self.expires_at),
            "S": _scope_tag(self.scope) if tagged else None,
            "s": None if tagged else " ".join(sorted(self.scope)),
            "u": self.user_id,
            "o": " ".join(sorted(self.orgs)),
            "p": " ".join(sorted(self.products)),
            "n": self.name,
            "m": self.email,
        }
        return {key: value for key, value in data.items() if value or (key == "e" and value is not None)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], default_scope: frozenset[str] | None = None) -> Token:
        """The inverse of :meth:`to_dict`."""
        expires = data.get("e")
        if default_scope and data.get("S") == _scope_tag(default_scope):
            scope = default_scope
        else:
            scope = _scope_of_string(data["s"]) if isinstance(data.get("s"), str) else frozenset()
        return cls(
            access_token=str(data["a"]),
            refresh_token=data.get("r"),
            expires_at=float(expires) if expires is not None else None,
            scope=scope,
            user_id=data.get("u"),
            orgs=_words(data.get("o")),
            products=_words(data.get("p")),
            name=_text(data.get("n")),
            email=_text(data.get("m")),
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _words(value: Any) -> frozenset[str]:
    return frozenset(value.split()) if isinstance(value, str) else frozenset()


@lru_cache(maxsize=64)
def _scope_tag(scope: frozenset[str]) -> str:
    """Six hex digits naming a set of scopes."""
    return hashlib.sha256(" ".join(sorted(scope)).encode()).hexdigest()[:6]


@lru_cache(maxsize=256)
def _scope_of_string(value: str) -> frozenset[str]:
    return parse_scope(value)  # cached: a stored scope is read on every request


def _number(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    try:
        if isinstance(value, bool):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer of 400 digits
        raise ProviderError(f"the token response has a non-numeric {key!r}") from None
    if not math.isfinite(number) or number < 0:  # NaN, ±Infinity (JSON 1e999) or negative
        raise ProviderError(f"the token response has an invalid {key!r}")
    return number


def token_from_response(
    data: Mapping[str, Any],
    requested_scope: Iterable[str] = (),
    now: float | None = None,
    previous_refresh_token: str | None = None,
    *,
    expires_in_ms: bool = False,
) -> Token:
    """Normalise a token endpoint's JSON answer into a :class:`Token`; ``expires_in_ms``: the
    endpoint answers ``expires_in`` in milliseconds (IMS ``/ims/token/v1``). Raises
    :class:`ProviderError` when the answer is not a usable bearer token (RFC 6749 §5.1:
    ``access_token`` is required; §7.1: only a token type the client understands may be used)."""
    raw_scope, refresh, user_id = data.get("scope"), data.get("refresh_token"), data.get("user_id")
    id_token = data.get("id_token")
    return Token(
        access_token=_bearer_token(data),
        # RFC 6749 §6: a refresh may keep the old refresh token.
        refresh_token=refresh if isinstance(refresh, str) and refresh else previous_refresh_token,
        expires_at=_expires_at(data, time.time() if now is None else now, expires_in_ms),
        # RFC 6749 §5.1: when scope is omitted it is the scope that was requested.
        scope=parse_scope(raw_scope if isinstance(raw_scope, (str, list)) else None)
        or parse_scope(list(requested_scope)),
        user_id=str(user_id) if user_id else None,
        id_token=id_token if isinstance(id_token, str) else None,
    )


def _bearer_token(data: Mapping[str, Any]) -> str:
    access = data.get("access_token")
    if not isinstance(access, str) or not access:
        raise ProviderError("the token response has no access_token")
    if not _VSCHARS.match(access):
        # It goes into an Authorization header, which cannot carry it (a 500 otherwise).
        raise ProviderError("the token response's access_token has characters no token can have")
    token_type = data.get("token_type")
    if token_type is not None and (not isinstance(token_type, str) or token_type.lower() != "bearer"):
        raise ProviderError("the token response names a token_type other than bearer")
    return access


def _expires_at(data: Mapping[str, Any], now: float, expires_in_ms: bool) -> float | None:
    absolute = _number(data, "expires")  # legacy: absolute Unix seconds
    relative = _number(data, "expires_in")
    if relative is not None:
        return now + (relative / 1000.0 if expires_in_ms else relative)
    return absolute


@runtime_checkable
class Storage(Protocol):
    """Where a blueprint keeps the current user's token (same shape as Flask-Dance's).

    Each method acts for the user of the current request; one storage object serves every
    request, so it keeps nothing request-specific. :mod:`flask_adobe_oauth.storage` has them.
    """

    def get(self) -> Token | None:
        """The current user's token, or None."""

    def set(self, token: Token) -> None:
        """Store ``token`` for the current user, replacing any previous one."""

    def delete(self) -> None:
        """Forget the current user's token."""
