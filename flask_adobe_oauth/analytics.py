"""Typed calls to the Adobe Analytics 2.0 API as the signed-in user.

::

    from flask_adobe_oauth.analytics import companies, report_suites, page_views_by_day

    company = companies()[0]
    suites = report_suites(company.global_company_id)          # every page
    series = page_views_by_day(company.global_company_id, suites[0].rsid, start, end)

Each function uses ``adobe.session`` unless another session is given, so the token,
``x-api-key``, refreshes and ``RateLimited`` come from there. An answer Adobe should not
have given (an error status, a body of the wrong shape, no connection) raises
:class:`ProviderError`, naming the URL but never the token. Errors Adobe explains
(:func:`adobe_error_fields`) become an :class:`AnalyticsError` carrying its code; a user
without an Analytics product profile (gateway code ``403025``) gets
:class:`NoAnalyticsProfile`, and a report column Adobe could not compute (HTTP 206 with
``columns.columnErrors``, "Partial Responses" in Adobe's reports/overview.md) is never read as zeros.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypedDict

import requests

from .api import rate_limited
from .errors import (
    MAX_QUOTED,
    AnalyticsError,
    ColumnError,
    NoAnalyticsProfile,
    ProviderError,
    ReportColumnError,
    adobe_error_fields,
    error_code,
    printable_text,
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
    """A ranked report: its rows and the totals of each metric.

    ``column_ids`` name the columns of ``data`` and ``totals`` in order;
    ``column_errors`` lists the columns Adobe failed to compute (it answers
    HTTP 206 then), whose numbers must not be read as zeros.
    """

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
    detail = ": ".join(p for p in (code, text) if p)
    if error_id:
        detail += f"{'; ' if detail else ''}error id {error_id}"
    error: type[AnalyticsError] = AnalyticsError
    message = f"Adobe answered HTTP {status}{f' ({detail})' if detail else ''} to {shown}"
    if code == NO_PROFILE_CODE:
        error = NoAnalyticsProfile
        message = (
            f"Your Adobe ID has no Adobe Analytics product profile, so Adobe refused {shown} "
            f"(HTTP {status}: {' '.join(p for p in (code, text) if p)}). An administrator of your "
            "Adobe organization must add you to an Analytics product profile in the Adobe Admin Console."
        )
    return error(message, code, status, description=text, error_id=error_id)


def _request(
    session: requests.Session | None, method: str, url: str, company: str | None = None, **kwargs: Any
) -> tuple[int, Any]:
    """``method url`` through ``session`` (else ``adobe.session``): the status and JSON body
    of a 2xx answer, else an error."""
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
    try:
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
    finally:
        response.close()


def _str(data: Mapping[str, Any], key: str, url: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str):
        raise ProviderError(f"Adobe's answer from {url} lacks the text field {key!r}")
    return value


def _list(data: Any, key: str, url: str) -> list[Any]:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, list):
        raise ProviderError(f"Adobe's answer from {url} lacks the list {key!r}")
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
    for org in _list(data, "imsOrgs", url):
        org = _dict(org, url)
        org_id = _str(org, "imsOrgId", url, "")
        for company in _list(org, "companies", url):
            company = _dict(company, url)
            ids = _str(company, "globalCompanyId", url), _str(company, "companyName", url)
            policy = company.get("apiRateLimitPolicy")
            found.append(Company(*ids, org_id, policy if isinstance(policy, str) else None))
    return found


def _suite(item: Any, url: str) -> ReportSuite:
    item = _dict(item, url)
    rsid = _str(item, "rsid", url)
    name, timezone, currency = (_str(item, key, url, "") for key in ("name", "timezoneZoneinfo", "currency"))
    return ReportSuite(rsid, name, timezone, currency)


def iter_report_suites(
    global_company_id: str,
    *,
    page_size: int = PAGE_SIZE,
    rsids: Iterable[str] | None = None,
    rsid_contains: str | None = None,
    session: requests.Session | None = None,
) -> Iterator[ReportSuite]:
    """Every report suite of the company, reading Adobe's pages one after another.

    Asks for the fields read (``expansion=name,currency,timezoneZoneinfo``); ``rsids`` and
    ``rsid_contains`` are Adobe's filters of the same names. Adobe answers a page object
    (``content``, ``totalPages``, ``lastPage``...); the bare JSON array of the example in
    Adobe's report-suites.md is read too: a page shorter than ``page_size`` is the last.
    """
    url = f"/api/{global_company_id}/reportsuites/collections/suites"
    params: dict[str, Any] = {"limit": page_size, "expansion": ",".join(SUITE_EXPANSION)}
    if rsids is not None:
        params["rsids"] = ",".join(rsids)
    if rsid_contains:
        params["rsidContains"] = rsid_contains
    seen: set[str] = set()
    for page in range(MAX_PAGES):
        _, data = _request(session, "GET", url, global_company_id, params={**params, "page": page})
        if isinstance(data, list):  # a bare array of suites
            suites = [_suite(item, url) for item in data]
            if any(s.rsid in seen for s in suites):
                raise ProviderError(f"Adobe's answer from {url} repeats a page: it ignores 'page'")
            seen.update(s.rsid for s in suites)
            yield from suites
            if len(suites) < page_size:
                return
            continue
        content = _list(data, "content", url)
        yield from (_suite(item, url) for item in content)
        total_pages, last = data.get("totalPages"), data.get("lastPage")
        if not content or last is True or (isinstance(total_pages, int) and page + 1 >= total_pages):
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
    suites = iter_report_suites(
        global_company_id, page_size=page_size, rsids=rsids, rsid_contains=rsid_contains, session=session
    )
    return list(suites)


def date_range(start: date, end: date) -> str:
    """Adobe's ``dateRange`` for the days ``start`` to ``end``, both included."""
    if end < start:
        raise ValueError("the date range ends before it starts")
    after = end + timedelta(days=1)
    return f"{start.isoformat()}T00:00:00.000/{after.isoformat()}T00:00:00.000"


def _with_column_ids(body: RankedReportRequest) -> tuple[dict[str, Any], dict[str, str]]:
    """``body`` with a ``columnId`` on every metric (as in Adobe's reports/overview.md
    examples), and the metric id of each column id."""
    sent: dict[str, Any] = dict(body)
    container = sent.get("metricContainer")
    metrics = container.get("metrics") if isinstance(container, dict) else None
    if not isinstance(container, dict) or not isinstance(metrics, list):
        return sent, {}
    taken = {m["columnId"] for m in metrics if isinstance(m, dict) and isinstance(m.get("columnId"), str)}
    metrics = [dict(m) if isinstance(m, dict) else m for m in metrics]
    columns: dict[str, str] = {}
    for index, metric in enumerate(metrics):
        if not isinstance(metric, dict):
            continue
        if not isinstance(metric.get("columnId"), str):
            column = str(index)
            while column in taken:
                column += "_"
            taken.add(column)
            metric["columnId"] = column
        if isinstance(metric.get("id"), str):
            columns[metric["columnId"]] = metric["id"]
    sent["metricContainer"] = {**container, "metrics": metrics}
    return sent, columns


def _column_errors(data: dict[str, Any], metrics: dict[str, str], url: str) -> tuple[ColumnError, ...]:
    columns = data.get("columns")
    raw = columns.get("columnErrors") if isinstance(columns, dict) else None
    if raw is not None and not isinstance(raw, list):
        raise ProviderError(f"Adobe's answer from {url} has columns.columnErrors that is not a list")
    return tuple(_column_error(_dict(entry, url), metrics) for entry in raw or ())


def _column_error(entry: dict[str, Any], metrics: dict[str, str]) -> ColumnError:
    column = entry.get("columnId")
    column_id = str(column) if isinstance(column, (str, int)) and not isinstance(column, bool) else ""
    code = error_code(entry.get("errorCode")) or "unknown"
    description = printable_text(entry.get("errorDescription"), MAX_QUOTED) or ""
    return ColumnError(column_id, metrics.get(column_id), code, description, error_code(entry.get("errorId")))


def ranked_report(
    global_company_id: str, body: RankedReportRequest, *, session: requests.Session | None = None
) -> RankedReport:
    """Run a ranked report (``POST /api/{globalCompanyId}/reports``); metrics without a
    ``columnId`` get one (their index). When Adobe could not compute some columns it answers
    HTTP 206: the report then lists them in ``column_errors``, and their numbers are not data."""
    url = f"/api/{global_company_id}/reports"
    sent, metrics = _with_column_ids(body)
    status, data = _request(session, "POST", url, global_company_id, json=sent)
    rows = tuple(_row(row, url) for row in _list(data, "rows", url))
    summary = data.get("summaryData")
    totals = summary.get("totals") if isinstance(summary, dict) else None
    if not isinstance(totals, list):
        raise ProviderError(f"Adobe's answer from {url} lacks summaryData.totals")
    column_errors = _column_errors(data, metrics, url)
    if status == 206 and not column_errors:
        raise ProviderError(f"Adobe answered a partial report (HTTP 206) to {url} without saying what failed")
    columns = data.get("columns")
    ids = columns.get("columnIds") if isinstance(columns, dict) else None
    column_ids = (
        tuple(ids) if isinstance(ids, list) and all(isinstance(i, str) for i in ids) else tuple(metrics)
    )
    return RankedReport(rows, _numbers(totals, "a summaryData total", url), column_ids, column_errors)


def _row(row: Any, url: str) -> ReportRow:
    row = _dict(row, url)
    values = _numbers(_list(row, "data", url), "a row whose data", url)
    item = row.get("itemId", "")
    return ReportRow(str(item) if item is not None else "", _str(row, "value", url, ""), values)


def _row_day(row: ReportRow) -> date | None:
    """The day of a ``variables/daterangeday`` row: from its item id (``1YYMMDD``,
    years since 1900, zero-based month), else from its label (``Jan 1, 2026``)."""
    item = row.item_id
    if len(item) == 7 and item.isdigit():
        try:
            return date(1900 + int(item[:3]), int(item[3:5]) + 1, int(item[5:]))
        except ValueError:
            pass
    try:
        return datetime.strptime(row.value, "%b %d, %Y").date()
    except ValueError:
        return None


def page_views_by_day(
    global_company_id: str, rsid: str, start: date, end: date, *, session: requests.Session | None = None
) -> PageViewsByDay:
    """Page views of report suite ``rsid`` for each day from ``start`` to ``end`` (included).

    Days Adobe leaves out (it omits days without data) count as zero, so the result has one
    entry per day, in date order. When Adobe could not give page views (HTTP 206 with a column
    error: the user may not read the metric, or it is not enabled in the suite)
    :class:`ReportColumnError` is raised rather than a series of zeros.
    """
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
        raise _not_reported(metric, rsid, report.column_errors)
    counts: Counter[date] = Counter()
    for row in report.rows:
        day = _row_day(row)
        if day is not None and start <= day <= end and row.data:
            counts[day] += int(row.data[0])
    dates = (start + timedelta(days=n) for n in range(days))
    series = tuple(DayCount(day, counts[day]) for day in dates)
    total = int(report.totals[0]) if report.totals else sum(d.page_views for d in series)
    return PageViewsByDay(rsid, start, end, series, total)


def _not_reported(metric: str, rsid: str, errors: tuple[ColumnError, ...]) -> ReportColumnError:
    first = errors[0]
    why = f"{first.code}: {first.description}" if first.description else first.code
    message = f"Adobe did not report {metric} for report suite {rsid} ({why})."
    if first.code == "unauthorized_metric":
        message += (
            " Your Adobe Analytics product profile does not include this metric; an administrator can add it."
        )
    return ReportColumnError(message, metric, errors)
