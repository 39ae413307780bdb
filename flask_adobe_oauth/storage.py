"""Where tokens live between requests.

A storage is any object with ``get() -> Token | None``, ``set(token)`` and
``delete()``, each acting for the user of the current request. One storage
object serves every request of the app, so it must keep nothing
request-specific on itself.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from flask import session

from .tokens import Token


@runtime_checkable
class Storage(Protocol):
    """The storage interface (same shape as Flask-Dance's)."""

    def get(self) -> Token | None:
        """The current user's token, or None."""

    def set(self, token: Token) -> None:
        """Store ``token`` for the current user, replacing any previous one."""

    def delete(self) -> None:
        """Forget the current user's token."""


class SessionStorage:
    """Keeps the token in Flask's session (the signed cookie by default).

    Only the compact form of :meth:`Token.to_dict` is stored; the id_token
    never is.
    """

    def __init__(self, key: str = "_ao_t") -> None:
        self.key = key

    def get(self) -> Token | None:
        data = session.get(self.key)
        if not isinstance(data, dict) or "a" not in data:
            return None
        try:
            return Token.from_dict(data)
        except (TypeError, ValueError):
            return None

    def set(self, token: Token) -> None:
        session[self.key] = token.to_dict()

    def delete(self) -> None:
        session.pop(self.key, None)

    def __repr__(self) -> str:
        return f"SessionStorage(key={self.key!r})"
