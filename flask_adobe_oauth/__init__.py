"""Sign in with Adobe (IMS or the legacy Analytics OAuth) in a Flask app, and
call Adobe's APIs as the signed-in user.

::

    app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")

    @app.get("/dashboard")
    @adobe_login_required
    def dashboard():
        return adobe.session.get("/discovery/me").json()
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _installed_version
from typing import TYPE_CHECKING, Any

# The names most apps need; the rest live in their modules: the storages in
# flask_adobe_oauth.storage, every error in flask_adobe_oauth.errors,
# AdobeSession in .api, the blueprint class in .blueprint.
#
# The protocol core needs no Flask: importing it (errors, tokens, protocol,
# config, authserver, idtoken, transport, api) does not import Flask. The
# Flask side is imported on first use of one of its names.
from .errors import (
    AdobeOAuthError,
    ConfigurationError,
    CookieTooLarge,
    LoginRequired,
    ProviderError,
    RateLimited,
)
from .tokens import Token

try:
    #: The installed distribution's version (one source: pyproject.toml).
    __version__ = _installed_version("flask-adobe-oauth")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

if TYPE_CHECKING:
    from .blueprint import make_adobe_blueprint
    from .decorators import adobe_login_required
    from .extension import adobe, adobe_for
    from .signals import logged_in, logged_out, login_failed, token_refreshed

#: Public name -> the module (of the Flask side) that defines it.
_LAZY = {
    "make_adobe_blueprint": "blueprint",
    "adobe_login_required": "decorators",
    "adobe": "extension",
    "adobe_for": "extension",
    "logged_in": "signals",
    "logged_out": "signals",
    "login_failed": "signals",
    "token_refreshed": "signals",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "AdobeOAuthError",
    "ConfigurationError",
    "CookieTooLarge",
    "LoginRequired",
    "ProviderError",
    "RateLimited",
    "Token",
    "adobe",
    "adobe_for",
    "adobe_login_required",
    "logged_in",
    "logged_out",
    "login_failed",
    "make_adobe_blueprint",
    "token_refreshed",
]
