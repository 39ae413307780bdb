"""What the user sees when something goes wrong: a small HTML page or JSON,
with the right status, the message escaped, and nothing secret in it."""

from __future__ import annotations

from typing import TypeVar

from flask import Response, request
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import escape
from werkzeug.wrappers import Response as BaseResponse

from .errors import AdobeOAuthError, RateLimited

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;color:#222}}
h1{{font-size:1.4rem}}code{{background:#f3f3f3;padding:0 .2em}}a{{color:#1473e6}}</style>
</head><body><h1>{title}</h1><p>{message}</p><p><code>{error}</code> (HTTP {status})</p>{link}</body></html>
"""

_TITLES = {
    400: "Sign-in failed",
    401: "Please sign in",
    403: "Sign-in refused",
    429: "Too many requests",
    502: "Adobe could not be reached",
    503: "Sign-in storage unavailable",
    507: "Sign-in data too large",
}


def wants_json() -> bool:
    """True when the client prefers JSON to HTML, or is not a browser page load."""
    if request.method not in ("GET", "HEAD"):
        return True
    if request.headers.get("X-Requested-With", "").lower() == "xmlhttprequest":
        return True
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


R = TypeVar("R", bound=BaseResponse)


def no_store(response: R) -> R:
    """Mark a response of the login flow: never cached, never a Referer source."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def error_response(
    exc: AdobeOAuthError, retry_url: str | None = None, as_json: bool | None = None
) -> Response:
    """The page (or JSON) for ``exc``."""
    status = exc.status_code if 400 <= exc.status_code < 600 else 500
    if wants_json() if as_json is None else as_json:
        body = {"error": exc.error, "message": exc.message}
        if retry_url:
            body["login_url"] = retry_url
        # HTML-safe JSON (<, >, &, ' as \uXXXX): the message may quote what
        # Adobe sent back (error_description), and a client that drops it into
        # innerHTML must not run it.
        response = Response(htmlsafe_json_dumps(body, sort_keys=True) + "\n", mimetype="application/json")
    else:
        link = f'<p><a href="{escape(retry_url)}">Try signing in again</a></p>' if retry_url else ""
        html = _PAGE.format(
            title=_TITLES.get(status, "Error"),
            message=escape(exc.message),
            error=escape(exc.error),
            status=status,
            link=link,
        )
        response = Response(html, mimetype="text/html")
        response.headers["Content-Security-Policy"] = "default-src 'none'; style-src 'unsafe-inline'"
    response.status_code = status
    response.headers["X-Content-Type-Options"] = "nosniff"
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        response.headers["Retry-After"] = str(int(exc.retry_after + 0.999))
    return no_store(response)
