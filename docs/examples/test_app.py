from flask_adobe_oauth.testing import login_as

from app import create_app


def test_home_lists_the_users_companies(adobe_standin):
    app = create_app({"SECRET_KEY": "test-only-key", **adobe_standin.config()})
    client = app.test_client()

    response = client.get("/")
    assert response.status_code == 302  # not signed in: off to Adobe's sign-in
    assert response.headers["Location"].startswith("/adobe/login")

    login_as(client)  # signed in as the stand-in's user, with a token it accepts
    response = client.get("/")
    assert response.status_code == 200
    assert response.json["companies"] == ["Example Corp", "Acme Outdoor"]


def test_a_real_sign_in_round_trip(adobe_standin):
    app = create_app({"SECRET_KEY": "test-only-key", **adobe_standin.config()})
    client = app.test_client()

    response = adobe_standin.sign_in(client, next_url="/")  # /adobe/login → Adobe → /adobe/callback
    assert response.headers["Location"] == "/"
    assert client.get("/").json["user"] == adobe_standin.state.user.sub
