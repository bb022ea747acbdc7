"""`zhengyun contracts import|list`: parse, call one registry service, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from core.output import table
from tenants import service
from zhengyun.cli.support import (
    AsOpt,
    JsonOpt,
    render_import,
    run_command,
)

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
