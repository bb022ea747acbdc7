"""The zhengyun policy pack's policies (docs/reference.md#infrastructure-as-code): tags, encryption, no public access, no open ingress,
ranges inside the allocation.

Each validator is a plain function `(args, report_violation)` so tests call it directly with a
passing and a failing resource; `__main__.py` serves them to the Pulumi CLI as a policy pack.
Properties arrive with their engine names (camelCase). A resource's base tags may come from its
provider's default tags, so the tags checked are the provider's `defaultTags`, then `tagsAll`, then
the resource's own `tags`.
"""

from __future__ import annotations

import importlib
import inspect
import ipaddress
import json
from collections.abc import Callable, Iterable, Mapping
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from core.i18n import register, t
from infra.tenancy import BASE_TAGS, TAG_CLOUD, TAG_DEPARTMENT, load_tenancy

LANDING_ZONE = "zhengyun:infra:DepartmentLandingZone"
BUCKET_TYPES = {"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2"}
ENCRYPTION_TYPES = {
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2",
}
PUBLIC_ACCESS_TYPES = {"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"}
ACL_TYPES = {"aws:s3/bucketAclV2:BucketAclV2", "aws:s3/bucketAcl:BucketAcl"}
PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
SSE_ALGORITHMS = {"aws:kms", "aws:kms:dsse", "AES256"}
OPEN = {"0.0.0.0/0", "::/0"}

Validator = Callable[[Any, ReportViolation], None]

MISSING_TAGS = (
    "{type} '{name}' lacks the tags {tags}; the metering collectors and the organisation's tag policy need them"
)
NO_TENANCY = (
    "ranges cannot be checked: set this policy's `tenancy` configuration to the file written by "
    "`zhengyun tenants export`"
)

register(
    {
        MISSING_TAGS: "{type}“{name}”缺少标签 {tags}；计量采集和组织的标签策略都依赖这些标签",
        "a KMS key must have automatic rotation enabled (enableKeyRotation: true)": "KMS 密钥必须开启自动轮换（enableKeyRotation: true）",
        "an SNS topic must be encrypted with a KMS key (kmsMasterKeyId)": "SNS 主题必须使用 KMS 密钥加密（kmsMasterKeyId）",
        "a log group must be encrypted with a KMS key (kmsKeyId)": "日志组必须使用 KMS 密钥加密（kmsKeyId）",
        "an EBS volume must be encrypted (encrypted: true)": "EBS 卷必须加密（encrypted: true）",
        "bucket encryption must use one of {allowed}, not {algorithms}": "存储桶加密必须使用 {allowed} 之一，而不是 {algorithms}",
        "bucket '{name}' has no server-side encryption configuration": "存储桶“{name}”没有服务端加密配置",
        "the public-access block must set {flags} to true": "公共访问阻止必须将 {flags} 设为 true",
        "bucket ACL '{acl}' makes it public": "存储桶 ACL“{acl}”会使其公开",
        "bucket policy statement '{sid}' allows everyone": "存储桶策略语句“{sid}”允许任何人访问",
        "bucket '{name}' has no public-access block": "存储桶“{name}”没有公共访问阻止",
        "ingress from {sources} is not allowed: admit only the ranges that need access": "不允许来自 {sources} 的入站流量：只放行需要访问的网段",
        NO_TENANCY: "无法检查网段：请将本策略的 `tenancy` 配置设为 `zhengyun tenants export` 导出的文件",
        "subnet {cidr} belongs to no department with an allocated range ({tag}: '{department}')": "子网 {cidr} 不属于任何已分配网段的部门（{tag}: “{department}”）",
        "subnet {cidr} is outside {allocated}, the range allocated to {department}": "子网 {cidr} 不在分配给 {department} 的网段 {allocated} 内",
        "network {cidr} is not a block allocated to cloud '{cloud}' ({blocks})": "网段 {cidr} 不是分配给云“{cloud}”的地址块（{blocks}）",
    }
)


# ---------------------------------------------------------------------------- helpers


@cache
def is_taggable(resource_type: str) -> bool:
    """Whether a pulumi-aws resource type takes `tags` (read from the installed SDK's class)."""
    package, _, rest = resource_type.partition(":")
    if package != "aws" or "/" not in rest:
        return False
    module, class_name = rest.split("/", 1)[0], rest.rsplit(":", 1)[-1]
    try:
        cls = getattr(importlib.import_module(f"pulumi_aws.{module}"), class_name)
    except (ImportError, AttributeError):
        return False
    return "tags" in inspect.signature(cls._internal_init).parameters


def _mapping(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, Mapping) else {}


def effective_tags(props: Mapping[str, Any], provider: Any = None) -> dict[str, str]:
    """The provider's default tags overlaid with `tagsAll` and the resource's own `tags`."""
    tags: dict[str, str] = {}
    if provider is not None:
        tags.update(_mapping(_mapping(provider.props.get("defaultTags")).get("tags")))
    tags.update(_mapping(props.get("tagsAll")))
    tags.update(_mapping(props.get("tags")))
    return tags


def _in_landing_zone(args: ResourceValidationArgs) -> bool:
    """Whether the resource is declared inside a department's landing zone (its URN type chain says so)."""
    parts = args.urn.split("::")
    return len(parts) >= 4 and LANDING_ZONE in parts[2]


def _children(resource: Any, resources: Iterable[Any], types: set[str]) -> list[Any]:
    """Resources of `types` that belong to `resource`: parented to it or depending on it through `bucket`."""
    found = []
    for r in resources:
        if r.resource_type not in types:
            continue
        linked = r.parent is resource or any(d is resource for d in r.property_dependencies.get("bucket", []))
        if linked:
            found.append(r)
    return found


# ---------------------------------------------------------------------------- tags


def validate_required_tags(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Taggable resources carry the base tags; a landing zone's resources also `zhengyun:department`."""
    if not is_taggable(args.resource_type):
        return
    tags = effective_tags(args.props, args.provider)
    required = list(BASE_TAGS) + ([TAG_DEPARTMENT] if _in_landing_zone(args) else [])
    missing = [k for k in required if not tags.get(k)]
    if missing:
        report_violation(t(MISSING_TAGS, type=args.resource_type, name=args.name, tags=", ".join(missing)), None)


# ---------------------------------------------------------------------------- encryption


def validate_encryption_at_rest(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Keys rotate; topics, log groups, volumes and bucket encryption settings use encryption."""
    kind, p = args.resource_type, args.props
    if kind == "aws:kms/key:Key" and p.get("enableKeyRotation") is not True:
        report_violation(t("a KMS key must have automatic rotation enabled (enableKeyRotation: true)"), None)
    elif kind == "aws:sns/topic:Topic" and not p.get("kmsMasterKeyId"):
        report_violation(t("an SNS topic must be encrypted with a KMS key (kmsMasterKeyId)"), None)
    elif kind == "aws:cloudwatch/logGroup:LogGroup" and not p.get("kmsKeyId"):
        report_violation(t("a log group must be encrypted with a KMS key (kmsKeyId)"), None)
    elif kind == "aws:ec2/volume:Volume" and p.get("encrypted") is not True:
        report_violation(t("an EBS volume must be encrypted (encrypted: true)"), None)
    elif kind in ENCRYPTION_TYPES:
        rules = p.get("rules") or []
        algorithms = [(r.get("applyServerSideEncryptionByDefault") or {}).get("sseAlgorithm") for r in rules]
        if not algorithms or any(a not in SSE_ALGORITHMS for a in algorithms):
            report_violation(
                t(
                    "bucket encryption must use one of {allowed}, not {algorithms}",
                    allowed=", ".join(sorted(SSE_ALGORITHMS)),
                    algorithms=algorithms,
                ),
                None,
            )


def validate_buckets_encrypted(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every bucket has a server-side encryption configuration."""
    for bucket in (r for r in args.resources if r.resource_type in BUCKET_TYPES):
        if not _children(bucket, args.resources, ENCRYPTION_TYPES):
            report_violation(
                t("bucket '{name}' has no server-side encryption configuration", name=bucket.name), bucket.urn
            )


# ---------------------------------------------------------------------------- public access


def validate_public_access_blocked(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """Public-access blocks block everything; no public ACL; no bucket policy allows everyone."""
    kind, p = args.resource_type, args.props
    if kind in PUBLIC_ACCESS_TYPES:
        open_flags = [f for f in PUBLIC_ACCESS_FLAGS if p.get(f) is not True]
        if open_flags:
            report_violation(t("the public-access block must set {flags} to true", flags=", ".join(open_flags)), None)
    elif kind in ACL_TYPES | BUCKET_TYPES and str(p.get("acl") or "").startswith(("public-", "authenticated-")):
        report_violation(t("bucket ACL '{acl}' makes it public", acl=p.get("acl")), None)
    elif kind == "aws:s3/bucketPolicy:BucketPolicy":
        for statement in _mapping(p.get("policy")).get("Statement", []):
            principal = statement.get("Principal")
            everyone = principal == "*" or (isinstance(principal, Mapping) and principal.get("AWS") in ("*", ["*"]))
            if statement.get("Effect") == "Allow" and everyone and not statement.get("Condition"):
                report_violation(
                    t("bucket policy statement '{sid}' allows everyone", sid=statement.get("Sid", "")), None
                )


def validate_buckets_private(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    """Every bucket has a public-access block."""
    for bucket in (r for r in args.resources if r.resource_type in BUCKET_TYPES):
        if not _children(bucket, args.resources, PUBLIC_ACCESS_TYPES):
            report_violation(t("bucket '{name}' has no public-access block", name=bucket.name), bucket.urn)


# ---------------------------------------------------------------------------- ingress


def validate_no_open_ingress(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """No security group or network ACL admits traffic from 0.0.0.0/0 or ::/0."""
    kind, p = args.resource_type, args.props
    sources: list[str] = []
    if kind in ("aws:ec2/securityGroup:SecurityGroup", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup"):
        for rule in p.get("ingress") or []:
            sources += list(rule.get("cidrBlocks") or []) + list(rule.get("ipv6CidrBlocks") or [])
    elif kind == "aws:ec2/securityGroupRule:SecurityGroupRule" and p.get("type") == "ingress":
        sources += list(p.get("cidrBlocks") or []) + list(p.get("ipv6CidrBlocks") or [])
    elif kind == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule":
        sources += [s for s in (p.get("cidrIpv4"), p.get("cidrIpv6")) if s]
    elif kind == "aws:ec2/networkAclRule:NetworkAclRule" and not p.get("egress") and p.get("ruleAction") == "allow":
        sources += [s for s in (p.get("cidrBlock"), p.get("ipv6CidrBlock")) if s]
    opened = sorted(OPEN.intersection(sources))
    if opened:
        report_violation(
            t(
                "ingress from {sources} is not allowed: admit only the ranges that need access",
                sources=", ".join(opened),
            ),
            None,
        )


# ---------------------------------------------------------------------------- ranges


@lru_cache(maxsize=8)
def _allocation(path: str, mtime: float) -> tuple[dict[str, list[str]], dict[str, str]]:
    del mtime  # part of the cache key: a rewritten file is read again
    spec = load_tenancy(path)
    clouds = {c.id: list(c.networks or []) for c in spec.clouds}
    departments = {d.id: d.network for d in spec.departments if d.network}
    return clouds, departments


def validate_ranges_in_allocation(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
    """VPC blocks are the cloud's allocated /16s; a subnet lies inside its department's allocated /22."""
    kind, p = args.resource_type, args.props
    if kind not in (
        "aws:ec2/vpc:Vpc",
        "aws:ec2/vpcIpv4CidrBlockAssociation:VpcIpv4CidrBlockAssociation",
        "aws:ec2/subnet:Subnet",
    ):
        return
    path = args.get_config().get("tenancy")
    if not path:
        report_violation(t(NO_TENANCY), None)
        return
    clouds, departments = _allocation(str(path), Path(path).stat().st_mtime)
    cidr = str(p.get("cidrBlock") or "")
    tags = effective_tags(p, args.provider)
    if kind == "aws:ec2/subnet:Subnet":
        department = tags.get(TAG_DEPARTMENT)
        allocated = departments.get(department or "")
        if allocated is None:
            report_violation(
                t(
                    "subnet {cidr} belongs to no department with an allocated range ({tag}: '{department}')",
                    cidr=cidr,
                    tag=TAG_DEPARTMENT,
                    department=department or "",
                ),
                None,
            )
        elif not ipaddress.IPv4Network(cidr).subnet_of(ipaddress.IPv4Network(allocated)):
            report_violation(
                t(
                    "subnet {cidr} is outside {allocated}, the range allocated to {department}",
                    cidr=cidr,
                    allocated=allocated,
                    department=department,
                ),
                None,
            )
        return
    # A VPC without a cloud tag has no allocation to be inside of.
    cloud = tags.get(TAG_CLOUD, "")
    if cidr not in clouds.get(cloud, []):
        report_violation(
            t(
                "network {cidr} is not a block allocated to cloud '{cloud}' ({blocks})",
                cidr=cidr,
                cloud=cloud,
                blocks=", ".join(clouds.get(cloud, [])) or "-",
            ),
            None,
        )


# ---------------------------------------------------------------------------- the pack's policies

MANDATORY = EnforcementLevel.MANDATORY
TENANCY_SCHEMA = PolicyConfigSchema(
    properties={"tenancy": {"type": "string", "description": "the tenancy file written by `zhengyun tenants export`"}}
)

POLICIES = [
    ResourceValidationPolicy(
        name="zhengyun-required-tags",
        validate=validate_required_tags,
        enforcement_level=MANDATORY,
        description="Taggable resources carry zhengyun:province, zhengyun:cloud and "
        "zhengyun:operator; a department's also zhengyun:department.",
    ),
    ResourceValidationPolicy(
        name="zhengyun-encryption-at-rest",
        validate=validate_encryption_at_rest,
        enforcement_level=MANDATORY,
        description="Keys rotate; topics, log groups, volumes and buckets are encrypted.",
    ),
    StackValidationPolicy(
        name="zhengyun-buckets-encrypted",
        validate=validate_buckets_encrypted,
        enforcement_level=MANDATORY,
        description="Every bucket has a server-side encryption configuration.",
    ),
    ResourceValidationPolicy(
        name="zhengyun-public-access-blocked",
        validate=validate_public_access_blocked,
        enforcement_level=MANDATORY,
        description="Public access is blocked: no public ACLs, no policy allowing everyone.",
    ),
    StackValidationPolicy(
        name="zhengyun-buckets-private",
        validate=validate_buckets_private,
        enforcement_level=MANDATORY,
        description="Every bucket has a public-access block.",
    ),
    ResourceValidationPolicy(
        name="zhengyun-no-open-ingress",
        validate=validate_no_open_ingress,
        enforcement_level=MANDATORY,
        description="No ingress from 0.0.0.0/0 or ::/0.",
    ),
    ResourceValidationPolicy(
        name="zhengyun-ranges-in-allocation",
        validate=validate_ranges_in_allocation,
        enforcement_level=MANDATORY,
        config_schema=TENANCY_SCHEMA,
        description="VPC blocks and subnets lie inside the ranges the registry allocated.",
    ),
]

#: The policy that needs the tenancy file in its configuration.
RANGES_POLICY = "zhengyun-ranges-in-allocation"
