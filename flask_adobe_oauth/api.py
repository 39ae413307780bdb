"""``adobe.session``: calls to Adobe's APIs as the current user. One :class:`AdobeSession` per
blueprint and process reuses its connection pool; it keeps nothing about any user."""

from __future__ import annotations

import email.utils
import hashlib
import inspect
import logging
import math
import time
from collections.abc import Callable
from typing import Any, NoReturn, Protocol
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import LocationParseError
from urllib3.util import Url, parse_url

from .config import PRESETS, Config
from .errors import AdobeOAuthError, ProviderError, RateLimited, adobe_error_fields
from .logs import outage
from .ratelimit import RateLimiter
from .tokens import Token
from .transport import deadline, environment_for, harden, read_capped, transport_errors, where

log = logging.getLogger("flask_adobe_oauth.api")

#: Hosts that may receive the user's token besides the configured ones.
ADOBE_DOMAINS = (".adobe.io", ".adobelogin.com", ".adobe.com", ".omniture.com")
#: Adobe APIs that require the IMS organisation in ``x-gw-ims-org-id``: Customer Journey Analytics
#: (CJA API docs, "Getting started") and Experience Platform (Platform API docs, "Authenticate and
#: access Experience Platform APIs").
ORG_SCOPED_HOSTS = frozenset({"cja.adobe.io", "platform.adobe.io"})


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def _parsed(url: str) -> Url | None:
    """``url`` as urllib3 will connect to it (after requests has prepared it), or None to refuse it:
    for ``https://evil\\@analytics.adobe.io/`` ``urlsplit`` names analytics.adobe.io while urllib3
    connects to ``evil``. URLs with a backslash or credentials, which no Adobe API needs, are refused."""
    if "\\" in url:
        return None
    try:
        parsed = parse_url(requests.Request("GET", url).prepare().url or "")
    except (requests.RequestException, LocationParseError, ValueError):
        return None
    if parsed.auth or not parsed.host or not parsed.scheme:
        return None
    return parsed


def _error_text(response: requests.Response) -> str | None:
    """What Adobe's error body says, shortly: ``"401013 Oauth token is not valid"``."""
    try:
        code, text, _ = adobe_error_fields(response.json())
    except (ValueError, RecursionError):
        return None
    return " ".join(part for part in (code, text) if part) or None


#: The back-off after a 429 that names no delay: Adobe's Analytics 2.0 FAQ documents its limit (12
#: requests every 6 seconds per user) and a 429 body ``{"error_code":"429050"}``, no Retry-After.
DEFAULT_RETRY_AFTER = 6.0
#: The longest delay a Retry-After is believed for (one day).
MAX_RETRY_AFTER = 86400.0


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3),
    at most :data:`MAX_RETRY_AFTER`; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        delay = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError, OverflowError):
        return None
    return min(max(0.0, delay), MAX_RETRY_AFTER)


def rate_limited(response: requests.Response, shown: str) -> RateLimited:
    """The error of Adobe's 429 ``response`` to a call of ``shown``: what Adobe said, and
    its ``Retry-After`` (:data:`DEFAULT_RETRY_AFTER` when it names none)."""
    delay = retry_after_seconds(response.headers.get("Retry-After"))
    return RateLimited(shown, DEFAULT_RETRY_AFTER if delay is None else delay, _error_text(response))


#: ``requests.Session.request``'s parameters after ``method`` and ``url``, in order.
_REQUEST_PARAMS = tuple(inspect.signature(requests.Session.request).parameters)[3:]


def _deadline_seconds(timeout: Any, default: float) -> float:
    """A caller's ``timeout`` (seconds, or requests' ``(connect, read)``) as one limit for the whole
    call; ValueError unless finite seconds above 0: a NaN compares false with everything (never "too
    long", out of order in the watchdog's heap), an infinity ends in OverflowError in the socket."""
    values = [t for t in (timeout if isinstance(timeout, tuple) else (timeout,)) if t is not None]
    total = 0.0
    for value in values:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            seconds = math.nan
        if isinstance(value, bool) or not (math.isfinite(seconds) and seconds > 0):
            raise ValueError(
                "timeout must be a finite number of seconds above 0 (or a (connect, read) pair of them), "
                f"not {value!r}"
            )
        total += seconds
    return total if values else default


def _hook_list(hooks: Any) -> list[Any]:
    found = hooks.get("response") if isinstance(hooks, dict) else None
    if found is None:
        return []
    return list(found) if isinstance(found, (list, tuple)) else [found]


def _place(parsed: Url) -> tuple[str, str, str]:
    scheme, netloc = (parsed.scheme or "").lower(), (parsed.host or "").lower()
    if parsed.port is not None and parsed.port != {"http": 80, "https": 443}.get(scheme):
        netloc = f"{netloc}:{parsed.port}"
    return scheme, netloc, parsed.path or "/"


def _under(place: tuple[str, str, str], base: tuple[str, str, str]) -> bool:
    if place[:2] != base[:2]:
        return False
    root = base[2].rstrip("/")
    return not root or place[2] == root or place[2].startswith(root + "/")


def _caller(token: Token) -> str:
    """Whose budget a call counts against: Adobe counts per user; a token without one is its own."""
    if token.user_id:
        return "u:" + token.user_id
    return "t:" + hashlib.sha256(token.access_token.encode()).hexdigest()[:32]


def _rebasing(config: Config) -> list[tuple[str, str]]:
    """``(Adobe's URL, the configured one)`` for the preset's API and userinfo URLs when the app is
    pointed at another server (a stand-in, a proxy), so that code written against Adobe's own
    URLs goes there too; an api_base_url on Adobe's own host (a sub-path) moves nothing."""
    preset = PRESETS[config.provider]
    pairs = [(preset["api_base_url"], config.api_base_url), (preset["userinfo_url"], config.userinfo_url)]
    return [
        (adobe.rstrip("/"), configured.rstrip("/"))
        for adobe, configured in pairs
        if adobe and configured and _origin(adobe) != _origin(configured)
    ]


def _name_org(kwargs: dict[str, Any], org: str | None, parsed: Url | None) -> None:
    """Name the user's organisation (``org``) in a call to an :data:`ORG_SCOPED_HOSTS` API."""
    if org and parsed is not None and (parsed.host or "").lower() in ORG_SCOPED_HOSTS:
        headers = dict(kwargs.get("headers") or {})
        if not any(name.lower() == "x-gw-ims-org-id" for name in headers):
            headers["x-gw-ims-org-id"] = org
        kwargs["headers"] = headers


class TokenSource(Protocol):
    """Where :class:`AdobeSession` gets its token: the signed-in user's or a service credential's:
    an unexpired one (refreshed when needed), a new one after a 401 (None without a refresh token),
    and, when Adobe refused it again, forgetting it and raising."""

    def usable_token(self) -> Token: ...
    def replacement(self, refused: Token) -> Token | None: ...
    def token_rejected(self, message: str) -> NoReturn: ...


class AdobeSession(requests.Session):
    """A ``requests.Session`` that sends the current user's Adobe token.

    * relative URLs are joined to ``api_base_url``;
    * ``Authorization: Bearer`` and ``x-api-key`` are added, only for Adobe's hosts or the configured ones,
      so the token cannot be sent elsewhere by mistake;
    * an expired token is refreshed first; an HTTP 401 answer is met with one refresh and one retry, then
      :class:`LoginRequired`;
    * calls to ``api_base_url``'s host keep to ``api_rate_limit`` per user (Adobe's 12 per 6 s): one over it
      waits for its turn, at most ``api_rate_wait`` seconds, or raises :class:`RateLimited` without being sent
      (:mod:`~flask_adobe_oauth.ratelimit`), as does a call of a user who already has ``api_rate_waiters``
      calls waiting; counted in this process, or with ``api_rate_storage`` a Redis URL, in every process;
    * HTTP 429 raises :class:`RateLimited` carrying ``Retry-After`` (or :data:`DEFAULT_RETRY_AFTER` when
      Adobe names no delay), and holds that user's next calls back for as long;
    * each call times out after ``api_timeout`` seconds unless given ``timeout=``;
    * no cookies are kept (the session is shared by all users).
    """

    def __init__(
        self,
        config: Config,
        source: Callable[[], TokenSource],
        *,
        limiter: RateLimiter | None = None,
        bound_waiters: bool = True,
    ) -> None:
        super().__init__()
        harden(self)
        self.headers["Accept"] = "application/json"
        self._config, self._source = config, source
        #: Whether ``api_rate_waiters`` bounds a caller's waiting calls (not a service credential's).
        self._bounded = bound_waiters
        #: Each user's calls to the API host, kept under Adobe's rate (None: not counted):
        #: ``limiter`` when given (one shared with another session), else one of its own.
        self.limiter = limiter
        if limiter is None and config.api_rate_limit:
            rate = config.api_rate_limit
            self.limiter = RateLimiter(
                *rate, config.api_rate_wait, storage=config.api_rate_storage, waiters=config.api_rate_waiters
            )
        base = _parsed(config.api_base_url)
        self._api_place = _place(base) if base is not None else None
        # The sign-in server's endpoints, not counted: on the API's host only on a stand-in or proxy.
        sign_in = (config.userinfo_url, config.token_url, config.revoke_url, config.jwks_url)
        self._not_api = [_place(parsed) for u in sign_in if u and (parsed := _parsed(u)) is not None]
        trusted = (config.api_base_url, config.userinfo_url, config.token_url, config.authorize_url)
        self._trusted = {_origin(u) for u in trusted if u}
        self._rebase = _rebasing(config)

    def absolute(self, url: str) -> str:
        """``url`` joined to ``api_base_url`` when relative; a URL on the preset's own Adobe API
        host moved to the configured one."""
        if not urlsplit(url).scheme:
            return f"{self._config.api_base_url}/{url.lstrip('/')}"
        for adobe_prefix, configured in self._rebase:
            if url == adobe_prefix or url.startswith((adobe_prefix + "/", adobe_prefix + "?")):
                return configured + url[len(adobe_prefix) :]
        return url

    def may_carry_token(self, url: str | Url | None) -> bool:
        """True when ``url`` is on a host allowed to see the user's token."""
        parsed = _parsed(url) if isinstance(url, str) else url
        if parsed is None:
            return False
        host = (parsed.host or "").lower()
        netloc = f"{host}:{parsed.port}" if parsed.port else host
        return (parsed.scheme, netloc) in self._trusted or (
            parsed.scheme == "https" and host.endswith(ADOBE_DOMAINS)
        )

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        """:meth:`requests.Session.request` as the user, by the rules above; a URL on
        a host not allowed to see the token raises :class:`AdobeOAuthError`."""
        url, parsed = self._target(url)
        if len(args) > len(_REQUEST_PARAMS):
            raise TypeError("too many positional arguments for request()")
        kwargs.update(zip(_REQUEST_PARAMS, args, strict=False))  # one way to read every argument below
        # The call's time limit, checked before anything waits or is sent (a refresh included).
        budget = _deadline_seconds(kwargs.get("timeout"), self._config.api_timeout)
        source = self._source()
        token = source.usable_token()
        _name_org(kwargs, getattr(source, "org_id", None), parsed)
        if not (token.access_token.isascii() and token.access_token.isprintable()):
            # Cannot go into a header; only a broken storage or test fixture makes one.
            source.token_rejected("the stored Adobe sign-in is unusable")
        limiter = self.limiter if self.counts_against_limit(parsed) else None
        if limiter is not None:
            # The wait for a turn counts against the call's time limit: one too late is not sent.
            waited = limiter.acquire(_caller(token), where(url), budget, bounded=self._bounded)
            if waited > 0:
                kwargs["timeout"] = max(0.001, budget - waited)
        response = self._send_as(token.access_token, method, url, kwargs)
        if self._rejects_token(response, token.access_token):
            fresh = source.replacement(token)  # one refresh and one retry
            if fresh is not None:
                response.close()
                token = fresh
                if limiter is not None:
                    budget = _deadline_seconds(kwargs.get("timeout"), self._config.api_timeout)
                    limiter.acquire(_caller(token), where(url), budget, bounded=self._bounded)
                response = self._send_as(token.access_token, method, url, kwargs)
            if self._rejects_token(response, token.access_token):
                said = _error_text(response)
                response.close()
                # Not "you are not signed in": the user was, and Adobe refused the token (revoked...).
                said = f"HTTP 401 from {where(response.url or url)}" + (f": {said}" if said else "")
                source.token_rejected(f"Adobe refused the stored access token ({said})")
        if response.status_code == 429:
            error = rate_limited(response, where(url))
            response.close()
            if limiter is not None and self.counts_against_limit(response.url or url):
                # Another process used this user's budget: none of our calls would pass before the
                # delay Adobe asked for. (Only Adobe's API says so: not a host a redirect led to.)
                assert error.retry_after is not None  # rate_limited() always names a delay
                limiter.hold(_caller(token), error.retry_after)
            raise error
        return response

    def _target(self, url: str | bytes) -> tuple[str, Url | None]:
        url = self.absolute(url.decode() if isinstance(url, bytes) else url)
        parsed = _parsed(url)
        if not self.may_carry_token(parsed):
            raise AdobeOAuthError(f"refusing to send the Adobe token to {where(url)}: not an Adobe host")
        return url, parsed

    def counts_against_limit(self, url: str | Url | None) -> bool:
        """True for a call to the API (under ``api_base_url``, compared as the connection would
        be made), which ``api_rate_limit`` counts; the sign-in server's endpoints are not counted."""
        parsed = _parsed(url) if isinstance(url, str) else url
        if parsed is None or self._api_place is None:
            return False
        place = _place(parsed)
        return _under(place, self._api_place) and not any(_under(place, other) for other in self._not_api)

    def _rejects_token(self, response: requests.Response, access_token: str) -> bool:
        """True for a 401 that is a verdict on the token: the request that got it carried the token
        to a host allowed to judge it. A host reached by a redirect never saw the token (requests
        strips it across hosts), so proves nothing."""
        if response.status_code != 401:
            return False
        sent = response.request.headers.get("Authorization") if response.request is not None else None
        return sent == f"Bearer {access_token}" and self.may_carry_token(response.url or "")

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """On a redirect to another host requests drops ``Authorization``; the
        ``x-api-key`` (the client id) goes with it, and nothing is re-added."""
        old = response.request.url if response.request is not None else None
        strip = old is None or self.should_strip_auth(old, prepared_request.url or "")  # type: ignore[no-untyped-call]
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]
        if strip:
            prepared_request.headers.pop("Authorization", None)
            prepared_request.headers.pop("x-api-key", None)

    def _send_as(
        self, access_token: str, method: str | bytes, url: str, kwargs: dict[str, Any]
    ) -> requests.Response:
        """One call with the token, within the call's deadline (for the whole call and every
        redirect), its body read up to ``max_response_bytes`` unless the caller asked to ``stream``."""
        headers = dict(kwargs.get("headers") or {})
        headers["Authorization"] = f"Bearer {access_token}"
        headers.setdefault("x-api-key", self._config.client_id)
        kwargs = {**kwargs, "headers": headers}
        kwargs.update({k: v for k, v in environment_for(url).items() if kwargs.get(k) is None})
        seconds = _deadline_seconds(kwargs.pop("timeout", None), self._config.api_timeout)
        streamed = bool(kwargs.pop("stream", False))
        cap = self._config.max_response_bytes

        def read_body(response: requests.Response, *_: Any, **__: Any) -> requests.Response:
            # Every hop's body (requests reads a redirect's before following it).
            if response.is_redirect or not streamed:
                read_capped(response, cap, where(response.url or url))
            return response

        own = kwargs.pop("hooks", None) or {}
        kwargs["hooks"] = {"response": [read_body, *_hook_list(self.hooks), *_hook_list(own)]}
        shown = where(url)
        try:
            with deadline(seconds, shown) as limit, transport_errors(url, seconds):
                wait = limit.remaining()
                response = super().request(method, url, stream=True, timeout=(wait, wait), **kwargs)
        except ProviderError as exc:  # unreachable, too slow, or an answer too large
            outage(log, f"api:{shown}", "Adobe's API failed: %s", exc.message)
            raise
        if response.status_code >= 500:
            outage(log, f"api:{shown}", "Adobe's API answered HTTP %s for %s", response.status_code, shown)
        return response
