import os

from flask_adobe_oauth.testing import StandInAdobe

from app import create_app

with StandInAdobe() as adobe_server:  # IMS + Analytics 2.0 on a free port of 127.0.0.1
    app = create_app({"SECRET_KEY": "dev-only-key-for-the-stand-in", **adobe_server.config()})
    app.run(port=int(os.environ.get("PORT", 5000)))
