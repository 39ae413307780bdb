"""``python -m example_app``: run the demo dashboard on http://127.0.0.1:5000.

Without ``ADOBE_OAUTH_CLIENT_ID`` in the environment it starts a stand-in
Adobe on a free port of 127.0.0.1 and signs in there (no Adobe account
needed). With ``ADOBE_OAUTH_CLIENT_ID`` and ``ADOBE_OAUTH_CLIENT_SECRET``
(and any other ``ADOBE_OAUTH_*`` option) it talks to Adobe.

``--https`` serves it on https://localhost:5000 instead, with a self-signed
certificate kept in the user's cache directory (see :mod:`example_app.tls`):
Adobe takes only https redirect URIs, even for localhost. The stand-in, if
one is started, stays on http://127.0.0.1.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Flask, url_for
from werkzeug.serving import WSGIRequestHandler, run_simple

from flask_adobe_oauth.extension import EXTENSION_KEY, BlueprintRuntime
from flask_adobe_oauth.testing import StandInAdobe

from . import create_app


class PathOnlyLog(WSGIRequestHandler):
    """Logs requests without their query string: a callback's carries the code and state."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?", 1)[0]
        self.log("info", '"%s %s" %s', self.command, path, code)


def demo_config(environ: Mapping[str, str]) -> tuple[dict[str, Any], StandInAdobe | None, list[str]]:
    """The app's config from ``environ``, the stand-in started if one is needed, and what to tell the user."""
    notes: list[str] = []
    config: dict[str, Any] = {
        k: v for k, v in environ.items() if k.startswith(("ADOBE_OAUTH_", "DASHBOARD_"))
    }
    standin = None
    if not environ.get("ADOBE_OAUTH_CLIENT_ID"):
        standin = StandInAdobe(auto_approve=False).start()
        config.update(standin.config())
        config["DEMO_STANDIN_URL"] = standin.url
        # Only the people of the (stand-in's) company's organisation may enter:
        # the company-wide view shows the company's data.
        config.setdefault("ADOBE_OAUTH_ALLOWED_ORGS", standin.state.user.org_id)
        notes.append(
            f"No ADOBE_OAUTH_CLIENT_ID in the environment: started a stand-in Adobe (IMS + Analytics 2.0) "
            f"on {standin.url} and pointed the app at it. Sign in as {standin.state.user.name} "
            f"<{standin.state.user.email}> by clicking Allow; the report data is synthetic."
        )
    else:
        notes.append("Using real Adobe with ADOBE_OAUTH_CLIENT_ID from the environment.")
    if environ.get("SECRET_KEY"):
        config["SECRET_KEY"] = environ["SECRET_KEY"]
    else:
        config["SECRET_KEY"] = secrets.token_urlsafe(32)
        notes.append(
            "No SECRET_KEY in the environment: using a random one, so sessions end when this process stops."
        )
    return config, standin, notes


def redirect_uri(app: Flask, base_url: str) -> str:
    """The redirect URI ``app`` sends to Adobe when the browser reaches it at ``base_url``."""
    states: dict[str, BlueprintRuntime] = app.extensions[EXTENSION_KEY]
    state = next(iter(states.values()))
    with app.test_request_context(base_url=base_url):  # what the blueprint's /login does
        return state.config.redirect_uri or url_for(f"{state.name}.callback", _external=True)


def redirect_uri_pattern(uri: str) -> str:
    """``uri`` as a regular expression for the Developer Console's "Redirect URI pattern":
    ``.`` (and any other character special in a regex) escaped with a backslash."""
    return re.sub(r"([\\.^$*+?{}\[\]|()])", r"\\\1", uri)


def adobe_console_notes(uri: str) -> list[str]:
    """What to register in the Adobe Developer Console for ``uri``, or why it cannot be."""
    if not uri.startswith("https://"):
        return [
            f"This run sends Adobe the redirect URI {uri}, but Adobe takes only https redirect URIs, "
            "even for localhost: run python -m example_app --https."
        ]
    return [
        f"Adobe Developer Console, your project's OAuth Web App credential: set Default redirect URI to "
        f"{uri} and Redirect URI pattern to {redirect_uri_pattern(uri)} (a regular expression, so a . "
        "is written \\.). This app sends Adobe exactly that redirect URI."
    ]


def certificate_notes() -> tuple[tuple[str, str], list[str]]:
    """The certificate and key files for ``--https`` (made if needed), and what to tell the user."""
    from .tls import localhost_certificate  # needs cryptography, which only --https does

    local = localhost_certificate()
    how = "reused" if local.renewed_because is None else f"new, because {local.renewed_because}"
    return (str(local.cert), str(local.key)), [
        f"HTTPS certificate (self-signed for localhost, {how}; valid until "
        f"{local.not_after:%Y-%m-%d}; SHA-256 {local.fingerprint}): {local.cert}",
        "Your browser warns once that this certificate is not trusted, because it signed itself: choose "
        "Advanced, then proceed to localhost (Chrome) or accept the risk (Firefox). To be rid of the "
        "warning, add the file above to your browser's or system's trusted certificates (optional).",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example_app", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--host", default=None, help="interface to serve on (default 127.0.0.1; with --https, localhost)"
    )
    parser.add_argument("--port", type=int, default=5000, help="port to serve on (default 5000)")
    parser.add_argument(
        "--https",
        action="store_true",
        help="serve on https://localhost:PORT with a self-signed certificate kept in your cache "
        "directory; Adobe takes only https redirect URIs",
    )
    args = parser.parse_args(argv)
    host = args.host or ("localhost" if args.https else "127.0.0.1")
    # Adobe's redirect URI must be exactly what the browser uses, and the certificate is for localhost.
    base_url = f"https://localhost:{args.port}" if args.https else f"http://{host}:{args.port}"
    ssl_context: tuple[str, str] | None = None
    https_notes: list[str] = []
    if args.https:
        try:
            ssl_context, https_notes = certificate_notes()
        except ImportError:
            print(
                "--https needs the cryptography package: pip install 'flask-adobe-oauth[jwt]' "
                "(make demo installs it)",
                file=sys.stderr,
            )
            return 1
        except OSError as exc:
            print(f"cannot write the HTTPS certificate: {exc}", file=sys.stderr)
            return 1
    config, standin, notes = demo_config(os.environ)
    if args.https:
        config.setdefault("SESSION_COOKIE_SECURE", True)
    try:
        app = create_app(config)
        if standin is None:
            notes += adobe_console_notes(redirect_uri(app, base_url))
        for note in notes + https_notes:
            print(" *", note, flush=True)
        print(f" * Open {base_url}/ in your browser (Ctrl+C stops).", flush=True)
        run_simple(host, args.port, app, threaded=True, request_handler=PathOnlyLog, ssl_context=ssl_context)
    except OSError as exc:
        print(f"cannot serve on {host}:{args.port}: {exc}; try --port", file=sys.stderr)
        return 1
    finally:
        if standin is not None:
            standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
