"""`zhengyun ratings add|import|list|score|appeal|decide` (好差评): parse, call one evaluation service (`sla.evaluation`), render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from core.i18n import register, t
from core.output import table
from sla import evaluation
from zhengyun.cli.support import (
    AsOpt,
    ContractOpt,
    JsonOpt,
    PeriodFilterOpt,
    PeriodOpt,
    WorkdaysOpt,
    misuse,
    run_command,
    run_import,
    warn,
    workday_calendar,
)

register(
    {
        "rating {id} recorded (period {period})": "已记录评价 {id}（期间 {period}）",
        "ticket {id} opened, due {due}": "已开整改工单 {id}，期限 {due}",
        "appeal {id}: {status}": "申诉 {id}：{status}",
        "give exactly one of --uphold and --reject": "必须且只能给出 --uphold 或 --reject 之一",
        "count": "数量",
        "score": "得分",
        "satisfaction rate": "满意率",
        "bad-review rate": "差评率",
        "distribution": "分布",
        "pays": "兑付比例",
    }
)


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
        calendar=workday_calendar(workdays, json_),
        json_out=json_,
        as_=as_,
        render=_render_rating,
    )
    warn(result.warnings)


@ratings_app.command("import")
def ratings_import(file: Path, workdays: WorkdaysOpt = None, json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """Import ratings (CSV: department,contract,time,level,comment) / 导入评价"""
    run_import(
        evaluation.import_ratings, json_out=json_, as_=as_, path=file, calendar=workday_calendar(workdays, json_)
    )


@ratings_app.command("list")
def ratings_list(
    contract: Annotated[str | None, typer.Option("--contract")] = None,
    period: PeriodFilterOpt = None,
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
        if r["suppressed"]:  # docs/reference.md#small-groups: no figure at all
            return f"{r['contract']} {r['period']}: {r['reason']}"
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
