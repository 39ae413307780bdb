"""The stand-in's OAuth endpoints, for both presets.

IMS: ``/ims/authorize/v2``, ``/ims/token/v3`` (expires_in in seconds),
``/ims/token/v1`` (milliseconds), ``/ims/revoke``, ``/ims/userinfo/v2``,
``/ims/profile/v1``, ``/ims/keys``, ``/ims/.well-known/openid-configuration``. The token
endpoints take ``authorization_code``, ``refresh_token`` and (OAuth
Server-to-Server credentials) ``client_credentials``.
Legacy (the seed): ``/authorize``, ``/token``, ``/token/revoke``.

It checks what Adobe checks and a little more, so a client that passes here
is a careful one: one-time codes, ``redirect_uri`` repeated, PKCE S256,
exactly one client authentication method, no secret in the URL, refresh
token rotation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote_plus, urlencode, urlsplit

from flask import Flask, Response, g, jsonify, request
from markupsafe import escape

from .keys import b64url
from .state import Call, Fault, Grant, Plan, StandInState, User

_CONSENT = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>Adobe ID (stand-in)</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;background:#f5f5f5;margin:0;padding:1rem}}
main{{max-width:26rem;margin:3rem auto;background:#fff;padding:1.5rem;border-radius:8px;box-shadow:0 1px 4px #0002}}
h1{{font-size:1.3rem}}code{{overflow-wrap:anywhere}}
button{{font-size:1rem;min-height:44px;padding:.5rem 1.4rem;border-radius:22px;border:0;margin:.25rem .5rem .25rem 0}}
#allow{{background:#1473e6;color:#fff}}#deny{{background:#e8e8e8}}</style></head>
<body><main><h1>Stand-in Adobe ID</h1>
<p><strong>{client}</strong> asks to sign you in as <strong>{user}</strong> and use: <code>{scope}</code></p>
<form method="post" action="{action}"><input type="hidden" name="request" value="{request_id}">
<button id="allow" name="decision" value="allow">Allow</button>
<button id="deny" name="decision" value="deny">Deny</button></form></main></body></html>
"""


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    response = jsonify(error=error, error_description=description)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


#: Set in a request's WSGI environ when the answer went out on the raw socket:
#: what the stand-in's request handler does with the connection afterwards,
#: ``"close"`` it or ``"reset"`` it (RST). See ``server._QuietHandler``.
CONNECTION_FATE = "flask_adobe_oauth.standin.connection"


def endpoint_group(path: str) -> str:
    """Which of :data:`~.state.ENDPOINTS` a request path is."""
    if path in ("/ims/token/v3", "/ims/token/v1", "/token"):
        return "token"
    if path in ("/ims/revoke", "/token/revoke"):
        return "revoke"
    if path in ("/ims/userinfo/v2", "/ims/profile/v1"):
        return "userinfo"
    if path in ("/ims/keys", "/ims/.well-known/openid-configuration"):
        return "keys"
    if path.startswith(("/ims/authorize/", "/authorize", "/ims/logout/")):
        return "authorize"
    return "api"


def _pieces(data: bytes, size: int) -> list[bytes]:
    if size <= 0 or len(data) <= size:
        return [data] if data else []
    return [data[i : i + size] for i in range(0, len(data), size)]


def _paced(pieces: list[bytes], pause: float) -> Iterator[bytes]:
    for number, piece in enumerate(pieces):
        if number and pause > 0:
            time.sleep(pause)
        yield piece


class _RawAnswer:
    """A WSGI body that writes the whole answer to the client's socket itself,
    paced, then has the connection closed or reset, and ends the response
    with ``ConnectionAbortedError``: the server takes it for a dropped
    connection and sends nothing more."""

    def __init__(self, environ: dict[str, Any], pieces: list[bytes], pause: float, reset: bool) -> None:
        self.environ, self.pieces, self.pause, self.reset = environ, pieces, pause, reset

    def __iter__(self) -> _RawAnswer:
        return self

    def __next__(self) -> bytes:
        sock = self.environ["werkzeug.socket"]
        try:
            for piece in _paced(self.pieces, self.pause):
                sock.sendall(piece)
        finally:
            self.environ[CONNECTION_FATE] = "reset" if self.reset else "close"
        raise ConnectionAbortedError("the stand-in answered on the raw socket")


def deliver(
    response: Response,
    *,
    trickle: int = 0,
    pause: float = 0.2,
    trickle_headers: bool = False,
    reset_after: int | None = None,
) -> Response:
    """``response`` sent as a :class:`~.state.Fault` with these delivery fields says:
    trickled and/or cut by a connection reset. Needs a real connection (the
    stand-in's server): the trickled headers and the reset go to its socket."""
    if not (trickle or trickle_headers or reset_after is not None):
        return response
    body = response.get_data()
    if not trickle_headers and reset_after is None:
        # Only the body trickles: the server sends the headers, then each piece as it comes.
        paced = Response(_paced(_pieces(body, trickle), pause), status=response.status_code)
        paced.headers.clear()
        paced.headers.extend(response.headers)
        paced.headers["Content-Length"] = str(len(body))
        return paced
    if "werkzeug.socket" not in request.environ:
        raise RuntimeError("trickled headers and connection resets need the stand-in's own server")
    lines = [f"HTTP/1.1 {response.status}"]
    lines += [
        f"{name}: {value}"
        for name, value in response.headers.items()
        if name.lower() not in ("content-length", "connection", "transfer-encoding")
    ]
    lines += [f"Content-Length: {len(body)}", "Connection: close"]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    raw = head + body
    if reset_after is not None:
        raw, head = raw[: max(0, reset_after)], head[: max(0, reset_after)]
    if trickle_headers:
        pieces = _pieces(raw, trickle)
    else:
        pieces = ([head] if head else []) + _pieces(raw[len(head) :], trickle)
    answer = Response(_RawAnswer(request.environ, pieces, pause, reset_after is not None))
    answer.status_code = response.status_code
    return answer


def _fault_response(fault: Fault) -> Response:
    if fault.delay:
        time.sleep(fault.delay)
    response = Response(fault.body, status=fault.status, content_type=fault.content_type)
    for name, value in fault.headers.items():
        response.headers[name] = value
    if fault.reshapes_delivery:
        response = deliver(
            response,
            trickle=fault.trickle,
            pause=fault.pause,
            trickle_headers=fault.trickle_headers,
            reset_after=fault.reset_after,
        )
    return response


def injected_fault(state: StandInState, queue: list[Fault], call: Call | None = None) -> Response | None:
    """The answer of the next fault injected into ``queue`` (each is used once), or None."""
    with state.lock:
        fault = queue.pop(0) if queue else None
    if fault is None:
        return None
    if call is not None:
        call.status = 0 if fault.reset_after == 0 else fault.status  # 0: no answer at all
    return _fault_response(fault)


def _redirect(uri: str, params: dict[str, str], fragment: bool = False) -> Response:
    sep = "#" if fragment else ("&" if urlsplit(uri).query else "?")
    response = Response(status=302)
    response.headers["Location"] = uri + sep + urlencode(params)
    return response


def create_provider_app(
    state: StandInState,
    issuer: str,
    *,
    auto_approve: bool = True,
    send_iss: bool = False,
    id_token_issuer: str | None = None,
) -> Flask:
    """The Flask app answering as Adobe. ``issuer`` is the server's base URL (what its
    discovery document names); ``id_token_issuer`` the ``iss`` of its id_tokens
    (``issuer + "/ims"`` unless given, as Adobe's Admin Authentication API
    reference says IMS's id_tokens carry)."""
    id_token_issuer = id_token_issuer or f"{issuer}/ims"
    app = Flask("flask_adobe_oauth.testing.standin")
    app.config["STANDIN_AUTO_APPROVE"] = auto_approve
    app.config["STANDIN_SEND_ISS"] = send_iss

    # -- lasting faults (StandInAdobe.slow_down, trickle, reset_connections, fail_calls) --

    @app.before_request
    def lasting_faults_before() -> Response | None:
        """Wait out slow-downs; answer for the call when a fault replaces it (a
        reset before answering, a 5xx), recording token and revoke calls as
        their views would. Otherwise the call is handled as usual."""
        group = endpoint_group(request.path)
        plan = state.plan(group)
        if plan is None:
            return None
        g.standin_plan = plan
        if plan.delay:
            time.sleep(plan.delay)
        if plan.reset_after == 0:
            answer, status = deliver(Response(status=503), reset_after=0), 0  # 0: no answer at all
        elif plan.answer is not None:
            fault = plan.answer
            answer = Response(fault.body, status=fault.status, content_type=fault.content_type)
            answer.headers.extend(fault.headers)
            status = fault.status
        else:
            return None
        if group in ("token", "revoke"):
            grant_type = request.form.get("grant_type") if group == "token" else None
            state.record(Call(request.path, grant_type, None, status, form=dict(request.form)))
        return answer

    @app.after_request
    def lasting_faults_after(response: Response) -> Response:
        """Send the answer the way the lasting faults say: trickled, or cut by a reset."""
        plan: Plan | None = g.get("standin_plan")
        if plan is None or response.is_streamed:
            return response
        return deliver(
            response,
            trickle=plan.trickle,
            pause=plan.pause,
            trickle_headers=plan.trickle_headers,
            reset_after=plan.reset_after,
        )

    # -- authorize --------------------------------------------------------------

    def registered_target(redirect_uri: str | None) -> str:
        """Where IMS sends the browser back (Adobe Developer Console docs, User
        Authentication API reference, ``redirect_uri``): the requested URI when
        it matches one of the credential's redirect URI patterns, else the
        credential's default redirect URI. Never an unregistered address."""
        if redirect_uri is not None:
            for pattern in state.redirect_uri_patterns:
                try:
                    if re.fullmatch(pattern, redirect_uri):
                        return redirect_uri
                except re.error:
                    continue
        return state.default_redirect_uri

    def authorize(preset: str) -> Response:
        args = request.args
        client_id = args.get("client_id", "")
        redirect_uri = args.get("redirect_uri")
        if client_id not in state.clients:
            return _oauth_error("invalid_client", "unknown client_id")
        if preset == "ims":
            target = registered_target(redirect_uri)
            # The code is bound to where it was sent: a fallback to the default
            # URI makes the app's exchange (with its own redirect_uri) fail.
            bound = target if redirect_uri is not None else None
        else:
            if redirect_uri is not None:
                parts = urlsplit(redirect_uri)
                if parts.scheme not in ("http", "https") or not parts.netloc or parts.fragment:
                    # RFC 6749 §4.1.2.1: never redirect to an invalid redirect_uri.
                    return _oauth_error("invalid_request", "redirect_uri is not a valid absolute URL")
            target = redirect_uri or "http://127.0.0.1/"
            bound = redirect_uri
        params = {
            k: args.get(k, "")
            for k in (
                "client_id",
                "response_type",
                "state",
                "scope",
                "code_challenge",
                "code_challenge_method",
                "nonce",
            )
        }
        params["redirect_uri"] = bound or ""
        params["target"] = target
        params["preset"] = preset
        prompt = args.get("prompt")
        with state.lock:
            state.prompts.append(prompt)
        back: dict[str, str] = {"state": params["state"]} if params["state"] else {}
        response_type = params["response_type"] or "code"  # IMS's default (API reference)
        params["response_type"] = response_type
        if response_type not in ("code", "token"):
            return _redirect(target, {"error": "unsupported_response_type", **back})
        if response_type == "token" and preset == "ims" and state.credential != "spa":
            # Adobe Developer Console docs: OAuth Web App credentials do not support
            # the implicit flow; only a Single-Page App credential does.
            description = "the implicit grant is not enabled for this (OAuth Web App) credential"
            return _redirect(
                target, {"error": "unsupported_response_type", "error_description": description, **back}
            )
        if not params["state"]:
            return _redirect(target, {"error": "invalid_request", "error_description": "state is required"})
        if params["code_challenge"] and params["code_challenge_method"] != "S256":
            return _redirect(
                target, {"error": "invalid_request", "error_description": "only S256 is supported", **back}
            )
        if prompt is not None and (not prompt.split() or not set(prompt.split()) <= {"none", "login"}):
            return _redirect(target, {"error": "invalid_request", "error_description": "bad prompt", **back})
        if prompt == "none":
            # API reference, ``prompt``: no UI at all; an error when that cannot be.
            if not state.signed_in:
                return _redirect(target, {"error": "login_required", **back})
            if not app.config["STANDIN_AUTO_APPROVE"]:
                return _redirect(target, {"error": "consent_required", **back})
        # prompt=login: the sign-in page even when the user is signed in.
        if app.config["STANDIN_AUTO_APPROVE"] and prompt != "login" and state.signed_in:
            return decide(params, allow=True)
        request_id = secrets.token_urlsafe(16)
        with state.lock:
            state.consents[request_id] = params
        action = "/ims/authorize/decision" if preset == "ims" else "/authorize/decision"
        page = _CONSENT.format(
            client=escape(client_id),
            user=escape(state.user.email),
            scope=escape(params["scope"] or "(default)"),
            action=action,
            request_id=request_id,
        )
        return Response(page, mimetype="text/html")

    def decide(params: dict[str, str], allow: bool) -> Response:
        target = params["target"]
        back = {"state": params["state"]}
        if not allow:
            # RFC 6749 §4.2.2.1: the implicit grant's errors come back in the fragment too.
            return _redirect(
                target,
                {"error": "access_denied", "error_description": "The user denied the request", **back},
                fragment=params["response_type"] == "token",
            )
        with state.lock:
            state.signed_in = True
        if params["response_type"] == "token":
            body = state.issue_tokens(
                params["client_id"],
                state.user,
                params["scope"],
                shape="legacy" if params["preset"] == "legacy" else "v3",
                issuer=id_token_issuer,
                with_refresh=False,
            )
            fragment = {
                "access_token": body["access_token"],
                "token_type": "bearer",
                "expires_in": str(int(state.access_token_lifetime)),
                "state": params["state"],
            }
            if params["scope"]:
                fragment["scope"] = params["scope"]
            return _redirect(target, fragment, fragment=True)
        code = state.issue_code(
            params["client_id"],
            params["scope"],
            params["redirect_uri"] or None,
            params["code_challenge"] or None,
            params["code_challenge_method"] or None,
            params["nonce"] or None,
        )
        answer = {"code": code, **back}
        if params["preset"] == "ims" and app.config["STANDIN_SEND_ISS"]:
            answer["iss"] = issuer  # RFC 9207; Adobe IMS does not send it (option for tests)
        return _redirect(target, answer)

    def decision() -> Response:
        with state.lock:
            params = state.consents.pop(request.form.get("request", ""), None)
        if params is None:
            return _oauth_error("invalid_request", "unknown or already decided consent request")
        return decide(params, allow=request.form.get("decision") == "allow")

    app.add_url_rule("/ims/authorize/v2", "ims_authorize", lambda: authorize("ims"))
    app.add_url_rule("/authorize", "legacy_authorize", lambda: authorize("legacy"))
    app.add_url_rule("/ims/authorize/decision", "ims_decision", decision, methods=["POST"])
    app.add_url_rule("/authorize/decision", "legacy_decision", decision, methods=["POST"])

    # -- client authentication ------------------------------------------------

    def authenticate(call: Call) -> str | Response:
        """The authenticated client_id, or an error response (RFC 6749 §2.3)."""
        if any(k in request.args for k in ("client_secret", "code", "refresh_token")):
            return _oauth_error("invalid_request", "credentials must not be sent in the URL")
        header = request.headers.get("Authorization", "")
        in_body = "client_secret" in request.form
        if header.lower().startswith("basic ") and in_body:
            return _oauth_error("invalid_request", "more than one client authentication method")
        if header.lower().startswith("basic "):
            try:
                raw = base64.b64decode(header[6:].strip(), validate=True).decode()
                user, _, password = raw.partition(":")
                client_id, secret = unquote_plus(user), unquote_plus(password)
            except ValueError:
                return _oauth_error("invalid_client", "malformed Basic credentials", 401)
            call.client_auth = "client_secret_basic"
        elif in_body:
            client_id, secret = request.form.get("client_id", ""), request.form.get("client_secret", "")
            call.client_auth = "client_secret_post"
        else:
            return _oauth_error("invalid_client", "client authentication is required", 401)
        expected = state.clients.get(client_id)
        if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
            return _oauth_error("invalid_client", "unknown client or wrong secret", 401)
        return client_id

    # -- token ----------------------------------------------------------------

    def token(shape: str) -> Response:
        call = Call(request.path, request.form.get("grant_type"), None, form=dict(request.form))
        state.record(call)
        faulty = injected_fault(state, state.token_faults, call)
        if faulty is not None:
            return faulty
        response = _token(shape, call)
        call.status = response.status_code
        response.headers["Cache-Control"] = "no-store"
        return response

    def _token(shape: str, call: Call) -> Response:
        client_id = authenticate(call)
        if isinstance(client_id, Response):
            return client_id
        grant_type = request.form.get("grant_type")
        if grant_type == "authorization_code":
            return _code_grant(shape, client_id)
        if grant_type == "refresh_token":
            return _refresh_grant(shape, client_id)
        if grant_type == "client_credentials" and shape != "legacy":
            return _client_credentials_grant(shape, client_id)
        return _oauth_error(
            "unsupported_grant_type",
            "grant_type must be authorization_code, refresh_token or client_credentials",
        )

    def _client_credentials_grant(shape: str, client_id: str) -> Response:
        """An OAuth Server-to-Server credential's token (Adobe Developer Console
        docs, guides/authentication/ServerToServerAuthentication/ims.md,
        "Fetching access tokens"): ``grant_type=client_credentials``, the
        client's id and secret, and ``scope``, mandatory, "comma separated"
        (the Analytics 2.0 API docs' guides/endpoints/reports/recurring.md
        says space-separated: both are taken). The answer is
        ``{"access_token", "token_type": "bearer", "expires_in"}``, seconds
        at v3 (86399 in the docs' sample): no refresh token ("You do not
        need a refresh token", same page) and no id_token. The token acts as
        the credential's technical account.

        The docs list no error answers for this grant; these follow RFC 6749
        §5.2: a wrong client or secret is ``invalid_client`` (401, in
        :func:`authenticate`), a missing scope ``invalid_request``, a scope
        the credential does not have ``invalid_scope`` (400)."""
        requested = request.form.get("scope", "").replace(",", " ").split()
        if not requested:
            return _oauth_error("invalid_request", "scope is required")
        with state.lock:
            allowed = set(state.service_scopes)
        unknown = [s for s in requested if s not in allowed]
        if unknown:
            return _oauth_error(
                "invalid_scope", "scope not allowed for this credential: " + ",".join(unknown)
            )
        body = state.issue_tokens(
            client_id,
            state.technical_account(client_id),
            ",".join(dict.fromkeys(requested)),
            shape=shape,
            issuer=id_token_issuer,
            with_refresh=False,
            with_id_token=False,
        )
        return jsonify(body)

    def _code_grant(shape: str, client_id: str) -> Response:
        code = request.form.get("code", "")
        with state.lock:
            grant = state.grants.get(code)
            if grant is None or grant.kind != "code":
                return _oauth_error("invalid_grant", "unknown authorization code")
            if grant.used:
                # RFC 6749 §4.1.2: a code used twice revokes what it gave.
                for other in state.grants.values():
                    if other.origin == code:
                        other.revoked = True
                return _oauth_error("invalid_grant", "authorization code already used")
            grant.used = True
        if grant.expires_at <= state.now():
            return _oauth_error("invalid_grant", "authorization code expired")
        if grant.client_id != client_id:
            return _oauth_error("invalid_grant", "code was issued to another client")
        if grant.redirect_uri is not None and request.form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error("invalid_grant", "redirect_uri does not match the authorization request")
        verifier = request.form.get("code_verifier")
        if grant.code_challenge:
            if not verifier:
                return _oauth_error("invalid_grant", "code_verifier is required")
            digest = b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
            if not hmac.compare_digest(digest, grant.code_challenge):
                return _oauth_error("invalid_grant", "code_verifier does not match the challenge")
        elif verifier:
            return _oauth_error("invalid_grant", "code_verifier sent without a challenge")  # RFC 9700 §2.1.1
        scopes = grant.scope.replace(",", " ").split()
        body = state.issue_tokens(
            client_id,
            grant.user,
            grant.scope,
            shape=shape,
            issuer=id_token_issuer,
            nonce=grant.nonce,
            with_refresh="offline_access" in scopes,
        )
        with state.lock:
            for key in ("access_token", "refresh_token"):
                if key in body:
                    state.grants[body[key]].origin = code
                    state.grants[body[key]].family = code
        return jsonify(body)

    def _refresh_grant(shape: str, client_id: str) -> Response:
        if shape == "legacy":
            return _oauth_error("unsupported_grant_type", "the legacy API has no refresh tokens")
        value = request.form.get("refresh_token", "")
        with state.lock:
            grant = state.live(value, "refresh")
            if grant is None or grant.client_id != client_id:
                return _oauth_error("invalid_grant", "refresh token is invalid, expired, revoked or used")
            grant.used = True  # rotation: the old refresh token stops working
        body = state.issue_tokens(client_id, grant.user, grant.scope, shape=shape, issuer=id_token_issuer)
        with state.lock:
            for key in ("access_token", "refresh_token"):
                if key in body:
                    state.grants[body[key]].family = grant.family
        return jsonify(body)

    app.add_url_rule("/ims/token/v3", "ims_token_v3", lambda: token("v3"), methods=["POST"])
    app.add_url_rule("/ims/token/v1", "ims_token_v1", lambda: token("v1"), methods=["POST"])
    app.add_url_rule("/token", "legacy_token", lambda: token("legacy"), methods=["POST"])

    # -- revoke, userinfo, keys, discovery -------------------------------------

    def revoke() -> Response:
        call = Call(request.path, None, None, form=dict(request.form))
        state.record(call)
        faulty = injected_fault(state, state.revoke_faults, call)
        if faulty is not None:
            return faulty
        client_id = authenticate(call)
        if isinstance(client_id, Response):
            call.status = client_id.status_code
            return client_id
        state.revoke(request.form.get("token", ""))  # RFC 7009 §2.2: 200 even for unknown tokens
        call.status = 200
        return Response(status=200)

    app.add_url_rule("/ims/revoke", "ims_revoke", revoke, methods=["POST"])
    app.add_url_rule("/token/revoke", "legacy_revoke", revoke, methods=["POST"])

    def bearer_grant() -> Grant | Response:
        """The live access grant of the request's ``Authorization: Bearer``, or
        the 401 ``invalid_token`` answer (missing, unknown, expired, revoked)."""
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        grant = state.live(token.strip(), "access") if scheme.lower() == "bearer" and token.strip() else None
        if grant is None:
            response = _oauth_error("invalid_token", "the access token is invalid or expired", 401)
            response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
            return response
        return grant

    def bearer_user() -> tuple[User, str] | Response:
        """The user (as known now: an administrator may have moved them to
        another organisation since the token was issued, and Adobe says what
        is true at the time of the call) and scope of the request's access
        token, or the answer to give instead (an injected fault, a 401)."""
        faulty = injected_fault(state, state.api_faults)
        if faulty is not None:
            return faulty
        grant = bearer_grant()
        if isinstance(grant, Response):
            return grant
        return state.known_user(grant.user.sub) or grant.user, grant.scope

    @app.get("/ims/userinfo/v2")
    def userinfo() -> Response:
        found = bearer_user()
        if isinstance(found, Response):
            return found
        return jsonify(found[0].userinfo())

    @app.get("/ims/profile/v1")
    def profile() -> Response:
        """The user's IMS profile (``GET https://ims-na1.adobelogin.com/ims/profile/v1``
        with the access token, as in Campaign Standard's "API troubleshooting"
        page, AdobeDocs/campaign-standard.en help/api/using/troubleshooting.md;
        Magento's Adobe IMS module calls it with ``?client_id=``, which is
        taken and not needed). What the token's scope adds is in
        :meth:`~.state.User.profile`. A missing, unknown, expired or revoked
        token is refused like userinfo's: 401 ``invalid_token``."""
        found = bearer_user()
        if isinstance(found, Response):
            return found
        user, scope = found
        return jsonify(state.profile(user, scope))

    @app.get("/ims/keys")
    def keys() -> Any:
        with state.lock:
            state.jwks_fetches += 1
        return jsonify(state.key.jwks() if state.key else {"keys": []})

    @app.get("/ims/.well-known/openid-configuration")
    def discovery() -> Any:
        # The fields of IMS's own document (Adobe Developer Console docs, User
        # Authentication API reference, "OpenID Configuration").
        document: dict[str, Any] = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/ims/authorize/v2",
            "token_endpoint": f"{issuer}/ims/token/v3",
            "userinfo_endpoint": f"{issuer}/ims/userinfo/v2",
            "revocation_endpoint": f"{issuer}/ims/revoke",
            "jwks_uri": f"{issuer}/ims/keys",
            "response_types_supported": ["code", "token", "id_token", "id_token token", "code id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "claims_supported": ["sub", "given_name", "family_name", "name", "email", "email_verified"],
            "grant_types_supported": ["authorization_code", "implicit_grant", "refresh_token"],
        }
        if app.config["STANDIN_SEND_ISS"]:
            document["authorization_response_iss_parameter_supported"] = True  # RFC 9207 §3
        return jsonify(document)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        # A browser asks every origin for one: no 404 in its console at each sign-in.
        return Response(status=204)

    @app.get("/ims/logout/v1")
    def logout() -> Response:
        """End the user's sign-in at the stand-in and go back to ``redirect_uri``
        (checked against the credential's patterns like authorize's)."""
        client_id = request.args.get("client_id", "")
        if client_id not in state.clients:
            return _oauth_error("invalid_client", "unknown client_id")
        with state.lock:
            state.signed_in = False
            state.logouts.append(client_id)
        response = Response(status=302)
        response.headers["Location"] = registered_target(request.args.get("redirect_uri"))
        return response

    return app
