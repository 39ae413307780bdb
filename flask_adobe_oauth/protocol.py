"""The pure protocol of a login: state, PKCE, the authorize URL, pending-login
records and the ``next`` check. Nothing here knows Flask.

A pending login is one record ``[state, expires_at, next]`` kept in the
user's own signed session, so a state is bound to the browser that started
the login (RFC 6749 §10.12, RFC 9700 §4.7): an attacker's state, however
validly produced, is not in the victim's session. Several records may be
pending at once (tabs); their number is capped so the cookie cannot grow
without bound.

The PKCE verifier (RFC 7636) is not stored: it is derived as
HMAC-SHA256(SECRET_KEY, state). It is fresh per attempt because the state
is, and unknowable to whoever sees the state in a URL because they lack the
key. This keeps five pending logins under 600 bytes of cookie.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

#: 16 random bytes: 128 bits, the floor RFC 6749 §10.10 / RFC 9700 ask for.
STATE_BYTES = 16
MAX_NEXT_LENGTH = 2048


def new_state() -> str:
    """A fresh, unguessable state value (22 URL-safe characters)."""
    return secrets.token_urlsafe(STATE_BYTES)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def pkce_verifier(key: bytes, state: str) -> str:
    """The PKCE code_verifier bound to ``state`` (43 characters, RFC 7636 §4.1)."""
    return _b64(hmac.new(key, b"flask-adobe-oauth/pkce\x00" + state.encode(), hashlib.sha256).digest())


def oidc_nonce(key: bytes, state: str) -> str:
    """The OpenID Connect ``nonce`` bound to ``state`` (OIDC Core §3.1.2.1).

    Derived like :func:`pkce_verifier`, under another label, so nothing more
    goes into the cookie and the two values are unrelated.
    """
    return _b64(hmac.new(key, b"flask-adobe-oauth/nonce\x00" + state.encode(), hashlib.sha256).digest())


def pkce_challenge(verifier: str) -> str:
    """The S256 code_challenge of ``verifier`` (RFC 7636 §4.2)."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


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
    if scope:
        params["scope"] = scope
    if code_challenge:
        params["code_challenge"] = code_challenge
        params["code_challenge_method"] = "S256"
    if nonce:
        params["nonce"] = nonce
    if prompt:
        params["prompt"] = prompt
    separator = "&" if urlsplit(base).query else "?"
    return base + separator + urlencode(params)


def logout_url(base: str, *, client_id: str, redirect_uri: str) -> str:
    """The URL that ends the user's sign-in at Adobe IMS (``/ims/logout/v1``) and
    comes back to ``redirect_uri``. No token goes into it: URLs end up in logs."""
    separator = "&" if urlsplit(base).query else "?"
    return base + separator + urlencode({"client_id": client_id, "redirect_uri": redirect_uri})


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
    records: list[Pending] = []
    if not isinstance(raw, list):
        return records
    for item in raw:
        if (
            isinstance(item, list)
            and len(item) == 3
            and isinstance(item[0], str)
            and isinstance(item[1], int)
            and isinstance(item[2], str)
        ):
            records.append(Pending(item[0], item[1], item[2] or None))
    return records


def add_pending(
    records: Sequence[Pending], record: Pending, cap: int, now: float | None = None
) -> list[Pending]:
    """``records`` without expired ones, plus ``record``, keeping the newest ``cap``."""
    now = time.time() if now is None else now
    live = [r for r in records if r.expires_at > now]
    live.append(record)
    return live[-cap:]


def take_pending(
    records: Sequence[Pending], state: str, now: float | None = None
) -> tuple[Pending | None, bool, list[Pending]]:
    """Find and remove the record of ``state``.

    Returns ``(record, expired, remaining)``. Every record is compared in
    constant time (RFC 9700 §4.7), and expired records are dropped from
    ``remaining`` either way.
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
    if found is None:
        return None, False, remaining
    return found, found.expires_at <= now, remaining


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
        if candidate.startswith("//") or candidate.startswith("/\\"):
            return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc
