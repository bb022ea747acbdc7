"""Registry services: tenancy and contracts import/export/list, meters, lookups (docs/reference.md#the-registry, #contracts-and-bills, #tenancy-file, #contracts-file)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlmodel import Session, SQLModel, col, select

from core import audit
from core.clock import Clock, utcnow
from core.errors import NotFound, Problem, rejected
from core.i18n import register
from core.yamlfile import YamlDocument, read_yaml
from tenants.contracts import (
    CloudRef,
    ContractsFile,
    ContractSpec,
    earliest_end,
    end_keeps_bills,
    locked_changes,
    validate_contracts,
)
from tenants.models import (
    BUILTIN_METERS,
    Cloud,
    Contract,
    ContractCloud,
    Department,
    Meter,
    Operator,
    Province,
)
from tenants.permissions import Actor, department_scope, operator_scope, require

register(
    {
        "this database runs province '{code}', not '{other}'": "本数据库运行的是省份“{code}”，而不是“{other}”",
        "the supernet cannot change once ranges are allocated ({old} -> {new})": "已分配网段后不能修改超网（{old} -> {new}）",
        "{kind} '{id}' is left out of the file but still referenced": "{kind}“{id}”不在文件中，但仍被引用",
        "no province yet: import a tenancy file first": "尚无省份：请先导入租户文件",
        "contract '{id}' has approved bills for {periods}: its {field} cannot change; to change it, end the contract and add a successor contract from the next day": "合同“{id}”在 {periods} 已有审批通过的账单：其 {field} 不能修改；如需修改，请结束本合同，并从次日起新增一份后续合同",
        "contract '{id}' has approved bills for {periods}: its end may move only to a day on or after {earliest}; for other changes, end the contract and add a successor contract from the next day": "合同“{id}”在 {periods} 已有审批通过的账单：其结束日期只能改为 {earliest} 或之后；如需其他修改，请结束本合同，并从次日起新增一份后续合同",
        "cloud": "云",
        "contract": "合同",
        "meter": "计量项",
    }
)


@dataclass
class Change:
    """One difference an import makes: add, update, archive, restore, delete or allocate."""

    action: str
    entity: str
    fields: dict[str, list[Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "entity": self.entity, "fields": self.fields}

    def __str__(self) -> str:
        detail = ", ".join(f"{k}: {v[0]!r} -> {v[1]!r}" for k, v in self.fields.items())
        return f"{self.action:8} {self.entity}" + (f" ({detail})" if detail else "")


@dataclass
class ImportResult:
    """What an import changed (or would change, with dry_run)."""

    changes: list[Change]
    dry_run: bool

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "changed": self.changed, "changes": [c.to_dict() for c in self.changes]}


#: Hooks a later domain registers to refuse contract term changes: (session, contract id) -> locked periods.
#: Filled only by `register_contract_term_guard`, which the composition root's `wire()` calls.
CONTRACT_TERM_GUARDS: list[Callable[[Session, str], list[str]]] = []


def register_contract_term_guard(guard: Callable[[Session, str], list[str]]) -> None:
    """Add a guard that names the periods locking a contract's terms (once, however often called)."""
    if guard not in CONTRACT_TERM_GUARDS:
        CONTRACT_TERM_GUARDS.append(guard)


# ---------------------------------------------------------------------------- lookups


def get_province(session: Session) -> Province:
    """The province (NotFound before any tenancy import)."""
    province = session.exec(select(Province)).first()
    if province is None:
        raise NotFound("no province yet: import a tenancy file first")
    return province


def get_cloud(session: Session, cloud_id: str) -> Cloud:
    """A cloud by id."""
    cloud = session.get(Cloud, cloud_id)
    if cloud is None:
        raise NotFound("{kind} not found: {id}", kind="cloud", id=cloud_id)
    return cloud


def get_department(session: Session, department_id: str) -> Department:
    """A department by id."""
    dept = session.get(Department, department_id)
    if dept is None:
        raise NotFound("{kind} not found: {id}", kind="department", id=department_id)
    return dept


def list_meters(session: Session) -> list[Meter]:
    """The meter catalogue, by code."""
    return list(session.exec(select(Meter).order_by(Meter.code)))


def ensure_builtin_meters(session: Session) -> int:
    """Add missing built-in meters; returns how many were added."""
    added = 0
    for code, unit, description in BUILTIN_METERS:
        if session.get(Meter, code) is None:
            session.add(Meter(code=code, unit=unit, description=description, builtin=True))
            added += 1
    session.flush()
    return added


# ---------------------------------------------------------------------------- helpers of the imports


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> dict[str, list[Any]]:
    """`field: [old, new]` of every field whose value changes."""
    return {k: [old.get(k), v] for k, v in new.items() if old.get(k) != v}


def field_values(obj: SQLModel, keys: list[str]) -> dict[str, Any]:
    """The values of `keys` on a stored row."""
    return {k: getattr(obj, k) for k in keys}


Row = TypeVar("Row", bound=SQLModel)


def add_or_update(
    session: Session,
    current: Row | None,
    new: Callable[..., Row],
    row: dict[str, Any],
    entity: str,
    changes: list[Change],
) -> Row:
    """Add `new(**row)` when nothing is stored, else set the stored row's fields to `row`; the change, if any,
    goes to `changes` (as `add` or `update` of `entity`, with the fields that changed)."""
    if current is None:
        created = new(**row)
        session.add(created)
        changes.append(Change("add", entity, changed_fields({}, row)))
        return created
    if diff := changed_fields(field_values(current, list(row)), row):
        for k, v in row.items():
            setattr(current, k, v)
        session.add(current)
        changes.append(Change("update", entity, diff))
    return current


def in_savepoint(session: Session, apply: Callable[[], list[Change]], dry_run: bool) -> list[Change]:
    """Run `apply` in a savepoint: kept on success, undone with dry_run or on any error."""
    nested = session.begin_nested()
    try:
        changes = apply()
    except BaseException:
        nested.rollback()
        raise
    if dry_run:
        nested.rollback()
    else:
        nested.commit()
    return changes


# ---------------------------------------------------------------------------- contracts


def contract_spec(contract: Contract) -> ContractSpec:
    """The validated terms of a stored contract."""
    return ContractSpec.model_validate_json(contract.terms)


def get_contract(session: Session, contract_id: str) -> ContractSpec:
    """A contract's terms by id."""
    contract = session.get(Contract, contract_id)
    if contract is None:
        raise NotFound("{kind} not found: {id}", kind="contract", id=contract_id)
    return contract_spec(contract)


def scoped_contracts(query: Any, *, actor: Actor) -> Any:
    """The registry's one scoping helper: `query` (over `Contract`) narrowed in SQL to the contracts the
    actor may see — an operator its own, a department those covering the cloud it is placed on."""
    if (op := operator_scope(actor)) is not None:
        query = query.where(col(Contract.operator_id) == op)
    if (dept_id := department_scope(actor)) is not None:
        placed_on = select(Department.cloud_id).where(col(Department.id) == dept_id)
        covering = select(ContractCloud.contract_id).where(col(ContractCloud.cloud_id).in_(placed_on))
        query = query.where(col(Contract.id).in_(covering))
    return query


def scoped_departments(query: Any, *, actor: Actor) -> Any:
    """The registry's scoping helper for departments: `query` (over `Department`) narrowed in SQL to the
    departments the actor may see — a department user itself, an operator those placed on its clouds
    (docs/reference.md#roles: nothing from which another department's usage or network can be read)."""
    if (dept_id := department_scope(actor)) is not None:
        query = query.where(col(Department.id) == dept_id)
    if (op := operator_scope(actor)) is not None:
        query = query.where(col(Department.cloud_id).in_(select(Cloud.id).where(col(Cloud.operator_id) == op)))
    return query


def list_contracts(session: Session, *, actor: Actor) -> list[ContractSpec]:
    """Contracts the actor may see: an operator its own, a department those on its cloud."""
    require(actor, "contracts.read")
    query = scoped_contracts(select(Contract), actor=actor).order_by(Contract.id)
    return [contract_spec(c) for c in session.exec(query)]


def contracts_active(session: Session, day_from: date, day_to: date) -> list[ContractSpec]:
    """Contracts whose term meets `[day_from, day_to]` (internal)."""
    rows = session.exec(
        select(Contract).where(Contract.start <= day_to, Contract.end >= day_from).order_by(Contract.id)
    )
    return [contract_spec(c) for c in rows]


def import_contracts(
    session: Session, *, actor: Actor, path: str | Path, dry_run: bool = False, now: Clock = utcnow
) -> ImportResult:
    """Validate a contracts file against the registry; add new contracts and meters, update terms."""
    require(actor, "registry.write")
    doc, problems = read_yaml(path)
    if doc is None:
        raise rejected(problems)
    meters = {m.code: m for m in session.exec(select(Meter))}
    clouds = {c.id: CloudRef(c.kind, c.tier, c.operator_id) for c in session.exec(select(Cloud))}
    operators = {o.id for o in session.exec(select(Operator))}
    existing = {c.id: c for c in session.exec(select(Contract))}
    parsed, more = validate_contracts(
        doc,
        operators=operators,
        clouds=clouds,
        meters=set(meters),
        builtin_meters={code for code, m in meters.items() if m.builtin} | {code for code, *_ in BUILTIN_METERS},
        existing=[contract_spec(c) for c in existing.values()],
    )
    if parsed is None or problems:
        raise rejected(problems + more)
    changes = in_savepoint(session, lambda: _apply_contracts(session, parsed, doc, meters, existing), dry_run)
    if changes and not dry_run:
        audit.append(
            session,
            actor=actor.name,
            action="contracts.import",
            entity="contracts",
            payload={"file": Path(path).name, "changes": [c.to_dict() for c in changes]},
            now=now,
        )
    return ImportResult(changes, dry_run=dry_run)


def _apply_contracts(
    session: Session, parsed: ContractsFile, doc: YamlDocument, meters: dict[str, Meter], existing: dict[str, Contract]
) -> list[Change]:
    changes: list[Change] = []
    for m in parsed.meters:
        row = {"unit": m.unit, "description": m.description}
        add_or_update(
            session, meters.get(m.code), partial(Meter, code=m.code, builtin=False), row, f"meter:{m.code}", changes
        )
    session.flush()
    locked: list[Problem] = []
    for spec in parsed.contracts:
        terms = spec.model_dump_json()
        current = existing.get(spec.id)
        if current is None:
            session.add(
                Contract(
                    id=spec.id,
                    operator_id=spec.operator,
                    service=spec.service,
                    service_category=spec.service_category,
                    currency=spec.currency,
                    start=spec.start,
                    end=spec.end,
                    terms=terms,
                )
            )
            session.flush()
            for cloud_id in spec.clouds:
                session.add(ContractCloud(contract_id=spec.id, cloud_id=cloud_id))
            changes.append(Change("add", f"contract:{spec.id}"))
            continue
        old = contract_spec(current)
        if old == spec:
            continue
        periods = sorted({p for guard in CONTRACT_TERM_GUARDS for p in guard(session, spec.id)})
        if periods:
            refused = _refused_amendments(old, spec, periods, doc, f"contracts[{parsed.index[spec.id]}]")
            if refused:
                locked.extend(refused)
                continue
        diff = {
            k: [v, spec.model_dump(mode="json")[k]]
            for k, v in old.model_dump(mode="json").items()
            if spec.model_dump(mode="json")[k] != v
        }
        current.operator_id, current.service = spec.operator, spec.service
        current.service_category, current.currency = spec.service_category, spec.currency
        current.start, current.end, current.terms = spec.start, spec.end, terms
        session.add(current)
        for link in session.exec(select(ContractCloud).where(ContractCloud.contract_id == spec.id)):
            if link.cloud_id not in spec.clouds:
                session.delete(link)
        linked = {
            link.cloud_id for link in session.exec(select(ContractCloud).where(ContractCloud.contract_id == spec.id))
        }
        for cloud_id in spec.clouds:
            if cloud_id not in linked:
                session.add(ContractCloud(contract_id=spec.id, cloud_id=cloud_id))
        changes.append(Change("update", f"contract:{spec.id}", diff))
    if locked:
        raise rejected(locked)
    session.flush()
    return changes


def _refused_amendments(
    old: ContractSpec, new: ContractSpec, periods: list[str], doc: YamlDocument, path: str
) -> list[Problem]:
    """The changes of a contract with approved bills that could alter one of them, each with its path
    (docs/reference.md#contracts-and-bills): the end before the last approved period's end, and every term a bill is computed from."""
    problems = [
        doc.problem(
            f"{path}.{field}",
            "contract '{id}' has approved bills for {periods}: its {field} cannot change; to change it, "
            "end the contract and add a successor contract from the next day",
            id=new.id,
            periods=", ".join(periods),
            field=field,
        )
        for field in locked_changes(old, new)
    ]
    if not end_keeps_bills(old.end, new.end, periods):
        problems.append(
            doc.problem(
                f"{path}.end",
                "contract '{id}' has approved bills for {periods}: its end may move only to a day on or after "
                "{earliest}; for other changes, end the contract and add a successor contract from the next day",
                id=new.id,
                periods=", ".join(periods),
                earliest=earliest_end(periods),
            )
        )
    return problems


# ---------------------------------------------------------------------------- province timezone (internal look-up)


def province_zone(session: Session, *, before_import: str | None = None) -> ZoneInfo:
    """The province's timezone, in which periods, contract terms and deadlines are reckoned (internal):
    the one look-up every domain and job uses. Before any tenancy import, `before_import` if given
    (e.g. `DEFAULT_TIMEZONE`), else NotFound."""
    province = session.exec(select(Province)).first()
    if province is None and before_import is not None:
        return ZoneInfo(before_import)
    return ZoneInfo(get_province(session).timezone)
