"""Helpers shared by the SLA service modules: clock floor, period parsing, contract access checks, data
scoping in SQL (`scope_by_contract`), the audit call and the row-by-row import of record files.

These helpers are shared by the sla service modules, not a service API of their own: entry points do
not call them. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Select
from sqlmodel import Session, col, select

from core import audit
from core.clock import Clock
from core.errors import DomainError, NotFound, problem
from core.i18n import register, t
from core.periods import Period
from sla.models import MaintenanceWindow, Outage, Rating
from sla.records import ImportReport, read_records
from tenants.contracts import ContractSpec
from tenants.models import Contract
from tenants.permissions import Actor, department_scope, operator_scope, require
from tenants.service import get_contract, scoped_contracts

register({"contract": "合同"})


def floored_now(now: Clock) -> datetime:
    """The clock, floored to whole seconds (outage and check times are whole seconds)."""
    return now().replace(microsecond=0)


def as_period(period: Period | str) -> Period:
    return period if isinstance(period, Period) else Period.parse(period)


def not_found(kind: str, id_: Any, field_: str) -> NotFound:
    """NotFound for a `kind` (translated) whose problem names the field that referred to it."""
    template = "{kind} not found: {id}"
    return NotFound(template, problems=[problem(template, path=field_, kind=t(kind), id=id_)], kind=t(kind), id=id_)


def referred_contract(session: Session, contract_id: str, field_: str = "contract") -> ContractSpec:
    """The contract's terms from the registry; NotFound names the field that referred to it."""
    try:
        return get_contract(session, contract_id)
    except NotFound:
        raise not_found("contract", contract_id, field_) from None


# ---------------------------------------------------------------------------- scoping


Query = TypeVar("Query", bound=Select[Any])


def scope_by_contract(
    stmt: Query, contract: Any, actor: Actor, *, department: Any = None, operator: Any = None
) -> Query:
    """`stmt` narrowed in SQL to the rows the actor may see, by the contract column `contract`.

    An operator user sees its own contracts' rows (or, given the row's `operator` column, the rows
    opened against it); a department user the rows of contracts covering its department's cloud (or,
    given the row's `department` column, its own rows). Other roles see everything.
    """
    if operator is not None and (op := operator_scope(actor)) is not None:
        return stmt.where(operator == op)
    if department is not None and (dept := department_scope(actor)) is not None:
        return stmt.where(department == dept)
    if operator_scope(actor) is None and department_scope(actor) is None:
        return stmt
    return stmt.where(col(contract).in_(scoped_contracts(select(Contract.id), actor=actor)))


def readable_contract(session: Session, contract_id: str, capability: str, *, actor: Actor) -> ContractSpec:
    """The contract, once the actor may read it: an operator its own, a department one on its cloud. One outside
    the actor's scope is not found, as a missing one is (docs/reference.md#ids-out-of-scope)."""
    require(actor, capability)
    spec = referred_contract(session, contract_id)
    require_in_scope(session, spec.id, actor=actor, missing=not_found("contract", spec.id, "contract"))
    return spec


def require_in_scope(session: Session, contract_id: str, *, actor: Actor, missing: NotFound) -> None:
    """Raise `missing` — the very error of a missing id — unless the (stored) contract is one
    `scope_by_contract` lets the actor see: whether an id exists outside its scope stays unknown to the actor."""
    visible = scope_by_contract(select(Contract.id).where(Contract.id == contract_id), Contract.id, actor)
    if session.exec(visible).first() is None:
        raise missing


def require_own_operator(operator_id: str | None, *, actor: Actor, missing: NotFound) -> None:
    """Raise `missing` when an operator user acts on another operator's row (docs/reference.md#ids-out-of-scope)."""
    scope = operator_scope(actor)
    if scope is not None and scope != operator_id:
        raise missing


# ---------------------------------------------------------------------------- audit and imports


def record_audit(session: Session, action: str, entity: str, payload: Any, *, actor: Actor, now: Clock) -> None:
    """Append `action` on `entity` by the acting user to the audit log."""
    audit.append(session, actor=actor.name, action=action, entity=entity, payload=payload, now=now)


NEW, DUPLICATE, UPDATED = "new", "duplicate", "updated"
Row = TypeVar("Row", Outage, MaintenanceWindow, Rating)


def stored_row(session: Session, model: type[Row], **fields: Any) -> Row | None:
    """A stored row with exactly these field values, if any."""
    return session.exec(select(model).where(*(getattr(model, k) == v for k, v in fields.items()))).first()


def import_rows(
    session: Session,
    path: str | Path,
    columns: tuple[str, ...],
    build: Callable[[dict[str, str]], Row],
    settle: Callable[[Row], str],
    *,
    store: Callable[[Row], Row] | None = None,
    optional: tuple[str, ...] = (),
) -> ImportReport:
    """The row-by-row import of a record file (docs/reference.md#record-files): `build` validates a row (a DomainError rejects it
    with its line and field), `settle` says whether it is new, a duplicate or updated a stored row (or rejects it), and
    new rows are stored (by `store`, or added as they are)."""
    report = ImportReport(file=str(path))
    for line, row in read_records(path, columns, optional):
        try:
            item = build(row)
            outcome = settle(item)  # may reject the row too (a decision that is final, …)
        except DomainError as exc:
            report.reject(line, exc)
            continue
        if outcome == DUPLICATE:
            report.duplicates += 1
        elif outcome == UPDATED:
            report.updated += 1
        else:
            if store is not None:
                item = store(item)
            else:
                session.add(item)
                session.flush()
            assert item.id is not None
            report.accepted += 1
            report.ids.append(item.id)
    return report
