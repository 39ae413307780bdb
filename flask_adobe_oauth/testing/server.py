"""``StandInAdobe``: a real HTTP server on 127.0.0.1 that answers as Adobe.

::

    with StandInAdobe() as adobe_server:
        app.config.update(adobe_server.config())      # ADOBE_OAUTH_* keys
        ...                                           # log in for real

It binds a free port on the loopback interface only, runs in a daemon
thread, and stops on :meth:`stop` (or leaving the ``with`` block).
"""

from __future__ import annotations

import re
import socket
import struct
import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import url_for
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from .analytics import DEFAULT_RATE_LIMIT, AnalyticsControls, register_analytics
from .live import LOOPBACK_HOSTS, QuietRequestHandler, ServerThread
from .provider import CONNECTION_FATE, create_provider_app
from .state import BACK_CHANNEL, ENDPOINTS, Call, Condition, Fault, StandInState, User

DEFAULT_CLIENT_ID = "standin-client"
DEFAULT_CLIENT_SECRET = "standin-secret-" + "x" * 16

#: Stand-ins serving in this process, by base URL: how ``login_as`` finds the
#: server an app is pointed at, to sign the user in with a token it accepts.
_serving: dict[str, StandInAdobe] = {}
_serving_lock = threading.Lock()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class _QuietHandler(QuietRequestHandler):
    """Logs nothing (request lines would carry codes and states), and closes
    or resets a connection an answer was written on raw."""

    def run_wsgi(self) -> None:
        super().run_wsgi()
        # An answer sent on the raw socket (a trickle of headers, a reset) says
        # what becomes of the connection: closed as usual, or reset (RST).
        fate = getattr(self, "environ", {}).get(CONNECTION_FATE)
        if fate is not None:
            self.close_connection = True
        if fate == "reset":
            try:
                # Linger 0 makes close() abortive: an RST instead of a FIN. The
                # reader made by makefile() holds the socket open; close it first.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.rfile.close()
                self.connection.close()
            except OSError:
                pass


class StandInAdobe:
    """A stand-in for Adobe IMS, the legacy Analytics OAuth and Analytics 2.0.

    ``auto_approve=False`` shows a consent page with Allow / Deny buttons
    (ids ``allow`` and ``deny``) instead of approving at once.

    Like an Adobe Developer Console credential it has redirect URI patterns
    (``redirect_uri_patterns``, regexes matched whole; by default any URL
    on this machine and the reserved example/test names) and a default
    redirect URI (``default_redirect_uri``, the demo's callback): a
    ``redirect_uri`` matching no pattern sends the browser to the default
    one, as IMS does. ``credential="spa"`` makes it a Single-Page App
    credential, the only kind that allows ``response_type=token``.
    ``send_iss=True`` adds RFC 9207's ``iss`` to authorization responses,
    which Adobe IMS does not send.

    It is served by :class:`~flask_adobe_oauth.testing.live.ServerThread`:
    werkzeug's development server, which closes every connection after its
    answer; ``keep_alive=True`` keeps HTTP/1.1 connections open, as Adobe's
    servers do, so that clients' connection reuse can be seen and measured.

    Its users: ``user`` is who is signed in at the stand-in, so who the next
    sign-in is (``User()`` unless given; the first of ``users`` when only
    they are given); ``users`` are more users it knows, each with their
    organisations, product profiles and roles (:class:`~.state.User`;
    :func:`~.state.example_users` has four). ``state.user = someone`` (or
    ``sign_in(client, user=someone)``) chooses who signs in next, and
    ``login_as(client, user_id=someone.sub)`` signs a known user in without
    the browser steps.

    It fails on demand, over real TCP: ``fail_next_token`` / ``_revoke`` /
    ``_api`` give the next call a fault (a status, a delay, a trickled or
    reset answer); ``slow_down``, ``trickle``, ``reset_connections`` and
    ``fail_calls`` hold for every call (or the next ``count``) until
    ``clear_faults``.
    """

    def __init__(
        self,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        *,
        auto_approve: bool = True,
        send_iss: bool = False,
        redirect_uri_patterns: list[str] | tuple[str, ...] | None = None,
        default_redirect_uri: str | None = None,
        credential: str = "web",
        user: User | None = None,
        users: list[User] | tuple[User, ...] = (),
        access_token_lifetime: float = 86399,
        rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT,
        host: str = "127.0.0.1",
        port: int = 0,
        keep_alive: bool = False,
    ) -> None:
        if host not in LOOPBACK_HOSTS:
            raise ValueError("the stand-in serves on the loopback interface only")
        self.client_id = client_id
        self.client_secret = client_secret
        self.state = StandInState(
            {client_id: client_secret}, user=user, users=users, access_token_lifetime=access_token_lifetime
        )
        if credential not in ("web", "spa"):
            raise ValueError("credential is 'web' (OAuth Web App) or 'spa' (OAuth Single-Page App)")
        if redirect_uri_patterns is not None:
            self.state.redirect_uri_patterns = list(redirect_uri_patterns)
        if default_redirect_uri is not None:
            self.state.default_redirect_uri = default_redirect_uri
        self.state.credential = credential
        #: What steers its Analytics API: ``rate_limit`` (Adobe's 12 calls per 6 s per
        #: user by default, None for no limit), unauthorized metrics, users without a
        #: product profile; changes apply at the next call.
        self.analytics = AnalyticsControls(rate_limit=rate_limit)
        self._host, self._port, self._keep_alive = host, port, keep_alive
        self._auto_approve, self._send_iss = auto_approve, send_iss
        self._server: ServerThread | None = None
        self.url = ""
        self.app: Any = None

    # -- life cycle -------------------------------------------------------------

    def start(self) -> StandInAdobe:
        """Bind a port and serve in a background thread."""
        if self._server is not None:
            return self
        server = ServerThread(
            _placeholder,
            self._host,
            self._port,
            request_handler=_QuietHandler,
            keep_alive=self._keep_alive,
            name="adobe-standin",
        )
        self.url = server.url
        self.app = create_provider_app(
            self.state, self.url, auto_approve=self._auto_approve, send_iss=self._send_iss
        )
        register_analytics(self.app, self.state, controls=self.analytics)
        server.app = self.app
        self._server = server.start()
        with _serving_lock:
            _serving[_origin(self.url)] = self
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        with _serving_lock:
            if _serving.get(_origin(self.url)) is self:
                del _serving[_origin(self.url)]
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> StandInAdobe:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- pointing an app at it ---------------------------------------------------

    @property
    def issuer(self) -> str:
        """What the stand-in's discovery document names as its issuer (its URL)."""
        return self.url

    @property
    def issuers(self) -> list[str]:
        """The issuers an app should accept: :attr:`issuer` and ``issuer + "/ims"``,
        which the stand-in's id_tokens carry, as Adobe IMS's two names."""
        return [self.url, f"{self.url}/ims"]

    def options(self, provider: str = "ims", *, token_version: str = "v3") -> dict[str, Any]:
        """Keyword arguments for :func:`make_adobe_blueprint` aimed at this server."""
        if not self.url:
            raise RuntimeError("start() the stand-in first")
        base = self.url
        common = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "provider": provider,
            "api_base_url": base,
        }
        if provider == "legacy":
            return {
                **common,
                "authorize_url": f"{base}/authorize",
                "token_url": f"{base}/token",
                "revoke_url": f"{base}/token/revoke",
            }
        return {
            **common,
            "authorize_url": f"{base}/ims/authorize/v2",
            "token_url": f"{base}/ims/token/{token_version}",
            "revoke_url": f"{base}/ims/revoke",
            "userinfo_url": f"{base}/ims/userinfo/v2",
            "profile_url": self.profile_url,
            "jwks_url": f"{base}/ims/keys",
            "logout_url": f"{base}/ims/logout/v1",
            "issuer": self.issuers,
        }

    @property
    def profile_url(self) -> str:
        """Its IMS profile endpoint, ``/ims/profile/v1`` (IMS's own is
        ``https://ims-na1.adobelogin.com/ims/profile/v1``); :meth:`options`
        gives it as ``profile_url`` for the IMS preset."""
        if not self.url:
            raise RuntimeError("start() the stand-in first")
        return f"{self.url}/ims/profile/v1"

    @property
    def users(self) -> list[User]:
        """Every user the stand-in knows (``users=``, ``user=``, :meth:`add_user`,
        and whoever ``state.user`` was set to), in the order they became known."""
        with self.state.lock:
            return list(self.state.users.values())

    def add_user(self, *users: User) -> None:
        """Make more users known: ``login_as(client, user_id=user.sub)`` then signs
        that user in, and ``state.user = user`` makes them the next to sign in."""
        for user in users:
            self.state.add_user(user)

    def config(self, provider: str = "ims", **kwargs: Any) -> dict[str, Any]:
        """The same as :meth:`options`, as ``ADOBE_OAUTH_*`` config keys."""
        return {"ADOBE_OAUTH_" + k.upper(): v for k, v in self.options(provider, **kwargs).items()}

    @classmethod
    def serving_at(cls, url: str) -> StandInAdobe | None:
        """The stand-in of this process that serves ``url``, if one does."""
        with _serving_lock:
            return _serving.get(_origin(url))

    def mint_token(
        self, client_id: str | None = None, *, scope: str = "", user_id: str | None = None
    ) -> dict[str, Any]:
        """Issue tokens as a completed IMS v3 login would, without the browser steps.

        The answer is the token endpoint's JSON (``access_token``, and a
        ``refresh_token`` when ``offline_access`` is in ``scope``), valid at
        this server's APIs. ``user_id``: the known user of that id (see
        :attr:`users`); an unknown id makes a user of that id, in the default
        organisation with Analytics.
        """
        user = self.state.user
        if user_id and user_id != user.sub:
            known = self.state.known_user(user_id)
            if known is not None:
                user = known
            else:
                local = user_id.split("@", 1)[0] or "user"
                user = User(sub=user_id, email=f"{local.lower()}@example.com", name=f"Test User {local}")
        return self.state.issue_tokens(
            client_id or self.client_id,
            user,
            scope,
            shape="v3",
            issuer=self.issuers[1],
            with_refresh="offline_access" in scope.replace(",", " ").split(),
        )

    def sign_in(
        self,
        client: FlaskClient,
        *,
        next_url: str | None = None,
        blueprint: str | None = None,
        allow: bool = True,
        user: User | None = None,
    ) -> TestResponse:
        """A whole sign-in for a Flask test client, over real HTTP to this server:
        the app's ``/login``, this server's authorize endpoint (clicking Allow,
        or Deny with ``allow=False``, when it shows a consent page), then the
        app's ``/callback``, whose response is returned (a redirect to
        ``next_url`` on success). ``user``: sign in as that user (it becomes
        ``state.user``, the one signed in at the stand-in, for later sign-ins too)."""
        from ..extension import get_runtime

        if user is not None:
            self.state.user = user

        app = client.application
        name = get_runtime(blueprint, app).name
        with app.test_request_context():
            login_path = url_for(f"{name}.login", next=next_url)
        answer = client.get(login_path)
        if answer.status_code != 302:
            raise AssertionError(f"{login_path} answered {answer.status_code}, not a redirect to Adobe")
        with requests.Session() as browser:
            browser.trust_env = False
            reply = browser.get(answer.headers["Location"], allow_redirects=False, timeout=10)
            consent = _CONSENT_REQUEST.search(reply.text) if reply.status_code == 200 else None
            if consent is not None:
                action = urlsplit(answer.headers["Location"]).path.rsplit("/", 1)[0] + "/decision"
                form = {"request": consent.group(1), "decision": "allow" if allow else "deny"}
                reply = browser.post(self.url + action, data=form, allow_redirects=False, timeout=10)
        if reply.status_code != 302:
            raise AssertionError(f"the stand-in's authorize answered {reply.status_code}: {reply.text[:200]}")
        back = urlsplit(reply.headers["Location"])
        return client.get(back.path + ("?" + back.query if back.query else ""))

    # -- what tests look at and steer ---------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every call to the token and revoke endpoints, in order."""
        with self.state.lock:
            return list(self.state.calls)

    def token_calls(self) -> list[Call]:
        """Calls to a token endpoint."""
        return [c for c in self.calls if "revoke" not in c.path]

    def revoke_calls(self) -> list[Call]:
        """Calls to a revoke endpoint."""
        return [c for c in self.calls if "revoke" in c.path]

    def service_token_mints(self) -> int:
        """How many Server-to-Server tokens were issued: ``client_credentials``
        token calls answered 200 (refused and failed calls do not count)."""
        return sum(1 for c in self.token_calls() if c.grant_type == "client_credentials" and c.status == 200)

    def jwks_calls(self) -> int:
        """How many times ``/ims/keys`` was fetched."""
        with self.state.lock:
            return self.state.jwks_fetches

    # One-shot faults: the next call of a kind gets this answer instead (each
    # used once, in order). Besides the answer, ``delay`` seconds before it,
    # and how it is sent (see :class:`~flask_adobe_oauth.testing.state.Fault`):
    # ``trickle`` bytes at a time ``pause`` seconds apart (the body, or with
    # ``trickle_headers`` the status line and headers too), and ``reset_after``
    # bytes, then a TCP reset.

    def fail_next_token(
        self,
        status: int = 500,
        body: str | bytes = "",
        *,
        content_type: str = "text/plain",
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
        trickle: int = 0,
        pause: float = 0.2,
        trickle_headers: bool = False,
        reset_after: int | None = None,
    ) -> None:
        """Answer the next token request with this instead of the real answer.

        ``delay`` seconds pass first. ``trickle``: send the answer that many
        bytes at a time, ``pause`` seconds apart (its body; with
        ``trickle_headers`` its status line and headers too). ``reset_after``:
        reset the TCP connection (RST) once that many bytes of the raw answer
        went out, 0 for before any. See
        :class:`~flask_adobe_oauth.testing.state.Fault`."""
        fault = Fault(
            status, body, content_type, delay, headers or {}, trickle, pause, trickle_headers, reset_after
        )
        with self.state.lock:
            self.state.token_faults.append(fault)

    def fail_next_revoke(
        self,
        status: int = 500,
        body: str = "",
        *,
        delay: float = 0.0,
        trickle: int = 0,
        pause: float = 0.2,
        trickle_headers: bool = False,
        reset_after: int | None = None,
    ) -> None:
        """Answer the next revoke request with this status (keywords as :meth:`fail_next_token`)."""
        fault = Fault(status, body, "text/plain", delay, {}, trickle, pause, trickle_headers, reset_after)
        with self.state.lock:
            self.state.revoke_faults.append(fault)

    def fail_next_api(
        self,
        status: int = 500,
        body: str = "",
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        trickle: int = 0,
        pause: float = 0.2,
        trickle_headers: bool = False,
        reset_after: int | None = None,
    ) -> None:
        """Answer the next Analytics API (or userinfo) request with this instead
        (keywords as :meth:`fail_next_token`)."""
        fault = Fault(
            status, body, content_type, delay, headers or {}, trickle, pause, trickle_headers, reset_after
        )
        with self.state.lock:
            self.state.api_faults.append(fault)

    # Lasting faults: Adobe having a bad time until :meth:`clear_faults`. Each
    # applies to the calls in ``endpoints`` (default: every call an app makes
    # to Adobe, :data:`~flask_adobe_oauth.testing.state.BACK_CHANNEL`; add
    # ``"authorize"`` for the pages a browser visits), before one-shot faults.
    # Several may hold at once: delays add up, and a slow, trickling server
    # failing its calls is three calls.

    def slow_down(self, seconds: float, *, endpoints: Iterable[str] = BACK_CHANNEL) -> None:
        """Every call waits ``seconds`` before it is handled, until :meth:`clear_faults`."""
        self._hold(Fault(delay=seconds), endpoints)

    def trickle(
        self,
        chunk: int = 8,
        pause: float = 0.2,
        *,
        headers: bool = False,
        endpoints: Iterable[str] = BACK_CHANNEL,
    ) -> None:
        """Every answer (real or a fault) is sent ``chunk`` bytes at a time,
        ``pause`` seconds apart: its body, or with ``headers=True`` its status
        line and headers too. The call is handled first (a refresh token is
        rotated, say); only the answer is slow. Until :meth:`clear_faults`."""
        if chunk < 1:
            raise ValueError("chunk is a number of bytes, at least 1")
        self._hold(Fault(trickle=chunk, pause=pause, trickle_headers=headers), endpoints)

    def reset_connections(
        self, after: int = 0, *, count: int | None = None, endpoints: Iterable[str] = BACK_CHANNEL
    ) -> None:
        """Reset the TCP connection (RST) of every call, or of the next ``count``,
        once ``after`` bytes of the answer were sent. ``after=0``: before
        anything, and before the call is handled (nothing happens at Adobe;
        the client sees ``requests.ConnectionError``); ``after`` inside the
        body: the call was handled and its answer is cut (the client sees
        ``requests.exceptions.ChunkedEncodingError``)."""
        self._hold(Fault(reset_after=after), endpoints, count=count)

    def fail_calls(
        self,
        status: int = 503,
        count: int | None = None,
        *,
        body: str | bytes = "",
        content_type: str = "text/plain",
        headers: dict[str, str] | None = None,
        endpoints: Iterable[str] = BACK_CHANNEL,
    ) -> None:
        """Answer every call, or the next ``count``, with ``status`` (and ``body``)
        without handling it: a 5xx burst, an outage. Until :meth:`clear_faults`
        or the count is used up."""
        fault = Fault(status, body, content_type, 0.0, headers or {})
        self._hold(fault, endpoints, replace=True, count=count)

    def clear_faults(self) -> None:
        """Adobe is well again: no lasting fault, and no one-shot fault left queued."""
        with self.state.lock:
            self.state.conditions.clear()
            self.state.token_faults.clear()
            self.state.revoke_faults.clear()
            self.state.api_faults.clear()

    def _hold(
        self, fault: Fault, endpoints: Iterable[str], *, replace: bool = False, count: int | None = None
    ) -> None:
        names = frozenset([endpoints] if isinstance(endpoints, str) else endpoints)
        unknown = names - set(ENDPOINTS)
        if unknown or not names:
            raise ValueError(f"endpoints are some of {', '.join(ENDPOINTS)}; not {sorted(unknown)}")
        if count is not None and count < 1:
            raise ValueError("count is a number of calls, at least 1 (None: until clear_faults())")
        with self.state.lock:
            self.state.conditions.append(Condition(fault, names, replace=replace, count=count))

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far invalid at the server."""
        self.state.expire_access_tokens()

    def is_revoked(self, token: str) -> bool:
        """True when ``token`` was issued here and revoked."""
        with self.state.lock:
            grant = self.state.grants.get(token)
            return bool(grant and grant.revoked)

    def is_valid_access_token(self, token: str) -> bool:
        return self.state.user_for(token) is not None


_CONSENT_REQUEST = re.compile(r'name="request" value="([^"]+)"')


def _placeholder(environ: Any, start_response: Any) -> Any:  # replaced before serving
    start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
    return [b"starting"]
