"""What every `zhengyun` command shares: its options, the runner and the way it fails (docs/reference.md#command-line).

A command parses its arguments, calls one service function through `run_command` (which wraps
`zhengyun.app.run`), and renders the result: JSON with `--json`, text otherwise. Exit codes: 0
success; 1 input rejected or action refused, with the reason; 2 misuse of the command line.

`run_app` runs the whole command line once, for `zhengyun.cli.main`: misuse that the parser finds
(an unknown option or option value, a missing argument) exits 2, and any error no command expected
prints one line — what failed and the file its details were logged to — and exits 1, never a
traceback. With `--json` both are `{"error": ..., "problems": [...]}` on stdout.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from core.errors import DomainError, Problem
from core.i18n import register, t
from core.output import dumps
from core.periods import PERIOD_FORMAT
from core.settings import get_settings
from sla.workdays import WorkCalendar, calendar_from
from zhengyun import app

T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output / 输出 JSON")]
AsOpt = Annotated[str | None, typer.Option("--as", help="Acting user (default ZHENGYUN_ACTOR, else admin) / 操作用户")]
PeriodOpt = Annotated[str, typer.Option("--period", help=PERIOD_FORMAT)]
#: `--period` as a filter.
PeriodFilterOpt = Annotated[str | None, typer.Option("--period", help=PERIOD_FORMAT)]
ContractOpt = Annotated[str, typer.Option("--contract", help="Contract id / 合同编号")]
WorkdaysOpt = Annotated[
    Path | None, typer.Option("--workdays", help="Extra holidays and working days (YAML or CSV) / 节假日与调休覆盖文件")
]

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
        "see `{command} --help`": "用法见 `{command} --help`",
        "`{command}` failed unexpectedly ({detail}); the details were logged to {log}": (
            "`{command}` 意外失败（{detail}）；详情已记录到 {log}"
        ),
        "`{command}` failed unexpectedly ({detail}); the details could not be logged: {reason}": (
            "`{command}` 意外失败（{detail}）；无法记录详情：{reason}"
        ),
        "interrupted": "已中断",
    }
)

#: Where `run_app` logs the details of an unexpected error, under the data directory.
ERROR_LOG = Path("logs") / "errors.log"
#: The exit code of misuse of the command line (docs/reference.md#command-line).
MISUSE = 2


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
    raise typer.Exit(MISUSE)


def run_command(
    call: Callable[..., T],
    /,
    *,
    json_out: bool,
    as_: str | None,
    render: Callable[[T], str] | None = None,
    key: str | None = None,
    quiet: bool = False,
    **arguments: Any,
) -> T:
    """Call `call(session, actor=…, **arguments)` as the acting user in one unit of work; print the
    result (under `key` in the JSON when given; not at all when `quiet`: the command prints it) or fail
    with exit code 1 (as JSON with `json_out`)."""
    try:
        result = app.run(lambda session, actor: call(session, actor=actor, **arguments), user=as_)
    except DomainError as exc:
        fail(exc, json_out)
    if not quiet:
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


def run_import(service: Callable[..., Any], *, json_out: bool, as_: str | None, **arguments: Any) -> None:
    """A record import (outages, maintenance, ratings): run it, render it, then `finish_import`."""
    report = run_command(service, json_out=json_out, as_=as_, render=render_import, **arguments)
    finish_import(report)


def workday_calendar(workdays: Path | None, json_out: bool) -> WorkCalendar | None:
    """The working-day calendar with the overrides file given; None lets the service use its default
    (the data directory's overrides, when there are any)."""
    if workdays is None:
        return None
    try:
        return calendar_from(workdays)
    except DomainError as exc:
        fail(exc, json_out)


def warn(warnings: Iterable[str | Problem]) -> None:
    """Each warning on its own line on stderr."""
    for warning in warnings:
        typer.echo(f"{t('warning')}: {warning}", err=True)


def stdout_is_terminal() -> bool:
    """Whether to draw progress bars."""
    return sys.stdout.isatty()


# ---------------------------------------------------------------------------- the whole command line


def run_app(command: typer.Typer, argv: Sequence[str]) -> int:
    """Run the command line `argv` once and return its exit code (docs/reference.md#command-line): 0, 1, or 2 for misuse.

    The parser's misuse and every error no command expected are reported here, once for all
    commands, as one message (JSON with `--json`); an unexpected error's traceback goes to the
    error log under the data directory, never to the user.
    """
    args = list(argv)
    json_out = "--json" in (args[: args.index("--")] if "--" in args else args)
    try:
        code = command(args=args, prog_name="zhengyun", standalone_mode=False)
    except typer.TyperException as exc:  # the parser's errors (Click's, as Typer ships it)
        if type(exc).__name__ == "NoArgsIsHelpError":  # `zhengyun bills`: its help, as misuse
            typer.echo(exc.format_message(), err=True)
            return MISUSE
        if exc.exit_code == MISUSE:  # a usage error: unknown option or value, missing argument
            return _misuse(exc, json_out)
        _error(exc.format_message(), [], json_out)
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):  # Ctrl-C, or the end of input at a prompt
        _error(t("interrupted"), [], json_out)
        return 130
    except Exception as exc:
        _error(_unexpected(exc, args), [], json_out)
        return 1
    return code if isinstance(code, int) else 0


def _error(message: str, problems: list[Problem], json_out: bool) -> None:
    if json_out:
        typer.echo(dumps({"error": message, "problems": [p.to_dict() for p in problems]}))
    else:
        typer.echo(f"{t('error')}: {message}", err=True)
        for p in problems:
            if p.message != message:
                typer.echo(f"  {p}", err=True)


def _misuse(exc: typer.TyperException, json_out: bool) -> int:
    """A usage error of the parser: the reason, the option it concerns, where to read the usage; exit 2."""
    message = exc.format_message()
    param = getattr(exc, "param", None)
    name = getattr(exc, "option_name", None) or (param.opts[0] if param is not None and param.opts else None)
    problems = [Problem("{message}", {"message": message}, path=name)]
    _error(message, problems, json_out)
    ctx = getattr(exc, "ctx", None)
    if not json_out and ctx is not None:
        typer.echo("  " + t("see `{command} --help`", command=ctx.command_path), err=True)
    return MISUSE


def log_error(what: str, exc: BaseException) -> tuple[Path | None, list[str]]:
    """Append `exc` with its traceback, under a heading naming `what` failed, to the error log (in the
    data directory, else the temporary one); the log written to, or None and why neither could be."""
    entry = (
        f"--- {datetime.now(UTC).isoformat()} pid {os.getpid()}: {what}\n"
        + "".join(traceback.format_exception(exc))
        + "\n"
    )
    reasons = []
    for directory in (get_settings().data_dir, Path(tempfile.gettempdir()) / "zhengyun"):
        log = directory / ERROR_LOG
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a", encoding="utf-8") as out:
                out.write(entry)
        except OSError as problem:
            reasons.append(f"{log}: {problem.strerror or problem}")
            continue
        return log, reasons
    return None, reasons


def _unexpected(exc: BaseException, argv: list[str]) -> str:
    """Log an unexpected error with its traceback; the one line that tells the user what failed and where."""
    command = " ".join(["zhengyun", *_command_words(argv)])
    first = (str(exc).strip().splitlines() or [""])[0]
    detail = f"{type(exc).__name__}: {first[:200]}" if first else type(exc).__name__
    log, reasons = log_error(command, exc)
    if log is not None:
        return t(
            "`{command}` failed unexpectedly ({detail}); the details were logged to {log}",
            command=command,
            detail=detail,
            log=str(log),
        )
    return t(
        "`{command}` failed unexpectedly ({detail}); the details could not be logged: {reason}",
        command=command,
        detail=detail,
        reason="; ".join(reasons),
    )


def _command_words(argv: list[str]) -> list[str]:
    """The command's words (`bills run`): the leading arguments that are not options or their values."""
    words: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--lang":
            skip = True
        elif arg.startswith("-"):
            continue
        elif len(words) < 2:
            words.append(arg)
        else:
            break
    return words
