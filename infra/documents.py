"""Policy documents of the program (IAM, key, bucket, topic, organisation): pure functions, no Pulumi.

Every department statement names that department's own resources, or resources tagged with its
`zhengyun:department`, so one department's roles grant nothing on another's (docs/reference.md#infrastructure-as-code).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from infra.tenancy import BASE_TAGS, TAG_CLOUD, TAG_DEPARTMENT, TAG_OPERATOR, TAG_PROVINCE

Document = dict[str, Any]

VERSION = "2012-10-17"
#: Roles the platform deploys with; the guardrails let only them change baseline resources and tags.
PLATFORM_ROLES = "arn:aws:iam::*:role/zhengyun-platform-*"
#: AWS Budgets has no vCPU-hour usage type: a department's budget counts its instances' running
#: hours against its vCPU quota for an average month (8760 h / 12). Exact for 1-vCPU instances,
#: lenient for larger ones; the platform's own metering counts true vCPU-hours.
HOURS_PER_MONTH = Decimal(8760) / 12
BUDGET_ALERTS_PERCENT = (80, 100)
#: Resource types the tag policy enforces its values on.
TAG_POLICY_TYPES = ["ec2:instance", "ec2:volume", "ec2:vpc", "ec2:subnet", "ec2:security-group", "s3:bucket", "kms:key"]


#: A memory quota alone is watched through running hours, at this many GiB per vCPU (the memory of a
#: general-purpose instance per vCPU).
GIB_PER_VCPU = 4
#: The monthly cost limit (in the budget's currency, USD on AWS) of a department without any quota:
#: its spend is watched too, and a quota sizes its budget properly.
NO_QUOTA_MONTHLY_COST = "1000"


@dataclass(frozen=True)
class BudgetDesign:
    """One budget of a department: what it measures and its monthly limit."""

    suffix: str  # resource name: `<department><suffix>`
    budget_type: str  # USAGE or COST
    limit_unit: str
    limit_amount: str
    usage_type_group: str | None  # the AWS usage type group it counts (None: all tagged cost)
    measures: str  # which quota it stands for


def budget_limit(vcpu: int) -> str:
    """Monthly running-hour limit of a department's budget: its vCPU quota × hours in an average month."""
    return str((Decimal(vcpu) * HOURS_PER_MONTH).quantize(Decimal(1)))


def department_budgets(vcpu: int | None, memory_gib: int | None, storage_gib: int | None) -> list[BudgetDesign]:
    """The budgets of a department's landing zone, by quota kind (docs/infra.md): every department has
    `-budget` (compute: vCPU quota, else memory quota, else — no quota — its tagged monthly cost), and a
    storage quota adds `-storage-budget`. A zero quota counts as none (nothing to alert against)."""
    hours = "EC2: Running Hours"
    if vcpu:
        budgets = [BudgetDesign("-budget", "USAGE", "Hrs", budget_limit(vcpu), hours, "vcpu")]
    elif memory_gib:
        vcpus = max(1, -(-memory_gib // GIB_PER_VCPU))  # ceiling: the vCPUs that memory buys
        budgets = [BudgetDesign("-budget", "USAGE", "Hrs", budget_limit(vcpus), hours, "memory_gib")]
    elif storage_gib:
        budgets = []
    else:
        budgets = [BudgetDesign("-budget", "COST", "USD", NO_QUOTA_MONTHLY_COST, None, "none")]
    if storage_gib:
        storage = BudgetDesign(
            "-storage-budget" if budgets else "-budget",
            "USAGE",
            "GB-Mo",
            str(storage_gib),
            "S3: Storage - Standard",
            "storage_gib",
        )
        budgets.append(storage)
    return budgets


def _doc(*statements: Document) -> Document:
    return {"Version": VERSION, "Statement": list(statements)}


def _bucket_and_objects(bucket_arn: str) -> list[str]:
    return [bucket_arn, f"{bucket_arn}/*"]


def _deny_insecure_transport(bucket_arn: str) -> Document:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": _bucket_and_objects(bucket_arn),
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


# ---------------------------------------------------------------------------- cloud foundation


def key_policy(*, account_id: str) -> Document:
    """The cloud key: the account administers it; flow-log delivery and budget alerts may use it."""
    services = {"Service": ["delivery.logs.amazonaws.com", "budgets.amazonaws.com"]}
    return _doc(
        {
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "ServicesEncrypt",
            "Effect": "Allow",
            "Principal": services,
            "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
    )


def log_bucket_policy(*, bucket_arn: str, account_id: str) -> Document:
    """The log bucket: VPC flow-log delivery writes under AWSLogs/<account>; TLS only."""
    delivery = {"Service": "delivery.logs.amazonaws.com"}
    return _doc(
        {
            "Sid": "FlowLogDeliveryWrite",
            "Effect": "Allow",
            "Principal": delivery,
            "Action": "s3:PutObject",
            "Resource": f"{bucket_arn}/AWSLogs/{account_id}/*",
            "Condition": {
                "StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", "aws:SourceAccount": account_id}
            },
        },
        {
            "Sid": "FlowLogDeliveryAclCheck",
            "Effect": "Allow",
            "Principal": delivery,
            "Action": ["s3:GetBucketAcl", "s3:ListBucket"],
            "Resource": bucket_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
        _deny_insecure_transport(bucket_arn),
    )


def alerts_topic_policy(*, topic_arn: str, account_id: str) -> Document:
    """The budget-alert topic: AWS Budgets of this account may publish."""
    return _doc(
        {
            "Sid": "BudgetsPublish",
            "Effect": "Allow",
            "Principal": {"Service": "budgets.amazonaws.com"},
            "Action": "SNS:Publish",
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


# ---------------------------------------------------------------------------- department landing zone


def department_trust_policy(*, account_id: str, department: str) -> Document:
    """Only principals of the account tagged with the department may assume its roles."""
    return _doc(
        {
            "Sid": "DepartmentPrincipals",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringEquals": {f"aws:PrincipalTag/{TAG_DEPARTMENT}": department}},
        }
    )


def _key_use(*, key_arn: str, bucket_arn: str, region: str, actions: list[str]) -> Document:
    # The key is the cloud's; the encryption context pins its use to this department's bucket.
    return {
        "Sid": "OwnBucketKey",
        "Effect": "Allow",
        "Action": actions,
        "Resource": key_arn,
        "Condition": {
            "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
            "StringLike": {"kms:EncryptionContext:aws:s3:arn": _bucket_and_objects(bucket_arn)},
        },
    }


def _describe() -> Document:
    # Describe calls have no resource-level permissions in EC2.
    return {"Sid": "Describe", "Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": "*"}


def department_admin_policy(
    *,
    department: str,
    account_id: str,
    region: str,
    bucket_arn: str,
    key_arn: str,
    subnet_arn: str,
    security_group_arn: str,
) -> Document:
    """The department's administrator: its bucket, and instances and volumes tagged with the department."""
    ec2 = f"arn:aws:ec2:{region}:{account_id}"
    tagged = [f"{ec2}:instance/*", f"{ec2}:volume/*", f"{ec2}:network-interface/*"]
    own_tag = {"StringEquals": {f"aws:ResourceTag/{TAG_DEPARTMENT}": department}}
    request_tag = {"StringEquals": {f"aws:RequestTag/{TAG_DEPARTMENT}": department}}
    return _doc(
        {
            "Sid": "OwnBucketObjects",
            "Effect": "Allow",
            "Action": [
                "s3:ListBucket",
                "s3:GetBucketLocation",
                "s3:ListBucketMultipartUploads",
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:PutObject",
                "s3:DeleteObject",
                "s3:AbortMultipartUpload",
                "s3:ListMultipartUploadParts",
            ],
            "Resource": _bucket_and_objects(bucket_arn),
        },
        _key_use(
            key_arn=key_arn,
            bucket_arn=bucket_arn,
            region=region,
            actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*"],
        ),
        _describe(),
        {
            "Sid": "OwnInstances",
            "Effect": "Allow",
            "Action": [
                "ec2:StartInstances",
                "ec2:StopInstances",
                "ec2:RebootInstances",
                "ec2:TerminateInstances",
                "ec2:AttachVolume",
                "ec2:DetachVolume",
                "ec2:DeleteVolume",
                "ec2:CreateSnapshot",
            ],
            "Resource": tagged,
            "Condition": own_tag,
        },
        {
            "Sid": "LaunchIntoOwnNetwork",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances"],
            "Resource": [subnet_arn, security_group_arn],
        },
        {
            "Sid": "LaunchTagged",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances", "ec2:CreateVolume"],
            "Resource": tagged,
            "Condition": request_tag,
        },
        {
            "Sid": "LaunchFromImages",
            "Effect": "Allow",
            "Action": ["ec2:RunInstances"],
            "Resource": [f"arn:aws:ec2:{region}::image/*", f"{ec2}:key-pair/*"],
        },
        {
            "Sid": "TagOnCreate",
            "Effect": "Allow",
            "Action": ["ec2:CreateTags"],
            "Resource": tagged,
            "Condition": {"StringEquals": {"ec2:CreateAction": ["RunInstances", "CreateVolume"]}},
        },
    )


def department_reader_policy(*, department: str, region: str, bucket_arn: str, key_arn: str) -> Document:
    """The department's reader: read its bucket, describe its instances."""
    del department  # the reader's scope is its bucket; kept in the signature for symmetry
    return _doc(
        {
            "Sid": "OwnBucketRead",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetObject"],
            "Resource": _bucket_and_objects(bucket_arn),
        },
        _key_use(key_arn=key_arn, bucket_arn=bucket_arn, region=region, actions=["kms:Decrypt"]),
        _describe(),
    )


def department_bucket_policy(*, bucket_arn: str, department: str) -> Document:
    """Defence in depth: only the department's principals and the platform roles reach the bucket; TLS only."""
    return _doc(
        {
            "Sid": "DenyOtherDepartments",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": _bucket_and_objects(bucket_arn),
            "Condition": {
                "StringNotEquals": {f"aws:PrincipalTag/{TAG_DEPARTMENT}": department},
                "ArnNotLike": {"aws:PrincipalArn": PLATFORM_ROLES},
            },
        },
        _deny_insecure_transport(bucket_arn),
    )


# ---------------------------------------------------------------------------- province organisation


def tag_policy(*, province: str, clouds: list[str], operators: list[str]) -> Document:
    """The organisation's tag policy: the zhengyun:* keys, their case and their allowed values."""
    values = {TAG_PROVINCE: [province], TAG_CLOUD: sorted(clouds), TAG_OPERATOR: sorted(operators)}
    tags: Document = {}
    for key in (*BASE_TAGS, TAG_DEPARTMENT):
        entry: Document = {"tag_key": {"@@assign": key}}
        if key in values:
            entry["tag_value"] = {"@@assign": values[key]}
            entry["enforced_for"] = {"@@assign": TAG_POLICY_TYPES}
        tags[key] = entry
    return {"tags": tags}


def guardrail_policies(*, regions: list[str]) -> dict[str, tuple[str, Document]]:
    """The preventive guardrails (service control policies): name -> (description, document)."""
    creates = ["ec2:RunInstances", "ec2:CreateVolume", "ec2:CreateVpc", "ec2:CreateSubnet", "ec2:CreateSecurityGroup"]
    ec2_any = "arn:aws:ec2:*:*:*"
    platform = {"ArnNotLike": {"aws:PrincipalArn": PLATFORM_ROLES}}
    policies: dict[str, tuple[str, Document]] = {
        "require-tags": (
            "Deny creating resources without the zhengyun tags",
            _doc(
                *[
                    {
                        "Sid": f"Require{key.split(':')[1].capitalize()}Tag",
                        "Effect": "Deny",
                        "Action": creates,
                        "Resource": ec2_any,
                        "Condition": {"Null": {f"aws:RequestTag/{key}": "true"}},
                    }
                    for key in BASE_TAGS
                ],
                {
                    "Sid": "ProtectTags",
                    "Effect": "Deny",
                    "Action": ["ec2:DeleteTags"],
                    "Resource": "*",
                    "Condition": {"ForAnyValue:StringLike": {"aws:TagKeys": ["zhengyun:*"]}, **platform},
                },
            ),
        ),
        "protect-baseline": (
            "Deny weakening the logging, key and public-access baseline",
            _doc(
                {
                    "Sid": "ProtectBaseline",
                    "Effect": "Deny",
                    "Action": [
                        "ec2:DeleteFlowLogs",
                        "kms:DisableKeyRotation",
                        "kms:DisableKey",
                        "kms:ScheduleKeyDeletion",
                        "s3:PutBucketPublicAccessBlock",
                        "s3:DeleteBucketPublicAccessBlock",
                        "s3:PutAccountPublicAccessBlock",
                        "s3:PutEncryptionConfiguration",
                        "s3:PutBucketVersioning",
                        "s3:DeleteBucketPolicy",
                    ],
                    "Resource": "*",
                    "Condition": platform,
                },
                {
                    "Sid": "StayInOrganization",
                    "Effect": "Deny",
                    "Action": ["organizations:LeaveOrganization"],
                    "Resource": "*",
                },
            ),
        ),
        "require-encryption": (
            "Deny unencrypted volumes and databases",
            _doc(
                {
                    "Sid": "EncryptedVolumes",
                    "Effect": "Deny",
                    "Action": ["ec2:CreateVolume", "ec2:RunInstances"],
                    "Resource": "arn:aws:ec2:*:*:volume/*",
                    "Condition": {"Bool": {"ec2:Encrypted": "false"}},
                },
                {
                    "Sid": "EncryptedDatabases",
                    "Effect": "Deny",
                    "Action": ["rds:CreateDBInstance", "rds:CreateDBCluster"],
                    "Resource": "*",
                    "Condition": {"Bool": {"rds:StorageEncrypted": "false"}},
                },
            ),
        ),
    }
    if regions:
        policies["region-lock"] = (
            "Deny regional services outside the province's regions",
            _doc(
                {
                    "Sid": "ProvinceRegions",
                    "Effect": "Deny",
                    "NotAction": [
                        "iam:*",
                        "organizations:*",
                        "sts:*",
                        "budgets:*",
                        "ce:*",
                        "support:*",
                        "cloudfront:*",
                        "route53:*",
                        "waf:*",
                        "health:*",
                    ],
                    "Resource": "*",
                    "Condition": {"StringNotEquals": {"aws:RequestedRegion": sorted(set(regions))}},
                }
            ),
        )
    return policies
