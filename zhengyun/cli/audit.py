"""`zhengyun audit head|verify`: the audit log's newest entry and the chain's check."""

from __future__ import annotations

from typing import Annotated

import typer

from core.audit import AuditHead, VerifyResult
from core.i18n import register, t
from core.output import dumps
from tenants import users
from zhengyun.cli.support import (
    AsOpt,
    JsonOpt,
    run_command,
)

register(
    {
        "expected SEQ:HASH as `zhengyun audit head` prints it, got {value!r}": (
            "应为 `zhengyun audit head` 输出的 序号:哈希，实际为 {value!r}"
        ),
    }
)


audit_app = typer.Typer(help="The audit log / 审计日志", no_args_is_help=True)


def _head(value: str) -> AuditHead:
    """`SEQ:HASH`, as `zhengyun audit head` prints it."""
    seq, _, digest = value.partition(":")
    if not (seq.isdigit() and len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)):
        raise typer.BadParameter(t("expected SEQ:HASH as `zhengyun audit head` prints it, got {value!r}", value=value))
    return AuditHead(int(seq), digest)


@audit_app.command("head")
def audit_head(json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """The newest entry's SEQ:HASH, to record elsewhere / 审计日志末条的序号与哈希（请另行保存）"""
    run_command(users.audit_head, json_out=json_, as_=as_, render=str)


@audit_app.command("verify")
def audit_verify(
    expect_head: Annotated[
        AuditHead | None,
        typer.Option(
            "--expect-head",
            parser=_head,
            metavar="SEQ:HASH",
            help="A head recorded earlier that the chain must still reach / 先前记录的末条（序号:哈希）",
        ),
    ] = None,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Recompute the hash chain; report the first entry that does not match / 校验审计日志哈希链"""

    result = run_command(users.verify_audit, expect_head=expect_head, json_out=json_, as_=as_, quiet=True)
    message = _verify_message(result)
    if json_:
        typer.echo(
            dumps({"ok": result.ok, "entries": result.count, "first_bad_seq": result.first_bad_seq, "message": message})
        )
    else:
        typer.echo(message, err=not result.ok)
    if not result.ok:
        raise typer.Exit(1)


def _verify_message(result: VerifyResult) -> str:
    if result.ok:
        return t("audit log intact: {count} entries", count=result.count)
    return t(
        "audit log broken at entry {seq}: {reason}",
        seq=result.first_bad_seq,
        reason=t(result.reason or "", **(result.reason_params or {})),
    )
