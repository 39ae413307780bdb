"""``@adobe_login_required``: guard a view behind an Adobe login."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from flask import current_app, redirect, request, url_for
from flask.typing import ResponseReturnValue
from werkzeug.wrappers import Response as BaseResponse

from .errors import InsufficientScope, LoginRequired
from .extension import context
from .pages import error_response, wants_json

F = TypeVar("F", bound=Callable[..., Any])

#: ``func(error)`` answering a missing login instead of the redirect to the login page.
UnauthorizedHandler = Callable[[LoginRequired], ResponseReturnValue]


def current_relative_url() -> str:
    """The current request as a path on this site, for ``next``."""
    path = request.script_root + request.path
    query = request.query_string.decode("latin-1")
    return f"{path}?{query}" if query else path


def login_required_response(blueprint: str, exc: LoginRequired) -> BaseResponse:
    """The answer to a missing login for the blueprint named ``blueprint``:
    its :meth:`~flask_adobe_oauth.AdobeBlueprint.unauthorized_handler` when
    it has one, else 302 to the login for a browser's GET, else 401: JSON for
    an API call, the sign-in page for a browser's form POST (which a redirect
    could not replay)."""
    # Read at call time from the app's own blueprint registry (the name is the
    # state's full, dotted name), so a handler set after registration counts.
    handler: UnauthorizedHandler | None = getattr(
        current_app.blueprints.get(blueprint), "unauthorized_callback", None
    )
    if handler is not None:
        return current_app.make_response(current_app.ensure_sync(handler)(exc))
    login_url = url_for(f"{blueprint}.login", next=current_relative_url())
    if request.method not in ("GET", "HEAD") or wants_json():
        return error_response(exc, retry_url=login_url)
    return redirect(login_url, 302)


@overload
def adobe_login_required(view: F) -> F: ...
@overload
def adobe_login_required(
    *, scopes: Iterable[str] | None = None, blueprint: str | None = None
) -> Callable[[F], F]: ...


def adobe_login_required(
    view: F | None = None, *, scopes: Iterable[str] | None = None, blueprint: str | None = None
) -> F | Callable[[F], F]:
    """Let a request through only with a usable Adobe token.

    Without one, a browser GET/HEAD is redirected (302) to the login with
    ``next`` set to the current URL; a request preferring JSON, or any other
    method, gets 401 ``{"error": "login_required", "login_url": ...}`` (a
    browser's form POST gets that 401 as the sign-in page instead). A
    token lacking ``scopes`` gives 403. ``OPTIONS`` passes through (CORS
    preflights carry no cookies). An expired token is refreshed on the way.
    If the view itself finds the login gone (``adobe.session`` got 401 and
    could not recover), the same login answer is given.
    """
    wanted = frozenset(scopes or ())

    def decorate(func: F) -> F:
        # Flask-Login's way with async views, decided once rather than per request.
        is_async = inspect.iscoroutinefunction(func)

        def run(*args: Any, **kwargs: Any) -> Any:
            if is_async:
                return current_app.ensure_sync(func)(*args, **kwargs)
            return func(*args, **kwargs)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if request.method == "OPTIONS":
                return run(*args, **kwargs)
            ctx = context(blueprint)
            try:
                token = ctx.usable_token()
                if wanted:
                    missing = token.has_scopes(wanted)
                    if missing:
                        return error_response(InsufficientScope(missing))
                return run(*args, **kwargs)
            except LoginRequired as exc:
                return login_required_response(ctx.state.name, exc)

        return wrapper  # type: ignore[return-value]

    if view is not None:
        return decorate(view)
    return decorate
