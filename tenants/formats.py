"""The tenancy file (docs/reference.md#tenancy-file): schema, cross-reference rules and export.

`parse_tenancy` validates a whole document and reports every problem with its path and line; it
needs no database, so the Pulumi program reads tenancy files through it too.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from core.errors import Problem
from core.i18n import register
from core.validation import validate_item, validate_list
from core.yamlfile import YamlDocument, read_yaml
from tenants.models import DEFAULT_TIMEZONE, CityTier, CloudKind, DepartmentKind, DepartmentLevel, DepartmentStatus

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{1,39}$"
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]
Count = Annotated[int, Field(ge=0, strict=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProvinceSpec(_Strict):
    """`province:`"""

    code: Id
    name: Name
    timezone: str = DEFAULT_TIMEZONE
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"
    supernet: str = "10.0.0.0/8"


class OperatorSpec(_Strict):
    """An item of `operators:`"""

    id: Id
    name: Name


class CloudSpec(_Strict):
    """An item of `clouds:`"""

    id: Id
    kind: CloudKind
    name: Name
    operator: Id | None = None
    industry: Label | None = None
    city: Label | None = None
    tier: CityTier | None = None
    host: Id | None = None
    region: Label | None = None
    endpoint: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    networks: list[str] | None = None

    @property
    def has_infrastructure(self) -> bool:
        """Provincial, industry and non-hosted city clouds run infrastructure of their own."""
        return self.kind in (CloudKind.PROVINCIAL, CloudKind.INDUSTRY) or (
            self.kind == CloudKind.CITY and self.tier != CityTier.HOSTED
        )


class QuotaSpec(_Strict):
    """`quota:` of a department (absent fields mean no quota)."""

    vcpu: Count | None = None
    memory_gib: Count | None = None
    storage_gib: Count | None = None


class DepartmentSpec(_Strict):
    """An item of `departments:`"""

    id: Id
    name: Name
    level: DepartmentLevel
    kind: DepartmentKind = DepartmentKind.GOVERNMENT
    city: Id | None = None
    cloud: Id
    quota: QuotaSpec | None = None
    status: DepartmentStatus = DepartmentStatus.ACTIVE
    network: str | None = None


@dataclass
class TenancySpec:
    """A validated tenancy document."""

    province: ProvinceSpec
    operators: list[OperatorSpec] = field(default_factory=list)
    clouds: list[CloudSpec] = field(default_factory=list)
    departments: list[DepartmentSpec] = field(default_factory=list)
    # index in the file of each item, for error paths in later (database) checks
    cloud_index: dict[str, int] = field(default_factory=dict)
    department_index: dict[str, int] = field(default_factory=dict)
    doc: YamlDocument | None = None
    # ids the file lists per section, valid items or not (None: the section is not a list): what an
    # import must not treat as left out when it checks a partial spec against the database
    listed: dict[str, set[str] | None] = field(default_factory=dict)

    def cloud(self, cloud_id: str) -> CloudSpec | None:
        """The cloud with this id."""
        return next((c for c in self.clouds if c.id == cloud_id), None)


register(
    {
        "the document must be a mapping with province, operators, clouds and departments": "文件顶层必须是包含 province、operators、clouds、departments 的映射",
        "unknown section '{name}'": "未知的段“{name}”",
        "unknown timezone {value!r}": "未知时区 {value!r}",
        "invalid network {value!r}": "网段 {value!r} 无效",
        "supernet must be an IPv4 network of prefix /16 or larger": "超网必须是前缀不长于 /16 的 IPv4 网段",
        "duplicate id '{id}' (also at {other})": "重复的 id“{id}”（另见 {other}）",
        "a province has exactly one provincial cloud; another is at {other}": "一个省只能有一个省级政务云；另一个在 {other}",
        "the province needs one provincial cloud": "必须有一个省级政务云（kind: provincial）",
        "unknown operator '{id}'": "未知运营商“{id}”",
        "unknown cloud '{id}'": "未知云“{id}”",
        "an industry cloud needs an industry": "行业云必须填写 industry",
        "a city cloud needs a city and a tier": "市级云必须填写 city 和 tier",
        "only an industry cloud has an industry": "只有行业云可以填写 industry",
        "only a city cloud has a city and a tier": "只有市级云可以填写 city 和 tier",
        "a hosted city has no operator of its own: its departments are placed on the host": "托管城市没有自己的运营商：其部门部署在宿主云上",
        "a hosted city needs a host: the provincial cloud": "托管城市必须填写 host（省级政务云）",
        "the host of a hosted city must be the provincial cloud, not '{id}'": "托管城市的宿主必须是省级政务云，而不是“{id}”",
        "only a hosted city has a host": "只有托管城市可以填写 host",
        "a {kind} cloud needs an operator": "{kind} 类云必须填写运营商",
        "only a cloud with its own infrastructure has networks": "只有自有基础设施的云才有网段",
        "a cloud network must be a /16 inside the supernet {supernet}": "云网段必须是超网 {supernet} 内的 /16",
        "a department network must be a /22": "部门网段必须是 /22",
        "network {cidr} is also declared at {other}": "网段 {cidr} 与 {other} 重复",
        "a {level} department needs a city": "{level}级部门必须填写 city",
        "a provincial department has no city": "省级部门不能填写 city",
        "'{id}' is not a city cloud": "“{id}”不是市级云",
        "a provincial department is placed on the provincial cloud or an industry cloud, not '{id}'": "省级部门只能部署在省级政务云或行业云上，而不是“{id}”",
        "a department of {city} is placed on {expected}, not '{id}'": "{city}的部门应部署在 {expected} 上，而不是“{id}”",
        "network {cidr} is not inside the networks of cloud '{cloud}'": "网段 {cidr} 不在云“{cloud}”的网段内",
    }
)


def parse_tenancy(path: str | Path) -> tuple[TenancySpec | None, list[Problem]]:
    """Read and validate a tenancy file; the spec is None when any problem was found."""
    doc, problems = read_yaml(path)
    if doc is None:
        return None, problems
    spec, more = validate_tenancy(doc)
    problems = problems + more
    return (spec if not problems else None), problems


def parse_tenancy_for_import(path: str | Path) -> tuple[TenancySpec | None, list[Problem]]:
    """Read and validate a tenancy file for an import: with problems, the spec still holds the items
    without any (and whose references are kept), so that the database checks can run on them and every
    problem be reported in one round; None when not even the province can be read."""
    doc, problems = read_yaml(path)
    if doc is None:
        return None, problems
    spec, more = validate_tenancy(doc, partial=True)
    return spec, problems + more


_ITEM_PATH = re.compile(r"^(operators|clouds|departments)\[(\d+)\]")


def validate_tenancy(doc: YamlDocument, *, partial: bool = False) -> tuple[TenancySpec | None, list[Problem]]:
    """Every structural and cross-reference rule that needs no database.

    With `partial`, a file with problems still gives a spec of its sound items (see `parse_tenancy_for_import`).
    """
    problems: list[Problem] = []
    data = doc.data
    if not isinstance(data, dict):
        return None, [
            doc.problem("", "the document must be a mapping with province, operators, clouds and departments")
        ]
    for key in data:
        if key not in ("province", "operators", "clouds", "departments"):
            problems.append(doc.problem(str(key), "unknown section '{name}'", name=key))
    if "province" not in data:
        problems.append(doc.problem("province", "required field is missing"))
        province = None
    else:
        province = validate_item(ProvinceSpec, data["province"], doc, "province", problems)
    operators = validate_list(OperatorSpec, data.get("operators"), doc, "operators", problems)
    clouds = validate_list(CloudSpec, data.get("clouds"), doc, "clouds", problems)
    departments = validate_list(DepartmentSpec, data.get("departments"), doc, "departments", problems)

    supernet = _check_province(province, doc, problems)
    _check_unique(operators, "operators", doc, problems)
    _check_unique(clouds, "clouds", doc, problems)
    _check_unique(departments, "departments", doc, problems)
    operator_ids = {o.id for _, o in operators}
    cloud_by_id = {c.id: c for _, c in clouds}
    _check_clouds(clouds, operator_ids, cloud_by_id, supernet, doc, problems)
    _check_departments(departments, cloud_by_id, doc, problems)
    if province is None or (problems and not partial):
        return None, problems
    if problems:
        operators, clouds, departments = _sound_items(problems, operators, clouds, departments)
    return TenancySpec(
        province=province,
        operators=[o for _, o in operators],
        clouds=[c for _, c in clouds],
        departments=[d for _, d in departments],
        cloud_index={c.id: i for i, c in clouds},
        department_index={d.id: i for i, d in departments},
        doc=doc,
        listed={section: _listed_ids(data.get(section)) for section in ("operators", "clouds", "departments")},
    ), problems


def _listed_ids(items: Any) -> set[str] | None:
    if not isinstance(items, list):
        return None
    return {str(item["id"]) for item in items if isinstance(item, dict) and "id" in item}


def _sound_items(
    problems: list[Problem],
    operators: list[tuple[int, OperatorSpec]],
    clouds: list[tuple[int, CloudSpec]],
    departments: list[tuple[int, DepartmentSpec]],
) -> tuple[list[tuple[int, OperatorSpec]], list[tuple[int, CloudSpec]], list[tuple[int, DepartmentSpec]]]:
    """The items no problem names, and whose references are among them (hosts, operators, clouds)."""
    bad = {(m.group(1), int(m.group(2))) for p in problems if (m := _ITEM_PATH.match(p.path or ""))}
    ops = [(i, o) for i, o in operators if ("operators", i) not in bad]
    op_ids = {o.id for _, o in ops}
    kept = [(i, c) for i, c in clouds if ("clouds", i) not in bad and (c.operator is None or c.operator in op_ids)]
    cloud_ids = {c.id for _, c in kept}
    kept = [(i, c) for i, c in kept if c.host is None or c.host in cloud_ids]
    cloud_ids = {c.id for _, c in kept}
    depts = [
        (i, d)
        for i, d in departments
        if ("departments", i) not in bad and d.cloud in cloud_ids and (d.city is None or d.city in cloud_ids)
    ]
    return ops, kept, depts


def _check_province(
    province: ProvinceSpec | None, doc: YamlDocument, problems: list[Problem]
) -> ipaddress.IPv4Network | None:
    if province is None:
        return None
    try:
        ZoneInfo(province.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(doc.problem("province.timezone", "unknown timezone {value!r}", value=province.timezone))
    try:
        supernet = ipaddress.ip_network(province.supernet, strict=True)
    except ValueError:
        problems.append(doc.problem("province.supernet", "invalid network {value!r}", value=province.supernet))
        return None
    if not isinstance(supernet, ipaddress.IPv4Network) or supernet.prefixlen > 16:
        problems.append(doc.problem("province.supernet", "supernet must be an IPv4 network of prefix /16 or larger"))
        return None
    return supernet


def _check_unique(items: list[tuple[int, Any]], section: str, doc: YamlDocument, problems: list[Problem]) -> None:
    first: dict[str, int] = {}
    for index, item in items:
        check_unique_id(first, item.id, section, index, doc, problems)


def check_unique_id(
    first: dict[str, int], id_: str, section: str, index: int, doc: YamlDocument, problems: list[Problem]
) -> None:
    """A problem when an earlier item of `section` has the id of `section[index]`, else note where it is first."""
    if id_ in first:
        problems.append(
            doc.problem(
                f"{section}[{index}].id",
                "duplicate id '{id}' (also at {other})",
                id=id_,
                other=f"{section}[{first[id_]}]",
            )
        )
    else:
        first[id_] = index


def parse_network(value: str) -> ipaddress.IPv4Network | None:
    """An IPv4 network in strict CIDR form, or None."""
    try:
        net = ipaddress.ip_network(str(value), strict=True)
    except ValueError:
        return None
    return net if isinstance(net, ipaddress.IPv4Network) else None


def _check_clouds(
    clouds: list[tuple[int, CloudSpec]],
    operator_ids: set[str],
    by_id: dict[str, CloudSpec],
    supernet: ipaddress.IPv4Network | None,
    doc: YamlDocument,
    problems: list[Problem],
) -> None:
    provincial = [i for i, c in clouds if c.kind == "provincial"]
    if not provincial and clouds:
        problems.append(doc.problem("clouds", "the province needs one provincial cloud"))
    for i in provincial[1:]:
        problems.append(
            doc.problem(
                f"clouds[{i}].kind",
                "a province has exactly one provincial cloud; another is at {other}",
                other=f"clouds[{provincial[0]}]",
            )
        )
    seen_nets: dict[str, str] = {}
    for i, c in clouds:
        p = f"clouds[{i}]"
        if c.operator and c.operator not in operator_ids:
            problems.append(doc.problem(f"{p}.operator", "unknown operator '{id}'", id=c.operator))
        if c.kind == "industry" and not c.industry:
            problems.append(doc.problem(f"{p}.industry", "an industry cloud needs an industry"))
        if c.kind != "industry" and c.industry:
            problems.append(doc.problem(f"{p}.industry", "only an industry cloud has an industry"))
        if c.kind == "city" and (not c.city or not c.tier):
            problems.append(doc.problem(f"{p}.{'tier' if c.city else 'city'}", "a city cloud needs a city and a tier"))
        if c.kind != "city" and (c.city or c.tier):
            problems.append(
                doc.problem(f"{p}.{'city' if c.city else 'tier'}", "only a city cloud has a city and a tier")
            )
        hosted = c.kind == "city" and c.tier == "hosted"
        if hosted:
            if c.operator:
                problems.append(
                    doc.problem(
                        f"{p}.operator",
                        "a hosted city has no operator of its own: its departments are placed on the host",
                    )
                )
            if not c.host:
                problems.append(doc.problem(f"{p}.host", "a hosted city needs a host: the provincial cloud"))
            elif c.host not in by_id:
                problems.append(doc.problem(f"{p}.host", "unknown cloud '{id}'", id=c.host))
            elif by_id[c.host].kind != "provincial":
                problems.append(
                    doc.problem(
                        f"{p}.host", "the host of a hosted city must be the provincial cloud, not '{id}'", id=c.host
                    )
                )
        else:
            if c.host:
                problems.append(doc.problem(f"{p}.host", "only a hosted city has a host"))
            if not c.operator:
                problems.append(doc.problem(f"{p}.operator", "a {kind} cloud needs an operator", kind=c.kind))
        for j, raw in enumerate(c.networks or []):
            np = f"{p}.networks[{j}]"
            if not c.has_infrastructure:
                problems.append(doc.problem(np, "only a cloud with its own infrastructure has networks"))
                continue
            net = parse_network(raw)
            if net is None:
                problems.append(doc.problem(np, "invalid network {value!r}", value=raw))
            elif supernet is not None and (net.prefixlen != 16 or not net.subnet_of(supernet)):
                problems.append(
                    doc.problem(
                        np, "a cloud network must be a /16 inside the supernet {supernet}", supernet=str(supernet)
                    )
                )
            elif str(net) in seen_nets:
                problems.append(
                    doc.problem(
                        np, "network {cidr} is also declared at {other}", cidr=str(net), other=seen_nets[str(net)]
                    )
                )
            else:
                seen_nets[str(net)] = np


def _check_departments(
    departments: list[tuple[int, DepartmentSpec]],
    clouds: dict[str, CloudSpec],
    doc: YamlDocument,
    problems: list[Problem],
) -> None:
    seen_nets: dict[str, str] = {}
    for i, d in departments:
        p = f"departments[{i}]"
        city = None
        if d.level in ("city", "county"):
            if not d.city:
                problems.append(doc.problem(f"{p}.city", "a {level} department needs a city", level=d.level))
            elif d.city not in clouds:
                problems.append(doc.problem(f"{p}.city", "unknown cloud '{id}'", id=d.city))
            elif clouds[d.city].kind != "city":
                problems.append(doc.problem(f"{p}.city", "'{id}' is not a city cloud", id=d.city))
            else:
                city = clouds[d.city]
        elif d.city:
            problems.append(doc.problem(f"{p}.city", "a provincial department has no city"))
        cloud = clouds.get(d.cloud)
        if cloud is None:
            problems.append(doc.problem(f"{p}.cloud", "unknown cloud '{id}'", id=d.cloud))
        elif d.level == "provincial" and cloud.kind not in ("provincial", "industry"):
            problems.append(
                doc.problem(
                    f"{p}.cloud",
                    "a provincial department is placed on the provincial cloud or an industry cloud, not '{id}'",
                    id=d.cloud,
                )
            )
        elif city is not None:
            expected = city.host if city.tier == "hosted" else city.id
            if d.cloud != expected:
                problems.append(
                    doc.problem(
                        f"{p}.cloud",
                        "a department of {city} is placed on {expected}, not '{id}'",
                        city=city.city or city.id,
                        expected=expected,
                        id=d.cloud,
                    )
                )
        if d.network is not None:
            net = parse_network(d.network)
            if net is None:
                problems.append(doc.problem(f"{p}.network", "invalid network {value!r}", value=d.network))
            elif net.prefixlen != 22:
                problems.append(doc.problem(f"{p}.network", "a department network must be a /22"))
            elif str(net) in seen_nets:
                problems.append(
                    doc.problem(
                        f"{p}.network",
                        "network {cidr} is also declared at {other}",
                        cidr=str(net),
                        other=seen_nets[str(net)],
                    )
                )
            else:
                seen_nets[str(net)] = f"{p}.network"
                if cloud is not None and cloud.networks is not None:
                    nets = [parse_network(n) for n in cloud.networks]
                    if not any(n is not None and net.subnet_of(n) for n in nets):
                        problems.append(
                            doc.problem(
                                f"{p}.network",
                                "network {cidr} is not inside the networks of cloud '{cloud}'",
                                cidr=str(net),
                                cloud=d.cloud,
                            )
                        )
