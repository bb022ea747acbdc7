"""`zhengyun sla probe|availability`, `zhengyun sla outages …` and `zhengyun sla maintenance …`: parse, call one SLA service (`sla.probing`, `sla.outages`, `sla.inputs`), render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from core.i18n import register, t
from core.output import table
from sla import inputs, outages, probing
from zhengyun.cli.support import (
    AsOpt,
    ContractOpt,
    JsonOpt,
    PeriodOpt,
    misuse,
    run_command,
    run_import,
)

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
    }
)


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
    run_import(outages.import_outages, json_out=json_, as_=as_, path=file)


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
    run_import(outages.import_maintenance, json_out=json_, as_=as_, path=file)


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
