"""The helpers shipped for users' own tests: login_as and the pytest plugin."""

from __future__ import annotations

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from flask_adobe_oauth.testing import StandInAdobe, login_as

pytest_plugins = ["pytester"]


def test_login_as_lets_a_guarded_view_run_with_the_given_fields(client: FlaskClient) -> None:
    token = login_as(client, user_id="bob@AdobeID", scope="openid Report")
    assert token.scope == {"openid", "Report"}
    response = client.get("/dashboard")
    assert response.status_code == 200
    assert response.json == {"user": "bob@AdobeID", "scope": ["Report", "openid"]}
    assert client.get("/reports").status_code == 200


def test_login_as_goes_through_a_custom_storage(standin: StandInAdobe) -> None:
    from flask_adobe_oauth import Token

    class DictStorage:
        """A storage keyed by nothing: enough to see login_as use it."""

        def __init__(self) -> None:
            self.token: Token | None = None

        def get(self) -> Token | None:
            return self.token

        def set(self, token: Token) -> None:
            self.token = token

        def delete(self) -> None:
            self.token = None

    from .conftest import make_app

    storage = DictStorage()
    app: Flask = make_app(standin, storage=storage)
    client = app.test_client()
    login_as(client, user_id="carol@AdobeID")
    assert storage.token is not None and storage.token.user_id == "carol@AdobeID"
    assert client.get("/dashboard").json["user"] == "carol@AdobeID"


def test_standin_serves_only_on_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        StandInAdobe(host="0.0.0.0")


def test_standin_stops_and_frees_its_port() -> None:
    server = StandInAdobe().start()
    url = server.url
    assert requests.get(url + "/ims/keys", timeout=5).status_code == 200
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/ims/keys", timeout=5)


def test_plugin_fixture_is_available_to_a_users_project_without_setup(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import requests
        from flask import Flask
        from flask_adobe_oauth import make_adobe_blueprint, adobe_login_required
        from flask_adobe_oauth.testing import login_as

        def test_users_own(adobe_standin):
            app = Flask(__name__)
            app.config.update(SECRET_KEY="k", **adobe_standin.config())
            app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")

            @app.get("/private")
            @adobe_login_required
            def private():
                return "private"

            client = app.test_client()
            assert client.get("/private").status_code == 302
            login_as(client)
            assert client.get("/private").data == b"private"
            assert requests.get(adobe_standin.url + "/ims/keys", timeout=5).ok
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
