"""The service token shared through the app's SQL database.

:class:`SQLSharedStore` gives :class:`~flask_adobe_oauth.service.AdobeService`
the four operations of a shared store (``get``, ``put``, ``claim``,
``release``) in a small table of the database of a
:class:`~flask_adobe_oauth.storage.SQLAlchemyStorage`, so that every worker
and machine of the app mints one service token per expiry, not one each.

One row per key (``adobe_oauth_shared``): the shared token's record, and
the claim of the process minting it. A claim is an ``INSERT`` of the key's
row: the primary key lets exactly one of racing processes in, and the others
wait for its token. Each row carries its expiry (Unix time in milliseconds),
past which it is ignored, and a claim past it is taken over; the service's
own lock deadline covers a holder that died. It uses SQLAlchemy Core on
connections of its own, never the app's ORM session.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

__all__ = ["SHARED_TABLE", "SQLSharedStore", "shared_table"]

#: The table's name unless another is given.
SHARED_TABLE = "adobe_oauth_shared"


def shared_table(metadata: sa.MetaData, name: str = SHARED_TABLE) -> sa.Table:
    """The shared table in ``metadata``: a key, its value and when it expires."""
    return sa.Table(
        name,
        metadata,
        sa.Column("key", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=False),  # Unix time, in milliseconds
    )


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


class SQLSharedStore:
    """A :class:`~flask_adobe_oauth.service.SharedStore` in the SQL table ``table``.

    ``engine``: an :class:`~sqlalchemy.engine.Engine`, a callable returning
    one, or anything with an ``engine`` attribute (a ``SQLAlchemyStorage``,
    Flask-SQLAlchemy's ``db``), read at each use. The table is created at
    first use (or by :meth:`create_table`, at deployment, where the app's
    database user may not create tables).
    """

    def __init__(self, engine: Engine | Callable[[], Engine] | Any, table: str = SHARED_TABLE) -> None:
        self._source = engine
        self.metadata = sa.MetaData()
        self.table = shared_table(self.metadata, table)
        self._ready = False
        self._ready_lock = threading.Lock()

    @property
    def engine(self) -> Engine:
        source = self._source
        # An Engine, a storage's engine or Flask-SQLAlchemy's, or what a callable gives.
        engine = source if isinstance(source, Engine) else getattr(source, "engine", None)
        if not isinstance(engine, Engine) and callable(source):
            engine = source()
        if isinstance(engine, Engine):
            return engine
        raise TypeError(
            f"SQLSharedStore needs an Engine, or something that gives one; got {type(source).__name__}"
        )

    def create_table(self) -> None:
        """Create the table unless it exists (one racing process may create it first)."""
        engine = self.engine
        try:
            self.table.create(engine, checkfirst=True)
        except SQLAlchemyError:
            if not sa.inspect(engine).has_table(self.table.name):
                raise

    def _engine(self) -> Engine:
        engine = self.engine
        if not self._ready:
            with self._ready_lock:
                if not self._ready:
                    self.create_table()
                    self._ready = True
        return engine

    def get(self, key: str) -> str | None:
        t = self.table
        query = sa.select(t.c.value).where(t.c.key == key, t.c.expires_at > _ms(time.time()))
        with self._engine().connect() as connection:
            value = connection.execute(query).scalar_one_or_none()
        return value if isinstance(value, str) else None

    def put(self, key: str, value: str, ttl: float) -> None:
        t = self.table
        values = {"value": value, "expires_at": _ms(time.time() + ttl)}
        engine = self._engine()
        with engine.begin() as connection:
            if connection.execute(sa.update(t).where(t.c.key == key).values(**values)).rowcount:
                return
        try:
            with engine.begin() as connection:
                connection.execute(sa.insert(t).values(key=key, **values))
        except IntegrityError:  # another process inserted it first: ours is the newer
            with engine.begin() as connection:
                connection.execute(sa.update(t).where(t.c.key == key).values(**values))

    def claim(self, key: str, value: str, ttl: float) -> bool:
        t = self.table
        now = time.time()
        engine = self._engine()
        with engine.begin() as connection:  # a claim past its expiry is nobody's
            connection.execute(sa.delete(t).where(t.c.key == key, t.c.expires_at <= _ms(now)))
        try:
            with engine.begin() as connection:
                connection.execute(sa.insert(t).values(key=key, value=value, expires_at=_ms(now + ttl)))
        except IntegrityError:  # the key's row exists: another process holds the claim
            return False
        return True

    def release(self, key: str, value: str) -> None:
        t = self.table
        with self._engine().begin() as connection:  # only our own (a late one may be another's)
            connection.execute(sa.delete(t).where(t.c.key == key, t.c.value == value))

    def __repr__(self) -> str:  # no engine URL: it may hold a password
        return f"SQLSharedStore(table={self.table.name!r})"
