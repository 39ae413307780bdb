"""Helpers for testing apps that use flask-adobe-oauth.

* :func:`login_as` puts a token into a Flask test client's session, so a
  guarded view can be tested without a login round trip.
* :class:`StandInAdobe` is a real HTTP server on 127.0.0.1 that answers as
  Adobe (both presets, plus Analytics 2.0). With pytest it is also the
  ``adobe_standin`` fixture, registered automatically on install.
"""

from __future__ import annotations

import time
from typing import Any

from flask.ctx import RequestContext
from flask.testing import FlaskClient

from ..extension import get_state
from ..tokens import Token, parse_scope
from .server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, StandInAdobe
from .state import User

__all__ = ["DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "StandInAdobe", "User", "login_as"]


def login_as(client: FlaskClient, *, blueprint: str | None = None, **token_fields: Any) -> Token:
    """Store a token for ``client``'s next requests, as a real login would.

    ``token_fields`` are :class:`Token` fields; defaults: an access token
    ``"test-access-token"``, valid for an hour, with the blueprint's scope,
    user ``"test-user@AdobeID"``. Works with any storage backend: the token
    is stored through the app's own storage, inside the client's session.
    """
    app = client.application
    state = get_state(blueprint, app)
    fields: dict[str, Any] = {
        "access_token": "test-access-token",
        "expires_at": time.time() + 3600,
        "scope": frozenset(state.config.scope),
        "user_id": "test-user@AdobeID",
    }
    fields.update(token_fields)
    fields["scope"] = parse_scope(fields["scope"])
    token = Token(**fields)
    with client.session_transaction() as sess:
        environ = app.test_request_context().request.environ
        with RequestContext(app, environ, session=sess):
            state.storage.set(token)
    return token
