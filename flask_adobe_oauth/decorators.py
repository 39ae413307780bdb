"""``@adobe_login_required``: guard a view behind an Adobe login."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from flask import current_app, request

from .access import has_rules
from .config import Config
from .errors import ConfigurationError, InsufficientScope, LoginRequired, NotAllowed
from .extension import context, guarding
from .pages import error_response, login_required_response
from .tokens import Token, split_scope

F = TypeVar("F", bound=Callable[..., Any])


@overload
def adobe_login_required(view: F) -> F: ...
@overload
def adobe_login_required(
    *,
    scopes: Iterable[str] | None = None,
    blueprint: str | None = None,
    orgs: Iterable[str] | None = None,
    products: Iterable[str] | None = None,
) -> Callable[[F], F]: ...


def adobe_login_required(
    view: F | None = None,
    *,
    scopes: Iterable[str] | None = None,
    blueprint: str | None = None,
    orgs: Iterable[str] | None = None,
    products: Iterable[str] | None = None,
) -> F | Callable[[F], F]:
    """Let a request through only with a usable Adobe token (an expired one is refreshed on the way).

    Without one, a browser GET/HEAD is redirected (302) to the login with ``next`` set to the
    current URL; a request preferring JSON, or any other method, gets 401 ``{"error":
    "login_required", "login_url": ...}`` (a browser's form POST gets it as the sign-in page). So
    does a view whose ``adobe.session`` got a 401 it could not recover from. A token lacking
    ``scopes`` gives 403. ``OPTIONS`` passes through (CORS preflights carry no cookies).

    ``orgs`` and ``products`` narrow the blueprint's rule of who may enter (``allowed_orgs``,
    ``required_products``) for this view: the user must have been admitted for one of ``orgs`` and
    have every one of ``products`` there, else 403 (:class:`~flask_adobe_oauth.errors.NotAllowed`).
    Inside the view, ``adobe`` is the sign-in of ``blueprint``.
    """
    guard = Guard(
        blueprint, frozenset(scopes or ()), frozenset(split_scope(orgs)), frozenset(split_scope(products))
    )

    def decorate(func: F) -> F:
        # Flask-Login's way with async views, decided once rather than per request.
        is_async = inspect.iscoroutinefunction(func)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            run = current_app.ensure_sync(func) if is_async else func
            if request.method == "OPTIONS":
                return run(*args, **kwargs)
            return guard.enter(functools.partial(run, *args, **kwargs))

        return wrapper  # type: ignore[return-value]

    return decorate if view is None else decorate(view)


@dataclass(frozen=True)
class Guard:
    blueprint: str | None
    scopes: frozenset[str]
    orgs: frozenset[str]
    products: frozenset[str]

    def enter(self, view: Callable[[], Any]) -> Any:
        ctx = context(self.blueprint)
        try:
            token = ctx.usable_token()
            if missing := token.has_scopes(self.scopes):
                return error_response(InsufficientScope(missing))
            if self.orgs or self.products:
                self.check(ctx.runtime.config, token)
            if self.blueprint is None:
                return view()  # adobe means this sign-in already: context(None) found it
            with guarding(ctx.runtime.name):
                return view()
        except LoginRequired as exc:
            return login_required_response(ctx.runtime.name, exc)
        except NotAllowed as exc:
            return error_response(exc)

    def check(self, config: Config, token: Token) -> None:
        if not has_rules(config):
            # The organisations and products are known only when the blueprint reads them.
            raise ConfigurationError(
                "@adobe_login_required(orgs=..., products=...) narrows the blueprint's rule of who may "
                "enter, and it has none: set ADOBE_OAUTH_ALLOWED_ORGS (or REQUIRED_PRODUCTS)"
            )
        if self.orgs and not token.orgs & self.orgs:
            raise NotAllowed("This page is for another Adobe organisation than yours.")
        if not self.products <= token.products:
            raise NotAllowed("Your Adobe account does not have the Adobe product this page needs.")
