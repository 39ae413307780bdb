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


def _app_calling_adobe(standin: StandInAdobe, url: str) -> Flask:
    from flask_adobe_oauth import adobe, adobe_login_required, make_adobe_blueprint

    app = Flask(__name__)
    app.config.update(SECRET_KEY="test-secret-key-not-for-production", **standin.config())
    app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")

    @app.get("/companies")
    @adobe_login_required
    def companies() -> object:
        return adobe.session.get(url).json()

    return app


def test_login_as_signs_in_with_a_token_the_standin_accepts(standin: StandInAdobe) -> None:
    client = _app_calling_adobe(standin, "/discovery/me").test_client()
    token = login_as(client)
    assert standin.is_valid_access_token(token.access_token)
    assert token.user_id == standin.state.user.sub
    assert token.refresh_token  # the default IMS scope has offline_access
    response = client.get("/companies")
    assert response.status_code == 200
    assert response.json["imsUserId"] == standin.state.user.sub


def test_login_as_with_another_user_id_is_that_user_at_the_standin(standin: StandInAdobe) -> None:
    client = _app_calling_adobe(standin, "/ims/userinfo/v2").test_client()
    login_as(client, user_id="someone@AdobeID")
    assert client.get("/companies").json["sub"] == "someone@AdobeID"


def test_adobe_absolute_urls_reach_the_standin_the_app_points_at(standin: StandInAdobe) -> None:
    client = _app_calling_adobe(standin, "https://analytics.adobe.io/discovery/me").test_client()
    login_as(client)
    response = client.get("/companies")
    assert response.status_code == 200
    assert response.json["imsUserId"] == standin.state.user.sub


def test_a_refused_token_is_reported_as_refused_not_as_signed_out(
    standin: StandInAdobe, caplog: pytest.LogCaptureFixture
) -> None:
    client = _app_calling_adobe(standin, "/discovery/me").test_client()
    login_as(client, access_token="not-a-token-of-the-standin")
    response = client.get("/companies", headers={"Accept": "application/json"})
    assert response.status_code == 401
    message = response.json["message"]
    assert "Adobe refused the stored access token" in message
    assert "401013" in message  # Adobe's own error code, quoted
    assert "not-a-token-of-the-standin" not in message
    assert any("Adobe refused" in r.getMessage() for r in caplog.records)


def test_adobe_urls_are_not_moved_when_the_app_points_at_adobe_itself(standin: StandInAdobe) -> None:
    from flask_adobe_oauth.extension import get_state

    app = Flask(__name__)
    app.config.update(
        SECRET_KEY="test-secret-key-not-for-production",
        ADOBE_OAUTH_CLIENT_ID="id",
        ADOBE_OAUTH_CLIENT_SECRET="secret-value",
        ADOBE_OAUTH_API_BASE_URL="https://analytics.adobe.io/api/exampl0",
    )
    from flask_adobe_oauth import make_adobe_blueprint

    app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")
    session = get_state(None, app).api
    assert (
        session.absolute("https://analytics.adobe.io/discovery/me")
        == "https://analytics.adobe.io/discovery/me"
    )
    assert session.absolute("/reports") == "https://analytics.adobe.io/api/exampl0/reports"
    pointed = _app_calling_adobe(standin, "/x")
    moved = get_state(None, pointed).api.absolute("https://analytics.adobe.io/discovery/me?x=1")
    assert moved == standin.url + "/discovery/me?x=1"
