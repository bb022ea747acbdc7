"""`zhengyun users add|list|disable|token`: parse, call one registry service (`tenants.users`), render."""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from core.errors import InvalidInput
from core.i18n import register, t
from core.output import table
from tenants import users
from zhengyun.cli.support import (
    AsOpt,
    JsonOpt,
    fail,
    run_command,
)

register(
    {
        "token (shown once, keep it safe): {token}": "令牌（仅显示一次，请妥善保存）：{token}",
        "user {name} disabled": "用户 {name} 已停用",
        "passwords do not match": "两次输入的密码不一致",
        "Password / 密码": "密码 / Password",
        "Repeat password / 再次输入密码": "再次输入密码 / Repeat password",
    }
)


users_app = typer.Typer(help="Users and tokens / 用户与令牌", no_args_is_help=True)


@users_app.command("add")
def users_add(
    name: str,
    role: Annotated[
        Literal["bureau", "operator", "finance", "department", "auditor", "monitor"],
        typer.Option("--role", help="bureau|operator|finance|department|auditor|monitor"),
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
