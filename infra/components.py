"""The building blocks of the program as Pulumi components (docs/reference.md#infrastructure-as-code).

- `ProvinceOrganization`: organisational units per cloud kind and per cloud, a tag policy for the
  `zhengyun:*` tags and the preventive guardrails (service control policies).
- `CloudFoundation`: the cloud's network from its /16 blocks, flow logs, a rotating KMS key, an
  encrypted, versioned, private log bucket and the topic budget alerts go to.
- `DepartmentLandingZone`: the department's subnet (its /22), a security group open only to its own
  range, an encrypted private bucket, an administrator and a reader role scoped to its resources,
  and a budget alerting at 80 % and 100 % of its quota (docs/infra.md: what it measures per quota kind).

Each takes typed arguments, parents its children and registers its outputs. The base tags come from
the cloud's provider (default tags); a department's resources add `zhengyun:department`.
Buckets and their settings are retained when they leave the program: a department that is archived
or a stack that is destroyed never deletes government data.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra import documents
from infra.tenancy import TAG_CLOUD, TAG_DEPARTMENT, TAG_OPERATOR
from tenants.models import CloudKind

PACKAGE = "zhengyun:infra"
#: Kinds of cloud in the order their organisational units are declared.
CLOUD_KINDS: tuple[str, ...] = tuple(str(kind) for kind in CloudKind)


def policy_json(document: Callable[..., documents.Document], **inputs: Any) -> pulumi.Output[str]:
    """A policy document as compact JSON, once its (possibly unknown) inputs are known."""
    return pulumi.Output.all(**inputs).apply(
        lambda values: json.dumps(document(**values), ensure_ascii=False, separators=(",", ":"))
    )


def _slug(cidr: str) -> str:
    return cidr.replace(".", "-").replace("/", "-")


# ---------------------------------------------------------------------------- private bucket


@dataclass(frozen=True)
class PrivateBucket:
    """A bucket with its encryption, public-access block, ownership and (optionally) versioning."""

    bucket: aws.s3.Bucket
    encryption: aws.s3.BucketServerSideEncryptionConfiguration
    public_access: aws.s3.BucketPublicAccessBlock
    ownership: aws.s3.BucketOwnershipControls
    versioning: aws.s3.BucketVersioning | None


def private_bucket(
    name: str,
    *,
    parent: pulumi.Resource,
    key_arn: pulumi.Input[str],
    versioned: bool,
    tags: dict[str, str] | None = None,
) -> PrivateBucket:
    """An encrypted (KMS), private (all public access blocked, ACLs disabled) bucket; settings parented to it."""
    bucket = aws.s3.Bucket(name, tags=tags, opts=pulumi.ResourceOptions(parent=parent, retain_on_delete=True))
    under = pulumi.ResourceOptions(parent=bucket, retain_on_delete=True)
    encryption = aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="aws:kms", kms_master_key_id=key_arn
                ),
                bucket_key_enabled=True,
            )
        ],
        opts=under,
    )
    public_access = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=under,
    )
    ownership = aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=under,
    )
    versioning = None
    if versioned:
        versioning = aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=under,
        )
    return PrivateBucket(bucket, encryption, public_access, ownership, versioning)


# ---------------------------------------------------------------------------- province organisation


@dataclass(frozen=True)
class OrganizationCloud:
    """A cloud with its own infrastructure, as the organisation sees it."""

    id: str
    kind: str
    operator: str


@dataclass(frozen=True)
class ProvinceOrganizationArgs:
    """What the province organisation is built from."""

    province: str
    clouds: Sequence[OrganizationCloud]
    regions: Sequence[str] = ()


class ProvinceOrganization(pulumi.ComponentResource):
    """The hierarchy (province > cloud kind > cloud) with the tag policy and the guardrails on top."""

    province_unit_id: pulumi.Output[str]
    kind_unit_ids: dict[str, pulumi.Output[str]]
    cloud_unit_ids: dict[str, pulumi.Output[str]]
    policy_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: ProvinceOrganizationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{PACKAGE}:ProvinceOrganization", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        p = args.province
        organization = aws.organizations.get_organization_output(opts=pulumi.InvokeOutputOptions(parent=self))
        root_id = organization.roots.apply(lambda roots: roots[0].id)
        province_unit = aws.organizations.OrganizationalUnit(
            f"{p}-province", name=f"zhengyun-{p}", parent_id=root_id, opts=child
        )
        kinds = [k for k in CLOUD_KINDS if any(c.kind == k for c in args.clouds)]
        kind_units = {
            k: aws.organizations.OrganizationalUnit(f"{p}-{k}", name=k, parent_id=province_unit.id, opts=child)
            for k in kinds
        }
        cloud_units = {
            c.id: aws.organizations.OrganizationalUnit(
                f"{c.id}-cloud",
                name=c.id,
                parent_id=kind_units[c.kind].id,
                tags={TAG_CLOUD: c.id, TAG_OPERATOR: c.operator},
                opts=child,
            )
            for c in args.clouds
        }

        policies: dict[str, aws.organizations.Policy] = {}
        tag_document = documents.tag_policy(
            province=p, clouds=[c.id for c in args.clouds], operators=sorted({c.operator for c in args.clouds})
        )
        policies["tags"] = aws.organizations.Policy(
            f"{p}-tags",
            name=f"zhengyun-{p}-tags",
            type="TAG_POLICY",
            description="The zhengyun:* tags, their case and their allowed values",
            content=json.dumps(tag_document, ensure_ascii=False, separators=(",", ":")),
            opts=child,
        )
        for key, (description, document) in documents.guardrail_policies(regions=list(args.regions)).items():
            policies[key] = aws.organizations.Policy(
                f"{p}-{key}",
                name=f"zhengyun-{p}-{key}",
                type="SERVICE_CONTROL_POLICY",
                description=description,
                content=json.dumps(document, ensure_ascii=False, separators=(",", ":")),
                opts=child,
            )
        for key, policy in policies.items():
            aws.organizations.PolicyAttachment(
                f"{p}-{key}",
                policy_id=policy.id,
                target_id=province_unit.id,
                opts=pulumi.ResourceOptions(parent=policy),
            )

        self.province_unit_id = province_unit.id
        self.kind_unit_ids = {k: u.id for k, u in kind_units.items()}
        self.cloud_unit_ids = {k: u.id for k, u in cloud_units.items()}
        self.policy_ids = {k: pol.id for k, pol in policies.items()}
        self.register_outputs(
            {
                "province_unit_id": self.province_unit_id,
                "kind_unit_ids": self.kind_unit_ids,
                "cloud_unit_ids": self.cloud_unit_ids,
                "policy_ids": self.policy_ids,
            }
        )


# ---------------------------------------------------------------------------- cloud foundation


@dataclass(frozen=True)
class CloudFoundationArgs:
    """What a cloud's foundation is built from: its id, its /16 blocks (lowest first) and its region."""

    cloud: str
    networks: Sequence[str]
    region: str


class CloudFoundation(pulumi.ComponentResource):
    """The cloud's VPC over its /16 blocks, flow logs into the log bucket, the cloud key and the alert topic."""

    account_id: pulumi.Output[str]
    vpc_id: pulumi.Output[str]
    key_arn: pulumi.Output[str]
    log_bucket: pulumi.Output[str]
    alerts_topic_arn: pulumi.Output[str]

    def __init__(self, name: str, args: CloudFoundationArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{PACKAGE}:CloudFoundation", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        cloud = args.cloud
        identity = aws.get_caller_identity_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self.account_id = identity.account_id

        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.networks[0],
            enable_dns_support=True,
            enable_dns_hostnames=True,
            tags={"Name": f"zhengyun-{cloud}"},
            opts=child,
        )
        # Further /16 blocks of the cloud (allocated when the first is full) join the same VPC; a
        # department's subnet waits for the block that holds it.
        self._blocks: dict[str, pulumi.Resource] = {args.networks[0]: vpc}
        for cidr in args.networks[1:]:
            self._blocks[cidr] = aws.ec2.VpcIpv4CidrBlockAssociation(
                f"{name}-block-{_slug(cidr)}", vpc_id=vpc.id, cidr_block=cidr, opts=child
            )
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags={"Name": f"zhengyun-{cloud}-default-closed"},
            opts=child,
        )

        key = aws.kms.Key(
            f"{name}-key",
            description=f"zhengyun {cloud}: logs, buckets and alerts",
            enable_key_rotation=True,
            deletion_window_in_days=30,
            policy=policy_json(documents.key_policy, account_id=self.account_id),
            opts=child,
        )
        aws.kms.Alias(f"{name}-key-alias", name=f"alias/zhengyun-{cloud}", target_key_id=key.key_id, opts=child)

        logs = private_bucket(f"{name}-logs", parent=self, key_arn=key.arn, versioned=True)
        log_policy = aws.s3.BucketPolicy(
            f"{name}-logs-policy",
            bucket=logs.bucket.id,
            policy=policy_json(documents.log_bucket_policy, bucket_arn=logs.bucket.arn, account_id=self.account_id),
            opts=pulumi.ResourceOptions(parent=logs.bucket, depends_on=[logs.public_access]),
        )
        aws.ec2.FlowLog(
            f"{name}-flow-logs",
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="s3",
            log_destination=logs.bucket.arn,
            max_aggregation_interval=60,
            destination_options=aws.ec2.FlowLogDestinationOptionsArgs(
                file_format="parquet", hive_compatible_partitions=True, per_hour_partition=True
            ),
            tags={"Name": f"zhengyun-{cloud}"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=[log_policy]),
        )

        topic = aws.sns.Topic(f"{name}-budget-alerts", kms_master_key_id=key.id, opts=child)
        aws.sns.TopicPolicy(
            f"{name}-budget-alerts-policy",
            arn=topic.arn,
            policy=policy_json(documents.alerts_topic_policy, topic_arn=topic.arn, account_id=self.account_id),
            opts=pulumi.ResourceOptions(parent=topic),
        )

        self.vpc_id = vpc.id
        self.key_arn = key.arn
        self.log_bucket = logs.bucket.bucket
        self.alerts_topic_arn = topic.arn
        self.register_outputs(
            {
                "account_id": self.account_id,
                "vpc_id": self.vpc_id,
                "key_arn": self.key_arn,
                "log_bucket": self.log_bucket,
                "alerts_topic_arn": self.alerts_topic_arn,
            }
        )

    def block_of(self, network: str) -> pulumi.Resource:
        """The VPC or CIDR association whose /16 holds `network`."""
        net = ipaddress.IPv4Network(network)
        return next(r for cidr, r in self._blocks.items() if net.subnet_of(ipaddress.IPv4Network(cidr)))


# ---------------------------------------------------------------------------- department landing zone


@dataclass(frozen=True)
class DepartmentLandingZoneArgs:
    """What a department's landing zone is built from; the network is its /22 from the registry."""

    department: str
    network: str
    region: str
    account_id: pulumi.Input[str]
    vpc_id: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    alerts_topic_arn: pulumi.Input[str]
    vcpu_quota: int | None = None
    memory_gib_quota: int | None = None
    storage_gib_quota: int | None = None
    network_ready: Sequence[pulumi.Resource] = ()


class DepartmentLandingZone(pulumi.ComponentResource):
    """A department's subnet, security group, private bucket, scoped roles and budget."""

    subnet_id: pulumi.Output[str]
    security_group_id: pulumi.Output[str]
    bucket: pulumi.Output[str]
    admin_role_arn: pulumi.Output[str]
    reader_role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DepartmentLandingZoneArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(f"{PACKAGE}:DepartmentLandingZone", name, None, opts)
        d = args.department
        tags = {TAG_DEPARTMENT: d}
        child = pulumi.ResourceOptions(parent=self)

        subnet = aws.ec2.Subnet(
            f"{d}-subnet",
            vpc_id=args.vpc_id,
            cidr_block=args.network,
            map_public_ip_on_launch=False,
            tags={**tags, "Name": f"zhengyun-{d}"},
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.network_ready)),
        )
        everywhere = ["0.0.0.0/0"]
        group = aws.ec2.SecurityGroup(
            f"{d}-workloads",
            vpc_id=args.vpc_id,
            description=f"zhengyun {d}: ingress from its own range only",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="-1",
                    from_port=0,
                    to_port=0,
                    cidr_blocks=[args.network],
                    description="the department's own range",
                )
            ],
            egress=[aws.ec2.SecurityGroupEgressArgs(protocol="-1", from_port=0, to_port=0, cidr_blocks=everywhere)],
            tags={**tags, "Name": f"zhengyun-{d}"},
            opts=child,
        )

        data = private_bucket(f"{d}-data", parent=self, key_arn=args.key_arn, versioned=False, tags=tags)
        aws.s3.BucketPolicy(
            f"{d}-data-policy",
            bucket=data.bucket.id,
            policy=policy_json(documents.department_bucket_policy, bucket_arn=data.bucket.arn, department=d),
            opts=pulumi.ResourceOptions(parent=data.bucket, depends_on=[data.public_access]),
        )

        trust = policy_json(documents.department_trust_policy, account_id=args.account_id, department=d)
        admin = aws.iam.Role(
            f"{d}-admin", assume_role_policy=trust, description=f"zhengyun {d}: administrator", tags=tags, opts=child
        )
        aws.iam.RolePolicy(
            f"{d}-admin",
            role=admin.id,
            policy=policy_json(
                documents.department_admin_policy,
                department=d,
                account_id=args.account_id,
                region=args.region,
                bucket_arn=data.bucket.arn,
                key_arn=args.key_arn,
                subnet_arn=subnet.arn,
                security_group_arn=group.arn,
            ),
            opts=pulumi.ResourceOptions(parent=admin),
        )
        reader = aws.iam.Role(
            f"{d}-reader", assume_role_policy=trust, description=f"zhengyun {d}: reader", tags=tags, opts=child
        )
        aws.iam.RolePolicy(
            f"{d}-reader",
            role=reader.id,
            policy=policy_json(
                documents.department_reader_policy,
                department=d,
                region=args.region,
                bucket_arn=data.bucket.arn,
                key_arn=args.key_arn,
            ),
            opts=pulumi.ResourceOptions(parent=reader),
        )

        # every landing zone has a budget; what it measures follows the department's quota (docs/infra.md)
        for design in documents.department_budgets(args.vcpu_quota, args.memory_gib_quota, args.storage_gib_quota):
            filters = [aws.budgets.BudgetCostFilterArgs(name="TagKeyValue", values=[f"user:{TAG_DEPARTMENT}${d}"])]
            if design.usage_type_group:
                filters.append(
                    aws.budgets.BudgetCostFilterArgs(name="UsageTypeGroup", values=[design.usage_type_group])
                )
            aws.budgets.Budget(
                f"{d}{design.suffix}",
                budget_type=design.budget_type,
                time_unit="MONTHLY",
                limit_unit=design.limit_unit,
                limit_amount=design.limit_amount,
                cost_filters=filters,
                notifications=[
                    aws.budgets.BudgetNotificationArgs(
                        comparison_operator="GREATER_THAN",
                        notification_type="ACTUAL",
                        threshold=percent,
                        threshold_type="PERCENTAGE",
                        subscriber_sns_topic_arns=[args.alerts_topic_arn],
                    )
                    for percent in documents.BUDGET_ALERTS_PERCENT
                ],
                tags=tags,
                opts=child,
            )

        self.subnet_id = subnet.id
        self.security_group_id = group.id
        self.bucket = data.bucket.bucket
        self.admin_role_arn = admin.arn
        self.reader_role_arn = reader.arn
        self.register_outputs(
            {
                "subnet_id": self.subnet_id,
                "security_group_id": self.security_group_id,
                "bucket": self.bucket,
                "admin_role_arn": self.admin_role_arn,
                "reader_role_arn": self.reader_role_arn,
            }
        )
