import os

from flask import Flask

from flask_adobe_oauth import adobe, adobe_login_required, make_adobe_blueprint
from flask_adobe_oauth.analytics import companies


def create_app(config=None):
    app = Flask(__name__)
    # Settings come from the environment, never from the code: SECRET_KEY, and every
    # ADOBE_OAUTH_* variable (the id and secret, and the URLs `flask adobe standin` prints;
    # not from_prefixed_env, which would drop the prefix).
    app.config["SECRET_KEY"] = os.environ.get("SECRET_KEY")
    app.config.update({k: v for k, v in os.environ.items() if k.startswith("ADOBE_OAUTH_")})
    app.config.update(config or {})  # then a test's or a script's own settings
    app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")  # after them: it checks them

    @app.get("/")
    @adobe_login_required
    def home():
        return {
            "user": adobe.token.user_id,
            "companies": [company.name for company in companies()],  # GET /discovery/me as the user
        }

    return app
