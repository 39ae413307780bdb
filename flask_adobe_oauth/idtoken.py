"""Verifying the OpenID Connect id_token that comes with a token response.

When ``jwks_url`` is configured and the token response carries an
``id_token``, it is checked as OpenID Connect Core §3.1.3.7 asks: the
signature against the provider's published keys (JWKS), ``iss`` equal to
the configured issuer, ``aud`` containing the client_id (and ``azp`` equal
to it when there are several audiences), ``exp`` not past (with
:data:`LEEWAY` for clock skew), and ``nonce`` equal to the one sent with
the authorize request.

The nonce is not stored anywhere: like the PKCE verifier it is derived from
``SECRET_KEY`` and the state (:func:`flask_adobe_oauth.protocol.oidc_nonce`).

The JWKS is fetched with the provider client's conventions (timeout, no
redirects, ``Accept: application/json``, failures as
:class:`ProviderError`), kept per process and URL for :data:`JWKS_MAX_AGE`,
and fetched again when a token names a key id the cached set lacks (the
provider rotated its keys, OIDC Core §10.1.1) — but at most once per
:data:`JWKS_MIN_REFETCH` seconds and URL, so id_tokens naming keys that do
not exist cannot make every callback call the provider.

Needs PyJWT with ``cryptography`` (the ``jwt`` extra). Without it the
id_token is not checked and a warning is logged once per process.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import IdTokenError

if TYPE_CHECKING:
    from .authserver import ProviderClient

log = logging.getLogger("flask_adobe_oauth.signin")

#: Seconds of clock skew tolerated on ``exp`` (and ``iat`` / ``nbf``).
LEEWAY = 60
#: Seconds a fetched JWKS is used before it is fetched again.
JWKS_MAX_AGE = 3600.0
#: Seconds between two fetches of one JWKS for key ids it lacks: an unknown
#: kid within this time after such a fetch is rejected without another.
JWKS_MIN_REFETCH = 60.0
#: Signature algorithms accepted. Asymmetric only: never ``none``, never an
#: HMAC keyed with a public key (the classic JWT algorithm confusion).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")

#: The clock the cache ages by (monotonic; tests move it).
_clock: Callable[[], float] = time.monotonic

_lock = threading.Lock()
#: jwks_url -> (fetched at, by _clock; keys by kid)
_cache: dict[str, tuple[float, dict[str, Any]]] = {}
#: jwks_url -> when it was last fetched for a key id the cache lacked
_refetched: dict[str, float] = {}
#: jwks_url -> the lock one fetch of it at a time holds
_fetching: dict[str, threading.Lock] = {}
_warned = False


def available() -> bool:
    """True when PyJWT and cryptography are importable; warns once when not."""
    global _warned
    try:
        from jwt.algorithms import has_crypto
    except ImportError:
        has_crypto = False
    if not has_crypto and not _warned:
        _warned = True
        log.warning(
            "id_tokens are NOT verified: install flask-adobe-oauth[jwt] (PyJWT with cryptography) "
            "to check their signature, issuer, audience, expiry and nonce"
        )
    return bool(has_crypto)


def clear_cache() -> None:
    """Forget every cached JWKS (for tests and key-rotation drills)."""
    with _lock:
        _cache.clear()
        _refetched.clear()


def _fetch_keys(client: ProviderClient, url: str) -> dict[str, Any]:
    import jwt

    response = client.send("GET", url)
    data = client.read_json(url, response)
    keys: dict[str, Any] = {}
    raw_keys = data.get("keys")
    if not isinstance(raw_keys, list):
        raise IdTokenError(f"{url} did not answer a JWKS (no 'keys' list)")
    for item in raw_keys:
        if not isinstance(item, dict) or item.get("use", "sig") != "sig":
            continue
        try:
            key = jwt.PyJWK(item)
        except (jwt.PyJWTError, TypeError, ValueError, KeyError):
            continue  # a malformed key, or a key type or algorithm this client does not support
        if key.algorithm_name in ALGORITHMS:
            keys[str(item.get("kid", ""))] = key
    with _lock:
        _cache[url] = (_clock(), keys)
    return keys


def _pick(keys: dict[str, Any], kid: str) -> Any:
    """The key named ``kid``, or the only key when the token names none; else None."""
    if kid in keys:
        return keys[kid]
    if not kid and len(keys) == 1:
        return next(iter(keys.values()))
    return None


def _cached(url: str) -> dict[str, Any] | None:
    """The cached keys of ``url`` while they are younger than JWKS_MAX_AGE."""
    with _lock:
        cached = _cache.get(url)
    if cached is not None and _clock() - cached[0] < JWKS_MAX_AGE:
        return cached[1]
    return None


def _key_for(client: ProviderClient, url: str, kid: str) -> Any:
    keys = _cached(url)
    if keys is not None and (key := _pick(keys, kid)) is not None:
        return key
    with _lock:
        fetching = _fetching.setdefault(url, threading.Lock())  # one per configured URL
    with fetching:  # one fetch at a time; who waited looks at its result first
        keys = _cached(url)
        if keys is not None:
            if (key := _pick(keys, kid)) is not None:
                return key
            # A key id the current set lacks: the provider may have rotated
            # its keys (OIDC Core §10.1.1), or the token names a key that
            # does not exist. Ask again, but not more than once per interval.
            with _lock:
                last = _refetched.get(url)
                if last is not None and _clock() - last < JWKS_MIN_REFETCH:
                    raise IdTokenError("the id_token is signed with a key the provider does not publish")
                _refetched[url] = _clock()
        keys = _fetch_keys(client, url)  # first use, too old, or a key id we have not seen
    key = _pick(keys, kid)
    if key is None:
        raise IdTokenError("the id_token is signed with a key the provider does not publish")
    return key


def _header(id_token: str) -> dict[str, Any]:
    """The JOSE header of ``id_token`` (RFC 7515 §4), read only to choose the key
    and algorithm; ``jwt.decode`` then parses and checks the whole token with
    them. Read here rather than with ``jwt.get_unverified_header``, which
    parses and checks all three segments too: one full parse per login, not two."""
    head, dot, _ = id_token.partition(".")
    if not dot or not head or len(head) > 4096 or id_token.count(".") != 2:
        raise IdTokenError("the id_token is not a well-formed JWT")
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise IdTokenError("the id_token is not a well-formed JWT") from None
    if not isinstance(header, dict):
        raise IdTokenError("the id_token is not a well-formed JWT")
    return header


def verify_id_token(client: ProviderClient, id_token: str, nonce: str | None) -> dict[str, Any]:
    """The verified claims of ``id_token``; :class:`IdTokenError` if it fails a check.

    ``nonce`` is the value sent with the authorize request (None when none
    was sent).
    """
    import jwt

    cfg = client.config
    if not cfg.jwks_url or not cfg.issuers:
        raise IdTokenError("id_token verification needs jwks_url and issuer")
    header = _header(id_token)
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ALGORITHMS:
        raise IdTokenError("the id_token uses a signature algorithm that is not accepted")
    key = _key_for(client, cfg.jwks_url, kid if isinstance(kid, str) else "")
    if key.algorithm_name != alg:
        raise IdTokenError("the id_token's algorithm does not match its key")
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key.key,
            algorithms=[alg],
            audience=cfg.client_id,
            leeway=LEEWAY,
            # iss is compared below against every accepted issuer (Adobe names two).
            options={"require": ["iss", "aud", "exp", "sub"], "verify_iss": False},
        )
    except jwt.ExpiredSignatureError:
        raise IdTokenError("the id_token has expired") from None
    except jwt.InvalidAudienceError:
        raise IdTokenError("the id_token was issued for another client") from None
    except jwt.InvalidSignatureError:
        raise IdTokenError("the id_token's signature is invalid") from None
    except jwt.PyJWTError as exc:
        raise IdTokenError(f"the id_token is invalid ({type(exc).__name__})") from None
    # OIDC Core §3.1.3.7: iss must exactly match an issuer of the provider.
    if claims.get("iss") not in cfg.issuers:
        raise IdTokenError("the id_token names a different issuer than the configured one")
    audience = claims.get("aud")
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != cfg.client_id:
        raise IdTokenError("the id_token has several audiences and is not authorized for this client")
    if nonce is not None:
        got = claims.get("nonce")
        if not isinstance(got, str) or not hmac.compare_digest(
            got.encode("utf-8", "surrogatepass"), nonce.encode("utf-8", "surrogatepass")
        ):
            raise IdTokenError("the id_token's nonce does not match this sign-in")
    return claims
