"""HTTP endpoints of metering (docs/reference.md#http-api, #usage-events-file): push usage events, read usage summaries."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from core.errors import InvalidInput, TooLarge
from core.i18n import register
from metering import service
from metering.events import TooDeep
from metering.fastjson import loads
from metering.ingest import IngestReport
from zhengyun.api.support import CallerDep, PeriodQuery, call, call_writing, respond

router = APIRouter(prefix="/v1/usage", tags=["usage"])

#: At most this many events in one request (docs/reference.md#http-api).
MAX_EVENTS = 10_000
#: …and at most this many bytes (10,000 events of the longest lines a file may hold would be far more).
MAX_BYTES = 64 * 1024 * 1024

register(
    {
        "at most {limit} events per request, got {count}": "每个请求最多 {limit} 条事件，实际为 {count} 条",
        "the body is larger than {limit} bytes": "请求体超过 {limit} 字节",
        "the body must be a JSON array of events or NDJSON (one event per line): {detail}": (
            "请求体必须是事件的 JSON 数组或 NDJSON（每行一条事件）：{detail}"
        ),
        "the body must be a JSON array of events or NDJSON (one event per line): nested too deeply": (
            "请求体必须是事件的 JSON 数组或 NDJSON（每行一条事件）：嵌套层数过深"
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


def parse_events(body: bytes, content_type: str | None) -> list[Any]:
    """The events of a request body: a JSON array, or NDJSON (one JSON object per line)."""
    if len(body) > MAX_BYTES:
        raise TooLarge("the body is larger than {limit} bytes", limit=MAX_BYTES)
    text = body.decode("utf-8-sig", errors="replace")
    if text.lstrip().startswith("[") and "ndjson" not in (content_type or ""):
        try:
            events = loads(text)
        except TooDeep:
            raise InvalidInput(
                "the body must be a JSON array of events or NDJSON (one event per line): nested too deeply"
            ) from None
        except ValueError as exc:
            raise InvalidInput(
                "the body must be a JSON array of events or NDJSON (one event per line): {detail}", detail=str(exc)
            ) from None
        if not isinstance(events, list):
            raise InvalidInput(
                "the body must be a JSON array of events or NDJSON (one event per line): {detail}",
                detail="not an array",
            )
    else:
        events = []
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                events.append(loads(line))
            except ValueError:
                events.append(line)  # rejected with its index: not a JSON object
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
    summary="Push usage events, exactly once (JSON array or NDJSON, ≤ 10,000) / 推送用量事件",
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
    events = parse_events(await request.body(), request.headers.get("content-type"))
    report = await run_in_threadpool(call_writing, service.ingest_events, caller, events=events, source="request")
    return respond(_results(report))


@router.get("", summary="Usage of a period by department, cloud and meter; quota use / 用量与配额")
def usage(
    caller: CallerDep,
    period: PeriodQuery,
    department: str | None = None,
    cloud: str | None = None,
) -> JSONResponse:
    return respond(call(service.usage_report, caller, period=period, department=department, cloud=cloud))
