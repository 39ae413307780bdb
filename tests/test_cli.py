"""``flask adobe standin`` and ``flask adobe check``.

The provider is the package's stand-in, a real HTTP server on 127.0.0.1;
nothing is mocked. Most tests drive the commands in-process through click's
runner; a few run the real ``flask`` executable in a subprocess, as users do.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from cachelib import SimpleCache
from click.testing import CliRunner, Result
from flask import Flask
from flask.cli import ScriptInfo

from flask_adobe_oauth import make_adobe_blueprint
from flask_adobe_oauth.cli import adobe_cli
from flask_adobe_oauth.cookies import LOGIN_ROOM
from flask_adobe_oauth.storage import CacheStorage, SessionStorage
from flask_adobe_oauth.testing import StandInAdobe
from flask_adobe_oauth.testing.live import QuietRequestHandler, ServerThread, free_port

FLASK = str(Path(sys.executable).with_name("flask"))
STRONG_KEY = "9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0"
FULL_SCOPE = "openid AdobeID profile email offline_access read_organizations"
#: Credentials in the shape of real ones, for checks against Adobe's URLs
#: that make no network call (no --online).
REAL_LOOKING = {
    "ADOBE_OAUTH_CLIENT_ID": "3c9a2f7e1b5d4a6c8e0f2b4d6a8c0e1f",
    "ADOBE_OAUTH_CLIENT_SECRET": "p8e-Zq3Lr7Tn1Vx5Bz9Dc2Fg6Hj0Km4Pw8",
}


def make_app(config: dict[str, Any], *blueprints: dict[str, Any]) -> Flask:
    app = Flask("checked_app")
    app.config.update(SECRET_KEY=STRONG_KEY, SESSION_COOKIE_SAMESITE="Lax", ADOBE_OAUTH_SCOPE=FULL_SCOPE)
    app.config.update(config)
    for options in blueprints or ({},):
        prefix = "/" + str(options.get("name", "adobe"))
        app.register_blueprint(make_adobe_blueprint(**options), url_prefix=prefix)
    return app


def check(app_or_factory: Flask | Callable[[], Flask] | ScriptInfo, *args: str) -> Result:
    if isinstance(app_or_factory, ScriptInfo):
        info = app_or_factory
    elif isinstance(app_or_factory, Flask):
        info = ScriptInfo(create_app=lambda: app_or_factory)
    else:
        info = ScriptInfo(create_app=app_or_factory)
    return CliRunner().invoke(adobe_cli, ["check", *args], obj=info)


def rows_of(result: Result) -> dict[str, list[dict[str, str]]]:
    """The rows of ``check --json`` by name."""
    document = json.loads(result.stdout)
    assert document["ok"] is (result.exit_code == 0)
    rows: dict[str, list[dict[str, str]]] = {}
    for row in document["checks"]:
        assert set(row) == {"name", "level", "message"}
        rows.setdefault(row["name"], []).append(row)
    return rows


def levels(rows: dict[str, list[dict[str, str]]], name: str) -> list[str]:
    return [row["level"] for row in rows[name]]


def no_secret_in(output: str) -> None:
    assert "Traceback" not in output
    for secret in (STRONG_KEY, REAL_LOOKING["ADOBE_OAUTH_CLIENT_SECRET"], StandInAdobe().client_secret):
        assert secret not in output


@pytest.fixture
def clean_imports() -> Iterator[None]:
    """Flask's app loader puts the module's folder on sys.path and imports it; undo both."""
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def subprocess_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLASK_", "ADOBE_OAUTH_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def flask(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real ``flask`` command of this environment."""
    return subprocess.run(
        [FLASK, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=subprocess_env(), check=False
    )


def write_module(folder: Path, name: str, body: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(
        "from flask import Flask\nfrom flask_adobe_oauth import make_adobe_blueprint\n\n"
        + textwrap.dedent(body)
    )
    return path


# -- check, in-process ---------------------------------------------------------------


def test_good_configuration_passes(adobe_standin: StandInAdobe) -> None:
    result = check(make_app(adobe_standin.config()), "--json")
    assert result.exit_code == 0, result.output
    rows = rows_of(result)
    assert {row["level"] for group in rows.values() for row in group} <= {"ok", "warn"}
    assert levels(rows, "redirect URI") == ["ok"]
    assert levels(rows, "scope") == ["ok"]
    assert levels(rows, "cookie budget") == ["ok"]
    # Handed over as an object, the app cannot be loaded again in a second process.
    assert levels(rows, "SECRET_KEY per process") == ["warn"]
    no_secret_in(result.output)


def test_table_output_is_aligned_with_a_summary(adobe_standin: StandInAdobe) -> None:
    result = check(make_app(adobe_standin.config()))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["level", "check", "message"]
    message_column = lines[0].index("message")
    assert all(line[message_column - 2 : message_column] == "  " for line in lines[1:-1])
    assert lines[-1].startswith("passed (0 fail, ")


def test_placeholder_credential_fails_at_load_naming_the_key() -> None:
    def factory() -> Flask:
        return make_app({**REAL_LOOKING, "ADOBE_OAUTH_CLIENT_SECRET": "your-client-secret"})

    result = check(factory)
    assert result.exit_code == 1
    assert "ADOBE_OAUTH_CLIENT_SECRET" in result.output
    assert "registering the Adobe blueprint" in result.output
    assert "your-client-secret" not in result.output  # even a placeholder is not echoed
    no_secret_in(result.output)


def test_any_exception_while_loading_is_a_fail_row_not_a_traceback() -> None:
    def factory() -> Flask:
        raise RuntimeError("cannot reach redis://admin:hunter2@cache.internal:6379/0")

    result = check(factory, "--json")
    assert result.exit_code == 1
    (row,) = rows_of(result)["app"]
    assert row["level"] == "fail"
    assert row["message"].startswith("RuntimeError: cannot reach redis://***@cache.internal")
    assert "hunter2" not in result.output
    assert "Traceback" not in result.output


def test_app_without_an_adobe_blueprint_fails() -> None:
    app = Flask("plain")
    app.secret_key = STRONG_KEY
    result = check(app)
    assert result.exit_code == 1
    assert "registers no Adobe blueprint" in result.output


@pytest.mark.parametrize(
    ("redirect_uri", "level"),
    [("http://localhost:5000/adobe/callback", "fail"), ("https://app.example.com/adobe/callback", "ok")],
)
def test_http_redirect_uri_with_real_adobe_fails(redirect_uri: str, level: str) -> None:
    app = make_app({**REAL_LOOKING, "ADOBE_OAUTH_REDIRECT_URI": redirect_uri, "SESSION_COOKIE_SECURE": True})
    result = check(app, "--json")
    rows = rows_of(result)
    assert levels(rows, "redirect URI") == [level]
    assert rows["redirect URI"][0]["message"].startswith(redirect_uri)
    assert result.exit_code == (1 if level == "fail" else 0)


def test_derived_redirect_uri_with_real_adobe_warns_and_says_where_it_comes_from() -> None:
    rows = rows_of(check(make_app(REAL_LOOKING), "--json"))
    (row,) = rows["redirect URI"]
    assert row["level"] == "warn"
    assert "http://localhost/adobe/callback (built from the request host" in row["message"]
    assert levels(rows, "SESSION_COOKIE_SECURE") == ["warn"]


def test_redirect_uri_on_the_stand_in_is_fine_over_http(adobe_standin: StandInAdobe) -> None:
    config = {**adobe_standin.config(), "ADOBE_OAUTH_REDIRECT_URI": "http://localhost:5000/adobe/callback"}
    rows = rows_of(check(make_app(config), "--json"))
    assert levels(rows, "redirect URI") == ["ok"]
    assert levels(rows, "redirect URI route") == ["ok"]
    assert levels(rows, "SESSION_COOKIE_SECURE") == ["ok"]


@pytest.mark.parametrize(
    ("path", "reached"),
    [
        ("/adobe/callbak", "is no page of this app (404)"),  # a typo
        ("/adobe/callback/", "is no page of this app (404)"),  # Flask's route has no trailing slash
        ("/adobe/login", "routes to adobe.login"),
        ("/callback", "is no page of this app (404)"),  # the blueprint's url_prefix forgotten
    ],
)
def test_redirect_uri_that_misses_the_callback_fails_naming_the_right_path(
    adobe_standin: StandInAdobe, path: str, reached: str
) -> None:
    """Issue #26: a redirect URI the app does not route to its callback passed
    ("the provider is local, so http is fine"), and every sign-in then ended on
    a 404. The path is matched against the app's own url_map."""
    uri = f"http://localhost:5000{path}"
    result = check(make_app({**adobe_standin.config(), "ADOBE_OAUTH_REDIRECT_URI": uri}), "--json")
    assert result.exit_code == 1
    rows = rows_of(result)
    assert levels(rows, "redirect URI") == ["ok"]  # http is fine with a local provider...
    (row,) = rows["redirect URI route"]  # ...but not this path
    assert row["level"] == "fail"
    assert row["message"] == (
        f"ADOBE_OAUTH_REDIRECT_URI is {uri}, but its path {path} {reached}: Adobe sends every sign-in "
        "back there. This app's callback (adobe.callback) is at /adobe/callback; set "
        "ADOBE_OAUTH_REDIRECT_URI = http://localhost:5000/adobe/callback"
    )


def test_the_failing_redirect_path_is_really_a_dead_end(adobe_standin: StandInAdobe) -> None:
    """What the fail row predicts: the stand-in sends the browser back to the
    configured URI, and this app answers 404 there; the right path signs in."""
    for path, status in (("/adobe/callbak", 404), ("/adobe/callback", 302)):
        app = make_app({**adobe_standin.config(), "ADOBE_OAUTH_REDIRECT_URI": f"http://localhost{path}"})
        client = app.test_client()
        to_adobe = client.get("/adobe/login")
        back = requests.get(to_adobe.headers["Location"], allow_redirects=False, timeout=10)
        assert back.headers["Location"].startswith(f"http://localhost{path}?code=")
        assert client.get(back.headers["Location"].removeprefix("http://localhost")).status_code == status
        level = "fail" if status == 404 else "ok"
        assert levels(rows_of(check(app, "--json")), "redirect URI route") == [level]


def test_redirect_uri_of_another_blueprint_fails_with_the_blueprint_named(
    adobe_standin: StandInAdobe,
) -> None:
    wrong = {"name": "adobe_eu", "redirect_uri": "https://app.example.com/adobe/callback"}
    result = check(make_app(adobe_standin.config(), {}, wrong), "--json", "--blueprint", "adobe_eu")
    assert result.exit_code == 1
    (row,) = rows_of(result)["redirect URI route"]
    assert "its path /adobe/callback routes to adobe.callback" in row["message"]
    assert row["message"].endswith(
        "This app's callback (adobe_eu.callback) is at /adobe_eu/callback; set "
        "ADOBE_OAUTH_REDIRECT_URI = https://app.example.com/adobe_eu/callback"
    )


@pytest.mark.parametrize(
    ("root", "path", "level", "says"),
    [
        ("/myapp", "/myapp/adobe/callback", "ok", "/myapp/adobe/callback is this app's adobe.callback"),
        ("/myapp/", "/adobe/callback", "fail", "is outside APPLICATION_ROOT '/myapp'"),
        ("/myapp", "/myapp/adobe/callbak", "fail", "callback (adobe.callback) is at /myapp/adobe/callback;"),
        ("/", "/adobe/callback", "ok", "/adobe/callback is this app's adobe.callback"),
        # Mounted by the server (SCRIPT_NAME) without telling Flask: cannot be known, so said.
        ("/", "/myapp/adobe/callback", "warn", "only if the app is mounted at /myapp (SCRIPT_NAME)"),
    ],
)
def test_redirect_uri_route_honours_application_root(
    adobe_standin: StandInAdobe, root: str, path: str, level: str, says: str
) -> None:
    config = {
        **adobe_standin.config(),
        "APPLICATION_ROOT": root,
        "ADOBE_OAUTH_REDIRECT_URI": f"http://localhost:5000{path}",
    }
    (row,) = rows_of(check(make_app(config), "--json"))["redirect URI route"]
    assert row["level"] == level, row
    assert says in row["message"]


def test_a_derived_redirect_uri_needs_no_route_check(adobe_standin: StandInAdobe) -> None:
    rows = rows_of(check(make_app(adobe_standin.config()), "--json"))
    assert "redirect URI route" not in rows  # built by url_for, it is the callback's


def test_secure_cookie_with_an_http_redirect_uri_fails_saying_why(adobe_standin: StandInAdobe) -> None:
    """Issue #26: SESSION_COOKIE_SECURE = True while the app is on http (local
    development) loses every sign-in, and the callback page only says it
    couldn't find one; the check passed it as "goes over https only"."""
    uri = "http://localhost:5000/adobe/callback"
    config = {**adobe_standin.config(), "ADOBE_OAUTH_REDIRECT_URI": uri, "SESSION_COOKIE_SECURE": True}
    result = check(make_app(config), "--json")
    assert result.exit_code == 1
    (row,) = rows_of(result)["SESSION_COOKIE_SECURE"]
    assert row == {
        "name": "SESSION_COOKIE_SECURE",
        "level": "fail",
        "message": f"True, but the sign-in comes back to {uri}: the browser does not send a Secure cookie "
        "over http, so the sign-in in progress is lost and the callback says it couldn't find your "
        "sign-in; set SESSION_COOKIE_SECURE = False for local http, or serve the app over https",
    }


@pytest.mark.parametrize(("secure", "level"), [(True, "fail"), (False, "ok")])
def test_the_secure_cookie_row_says_what_a_real_sign_in_over_http_does(
    adobe_standin: StandInAdobe, secure: bool, level: str
) -> None:
    """Over real HTTP, with a client that keeps cookies as RFC 6265 §5.4 says
    (a Secure cookie only over a secure channel): with Secure the sign-in is
    lost at the callback ("We couldn’t find your sign-in"), without it it
    completes, and the check's row says so beforehand."""
    server = ServerThread(Flask("not_yet"), request_handler=QuietRequestHandler)  # its URL, then the app
    config = {"ADOBE_OAUTH_REDIRECT_URI": f"{server.url}/adobe/callback", "SESSION_COOKIE_SECURE": secure}
    server.app = app = make_app({**adobe_standin.config(), **config})

    @app.get("/")
    def home() -> str:
        return "home"

    with server:
        assert levels(rows_of(check(app, "--json")), "SESSION_COOKIE_SECURE") == [level]
        with requests.Session() as browser:
            browser.trust_env = False
            page = browser.get(f"{server.url}/adobe/login", headers={"Accept": "text/html"}, timeout=10)
    if secure:
        assert page.status_code == 403
        assert "We couldn’t find your sign-in" in page.text
    else:
        assert page.status_code == 200
        assert page.text == "home"
        assert [r.url.split("?")[0] for r in page.history][-1] == f"{server.url}/adobe/callback"


def test_secure_cookie_with_a_local_provider_and_a_derived_redirect_uri_warns(
    adobe_standin: StandInAdobe,
) -> None:
    # The URL is built per request: whether the app is served over http is not known here.
    config = {**adobe_standin.config(), "SESSION_COOKIE_SECURE": True}
    result = check(make_app(config), "--json")
    assert result.exit_code == 0
    (row,) = rows_of(result)["SESSION_COOKIE_SECURE"]
    assert row["level"] == "warn"
    assert row["message"].startswith(
        "True, while the sign-in goes to a local server and comes back to a URL built from the request "
        "(http://localhost/adobe/callback here): if you serve the app over plain http (flask run), the "
        "browser does not send a Secure cookie over http"
    )
    # served over https (a PREFERRED_URL_SCHEME, a configured https URI), it is what Secure is for
    for extra in (
        {"PREFERRED_URL_SCHEME": "https"},
        {"ADOBE_OAUTH_REDIRECT_URI": "https://localhost:5443/adobe/callback"},
    ):
        rows = rows_of(check(make_app({**config, **extra}), "--json"))
        assert levels(rows, "SESSION_COOKIE_SECURE") == ["ok"], extra


@pytest.mark.parametrize(
    ("config", "level", "message"),
    [
        (REAL_LOOKING, "ok", "sign-in goes to https://ims-na1.adobelogin.com (Adobe)"),
        (
            {**REAL_LOOKING, "ADOBE_OAUTH_PROVIDER": "legacy"},
            "ok",
            "sign-in goes to https://marketing.adobe.com (Adobe)",
        ),
        (
            {**REAL_LOOKING, "ADOBE_OAUTH_AUTHORIZE_URL": "https://sso.example.com/authorize"},
            "ok",
            "sign-in goes to https://sso.example.com, which is not an Adobe host",
        ),
        (
            {**REAL_LOOKING, "ADOBE_OAUTH_CLIENT_ID": "standin-client"},
            "fail",
            "sign-in goes to https://ims-na1.adobelogin.com with the stand-in's ADOBE_OAUTH_CLIENT_ID "
            "(standin-client): the app read the id and secret `flask adobe standin` printed, but not its "
            "URLs; make it read every ADOBE_OAUTH_* variable, e.g. app.config.update({k: v for k, v in "
            'os.environ.items() if k.startswith("ADOBE_OAUTH_")})',
        ),
        (
            {**REAL_LOOKING, "ADOBE_OAUTH_AUTHORIZE_URL": "http://127.0.0.1:8765/ims/authorize/v2"},
            "fail",
            "sign-in goes to http://127.0.0.1:8765, but its code is exchanged at "
            "https://ims-na1.adobelogin.com: a code is good only at the server that issued it; set every "
            "ADOBE_OAUTH_*_URL from the same place (all of `flask adobe standin`'s lines, or none for Adobe)",
        ),
    ],
)
def test_check_says_where_the_sign_in_goes(config: dict[str, str], level: str, message: str) -> None:
    """Issue #26: nothing said whether the app signs in at Adobe or at the
    stand-in, so an app that read only some of the stand-in's settings went to
    Adobe unnoticed. (No --online: no call leaves this machine.)"""
    result = check(make_app(config), "--json")
    assert rows_of(result)["sign-in server"] == [
        {"name": "sign-in server", "level": level, "message": message}
    ]
    assert result.exit_code == (1 if level == "fail" else 0)


def test_check_names_the_stand_in_as_such(adobe_standin: StandInAdobe) -> None:
    (row,) = rows_of(check(make_app(adobe_standin.config()), "--json"))["sign-in server"]
    assert row["level"] == "ok"
    assert row["message"] == f"sign-in goes to a stand-in / local server at {adobe_standin.url}, not Adobe"


def test_the_stand_in_client_id_is_the_one_check_knows() -> None:
    from flask_adobe_oauth.cli import STANDIN_CLIENT_ID

    assert StandInAdobe().client_id == STANDIN_CLIENT_ID


def test_scope_without_offline_access_warns(adobe_standin: StandInAdobe) -> None:
    app = make_app({**adobe_standin.config(), "ADOBE_OAUTH_SCOPE": "openid AdobeID profile email"})
    result = check(app, "--json")
    assert result.exit_code == 0  # a warning does not fail the check
    (row,) = rows_of(result)["scope"]
    assert row["level"] == "warn"
    assert "offline_access" in row["message"]
    assert "24 h" in row["message"]


def test_scope_without_openid_profile_email_warns_each(adobe_standin: StandInAdobe) -> None:
    app = make_app({**adobe_standin.config(), "ADOBE_OAUTH_SCOPE": "AdobeID offline_access"})
    messages = [row["message"] for row in rows_of(check(app, "--json"))["scope"]]
    assert len(messages) == 2
    assert messages[0].startswith("no profile or email")
    assert messages[1].startswith("no openid")


def test_legacy_preset_warns_that_it_is_retired(adobe_standin: StandInAdobe) -> None:
    rows = rows_of(check(make_app(adobe_standin.config("legacy")), "--json"))
    assert levels(rows, "provider") == ["warn"]
    assert "retired" in rows["provider"][0]["message"]
    assert "scope" not in rows  # the IMS scope advice does not apply


@pytest.mark.parametrize(("samesite", "level"), [(None, "warn"), ("Lax", "ok"), ("None", "warn")])
def test_samesite(adobe_standin: StandInAdobe, samesite: str | None, level: str) -> None:
    app = make_app({**adobe_standin.config(), "SESSION_COOKIE_SAMESITE": samesite})
    assert levels(rows_of(check(app, "--json")), "SESSION_COOKIE_SAMESITE") == [level]


@pytest.mark.parametrize(
    ("key", "level"), [("hard to guess string", "fail"), ("short-but-random-7f3a", "warn")]
)
def test_weak_secret_key(adobe_standin: StandInAdobe, key: str, level: str) -> None:
    app = make_app({**adobe_standin.config(), "SECRET_KEY": key})
    result = check(app, "--json")
    (row,) = rows_of(result)["SECRET_KEY"]
    assert row["level"] == level
    assert key not in result.output


def test_cookie_budget_fails_when_two_tokens_share_the_session_cookie(adobe_standin: StandInAdobe) -> None:
    # A user signed in through both blueprints carries both IMS tokens in one cookie.
    app = make_app(adobe_standin.config(), {}, {"name": "adobe_eu"})
    result = check(app, "--json")
    assert result.exit_code == 1
    (row,) = rows_of(result)["cookie budget"]
    assert row["level"] == "fail"
    assert "RedisStorage" in row["message"]
    size = int(row["message"].split("~")[1].split(" ")[0].replace(",", ""))
    assert size > 4000
    # One of them alone fits.
    alone = rows_of(check(app, "--json", "--blueprint", "adobe_eu"))
    assert levels(alone, "cookie budget") == ["ok"]
    assert levels(alone, "redirect URI") == ["ok"]  # no "adobe_eu: " prefix with one blueprint


def test_cookie_budget_respects_the_storage_limit_and_its_fallback(adobe_standin: StandInAdobe) -> None:
    tight = make_app(adobe_standin.config(), {"storage": SessionStorage(max_cookie_size=2500)})
    assert levels(rows_of(check(tight, "--json")), "cookie budget") == ["fail"]
    fallback = SessionStorage(max_cookie_size=2500, fallback=CacheStorage(SimpleCache()))
    spare = make_app(adobe_standin.config(), {"storage": fallback})
    assert levels(rows_of(check(spare, "--json")), "cookie budget") == ["ok"]


def test_cookie_budget_keeps_room_for_the_next_login(adobe_standin: StandInAdobe) -> None:
    """A token that fits the budget but not with a pending login beside it is
    refused at sign-in, so the check must not call it fine."""
    roomy = make_app(adobe_standin.config(), {"storage": SessionStorage(max_cookie_size=9000)})
    (row,) = rows_of(check(roomy, "--json"))["cookie budget"]
    size = int(row["message"].split("~")[1].split(" ")[0].replace(",", ""))
    just = make_app(
        adobe_standin.config(), {"storage": SessionStorage(max_cookie_size=size + LOGIN_ROOM // 2)}
    )
    assert levels(rows_of(check(just, "--json")), "cookie budget") == ["fail"]


def test_unknown_blueprint_name_fails(adobe_standin: StandInAdobe) -> None:
    result = check(make_app(adobe_standin.config()), "--blueprint", "nope")
    assert result.exit_code == 1
    assert "no Adobe blueprint named 'nope'; there are: adobe" in result.output


def test_json_is_the_only_thing_on_stdout_even_if_the_app_prints(adobe_standin: StandInAdobe) -> None:
    def factory() -> Flask:
        print("connecting to the database...")
        return make_app(adobe_standin.config())

    result = check(factory, "--json")
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert "connecting to the database..." in result.stderr


def test_online_against_the_stand_in(
    adobe_standin: StandInAdobe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests would add these as Basic credentials unless told not to read ~/.netrc.
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login standin-client password netrc-password\n")
    monkeypatch.setenv("NETRC", str(netrc))
    result = check(make_app(adobe_standin.config()), "--json", "--online")
    assert result.exit_code == 0, result.output
    rows = rows_of(result)
    for name, path in (
        ("authorize", "/ims/authorize/v2"),
        ("credentials", "/ims/token/v3"),
        ("jwks", "/ims/keys"),
    ):
        (row,) = rows[f"online: {name}"]
        assert row["level"] == "ok", row
        assert f"{adobe_standin.url}{path}: HTTP " in row["message"]
        assert row["message"].split(" in ")[1].split(" ms")[0].isdigit()
    assert "1 key(s)" in rows["online: jwks"][0]["message"]
    assert adobe_standin.jwks_calls() == 1
    no_secret_in(result.output)


def test_online_tries_the_client_secret_with_a_made_up_code(adobe_standin: StandInAdobe) -> None:
    """Issue #26: --online called the token endpoint's 401 for an empty POST
    "ok", so a mistyped secret passed. It now sends the credentials as the app
    does, with a code no server issued: right ones get invalid_grant (RFC 6749
    §5.2), and no token comes of it."""
    result = check(make_app(adobe_standin.config()), "--json", "--online")
    assert result.exit_code == 0, result.output
    (row,) = rows_of(result)["online: credentials"]
    assert row["level"] == "ok"
    assert row["message"].startswith(f"POST {adobe_standin.url}/ims/token/v3: HTTP 400 invalid_grant in ")
    assert row["message"].endswith(
        " ms: client id and secret accepted (a made-up code, sent to test them, was refused)"
    )
    (call,) = adobe_standin.token_calls()
    assert call.client_auth == "client_secret_basic"  # the app's client_auth, and its secret...
    assert call.status == 400
    assert call.form == {  # ...with a code no one issued, and nothing else
        "grant_type": "authorization_code",
        "code": "flask-adobe-check-not-a-real-code",
        "redirect_uri": "http://localhost/adobe/callback",
    }
    no_secret_in(result.output)


WRONG_SECRET = "Zq3Lr7Tn1Vx5-a-typo-in-the-secret"


@pytest.mark.parametrize(
    ("change", "client_auth"),
    [
        ({"ADOBE_OAUTH_CLIENT_SECRET": WRONG_SECRET}, "client_secret_basic"),
        (
            {"ADOBE_OAUTH_CLIENT_SECRET": WRONG_SECRET, "ADOBE_OAUTH_CLIENT_AUTH": "client_secret_post"},
            "client_secret_post",
        ),
        ({"ADOBE_OAUTH_CLIENT_ID": "standin-client2"}, "client_secret_basic"),
    ],
)
def test_online_fails_wrong_credentials_naming_the_keys_never_the_secret(
    adobe_standin: StandInAdobe, change: dict[str, str], client_auth: str
) -> None:
    result = check(make_app({**adobe_standin.config(), **change}), "--json", "--online")
    assert result.exit_code == 1
    rows = rows_of(result)
    assert levels(rows, "credentials") == ["ok"]  # set, not a placeholder: only Adobe can tell
    (row,) = rows["online: credentials"]
    assert row["level"] == "fail"
    assert row["message"].startswith(f"POST {adobe_standin.url}/ims/token/v3: HTTP 401 invalid_client in ")
    assert row["message"].endswith(
        " ms: the token endpoint refuses ADOBE_OAUTH_CLIENT_ID / ADOBE_OAUTH_CLIENT_SECRET (a typo, a "
        "stray space, a secret that was regenerated, or another credential's id); copy both again from "
        "the output of `flask adobe standin`"
    )
    (call,) = adobe_standin.token_calls()
    assert call.client_auth == client_auth
    assert call.status == 401
    no_secret_in(result.output)
    assert WRONG_SECRET not in result.output
    assert "Zq3Lr7" not in result.output


def test_online_credentials_row_in_the_table(adobe_standin: StandInAdobe) -> None:
    config = {**adobe_standin.config(), "ADOBE_OAUTH_CLIENT_SECRET": WRONG_SECRET}
    result = check(make_app(config), "--online")
    assert result.exit_code == 1
    (line,) = [line for line in result.stdout.splitlines() if "online: credentials" in line]
    assert line.split()[:3] == ["fail", "online:", "credentials"]
    assert "ADOBE_OAUTH_CLIENT_ID / ADOBE_OAUTH_CLIENT_SECRET" in line
    assert result.stdout.splitlines()[-1].startswith("FAILED (1 fail")
    no_secret_in(result.output)
    assert WRONG_SECRET not in result.output


def test_online_against_a_closed_port_fails_naming_the_url(adobe_standin: StandInAdobe) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    config = {
        **adobe_standin.config(),
        "ADOBE_OAUTH_AUTHORIZE_URL": f"{closed}/ims/authorize/v2?client_id=x",
        "ADOBE_OAUTH_TOKEN_URL": f"{closed}/ims/token/v3",
        "ADOBE_OAUTH_JWKS_URL": f"{closed}/ims/keys",
    }
    result = check(make_app(config), "--json", "--online", "--timeout", "2")
    assert result.exit_code == 1
    rows = rows_of(result)
    (authorize,) = rows["online: authorize"]
    assert authorize["level"] == "fail"
    assert f"GET {closed}/ims/authorize/v2: unreachable (connection refused)" in authorize["message"]
    assert "client_id" not in authorize["message"]  # never the query
    (token,) = rows["online: credentials"]
    assert token["level"] == "fail"
    assert f"POST {closed}/ims/token/v3: could not connect to {closed}/ims/token/v3" in token["message"]
    assert levels(rows, "online: jwks") == ["fail"]


def test_random_secret_key_per_process_is_detected(tmp_path: Path, clean_imports: None) -> None:
    for name, key, level in (
        ("random_key_app", "secrets.token_hex()", "fail"),
        ("fixed_key_app", repr(STRONG_KEY), "ok"),
    ):
        path = write_module(
            tmp_path,
            name,
            f"""
            import secrets

            def create_app():
                app = Flask(__name__)
                app.config.update(SECRET_KEY={key}, ADOBE_OAUTH_CLIENT_ID="{REAL_LOOKING["ADOBE_OAUTH_CLIENT_ID"]}",
                                  ADOBE_OAUTH_CLIENT_SECRET="{REAL_LOOKING["ADOBE_OAUTH_CLIENT_SECRET"]}")
                app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")
                return app
            """,
        )
        result = check(ScriptInfo(app_import_path=f"{path}:create_app"), "--json")
        (row,) = rows_of(result)["SECRET_KEY per process"]
        assert row["level"] == level, row
        assert ("random per process" in row["message"]) is (level == "fail")
        no_secret_in(result.output)


# -- check, as a real command ------------------------------------------------------------


def test_flask_adobe_check_subprocess(tmp_path: Path, adobe_standin: StandInAdobe) -> None:
    good = write_module(
        tmp_path,
        "good_app",
        f"""
        app = Flask(__name__)
        app.config.update({{**{adobe_standin.config()!r}, "SECRET_KEY": {STRONG_KEY!r},
                           "SESSION_COOKIE_SAMESITE": "Lax", "ADOBE_OAUTH_SCOPE": {FULL_SCOPE!r}}})
        app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")
        """,
    )
    bad = write_module(
        tmp_path,
        "bad_app",
        f"""
        app = Flask(__name__)
        app.config.update(SECRET_KEY={STRONG_KEY!r}, ADOBE_OAUTH_CLIENT_ID="changeme",
                          ADOBE_OAUTH_CLIENT_SECRET="changeme")
        app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")
        """,
    )
    done = flask(tmp_path, "--app", good.stem, "adobe", "check", "--online")
    assert done.returncode == 0, done.stdout + done.stderr
    # Loaded by import path, the app is loaded again in a second process to compare keys.
    assert any(
        line.split()[:4] == ["ok", "SECRET_KEY", "per", "process"] for line in done.stdout.splitlines()
    )
    assert "online: jwks" in done.stdout
    assert done.stdout.splitlines()[-1].startswith("passed (0 fail")
    no_secret_in(done.stdout + done.stderr)

    done = flask(tmp_path, "--app", bad.stem, "adobe", "check")
    assert done.returncode == 1
    assert "ADOBE_OAUTH_CLIENT_ID" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


# -- standin -----------------------------------------------------------------------------


class RunningStandin:
    """``flask adobe standin`` in a subprocess, and what it printed until its last export line."""

    def __init__(self, cwd: Path, port: int) -> None:
        self.port = port
        self.proc = subprocess.Popen(
            [FLASK, "adobe", "standin", "--port", str(port)],
            cwd=cwd,  # no app.py, no FLASK_APP: the command needs no app
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        #: The lines printed, up to the ISSUER export line.
        self.head: list[str] = []
        deadline = time.monotonic() + 20
        while not self.head or not self.head[-1].startswith("export ADOBE_OAUTH_ISSUER="):
            self.head.append(self.lines.get(timeout=max(0.1, deadline - time.monotonic())).rstrip("\n"))

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)

    @property
    def exports(self) -> dict[str, str]:
        pairs = (line[len("export ") :].partition("=") for line in self.head if line.startswith("export "))
        return {key: value for key, _, value in pairs}

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def running_standin(tmp_path: Path) -> Iterator[RunningStandin]:
    standin = RunningStandin(tmp_path, free_port())
    try:
        yield standin
    finally:
        standin.close()


def test_standin_subprocess_serves_until_terminated(running_standin: RunningStandin) -> None:
    port, proc = running_standin.port, running_standin.proc
    first, *rest = running_standin.head
    assert first.startswith("# Stand-in Adobe")
    assert f"http://127.0.0.1:{port}" in first
    assert "Ada Analyst" in first
    assert all(line.startswith(("# ", "export ADOBE_OAUTH_")) for line in rest)
    exports = running_standin.exports
    # Both of IMS's issuer names, space-separated (the option reads it back as a list).
    assert shlex.split(exports["ADOBE_OAUTH_ISSUER"]) == [
        f"http://127.0.0.1:{port} http://127.0.0.1:{port}/ims"
    ]
    assert exports["ADOBE_OAUTH_CLIENT_ID"] == "standin-client"
    response = requests.get(exports["ADOBE_OAUTH_JWKS_URL"], timeout=5)
    assert response.status_code == 200
    assert response.json()["keys"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    running_standin.reader.join(timeout=5)
    assert running_standin.lines.get(timeout=1).startswith("# stand-in stopped")
    assert proc.stderr is not None
    assert "Traceback" not in proc.stderr.read()


def test_standin_says_which_lines_to_paste_and_how_the_app_reads_them(
    running_standin: RunningStandin, tmp_path: Path
) -> None:
    """Issue #26: the stand-in printed 11 export lines, the Quickstart read
    three of them, and the sign-in went to Adobe with the stand-in's client
    id. The printed instructions say which lines to paste and give the line
    that reads them all; pasted into a shell as they are, with an app using
    that line, ``check --online`` passes against the stand-in, and ``check``
    fails an app that reads only the id and secret, saying so."""
    comments = [line for line in running_standin.head[1:] if line.startswith("#")]
    exports = [line for line in running_standin.head if line.startswith("export ")]
    assert len(exports) == len(running_standin.exports) == 12
    assert comments[0] == (
        "# Paste all 12 export lines below into the shell that runs your app: the URLs matter as much "
        "as the id and secret."
    )
    assert "The app must read every ADOBE_OAUTH_* variable" in comments[1]
    (code,) = [line[1:].strip() for line in comments if line.startswith("#     ")]
    assert "flask --app app adobe check` shows where the sign-in goes" in comments[-1]

    def app_module(name: str, reads: str) -> str:
        write_module(
            tmp_path,
            name,
            f"""
            import os

            def create_app():
                app = Flask(__name__)
                app.config.update(SECRET_KEY={STRONG_KEY!r}, SESSION_COOKIE_SAMESITE="Lax",
                                  ADOBE_OAUTH_SCOPE={FULL_SCOPE!r})
                {reads}
                app.register_blueprint(make_adobe_blueprint(), url_prefix="/adobe")
                return app
            """,
        )
        return name

    def pasted_then(*check_args: str) -> tuple[int, dict[str, list[dict[str, str]]]]:
        """The export lines pasted into a shell, then ``flask ... adobe check``."""
        command = " ".join(shlex.quote(arg) for arg in (FLASK, *check_args, "--json"))
        script = "\n".join([*exports, command])
        done = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=subprocess_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        no_secret_in(done.stdout + done.stderr)
        rows = {}
        for row in json.loads(done.stdout)["checks"]:
            rows.setdefault(row["name"], []).append(row)
        return done.returncode, rows

    reads_all = app_module("reads_all", code)
    status, rows = pasted_then("--app", reads_all, "adobe", "check", "--online")
    assert status == 0, rows
    (server,) = rows["sign-in server"]
    assert server == {
        "name": "sign-in server",
        "level": "ok",
        "message": f"sign-in goes to a stand-in / local server at http://127.0.0.1:{running_standin.port}, not Adobe",
    }
    assert levels(rows, "online: credentials") == ["ok"]

    # As the Quickstart did: only the id and secret. No --online: that would call Adobe.
    reads_two = app_module(
        "reads_two",
        'app.config.update(ADOBE_OAUTH_CLIENT_ID=os.environ["ADOBE_OAUTH_CLIENT_ID"], '
        'ADOBE_OAUTH_CLIENT_SECRET=os.environ["ADOBE_OAUTH_CLIENT_SECRET"])',
    )
    status, rows = pasted_then("--app", reads_two, "adobe", "check")
    assert status == 1
    (server,) = rows["sign-in server"]
    assert server["level"] == "fail"
    assert server["message"] == (
        "sign-in goes to https://ims-na1.adobelogin.com with the stand-in's ADOBE_OAUTH_CLIENT_ID "
        "(standin-client): the app read the id and secret `flask adobe standin` printed, but not its "
        f"URLs; make it read every ADOBE_OAUTH_* variable, e.g. {code}"
    )


def test_standin_refuses_a_non_loopback_host() -> None:
    result = CliRunner().invoke(adobe_cli, ["standin", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "'0.0.0.0' is not a loopback address" in result.output
    assert "Traceback" not in result.output


def test_standin_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(adobe_cli, ["standin", "--port", str(port)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: port {port} on 127.0.0.1 is in use (Address already in use); stop what runs there or "
        "pick another --port (0 = any free port)"
    )


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:p@ssw0rd@cache:6379/0", "redis://***@cache:6379/0"),  # an @ in the password
        ("redis://admin:h@@nter2@cache", "redis://***@cache"),
        ("postgresql+psycopg://app:s3cr@t@db.internal/tokens", "postgresql+psycopg://***@db.internal/tokens"),
        ("rediss://cache.internal:6380/1", "rediss://cache.internal:6380/1"),  # nothing to hide
    ],
)
def test_a_url_password_with_an_at_sign_is_hidden_whole(url: str, shown: str) -> None:
    """Issue #27, 6: the pattern stopped at the first ``@``, so ``flask adobe
    check`` printed the tail of such a password; it now uses the same helper as
    every other message (``transport.hide_credentials``), which splits at the
    last ``@`` of the authority, as URL parsers (and redis-py) do."""

    def factory() -> Flask:
        raise RuntimeError(f"cannot reach {url} (and again: {url})")

    result = check(factory, "--json")
    (row,) = rows_of(result)["app"]
    assert row["message"].startswith(f"RuntimeError: cannot reach {shown} (and again: {shown}) ")
    for secret in ("ssw0rd", "nter2", "s3cr", "@t@", "p@"):
        assert secret not in result.output

    from flask_adobe_oauth.transport import hide_credentials, where

    assert hide_credentials(url) == shown
    assert where(url) == where(shown).replace("***@", "")  # the same split


def test_check_says_what_several_workers_share(standin: StandInAdobe) -> None:
    """The rate limit and the tokens: counted and kept per process, or shared,
    and what to set with several workers; a Redis password is never shown."""
    alone = rows_of(check(make_app(standin.config()), "--json"))
    assert "memory://" in alone["several workers: rate limit"][0]["message"]
    assert "ADOBE_OAUTH_API_RATE_STORAGE" in alone["several workers: rate limit"][0]["message"]
    assert "session cookie" in alone["several workers: tokens"][0]["message"]

    shared = make_app(
        {**standin.config(), "ADOBE_OAUTH_API_RATE_STORAGE": "redis://:hunter2-secret@127.0.0.1:6399/0"},
        {"storage": CacheStorage(SimpleCache())},
    )
    result = check(shared, "--json")
    rows = rows_of(result)
    assert rows["several workers: rate limit"][0]["message"].startswith("counted once for every worker")
    assert "CacheStorage" in rows["several workers: tokens"][0]["message"]
    assert "hunter2-secret" not in result.stdout
