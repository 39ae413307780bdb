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

from .api import AdobeSession
from .blueprint import AdobeBlueprint, make_adobe_blueprint
from .decorators import adobe_login_required
from .errors import (
    AdobeOAuthError,
    AuthorizationDenied,
    CallbackError,
    ConfigurationError,
    CookieTooLarge,
    CrossSiteRequest,
    IdTokenError,
    InsufficientScope,
    LoginRequired,
    OutsideRequest,
    ProviderError,
    RateLimited,
    StateError,
    StorageUnavailable,
)
from .extension import AdobeContext, adobe
from .signals import logged_in, logged_out, login_failed, token_refreshed
from .storage import CacheStorage, RedisStorage, ServerSideStorage, SessionStorage
from .tokens import Storage, Token

__all__ = [
    "AdobeBlueprint",
    "AdobeContext",
    "AdobeOAuthError",
    "AdobeSession",
    "AuthorizationDenied",
    "CacheStorage",
    "CallbackError",
    "ConfigurationError",
    "CookieTooLarge",
    "CrossSiteRequest",
    "IdTokenError",
    "InsufficientScope",
    "LoginRequired",
    "OutsideRequest",
    "ProviderError",
    "RateLimited",
    "RedisStorage",
    "ServerSideStorage",
    "SessionStorage",
    "StateError",
    "Storage",
    "StorageUnavailable",
    "Token",
    "adobe",
    "adobe_login_required",
    "logged_in",
    "logged_out",
    "login_failed",
    "make_adobe_blueprint",
    "token_refreshed",
]
