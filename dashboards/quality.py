"""SLA, Ratings and Audit pages."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import streamlit as st
from sqlmodel import Session

from core.errors import DomainError
from core.i18n import register
from core.periods import Period
from dashboards.common import actor, call, label, number, percent, period, ratio, table, tr, when
from sla.evaluation import (
    add_rating,
    answer_ticket,
    appeal_rating,
    decide_appeal,
    get_score,
    list_ratings,
    list_tickets,
)
from sla.inputs import get_availability
from sla.outages import decide_maintenance, list_maintenance, list_outages
from sla.scoring import SMALL_GROUP
from tenants.permissions import Actor, can
from tenants.service import list_contracts, province_zone
from tenants.users import list_audit, verify_audit

register(
    {
        "SLA": "服务水平",
        "Availability in {period}": "{period} 可用性",
        "Outages": "故障",
        "Maintenance windows": "维护窗口",
        "start": "开始",
        "end": "结束",
        "source": "来源",
        "note": "说明",
        "approved": "已批准",
        "pending": "待审批",
        "rejected": "已驳回",
        "counts": "计入",
        "requested by": "申请人",
        "Approve": "批准",
        "Reject": "驳回",
        "window {id} decided": "维护窗口 {id} 已处理",
        "down (s)": "中断（秒）",
        "maintenance (s)": "维护（秒）",
        "coverage": "探测覆盖率",
        "error budget left": "剩余错误预算",
        "burn rate": "预算消耗速率",
        "Ratings": "评价",
        "Scores in {period}": "{period} 评分",
        "score": "得分",
        "count": "数量",
        "satisfaction": "满意率",
        "bad reviews": "差评率",
        "level": "等级",
        "comment": "评语",
        "excluded": "已排除",
        "time": "时间",
        "Rate a service": "评价服务",
        "Submit rating": "提交评价",
        "a bad review (level 1 or 2) needs a comment": "差评（1 或 2 级）须填写评语",
        "rating {id} recorded": "评价 {id} 已记录",
        "Tickets": "整改工单",
        "Answer a ticket": "答复整改工单",
        "answer": "答复",
        "Send answer": "提交答复",
        "ticket {id} answered": "工单 {id} 已答复",
        "Appeal a rating": "对评价提出申诉",
        "rating": "评价",
        "reason": "理由",
        "File appeal": "提交申诉",
        "appeal {id} filed": "申诉 {id} 已提交",
        "Decide an appeal": "裁决申诉",
        "appeal": "申诉",
        "Uphold": "支持申诉",
        "appeal {id}: {status}": "申诉 {id}：{status}",
        "due": "期限",
        "overdue": "已逾期",
        "Audit": "审计",
        "Verify the chain": "校验哈希链",
        "audit log intact: {count} entries": "审计日志完整：共 {count} 条",
        "action starts with": "操作前缀",
        "entity contains": "对象包含",
        "by user": "操作人",
        "actor": "操作人",
        "action": "操作",
        "entity": "对象",
        "payload": "内容",
        "showing the newest {count} entries: narrow them with the filters": "仅显示最新的 {count} 条，可用筛选条件缩小范围",
    }
)


#: the newest audit entries the Audit page lists (the log of a busy province holds millions)
AUDIT_ROWS = 500


def sla_page() -> None:
    st.header(tr("SLA"))
    month = str(period())

    def load(session: Session, who: Actor) -> dict[str, Any]:
        rows, outages = [], []
        for c in list_contracts(session, actor=who):
            try:
                a = get_availability(session, actor=who, contract_id=c.id, period=month)
            except DomainError:  # a contract outside the month
                continue
            rows.append((c, a))
            outages += [(c.id, o) for o in list_outages(session, actor=who, contract_id=c.id, period=month)]
        return {
            "rows": rows,
            "outages": outages,
            "maintenance": list_maintenance(session, actor=who),
            "tz": province_zone(session),
        }

    data = call(load)
    if data is None:
        return
    tz = data["tz"]
    st.subheader(tr("Availability in {period}", period=month))
    out = []
    for c, a in data["rows"]:
        target = c.sla.availability_target if c.sla else None
        value = a["availability"]
        budget = burn = None
        if target is not None and a["eligible_seconds"]:
            allowed_down = Decimal(a["eligible_seconds"]) * (1 - Decimal(target) / 100)
            if allowed_down:
                used = Decimal(a["down_seconds"]) / allowed_down
                budget = 1 - used
                # burn rate: the share of the budget used over the share of the month gone (1 = on budget)
                elapsed = _elapsed_share(a["start"], a["end"], month, data["tz"])
                burn = (used / elapsed).quantize(Decimal("0.01")) if elapsed else None
        out.append(
            {
                tr("contract"): c.id,
                tr("availability"): percent(value),
                tr("target"): percent(target),
                tr("down (s)"): a["down_seconds"],
                tr("maintenance (s)"): a["maintenance_seconds"],
                tr("coverage"): ratio(a["coverage"]),
                tr("error budget left"): ratio(budget),
                tr("burn rate"): f"{burn}×" if burn is not None else "—",
            }
        )
    table(out)
    st.subheader(tr("Outages"))
    table(
        [
            {
                tr("contract"): cid,
                tr("start"): when(o.start, tz),
                tr("end"): when(o.end, tz),
                tr("source"): label(o.source),
                tr("note"): o.note,
            }
            for cid, o in data["outages"]
        ]
    )
    st.subheader(tr("Maintenance windows"))
    windows = data["maintenance"]
    table(
        [
            {
                "id": w.id,
                tr("contract"): w.contract,
                tr("start"): when(w.start, tz),
                tr("end"): when(w.end, tz),
                tr("status"): tr("pending") if w.approved is None else tr("approved") if w.approved else tr("rejected"),
                tr("counts"): "✓" if w.counts else "",
                tr("requested by"): w.requested_by,
                tr("note"): w.note,
            }
            for w in windows
        ]
    )
    who = actor()
    pending = [w.id for w in windows if w.approved is None]
    if who is not None and can(who, "maintenance.approve") and pending:
        chosen = st.selectbox(tr("Maintenance windows"), pending, key="mw")
        a, b = st.columns(2)
        for col, caption, approve in ((a, tr("Approve"), True), (b, tr("Reject"), False)):
            if col.button(caption, key=f"mw-{approve}"):
                if _decide_window(int(chosen), approve) is not None:
                    st.success(tr("window {id} decided", id=chosen))


def _elapsed_share(start: datetime, end: datetime, month: str, tz: ZoneInfo) -> Decimal | None:
    """How much of the month the availability window covers so far (1 for a month that is over)."""
    lo, hi = Period.parse(month).bounds(tz)
    total = Decimal(int((hi - lo).total_seconds()))
    gone = Decimal(int((min(end, hi) - max(start, lo)).total_seconds()))
    return gone / total if total > 0 and gone > 0 else None


def _decide_window(window_id: int, approve: bool) -> Any:
    return call(lambda s, w: decide_maintenance(s, actor=w, window_id=window_id, approve=approve))


def ratings_page() -> None:
    st.header(tr("Ratings"))
    month = str(period())

    def load(session: Session, who: Actor) -> dict[str, Any]:
        contracts = list_contracts(session, actor=who)
        scores = []
        for c in contracts:
            if c.evaluation is None:
                continue
            try:
                scores.append(get_score(session, actor=who, contract_id=c.id, period=month))
            except DomainError:  # not visible or not active
                continue
        return {
            "contracts": contracts,
            "scores": scores,
            "ratings": list_ratings(session, actor=who, period=month),
            "tickets": list_tickets(session, actor=who) if can(who, "tickets.read") else [],
            "tz": province_zone(session),
        }

    data = call(load)
    if data is None:
        return
    tz = data["tz"]
    st.subheader(tr("Scores in {period}", period=month))
    table([_score_row(s) for s in data["scores"]])
    st.subheader(tr("Ratings"))
    table(
        [
            {
                "id": r.id,
                tr("contract"): r.contract,
                tr("department"): r.department,
                tr("time"): when(r.time, tz),
                tr("level"): r.level,
                tr("comment"): r.comment,
                tr("excluded"): "✓" if r.excluded else "",
            }
            for r in data["ratings"]
        ]
    )
    st.subheader(tr("Tickets"))
    table(
        [
            {
                "id": k.id,
                tr("contract"): k.contract,
                tr("department"): k.department,
                tr("due"): when(k.due_at, tz),
                tr("status"): label(k.status) + (f" ({tr('overdue')})" if k.overdue else ""),
                tr("answer"): k.answer or "",
            }
            for k in data["tickets"]
        ]
    )
    _actions(data)


def _score_row(s: dict[str, Any]) -> dict[str, Any]:
    """A contract's score; suppressed (docs/reference.md#small-groups): the reason in place of every figure."""
    if s["suppressed"]:
        hidden = tr(SMALL_GROUP)
        return {
            tr("contract"): s["contract"],
            **{tr(k): hidden for k in ("count", "score", "satisfaction", "bad reviews")},
        }
    return {
        tr("contract"): s["contract"],
        tr("count"): str(s["count"]),  # text, as a suppressed row's: one column type
        tr("score"): number(s.get("score")),
        tr("satisfaction"): ratio(s.get("satisfaction_rate")),
        tr("bad reviews"): ratio(s.get("bad_review_rate")),
    }


def _actions(data: dict[str, Any]) -> None:
    who = actor()
    if who is None:
        return
    if can(who, "ratings.write") and data["contracts"]:
        with st.form("rate"):
            st.subheader(tr("Rate a service"))
            contract = st.selectbox(tr("contract"), [c.id for c in data["contracts"]])
            level = st.slider(tr("level"), 1, 5, 5)
            comment = st.text_input(tr("comment"))
            if st.form_submit_button(tr("Submit rating")):
                if level <= 2 and not comment.strip():
                    st.error(tr("a bad review (level 1 or 2) needs a comment"))
                else:
                    got = call(
                        lambda s, w: add_rating(
                            s, actor=w, contract_id=contract, level=level, comment=comment.strip() or None
                        )
                    )
                    if got is not None:
                        st.success(tr("rating {id} recorded", id=got.rating.id))
    if can(who, "tickets.answer") and data["tickets"]:
        with st.form("answer"):
            st.subheader(tr("Answer a ticket"))
            ticket = st.selectbox(tr("Tickets"), [k.id for k in data["tickets"] if k.status == "open"] or [0])
            text = st.text_input(tr("answer"))
            if st.form_submit_button(tr("Send answer")):
                if call(lambda s, w: answer_ticket(s, actor=w, ticket_id=int(ticket), text=text)) is not None:
                    st.success(tr("ticket {id} answered", id=ticket))
    if can(who, "ratings.appeal") and data["ratings"]:
        with st.form("appeal"):
            st.subheader(tr("Appeal a rating"))
            rating = st.selectbox(tr("rating"), [r.id for r in data["ratings"] if not r.excluded] or [0])
            reason = st.text_input(tr("reason"))
            if st.form_submit_button(tr("File appeal")):
                filed = call(lambda s, w: appeal_rating(s, actor=w, rating_id=int(rating), reason=reason))
                if filed is not None:
                    st.success(tr("appeal {id} filed", id=filed.id))
    if can(who, "ratings.decide"):
        with st.form("decide"):
            st.subheader(tr("Decide an appeal"))
            appeal = st.number_input(tr("appeal"), min_value=1, step=1)
            note = st.text_input(tr("note"))
            uphold = st.checkbox(tr("Uphold"))
            if st.form_submit_button(tr("Decide an appeal")):
                decided = call(
                    lambda s, w: decide_appeal(s, actor=w, appeal_id=int(appeal), uphold=uphold, note=note or None)
                )
                if decided is not None:
                    st.success(tr("appeal {id}: {status}", id=decided.id, status=label(decided.status)))


def audit_page() -> None:
    st.header(tr("Audit"))
    c1, c2, c3 = st.columns(3)
    action = c1.text_input(tr("action starts with"))
    entity = c2.text_input(tr("entity contains"))
    who_filter = c3.text_input(tr("by user"))
    if st.button(tr("Verify the chain")):
        result = call(lambda s, w: verify_audit(s, actor=w))
        if result is not None:
            if result.ok:
                st.success(tr("audit log intact: {count} entries", count=result.count))
            else:
                st.error(
                    tr(
                        "audit log broken at entry {seq}: {reason}",
                        seq=result.first_bad_seq,
                        reason=tr(result.reason or "", **(result.reason_params or {})),
                    )
                )

    def load(session: Session, w: Actor) -> tuple[list[Any], Any]:
        rows = list_audit(
            session, actor=w, action=action or None, entity=entity or None, who=who_filter or None, limit=AUDIT_ROWS
        )
        return rows, province_zone(session)

    data = call(load)
    if data is None:
        return
    rows, tz = data
    if len(rows) >= AUDIT_ROWS:
        st.caption(tr("showing the newest {count} entries: narrow them with the filters", count=len(rows)))
    table(
        [
            {
                "#": e.seq,
                tr("time"): when(e.time, tz),
                tr("actor"): e.actor,
                tr("action"): e.action,
                tr("entity"): e.entity,
                tr("payload"): json.dumps(json.loads(e.payload), ensure_ascii=False)[:200],
            }
            for e in rows
        ]
    )
