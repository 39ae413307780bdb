"""What the extension tells operators, and what it keeps out of their logs.

Loggers: ``flask_adobe_oauth`` and below it ``.signin``, ``.api``, ``.storage``, ``.service``.
An outage of Adobe or of the token store is logged at WARNING at most once a
minute per kind and place (:func:`outage`), with how many more happened
meanwhile: a failing dependency fills no disk, and is never silent.

A callback's URL carries the authorization code (RFC 6749 §4.1.2) and the
state, and Werkzeug's and gunicorn's access logs print request lines whole:
:class:`HideSecretParameters`, added to those loggers when a blueprint is
registered, prints them as ``code=***`` (RFC 9700 §4.2.4: codes must not leak).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

#: The least time between two WARNINGs of one kind of outage, in seconds.
OUTAGE_LOG_INTERVAL = 60.0
#: The clock outages are spaced by (monotonic; tests move it).
_clock: Callable[[], float] = time.monotonic
_lock = threading.Lock()
#: kind -> (when it was last logged, how many were not logged since)
_outages: dict[str, tuple[float, int]] = {}


def outage(logger: logging.Logger, kind: str, message: str, *args: Any) -> None:
    """Log ``message % args`` at WARNING unless ``kind`` was logged less than
    :data:`OUTAGE_LOG_INTERVAL` ago (then count it)."""
    now = _clock()
    with _lock:
        last, missed = _outages.get(kind, (float("-inf"), 0))
        if now - last < OUTAGE_LOG_INTERVAL:
            _outages[kind] = (last, missed + 1)
            return
        _outages[kind] = (now, 0)
        if len(_outages) > 1000:  # kinds name places; never let them grow without bound
            _outages.clear()
    if missed:
        message += f" ({missed} more since the last warning)"
    logger.warning(message, *args)


def clear_outages() -> None:  # for tests
    with _lock:
        _outages.clear()


#: ``code``, ``state`` and the tokens as query parameters, in a logged request line.
_SECRET_PARAMETER = re.compile(
    r"((?:^|[?&;\s\"])(?:code|state|access_token|id_token|refresh_token|session_state)=)[^&\s\"';]*",
    re.IGNORECASE,
)


def hide_secret_parameters(text: str) -> str:
    """``text`` with the values of code, state and token parameters as ``***``."""
    return _SECRET_PARAMETER.sub(r"\1***", text)


def _hidden(value: Any) -> Any:
    return hide_secret_parameters(value) if isinstance(value, str) else value


class HideSecretParameters(logging.Filter):
    """Masks the authorization code, the state and any token in a log record's
    message and arguments (Werkzeug's request line is an argument; gunicorn's
    access log passes a dict of its fields)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _hidden(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_hidden(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _hidden(v) for k, v in record.args.items()}
        return True


#: The access logs of the servers Flask apps run under: Werkzeug's
#: development server and gunicorn.
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")


def hide_secrets_in_access_logs() -> None:
    """Add :class:`HideSecretParameters` to the access loggers, once."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, HideSecretParameters) for f in logger.filters):
            logger.addFilter(HideSecretParameters())
