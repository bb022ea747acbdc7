"""`zhengyun sla …`, `zhengyun ratings …` and `zhengyun tickets …`: thin sub-apps over the SLA services
(`sla.probing`, `sla.outages`, `sla.inputs`, `sla.evaluation`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from core.errors import DomainError
from core.i18n import register, t
from core.output import table
from sla import evaluation, inputs, outages, probing
from sla.workdays import WorkCalendar, calendar_from
from zhengyun.cli_support import AsOpt, JsonOpt, fail, finish_import, misuse, render_import, run_command, warn

register(
    {
        "availability": "可用性",
        "eligible seconds": "计入秒数",
        "down seconds": "故障秒数",
        "maintenance seconds": "维护秒数",
        "coverage": "探测覆盖率",
        "insufficient": "数据不足",
        "outages": "故障",
        "checks: {checks}, outages opened: {opened}, closed: {closed}, skipped: {skipped}": "检查 {checks} 次，新开故障 {opened} 个，结束故障 {closed} 个，跳过 {skipped} 个",
        "outage {id} recorded": "已记录故障 {id}",
        "maintenance window {id}: approved={approved}, timely={timely}, counts={counts}": "维护窗口 {id}：批准={approved}，按时公告={timely}，计入={counts}",
        "rating {id} recorded (period {period})": "已记录评价 {id}（期间 {period}）",
        "ticket {id} opened, due {due}": "已开整改工单 {id}，期限 {due}",
        "appeal {id}: {status}": "申诉 {id}：{status}",
        "ticket {id}: {status}": "整改工单 {id}：{status}",
        "give exactly one of --uphold and --reject": "必须且只能给出 --uphold 或 --reject 之一",
        "count": "数量",
        "score": "得分",
        "satisfaction rate": "满意率",
        "bad-review rate": "差评率",
        "distribution": "分布",
        "pays": "兑付比例",
    }
)

WorkdaysOpt = Annotated[
    Path | None, typer.Option("--workdays", help="Extra holidays and working days (YAML or CSV) / 节假日与调休覆盖文件")
]
ContractOpt = Annotated[str, typer.Option("--contract", help="Contract id / 合同编号")]
PeriodOpt = Annotated[str, typer.Option("--period", help="YYYY-MM")]


def _calendar(workdays: Path | None, json_out: bool) -> WorkCalendar | None:
    """The working-day calendar with the overrides file given; None lets the service use its default
    (the data directory's overrides, when there are any)."""
    if workdays is None:
        return None
    try:
        return calendar_from(workdays)
    except DomainError as exc:
        fail(exc, json_out)


def _import(call: Any, json_: bool, as_: str | None, **arguments: Any) -> None:
    report = run_command(call, json_out=json_, as_=as_, render=render_import, **arguments)
    finish_import(report)


# ---------------------------------------------------------------------------- sla

sla_app = typer.Typer(
    help="Availability: probes, outages, maintenance / 服务水平：探测、故障、维护", no_args_is_help=True
)
outages_app = typer.Typer(help="Outages / 故障", no_args_is_help=True)
maintenance_app = typer.Typer(help="Maintenance windows / 维护窗口", no_args_is_help=True)
sla_app.add_typer(outages_app, name="outages")
sla_app.add_typer(maintenance_app, name="maintenance")


@sla_app.command("probe")
def sla_probe(
    once: Annotated[bool, typer.Option("--once", help="Run every probe once / 运行所有探测一次")] = False,
    vantage: Annotated[
        str | None, typer.Option("--vantage", help="Vantage point name (default: host name) / 探测点")
    ] = None,
    contract: Annotated[str | None, typer.Option("--contract", help="Only this contract / 仅此合同")] = None,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Run every probe once, store the checks, open and close outages / 运行探测"""
    if not once:
        misuse("only --once is supported here; `zhengyun serve` runs the probes every interval", json_)

    def render(run: probing.ProbeRun) -> str:
        rows = [
            [c.contract, c.probe, c.vantage, "ok" if c.ok else "FAIL", c.status or "", c.duration_ms, c.error or ""]
            for c in run.checks
        ]
        rows += [[s["contract"], s["probe"], run.vantage, "skipped", "", "", s["reason"]] for s in run.skipped]
        lines = [table(["contract", "probe", "vantage", "result", "status", "ms", "error"], rows)]
        lines += [f"+ outage {o.id} {o.contract}/{o.probe} since {o.start.isoformat()}" for o in run.opened]
        lines += [
            f"- outage {o.id} {o.contract}/{o.probe} {o.start.isoformat()} .. {o.end.isoformat() if o.end else ''}"
            for o in run.closed
        ]
        lines.append(
            t(
                "checks: {checks}, outages opened: {opened}, closed: {closed}, skipped: {skipped}",
                checks=len(run.checks),
                opened=len(run.opened),
                closed=len(run.closed),
                skipped=len(run.skipped),
            )
        )
        return "\n".join(lines)

    run_command(
        probing.run_probes,
        vantage=vantage,
        contract_id=contract,
        json_out=json_,
        as_=as_,
        render=render,
    )


@sla_app.command("availability")
def sla_availability(contract: ContractOpt, period: PeriodOpt, json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """Availability of a contract in a period / 合同在期间内的可用性"""

    def render(r: dict[str, Any]) -> str:
        lines = [
            f"{r['contract']} {r['period']}: {t('availability')} {r['availability']}%"
            + (f" ({t('insufficient')})" if r["insufficient"] else ""),
            f"  {t('eligible seconds')}: {r['eligible_seconds']}",
            f"  {t('down seconds')}: {r['down_seconds']}",
            f"  {t('maintenance seconds')}: {r['maintenance_seconds']}",
        ]
        if r["coverage"] is not None:
            lines.append(f"  {t('coverage')}: {r['coverage']}")
        for o in r["outages"]:
            lines.append(f"  {t('outages')}: {o['start'].isoformat()} .. {o['end'].isoformat()} ({o['seconds']} s)")
        return "\n".join(lines)

    run_command(
        inputs.get_availability,
        contract_id=contract,
        period=period,
        json_out=json_,
        as_=as_,
        render=render,
    )


@outages_app.command("add")
def outages_add(
    contract: ContractOpt,
    start: Annotated[str, typer.Option("--start", help="ISO 8601 with offset / 开始时间")],
    end: Annotated[str, typer.Option("--end", help="ISO 8601 with offset / 结束时间")],
    note: Annotated[str, typer.Option("--note", help="What happened / 说明")],
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Record an outage by hand / 手工登记故障"""
    run_command(
        outages.add_outage,
        contract_id=contract,
        start=start,
        end=end,
        note=note,
        json_out=json_,
        as_=as_,
        key="outage",
        render=lambda outage: t("outage {id} recorded", id=outage.id),
    )


@outages_app.command("import")
def outages_import(file: Path, json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """Import outages (CSV: contract,start,end,source,note) / 导入故障"""
    _import(outages.import_outages, json_, as_, path=file)


@outages_app.command("list")
def outages_list(contract: ContractOpt, period: PeriodOpt, json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """Stored outages of a contract in a period, before merging / 列出故障"""
    run_command(
        outages.list_outages,
        contract_id=contract,
        period=period,
        json_out=json_,
        as_=as_,
        key="outages",
        render=lambda listed: table(
            ["id", "contract", "start", "end", "source", "probe", "note"],
            [
                [o.id, o.contract, o.start.isoformat(), o.end.isoformat() if o.end else "", o.source, o.probe, o.note]
                for o in listed
            ],
        ),
    )


def _render_window(m: Any) -> str:
    return t(
        "maintenance window {id}: approved={approved}, timely={timely}, counts={counts}",
        id=m.id,
        approved=m.approved,
        timely=m.timely,
        counts=m.counts,
    )


@maintenance_app.command("request")
def maintenance_request(
    contract: ContractOpt,
    start: Annotated[str, typer.Option("--start", help="ISO 8601 with offset / 开始时间")],
    end: Annotated[str, typer.Option("--end", help="ISO 8601 with offset / 结束时间")],
    note: Annotated[str, typer.Option("--note", help="What will be done / 说明")] = "",
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Announce a maintenance window now (counts once approved, if ≥ 24 h ahead) / 申请维护窗口"""
    run_command(
        outages.request_maintenance,
        contract_id=contract,
        start=start,
        end=end,
        note=note,
        json_out=json_,
        as_=as_,
        key="maintenance",
        render=_render_window,
    )


@maintenance_app.command("approve")
def maintenance_approve(
    window_id: int,
    reject: Annotated[bool, typer.Option("--reject", help="Reject instead / 驳回")] = False,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Approve (or reject) a maintenance window (bureau) / 批准维护窗口"""
    run_command(
        outages.decide_maintenance,
        window_id=window_id,
        approve=not reject,
        json_out=json_,
        as_=as_,
        key="maintenance",
        render=_render_window,
    )


@maintenance_app.command("import")
def maintenance_import(file: Path, json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """Import maintenance windows (CSV: contract,start,end,announced_at,approved; bureau) / 导入维护窗口"""
    _import(outages.import_maintenance, json_, as_, path=file)


@maintenance_app.command("list")
def maintenance_list(
    contract: Annotated[str | None, typer.Option("--contract")] = None,
    pending: Annotated[bool, typer.Option("--pending", help="Only undecided / 仅待批")] = False,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Maintenance windows / 列出维护窗口"""
    run_command(
        outages.list_maintenance,
        contract_id=contract,
        pending=pending,
        json_out=json_,
        as_=as_,
        key="maintenance",
        render=lambda listed: table(
            ["id", "contract", "start", "end", "announced", "approved", "timely", "counts"],
            [
                [
                    m.id,
                    m.contract,
                    m.start.isoformat(),
                    m.end.isoformat(),
                    m.announced_at.isoformat(),
                    m.approved,
                    m.timely,
                    m.counts,
                ]
                for m in listed
            ],
        ),
    )


# ---------------------------------------------------------------------------- ratings

ratings_app = typer.Typer(help="Evaluation (好差评): ratings, scores, appeals / 好差评", no_args_is_help=True)


def _render_rating(r: evaluation.RatingResult) -> str:
    lines = [t("rating {id} recorded (period {period})", id=r.rating.id, period=r.rating.period)]
    if r.ticket is not None:
        lines.append(t("ticket {id} opened, due {due}", id=r.ticket.id, due=r.ticket.due_at.isoformat()))
    return "\n".join(lines)


@ratings_app.command("add")
def ratings_add(
    contract: ContractOpt,
    level: Annotated[str, typer.Option("--level", help="1-5 or 非常满意/满意/基本满意/不满意/非常不满意")],
    department: Annotated[str | None, typer.Option("--department", help="Rating department / 评价部门")] = None,
    comment: Annotated[str | None, typer.Option("--comment", help="Required for levels 1-2 / 差评必填")] = None,
    time: Annotated[str | None, typer.Option("--time", help="ISO 8601 with offset (default now) / 评价时间")] = None,
    workdays: WorkdaysOpt = None,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Rate a contract; a bad review opens a rectification ticket / 评价合同服务"""

    result = run_command(
        evaluation.add_rating,
        contract_id=contract,
        level=level,
        comment=comment,
        department_id=department,
        time=time,
        calendar=_calendar(workdays, json_),
        json_out=json_,
        as_=as_,
        render=_render_rating,
    )
    warn(result.warnings)


@ratings_app.command("import")
def ratings_import(file: Path, workdays: WorkdaysOpt = None, json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """Import ratings (CSV: department,contract,time,level,comment) / 导入评价"""
    _import(evaluation.import_ratings, json_, as_, path=file, calendar=_calendar(workdays, json_))


@ratings_app.command("list")
def ratings_list(
    contract: Annotated[str | None, typer.Option("--contract")] = None,
    period: Annotated[str | None, typer.Option("--period", help="YYYY-MM")] = None,
    department: Annotated[str | None, typer.Option("--department")] = None,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Ratings with their history / 列出评价"""
    run_command(
        evaluation.list_ratings,
        contract_id=contract,
        period=period,
        department_id=department,
        json_out=json_,
        as_=as_,
        key="ratings",
        render=lambda listed: table(
            ["id", "contract", "department", "time", "level", "excluded", "comment"],
            [[x.id, x.contract, x.department, x.time.isoformat(), x.level, x.excluded, x.comment] for x in listed],
        ),
    )


@ratings_app.command("score")
def ratings_score(contract: ContractOpt, period: PeriodOpt, json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """Evaluation score of a contract in a period / 评价得分"""

    def render(r: dict[str, Any]) -> str:
        lines = [
            f"{r['contract']} {r['period']}: {t('count')} {r['count']}, {t('score')} {r['score']}",
            f"  {t('distribution')}: " + ", ".join(f"{k}: {v}" for k, v in r["distribution"].items()),
            f"  {t('satisfaction rate')}: {r['satisfaction_rate']}",
            f"  {t('bad-review rate')}: {r['bad_review_rate']}",
        ]
        if "pays" in r:
            lines.append(f"  {t('pays')}: {r['pays']}")
        return "\n".join(lines)

    run_command(
        evaluation.get_score,
        contract_id=contract,
        period=period,
        json_out=json_,
        as_=as_,
        render=render,
    )


def _render_appeal(appeal: Any) -> str:
    return t("appeal {id}: {status}", id=appeal.id, status=appeal.status)


@ratings_app.command("appeal")
def ratings_appeal(
    rating_id: int,
    reason: Annotated[str, typer.Option("--reason", help="Why / 申诉理由")],
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Appeal a rating within 5 working days (operator) / 对评价提出申诉"""
    run_command(
        evaluation.appeal_rating,
        rating_id=rating_id,
        reason=reason,
        json_out=json_,
        as_=as_,
        key="appeal",
        render=_render_appeal,
    )


@ratings_app.command("decide")
def ratings_decide(
    appeal_id: int,
    uphold: Annotated[bool, typer.Option("--uphold", help="The rating stops counting / 支持申诉")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="The rating keeps counting / 驳回申诉")] = False,
    note: Annotated[str | None, typer.Option("--note", help="Reasoning / 裁决说明")] = None,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Decide an appeal (bureau) / 裁决申诉"""
    if uphold == reject:
        misuse("give exactly one of --uphold and --reject", json_)
    run_command(
        evaluation.decide_appeal,
        appeal_id=appeal_id,
        uphold=uphold,
        note=note,
        json_out=json_,
        as_=as_,
        key="appeal",
        render=_render_appeal,
    )


# ---------------------------------------------------------------------------- tickets

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
