"""What the stand-in Adobe server remembers: clients, codes, tokens, calls.

All of it sits behind one lock; the HTTP layer (``provider.py``) is threaded.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .keys import SigningKey, opaque_jwt

#: Redirect URIs the stand-in's credential accepts by default: any port and
#: path on this machine, and the names reserved for examples and tests
#: (RFC 2606, RFC 6761), so tests behind a proxy can use them.
DEFAULT_REDIRECT_URI_PATTERNS = (
    r"https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]+)?(/.*)?",
    r"https?://([a-z0-9-]+\.)*(example\.(com|net|org)|[a-z0-9-]+\.(example|test|localhost))(:[0-9]+)?(/.*)?",
)
#: Where the stand-in sends the browser when a redirect_uri matches no pattern
#: (or none is given): the demo's callback.
DEFAULT_REDIRECT_URI = "http://127.0.0.1:5000/adobe/callback"
#: The scopes an OAuth Server-to-Server credential of the stand-in may ask
#: for (``client_credentials``): those Adobe lists for Analytics (Adobe
#: Developer Console docs, guides/authentication/UserAuthentication/ims.md,
#: scope table, "Adobe Analytics"; the Analytics 2.0 API docs'
#: resources/python/ims_client.py asks for the same in its
#: Server-to-Server token request).
DEFAULT_SERVICE_SCOPES = (
    "openid",
    "AdobeID",
    "read_organizations",
    "additional_info.projectedProductContext",
    "additional_info.job_function",
)
#: The domain of technical accounts' ids and emails (the Analytics 2.0 API
#: docs, guides/oauth.md, "Technical Account User Information").
TECHNICAL_ACCOUNT_DOMAIN = "techacct.adobe.com"


@dataclass
class User:
    """A user of the stand-in."""

    sub: str = "4B2C1F3E5F0A4D1B0A490D4C@AdobeID"
    email: str = "ada.analyst@example.com"
    name: str = "Ada Analyst"
    org_id: str = "5E2D0C0B5A1F2A3B0A490D4C@AdobeOrg"

    def userinfo(self) -> dict[str, Any]:
        given, _, family = self.name.partition(" ")
        return {
            "sub": self.sub,
            "email": self.email,
            "email_verified": True,
            "name": self.name,
            "given_name": given,
            "family_name": family,
            "account_type": "type3",
        }


@dataclass
class Grant:
    """A code, access token or refresh token the stand-in issued."""

    kind: str  # "code" | "access" | "refresh"
    client_id: str
    user: User
    scope: str
    expires_at: float
    redirect_uri: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    nonce: str | None = None
    used: bool = False
    revoked: bool = False
    parent: str | None = None  # the refresh token an access token came with
    origin: str | None = None  # the code the token was exchanged for
    family: str | None = None  # the code of the sign-in it descends from, through any refreshes


@dataclass
class Call:
    """One request the stand-in received at its token or revoke endpoint."""

    path: str
    grant_type: str | None
    client_auth: str | None  # "client_secret_basic" | "client_secret_post" | None
    status: int = 0
    form: dict[str, str] = field(default_factory=dict, repr=False)


#: What a call to the stand-in is, for faults aimed at some calls only: the
#: calls an app makes server to server (``"token"``: the token endpoints;
#: ``"revoke"``; ``"userinfo"``; ``"keys"``: JWKS and discovery; ``"api"``:
#: Analytics 2.0), and ``"authorize"``: the pages a browser visits
#: (authorize, consent decision, logout).
ENDPOINTS = ("token", "revoke", "userinfo", "keys", "api", "authorize")
#: The calls lasting faults apply to unless told otherwise: every call an app
#: makes to Adobe itself, none a browser makes.
BACK_CHANNEL = ("token", "revoke", "userinfo", "keys", "api")


@dataclass
class Fault:
    """An answer to give instead of the real one, once (or how to send it).

    ``status``, ``body``, ``content_type`` and ``headers`` make the answer;
    ``delay`` seconds pass before anything is sent. How it is sent:

    * ``trickle``: that many bytes at a time, ``pause`` seconds apart (0:
      all at once). Only the body trickles, after the status line and
      headers, unless ``trickle_headers``: then the status line and headers
      trickle too. A client whose timeout bounds each read, not the call,
      waits as long as the trickle lasts.
    * ``reset_after``: the TCP connection is reset (RST, an abortive close)
      once that many bytes of the raw HTTP answer (status line, headers,
      body) were sent: 0 before any, a number inside the body mid-body. The
      client sees ``ConnectionResetError`` (``requests.ConnectionError``
      before the headers; ``requests.exceptions.ChunkedEncodingError`` in
      the body). None: no reset.

    Trickles and resets need a real connection: they work over HTTP to a
    :class:`~flask_adobe_oauth.testing.StandInAdobe`, not through Flask's
    test client.
    """

    status: int = 500
    body: str | bytes = ""
    content_type: str = "text/plain"
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    trickle: int = 0
    pause: float = 0.2
    trickle_headers: bool = False
    reset_after: int | None = None

    @property
    def reshapes_delivery(self) -> bool:
        """True when the answer is not sent the ordinary way (trickled or cut)."""
        return bool(self.trickle) or self.trickle_headers or self.reset_after is not None


@dataclass
class Condition:
    """A lasting fault (``StandInAdobe.slow_down``, ``trickle``,
    ``reset_connections``, ``fail_calls``): it applies to every call to
    ``endpoints`` until cleared, or to the next ``count`` of them.

    ``fault.delay`` is waited before the call is handled. With ``replace``
    the call is not handled: ``fault`` is the answer. Otherwise the real
    answer is sent the way ``fault`` says (trickled, cut by a reset).
    """

    fault: Fault
    endpoints: frozenset[str]
    replace: bool = False
    count: int | None = None


@dataclass
class Plan:
    """What the lasting faults do to one call, merged (see :meth:`StandInState.plan`)."""

    delay: float = 0.0
    answer: Fault | None = None
    trickle: int = 0
    pause: float = 0.2
    trickle_headers: bool = False
    reset_after: int | None = None


class StandInState:
    """The memory of a stand-in Adobe server."""

    def __init__(
        self,
        clients: dict[str, str],
        *,
        user: User | None = None,
        access_token_lifetime: float = 86399,
        refresh_token_lifetime: float = 14 * 86400,
        code_lifetime: float = 300,
    ) -> None:
        self.lock = threading.RLock()
        self.clients = dict(clients)
        self.user = user or User()
        self.access_token_lifetime = access_token_lifetime
        self.refresh_token_lifetime = refresh_token_lifetime
        self.code_lifetime = code_lifetime
        self.grants: dict[str, Grant] = {}
        self.calls: list[Call] = []
        self.token_faults: list[Fault] = []
        self.revoke_faults: list[Fault] = []
        self.api_faults: list[Fault] = []
        #: Lasting faults, in the order they were set.
        self.conditions: list[Condition] = []
        self.consents: dict[str, dict[str, str]] = {}
        self.jwks_fetches = 0
        #: The credential's redirect URI patterns (regexes, matched whole) and
        #: default redirect URI, as on an Adobe Developer Console credential.
        self.redirect_uri_patterns: list[str] = list(DEFAULT_REDIRECT_URI_PATTERNS)
        self.default_redirect_uri = DEFAULT_REDIRECT_URI
        #: ``"web"`` (OAuth Web App: no implicit grant) or ``"spa"`` (OAuth Single-Page App).
        self.credential = "web"
        #: Whether the user is signed in at the stand-in (``/ims/logout/v1`` ends it).
        self.signed_in = True
        #: Calls to ``/ims/logout/v1``, and the ``prompt`` of each authorize request.
        self.logouts: list[str] = []
        self.prompts: list[str | None] = []
        self.clock_offset = 0.0
        self.key = SigningKey.shared() if SigningKey.available else None
        #: The scopes a ``client_credentials`` request may ask for; any other is
        #: refused with ``invalid_scope``.
        self.service_scopes: list[str] = list(DEFAULT_SERVICE_SCOPES)
        #: The technical account of each client's Server-to-Server credential
        #: (made at its first ``client_credentials`` token).
        self.technical_accounts: dict[str, User] = {}

    # -- time ---------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self.clock_offset

    # -- issuing ------------------------------------------------------------

    def issue_code(
        self,
        client_id: str,
        scope: str,
        redirect_uri: str | None,
        challenge: str | None,
        method: str | None,
        nonce: str | None,
    ) -> str:
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.grants[code] = Grant(
                "code",
                client_id,
                self.user,
                scope,
                self.now() + self.code_lifetime,
                redirect_uri=redirect_uri,
                code_challenge=challenge,
                code_challenge_method=method,
                nonce=nonce,
            )
        return code

    def technical_account(self, client_id: str) -> User:
        """The technical account user of ``client_id``'s Server-to-Server
        credential, the same at every call: the user its
        ``client_credentials`` tokens act as, in the stand-in user's org."""
        with self.lock:
            account = self.technical_accounts.get(client_id)
            if account is None:
                local = secrets.token_hex(12).upper()
                account = User(
                    sub=f"{local}@{TECHNICAL_ACCOUNT_DOMAIN}",
                    email=f"{uuid.uuid4()}@{TECHNICAL_ACCOUNT_DOMAIN}",
                    name="Technical account",
                    org_id=self.user.org_id,
                )
                self.technical_accounts[client_id] = account
            return account

    def _access_token(self, client_id: str, scope: str, legacy: bool, user: User) -> str:
        if legacy:  # the seed's shape: "1882994084537-e850e548-859d-4848-afbb-9125507b07df"
            return f"{int(self.now() * 1000)}-{uuid.uuid4()}"
        created = int(self.now() * 1000)
        return opaque_jwt(
            {
                "id": f"{created}_{uuid.uuid4()}_ue1",
                "type": "access_token",
                "client_id": client_id,
                "user_id": user.sub,
                "as": "ims-na1",
                "aa_id": user.sub,
                "ctp": 0,
                "fg": secrets.token_hex(8).upper() + "======",
                "sid": f"{created}_{uuid.uuid4()}_ue1",
                "moi": secrets.token_hex(4),
                "pba": "MedSecNoEV,LowSec",
                "expires_in": str(int(self.access_token_lifetime * 1000)),
                "scope": scope,
                "created_at": str(created),
            }
        )

    def _refresh_token(self, client_id: str, scope: str) -> str:
        created = int(self.now() * 1000)
        return opaque_jwt(
            {
                "id": f"{created}_{uuid.uuid4()}_ue1",
                "type": "refresh_token",
                "client_id": client_id,
                "user_id": self.user.sub,
                "as": "ims-na1",
                "aa_id": self.user.sub,
                "rtid": f"{created}_{uuid.uuid4()}_ue1",
                "rtea": str(created + int(self.refresh_token_lifetime * 1000)),
                "moi": secrets.token_hex(4),
                "pba": "MedSecNoEV,LowSec",
                "expires_in": str(int(self.refresh_token_lifetime * 1000)),
                "scope": scope,
                "created_at": str(created),
            }
        )

    def issue_tokens(
        self,
        client_id: str,
        user: User,
        scope: str,
        *,
        shape: str,
        issuer: str,
        nonce: str | None = None,
        with_refresh: bool = True,
        with_id_token: bool = True,
    ) -> dict[str, Any]:
        """Mint tokens and answer in ``shape``: ``"v3"``, ``"v1"`` or ``"legacy"``.

        An id_token comes along when ``scope`` has ``openid``, unless not
        ``with_id_token`` (Server-to-Server tokens have none)."""
        legacy = shape == "legacy"
        now = self.now()
        access = self._access_token(client_id, scope, legacy, user)
        refresh = None if legacy or not with_refresh else self._refresh_token(client_id, scope)
        with self.lock:
            self.grants[access] = Grant(
                "access", client_id, user, scope, now + self.access_token_lifetime, parent=refresh
            )
            if refresh:
                self.grants[refresh] = Grant(
                    "refresh", client_id, user, scope, now + self.refresh_token_lifetime
                )
        if legacy:
            return {
                "access_token": access,
                "client_id": client_id,
                "user_id": user.sub,
                "expires": int(now + self.access_token_lifetime),
                "scope": scope,
            }
        lifetime = self.access_token_lifetime * (1000 if shape == "v1" else 1)
        body: dict[str, Any] = {"access_token": access, "token_type": "bearer", "expires_in": int(lifetime)}
        if refresh:
            body["refresh_token"] = refresh
        if with_id_token and "openid" in scope.replace(",", " ").split() and self.key is not None:
            claims: dict[str, Any] = {
                "iss": issuer,
                "sub": user.sub,
                "aud": client_id,
                "iat": int(now),
                "exp": int(now + self.access_token_lifetime),
                "email": user.email,
                "name": user.name,
            }
            if nonce:
                claims["nonce"] = nonce
            body["id_token"] = self.key.sign(claims)
        return body

    # -- checking -----------------------------------------------------------

    def live(self, value: str, kind: str) -> Grant | None:
        """The grant ``value`` of ``kind`` if it is unexpired, unused and unrevoked."""
        with self.lock:
            grant = self.grants.get(value)
            if grant is None or grant.kind != kind or grant.revoked or grant.used:
                return None
            if grant.expires_at <= self.now():
                return None
            if grant.parent and self.grants[grant.parent].revoked:
                return None
            return grant

    def user_for(self, access_token: str) -> User | None:
        """The user of a valid access token, else None (expired, revoked, unknown)."""
        grant = self.live(access_token, "access")
        return grant.user if grant else None

    def revoke(self, value: str) -> bool:
        with self.lock:
            grant = self.grants.get(value)
            if grant is None or grant.kind == "code":
                return False
            grant.revoked = True
            return True

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far expire now (refresh tokens stay)."""
        with self.lock:
            for grant in self.grants.values():
                if grant.kind == "access":
                    grant.expires_at = self.now() - 1

    def record(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)

    # -- lasting faults -------------------------------------------------------

    def plan(self, endpoint: str) -> Plan | None:
        """What the lasting faults do to a call to ``endpoint`` (one of
        :data:`ENDPOINTS`), merged, or None when none applies. The call
        counts against each condition with a ``count``.

        Delays add up; the first replacing condition gives the answer;
        the latest trickle sets the pace; the earliest reset point wins.
        """
        with self.lock:
            matching = [c for c in self.conditions if endpoint in c.endpoints]
            if not matching:
                return None
            plan = Plan()
            for condition in matching:
                fault = condition.fault
                if condition.count is not None:
                    condition.count -= 1
                plan.delay += fault.delay
                if condition.replace and plan.answer is None:
                    plan.answer = fault
                if fault.trickle or fault.trickle_headers:
                    plan.trickle, plan.pause = fault.trickle, fault.pause
                    plan.trickle_headers = fault.trickle_headers
                if fault.reset_after is not None and (
                    plan.reset_after is None or fault.reset_after < plan.reset_after
                ):
                    plan.reset_after = fault.reset_after
            self.conditions = [c for c in self.conditions if c.count is None or c.count > 0]
            return plan
