"""Evaluation (docs/reference.md#evaluation, #evaluation-score): departments' ratings (好差评), the rectification tickets bad reviews open,
the operators' appeals and the bureau's decisions, and the score billing reads (`counted_ratings`,
`score_for`). Functions may flush, never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from core.clock import Clock, utcnow
from core.errors import Conflict, Forbidden, NotFound, problem
from core.i18n import register
from core.periods import Period
from sla.common import (
    DUPLICATE,
    NEW,
    as_period,
    floored_now,
    import_rows,
    not_found,
    readable_contract,
    record_audit,
    referred_contract,
    require_in_scope,
    require_own_operator,
    scope_by_contract,
    stored_row,
)
from sla.models import (
    Appeal,
    AppealRead,
    AppealStatus,
    Rating,
    RatingRead,
    RatingSource,
    Ticket,
    TicketRead,
    TicketStatus,
)
from sla.records import ImportReport, invalid, parse_level, parse_text, parse_time
from sla.scoring import BAD_LEVELS, SMALL_GROUP_ROLES, Score, aggregate_shown, pays, score_of, small_groups
from sla.workdays import WorkCalendar, calendar_from
from tenants.permissions import Actor, department_scope, require
from tenants.service import get_contract, get_department, province_zone

register(
    {
        "rating": "评价",
        "four eyes: {name} filed appeal {id} and may not also decide it": "四眼原则：{name} 提出了申诉 {id}，不能再裁决",
        "ticket": "整改工单",
        "appeal": "申诉",
        "department": "部门",
        "a bad review (level 1-2) needs a comment": "差评（1-2 级）必须填写评价内容",
        "the rating time is more than 5 minutes in the future ({now})": "评价时间晚于当前时间超过 5 分钟（{now}）",
        "department {department} is archived": "部门 {department} 已归档",
        "department {department} is placed on cloud {cloud}, which contract {contract} does not cover": "部门 {department} 部署在云 {cloud} 上，合同 {contract} 不覆盖该云",
        "the rating time {day} is outside the term of contract {contract} ({start}..{end})": "评价时间 {day} 不在合同 {contract} 的期限内（{start}..{end}）",
        "a department user rates only as its own department ({department})": "部门用户只能以本部门（{department}）名义评价",
        "department is required": "必须指定部门",
        "rating {id} no longer counts: its appeal was upheld": "评价 {id} 已不计入：其申诉已被支持",
        "rating {id} was already appealed (appeal {appeal})": "评价 {id} 已被申诉（申诉 {appeal}）",
        "the appeal deadline of rating {id} passed at {due}": "评价 {id} 的申诉期限已于 {due} 届满",
        "appeal {id} was already decided: {status}": "申诉 {id} 已裁决：{status}",
        "ticket {id} is {status}, not open": "整改工单 {id} 的状态为 {status}，不是待处理",
    }
)

#: A rating may carry a time up to this far ahead of the clock (clock skew), as usage events do.
FUTURE_TOLERANCE = timedelta(minutes=5)

# ---------------------------------------------------------------------------- ratings


@dataclass
class RatingResult:
    """A stored rating, the ticket it opened (a bad review) and calendar warnings."""

    rating: RatingRead
    ticket: TicketRead | None
    warnings: list[str]


def _rating_row(
    session: Session,
    actor: Actor,
    tz: ZoneInfo,
    *,
    contract_id: str,
    department_id: str | None,
    level: int | str | None,
    comment: str | None,
    when: Any,
    source: RatingSource,
    moment: datetime,
) -> Rating:
    """A validated rating (not yet stored): every rule of docs/reference.md#evaluation except the ticket."""
    require(actor, "ratings.write")
    value = parse_level(level)
    text = parse_text(comment, "comment")
    if value in BAD_LEVELS and not text:
        raise invalid("comment", "a bad review (level 1-2) needs a comment")
    instant = parse_time(when, "time")
    if instant > moment + FUTURE_TOLERANCE:
        raise invalid(
            "time",
            "the rating time is more than 5 minutes in the future ({now})",
            now=moment.astimezone(tz).isoformat(),
        )
    spec = referred_contract(session, (contract_id or "").strip())
    if (own := department_scope(actor)) is not None:
        if department_id and department_id.strip() != own:
            template = "a department user rates only as its own department ({department})"
            raise Forbidden(template, problems=[problem(template, path="department", department=own)], department=own)
        department_id = own
    if not department_id:
        raise invalid("department", "department is required")
    try:
        dept = get_department(session, department_id.strip())
    except NotFound:
        raise not_found("department", department_id, "department") from None
    if department_scope(actor) is not None and dept.cloud_id not in spec.clouds:
        raise not_found("contract", spec.id, "contract")  # not one it may see (docs/reference.md#ids-out-of-scope)
    if dept.status != "active":
        raise invalid("department", "department {department} is archived", department=dept.id)
    if dept.cloud_id not in spec.clouds:
        raise invalid(
            "department",
            "department {department} is placed on cloud {cloud}, which contract {contract} does not cover",
            department=dept.id,
            cloud=dept.cloud_id,
            contract=spec.id,
        )
    day = instant.astimezone(tz).date()
    if not spec.active_on(day):
        raise invalid(
            "time",
            "the rating time {day} is outside the term of contract {contract} ({start}..{end})",
            day=day,
            contract=spec.id,
            start=spec.start,
            end=spec.end,
        )
    return Rating(
        contract_id=spec.id,
        department_id=dept.id,
        time=instant,
        period=str(Period.of(instant, tz)),
        level=value,
        comment=text,
        source=source,
        created_by=actor.name,
        received_at=moment,
        appeal_due=instant,
        excluded=False,
    )


def _store_rating(
    session: Session, actor: Actor, row: Rating, tz: ZoneInfo, calendar: WorkCalendar, now: Clock
) -> tuple[Rating, Ticket | None]:
    """Store a validated rating; a bad review opens a rectification ticket due in 5 working days.

    Both deadlines — the ticket's and the appeal's — count from the day the rating was received here
    (docs/reference.md#evaluation): a rating migrated from another system with a past time is not overdue on arrival.
    """
    due = calendar.deadline(row.received_at, tz)
    row.appeal_due = due
    session.add(row)
    session.flush()
    ticket = None
    if row.level in BAD_LEVELS:
        spec = get_contract(session, row.contract_id)
        assert row.id is not None
        ticket = Ticket(
            rating_id=row.id,
            contract_id=row.contract_id,
            operator_id=spec.operator,
            department_id=row.department_id,
            opened_at=row.received_at,
            due_at=due,
        )
        session.add(ticket)
        session.flush()
        record_audit(
            session,
            "ticket.open",
            f"ticket:{ticket.id}",
            {"rating": row.id, "contract": row.contract_id, "operator": spec.operator, "due_at": due},
            actor=actor,
            now=now,
        )
    return row, ticket


def add_rating(
    session: Session,
    *,
    actor: Actor,
    contract_id: str,
    level: int | str,
    comment: str | None = None,
    department_id: str | None = None,
    time: datetime | str | None = None,
    calendar: WorkCalendar | None = None,
    now: Clock = utcnow,
) -> RatingResult:
    """A department rates a contract (docs/reference.md#evaluation); a bad review opens a rectification ticket."""
    tz = province_zone(session)
    moment = now()  # received_at keeps its microseconds (billing staleness)
    calendar = calendar or calendar_from(None)
    row = _rating_row(
        session,
        actor,
        tz,
        contract_id=contract_id,
        department_id=department_id,
        level=level,
        comment=comment,
        when=time if time is not None else now(),
        source=RatingSource.SERVICE,
        moment=moment,
    )
    row, ticket = _store_rating(session, actor, row, tz, calendar, now)
    record_audit(
        session,
        "rating.add",
        f"rating:{row.id}",
        {
            "contract": row.contract_id,
            "department": row.department_id,
            "time": row.time,
            "level": row.level,
            "comment": row.comment,
        },
        actor=actor,
        now=now,
    )
    return RatingResult(
        RatingRead.of(row, tz), TicketRead.of(ticket, tz, moment) if ticket else None, list(calendar.warnings)
    )


def import_ratings(
    session: Session, *, actor: Actor, path: str | Path, calendar: WorkCalendar | None = None, now: Clock = utcnow
) -> ImportReport:
    """Import `department,contract,time,level,comment` rows (docs/reference.md#record-files); valid rows stored, each bad row reported.

    A row equal to a stored rating (same department, contract, instant, level and comment) is a duplicate.
    """
    require(actor, "ratings.write")
    tz = province_zone(session)
    moment = now()  # received_at keeps its microseconds (billing staleness)
    calendar = calendar or calendar_from(None)
    tickets: list[int] = []

    def build(row: dict[str, str]) -> Rating:
        return _rating_row(
            session,
            actor,
            tz,
            contract_id=row["contract"],
            department_id=row["department"],
            level=row["level"],
            comment=row.get("comment"),
            when=row["time"],
            source=RatingSource.IMPORT,
            moment=moment,
        )

    def settle(rating: Rating) -> str:
        same = stored_row(
            session,
            Rating,
            contract_id=rating.contract_id,
            department_id=rating.department_id,
            time=rating.time,
            level=rating.level,
            comment=rating.comment,
        )
        return DUPLICATE if same is not None else NEW

    def store(rating: Rating) -> Rating:
        stored, ticket = _store_rating(session, actor, rating, tz, calendar, now)
        if ticket is not None and ticket.id is not None:
            tickets.append(ticket.id)
        return stored

    report = import_rows(
        session,
        path,
        ("department", "contract", "time", "level", "comment"),
        build,
        settle,
        store=store,
        optional=("comment",),
    )
    report.warnings = list(calendar.warnings)
    if report.changed:
        record_audit(
            session,
            "ratings.import",
            "ratings",
            {"file": Path(path).name, "ids": report.ids, "tickets": tickets},
            actor=actor,
            now=now,
        )
    return report


def list_ratings(
    session: Session,
    *,
    actor: Actor,
    contract_id: str | None = None,
    period: Period | str | None = None,
    department_id: str | None = None,
) -> list[RatingRead]:
    """Ratings the actor may see, history included: an operator its contracts', a department its own.

    Each rating names its department, so a list is a per-department breakdown of the period's score:
    an operator sees the ratings of a contract's period only when that score may be shown to it
    (docs/reference.md#small-groups) — else only the bad reviews, which opened the tickets it answers
    and may appeal (docs/reference.md#evaluation)."""
    require(actor, "ratings.read")
    tz = province_zone(session)
    query = select(Rating).order_by(
        col(Rating.contract_id), col(Rating.period), col(Rating.department_id), col(Rating.time), col(Rating.id)
    )
    if contract_id is not None:
        readable_contract(session, contract_id, "ratings.read", actor=actor)
        query = query.where(Rating.contract_id == contract_id)
    if period is not None:
        query = query.where(Rating.period == str(as_period(period)))
    if department_id is not None and department_scope(actor) is None:  # a department user sees its own
        query = query.where(Rating.department_id == department_id)
    query = scope_by_contract(query, Rating.contract_id, actor, department=Rating.department_id)
    rows = list(session.exec(query))
    if actor.role in SMALL_GROUP_ROLES and department_scope(actor) is None:  # a department's own are no breakdown
        groups = _counted_departments(session, {(r.contract_id, r.period) for r in rows})
        rows = [
            r
            for r in rows
            if r.level in BAD_LEVELS or aggregate_shown(actor, groups.get((r.contract_id, r.period), set()))
        ]
    return [RatingRead.of(r, tz) for r in rows]


def _counted_departments(session: Session, groups: set[tuple[str, str]]) -> dict[tuple[str, str], set[str]]:
    """For each (contract, period), the departments whose ratings count in it (as `counted_ratings`), in one query."""
    if not groups:
        return {}
    tz = province_zone(session)
    contracts = {c for c, _ in groups}
    specs = {c: get_contract(session, c) for c in contracts}
    rows = session.exec(
        select(Rating.contract_id, Rating.period, Rating.department_id, Rating.time).where(
            col(Rating.contract_id).in_(sorted(contracts)),
            col(Rating.period).in_(sorted({p for _, p in groups})),
            col(Rating.excluded).is_(False),
        )
    )
    counted: dict[tuple[str, str], set[str]] = {}
    for contract, period, department, when in rows:
        if (contract, period) in groups and specs[contract].active_on(when.astimezone(tz).date()):
            counted.setdefault((contract, period), set()).add(department)
    return counted


def counted_ratings(session: Session, contract_id: str, period: Period | str) -> list[Rating]:
    """The ratings that count in a period (docs/reference.md#evaluation): per department its latest (by time, then arrival)
    rating inside the term whose appeal was not upheld. Internal: billing calls it."""
    spec = get_contract(session, contract_id)
    tz = province_zone(session)
    rows = session.exec(
        select(Rating)
        .where(
            Rating.contract_id == contract_id,
            Rating.period == str(as_period(period)),
            col(Rating.excluded).is_(False),
        )
        .order_by(col(Rating.department_id), col(Rating.time), col(Rating.id))
    )
    latest: dict[str, Rating] = {}
    for row in rows:
        if spec.active_on(row.time.astimezone(tz).date()):
            latest[row.department_id] = row
    return [latest[k] for k in sorted(latest)]


def score_for(session: Session, contract_id: str, period: Period | str) -> Score:
    """The evaluation score of a contract's period from its counted ratings (docs/reference.md#evaluation-score). Internal."""
    return score_of(r.level for r in counted_ratings(session, contract_id, period))


def get_score(session: Session, *, actor: Actor, contract_id: str, period: Period | str) -> dict[str, Any]:
    """`ratings score`: count, distribution, score S, satisfaction and bad-review rates (and what it pays) —
    to a department or an operator only over at least 3 departments, else `suppressed: true` and none of
    those figures (docs/reference.md#small-groups, #evaluation-score)."""
    spec = readable_contract(session, contract_id, "ratings.read", actor=actor)
    p = as_period(period)
    counted = counted_ratings(session, spec.id, p)
    score = score_of(r.level for r in counted)
    figures = score.to_dict()
    if spec.evaluation is not None:
        figures["pays"] = pays(score, spec.evaluation)  # a step of the score: hidden with it
    body: dict[str, Any] = {"contract": spec.id, "period": str(p)}
    if spec.evaluation is not None:
        body["min_ratings"] = spec.evaluation.min_ratings  # a term of the contract, not a figure
    body.update(small_groups(actor, (r.department_id for r in counted), figures))
    return body


# ---------------------------------------------------------------------------- appeals


def _rating(session: Session, rating_id: int) -> Rating:
    row = session.get(Rating, rating_id)
    if row is None:
        raise not_found("rating", rating_id, "rating")
    return row


def appeal_rating(session: Session, *, actor: Actor, rating_id: int, reason: str, now: Clock = utcnow) -> AppealRead:
    """The contract's operator appeals a rating within 5 working days of its receipt (docs/reference.md#evaluation)."""
    require(actor, "ratings.appeal")
    tz = province_zone(session)
    moment = floored_now(now)
    rating = _rating(session, rating_id)
    require_in_scope(session, rating.contract_id, actor=actor, missing=not_found("rating", rating_id, "rating"))
    text = parse_text(reason, "reason", required=True)
    if rating.excluded:
        raise Conflict("rating {id} no longer counts: its appeal was upheld", id=rating_id)
    existing = session.exec(select(Appeal).where(Appeal.rating_id == rating_id)).first()
    if existing is not None:
        raise Conflict("rating {id} was already appealed (appeal {appeal})", id=rating_id, appeal=existing.id)
    if moment >= rating.appeal_due:
        raise invalid(
            "rating",
            "the appeal deadline of rating {id} passed at {due}",
            id=rating_id,
            due=rating.appeal_due.astimezone(tz).isoformat(),
        )
    appeal = Appeal(
        rating_id=rating_id, contract_id=rating.contract_id, reason=text, filed_by=actor.name, filed_at=moment
    )
    session.add(appeal)
    session.flush()
    record_audit(
        session,
        "appeal.file",
        f"appeal:{appeal.id}",
        {"rating": rating_id, "contract": rating.contract_id, "reason": text},
        actor=actor,
        now=now,
    )
    return AppealRead.of(appeal, tz)


def decide_appeal(
    session: Session, *, actor: Actor, appeal_id: int, uphold: bool, note: str | None = None, now: Clock = utcnow
) -> AppealRead:
    """The bureau upholds an appeal (the rating stops counting; its open ticket is withdrawn) or rejects it.
    Whoever filed the appeal never decides it (docs/reference.md#four-eyes)."""
    require(actor, "ratings.decide")
    tz = province_zone(session)
    appeal = session.get(Appeal, appeal_id)
    if appeal is None:
        raise not_found("appeal", appeal_id, "appeal")
    if appeal.filed_by == actor.name:
        raise Forbidden("four eyes: {name} filed appeal {id} and may not also decide it", name=actor.name, id=appeal_id)
    if appeal.status != AppealStatus.PENDING:
        raise Conflict("appeal {id} was already decided: {status}", id=appeal_id, status=appeal.status)
    moment = now()
    appeal.status = AppealStatus.UPHELD if uphold else AppealStatus.REJECTED
    appeal.decided_by, appeal.decided_at, appeal.note = actor.name, moment, parse_text(note, "note") or None
    session.add(appeal)
    withdrawn = None
    if uphold:
        rating = _rating(session, appeal.rating_id)
        rating.excluded = True
        session.add(rating)
        ticket = session.exec(select(Ticket).where(Ticket.rating_id == rating.id)).first()
        if ticket is not None and ticket.status == TicketStatus.OPEN:
            ticket.status = TicketStatus.WITHDRAWN
            session.add(ticket)
            withdrawn = ticket.id
    session.flush()
    record_audit(
        session,
        f"appeal.{'uphold' if uphold else 'reject'}",
        f"appeal:{appeal.id}",
        {
            "rating": appeal.rating_id,
            "contract": appeal.contract_id,
            "note": appeal.note,
            "ticket_withdrawn": withdrawn,
        },
        actor=actor,
        now=now,
    )
    return AppealRead.of(appeal, tz)


# ---------------------------------------------------------------------------- tickets


def list_tickets(
    session: Session, *, actor: Actor, overdue: bool = False, contract_id: str | None = None, now: Clock = utcnow
) -> list[TicketRead]:
    """Rectification tickets the actor may see (an operator its own, a department its own); `overdue`: open
    tickets past their due time."""
    require(actor, "tickets.read")
    tz = province_zone(session)
    moment = floored_now(now)
    query = select(Ticket).order_by(col(Ticket.due_at), col(Ticket.id))
    query = scope_by_contract(
        query, Ticket.contract_id, actor, operator=Ticket.operator_id, department=Ticket.department_id
    )
    if contract_id is not None:
        query = query.where(Ticket.contract_id == contract_id)
    if overdue:
        query = query.where(Ticket.status == TicketStatus.OPEN, Ticket.due_at <= moment)
    return [TicketRead.of(row, tz, moment) for row in session.exec(query)]


def answer_ticket(session: Session, *, actor: Actor, ticket_id: int, text: str, now: Clock = utcnow) -> TicketRead:
    """The operator answers a rectification ticket (once)."""
    require(actor, "tickets.answer")
    tz = province_zone(session)
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise not_found("ticket", ticket_id, "ticket")
    require_own_operator(ticket.operator_id, actor=actor, missing=not_found("ticket", ticket_id, "ticket"))
    answer = parse_text(text, "text", required=True)
    if ticket.status != TicketStatus.OPEN:
        raise Conflict("ticket {id} is {status}, not open", id=ticket_id, status=ticket.status)
    moment = floored_now(now)
    ticket.status, ticket.answer, ticket.answered_by, ticket.answered_at = (
        TicketStatus.ANSWERED,
        answer,
        actor.name,
        moment,
    )
    session.add(ticket)
    session.flush()
    record_audit(
        session,
        "ticket.answer",
        f"ticket:{ticket.id}",
        {"rating": ticket.rating_id, "contract": ticket.contract_id, "late": moment >= ticket.due_at, "answer": answer},
        actor=actor,
        now=now,
    )
    return TicketRead.of(ticket, tz, moment)
