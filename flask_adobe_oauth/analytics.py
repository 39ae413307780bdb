"""Typed calls to the Adobe Analytics 2.0 API as the signed-in user.

::

    from flask_adobe_oauth.analytics import companies, report_suites, page_views_by_day

    company = companies()[0]
    suites = report_suites(company.global_company_id)          # every page
    series = page_views_by_day(company.global_company_id, suites[0].rsid, start, end)

Each function uses ``adobe.session`` unless another session is given, so
the token, ``x-api-key``, refreshes and ``RateLimited`` come from there.
An answer Adobe should not have given (an error status, a body of the wrong
shape, no connection) raises :class:`ProviderError`, naming the URL but
never the token.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, TypedDict

import requests

from .client import where
from .errors import ProviderError

__all__ = [
    "Company",
    "DayCount",
    "PageViewsByDay",
    "RankedReport",
    "RankedReportRequest",
    "ReportRow",
    "ReportSuite",
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


class DateRangeFilter(TypedDict):
    type: str
    dateRange: str


class Metric(TypedDict):
    id: str


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
    """A ranked report: its rows and the totals of each metric."""

    rows: tuple[ReportRow, ...]
    totals: tuple[float, ...]


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


def _session(session: requests.Session | None) -> requests.Session:
    if session is not None:
        return session
    from .extension import adobe

    return adobe.session


def _call(
    session: requests.Session | None,
    method: str,
    url: str,
    company: str | None = None,
    **kwargs: Any,
) -> Any:
    """``method url`` through the session; the JSON body of a 2xx answer, else ProviderError."""
    headers = {"x-proxy-global-company-id": company} if company else {}
    http = _session(session)
    try:
        response = http.request(method, url, headers=headers, **kwargs)
    except requests.RequestException as exc:
        raise ProviderError(
            f"could not reach Adobe for {where(url) if '://' in url else url}: {type(exc).__name__}"
        ) from None
    shown = where(response.url or url)
    try:
        if not 200 <= response.status_code < 300:
            code = _error_code(response)
            detail = f" ({code})" if code else ""
            raise ProviderError(f"Adobe answered HTTP {response.status_code}{detail} to {shown}", code)
        try:
            return response.json()
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deeply to parse
            raise ProviderError(f"Adobe answered something that is not JSON to {shown}") from None
    finally:
        response.close()


def _error_code(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except (ValueError, RecursionError):
        return None
    if isinstance(body, dict):
        for key in ("errorCode", "error_code", "error"):
            value = body.get(key)
            if isinstance(value, str) and value.replace("_", "").isalnum() and len(value) <= 64:
                return value
    return None


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


def companies(session: requests.Session | None = None) -> list[Company]:
    """The companies the user may report on, across all their IMS organisations."""
    url = "/discovery/me"
    data = _call(session, "GET", url)
    found: list[Company] = []
    for org in _list(data, "imsOrgs", url):
        org = _dict(org, url)
        org_id = _str(org, "imsOrgId", url, "")
        for company in _list(org, "companies", url):
            company = _dict(company, url)
            found.append(
                Company(_str(company, "globalCompanyId", url), _str(company, "companyName", url), org_id)
            )
    return found


def iter_report_suites(
    global_company_id: str, *, page_size: int = PAGE_SIZE, session: requests.Session | None = None
) -> Iterator[ReportSuite]:
    """Every report suite of the company, reading Adobe's pages one after another."""
    url = f"/api/{global_company_id}/reportsuites/collections/suites"
    for page in range(MAX_PAGES):
        data = _call(session, "GET", url, global_company_id, params={"limit": page_size, "page": page})
        content = _list(data, "content", url)
        for item in content:
            item = _dict(item, url)
            yield ReportSuite(
                _str(item, "rsid", url),
                _str(item, "name", url, ""),
                _str(item, "timezoneZoneinfo", url, ""),
                _str(item, "currency", url, ""),
            )
        total_pages = data.get("totalPages")
        last = data.get("lastPage")
        if not content or last is True or (isinstance(total_pages, int) and page + 1 >= total_pages):
            return


def report_suites(
    global_company_id: str, *, page_size: int = PAGE_SIZE, session: requests.Session | None = None
) -> list[ReportSuite]:
    """Every report suite of the company (all pages), in Adobe's order."""
    return list(iter_report_suites(global_company_id, page_size=page_size, session=session))


def date_range(start: date, end: date) -> str:
    """Adobe's ``dateRange`` for the days ``start`` to ``end``, both included."""
    if end < start:
        raise ValueError("the date range ends before it starts")
    after = end + timedelta(days=1)
    return f"{start.isoformat()}T00:00:00.000/{after.isoformat()}T00:00:00.000"


def ranked_report(
    global_company_id: str, body: RankedReportRequest, *, session: requests.Session | None = None
) -> RankedReport:
    """Run a ranked report (``POST /api/{globalCompanyId}/reports``)."""
    url = f"/api/{global_company_id}/reports"
    data = _call(session, "POST", url, global_company_id, json=body)
    rows: list[ReportRow] = []
    for row in _list(data, "rows", url):
        row = _dict(row, url)
        values = _list(row, "data", url)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            raise ProviderError(f"Adobe's answer from {url} has a row with non-numeric data")
        rows.append(ReportRow(str(row.get("itemId", "")), _str(row, "value", url, ""), tuple(values)))
    summary = data.get("summaryData")
    totals = summary.get("totals") if isinstance(summary, dict) else None
    if not isinstance(totals, list) or not all(isinstance(v, (int, float)) for v in totals):
        raise ProviderError(f"Adobe's answer from {url} lacks summaryData.totals")
    return RankedReport(tuple(rows), tuple(totals))


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
    global_company_id: str,
    rsid: str,
    start: date,
    end: date,
    *,
    session: requests.Session | None = None,
) -> PageViewsByDay:
    """Page views of report suite ``rsid`` for each day from ``start`` to ``end`` (included).

    Days Adobe leaves out (it omits days without data) count as zero, so the
    result always has one entry per day, in date order.
    """
    days = (end - start).days + 1
    body: RankedReportRequest = {
        "rsid": rsid,
        "globalFilters": [{"type": "dateRange", "dateRange": date_range(start, end)}],
        "metricContainer": {"metrics": [{"id": "metrics/pageviews"}]},
        "dimension": "variables/daterangeday",
        "settings": {"limit": days, "page": 0, "dimensionSort": "asc"},
    }
    report = ranked_report(global_company_id, body, session=session)
    counts: dict[date, int] = {}
    for row in report.rows:
        day = _row_day(row)
        if day is not None and start <= day <= end and row.data:
            counts[day] = counts.get(day, 0) + int(row.data[0])
    series = tuple(
        DayCount(start + timedelta(days=n), counts.get(start + timedelta(days=n), 0)) for n in range(days)
    )
    total = int(report.totals[0]) if report.totals else sum(d.page_views for d in series)
    return PageViewsByDay(rsid, start, end, series, total)
