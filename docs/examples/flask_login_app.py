"""An app with its own users (Flask-Login): signing in with Adobe finds or
creates the app's user and logs them in; signing out ends both."""

import os

from flask import Flask
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user

from flask_adobe_oauth import adobe, logged_in, logged_out, make_adobe_blueprint


class User(UserMixin):
    def __init__(self, adobe_id, email):
        self.id, self.email = adobe_id, email


USERS = {}  # your database: here, Adobe user id -> User


def create_app(config=None):
    app = Flask(__name__)
    app.config.update(
        config or {k: v for k, v in os.environ.items() if k.startswith(("ADOBE_OAUTH_", "SECRET_KEY"))}
    )
    app.register_blueprint(make_adobe_blueprint(scope=["openid", "AdobeID", "email"]), url_prefix="/adobe")
    logins = LoginManager(app)
    logins.login_view = "adobe.login"  # Flask-Login sends strangers to Adobe's sign-in
    logins.user_loader(USERS.get)

    @logged_in.connect_via(app)
    def find_or_create_user(sender, token, **extra):
        profile = adobe.session.get("https://ims-na1.adobelogin.com/ims/userinfo/v2").json()
        user = USERS.get(token.user_id) or USERS.setdefault(
            token.user_id, User(token.user_id, profile.get("email"))
        )
        login_user(user)

    @logged_out.connect_via(app)
    def log_out_user(sender, **extra):
        logout_user()

    @app.get("/")
    @login_required  # Flask-Login's own guard: the app's user, signed in through Adobe
    def home():
        return {"user": current_user.id, "email": current_user.email}

    return app
