"""Tokens in the app's own SQL database, through SQLAlchemy 2 (the ``sqlalchemy`` extra).

One row per login, as :class:`~flask_adobe_oauth.storage.RedisStorage` keeps
one key per login: the session holds only the row's random ``key``. The
rows carry the blueprint's name and Adobe's user id, so one table serves
every blueprint of the app, and "sign out everywhere" is one ``DELETE``.

The storage works on the table with SQLAlchemy Core, on a connection and
transaction of its own (``engine.begin()``), never on the app's ORM
session: storing a token never commits (or rolls back) what the app has
pending in ``db.session``.

Only this module imports SQLAlchemy.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from flask import session
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from ..errors import ConfigurationError
from ..tokens import Token
from .base import _KEY, DEFAULT_TTL, ServerSideStorage, parse_record, record_ttl

__all__ = ["TABLE_NAME", "AdobeTokenMixin", "SQLAlchemyStorage", "token_table"]

#: The table's name unless the app's model or table names another.
TABLE_NAME = "adobe_oauth_tokens"


#: The columns the storage reads and writes; a model or table needs all of them.
COLUMNS = ("key", "blueprint", "user_id", "token", "created_at", "updated_at", "expires_at")


class AdobeTokenMixin:
    """The columns of the token table, for a model of the app's own.

    Subclass it together with the app's declarative base (or Flask-SQLAlchemy's
    ``db.Model``) and add columns of your own; fill them with
    :class:`SQLAlchemyStorage`'s ``row_values``::

        class AdobeToken(AdobeTokenMixin, db.Model):
            app_user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

        storage = SQLAlchemyStorage(db, AdobeToken, row_values=lambda token: {"app_user_id": current_user.id})

    The table is ``adobe_oauth_tokens`` unless the subclass sets its own
    ``__tablename__``.
    """

    __tablename__ = TABLE_NAME

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The random handle the session holds (``secrets.token_urlsafe(32)``).
    key: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    #: The name of the blueprint the login belongs to (``"adobe"``).
    blueprint: Mapped[str] = mapped_column(String(255))
    #: Adobe's id of the user (``Token.user_id``), when the token response named one.
    user_id: Mapped[str | None] = mapped_column(String(255), index=True)
    #: The compact JSON of :meth:`Token.to_dict` (never the id_token).
    token: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    #: After this the row is ignored, and :meth:`SQLAlchemyStorage.purge_expired` deletes it.
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


def token_table(metadata: MetaData, name: str = TABLE_NAME, *extra: Any) -> Table:
    """The token table as a SQLAlchemy Core :class:`~sqlalchemy.Table` in ``metadata``:
    the same columns as :class:`AdobeTokenMixin`, plus ``extra`` columns and
    constraints of the app's own."""
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("key", String(64), nullable=False, unique=True, index=True),
        Column("blueprint", String(255), nullable=False),
        Column("user_id", String(255), nullable=True, index=True),
        Column("token", Text, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
        *extra,
    )


def _moment(seconds: float) -> datetime:
    """A Unix time as an aware UTC datetime (PostgreSQL's ``timestamptz``;
    SQLite stores its UTC wall time, which compares in the same order)."""
    return datetime.fromtimestamp(seconds, timezone.utc)


def _parse(raw: Any) -> Token | None:
    """The token of a stored row; None for a row that is not one (edited by hand, say)."""
    return parse_record(raw)


def _check_user_id(user_id: Any) -> None:
    """Raise unless ``user_id`` names a user: a comparison with None is SQL's
    ``IS NULL``, which matches every login whose scope gave no user id."""
    if not isinstance(user_id, str) or not user_id.strip():
        raise ValueError(
            f"user_id must be a non-empty string (an Adobe user's id), not {user_id!r}: a login "
            "without the openid scope has no user id, and None would match every such login"
        )


def use_sqlite_wal(engine: Engine, busy_timeout: float = 15.0) -> Engine:
    """Set up a SQLite ``engine`` for several threads and processes writing at once.

    Every new connection gets ``PRAGMA journal_mode=WAL`` (readers no longer
    block the writer, nor the writer them) and ``PRAGMA busy_timeout`` (a
    writer waits up to ``busy_timeout`` seconds for another one to finish
    instead of failing with "database is locked"), as SQLAlchemy's SQLite
    dialect documentation shows with a ``connect`` event. Engines of other
    databases are returned unchanged.
    """
    if engine.dialect.name != "sqlite":
        return engine

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    return engine


def _own_connections(engine: Engine) -> Engine:
    """``engine``, when it gives the storage connections of its own; raise when
    its pool hands every user one shared connection (``StaticPool``,
    ``SingletonThreadPool``: SQLAlchemy's and Flask-SQLAlchemy's choice for an
    in-memory SQLite database). There the storage's COMMIT would commit what
    the app's session has only flushed, and its ROLLBACK undo it."""
    if isinstance(engine.pool, (StaticPool, SingletonThreadPool)):
        raise ConfigurationError(
            "SQLAlchemyStorage needs a database whose connections are not shared with the app's "
            f"session, and this engine's {type(engine.pool).__name__} shares one (an in-memory SQLite "
            "database): use a SQLite file (sqlite:///tokens.db) or another database"
        )
    return engine


class SQLAlchemyStorage(ServerSideStorage):
    """Tokens in a table of the app's database (SQLAlchemy 2), one row per login.

    ::

        storage = SQLAlchemyStorage(engine)          # the default table, adobe_oauth_tokens
        storage.create_table()                       # or storage.metadata.create_all(engine)
        app.register_blueprint(make_adobe_blueprint(storage=storage), url_prefix="/adobe")

    Args:
        engine: an :class:`~sqlalchemy.engine.Engine`; or a callable returning
            one; or anything with an ``engine`` attribute, such as
            Flask-SQLAlchemy's ``db`` (read at each use, in the app context).
        model: a declarative model made with :class:`AdobeTokenMixin`, or a
            :class:`~sqlalchemy.Table` with its columns (:func:`token_table`).
            None: a table ``adobe_oauth_tokens`` in :attr:`metadata`.
        blueprint: the blueprint's name the rows are stored under. None (the
            default): the name of the blueprint the storage is given to; each
            blueprint registered with it gets a copy of its own
            (:meth:`for_blueprint`), so one storage object serves several
            blueprints, each with its own rows and its own key in the session
            (``session_key``, plus ``_<name>`` for a blueprint not named
            ``adobe``).
        row_values: called with the token at each insert and update; returns
            values for columns of the app's own (``{"app_user_id": current_user.id}``).
            Naming one of the storage's own columns (or ``id``) is a
            :class:`~flask_adobe_oauth.errors.ConfigurationError`.
        ttl: the longest a row is used, in seconds (the refresh token's
            lifetime when shorter).
        session_key: the session key holding the row's key.
        successor_wait: after Adobe refused a refresh, the longest a request
            waits for the token another worker's refresh is storing (seconds;
            :class:`~flask_adobe_oauth.storage.ServerSideStorage`).

    :meth:`set` for the user the session's row already belongs to (a
    refresh) updates that row in place, keeping its key: requests that raced
    the refresh in other workers or instances read the new token at the
    same key. Any other :meth:`set` (another user, no row) inserts a row
    under a fresh key and deletes the old row, so a key planted in a browser
    before the login never names the new token. A sign-in through the
    blueprint deletes the previous sign-in first
    (:meth:`~flask_adobe_oauth.extension.AdobeContext.store_login`), so signing in
    again as the same user gets a fresh key too.

    SQL has no expiry of its own: expired rows are ignored and deleted by
    :meth:`purge_expired` (run it now and then, from a scheduled job or
    ``flask shell``). A failing database becomes
    :class:`~flask_adobe_oauth.errors.StorageUnavailable` (a 503 page), without
    the driver's message.
    """

    def __init__(
        self,
        engine: Engine | Callable[[], Engine] | Any,
        model: Any = None,
        *,
        blueprint: str | None = None,
        row_values: Callable[[Token], Mapping[str, Any]] | None = None,
        ttl: int = DEFAULT_TTL,
        session_key: str = "_ao_k",
        successor_wait: float = 2.0,
    ) -> None:
        super().__init__(session_key=session_key, ttl=ttl, successor_wait=successor_wait)
        if model is None:
            self.metadata = MetaData()
            self.table = token_table(self.metadata)
        else:
            table = model if isinstance(model, Table) else getattr(model, "__table__", None)
            if not isinstance(table, Table):
                raise TypeError(
                    "SQLAlchemyStorage's model must be a declarative model (with AdobeTokenMixin) or a Table"
                )
            self.table = table
            self.metadata = table.metadata
        missing = [name for name in COLUMNS if name not in self.table.c]
        if missing:
            raise TypeError(f"the table {self.table.name!r} lacks the columns {', '.join(missing)}")
        t = self.table
        # Built once: making the statement anew costs more than the round trip.
        self._read_query = select(t.c.token).where(
            t.c.key == bindparam("key"),
            t.c.blueprint == bindparam("blueprint"),
            t.c.expires_at > bindparam("now"),
        )
        self.model = model
        self.blueprint = blueprint
        self.row_values = row_values
        self._engine_source = engine
        self._errors = (SQLAlchemyError,)
        self._backend = "the token database"

    @classmethod
    def from_url(
        cls, url: str, model: Any = None, *, engine_options: Mapping[str, Any] | None = None, **options: Any
    ) -> SQLAlchemyStorage:
        """A storage on a new engine for ``url`` (``postgresql+psycopg://...``, ``sqlite:///tokens.db``).

        A SQLite engine is set up by :func:`use_sqlite_wal`. A pooled
        connection the database dropped (a restart) is replaced when a read
        meets it, and the read is tried again, so a restarted database costs
        no failed page load, and no ping (``pool_pre_ping``) before each use.
        """
        engine = create_engine(url, **(engine_options or {}))
        return cls(use_sqlite_wal(engine), model, **options)

    # -- the database -------------------------------------------------------------------

    @property
    def engine(self) -> Engine:
        """The engine, found anew at each use (Flask-SQLAlchemy's ``db.engine``
        belongs to the current app)."""
        source = self._engine_source
        if isinstance(source, Engine):
            return _own_connections(source)
        bound = getattr(source, "engine", None)
        if isinstance(bound, Engine):
            return _own_connections(bound)
        if callable(source):
            made = source()
            if isinstance(made, Engine):
                return _own_connections(made)
        raise TypeError(
            "SQLAlchemyStorage needs an Engine, a callable returning one, or an object with an "
            f"`engine` attribute (Flask-SQLAlchemy's db); got {type(source).__name__}"
        )

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """A connection in a transaction of the storage's own, committed at the end;
        database errors as :class:`StorageUnavailable`."""
        with self._unavailable_on_error(), self.engine.begin() as connection:
            yield connection

    def create_table(self) -> None:
        """Create the table (and its indexes) unless it exists. Not in a request;
        errors are SQLAlchemy's own, to read at deployment."""
        self.table.create(self.engine, checkfirst=True)

    # -- which blueprint ----------------------------------------------------------------

    # for_blueprint is ServerSideStorage's: a copy storing under the blueprint's
    # name when none was configured, else itself (engine, table and hooks shared).

    def _blueprint_name(self) -> str:
        """The blueprint the rows are stored under: the configured (or bound)
        one, else ``adobe`` (a storage used outside a blueprint)."""
        return self.blueprint if self.blueprint is not None else "adobe"

    def _current(self) -> tuple[str, str, str | None]:
        """The blueprint, its session key, and the row key the session holds
        there (None when it holds none that could be one)."""
        blueprint = self._blueprint_name()
        session_key = self._session_key()
        key = session.get(session_key)
        return blueprint, session_key, key if isinstance(key, str) and _KEY.match(key) else None

    # -- the storage interface ----------------------------------------------------------

    def get(self) -> Token | None:
        blueprint, _, key = self._current()
        return None if key is None else _parse(self._read_row(key, blueprint))

    def _read_row(self, key: str, blueprint: str) -> str | None:
        params = {"key": key, "blueprint": blueprint, "now": _moment(time.time())}
        with self._unavailable_on_error():
            try:
                raw = self._select_one(params)
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
                # A pooled connection the database dropped (a restart, a
                # failover): SQLAlchemy has replaced the pool's connections.
                raw = self._select_one(params)
        return raw if isinstance(raw, str) else None

    def _select_one(self, params: dict[str, Any]) -> Any:
        """The token the read query selects, in one round trip: autocommit, as a
        single SELECT needs no transaction (no BEGIN, no ROLLBACK)."""
        with self.engine.connect() as connection:
            return (
                connection.execution_options(isolation_level="AUTOCOMMIT")
                .execute(self._read_query, params)
                .scalar_one_or_none()
            )

    def set(self, token: Token) -> None:
        blueprint, session_key, old = self._current()
        key = secrets.token_urlsafe(32)
        self._make_room(session_key, key)
        now = time.time()
        values: dict[str, Any] = dict(self.row_values(token)) if self.row_values is not None else {}
        taken = sorted(name for name in values if name in COLUMNS or name == "id")
        if taken:
            # Moving a row to another key or blueprint would hand one login's
            # token to another; the storage fills these columns itself.
            raise ConfigurationError(
                f"SQLAlchemyStorage's row_values may fill only the app's own columns, not {', '.join(taken)}"
            )
        values.update(
            token=json.dumps(token.to_dict(), separators=(",", ":")),
            user_id=token.user_id,
            updated_at=_moment(now),
            expires_at=_moment(now + record_ttl(token, self.ttl, now)),
        )
        t = self.table
        with self._begin() as connection:
            if old is not None and token.user_id is not None:
                # A refresh of the same login: one UPDATE, atomic under concurrency
                # (the row lock orders racing writers), and the key stays.
                same_login = update(t).where(
                    t.c.key == old,
                    t.c.blueprint == blueprint,
                    t.c.user_id == token.user_id,
                    t.c.expires_at > _moment(now),
                )
                if connection.execute(same_login.values(**values)).rowcount:
                    return
            connection.execute(
                insert(t).values(key=key, blueprint=blueprint, created_at=_moment(now), **values)
            )
            if old is not None:
                connection.execute(delete(t).where(t.c.key == old, t.c.blueprint == blueprint))
        session[session_key] = key

    def delete(self) -> None:
        blueprint, session_key, key = self._current()
        if key is not None:
            t = self.table
            with self._begin() as connection:
                connection.execute(delete(t).where(t.c.key == key, t.c.blueprint == blueprint))
        session.pop(session_key, None)

    # -- outside a request: every login of a user, housekeeping ----------------------------

    def tokens_for_user(self, user_id: str, blueprint: str | None = None) -> list[Token]:
        """The live tokens of Adobe user ``user_id`` (of one blueprint, or all),
        the most recently stored first. Needs no request. ``user_id`` must be a
        user's id: None (a login without ``openid`` has none) is refused."""
        _check_user_id(user_id)
        t = self.table
        query = select(t.c.token).where(t.c.user_id == user_id, t.c.expires_at > _moment(time.time()))
        if blueprint is not None:
            query = query.where(t.c.blueprint == blueprint)
        query = query.order_by(t.c.updated_at.desc(), t.c.id.desc())
        with self._unavailable_on_error(), self.engine.connect() as connection:
            raws = connection.execute(query).scalars().all()
        return [token for token in map(_parse, raws) if token is not None]

    def delete_for_user(self, user_id: str, blueprint: str | None = None) -> int:
        """Delete every login of Adobe user ``user_id`` (of one blueprint, or all):
        "sign out everywhere". The number of rows deleted. Needs no request.
        None or an empty id is refused: it would match every login without a
        user id (SQL ``IS NULL``), signing out everyone who has none."""
        _check_user_id(user_id)
        t = self.table
        statement = delete(t).where(t.c.user_id == user_id)
        if blueprint is not None:
            statement = statement.where(t.c.blueprint == blueprint)
        with self._begin() as connection:
            return int(connection.execute(statement).rowcount)

    def purge_expired(self) -> int:
        """Delete the rows past their expiry; the number deleted."""
        t = self.table
        with self._begin() as connection:
            return int(connection.execute(delete(t).where(t.c.expires_at <= _moment(time.time()))).rowcount)

    def __repr__(self) -> str:  # no engine URL: it may hold a password
        return f"SQLAlchemyStorage(table={self.table.name!r}, blueprint={self.blueprint!r}, ttl={self.ttl})"
