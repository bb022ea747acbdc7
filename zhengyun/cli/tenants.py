"""`zhengyun tenants import|export|list`: parse, call one registry service (`tenants.tenancy`), render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.i18n import register, t
from core.output import table
from tenants import tenancy
from zhengyun.cli.support import (
    AsOpt,
    JsonOpt,
    render_import,
    run_command,
)

register(
    {
        "Province": "省份",
        "Clouds by kind and tier": "按类型和层级统计的云",
        "Departments by cloud": "按云统计的部门",
        "departments: {count} ({archived} archived)": "部门：{count} 个（其中 {archived} 个已归档）",
    }
)


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
