"""What every `zhengyun` command shares: its options, the runner and the way it fails (SPEC 5.1).

A command parses its arguments, calls one service function through `run_command` (which wraps
`zhengyun.app.run`), and renders the result: JSON with `--json`, text otherwise. Exit codes: 0
success; 1 input rejected or action refused, with the reason; 2 misuse of the command line.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from core.errors import DomainError, Problem
from core.i18n import register, t
from core.output import dumps
from zhengyun import app

T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output / 输出 JSON")]
AsOpt = Annotated[str | None, typer.Option("--as", help="Acting user (default ZHENGYUN_ACTOR, else admin) / 操作用户")]

register(
    {
        "error": "错误",
        "warning": "警告",
        "dry run: {count} change(s) would be made": "试运行：将产生 {count} 项变更",
        "{count} change(s) applied": "已应用 {count} 项变更",
        "no changes": "无变更",
        "accepted {accepted}, duplicates {duplicates}, rejected {rejected}": "接受 {accepted} 条，重复 {duplicates} 条，拒绝 {rejected} 条",
        "accepted {accepted}, duplicates {duplicates}, updated {updated}, rejected {rejected}": (
            "接受 {accepted} 条，重复 {duplicates} 条，更新 {updated} 条，拒绝 {rejected} 条"
        ),
    }
)


def fail(exc: DomainError, json_out: bool) -> NoReturn:
    """Report a domain error (every problem on its own line; JSON on stdout with `--json`) and exit 1."""
    if json_out:
        typer.echo(dumps(exc.to_dict()))
    else:
        typer.echo(f"{t('error')}: {exc.message}", err=True)
        for p in exc.problems:
            typer.echo(f"  {p}", err=True)
    raise typer.Exit(1)


def misuse(template: str, json_out: bool = False, *, prefix: bool = True, **params: Any) -> NoReturn:
    """Misuse of the command line (an option combination it does not accept): the reason, exit 2."""
    message = t(template, **params)
    if json_out:
        typer.echo(dumps({"error": message, "problems": []}))
    else:
        typer.echo(f"{t('error')}: {message}" if prefix else message, err=True)
    raise typer.Exit(2)


def run_command(
    call: Callable[..., T],
    /,
    *,
    json_out: bool,
    as_: str | None,
    render: Callable[[T], str] | None = None,
    key: str | None = None,
    **arguments: Any,
) -> T:
    """Call `call(session, actor=…, **arguments)` as the acting user in one unit of work; print the
    result (under `key` in the JSON when given) or fail with exit code 1."""
    try:
        result = app.run(lambda session, actor: call(session, actor=actor, **arguments), user=as_)
    except DomainError as exc:
        fail(exc, json_out)
    echo(result, json_out=json_out, render=render, key=key)
    return result


def run_long_command(
    call: Callable[..., T],
    /,
    *,
    json_out: bool,
    as_: str | None,
    render: Callable[[T], str] | None = None,
    **arguments: Any,
) -> T:
    """Like `run_command` for a service that owns its transactions: `call(engine, actor=…, **arguments)`."""
    try:
        result = app.run_long(lambda engine, actor: call(engine, actor=actor, **arguments), user=as_)
    except DomainError as exc:
        fail(exc, json_out)
    echo(result, json_out=json_out, render=render)
    return result


def echo(result: Any, *, json_out: bool, render: Callable[[Any], str] | None = None, key: str | None = None) -> None:
    """Print a result: JSON (under `key` when given) or its rendering."""
    if json_out:
        typer.echo(dumps({key: result} if key else result))
    elif render is not None:
        typer.echo(render(result))


# ---------------------------------------------------------------------------- import reports


def _rejections(report: Any) -> list[Any]:
    return list(getattr(report, "rejected", []) or [])


def render_import(report: Any) -> str:
    """One renderer for every import report: a registry import's changes, or a record import's counts
    and one line per rejected row."""
    if hasattr(report, "changes"):  # a registry file: all or nothing, a list of changes
        if not report.changes:
            return t("no changes")
        head = t(
            "dry run: {count} change(s) would be made" if report.dry_run else "{count} change(s) applied",
            count=len(report.changes),
        )
        return "\n".join([head] + [f"  {c}" for c in report.changes])
    rejected = _rejections(report)
    count = getattr(report, "rejected_count", len(rejected))
    if hasattr(report, "updated"):
        head = t(
            "accepted {accepted}, duplicates {duplicates}, updated {updated}, rejected {rejected}",
            accepted=report.accepted,
            duplicates=report.duplicates,
            updated=report.updated,
            rejected=count,
        )
    else:
        head = t(
            "accepted {accepted}, duplicates {duplicates}, rejected {rejected}",
            accepted=report.accepted,
            duplicates=report.duplicates,
            rejected=count,
        )
    return "\n".join([head] + [f"  {r}" for r in rejected])


def finish_import(report: Any) -> None:
    """After a record import: warnings on stderr; exit 1 when a row was rejected (valid rows are kept)."""
    warn(getattr(report, "warnings", ()))
    if getattr(report, "rejected_count", None) or _rejections(report):
        raise typer.Exit(1)


def warn(warnings: Iterable[str | Problem]) -> None:
    """Each warning on its own line on stderr."""
    for warning in warnings:
        typer.echo(f"{t('warning')}: {warning}", err=True)


def stdout_is_terminal() -> bool:
    """Whether to draw progress bars."""
    return sys.stdout.isatty()
