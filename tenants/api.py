"""HTTP endpoints of the registry (docs/reference.md#http-api): tenancy, contracts. Thin: parse, call one service, respond."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from tenants import service, tenancy
from zhengyun.api_support import CallerDep, call, respond

router = APIRouter(prefix="/v1", tags=["tenants"])


@router.get("/tenants", summary="Clouds by kind and tier, departments by cloud / 云和部门")
def tenants_summary(caller: CallerDep) -> JSONResponse:
    return respond(call(tenancy.summarise_tenancy, caller))


@router.get(
    "/tenants/export",
    summary="The registry as a tenancy file with its ranges / 导出租户文件",
    response_class=PlainTextResponse,
)
def tenants_export(caller: CallerDep) -> PlainTextResponse:
    return PlainTextResponse(call(tenancy.export_tenancy, caller), media_type="application/yaml; charset=utf-8")


@router.get("/contracts", summary="Contracts you may see / 合同")
def contracts(caller: CallerDep) -> JSONResponse:
    return respond(call(service.list_contracts, caller), key="contracts")
