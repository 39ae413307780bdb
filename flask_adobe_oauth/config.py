"""Options, provider presets, and resolving them against ``app.config``: every option of
:func:`make_adobe_blueprint` may come from the argument or from ``app.config["ADOBE_OAUTH_<NAME>"]``; an
explicit argument wins. All checks run when the blueprint is registered, so a wrong setting fails at start-up
with the config key named.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, NoReturn
from urllib.parse import urlsplit

from .errors import ConfigurationError
from .ratelimit import check_storage
from .tokens import Storage, split_scope

CONFIG_PREFIX = "ADOBE_OAUTH_"

IMS_HOST = "https://ims-na1.adobelogin.com"
#: The issuers an Adobe IMS id_token may name: IMS's discovery document (User Authentication API
#: reference) says ``https://ims-na1.adobelogin.com``, the Admin Authentication API reference ``.../ims``.
IMS_ISSUERS = (IMS_HOST, f"{IMS_HOST}/ims")

#: Endpoints and default scope of each provider preset (Adobe's Analytics OAuth guide and the Adobe Developer Console IMS docs).
PRESETS: dict[str, dict[str, Any]] = {
    "ims": {
        "authorize_url": f"{IMS_HOST}/ims/authorize/v2",
        "token_url": f"{IMS_HOST}/ims/token/v3",
        "revoke_url": f"{IMS_HOST}/ims/revoke",
        "userinfo_url": f"{IMS_HOST}/ims/userinfo/v2",
        "jwks_url": f"{IMS_HOST}/ims/keys",
        "issuer": IMS_ISSUERS,
        "logout_url": f"{IMS_HOST}/ims/logout/v1",
        # User Authentication API reference, "Profile": organisations and product contexts.
        "profile_url": f"{IMS_HOST}/ims/profile/v1",
        "api_base_url": "https://analytics.adobe.io",
        # Analytics 2.0 APIs FAQ, "Rate limits": 12 requests every 6 seconds per user.
        "api_rate_limit": (12, 6.0),
        "scope": "openid AdobeID read_organizations additional_info.projectedProductContext offline_access",
    },
    "legacy": {
        **dict.fromkeys(
            ("userinfo_url", "jwks_url", "issuer", "logout_url", "profile_url", "api_rate_limit")
        ),
        "authorize_url": "https://marketing.adobe.com/authorize",
        "token_url": "https://api.omniture.com/token",
        "revoke_url": "https://api.omniture.com/token/revoke",
        "api_base_url": "https://api.omniture.com",
        "scope": "ReportSuite Report Company",
    },
}

_PLACEHOLDER_WORDS = frozenset(
    {"changeme", "change-me", "change_me", "todo", "tbd", "fixme", "none", "null", "placeholder", "secret"}
)
_PLACEHOLDER = re.compile(r"^(?:[.\-_*x?]+|<.*>|\{.*\}|\$\{.*\}|your[-_ ].*|.*\.\.\..*|.*…)$", re.IGNORECASE)


def placeholder_problem(value: Any) -> str | None:
    """Why ``value`` looks like a placeholder rather than a real credential, or None."""
    if not isinstance(value, (str, bytes)):
        return None
    text = (value.decode("latin-1") if isinstance(value, bytes) else value).strip()
    if not text:
        return "it is empty"
    if text.lower() in _PLACEHOLDER_WORDS or _PLACEHOLDER.match(text):
        # The value is not quoted: it may be a real secret that merely looks odd.
        return "it looks like a placeholder ('...', 'changeme', 'your-client-id' and the like)"
    return None


_URL_OPTIONS = tuple(name for name in PRESETS["ims"] if name.endswith("_url"))
#: ``prompt`` values IMS's authorize endpoint takes (User Authentication API reference, "Authorize Request").
PROMPTS = frozenset({"none", "login"})
#: Hosts where plain http is allowed: this machine.
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _option(default: Any, doc: str, *, key: bool = True, repr: bool = True, min: float | None = None) -> Any:
    """A :class:`Config` field that is an option (``default`` None: from the preset, or derived); one
    with a ``min`` is a number, whole when its default is."""
    return field(default=default, repr=repr, metadata={"doc": doc, "config_key": key, "min": min})


@dataclass(frozen=True)
class Config:
    """The resolved, checked options of one registered blueprint. Each option is declared here, once:
    :func:`make_adobe_blueprint`'s keywords and docstring, :data:`OPTIONS`, :data:`DEFAULTS` and
    :data:`CONFIG_KEYS` are derived from these fields."""

    client_id: str = _option(None, "the credential's client ID (Adobe Developer Console). Required.")
    client_secret: str = _option(None, "the credential's client secret. Required.", repr=False)
    provider: str = _option("ims", '``"ims"`` (Adobe IMS) or ``"legacy"`` (the retired Analytics OAuth).')
    authorize_url: str = _option(None, "overrides the preset's authorization endpoint.")
    token_url: str = _option(None, "overrides the preset's token endpoint.")
    revoke_url: str | None = _option(None, "overrides the preset's revocation endpoint (RFC 7009).")
    userinfo_url: str | None = _option(None, "overrides the preset's OpenID Connect userinfo endpoint.")
    jwks_url: str | None = _option(None, "overrides the preset's id_token keys (JWKS).")
    #: The first of :attr:`issuers` (None when no issuer is configured).
    issuer: str | None = _option(None, "the ``iss`` values allowed (a list, or a space-separated string).")
    logout_url: str | None = _option(None, "where ``end_adobe_session`` sends the browser.")
    profile_url: str | None = _option(None, "overrides the preset's profile endpoint (for the access rules).")
    api_base_url: str = _option(None, "where ``adobe.session`` sends relative URLs (Analytics 2.0).")
    scope: tuple[str, ...] = _option(None, "a string (comma- or space-separated) or a list of scope names.")
    redirect_uri: str | None = _option(None, "the absolute callback URL sent to Adobe (default: this app's).")
    redirect_to: str = _option("/", "endpoint name or path after login when there is no ``next``.")
    logout_redirect_to: str = _option("/", "endpoint name or path after logout.")
    client_auth: str = _option(
        "client_secret_basic", '``"client_secret_basic"`` or ``"client_secret_post"`` (RFC 6749 §2.3.1).'
    )
    use_pkce: bool = _option(True, "PKCE with S256 (RFC 7636).")
    state_max_age: int = _option(600, "seconds a started login stays valid.", min=1)
    max_pending_logins: int = _option(5, "logins that may be pending at once per browser.", min=1)
    timeout: float = _option(10.0, "seconds for each whole call to the authorization server.", min=0.001)
    api_timeout: float = _option(60.0, "seconds for each whole call through ``adobe.session``.", min=0.001)
    api_rate_limit: tuple[int, float] | None = _option(
        None,
        'calls per user to ``api_base_url``: ``(12, 6)`` (IMS: Adobe\'s) or ``"12/6"``; ``False``: none.',
    )
    api_rate_wait: float = _option(7.0, "longest wait for a turn (0 to 60 s), else ``RateLimited``.", min=0)
    api_rate_storage: str = _option(
        "memory://",
        'where ``api_rate_limit`` counts: ``"memory://"`` (per process) or a ``redis://``, ``rediss://`` or '
        "``redis+unix://`` URL (one count for every worker; if Redis fails, each process counts alone).",
        repr=False,  # a URL may carry a password
    )
    api_rate_waiters: int = _option(
        2, "calls of one user that may wait for a turn at once per process; more get ``RateLimited``.", min=0
    )
    max_response_bytes: int = _option(8 << 20, "the largest answer body accepted (decompressed).", min=1024)
    expires_in_unit: str = _option(None, '``"seconds"`` or ``"milliseconds"`` (default: by the token URL).')
    end_adobe_session: bool = _option(False, "after logout, end the Adobe sign-in too.")
    prompt: str | None = _option(None, '``"login"`` or ``"none"``, sent with every authorization request.')
    response_type: str = _option("code", '``"code"`` or ``"token"`` (the implicit grant).')
    storage: Storage | None = _option(None, "where tokens live (default: the session); any ``Storage``.")
    allowed_orgs: tuple[str, ...] = _option(
        None, "IMS org ids (``...@AdobeOrg``; a list, or a string of them) whose people may sign in."
    )
    required_products: tuple[str, ...] = _option(
        None, "product codes (``dma_analytics``) the user must have (in an allowed organisation)."
    )
    allowed_email_domains: tuple[str, ...] = _option(None, "verified e-mail domains allowed to sign in.")
    authorize: Callable[[Any], Any] | None = _option(
        None, "``authorize(identity)`` (an ``AdobeIdentity``): True admits; False or a reason refuses."
    )
    name: str = _option("adobe", "the blueprint's name; an argument only.", key=False)
    #: Every issuer a callback's or an id_token's ``iss`` may name (derived from ``issuer``).
    issuers: tuple[str, ...] = ()

    @property
    def expires_in_ms(self) -> bool:
        return self.expires_in_unit == "milliseconds"

    @property
    def scope_string(self) -> str:
        """The scope as sent on the wire: space-separated (RFC 6749 §3.3)."""
        return " ".join(self.scope)


_OPTION_FIELDS = tuple(f for f in fields(Config) if "doc" in f.metadata)
OPTIONS: tuple[str, ...] = tuple(f.name for f in _OPTION_FIELDS)
#: Option name -> default (None for "from the preset" or "derived").
DEFAULTS: dict[str, Any] = {f.name: f.default for f in _OPTION_FIELDS}


def options_doc(indent: str = "    ") -> str:
    """The options as a Google-style ``Args:`` section, for docstrings."""
    lines = ["Args:"]
    for f in _OPTION_FIELDS:
        default = "" if f.default is None else f" Default: ``{f.default!r}``."
        lines.append(f"{indent}{f.name}: {f.metadata['doc']}{default}")
    return "\n".join(lines)


def _key(name: str) -> str:
    return CONFIG_PREFIX + name.upper()


def _fail(name: str, why: str) -> NoReturn:
    raise ConfigurationError(f"{_key(name)} {why}")


CONFIG_KEYS: tuple[str, ...] = tuple(_key(f.name) for f in _OPTION_FIELDS if f.metadata["config_key"])
#: The service credential's own keys (OAuth Server-to-Server, ``service.py``).
SERVICE_KEYS = tuple(_key(name) for name in ("service_client_id", "service_client_secret", "service_scope"))
#: What a blueprint's configuration is resolved from.
SNAPSHOT_KEYS: tuple[str, ...] = (*CONFIG_KEYS, "SECRET_KEY", "SESSION_COOKIE_SAMESITE")


def config_snapshot(app_config: Mapping[str, Any]) -> tuple[Any, ...]:
    """The values of :data:`SNAPSHOT_KEYS`, to notice later changes."""
    return tuple(map(app_config.get, SNAPSHOT_KEYS))


_GENERATE_KEY = "Generate one with `python -c 'import secrets; print(secrets.token_hex(32))'` and load it from the environment"


def check_app(app_config: Mapping[str, Any], secret_key: Any) -> None:
    """The app-wide checks: a real ``SECRET_KEY`` (the login is bound to the signed session), no
    unknown ``ADOBE_OAUTH_*`` key (a typo would be ignored without a word), and a session cookie that
    survives the redirect back from Adobe."""
    if not secret_key:
        raise ConfigurationError(
            f"SECRET_KEY is not set: flask-adobe-oauth binds each login to the signed session. {_GENERATE_KEY}"
        )
    problem = placeholder_problem(secret_key)
    if problem:  # anyone could sign a session with it, and so plant a token in it
        raise ConfigurationError(f"SECRET_KEY is not a secret: {problem}. {_GENERATE_KEY}")
    known = (*CONFIG_KEYS, *SERVICE_KEYS)
    for key in app_config:
        if isinstance(key, str) and key.startswith(CONFIG_PREFIX) and key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {close[0]}?" if close else f"; known keys: {', '.join(known)}"
            raise ConfigurationError(f"{key} is not an option of flask-adobe-oauth{hint}")
    samesite = app_config.get("SESSION_COOKIE_SAMESITE")
    if isinstance(samesite, str) and samesite.lower() == "strict":
        raise ConfigurationError(
            "SESSION_COOKIE_SAMESITE='Strict' drops the session on the redirect back from Adobe; use 'Lax'"
        )


_TRUE, _FALSE = frozenset({"1", "true", "yes", "on"}), frozenset({"0", "false", "no", "off"})


def _as_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = value.strip().lower() if isinstance(value, str) else None
    if text in _TRUE | _FALSE:
        return text in _TRUE
    _fail(name, f"must be true or false, not {value!r}")


MAX_RATE_WAIT = 60.0
#: The numbers: their lowest value, and whether they are whole.
_NUMBERS = {
    f.name: (f.metadata["min"], type(f.default)) for f in _OPTION_FIELDS if f.metadata["min"] is not None
}


def _as_number(name: str, value: Any, minimum: float, kind: Callable[[float], Any]) -> Any:
    """A finite number: ``float()`` takes "inf" and "nan" (from an environment variable, say), and
    an infinite timeout makes every call fail with OverflowError."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        _fail(name, f"must be a number, not {value!r}")
    if not math.isfinite(number):
        _fail(name, f"must be a finite number, not {value!r}")
    if not number >= minimum:
        _fail(name, f"must be at least {minimum:g}, not {value!r}")
    if name == "api_rate_wait" and (isinstance(value, bool) or number > MAX_RATE_WAIT):
        # A request would hold its worker that long; past a minute, answer 429.
        _fail(name, f"must be seconds from 0 to {MAX_RATE_WAIT:g}, not {value!r}")
    return kind(number)


def _check_url(name: str, value: Any) -> str:
    if not isinstance(value, str):
        _fail(name, f"must be a URL string, not {type(value).__name__}")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        _fail(name, f"must be an absolute http(s) URL, not {value!r}")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        # Codes, tokens and the client secret would cross the network in clear.
        _fail(name, "must use https (plain http is allowed only on localhost)")
    if parts.username or parts.password:
        _fail(name, "must not carry credentials")
    return value


_OFF = _FALSE | {"none"}


def _rate_limit(value: Any, preset_value: tuple[int, float] | None) -> tuple[int, float] | None:
    """``(12, 6)``, ``"12/6"``, or ``False``/``"off"`` for none; unset is the preset's."""
    if value is None:
        return preset_value
    if value is False or (isinstance(value, str) and value.strip().lower() in _OFF):
        return None
    parts: Any = value.split("/") if isinstance(value, str) else value
    try:
        calls_text, seconds_text = parts
        calls, seconds = int(str(calls_text).strip()), float(str(seconds_text).strip())
    except (TypeError, ValueError):
        calls, seconds = 0, 0.0
    if isinstance(value, bool) or not (calls >= 1 and 0 < seconds < 86400):
        _fail(
            "api_rate_limit",
            f"must be (calls, seconds) such as (12, 6) or '12/6', or False to turn it off; not {value!r}",
        )
    return calls, seconds


#: The options of a few allowed values.
_CHOICES: dict[str, tuple[str | None, ...]] = {
    "client_auth": ("client_secret_basic", "client_secret_post"),
    "response_type": ("code", "token"),
    "prompt": (None, *sorted(PROMPTS)),
    "expires_in_unit": (None, "seconds", "milliseconds"),
}
#: The lists of names: what each item must match, what it is, and whether it is lower-cased.
_NAMES = {
    # Adobe writes IMS organisation ids as 24 hex digits and ``@AdobeOrg``.
    "allowed_orgs": (r"[A-Za-z0-9]{1,64}@AdobeOrg", "an IMS organisation id (ABC123@AdobeOrg)"),
    "required_products": (r"[A-Za-z0-9_.-]{1,64}", "a product code (such as dma_analytics)"),
    "allowed_email_domains": (
        r"(?=.{1,253}$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+",
        "an e-mail domain (example.com)",
    ),
}


def _names(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, (str, list, tuple, set, frozenset)):
        _fail(name, "must be a list, or one string separated by commas or spaces")
    pattern, what = _NAMES[name]
    lower = name == "allowed_email_domains"
    found = tuple(dict.fromkeys(item.lower() if lower else item for item in split_scope(value)))
    bad = [item for item in found if not re.fullmatch(pattern, item)]
    if bad:
        _fail(name, f"has {bad[0]!r}, which is not {what}")
    return found


Pick = Callable[[str], Any]


def resolve(options: Mapping[str, Any], app_config: Mapping[str, Any]) -> Config:
    """Merge arguments, ``app.config`` and the preset, and check the result."""

    def pick(name: str) -> Any:
        if options.get(name) is not None:
            return options[name]
        return app_config.get(_key(name), DEFAULTS[name])

    provider = pick("provider")
    if isinstance(provider, str):
        provider = provider.strip().lower()  # ADOBE_OAUTH_PROVIDER=IMS is meant as "ims"
    if provider not in PRESETS:
        _fail("provider", f"must be one of {', '.join(sorted(PRESETS))}, not {provider!r}")
    preset = PRESETS[provider]
    values: dict[str, Any] = {name: _credential(name, pick(name)) for name in ("client_id", "client_secret")}
    values.update(provider=provider, **_endpoints(pick, preset))
    for name, allowed in _CHOICES.items():
        values[name] = pick(name)
        if values[name] not in allowed:
            shown = ", ".join(repr(a) for a in allowed if a is not None)
            _fail(name, f"must be one of {shown}, not {values[name]!r}")
    if values["expires_in_unit"] is None:
        # Adobe IMS's older /ims/token/v1 answers expires_in in milliseconds (v3 in seconds, RFC 6749 §5.1).
        v1 = urlsplit(values["token_url"]).path.rstrip("/").endswith("/ims/token/v1")
        values["expires_in_unit"] = "milliseconds" if v1 else "seconds"
    scope = pick("scope")
    scope = preset["scope"] if scope is None else scope
    if not isinstance(scope, (str, list, tuple)):
        _fail("scope", "must be a string or a list of strings")
    values["scope"] = tuple(split_scope(scope))
    for name in ("redirect_to", "logout_redirect_to"):
        values[name] = pick(name)
        if not isinstance(values[name], str) or not values[name]:
            _fail(name, "must be an endpoint name or a path")
    values.update({name: _as_bool(name, pick(name)) for name in ("use_pkce", "end_adobe_session")})
    if values["response_type"] == "token" and options.get("use_pkce") is True:
        raise ConfigurationError(
            "use_pkce=True contradicts response_type='token': the implicit grant has no code to protect"
        )
    values.update({name: _as_number(name, pick(name), *rule) for name, rule in _NUMBERS.items()})
    values["api_rate_limit"] = _rate_limit(pick("api_rate_limit"), preset["api_rate_limit"])
    values["api_rate_storage"] = check_storage(pick("api_rate_storage"))
    values.update(_access(pick, values["profile_url"]))
    if values["end_adobe_session"] and not values["logout_url"]:
        _fail("end_adobe_session", f"is on, but the provider has no logout URL: set {_key('logout_url')}")
    return Config(name=str(options.get("name") or "adobe"), **values)


def _credential(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        _fail(
            name,
            "is required when the blueprint is registered: set it in app.config before app.register_blueprint() "
            "(from the environment; in tests, app.config.update(adobe_standin.config()) first) or pass "
            f"{name}=. The value is on your project's credential page in the Adobe Developer Console",
        )
    problem = placeholder_problem(value)
    if problem:
        _fail(
            name,
            f"is not a real credential: {problem}. Use the value from your project's credential page in the "
            "Adobe Developer Console, or StandInAdobe().config() in tests",
        )
    return value.strip()


def _endpoints(pick: Pick, preset: Mapping[str, Any]) -> dict[str, Any]:
    """The URLs (each checked) and the issuers."""
    values: dict[str, Any] = {}
    for name in (*_URL_OPTIONS, "redirect_uri"):
        value = pick(name)
        value = preset.get(name) if value is None else value
        values[name] = None if value is None else _check_url(name, value)
    values["api_base_url"] = values["api_base_url"].rstrip("/")
    if pick("profile_url") is None and _origin(values["token_url"]) != _origin(preset["token_url"]):
        # The sign-in is another server's (a stand-in, another provider): Adobe's own profile
        # endpoint would not know its tokens.
        values["profile_url"] = None
    issuers = pick("issuer")
    issuers = preset["issuer"] if issuers is None else issuers
    issuers = issuers.split() if isinstance(issuers, str) else () if issuers is None else issuers
    if not isinstance(issuers, (list, tuple)) or not all(isinstance(i, str) and i.strip() for i in issuers):
        _fail("issuer", "must be a string or a list of strings")
    values["issuers"] = issuers = tuple(dict.fromkeys(i.strip() for i in issuers))
    values["issuer"] = issuers[0] if issuers else None
    if values["jwks_url"] and not issuers:  # OIDC Core §3.1.3.7: an id_token's iss must equal the issuer.
        _fail("jwks_url", f"is set without {_key('issuer')}: id_tokens need both")
    return values


def _access(pick: Pick, profile_url: str | None) -> dict[str, Any]:
    """Who may enter (organisations, products, e-mail domains, the app's own rule); where tokens live."""
    values: dict[str, Any] = {name: _names(name, pick(name)) for name in _NAMES}
    values["authorize"] = pick("authorize")
    if values["authorize"] is not None and not callable(values["authorize"]):
        _fail("authorize", "must be a function of the user's identity")
    if (values["allowed_orgs"] or values["required_products"]) and not profile_url:
        _fail(
            "allowed_orgs",
            f"and {_key('required_products')} need {_key('profile_url')}: "
            "the organisations and products are read from the user's Adobe profile",
        )
    values["storage"] = storage = pick("storage")
    if storage is not None and not all(callable(getattr(storage, m, None)) for m in ("get", "set", "delete")):
        _fail("storage", "must have get(), set(token) and delete() methods")
    return values


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{(parts.hostname or '').lower()}:{parts.port or ''}"
