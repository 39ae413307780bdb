"""The pure protocol of a login (nothing here knows Flask): state, PKCE, the
authorize URL, pending-login records, :func:`check_callback` and the ``next`` check.

A pending login ``[state, expires_at, next]`` is kept in the user's own
signed session, binding the state to the browser that started the login
(RFC 6749 §10.12, RFC 9700 §4.7): an attacker's state is not in the
victim's session. The PKCE verifier (RFC 7636) is not stored: it is
HMAC-SHA256(SECRET_KEY, state), fresh per attempt and unknowable without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from .errors import AdobeOAuthError, AuthorizationDenied, CallbackError, StateError

#: 16 random bytes: 128 bits, the floor RFC 6749 §10.10 / RFC 9700 ask for.
STATE_BYTES = 16
MAX_NEXT_LENGTH = 2048


def new_state() -> str:
    """A fresh, unguessable state value (22 URL-safe characters)."""
    return secrets.token_urlsafe(STATE_BYTES)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _derive(key: bytes, label: bytes, state: str) -> str:
    return _b64(
        hmac.new(key, b"flask-adobe-oauth/" + label + b"\x00" + state.encode(), hashlib.sha256).digest()
    )


def pkce_verifier(key: bytes, state: str) -> str:
    """The PKCE code_verifier bound to ``state`` (43 characters, RFC 7636 §4.1)."""
    return _derive(key, b"pkce", state)


def oidc_nonce(key: bytes, state: str) -> str:
    """The OpenID Connect ``nonce`` bound to ``state`` (OIDC Core §3.1.2.1):
    derived like :func:`pkce_verifier` under another label, so the two are unrelated."""
    return _derive(key, b"nonce", state)


def pkce_challenge(verifier: str) -> str:
    """The S256 code_challenge of ``verifier`` (RFC 7636 §4.2)."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


def _with_query(base: str, params: Mapping[str, str]) -> str:
    return base + ("&" if urlsplit(base).query else "?") + urlencode(params)


def authorize_url(
    base: str,
    *,
    client_id: str,
    redirect_uri: str,
    state: str,
    scope: str,
    response_type: str = "code",
    code_challenge: str | None = None,
    nonce: str | None = None,
    prompt: str | None = None,
) -> str:
    """The URL that sends the browser to Adobe's consent page."""
    params = {
        "client_id": client_id,
        "response_type": response_type,
        "redirect_uri": redirect_uri,
        "state": state,
    }
    optional = {
        "scope": scope,
        "code_challenge": code_challenge,
        "code_challenge_method": "S256" if code_challenge else None,
        "nonce": nonce,
        "prompt": prompt,
    }
    params.update({name: value for name, value in optional.items() if value})
    return _with_query(base, params)


def logout_url(base: str, *, client_id: str, redirect_uri: str) -> str:
    """The URL that ends the user's sign-in at Adobe IMS (``/ims/logout/v1``) and
    comes back to ``redirect_uri``. No token goes into it: URLs end up in logs."""
    return _with_query(base, {"client_id": client_id, "redirect_uri": redirect_uri})


@dataclass(frozen=True)
class Pending:
    """One login that has been started and not finished."""

    state: str
    expires_at: int
    next: str | None

    def dump(self) -> list[Any]:
        return [self.state, self.expires_at, self.next or ""]


def load_pending(raw: Any) -> list[Pending]:
    """Records from their session form; anything malformed is dropped."""
    return [
        Pending(item[0], item[1], item[2] or None)
        for item in (raw if isinstance(raw, list) else ())
        if isinstance(item, list) and len(item) == 3 and all(map(isinstance, item, (str, int, str)))
    ]


def add_pending(
    records: Sequence[Pending], record: Pending, cap: int, now: float | None = None
) -> list[Pending]:
    """``records`` without expired ones, plus ``record``, keeping the newest ``cap``."""
    now = time.time() if now is None else now
    return [*(r for r in records if r.expires_at > now), record][-cap:]


def take_pending(
    records: Sequence[Pending], state: str, now: float | None = None
) -> tuple[Pending | None, bool, list[Pending]]:
    """Find and remove the record of ``state``: ``(record, expired, remaining)``.

    Every record is compared in constant time (RFC 9700 §4.7), and expired
    records are dropped from ``remaining`` either way.
    """
    now = time.time() if now is None else now
    found: Pending | None = None
    remaining: list[Pending] = []
    wanted = state.encode("utf-8", "surrogateescape")
    for record in records:
        if hmac.compare_digest(record.state.encode("utf-8", "surrogateescape"), wanted):
            found = record
        elif record.expires_at > now:
            remaining.append(record)
    return found, found is not None and found.expires_at <= now, remaining


_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


def is_error_code(value: object) -> bool:
    """True for something shaped like an OAuth ``error`` code (RFC 6749 §4.1.2.1,
    §5.2), safe to show and log as it is."""
    return isinstance(value, str) and bool(_ERROR_CODE.match(value))


def is_safe_next(target: str | None) -> bool:
    """True only for a relative path on this site.

    Rejects everything a browser could read as another origin or a script:
    ``//host``, ``/\\host``, ``\\\\host``, leading whitespace or control
    characters, any scheme (``https:``, ``javascript:``, ``data:``), encoded
    slashes or backslashes that decode to one of those, and CR/LF anywhere
    (header injection, CVE-2021-32805 and relatives).
    """
    if not target or len(target) > MAX_NEXT_LENGTH or not target.startswith("/"):
        return False
    for candidate in (target, unquote(target), unquote(unquote(target))):
        if "\\" in candidate or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in candidate):
            return False
        if candidate.startswith(("//", "/\\")):
            return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


#: RFC 6749 Appendix A.11: ``code = 1*VSCHAR``, printable ASCII only.
_CODE = re.compile(r"^[\x20-\x7E]+$")
MAX_CODE_LENGTH = 4096
MAX_DESCRIPTION_LENGTH = 300

#: A callback's parameters, each with every value it was given (a repeated
#: parameter is an attack to refuse, not a value to pick from): what
#: ``parse_qs`` returns, or werkzeug's ``MultiDict.to_dict(flat=False)``.
Params = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class CallbackCheck:
    """What :func:`check_callback` found: the pending logins to keep whatever the
    outcome (a refused callback consumes its state too, RFC 6749 §10.12), then
    either ``error``, or the login it completes and its ``code`` (None for the
    implicit grant)."""

    remaining: tuple[Pending, ...]
    pending: Pending | None = None
    code: str | None = None
    error: AdobeOAuthError | None = field(default=None, compare=False)

    def accepted(self) -> tuple[Pending, str | None]:
        """``(pending, code)``, or raise :attr:`error`."""
        if self.error is not None:
            raise self.error
        assert self.pending is not None
        return self.pending, self.code


def _single(params: Params, name: str) -> str | None:
    values = params.get(name) or ()
    if len(values) > 1:
        raise CallbackError(f"the callback repeats the {name!r} parameter")
    return values[0] if values else None


def _unknown_state(started: bool) -> StateError:
    if not started:
        # The usual causes: a SECRET_KEY that differs between workers, or a
        # host name that differs between the app and redirect_uri.
        return StateError(
            "no sign-in was started in this browser session. If you did start one, the session "
            "cookie was lost on the way: check that SECRET_KEY is the same in every worker and "
            "that the app is reached under the same host name as its redirect_uri",
            status_code=403,
            reason="not_started",
        )
    return StateError(
        "this sign-in is unknown or was already used; it may have been started in another browser",
        status_code=403,
        reason="used",
    )


def _consume_state(
    params: Params, records: Sequence[Pending], now: float
) -> tuple[Pending | None, list[Pending], AdobeOAuthError | None]:
    """The pending login the callback's ``state`` names, the records left, and why
    the state is refused (None when it is fine)."""
    values = list(params.get("state") or ())
    if not any(values):
        error = StateError("the callback has no state; start the sign-in again", reason="missing")
        return None, list(records), error
    found, expired, remaining = None, False, list(records)
    for value in values:  # a repeated state consumes every record it names
        record, was_expired, remaining = take_pending(remaining, value, now)
        if record is not None and found is None:
            found, expired = record, was_expired
    if len(values) > 1:
        return None, remaining, CallbackError("the callback repeats the 'state' parameter")
    if found is None:
        return None, remaining, _unknown_state(started=bool(records))
    if expired:
        error = StateError("this sign-in took too long and expired; start it again", reason="expired")
        return None, remaining, error
    return found, remaining, None


def _read_answer(params: Params, issuers: Sequence[str], expect_code: bool) -> str | None:
    """The authorization code (None without ``expect_code``), or raise why the answer is refused."""
    issuer = _single(params, "iss")
    if issuer is not None and issuers and issuer not in issuers:
        raise CallbackError("the callback names a different issuer than the configured one")
    adobe_error = _single(params, "error")
    if adobe_error is not None:
        description = _single(params, "error_description")
        raise AuthorizationDenied(
            adobe_error if is_error_code(adobe_error) else "invalid_error",
            description[:MAX_DESCRIPTION_LENGTH] if description else None,
        )
    if not expect_code:
        return None
    code = _single(params, "code")
    if not code:
        raise CallbackError("the callback has no authorization code")
    if len(code) > MAX_CODE_LENGTH:
        raise CallbackError("the authorization code is too long")
    if not _CODE.match(code):
        raise CallbackError("the authorization code has characters no code can have")
    return code


def check_callback(
    params: Params,
    records: Sequence[Pending],
    *,
    issuers: Sequence[str] = (),
    expect_code: bool = True,
    now: float | None = None,
) -> CallbackCheck:
    """Check an authorization response against this browser's pending logins.

    In order: the ``state`` names a pending login of this browser, once,
    unexpired (RFC 6749 §10.12, RFC 9700 §4.7); an ``iss``, when present, is
    one of ``issuers`` (RFC 9207 §2.4: a mix-up attempt otherwise); Adobe's
    ``error`` is reported (RFC 6749 §4.1.2.1); with ``expect_code``, there is
    one well-formed ``code`` (§4.1.2, Appendix A.11). Never raises: the
    outcome, refusal included, is in the returned :class:`CallbackCheck`.
    """
    pending, remaining, error = _consume_state(params, records, time.time() if now is None else now)
    if pending is None:
        return CallbackCheck(tuple(remaining), error=error)
    try:
        code = _read_answer(params, issuers, expect_code)
    except AdobeOAuthError as exc:
        # Refused, but its ``next`` still says where the user was going (a silent
        # sign-in that Adobe answered ``login_required`` goes on from there).
        return CallbackCheck(tuple(remaining), pending, error=exc)
    return CallbackCheck(tuple(remaining), pending, code)
