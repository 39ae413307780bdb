"""``make_adobe_blueprint`` and its three views: login, callback, logout."""

from __future__ import annotations

import difflib
import inspect
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast
from urllib.parse import urljoin

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    got_request_exception,
    redirect,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from werkzeug.datastructures import MultiDict
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response as BaseResponse

from . import errors, pages, protocol
from .config import OPTIONS, PROMPTS, check_app, config_snapshot, options_doc, resolve
from .cookies import MAX_COOKIE_SIZE, fit_pending_logins
from .extension import EXTENSION_KEY, BlueprintRuntime, adobe, context, get_runtime
from .idtoken import available as id_token_checks_available
from .idtoken import verify_id_token
from .logs import hide_secrets_in_access_logs, outage
from .pages import UnauthorizedHandler
from .signals import logged_in, logged_out, login_failed, provider_error, rate_limited, send, storage_failed
from .storage import SessionStorage
from .tokens import Token, token_from_response

log = logging.getLogger("flask_adobe_oauth.signin")


H = TypeVar("H", bound=Callable[..., Any])


class AdobeBlueprint(Blueprint):
    """The blueprint :func:`make_adobe_blueprint` returns. Its template folder
    holds the extension's pages (``adobe_oauth/*.html``); an app overrides one
    with a file of the same name in its own template folder."""

    #: Set with :meth:`unauthorized_handler`.
    unauthorized_callback: UnauthorizedHandler | None = None

    def unauthorized_handler(self, func: H) -> H:
        """Decorator: ``func(error: LoginRequired)`` answers every missing login of
        this blueprint (``@adobe_login_required``, or a :class:`LoginRequired`
        escaping a view) instead of the redirect to the login page; it returns
        anything a view may return. May be set before or after registering.
        """
        self.unauthorized_callback = func
        return func


def make_adobe_blueprint(**options: Any) -> AdobeBlueprint:
    """A blueprint with ``/login``, ``/callback`` and ``/logout`` for Adobe sign-in.

    Every option may instead come from ``app.config["ADOBE_OAUTH_<NAME>"]``;
    an explicit argument wins, and an option given neither way takes its
    default. The configuration is checked when the blueprint is registered,
    so mistakes fail at start-up with the key named.

    """
    unknown = [key for key in options if key not in OPTIONS]
    if unknown:
        close = difflib.get_close_matches(unknown[0], OPTIONS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TypeError(f"make_adobe_blueprint() got an unexpected keyword argument {unknown[0]!r}{hint}")
    options = {key: value for key, value in options.items() if value is not None}
    bp = AdobeBlueprint(options.get("name") or "adobe", __name__, template_folder="templates")
    bp.record(lambda setup_state: _register(setup_state, options))
    bp.before_request(_reject_undecodable_query)
    bp.add_url_rule("/login", "login", login, methods=["GET"])
    bp.add_url_rule("/callback", "callback", callback, methods=["GET", "POST"])
    bp.add_url_rule("/logout", "logout", logout, methods=["GET", "POST"])
    bp.add_url_rule("/org", "org", choose_org, methods=["GET", "POST"])
    return bp


# The options' docs come from Config's fields, added to the docstring as cleandoc
# gives it (Python 3.13 strips a docstring's indentation, older ones keep it).
make_adobe_blueprint.__doc__ = (
    inspect.cleandoc(make_adobe_blueprint.__doc__ or "") + "\n\n" + options_doc("    ") + "\n"
)


def _register(setup_state: BlueprintSetupState, options: Mapping[str, Any]) -> None:
    app = setup_state.app
    full_name = f"{setup_state.name_prefix}.{setup_state.name}".lstrip(".")

    def build() -> BlueprintRuntime:
        check_app(app.config, app.secret_key)
        runtime = BlueprintRuntime(resolve({**options, "name": full_name}, app.config))
        runtime.snapshot = config_snapshot(app.config)
        runtime.rebuild = build
        return runtime

    app.extensions.setdefault(EXTENSION_KEY, {})[full_name] = build()
    if errors.AdobeOAuthError not in app.error_handler_spec[None][None]:
        app.register_error_handler(errors.AdobeOAuthError, _handle_error)
        # ``adobe`` in the app's templates, as Flask-Login gives them ``current_user``.
        app.context_processor(lambda: {"adobe": adobe})
        hide_secrets_in_access_logs()  # the callback's code and state, in the server's access log


#: The signal for each kind of failure operators watch.
_FAILURE_SIGNALS = (
    (errors.ProviderError, provider_error),
    (errors.RateLimited, rate_limited),
    (errors.StorageUnavailable, storage_failed),
)
#: Settings a refusal names, for the log.
_SETTINGS = {
    "provider_credentials": "ADOBE_OAUTH_CLIENT_ID / ADOBE_OAUTH_CLIENT_SECRET",
    "provider_redirect_uri": "ADOBE_OAUTH_REDIRECT_URI (and the credential's redirect URI pattern)",
}


def report(app: Flask, exc: errors.AdobeOAuthError, blueprint: str | None) -> None:
    """Tell operators about a failure answered to a user: a log line (WARNING
    for what they must fix or watch, INFO for what users do), its signal, and
    for a 5xx Flask's ``got_request_exception``, which error trackers listen
    to (Flask would not send it: the extension answers its errors itself)."""
    setting = pages.misconfigured_setting(exc) if isinstance(exc, errors.ProviderError) else None
    if setting is not None:
        log.warning("Adobe refused this app's configuration: %s; check %s", exc.message, _SETTINGS[setting])
    elif isinstance(exc, (errors.ProviderError, errors.StorageUnavailable)) or exc.status_code >= 500:
        outage(log, f"answered:{type(exc).__name__}", "answered HTTP %s: %s", exc.status_code, exc.message)
    else:
        log.info("answered HTTP %s: %s", exc.status_code, exc.error)
    for kind, signal in _FAILURE_SIGNALS:
        if isinstance(exc, kind):
            send(signal, app, error=exc, blueprint=blueprint)
    if exc.status_code >= 500:
        got_request_exception.send(app, _async_wrapper=app.ensure_sync, exception=exc)


def _reject_undecodable_query() -> BaseResponse | None:
    """A 400, not a 500, for a hand-made query string with raw bytes that are
    not UTF-8 (``request.args`` raises UnicodeDecodeError on it)."""
    try:
        request.args  # noqa: B018 - parsing is the check
    except UnicodeDecodeError:
        return pages.error_response(errors.CallbackError("the URL's query string is not valid UTF-8"))
    return None


def _app() -> Flask:
    return cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]


def _handle_error(exc: errors.AdobeOAuthError) -> BaseResponse:
    """App-wide: an AdobeOAuthError escaping any view becomes a 4xx/5xx page;
    a lost login in an unguarded view is answered as the decorator would."""
    report(_app(), exc, None)
    if isinstance(exc, errors.LoginRequired):
        try:
            name = get_runtime(exc.blueprint).name
        except errors.AdobeOAuthError:
            return pages.error_response(exc)
        return pages.login_required_response(name, exc)
    return pages.error_response(exc)


def _secret_key() -> bytes:
    key = current_app.secret_key
    return key if isinstance(key, bytes) else str(key).encode()


def _redirect_uri(runtime: BlueprintRuntime) -> str:
    return runtime.config.redirect_uri or url_for(f"{runtime.name}.callback", _external=True)


def _resolve_target(target: str, option: str) -> str:
    """A configured ``redirect_to``: a path as given, or an endpoint name."""
    if target.startswith("/"):
        return target
    try:
        return url_for(target)
    except BuildError:
        raise errors.ConfigurationError(
            f"ADOBE_OAUTH_{option.upper()} names no endpoint of this app: {target!r}"
        ) from None


def _renew_session_id() -> None:
    """A new server-side session id (Flask-Session's ``regenerate``) after login
    and logout, so an id planted before the login (session fixation) names
    nothing. A cookie session has no id to renew."""
    regenerate = getattr(current_app.session_interface, "regenerate", None)
    if callable(regenerate):
        regenerate(session)


def login() -> BaseResponse:
    """Start a login: remember a fresh state in the session, go to Adobe."""
    runtime = get_runtime()
    cfg = runtime.config
    target = request.args.get("next")
    if target is not None and not protocol.is_safe_next(target):
        log.info("ignored an unsafe next target at login")
        target = None
    value = protocol.new_state()
    if request.args.get("renew") == "1" and _prompt(cfg.prompt) == "none":
        # A silent renewal of a sign-in that ran out: if Adobe needs the user,
        # the callback goes on to the ordinary sign-in (see _check).
        session[RENEW_KEY] = value
    record = protocol.Pending(value, int(time.time()) + cfg.state_max_age, target)
    records = protocol.add_pending(
        protocol.load_pending(session.get(runtime.pending_key)), record, cfg.max_pending_logins
    )
    limit = (
        runtime.storage.max_cookie_size if isinstance(runtime.storage, SessionStorage) else MAX_COOKIE_SIZE
    )
    session[runtime.pending_key] = [r.dump() for r in fit_pending_logins(runtime.pending_key, records, limit)]
    challenge = None
    if cfg.use_pkce and cfg.response_type == "code":
        challenge = protocol.pkce_challenge(protocol.pkce_verifier(_secret_key(), value))
    url = protocol.authorize_url(
        cfg.authorize_url,
        client_id=cfg.client_id,
        redirect_uri=_redirect_uri(runtime),
        state=value,
        scope=cfg.scope_string,
        response_type=cfg.response_type,
        code_challenge=challenge,
        nonce=_nonce(runtime, value),
        prompt=_prompt(cfg.prompt),
    )
    return pages.no_store(redirect(url, 302))


def _prompt(configured: str | None) -> str | None:
    """``?prompt=login`` on /login (a "switch account" link) wins over the option;
    values Adobe IMS does not take are ignored."""
    asked = request.args.get("prompt")
    return asked if asked in PROMPTS else configured


def _nonce(runtime: BlueprintRuntime, value: str) -> str | None:
    """The OIDC nonce of the login with state ``value``, when id_tokens are checked."""
    cfg = runtime.config
    if cfg.response_type == "code" and cfg.jwks_url and "openid" in cfg.scope:
        return protocol.oidc_nonce(_secret_key(), value)
    return None


def _check(
    runtime: BlueprintRuntime, params: MultiDict[str, str], expect_code: bool
) -> tuple[protocol.Pending, str | None]:
    """Run the core's checks on a callback; the pending logins left go back to the
    session whatever the outcome (a refused callback consumes its state too)."""
    result = protocol.check_callback(
        params.to_dict(flat=False),
        protocol.load_pending(session.get(runtime.pending_key)),
        issuers=runtime.config.issuers,
        expect_code=expect_code,
    )
    if result.remaining:
        session[runtime.pending_key] = [r.dump() for r in result.remaining]
    else:
        session.pop(runtime.pending_key, None)
    refusal = result.error
    renewing = session.pop(RENEW_KEY, None)
    if (
        isinstance(refusal, errors.AuthorizationDenied)
        and refusal.provider_error in pages.SILENT_REFUSALS
        and result.pending is not None
        and renewing == result.pending.state  # our silent renewal, not an app's own prompt=none
        and runtime.config.prompt != "none"  # else the ordinary sign-in would be silent again
    ):
        raise _SilentSignInRefused(result.pending.next)
    return result.accepted()


#: The session key naming the state of a silent renewal in progress.
RENEW_KEY = "_ao_renew"


class _SilentSignInRefused(Exception):
    """Adobe answered a ``prompt=none`` sign-in that it needs the user."""

    def __init__(self, next_url: str | None) -> None:
        super().__init__("the silent sign-in needs the user")
        self.next = next_url


def _identify(runtime: BlueprintRuntime, token: Token, pending: protocol.Pending) -> Token:
    """Check the id_token when there is one, and learn the user's id."""
    cfg = runtime.config
    if token.id_token and cfg.jwks_url and id_token_checks_available():
        # OIDC Core §3.1.3.7; a failure raises IdTokenError before anything is stored.
        claims = verify_id_token(runtime.client, token.id_token, _nonce(runtime, pending.state))
        if isinstance(claims.get("sub"), str) and claims["sub"]:
            token = token.with_changes(user_id=claims["sub"])  # no userinfo call needed
        token = _with_names(token, claims)
    if not token.user_id and cfg.userinfo_url and "openid" in (token.scope | set(cfg.scope)):
        try:
            info = runtime.client.userinfo(token)
        except errors.ProviderError as exc:
            log.warning("could not read the user's identity: %s", exc)
        else:
            subject = info.get("sub")
            if isinstance(subject, str) and subject:
                token = _with_names(token.with_changes(user_id=subject), info)
    return token


def _with_names(token: Token, claims: Mapping[str, Any]) -> Token:
    """``token`` with the user's name and e-mail address from OpenID Connect
    claims (OIDC Core §5.1: ``name``, ``email``), when they are text."""
    name, email = claims.get("name"), claims.get("email")
    return token.with_changes(
        name=name[:200] if isinstance(name, str) and name.strip() else token.name,
        email=email[:320] if isinstance(email, str) and "@" in email else token.email,
    )


def _complete_code_login(runtime: BlueprintRuntime) -> tuple[Token, protocol.Pending]:
    cfg = runtime.config
    pending, code = _check(runtime, request.args, expect_code=True)
    assert code is not None
    verifier = protocol.pkce_verifier(_secret_key(), pending.state) if cfg.use_pkce else None
    token = runtime.client.exchange_code(code, _redirect_uri(runtime), verifier)
    return _identify(runtime, token, pending), pending


def _complete_implicit_login(runtime: BlueprintRuntime) -> tuple[Token, protocol.Pending]:
    """The implicit grant (``response_type=token``): the fragment page posted the URL fragment here."""
    if request.method != "POST":
        _check(runtime, request.args, expect_code=False)  # consumes the state; Adobe's error= is shown
        raise errors.CallbackError("the implicit grant's answer must arrive in the URL fragment")
    if pages.is_cross_site():
        raise errors.CrossSiteRequest("the sign-in answer must be posted by this site's own page")
    params = request.form
    pending, _ = _check(runtime, params, expect_code=False)
    # The fragment passed through the user's browser, so the user could have
    # edited it: the identity is never taken from it (only from userinfo),
    # and the scope is at most what was asked for.
    fields: dict[str, str] = {}
    for name in ("access_token", "token_type", "expires_in", "expires", "scope"):
        values = params.getlist(name)
        if len(values) > 1:
            raise errors.CallbackError(f"the callback repeats the {name!r} parameter")
        if values:
            fields[name] = values[0]
    token = token_from_response(fields, runtime.config.scope)
    asked = frozenset(runtime.config.scope)
    token = token.with_changes(scope=token.scope & asked if asked else frozenset())
    return _identify(runtime, token, pending), pending


def callback() -> BaseResponse:
    """Finish a login: check the state, exchange the code, store the token."""
    runtime = get_runtime()
    implicit = runtime.config.response_type == "token"
    if not implicit and request.method not in ("GET", "HEAD"):
        return Response(status=405, headers={"Allow": "GET, HEAD, OPTIONS"})
    if implicit and request.method == "GET" and not request.args:
        return pages.fragment_page()
    app = _app()
    try:
        token, pending = _complete_implicit_login(runtime) if implicit else _complete_code_login(runtime)
        token = runtime.client.admit(token)  # who may enter: NotAllowed (403) after revoking the token
        target = pending.next or _resolve_target(runtime.config.redirect_to, "redirect_to")
        context(runtime.name).store_login(token)
        _renew_session_id()
    except _SilentSignInRefused as exc:
        # Adobe needs the user after all: the ordinary sign-in, to the same page.
        return pages.no_store(redirect(url_for(f"{runtime.name}.login", next=exc.next), 302))
    except errors.AdobeOAuthError as exc:
        report(app, exc, runtime.name)
        send(login_failed, app, error=exc, blueprint=runtime.name)
        setting = pages.misconfigured_setting(exc) if isinstance(exc, errors.ProviderError) else None
        # Trying again repeats a setting's failure: no "Try again" then.
        return pages.error_response(exc, retry_url=None if setting else url_for(f"{runtime.name}.login"))
    # Receivers see the token stored (they may call adobe.session); one that
    # returns False keeps it out of storage (the app stores it its own way).
    answers = send(logged_in, app, token=token, blueprint=runtime.name)
    if any(answer is False for _, answer in answers):
        context(runtime.name).forget()
    elif len(token.orgs) > 1 and context(runtime.name).org_id is None:
        # Admitted for several organisations: the user chooses one first.
        target = url_for(f"{runtime.name}.org", next=target if protocol.is_safe_next(target) else None)
    return pages.no_store(redirect(target, 303 if request.method == "POST" else 302))


def choose_org() -> BaseResponse:
    """The organisation picker: a user admitted for several Adobe
    organisations chooses the one to work in (``adobe.org_id``)."""
    runtime = get_runtime()
    ctx = context(runtime.name)
    if ctx.token is None or not ctx.token.orgs:
        return pages.login_required_response(
            runtime.name, errors.LoginRequired("you are not signed in with Adobe", runtime.name)
        )
    target = request.args.get("next")
    if target is None or not protocol.is_safe_next(target):
        target = _resolve_target(runtime.config.redirect_to, "redirect_to")
    if request.method == "POST":
        if pages.is_cross_site():
            return pages.error_response(
                errors.CrossSiteRequest("the organisation must be chosen on this site's own page")
            )
        try:
            ctx.choose_org(request.form.get("org", ""))
        except errors.NotAllowed as exc:
            return pages.error_response(exc)
        return pages.no_store(redirect(target, 303))
    action = url_for(f"{runtime.name}.org", next=target)
    return pages.org_page(sorted(ctx.token.orgs), ctx.org_id, action)


def logout() -> BaseResponse:
    """Forget the token and revoke it at Adobe (best effort), on a POST; a GET
    (a plain "Sign out" link) shows a page with the button that posts it."""
    runtime = get_runtime()
    if request.method in ("GET", "HEAD"):
        return pages.logout_page(url_for(f"{runtime.name}.logout"), context(runtime.name).token is not None)
    if pages.is_cross_site():
        return pages.error_response(errors.CrossSiteRequest("sign-out must come from a page of this site"))
    target = _resolve_target(runtime.config.logout_redirect_to, "logout_redirect_to")
    ctx = context(runtime.name)
    token = ctx.token
    ctx.forget()
    _renew_session_id()
    if token is not None:
        runtime.client.revoke(token)
    send(logged_out, _app(), blueprint=runtime.name)
    cfg = runtime.config
    if cfg.end_adobe_session and cfg.logout_url:
        # Also end the sign-in at Adobe, so the next login asks who the user is.
        back = urljoin(request.host_url, target)
        target = protocol.logout_url(cfg.logout_url, client_id=cfg.client_id, redirect_uri=back)
    return pages.no_store(redirect(target, 303))
