"""``python -m example_app``: run the demo dashboard on http://127.0.0.1:5000.

Without ``ADOBE_OAUTH_CLIENT_ID`` in the environment it starts a stand-in
Adobe on a free port of 127.0.0.1 and signs in there (no Adobe account
needed). With ``ADOBE_OAUTH_CLIENT_ID`` and ``ADOBE_OAUTH_CLIENT_SECRET``
(and any other ``ADOBE_OAUTH_*`` option) it talks to Adobe.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from werkzeug.serving import WSGIRequestHandler, run_simple

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
    config: dict[str, Any] = {k: v for k, v in environ.items() if k.startswith("ADOBE_OAUTH_")}
    standin = None
    if not environ.get("ADOBE_OAUTH_CLIENT_ID"):
        standin = StandInAdobe(auto_approve=False).start()
        config.update(standin.config())
        config["DEMO_STANDIN_URL"] = standin.url
        notes.append(
            f"No ADOBE_OAUTH_CLIENT_ID in the environment: started a stand-in Adobe (IMS + Analytics 2.0) "
            f"on {standin.url} and pointed the app at it. Sign in as {standin.state.user.name} "
            f"<{standin.state.user.email}> by clicking Allow; the report data is synthetic."
        )
    else:
        notes.append(
            "Using real Adobe with ADOBE_OAUTH_CLIENT_ID from the environment. Register "
            "<this URL>/adobe/callback as a redirect URI of your Adobe Developer Console project."
        )
    if environ.get("SECRET_KEY"):
        config["SECRET_KEY"] = environ["SECRET_KEY"]
    else:
        config["SECRET_KEY"] = secrets.token_urlsafe(32)
        notes.append(
            "No SECRET_KEY in the environment: using a random one, so sessions end when this process stops."
        )
    return config, standin, notes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m example_app", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="interface to serve on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5000, help="port to serve on (default 5000)")
    args = parser.parse_args(argv)
    config, standin, notes = demo_config(os.environ)
    try:
        app = create_app(config)
        for note in notes:
            print(" *", note, flush=True)
        print(f" * Open http://{args.host}:{args.port}/ in your browser (Ctrl+C stops).", flush=True)
        run_simple(args.host, args.port, app, threaded=True, request_handler=PathOnlyLog)
    except OSError as exc:
        print(f"cannot serve on {args.host}:{args.port}: {exc}; try --port", file=sys.stderr)
        return 1
    finally:
        if standin is not None:
            standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
