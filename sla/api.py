"""HTTP endpoints of SLA and evaluation (docs/reference.md#http-api): availability, outages, maintenance, ratings,
appeals and decisions, tickets and answers. Thin: parse, call one service, respond."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sla import evaluation, inputs, outages
from zhengyun.api_support import CallerDep, RowId, call, respond

router = APIRouter(prefix="/v1", tags=["sla"])

PeriodQuery = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM")]


class OutageRequest(BaseModel):
    contract: str
    start: str = Field(description="ISO 8601 with offset / 开始时间")
    end: str = Field(description="ISO 8601 with offset / 结束时间")
    note: str = Field(description="What happened / 说明")


class MaintenanceRequest(BaseModel):
    contract: str
    start: str = Field(description="ISO 8601 with offset")
    end: str = Field(description="ISO 8601 with offset")
    note: str = ""


class Decision(BaseModel):
    approve: bool = Field(description="true approves, false rejects / 批准或驳回")


class RatingRequest(BaseModel):
    contract: str
    level: str = Field(description="1-5 or 非常满意/满意/基本满意/不满意/非常不满意")
    department: str | None = Field(None, description="Rating department (a department user: its own) / 评价部门")
    comment: str | None = Field(None, description="Required for levels 1-2 / 差评必填")
    time: str | None = Field(None, description="ISO 8601 with offset (default now) / 评价时间")


class AppealRequest(BaseModel):
    reason: str


class AppealDecision(BaseModel):
    uphold: bool = Field(description="true: the rating stops counting; false: it keeps counting")
    note: str | None = None


class Answer(BaseModel):
    text: str


@router.get("/sla/availability", tags=["sla"], summary="Availability of a contract in a period / 可用性")
def availability(contract: str, period: PeriodQuery, caller: CallerDep) -> JSONResponse:
    return respond(call(inputs.get_availability, caller, contract_id=contract, period=period))


@router.get("/outages", summary="Stored outages of a contract in a period / 故障")
def list_outages(contract: str, period: PeriodQuery, caller: CallerDep) -> JSONResponse:
    return respond(call(outages.list_outages, caller, contract_id=contract, period=period), key="outages")


@router.post("/outages", status_code=201, summary="Record an outage / 登记故障")
def add_outage(body: OutageRequest, caller: CallerDep) -> JSONResponse:
    outage = call(outages.add_outage, caller, contract_id=body.contract, start=body.start, end=body.end, note=body.note)
    return respond(outage, key="outage", status_code=201)


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


@router.get("/ratings", summary="Ratings with their history / 评价")
def list_ratings(
    caller: CallerDep,
    contract: str | None = None,
    period: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    department: str | None = None,
) -> JSONResponse:
    ratings = call(evaluation.list_ratings, caller, contract_id=contract, period=period, department_id=department)
    return respond(ratings, key="ratings")


@router.post("/ratings", status_code=201, summary="Rate a contract; a bad review opens a ticket / 评价")
def add_rating(body: RatingRequest, caller: CallerDep) -> JSONResponse:
    result = call(
        evaluation.add_rating,
        caller,
        contract_id=body.contract,
        level=body.level,
        comment=body.comment,
        department_id=body.department,
        time=body.time,
    )
    return respond(result, status_code=201)


@router.get("/ratings/score", summary="Evaluation score of a contract in a period / 评价得分")
def score(contract: str, period: PeriodQuery, caller: CallerDep) -> JSONResponse:
    return respond(call(evaluation.get_score, caller, contract_id=contract, period=period))


@router.post("/ratings/{rating_id}/appeal", status_code=201, summary="Appeal a rating (operator) / 申诉")
def appeal(rating_id: RowId, body: AppealRequest, caller: CallerDep) -> JSONResponse:
    result = call(evaluation.appeal_rating, caller, rating_id=rating_id, reason=body.reason)
    return respond(result, key="appeal", status_code=201)


@router.post("/appeals/{appeal_id}/decision", summary="Decide an appeal (bureau) / 裁决申诉")
def decide_appeal(appeal_id: RowId, body: AppealDecision, caller: CallerDep) -> JSONResponse:
    result = call(evaluation.decide_appeal, caller, appeal_id=appeal_id, uphold=body.uphold, note=body.note)
    return respond(result, key="appeal")


@router.get("/tickets", summary="Rectification tickets / 整改工单")
def list_tickets(caller: CallerDep, overdue: bool = False, contract: str | None = None) -> JSONResponse:
    return respond(call(evaluation.list_tickets, caller, overdue=overdue, contract_id=contract), key="tickets")


@router.post("/tickets/{ticket_id}/answer", summary="Answer a ticket (operator) / 答复整改工单")
def answer_ticket(ticket_id: RowId, body: Answer, caller: CallerDep) -> JSONResponse:
    return respond(call(evaluation.answer_ticket, caller, ticket_id=ticket_id, text=body.text), key="ticket")
