"""The service credential (OAuth Server-to-Server): one token, cached, shared,
renewed ahead of expiry, over real HTTP to the stand-in.

``standin.service_token_mints()`` counts what Adobe's token endpoint issued,
so "one mint" is Adobe's count, not ours.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from cachelib import SimpleCache
from click.testing import CliRunner
from flask import Flask

from flask_adobe_oauth import ProviderError, adobe_login_required
from flask_adobe_oauth.analytics import companies
from flask_adobe_oauth.cli import adobe_cli
from flask_adobe_oauth.service import AdobeService, service_config, service_session
from flask_adobe_oauth.storage import RedisStorage
from flask_adobe_oauth.testing import StandInAdobe, example_users

from .helpers import SECRET_KEY, login, make_app
from .redis_fixture import _redis_client_fixture, _redis_url_fixture

__all__ = ["_redis_client_fixture", "_redis_url_fixture"]  # fixtures used by name


@pytest.fixture
def standin() -> Iterator[StandInAdobe]:
    with StandInAdobe(rate_limit=None) as server:
        yield server


def service(standin: StandInAdobe, store: Any = None, **options: Any) -> AdobeService:
    return AdobeService(service_config(standin.config(), **options), store=store)


def test_a_job_with_no_flask_app_reads_analytics_as_the_service(standin: StandInAdobe) -> None:
    svc = service(standin)
    names = [c.name for c in companies(svc.session())]
    assert names == ["Example Corp", "Acme Outdoor"]
    call = standin.token_calls()[-1]
    assert call.grant_type == "client_credentials"
    assert call.form["scope"] == "openid,AdobeID,read_organizations,additional_info.projectedProductContext"
    assert standin.service_token_mints() == 1


def test_the_token_is_cached_until_it_is_due(standin: StandInAdobe) -> None:
    svc = service(standin)
    first = svc.token()
    assert svc.token() is first
    svc.session().get("/discovery/me").raise_for_status()
    assert standin.service_token_mints() == 1


def test_a_token_is_renewed_ahead_of_its_expiry(standin: StandInAdobe) -> None:
    standin.state.access_token_lifetime = 200  # less than the 300 s kept in hand
    svc = service(standin)
    first = svc.token()
    assert not first.expired
    second = svc.token()
    assert second.access_token != first.access_token
    assert standin.service_token_mints() == 2


def test_fifty_threads_at_once_mint_one_token(standin: StandInAdobe) -> None:
    standin.slow_down(0.3, endpoints=["token"])  # the first fetch is still in flight when the others ask
    svc = service(standin)
    barrier = threading.Barrier(50)
    seen: list[str] = []

    def ask() -> None:
        barrier.wait()
        seen.append(svc.token().access_token)

    threads = [threading.Thread(target=ask) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(seen) == 50 and len(set(seen)) == 1
    assert standin.service_token_mints() == 1


@pytest.mark.parametrize("kind", ["cachelib", "redis"])
def test_processes_sharing_a_store_mint_one_token(standin: StandInAdobe, kind: str, redis_url: str) -> None:
    store: Any = SimpleCache() if kind == "cachelib" else redis.Redis.from_url(redis_url)
    workers = [service(standin, store=store) for _ in range(4)]  # four processes' services
    barrier = threading.Barrier(4)
    seen: list[str] = []

    def ask(svc: AdobeService) -> None:
        barrier.wait()
        seen.append(svc.token().access_token)

    threads = [threading.Thread(target=ask, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(set(seen)) == 1
    assert standin.service_token_mints() == 1
    assert sum(w.mints for w in workers) == 1


def test_a_refused_token_is_replaced_once_and_the_call_retried(standin: StandInAdobe) -> None:
    store = SimpleCache()
    svc, other = service(standin, store=store), service(standin, store=store)
    svc.session().get("/discovery/me").raise_for_status()
    standin.expire_access_tokens()  # Adobe now answers 401 401013 to it
    assert svc.session().get("/discovery/me").status_code == 200
    assert other.session().get("/discovery/me").status_code == 200  # the replacement, shared
    assert standin.service_token_mints() == 2


def test_refused_credentials_are_a_clear_error_without_the_secret(standin: StandInAdobe) -> None:
    svc = service(standin, client_secret="wrong-secret-value-123")
    with pytest.raises(ProviderError) as caught:
        svc.token()
    message = str(caught.value)
    assert "Adobe refused the service credential (HTTP 401" in message and "invalid_client" in message
    assert "wrong-secret-value-123" not in message and standin.client_secret not in message


def test_a_scope_adobe_does_not_allow_is_named(standin: StandInAdobe) -> None:
    with pytest.raises(ProviderError, match="invalid_scope"):
        service(standin, scope=["openid", "AdobeID", "offline_access_everything"]).token()


def test_adobe_down_is_a_provider_error_and_it_recovers(standin: StandInAdobe) -> None:
    svc = service(standin)
    standin.fail_calls(503, endpoints=["token"])
    with pytest.raises(ProviderError) as caught:
        svc.token()
    assert "HTTP 503" in str(caught.value) and caught.value.status_code == 502
    standin.clear_faults()
    assert svc.token().access_token
    assert standin.service_token_mints() == 1


def test_a_token_still_valid_is_used_when_renewing_it_fails(standin: StandInAdobe) -> None:
    standin.state.access_token_lifetime = 200  # due for renewal at once
    svc = service(standin)
    first = svc.token()
    standin.fail_calls(503, endpoints=["token"])
    assert svc.token().access_token == first.access_token


def test_a_broken_shared_store_costs_sharing_not_the_token(standin: StandInAdobe) -> None:
    svc = service(standin, store=RedisStorage.from_url("redis://127.0.0.1:1/0", connect_timeout=0.2))
    assert svc.token().access_token
    assert standin.service_token_mints() == 1


def test_a_view_guarded_by_the_users_login_reads_with_the_service_token(standin: StandInAdobe) -> None:
    app = make_app(standin)

    @app.get("/company")
    @adobe_login_required
    def company() -> Any:
        return {"companies": [c.name for c in companies(service_session())]}

    client = app.test_client()
    assert client.get("/company").status_code == 302  # the user's login decides who may look
    login(client)
    assert client.get("/company").json == {"companies": ["Example Corp", "Acme Outdoor"]}
    assert client.get("/company").status_code == 200
    assert standin.service_token_mints() == 1


def test_flask_adobe_token_prints_the_token_for_curl(standin: StandInAdobe) -> None:
    app = Flask(__name__)
    app.config.update(SECRET_KEY=SECRET_KEY, **standin.config())
    result = CliRunner().invoke(adobe_cli, ["token"], obj=_script_info(app))
    assert result.exit_code == 0, result.output
    token = result.stdout.strip()
    assert standin.is_valid_access_token(token)
    assert "warning" not in result.output  # not a terminal: nothing but the token


def test_flask_adobe_token_says_why_it_cannot(standin: StandInAdobe) -> None:
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=SECRET_KEY, **standin.config(), ADOBE_OAUTH_SERVICE_CLIENT_SECRET="not-it-1234"
    )
    result = CliRunner().invoke(adobe_cli, ["token"], obj=_script_info(app))
    assert result.exit_code == 1
    assert "Adobe refused the service credential" in result.output
    assert "not-it-1234" not in result.output


def _script_info(app: Flask) -> Any:
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)


def test_the_demo_reads_as_the_company_service_account_when_asked(standin: StandInAdobe) -> None:
    from example_app import create_app

    app = create_app(
        {"SECRET_KEY": SECRET_KEY, **standin.config(), "ADOBE_OAUTH_ALLOWED_ORGS": standin.state.user.org_id}
    )
    client = app.test_client()
    login(client)
    mine = client.get("/dashboard")
    assert mine.status_code == 200 and standin.service_token_mints() == 0
    assert 'id="as-service"' in mine.get_data(as_text=True)
    theirs = client.get("/dashboard?source=service")
    page = theirs.get_data(as_text=True)
    assert theirs.status_code == 200, page[-800:]
    assert "<strong>the company's service account</strong>" in page
    assert standin.service_token_mints() == 1
    analytics = [c for c in standin.calls if c.grant_type == "client_credentials"]
    assert len(analytics) == 1
    assert 'name="source" value="service"' in page  # the range and company forms keep the choice


def test_the_demos_company_view_is_for_members_of_the_companys_org_only(standin: StandInAdobe) -> None:
    """Issue 24: an app that admits any Adobe ID must not hand the company's
    data (read with the company's own credential) to whoever signed in."""
    from example_app import MEMBERS_ONLY, create_app

    app = create_app({"SECRET_KEY": SECRET_KEY, **standin.config()})  # no ADOBE_OAUTH_ALLOWED_ORGS
    client = app.test_client()
    login(client)
    assert client.get("/dashboard").status_code == 200  # the user's own data: theirs to see
    refused = client.get("/dashboard?source=service")
    assert refused.status_code == 403
    assert "only for members of the company" in refused.get_data(as_text=True)
    assert "only for members of the company" in MEMBERS_ONLY
    assert standin.service_token_mints() == 0  # the company's credential was never used


def test_the_readme_job_runs_as_written(standin: StandInAdobe) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    examples = Path(__file__).resolve().parent.parent / "docs" / "examples"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ADOBE_OAUTH_")}
    env.update({k: " ".join(v) if isinstance(v, list) else str(v) for k, v in standin.config().items()})
    result = subprocess.run(
        [sys.executable, "service_job.py"], cwd=examples, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == ["Example Corp: 13 report suites", "Acme Outdoor: 3 report suites"]
    assert standin.service_token_mints() == 1


def test_the_readme_app_guards_with_the_login_and_reads_with_the_service(
    standin: StandInAdobe, redis_url: str
) -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "docs" / "examples" / "service_app.py"
    spec = importlib.util.spec_from_file_location("service_app_example", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    config = {"SECRET_KEY": SECRET_KEY, "REDIS_URL": redis_url, **standin.config()}
    with pytest.raises(RuntimeError, match="ADOBE_OAUTH_ALLOWED_ORGS"):
        module.create_app(config)  # it will not serve the company's data to any Adobe ID
    config["ADOBE_OAUTH_ALLOWED_ORGS"] = standin.state.user.org_id
    app = module.create_app(config)
    client = app.test_client()
    assert client.get("/").status_code == 302
    login(client)
    assert client.get("/").json == {"companies": ["Example Corp", "Acme Outdoor"]}
    member, outsider = standin.state.user, app.test_client()
    refused = standin.sign_in(outsider, user=example_users()["outsider"])
    assert refused.status_code == 403 and outsider.get("/").status_code == 302
    standin.state.user = member
    other = module.create_app(config)
    another = other.test_client()  # a second "worker": its own process state, the same Redis
    login(another)
    assert another.get("/").status_code == 200
    assert standin.service_token_mints() == 1


def test_a_token_refused_twice_is_dropped_from_the_shared_store_too(standin: StandInAdobe) -> None:
    store = SimpleCache()
    svc = service(standin, store=store)
    svc.token()
    assert any(key.startswith("adobe_oauth:service:") for key in store._cache)  # shared
    svc.invalidate()
    assert not [
        k for k in store._cache if k.startswith("adobe_oauth:service:") and not k.endswith(":minting")
    ]
    assert service(standin, store=store).token()  # the next process mints anew
    assert standin.service_token_mints() == 2


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -1, True])
def test_refresh_ahead_must_be_finite_seconds(standin: StandInAdobe, value: Any) -> None:
    """Issue #27, 2: a NaN ``refresh_ahead`` made every token "fresh" forever; an
    infinite one made none fresh, so each call minted a token."""
    with pytest.raises(ValueError, match="refresh_ahead"):
        AdobeService(service_config(standin.config()), refresh_ahead=value)


# -- garbage in the shared store (issue #27, 3) ------------------------------------------------


def shared(kind: str, redis_url: str) -> Any:
    """An empty store shared by "processes": a cachelib cache or a Redis client."""
    if kind == "cachelib":
        return SimpleCache()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    return client


def put_raw(store: Any, key: str, value: Any, ttl: int | None = 3600) -> None:
    """Write ``value`` under ``key`` as another (broken) process might have; no TTL when None."""
    if isinstance(store, SimpleCache):
        store.set(key, value, timeout=0 if ttl is None else ttl)  # cachelib: 0 is "never expires"
    else:
        store.set(key, value, ex=ttl)


def read_raw(store: Any, key: str) -> Any:
    value = store.get(key)
    return value.decode() if isinstance(value, bytes) else value


SOON = 4_000_000_000  # an expiry far ahead (2096)
MALFORMED = [
    '{"a": "token", "e": "tomorrow", "s": []}',  # a string expiry: TypeError
    '{"a": 12345, "e": 4000000000, "s": []}',  # a number for the token: AttributeError
    '{"a": "token", "e": NaN, "s": []}',
    '{"a": "token", "e": 4000000000, "s": "openid"}',
    '{"a": "", "e": 4000000000, "s": []}',
    '{"a": "to\\nken", "e": 4000000000, "s": []}',
    '["token", 4000000000]',
    '"token"',
    "42",
    "{not json",
    '{"e": 4000000000}',
]


@pytest.mark.parametrize("raw", MALFORMED)
@pytest.mark.parametrize("kind", ["cachelib", "redis"])
def test_a_malformed_shared_record_is_replaced_by_a_fresh_token(
    standin: StandInAdobe, redis_url: str, kind: str, raw: str
) -> None:
    store = shared(kind, redis_url)
    svc = service(standin, store=store)
    put_raw(store, svc._key, raw)
    assert svc.session().get("/discovery/me").status_code == 200
    assert standin.service_token_mints() == 1
    record = json.loads(read_raw(store, svc._key))  # the fresh token replaced the garbage
    assert record["a"] == svc.token().access_token
    assert service(standin, store=store).token().access_token == record["a"]  # and is shared
    assert standin.service_token_mints() == 1


@pytest.mark.parametrize("kind", ["cachelib", "redis"])
def test_a_refused_shared_token_written_in_another_form_is_still_dropped(
    standin: StandInAdobe, redis_url: str, kind: str
) -> None:
    """The compare-and-delete compared with the token re-serialised: a record
    spelt otherwise (compact JSON, another field order) never matched, and
    every process got 401 until the key expired."""
    store = shared(kind, redis_url)
    svc = service(standin, store=store)
    bad = json.dumps({"s": ["openid"], "e": SOON, "a": "not-a-token-adobe-issued"}, separators=(",", ":"))
    put_raw(store, svc._key, bad)
    assert svc.session().get("/discovery/me").status_code == 200
    assert standin.service_token_mints() == 1
    assert read_raw(store, svc._key) != bad
    assert service(standin, store=store).session().get("/discovery/me").status_code == 200
    assert standin.service_token_mints() == 1


@pytest.mark.parametrize("lock", ["someone", "a1b2c3d4e5f60718", "a1b2c3d4e5f60718.1000"])
@pytest.mark.parametrize("kind", ["cachelib", "redis"])
def test_a_minting_lock_left_without_expiry_is_not_waited_for(
    standin: StandInAdobe, redis_url: str, kind: str, lock: str
) -> None:
    """A ``:minting`` lock with no TTL (or one of ours long past its time)
    held every process 10 s per token, forever; it is taken over now."""
    store = shared(kind, redis_url)
    svc = service(standin, store=store)
    put_raw(store, svc._key + ":minting", lock, ttl=None)
    started = time.monotonic()
    token = svc.token()
    assert time.monotonic() - started < 2
    assert json.loads(read_raw(store, svc._key))["a"] == token.access_token  # shared as usual
    assert read_raw(store, svc._key + ":minting") != lock
    assert standin.service_token_mints() == 1


@pytest.mark.parametrize("kind", ["cachelib", "redis"])
def test_a_service_with_another_secret_never_uses_the_shared_token(
    standin: StandInAdobe, redis_url: str, kind: str
) -> None:
    """The cache key holds a digest of the client id and secret (never the
    secret): a wrong or rotated secret mints with its own credential, and
    Adobe's refusal of a wrong one is seen at once."""
    store = shared(kind, redis_url)
    good = service(standin, store=store)
    good.token()
    wrong = service(standin, store=store, client_secret="wrong-secret-value-123")
    assert wrong._key != good._key
    with pytest.raises(ProviderError, match="refused the service credential"):
        wrong.token()
    keys = list(store._cache) if isinstance(store, SimpleCache) else [k.decode() for k in store.keys("*")]
    assert keys and not any("wrong-secret" in k or standin.client_secret in k for k in keys)
