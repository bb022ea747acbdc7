"""`/v1/ratings` and `/v1/appeals` (docs/reference.md#http-api): ratings (好差评), the evaluation score, appeals and their decisions. Thin: parse, call one service, respond."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from sla import evaluation
from zhengyun.api.support import CallerDep, PeriodFilter, PeriodQuery, RowId, call, respond

router = APIRouter(prefix="/v1", tags=["sla"])


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


@router.get("/ratings", summary="Ratings with their history / 评价")
def list_ratings(
    caller: CallerDep,
    contract: str | None = None,
    period: PeriodFilter = None,
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


@router.get(
    "/ratings/score",
    summary="Evaluation score of a contract in a period / 评价得分",
    description="To a department or an operator over fewer than 3 rating departments: `suppressed: true`, "
    "a reason and no figures (docs/reference.md#small-groups).",
)
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
