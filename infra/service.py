"""Who may run which stack, the tenancy file a run reads, and the stack action itself (`zhengyun infra`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import Engine
from sqlmodel import Session

from core import audit
from core.clock import Clock, utcnow
from core.db import session_scope
from core.errors import InvalidInput, problem
from core.i18n import register
from infra.tenancy import PROVINCE_STACK, check_stack, load_tenancy
from tenants import service as tenants_service
from tenants import tenancy as registry_tenancy
from tenants.formats import ID_PATTERN, TenancySpec
from tenants.permissions import Actor, operator_scope, require, require_operator

Action = Literal["preview", "up", "destroy"]

register(
    {
        "'{stack}' is not a stack: use 'province' or the id of a cloud": "“{stack}”不是栈：请使用 province 或云 id",
        "pulumi {action} of stack {stack} failed": "栈 {stack} 的 pulumi {action} 失败",
    }
)


@dataclass(frozen=True)
class StackRun:
    """A run that passed the checks: the stack, the action and the tenancy file it reads."""

    stack: str
    action: Action
    tenancy: Path
    spec: TenancySpec


def authorize_run(session: Session, *, actor: Actor, stack: str, action: Action) -> None:
    """Preview needs `infra.preview`, up and destroy `infra.run`; an operator only its own clouds' stacks."""
    require(actor, "infra.preview" if action == "preview" else "infra.run")
    if operator_scope(actor) is None:
        return
    if stack == PROVINCE_STACK:
        # The hierarchy and the guardrails are the bureau's, never one operator's.
        require_operator(actor, None)
    else:
        require_operator(actor, tenants_service.get_cloud(session, stack).operator_id)


def prepare_run(
    session: Session, *, actor: Actor, stack: str, action: Action, tenancy: Path | None, export_to: Path
) -> StackRun:
    """Check the actor and the stack; without a tenancy file, export the registry to `export_to`."""
    if stack != PROVINCE_STACK and not re.fullmatch(ID_PATTERN, stack):
        raise InvalidInput("'{stack}' is not a stack: use 'province' or the id of a cloud", stack=stack)
    authorize_run(session, actor=actor, stack=stack, action=action)
    if tenancy is None:
        export_to.parent.mkdir(parents=True, exist_ok=True)
        export_to.write_text(registry_tenancy.export_tenancy(session, actor=actor), encoding="utf-8")
        tenancy = export_to
    spec = load_tenancy(tenancy)
    check_stack(spec, stack)
    return StackRun(stack=stack, action=action, tenancy=tenancy, spec=spec)


def record_run(session: Session, *, actor: Actor, run: StackRun, changes: dict[str, int], now: Clock = utcnow) -> None:
    """Append the audit entry of an `up` or `destroy` that changed the clouds."""
    if run.action == "preview" or not any(v for k, v in changes.items() if k != "same"):
        return
    audit.append(
        session,
        actor=actor.name,
        action=f"infra.{run.action}",
        entity=f"stack:{run.stack}",
        payload={"tenancy": run.tenancy.name, "changes": changes},
        now=now,
    )


@dataclass(frozen=True)
class StackAction:
    """What `zhengyun infra preview|up|destroy` did: resource changes by kind and the stack's outputs."""

    stack: str
    action: Action
    tenancy: str
    changes: dict[str, int]
    outputs: dict[str, Any]


def run_stack_action(
    engine: Engine,
    *,
    actor: Actor,
    stack: str,
    action: Action,
    tenancy: Path | None,
    data_dir: Path,
    backend: str | None = None,
    on_output: Callable[[str], None] | None = None,
    now: Clock = utcnow,
) -> StackAction:
    """Check and export (one transaction), run Pulumi (no transaction held while the clouds change),
    then record an `up` or `destroy` that changed something in the audit log (a second transaction).

    Raises `infra.automation.PulumiNotInstalled` without the Pulumi CLI, after the export.
    """
    from pulumi.automation.errors import CommandError

    from infra.automation import Workspace, run_stack

    export_to = data_dir / "pulumi" / "exports" / f"{stack}.tenancy.yaml"
    with session_scope(engine=engine) as session:
        run = prepare_run(session, actor=actor, stack=stack, action=action, tenancy=tenancy, export_to=export_to)
    try:
        result = run_stack(
            spec=run.spec,
            stack=run.stack,
            action=action,
            tenancy=run.tenancy,
            workspace=Workspace.default(data_dir, backend),
            on_output=on_output,
        )
    except CommandError as exc:  # the CLI ran and refused: its own words say why
        raise InvalidInput(
            "pulumi {action} of stack {stack} failed",
            action=action,
            stack=stack,
            problems=[problem("{detail}", detail=str(exc).strip()[-4000:])],
        ) from None
    with session_scope(engine=engine) as session:
        record_run(session, actor=actor, run=run, changes=result.changes, now=now)
    return StackAction(
        stack=result.stack, action=action, tenancy=str(run.tenancy), changes=result.changes, outputs=result.outputs
    )
