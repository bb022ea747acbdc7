"""HTTP endpoints of metering (docs/reference.md#http-api, #usage-events-file): push usage events, read usage summaries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from core.errors import InvalidInput, TooLarge, Unreadable, UnsupportedMedia
from core.i18n import register
from metering import service
from metering.events import NotUtf8, TooDeep, shown
from metering.fastjson import request_array, request_lines
from metering.ingest import IngestReport
from zhengyun.api.support import CallerDep, PeriodQuery, authenticated, call, call_writing, read_body, respond

router = APIRouter(prefix="/v1/usage", tags=["usage"])

#: At most this many events in one request (docs/reference.md#http-api).
MAX_EVENTS = 10_000
#: …and at most this many bytes (10,000 events of the longest lines a file may hold would be far more).
MAX_BYTES = 64 * 1024 * 1024

register(
    {
        "at most {limit} events per request, got {count}": "每个请求最多 {limit} 条事件，实际为 {count} 条",
        "the body must be a JSON array of events: {detail}": "请求体必须是事件的 JSON 数组：{detail}",
        "the body is not valid UTF-8: {detail}": "请求体不是有效的 UTF-8：{detail}",
        "the body must be a JSON array of events: nested too deeply": "请求体必须是事件的 JSON 数组：嵌套层数过深",
        "the body holds no events": "请求体中没有事件",
        "the body must be {json} (a JSON array of events) or {ndjson} (one event per line), not {given}": (
            "请求体必须是 {json}（事件的 JSON 数组）或 {ndjson}（每行一条事件），而不是 {given}"
        ),
    }
)

_EXAMPLE = [
    {
        "event_id": "vm-1-2026-10-01T13",
        "time": "2026-10-01T13:00:00+08:00",
        "department": "gd-edu",
        "cloud": "gd-prov",
        "meter": "vcpu_hours",
        "quantity": "4",
        "resource_id": "vm-1",
    }
]


JSON, NDJSON = "application/json", "application/x-ndjson"


def media_of(content_type: str | None) -> str:
    """The media type of a request body: `JSON` or `NDJSON`, anything else refused (415)."""
    media = (content_type or "").partition(";")[0].strip().lower()
    if media not in (JSON, NDJSON):
        raise UnsupportedMedia(
            "the body must be {json} (a JSON array of events) or {ndjson} (one event per line), not {given}",
            json=JSON,
            ndjson=NDJSON,
            given=shown(media) or "-",
        )
    return media


def parse_events(body: bytes, content_type: str | None) -> list[tuple[int, Any]]:
    """The `(line, event)` of a request body, numbered from 1: a JSON array (`application/json`), or NDJSON
    (`application/x-ndjson`: one event per line, lines ending at `\\n`, blank ones counted). An event may be
    its `Rejected` (an element or line that cannot be an event); what is not one of these is refused whole
    (docs/reference.md#http-api)."""
    media = media_of(content_type)
    if len(body) > MAX_BYTES:
        raise TooLarge("the body is larger than {limit} bytes", limit=MAX_BYTES)
    if not body.strip():
        raise InvalidInput("the body holds no events")
    if media == NDJSON:
        events = request_lines(body)
    else:
        try:
            events = request_array(body)
        except NotUtf8 as exc:
            raise Unreadable("the body is not valid UTF-8: {detail}", detail=exc.detail) from None
        except TooDeep:
            raise InvalidInput("the body must be a JSON array of events: nested too deeply") from None
        except ValueError as exc:
            raise InvalidInput("the body must be a JSON array of events: {detail}", detail=str(exc)) from None
    if not events and media == NDJSON:
        raise InvalidInput("the body holds no events")
    if len(events) > MAX_EVENTS:
        raise TooLarge("at most {limit} events per request, got {count}", limit=MAX_EVENTS, count=len(events))
    return events


def _results(report: IngestReport) -> dict[str, Any]:
    rejected = [{"index": (r.line or 1) - 1, "event_id": r.event_id, "reason": r.reason} for r in report.rejected]
    return {
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "rejected_count": report.rejected_count,
        "rejected": rejected,
    }


@router.post(
    "/events",
    summary="Push usage events, exactly once (a JSON array, or NDJSON, ≤ 10,000) / 推送用量事件",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}, "example": _EXAMPLE},
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def post_events(request: Request, caller: CallerDep) -> JSONResponse:
    # a request without a valid token is refused before its body is read, a body too large while it streams
    caller = await authenticated(caller)
    content_type = request.headers.get("content-type")
    media_of(content_type)  # (refused before the body is read too)
    events = parse_events(await read_body(request, MAX_BYTES), content_type)
    report = await run_in_threadpool(
        call_writing,
        service.ingest_events,
        caller,
        events=[event for _, event in events],
        lines=[line for line, _ in events],
        source="request",
    )
    return respond(_results(report))


@router.get("", summary="Usage of a period by department, cloud and meter; quota use / 用量与配额")
def usage(
    caller: CallerDep,
    period: PeriodQuery,
    department: str | None = None,
    cloud: str | None = None,
) -> JSONResponse:
    return respond(call(service.usage_report, caller, period=period, department=department, cloud=cloud))
