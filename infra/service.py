"""Who may run which stack, and the tenancy file a run reads (the rules behind `zhengyun infra`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlmodel import Session

from core import audit
from core.clock import Clock, utcnow
from core.errors import InvalidInput
from core.i18n import register
from infra.tenancy import PROVINCE_STACK, check_stack, load_tenancy
from tenants import service as tenants_service
from tenants.formats import ID_PATTERN, TenancySpec
from tenants.permissions import Actor, operator_scope, require, require_operator

Action = Literal["preview", "up", "destroy"]

register({"'{stack}' is not a stack: use 'province' or the id of a cloud": "“{stack}”不是栈：请使用 province 或云 id"})


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
        export_to.write_text(tenants_service.export_tenancy(session, actor=actor), encoding="utf-8")
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
