"""`/v1/contracts` (docs/reference.md#http-api): the contracts the caller may see. Thin: parse, call one service, respond."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tenants import service
from zhengyun.api.support import CallerDep, call, respond

router = APIRouter(prefix="/v1", tags=["tenants"])


@router.get("/contracts", summary="Contracts you may see / 合同")
def contracts(caller: CallerDep) -> JSONResponse:
    return respond(call(service.list_contracts, caller), key="contracts")
