"""The Pulumi program: which stack declares what (docs/reference.md#infrastructure-as-code).

- `province`: the organisation — units per cloud kind and per cloud, the tag policy, the guardrails —
  through the provincial cloud's provider.
- one stack per cloud with its own infrastructure (named by its id): the cloud's foundation and a
  landing zone for each active department placed on it. Hosted cities' departments are placed on
  the provincial cloud, so they are in the provincial cloud's stack.

Every range comes from the tenancy file, and every resource is named after its cloud or department,
so a preview is deterministic and adding a department adds its own resources and touches no other.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.components import (
    CloudFoundation,
    CloudFoundationArgs,
    DepartmentLandingZone,
    DepartmentLandingZoneArgs,
    OrganizationCloud,
    ProvinceOrganization,
    ProvinceOrganizationArgs,
)
from infra.tenancy import (
    PROVINCE_STACK,
    cloud_region,
    cloud_tags,
    departments_of,
    provincial_cloud,
    stack_cloud,
)
from tenants.formats import CloudSpec, TenancySpec

#: Services an AWS-compatible cloud's endpoint stands in for.
ENDPOINT_SERVICES = ("budgets", "ec2", "iam", "kms", "organizations", "s3", "sns", "sts")


def cloud_provider(spec: TenancySpec, cloud: CloudSpec, *, default_region: str | None = None) -> aws.Provider:
    """The explicit provider of a cloud: its region, its base tags as default tags, its endpoint if any."""
    # An AWS-compatible API (a domestic cloud or a local emulator): its own endpoint, its own region
    # names, no EC2 metadata lookups, path-style S3 addressing. Unset (None) for AWS itself.
    compatible = True if cloud.endpoint else None
    endpoints = [aws.ProviderEndpointArgs(**{s: cloud.endpoint for s in ENDPOINT_SERVICES})] if cloud.endpoint else None
    return aws.Provider(
        cloud.id,
        region=cloud_region(cloud, default_region),
        default_tags=aws.ProviderDefaultTagsArgs(tags=cloud_tags(spec, cloud).as_dict()),
        endpoints=endpoints,
        skip_credentials_validation=compatible,
        skip_region_validation=compatible,
        skip_metadata_api_check=compatible,
        s3_use_path_style=compatible,
    )


def declare_province(spec: TenancySpec, *, default_region: str | None = None) -> ProvinceOrganization:
    """The `province` stack: the hierarchy and the guardrails."""
    home = provincial_cloud(spec)
    provider = cloud_provider(spec, home, default_region=default_region)
    infra = [c for c in spec.clouds if c.has_infrastructure]
    args = ProvinceOrganizationArgs(
        province=spec.province.code,
        clouds=[OrganizationCloud(id=c.id, kind=c.kind, operator=c.operator or "") for c in infra],
        regions=sorted({c.region for c in infra if c.region} | {cloud_region(home, default_region)}),
    )
    organization = ProvinceOrganization(spec.province.code, args, opts=pulumi.ResourceOptions(provider=provider))
    pulumi.export("province_unit_id", organization.province_unit_id)
    pulumi.export("cloud_unit_ids", organization.cloud_unit_ids)
    return organization


@dataclass
class CloudStack:
    """What a cloud's stack declared."""

    foundation: CloudFoundation
    zones: dict[str, DepartmentLandingZone]


def declare_cloud(spec: TenancySpec, cloud_id: str, *, default_region: str | None = None) -> CloudStack:
    """A cloud's stack: its foundation and one landing zone per active department placed on it."""
    cloud = stack_cloud(spec, cloud_id)
    region = cloud_region(cloud, default_region)
    provider = cloud_provider(spec, cloud, default_region=default_region)
    opts = pulumi.ResourceOptions(provider=provider)
    foundation = CloudFoundation(
        cloud.id, CloudFoundationArgs(cloud=cloud.id, networks=list(cloud.networks or []), region=region), opts=opts
    )
    zones: dict[str, DepartmentLandingZone] = {}
    for d in departments_of(spec, cloud.id):
        assert d.network is not None  # load_tenancy refuses files without ranges
        zones[d.id] = DepartmentLandingZone(
            d.id,
            DepartmentLandingZoneArgs(
                department=d.id,
                network=d.network,
                region=region,
                account_id=foundation.account_id,
                vpc_id=foundation.vpc_id,
                key_arn=foundation.key_arn,
                alerts_topic_arn=foundation.alerts_topic_arn,
                vcpu_quota=d.quota.vcpu if d.quota else None,
                memory_gib_quota=d.quota.memory_gib if d.quota else None,
                storage_gib_quota=d.quota.storage_gib if d.quota else None,
                network_ready=[foundation.block_of(d.network)],
            ),
            opts=opts,
        )
    pulumi.export("vpc_id", foundation.vpc_id)
    pulumi.export("log_bucket", foundation.log_bucket)
    pulumi.export("department_buckets", {k: z.bucket for k, z in zones.items()})
    return CloudStack(foundation, zones)


def declare(spec: TenancySpec, stack: str, *, default_region: str | None = None) -> None:
    """Declare the stack `province` or the stack of a cloud with its own infrastructure."""
    if stack == PROVINCE_STACK:
        declare_province(spec, default_region=default_region)
    else:
        declare_cloud(spec, stack, default_region=default_region)
