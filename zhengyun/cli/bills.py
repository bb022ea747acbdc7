"""`zhengyun bills run|list|show|approve|pay` (docs/reference.md#command-line)."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from billing import service, views
from billing.models import BillRead, BillShare, BillSummary, ShareSummary, money_text
from core.i18n import register, t
from core.output import table
from zhengyun.cli.support import AsOpt, JsonOpt, PeriodFilterOpt, PeriodOpt, run_command

register(
    {
        "bills of {period}: {drafts} draft(s), {locked} locked": "{period} 的账单：草稿 {drafts} 张，已锁定 {locked} 张",
        "provisional: the period has not ended": "临时账单：本期尚未结束",
        "no bills": "没有账单",
        "bill {id}: {status}": "账单 {id}：{status}",
        "your share": "本部门分摊",
        "payment reference": "付款凭证号",
        "payment date": "付款日期",
    }
)

bills_app = typer.Typer(help="Bills: run, review, approve, pay, export / 账单", no_args_is_help=True)


def _render_run(result: service.RunResult) -> str:
    drafts = sum(1 for b in result.bills if not b["locked"])
    lines = [
        t(
            "bills of {period}: {drafts} draft(s), {locked} locked",
            period=result.period,
            drafts=drafts,
            locked=len(result.bills) - drafts,
        )
    ]
    if result.provisional:
        lines.append(t("provisional: the period has not ended"))
    lines += [f"  {b['id']:40} {b['status']}" for b in result.bills]
    return "\n".join(lines)


@bills_app.command("run")
def bills_run(period: PeriodOpt, json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """Compute the drafts of a period (approved and paid bills stay locked) / 运行账单计算"""
    run_command(service.run_bills, period=period, json_out=json_, as_=as_, render=_render_run)


def _render_list(bills: list[BillSummary | ShareSummary]) -> str:
    if not bills:
        return t("no bills")
    shares = [b for b in bills if isinstance(b, ShareSummary)]
    if shares:  # a department's own share, labelled as such (docs/reference.md#a-departments-bill)
        return table(
            ["bill", "status", "flags", t("your share")],
            [[b.id, b.status, ",".join(b.flags), money_text(b.share)] for b in shares],
        )
    rows = [
        [
            b.id,
            b.status + (" (stale)" if b.stale else ""),
            ",".join(b.flags),
            money_text(b.payable),
            b.run_by,
            b.approved_by or "",
            b.paid_by or "",
        ]
        for b in bills
        if isinstance(b, BillSummary)
    ]
    return table(["bill", "status", "flags", "payable", "run by", "approved by", "paid by"], rows)


@bills_app.command("list")
def bills_list(
    period: PeriodFilterOpt = None,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Bills you may see, with status and flags / 列出账单"""
    run_command(views.list_bills, period=period, json_out=json_, as_=as_, key="bills", render=_render_list)


def _render_share(b: BillShare) -> str:
    head = f"{b.id}  {b.status}  {','.join(b.flags)}\n  {t('your share')} {money_text(b.share)} {b.currency}"
    rows = [
        [
            s.kind,
            s.meter or "",
            s.period or "",
            s.quantity,
            "" if s.unit_price is None else s.unit_price,
            money_text(s.amount),
        ]
        for s in b.shares
    ]
    body = table(["line", "meter", "period", "quantity", "unit price", t("your share")], rows)
    return head + "\n" + "\n".join("  " + ln for ln in body.splitlines())


def _render_bill(b: BillRead | BillShare) -> str:
    if isinstance(b, BillShare):
        return _render_share(b)
    head = (
        f"{b.id}  {b.status}  {','.join(b.flags)}\n"
        f"  base {money_text(b.base)}  sla_credit {money_text(b.sla_credit)}  evaluation_deduction "
        f"{money_text(b.evaluation_deduction)}  cap_adjustment {money_text(b.cap_adjustment)}  corrections "
        f"{money_text(b.corrections)}  payable {money_text(b.payable)} {b.currency}"
    )
    if b.payment_reference is not None:  # a paid bill: its payment voucher and date (付款凭证号, 付款日期)
        head += f"\n  {t('payment reference')} {b.payment_reference}  {t('payment date')} {b.payment_date}"
    rows = [
        [
            line.kind,
            line.meter or "",
            line.period or "",
            "" if line.quantity is None else line.quantity,
            "" if line.unit_price is None else line.unit_price,
            money_text(line.amount),
            len(line.allocations) if line.allocations else "",
        ]
        for line in b.lines
    ]
    body = table(["line", "meter", "period", "quantity", "unit price", "amount", "departments"], rows)
    return head + "\n" + "\n".join("  " + ln for ln in body.splitlines())


@bills_app.command("show")
def bills_show(
    period: PeriodOpt,
    contract: Annotated[str | None, typer.Option("--contract", help="Contract id / 合同")] = None,
    format_: Annotated[
        Literal["json", "csv", "focus"] | None, typer.Option("--format", help="json | csv | focus")
    ] = None,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """A period's bills with lines and department allocations; exports as JSON, CSV or FOCUS / 查看或导出账单"""
    chosen = format_ or ("json" if json_ else None)
    if chosen is None:
        run_command(
            views.show_bills,
            period=period,
            contract_id=contract,
            json_out=False,
            as_=as_,
            render=lambda bills: "\n\n".join(_render_bill(b) for b in bills) or t("no bills"),
        )
        return

    text = run_command(
        views.export_bills, period=period, contract_id=contract, format=chosen, json_out=json_, as_=as_, quiet=True
    )
    typer.echo(text, nl=False)


def _render_status(bill: BillSummary) -> str:
    return t("bill {id}: {status}", id=bill.id, status=bill.status)


@bills_app.command("approve")
def bills_approve(
    bill_id: str,
    override: Annotated[
        str | None, typer.Option("--override", help="Reason to approve a bill that needs review / 复核说明")
    ] = None,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Approve a draft (finance, four eyes) / 审批账单"""
    run_command(
        service.approve_bill,
        id=bill_id,
        override=override,
        json_out=json_,
        as_=as_,
        key="bill",
        render=_render_status,
    )


@bills_app.command("pay")
def bills_pay(
    bill_id: str,
    reference: Annotated[
        str | None, typer.Option("--reference", help="The payment voucher number / 付款凭证号 (at most 64 characters)")
    ] = None,
    date: Annotated[str | None, typer.Option("--date", help="The payment date YYYY-MM-DD / 付款日期")] = None,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Mark an approved bill paid, with its payment reference and date (finance, four eyes) / 标记账单已支付"""
    run_command(
        service.pay_bill,
        id=bill_id,
        reference=reference,
        date=date,
        json_out=json_,
        as_=as_,
        key="bill",
        render=_render_status,
    )
