"""Blinker signals sent at the moments apps care about.

Each is sent with the Flask app as sender and the blueprint's name as the
keyword ``blueprint`` (so with two blueprints a receiver knows which fired);
a receiver written before ``blueprint`` existed (``def f(app, token)``) is
called without it::

    from flask_adobe_oauth import logged_in

    @logged_in.connect
    def remember(app, token, blueprint, **extra):
        ...

A ``logged_in`` receiver that returns ``False`` keeps the token out of the
blueprint's storage (the app keeps it its own way), as Flask-Dance allows.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from blinker import Namespace, Signal

_signals = Namespace()

#: A login completed; keyword ``token`` is the new :class:`Token`, stored
#: unless a receiver returns ``False``.
logged_in = _signals.signal("adobe-oauth-logged-in")
#: A login failed at the callback; keyword ``error`` is the :class:`AdobeOAuthError`.
login_failed = _signals.signal("adobe-oauth-login-failed")
#: A token was refreshed; keyword ``token`` is the new :class:`Token`.
token_refreshed = _signals.signal("adobe-oauth-token-refreshed")
#: The user logged out.
logged_out = _signals.signal("adobe-oauth-logged-out")
#: Adobe failed a request of this app: keyword ``error`` is the
#: :class:`~flask_adobe_oauth.errors.ProviderError` the user was answered
#: with (a 502 or 504 page: Adobe unreachable, too slow, or answering 5xx).
provider_error = _signals.signal("adobe-oauth-provider-error")
#: A call to Adobe was held back or refused for its rate limit; keyword
#: ``error`` is the :class:`~flask_adobe_oauth.errors.RateLimited`.
rate_limited = _signals.signal("adobe-oauth-rate-limited")
#: The token store failed (a 503 page); keyword ``error`` is the
#: :class:`~flask_adobe_oauth.errors.StorageUnavailable`.
storage_failed = _signals.signal("adobe-oauth-storage-failed")


@lru_cache(maxsize=256)
def _accepted(receiver: Callable[..., Any]) -> frozenset[str] | None:
    """The keyword names ``receiver`` takes, or None when it takes any (``**extra``)."""
    try:
        parameters = inspect.signature(receiver).parameters.values()
    except (TypeError, ValueError):  # no signature to read: give it everything
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    return frozenset(p.name for p in parameters)


def send(signal: Signal, sender: Any, **kwargs: Any) -> list[tuple[Callable[..., Any], Any]]:
    """``signal.send(sender, **kwargs)``, each receiver given only the keywords it takes.

    Keywords added later (``blueprint``) then reach the receivers that ask for
    them and break none that were written before.
    """
    if not signal.receivers:
        return []
    answers = []
    for receiver in signal.receivers_for(sender):
        names = _accepted(receiver)
        given = kwargs if names is None else {k: v for k, v in kwargs.items() if k in names}
        answers.append((receiver, receiver(sender, **given)))
    return answers
