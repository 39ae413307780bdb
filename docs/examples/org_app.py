import os

from flask import Flask

from flask_adobe_oauth import adobe, adobe_login_required, make_adobe_blueprint


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get("SECRET_KEY"),
        ADOBE_OAUTH_CLIENT_ID=os.environ.get("ADOBE_OAUTH_CLIENT_ID"),
        ADOBE_OAUTH_CLIENT_SECRET=os.environ.get("ADOBE_OAUTH_CLIENT_SECRET"),
        # Your company's IMS organisation id, as the Adobe Admin Console shows it.
        ADOBE_OAUTH_ALLOWED_ORGS=os.environ.get("ADOBE_OAUTH_ALLOWED_ORGS"),
    )
    app.config.update(config or {})
    if not app.config["ADOBE_OAUTH_ALLOWED_ORGS"]:
        raise RuntimeError("set ADOBE_OAUTH_ALLOWED_ORGS: without it, any Adobe ID may sign in")
    app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")

    @app.get("/")
    @adobe_login_required
    def dashboard():
        return {"user": adobe.token.user_id, "organisation": adobe.org_id}

    return app
