"""``flask adobe`` (Flask's ``flask.commands`` entry point): a stand-in Adobe, and a configuration check::

    flask adobe standin                 # no app needed: a local IMS + Analytics on 127.0.0.1
    flask --app myapp adobe check       # what is wrong with myapp's Adobe sign-in, and the fix

``check`` exits 1 when a check fails, so it can gate a deployment. It never prints the client
secret, a token or ``SECRET_KEY``.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import click
import requests
from flask import Flask, current_app, url_for
from flask.cli import AppGroup, ScriptInfo
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from .api import ADOBE_DOMAINS
from .authserver import ProviderClient
from .config import LOOPBACK_HOSTS, Config
from .cookies import LOGIN_ROOM, session_cookie_size
from .errors import AdobeOAuthError, ConfigurationError, ProviderError
from .extension import EXTENSION_KEY, BlueprintRuntime
from .protocol import is_error_code
from .ratelimit import SHARED_SCHEMES, storage_scheme
from .storage import SessionStorage
from .tokens import Token
from .transport import environment_for, harden, hide_credentials, where

adobe_cli = AppGroup("adobe", help="Sign in with Adobe: a stand-in Adobe server, and a configuration check.")

#: ``flask adobe standin``'s port: a fixed one keeps the printed settings valid across restarts.
DEFAULT_STANDIN_PORT = 8765
#: The stand-in's client id (``testing.server.DEFAULT_CLIENT_ID``; not imported: it loads only for ``standin``).
STANDIN_CLIENT_ID = "standin-client"
#: The authorization code ``check --online`` sends: made up, so no server has issued it.
FAKE_CODE = "flask-adobe-check-not-a-real-code"
#: The line ``flask adobe standin`` tells an app to run: every ``ADOBE_OAUTH_*`` variable, URLs too.
READ_EVERY_SETTING = (
    'app.config.update({k: v for k, v in os.environ.items() if k.startswith("ADOBE_OAUTH_")})'
)
_FINGERPRINT_COMMAND = "_key-fingerprint"
_FINGERPRINT_LINE = re.compile(r"^adobe-key-fingerprint: ([0-9a-f]{16}|none)$", re.MULTILINE)
_CREDENTIAL_KEYS = "ADOBE_OAUTH_CLIENT_ID / ADOBE_OAUTH_CLIENT_SECRET"
#: Values from tutorials and framework defaults that people deploy as SECRET_KEY.
# fmt: off
_COMMON_KEYS = frozenset((
    "dev", "development", "secret", "secret-key", "secret_key", "secretkey", "changeme", "password", "test",
    "testing", "default", "flask", "super-secret", "supersecret", "super secret key", "my-secret-key",
    "mysecretkey", "your-secret-key", "hard to guess string",
))
# fmt: on
_IMS_USER = "4B2C1F3E5F0A4D1B0A490D4C@AdobeID"
_COLORS = {"ok": "green", "warn": "yellow", "fail": "red"}
#: A failed call's short cause, by a word of requests' message (not shown: it quotes the whole URL).
_NETWORK_REASONS = (
    ("refused", "connection refused"),
    ("Name or service not known", "host name not found"),
    ("getaddrinfo", "host name not found"),
    ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
    ("SSL", "TLS error"),
)

#: What one check found: its level ("ok", "warn" or "fail") and message; the caller names the row.
Verdict = tuple[str, str]


@dataclass(frozen=True)
class Row:
    """One line of ``flask adobe check``: what was checked, how it went, the fix."""

    name: str
    level: str  # "ok", "warn" or "fail"
    message: str


@adobe_cli.command("standin", with_appcontext=False, context_settings={"show_default": True})
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_STANDIN_PORT, help="0: any free port.")
@click.option("--host", default="127.0.0.1", help="127.0.0.1 or localhost only: it signs anyone in.")
@click.option("--provider", type=click.Choice(["ims", "legacy"]), default="ims")
@click.option("--consent/--auto-approve", default=False, help="Show an Allow / Deny page at sign-in.")
def standin(port: int, host: str, provider: str, consent: bool) -> None:
    """Run a stand-in Adobe (sign-in + Analytics 2.0) on 127.0.0.1 until Ctrl+C.

    Prints the ADOBE_OAUTH_* settings that point an app at it, as shell export lines. Needs no app.
    """
    if host not in ("127.0.0.1", "localhost"):
        why = "is not a loopback address; the stand-in signs anyone in, so use 127.0.0.1 or localhost"
        raise click.BadParameter(f"{host!r} {why}", param_hint="'--host'")
    from .testing import StandInAdobe  # the stand-in's own dependencies load only for this command

    if port:
        _ensure_port_free(host, port)
    server = StandInAdobe(host=host, port=port, auto_approve=not consent)
    try:
        server.start()
    except (OSError, SystemExit):  # werkzeug exits when it cannot bind
        raise click.ClickException(f"cannot serve on {host}:{port}; pick another --port") from None
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        user = server.state.user
        approval = "after an Allow / Deny page" if consent else "at once (auto-approve)"
        click.echo(
            f"# Stand-in Adobe ({provider} sign-in + Analytics 2.0) serving on {server.url}; "
            f"signs in {user.name} <{user.email}> {approval}. Ctrl+C stops it."
        )
        click.echo("\n".join(standin_settings(server.config(provider))))
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        server.stop()
    click.echo("# stand-in stopped")


def standin_settings(config: Mapping[str, Any]) -> list[str]:
    """What ``flask adobe standin`` prints after its first line: ``#`` comments, then exports."""
    exports = [  # ISSUER is a list: space-separated
        f"export {key}={shlex.quote(' '.join(value) if isinstance(value, list) else str(value))}"
        for key, value in config.items()
    ]
    return [
        f"# Paste all {len(exports)} export lines below into the shell that runs your app: the URLs "
        "matter as much as the id and secret.",
        "# The app must read every ADOBE_OAUTH_* variable, not only the id and secret, e.g. in create_app:",
        f"#     {READ_EVERY_SETTING}",
        "# An app that reads only the id and secret sends the sign-in to Adobe, which refuses the "
        "stand-in's id; `flask --app app adobe check` shows where the sign-in goes.",
        *exports,
    ]


def _ensure_port_free(host: str, port: int) -> None:
    """A one-line error, before werkzeug prints its own and exits, when ``port`` is taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug's server binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise click.ClickException(
                f"port {port} on {host} is in use ({exc.strerror or exc}); stop what runs there or "
                "pick another --port (0 = any free port)"
            ) from None


@adobe_cli.command("check", with_appcontext=False, context_settings={"show_default": True})
@click.option(
    "--online",
    is_flag=True,
    help="Also call the URLs; try the id and secret with a made-up code (no token results).",
)
@click.option("--timeout", type=click.FloatRange(min=0.1), default=5.0, help="Seconds per --online call.")
@click.option("--json", "as_json", is_flag=True, help='Print {"ok": ..., "checks": [...]} as JSON only.')
@click.option("--blueprint", help="Check only this Adobe blueprint (default: all).")
def check(online: bool, timeout: float, as_json: bool, blueprint: str | None) -> None:
    """Check the app's Adobe sign-in configuration; exit 1 if a check fails.

    Loads the app (as --app / FLASK_APP find it), and again in a second process to see whether
    SECRET_KEY is stable. Never prints secrets.
    """
    ctx = click.get_current_context()
    rows = run_checks(ctx.ensure_object(ScriptInfo), online=online, timeout=timeout, blueprint=blueprint)
    failed = any(row.level == "fail" for row in rows)
    if as_json:
        click.echo(json.dumps({"ok": not failed, "checks": [asdict(row) for row in rows]}, indent=2))
    else:
        _print_table(rows)
    ctx.exit(1 if failed else 0)


@adobe_cli.command("token")
@click.option("--json", "as_json", is_flag=True, help="Print the token, its expiry and scope as JSON.")
def token(as_json: bool) -> None:
    """Print a service (OAuth Server-to-Server) access token, for curl.

    The app's ADOBE_OAUTH_SERVICE_* keys (else the web credential's) and token store: the token its
    workers use. Only the token goes to stdout; on a terminal a warning goes to stderr.
    """
    from .service import service_for

    try:
        issued = service_for(current_app._get_current_object()).token()  # type: ignore[attr-defined]
    except AdobeOAuthError as exc:
        raise click.ClickException(exc.message) from None
    if sys.stdout.isatty():
        warning = "a live Adobe access token: anyone who sees it can call Adobe as the service account"
        click.echo(f"warning: {warning} until it expires", err=True)
    payload = dict(access_token=issued.access_token, expires_at=issued.expires_at, scope=sorted(issued.scope))
    click.echo(json.dumps(payload) if as_json else issued.access_token)


@adobe_cli.command(_FINGERPRINT_COMMAND, hidden=True)
@click.argument("nonce")
def key_fingerprint(nonce: str) -> None:
    """Print a salted hash prefix of SECRET_KEY, for ``check`` to compare across processes."""
    key = current_app.secret_key
    click.echo(f"adobe-key-fingerprint: {_fingerprint(nonce, _as_bytes(key)) if key else 'none'}")


def run_checks(
    info: ScriptInfo, *, online: bool = False, timeout: float = 5.0, blueprint: str | None = None
) -> list[Row]:
    """Load the app through ``info`` and check it; the rows ``check`` prints."""
    try:
        with contextlib.redirect_stdout(sys.stderr):  # what the app prints must not spoil --json
            app = info.load_app()
    except (Exception, SystemExit) as exc:
        when = "registering the Adobe blueprint" if isinstance(exc, ConfigurationError) else "loading the app"
        return [Row("app", "fail", f"{_describe(exc)} (raised {when}); fix it and check again")]
    states: dict[str, BlueprintRuntime] = dict(app.extensions.get(EXTENSION_KEY, {}))
    if not states:
        fix = "app.register_blueprint(make_adobe_blueprint(), url_prefix='/adobe')"
        return [Row("app", "fail", f"{app.name} registers no Adobe blueprint; add {fix}")]
    if blueprint is not None and blueprint not in states:
        return [Row("app", "fail", f"no Adobe blueprint named {blueprint!r}; there are: {', '.join(states)}")]
    states = states if blueprint is None else {blueprint: states[blueprint]}
    rows = [Row("app", "ok", f"{app.name} loaded; Adobe blueprint(s): {', '.join(states)}")]
    try:
        with app.app_context():
            redirects = {name: _redirect_uri(app, state) for name, state in states.items()}
            rows += _secret_key_rows(app, info)
            rows.append(Row("SESSION_COOKIE_SECURE", *_secure_cookie(app, states, redirects)))
            rows.append(Row("SESSION_COOKIE_SAMESITE", *_samesite(app.config.get("SESSION_COOKIE_SAMESITE"))))
            for name, state in states.items():
                own = _blueprint_rows(app, state, *redirects[name])
                own += _online_rows(state.config, redirects[name][0], timeout) if online else []
                prefix = f"{name}: " if len(states) > 1 else ""
                rows += [Row(prefix + row.name, row.level, row.message) for row in own]
            rows.append(Row("cookie budget", *_cookie_budget(app, list(states.values()))))
    except Exception as exc:  # a check tripping over an unusual app is a row, not a traceback
        rows.append(Row("check", "fail", f"could not finish the checks: {_describe(exc)}"))
    return rows


def _as_bytes(key: Any) -> bytes:
    return key if isinstance(key, bytes) else str(key).encode()


def _fingerprint(nonce: str, key: bytes) -> str:
    """16 hex digits of HMAC-SHA256(nonce, key): enough to compare, useless to guess the key from."""
    return hmac.new(nonce.encode(), key, hashlib.sha256).hexdigest()[:16]


def _secret_key_rows(app: Flask, info: ScriptInfo) -> list[Row]:
    fix = "set it from the environment: python -c 'import secrets; print(secrets.token_hex(32))'"
    if not app.secret_key:
        return [Row("SECRET_KEY", "fail", f"not set, so sessions cannot be signed; {fix}")]
    raw = _as_bytes(app.secret_key)
    if raw.strip().lower().decode("latin-1") in _COMMON_KEYS:
        verdict = "fail", f"a well-known value: anyone can forge a session; {fix}"
    elif len(raw) < 32:
        verdict = "warn", f"only {len(raw)} bytes, use 32 random bytes or more; {fix}"
    else:
        verdict = "ok", f"set, {len(raw)} bytes"
    return [Row("SECRET_KEY", *verdict), Row("SECRET_KEY per process", *_key_stability(raw, info))]


def _key_stability(key: bytes, info: ScriptInfo) -> Verdict:
    if info.app_import_path is None and info.create_app is not None:
        return "warn", "not checked: the app was given as an object, not with --app / FLASK_APP"
    nonce = secrets.token_hex(16)
    app_option = ["--app", info.app_import_path] if info.app_import_path else []
    command = [sys.executable, "-m", "flask", *app_option, "adobe", _FINGERPRINT_COMMAND, nonce]
    try:  # the same cwd and environment (FLASK_APP, .flaskenv) as this process
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
        match = _FINGERPRINT_LINE.search(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired):
        match = None
    if match is None:
        return "warn", "could not be checked: loading the app in a second process failed"
    if hmac.compare_digest(match.group(1), _fingerprint(nonce, key)):
        return "ok", "the same when the app is loaded again (compared by salted hash)"
    return "fail", (
        "differs each time the app is loaded (random per process?): logins fail when the callback reaches "
        "another worker, and a restart signs everyone out; set one fixed SECRET_KEY from the environment"
    )


def _secure_cookie(
    app: Flask, states: Mapping[str, BlueprintRuntime], redirects: Mapping[str, tuple[str, bool]]
) -> Verdict:
    if not app.config.get("SESSION_COOKIE_SECURE"):
        if any(uri.startswith("https:") for uri, _ in redirects.values()):
            return "warn", "False, but the site is https: set SESSION_COOKIE_SECURE = True"
        if not all(_is_loopback(state.config.authorize_url) for state in states.values()):
            return "warn", "False, but Adobe needs an https site: set SESSION_COOKIE_SECURE = True"
        return "ok", "False: fine for http on localhost; set True on https"
    http = {name: redirect for name, redirect in redirects.items() if redirect[0].startswith("http:")}
    back = [uri for uri, configured in http.values() if configured]
    local = [uri for name, (uri, _) in http.items() if _is_loopback(states[name].config.authorize_url)]
    # RFC 6265 §5.4 (and RFC 6265bis): a browser sends a Secure cookie only over a secure
    # channel, and refuses to set one from an http page. The pending sign-in lives in the
    # session cookie, so over http the callback finds none ("We couldn't find your sign-in").
    lost = (
        "the browser does not send a Secure cookie over http, so the sign-in in progress is lost "
        "and the callback says it couldn't find your sign-in; set SESSION_COOKIE_SECURE = False for "
        "local http, or serve the app over https"
    )
    if back:
        return "fail", f"True, but the sign-in comes back to {back[0]}: {lost}"
    if local:  # built per request: whether the app is served over http is not known here
        return "warn", (
            "True, while the sign-in goes to a local server and comes back to a URL built from the "
            f"request ({local[0]} here): if you serve the app over plain http (flask run), {lost}"
        )
    # RFC 6265 §4.1.2.5: without Secure the cookie, and the token in it, also goes over plain http.
    return "ok", "True: the session cookie goes over https only"


def _samesite(samesite: Any) -> Verdict:
    # RFC 6265bis, the SameSite attribute: "Lax" keeps the cookie on the top-level redirect from Adobe.
    if samesite is None:
        return "warn", "not set, so some browsers send the cookie cross-site; set it to 'Lax'"
    cross_site = "warn", f"{samesite!r} sends the cookie with cross-site requests; use 'Lax'"
    return {
        "lax": ("ok", "'Lax'"),
        "strict": ("fail", "'Strict' drops the session on the redirect back from Adobe; use 'Lax'"),
    }.get(str(samesite).lower(), cross_site)


def _noise(label: str, size: int) -> bytes:
    """``size`` bytes that look random (as ids and signatures do), the same on every run."""
    blocks = (hashlib.sha256(f"{label}:{i}".encode()).digest() for i in range(size // 32 + 1))
    return b"".join(blocks)[:size]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt_like(kind: str, scope: tuple[str, ...], seed: str, length: int = 1900) -> str:
    """An IMS access ("at") or refresh ("rt") JWT (RS256, up to ~1.9 KB), padded to ``length``; ids and
    signature differ with ``seed``, as two logins' tokens do (identical ones compress to nothing)."""
    ids, created = _noise(f"{seed}/{kind}", 40).hex(), "1767225600000"
    header = {"alg": "RS256", "x5u": f"ims_na1-key-{kind}-1.cer", "kid": f"ims_na1-key-{kind}-1", "itt": kind}
    claims = {"id": f"{created}_{ids[:36]}_ue1", "type": "access_token" if kind == "at" else "refresh_token"}
    claims.update(client_id=ids[36:68], user_id=_IMS_USER, aa_id=_IMS_USER, moi=ids[68:76])
    claims.update(pba="MedSecNoEV,LowSec", created_at=created, expires_in="86400000", scope=",".join(scope))
    claims["as"] = "ims-na1"
    signature = _b64(_noise(f"{seed}/{kind}/signature", 256))  # RS256 with a 2048-bit key

    def token() -> str:
        return ".".join((_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), signature))

    short = length - len(token()) - 12
    if short > 0:
        claims["state"] = _noise(f"{seed}/{kind}/state", short).hex()[: short * 3 // 4]
    return token()


def _largest_token(config: Config) -> Token:
    """What a sign-in may store at worst. Adobe issues a refresh token only with ``offline_access``
    (Adobe Developer Console docs, User Authentication: "Refreshing access tokens")."""
    scope = config.scope
    if config.provider != "ims":  # the legacy Analytics OAuth: a short opaque token, no refresh token
        legacy = "1767225600000-" + _noise(config.name, 16).hex()
        return Token(access_token=legacy, expires_at=time.time() + 3600, scope=frozenset(scope))
    refresh = _jwt_like("rt", scope, config.name) if "offline_access" in scope else None
    access = _jwt_like("at", scope, config.name)
    return Token(access, refresh, time.time() + 86400, frozenset(scope), _IMS_USER)


def _cookie_budget(app: Flask, states: list[BlueprintRuntime]) -> Verdict:
    """The session cookie with the largest tokens of every cookie-stored blueprint at once."""
    stored = [(state.storage, state.config) for state in states if isinstance(state.storage, SessionStorage)]
    if not stored:
        return "ok", "tokens are kept on the server; the cookie holds only a random key"
    data = {store.session_key: _largest_token(conf).to_dict(store.default_scope) for store, conf in stored}
    with app.test_request_context():
        size = session_cookie_size(app, data)
    if size is None:
        return "ok", "sessions are kept on the server; tokens do not count against a cookie"
    # RFC 6265 §6.1: browsers need keep only 4096 bytes of a cookie (name, value and attributes);
    # a stored token leaves LOGIN_ROOM of the budget for the next pending login.
    limit = min(store.max_cookie_size for store, _ in stored) - LOGIN_ROOM
    measured = (
        f"with Adobe's largest tokens the session cookie is ~{size:,} of the {limit:,} bytes a token may use"
    )
    fix = "keep tokens on the server: RedisStorage, CacheStorage or SessionStorage(fallback=...)"
    if size > limit and all(store.fallback is not None for store, _ in stored):
        return "ok", f"{measured}; larger tokens go to the SessionStorage fallback"
    if size > limit:
        return "fail", f"{measured}: such sign-ins fail (CookieTooLarge, HTTP 507); {fix}"
    if size > limit * 0.9:
        return "warn", f"{measured}: little room for anything else in the session; {fix}"
    return "ok", f"{measured}, plus what the app keeps in the session"


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _redirect_uri(app: Flask, state: BlueprintRuntime) -> tuple[str, bool]:
    """The redirect URI sent to Adobe, and whether it is configured (else built per request)."""
    if state.config.redirect_uri:
        return state.config.redirect_uri, True
    with app.test_request_context():  # SERVER_NAME and PREFERRED_URL_SCHEME apply here
        return url_for(f"{state.name}.callback", _external=True), False


def _blueprint_rows(app: Flask, state: BlueprintRuntime, uri: str, configured: bool) -> list[Row]:
    config, storage = state.config, state.storage
    rows = [Row("sign-in server", *_server(config)), Row("redirect URI", *_redirect(config, uri, configured))]
    if configured:
        rows.append(Row("redirect URI route", *_route(app, state, uri)))
    # Placeholders are refused when the blueprint is registered (config.resolve); never show the values.
    rows.append(Row("credentials", "ok", "client id and secret are set (not shown)"))
    if config.provider == "ims":
        rows += [Row("scope", *verdict) for verdict in _scope(config.scope)]
    else:  # "legacy", the only other preset.
        # developer.adobe.com/analytics-apis/docs/2.0/guides/migration: the legacy Analytics
        # OAuth and the 1.3 / 1.4 SOAP APIs reached end of life on 18 August 2021.
        retired = (
            "Adobe retired the legacy Analytics OAuth and the 1.3/1.4 SOAP APIs; use ADOBE_OAUTH_PROVIDER"
        )
        rows.append(Row("provider", "warn", f"'legacy': {retired}='ims' with an OAuth Web App credential"))
    if storage_scheme(config.api_rate_storage) in SHARED_SCHEMES:
        rate = f"counted once for every worker, in {hide_credentials(config.api_rate_storage)}"
    else:
        rate = (
            "counted in each process (memory://), right for one worker; with several workers or machines "
            "set ADOBE_OAUTH_API_RATE_STORAGE = 'redis://...', or Adobe sees each worker's share as one user's"
        )
    tokens = f"kept by {type(storage).__name__}, one copy every worker reads"
    if isinstance(storage, SessionStorage) and storage.fallback is None:
        tokens = (
            "in the session cookie, which every worker reads; with several workers a server-side "
            "storage (RedisStorage, SQLAlchemyStorage) keeps one copy, and one service token for all"
        )
    return [
        *rows,
        Row("several workers: rate limit", "ok", rate),
        Row("several workers: tokens", "ok", tokens),
    ]


def _server(config: Config) -> Verdict:
    """Where the sign-in goes, Adobe or a stand-in on this machine, and whether the settings agree."""
    origin, token_origin = _origin(config.authorize_url), _origin(config.token_url)
    local = _is_loopback(config.authorize_url)
    ports_differ = urlsplit(origin).port != urlsplit(token_origin).port
    if local != _is_loopback(config.token_url) or (local and ports_differ):
        return "fail", (
            f"sign-in goes to {origin}, but its code is exchanged at {token_origin}: a code is good only "
            "at the server that issued it; set every ADOBE_OAUTH_*_URL from the same place (all of "
            "`flask adobe standin`'s lines, or none for Adobe)"
        )
    if local:
        return "ok", f"sign-in goes to a stand-in / local server at {origin}, not Adobe"
    if config.client_id == STANDIN_CLIENT_ID:
        return "fail", (
            f"sign-in goes to {origin} with the stand-in's ADOBE_OAUTH_CLIENT_ID ({STANDIN_CLIENT_ID}): "
            "the app read the id and secret `flask adobe standin` printed, but not its URLs; make it read "
            f"every ADOBE_OAUTH_* variable, e.g. {READ_EVERY_SETTING}"
        )
    adobe = f".{urlsplit(config.authorize_url).hostname}".endswith(ADOBE_DOMAINS)
    return "ok", f"sign-in goes to {origin}" + (" (Adobe)" if adobe else ", which is not an Adobe host")


def _redirect(config: Config, uri: str, configured: bool) -> Verdict:
    how = "configured" if configured else "built from the request host"
    if _is_loopback(config.authorize_url):
        return "ok", f"{uri} ({how}); the provider is local, so http is fine"
    # Adobe Developer Console, OAuth Web App credential: redirect URIs must be https, localhost included.
    fix = "set ADOBE_OAUTH_REDIRECT_URI to the https URL registered with Adobe"
    if urlsplit(uri).scheme != "https" and configured:
        return "fail", f"{uri} is http, but Adobe takes only https, even for localhost; {fix}"
    if urlsplit(uri).scheme != "https":
        return "warn", f"{uri} ({how} and scheme), but Adobe takes only https: serve over https or {fix}"
    # Adobe Developer Console docs: a redirect_uri matching none of the credential's
    # redirect URI patterns (regexes, dots escaped) is replaced by its default redirect
    # URI; the user lands there and the code exchange then fails.
    pattern = uri.replace(".", "\\.")
    return "ok", f"{uri} ({how}); register it as the default redirect URI, or a pattern like {pattern}"


def _route(app: Flask, state: BlueprintRuntime, uri: str) -> Verdict:
    """Whether the configured redirect URI reaches this blueprint's callback: Adobe sends the
    browser back to exactly that URI (RFC 6749 §3.1.2), a 404 there fails every sign-in."""
    endpoint, parts = f"{state.name}.callback", urlsplit(uri)
    root = str(app.config.get("APPLICATION_ROOT") or "/").strip("/")
    root, path = "/" + root if root else "", parts.path or "/"
    with app.test_request_context():  # APPLICATION_ROOT applies here, as in _redirect_uri
        right_path = url_for(endpoint)
    right_uri = urlunsplit((parts.scheme, parts.netloc, right_path, "", ""))
    inside = not root or path == root or path.startswith(root + "/")
    matched, redirected = _match(app, parts, root) if inside else (None, None)
    if redirected == right_path:
        return "warn", f"{path} redirects to {right_path}; set ADOBE_OAUTH_REDIRECT_URI = {right_uri}"
    if matched == endpoint:
        return "ok", f"{path} is this app's {endpoint}"
    rule_path = right_path[len(root) :]
    if not root and path.endswith(rule_path) and path != rule_path:
        mount = path[: -len(rule_path)]
        return "warn", (
            f"ADOBE_OAUTH_REDIRECT_URI's path {path} reaches {endpoint} only if the app is mounted at "
            f"{mount} (SCRIPT_NAME); if it is, set APPLICATION_ROOT = {mount!r}, else set "
            f"ADOBE_OAUTH_REDIRECT_URI = {right_uri}"
        )
    reached = f"routes to {matched}" if matched else "is no page of this app (404)"
    reached = reached if inside else f"is outside APPLICATION_ROOT {root!r}, where the app is mounted"
    register = "" if _is_loopback(state.config.authorize_url) else ", and register it with Adobe"
    return "fail", (
        f"ADOBE_OAUTH_REDIRECT_URI is {uri}, but its path {path} {reached}: Adobe sends every "
        f"sign-in back there. This app's callback ({endpoint}) is at {right_path}; set "
        f"ADOBE_OAUTH_REDIRECT_URI = {right_uri}{register}"
    )


def _match(app: Flask, parts: SplitResult, root: str) -> tuple[Any, str | None]:
    """What Flask does with a GET of that URL, the app mounted at ``root`` (APPLICATION_ROOT,
    the SCRIPT_NAME): the endpoint it routes to, or the path it redirects to, or neither (404)."""
    path = (parts.path or "/")[len(root) :] or "/"
    # Not pushed: only the URL adapter Flask builds for such a request is needed.
    context = app.test_request_context(path, base_url=f"{parts.scheme}://{parts.netloc}{root}")
    try:
        return (context.url_adapter.match(method="GET")[0] if context.url_adapter else None), None
    except RequestRedirect as redirect:  # a slash added: Flask answers 308 to the right URL
        return None, urlsplit(redirect.new_url).path
    except HTTPException:
        return None, None


def _scope(scope: tuple[str, ...]) -> list[Verdict]:
    """Adobe IMS scopes (Adobe Developer Console docs, User Authentication / IMS)."""
    missing = " or ".join(name for name in ("profile", "email") if name not in scope)
    warnings = []
    if "offline_access" not in scope:
        signed_out = "users are signed out when the 24 h access token ends (no refresh token)"
        warnings.append(f"no offline_access: {signed_out}; add it to ADOBE_OAUTH_SCOPE")
    if missing:
        warnings.append(f"no {missing}: userinfo gives no name or email; add them if the app shows them")
    if "openid" not in scope:
        warnings.append("no openid: no id_token, and no user id; add openid")
    return [("warn", warning) for warning in warnings] or [("ok", " ".join(scope))]


def _online_rows(config: Config, redirect_uri: str, timeout: float) -> list[Row]:
    """Reach each endpoint; only the token endpoint gets the client's credentials, as at sign-in."""
    rows = [Row("online: authorize", *_probe(config.authorize_url, timeout))]
    rows.append(Row("online: credentials", *_credentials_online(config, redirect_uri, timeout)))
    return rows + (
        [Row("online: jwks", *_probe(config.jwks_url, timeout, jwks=True))] if config.jwks_url else []
    )


def _probe(url: str, timeout: float, jwks: bool = False) -> Verdict:
    shown, started = f"GET {where(url)}", time.perf_counter()
    try:
        with requests.Session() as http:
            harden(http)  # no ~/.netrc credentials, no cookies
            response = http.get(url, timeout=timeout, allow_redirects=False, **environment_for(url))
    except requests.Timeout:
        return "fail", f"{shown}: no answer in {timeout:g} s; check the URL, firewall, HTTPS_PROXY"
    except requests.RequestException as exc:
        reason = next((why for word, why in _NETWORK_REASONS if word in str(exc)), type(exc).__name__)
        return "fail", f"{shown}: unreachable ({reason}); check the URL and network"
    answer = f"{shown}: HTTP {response.status_code} in {(time.perf_counter() - started) * 1000:.0f} ms"
    with response:
        try:
            keys = response.json().get("keys") if jwks and response.status_code == 200 else None
        except (ValueError, AttributeError, RecursionError):
            keys = None
    if not jwks or isinstance(keys, list):  # RFC 7517 §5: a JWK Set is {"keys": [...]}
        return "ok", answer + (f", {len(keys)} key(s)" if isinstance(keys, list) else "")
    return "fail", f'{answer}; expected 200 with JSON {{"keys": [...]}} (RFC 7517 §5)'


def _credentials_online(config: Config, redirect_uri: str, timeout: float) -> Verdict:
    """Try the client's id and secret at the token endpoint with a made-up code, sent as the app
    sends them at every sign-in (:class:`ProviderClient`), only to the token URL; never printed."""
    shown = f"POST {where(config.token_url)}"
    form = {"grant_type": "authorization_code", "code": FAKE_CODE, "redirect_uri": redirect_uri}
    client = ProviderClient(replace(config, timeout=timeout))
    started = time.perf_counter()
    try:
        with client.http:
            response = client._authenticated_post(config.token_url, form)
    except ProviderError as exc:
        return "fail", f"{shown}: {exc.message}; check the URL, firewall, HTTPS_PROXY"
    elapsed = (time.perf_counter() - started) * 1000
    try:
        data = response.json()
    except (ValueError, RecursionError):
        data = None
    code = data.get("error") if isinstance(data, dict) and is_error_code(data.get("error")) else None
    answer = f"{shown}: HTTP {response.status_code}" + (f" {code}" if code else "") + f" in {elapsed:.0f} ms"
    level, meaning = _token_answer(code, response.status_code, _is_loopback(config.token_url))
    return level, f"{answer}: {meaning}"


def _token_answer(code: str | None, status: int, local: bool) -> Verdict:
    """What the answer to a made-up code says of the credentials. RFC 6749 §5.2: the token endpoint
    authenticates the client first (else ``invalid_client``, usually 401); then an unknown code is
    ``invalid_grant`` (400)."""
    if code == "invalid_client" or status == 401:
        console = "the credential (OAuth Web App) in the Adobe Developer Console"
        source = "the output of `flask adobe standin`" if local else console
        return "fail", (
            f"the token endpoint refuses {_CREDENTIAL_KEYS} (a typo, a stray space, a secret that was "
            f"regenerated, or another credential's id); copy both again from {source}"
        )
    if code == "invalid_grant":
        return "ok", "client id and secret accepted (a made-up code, sent to test them, was refused)"
    if status in (404, 405):
        return "fail", "this is not a token endpoint; check ADOBE_OAUTH_TOKEN_URL"
    if status == 200:
        return "fail", "a made-up code was accepted; this is no OAuth token endpoint"
    if code == "unauthorized_client":  # recognised, but refused this grant (RFC 6749 §5.2)
        return "warn", "this client may not use the authorization code grant; use an OAuth Web App credential"
    unclear = "a token endpoint answers invalid_grant to a made-up code, invalid_client to wrong credentials"
    return "warn", f"could not tell whether {_CREDENTIAL_KEYS} are right: {unclear}"


def _describe(exc: BaseException) -> str:
    """One line about ``exc``: no traceback, no user:password of a URL."""
    text = str(exc)
    cut = text.find("Traceback")  # Flask quotes a whole traceback for an ImportError
    if cut >= 0:
        cause = exc.__cause__ or exc.__context__
        text = text[:cut] + (f" {type(cause).__name__}: {cause}" if cause is not None else "")
    text = hide_credentials(" ".join(text.split()))
    if not isinstance(exc, (ConfigurationError, click.ClickException)):
        text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= 400 else text[:399] + "…"


def _print_table(rows: list[Row]) -> None:
    width = max(len("check"), *(len(row.name) for row in rows))
    click.echo(f"{'level':<5}  {'check':<{width}}  message")
    for row in rows:
        level = click.style(f"{row.level:<5}", fg=_COLORS[row.level])
        click.echo(f"{level}  {row.name:<{width}}  {row.message}")
    counts = {level: sum(row.level == level for row in rows) for level in _COLORS}
    tally = f"{counts['fail']} fail, {counts['warn']} warn, {counts['ok']} ok"
    click.echo(f"FAILED ({tally}): fix the fail rows" if counts["fail"] else f"passed ({tally})")
