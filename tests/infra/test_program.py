"""The Pulumi program over the demo province, under Pulumi's own mocks (docs/reference.md#infrastructure-as-code)."""

from __future__ import annotations

import ipaddress
import json
import runpy
from decimal import Decimal
from pathlib import Path

import pulumi
import pytest

from core.errors import InvalidInput
from infra.mocks import ORGANIZATION_ROOT, Declaration, declare_offline
from infra.policy.policies import is_taggable
from infra.program import declare
from infra.tenancy import load_tenancy, stack_cloud
from tenants.formats import TenancySpec

from .conftest import DEMO, REPO, SMALL
from .declared import (
    FOUNDATION,
    LANDING_ZONE,
    ORGANIZATION,
    as_list,
    components,
    counts,
    descendants,
    document,
    grants,
    one,
    short,
)

#: What a department's landing zone declares (docs/reference.md#infrastructure-as-code); a budget only with a vCPU quota.
LANDING_ZONE_DESIGN = {
    "Subnet": 1,
    "SecurityGroup": 1,
    "Bucket": 1,
    "BucketServerSideEncryptionConfiguration": 1,
    "BucketPublicAccessBlock": 1,
    "BucketOwnershipControls": 1,
    "BucketPolicy": 1,
    "Role": 2,
    "RolePolicy": 2,
}
S3_ACTIONS = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:ListBucket",
    "s3:PutBucketPolicy",
    "s3:DeleteBucket",
]


def _home_cloud(spec: TenancySpec, stack: str) -> str:
    return next(c.id for c in spec.clouds if c.kind == "provincial") if stack == "province" else stack


def test_every_stack_of_the_demo_province_builds(demo_spec: TenancySpec, demo_stacks: dict[str, Declaration]) -> None:
    infra_clouds = sorted(c.id for c in demo_spec.clouds if c.has_infrastructure)
    assert list(demo_stacks) == ["province", *infra_clouds]
    assert len(components(demo_stacks["province"], ORGANIZATION)) == 1
    for cloud in infra_clouds:
        declared = demo_stacks[cloud]
        assert list(components(declared, FOUNDATION)) == [cloud]
        active = {d.id for d in demo_spec.departments if d.cloud == cloud and d.status == "active"}
        assert set(components(declared, LANDING_ZONE)) == active


def test_hosted_cities_departments_are_in_the_provincial_clouds_stack(
    demo_spec: TenancySpec, demo_stacks: dict[str, Declaration]
) -> None:
    hosted = {c.id for c in demo_spec.clouds if c.tier == "hosted"}
    assert hosted and not hosted & set(demo_stacks)
    hosted_departments = {d.id for d in demo_spec.departments if d.city in hosted}
    assert hosted_departments
    assert hosted_departments <= set(components(demo_stacks["gd-prov"], LANDING_ZONE))
    for stack, declared in demo_stacks.items():
        if stack != "gd-prov":
            assert not hosted_departments & set(components(declared, LANDING_ZONE))


def test_each_landing_zone_declares_the_designed_resources(
    demo_spec: TenancySpec, demo_stacks: dict[str, Declaration]
) -> None:
    storage = {d.id: bool(d.quota and d.quota.storage_gib) for d in demo_spec.departments}
    with_storage = without_storage = 0
    for declared in demo_stacks.values():
        for name, zone in components(declared, LANDING_ZONE).items():
            expected = dict(LANDING_ZONE_DESIGN)
            # every landing zone has a budget; a storage quota adds a storage budget
            expected["Budget"] = 2 if storage[name] else 1
            with_storage += storage[name]
            without_storage += not storage[name]
            assert counts(descendants(declared, zone)) == expected, name
    assert with_storage and without_storage  # the demo has departments with and without a storage quota


def test_each_cloud_foundation_has_its_network_flow_logs_rotating_key_and_private_log_bucket(
    demo_spec: TenancySpec, demo_stacks: dict[str, Declaration]
) -> None:
    for cloud in (c for c in demo_spec.clouds if c.has_infrastructure):
        declared = demo_stacks[cloud.id]
        family = descendants(declared, components(declared, FOUNDATION)[cloud.id])
        assert one(family, "Vpc").inputs["cidrBlock"] == cloud.networks[0]
        assert sorted(
            r.inputs["cidrBlock"] for r in family if short(r.type) == "VpcIpv4CidrBlockAssociation"
        ) == sorted(cloud.networks[1:])
        assert one(family, "Key").inputs["enableKeyRotation"] is True
        bucket = one(family, "Bucket")
        assert one(family, "BucketVersioning").inputs["versioningConfiguration"]["status"] == "Enabled"
        rule = one(family, "BucketServerSideEncryptionConfiguration").inputs["rules"][0]
        assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "aws:kms"
        assert rule["applyServerSideEncryptionByDefault"]["kmsMasterKeyId"] == one(family, "Key").state["arn"]
        block = one(family, "BucketPublicAccessBlock").inputs
        assert all(
            block[k] is True
            for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
        )
        flow = one(family, "FlowLog").inputs
        assert flow["trafficType"] == "ALL" and flow["logDestination"] == bucket.state["arn"]
        assert one(family, "DefaultSecurityGroup").inputs.get("ingress", []) == []
        assert one(family, "Topic").inputs["kmsMasterKeyId"]


def test_every_taggable_resource_carries_the_province_cloud_and_operator_tags(
    demo_spec: TenancySpec, demo_stacks: dict[str, Declaration]
) -> None:
    operator = {c.id: c.operator for c in demo_spec.clouds}
    checked: set[str] = set()
    for stack, declared in demo_stacks.items():
        home = _home_cloud(demo_spec, stack)
        for r in declared.custom():
            if not is_taggable(r.type):
                continue
            tags = declared.effective_tags(r)
            cloud = tags.get("zhengyun:cloud")
            # an organisational unit of a cloud carries that cloud's tags; everything else its stack's cloud's
            assert cloud == (
                r.name.removesuffix("-cloud")
                if short(r.type) == "OrganizationalUnit" and r.name.endswith("-cloud")
                else home
            ), r.urn
            assert tags.get("zhengyun:province") == demo_spec.province.code, r.urn
            assert tags.get("zhengyun:operator") == operator[cloud], r.urn
            checked.add(short(r.type))
    assert {"Vpc", "Subnet", "Bucket", "Role", "Key", "Budget", "OrganizationalUnit", "Policy"} <= checked


def test_a_departments_taggable_resources_carry_its_department_tag(demo_stacks: dict[str, Declaration]) -> None:
    for declared in demo_stacks.values():
        for name, zone in components(declared, LANDING_ZONE).items():
            taggable = [r for r in descendants(declared, zone) if is_taggable(r.type)]
            assert taggable
            assert all(declared.effective_tags(r).get("zhengyun:department") == name for r in taggable), name


def test_every_resource_is_managed_through_its_clouds_explicit_provider(
    demo_spec: TenancySpec, demo_stacks: dict[str, Declaration]
) -> None:
    for stack, declared in demo_stacks.items():
        cloud = next(c for c in demo_spec.clouds if c.id == _home_cloud(demo_spec, stack))
        providers = declared.providers()
        assert [p.name for p in providers.values()] == [cloud.id]
        assert next(iter(providers.values())).inputs["region"] == cloud.region
        assert all(r.provider_urn in providers for r in declared.custom())


def test_components_parent_their_children_and_register_their_outputs(demo_stacks: dict[str, Declaration]) -> None:
    expected = {
        FOUNDATION: {"account_id", "vpc_id", "key_arn", "log_bucket", "alerts_topic_arn"},
        LANDING_ZONE: {"subnet_id", "security_group_id", "bucket", "admin_role_arn", "reader_role_arn"},
        ORGANIZATION: {"province_unit_id", "kind_unit_ids", "cloud_unit_ids", "policy_ids"},
    }
    for declared in demo_stacks.values():
        by_urn = declared.by_urn()
        for r in declared.custom():
            parent = by_urn.get(r.parent)  # the stack itself is not recorded: nothing hangs off it
            assert parent is not None and (parent.type in expected or parent.custom), r.urn
        for r in declared.resources:
            if r.type in expected:
                assert r.outputs is not None and set(r.outputs) == expected[r.type], r.urn
                assert all(v is not None for v in r.outputs.values()), r.urn


def test_no_two_ranges_in_the_province_overlap_and_each_is_the_allocated_one(
    demo_spec: TenancySpec, demo_stacks: dict[str, Declaration]
) -> None:
    blocks: list[ipaddress.IPv4Network] = []
    subnets: list[ipaddress.IPv4Network] = []
    network_of = {d.id: d.network for d in demo_spec.departments}
    for stack, declared in demo_stacks.items():
        own_blocks = [
            ipaddress.IPv4Network(r.inputs["cidrBlock"])
            for r in declared.custom()
            if short(r.type) in ("Vpc", "VpcIpv4CidrBlockAssociation")
        ]
        if stack != "province":
            assert sorted(map(str, own_blocks)) == sorted(stack_cloud(demo_spec, stack).networks or [])
        blocks += own_blocks
        for name, zone in components(declared, LANDING_ZONE).items():
            subnet = ipaddress.IPv4Network(one(descendants(declared, zone), "Subnet").inputs["cidrBlock"])
            assert str(subnet) == network_of[name]
            assert any(subnet.subnet_of(b) for b in own_blocks), name
            subnets.append(subnet)
    assert len(subnets) == sum(1 for d in demo_spec.departments if d.status == "active")
    for group in (blocks, subnets):
        ordered = sorted(group)
        for a, b in zip(ordered, ordered[1:], strict=False):
            assert not a.overlaps(b), (a, b)
    platform = next(ipaddress.IPv4Network(demo_spec.province.supernet).subnets(new_prefix=16))
    assert not any(b.overlaps(platform) for b in blocks)


def test_a_departments_roles_grant_nothing_on_another_departments_bucket(demo_stacks: dict[str, Declaration]) -> None:
    for declared in demo_stacks.values():
        zones = components(declared, LANDING_ZONE)
        families = {name: descendants(declared, zone) for name, zone in zones.items()}
        buckets = {name: one(family, "Bucket").state["arn"] for name, family in families.items()}
        for name, family in families.items():
            statements = [s for r in family if short(r.type) == "RolePolicy" for s in document(r)["Statement"]]
            assert any(grants(s, action="s3:GetObject", resource=f"{buckets[name]}/report.pdf") for s in statements)
            for other, arn in buckets.items():
                if other == name:
                    continue
                for target in (arn, f"{arn}/report.pdf"):
                    assert not any(grants(s, action=a, resource=target) for s in statements for a in S3_ACTIONS), (
                        name,
                        other,
                    )
            # the shared cloud key decrypts only this department's bucket
            for s in statements:
                if any(a.startswith("kms:") for a in as_list(s["Action"])):
                    contexts = s["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"]
                    assert set(contexts) == {buckets[name], f"{buckets[name]}/*"}, (name, s)
                elif "*" in as_list(s["Resource"]):
                    assert all(a.startswith("ec2:Describe") for a in as_list(s["Action"])), s


def test_only_a_departments_principals_assume_its_roles_and_reach_its_bucket(
    demo_stacks: dict[str, Declaration],
) -> None:
    declared = demo_stacks["gz"]
    for name, zone in components(declared, LANDING_ZONE).items():
        family = descendants(declared, zone)
        for role in (r for r in family if short(r.type) == "Role"):
            trust = document(role, "assumeRolePolicy")["Statement"]
            assert [s["Condition"]["StringEquals"]["aws:PrincipalTag/zhengyun:department"] for s in trust] == [name]
        deny = next(s for s in document(one(family, "BucketPolicy"))["Statement"] if s["Sid"] == "DenyOtherDepartments")
        assert deny["Effect"] == "Deny" and deny["Condition"]["StringNotEquals"] == {
            "aws:PrincipalTag/zhengyun:department": name
        }


def test_a_departments_budget_alerts_at_80_and_100_percent_of_its_vcpu_quota(
    demo_spec: TenancySpec, demo_stacks: dict[str, Declaration]
) -> None:
    quotas = {d.id: d.quota.vcpu for d in demo_spec.departments if d.quota and d.quota.vcpu}
    seen = 0
    for stack, declared in demo_stacks.items():
        if stack == "province":
            continue
        topic = one(descendants(declared, components(declared, FOUNDATION)[stack]), "Topic")
        for name, zone in components(declared, LANDING_ZONE).items():
            budgets = [r for r in descendants(declared, zone) if short(r.type) == "Budget"]
            if name not in quotas:  # other quota kinds: test_every_landing_zone_has_a_budget_whatever_its_quota
                continue
            budget = next(b for b in budgets if b.name == f"{name}-budget").inputs
            assert Decimal(budget["limitAmount"]) == Decimal(quotas[name]) * 8760 / 12
            assert (budget["budgetType"], budget["timeUnit"]) == ("USAGE", "MONTHLY")
            assert sorted(n["threshold"] for n in budget["notifications"]) == [80, 100]
            assert all(n["subscriberSnsTopicArns"] == [topic.state["arn"]] for n in budget["notifications"])
            assert {"name": "TagKeyValue", "values": [f"user:zhengyun:department${name}"]} in budget["costFilters"]
            seen += 1
    assert seen == len([d for d in demo_spec.departments if d.id in quotas and d.status == "active"])


def test_the_province_stack_holds_the_hierarchy_and_the_guardrails(
    demo_spec: TenancySpec, demo_stacks: dict[str, Declaration]
) -> None:
    declared = demo_stacks["province"]
    units = {r.name: r for r in declared.custom() if short(r.type) == "OrganizationalUnit"}
    province = units["gd-province"]
    assert province.inputs["parentId"] == ORGANIZATION_ROOT
    kinds = {c.kind for c in demo_spec.clouds if c.has_infrastructure}
    assert {n for n in units if units[n].inputs["parentId"] == f"{province.name}-id"} == {f"gd-{k}" for k in kinds}
    for cloud in (c for c in demo_spec.clouds if c.has_infrastructure):
        assert units[f"{cloud.id}-cloud"].inputs["parentId"] == f"gd-{cloud.kind}-id"
    policies = {r.name: r for r in declared.custom() if short(r.type) == "Policy"}
    tag_policy = json.loads(policies["gd-tags"].inputs["content"])["tags"]
    assert tag_policy["zhengyun:province"]["tag_value"]["@@assign"] == ["gd"]
    assert set(tag_policy["zhengyun:cloud"]["tag_value"]["@@assign"]) == {
        c.id for c in demo_spec.clouds if c.has_infrastructure
    }
    assert "zhengyun:operator" in tag_policy and "zhengyun:department" in tag_policy
    scps = {
        n: json.loads(p.inputs["content"]) for n, p in policies.items() if p.inputs["type"] == "SERVICE_CONTROL_POLICY"
    }
    assert {"gd-require-tags", "gd-protect-baseline", "gd-require-encryption", "gd-region-lock"} <= set(scps)
    assert all(len(p.inputs["content"]) <= 5120 for p in policies.values())  # the SCP size limit
    required = {k for s in scps["gd-require-tags"]["Statement"] for k in s.get("Condition", {}).get("Null", {})}
    assert required == {f"aws:RequestTag/zhengyun:{k}" for k in ("province", "cloud", "operator")}
    regions = scps["gd-region-lock"]["Statement"][0]["Condition"]["StringNotEquals"]["aws:RequestedRegion"]
    assert set(regions) == {c.region for c in demo_spec.clouds if c.has_infrastructure}
    attachments = [r for r in declared.custom() if short(r.type) == "PolicyAttachment"]
    assert sorted(a.inputs["policyId"] for a in attachments) == sorted(f"{n}-id" for n in policies)
    assert all(a.inputs["targetId"] == f"{province.name}-id" for a in attachments)


def test_adding_a_department_touches_no_other_resource(demo_export: Path, grown_demo_export: Path) -> None:
    before = declare_offline(lambda: declare(load_tenancy(demo_export), "zh"), stack="zh").by_urn()
    grown = load_tenancy(grown_demo_export)
    after = declare_offline(lambda: declare(grown, "zh"), stack="zh").by_urn()
    assert set(before) < set(after)
    assert all(after[urn].inputs == r.inputs for urn, r in before.items() if r.custom)
    added = [after[urn] for urn in set(after) - set(before)]
    assert {r.name.startswith("zh-aaa-new") for r in added} == {True}
    new_network = next(d.network for d in grown.departments if d.id == "zh-aaa-new")
    old_networks = {r.inputs["cidrBlock"] for r in before.values() if short(r.type) == "Subnet"}
    assert new_network not in old_networks
    assert ipaddress.IPv4Network(new_network) > max(ipaddress.IPv4Network(n) for n in old_networks)


def test_a_tenancy_file_without_ranges_is_refused_with_how_to_get_one() -> None:
    with pytest.raises(InvalidInput) as caught:
        load_tenancy(DEMO)
    assert "zhengyun tenants export" in caught.value.message and str(DEMO) in caught.value.message
    assert any(p.path == "clouds[0].networks" for p in caught.value.problems)


@pytest.mark.parametrize("stack,expected", [("sw", "hosted on 'gd-prov'"), ("nowhere", "unknown stack 'nowhere'")])
def test_a_stack_of_a_hosted_or_unknown_cloud_is_refused(demo_spec: TenancySpec, stack: str, expected: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        declare_offline(lambda: declare(demo_spec, stack), stack=stack)
    assert expected in caught.value.message


def test_an_aws_compatible_cloud_gets_its_endpoint_and_a_cloud_without_region_the_stacks(
    export_registry, tmp_path: Path
) -> None:
    endpoint = "http://127.0.0.1:4566"
    small = tmp_path / "tenancy.yaml"
    small.write_text(
        SMALL.read_text(encoding="utf-8").replace(
            "tier: autonomous, name: 广州市政务云, operator: gzops}",
            f"tier: autonomous, name: 广州市政务云, operator: gzops, endpoint: '{endpoint}', region: gz-1}}",
        ),
        encoding="utf-8",
    )
    spec = load_tenancy(export_registry(small))
    gz = declare_offline(lambda: declare(spec, "gz"), stack="gz")
    provider = next(iter(gz.providers().values())).inputs
    endpoints = json.loads(provider["endpoints"])[0]
    assert {endpoints[s] for s in ("s3", "ec2", "iam", "kms", "sts", "sns", "budgets")} == {endpoint}
    assert json.loads(provider["skipCredentialsValidation"]) is True and provider["region"] == "gz-1"
    with pytest.raises(InvalidInput, match="has no region"):
        declare_offline(lambda: declare(spec, "gd-prov"), stack="gd-prov")
    prov = declare_offline(lambda: declare(spec, "gd-prov", default_region="cn-south-1"), stack="gd-prov")
    provider = next(iter(prov.providers().values())).inputs
    assert provider["region"] == "cn-south-1" and "endpoints" not in provider


def test_the_projects_entry_point_declares_the_stack_its_configuration_names(demo_export: Path) -> None:
    pulumi.runtime.set_all_config({"zhengyun:tenancy": str(demo_export), "zhengyun:cloud": "zq"})
    try:
        declared = declare_offline(lambda: runpy.run_path(str(REPO / "infra" / "__main__.py")), stack="zq")
    finally:
        pulumi.runtime.set_all_config({})
    assert list(components(declared, FOUNDATION)) == ["zq"]
    assert components(declared, LANDING_ZONE)


QUOTA_KINDS = """province: {code: gd, name: 广东省}
operators:
  - {id: dgcloud, name: 数字广东}
clouds:
  - {id: gd-prov, kind: provincial, name: 省政务云, operator: dgcloud, region: cn-south-1}
departments:
  - {id: q-all, name: 甲, level: provincial, cloud: gd-prov, quota: {vcpu: 8, memory_gib: 64, storage_gib: 500}}
  - {id: q-memory, name: 乙, level: provincial, cloud: gd-prov, quota: {memory_gib: 30}}
  - {id: q-none, name: 丙, level: provincial, cloud: gd-prov}
  - {id: q-storage, name: 丁, level: provincial, cloud: gd-prov, quota: {storage_gib: 2048}}
  - {id: q-vcpu, name: 戊, level: provincial, cloud: gd-prov, quota: {vcpu: 4}}
  - {id: q-zero, name: 己, level: provincial, cloud: gd-prov, quota: {vcpu: 0}}
"""


def test_every_landing_zone_has_a_budget_whatever_its_quota(export_registry, tmp_path: Path) -> None:
    # docs/infra.md: vCPU quota -> running hours; memory only -> running hours at 4 GiB per vCPU;
    # storage -> S3 Standard GB-months; no quota -> the department's tagged monthly cost.
    source = tmp_path / "quotas.yaml"
    source.write_text(QUOTA_KINDS, encoding="utf-8")
    spec = load_tenancy(export_registry(source))
    declared = declare_offline(lambda: declare(spec, "gd-prov"), stack="gd-prov")
    topic = one(descendants(declared, components(declared, FOUNDATION)["gd-prov"]), "Topic")
    found: dict[str, dict[str, tuple[str, str, str, list[str]]]] = {}
    for name, zone in components(declared, LANDING_ZONE).items():
        for b in (r for r in descendants(declared, zone) if short(r.type) == "Budget"):
            filters = {f["name"]: f["values"] for f in b.inputs["costFilters"]}
            assert filters["TagKeyValue"] == [f"user:zhengyun:department${name}"]
            assert sorted(n["threshold"] for n in b.inputs["notifications"]) == [80, 100]
            assert all(n["subscriberSnsTopicArns"] == [topic.state["arn"]] for n in b.inputs["notifications"])
            assert b.inputs["timeUnit"] == "MONTHLY"
            found.setdefault(name, {})[b.name] = (
                b.inputs["budgetType"],
                b.inputs["limitUnit"],
                b.inputs["limitAmount"],
                filters.get("UsageTypeGroup", []),
            )
    hours, storage = ["EC2: Running Hours"], ["S3: Storage - Standard"]
    assert found == {
        "q-all": {
            "q-all-budget": ("USAGE", "Hrs", "5840", hours),
            "q-all-storage-budget": ("USAGE", "GB-Mo", "500", storage),
        },
        "q-memory": {"q-memory-budget": ("USAGE", "Hrs", "5840", hours)},  # 30 GiB: 8 vCPUs at 4 GiB each
        "q-none": {"q-none-budget": ("COST", "USD", "1000", [])},
        "q-storage": {"q-storage-budget": ("USAGE", "GB-Mo", "2048", storage)},
        "q-vcpu": {"q-vcpu-budget": ("USAGE", "Hrs", "2920", hours)},
        "q-zero": {"q-zero-budget": ("COST", "USD", "1000", [])},  # a zero quota: watched like no quota
    }
