"""Reading what a stack declared under the mocks: families of resources, policy documents."""

from __future__ import annotations

import fnmatch
import json
from collections import Counter
from typing import Any

from infra.mocks import Declaration, Declared

LANDING_ZONE = "zhengyun:infra:DepartmentLandingZone"
FOUNDATION = "zhengyun:infra:CloudFoundation"
ORGANIZATION = "zhengyun:infra:ProvinceOrganization"


def short(type_token: str) -> str:
    """`aws:s3/bucket:Bucket` -> `Bucket`."""
    return type_token.rsplit(":", 1)[-1]


def components(declaration: Declaration, type_token: str) -> dict[str, Declared]:
    """Components of one type by name."""
    return {r.name: r for r in declaration.resources if r.type == type_token}


def descendants(declaration: Declaration, ancestor: Declared) -> list[Declared]:
    """Every resource whose parent chain reaches `ancestor`."""
    by_urn = declaration.by_urn()
    found = []
    for r in declaration.resources:
        parent = r.parent
        while parent and parent in by_urn:
            if parent == ancestor.urn:
                found.append(r)
                break
            parent = by_urn[parent].parent
    return found


def counts(resources: list[Declared]) -> Counter[str]:
    """How many resources of each (short) type."""
    return Counter(short(r.type) for r in resources if r.custom)


def one(resources: list[Declared], type_name: str) -> Declared:
    """The single resource of a (short) type."""
    found = [r for r in resources if short(r.type) == type_name]
    assert len(found) == 1, (type_name, [r.name for r in found])
    return found[0]


def document(resource: Declared, key: str = "policy") -> dict[str, Any]:
    """A policy document input, parsed."""
    return json.loads(resource.inputs[key])


def as_list(value: Any) -> list[str]:
    """A statement's Action or Resource as a list."""
    return [value] if isinstance(value, str) else list(value or [])


def grants(statement: dict[str, Any], *, action: str, resource: str) -> bool:
    """Whether an Allow statement covers an action on a resource (wildcards as IAM reads them)."""
    if statement.get("Effect") != "Allow":
        return False
    actions = as_list(statement.get("Action"))
    resources = as_list(statement.get("Resource"))
    return any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions) and any(
        fnmatch.fnmatchcase(resource, r) for r in resources
    )
