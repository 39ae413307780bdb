"""Adobe's Analytics 2.0 API contract, as the tests hold the helpers and the stand-in to it.

Derived by hand from AdobeDocs/analytics-2.0-apis at commit
016812513593a32fd77a20778054d99332d92c22 (the schemas below are our own
transcription into JSON Schema draft 7, not copies of Adobe's text):

* ``static/swagger.json`` (Swagger 2.0, host analytics.adobe.io, basePath
  ``/api``): operation ``runReport``, ``POST /{globalCompanyId}/reports``,
  with the definitions RankedRequest, ReportFilter, ReportSearch,
  RankedSettings, RankedStatistics, ReportMetrics, ReportMetric,
  ReportMetricPredictiveSettings, ReportRows, ReportRow, Locale,
  AnalyticsSegmentDefinition, RankedReportData, RankedColumnMetaData,
  ReportDimension, RankedColumnError, Row, RankedSummaryData and
  ReportErrorStatus; and the shared header parameters ``authorization`` and
  ``x-api-key`` (both required).
* ``static/report-suites.json`` (OpenAPI 3.0.1, server
  ``https://analytics.adobe.io/api``): operation ``getSuites_1``,
  ``GET /{globalCompanyId}/reportsuites/collections/suites``, and the schemas
  Suite, CalendarSettings and AnalyticsAsrErrorResponse.
* ``src/pages/guides/endpoints/discovery.md``: ``GET /discovery/me``, which no
  spec file describes; its schema comes from the guide's attribute table.
* ``src/pages/guides/faq.md``: the gateway's answer to too many requests.
* ``src/pages/guides/endpoints/reports/index.md``: the ``dateRange`` grammar.
* ``src/pages/guides/endpoints/reports/overview.md``: a whole ranked report
  answer, and what a 206 means.
* The ``x-proxy-global-company-id`` header: ``static/data-sources.json``
  (security scheme ``global_company_id``), ``static/cja-migration.json``,
  ``src/pages/guides/endpoints/classifications/import-file.md`` and
  ``src/pages/guides/endpoints/cloudloc/index.md``. Neither swagger.json nor
  report-suites.json lists it; the product sends it on every ``/api`` call
  and the stand-in insists on it, so :func:`check_request` does too.

Decisions where the spec is silent or wrong (each also noted where it applies):

* Unknown members. Swagger 2.0 and OpenAPI 3 allow members a schema does not
  declare, Adobe's guides say Adobe may add members at any time, and the
  guide's own ranked request (reports/overview.md) sends undeclared ones
  (``capacityMetadata``, ``dateRangeId``, ``settings.includeAnnotations``).
  So answers may always carry more, and so may requests by default;
  ``strict=True`` refuses undeclared request members (a typo such as
  ``metricsContainer`` would otherwise pass), and the tests use it for the
  product's own requests.
* Required members. The spec marks nothing required. A schema that requires
  nothing passes ``{}``, so the members every example in Adobe's guides
  carries, and that a client has to read, are required here (listed in each
  schema); everything else is optional.
* getSuites_1's 200 schema is a single Suite, which is wrong: the guide
  (src/pages/guides/endpoints/report-suites.md) shows a bare list, and
  clients of the live API (the helpers among them) read a page object
  ``{content: [Suite...], totalElements, totalPages, number, size,
  numberOfElements, firstPage, lastPage}``, the shape of Adobe's other
  paged answers (RankedReportData's paging members in swagger.json).
  :data:`SUITES_PAGE` is that page; its items are Suite.
* ReportDimension.type is an upper-case enum in swagger.json, but every
  answer in the guides has it in lower case (``"time"``, ``"string"``,
  ``"enum"``): both spellings are accepted.
* Answers with a status the spec does not list for an operation: 401, 403
  and other 4xx/5xx may come from the API gateway (``{error_code, message}``,
  as in faq.md) or from the service (the operation's own error shape), so
  they are checked against either; an unlisted 2xx is a problem.
* ``limit`` and ``page`` of getSuites_1 are typed *string* in
  report-suites.json (defaults ``"10"`` and ``"0"``) but mean counts, so
  their values must be decimal numbers (``limit`` at least 1).
* Formats (``anchorDate`` as date-time) are not checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

__all__ = [
    "DISCOVERY_ME",
    "GATEWAY_ERROR",
    "OPERATIONS",
    "RANKED_REPORT_DATA",
    "RANKED_REQUEST",
    "REPORT_ERROR_STATUS",
    "SPEC_COMMIT",
    "SPEC_REPO",
    "SUITE",
    "SUITES_PAGE",
    "Operation",
    "QueryParam",
    "check_exchange",
    "check_request",
    "check_response",
    "closed",
    "operation_for",
    "schema_problems",
]

SPEC_REPO = "AdobeDocs/analytics-2.0-apis"
SPEC_COMMIT = "016812513593a32fd77a20778054d99332d92c22"

Schema = dict[str, Any]

# -- building blocks ---------------------------------------------------------------

STRING: Schema = {"type": "string"}
BOOLEAN: Schema = {"type": "boolean"}
DOUBLE: Schema = {"type": "number"}  # "number"/"double" in swagger.json
#: "integer"/"int32" in swagger.json: the format bounds the value too.
INT32: Schema = {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1}
COUNT: Schema = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}


def array(items: Schema, **more: Any) -> Schema:
    return {"type": "array", "items": items, **more}


def obj(properties: Mapping[str, Schema], required: Sequence[str] = (), **more: Any) -> Schema:
    schema: Schema = {"type": "object", "properties": dict(properties), **more}
    if required:
        schema["required"] = list(required)
    return schema


def closed(schema: Schema) -> Schema:
    """A copy of ``schema`` in which every object with declared properties accepts
    no others (unless it already says what it does with them)."""
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {name: closed(sub) for name, sub in out["properties"].items()}
        out.setdefault("additionalProperties", False)
    if isinstance(out.get("items"), dict):
        out["items"] = closed(out["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in out:
            out[key] = [closed(sub) for sub in out[key]]
    return out


# -- the ranked report request (static/swagger.json, definition RankedRequest) --------

#: ReportFilter.type.
FILTER_TYPES = ("dateRange", "breakdown", "segment", "excludeItemIds")

# The dateRange grammar of src/pages/guides/endpoints/reports/index.md: two ends
# joined by "/", each an ISO 8601 date-time (seconds and milliseconds optional)
# or a formula: a base unit (this hour/day/week/month/quarter/year) shifted by
# any number of signed amounts of a unit. swagger.json only says "string".
_INSTANT = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?"
_FORMULA = r"t[hdwmqy](?:[+-]\d+[hdwmqy])*"
DATE_RANGE_PATTERN = rf"^(?:{_INSTANT}|{_FORMULA})/(?:{_INSTANT}|{_FORMULA})$"

#: AnalyticsSegmentDefinition is a stub in swagger.json (a real segment
#: definition nests arbitrarily), so it stays open even under ``closed``.
SEGMENT_DEFINITION: Schema = obj(
    {"func": STRING, "version": array(INT32), "container": {"type": "object"}},
    additionalProperties=True,
)

REPORT_FILTER: Schema = obj(
    {
        "id": STRING,
        "type": {"type": "string", "enum": list(FILTER_TYPES)},
        "dimension": STRING,
        "itemId": STRING,
        "itemIds": array(STRING),
        "segmentId": STRING,
        "segmentDefinition": SEGMENT_DEFINITION,
        "dateRange": {"type": "string", "pattern": DATE_RANGE_PATTERN},
        "dateRangeRelative": STRING,
        "excludeItemIds": array(STRING),
    }
)

_UNIQUE_STRINGS = array(STRING, uniqueItems=True)
LOCALE: Schema = obj(
    {
        **{
            name: STRING
            for name in (
                "language",
                "script",
                "country",
                "variant",
                "iso3Language",
                "iso3Country",
                "displayLanguage",
                "displayScript",
                "displayCountry",
                "displayVariant",
                "displayName",
            )
        },
        "extensionKeys": _UNIQUE_STRINGS,
        "unicodeLocaleAttributes": _UNIQUE_STRINGS,
        "unicodeLocaleKeys": _UNIQUE_STRINGS,
    }
)

REPORT_SEARCH: Schema = obj(
    {
        "clause": STRING,
        "excludeItemIds": array(STRING),
        "itemIds": array(STRING),
        "includeSearchTotal": BOOLEAN,
        "empty": BOOLEAN,
    }
)

RANKED_SETTINGS: Schema = obj(
    {
        "limit": INT32,
        "page": INT32,
        "dimensionSort": STRING,  # no enum in the spec; the guides use "asc"/"desc"
        "countRepeatInstances": BOOLEAN,
        "reflectRequest": BOOLEAN,
        "includeAnomalyDetection": BOOLEAN,
        "includeForecasting": BOOLEAN,
        "includePercentChange": BOOLEAN,
        "includeLatLong": BOOLEAN,
        "nonesBehavior": STRING,
    }
)

RANKED_STATISTICS: Schema = obj({"functions": array(STRING), "ignoreZeroes": BOOLEAN})

REPORT_METRIC: Schema = obj(
    {
        "id": STRING,
        "columnId": STRING,
        "filters": array(STRING),  # ids of metricFilters
        "sort": STRING,
        "metricDefinition": {"type": "object", "additionalProperties": {"type": "object"}},
        "predictive": obj({"anomalyConfidence": DOUBLE}),  # ReportMetricPredictiveSettings
    }
)

REPORT_METRICS: Schema = obj({"metricFilters": array(REPORT_FILTER), "metrics": array(REPORT_METRIC)})

REPORT_ROWS: Schema = obj(
    {
        "rowFilters": array(REPORT_FILTER),
        "rows": array(obj({"rowId": STRING, "filters": array(STRING)})),  # ReportRow
    }
)

RANKED_REQUEST: Schema = obj(
    {
        "rsid": STRING,
        "dimension": STRING,
        "locale": LOCALE,
        "globalFilters": array(REPORT_FILTER),
        "search": REPORT_SEARCH,
        "settings": RANKED_SETTINGS,
        "statistics": RANKED_STATISTICS,
        "metricContainer": REPORT_METRICS,
        "rowContainer": REPORT_ROWS,
        "anchorDate": STRING,
    }
)

# -- the ranked report answer (definition RankedReportData) -----------------------------

#: ReportDimension.type as swagger.json spells it; answers use lower case.
DIMENSION_TYPES = ("STRING", "INT", "DECIMAL", "CURRENCY", "PERCENT", "TIME", "ENUM", "ORDERED_ENUM")

#: RankedColumnError.errorCode: why one column of a 206 answer has no data.
COLUMN_ERROR_CODES = (
    "unauthorized_metric",
    "unauthorized_dimension",
    "unauthorized_dimension_global",
    "anomaly_detection_failure_unexpected_item_count",
    "anomaly_detection_failure_tsa_service",
    "not_enabled_metric",
    "not_enabled_dimension",
    "not_enabled_dimension_global",
)

REPORT_DIMENSION: Schema = obj(
    {
        "id": STRING,
        "type": {"type": "string", "enum": [*DIMENSION_TYPES, *(t.lower() for t in DIMENSION_TYPES)]},
    }
)

# columnId and errorCode are the point of a column error, so they are required.
RANKED_COLUMN_ERROR: Schema = obj(
    {
        "columnId": STRING,
        "errorCode": {"type": "string", "enum": list(COLUMN_ERROR_CODES)},
        "errorId": STRING,
        "errorDescription": STRING,
    },
    required=("columnId", "errorCode"),
)

RANKED_COLUMN_META_DATA: Schema = obj(
    {"dimension": REPORT_DIMENSION, "columnIds": array(STRING), "columnErrors": array(RANKED_COLUMN_ERROR)},
    required=("dimension", "columnIds"),
)

_DOUBLES = array(DOUBLE)
ROW: Schema = obj(
    {
        "itemId": STRING,
        "value": STRING,
        "rowId": STRING,
        "data": _DOUBLES,
        "dataExpected": _DOUBLES,
        "dataUpperBound": _DOUBLES,
        "dataLowerBound": _DOUBLES,
        "dataAnomalyDetected": array(BOOLEAN),
        "percentChange": _DOUBLES,
        "latitude": DOUBLE,
        "longitude": DOUBLE,
        "dataForecasted": _DOUBLES,
        "dataForecastedUpperBound": _DOUBLES,
        "dataForecastedLowerBound": _DOUBLES,
    },
    required=("itemId", "value", "data"),
)

# RankedSummaryData is a bare object in swagger.json; the members come from the
# response table of src/pages/guides/endpoints/reports/overview.md.
RANKED_SUMMARY_DATA: Schema = obj(
    {
        "totals": _DOUBLES,
        "filteredTotals": _DOUBLES,
        "annotations": array({}),
        "annotationExceptions": array({}),
    },
    required=("totals",),
)

RANKED_REPORT_DATA: Schema = obj(
    {
        "totalPages": COUNT,
        "firstPage": BOOLEAN,
        "lastPage": BOOLEAN,
        "numberOfElements": COUNT,
        "number": COUNT,
        "totalElements": COUNT,
        "message": STRING,
        "request": RANKED_REQUEST,
        "reportId": STRING,
        "columns": RANKED_COLUMN_META_DATA,
        "rows": array(ROW),
        "summaryData": RANKED_SUMMARY_DATA,
    },
    required=(
        "totalPages",
        "firstPage",
        "lastPage",
        "numberOfElements",
        "number",
        "totalElements",
        "columns",
        "rows",
        "summaryData",
    ),
)

# runReport's 206 means some columns failed (swagger.json's 206 response; the
# "Partial Responses" section of reports/overview.md), so it must say which;
# a 200 must not carry column errors.
RANKED_REPORT_DATA_200: Schema = {
    "allOf": [
        RANKED_REPORT_DATA,
        {"properties": {"columns": {"properties": {"columnErrors": {"maxItems": 0}}}}},
    ]
}
RANKED_REPORT_DATA_206: Schema = {
    "allOf": [
        RANKED_REPORT_DATA,
        {
            "properties": {
                "columns": {"required": ["columnErrors"], "properties": {"columnErrors": {"minItems": 1}}}
            }
        },
    ]
}

# -- errors ------------------------------------------------------------------------------

#: ReportErrorStatus.errorCode, every value swagger.json lists.
REPORT_ERROR_CODES = (
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
)

# An error without its code tells a client nothing: errorCode is required.
REPORT_ERROR_STATUS: Schema = obj(
    {
        "errorCode": {"type": "string", "enum": list(REPORT_ERROR_CODES)},
        "errorDescription": STRING,
        "errorId": STRING,
        "errorDetails": {"type": "object", "additionalProperties": {"type": "object"}},
        "rootCauseService": STRING,
    },
    required=("errorCode",),
)

#: static/report-suites.json, schema AnalyticsAsrErrorResponse (errorCode is free text there).
ASR_ERROR: Schema = obj(
    {"errorCode": STRING, "errorDescription": STRING, "errorId": STRING}, required=("errorCode",)
)

#: What Adobe's API gateway answers itself (bad token, API key, rate limit):
#: the shape of the 429 body in src/pages/guides/faq.md, a numeric code whose
#: first three digits are the HTTP status (checked by :func:`check_response`).
GATEWAY_ERROR: Schema = obj(
    {"error_code": {"type": "string", "pattern": r"^[0-9]{6}$"}, "message": STRING},
    required=("error_code", "message"),
)
#: faq.md: 12 requests per 6 seconds per user, then 429 with exactly this code.
RATE_LIMITED: Schema = {"allOf": [GATEWAY_ERROR, {"properties": {"error_code": {"enum": ["429050"]}}}]}

# -- report suites (static/report-suites.json) ------------------------------------------

#: CalendarSettings.type.
CALENDAR_TYPES = ("GREGORIAN", "NRF", "QRS", "CUSTOM_454", "CUSTOM_445", "MODIFIED_GREGORIAN", "CUSTOM_544")

CALENDAR_SETTINGS: Schema = obj(
    {"rsid": STRING, "anchorDate": STRING, "type": {"type": "string", "enum": list(CALENDAR_TYPES)}}
)

#: Suite. Only ``rsid`` is always there; the guide's listing shows the rest
#: depends on the ``expansion`` asked for.
SUITE: Schema = obj(
    {
        "calendarType": CALENDAR_SETTINGS,
        "rsid": STRING,
        "parentRsid": STRING,
        "name": STRING,
        "timezoneZoneinfo": STRING,
        "currency": STRING,
        "id": STRING,
    },
    required=("rsid",),
)

#: What getSuites_1 really answers (see the module docstring: the spec's 200
#: schema, a single Suite, is a defect).
SUITES_PAGE: Schema = obj(
    {
        "content": array(SUITE),
        "totalElements": COUNT,
        "totalPages": COUNT,
        "number": COUNT,
        "size": COUNT,
        "numberOfElements": COUNT,
        "firstPage": BOOLEAN,
        "lastPage": BOOLEAN,
    },
    required=(
        "content",
        "totalElements",
        "totalPages",
        "number",
        "size",
        "numberOfElements",
        "firstPage",
        "lastPage",
    ),
)

#: getSuites_1's ``expansion`` items.
SUITE_EXPANSIONS = ("name", "parentRsid", "currency", "calendarType", "timezoneZoneinfo")

# -- discovery (src/pages/guides/endpoints/discovery.md) ----------------------------------

# apiRateLimitPolicy is in the guide's attribute table and example, but it is
# the one member a client can do without, so it is optional.
DISCOVERY_ME: Schema = obj(
    {
        "imsUserId": STRING,
        "imsOrgs": array(
            obj(
                {
                    "imsOrgId": STRING,
                    "companies": array(
                        obj(
                            {"globalCompanyId": STRING, "companyName": STRING, "apiRateLimitPolicy": STRING},
                            required=("globalCompanyId", "companyName"),
                        )
                    ),
                },
                required=("imsOrgId", "companies"),
            )
        ),
    },
    required=("imsUserId", "imsOrgs"),
)

# -- the operations ------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryParam:
    """A query parameter: the schema of its value (of each item, for an array)."""

    schema: Schema
    #: An array sent OpenAPI's ``style: form, explode: false`` way: once, items joined by commas.
    array: bool = False


@dataclass(frozen=True)
class Operation:
    """One operation of the spec: what a request must look like and what may come back."""

    operation_id: str
    method: str
    #: The whole URL path (basePath ``/api`` included); group ``gcid`` is the company.
    path: re.Pattern[str]
    #: Where it is specified, a path in AdobeDocs/analytics-2.0-apis.
    source: str
    query: Mapping[str, QueryParam] = field(default_factory=dict)
    #: The JSON body's schema; None: the operation takes no body.
    body: Schema | None = None
    #: The answer's schema by status.
    responses: Mapping[int, Schema] = field(default_factory=dict)
    #: The schema of an error answer whose status ``responses`` does not list.
    other_errors: Schema = field(default_factory=lambda: GATEWAY_ERROR)

    #: Header parameters every operation requires (swagger.json and
    #: report-suites.json, parameters ``authorization`` and ``x-api-key``).
    required_headers: tuple[str, ...] = ("Authorization", "x-api-key")

    @property
    def needs_company(self) -> bool:
        """Whether ``x-proxy-global-company-id`` must name the path's company."""
        return "gcid" in self.path.groupindex


_GCID = r"(?P<gcid>[^/]+)"

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "discovery/me",
        "GET",
        re.compile(r"/discovery/me"),
        "src/pages/guides/endpoints/discovery.md",
        responses={200: DISCOVERY_ME, 429: RATE_LIMITED},
    ),
    Operation(
        "getSuites_1",
        "GET",
        re.compile(rf"/api/{_GCID}/reportsuites/collections/suites"),
        "static/report-suites.json",
        query={
            "limit": QueryParam({"type": "string", "pattern": r"^[1-9][0-9]*$"}),
            "page": QueryParam({"type": "string", "pattern": r"^[0-9]+$"}),
            "expansion": QueryParam({"type": "string", "enum": list(SUITE_EXPANSIONS)}, array=True),
            "rsids": QueryParam(STRING),
            "rsidContains": QueryParam(STRING),
        },
        responses={200: SUITES_PAGE, 429: RATE_LIMITED, 500: ASR_ERROR},
        other_errors={"anyOf": [GATEWAY_ERROR, ASR_ERROR]},
    ),
    Operation(
        "runReport",
        "POST",
        re.compile(rf"/api/{_GCID}/reports"),
        "static/swagger.json",
        body=RANKED_REQUEST,
        responses={
            200: RANKED_REPORT_DATA_200,
            206: RANKED_REPORT_DATA_206,
            400: REPORT_ERROR_STATUS,
            429: RATE_LIMITED,
        },
        other_errors={"anyOf": [GATEWAY_ERROR, REPORT_ERROR_STATUS]},
    ),
)

# RFC 6750 §2.1: "Bearer" then a b64token; swagger.json asks for the "Bearer " prefix.
_BEARER = re.compile(r"Bearer [A-Za-z0-9\-._~+/]+=*")
_JSON_TYPE = re.compile(r"application/(?:[\w.+-]+\+)?json\s*(?:;.*)?", re.IGNORECASE)

# -- checking ---------------------------------------------------------------------------------


def operation_for(request: requests.PreparedRequest) -> Operation | None:
    """The operation ``request`` calls, or None when the spec has no such method and path."""
    path = urlsplit(request.url or "").path
    for operation in OPERATIONS:
        if operation.method == (request.method or "").upper() and operation.path.fullmatch(path):
            return operation
    return None


def _pointer(path: Sequence[Any]) -> str:
    return "/" + "/".join(str(p) for p in path) if path else "(top)"


def _short(text: str, limit: int = 240) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(error: ValidationError) -> str:
    message = f"{_pointer(list(error.absolute_path))}: {_short(error.message)}"
    if error.context:  # anyOf / oneOf: say why each branch failed
        reasons = sorted(
            {f"{_pointer(list(e.absolute_path))}: {_short(e.message, 120)}" for e in error.context}
        )
        message += " [" + "; ".join(reasons[:6]) + "]"
    return message


def schema_problems(schema: Schema, instance: Any, where: str) -> list[str]:
    """What in ``instance`` does not match ``schema``, each prefixed with ``where``."""
    errors = Draft7Validator(schema).iter_errors(instance)
    return [
        f"{where} {_describe(e)}" for e in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path])
    ]


def _header_problems(operation: Operation, request: requests.PreparedRequest, path: str) -> list[str]:
    name = operation.operation_id
    problems: list[str] = []
    present = request.headers
    for header in operation.required_headers:
        if not present.get(header, "").strip():
            problems.append(f"{name} request: the required header {header} is missing or empty")
    authorization = present.get("Authorization")
    if authorization and not _BEARER.fullmatch(authorization):
        problems.append(f"{name} request: Authorization is not 'Bearer <token>'")
    api_key = present.get("x-api-key")
    if api_key and api_key != api_key.strip():
        problems.append(f"{name} request: x-api-key has surrounding white space")
    if operation.needs_company:
        match = operation.path.fullmatch(path)
        gcid = match.group("gcid") if match else ""
        company = present.get("x-proxy-global-company-id")
        if not company:
            problems.append(f"{name} request: the header x-proxy-global-company-id is missing")
        elif company != gcid:
            problems.append(
                f"{name} request: x-proxy-global-company-id {company!r} is not the path's company {gcid!r}"
            )
    return problems


def _query_problems(operation: Operation, query: str) -> list[str]:
    name = operation.operation_id
    problems: list[str] = []
    seen: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        seen.setdefault(key, []).append(value)
    for key, values in seen.items():
        param = operation.query.get(key)
        if param is None:
            problems.append(f"{name} request: the query parameter {key!r} is not in the spec")
            continue
        if len(values) > 1:
            how = "once, its items joined by commas" if param.array else "once"
            problems.append(
                f"{name} request: the query parameter {key!r} is sent {len(values)} times, not {how}"
            )
        for value in values:
            items = value.split(",") if param.array else [value]
            for item in items:
                problems += schema_problems(param.schema, item, f"{name} request: query {key}")
    return problems


def _body_problems(operation: Operation, request: requests.PreparedRequest, strict: bool) -> list[str]:
    name = operation.operation_id
    body = request.body
    if not body:
        return []  # swagger.json: runReport's body is optional, the GETs take none
    if operation.body is None:
        return [f"{name} request: {operation.method} carries a body, which the spec does not take"]
    content_type = request.headers.get("Content-Type", "")
    problems: list[str] = []
    if not _JSON_TYPE.fullmatch(content_type):
        problems.append(f"{name} request: Content-Type {content_type!r} is not application/json")
    try:
        data = json.loads(body)
    except ValueError:
        return [*problems, f"{name} request: the body is not JSON"]
    schema = closed(operation.body) if strict else operation.body
    return problems + schema_problems(schema, data, f"{name} request: body")


def check_request(request: requests.PreparedRequest, *, strict: bool = False) -> list[str]:
    """What in ``request`` does not conform to the spec (empty: it conforms).

    ``strict`` also refuses members the request schema does not declare.
    """
    parts = urlsplit(request.url or "")
    operation = operation_for(request)
    if operation is None:
        methods = sorted({op.method for op in OPERATIONS if op.path.fullmatch(parts.path)})
        if methods:
            return [f"{request.method} {parts.path}: the spec has only {', '.join(methods)} here"]
        return [f"{request.method} {parts.path}: no operation of the spec has this path"]
    return (
        _header_problems(operation, request, parts.path)
        + _query_problems(operation, parts.query)
        + _body_problems(operation, request, strict)
    )


def _report_consistency(name: str, body: Any) -> list[str]:
    """A ranked report has one number per column in each row, and its column errors name columns."""
    if not isinstance(body, dict) or not isinstance(body.get("columns"), dict):
        return []
    column_ids = body["columns"].get("columnIds")
    if not isinstance(column_ids, list):
        return []
    problems: list[str] = []
    for n, row in enumerate(body.get("rows") or []):
        data = row.get("data") if isinstance(row, dict) else None
        if isinstance(data, list) and len(data) != len(column_ids):
            problems.append(
                f"{name} answer /rows/{n}/data: {len(data)} numbers for {len(column_ids)} columns"
            )
    for n, error in enumerate(body["columns"].get("columnErrors") or []):
        if isinstance(error, dict) and "columnId" in error and error["columnId"] not in column_ids:
            problems.append(
                f"{name} answer /columns/columnErrors/{n}: column {error['columnId']!r} is not a column"
            )
    return problems


def check_response(request: requests.PreparedRequest, response: requests.Response) -> list[str]:
    """What in the answer ``response`` to ``request`` does not conform to the spec."""
    operation = operation_for(request)
    if operation is None:
        return []  # check_request reports it
    name, status = operation.operation_id, response.status_code
    schema = operation.responses.get(status)
    if schema is None and status >= 400:
        schema = operation.other_errors
    if schema is None:
        return [f"{name} answer: the spec gives no HTTP {status} answer for this operation"]
    where = f"{name} answer (HTTP {status})"
    content_type = response.headers.get("Content-Type", "")
    if not _JSON_TYPE.fullmatch(content_type):
        return [f"{where}: Content-Type {content_type!r} is not application/json"]
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        return [f"{where}: the body is not JSON"]
    problems = schema_problems(schema, body, where)
    code = body.get("error_code") if isinstance(body, dict) else None
    if isinstance(code, str) and not code.startswith(str(status)):
        problems.append(f"{where} /error_code: {code!r} does not start with the status {status}")
    if name == "runReport" and status in (200, 206):
        problems += _report_consistency(name, body)
    return problems


def check_exchange(
    request: requests.PreparedRequest, response: requests.Response, *, strict: bool = False
) -> list[str]:
    """Every way ``request`` and its answer ``response`` depart from Adobe's spec (empty: none).

    The request: a known method and path, ``Authorization: Bearer <token>``,
    ``x-api-key``, ``x-proxy-global-company-id`` equal to the path's company on
    ``/api/{globalCompanyId}/...``, only the spec's query parameters with
    values it allows, a body matching the operation's schema (``strict``:
    with no undeclared members). The answer: a status the operation gives,
    JSON, matching that status's schema.
    """
    return check_request(request, strict=strict) + check_response(request, response)
