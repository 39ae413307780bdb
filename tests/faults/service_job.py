"""One process of an app whose tokens live in SQL, asking for the service token.

Run as ``python -m tests.faults.service_job`` by the tests of one service
token per expiry across processes (``test_service_sharing.py``). Configured
from the environment:

* ``JOB_ADOBE_CONFIG``: JSON of ``ADOBE_OAUTH_*`` keys (the stand-in's);
* ``JOB_DATABASE_URL``: the database of the app's ``SQLAlchemyStorage``;
* ``JOB_GO``: a file; the threads ask once it exists (so that processes start together);
* ``JOB_THREADS``: how many threads ask at once.

It prints ``ready`` when built, then one JSON line: the sha256 of the token
each thread got, and how many tokens this process minted.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from pathlib import Path

from flask import Flask

from flask_adobe_oauth import make_adobe_blueprint
from flask_adobe_oauth.service import service_for
from flask_adobe_oauth.storage import SQLAlchemyStorage


def main() -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="service-job-secret-key-shared-by-all-processes")
    app.config.update(json.loads(os.environ["JOB_ADOBE_CONFIG"]))
    storage = SQLAlchemyStorage.from_url(os.environ["JOB_DATABASE_URL"])
    app.register_blueprint(make_adobe_blueprint(storage=storage), url_prefix="/adobe")
    go, threads = Path(os.environ["JOB_GO"]), int(os.environ.get("JOB_THREADS", "4"))
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            sys.exit("never told to go")
        time.sleep(0.005)
    seen: list[str] = []
    start = threading.Barrier(threads)

    def ask() -> None:
        start.wait(30)
        with app.app_context():
            token = service_for(app).token()
        seen.append(hashlib.sha256(token.access_token.encode()).hexdigest())

    pool = [threading.Thread(target=ask) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(60)
    with app.app_context():
        mints = service_for(app).mints
    print(json.dumps({"tokens": seen, "mints": mints, "pid": os.getpid()}), flush=True)
    storage.engine.dispose()


if __name__ == "__main__":
    main()
