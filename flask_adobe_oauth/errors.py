"""The error hierarchy. Every error this package raises derives from :class:`AdobeOAuthError`
and carries the HTTP status a user should see. Messages name what went wrong and where (a URL
without its query), never a secret: no client secret, code, access or refresh token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


class AdobeOAuthError(Exception):
    """Base class of every error raised by flask-adobe-oauth.

    ``status_code`` is what *this app* answers the user with;
    :attr:`ProviderError.status` is what *Adobe* answered this app with.
    """

    #: The HTTP status this app answers with when the error reaches the user.
    status_code: int = 400
    #: Short machine-readable name, sent as ``error`` in JSON answers.
    error: str = "adobe_oauth_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationError(AdobeOAuthError, ValueError):
    """The extension is configured wrongly; raised when the blueprint is registered."""

    status_code = 500
    error = "configuration_error"


class OutsideRequest(AdobeOAuthError, RuntimeError):
    """``adobe`` (or the current user's context) was used with no request to bind it to.

    A ``RuntimeError`` too, as Flask's own "working outside of request context" is: werkzeug's
    proxies answer introspection of an unbound proxy (``isinstance(adobe, Flask)``, which
    ``flask --app module`` does to every name) with the proxy's own type when the lookup raises one.
    """

    status_code = 500
    error = "outside_request"


class CallbackError(AdobeOAuthError):
    """The request that came back to ``/callback`` cannot complete a login."""

    error = "invalid_callback"


class StateError(CallbackError):
    """The ``state`` is missing, unknown, expired, already used or from another browser."""

    error = "invalid_state"

    def __init__(self, message: str, status_code: int = 400, reason: str = "invalid") -> None:
        super().__init__(message)
        self.status_code = status_code
        #: Which way the state failed: ``"missing"``, ``"expired"``, ``"used"`` (unknown or already
        #: used), ``"not_started"`` (no sign-in pending in this browser) or ``"invalid"``.
        self.reason = reason


class AuthorizationDenied(CallbackError):
    """Adobe sent the user back with ``error=...`` instead of a code."""

    error = "authorization_denied"

    def __init__(self, provider_error: str, description: str | None) -> None:
        detail = f" ({description})" if description else ""
        super().__init__(f"Adobe did not authorize the login: {provider_error}{detail}")
        self.provider_error = provider_error
        self.description = description
        self.status_code = 403 if provider_error == "access_denied" else 400


class ProviderError(AdobeOAuthError):
    """Adobe's server failed or answered something unusable (the app itself is fine)."""

    status_code = 502
    error = "provider_error"

    def __init__(
        self,
        message: str,
        provider_error: str | None = None,
        status: int | None = None,
        *,
        description: str | None = None,
    ) -> None:
        super().__init__(message)
        #: The OAuth ``error`` code Adobe answered with, when it answered one.
        self.provider_error = provider_error
        #: Adobe's ``error_description`` (RFC 6749 §5.2), short printable text, when it sent one.
        self.description = description
        #: The HTTP status *Adobe* answered with (None when it did not answer), not :attr:`status_code`.
        self.status = status

    @property
    def refused(self) -> bool:
        """Adobe answered and refused the grant (RFC 6749 §5.2: 400 or 401), not failed."""
        return self.status in (400, 401)


class IdTokenError(ProviderError):
    """The id_token in Adobe's token response failed verification (signature, ``iss``, ``aud``,
    ``exp`` or ``nonce``). A 502 like every other unusable token response: the id_token comes
    over the back channel from the token endpoint, not from the browser, so the provider's
    answer (or the path to it, or this app's configuration of it) is at fault. Nothing is stored.
    """

    error = "invalid_id_token"


class LoginRequired(AdobeOAuthError):
    """There is no usable token: none stored, or it expired and could not be refreshed."""

    status_code = 401
    error = "login_required"

    def __init__(self, message: str, blueprint: str | None = None, *, expired: bool = False) -> None:
        super().__init__(message)
        #: The name of the Adobe blueprint whose login is missing, when known.
        self.blueprint = blueprint
        #: True when the sign-in ran out (the refresh token expired or was refused): a silent
        #: sign-in may renew it.
        self.expired = expired


class InsufficientScope(AdobeOAuthError):
    """The stored token lacks scopes a view requires."""

    status_code = 403
    error = "insufficient_scope"

    def __init__(self, missing: frozenset[str]) -> None:
        super().__init__("the Adobe token lacks the scopes: " + " ".join(sorted(missing)))
        self.missing = missing


class NotAllowed(AdobeOAuthError):
    """The user signed in with Adobe, but may not use this site (organisation, product, e-mail
    domain or the app's own rule); ``reason`` says which, in words fit for the user."""

    status_code = 403
    error = "not_allowed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RateLimited(AdobeOAuthError):
    """Adobe answered 429 Too Many Requests, or the call was held back because Adobe would have
    (``api_rate_limit``); ``retry_after`` is the delay to wait, in seconds."""

    status_code = 429
    error = "rate_limited"

    def __init__(
        self, url: str, retry_after: float | None, said: str | None = None, *, message: str | None = None
    ) -> None:
        wait = f"; retry after {retry_after:g} s" if retry_after is not None else ""
        detail = f" ({said})" if said else ""
        super().__init__(message or f"Adobe rate-limited the call to {url}{detail}{wait}")
        self.retry_after = retry_after


class CrossSiteRequest(AdobeOAuthError):
    """A state-changing request (logout) came from another site's page."""

    status_code = 403
    error = "cross_site_request"


class CookieTooLarge(AdobeOAuthError):
    """The token would make the session cookie too large for browsers to keep: they drop a cookie
    past ~4 KB without a word, logging the user out; the fix is server-side storage.

    507 Insufficient Storage (RFC 4918 §11.5): the server cannot store what it needs. The app's
    configuration is at fault (so no 4xx), and it is not a crash (so no 500).
    """

    status_code = 507
    error = "cookie_too_large"


class StorageUnavailable(AdobeOAuthError):
    """The server-side store (Redis, a cache, a database) failed to answer."""

    status_code = 503
    error = "storage_unavailable"


#: Longest part of an error body quoted in a message.
MAX_QUOTED = 120

_CODE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class ColumnError:
    """A column of a report Adobe could not compute (``RankedColumnError`` in swagger.json); its
    numbers are not data. ``code`` is Adobe's ``errorCode`` (``unauthorized_metric``...)."""

    column_id: str
    #: The metric requested in that column, when the request named it.
    metric_id: str | None
    code: str
    description: str
    error_id: str | None = None


class AnalyticsError(ProviderError):
    """The Analytics API answered an error status. ``code`` (also ``provider_error``) is the
    gateway's ``error_code`` (``"403025"``) or the API's ``errorCode`` (``"invalid_parameters"``);
    ``description`` Adobe's own words, shortened; ``error_id`` the API's ``errorId``, which Adobe
    support asks for; ``status`` the HTTP status.
    """

    def __init__(
        self,
        message: str,
        code: str | None = None,
        status: int | None = None,
        *,
        description: str | None = None,
        error_id: str | None = None,
    ) -> None:
        super().__init__(message, code, status, description=description)
        self.error_id = error_id

    @property
    def code(self) -> str | None:
        return self.provider_error

    @property
    def refused(self) -> bool:
        """Always False: this is an API call's answer, not a refused OAuth grant."""
        return False


class NoAnalyticsProfile(AnalyticsError):
    """Adobe's gateway answered ``403025 Profile is not valid``: the user's Adobe ID is in no Adobe
    Analytics product profile. Only an administrator can fix it, in the Adobe Admin Console."""

    status_code = 403


class ReportColumnError(AnalyticsError):
    """A report answered without the metric ``metric_id`` (HTTP 206, ``columnErrors``), raised
    instead of reading the column as zeros; ``column_errors`` says which columns failed and why."""

    def __init__(self, message: str, metric_id: str, column_errors: tuple[ColumnError, ...]) -> None:
        first = column_errors[0] if column_errors else None
        code, description, error_id = (
            (first.code, first.description, first.error_id) if first else (None, None, None)
        )
        super().__init__(message, code, 206, description=description, error_id=error_id)
        self.metric_id = metric_id
        self.column_errors = column_errors
        # The user's access (or the suite's set-up) is at fault, not Adobe's service.
        if column_errors and all(e.code.startswith("unauthorized") for e in column_errors):
            self.status_code = 403


def printable_text(value: Any, limit: int) -> str | None:
    """``value`` as at most ``limit`` printable characters, or None."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = "".join(ch for ch in str(value) if ch.isprintable()).strip()[:limit]
    return text or None


def error_code(value: Any) -> str | None:
    """``value`` when it looks like one of Adobe's error codes, else None."""
    text = printable_text(value, 65)  # one more than a code may have: a longer one is refused, not cut
    return text if text is not None and _CODE.fullmatch(text) else None


def adobe_error_fields(body: Any) -> tuple[str | None, str | None, str | None]:
    """``(code, message, error_id)`` of an error body (parsed JSON) Adobe sent, each None when absent.

    Reads the three shapes Adobe answers with: the API gateway's ``{"error_code": "429050",
    "message": "Too many requests"}`` (Adobe's Analytics 2.0 FAQ), the Analytics API's
    ``{"errorCode", "errorDescription", "errorId"}`` (``ReportErrorStatus`` in swagger.json,
    ``AnalyticsAsrErrorResponse`` in report-suites.json), and IMS's OAuth ``{"error",
    "error_description"}`` (RFC 6749 §5.2). Messages are cut to :data:`MAX_QUOTED` characters.
    """
    if not isinstance(body, dict):
        return None, None, None
    pairs = (("error_code", "message"), ("errorCode", "errorDescription"), ("error", "error_description"))
    for code_key, text_key in pairs:
        code, text = error_code(body.get(code_key)), printable_text(body.get(text_key), MAX_QUOTED)
        if code or text:
            return code, text, error_code(body.get("errorId"))
    return None, None, error_code(body.get("errorId"))
