import os

from flask import Flask

from flask_adobe_oauth import adobe, adobe_login_required, make_adobe_blueprint
from flask_adobe_oauth.analytics import companies


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(  # secrets come from the environment, never from the code
        SECRET_KEY=os.environ.get("SECRET_KEY"),
        ADOBE_OAUTH_CLIENT_ID=os.environ.get("ADOBE_OAUTH_CLIENT_ID"),
        ADOBE_OAUTH_CLIENT_SECRET=os.environ.get("ADOBE_OAUTH_CLIENT_SECRET"),
    )
    app.config.update(config or {})
    app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")

    @app.get("/")
    @adobe_login_required
    def home():
        return {
            "user": adobe.token.user_id,
            "companies": [company.name for company in companies()],  # GET /discovery/me as the user
        }

    return app
