"""Bills: run, drill from bill to line to department allocation, approve and pay, download."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import streamlit as st
from sqlmodel import Session

from billing.models import BillRead, BillShare, BillSummary
from billing.service import approve_bill, pay_bill, run_bills
from billing.views import export_bills, list_bills, show_bills
from core.i18n import register
from dashboards.common import actor, call, label, money, number, percent, period, table, tr
from tenants.permissions import Actor, can, department_scope

register(
    {
        "Bills": "账单",
        "Bills of {period}": "{period} 账单",
        "Run the bills of {period}": "运行 {period} 账单计算",
        "running the bills…": "正在计算账单……",
        "running the bills… {done}/{total}": "正在计算账单……{done}/{total}",
        "computed {count} bills": "已计算 {count} 张账单",
        "Bill": "账单",
        "Lines": "账单行",
        "Allocations to departments": "部门分摊",
        "kind": "类型",
        "unit price": "单价",
        "amount": "金额",
        "Approve the bill": "审批账单",
        "Override reason (needs review)": "复核覆盖理由（需复核时）",
        "Mark paid": "标记已支付",
        "bill {id}: {status}": "账单 {id}：{status}",
        "Download CSV": "下载 CSV",
        "Download FOCUS": "下载 FOCUS",
        "Download Excel": "下载 Excel",
        "run by": "计算人",
        "approved by": "审批人",
        "paid by": "支付人",
        "flags": "标记",
        "stale": "已过期",
        "stale: usage, SLA inputs or terms changed since the run; run the bills again before approving": (
            "已过期：计算后用量、服务水平数据或合同条款有变化；审批前请重新计算"
        ),
        "provisional: computed before the period ended; run the bills again after the period": (
            "暂估：在账期结束前计算；请在账期结束后重新计算"
        ),
        "needs review: something unusual (e.g. insufficient probe coverage); approve only with an override reason": (
            "需复核：存在异常情况（如探测覆盖不足）；须填写覆盖理由方可审批"
        ),
        "Four eyes: the user who ran the bills cannot approve or pay them, and the user who approved a bill does not pay it.": (
            "四眼原则：计算账单的用户不能审批或支付，审批账单的用户不能支付该账单。"
        ),
        "payment reference": "付款凭证号",
        "payment date": "付款日期",
        "paid: payment reference {reference}, payment date {date}": "已支付：付款凭证号 {reference}，付款日期 {date}",
        "base": "基础费用",
        "SLA credit": "服务水平扣减",
        "evaluation deduction": "评价扣减",
        "cap adjustment": "封顶调整",
        "corrections": "更正",
        "score": "得分",
        "your share": "本部门分摊",
        "Prepare downloads (CSV, FOCUS, Excel)": "准备下载（CSV、FOCUS、Excel）",
    }
)

_EXPLAIN = {
    "provisional": "provisional: computed before the period ended; run the bills again after the period",
    "needs_review": "needs review: something unusual (e.g. insufficient probe coverage); approve only with an override reason",
}


def bills_page() -> None:
    st.header(tr("Bills"))
    who = actor()
    month = str(period())
    if who is not None and can(who, "bills.run"):
        if st.button(tr("Run the bills of {period}", period=month), key="run"):
            bar = st.progress(0, text=tr("running the bills…"))

            def advance(done: int, total: int) -> None:
                bar.progress(done / total, text=tr("running the bills… {done}/{total}", done=done, total=total))

            result = call(lambda s, w: run_bills(s, actor=w, period=month, progress=advance))
            if result is not None:
                st.success(tr("computed {count} bills", count=len(result.bills)))
    if who is not None and department_scope(who) is not None:
        _department_share(month)
        return
    listed = call(lambda s, w: list_bills(s, actor=w, period=month))
    if listed is None:
        return
    summaries = [b for b in listed if isinstance(b, BillSummary)]
    st.subheader(tr("Bills of {period}", period=month))
    table(
        [
            {
                "id": b.id,
                tr("operator"): b.operator,
                tr("status"): label(b.status) + (f" ({tr('stale')})" if b.stale else ""),
                tr("flags"): ", ".join(label(f) for f in b.flags),
                tr("payable"): money(b.payable),
                tr("run by"): b.run_by,
                tr("approved by"): b.approved_by or "",
                tr("paid by"): b.paid_by or "",
                tr("payment reference"): b.payment_reference or "",
                tr("payment date"): b.payment_date.isoformat() if b.payment_date else "",
            }
            for b in summaries
        ]
    )
    if not summaries:
        return
    _downloads(month)
    chosen = st.selectbox(tr("Bill"), [b.id for b in summaries], key="bill")
    summary = next(b for b in summaries if b.id == chosen)
    if summary.stale:
        st.warning(tr("stale: usage, SLA inputs or terms changed since the run; run the bills again before approving"))
    for flag in summary.flags:
        if flag in _EXPLAIN:
            st.warning(tr(_EXPLAIN[flag]))
    shown = call(lambda s, w: show_bills(s, actor=w, period=month, contract_id=summary.contract))
    if shown and isinstance(shown[0], BillRead):
        _drill(shown[0])
    if who is not None and can(who, "bills.approve"):
        _transitions(summary.id, summary.status)


def _department_share(month: str) -> None:
    """A department sees its share: per bill, the header and the amounts allocated to it, line by line —
    labelled as its share, never as a bill's payable (docs/reference.md#a-departments-bill)."""
    shown = call(lambda s, w: show_bills(s, actor=w, period=month))
    if shown is None:
        return
    bills = [b for b in shown if isinstance(b, BillShare)]
    st.subheader(tr("Bills of {period}", period=month))
    table(
        [
            {
                "id": bill.id,
                tr("operator"): bill.operator,
                tr("status"): label(bill.status),
                tr("flags"): ", ".join(label(f) for f in bill.flags),
                tr("your share"): money(bill.share, bill.currency),
            }
            for bill in bills
        ]
    )
    for bill in bills:
        st.subheader(bill.id)
        table(
            [
                {
                    tr("kind"): label(s.kind),
                    tr("meter"): s.meter or "",
                    tr("unit price"): unit_price(s.unit_price),
                    tr("quantity"): number(s.quantity),
                    tr("your share"): money(s.amount, bill.currency),
                }
                for s in bill.shares
            ]
        )
    if bills:
        _downloads(month)


def _drill(bill: BillRead) -> None:
    cols = st.columns(3) + st.columns(3)
    for col, (caption, value) in zip(
        cols,
        (
            ("base", bill.base),
            ("SLA credit", bill.sla_credit),
            ("evaluation deduction", bill.evaluation_deduction),
            ("cap adjustment", bill.cap_adjustment),
            ("corrections", bill.corrections),
            ("payable", bill.payable),
        ),
        strict=True,
    ):
        col.metric(tr(caption), money(value, bill.currency))
    st.caption(
        f"{tr('availability')}: {percent(bill.availability)} · {tr('score')}: {bill.score if bill.score is not None else '—'}"
    )
    if bill.payment_reference is not None:
        st.caption(
            tr(
                "paid: payment reference {reference}, payment date {date}",
                reference=bill.payment_reference,
                date=bill.payment_date,
            )
        )
    st.subheader(tr("Lines"))
    table(
        [
            {
                "#": i + 1,
                tr("kind"): label(ln.kind),
                tr("meter"): ln.meter or "",
                tr("quantity"): number(ln.quantity),
                tr("unit price"): unit_price(ln.unit_price),
                tr("amount"): money(ln.amount, bill.currency),
            }
            for i, ln in enumerate(bill.lines)
        ]
    )
    lines_with_shares = [(i, ln) for i, ln in enumerate(bill.lines) if ln.allocations]
    if lines_with_shares:
        st.subheader(tr("Allocations to departments"))
        # labelled here, in the page's language: the widget may format its options outside this run
        names = {i: f"#{i + 1} {label(ln.kind)} {ln.meter or ''}" for i, ln in lines_with_shares}
        pick = st.selectbox(tr("Lines"), list(names), format_func=names.__getitem__, key="line")
        line = bill.lines[int(pick)]
        table(
            [
                {tr("department"): a.department, tr("quantity"): number(a.quantity), tr("amount"): money(a.amount)}
                for a in line.allocations or ()
            ]
        )


def unit_price(value: Decimal | None) -> str:
    """A unit price exactly as priced (not rounded to the fen): ¥0.11 or ¥0.0125."""
    if value is None:
        return ""
    exact = Decimal(value).normalize()
    return f"¥{exact.quantize(Decimal('0.01')) if exact.as_tuple().exponent > -2 else exact:f}"  # type: ignore[operator]


def _transitions(bill_id: str, status: str) -> None:
    st.info(
        tr(
            "Four eyes: the user who ran the bills cannot approve or pay them, and the user who approved a bill does not pay it."
        )
    )
    if status == "draft":
        override = st.text_input(tr("Override reason (needs review)"), key="override")
        if st.button(tr("Approve the bill"), key="approve"):
            done = call(lambda s, w: approve_bill(s, actor=w, id=bill_id, override=override or None))
            if done is not None:
                st.success(tr("bill {id}: {status}", id=done.id, status=label(done.status)))
    elif status == "approved":
        # what paying records (docs/reference.md#contracts-and-bills): the voucher number and the payment date
        reference = st.text_input(tr("payment reference"), key="payment_reference", max_chars=64)
        day = st.text_input(tr("payment date"), key="payment_date", placeholder="YYYY-MM-DD")
        if st.button(tr("Mark paid"), key="pay"):
            done = call(lambda s, w: pay_bill(s, actor=w, id=bill_id, reference=reference, date=day))
            if done is not None:
                st.success(tr("bill {id}: {status}", id=done.id, status=label(done.status)))


def _downloads(month: str) -> None:
    """CSV, FOCUS and Excel of the month's bills, built when asked for: every allocation of every bill
    (tens of thousands of rows in a province) would otherwise be read and formatted on each render."""
    if not st.toggle(tr("Prepare downloads (CSV, FOCUS, Excel)"), key="downloads"):
        return

    def load(session: Session, who: Actor) -> dict[str, Any]:
        return {
            "csv": export_bills(session, actor=who, period=month, format="csv"),
            "focus": export_bills(session, actor=who, period=month, format="focus"),
            "bills": show_bills(session, actor=who, period=month),
        }

    data = call(load)
    if data is None:
        return
    a, b, c = st.columns(3)
    a.download_button(tr("Download CSV"), data["csv"], f"bills-{month}.csv", "text/csv", key="dl-csv")
    b.download_button(tr("Download FOCUS"), data["focus"], f"bills-{month}-focus.csv", "text/csv", key="dl-focus")
    xlsx = excel(data["bills"])
    if xlsx is not None:
        c.download_button(
            tr("Download Excel"),
            xlsx,
            f"bills-{month}.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            key="dl-xlsx",
        )


def excel(bills: list[BillRead | BillShare]) -> bytes | None:
    """One sheet per bill: its lines, each followed by its department allocations (exact amounts as
    text-free numbers with two decimals); of a department's `BillShare`, its own share and its shares
    line by line, no total of the bill or of a line (docs/reference.md#exports)."""
    try:
        from openpyxl import Workbook
    except ImportError:  # the Excel download is offered when openpyxl is installed
        return None
    book = Workbook()
    book.remove(book.active)
    for bill in bills:
        sheet = book.create_sheet(bill.id.replace("@", " ")[:31])
        if isinstance(bill, BillShare):
            sheet.append(["bill", bill.id, "status", bill.status, "share", Decimal(bill.share)])
            sheet.append(["share", "kind", "meter", "quantity", "unit_price", "department", "share"])
            for i, s in enumerate(bill.shares, start=1):
                sheet.append([i, s.kind, s.meter, s.quantity, s.unit_price, bill.department, s.amount])
            continue
        sheet.append(["bill", bill.id, "status", bill.status, "payable", Decimal(bill.payable)])
        sheet.append(["line", "kind", "meter", "quantity", "unit_price", "amount", "department", "share"])
        for i, ln in enumerate(bill.lines, start=1):
            sheet.append([i, ln.kind, ln.meter, ln.quantity, ln.unit_price, ln.amount, None, None])
            for al in ln.allocations or ():
                sheet.append([i, "allocation", ln.meter, al.quantity, None, None, al.department, al.amount])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
