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

from ..extension import get_runtime
from ..tokens import Token, parse_scope
from .server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, StandInAdobe
from .state import ProductContext, Role, User, example_users

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "ProductContext",
    "Role",
    "StandInAdobe",
    "User",
    "example_users",
    "login_as",
]


def login_as(client: FlaskClient, *, blueprint: str | None = None, **token_fields: Any) -> Token:
    """Store a token for ``client``'s next requests, as a real login would.

    ``token_fields`` are :class:`Token` fields. When the app is pointed at a
    :class:`StandInAdobe` running in this process (the ``adobe_standin``
    fixture, say) and no ``access_token`` is given, the stand-in issues the
    tokens, so views that call Adobe through ``adobe.session`` get real
    answers: the user is the stand-in's (or the known user with the given
    ``user_id``, with their organisations and products, else a new one of
    that id), with a refresh token when ``offline_access`` is in scope.
    Otherwise the access token is ``"test-access-token"`` and the user
    ``"test-user@AdobeID"``. Other defaults: valid for an hour, the
    blueprint's scope. When the blueprint decides who may enter
    (``allowed_orgs`` and the like), a token the stand-in issued is admitted
    as at a real callback: its ``orgs`` and ``products`` come from the
    user's profile, and a user the rules refuse raises
    :class:`~flask_adobe_oauth.errors.NotAllowed`; otherwise give ``orgs=``
    (and ``products=``) yourself. Works with any storage backend: the token
    is stored through the app's own storage, inside the client's session.
    """
    app = client.application
    state = get_runtime(blueprint, app)
    config = state.config
    fields: dict[str, Any] = {
        "access_token": "test-access-token",
        "expires_at": time.time() + 3600,
        "scope": frozenset(config.scope),
        "user_id": "test-user@AdobeID",
    }
    fields.update(token_fields)
    fields["scope"] = parse_scope(fields["scope"])
    standin = StandInAdobe.serving_at(config.token_url)
    if standin is not None and "access_token" not in token_fields:
        issued = standin.mint_token(
            config.client_id, scope=" ".join(sorted(fields["scope"])), user_id=token_fields.get("user_id")
        )
        fields["access_token"] = issued["access_token"]
        fields.setdefault("refresh_token", issued.get("refresh_token"))
        if "user_id" not in token_fields:
            fields["user_id"] = standin.state.user.sub
    token = Token(**fields)
    if standin is not None and "access_token" not in token_fields and "orgs" not in token_fields:
        token = state.client.admit(token)  # who may enter, as the callback decides it
    with client.session_transaction() as sess:
        environ = app.test_request_context().request.environ
        with RequestContext(app, environ, session=sess):
            state.storage.set(token)
    return token
