"""`/v1/outages` (docs/reference.md#http-api): list and record outages. Thin: parse, call one service, respond."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sla import outages
from zhengyun.api.support import CallerDep, PeriodQuery, call, respond

router = APIRouter(prefix="/v1", tags=["sla"])


class OutageRequest(BaseModel):
    contract: str
    start: str = Field(description="ISO 8601 with offset / 开始时间")
    end: str = Field(description="ISO 8601 with offset / 结束时间")
    note: str = Field(description="What happened / 说明")


@router.get("/outages", summary="Stored outages of a contract in a period / 故障")
def list_outages(contract: str, period: PeriodQuery, caller: CallerDep) -> JSONResponse:
    return respond(call(outages.list_outages, caller, contract_id=contract, period=period), key="outages")


@router.post("/outages", status_code=201, summary="Record an outage / 登记故障")
def add_outage(body: OutageRequest, caller: CallerDep) -> JSONResponse:
    outage = call(outages.add_outage, caller, contract_id=body.contract, start=body.start, end=body.end, note=body.note)
    return respond(outage, key="outage", status_code=201)
