"""`zhengyun db upgrade`: create or migrate the schema (it opens its own session: the way in needs the schema)."""

from __future__ import annotations

import typer

from core.errors import DomainError
from core.i18n import register, t
from core.output import dumps
from zhengyun.cli.support import JsonOpt, fail
from zhengyun.database import upgrade_configured_database

register({"database upgraded: {url}": "数据库已升级：{url}"})


db_app = typer.Typer(help="Database schema / 数据库", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(json_: JsonOpt = False) -> None:
    """Create or migrate the schema; add the built-in admin and meters / 创建或升级数据库"""
    try:
        shown = upgrade_configured_database()
    except DomainError as exc:
        fail(exc, json_)
    typer.echo(dumps({"database": shown, "upgraded": True}) if json_ else t("database upgraded: {url}", url=shown))
