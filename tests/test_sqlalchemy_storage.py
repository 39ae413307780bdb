"""What only the SQL storage does (``flask_adobe_oauth.storage.sqla``), on a SQLite
file and on a real PostgreSQL server: the app's own model with its own
columns (Flask-SQLAlchemy and plain SQLAlchemy), several blueprints in one
table, every login of a user, expiry, the app's ORM session left alone, a
database that is down, and refresh rotation in place under concurrency.

The behaviour every server-side storage shares (key rotation, logout,
several app instances) is checked for this one too, in ``test_storage.py``.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask, jsonify
from flask.testing import FlaskClient
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import (
    Column,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    select,
    text,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from flask_adobe_oauth import Token, adobe, adobe_login_required, make_adobe_blueprint
from flask_adobe_oauth.extension import context
from flask_adobe_oauth.storage import SQLAlchemyStorage as LazySQLAlchemyStorage
from flask_adobe_oauth.storage.sqla import TABLE_NAME, AdobeTokenMixin, SQLAlchemyStorage, token_table
from flask_adobe_oauth.testing import StandInAdobe, User, login_as

from .helpers import (
    SECRET_KEY,
    authorize,
    cookie_session,
    local,
    login,
    make_app,
    session_cookie,
    store_expired,
)
from .postgres_fixture import _engines_fixture, _postgres_server_fixture, _postgres_url_fixture
from .redis_fixture import free_port

__all__ = ["_engines_fixture", "_postgres_server_fixture", "_postgres_url_fixture"]  # fixtures used by name

EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "sqlalchemy_app.py"


@pytest.fixture(name="sql_url", params=["sqlite", "postgresql"])
def _sql_url_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database: a SQLite file, or the test PostgreSQL server's database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def new_storage(
    url: str, engines: Callable[[Engine], Engine], model: Any = None, **options: Any
) -> SQLAlchemyStorage:
    storage = SQLAlchemyStorage.from_url(url, model, **options)
    engines(storage.engine)
    storage.create_table()
    return storage


def rows(storage: SQLAlchemyStorage) -> list[Any]:
    """Every row of the storage's table, oldest first."""
    with storage.engine.connect() as connection:
        return list(connection.execute(select(storage.table).order_by(storage.table.c.id)))


def expire_login(client: FlaskClient) -> Token:
    """Make ``client``'s stored token one whose access token has expired (its
    refresh token still the live one); the token stored."""
    storage = client.application.extensions["adobe_oauth"]["adobe"].storage
    (row,) = rows(storage)
    return store_expired(client, Token.from_dict(json.loads(row.token)))


# -- the package's surface -------------------------------------------------------------


def test_the_storage_module_names_it_lazily_and_the_default_table_matches_the_mixin() -> None:
    assert LazySQLAlchemyStorage is SQLAlchemyStorage

    class Base(DeclarativeBase):
        pass

    class Model(AdobeTokenMixin, Base):
        pass

    core = token_table(MetaData())
    mixin = Model.__table__
    assert mixin.name == core.name == TABLE_NAME
    assert [c.name for c in core.columns] == [c.name for c in mixin.columns]
    for column in core.columns:
        twin = mixin.c[column.name]
        assert repr(column.type) == repr(twin.type), column.name
        assert (column.nullable, column.primary_key, column.unique, column.index) == (
            twin.nullable,
            twin.primary_key,
            twin.unique,
            twin.index,
        ), column.name
    partial = Table("partial", MetaData(), Column("id", Integer, primary_key=True), Column("key", String(64)))
    with pytest.raises(TypeError, match="lacks the columns blueprint, user_id, token"):
        SQLAlchemyStorage(create_engine("sqlite://"), partial)
    with pytest.raises(TypeError, match="declarative model"):
        SQLAlchemyStorage(create_engine("sqlite://"), object())
    assert "password" not in repr(SQLAlchemyStorage(create_engine("postgresql+psycopg://u:password@h/db")))


# -- the app's own model ---------------------------------------------------------------


def test_a_flask_sqlalchemy_model_with_the_apps_own_column_filled_by_row_values(
    standin: StandInAdobe, sql_url: str, engines: Callable[[Engine], Engine]
) -> None:
    """``db.Model`` + the mixin + a foreign key to the app's users; the storage
    rides on ``db`` (its engine read in the app context)."""

    class Base(DeclarativeBase):
        pass

    db = SQLAlchemy(model_class=Base)

    class AppUser(db.Model):  # type: ignore[name-defined,misc]
        __tablename__ = "app_user"
        id: Mapped[int] = mapped_column(Integer, primary_key=True)
        email: Mapped[str] = mapped_column(String(200))

    class AdobeToken(AdobeTokenMixin, db.Model):  # type: ignore[name-defined,misc]
        app_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    current: dict[str, int] = {}
    storage = SQLAlchemyStorage(db, AdobeToken, row_values=lambda token: {"app_user_id": current.get("id")})
    app = make_app(standin, storage=storage)
    app.config["SQLALCHEMY_DATABASE_URI"] = sql_url
    db.init_app(app)
    with app.app_context():
        engines(db.engine)
        db.create_all()
        user = AppUser(email="ada@example.com")
        db.session.add(user)
        db.session.commit()
        current["id"] = user.id

    client = app.test_client()
    assert login(client).status_code == 302
    assert client.get("/dashboard").json["user"] == standin.state.user.sub

    with app.app_context():
        (row,) = db.session.scalars(select(AdobeToken)).all()
        assert row.app_user_id == current["id"] and row.user_id == standin.state.user.sub
        assert row.blueprint == "adobe" and row.key == cookie_session(app, session_cookie(client))["_ao_k"]
        assert storage.tokens_for_user(standin.state.user.sub)[0].access_token in row.token
    assert client.post("/adobe/logout").status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AdobeToken)) == 0
        db.session.remove()


def test_a_plain_declarative_model_on_an_engine_with_the_apps_own_column(
    standin: StandInAdobe, sql_url: str, engines: Callable[[Engine], Engine]
) -> None:
    class Base(DeclarativeBase):
        pass

    class Account(Base):
        __tablename__ = "account"
        id: Mapped[int] = mapped_column(primary_key=True)

    class Login(AdobeTokenMixin, Base):
        __tablename__ = "logins"
        account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"))
        agent: Mapped[str | None] = mapped_column(String(100))

    engine = engines(create_engine(sql_url))
    Base.metadata.create_all(engine)
    with Session(engine) as orm:
        orm.add(Account(id=7))
        orm.commit()
    storage = SQLAlchemyStorage(
        lambda: engine, Login, row_values=lambda token: {"account_id": 7, "agent": "tests"}
    )
    client = make_app(standin, storage=storage).test_client()
    login(client)
    assert client.get("/dashboard").status_code == 200

    with Session(engine) as orm:
        (row,) = orm.scalars(select(Login)).all()
        assert (row.account_id, row.agent) == (7, "tests")
        assert json.loads(row.token)["u"] == standin.state.user.sub  # the storage's own column wins


@pytest.mark.parametrize("sql_url", ["postgresql"], indirect=True)  # SQLite: one writer at a time
def test_the_storage_never_commits_the_apps_pending_orm_changes(
    standin: StandInAdobe, sql_url: str, engines: Callable[[Engine], Engine]
) -> None:
    class Base(DeclarativeBase):
        pass

    db = SQLAlchemy(model_class=Base)

    class Note(db.Model):  # type: ignore[name-defined,misc]
        id: Mapped[int] = mapped_column(primary_key=True)
        text: Mapped[str] = mapped_column(String(50))

    storage = SQLAlchemyStorage(db)
    app = make_app(standin, storage=storage)
    app.config["SQLALCHEMY_DATABASE_URI"] = sql_url

    @app.get("/note")
    def note() -> Any:
        db.session.add(Note(text="pending"))
        db.session.flush()  # written in the app's transaction, not committed
        adobe.store(Token("access", expires_at=time.time() + 3600, user_id="ada@AdobeID"))
        db.session.rollback()  # the app changes its mind
        return "ok"

    db.init_app(app)
    with app.app_context():
        engines(db.engine)
        db.create_all()
        storage.metadata.create_all(db.engine)
    client = app.test_client()
    assert client.get("/note").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Note)) == 0  # not committed by the storage
        (row,) = rows(storage)  # while the token was
        assert row.user_id == "ada@AdobeID"
        db.session.remove()
    assert client.get("/dashboard").json["user"] == "ada@AdobeID"


# -- several blueprints, every login of a user, expiry ----------------------------------


def two_blueprint_app(standin: StandInAdobe, storage: SQLAlchemyStorage) -> Flask:
    """One storage object for two blueprints; a view of each, and an app view
    guarded for ``reports`` by name."""
    app = make_app(standin, scope=["openid", "AdobeID", "offline_access"], storage=storage)
    app.register_blueprint(
        make_adobe_blueprint(
            name="reports", scope=["openid", "AdobeID", "offline_access", "Report"], storage=storage
        ),
        url_prefix="/r",
    )

    @app.get("/reports-scope")
    @adobe_login_required(blueprint="reports")
    def reports_scope() -> Any:
        token = context("reports").token
        assert token is not None
        return jsonify(scope=sorted(token.scope))

    return app


def test_two_blueprints_sharing_one_storage_keep_separate_rows_and_session_keys(
    standin: StandInAdobe, sql_url: str, engines: Callable[[Engine], Engine]
) -> None:
    storage = new_storage(sql_url, engines)
    app = two_blueprint_app(standin, storage)
    client = app.test_client()
    login(client)
    assert client.get("/reports-scope").status_code == 302  # not signed in to reports yet
    callback = client.get("/r/login")
    assert client.get(local(authorize(callback.headers["Location"]))).status_code == 302

    held = cookie_session(app, session_cookie(client))
    assert set(held) >= {"_ao_k", "_ao_k_reports"} and held["_ao_k"] != held["_ao_k_reports"]
    by_blueprint = {row.blueprint: row for row in rows(storage)}
    assert set(by_blueprint) == {"adobe", "reports"}
    assert by_blueprint["adobe"].key == held["_ao_k"] and by_blueprint["reports"].key == held["_ao_k_reports"]
    assert "Report" in client.get("/reports-scope").json["scope"]
    assert "Report" not in client.get("/dashboard").json["scope"]
    user = standin.state.user.sub
    assert len(storage.tokens_for_user(user)) == 2 and len(storage.tokens_for_user(user, "reports")) == 1

    # A refresh of one blueprint's login leaves the other's row alone.
    login_as(
        client, blueprint="reports", user_id=user, scope=["openid", "AdobeID", "offline_access", "Report"]
    )
    assert {row.blueprint: row.key for row in rows(storage)} == {
        "adobe": held["_ao_k"],
        "reports": held["_ao_k_reports"],
    }

    assert client.post("/r/logout").status_code == 303
    assert [row.blueprint for row in rows(storage)] == ["adobe"]
    assert client.get("/dashboard").status_code == 200
    assert client.get("/reports-scope").status_code == 302


def test_tokens_for_user_and_sign_out_everywhere_outside_a_request(
    standin: StandInAdobe, sql_url: str, engines: Callable[[Engine], Engine]
) -> None:
    storage = new_storage(sql_url, engines)
    app = make_app(standin, storage=storage)
    laptop, phone, other = app.test_client(), app.test_client(), app.test_client()
    login(laptop)
    login(phone)
    ada = standin.state.user.sub
    standin.state.user = User(sub="BOB000000000000000000000@AdobeID", email="bob@example.com")
    login(other)

    assert len(storage.tokens_for_user(ada)) == 2  # no request, no app context needed
    assert all(t.user_id == ada and not t.expired for t in storage.tokens_for_user(ada))
    assert storage.tokens_for_user(ada, blueprint="reports") == []

    assert storage.delete_for_user(ada) == 2
    assert laptop.get("/dashboard").status_code == 302
    assert phone.get("/dashboard").status_code == 302
    assert other.get("/dashboard").status_code == 200
    assert [row.user_id for row in rows(storage)] == [standin.state.user.sub]


def test_an_expired_or_malformed_row_signs_nobody_in_and_purge_deletes_expired_rows(
    standin: StandInAdobe, sql_url: str, engines: Callable[[Engine], Engine]
) -> None:
    storage = new_storage(sql_url, engines)
    app = make_app(standin, storage=storage)
    old, bad, fine = app.test_client(), app.test_client(), app.test_client()
    for client in (old, bad, fine):
        login(client)
    t = storage.table
    keys = [cookie_session(app, session_cookie(c))["_ao_k"] for c in (old, bad)]
    with storage.engine.begin() as connection:
        connection.execute(update(t).where(t.c.key == keys[0]).values(expires_at=t.c.created_at))
        connection.execute(update(t).where(t.c.key == keys[1]).values(token='{"not": "a token"'))

    assert old.get("/dashboard").status_code == 302
    assert bad.get("/dashboard").status_code == 302
    assert fine.get("/dashboard").status_code == 200
    assert len(storage.tokens_for_user(standin.state.user.sub)) == 1  # the malformed one is skipped too

    assert storage.purge_expired() == 1
    assert sorted(row.key for row in rows(storage)) == sorted(
        [keys[1], cookie_session(app, session_cookie(fine))["_ao_k"]]
    )
    assert storage.purge_expired() == 0


# -- a database that is down -------------------------------------------------------------


@pytest.mark.parametrize("kind", ["postgresql", "sqlite"])
def test_a_database_that_is_down_gives_a_503_page_without_the_password(
    standin: StandInAdobe, kind: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cret-Pa55word"
    if kind == "postgresql":  # nothing listens there
        url = f"postgresql+psycopg://adobe:{secret}@127.0.0.1:{free_port()}/tokens?connect_timeout=2"
    else:  # a directory that does not exist
        url = f"sqlite:///{tmp_path / secret / 'tokens.db'}"
    storage = SQLAlchemyStorage.from_url(url)
    client = make_app(standin, storage=storage).test_client()

    with caplog.at_level(logging.DEBUG):
        response = login(client)
        guarded = client.get("/dashboard", headers={"Accept": "application/json"})

    assert response.status_code == 503
    assert b"storage_unavailable" in response.data
    assert secret.encode() not in response.data and secret not in str(response.headers)
    assert guarded.status_code in (302, 401)  # nothing stored, so nothing to read
    assert secret not in caplog.text
    assert secret not in repr(storage)
    storage.engine.dispose()


def test_a_postgresql_restart_costs_one_503_at_most_and_no_500(
    standin: StandInAdobe, postgres_url: str, engines: Callable[[Engine], Engine]
) -> None:
    """Connections the database dropped (a restart, a failover) are replaced:
    a read that meets one is tried again on a new connection."""
    storage = new_storage(postgres_url, engines)
    client = make_app(standin, storage=storage).test_client()
    login(client)
    assert client.get("/dashboard").status_code == 200
    admin = engines(create_engine(postgres_url, isolation_level="AUTOCOMMIT"))
    with admin.connect() as connection:  # drop every other connection to the database
        connection.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    assert client.get("/dashboard").status_code == 200


# -- refresh rotation in place, under concurrency ---------------------------------------


def test_a_refresh_updates_the_row_in_place_keeping_its_key(
    standin: StandInAdobe, sql_url: str, engines: Callable[[Engine], Engine]
) -> None:
    storage = new_storage(sql_url, engines)
    app = make_app(standin, storage=storage)
    client = app.test_client()
    login(client)
    (before,) = rows(storage)
    stale = expire_login(client)
    key = cookie_session(app, session_cookie(client))["_ao_k"]
    assert key == before.key  # storing the same user's token again: the same row

    assert client.get("/me").status_code == 200  # refreshes

    (after,) = rows(storage)
    assert (after.id, after.key, after.created_at) == (before.id, before.key, before.created_at)
    fresh = Token.from_dict(json.loads(after.token))
    assert fresh.refresh_token != stale.refresh_token and not fresh.expired
    assert after.updated_at >= before.updated_at
    assert cookie_session(app, session_cookie(client))["_ao_k"] == key
    assert [c.status for c in standin.token_calls() if c.grant_type == "refresh_token"] == [200]


def test_a_burst_of_refreshes_across_two_instances_leaves_one_row_with_a_valid_token(
    standin: StandInAdobe, sql_url: str, engines: Callable[[Engine], Engine]
) -> None:
    """Many requests of one user, their access token expired, on two app
    instances (two workers) at once: one refresh wins at Adobe, the other
    instance's is refused and finds the winner's token in the same row."""
    instances = [make_app(standin, storage=new_storage(sql_url, engines)) for _ in range(2)]
    first = instances[0].test_client()
    login(first)
    expire_login(first)
    cookie = session_cookie(first)
    (before,) = rows(instances[0].extensions["adobe_oauth"]["adobe"].storage)

    per_instance = 6
    start = threading.Barrier(2 * per_instance)
    answers: list[tuple[int, int, str | None]] = []
    lock = threading.Lock()

    def user_request(app: Flask) -> None:
        client = app.test_client()
        client.set_cookie("session", cookie)
        start.wait(10)
        response = client.get("/me")
        held = client.get_cookie("session")
        with lock:
            answers.append(
                (
                    id(app),
                    response.status_code,
                    cookie_session(app, held.value).get("_ao_k") if held else None,
                )
            )

    threads = [
        threading.Thread(target=user_request, args=(app,)) for app in instances for _ in range(per_instance)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(status for _, status, _ in answers) == [200] * (2 * per_instance), answers
    assert {key for _, _, key in answers} == {before.key}  # every answer leaves the same key
    (after,) = rows(instances[0].extensions["adobe_oauth"]["adobe"].storage)
    assert after.key == before.key and after.id == before.id
    fresh = Token.from_dict(json.loads(after.token))
    assert not fresh.expired
    refreshes = [c.status for c in standin.token_calls() if c.grant_type == "refresh_token"]
    # One refresh won; the others (a refusal is not shared beyond the requests
    # already waiting on it) were refused and read the winner's token instead.
    assert refreshes.count(200) == 1 and set(refreshes) <= {200, 400}
    live = [
        value for value, grant in standin.state.grants.items() if grant.kind == "refresh" and not grant.used
    ]
    assert fresh.refresh_token in live
    # Both instances go on with the row's token, without another refresh.
    for app in instances:
        client = app.test_client()
        client.set_cookie("session", cookie)
        assert client.get("/me").status_code == 200
    assert len([c for c in standin.token_calls() if c.grant_type == "refresh_token"]) == len(refreshes)


# -- the README's example ---------------------------------------------------------------


@pytest.fixture(name="example")
def _example_fixture(
    monkeypatch: pytest.MonkeyPatch, adobe_standin: StandInAdobe, sql_url: str
) -> Iterator[ModuleType]:
    """``docs/examples/sqlalchemy_app.py`` loaded as a deployment would: its
    settings from the environment, next to the Quickstart's ``app.py``."""
    monkeypatch.setenv("SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("ADOBE_OAUTH_CLIENT_ID", adobe_standin.client_id)
    monkeypatch.setenv("ADOBE_OAUTH_CLIENT_SECRET", adobe_standin.client_secret)
    monkeypatch.setenv("DATABASE_URL", sql_url)
    monkeypatch.syspath_prepend(str(EXAMPLE.parent))
    monkeypatch.delitem(sys.modules, "app", raising=False)
    spec = importlib.util.spec_from_file_location("sqlalchemy_app_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.app.config.update(adobe_standin.config())  # after registration: used from the next request
    try:
        yield module
    finally:
        with module.app.app_context():
            module.db.session.remove()
            module.db.engine.dispose()
        sys.modules.pop("app", None)


def test_the_readme_example_keeps_tokens_in_the_apps_database_with_its_own_column(
    example: ModuleType, adobe_standin: StandInAdobe
) -> None:
    app, db, model = example.app, example.db, example.AdobeToken
    client = app.test_client()
    assert adobe_standin.sign_in(client, next_url="/").status_code == 302
    assert client.get("/").json["companies"] == ["Example Corp", "Acme Outdoor"]
    with app.app_context():
        (row,) = db.session.scalars(select(model)).all()
        assert row.user_agent.startswith("Werkzeug/") and row.user_id == adobe_standin.state.user.sub
        assert row.key == cookie_session(app, session_cookie(client))["_ao_k"]
        db.session.remove()
    assert client.post("/adobe/logout", headers={"Sec-Fetch-Site": "same-origin"}).status_code == 303
    with app.app_context():
        assert db.session.scalars(select(model)).all() == []
        db.session.remove()
    assert client.get("/").status_code == 302


# -- mistakes refused -------------------------------------------------------------------------------


def test_an_in_memory_sqlite_engine_sharing_the_apps_connection_is_refused(standin: StandInAdobe) -> None:
    """There the storage's COMMIT would commit what the app's session only flushed."""
    storage = SQLAlchemyStorage(create_engine("sqlite://"))  # SingletonThreadPool: one shared connection
    app = make_app(standin, storage=storage)
    client = app.test_client()
    response = login(client)
    assert response.status_code == 500
    assert b"in-memory SQLite" in response.data and b"sqlite:///tokens.db" in response.data


@pytest.mark.parametrize("column", ["key", "blueprint", "user_id", "token", "expires_at", "id"])
def test_row_values_may_not_fill_the_storages_own_columns(
    standin: StandInAdobe, tmp_path: Path, engines: Callable[[Engine], Engine], column: str
) -> None:
    storage = new_storage(
        f"sqlite:///{tmp_path / 'tokens.db'}", engines, row_values=lambda token: {column: "x"}
    )
    client = make_app(standin, storage=storage).test_client()
    response = login(client)
    assert response.status_code == 500
    assert f"own columns, not {column}<br>".encode() in response.data
    assert rows(storage) == []


@pytest.mark.parametrize("nobody", [None, "", "   "])
def test_every_login_of_no_user_is_refused_not_every_row_without_an_id(
    standin: StandInAdobe, sql_url: str, engines: Callable[[Engine], Engine], nobody: Any
) -> None:
    """Issue #27, 4: ``user_id=None`` became SQL ``IS NULL``: with a scope
    without ``openid`` (no user id), "sign out everywhere" with
    ``adobe.token.user_id`` signed out everyone who has no id."""
    storage = new_storage(sql_url, engines)
    app = make_app(standin, storage=storage)
    first, second = app.test_client(), app.test_client()
    for client in (first, second):
        login_as(client, access_token="no-openid-" + "x" * 30, user_id=None)
    assert [row.user_id for row in rows(storage)] == [None, None]

    with pytest.raises(ValueError, match="user_id must be a non-empty string"):
        storage.delete_for_user(nobody)
    with pytest.raises(ValueError, match="user_id must be a non-empty string"):
        storage.tokens_for_user(nobody)
    assert len(rows(storage)) == 2
    assert first.get("/dashboard").status_code == 200 and second.get("/dashboard").status_code == 200
