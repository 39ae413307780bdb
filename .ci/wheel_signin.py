"""A user's app, installed from the built wheel alone, signs a user in.

``nox -s package`` runs this in a fresh virtual environment holding the
wheel and the lowest versions its dependencies allow (``--resolution
lowest-direct``), from a folder outside the repository, so what is imported
is the wheel and nothing else. It fails loudly (a non-zero exit) if the
sign-in, the id_token check or a call to Adobe's API does not work there.
"""

from __future__ import annotations

import sys
from importlib.metadata import version
from pathlib import Path

from flask import Flask

import flask_adobe_oauth
from flask_adobe_oauth import adobe, adobe_login_required, make_adobe_blueprint
from flask_adobe_oauth.testing import StandInAdobe

here = Path(flask_adobe_oauth.__file__).resolve()
if "site-packages" not in here.parts:
    sys.exit(f"flask_adobe_oauth was imported from {here}, not from the installed wheel")

with StandInAdobe() as standin:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="wheel-check-secret-key-0123456789", **standin.config())
    app.register_blueprint(make_adobe_blueprint(scope=["openid", "AdobeID"]), url_prefix="/adobe")

    @app.get("/me")
    @adobe_login_required
    def me() -> dict[str, object]:
        return {
            "user": adobe.token.user_id if adobe.token else None,
            "me": adobe.session.get("/discovery/me").json(),
        }

    client = app.test_client()
    assert client.get("/me").status_code == 302, "a guarded page let an anonymous browser in"
    answer = standin.sign_in(client, next_url="/me")
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/me"), answer.status_code
    page = client.get("/me")
    assert page.status_code == 200, page.data[:300]
    body = page.get_json()
    assert body["user"] == standin.state.user.sub, body
    assert body["me"]["imsOrgs"], body

names = ["flask-adobe-oauth", "flask", "werkzeug", "requests", "urllib3", "itsdangerous", "pyjwt"]
print("signed in with", ", ".join(f"{name} {version(name)}" for name in names))
print("flask_adobe_oauth.__version__ =", flask_adobe_oauth.__version__)
