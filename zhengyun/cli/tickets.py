"""`zhengyun tickets list|answer` (整改): parse, call one evaluation service (`sla.evaluation`), render."""

from __future__ import annotations

from typing import Annotated

import typer

from core.i18n import register, t
from core.output import table
from sla import evaluation
from zhengyun.cli.support import (
    AsOpt,
    JsonOpt,
    run_command,
)

register(
    {
        "ticket {id}: {status}": "整改工单 {id}：{status}",
    }
)


tickets_app = typer.Typer(help="Rectification tickets (整改) / 整改工单", no_args_is_help=True)


@tickets_app.command("list")
def tickets_list(
    overdue: Annotated[bool, typer.Option("--overdue", help="Only open tickets past due / 仅超期")] = False,
    contract: Annotated[str | None, typer.Option("--contract")] = None,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Rectification tickets / 列出整改工单"""
    run_command(
        evaluation.list_tickets,
        overdue=overdue,
        contract_id=contract,
        json_out=json_,
        as_=as_,
        key="tickets",
        render=lambda listed: table(
            ["id", "rating", "contract", "department", "due", "status", "overdue"],
            [[x.id, x.rating, x.contract, x.department, x.due_at.isoformat(), x.status, x.overdue] for x in listed],
        ),
    )


@tickets_app.command("answer")
def tickets_answer(
    ticket_id: int,
    text: Annotated[str, typer.Option("--text", help="The operator's answer / 答复")],
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Answer a rectification ticket (operator) / 答复整改工单"""
    run_command(
        evaluation.answer_ticket,
        ticket_id=ticket_id,
        text=text,
        json_out=json_,
        as_=as_,
        key="ticket",
        render=lambda ticket: t("ticket {id}: {status}", id=ticket.id, status=ticket.status),
    )
