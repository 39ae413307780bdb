"""The README's Flask-Login pattern, run as written: an Adobe sign-in finds or
creates the app's own user and logs them in; signing out ends both."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from flask_adobe_oauth.testing import StandInAdobe

from .helpers import SECRET_KEY

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "flask_login_app.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flask_login_app_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_adobe_sign_in_logs_the_apps_own_user_in_and_out(adobe_standin: StandInAdobe) -> None:
    example = load_example()
    app = example.create_app({"SECRET_KEY": SECRET_KEY, **adobe_standin.config()})
    client = app.test_client()

    first = client.get("/")
    assert first.status_code == 302 and first.headers["Location"].startswith(
        "/adobe/login"
    )  # Flask-Login's guard

    adobe_standin.sign_in(client)
    user = adobe_standin.state.user
    assert client.get("/").json == {"user": user.sub, "email": user.email}
    assert list(example.USERS) == [user.sub]  # created once...

    client.post("/adobe/logout")
    assert client.get("/").status_code == 302  # ...logged out of both
    adobe_standin.sign_in(client)
    assert client.get("/").status_code == 200
    assert list(example.USERS) == [user.sub]  # ...and found again, not created twice
