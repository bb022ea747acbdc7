"""`zhengyun tenants|contracts|users|audit …`: parse, call one registry service, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from core.audit import AuditHead, VerifyResult
from core.errors import InvalidInput
from core.i18n import register, t
from core.output import dumps, table
from tenants import service, tenancy, users
from zhengyun.cli_support import AsOpt, JsonOpt, fail, render_import, run_command

register(
    {
        "token (shown once, keep it safe): {token}": "令牌（仅显示一次，请妥善保存）：{token}",
        "user {name} disabled": "用户 {name} 已停用",
        "passwords do not match": "两次输入的密码不一致",
        "Password / 密码": "密码 / Password",
        "Repeat password / 再次输入密码": "再次输入密码 / Repeat password",
        "Province": "省份",
        "Clouds by kind and tier": "按类型和层级统计的云",
        "Departments by cloud": "按云统计的部门",
        "departments: {count} ({archived} archived)": "部门：{count} 个（其中 {archived} 个已归档）",
        "expected SEQ:HASH as `zhengyun audit head` prints it, got {value!r}": (
            "应为 `zhengyun audit head` 输出的 序号:哈希，实际为 {value!r}"
        ),
    }
)


# ---------------------------------------------------------------------------- tenants

tenants_app = typer.Typer(help="The 1+N+M registry / 租户登记：云、运营商、部门", no_args_is_help=True)


@tenants_app.command("import")
def tenants_import(
    file: Path,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the difference only / 仅显示差异")] = False,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Import a tenancy file (all or nothing) / 导入租户文件"""
    run_command(tenancy.import_tenancy, path=file, dry_run=dry_run, json_out=json_, as_=as_, render=render_import)


@tenants_app.command("export")
def tenants_export(json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """Print the registry as a tenancy file with its ranges / 导出租户文件（含网段）"""
    run_command(tenancy.export_tenancy, json_out=json_, as_=as_, key="tenancy", render=lambda x: x.rstrip("\n"))


def render_summary(summary: tenancy.TenancySummary) -> str:
    """Clouds by kind and tier, departments by cloud."""
    p = summary.province
    lines = [
        f"{t('Province')}: {p['name']} ({p['code']}), {p['timezone']}, {p['currency']}, {p['supernet']}",
        "",
        t("Clouds by kind and tier"),
    ]
    lines += [f"  {k:24} {v}" for k, v in summary.clouds_by_kind.items()]
    lines += ["", t("Departments by cloud")]
    rows = [
        [
            c["id"],
            c["name"],
            c["kind"] + (f"/{c['tier']}" if c["tier"] else ""),
            c["operator"] or c["host"] or "",
            c["departments"],
        ]
        for c in summary.clouds
    ]
    lines += ["  " + ln for ln in table(["cloud", "name", "kind", "operator/host", "departments"], rows).splitlines()]
    lines += ["", t("departments: {count} ({archived} archived)", count=summary.departments, archived=summary.archived)]
    return "\n".join(lines)


@tenants_app.command("list")
def tenants_list(json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """Clouds by kind and tier, departments by cloud / 列出云和部门"""
    run_command(tenancy.summarise_tenancy, json_out=json_, as_=as_, render=render_summary)


# ---------------------------------------------------------------------------- contracts

contracts_app = typer.Typer(help="Service contracts / 服务合同", no_args_is_help=True)


@contracts_app.command("import")
def contracts_import(
    file: Path,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the difference only / 仅显示差异")] = False,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Import a contracts file (all or nothing) / 导入合同文件"""
    run_command(service.import_contracts, path=file, dry_run=dry_run, json_out=json_, as_=as_, render=render_import)


def _pay_models(c: Any) -> str:
    models = []
    if c.annual_fee is not None:
        models.append("annual")
    if c.prices:
        models.append("usage")
    if c.evaluation is not None:
        models.append("evaluation")
    return "+".join(models) or "-"


@contracts_app.command("list")
def contracts_list(json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """Contracts you may see / 列出合同"""
    run_command(
        service.list_contracts,
        json_out=json_,
        as_=as_,
        key="contracts",
        render=lambda contracts: table(
            ["contract", "operator", "clouds", "service", "term", "pay"],
            [
                [c.id, c.operator, ",".join(c.clouds), c.service, f"{c.start}..{c.end}", _pay_models(c)]
                for c in contracts
            ],
        ),
    )


# ---------------------------------------------------------------------------- users

users_app = typer.Typer(help="Users and tokens / 用户与令牌", no_args_is_help=True)


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[
        Literal["bureau", "operator", "finance", "department", "auditor"],
        typer.Option("--role", help="bureau|operator|finance|department|auditor"),
    ],
    department: Annotated[str | None, typer.Option("--department")] = None,
    operator: Annotated[str | None, typer.Option("--operator")] = None,
    password: Annotated[bool, typer.Option("--password", help="Ask for a password (dashboards) / 设置密码")] = False,
    json_: JsonOpt = False,
    as_: AsOpt = None,
) -> None:
    """Add a user; prints its token once / 添加用户（令牌只显示一次）"""
    secret = None
    if password:
        secret = typer.prompt(t("Password / 密码"), hide_input=True)
        if secret != typer.prompt(t("Repeat password / 再次输入密码"), hide_input=True):
            fail(InvalidInput("passwords do not match"), json_)

    run_command(
        users.add_user,
        name=name,
        role=role,
        department=department,
        operator=operator,
        password=secret,
        json_out=json_,
        as_=as_,
        render=lambda r: t("token (shown once, keep it safe): {token}", token=r.token),
    )


@users_app.command("list")
def users_list(json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """List users / 列出用户"""
    run_command(
        users.list_users,
        json_out=json_,
        as_=as_,
        key="users",
        render=lambda listed: table(
            ["user", "role", "operator", "department", "disabled"],
            [[u.name, u.role, u.operator, u.department, u.disabled] for u in listed],
        ),
    )


@users_app.command("disable")
def users_disable(name: str, json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """Disable a user / 停用用户"""
    run_command(
        users.disable_user,
        name=name,
        json_out=json_,
        as_=as_,
        key="user",
        render=lambda r: t("user {name} disabled", name=r.name),
    )


@users_app.command("token")
def users_token(name: str, json_: JsonOpt = False, as_: AsOpt = None) -> None:
    """Issue a new token and revoke the old one / 重新签发令牌"""
    run_command(
        users.issue_token,
        name=name,
        json_out=json_,
        as_=as_,
        render=lambda r: t("token (shown once, keep it safe): {token}", token=r.token),
    )


# ---------------------------------------------------------------------------- audit

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
