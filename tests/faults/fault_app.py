"""The app the fault-injection tests serve: :mod:`tests.scale_app`'s (``/whoami``,
Redis or cookie storage, ``X-Worker-Pid``), plus ``/api``, a view that calls
Adobe's Analytics API as the user (``companies()``, through ``adobe.session``),
and ``/service``, the same call as the app's service credential (one token
shared by every worker through Redis).

Configured from the environment like the scale app (``SCALE_ADOBE_CONFIG``,
``SCALE_REDIS_URL``), so gunicorn workers can build it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import Flask, jsonify, request

from flask_adobe_oauth import adobe, adobe_login_required
from flask_adobe_oauth.analytics import companies
from flask_adobe_oauth.service import service_for

from ..scale_app import create_app as create_scale_app


def create_app(adobe_config: dict[str, Any] | None = None, redis_url: str | None = None) -> Flask:
    app = create_scale_app(adobe_config, redis_url)

    @app.get("/api")
    @adobe_login_required
    def api() -> Any:
        names = [company.name for company in companies()]
        token = adobe.token  # after the call: refreshed on the way if it had expired
        assert token is not None
        return jsonify(
            companies=names,
            token_sha256=hashlib.sha256(token.access_token.encode()).hexdigest(),
            marker=request.args.get("u"),
        )

    @app.get("/service")
    def service() -> Any:
        svc = service_for(app)  # shares its token through the blueprint's RedisStorage
        names = [company.name for company in companies(svc.session())]
        return jsonify(
            companies=names, token_sha256=hashlib.sha256(svc.token().access_token.encode()).hexdigest()
        )

    return app
