"""The tenancy file as the Pulumi program sees it: validated, with its allocated ranges, split into stacks.

Nothing here imports Pulumi, so `zhengyun infra` can check a stack before it loads the SDK.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import InvalidInput, problem, rejected
from core.i18n import register
from tenants.formats import CloudSpec, DepartmentSpec, TenancySpec, parse_tenancy

#: The stack that holds the hierarchy and the guardrails; every other stack is named after its cloud.
PROVINCE_STACK = "province"

#: Tag keys every taggable resource carries (docs/reference.md#infrastructure-as-code); the metering collectors read them.
TAG_PROVINCE = "zhengyun:province"
TAG_CLOUD = "zhengyun:cloud"
TAG_OPERATOR = "zhengyun:operator"
TAG_DEPARTMENT = "zhengyun:department"
BASE_TAGS = (TAG_PROVINCE, TAG_CLOUD, TAG_OPERATOR)

register(
    {
        "{file} carries no allocated network ranges ({where}): write it with `zhengyun tenants export`": "{file} 不含已分配的网段（{where}）：请用 `zhengyun tenants export` 导出租户文件",
        "unknown stack '{stack}': use 'province' or the id of a cloud with its own infrastructure ({clouds})": "未知的栈“{stack}”：请使用 province 或自有基础设施的云 id（{clouds}）",
        "cloud '{cloud}' is hosted on '{host}': its departments are declared in the stack '{host}'": "云“{cloud}”托管在“{host}”上：其部门在栈“{host}”中声明",
        "cloud '{cloud}' ({kind}) has no infrastructure of its own, so it has no stack": "云“{cloud}”（{kind}）没有自有基础设施，因此没有对应的栈",
        "cloud '{cloud}' has no region: set `region` in the registry or `aws:region` in the stack configuration": "云“{cloud}”没有区域：请在登记信息中填写 region，或在栈配置中设置 aws:region",
        "missing allocated network range": "缺少已分配的网段",
    }
)


def load_tenancy(path: str | Path) -> TenancySpec:
    """Read an exported tenancy file; refuse one without allocated ranges (not from `tenants export`)."""
    spec, problems = parse_tenancy(path)
    if spec is None:
        raise rejected(problems)
    missing = [
        f"clouds[{spec.cloud_index[c.id]}].networks" for c in spec.clouds if c.has_infrastructure and not c.networks
    ]
    infra = {c.id for c in spec.clouds if c.has_infrastructure}
    missing += [
        f"departments[{spec.department_index[d.id]}].network"
        for d in spec.departments
        if d.cloud in infra and not d.network
    ]
    if missing:
        where = ", ".join(missing[:3]) + (", …" if len(missing) > 3 else "")
        raise InvalidInput(
            "{file} carries no allocated network ranges ({where}): write it with `zhengyun tenants export`",
            problems=[problem("missing allocated network range", file=str(path), path=p) for p in missing],
            file=str(path),
            where=where,
        )
    return spec


def stack_names(spec: TenancySpec) -> list[str]:
    """Every stack of the province: `province`, then each cloud with its own infrastructure by id."""
    return [PROVINCE_STACK] + sorted(c.id for c in spec.clouds if c.has_infrastructure)


def stack_cloud(spec: TenancySpec, stack: str) -> CloudSpec:
    """The cloud a (non-province) stack declares; a clear error for hosted, external or unknown clouds."""
    cloud = spec.cloud(stack)
    if cloud is None:
        raise InvalidInput(
            "unknown stack '{stack}': use 'province' or the id of a cloud with its own infrastructure ({clouds})",
            stack=stack,
            clouds=", ".join(stack_names(spec)[1:]),
        )
    if cloud.kind == "city" and cloud.tier == "hosted":
        raise InvalidInput(
            "cloud '{cloud}' is hosted on '{host}': its departments are declared in the stack '{host}'",
            cloud=cloud.id,
            host=cloud.host,
        )
    if not cloud.has_infrastructure:
        raise InvalidInput(
            "cloud '{cloud}' ({kind}) has no infrastructure of its own, so it has no stack",
            cloud=cloud.id,
            kind=cloud.kind,
        )
    return cloud


def check_stack(spec: TenancySpec, stack: str) -> None:
    """Raise unless `stack` is `province` or a cloud with its own infrastructure."""
    if stack != PROVINCE_STACK:
        stack_cloud(spec, stack)


def provincial_cloud(spec: TenancySpec) -> CloudSpec:
    """The one provincial cloud (the validated file always has it)."""
    return next(c for c in spec.clouds if c.kind == "provincial")


def departments_of(spec: TenancySpec, cloud_id: str) -> list[DepartmentSpec]:
    """Active departments placed on a cloud (hosted cities' departments are on their host), by id."""
    return sorted((d for d in spec.departments if d.cloud == cloud_id and d.status == "active"), key=lambda d: d.id)


@dataclass(frozen=True)
class CloudTags:
    """The base tags of a cloud's resources."""

    province: str
    cloud: str
    operator: str

    def as_dict(self) -> dict[str, str]:
        """`zhengyun:province`, `zhengyun:cloud`, `zhengyun:operator`."""
        return {TAG_PROVINCE: self.province, TAG_CLOUD: self.cloud, TAG_OPERATOR: self.operator}


def cloud_tags(spec: TenancySpec, cloud: CloudSpec) -> CloudTags:
    """The base tags of a cloud with its own infrastructure."""
    return CloudTags(province=spec.province.code, cloud=cloud.id, operator=cloud.operator or "")


def cloud_region(cloud: CloudSpec, default: str | None) -> str:
    """The cloud's region from the registry, else the stack's `aws:region`."""
    region = cloud.region or default
    if not region:
        raise InvalidInput(
            "cloud '{cloud}' has no region: set `region` in the registry or `aws:region` in the stack configuration",
            cloud=cloud.id,
        )
    return region
