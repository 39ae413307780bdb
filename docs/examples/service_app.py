import os

from flask import Flask

from flask_adobe_oauth import adobe_login_required, make_adobe_blueprint
from flask_adobe_oauth.analytics import companies
from flask_adobe_oauth.service import service_session
from flask_adobe_oauth.storage import RedisStorage


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(
        config or {k: v for k, v in os.environ.items() if k.startswith(("ADOBE_OAUTH_", "SECRET_KEY"))}
    )
    if not app.config.get("ADOBE_OAUTH_ALLOWED_ORGS"):
        # The data below is the company's, read with its own credential: only
        # the people of its Adobe organisation may see it, not any Adobe ID.
        raise RuntimeError("set ADOBE_OAUTH_ALLOWED_ORGS to the company's IMS organisation id")
    storage = RedisStorage.from_url(app.config.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    app.register_blueprint(make_adobe_blueprint(storage=storage), url_prefix="/adobe")

    @app.get("/")
    @adobe_login_required  # members of the company's organisation only...
    def company_dashboard():
        # ...and the data is the company's: one service token, shared by every
        # worker through the blueprint's Redis storage
        return {"companies": [c.name for c in companies(service_session())]}

    return app
