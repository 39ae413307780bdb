"""Verifying the OpenID Connect id_token of a token response (OIDC Core §3.1.3.7):
the signature against the provider's JWKS, ``iss``, ``aud`` (and ``azp``),
``exp`` (with :data:`LEEWAY`) and the ``nonce``, derived from ``SECRET_KEY``
and the state (:func:`flask_adobe_oauth.protocol.oidc_nonce`).

The JWKS is kept per process and URL for :data:`JWKS_MAX_AGE` and fetched
again for a key id it lacks (key rotation, OIDC Core §10.1.1), but at most
once per :data:`JWKS_MIN_REFETCH` seconds and URL, so id_tokens naming keys
that do not exist cannot make every callback call the provider.

Needs PyJWT with ``cryptography`` (the ``jwt`` extra); without it id_tokens
are not checked and a warning is logged once per process.
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
    from .config import Config

log = logging.getLogger("flask_adobe_oauth.signin")

#: Seconds of clock skew tolerated on ``exp`` (and ``iat`` / ``nbf``).
LEEWAY = 60
#: Seconds a fetched JWKS is used before it is fetched again.
JWKS_MAX_AGE = 3600.0
#: Seconds between two fetches of one JWKS for key ids it lacks.
JWKS_MIN_REFETCH = 60.0
#: Signature algorithms accepted. Asymmetric only: never ``none``, never an
#: HMAC keyed with a public key (the classic JWT algorithm confusion).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")

_UNKNOWN_KEY = "the id_token is signed with a key the provider does not publish"
_MALFORMED = "the id_token is not a well-formed JWT"

#: The clock the cache ages by (monotonic; tests move it).
_clock: Callable[[], float] = time.monotonic

_lock = threading.Lock()
#: jwks_url -> (fetched at, keys by kid)
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

    raw_keys = client.read_json(url, client.send("GET", url)).get("keys")
    if not isinstance(raw_keys, list):
        raise IdTokenError(f"{url} did not answer a JWKS (no 'keys' list)")
    keys: dict[str, Any] = {}
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
    return next(iter(keys.values())) if not kid and len(keys) == 1 else None


def _cached(url: str) -> dict[str, Any] | None:
    """The cached keys of ``url`` while they are younger than JWKS_MAX_AGE."""
    with _lock:
        cached = _cache.get(url)
    return cached[1] if cached is not None and _clock() - cached[0] < JWKS_MAX_AGE else None


def _key_for(client: ProviderClient, url: str, kid: str) -> Any:
    keys = _cached(url)
    if keys is not None and (key := _pick(keys, kid)) is not None:
        return key
    with _lock:
        fetching = _fetching.setdefault(url, threading.Lock())
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
                    raise IdTokenError(_UNKNOWN_KEY)
                _refetched[url] = _clock()
        keys = _fetch_keys(client, url)  # first use, too old, or a key id we have not seen
    key = _pick(keys, kid)
    if key is None:
        raise IdTokenError(_UNKNOWN_KEY)
    return key


def _header(id_token: str) -> dict[str, Any]:
    """The JOSE header of ``id_token`` (RFC 7515 §4), read only to choose the key
    and algorithm; ``jwt.decode`` then checks the whole token (one full parse
    per login, where ``jwt.get_unverified_header`` would make it two)."""
    head, dot, _ = id_token.partition(".")
    if not dot or not head or len(head) > 4096 or id_token.count(".") != 2:
        raise IdTokenError(_MALFORMED)
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise IdTokenError(_MALFORMED) from None
    if not isinstance(header, dict):
        raise IdTokenError(_MALFORMED)
    return header


def _decode(id_token: str, key: Any, alg: str, client_id: str) -> dict[str, Any]:
    """The claims, once the signature, ``aud`` and ``exp`` are checked."""
    import jwt

    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key,
            algorithms=[alg],
            audience=client_id,
            leeway=LEEWAY,
            # iss is compared by _check_claims against every accepted issuer (Adobe names two).
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
    return claims


def _check_claims(claims: dict[str, Any], cfg: Config, nonce: str | None) -> None:
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


def verify_id_token(client: ProviderClient, id_token: str, nonce: str | None) -> dict[str, Any]:
    """The verified claims of ``id_token``; :class:`IdTokenError` if it fails a check.

    ``nonce`` is the value sent with the authorize request (None when none was sent).
    """
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
    claims = _decode(id_token, key.key, alg, cfg.client_id)
    _check_claims(claims, cfg, nonce)
    return claims
