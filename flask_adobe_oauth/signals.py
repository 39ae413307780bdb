"""Blinker signals sent at the moments apps care about.

Each is sent with the Flask app as sender::

    from flask_adobe_oauth import logged_in

    @logged_in.connect
    def remember(app, token):
        ...
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: A login completed; keyword ``token`` is the new :class:`Token`.
logged_in = _signals.signal("adobe-oauth-logged-in")
#: A login failed at the callback; keyword ``error`` is the :class:`AdobeOAuthError`.
login_failed = _signals.signal("adobe-oauth-login-failed")
#: A token was refreshed; keyword ``token`` is the new :class:`Token`.
token_refreshed = _signals.signal("adobe-oauth-token-refreshed")
#: The user logged out.
logged_out = _signals.signal("adobe-oauth-logged-out")
