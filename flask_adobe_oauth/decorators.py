"""``@adobe_login_required``: guard a view behind an Adobe login."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from typing import Any, TypeVar, overload

from flask import current_app, request

from .errors import InsufficientScope, LoginRequired
from .extension import context
from .pages import error_response, login_required_response

F = TypeVar("F", bound=Callable[..., Any])


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
                return login_required_response(ctx.runtime.name, exc)

        return wrapper  # type: ignore[return-value]

    if view is not None:
        return decorate(view)
    return decorate
