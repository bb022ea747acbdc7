"""The policy pack's validators, called directly with a passing and a failing resource each; then every
policy over everything the demo province declares (the pack itself runs only under the Pulumi CLI)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from infra.mocks import Declaration
from infra.policy import policies
from infra.policy.policies import (
    POLICIES,
    validate_buckets_encrypted,
    validate_buckets_private,
    validate_encryption_at_rest,
    validate_no_open_ingress,
    validate_public_access_blocked,
    validate_ranges_in_allocation,
    validate_required_tags,
)
from tenants.formats import TenancySpec

BASE = {"zhengyun:province": "gd", "zhengyun:cloud": "gd-prov", "zhengyun:operator": "dgcloud"}
BUCKET = "aws:s3/bucket:Bucket"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
PAB = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SG = "aws:ec2/securityGroup:SecurityGroup"
ZONE_URN = "urn:pulumi:gd-prov::zhengyun::zhengyun:infra:DepartmentLandingZone${type}::{name}"


def _opts(parent: str | None = None) -> PolicyResourceOptions:
    return PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def _provider(tags: dict[str, str] | None) -> PolicyProviderResource | None:
    if tags is None:
        return None
    return PolicyProviderResource(
        "pulumi:providers:aws",
        {"defaultTags": json.dumps({"tags": tags})},
        "urn:pulumi:gd-prov::zhengyun::pulumi:providers:aws::gd-prov",
        "gd-prov",
    )


def resource(
    type_: str,
    props: dict[str, Any],
    *,
    name: str = "r",
    urn: str | None = None,
    provider_tags: dict[str, str] | None = None,
    config: dict[str, Any] | None = None,
    parent: str | None = None,
) -> ResourceValidationArgs:
    """A resource as the policy engine hands it to a validator."""
    return ResourceValidationArgs(
        type_,
        props,
        urn or f"urn:pulumi:gd-prov::zhengyun::{type_}::{name}",
        name,
        _opts(parent),
        _provider(provider_tags),
        config,
    )


def violations(validate: Callable[[Any, Any], None], args: Any) -> list[str]:
    """The messages a validator reports."""
    found: list[str] = []
    validate(args, lambda message, urn=None: found.append(message))
    return found


def stack(*resources: tuple[str, str, str | None]) -> StackValidationArgs:
    """A stack of (type, name, parent name) resources, linked as the engine links them."""
    made: dict[str, PolicyResource] = {}
    for type_, name, parent in resources:
        made[name] = PolicyResource(type_, {}, f"urn:{name}", name, _opts(), None, made.get(parent or ""), [], {})
    return StackValidationArgs(list(made.values()))


# ---------------------------------------------------------------------------- tags


def test_required_tags_pass_with_the_providers_default_tags_and_fail_without_the_operator() -> None:
    assert violations(validate_required_tags, resource(BUCKET, {}, provider_tags=BASE)) == []
    missing = {k: v for k, v in BASE.items() if k != "zhengyun:operator"}
    found = violations(validate_required_tags, resource(BUCKET, {"tags": missing}))
    assert len(found) == 1 and "zhengyun:operator" in found[0]


def test_a_landing_zones_resources_need_the_department_tag_too() -> None:
    urn = ZONE_URN.format(type=BUCKET, name="gd-edu-data")
    assert (
        violations(
            validate_required_tags,
            resource(BUCKET, {"tags": {"zhengyun:department": "gd-edu"}}, urn=urn, provider_tags=BASE),
        )
        == []
    )
    found = violations(validate_required_tags, resource(BUCKET, {}, urn=urn, provider_tags=BASE))
    assert len(found) == 1 and "zhengyun:department" in found[0]


def test_resources_that_take_no_tags_are_not_asked_for_them() -> None:
    assert policies.is_taggable(BUCKET) and not policies.is_taggable("aws:iam/rolePolicy:RolePolicy")
    assert violations(validate_required_tags, resource("aws:iam/rolePolicy:RolePolicy", {"policy": "{}"})) == []


# ---------------------------------------------------------------------------- encryption


@pytest.mark.parametrize(
    "type_,good,bad",
    [
        ("aws:kms/key:Key", {"enableKeyRotation": True}, {"enableKeyRotation": False}),
        ("aws:sns/topic:Topic", {"kmsMasterKeyId": "key-1"}, {}),
        ("aws:ec2/volume:Volume", {"encrypted": True}, {"encrypted": False}),
        (
            SSE,
            {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]},
            {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "none"}}]},
        ),
    ],
)
def test_encryption_at_rest(type_: str, good: dict[str, Any], bad: dict[str, Any]) -> None:
    assert violations(validate_encryption_at_rest, resource(type_, good)) == []
    assert len(violations(validate_encryption_at_rest, resource(type_, bad))) == 1


def test_every_bucket_needs_an_encryption_configuration() -> None:
    assert violations(validate_buckets_encrypted, stack((BUCKET, "b", None), (SSE, "b-sse", "b"))) == []
    found = violations(validate_buckets_encrypted, stack((BUCKET, "b", None), (SSE, "c-sse", None)))
    assert found == ["bucket 'b' has no server-side encryption configuration"]


# ---------------------------------------------------------------------------- public access


def test_a_public_access_block_must_block_everything() -> None:
    flags = dict.fromkeys(policies.PUBLIC_ACCESS_FLAGS, True)
    assert violations(validate_public_access_blocked, resource(PAB, flags)) == []
    found = violations(validate_public_access_blocked, resource(PAB, {**flags, "restrictPublicBuckets": False}))
    assert len(found) == 1 and "restrictPublicBuckets" in found[0]


def test_public_acls_and_policies_allowing_everyone_are_refused() -> None:
    assert (
        violations(validate_public_access_blocked, resource("aws:s3/bucketAclV2:BucketAclV2", {"acl": "private"})) == []
    )
    assert violations(
        validate_public_access_blocked, resource("aws:s3/bucketAclV2:BucketAclV2", {"acl": "public-read"})
    )
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    allow = {"Sid": "Open", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}
    policy = "aws:s3/bucketPolicy:BucketPolicy"
    assert (
        violations(validate_public_access_blocked, resource(policy, {"policy": json.dumps({"Statement": [deny]})}))
        == []
    )
    assert (
        len(
            violations(
                validate_public_access_blocked, resource(policy, {"policy": json.dumps({"Statement": [deny, allow]})})
            )
        )
        == 1
    )


def test_every_bucket_needs_a_public_access_block() -> None:
    assert violations(validate_buckets_private, stack((BUCKET, "b", None), (PAB, "b-pab", "b"))) == []
    assert violations(validate_buckets_private, stack((BUCKET, "b", None))) == ["bucket 'b' has no public-access block"]


# ---------------------------------------------------------------------------- ingress


def test_no_ingress_from_everywhere() -> None:
    own = {
        "ingress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["10.1.4.0/22"]}],
        "egress": [{"protocol": "-1", "fromPort": 0, "toPort": 0, "cidrBlocks": ["0.0.0.0/0"]}],
    }
    assert violations(validate_no_open_ingress, resource(SG, own)) == []
    opened = {"ingress": [{"protocol": "tcp", "fromPort": 22, "toPort": 22, "cidrBlocks": ["0.0.0.0/0"]}]}
    assert len(violations(validate_no_open_ingress, resource(SG, opened))) == 1
    rule = "aws:ec2/securityGroupRule:SecurityGroupRule"
    assert violations(validate_no_open_ingress, resource(rule, {"type": "egress", "cidrBlocks": ["0.0.0.0/0"]})) == []
    assert violations(validate_no_open_ingress, resource(rule, {"type": "ingress", "ipv6CidrBlocks": ["::/0"]}))
    vpc_rule = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    assert violations(validate_no_open_ingress, resource(vpc_rule, {"cidrIpv4": "0.0.0.0/0"}))


# ---------------------------------------------------------------------------- ranges


def test_a_vpc_block_must_be_one_allocated_to_its_cloud(demo_export: Path, demo_spec: TenancySpec) -> None:
    config = {"tenancy": str(demo_export)}
    prov = next(c for c in demo_spec.clouds if c.id == "gd-prov")
    gz = next(c for c in demo_spec.clouds if c.id == "gz")
    vpc = "aws:ec2/vpc:Vpc"
    assert (
        violations(
            validate_ranges_in_allocation,
            resource(vpc, {"cidrBlock": prov.networks[0]}, provider_tags=BASE, config=config),
        )
        == []
    )
    found = violations(
        validate_ranges_in_allocation, resource(vpc, {"cidrBlock": gz.networks[0]}, provider_tags=BASE, config=config)
    )
    assert len(found) == 1 and gz.networks[0] in found[0]


def test_a_subnet_must_lie_inside_its_departments_allocated_range(demo_export: Path, demo_spec: TenancySpec) -> None:
    config = {"tenancy": str(demo_export)}
    edu = next(d for d in demo_spec.departments if d.id == "gd-edu")
    other = next(d for d in demo_spec.departments if d.cloud == "gd-prov" and d.id != "gd-edu")
    subnet = "aws:ec2/subnet:Subnet"
    tags = {"tags": {"zhengyun:department": "gd-edu"}}
    assert (
        violations(
            validate_ranges_in_allocation,
            resource(subnet, {"cidrBlock": edu.network, **tags}, provider_tags=BASE, config=config),
        )
        == []
    )
    found = violations(
        validate_ranges_in_allocation,
        resource(subnet, {"cidrBlock": other.network, **tags}, provider_tags=BASE, config=config),
    )
    assert len(found) == 1 and f"outside {edu.network}" in found[0]


def test_ranges_cannot_be_checked_without_the_tenancy_file() -> None:
    found = violations(validate_ranges_in_allocation, resource("aws:ec2/vpc:Vpc", {"cidrBlock": "10.1.0.0/16"}))
    assert len(found) == 1 and "zhengyun tenants export" in found[0]


# ---------------------------------------------------------------------------- the demo province


def _policy_view(
    declared: Declaration, config: dict[str, Any]
) -> tuple[list[ResourceValidationArgs], StackValidationArgs]:
    """What the engine would hand the pack for a stack: each resource, and the linked stack."""
    providers = {
        urn: PolicyProviderResource(p.type, p.inputs, p.urn, p.name) for urn, p in declared.providers().items()
    }
    args = [
        ResourceValidationArgs(r.type, r.inputs, r.urn, r.name, _opts(r.parent), providers.get(r.provider_urn), config)
        for r in declared.custom()
    ]
    linked: dict[str, PolicyResource] = {}
    for r in declared.resources:  # parents are registered before their children
        linked[r.urn] = PolicyResource(
            r.type,
            r.inputs,
            r.urn,
            r.name,
            _opts(r.parent),
            providers.get(r.provider_urn),
            linked.get(r.parent),
            [],
            {},
        )
    return args, StackValidationArgs(list(linked.values()), config)


def test_everything_the_demo_province_declares_passes_every_policy(
    demo_export: Path, demo_stacks: dict[str, Declaration]
) -> None:
    config = {"tenancy": str(demo_export)}
    checked = 0
    for declared in demo_stacks.values():
        resources, whole = _policy_view(declared, config)
        found: list[str] = []

        def report(message: str, urn: str | None = None, *, where: str = "", found: list[str] = found) -> None:
            found.append(f"{urn or where}: {message}")

        for policy in POLICIES:
            if isinstance(policy, ResourceValidationPolicy):
                for args in resources:
                    policy.validate(args, lambda message, urn=None, a=args: report(message, where=a.urn))
                    checked += 1
            else:
                assert isinstance(policy, StackValidationPolicy)
                policy.validate(whole, report)
        assert found == [], found[:5]
    assert checked > 1000
