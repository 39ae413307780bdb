"""What the stand-in Adobe server remembers: clients, codes, tokens, calls.

All of it sits behind one lock; the HTTP layer (``provider.py``) is threaded.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Protocol

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


#: The organisation of the stand-in's default user (and of every user made
#: without one): an IMS org id, ``<24 hex digits>@AdobeOrg``.
DEFAULT_ORG_ID = "5E2D0C0B5A1F2A3B0A490D4C@AdobeOrg"
#: Another organisation, for tests of users from elsewhere (:func:`example_users`).
OTHER_ORG_ID = "7A1B3C5D7E9F1A2B0A495E6F@AdobeOrg"
#: The ``serviceCode`` of an Adobe Analytics product context. Adobe's profile
#: samples show the ``dma_`` codes of the Experience Cloud (``dma_tartan`` in
#: Campaign Standard's "API troubleshooting" page, ``dma_reactor`` and others
#: in the Reactor API's "Profiles endpoint" page); none we read names
#: Analytics' own code, so this is the stand-in's choice, one constant to
#: change.
ANALYTICS_SERVICE_CODE = "dma_analytics"
#: The scopes that add to the IMS profile (``/ims/profile/v1``): the product
#: contexts, the roles, the job function. Adobe lists the first and the last
#: among the scopes of Analytics (Adobe Developer Console docs,
#: guides/authentication/UserAuthentication/ims.md, "Scopes").
PRODUCT_CONTEXT_SCOPE = "additional_info.projectedProductContext"
ROLES_SCOPE = "additional_info.roles"
JOB_FUNCTION_SCOPE = "additional_info.job_function"


def _digest(*parts: object) -> bytes:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()


@dataclass
class ProductContext:
    """A product profile the user is in: one ``prodCtx`` of the IMS profile.

    The fields are those of Adobe's ``ProductContext`` (the Experience Cloud
    shell's documentation, AdobeDocs/exc-app docs/interfaces/ims.productcontext.md:
    ``serviceCode``, ``owningEntity``, ``label``, ``ident``, ``groupid``,
    ``statusCode``, ``serviceLevel``, ``createDts``, ``modDts``, optional
    ``global_company_id``, ``login_company``, ``tenant_id``...), as in the
    sample answer of ``GET /ims/profile/v1`` in Campaign Standard's "API
    troubleshooting" page (AdobeDocs/campaign-standard.en,
    help/api/using/troubleshooting.md). ``owning_entity`` is the org the
    product profile belongs to (``...@AdobeOrg``); ``label`` the product
    profile's name; ``extra`` any further prodCtx fields.
    """

    owning_entity: str
    service_code: str = ANALYTICS_SERVICE_CODE
    label: str = "Adobe Analytics"
    status_code: str = "ACTIVE"
    service_level: str = "standard"
    created: int = 1421181343000  # createDts, milliseconds (the troubleshooting page's value)
    modified: int = 1448307260000  # modDts
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def analytics(cls, org_id: str, label: str = "Adobe Analytics") -> ProductContext:
        """An Adobe Analytics product profile of ``org_id``."""
        return cls(org_id, ANALYTICS_SERVICE_CODE, label)

    @property
    def ident(self) -> str:
        """A fixed id of 26 upper-case letters and digits, as Adobe's (``ZQ9FRQK7BF09YXAESFY9DDQP1G``)."""
        alphabet = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
        number = int.from_bytes(_digest(self.owning_entity, self.service_code, self.label)[:17], "big")
        return "".join(alphabet[(number >> (5 * i)) % len(alphabet)] for i in range(26))

    @property
    def groupid(self) -> str:
        """The product profile's group id: digits, fixed by its org, product and label."""
        return str(int.from_bytes(_digest("group", self.owning_entity, self.label)[:4], "big"))

    def prod_ctx(self) -> dict[str, Any]:
        """The ``prodCtx`` object of the IMS profile."""
        return {
            "serviceCode": self.service_code,
            "owningEntity": self.owning_entity,
            "label": self.label,
            "ident": self.ident,
            "groupid": self.groupid,
            "statusCode": self.status_code,
            "serviceLevel": self.service_level,
            "createDts": self.created,
            "modDts": self.modified,
            **self.extra,
        }


@dataclass
class Role:
    """An admin role the user holds: one entry of the IMS profile's ``roles``.

    Its keys are those of Adobe's role records, ``principal``,
    ``organization``, ``named_role`` (``org_admin``...), ``target``,
    ``target_type`` (``TRG_ORG`` for a role over the whole org) and
    ``target_data``, as the I/O Management API SDK's tests show them
    (adobe/aio-lib-console, test/index_fetchmock.test.js, an organisation's
    ``roles``). ``target`` is the organisation unless given.
    """

    organization: str
    named_role: str = "org_admin"
    target: str | None = None
    target_type: str = "TRG_ORG"
    target_data: dict[str, Any] = field(default_factory=dict)

    def record(self, user: User) -> dict[str, Any]:
        """The role as the profile lists it; ``principal`` is ``<org>:<number>``, fixed by the user."""
        number = int.from_bytes(_digest(self.organization, user.sub)[:3], "big")
        return {
            "principal": f"{self.organization}:{number}",
            "organization": self.organization,
            "named_role": self.named_role,
            "target": self.target or self.organization,
            "target_type": self.target_type,
            "target_data": dict(self.target_data),
        }


@dataclass
class User:
    """A user of the stand-in.

    ``orgs`` are the IMS organisations the user is a member of, ``org_id``
    the first (either may be given: ``User(org_id=X)`` is a member of X
    alone, ``User(orgs=[A, B])`` of A and B with ``org_id`` A; given both,
    ``org_id`` must be one of ``orgs``). ``product_contexts`` are the product
    profiles the user is in, each of one of ``orgs``; None (the default) is
    an Adobe Analytics product profile in each org, ``[]`` none at all.
    ``roles`` are admin roles (:class:`Role`), each in one of ``orgs``.
    """

    sub: str = "4B2C1F3E5F0A4D1B0A490D4C@AdobeID"
    email: str = "ada.analyst@example.com"
    name: str = "Ada Analyst"
    org_id: str = ""
    orgs: list[str] | None = None
    product_contexts: list[ProductContext] | None = None
    roles: list[Role] = field(default_factory=list)
    email_verified: bool = True
    account_type: str = "type3"
    country_code: str = "US"
    job_function: str | None = None

    def __post_init__(self) -> None:
        orgs = list(dict.fromkeys(self.orgs or []))
        if not self.org_id:
            self.org_id = orgs[0] if orgs else DEFAULT_ORG_ID
        if not orgs:
            orgs = [self.org_id]
        elif self.org_id not in orgs:
            raise ValueError(f"org_id {self.org_id!r} is not one of orgs {orgs}")
        self.orgs = orgs
        if self.product_contexts is None:
            self.product_contexts = [ProductContext.analytics(org) for org in orgs]
        else:
            self.product_contexts = list(self.product_contexts)
        for context in self.product_contexts:
            if context.owning_entity not in orgs:
                raise ValueError(f"a product context of {context.owning_entity}, not one of orgs {orgs}")
        self.roles = list(self.roles)
        for role in self.roles:
            if role.organization not in orgs:
                raise ValueError(f"a role in {role.organization}, not one of orgs {orgs}")

    @property
    def member_of(self) -> list[str]:
        """The user's organisations, ``org_id`` first unless ``orgs`` said otherwise."""
        return list(self.orgs or [self.org_id])

    def contexts(self, service_code: str | None = None) -> list[ProductContext]:
        """The user's product contexts (of ``service_code`` only, when given)."""
        return [c for c in self.product_contexts or [] if service_code in (None, c.service_code)]

    def userinfo(self) -> dict[str, Any]:
        given, _, family = self.name.partition(" ")
        return {
            "sub": self.sub,
            "email": self.email,
            "email_verified": self.email_verified,
            "name": self.name,
            "given_name": given,
            "family_name": family,
            "account_type": self.account_type,
        }

    def profile(self, scope: str, contexts: list[ProductContext] | None = None) -> dict[str, Any]:
        """The user as IMS's ``GET /ims/profile/v1`` answers for a token of ``scope``.

        The keys are those of Adobe's ``ImsProfile`` (AdobeDocs/exc-app,
        docs/interfaces/ims.imsprofile.md): ``userId``, ``authId``,
        ``email``, ``emailVerified``, ``name``, ``displayName``,
        ``first_name``, ``last_name``, ``account_type``, ``countryCode``,
        ``preferred_languages``; with ``additional_info.projectedProductContext``
        also ``projectedProductContext``, a list of ``{"prodCtx": {...}}``
        (ims.projectedproductcontext.md; the sample in Campaign Standard's
        "API troubleshooting" page); with ``additional_info.roles`` the
        ``roles``; with ``additional_info.job_function`` the
        ``job_function``. ``contexts`` replaces the user's product contexts
        (the server leaves out those the Analytics controls take away). The
        same facts as :meth:`userinfo`, in the profile's names.
        """
        scopes = set(scope.replace(",", " ").split())
        given, _, family = self.name.partition(" ")
        body: dict[str, Any] = {
            "userId": self.sub,
            "authId": self.sub,
            "email": self.email,
            "emailVerified": self.email_verified,
            "name": self.name,
            "displayName": self.name,
            "first_name": given,
            "last_name": family,
            "account_type": self.account_type,
            "countryCode": self.country_code,
            "preferred_languages": ["en-us"],
        }
        if PRODUCT_CONTEXT_SCOPE in scopes:
            shown = self.contexts() if contexts is None else contexts
            body["projectedProductContext"] = [{"prodCtx": c.prod_ctx()} for c in shown]
        if ROLES_SCOPE in scopes:
            body["roles"] = [role.record(self) for role in self.roles]
        if JOB_FUNCTION_SCOPE in scopes:
            body["job_function"] = self.job_function
        return body


def example_users() -> dict[str, User]:
    """Four users for tests of who may enter an app, by name:

    * ``"member"``: the stand-in's default user, in :data:`DEFAULT_ORG_ID`
      with Adobe Analytics;
    * ``"outsider"``: in :data:`OTHER_ORG_ID` only, with Analytics there;
    * ``"both"``: in both orgs (``org_id`` the default one), Analytics in
      each, admin (``org_admin``) of the other;
    * ``"no_analytics"``: in :data:`DEFAULT_ORG_ID` with another product
      (``dma_tartan``, "Adobe Marketing Cloud", as in Campaign Standard's
      "API troubleshooting" page) but not Analytics.

    Fresh objects at every call: give them to ``StandInAdobe(users=...)``.
    """
    return {
        "member": User(),
        "outsider": User(
            sub="9C1E5A7B3D2F4E6A0A495E6F@AdobeID",
            email="oscar.outsider@example.net",
            name="Oscar Outsider",
            org_id=OTHER_ORG_ID,
        ),
        "both": User(
            sub="2D4F6A8C0E1B3D5F0A490D4C@AdobeID",
            email="bea.both@example.com",
            name="Bea Both",
            orgs=[DEFAULT_ORG_ID, OTHER_ORG_ID],
            roles=[Role(OTHER_ORG_ID)],
        ),
        "no_analytics": User(
            sub="6E8A0C2E4A6C8E0A0A490D4C@AdobeID",
            email="nora.noanalytics@example.com",
            name="Nora Noanalytics",
            product_contexts=[ProductContext(DEFAULT_ORG_ID, "dma_tartan", "Adobe Marketing Cloud")],
        ),
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


class _AnalyticsSwitches(Protocol):
    """What the state reads of the Analytics API's controls (``analytics.AnalyticsControls``)."""

    users_without_profile: set[str]


class StandInState:
    """The memory of a stand-in Adobe server."""

    def __init__(
        self,
        clients: dict[str, str],
        *,
        user: User | None = None,
        users: list[User] | tuple[User, ...] = (),
        access_token_lifetime: float = 86399,
        refresh_token_lifetime: float = 14 * 86400,
        code_lifetime: float = 300,
    ) -> None:
        self.lock = threading.RLock()
        self.clients = dict(clients)
        #: Every user the stand-in knows, by ``sub``: who may sign in, and whom
        #: ``mint_token(user_id=...)`` (so ``login_as``) signs in.
        self.users: dict[str, User] = {}
        for known in users:
            self.add_user(known)
        self._user = self.add_user(user or (users[0] if users else User()))
        #: What the Analytics API takes away from users (its
        #: ``AnalyticsControls``, set by ``register_analytics``): the profile
        #: leaves out the Analytics product contexts of ``users_without_profile``.
        self.analytics_controls: _AnalyticsSwitches | None = None
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

    # -- users ----------------------------------------------------------------

    @property
    def user(self) -> User:
        """The user signed in at the stand-in: who the next sign-in (authorize) is.

        Setting it chooses who signs in next, and adds that user to :attr:`users`.
        """
        with self.lock:
            return self._user

    @user.setter
    def user(self, user: User) -> None:
        with self.lock:
            self._user = self.add_user(user)

    def add_user(self, user: User) -> User:
        """Make ``user`` known (replacing a known user of the same ``sub``); returns it."""
        with self.lock:
            self.users[user.sub] = user
            return user

    def known_user(self, sub: str) -> User | None:
        with self.lock:
            return self.users.get(sub)

    def product_contexts(self, user: User) -> list[ProductContext]:
        """``user``'s product contexts as IMS projects them: without Analytics
        for a user the Analytics controls list in ``users_without_profile``."""
        contexts = user.contexts()
        controls = self.analytics_controls
        if controls is not None and user.sub in controls.users_without_profile:
            contexts = [c for c in contexts if c.service_code != ANALYTICS_SERVICE_CODE]
        return contexts

    def analytics_orgs(self, user: User) -> list[str]:
        """The orgs where ``user`` has an Adobe Analytics product context, in
        the order of ``user.orgs``: the ``imsOrgs`` of ``/discovery/me``."""
        owning = {
            c.owning_entity for c in self.product_contexts(user) if c.service_code == ANALYTICS_SERVICE_CODE
        }
        return [org for org in user.member_of if org in owning]

    def profile(self, user: User, scope: str) -> dict[str, Any]:
        """``GET /ims/profile/v1`` of ``user`` for a token of ``scope`` (:meth:`User.profile`)."""
        return user.profile(scope, self.product_contexts(user))

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

    def _refresh_token(self, client_id: str, scope: str, user: User) -> str:
        created = int(self.now() * 1000)
        return opaque_jwt(
            {
                "id": f"{created}_{uuid.uuid4()}_ue1",
                "type": "refresh_token",
                "client_id": client_id,
                "user_id": user.sub,
                "as": "ims-na1",
                "aa_id": user.sub,
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
        refresh = None if legacy or not with_refresh else self._refresh_token(client_id, scope, user)
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
