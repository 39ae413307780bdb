"""Profile this project's login round trip and guarded view (cProfile).

``python -m bench.profiling [--logins N] [--views N] [--top N]``

Only the calling thread is profiled: the stand-in's threads (minting tokens,
signing the id_token) show up as time spent waiting on the socket. Shares are
of the profiled wall time of the whole loop, per login or per request.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
from typing import Any

import requests

from flask_adobe_oauth.testing import StandInAdobe

from .apps import ours
from .measure import WSGICall
from .run import completed, logged_in_client, login

PACKAGE = "flask_adobe_oauth/"


def _rows(stats: pstats.Stats, count: int, top: int, only_package: bool) -> list[str]:
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = max(t[3] for t in raw.values())  # the outermost frame's cumulative time
    entries = []
    for (filename, line, name), (_, calls, tottime, cumtime, _) in raw.items():
        if only_package and PACKAGE not in filename:
            continue
        short = filename.split("site-packages/")[-1].split("/work/main/")[-1]
        entries.append((cumtime, tottime, calls, f"{short}:{line}:{name}"))
    entries.sort(reverse=True)
    lines = [f"{'cum %':>6} {'own %':>6} {'µs/op cum':>10} {'calls/op':>8}  function"]
    for cumtime, tottime, calls, where in entries[:top]:
        lines.append(
            f"{cumtime / total * 100:6.1f} {tottime / total * 100:6.1f} "
            f"{cumtime / count * 1e6:10.1f} {calls / count:8.1f}  {where}"
        )
    return lines


def profile(action: Any, count: int) -> pstats.Stats:
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        action()
    profiler.disable()
    return pstats.Stats(profiler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profiling", description=__doc__)
    parser.add_argument("--logins", type=int, default=200)
    parser.add_argument("--views", type=int, default=5000)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    with StandInAdobe(keep_alive=True) as standin, requests.Session() as browser:
        subject = ours(standin)
        for _ in range(20):  # warm-up: imports, pools, JWKS, ...
            logged_in_client(subject, browser)

        def one_login() -> None:
            client = subject.app.test_client()
            if not completed(subject, login(subject, client, browser)):
                raise RuntimeError("a login did not complete")

        stats = profile(one_login, args.logins)
        for only in (False, True):
            print(f"\n== login round trip ({args.logins}×), {'flask_adobe_oauth only' if only else 'all'}")
            print("\n".join(_rows(stats, args.logins, args.top, only)))

        client = logged_in_client(subject, browser)
        call = WSGICall(subject.app, "/guarded", f"session={client.get_cookie('session').value}")
        for _ in range(500):
            call()
        stats = profile(call, args.views)
        for only in (False, True):
            print(f"\n== guarded view ({args.views}×), {'flask_adobe_oauth only' if only else 'all'}")
            print("\n".join(_rows(stats, args.views, args.top, only)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
