"""`/v1/tickets` (docs/reference.md#http-api): rectification tickets (整改) and their answers. Thin: parse, call one service, respond."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from sla import evaluation
from zhengyun.api.support import CallerDep, RowId, call, respond

router = APIRouter(prefix="/v1", tags=["sla"])


class Answer(BaseModel):
    text: str


@router.get("/tickets", summary="Rectification tickets / 整改工单")
def list_tickets(caller: CallerDep, overdue: bool = False, contract: str | None = None) -> JSONResponse:
    return respond(call(evaluation.list_tickets, caller, overdue=overdue, contract_id=contract), key="tickets")


@router.post("/tickets/{ticket_id}/answer", summary="Answer a ticket (operator) / 答复整改工单")
def answer_ticket(ticket_id: RowId, body: Answer, caller: CallerDep) -> JSONResponse:
    return respond(call(evaluation.answer_ticket, caller, ticket_id=ticket_id, text=body.text), key="ticket")
