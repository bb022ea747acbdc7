"""`/v1/tenants` (docs/reference.md#http-api): the registry summarised and exported as a tenancy file. Thin: parse, call one service, respond."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse

from tenants import tenancy
from zhengyun.api.support import CallerDep, call, respond

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
