"""`zhengyun usage import|collect|show` (SPEC 5.1)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import nullcontext
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlmodel import Session

from core.db import get_engine, session_scope
from core.errors import DomainError, InvalidInput
from core.i18n import register, t
from core.output import dumps, table
from core.periods import Period
from core.settings import get_settings
from metering import collectors, service
from metering.ingest import IngestReport
from tenants.cli import AsOpt, JsonOpt, fail, run_command
from tenants.permissions import Actor
from tenants.users import resolve_actor

register(
    {
        "accepted {accepted}, duplicates {duplicates}, rejected {rejected}": "接受 {accepted} 条，重复 {duplicates} 条，拒绝 {rejected} 条",
        "importing usage": "正在导入用量",
        "collected {count} event(s) from cloud {cloud} for {hour}": "已从云 {cloud} 采集 {hour} 的 {count} 条事件",
        "Usage in {period} ({timezone})": "{period} 用量（{timezone}）",
        "Quota use": "配额使用",
        "Over quota": "超出配额",
        "none": "无",
        "hour must be an hour with its offset, e.g. 2026-10-01T13:00+08:00, got {value!r}": "时间须为带时区偏移的整点，例如 2026-10-01T13:00+08:00，实际为 {value!r}",
    }
)

usage_app = typer.Typer(help="Usage: import, collect, show / 用量：导入、采集、查看", no_args_is_help=True)


def _acting_user(as_: str | None, json_out: bool) -> Actor:
    try:
        with session_scope() as session:
            return resolve_actor(session, as_ or get_settings().actor)
    except DomainError as exc:
        fail(exc, json_out)
    except (OperationalError, ProgrammingError):
        fail(InvalidInput("database is not initialised; run `zhengyun db upgrade` first"), json_out)
    raise AssertionError("unreachable")


def render_report(report: IngestReport) -> str:
    """Counts, then one line per rejection."""
    lines = [
        t(
            "accepted {accepted}, duplicates {duplicates}, rejected {rejected}",
            accepted=report.accepted,
            duplicates=report.duplicates,
            rejected=report.rejected_count,
        )
    ]
    lines += [f"  {r}" for r in report.rejected]
    return "\n".join(lines)


def _progress_bar(paths: list[Path]) -> tuple[Any, Callable[[Path, int], None] | None]:
    """A rich progress bar over the files' bytes when stdout is a terminal; nothing otherwise."""
    if not sys.stdout.isatty():
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
    actor = _acting_user(as_, json_)
    bar, progress = _progress_bar(files) if not json_ else (nullcontext(), None)
    try:
        with bar:
            report = service.import_files(
                get_engine(), actor=actor, paths=files, progress=progress, commit_seconds=commit_every
            )
    except DomainError as exc:
        fail(exc, json_)
    typer.echo(dumps(report) if json_ else render_report(report))
    if report.rejected_count:
        raise typer.Exit(1)


def parse_hour(value: str) -> datetime:
    """An aware datetime on a whole hour, e.g. `2026-10-01T13:00+08:00`."""
    try:
        hour = datetime.fromisoformat(value)
    except ValueError:
        hour = None
    if hour is None or hour.tzinfo is None or (hour.minute, hour.second, hour.microsecond) != (0, 0, 0):
        raise InvalidInput(
            "hour must be an hour with its offset, e.g. 2026-10-01T13:00+08:00, got {value!r}", value=value
        )
    return hour


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

    def work(session: Session, actor: Actor) -> collectors.CollectResult:
        mappings = collectors.load_mappings(metrics_file) if metrics_file else collectors.DEFAULT_MAPPINGS
        return collectors.collect(session, actor=actor, cloud_id=cloud, hour=parse_hour(hour), mappings=mappings)

    def render(result: collectors.CollectResult) -> str:
        head = t(
            "collected {count} event(s) from cloud {cloud} for {hour}",
            count=result.collected,
            cloud=result.cloud,
            hour=result.hour.isoformat(),
        )
        return head + "\n" + render_report(result.report)

    result = run_command(work, json_out=json_, as_=as_, render=render)
    if result.report.rejected_count:
        raise typer.Exit(1)


@usage_app.command("show")
def usage_show(
    period: Annotated[str, typer.Option("--period", help="YYYY-MM")],
    department: Annotated[str | None, typer.Option("--department", help="Department id / 部门")] = None,
    cloud: Annotated[str | None, typer.Option("--cloud", help="Cloud id / 云")] = None,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Usage per department, cloud and meter, and quota use / 查看用量与配额使用"""

    def work(session: Session, actor: Actor) -> dict[str, Any]:
        p = Period.parse(period)
        usage = service.usage_by(session, actor=actor, period=p, department=department, cloud=cloud)
        quotas = service.quota_use(session, actor=actor, period=p, department=department)
        if cloud:
            quotas = [q for q in quotas if q.department in {u.department for u in usage}]
        units = service.meter_units(session)
        from tenants.service import get_province

        return {
            "period": str(p),
            "timezone": get_province(session).timezone,
            "usage": [
                {
                    "department": u.department,
                    "cloud": u.cloud,
                    "meter": u.meter,
                    "unit": units.get(u.meter),
                    "quantity": u.quantity,
                    "events": u.events,
                }
                for u in usage
            ],
            "quota": quotas,
            "over_quota": service.over_quota(quotas),
        }

    def render(r: dict[str, Any]) -> str:
        lines = [t("Usage in {period} ({timezone})", period=r["period"], timezone=r["timezone"])]
        lines += [
            "  " + x
            for x in table(
                ["department", "cloud", "meter", "quantity", "unit", "events"],
                [[u["department"], u["cloud"], u["meter"], u["quantity"], u["unit"], u["events"]] for u in r["usage"]],
            ).splitlines()
        ]
        lines += ["", t("Quota use")]
        lines += [
            "  " + x
            for x in table(
                ["department", "quota", "meter", "used", "limit", "share"],
                [[q.department, q.quota, q.meter, q.used, q.limit, q.to_dict()["share"]] for q in r["quota"]],
            ).splitlines()
        ]
        over = r["over_quota"]
        lines += ["", t("Over quota") + ": " + (", ".join(f"{q.department} ({q.quota})" for q in over) or t("none"))]
        return "\n".join(lines)

    run_command(work, json_out=json_, as_=as_, render=render)
