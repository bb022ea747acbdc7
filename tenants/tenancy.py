"""The tenancy file in the registry (docs/reference.md#the-registry, #tenancy-file): import (validated whole, applied in one step),
export with the allocated ranges, and the summary `tenants list` prints."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from core import audit
from core.clock import Clock, utcnow
from core.errors import DomainError, Problem, rejected
from core.yamlfile import YamlDocument, dump_sections
from tenants.formats import CloudSpec, DepartmentSpec, TenancySpec, parse_tenancy_for_import
from tenants.models import Cloud, Department, DepartmentStatus, NetworkAllocation, Operator, Province
from tenants.network import Allocation, Allocator
from tenants.permissions import Actor, department_scope, operator_scope, require
from tenants.service import (
    Change,
    ImportResult,
    add_or_update,
    changed_fields,
    field_values,
    get_province,
    in_savepoint,
    scoped_departments,
)

# ---------------------------------------------------------------------------- tenancy import


def _cloud_row(c: CloudSpec) -> dict[str, Any]:
    return {
        "kind": c.kind,
        "name": c.name,
        "operator_id": c.operator,
        "industry": c.industry,
        "city": c.city,
        "tier": c.tier,
        "host_id": c.host,
        "region": c.region,
        "endpoint": c.endpoint,
    }


def _department_row(d: DepartmentSpec) -> dict[str, Any]:
    q = d.quota
    return {
        "name": d.name,
        "level": d.level,
        "kind": d.kind,
        "city_id": d.city,
        "cloud_id": d.cloud,
        "quota_vcpu": q.vcpu if q else None,
        "quota_memory_gib": q.memory_gib if q else None,
        "quota_storage_gib": q.storage_gib if q else None,
        "status": d.status,
    }


def _delete_if_unreferenced(session: Session, obj: SQLModel) -> bool:
    """Delete `obj` unless a foreign key anywhere refers to it (any table, present or future)."""
    try:
        with session.begin_nested():
            session.delete(obj)
            session.flush()
        return True
    except IntegrityError:
        return False


def import_tenancy(
    session: Session, *, actor: Actor, path: str | Path, dry_run: bool = False, now: Clock = utcnow
) -> ImportResult:
    """Validate a whole tenancy file, then apply it in one step (or report the difference with dry_run).

    Every problem is reported at once (docs/reference.md#tenancy-file): when the file has problems of its own, its sound items
    are still checked against the database (range conflicts, references of what it leaves out) in a
    savepoint that is always undone, and both kinds are reported together.
    """
    require(actor, "registry.write")
    spec, problems = parse_tenancy_for_import(path)
    if spec is None:
        raise rejected(problems)
    changes = in_savepoint(session, lambda: _apply_tenancy(session, spec, problems), dry_run or bool(problems))
    if changes and not dry_run:
        audit.append(
            session,
            actor=actor.name,
            action="tenants.import",
            entity=f"province:{spec.province.code}",
            payload={"file": Path(path).name, "changes": [c.to_dict() for c in changes]},
            now=now,
        )
    return ImportResult(changes, dry_run=dry_run)


def _apply_tenancy(session: Session, spec: TenancySpec, file_problems: list[Problem]) -> list[Change]:
    """Apply a validated spec; raise every problem — the file's own, then the database's — if any."""
    assert spec.doc is not None
    doc = spec.doc
    changes: list[Change] = []
    problems: list[Problem] = list(file_problems)
    p = spec.province

    province = session.exec(select(Province)).first()
    allocations = list(session.exec(select(NetworkAllocation)))
    if province is not None and province.code != p.code:
        raise rejected(
            problems
            + [
                doc.problem(
                    "province.code",
                    "this database runs province '{code}', not '{other}'",
                    code=province.code,
                    other=p.code,
                )
            ]
        )
    if province is not None and allocations and province.supernet != p.supernet:
        raise rejected(
            problems
            + [
                doc.problem(
                    "province.supernet",
                    "the supernet cannot change once ranges are allocated ({old} -> {new})",
                    old=province.supernet,
                    new=p.supernet,
                )
            ]
        )
    prow = {"name": p.name, "timezone": p.timezone, "currency": p.currency, "supernet": p.supernet}
    add_or_update(session, province, partial(Province, code=p.code), prow, f"province:{p.code}", changes)

    # operators
    operators = {o.id: o for o in session.exec(select(Operator))}
    for o in spec.operators:
        if o.id not in operators:
            session.add(Operator(id=o.id, name=o.name))
            changes.append(Change("add", f"operator:{o.id}", {"name": [None, o.name]}))
        elif operators[o.id].name != o.name:
            changes.append(Change("update", f"operator:{o.id}", {"name": [operators[o.id].name, o.name]}))
            operators[o.id].name = o.name
            session.add(operators[o.id])
    session.flush()

    # clouds: hosts before the clouds they host
    clouds = {c.id: c for c in session.exec(select(Cloud))}
    for c in sorted(spec.clouds, key=lambda c: (c.host is not None, c.id)):
        clouds[c.id] = add_or_update(
            session, clouds.get(c.id), partial(Cloud, id=c.id), _cloud_row(c), f"cloud:{c.id}", changes
        )
        session.flush()

    # networks
    allocator = Allocator(p.supernet, [Allocation(a.cidr, a.prefix, a.cloud_id, a.department_id) for a in allocations])
    for c in spec.clouds:
        for j, cidr in enumerate(c.networks or []):
            try:
                allocator.claim_cloud(c.id, cidr)
            except DomainError as exc:
                problems.append(
                    doc.problem(f"clouds[{spec.cloud_index[c.id]}].networks[{j}]", exc.template, **exc.params)
                )
    for c in sorted(spec.clouds, key=lambda c: c.id):
        if c.has_infrastructure and not allocator.blocks_of(c.id):
            allocator.allocate_cloud(c.id)

    departments = {d.id: d for d in session.exec(select(Department))}
    needs_network: list[DepartmentSpec] = []
    network_of: dict[str, str | None] = {}
    for d in spec.departments:
        current = departments.get(d.id)
        keep = current.network if current is not None and current.cloud_id == d.cloud else None
        if d.network is not None and d.network != keep:
            try:
                allocator.claim_department(d.cloud, d.id, d.network)
                network_of[d.id] = d.network
            except DomainError as exc:
                problems.append(
                    doc.problem(f"departments[{spec.department_index[d.id]}].network", exc.template, **exc.params)
                )
        elif keep is not None:
            network_of[d.id] = keep
        else:
            needs_network.append(d)
    if problems:  # keep checking what can be checked (the ranges of the others, what the file leaves out)
        needs_network = [d for d in needs_network if spec.cloud(d.cloud) is not None]
    for d in sorted(needs_network, key=lambda d: d.id):
        cloud = spec.cloud(d.cloud)
        network_of[d.id] = allocator.allocate_department(d.cloud, d.id) if cloud and cloud.has_infrastructure else None
    for a in allocator.added:
        session.add(NetworkAllocation(cidr=a.cidr, prefix=a.prefix, cloud_id=a.cloud_id, department_id=a.department_id))
        changes.append(
            Change(
                "allocate",
                f"network:{a.cidr}",
                {"owner": [None, f"department:{a.department_id}" if a.department_id else f"cloud:{a.cloud_id}"]},
            )
        )
    session.flush()

    # departments
    for d in spec.departments:
        row = _department_row(d) | {"network": network_of.get(d.id)}
        current = departments.get(d.id)
        if current is None:
            session.add(Department(id=d.id, **row))
            changes.append(Change("add", f"department:{d.id}", changed_fields({}, row)))
        elif diff := changed_fields(field_values(current, list(row)), row):
            if current.network and current.network != row["network"]:
                retired = session.get(NetworkAllocation, current.network)
                if retired is not None:
                    retired.retired = True
                    session.add(retired)
            for k, v in row.items():
                setattr(current, k, v)
            session.add(current)
            action = (
                "archive"
                if diff.get("status") == ["active", "archived"]
                else ("restore" if diff.get("status") == ["archived", "active"] else "update")
            )
            changes.append(Change(action, f"department:{d.id}", diff))
    session.flush()

    # whatever the file leaves out: departments deleted or archived, clouds and operators deleted (an item
    # the file lists but could not be read is not left out; a section that is not a list leaves out nothing)
    listed = _listed(spec, "departments", {d.id for d in spec.departments}, departments)
    for dept_id in sorted(set(departments) - listed):
        dept = departments[dept_id]
        if _delete_if_unreferenced(session, dept):
            changes.append(Change("delete", f"department:{dept_id}"))
        elif dept.status != DepartmentStatus.ARCHIVED:
            dept.status = DepartmentStatus.ARCHIVED
            session.add(dept)
            session.flush()
            changes.append(Change("archive", f"department:{dept_id}", {"status": ["active", "archived"]}))
    listed_clouds = _listed(spec, "clouds", {c.id for c in spec.clouds}, clouds)
    left_out = sorted(set(clouds) - listed_clouds, key=lambda i: clouds[i].host_id is None)  # hosted clouds first
    gone = _delete_left_out(session, doc, "cloud", left_out, clouds, changes)
    listed_ops = _listed(spec, "operators", {o.id for o in spec.operators}, operators)
    gone += _delete_left_out(session, doc, "operator", sorted(set(operators) - listed_ops), operators, changes)
    if problems or gone:
        raise rejected(problems + gone)
    return changes


def _delete_left_out(
    session: Session, doc: YamlDocument, kind: str, ids: list[str], stored: dict[str, Any], changes: list[Change]
) -> list[Problem]:
    """Delete, in order, the `kind`s the file leaves out; a problem for each one still referenced."""
    gone: list[Problem] = []
    for id_ in ids:
        if _delete_if_unreferenced(session, stored[id_]):
            changes.append(Change("delete", f"{kind}:{id_}"))
        else:
            gone.append(
                doc.problem(f"{kind}s", "{kind} '{id}' is left out of the file but still referenced", kind=kind, id=id_)
            )
    return gone


def _listed(spec: TenancySpec, section: str, sound: set[str], stored: dict[str, Any]) -> set[str]:
    """The ids of `section` an import must not treat as left out of the file."""
    if section not in spec.listed:
        return sound
    raw = spec.listed[section]
    return set(stored) if raw is None else sound | raw


# ---------------------------------------------------------------------------- tenancy export and list


def export_tenancy(session: Session, *, actor: Actor) -> str:
    """The registry as a tenancy file with its allocated ranges and department statuses: a department user
    gets only its own department, an operator those placed on its clouds (the province's clouds and
    operators are listed for everyone, so the file stays a valid tenancy file)."""
    require(actor, "registry.read")
    province = get_province(session)
    blocks: dict[str, list[str]] = {}
    for a in session.exec(select(NetworkAllocation).where(NetworkAllocation.prefix == 16)):
        blocks.setdefault(a.cloud_id, []).append(a.cidr)
    operators = [{"id": o.id, "name": o.name} for o in session.exec(select(Operator).order_by(Operator.id))]
    clouds = []
    for c in session.exec(select(Cloud).order_by(Cloud.id)):
        item: dict[str, Any] = {
            "id": c.id,
            "kind": c.kind,
            "industry": c.industry,
            "city": c.city,
            "tier": c.tier,
            "name": c.name,
            "operator": c.operator_id,
            "host": c.host_id,
            "region": c.region,
            "endpoint": c.endpoint,
        }
        item = {k: v for k, v in item.items() if v is not None}
        if c.id in blocks:
            item["networks"] = sorted(blocks[c.id], key=_net_key)
        clouds.append(item)
    departments = []
    for d in session.exec(scoped_departments(select(Department), actor=actor).order_by(Department.id)):
        item = {
            "id": d.id,
            "name": d.name,
            "level": d.level,
            "kind": d.kind,
            "city": d.city_id,
            "cloud": d.cloud_id,
        }
        item = {k: v for k, v in item.items() if v is not None}
        quota = {"vcpu": d.quota_vcpu, "memory_gib": d.quota_memory_gib, "storage_gib": d.quota_storage_gib}
        if any(v is not None for v in quota.values()):
            item["quota"] = {k: v for k, v in quota.items() if v is not None}
        if d.network:
            item["network"] = d.network
        item["status"] = d.status
        departments.append(item)
    header = {
        "province": {
            "code": province.code,
            "name": province.name,
            "timezone": province.timezone,
            "currency": province.currency,
            "supernet": province.supernet,
        }
    }
    text = dump_sections(header, [("operators", operators), ("clouds", clouds), ("departments", departments)])
    return "# zhengyun tenancy export: the registry with its allocated network ranges\n" + text


def _net_key(cidr: str) -> tuple[int, ...]:
    return tuple(int(x) for x in cidr.split("/")[0].split("."))


@dataclass
class TenancySummary:
    """Clouds by kind and tier, departments by cloud."""

    province: dict[str, Any]
    clouds: list[dict[str, Any]]
    clouds_by_kind: dict[str, int]
    departments_by_cloud: dict[str, int]
    departments: int
    archived: int

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def summarise_tenancy(session: Session, *, actor: Actor) -> TenancySummary:
    """The registry at a glance: clouds by kind and tier, departments by cloud (counting only the
    departments the actor may see, as `export_tenancy` lists them)."""
    require(actor, "registry.read")
    province = get_province(session)
    by_kind: dict[str, int] = {}
    clouds = []
    counts: dict[str, int] = {}
    archived = 0
    for d in session.exec(scoped_departments(select(Department), actor=actor)):
        if d.status == DepartmentStatus.ARCHIVED:
            archived += 1
        else:
            counts[d.cloud_id] = counts.get(d.cloud_id, 0) + 1
    for c in session.exec(select(Cloud).order_by(Cloud.id)):
        key = f"{c.kind}/{c.tier}" if c.tier else c.kind
        by_kind[key] = by_kind.get(key, 0) + 1
        clouds.append(
            {
                "id": c.id,
                "name": c.name,
                "kind": c.kind,
                "tier": c.tier,
                "industry": c.industry,
                "city": c.city,
                "operator": c.operator_id,
                "host": c.host_id,
                "departments": counts.get(c.id, 0),
            }
        )
    return TenancySummary(
        province={
            "code": province.code,
            "name": province.name,
            "timezone": province.timezone,
            "currency": province.currency,
            "supernet": province.supernet,
        },
        clouds=clouds,
        clouds_by_kind=dict(sorted(by_kind.items())),
        departments_by_cloud={k: counts[k] for k in sorted(counts)},
        departments=sum(counts.values()) + archived,
        archived=archived,
    )


# ---------------------------------------------------------------------------- network ranges


@dataclass(frozen=True)
class NetworkRange:
    """An allocated range: a cloud's /16 block (no department) or a department's /22 inside its cloud's."""

    cidr: str
    prefix: int
    cloud: str
    department: str | None
    department_name: str | None
    retired: bool


def list_network_ranges(session: Session, *, actor: Actor, cloud_id: str | None = None) -> list[NetworkRange]:
    """The allocated ranges, by address: every cloud's blocks, and the departments' ranges the actor may
    see (a department user its own, an operator those placed on its clouds), optionally of one cloud."""
    require(actor, "registry.read")
    visible = {d.id: d.name for d in session.exec(scoped_departments(select(Department), actor=actor))}
    # the registry's readers see every range, those of departments since deleted too
    everything = department_scope(actor) is None and operator_scope(actor) is None
    query = select(NetworkAllocation)
    if cloud_id is not None:
        query = query.where(NetworkAllocation.cloud_id == cloud_id)
    rows = [
        NetworkRange(
            cidr=a.cidr,
            prefix=a.prefix,
            cloud=a.cloud_id,
            department=a.department_id,
            department_name=visible.get(a.department_id) if a.department_id else None,
            retired=a.retired,
        )
        for a in session.exec(query)
        if everything or a.department_id is None or a.department_id in visible
    ]
    return sorted(rows, key=lambda r: (_net_key(r.cidr), r.prefix))
