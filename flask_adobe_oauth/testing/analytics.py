"""The stand-in's Analytics 2.0 API, on the same server as its IMS.

It follows Adobe's published docs (AdobeDocs/analytics-2.0-apis: swagger.json,
report-suites.json and the guides), point by point:

* ``GET /discovery/me``: the user's IMS orgs (those where the user has an
  Analytics product context, as the IMS profile shows them) and the
  companies in each, with their ``apiRateLimitPolicy`` (discovery.md).
* ``GET /api/<gcid>/reportsuites/collections/suites``: paged with ``limit``
  (default 10) and ``page``; filtered with ``rsids`` (comma-delimited) and
  ``rsidContains``; only ``rsid`` and ``id`` unless ``expansion`` asks for
  more of ``name``, ``parentRsid``, ``currency``, ``calendarType``,
  ``timezoneZoneinfo`` (report-suites.json getSuites_1). An unknown
  expansion is a 400.
* ``POST /api/<gcid>/reports``: a ranked report. Each metric's ``columnId``
  is echoed in ``columns.columnIds``; a metric the user may not read answers
  HTTP 206 with ``columns.columnErrors`` (``RankedColumnError`` in
  swagger.json, "Partial Responses" in reports/overview.md) and zeros in
  its column. ``metrics/revenue`` is such a metric until a test allows it.
* Every call needs ``Authorization: Bearer`` with a live token of the
  stand-in and an ``x-api-key`` naming a known client; all but discovery
  need ``x-proxy-global-company-id`` naming the URL's company.
* Refusals come in Adobe's shapes: the gateway's ``{"error_code",
  "message"}`` (401013 bad token, 403000/403003 API key, 403025 no
  Analytics product profile, 429050 too many requests) and the API's
  ``{"errorCode", "errorDescription", "errorId"}`` with a code of the
  ``ReportErrorStatus`` enum of swagger.json.
* 12 calls every 6 seconds per user, then 429050 without ``Retry-After``
  (Adobe's Analytics 2.0 FAQ), on a sliding window of the state's clock.

The numbers are synthetic but deterministic: each day's count depends only
on the report suite and the day, so the same suite and date range always
give the same rows (and overlapping ranges agree), and tests can assert on
them. Faults queued with ``fail_next_api`` answer first. What tests steer
(the rate limit, unauthorized metrics, users without a product profile,
the companies and their report suites) is on :class:`AnalyticsControls`,
``StandInAdobe.analytics``; changes take effect at the next call.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

from flask import Flask, Response, jsonify, request

from .provider import injected_fault
from .state import OTHER_ORG_ID, StandInState, User

#: Metrics the stand-in can report, and how big each is relative to page views.
METRICS: dict[str, float] = {
    "metrics/pageviews": 1.0,
    "metrics/visits": 0.38,
    "metrics/visitors": 0.27,
    "metrics/revenue": 2.35,
}
#: Metrics no user may read unless a test allows them: a report asking for one
#: answers HTTP 206 with an ``unauthorized_metric`` column error.
DEFAULT_UNAUTHORIZED_METRICS = frozenset({"metrics/revenue"})
#: Dimensions a ranked report may be broken down by.
DIMENSIONS = ("variables/daterangeday", "variables/page")
#: Fields ``expansion`` may ask for (report-suites.json getSuites_1).
EXPANSIONS = ("name", "parentRsid", "currency", "calendarType", "timezoneZoneinfo")
#: The ``errorCode`` values of ``ReportErrorStatus`` in Adobe's swagger.json. (The
#: tests hold their own copy, derived from the spec on its own, to check this one.)
ERROR_CODES = frozenset(
    {
        "invalid_segment_ids_found",
        "invalid_metric_access",
        "method_not_allowed",
        "resource_conflict",
        "invalid_access",
        "resource_temporarily_unavailable",
        "external_api_failure",
        "aam_failure",
        "resource_already_exists",
        "invalid_state",
        "invalid_json_input",
        "invalid_parameters",
        "invalid_dimension_access",
        "unsupported_data_type",
        "resource_not_found",
        "insufficient_access",
        "health_check_error",
        "invalid_data",
        "unexpected_error",
        "external_api_error",
        "unsupported_resource",
        "io_error",
        "invalid_request",
        "invalid_client_id",
        "unauthorized",
        "authorization_error",
        "invalid_token",
        "insufficient_scope",
        "bluecoat_unauthorized",
    }
)
#: Adobe's documented limit: 12 requests every 6 seconds per user (Analytics 2.0 FAQ).
DEFAULT_RATE_LIMIT: tuple[int, float] = (12, 6.0)
#: The most days a report may span.
MAX_RANGE_DAYS = 3 * 366
DEFAULT_LIMIT = 10  # report suites per page when no ``limit`` is given
MAX_LIMIT = 1000
DEFAULT_REPORT_LIMIT = 50  # rows per page of a ranked report, as Adobe
MAX_REPORT_LIMIT = 50000

_DATE_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})T00:00:00(?:\.000)?/(\d{4}-\d{2}-\d{2})T00:00:00(?:\.000)?$")
_PAGES = ("Home", "Pricing", "Blog", "Docs: Getting started", "Product tour", "Sign up", "Contact", "Careers")


@dataclass(frozen=True)
class Suite:
    """A report suite of the stand-in."""

    rsid: str
    name: str
    timezone: str = "US/Pacific"
    currency: str = "USD"
    #: Page views on an ordinary weekday, before noise and trend.
    base: int = 12000
    #: The parent of a virtual report suite.
    parent_rsid: str | None = None

    def dump(self, expansion: tuple[str, ...] = EXPANSIONS) -> dict[str, Any]:
        """The suite as Adobe lists it: ``rsid`` and ``id``, plus the ``expansion`` fields."""
        fields: dict[str, Any] = {
            "name": self.name,
            "currency": self.currency,
            "timezoneZoneinfo": self.timezone,
            "calendarType": {"rsid": self.rsid, "type": "GREGORIAN"},
        }
        if self.parent_rsid is not None:
            fields["parentRsid"] = self.parent_rsid
        dumped: dict[str, Any] = {"rsid": self.rsid, "id": self.rsid}
        dumped.update({k: fields[k] for k in expansion if k in fields})
        return dumped


@dataclass(frozen=True)
class Company:
    """A company (login company) of the stand-in, with its report suites."""

    global_company_id: str
    name: str
    suites: tuple[Suite, ...] = field(default_factory=tuple)
    #: ``apiRateLimitPolicy`` in ``/discovery/me`` (the value of Adobe's discovery.md example).
    api_rate_limit_policy: str = "aa_api_tier10_tp"
    #: The IMS org the company belongs to (``imsOrgId`` in ``/discovery/me``).
    #: None: the org of whoever asks (their ``User.org_id``), as every
    #: company was before users had organisations, unless that org has
    #: companies of its own.
    ims_org_id: str | None = None


@dataclass
class AnalyticsControls:
    """What tests steer in the stand-in's Analytics API, also while it serves.

    * ``rate_limit``: ``(calls, seconds)`` per user, Adobe's ``(12, 6.0)`` by
      default; None lets every call through.
    * ``unauthorized_metrics``: metric ids no user may read (206 + column error).
    * ``users_without_profile``: IMS user ids (``sub``) whose every call is
      refused with ``403025 Profile is not valid``, as for an Adobe ID in no
      Analytics product profile; their IMS profile shows no Analytics
      product context either. (A :class:`~.state.User` made with no
      Analytics product context is refused the same way.)
    * ``clock``: the time the rate limit counts in; None is the stand-in
      state's clock (``StandInState.now``). A test can freeze it.
    * ``companies``: the login companies (with their report suites); a user
      sees those of the orgs where they have Analytics (a company without
      ``ims_org_id``: in the user's own ``org_id``, unless that org has
      companies of its own). None is those given to
      :func:`register_analytics` (:data:`DEFAULT_COMPANIES` and
      :data:`OTHER_ORG_COMPANIES`). A test can list hundreds of suites.
    """

    rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT
    unauthorized_metrics: set[str] = field(default_factory=lambda: set(DEFAULT_UNAUTHORIZED_METRICS))
    users_without_profile: set[str] = field(default_factory=set)
    clock: Callable[[], float] | None = None
    companies: tuple[Company, ...] | None = None
    #: When each user's admitted calls came, within the window.
    recent: dict[str, deque[float]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        _check_rate_limit(self.rate_limit)


def _check_rate_limit(limit: tuple[int, float] | None) -> tuple[int, float] | None:
    if limit is not None:
        calls, seconds = limit
        if isinstance(calls, bool) or not isinstance(calls, int) or calls < 1 or not seconds > 0:
            raise ValueError("rate_limit must be (calls ≥ 1, seconds > 0) or None")
    return limit


#: The companies of a user's own org: two, the first with enough report
#: suites to need a second page at the default page size of 10. They have no
#: ``ims_org_id``: they are in the org of whoever asks (``User.org_id``),
#: unless that org has companies of its own (:data:`OTHER_ORG_COMPANIES`).
DEFAULT_COMPANIES: tuple[Company, ...] = (
    Company(
        "exampl0",
        "Example Corp",
        (
            Suite("examplecorp.web.prod", "Example Corp — Website", base=18400),
            Suite("examplecorp.shop.prod", "Example Corp — Online shop", base=9600),
            Suite("examplecorp.app.ios", "Example Corp — iOS app", base=7200),
            Suite("examplecorp.app.android", "Example Corp — Android app", base=6800),
            Suite("examplecorp.blog", "Example Corp — Blog", base=4100),
            Suite("examplecorp.docs", "Example Corp — Documentation", base=5300),
            Suite("examplecorp.support", "Example Corp — Help center", base=3900),
            Suite("examplecorp.careers", "Example Corp — Careers", base=1200),
            Suite("examplecorp.web.de", "Example Corp — Website (DE)", "Europe/Berlin", "EUR", 6100),
            Suite("examplecorp.web.fr", "Example Corp — Website (FR)", "Europe/Paris", "EUR", 4700),
            Suite("examplecorp.web.jp", "Example Corp — Website (JP)", "Asia/Tokyo", "JPY", 3500),
            Suite("examplecorp.web.uk", "Example Corp — Website (UK)", "Europe/London", "GBP", 5200),
            Suite("examplecorp.staging", "Example Corp — Staging", base=300),
        ),
    ),
    Company(
        "acmeout1",
        "Acme Outdoor",
        (
            Suite("acme.global", "Acme Outdoor — Global", "Europe/London", "GBP", 22000),
            Suite("acme.store", "Acme Outdoor — Store", "Europe/London", "GBP", 8800),
            Suite("acme.journal", "Acme Outdoor — Journal", "Europe/London", "GBP", 2600),
        ),
    ),
)
#: The company of :data:`~.state.OTHER_ORG_ID`, the org of the outsider of
#: :func:`~.state.example_users`: what a user with Analytics there sees of it.
OTHER_ORG_COMPANIES: tuple[Company, ...] = (
    Company(
        "globex0",
        "Globex",
        (
            Suite("globex.web", "Globex — Website", "America/Chicago", base=15200),
            Suite("globex.app", "Globex — App", "America/Chicago", base=5400),
        ),
        ims_org_id=OTHER_ORG_ID,
    ),
)


def _unit(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts``: the stand-in's only source of "randomness"."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def daily_page_views(suite: Suite, day: date) -> int:
    """Page views of ``suite`` on ``day``: weekly rhythm, slow trend, noise."""
    weekday = (1.0, 1.04, 1.06, 1.03, 0.95, 0.62, 0.55)[day.weekday()]
    trend = 1.0 + 0.08 * math.sin(day.toordinal() / 58.0 + _unit(suite.rsid, "phase") * 6.28)
    noise = 0.88 + 0.24 * _unit(suite.rsid, day.isoformat())
    spike = 1.0 + (0.7 if _unit(suite.rsid, day.isoformat(), "campaign") > 0.97 else 0.0)
    return max(0, round(suite.base * weekday * trend * noise * spike))


def metric_value(suite: Suite, day: date, metric: str) -> int:
    """``metric`` of ``suite`` on ``day``, derived from its page views."""
    views = daily_page_views(suite, day)
    if metric == "metrics/pageviews":
        return views
    jitter = 0.95 + 0.1 * _unit(suite.rsid, day.isoformat(), metric)
    return round(views * METRICS[metric] * jitter)


def day_item_id(day: date) -> str:
    """Adobe's item id of a ``variables/daterangeday`` row: ``1YYMMDD``, years
    since 1900 and a zero-based month (2026-01-01 is ``1260001``)."""
    return f"{day.year - 1900:03d}{day.month - 1:02d}{day.day:02d}"


def day_label(day: date) -> str:
    """Adobe's value of a ``variables/daterangeday`` row: ``Jan 1, 2026``."""
    return f"{day.strftime('%b')} {day.day}, {day.year}"


def _error(status: int, code: str, message: str) -> Response:
    """An API refusal: ``{"errorCode", "errorDescription", "errorId"}``, the code from
    ``ReportErrorStatus`` in Adobe's swagger.json."""
    if code not in ERROR_CODES:
        raise ValueError(f"{code!r} is not one of Adobe's ReportErrorStatus codes")
    response = jsonify(errorCode=code, errorDescription=message, errorId=str(uuid.uuid4()))
    response.status_code = status
    return response


def _gateway_error(status: int, code: str, message: str) -> Response:
    """The shape of Adobe I/O gateway refusals (token, API key, profile, rate limit)."""
    response = jsonify(error_code=code, message=message)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


def _int_arg(value: Any, default: int, low: int, high: int) -> int | None:
    """``value`` as an int in [low, high], ``default`` when absent, None when invalid."""
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if low <= number <= high else None


def _listed(values: list[str]) -> list[str]:
    """Comma-delimited query values (``a,b`` or ``x=a&x=b``), trimmed, without empties."""
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _date_range(body: dict[str, Any]) -> tuple[date, date] | Response:
    """The ``dateRange`` global filter as [start, end) dates, or an error."""
    filters = body.get("globalFilters")
    ranges = [
        f.get("dateRange")
        for f in (filters if isinstance(filters, list) else [])
        if isinstance(f, dict) and f.get("type") == "dateRange"
    ]
    if len(ranges) != 1 or not isinstance(ranges[0], str):
        return _error(400, "invalid_parameters", "exactly one dateRange global filter is required")
    match = _DATE_RANGE.match(ranges[0])
    if not match:
        return _error(
            400,
            "invalid_parameters",
            "dateRange must look like 2026-01-01T00:00:00.000/2026-02-01T00:00:00.000",
        )
    try:
        start, end = date.fromisoformat(match.group(1)), date.fromisoformat(match.group(2))
    except ValueError:
        return _error(400, "invalid_parameters", "dateRange names a day that does not exist")
    if end <= start:
        return _error(400, "invalid_parameters", "the dateRange ends before it starts")
    if (end - start).days > MAX_RANGE_DAYS:
        return _error(400, "invalid_parameters", f"a dateRange may span at most {MAX_RANGE_DAYS} days")
    return start, end


def _columns(body: dict[str, Any]) -> tuple[list[str], list[str]] | Response:
    """The metric ids of the request and their column ids (``columnId``, else the index)."""
    container = body.get("metricContainer")
    metrics = container.get("metrics") if isinstance(container, dict) else None
    ids: list[str] = []
    columns: list[str] = []
    for index, metric in enumerate(metrics if isinstance(metrics, list) else []):
        metric = metric if isinstance(metric, dict) else {}
        ids.append(str(metric.get("id")))
        column = metric.get("columnId", str(index))
        if not isinstance(column, str):
            return _error(400, "invalid_parameters", "a metric's columnId must be a string")
        columns.append(column)
    if not ids or any(i not in METRICS for i in ids):
        return _error(400, "invalid_parameters", "metrics must be some of " + ", ".join(METRICS))
    if len(set(columns)) != len(columns):
        return _error(400, "invalid_parameters", "two metrics have the same columnId")
    return ids, columns


def register_analytics(
    app: Flask,
    state: StandInState,
    companies: tuple[Company, ...] = DEFAULT_COMPANIES + OTHER_ORG_COMPANIES,
    *,
    controls: AnalyticsControls | None = None,
    rate_limit: tuple[int, float] | None = DEFAULT_RATE_LIMIT,
) -> AnalyticsControls:
    """Add the Analytics 2.0 endpoints to the stand-in's Flask ``app``; what steers them.

    ``companies`` are the login companies (with their report suites), each
    in its ``ims_org_id``; one without is in the org of the user who asks,
    unless that org has companies of its own.
    ``controls`` (made with ``rate_limit`` when not given) is read at every
    call; the state's IMS profile reads its ``users_without_profile`` too.
    """
    if controls is None:
        controls = AnalyticsControls(rate_limit=rate_limit)
    state.analytics_controls = controls

    def listed() -> tuple[Company, ...]:
        return companies if controls.companies is None else controls.companies

    def orgs_of(user: User) -> list[tuple[str, list[Company]]]:
        """The ``imsOrgs`` of ``user``: each org where the user has an Analytics
        product context (``StandInState.analytics_orgs``), with its companies."""
        known = listed()
        pinned = {c.ims_org_id for c in known if c.ims_org_id}
        # A company of no org is in the user's own org, unless that org has companies of its own.
        unpinned_home = None if user.org_id in pinned else user.org_id
        return [
            (org, [c for c in known if (c.ims_org_id or unpinned_home) == org])
            for org in state.analytics_orgs(user)
        ]

    def admit(user: User) -> bool:
        """Count a call of ``user``; False when it is over the rate limit (not counted then)."""
        limit = _check_rate_limit(controls.rate_limit)
        if limit is None:
            return True
        calls, seconds = limit
        now = (controls.clock or state.now)()
        with state.lock:
            recent = controls.recent.setdefault(user.sub, deque())
            while recent and recent[0] <= now - seconds:
                recent.popleft()
            if len(recent) >= calls:
                return False
            recent.append(now)
            return True

    def check(need_company: str | None) -> tuple[User, Company | None] | Response:
        """The caller's user (and company) if the headers pass Adobe's checks, else the error."""
        faulty = injected_fault(state, state.api_faults)
        if faulty is not None:
            return faulty
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        user = state.user_for(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if user is None:
            return _gateway_error(401, "401013", "Oauth token is not valid")
        api_key = request.headers.get("x-api-key")
        if not api_key:
            return _gateway_error(403, "403000", "Api Key is required")
        if api_key not in state.clients:
            return _gateway_error(403, "403003", "Api Key is invalid")
        if not admit(user):
            return _gateway_error(429, "429050", "Too many requests")  # no Retry-After: Adobe sends none
        if not state.analytics_orgs(user):  # in no Analytics product profile, of any org
            return _gateway_error(403, "403025", "Profile is not valid")
        if need_company is None:
            return user, None
        header_company = request.headers.get("x-proxy-global-company-id")
        if not header_company:
            return _error(400, "invalid_request", "the x-proxy-global-company-id header is required")
        if header_company != need_company:
            return _error(400, "invalid_request", "x-proxy-global-company-id differs from the URL's company")
        for _, seen in orgs_of(user):  # the companies /discovery/me lists for this user
            for company in seen:
                if company.global_company_id == need_company:
                    return user, company
        return _error(403, "insufficient_access", "the user has no access to this company")

    def check_company(gcid: str) -> Company | Response:
        """The company of ``gcid`` if the caller may use it, else the error."""
        checked = check(gcid)
        if isinstance(checked, Response):
            return checked
        company = checked[1]
        assert company is not None  # check() always names one when asked for one
        return company

    @app.get("/discovery/me")
    def discovery_me() -> Response:
        checked = check(None)
        if isinstance(checked, Response):
            return checked
        user, _ = checked
        # discovery.md: "imsOrgs: List of the IMS Organization for which the user
        # has access", each with the companies the user has access to in it.
        return jsonify(
            imsUserId=user.sub,
            imsOrgs=[
                {
                    "imsOrgId": org,
                    "companies": [
                        {
                            "globalCompanyId": c.global_company_id,
                            "companyName": c.name,
                            "apiRateLimitPolicy": c.api_rate_limit_policy,
                        }
                        for c in seen
                    ],
                }
                for org, seen in orgs_of(user)
            ],
        )

    @app.get("/api/<gcid>/reportsuites/collections/suites")
    def report_suites(gcid: str) -> Response:
        company = check_company(gcid)
        if isinstance(company, Response):
            return company
        limit = _int_arg(request.args.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)
        page = _int_arg(request.args.get("page"), 0, 0, 10**6)
        if limit is None or page is None:
            return _error(400, "invalid_parameters", f"limit must be 1..{MAX_LIMIT} and page a number ≥ 0")
        expansion = tuple(dict.fromkeys(_listed(request.args.getlist("expansion"))))
        unknown = [e for e in expansion if e not in EXPANSIONS]
        if unknown:
            return _error(
                400,
                "invalid_parameters",
                f"unknown expansion {unknown[0]!r}; expansion may name " + ", ".join(EXPANSIONS),
            )
        suites = list(company.suites)
        if "rsids" in request.args:
            wanted = set(_listed(request.args.getlist("rsids")))
            suites = [s for s in suites if s.rsid in wanted]
        contains = request.args.get("rsidContains")
        if contains:
            suites = [s for s in suites if contains in s.rsid]
        content = [s.dump(expansion) for s in suites[page * limit : (page + 1) * limit]]
        total_pages = math.ceil(len(suites) / limit)
        return jsonify(
            content=content,
            totalElements=len(suites),
            totalPages=total_pages,
            number=page,
            size=limit,
            numberOfElements=len(content),
            firstPage=page == 0,
            lastPage=page >= total_pages - 1,
            sort=None,
        )

    @app.post("/api/<gcid>/reports")
    def reports(gcid: str) -> Response:
        company = check_company(gcid)
        if isinstance(company, Response):
            return company
        body = request.get_json(silent=True)
        if body is None:
            return _error(400, "invalid_json_input", "the report request must be JSON")
        if not isinstance(body, dict):
            return _error(400, "invalid_request", "the report request must be a JSON object")
        suite = next((s for s in company.suites if s.rsid == body.get("rsid")), None)
        if suite is None:
            return _error(400, "invalid_parameters", "rsid is missing or not a report suite of this company")
        span = _date_range(body)
        if isinstance(span, Response):
            return span
        columns = _columns(body)
        if isinstance(columns, Response):
            return columns
        ids, column_ids = columns
        dimension = body.get("dimension")
        if dimension not in DIMENSIONS:
            return _error(400, "invalid_parameters", "dimension must be one of " + ", ".join(DIMENSIONS))
        settings: dict[str, Any] = body["settings"] if isinstance(body.get("settings"), dict) else {}
        limit = _int_arg(settings.get("limit"), DEFAULT_REPORT_LIMIT, 1, MAX_REPORT_LIMIT)
        page = _int_arg(settings.get("page"), 0, 0, 10**6)
        sort = settings.get("dimensionSort")
        if limit is None or page is None or sort not in (None, "asc", "desc"):
            return _error(
                400, "invalid_parameters", "settings.limit, settings.page or settings.dimensionSort"
            )
        # A column the user may not read: a column error, and zeros where its numbers would be.
        refused = [m in controls.unauthorized_metrics for m in ids]
        start, end = span
        days = [start + timedelta(days=n) for n in range((end - start).days)]

        # No data is collected for days that have not happened yet (the stand-in's clock).
        today = datetime.fromtimestamp(state.now(), tz=timezone.utc).date()

        def value(day: date, n: int) -> int:
            return 0 if refused[n] or day > today else metric_value(suite, day, ids[n])

        rows: list[dict[str, Any]] = []
        if dimension == "variables/daterangeday":
            for day in days:
                data = [value(day, n) for n in range(len(ids))]
                rows.append({"itemId": day_item_id(day), "value": day_label(day), "data": data})
        else:
            for rank, name in enumerate(_PAGES):
                share = 0.3 / (rank + 1) + 0.02 * _unit(suite.rsid, name)
                data = [round(sum(value(d, n) for d in days) * share) for n in range(len(ids))]
                rows.append({"itemId": str(1000 + rank), "value": name, "data": data})
        totals = [sum(value(d, n) for d in days) for n in range(len(ids))]
        # Adobe ranks by the first metric unless a dimension sort is asked for.
        if sort is None:
            rows.sort(key=lambda r: (-r["data"][0], r["itemId"]))
        else:
            rows.sort(key=lambda r: r["itemId"], reverse=sort == "desc")
        shown = rows[page * limit : (page + 1) * limit]
        total_pages = math.ceil(len(rows) / limit)
        meta: dict[str, Any] = {
            "dimension": {"id": dimension, "type": "time" if "daterange" in dimension else "string"},
            "columnIds": column_ids,
        }
        errors = [
            {
                "columnId": column_ids[n],
                "errorCode": "unauthorized_metric",
                "errorId": str(uuid.uuid4()),
                "errorDescription": f"the user may not read the metric {ids[n]}",
            }
            for n in range(len(ids))
            if refused[n]
        ]
        if errors:
            meta["columnErrors"] = errors
        response = jsonify(
            totalPages=total_pages,
            firstPage=page == 0,
            lastPage=page >= total_pages - 1,
            numberOfElements=len(shown),
            number=page,
            totalElements=len(rows),
            columns=meta,
            rows=shown,
            summaryData={"filteredTotals": totals, "totals": totals},
        )
        response.status_code = 206 if errors else 200
        return response

    return controls
