"""Typed calls to the Adobe Analytics 2.0 API as the signed-in user, through ``adobe.session``
unless given another session::

    company = companies()[0]
    suites = report_suites(company.global_company_id)  # every page
    series = page_views_by_day(company.global_company_id, suites[0].rsid, start, end)

A wrong-shaped answer, or none, raises :class:`ProviderError` naming the URL, never the token;
an error Adobe explains (:func:`adobe_error_fields`) an :class:`AnalyticsError` with its code
(:class:`NoAnalyticsProfile` for ``403025``). A column Adobe could not compute (HTTP 206,
"Partial Responses" in Adobe's reports/overview.md) is never read as zeros.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypedDict, TypeVar

import requests

from .api import rate_limited
from .errors import (
    AnalyticsError,
    ColumnError,
    NoAnalyticsProfile,
    ProviderError,
    ReportColumnError,
    adobe_error_fields,
)
from .transport import where

__all__ = [
    "AnalyticsError",
    "ColumnError",
    "Company",
    "DayCount",
    "NoAnalyticsProfile",
    "PageViewsByDay",
    "RankedReport",
    "RankedReportRequest",
    "ReportColumnError",
    "ReportRow",
    "ReportSuite",
    "adobe_error_fields",
    "companies",
    "date_range",
    "iter_report_suites",
    "page_views_by_day",
    "ranked_report",
    "report_suites",
]

#: Report suites asked for per page (Adobe allows up to 1000).
PAGE_SIZE = 100
#: Pages read at most, so a misbehaving server cannot keep us looping.
MAX_PAGES = 1000
#: The report suite fields this module reads, asked for with ``expansion``:
#: without it Adobe answers only ``rsid`` and ``id`` (report-suites.json getSuites_1).
SUITE_EXPANSION = ("name", "currency", "timezoneZoneinfo")
#: The gateway's code for a user whose Adobe ID has no Analytics product profile.
NO_PROFILE_CODE = "403025"
T = TypeVar("T")


class _MetricId(TypedDict):
    id: str


class Metric(_MetricId, total=False):
    """A metric of a report request (``ReportMetric`` in Adobe's swagger.json)."""

    columnId: str
    sort: str


class DateRangeFilter(TypedDict):
    type: str
    dateRange: str


class MetricContainer(TypedDict):
    metrics: list[Metric]


class ReportSettings(TypedDict, total=False):
    limit: int
    page: int
    dimensionSort: str


class RankedReportRequest(TypedDict, total=False):
    """The body of ``POST /api/{globalCompanyId}/reports``."""

    rsid: str
    globalFilters: list[DateRangeFilter]
    metricContainer: MetricContainer
    dimension: str
    settings: ReportSettings


@dataclass(frozen=True)
class Company:
    """A login company the user may report on (from ``/discovery/me``)."""

    global_company_id: str
    name: str
    ims_org_id: str
    #: The company's API rate limit policy, e.g. ``aa_api_tier10_tp`` (Adobe's discovery.md).
    api_rate_limit_policy: str | None = None


@dataclass(frozen=True)
class ReportSuite:
    """A report suite of a company."""

    rsid: str
    name: str
    timezone: str
    currency: str


@dataclass(frozen=True)
class ReportRow:
    """One row of a ranked report: the dimension item and one number per metric."""

    item_id: str
    value: str
    data: tuple[float, ...]


@dataclass(frozen=True)
class RankedReport:
    """A ranked report: its rows and the totals of each metric. ``column_ids`` name the columns
    of ``data`` and ``totals`` in order; ``column_errors`` are the columns Adobe failed to compute
    (it answers HTTP 206 then), whose numbers must not be read as zeros."""

    rows: tuple[ReportRow, ...]
    totals: tuple[float, ...]
    column_ids: tuple[str, ...] = ()
    column_errors: tuple[ColumnError, ...] = ()

    def failed(self, column_id: str) -> ColumnError | None:
        """The error of column ``column_id``, or None when Adobe computed it."""
        return next((e for e in self.column_errors if e.column_id == column_id), None)


@dataclass(frozen=True)
class DayCount:
    """Page views on one day."""

    day: date
    page_views: int


@dataclass(frozen=True)
class PageViewsByDay:
    """Page views per day of a report suite, one entry for every day of the range."""

    rsid: str
    start: date
    end: date  # inclusive
    days: tuple[DayCount, ...]
    total: int

    @property
    def peak(self) -> DayCount | None:
        """The day with the most page views (the first of equals)."""
        return max(self.days, key=lambda d: d.page_views, default=None)

    @property
    def average(self) -> float:
        """Page views per day."""
        return self.total / len(self.days) if self.days else 0.0


def _error_for(response: requests.Response, shown: str) -> AnalyticsError:
    status = response.status_code
    try:
        code, text, error_id = adobe_error_fields(response.json())
    except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply to parse
        code = text = error_id = None
    if code == NO_PROFILE_CODE:
        message = (
            f"Your Adobe ID has no Adobe Analytics product profile, so Adobe refused {shown} "
            f"(HTTP {status}: {' '.join(p for p in (code, text) if p)}). An administrator of your "
            "Adobe organization must add you to an Analytics product profile in the Adobe Admin Console."
        )
        return NoAnalyticsProfile(message, code, status, description=text, error_id=error_id)
    said = ": ".join(p for p in (code, text) if p)
    detail = "; ".join(p for p in (said, error_id and f"error id {error_id}") if p)
    message = f"Adobe answered HTTP {status}{f' ({detail})' if detail else ''} to {shown}"
    return AnalyticsError(message, code, status, description=text, error_id=error_id)


def _request(
    session: requests.Session | None, method: str, url: str, company: str | None = None, **kwargs: Any
) -> tuple[int, Any]:
    """The status and JSON body of a 2xx answer to ``method url``, else an error."""
    if session is None:
        from .extension import adobe  # Flask is imported only when needed

        session = adobe.session
    headers = {"x-proxy-global-company-id": company} if company else {}
    try:
        response = session.request(method, url, headers=headers, **kwargs)
    except requests.RequestException as exc:
        raise ProviderError(
            f"could not reach Adobe for {where(url) if '://' in url else url}: {type(exc).__name__}"
        ) from None
    shown = where(response.url or url)
    with response:
        if response.status_code == 429:  # adobe.session raises this itself; a plain session gets here
            raise rate_limited(response, shown)
        if not 200 <= response.status_code < 300:
            raise _error_for(response, shown)
        try:
            return response.status_code, response.json()
        except (ValueError, RecursionError):
            raise ProviderError(
                f"Adobe answered something that is not JSON to {shown}", status=response.status_code
            ) from None


def _field(data: Any, key: str, kind: type[T], url: str, default: T | None = None) -> T:
    value = data.get(key, default) if isinstance(data, dict) else None
    if not isinstance(value, kind):
        what = "list" if kind is list else "text field"
        raise ProviderError(f"Adobe's answer from {url} lacks the {what} {key!r}")
    return value


def _dict(item: Any, url: str) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ProviderError(f"Adobe's answer from {url} has an entry that is not an object")
    return item


def _numbers(values: list[Any], what: str, url: str) -> tuple[float, ...]:
    # Finite JSON numbers: not a bool, not NaN or ±Infinity (which Python's json accepts).
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        raise ProviderError(f"Adobe's answer from {url} has {what} that is not a finite number")
    return tuple(values)


def companies(session: requests.Session | None = None) -> list[Company]:
    """The companies the user may report on, across all their IMS organisations."""
    url = "/discovery/me"
    _, data = _request(session, "GET", url)
    found: list[Company] = []
    for org in _field(data, "imsOrgs", list, url):
        org = _dict(org, url)
        org_id = _field(org, "imsOrgId", str, url, "")
        for company in _field(org, "companies", list, url):
            company = _dict(company, url)
            ids = _field(company, "globalCompanyId", str, url), _field(company, "companyName", str, url)
            policy = company.get("apiRateLimitPolicy")
            found.append(Company(*ids, org_id, policy if isinstance(policy, str) else None))
    return found


def _suite(item: Any, url: str) -> ReportSuite:
    item = _dict(item, url)
    rsid = _field(item, "rsid", str, url)
    name, timezone, currency = (
        _field(item, key, str, url, "") for key in ("name", "timezoneZoneinfo", "currency")
    )
    return ReportSuite(rsid, name, timezone, currency)


def iter_report_suites(
    global_company_id: str,
    *,
    page_size: int = PAGE_SIZE,
    rsids: Iterable[str] | None = None,
    rsid_contains: str | None = None,
    session: requests.Session | None = None,
) -> Iterator[ReportSuite]:
    """Every report suite of the company, page after page; ``rsids`` and ``rsid_contains`` are
    Adobe's filters of the same names. Adobe answers a page object (``content``, ``totalPages``,
    ``lastPage``...); the bare JSON array of the example in Adobe's report-suites.md is read too:
    a page shorter than ``page_size`` is the last."""
    url = f"/api/{global_company_id}/reportsuites/collections/suites"
    params: dict[str, Any] = {"limit": page_size, "expansion": ",".join(SUITE_EXPANSION)}
    if rsids is not None:
        params["rsids"] = ",".join(rsids)
    if rsid_contains:
        params["rsidContains"] = rsid_contains
    seen: set[str] = set()
    for page in range(MAX_PAGES):
        _, data = _request(session, "GET", url, global_company_id, params={**params, "page": page})
        bare = isinstance(data, list)  # a bare array of suites
        suites = [_suite(item, url) for item in (data if bare else _field(data, "content", list, url))]
        if bare and any(s.rsid in seen for s in suites):
            raise ProviderError(f"Adobe's answer from {url} repeats a page: it ignores 'page'")
        seen.update(s.rsid for s in suites)
        yield from suites
        total = None if bare else data.get("totalPages")
        last = len(suites) < page_size if bare else not suites or data.get("lastPage") is True
        if last or (isinstance(total, int) and page + 1 >= total):
            return


def report_suites(
    global_company_id: str,
    *,
    page_size: int = PAGE_SIZE,
    rsids: Iterable[str] | None = None,
    rsid_contains: str | None = None,
    session: requests.Session | None = None,
) -> list[ReportSuite]:
    """Every report suite of the company (all pages), in Adobe's order."""
    return list(
        iter_report_suites(
            global_company_id, page_size=page_size, rsids=rsids, rsid_contains=rsid_contains, session=session
        )
    )


def date_range(start: date, end: date) -> str:
    """Adobe's ``dateRange`` for the days ``start`` to ``end``, both included."""
    if end < start:
        raise ValueError("the date range ends before it starts")
    return f"{start.isoformat()}T00:00:00.000/{(end + timedelta(days=1)).isoformat()}T00:00:00.000"


def _with_column_ids(body: RankedReportRequest) -> tuple[dict[str, Any], dict[str, str]]:
    """``body`` with a ``columnId`` on every metric (as in Adobe's reports/overview.md
    examples), and the metric id of each column id."""
    sent: dict[str, Any] = dict(body)
    container: Any = sent.get("metricContainer")
    metrics = container.get("metrics") if isinstance(container, dict) else None
    if not isinstance(metrics, list):
        return sent, {}
    metrics = [dict(m) if isinstance(m, dict) else m for m in metrics]
    taken = {m["columnId"] for m in metrics if isinstance(m, dict) and isinstance(m.get("columnId"), str)}
    for index, metric in enumerate(metrics):
        if isinstance(metric, dict) and not isinstance(metric.get("columnId"), str):
            column = str(index)
            while column in taken:
                column += "_"
            taken.add(column)
            metric["columnId"] = column
    sent["metricContainer"] = {**container, "metrics": metrics}
    return sent, {
        m["columnId"]: m["id"] for m in metrics if isinstance(m, dict) and isinstance(m.get("id"), str)
    }


def ranked_report(
    global_company_id: str, body: RankedReportRequest, *, session: requests.Session | None = None
) -> RankedReport:
    """Run a ranked report (``POST /api/{globalCompanyId}/reports``); metrics without a
    ``columnId`` get one (their index). When Adobe could not compute some columns it answers
    HTTP 206: the report then lists them in ``column_errors``, and their numbers are not data."""
    url = f"/api/{global_company_id}/reports"
    sent, metrics = _with_column_ids(body)
    status, data = _request(session, "POST", url, global_company_id, json=sent)
    rows = tuple(_row(row, url) for row in _field(data, "rows", list, url))
    summary, columns = data.get("summaryData"), data.get("columns")
    totals = summary.get("totals") if isinstance(summary, dict) else None
    if not isinstance(totals, list):
        raise ProviderError(f"Adobe's answer from {url} lacks summaryData.totals")
    raw = columns.get("columnErrors") if isinstance(columns, dict) else None
    if raw is not None and not isinstance(raw, list):
        raise ProviderError(f"Adobe's answer from {url} has columns.columnErrors that is not a list")
    column_errors: list[ColumnError] = []
    for item in raw or ():  # RankedColumnError in swagger.json: the errorCode / errorDescription shape
        entry = _dict(item, url)
        column = entry.get("columnId")
        column_id = str(column) if isinstance(column, (str, int)) and not isinstance(column, bool) else ""
        code, text, error_id = adobe_error_fields(entry)
        column_errors.append(
            ColumnError(column_id, metrics.get(column_id), code or "unknown", text or "", error_id)
        )
    if status == 206 and not column_errors:
        raise ProviderError(f"Adobe answered a partial report (HTTP 206) to {url} without saying what failed")
    ids = columns.get("columnIds") if isinstance(columns, dict) else None
    if not (isinstance(ids, list) and all(isinstance(i, str) for i in ids)):
        ids = list(metrics)
    return RankedReport(rows, _numbers(totals, "a summaryData total", url), tuple(ids), tuple(column_errors))


def _row(row: Any, url: str) -> ReportRow:
    row = _dict(row, url)
    values = _numbers(_field(row, "data", list, url), "a row whose data", url)
    item = row.get("itemId", "")
    return ReportRow(str(item) if item is not None else "", _field(row, "value", str, url, ""), values)


def _row_day(row: ReportRow) -> date | None:
    """The day of a ``variables/daterangeday`` row: from its item id (``1YYMMDD``,
    years since 1900, zero-based month), else from its label (``Jan 1, 2026``)."""
    item = row.item_id
    if len(item) == 7 and item.isdigit():
        with suppress(ValueError):
            return date(1900 + int(item[:3]), int(item[3:5]) + 1, int(item[5:]))
    with suppress(ValueError):
        return datetime.strptime(row.value, "%b %d, %Y").date()
    return None


def page_views_by_day(
    global_company_id: str, rsid: str, start: date, end: date, *, session: requests.Session | None = None
) -> PageViewsByDay:
    """Page views of report suite ``rsid`` for each day from ``start`` to ``end`` (included), one
    entry per day in date order: days Adobe leaves out (it omits days without data) count as zero.
    When Adobe could not give page views (HTTP 206 with a column error: the user may not read the
    metric, or the suite lacks it) :class:`ReportColumnError` is raised rather than zeros."""
    metric = "metrics/pageviews"
    days = (end - start).days + 1
    body: RankedReportRequest = {
        "rsid": rsid,
        "globalFilters": [{"type": "dateRange", "dateRange": date_range(start, end)}],
        "metricContainer": {"metrics": [{"columnId": "0", "id": metric}]},
        "dimension": "variables/daterangeday",
        "settings": {"limit": days, "page": 0, "dimensionSort": "asc"},
    }
    report = ranked_report(global_company_id, body, session=session)
    if report.column_errors:  # one column asked for: whatever failed, it is the page views
        first = report.column_errors[0]
        why = f"{first.code}: {first.description}" if first.description else first.code
        message = f"Adobe did not report {metric} for report suite {rsid} ({why})."
        if first.code == "unauthorized_metric":
            message += " Your Analytics product profile lacks this metric; an administrator can add it."
        raise ReportColumnError(message, metric, report.column_errors)
    counts: Counter[date] = Counter()
    for row in report.rows:
        day = _row_day(row)
        if day is not None and start <= day <= end and row.data:
            counts[day] += int(row.data[0])
    dates = (start + timedelta(days=n) for n in range(days))
    series = tuple(DayCount(day, counts[day]) for day in dates)
    total = int(report.totals[0]) if report.totals else sum(d.page_views for d in series)
    return PageViewsByDay(rsid, start, end, series, total)
