"""The small app the scale tests serve with gunicorn or a threaded server.

Configured from the environment so that gunicorn workers can build it:

* ``SCALE_ADOBE_CONFIG``: JSON of ``ADOBE_OAUTH_*`` keys (the stand-in's);
* ``SCALE_REDIS_URL``: tokens go to Redis when set;
* ``SCALE_SQL_URL``: else to that database (``SQLAlchemyStorage.from_url``;
  the table must exist); neither: the session cookie.

``/`` and ``/bare`` answer ``"ok"``, and ``/guarded`` the same behind
``@adobe_login_required``: the views ``python -m bench.storage`` times.

Test-only: every response names the process that produced it in
``X-Worker-Pid``, so a test can see a login cross workers.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.wrappers import Response

from flask_adobe_oauth import adobe, adobe_login_required, make_adobe_blueprint
from flask_adobe_oauth.storage import RedisStorage

SECRET_KEY = "scale-test-secret-key-shared-by-all-workers"


def create_app(adobe_config: dict[str, Any] | None = None, redis_url: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET_KEY)
    app.config.update(adobe_config or json.loads(os.environ["SCALE_ADOBE_CONFIG"]))
    redis_url = redis_url or os.environ.get("SCALE_REDIS_URL")
    options: dict[str, Any] = {}
    sql_url = os.environ.get("SCALE_SQL_URL")
    if redis_url:
        options["storage"] = RedisStorage.from_url(redis_url, prefix="scale:")
    elif sql_url:
        from flask_adobe_oauth.storage import SQLAlchemyStorage

        options["storage"] = SQLAlchemyStorage.from_url(sql_url)
    app.register_blueprint(make_adobe_blueprint(**options), url_prefix="/adobe")

    @app.get("/")
    @app.get("/bare")
    def index() -> Any:
        return "ok"

    @app.get("/guarded")
    @adobe_login_required
    def guarded() -> Any:
        return "ok"

    @app.get("/whoami")
    @adobe_login_required
    def whoami() -> Any:
        token = adobe.token
        assert token is not None
        return jsonify(
            user=token.user_id,
            token_sha256=hashlib.sha256(token.access_token.encode()).hexdigest(),
            marker=request.args.get("u"),
        )

    @app.after_request
    def name_the_worker(response: Response) -> Response:
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    return app
