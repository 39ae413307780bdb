"""What the extension tells operators, and what it keeps out of their logs.

Loggers, one per part, so an operator can tune them apart: ``flask_adobe_oauth``
(and below it ``.signin``, ``.api``, ``.storage``, ``.service``).

* An outage of Adobe (a call that fails, times out, or is answered 5xx) or
  of the token store is logged at WARNING, at most once a minute per kind
  and place (:func:`outage`), with how many more happened meanwhile: a
  failing dependency fills no disk, and is never silent. Messages name
  where (a URL without its query or password), never a secret.
* A callback's URL carries the authorization code (RFC 6749 §4.1.2) and the
  state; Werkzeug's and gunicorn's access logs print request lines whole.
  :class:`HideSecretParameters`, added to those loggers when a blueprint
  is registered, prints them as ``code=***`` (RFC 9700 §4.2.4: codes must
  not leak, through logs or otherwise).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("flask_adobe_oauth")

#: The least time between two WARNINGs of one kind of outage, in seconds.
OUTAGE_LOG_INTERVAL = 60.0
#: The clock outages are spaced by (monotonic; tests move it).
_clock: Callable[[], float] = time.monotonic
_lock = threading.Lock()
#: kind -> (when it was last logged, how many were not logged since)
_outages: dict[str, tuple[float, int]] = {}


def outage(logger: logging.Logger, kind: str, message: str, *args: Any) -> bool:
    """Log ``message % args`` at WARNING unless ``kind`` was logged less than
    :data:`OUTAGE_LOG_INTERVAL` ago (then count it); True when logged."""
    now = _clock()
    with _lock:
        last, missed = _outages.get(kind, (float("-inf"), 0))
        if now - last < OUTAGE_LOG_INTERVAL:
            _outages[kind] = (last, missed + 1)
            return False
        _outages[kind] = (now, 0)
        if len(_outages) > 1000:  # kinds name places; never let them grow without bound
            _outages.clear()
    if missed:
        message += f" ({missed} more since the last warning)"
    logger.warning(message, *args)
    return True


def clear_outages() -> None:
    """Forget which outages were logged (tests)."""
    with _lock:
        _outages.clear()


#: ``code``, ``state`` and the tokens as query parameters, in a logged request line.
_SECRET_PARAMETER = re.compile(
    r"((?:^|[?&;\s\"])(?:code|state|access_token|id_token|refresh_token|session_state)=)[^&\s\"';]*",
    re.IGNORECASE,
)


def hide_secret_parameters(text: str) -> str:
    """``text`` with the values of code, state and token parameters as ``***``."""
    return _SECRET_PARAMETER.sub(r"\1***", text) if "=" in text else text


class HideSecretParameters(logging.Filter):
    """Masks the authorization code, the state and any token in a log record's
    message and arguments (Werkzeug's request line is an argument; gunicorn's
    access log passes a dict of its fields)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = hide_secret_parameters(record.msg)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(hide_secret_parameters(a) if isinstance(a, str) else a for a in args)
        elif isinstance(args, dict):
            record.args = {k: hide_secret_parameters(v) if isinstance(v, str) else v for k, v in args.items()}
        return True


#: The access logs of the servers Flask apps run under: Werkzeug's
#: development server and gunicorn.
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")
_installed = threading.Event()


def hide_secrets_in_access_logs() -> None:
    """Add :class:`HideSecretParameters` to the access loggers, once per process."""
    if _installed.is_set():
        return
    _installed.set()
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideSecretParameters) for f in logger.filters):
            logger.addFilter(HideSecretParameters())
