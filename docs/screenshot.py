"""Take docs/dashboard.png of the real running demo.

Runs ``python -m example_app --port <free port>`` exactly as ``make demo``
does (no Adobe credentials: the stand-in), signs in with headless Debian
Chromium through Playwright, and saves the dashboard::

    python docs/screenshot.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from flask_adobe_oauth.testing.live import CHROMIUM, CHROMIUM_ARGS, free_port

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADOBE_OAUTH_")}
    demo = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "example_app", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert demo.stdout is not None
        for line in demo.stdout:
            print(line, end="")
            if "Open http" in line:
                break
        time.sleep(0.5)
        base = f"http://127.0.0.1:{port}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(base + "/")
            page.click("#sign-in")
            page.click("#allow")
            page.wait_for_url(base + "/dashboard")
            page.wait_for_selector("svg#chart")
            out = ROOT / "docs" / "dashboard.png"
            page.screenshot(path=str(out))
            browser.close()
        print(f"saved {out}")
    finally:
        demo.terminate()
        demo.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
