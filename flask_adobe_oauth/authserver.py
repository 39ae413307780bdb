"""HTTP to Adobe's authorization server: code exchange, refresh, revoke, userinfo.

One pooled ``requests.Session`` per registered blueprint and process. Every
call has a timeout, never follows a redirect (requests would re-send the form
body, secret included, on 307/308), sends credentials only in the body or the
``Authorization`` header (RFC 6749 §2.3.1), keeps no cookies, and turns every
failure into :class:`ProviderError` whose message names the URL and the
problem but never a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote_plus

import requests

from .access import AdobeIdentity, decide, has_rules, identity_from_profile
from .config import Config
from .errors import MAX_QUOTED, NotAllowed, ProviderError, printable_text
from .protocol import is_error_code
from .tokens import Token, token_from_response
from .transport import deadline, environment_for, harden, read_capped, transport_errors, where

log = logging.getLogger("flask_adobe_oauth.signin")


class ProviderClient:
    """The calls this extension makes to the authorization server."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.http = requests.Session()
        harden(self.http)

    def send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One call, within ``timeout`` seconds in all (not per read), never
        following a redirect, with a body of at most ``max_response_bytes``
        after decompression. The session reads no environment (:func:`harden`),
        so the proxies and CA bundle are :func:`environment_for`'s."""
        cfg = self.config
        headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
        shown = where(url)
        with deadline(cfg.timeout, shown) as limit, transport_errors(url, cfg.timeout):
            wait = limit.remaining()
            response = self.http.request(
                method,
                url,
                headers=headers,
                allow_redirects=False,
                stream=True,
                timeout=(wait, wait),
                **{**environment_for(url), **kwargs},
            )
            read_capped(response, cfg.max_response_bytes, shown)
            return response

    def read_json(self, url: str, response: requests.Response) -> dict[str, Any]:
        """The JSON object of an answer, or :class:`ProviderError` saying what was wrong."""
        status = response.status_code
        if 300 <= status < 400:
            raise ProviderError(
                f"{where(url)} answered with a redirect (HTTP {status}), which is not followed"
            )
        try:
            data = response.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply to parse
            kind = response.headers.get("Content-Type", "no content type").split(";")[0][:60]
            raise ProviderError(
                f"{where(url)} did not answer JSON (HTTP {status}, {kind})", status=status
            ) from None
        if not isinstance(data, dict):
            if status != 200:
                raise ProviderError(f"{where(url)} refused the request (HTTP {status})", status=status)
            raise ProviderError(f"{where(url)} answered JSON that is not an object")
        code = data.get("error") if is_error_code(data.get("error")) else None
        if status != 200 or code:
            raise ProviderError(
                f"{where(url)} refused the request (HTTP {status}" + (f", {code})" if code else ")"),
                provider_error=code,
                status=status,
                description=printable_text(data.get("error_description"), MAX_QUOTED) if code else None,
            )
        return data

    def _authenticated_post(self, url: str, form: dict[str, str]) -> requests.Response:
        """POST ``form`` with the client's credentials, as HTTP Basic or in the
        body per ``client_auth`` (RFC 6749 §2.3.1) — never in the URL."""
        cfg = self.config
        if cfg.client_auth == "client_secret_basic":
            # §2.3.1: each part is form-urlencoded before Basic encoding.
            auth = (quote_plus(cfg.client_id), quote_plus(cfg.client_secret))
            return self.send("POST", url, data=form, auth=auth)
        return self.send(
            "POST", url, data={**form, "client_id": cfg.client_id, "client_secret": cfg.client_secret}
        )

    def _token_request(
        self, form: dict[str, str], scope: Iterable[str] | None = None, previous: str | None = None
    ) -> Token:
        cfg = self.config
        try:
            data = self.read_json(cfg.token_url, self._authenticated_post(cfg.token_url, form))
        except ProviderError as exc:
            log.warning("token request failed: %s", exc)
            raise
        scope = cfg.scope if scope is None else scope
        return token_from_response(
            data, scope, previous_refresh_token=previous, expires_in_ms=cfg.expires_in_ms
        )

    def client_credentials(self) -> Token:
        """A token for the client itself (RFC 6749 §4.4), as Adobe's OAuth
        Server-to-Server credential issues it, the scope comma-separated as
        in Adobe's examples."""
        return self._token_request({"grant_type": "client_credentials", "scope": ",".join(self.config.scope)})

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str | None) -> Token:
        """Trade an authorization code for a token (RFC 6749 §4.1.3)."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            form["code_verifier"] = code_verifier
        return self._token_request(form)

    def refresh(self, token: Token) -> Token:
        """A new token from ``token.refresh_token`` (RFC 6749 §6). Adobe rotates
        refresh tokens: the answer's replaces the old one, kept when it has none."""
        if not token.refresh_token:
            raise ProviderError("the token has no refresh token")
        form = {"grant_type": "refresh_token", "refresh_token": token.refresh_token}
        fresh = self._token_request(form, token.scope, token.refresh_token)
        if fresh.user_id is None and token.user_id:
            fresh = fresh.with_changes(user_id=token.user_id)
        # The same user: what the sign-in learnt stays (admit() decides again
        # about the organisations when the blueprint has rules).
        return fresh.with_changes(
            name=token.name, email=token.email, orgs=token.orgs, products=token.products
        )

    def revoke(self, token: Token) -> bool:
        """Ask Adobe to revoke the token (RFC 7009); True when Adobe said 2xx. The refresh
        token when there is one (§2.1: that ends its access tokens too), else the access token."""
        url = self.config.revoke_url
        if not url:
            return False
        if token.refresh_token:
            form = {"token": token.refresh_token, "token_type_hint": "refresh_token"}
        else:
            form = {"token": token.access_token, "token_type_hint": "access_token"}
        try:
            status = self._authenticated_post(url, form).status_code
        except ProviderError as exc:
            log.warning("token revocation failed: %s", exc)
            return False
        revoked = 200 <= status < 300
        if not revoked:
            log.warning("token revocation failed: %s answered HTTP %s", where(url), status)
        return revoked

    def _get_json(self, url: str, token: Token) -> dict[str, Any]:
        response = self.send("GET", url, headers={"Authorization": f"Bearer {token.access_token}"})
        return self.read_json(url, response)

    def identity(self, token: Token) -> AdobeIdentity:
        """What Adobe says about the user: the IMS profile (organisations,
        product contexts, roles) when there is one, else the OpenID Connect
        userinfo, else what the token itself says."""
        url = self.config.profile_url or self.config.userinfo_url
        return identity_from_profile(self._get_json(url, token) if url else {"userId": token.user_id})

    def admit(self, token: Token) -> Token:
        """``token`` with the organisations and products its user is admitted
        for, or :class:`~flask_adobe_oauth.errors.NotAllowed` (after revoking
        it: nothing of a refused sign-in is kept). Without rules, ``token``."""
        if not has_rules(self.config):
            return token
        try:
            identity = self.identity(token)
            orgs, products = decide(self.config, identity)
        except (NotAllowed, ProviderError):
            self.revoke(token)
            raise
        return token.with_changes(
            orgs=orgs,
            products=products,
            name=identity.name or token.name,
            email=identity.email or token.email,
        )

    def userinfo(self, token: Token) -> dict[str, Any]:
        """The OpenID Connect userinfo of the token's user."""
        if not self.config.userinfo_url:
            raise ProviderError("no userinfo_url is configured")
        return self._get_json(self.config.userinfo_url, token)
