from flask import Flask, jsonify

from flask_adobe_oauth import LoginRequired, adobe, adobe_login_required, make_adobe_blueprint


def create_api(config):
    app = Flask(__name__)
    app.config.update(config)
    adobe_blueprint = make_adobe_blueprint()

    @adobe_blueprint.unauthorized_handler
    def not_signed_in(error: LoginRequired):
        return jsonify(error="sign_in_first", sign_in_at="/adobe/login"), 401

    app.register_blueprint(adobe_blueprint, url_prefix="/adobe")

    @app.get("/api/me")
    @adobe_login_required
    def me():
        return {"user": adobe.token.user_id}

    return app
