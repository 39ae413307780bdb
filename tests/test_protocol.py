"""The protocol core, without Flask: ``check_callback`` as a pure function.

Every hostile callback runs here as a unit test, with no server and no app;
``test_hostile_callback.py`` keeps one or two cases of each kind over HTTP,
for what needs the whole path (the token endpoint never called, nothing
stored, the page shown) and for the query parser's own cases.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from flask_adobe_oauth.errors import AuthorizationDenied, CallbackError, StateError
from flask_adobe_oauth.protocol import MAX_CODE_LENGTH, CallbackCheck, Pending, check_callback

NOW = 1_800_000_000.0
ISS = "https://ims-na1.adobelogin.com"
MINE = Pending("s" * 22, int(NOW) + 600, "/reports")
OTHER_TAB = Pending("t" * 22, int(NOW) + 600, None)
OLD = Pending("o" * 22, int(NOW) - 1, None)
CRLF = "\r\nSet-Cookie: injected=1\r\nX-Injected: 1"  # as helpers.CRLF; this module stays Flask-free
RECORDS = (OTHER_TAB, MINE)


def check(
    params: dict[str, list[str]], records: tuple[Pending, ...] = RECORDS, **kw: object
) -> CallbackCheck:
    return check_callback(params, records, issuers=(ISS, ISS + "/ims"), now=NOW, **kw)  # type: ignore[arg-type]


def test_the_protocol_core_imports_without_flask() -> None:
    """The core modules import with Flask and werkzeug blocked."""
    code = textwrap.dedent(
        """
        import sys
        for name in ("flask", "werkzeug", "jinja2", "markupsafe", "blinker", "itsdangerous"):
            sys.modules[name] = None  # `import flask` raises ImportError
        import flask_adobe_oauth
        from flask_adobe_oauth import ProviderError, Token
        from flask_adobe_oauth.api import AdobeSession
        from flask_adobe_oauth import api, authserver, config, errors, idtoken, protocol, tokens, transport
        from flask_adobe_oauth import analytics
        assert not [m for m in sys.modules if m.split(".")[0] in ("flask", "werkzeug") and sys.modules[m]]
        print("core without flask")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "core without flask" in result.stdout


def test_a_good_callback_names_its_login_and_code_and_consumes_only_its_state() -> None:
    result = check({"state": [MINE.state], "code": ["abc"]})
    assert result.accepted() == (MINE, "abc")
    assert result.remaining == (OTHER_TAB,)


def test_an_issuer_of_either_ims_name_is_accepted() -> None:
    for iss in (ISS, ISS + "/ims"):
        assert check({"state": [MINE.state], "code": ["c"], "iss": [iss]}).error is None


def test_the_implicit_grant_needs_no_code() -> None:
    result = check({"state": [MINE.state]}, expect_code=False)
    assert result.accepted() == (MINE, None)


@pytest.mark.parametrize(
    ("params", "error", "status", "consumed"),
    [
        ({"code": ["c"]}, StateError, 400, False),
        ({"state": [""], "code": ["c"]}, StateError, 400, False),
        ({"state": ["x" * 22], "code": ["c"]}, StateError, 403, False),
        ({"state": [MINE.state, MINE.state], "code": ["c"]}, CallbackError, 400, True),
        ({"state": [MINE.state, "x" * 22], "code": ["c"]}, CallbackError, 400, True),
        ({"state": [MINE.state]}, CallbackError, 400, True),
        ({"state": [MINE.state], "code": [""]}, CallbackError, 400, True),
        ({"state": [MINE.state], "code": ["a", "b"]}, CallbackError, 400, True),
        ({"state": [MINE.state], "code": ["x" * (MAX_CODE_LENGTH + 1)]}, CallbackError, 400, True),
        ({"state": [MINE.state], "code": ["bad\r\ncode"]}, CallbackError, 400, True),
        ({"state": [MINE.state], "code": ["caf\u00e9"]}, CallbackError, 400, True),
        ({"state": [MINE.state], "code": ["c"], "iss": ["https://evil.example"]}, CallbackError, 400, True),
        ({"state": [MINE.state], "code": ["c"], "iss": [ISS, ISS]}, CallbackError, 400, True),
        ({"state": [MINE.state], "code": ["c"], "iss": [ISS + "\r\n"]}, CallbackError, 400, True),
        ({"state": [MINE.state], "error": ["access_denied"]}, AuthorizationDenied, 403, True),
        ({"state": [MINE.state], "code": ["c"], "error": ["login_required"]}, AuthorizationDenied, 400, True),
        ({"state": [MINE.state], "error": ["a", "b"]}, CallbackError, 400, True),
        # The values of the HTTP table in test_hostile_callback.py that need no whole path.
        ({"state": [MINE.state[:-1]], "code": ["c"]}, StateError, 403, False),
        ({"state": [MINE.state + "A"], "code": ["c"]}, StateError, 403, False),
        ({"state": ["A" * 10240], "code": ["c"]}, StateError, 403, False),
        ({"state": ["x", MINE.state], "code": ["c"]}, CallbackError, 400, True),
        ({"state": ["", MINE.state], "code": ["c"]}, CallbackError, 400, True),
        ({"state": [MINE.state], "code": ["c", "c"]}, CallbackError, 400, True),
        ({"state": [MINE.state], "code": ["c" * 10240]}, CallbackError, 400, True),
        ({"state": [MINE.state], "code": ["c\x00"]}, CallbackError, 400, True),
        ({"state": [MINE.state], "error": ["server_error" + CRLF]}, AuthorizationDenied, 400, True),
        (
            {"state": [MINE.state], "error": ["access_denied"], "error_description": ["<" * 10240]},
            AuthorizationDenied,
            403,
            True,
        ),
    ],
    ids=[
        "no-state",
        "empty-state",
        "foreign-state",
        "state-repeated",
        "two-states",
        "no-code",
        "empty-code",
        "code-repeated",
        "code-too-long",
        "code-crlf",
        "code-not-ascii",
        "iss-other",
        "iss-repeated",
        "iss-crlf",
        "error",
        "error-with-code",
        "error-repeated",
        "state-prefix-of-real",
        "state-real-plus-suffix",
        "state-10kb",
        "state-forged-then-real",
        "state-empty-then-real",
        "code-duplicated",
        "code-10kb",
        "code-nul",
        "error-code-crlf",
        "error-description-10kb",
    ],
)
def test_a_refused_callback_says_why_and_consumes_the_state_it_names(
    params: dict[str, list[str]], error: type[Exception], status: int, consumed: bool
) -> None:
    result = check(params)
    assert isinstance(result.error, error)
    assert getattr(result.error, "status_code", None) == status
    with pytest.raises(error):
        result.accepted()
    # A refusal still uses up the state it names (one-time, RFC 6749 §10.12),
    # and never the other tab's pending login.
    assert (MINE not in result.remaining) is consumed
    assert OTHER_TAB in result.remaining


def test_a_repeated_state_consumes_every_login_it_names() -> None:
    result = check({"state": [MINE.state, OTHER_TAB.state], "code": ["c"]})
    assert isinstance(result.error, CallbackError)
    assert result.remaining == ()


def test_an_error_description_is_cut_and_an_odd_error_code_is_not_echoed() -> None:
    result = check({"state": [MINE.state], "error": ["<script>"], "error_description": ["d" * 1000]})
    assert isinstance(result.error, AuthorizationDenied)
    assert result.error.provider_error == "invalid_error"
    assert "<script>" not in str(result.error)
    assert len(result.error.description or "") == 300


def test_an_expired_state_is_refused_and_dropped_with_every_expired_record() -> None:
    result = check({"state": [OLD.state], "code": ["c"]}, records=(OLD, OTHER_TAB))
    assert isinstance(result.error, StateError) and result.error.reason == "expired"
    assert result.remaining == (OTHER_TAB,)


def test_no_pending_login_at_all_explains_the_lost_cookie() -> None:
    result = check({"state": ["x" * 22], "code": ["c"]}, records=())
    assert isinstance(result.error, StateError) and result.error.reason == "not_started"
    assert "SECRET_KEY" in str(result.error)
