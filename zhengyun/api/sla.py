"""`/v1/sla/availability` (docs/reference.md#http-api): a contract's availability in a period. Thin: parse, call one service, respond."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from sla import inputs
from zhengyun.api.support import CallerDep, PeriodQuery, call, respond

router = APIRouter(prefix="/v1", tags=["sla"])


@router.get("/sla/availability", tags=["sla"], summary="Availability of a contract in a period / 可用性")
def availability(contract: str, period: PeriodQuery, caller: CallerDep) -> JSONResponse:
    return respond(call(inputs.get_availability, caller, contract_id=contract, period=period))
