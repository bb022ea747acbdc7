"""`zhengyun infra preview|up|destroy --cloud ID|province` (SPEC 5.1, 5.4).

Three steps: check the acting user and the stack and export the registry (one transaction); run
Pulumi through the Automation API (no transaction held while the clouds change); record an `up` or
`destroy` in the audit log and print the result. Without the Pulumi CLI the command exits 2 and
says how to install it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlmodel import Session

from core.db import session_scope
from core.errors import DomainError, InvalidInput, problem
from core.i18n import register, t
from core.output import dumps
from core.settings import get_settings
from infra import service
from infra.service import Action, StackRun
from tenants import users
from tenants.cli import AsOpt, JsonOpt, fail, run_command
from tenants.permissions import Actor

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
        "pulumi {action} of stack {stack} failed": "栈 {stack} 的 pulumi {action} 失败",
    }
)

infra_app = typer.Typer(
    help="Infrastructure as code: Pulumi stacks of the clouds / 基础设施即代码（Pulumi）", no_args_is_help=True
)


def _checked(work: Callable[[Session, Actor], StackRun], *, json_out: bool, as_: str | None) -> StackRun:
    """Run the checks in one transaction as the acting user; a refusal exits 1 like every command."""
    try:
        with session_scope() as session:
            return work(session, users.resolve_actor(session, as_ or get_settings().actor))
    except DomainError as exc:
        fail(exc, json_out)
        raise  # unreachable: fail exits


def _render(result: dict[str, Any]) -> str:
    changes = ", ".join(f"{k} {v}" for k, v in sorted(result["changes"].items())) or t("no changes")
    return t("{action} of stack {stack}: {changes}", action=result["action"], stack=result["stack"], changes=changes)


def run_infra(
    action: Action, cloud: str, tenancy: Path | None, backend: str | None, json_out: bool, as_: str | None
) -> None:
    """Check, run Pulumi, record and report one action on one stack."""
    from pulumi.automation.errors import CommandError

    from infra.automation import PulumiNotInstalled, Workspace, run_stack

    data_dir = get_settings().data_dir
    export_to = data_dir / "pulumi" / "exports" / f"{cloud}.tenancy.yaml"
    run = _checked(
        lambda s, a: service.prepare_run(s, actor=a, stack=cloud, action=action, tenancy=tenancy, export_to=export_to),
        json_out=json_out,
        as_=as_,
    )
    try:
        result = run_stack(
            spec=run.spec,
            stack=run.stack,
            action=action,
            tenancy=run.tenancy,
            workspace=Workspace.default(data_dir, backend),
            on_output=lambda line: typer.echo(line, err=json_out),
        )
    except PulumiNotInstalled as exc:
        message = t(str(exc))
        typer.echo(dumps({"error": message, "problems": []}) if json_out else message, err=not json_out)
        raise typer.Exit(2) from None
    except CommandError as exc:  # the CLI ran and refused: its own words say why
        fail(
            InvalidInput(
                "pulumi {action} of stack {stack} failed",
                action=action,
                stack=cloud,
                problems=[problem("{detail}", detail=str(exc).strip()[-4000:])],
            ),
            json_out,
        )
        raise  # unreachable: fail exits
    summary = {
        "stack": result.stack,
        "action": result.action,
        "tenancy": str(run.tenancy),
        "changes": result.changes,
        "outputs": result.outputs,
    }

    def record(session: Session, actor: Actor) -> dict[str, Any]:
        service.record_run(session, actor=actor, run=run, changes=result.changes)
        return summary

    run_command(record, json_out=json_out, as_=as_, render=_render)


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
