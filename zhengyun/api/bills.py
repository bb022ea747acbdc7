"""HTTP endpoints of billing (docs/reference.md#http-api): run, list, show, export, approve, pay. Thin: parse, call, respond."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from billing import service, views
from core.periods import PERIOD_FORMAT, PERIOD_PATTERN
from zhengyun.api.support import CallerDep, PeriodFilter, call, respond

router = APIRouter(prefix="/v1/bills", tags=["bills"])


class RunRequest(BaseModel):
    period: str = Field(pattern=PERIOD_PATTERN, description=PERIOD_FORMAT)


class ApproveRequest(BaseModel):
    override: str | None = Field(None, description="Reason to approve a bill that needs review / 复核说明")


class PayRequest(BaseModel):
    reference: str | None = Field(None, description="The payment voucher number, at most 64 characters / 付款凭证号")
    date: str | None = Field(None, description="The payment date, YYYY-MM-DD / 付款日期")


@router.post("/run", summary="Compute the drafts of a period / 运行账单计算")
def run_bills(body: RunRequest, caller: CallerDep) -> JSONResponse:
    return respond(call(service.run_bills, caller, period=body.period))


@router.get("", summary="Bills you may see, with status and flags / 账单列表")
def list_bills(caller: CallerDep, period: PeriodFilter = None) -> JSONResponse:
    return respond(call(views.list_bills, caller, period=period), key="bills")


@router.get("/{period}", summary="A period's bills with lines and your allocations / 账单明细")
def show_bills(period: str, caller: CallerDep, contract: str | None = None) -> Response:
    text = call(views.export_bills, caller, period=period, contract_id=contract, format="json")
    return Response(text, media_type="application/json")


@router.get("/{period}/export", summary="Export as CSV or FOCUS 1.2 / 导出账单")
def export_bills(
    period: str, caller: CallerDep, format: Literal["csv", "focus", "json"] = "csv", contract: str | None = None
) -> Response:
    text = call(views.export_bills, caller, period=period, contract_id=contract, format=format)
    media = "application/json" if format == "json" else "text/csv; charset=utf-8"
    return Response(text, media_type=media)


@router.post("/{bill_id}/approve", summary="Approve a draft (finance, four eyes) / 审批账单")
def approve_bill(bill_id: str, caller: CallerDep, body: ApproveRequest | None = None) -> JSONResponse:
    override = body.override if body else None
    return respond(call(service.approve_bill, caller, id=bill_id, override=override), key="bill")


@router.post(
    "/{bill_id}/pay",
    summary="Mark an approved bill paid with its payment reference and date (finance, four eyes) / 标记已支付",
)
def pay_bill(bill_id: str, caller: CallerDep, body: PayRequest | None = None) -> JSONResponse:
    # the service checks both fields (naming the field): a missing body is refused there, after the role and the id
    reference, date = (body.reference, body.date) if body else (None, None)
    return respond(call(service.pay_bill, caller, id=bill_id, reference=reference, date=date), key="bill")
