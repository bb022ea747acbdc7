"""`/v1/maintenance` (docs/reference.md#http-api): announce, list and decide maintenance windows. Thin: parse, call one service, respond."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sla import outages
from zhengyun.api.support import CallerDep, RowId, call, respond

router = APIRouter(prefix="/v1", tags=["sla"])


class MaintenanceRequest(BaseModel):
    contract: str
    start: str = Field(description="ISO 8601 with offset")
    end: str = Field(description="ISO 8601 with offset")
    note: str = ""


class Decision(BaseModel):
    approve: bool = Field(description="true approves, false rejects / 批准或驳回")


@router.get("/maintenance", summary="Maintenance windows / 维护窗口")
def list_maintenance(caller: CallerDep, contract: str | None = None, pending: bool = False) -> JSONResponse:
    windows = call(outages.list_maintenance, caller, contract_id=contract, pending=pending)
    return respond(windows, key="maintenance")


@router.post("/maintenance", status_code=201, summary="Announce a maintenance window now / 申请维护窗口")
def request_maintenance(body: MaintenanceRequest, caller: CallerDep) -> JSONResponse:
    window = call(
        outages.request_maintenance, caller, contract_id=body.contract, start=body.start, end=body.end, note=body.note
    )
    return respond(window, key="maintenance", status_code=201)


@router.post("/maintenance/{window_id}/decision", summary="Approve or reject a window (bureau) / 审批维护窗口")
def decide_maintenance(window_id: RowId, body: Decision, caller: CallerDep) -> JSONResponse:
    window = call(outages.decide_maintenance, caller, window_id=window_id, approve=body.approve)
    return respond(window, key="maintenance")
