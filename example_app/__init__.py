"""The demo: a small Adobe Analytics dashboard using flask-adobe-oauth.

``python -m example_app`` runs it on http://127.0.0.1:5000, against a
stand-in Adobe on 127.0.0.1 unless ``ADOBE_OAUTH_CLIENT_ID`` is set.
:func:`create_app` builds it for tests and for your own WSGI server.

Adobe's API is slow (hundreds of milliseconds a call) and allows 12 calls
every 6 seconds per user; Adobe's Analytics 2.0 FAQ asks clients to request
what changes rarely once and cache it. So what changes rarely (the user's
profile, companies and report suites) is kept per user in a cachelib cache
(:class:`DashboardCache`) for ``DASHBOARD_CACHE_SECONDS``, and forgotten at
sign-out; a page load then costs one Analytics call, the report. On a first
view the profile (IMS userinfo) is read in a worker thread while the
Analytics calls (discovery, then report suites, then the report: each needs
the one before) run in the request's own.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, TypeVar

from cachelib import BaseCache, RedisCache, SimpleCache
from flask import (
    Flask,
    copy_current_request_context,
    current_app,
    flash,
    g,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from flask_adobe_oauth import (
    AdobeOAuthError,
    ProviderError,
    RateLimited,
    Token,
    adobe,
    adobe_login_required,
    logged_in,
    logged_out,
    make_adobe_blueprint,
)
from flask_adobe_oauth.analytics import (
    Company,
    NoAnalyticsProfile,
    PageViewsByDay,
    ReportColumnError,
    ReportSuite,
    companies,
    page_views_by_day,
    report_suites,
)
from flask_adobe_oauth.service import service_for, service_session

from .chart import Chart, line_chart

__all__ = ["DashboardCache", "SuiteTable", "create_app", "suite_table"]

log = logging.getLogger("example_app")

#: Date ranges offered as one-click choices, in days.
PRESETS = (7, 30, 90)
DEFAULT_DAYS = 30
MAX_DAYS = 366

#: How long a user's profile, companies and report suites are reused (seconds;
#: ``DASHBOARD_CACHE_SECONDS``), and how many users' entries the default
#: in-process cache keeps at most (``DASHBOARD_CACHE_ENTRIES``).
CACHE_SECONDS = 300
CACHE_ENTRIES = 512
#: Worker threads that read profiles beside the Analytics calls, per app
#: (``DASHBOARD_WORKERS``); a page load uses at most one.
WORKERS = 8
#: The wait shown after a 429 that names none: Adobe's rate limit window (Analytics 2.0 FAQ).
RATE_WINDOW = 6
CACHE_KEY = "example_app.cache"
POOL_KEY = "example_app.pool"
#: Where a sign-out request notes whose entries to forget (``g``), read before the token goes.
SIGNING_OUT = "example_app_signing_out"

#: Report suites shown per page of the dashboard's table, and the longest filter (``q``) kept.
TABLE_ROWS = 50
MAX_FILTER = 100
#: What the table may be sorted by (``sort=``), and the text compared. Without ``sort``
#: the suites keep the order Adobe lists them in; an unknown key sorts by name.
SORTS: dict[str, Callable[[Any], str]] = {
    "name": lambda s: str(s.name or ""),
    "rsid": lambda s: str(s.rsid or ""),
    "timezone": lambda s: str(s.timezone or ""),
    "currency": lambda s: str(s.currency or ""),
}
#: The table's columns, by sort key, as headed.
COLUMNS = (("name", "Name"), ("rsid", "Report suite id"), ("timezone", "Time zone"), ("currency", "Currency"))

T = TypeVar("T")

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


# -- the cache -------------------------------------------------------------------------------


class Shelf:
    """One owner's cached pieces as read at the start of a request, and the
    pieces the request fetched, written back at its end (:meth:`DashboardCache.save`).

    An owner of None (no user id to key by, or caching off) never hits and
    keeps nothing.
    """

    def __init__(self, owner: str | None, pieces: dict[str, tuple[float, Any]]) -> None:
        self.owner = owner
        self.pieces = pieces
        self.fetched: dict[str, Any] = {}

    def get(self, what: str) -> Any:
        """The cached piece ``what`` (plain data), or None."""
        hit = self.pieces.get(what)
        return None if hit is None else hit[1]

    def put(self, what: str, value: Any) -> None:
        if self.owner is not None:
            self.fetched[what] = value


class DashboardCache:
    """What the dashboard reuses, per owner, on any cachelib cache.

    An owner is ``"user:<Adobe user id>"`` (or ``"service:<client id>"`` for
    the service account's lists, the same for everyone): one cache entry per
    owner, under a key derived from it alone, so one user never reads
    another's, and sign-out deletes one key. The entry maps each piece
    (``"profile"``, ``"companies"``, ``"suites:<company>:<page size>"``) to
    its expiry time and its value, plain data (no pickled classes survive a
    deploy to haunt the next). A piece lives ``seconds`` from when it was
    fetched. The cache failing (Redis down) costs Adobe calls, not the page.
    """

    PREFIX = "example_app.dashboard:"

    def __init__(self, backend: BaseCache, seconds: float, clock: Callable[[], float] = time.time) -> None:
        self.backend = backend
        self.seconds = seconds
        #: Wall-clock time (entries may be shared between processes through Redis).
        self.clock = clock

    def key(self, owner: str) -> str:
        return self.PREFIX + hashlib.sha256(owner.encode()).hexdigest()[:40]

    def _pieces(self, owner: str) -> dict[str, tuple[float, Any]]:
        try:
            stored = self.backend.get(self.key(owner))
        except Exception as exc:  # a cache outage: fetch from Adobe instead
            log.warning("the dashboard cache could not be read: %r", exc)
            return {}
        if not isinstance(stored, dict):
            return {}
        now = self.clock()
        return {
            what: piece
            for what, piece in stored.items()
            if isinstance(what, str)
            and isinstance(piece, tuple)
            and len(piece) == 2
            and isinstance(piece[0], (int, float))
            and piece[0] > now
        }

    def shelf(self, owner: str | None) -> Shelf:
        """``owner``'s unexpired pieces (none when caching is off or there is no owner)."""
        if owner is None or self.seconds <= 0:
            return Shelf(None, {})
        return Shelf(owner, self._pieces(owner))

    def save(self, shelf: Shelf) -> None:
        """Add what ``shelf``'s request fetched to its owner's entry."""
        if shelf.owner is None or not shelf.fetched:
            return
        until = self.clock() + self.seconds
        pieces = self._pieces(shelf.owner)  # with what other requests stored meanwhile
        pieces.update({what: (until, value) for what, value in shelf.fetched.items()})
        try:
            self.backend.set(self.key(shelf.owner), pieces, timeout=max(1, math.ceil(self.seconds)))
        except Exception as exc:
            log.warning("the dashboard cache could not be written: %r", exc)

    def forget(self, owner: str) -> None:
        """Delete everything cached for ``owner``."""
        try:
            self.backend.delete(self.key(owner))
        except Exception as exc:
            log.warning("the dashboard cache could not forget an entry: %r", exc)

    def clear(self) -> None:
        """Empty the whole backend (for tests; a shared RedisCache without a
        ``key_prefix`` would lose other apps' keys too)."""
        self.backend.clear()


def user_owner(token: Token | None) -> str | None:
    """The cache owner of ``token``'s user, or None when the token names no user."""
    return f"user:{token.user_id}" if token is not None and token.user_id else None


def make_cache(config: Any) -> DashboardCache:
    """The app's :class:`DashboardCache`: on ``DASHBOARD_CACHE`` (any cachelib
    cache) if given, else a ``RedisCache`` on ``DASHBOARD_CACHE_REDIS_URL``,
    else an in-process ``SimpleCache`` of ``DASHBOARD_CACHE_ENTRIES`` entries."""
    seconds = float(config.get("DASHBOARD_CACHE_SECONDS", CACHE_SECONDS))
    backend = config.get("DASHBOARD_CACHE")
    if backend is not None and not isinstance(backend, BaseCache):
        raise TypeError("DASHBOARD_CACHE must be a cachelib cache (SimpleCache, RedisCache, ...)")
    if backend is None and config.get("DASHBOARD_CACHE_REDIS_URL"):
        import redis  # only with DASHBOARD_CACHE_REDIS_URL

        client = redis.Redis.from_url(config["DASHBOARD_CACHE_REDIS_URL"])
        backend = RedisCache(host=client, key_prefix="example_app:", default_timeout=max(1, int(seconds)))
    if backend is None:
        backend = SimpleCache(threshold=int(config.get("DASHBOARD_CACHE_ENTRIES", CACHE_ENTRIES)))
    return DashboardCache(backend, seconds)


@logged_out.connect
def _forget_who_signed_out(app: Flask, blueprint: str = "adobe") -> None:
    """Sign-out deletes the user's cached entries. The blueprint forgets the
    token before it sends ``logged_out``, so whose they are was noted before
    the sign-out view ran (``note_who_signs_out`` in :func:`create_app`)."""
    cache = app.extensions.get(CACHE_KEY)
    if not isinstance(cache, DashboardCache):  # another app of this process
        return
    owner = g.pop(SIGNING_OUT, None)
    if owner:
        cache.forget(owner)
    flash("You are signed out. Your Adobe token was revoked.")


@logged_in.connect
def _fresh_start(app: Flask, token: Token, blueprint: str = "adobe") -> None:
    """Signing in again starts from Adobe's current lists (a new product
    profile, say, shows at once)."""
    cache = app.extensions.get(CACHE_KEY)
    owner = user_owner(token)
    if isinstance(cache, DashboardCache) and owner:
        cache.forget(owner)


# -- the app ---------------------------------------------------------------------------------


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """The dashboard app. ``config`` must name the ``ADOBE_OAUTH_*`` keys and a ``SECRET_KEY``;
    ``DASHBOARD_SUITES_PAGE_SIZE`` (default 100) is how many report suites to ask Adobe for per page,
    ``DASHBOARD_CACHE_SECONDS`` (default 300, 0 for none) how long each user's profile, companies and
    report suites are reused, ``DASHBOARD_CACHE`` (a cachelib cache) or ``DASHBOARD_CACHE_REDIS_URL``
    where they are kept (default: in this process), ``DASHBOARD_WORKERS`` (default 8) the threads
    reading profiles beside the Analytics calls, ``DEMO_STANDIN_URL`` shows the demo-mode banner.
    Without ``config`` (``flask --app example_app ...``) they come from the environment."""
    app = Flask(__name__)
    app.config.update(SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    app.config.update(_environ_config() if config is None else config)
    app.extensions[CACHE_KEY] = make_cache(app.config)
    app.extensions[POOL_KEY] = ThreadPoolExecutor(
        max_workers=int(app.config.get("DASHBOARD_WORKERS", WORKERS)), thread_name_prefix="dashboard"
    )
    blueprint = make_adobe_blueprint(redirect_to="dashboard")
    app.register_blueprint(blueprint, url_prefix="/adobe")
    _add_hooks(app, sign_out=f"{blueprint.name}.logout")
    _add_views(app)
    return app


def _environ_config() -> dict[str, Any]:
    """The app's configuration from the environment: ``ADOBE_OAUTH_*``, ``DASHBOARD_*`` and ``SECRET_KEY``."""
    return {
        k: v
        for k, v in os.environ.items()
        if k.startswith(("ADOBE_OAUTH_", "DASHBOARD_")) or k == "SECRET_KEY"
    }


def _add_hooks(app: Flask, *, sign_out: str) -> None:
    """What every request gets: whose cache entries to forget when it is ``sign_out`` (the
    blueprint's sign-out endpoint), the security headers, and the demo-mode banner's URL."""

    @app.before_request
    def note_who_signs_out() -> None:
        if request.endpoint != sign_out:
            return
        with suppress(AdobeOAuthError):  # the token store is down: the sign-out view says so
            g.setdefault(SIGNING_OUT, user_owner(adobe.token))

    @app.after_request
    def security_headers(response: BaseResponse) -> BaseResponse:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.context_processor
    def demo_banner() -> dict[str, Any]:
        return {"standin_url": app.config.get("DEMO_STANDIN_URL")}


def _add_views(app: Flask) -> None:
    """The pages: the welcome page (``/``) and the dashboard, for signed-in users."""

    @app.get("/")
    def index() -> str:
        return render_template("index.html", signed_in=adobe.authorized)

    @app.get("/dashboard")
    @adobe_login_required
    def dashboard() -> tuple[str, int, dict[str, str]]:
        return _dashboard()


@dataclass(frozen=True)
class SuiteTable:
    """One page of the report suites table: the suites matching ``q``, in
    order, cut to :data:`TABLE_ROWS` a page."""

    #: The filter (stripped, at most :data:`MAX_FILTER` characters), "" for none.
    q: str
    #: A key of :data:`SORTS`, or "" for Adobe's order.
    sort: str
    descending: bool
    #: 1-based, within 1..pages.
    page: int
    pages: int
    rows: list[ReportSuite]
    #: How many suites match ``q``, and how many there are.
    matched: int
    total: int

    @property
    def first(self) -> int:
        """The 1-based position of the first row shown (0 when none is)."""
        return (self.page - 1) * TABLE_ROWS + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * TABLE_ROWS + len(self.rows)

    def args(self) -> dict[str, Any]:
        """The query arguments that show this page again (the defaults left out)."""
        return {
            "q": self.q or None,
            "sort": self.sort or None,
            "dir": "desc" if self.descending else None,
            "page": self.page if self.page > 1 else None,
        }


def suite_table(suites: list[ReportSuite], args: Any) -> SuiteTable:
    """The table of ``suites`` that ``args`` asks for: ``q`` keeps those whose name or
    rsid contains it (ignoring case), ``sort`` (a key of :data:`SORTS`) and ``dir``
    (``asc`` or ``desc``) order them, ``page`` picks :data:`TABLE_ROWS` of them.
    Anything unexpected falls back to a default; nothing here raises."""
    q = str(args.get("q") or "").strip()[:MAX_FILTER].strip()
    wanted = q.casefold()
    rows = [s for s in suites if wanted in str(s.name).casefold() or wanted in str(s.rsid).casefold()]
    sort = str(args.get("sort") or "")
    if sort and sort not in SORTS:
        sort = "name"
    # Descending applies to a sort; Adobe's own order is shown as Adobe gave it.
    descending = bool(sort) and args.get("dir") == "desc"
    if sort:
        key = SORTS[sort]
        rows.sort(key=lambda s: (key(s).casefold(), str(s.name).casefold(), str(s.rsid)), reverse=descending)
    pages = max(1, math.ceil(len(rows) / TABLE_ROWS))
    try:
        page = int(str(args.get("page") or 1)[:9])
    except ValueError:
        page = 1
    page = min(max(page, 1), pages)
    shown = rows[(page - 1) * TABLE_ROWS : page * TABLE_ROWS]
    return SuiteTable(q, sort, descending, page, pages, shown, len(rows), len(suites))


def _today() -> date:
    return datetime.now(timezone.utc).date()


def parse_range(args: Any) -> tuple[date, date, str | None]:
    """The chosen [start, end] (both included) and a note if the choice was refused.

    ``days=N`` means the N days up to yesterday; ``from``/``to`` (ISO dates)
    win when both are given. Default: the last 30 days.
    """
    yesterday = _today() - timedelta(days=1)
    start_text, end_text = args.get("from"), args.get("to")
    if start_text and end_text:
        try:
            start, end = date.fromisoformat(start_text), date.fromisoformat(end_text)
        except ValueError:
            note = "That date range is not a pair of dates; showing the last 30 days."
        else:
            if end < start:
                note = "That date range ends before it starts; showing the last 30 days."
            elif (end - start).days + 1 > MAX_DAYS:
                note = f"Ranges are limited to {MAX_DAYS} days; showing the last 30 days."
            else:
                future = None
                if end > yesterday:
                    future = "Adobe has no data after yesterday: the days after it are shown as zero."
                return start, end, future
        return yesterday - timedelta(days=DEFAULT_DAYS - 1), yesterday, note
    try:
        days = int(args.get("days", DEFAULT_DAYS))
    except ValueError:
        days = DEFAULT_DAYS
    days = min(max(days, 1), MAX_DAYS)
    return yesterday - timedelta(days=days - 1), yesterday, None


def _profile_from_token() -> dict[str, Any]:
    """What the stored token says about the user: the id and how long it lasts."""
    token = adobe.token
    profile: dict[str, Any] = {"sub": token.user_id if token else None, "name": None, "email": None}
    if token and token.expires_at:
        profile["until"] = time.strftime("%b %d, %H:%M UTC", time.gmtime(token.expires_at))
    return _with_display(profile)


def _with_display(profile: dict[str, Any]) -> dict[str, Any]:
    name = str(profile.get("name") or profile.get("email") or profile.get("sub") or "Adobe user")
    profile["display"] = name
    profile["initials"] = "".join(w[0] for w in name.split()[:2]).upper() or "?"
    return profile


def _profile_with(userinfo: dict[str, Any]) -> dict[str, Any]:
    """The token's profile with ``userinfo``'s name and email (cached or just read)."""
    profile = _profile_from_token()
    profile.update({k: userinfo[k] for k in ("sub", "name", "email") if isinstance(userinfo.get(k), str)})
    return _with_display(profile)


def _userinfo(url: str) -> dict[str, str]:
    """The user's id, name and email from IMS userinfo. Runs in a worker thread,
    in a copy of the request's context (``adobe.session`` acts for its user)."""
    response = adobe.session.get(url)  # transport failures raise ProviderError
    try:
        if not response.ok:
            raise ProviderError(f"Adobe answered HTTP {response.status_code} to {url}")
        data = response.json()
    except (ValueError, RecursionError):
        raise ProviderError(f"Adobe answered something that is not JSON to {url}") from None
    finally:
        response.close()
    if not isinstance(data, dict):
        return {}
    return {k: data[k] for k in ("sub", "name", "email") if isinstance(data.get(k), str)}


def _rebuild(kind: Callable[..., T], rows: Any) -> list[T] | None:
    """Cached rows (dicts) as ``kind`` objects; None when there are none, or
    they are of another shape (stored by another version of the app)."""
    if not isinstance(rows, list):
        return None
    try:
        return [kind(**row) for row in rows]
    except TypeError:
        return None


def _shelved(shelf: Shelf, what: str, kind: Callable[..., T], fetch: Callable[[], list[T]]) -> list[T]:
    """The ``kind`` objects kept on ``shelf`` as ``what``, else ``fetch()``'s, kept there."""
    found = _rebuild(kind, shelf.get(what))
    if found is None:
        found = fetch()
        shelf.put(what, [asdict(item) for item in found])  # type: ignore[call-overload]
    return found


def _pick_company(found: list[Company], wanted: str | None) -> Company | None:
    return next((c for c in found if c.global_company_id == wanted), found[0] if found else None)


def _pick_suite(found: list[ReportSuite], wanted: str | None) -> ReportSuite | None:
    return next((s for s in found if s.rsid == wanted), found[0] if found else None)


def _wait_seconds(exc: RateLimited) -> int:
    return int(exc.retry_after + 0.999) if exc.retry_after is not None else RATE_WINDOW


# -- the dashboard, step by step ---------------------------------------------------------------


@dataclass(frozen=True)
class DashboardQuery:
    """What the dashboard's query string asks for, read and checked (:func:`_read_query`)."""

    #: The days shown, both included.
    start: date
    end: date
    #: Why the range asked for was refused, or that it reaches past yesterday; else None.
    range_note: str | None
    #: Whether the range ends yesterday, as the presets' ranges do.
    ends_yesterday: bool
    #: ``source=service``: the data as the company's Server-to-Server credential reads it;
    #: the user's own login still decides who may look.
    service: bool
    #: The company (global company id) and report suite (rsid) asked for, if any.
    company: str | None
    rsid: str | None
    #: The table's filter, order and page (``q``, ``sort``, ``dir``, ``page``), for :func:`suite_table`.
    table: dict[str, str | None]

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass
class DashboardPage:
    """What the dashboard shows, filled in by the steps of :func:`_dashboard`. What
    a step could not fill (Adobe refused, say) stays empty, and the page shows the rest."""

    query: DashboardQuery
    #: Sentences for the notice above the dashboard, after the range's note.
    notes: list[str] = field(default_factory=list)
    profile: dict[str, Any] | None = None
    companies: list[Company] = field(default_factory=list)
    company: Company | None = None
    suites: list[ReportSuite] = field(default_factory=list)
    suite: ReportSuite | None = None
    series: PageViewsByDay | None = None
    chart: Chart | None = None
    #: HTTP 206 to the report: Adobe has no page views for the suite (and no zeros are shown).
    column_problem: ReportColumnError | None = None


@dataclass(frozen=True)
class Problem:
    """Why the page is not all there, as it says it: the HTTP status answered,
    the message shown, and after a 429 the seconds to wait (``Retry-After``)."""

    status: int
    message: str
    retry_after: int | None = None


def _read_query(args: Mapping[str, str]) -> DashboardQuery:
    """What the page is asked for. A refused date range falls back to the last 30
    days with a note (:func:`parse_range`); any ``source`` but ``service`` is the
    user's own; the company, suite and table arguments are checked once the
    lists they pick from are read (:func:`_choose_company`, :func:`suite_table`)."""
    start, end, range_note = parse_range(args)
    return DashboardQuery(
        start=start,
        end=end,
        range_note=range_note,
        ends_yesterday=end == _today() - timedelta(days=1),
        service=args.get("source") == "service",
        company=args.get("company"),
        rsid=args.get("rsid"),
        table={name: args.get(name) for name in ("q", "sort", "dir", "page")},
    )


def _shelves(cache: DashboardCache, service: bool) -> tuple[Shelf, Shelf]:
    """The user's own shelf (their profile, and their lists when they read as
    themselves), and the shelf the lists come from: with ``service``, the service
    account's, the same for every user, so an owner of its own."""
    mine = cache.shelf(user_owner(adobe.token))
    lists = cache.shelf(f"service:{service_for().config.client_id}") if service else mine
    return mine, lists


def _start_profile(page: DashboardPage, mine: Shelf) -> Future[dict[str, str]] | None:
    """The profile from ``mine`` if cached (and no job); else, when IMS has a
    userinfo endpoint, a worker reading it while the Analytics calls run here."""
    cached_profile = mine.get("profile")
    userinfo_url = adobe.config.userinfo_url
    if isinstance(cached_profile, dict):
        page.profile = _profile_with(cached_profile)
    elif userinfo_url:
        pool: ThreadPoolExecutor = current_app.extensions[POOL_KEY]
        return pool.submit(copy_current_request_context(_userinfo), userinfo_url)
    return None


def _finish_profile(page: DashboardPage, mine: Shelf, job: Future[dict[str, str]] | None) -> Problem | None:
    """The profile the worker read, kept on ``mine``; or, if Adobe refused it,
    the problem to show. The profile is nice to have: the reports may still work."""
    if job is None:
        return None
    try:
        userinfo = job.result()
    except RateLimited as exc:  # IMS's limit, not Analytics': the report was still asked for
        wait = _wait_seconds(exc)
        return Problem(
            429,
            "Could not read your Adobe profile: Adobe is rate-limiting requests right now. "
            f"Try again in {wait} seconds.",
            wait,
        )
    except ProviderError as exc:
        return Problem(502, f"Could not read your Adobe profile: {exc.message}")
    mine.put("profile", userinfo)
    page.profile = _profile_with(userinfo)
    return None


def _analytics_problem(page: DashboardPage, lists: Shelf, http: Any) -> Problem | None:
    """Fill ``page`` from Analytics (:func:`_analytics`); what stopped it, or None.
    A 429 stops the calls (Adobe asked us to wait); no Analytics profile is not a
    failure of Adobe's but an admin's to fix (403); any other failure is Adobe's."""
    try:
        _analytics(page, lists, http)
    except RateLimited as exc:
        wait = _wait_seconds(exc)
        return Problem(429, f"Adobe is rate-limiting requests right now. Try again in {wait} seconds.", wait)
    except NoAnalyticsProfile as exc:
        return Problem(403, exc.message)
    except ProviderError as exc:
        status = exc.status_code if 400 <= exc.status_code < 600 else 502
        return Problem(status, f"Adobe could not answer: {exc.message}")
    return None


def _analytics(page: DashboardPage, lists: Shelf, http: Any) -> None:
    """Fill ``page`` from Analytics: companies and report suites from ``lists``
    or Adobe (discovery, then every page of suites), then the report. Each
    call needs the one before, so they run one after the other."""
    company = _choose_company(page, lists, http)
    if company is None:
        return
    suite = _choose_suite(page, lists, http, company)
    if suite is None:
        return
    _read_report(page, http, company, suite)


def _choose_company(page: DashboardPage, lists: Shelf, http: Any) -> Company | None:
    """The user's companies (cached or from discovery), and the one asked for;
    the first, with a note, when they have none by that id; None when they have none."""
    found = page.companies = _shelved(lists, "companies", Company, lambda: companies(http))
    wanted = page.query.company
    company = page.company = _pick_company(found, wanted)
    if company is not None and wanted and wanted != company.global_company_id:
        page.notes.append(f"You have no company {wanted!r}; showing {company.name}.")
    return company


def _choose_suite(page: DashboardPage, lists: Shelf, http: Any, company: Company) -> ReportSuite | None:
    """``company``'s report suites (cached or every page from Adobe), and the one
    asked for; the first, with a note, when it has none by that rsid; None when it has none."""
    gcid = company.global_company_id  # one of Adobe's: a user cannot add keys of their own
    page_size = int(current_app.config.get("DASHBOARD_SUITES_PAGE_SIZE", 100))
    suites = page.suites = _shelved(
        lists,
        f"suites:{gcid}:{page_size}",
        ReportSuite,
        lambda: report_suites(gcid, page_size=page_size, session=http),
    )
    wanted = page.query.rsid
    suite = page.suite = _pick_suite(suites, wanted)
    if suite is not None and wanted and wanted != suite.rsid:
        page.notes.append(f"{company.name} has no report suite {wanted!r}; showing {suite.name}.")
    return suite


def _read_report(page: DashboardPage, http: Any, company: Company, suite: ReportSuite) -> None:
    """The chart's report: ``suite``'s page views a day over the query's range, and its chart."""
    query = page.query
    try:
        series = page_views_by_day(
            company.global_company_id, suite.rsid, query.start, query.end, session=http
        )
    except ReportColumnError as exc:  # HTTP 206: no page views, and no zeros shown for them
        page.column_problem = exc
    else:
        page.series, page.chart = series, line_chart(series)


def _links(page: DashboardPage, table: SuiteTable) -> dict[str, Callable[..., str]]:
    """The template's link makers: this page with changes, a preset range, a column's sort."""
    query = page.query

    def link(**changes: Any) -> str:
        """This page's URL with ``changes`` (None drops an argument); the table's
        filter, order and page are kept unless changed."""
        args: dict[str, Any] = {
            "company": page.company.global_company_id if page.company else None,
            "rsid": page.suite.rsid if page.suite else None,
            "from": query.start.isoformat(),
            "to": query.end.isoformat(),
            "source": "service" if query.service else None,
            **table.args(),
        }
        args.update(changes)
        return url_for("dashboard", **{k: v for k, v in args.items() if v is not None})

    def preset_link(days: int) -> str:
        return link(days=days, **{"from": None, "to": None})

    def sort_link(key: str) -> str:
        """A column header's link: sort by ``key``, ascending unless it already is."""
        again = table.sort == key and not table.descending
        return link(sort=key, dir="desc" if again else None, page=None)

    return {"link": link, "preset_link": preset_link, "sort_link": sort_link}


def _template_context(page: DashboardPage, problem: Problem | None) -> dict[str, Any]:
    """What ``dashboard.html`` is given: the page's pieces, the range, the problem and
    notice, the table of suites and the links. The table is filtered, sorted and cut
    to a page here, from the suites already read: no Adobe call."""
    query = page.query
    table = suite_table(page.suites, query.table)
    return {
        "profile": page.profile or _profile_from_token(),
        "companies": page.companies,
        "company": page.company,
        "suites": page.suites,
        "suite": page.suite,
        "series": page.series,
        "chart": page.chart,
        "start": query.start,
        "end": query.end,
        "presets": PRESETS,
        "ends_yesterday": query.ends_yesterday,
        "days": query.days,
        "notice": " ".join(filter(None, [query.range_note, *page.notes])) or None,
        "problem": problem.message if problem else None,
        "column_problem": page.column_problem,
        "source": "service" if query.service else "user",
        "table": table,
        "sort_labels": COLUMNS,
        "max_filter": MAX_FILTER,
        **_links(page, table),
    }


def _respond(page: DashboardPage, problem: Problem | None) -> tuple[str, int, dict[str, str]]:
    """The page, its status (200, or the problem's) and headers: never stored, and
    after a 429 when to try again."""
    headers = {"Cache-Control": "no-store"}
    if problem is not None and problem.retry_after is not None:
        headers["Retry-After"] = str(problem.retry_after)
    html = render_template("dashboard.html", **_template_context(page, problem))
    return html, problem.status if problem else 200, headers


#: Why the company-wide view is refused to a user who is not known to be in the company's organisation.
MEMBERS_ONLY = (
    "The company-wide view reads the company's data with its own Adobe credential, so it is only for "
    "members of the company's Adobe organisation. This site does not know you are one: it admits any "
    "Adobe ID unless ADOBE_OAUTH_ALLOWED_ORGS names the company's organisation."
)


def _member() -> bool:
    """Whether the user was admitted as a member of an allowed organisation
    (``ADOBE_OAUTH_ALLOWED_ORGS``): the service credential's data is the
    company's, and any Adobe ID can be made in a minute."""
    token = adobe.token
    return token is not None and bool(token.orgs) and bool(adobe.config.allowed_orgs)


def _dashboard() -> tuple[str, int, dict[str, str]]:
    """The dashboard: the user's profile, companies and report suites (reused from
    the cache when it has them), and one suite's page views over the chosen days.
    What Adobe refused is said on the page, with its status; never a 500."""
    page = DashboardPage(_read_query(request.args))
    if page.query.service and not _member():
        return _respond(page, Problem(403, MEMBERS_ONLY))
    http = service_session() if page.query.service else None
    cache: DashboardCache = current_app.extensions[CACHE_KEY]
    mine, lists = _shelves(cache, page.query.service)
    profile_job = _start_profile(page, mine)
    try:
        problem = _analytics_problem(page, lists, http)
    finally:
        if profile_job is not None:  # it uses this request's context: done before the answer
            wait_for([profile_job])
    profile_problem = _finish_profile(page, mine, profile_job)
    cache.save(mine)
    if lists is not mine:
        cache.save(lists)
    return _respond(page, problem or profile_problem)  # Analytics' problem first: it stopped the report
