"""What the user sees when something goes wrong: a small HTML page or JSON, with the right status, the
message escaped, and nothing secret in it. The HTML comes from ``templates/adobe_oauth/``; an app restyles a
page with its own ``adobe_oauth/<name>.html`` (the app's template folder wins over a blueprint's). If that
override fails to render, the error is logged and the built-in page is sent.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from flask import Response, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateNotFound
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup
from werkzeug.wrappers import Response as BaseResponse

from . import errors
from .errors import AdobeOAuthError, LoginRequired, ProviderError
from .extension import get_runtime

log = logging.getLogger("flask_adobe_oauth.signin")

TEMPLATE_DIR = Path(__file__).parent / "templates"

#: The built-in error page's CSP: no script, no external resource at all.
ERROR_CSP = "default-src 'none'; style-src 'unsafe-inline'"
#: The built-in pages with a form: no script, no other site, a form posting only here.
FORM_CSP = "default-src 'none'; form-action 'self'; style-src 'unsafe-inline'"

# The built-in pages render in an environment of their own: always escaped, and independent
# of the app's loader, so a broken override (even of base.html) cannot break the fallback.
_builtin = Environment(
    loader=FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=StrictUndefined, auto_reload=False
)

# What each situation is called on the page, in the user's words: a headline and one sentence.
_WORDING: dict[str, tuple[str, str]] = {
    "cancelled": (
        "You cancelled the sign-in",
        "The sign-in was cancelled at Adobe, so you are not signed in. You can try again whenever you like.",
    ),
    "denied": (
        "Adobe did not sign you in",
        "Adobe ended the sign-in without letting you in. Please try again; if it keeps happening, "
        "contact the site’s team.",
    ),
    "state_missing": (
        "This sign-in link is incomplete",
        "The address Adobe sent you back to is missing part of the sign-in. Please start again from the site.",
    ),
    "state_expired": (
        "This sign-in expired",
        "Too much time passed between starting the sign-in and coming back from Adobe. Please start again.",
    ),
    "state_used": (
        "This sign-in was already used",
        "Each sign-in can be completed only once, in the browser that started it. "
        "If you are signed in already, just go back to the site; otherwise start again.",
    ),
    "state_not_started": (
        "We couldn’t find your sign-in",
        "This browser has no sign-in in progress: it may have been started in another browser, "
        "or cookies may be blocked for this site. Please start again from the site.",
    ),
    "state_invalid": (
        "This sign-in can’t be completed",
        "The sign-in could not be matched to this browser. Please start again from the site.",
    ),
    "provider_unreachable": (
        "We couldn’t reach Adobe",
        "Adobe’s sign-in service did not answer. This is usually temporary: please try again in a few minutes.",
    ),
    "provider_refused": (
        "Adobe did not accept the sign-in",
        "Adobe refused to complete this sign-in; it may have taken too long. Please try again.",
    ),
    "provider_credentials": (
        "This site’s Adobe sign-in is set up wrongly",
        "Adobe did not accept this site’s credentials: its client id or client secret "
        "(ADOBE_OAUTH_CLIENT_ID, ADOBE_OAUTH_CLIENT_SECRET) is wrong. Trying again will not help. "
        "Nothing you did caused this: please let the site’s team know.",
    ),
    "provider_redirect_uri": (
        "This site’s Adobe sign-in is set up wrongly",
        "Adobe sent you back to another address than the one this site asked for: the redirect URI "
        "(ADOBE_OAUTH_REDIRECT_URI) is not one the site’s Adobe credential allows. The site’s team "
        "must add it to the credential’s redirect URI pattern in the Adobe Developer Console.",
    ),
    "provider_unverified": (
        "Adobe’s answer could not be verified",
        "The sign-in was stopped because Adobe’s answer did not pass our checks. Please try again.",
    ),
    "provider_error": (
        "Adobe couldn’t complete the sign-in",
        "Adobe’s sign-in service answered with an error. This is usually temporary: please try again "
        "in a few minutes.",
    ),
    "rate_limited": (
        "Too many requests to Adobe right now",
        "Adobe asked us to slow down. Please wait a few seconds, then try again.",
    ),
    "analytics_no_profile": (
        "Your Adobe account can’t use Adobe Analytics",
        "Adobe says your account is in no Adobe Analytics product profile. An administrator of your "
        "Adobe organization can add you in the Adobe Admin Console; then sign in again.",
    ),
    "analytics_column": (
        "Part of this report isn’t available to you",
        "Adobe left out some of the numbers this page asked for, usually because your account may not "
        "read that metric in this report suite. An Adobe Analytics administrator can grant it.",
    ),
    "analytics_error": (
        "Adobe Analytics couldn’t answer",
        "Adobe Analytics answered this request with an error. Please try again in a few minutes; if it "
        "keeps happening, contact the site’s team.",
    ),
    "storage_unavailable": (
        "Sign-in is temporarily unavailable",
        "We couldn’t save your sign-in just now. Please try again in a few minutes.",
    ),
    "cookie_too_large": (
        "Your sign-in couldn’t be saved",
        "The sign-in is too large for this browser to keep. This is a problem with the site’s setup, "
        "not with your account: please let the site’s team know.",
    ),
    "cross_site": (
        "This request came from another site",
        "For your safety, signing in and out only works from this site’s own pages. "
        "Go to the site and try again there.",
    ),
    "login_required": ("Please sign in", "You need to sign in with Adobe to see this page."),
    "not_allowed": (
        "This Adobe account can’t use this site",
        "You signed in with Adobe, but this site is only for the people of its organisation, and your "
        "account is not one of them. If you should have access, ask your Adobe organisation’s "
        "administrator, or sign in with another Adobe account.",
    ),
    "insufficient_scope": (
        "You don’t have access to this page",
        "Your Adobe sign-in doesn’t include the permissions this page needs. "
        "Ask your administrator for access, or sign in with another account.",
    ),
    "configuration_error": (
        "Sign-in isn’t set up correctly",
        "The site’s Adobe sign-in is misconfigured. Nothing you did caused this: please let the site’s team know.",
    ),
    "callback_error": (
        "The sign-in couldn’t be completed",
        "Something was wrong with the answer Adobe sent back. Please start the sign-in again.",
    ),
    "error": ("Something went wrong with the sign-in", "Please try again in a moment."),
}

#: The situation of each kind of error, the first that matches (subclasses first).
_SITUATIONS: tuple[tuple[type[AdobeOAuthError], str], ...] = (
    (errors.IdTokenError, "provider_unverified"),
    (errors.NoAnalyticsProfile, "analytics_no_profile"),
    (errors.ReportColumnError, "analytics_column"),
    (errors.AnalyticsError, "analytics_error"),
    (ProviderError, "provider_error"),
    (errors.RateLimited, "rate_limited"),
    (errors.StorageUnavailable, "storage_unavailable"),
    (errors.CookieTooLarge, "cookie_too_large"),
    (errors.CrossSiteRequest, "cross_site"),
    (LoginRequired, "login_required"),
    (errors.InsufficientScope, "insufficient_scope"),
    (errors.NotAllowed, "not_allowed"),
    (errors.ConfigurationError, "configuration_error"),
    (errors.CallbackError, "callback_error"),
)


def situation(exc: AdobeOAuthError) -> str:
    """A stable name for what went wrong, e.g. ``"cancelled"`` or ``"state_expired"``."""
    if isinstance(exc, errors.AuthorizationDenied):
        return "cancelled" if exc.provider_error == "access_denied" else "denied"
    if isinstance(exc, errors.StateError):
        return f"state_{exc.reason}" if f"state_{exc.reason}" in _WORDING else "state_invalid"
    key = next((key for cls, key in _SITUATIONS if isinstance(exc, cls)), "error")
    if key == "provider_error" and isinstance(exc, ProviderError):
        failed = "provider_unreachable" if exc.status is None else "provider_refused" if exc.refused else key
        return misconfigured_setting(exc) or failed
    return key


def misconfigured_setting(exc: ProviderError) -> str | None:
    """The situation of a refusal naming a setting of the site's: the client's credentials (RFC 6749
    §5.2 ``invalid_client``), or a redirect URI the credential does not allow (``invalid_grant``)."""
    if exc.provider_error == "invalid_client" or (exc.status == 401 and exc.provider_error is None):
        return "provider_credentials"
    if exc.provider_error == "invalid_grant" and "redirect" in (exc.description or "").lower():
        return "provider_redirect_uri"
    return None


def is_navigation() -> bool:
    """True when a browser is loading a page (a link followed, a form submitted), not a script's
    ``fetch()``/XHR nor a non-browser client: browsers send ``Sec-Fetch-Mode: navigate`` (W3C Fetch
    Metadata; no script can set a ``Sec-Fetch-*`` header) to secure contexts only; elsewhere a
    navigation's ``Accept`` names ``text/html`` (``fetch()`` and XHR send ``*/*``)."""
    mode = request.headers.get("Sec-Fetch-Mode")
    if mode is not None:
        return mode.strip().lower() == "navigate"
    return any(value.lower() == "text/html" and quality > 0 for value, quality in request.accept_mimetypes)


def wants_json() -> bool:
    """True when the client asks for JSON (``Accept``, or ``X-Requested-With: XMLHttpRequest``), or
    sends another method than GET or HEAD other than from a browser's form (the implicit grant's page,
    a sign-out button), which the user sees as a page."""
    if request.headers.get("X-Requested-With", "").lower() == "xmlhttprequest":
        return True
    if request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json":
        return True
    return request.method not in ("GET", "HEAD") and not is_navigation()


R = TypeVar("R", bound=BaseResponse)


def no_store(response: R) -> R:
    """Mark a response of the login flow: never cached, never a Referer source."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _sealed(response: Response) -> Response:
    response.headers["X-Content-Type-Options"] = "nosniff"
    return no_store(response)


def render_page(name: str, context: Mapping[str, Any], script: str | None = None) -> tuple[str, bool]:
    """The HTML of the page template ``name`` (``adobe_oauth/...``), and whether it is the built-in
    one: the app's override unless it fails to render (or, given ``script``, does not carry it
    verbatim), which is logged; a bad override never turns an error page into a 500."""
    template: Template | None = None
    failure: Exception | None = None
    origin, problem = name, ""
    try:
        template = current_app.jinja_env.get_template(name)
        own = os.path.realpath(TEMPLATE_DIR / name)  # the app's loader may find it: no override then
        if not template.filename or os.path.realpath(template.filename) != own:
            origin = template.filename or name
            html = render_template(template, **context)
            if script is None or script in html:
                return html, False
            problem = "it does not carry {{ script }} verbatim"
    except TemplateNotFound as exc:
        if template is not None or exc.name != name:  # else no Adobe blueprint on this app: no override
            failure, problem = exc, f"TemplateNotFound: {exc.name}"
    except Exception as exc:
        failure, problem = exc, f"{type(exc).__name__}: {exc}"
        origin = getattr(exc, "filename", None) or origin
    if problem:
        message = "the app's template %s (%s) failed, so the built-in page is sent: %s"
        log.error(message, name, origin, problem, exc_info=failure)
    return _builtin.get_template(name).render(context), True


def _page(
    name: str, context: Mapping[str, Any], csp: str, own_csp: str = "", script: str | None = None
) -> Response:
    html, builtin = render_page(name, {**context, "home_url": request.script_root + "/"}, script)
    page = Response(html, mimetype="text/html")
    policy = csp if builtin else own_csp
    if policy:
        page.headers["Content-Security-Policy"] = policy
    return _sealed(page)


def error_response(
    exc: AdobeOAuthError, retry_url: str | None = None, as_json: bool | None = None
) -> Response:
    """The page (or JSON) for ``exc``."""
    status = exc.status_code if 400 <= exc.status_code < 600 else 500
    delay = exc.retry_after if isinstance(exc, errors.RateLimited) else None
    retry_after = None if delay is None else int(delay + 0.999)
    if wants_json() if as_json is None else as_json:
        body = {"error": exc.error, "message": exc.message, **({"login_url": retry_url} if retry_url else {})}
        # HTML-safe JSON (<, >, &, ' as \uXXXX): the message may quote what Adobe sent back
        # (error_description), and a client that drops it into innerHTML must not run it.
        text = htmlsafe_json_dumps(body, sort_keys=True) + "\n"
        response = _sealed(Response(text, mimetype="application/json"))
    else:
        key = situation(exc)
        headline, summary = _WORDING[key]
        context: dict[str, Any] = dict(headline=headline, summary=summary, situation=key, message=exc.message)
        context.update(code=exc.error, status=status, error=exc, retry_url=retry_url, retry_after=retry_after)
        response = _page("adobe_oauth/error.html", context, ERROR_CSP)
    response.status_code = status
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


#: ``func(error)`` answering a missing login instead of the redirect to the login page.
UnauthorizedHandler = Callable[[LoginRequired], ResponseReturnValue]


def login_required_response(blueprint: str, exc: LoginRequired) -> BaseResponse:
    """The answer to a missing login for ``blueprint``: its ``unauthorized_handler``, else 302
    to the login for a browser's page load, else 401 (a form POST cannot be replayed)."""
    # Read at call time from the app's blueprints (by the full, dotted name), so a handler
    # set after registration counts.
    handler: UnauthorizedHandler | None = getattr(
        current_app.blueprints.get(blueprint), "unauthorized_callback", None
    )
    if handler is not None:
        return current_app.make_response(current_app.ensure_sync(handler)(exc))
    query = request.query_string.decode("latin-1")
    here = request.script_root + request.path + (f"?{query}" if query else "")
    # A page load: a navigation, or a request with neither header (Flask's test client, say).
    page_load = is_navigation() or not ("Sec-Fetch-Mode" in request.headers or "Accept" in request.headers)
    if request.method not in ("GET", "HEAD") or wants_json() or not page_load:
        # JSON for every client but a browser (a page load, a form it submits).
        login_url = url_for(f"{blueprint}.login", next=here)
        return error_response(exc, retry_url=login_url, as_json=None if page_load else True)
    if exc.expired and silent_sign_in_allowed(blueprint):
        # The sign-in ran out (IMS refresh tokens last 14 days): ask Adobe without showing the
        # user anything (OpenID Connect Core §3.1.2.1, prompt=none). A user still signed in at
        # Adobe is back here at once; else the callback goes on to the ordinary sign-in.
        return redirect(url_for(f"{blueprint}.login", next=here, prompt="none", renew="1"), 302)
    return redirect(url_for(f"{blueprint}.login", next=here), 302)


def silent_sign_in_allowed(blueprint: str) -> bool:
    """Whether a ran-out sign-in may be renewed with ``prompt=none``: an OpenID Connect code flow,
    and the app not already sending a prompt."""
    config = get_runtime(blueprint).config
    return config.response_type == "code" and config.prompt is None and "openid" in config.scope


#: What Adobe answers a ``prompt=none`` sign-in that needs the user (OpenID Connect Core §3.1.2.6).
SILENT_REFUSALS = frozenset(
    {"login_required", "interaction_required", "consent_required", "account_selection_required"}
)

# Reads the fragment (which never reaches a server), removes it from the address bar and
# history, and posts it to this same URL.
FRAGMENT_SCRIPT = (
    "(function(){var h=location.hash.slice(1);history.replaceState(null,'',location.pathname);"
    "var f=document.createElement('form');f.method='post';f.action=location.pathname;"
    "new URLSearchParams(h).forEach(function(v,k){var i=document.createElement('input');"
    "i.type='hidden';i.name=k;i.value=v;f.appendChild(i);});"
    "document.body.appendChild(f);f.submit();})();"
)
SCRIPT_HASH = "'sha256-" + base64.b64encode(hashlib.sha256(FRAGMENT_SCRIPT.encode()).digest()).decode() + "'"
# The built-in page: nothing but this script (a W3C CSP Level 3 hash-source) and inline styles;
# it may post only to this site.
FRAGMENT_CSP = f"default-src 'none'; form-action 'self'; script-src {SCRIPT_HASH}; style-src 'unsafe-inline'"
# An app's own page keeps what protects the token in the fragment (no other script runs, the
# form posts only here) and may load the app's stylesheets.
FRAGMENT_CSP_OVERRIDE = f"form-action 'self'; script-src {SCRIPT_HASH}"


def fragment_page() -> Response:
    """The implicit grant's page (``adobe_oauth/implicit.html``): posts the URL fragment back to
    the callback. Any override carries the exact script the CSP admits, or the built-in page is sent."""
    context = {"script": Markup(FRAGMENT_SCRIPT)}  # noqa: S704 - a constant
    return _page("adobe_oauth/implicit.html", context, FRAGMENT_CSP, FRAGMENT_CSP_OVERRIDE, FRAGMENT_SCRIPT)


def logout_page(action: str, signed_in: bool) -> Response:
    """The page of a plain "Sign out" link: a button that posts the sign-out."""
    return _page("adobe_oauth/logout.html", {"action": action, "signed_in": signed_in}, FORM_CSP)


def org_page(orgs: list[str], chosen: str | None, action: str) -> Response:
    """The organisation picker."""
    return _page("adobe_oauth/org.html", {"orgs": orgs, "chosen": chosen, "action": action}, FORM_CSP)


def is_cross_site() -> bool:
    """True when the request comes from another site's page (CSRF)."""
    site, origin = request.headers.get("Sec-Fetch-Site"), request.headers.get("Origin")
    if site is not None:
        return site not in ("same-origin", "none")
    return origin is not None and origin.rstrip("/") != request.host_url.rstrip("/")
