"""Where tokens live between requests.

A storage is any object with ``get() -> Token | None``, ``set(token)`` and
``delete()``, each acting for the user of the current request; one object
serves every request, so it keeps nothing request-specific.
:class:`SessionStorage` (the default) keeps the token in Flask's session,
within what browsers keep (RFC 6265 §6.1). :class:`RedisStorage`,
:class:`CacheStorage` and any :class:`ServerSideStorage` keep it on the
server, the session holding only a random key. :class:`SQLAlchemyStorage`
keeps it in a table of the app's database (:mod:`flask_adobe_oauth.storage.sqla`,
imported on first use of the name, so nothing else needs SQLAlchemy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..tokens import Storage
from .base import DEFAULT_TTL, TOKEN_KEY, CacheStorage, RedisStorage, ServerSideStorage, SessionStorage

if TYPE_CHECKING:
    from .sqla import TABLE_NAME, AdobeTokenMixin, SQLAlchemyStorage, token_table

__all__ = [
    "DEFAULT_TTL",
    "TABLE_NAME",
    "TOKEN_KEY",
    "AdobeTokenMixin",
    "CacheStorage",
    "RedisStorage",
    "SQLAlchemyStorage",
    "ServerSideStorage",
    "SessionStorage",
    "Storage",  # the interface, defined with the token type
    "token_table",
]


def __getattr__(name: str) -> Any:
    if name in {"TABLE_NAME", "AdobeTokenMixin", "SQLAlchemyStorage", "token_table"}:
        from . import sqla  # the only module that imports SQLAlchemy

        return getattr(sqla, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
