"""`zhengyun usage import|collect|show` (docs/reference.md#command-line)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Annotated, Any

import typer

from core.i18n import register, t
from core.output import table
from metering import collectors, service
from zhengyun import app
from zhengyun.cli.support import (
    AsOpt,
    JsonOpt,
    PeriodOpt,
    finish_import,
    render_import,
    run_command,
    run_long_command,
    stdout_is_terminal,
)

register(
    {
        "importing usage": "正在导入用量",
        "collected {count} event(s) from cloud {cloud} for {hour}": "已从云 {cloud} 采集 {hour} 的 {count} 条事件",
        "Usage in {period} ({timezone})": "{period} 用量（{timezone}）",
        "Quota use": "配额使用",
        "Over quota": "超出配额",
        "none": "无",
        "folded {count} event(s) into the usage rollups": "已将 {count} 条事件汇入用量汇总",
        "folding the imported usage into the rollups…": "正在将导入的用量汇入汇总…",
        "folding usage into the rollups failed ({error}); the scheduler folds it within a minute, "
        "and reads are exact meanwhile": "用量汇总失败（{error}）；调度任务将在一分钟内汇总，其间读取结果仍然准确",
    }
)

usage_app = typer.Typer(help="Usage: import, collect, show, fold / 用量：导入、采集、查看、汇总", no_args_is_help=True)


def _render_fold(report: service.FoldReport) -> str:
    return t("folded {count} event(s) into the usage rollups", count=report.folded)


def _progress_bar(paths: list[Path]) -> tuple[Any, Callable[[Path, int], None] | None]:
    """A rich progress bar over the files' bytes when stdout is a terminal; nothing otherwise."""
    if not stdout_is_terminal():
        return nullcontext(), None
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    sizes = {p: p.stat().st_size if p.is_file() else 0 for p in paths}
    bar = Progress(TextColumn(t("importing usage")), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    task = bar.add_task("usage", total=sum(sizes.values()) or None)
    done: dict[Path, int] = {}

    def advance(path: Path, position: int) -> None:
        done[path] = min(position, sizes.get(path, position))
        bar.update(task, completed=sum(done.values()))

    return bar, advance


@usage_app.command("import")
def usage_import(
    files: Annotated[list[Path], typer.Argument(help="CSV or JSON Lines files / 用量文件")],
    commit_every: Annotated[
        float,
        typer.Option(
            "--commit-every",
            min=0,
            metavar="SECONDS",
            help="Commit at least this often; 0: after every batch of 10,000 events / "
            "至少每隔多少秒提交一次；0 表示每批（10,000 条）提交",
        ),
    ] = service.COMMIT_SECONDS,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Import usage events, row by row, exactly once / 导入用量事件（逐行，恰好一次）"""
    bar, progress = _progress_bar(files) if not json_ else (nullcontext(), None)
    with bar:
        report = run_long_command(
            service.import_files,
            paths=files,
            progress=progress,
            commit_seconds=commit_every,
            json_out=json_,
            as_=as_,
            render=render_import,
        )
    _fold_after_import(json_, as_)
    finish_import(report)


def _fold_after_import(json_: bool, as_: str | None) -> None:
    """After the import's own commits, fold what it stored into the rollups in a short transaction of
    its own: not part of the import (its events are stored and read exactly either way), so a failure
    here is a warning, not the import's failure. Quiet with --json (one JSON document)."""
    if not json_:
        typer.echo(t("folding the imported usage into the rollups…"))
    try:
        folded = app.run(lambda session, actor: service.fold_usage(session, actor=actor), user=as_)
    except Exception as exc:  # the scheduler folds within the minute; nothing is lost or wrong meanwhile
        msg = "folding usage into the rollups failed ({error}); the scheduler folds it within a minute, "
        msg += "and reads are exact meanwhile"
        typer.echo(t(msg, error=exc), err=True)
        return
    if not json_:
        typer.echo(_render_fold(folded))


@usage_app.command("fold")
def usage_fold(json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """Fold events not yet in the usage rollups into them now (the scheduler does it every minute) /
    立即将尚未汇总的用量事件汇入汇总（调度任务每分钟执行一次）"""
    run_command(service.fold_usage, json_out=json_, as_=as_, render=_render_fold)


@usage_app.command("collect")
def usage_collect(
    cloud: Annotated[str, typer.Option("--cloud", help="Cloud id / 云")],
    hour: Annotated[str, typer.Option("--hour", help="e.g. 2026-10-01T13:00+08:00 / 整点")],
    metrics_file: Annotated[
        Path | None, typer.Option("--metrics", help="YAML list of CloudWatch metric → meter mappings / 指标映射")
    ] = None,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Collect an hour of usage from a cloud's AWS-compatible endpoint / 从云的接口采集一小时用量"""

    def render(result: collectors.CollectResult) -> str:
        head = t(
            "collected {count} event(s) from cloud {cloud} for {hour}",
            count=result.collected,
            cloud=result.cloud,
            hour=result.hour.isoformat(),
        )
        return head + "\n" + render_import(result.report)

    result = run_command(
        collectors.collect,
        cloud_id=cloud,
        hour=hour,
        mappings=metrics_file or collectors.DEFAULT_MAPPINGS,
        json_out=json_,
        as_=as_,
        render=render,
    )
    finish_import(result.report)


@usage_app.command("show")
def usage_show(
    period: PeriodOpt,
    department: Annotated[str | None, typer.Option("--department", help="Department id / 部门")] = None,
    cloud: Annotated[str | None, typer.Option("--cloud", help="Cloud id / 云")] = None,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Usage per department, cloud and meter, and quota use / 查看用量与配额使用"""

    def render(r: service.UsageReport) -> str:
        units = r.units
        lines = [t("Usage in {period} ({timezone})", period=r.period, timezone=r.timezone)]
        lines += [
            "  " + x
            for x in table(
                ["department", "cloud", "meter", "quantity", "unit", "events"],
                [[u.department, u.cloud, u.meter, u.quantity, units.get(u.meter), u.events] for u in r.usage],
            ).splitlines()
        ]
        lines += ["", t("Quota use")]
        lines += [
            "  " + x
            for x in table(
                ["department", "quota", "meter", "used", "limit", "share"],
                [[q.department, q.quota, q.meter, q.used, q.limit, q.to_dict()["share"]] for q in r.quota],
            ).splitlines()
        ]
        over = r.over_quota
        lines += ["", t("Over quota") + ": " + (", ".join(f"{q.department} ({q.quota})" for q in over) or t("none"))]
        return "\n".join(lines)

    run_command(
        service.usage_report, period=period, department=department, cloud=cloud, json_out=json_, as_=as_, render=render
    )
