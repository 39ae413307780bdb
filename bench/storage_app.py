"""The app ``python -m bench.storage`` serves with ``gunicorn -w 4``: one view
returning ``"ok"`` bare, and the same behind ``@adobe_login_required``.

Configured from the environment, so that gunicorn workers can build it
(the variables are :mod:`tests.scale_app`'s, plus one):

* ``SCALE_ADOBE_CONFIG``: JSON of ``ADOBE_OAUTH_*`` keys (the stand-in's);
* ``SCALE_REDIS_URL``: tokens in Redis (:class:`RedisStorage`) when set;
* ``BENCH_SQL_URL``: else tokens in that database (:class:`SQLAlchemyStorage`,
  made by ``from_url`` as the storage guide shows; the table must exist);
* neither: the default, the session cookie (:class:`SessionStorage`).

Every response names its worker in ``X-Worker-Pid``, so the benchmark can
see its requests spread over the workers.
"""

from __future__ import annotations

import json
import os
from typing import Any

from flask import Flask
from werkzeug.wrappers import Response

from flask_adobe_oauth import adobe_login_required, make_adobe_blueprint

SECRET_KEY = "bench-storage-secret-key-shared-by-all-workers"
REDIS_PREFIX = "bench:"


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET_KEY)
    app.config.update(json.loads(os.environ["SCALE_ADOBE_CONFIG"]))
    options: dict[str, Any] = {}
    redis_url = os.environ.get("SCALE_REDIS_URL")
    sql_url = os.environ.get("BENCH_SQL_URL")
    if redis_url:
        from flask_adobe_oauth.storage import RedisStorage

        options["storage"] = RedisStorage.from_url(redis_url, prefix=REDIS_PREFIX)
    elif sql_url:
        from flask_adobe_oauth.storage import SQLAlchemyStorage

        options["storage"] = SQLAlchemyStorage.from_url(sql_url)
    app.register_blueprint(make_adobe_blueprint(**options), url_prefix="/adobe")

    @app.get("/")
    @app.get("/bare")
    def bare() -> str:
        return "ok"

    @app.get("/guarded")
    @adobe_login_required
    def guarded() -> str:
        return "ok"

    @app.after_request
    def name_the_worker(response: Response) -> Response:
        response.headers["X-Worker-Pid"] = str(os.getpid())
        return response

    return app
