"""`zhengyun infra preview|up|destroy --cloud ID|province` (docs/reference.md#command-line, #infrastructure-as-code): parse, run the stack action
service (`infra.service.run_stack_action`), render. Without the Pulumi CLI the command exits 2 and says
how to install it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from core.i18n import register, t
from core.settings import get_settings
from infra import service
from infra.service import Action
from zhengyun.cli.support import AsOpt, JsonOpt, misuse, run_long_command

CloudOpt = Annotated[
    str,
    typer.Option("--cloud", help="`province` or the id of a cloud with its own infrastructure / 栈：province 或云 id"),
]
TenancyOpt = Annotated[
    Path | None,
    typer.Option(
        "--tenancy", help="A tenancy file from `zhengyun tenants export` (default: export the registry now) / 租户文件"
    ),
]
BackendOpt = Annotated[
    str | None,
    typer.Option(
        "--backend",
        envvar="PULUMI_BACKEND_URL",
        help="Pulumi backend URL (default: file://<data dir>/pulumi/state) / Pulumi 状态后端",
    ),
]

register(
    {
        "{action} of stack {stack}: {changes}": "栈 {stack} 的 {action}：{changes}",
    }
)

infra_app = typer.Typer(
    help="Infrastructure as code: Pulumi stacks of the clouds / 基础设施即代码（Pulumi）", no_args_is_help=True
)


def _render(result: service.StackAction) -> str:
    changes = ", ".join(f"{k} {v}" for k, v in sorted(result.changes.items())) or t("no changes")
    return t("{action} of stack {stack}: {changes}", action=result.action, stack=result.stack, changes=changes)


def run_infra(
    action: Action, cloud: str, tenancy: Path | None, backend: str | None, json_out: bool, as_: str | None
) -> None:
    """One action on one stack; Pulumi's own output goes to stdout (stderr with `--json`)."""
    from infra.automation import PulumiNotInstalled

    try:
        run_long_command(
            service.run_stack_action,
            stack=cloud,
            action=action,
            tenancy=tenancy,
            data_dir=get_settings().data_dir,
            backend=backend,
            on_output=lambda line: typer.echo(line, err=json_out),
            json_out=json_out,
            as_=as_,
            render=_render,
        )
    except PulumiNotInstalled as exc:  # the machine lacks a tool, not the data: exit 2 with how to install it
        misuse(str(exc), json_out, prefix=False)


@infra_app.command("preview")
def infra_preview(
    cloud: CloudOpt, tenancy: TenancyOpt = None, backend: BackendOpt = None, json_: JsonOpt = False, as_: AsOpt = None
) -> None:
    """Show what `up` would change on a stack / 预览栈的变更"""
    run_infra("preview", cloud, tenancy, backend, json_, as_)


@infra_app.command("up")
def infra_up(
    cloud: CloudOpt, tenancy: TenancyOpt = None, backend: BackendOpt = None, json_: JsonOpt = False, as_: AsOpt = None
) -> None:
    """Create or update a stack's resources / 创建或更新栈的资源"""
    run_infra("up", cloud, tenancy, backend, json_, as_)


@infra_app.command("destroy")
def infra_destroy(
    cloud: CloudOpt, tenancy: TenancyOpt = None, backend: BackendOpt = None, json_: JsonOpt = False, as_: AsOpt = None
) -> None:
    """Delete a stack's resources (buckets are kept) / 删除栈的资源（保留存储桶）"""
    run_infra("destroy", cloud, tenancy, backend, json_, as_)
