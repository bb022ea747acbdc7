"""Collectors: an hour of usage read from a cloud's AWS-compatible endpoint with boto3 (docs/reference.md#usage-and-meters).

For an hour H of a cloud with an `endpoint` (AWS, or any compatible API: Alibaba OSS, Tencent COS,
Huawei OBS, a local emulator):

* `ec2`: every running instance tagged `zhengyun:department` → `vcpu_hours` = its vCPUs × 1 hour
  (vCPUs from `describe_instance_types`, else a built-in table, else the instance's CPU options);
* `s3`: every bucket tagged `zhengyun:department` → `storage_gib_hours` = its size in GiB × 1 hour (the
  CloudWatch `BucketSizeBytes` metric when the endpoint has one, else the sum of its objects' sizes);
* `cloudwatch`: each `MetricMapping` → its meter = the hour's datapoints of the metric summed, times
  `scale`, per resource (the department from the resource's tag, or a `zhengyun:department` dimension).

Event ids are derived from (collector, cloud, resource, meter, hour), and the events go through the same
ingest as files, so running a collector twice records nothing twice. The client factory is a parameter:
the default builds boto3 clients for the cloud's endpoint and region with boto3's own credential chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from sqlmodel import Session

from core.clock import Clock, utcnow
from core.errors import InvalidInput, rejected
from core.i18n import register, t
from core.periods import parse_time
from core.yamlfile import read_yaml
from metering.events import MICRO
from metering.ingest import IngestReport
from metering.service import ingest_events
from tenants.models import Cloud
from tenants.permissions import Actor, require, require_operator
from tenants.service import get_cloud

DEPARTMENT_TAG = "zhengyun:department"
GIB = Decimal(2) ** 30
HOUR = timedelta(hours=1)

register(
    {
        "cloud '{cloud}' has no endpoint: it is not collected": "云“{cloud}”没有配置接口（endpoint），不采集",
        "hour must be a whole hour with an offset, got {value}": "时间须为带时区偏移的整点，实际为 {value}",
        "cannot reach the endpoint of cloud '{cloud}': {detail}": "无法访问云“{cloud}”的接口：{detail}",
        "a metric mapping needs {field}": "指标映射缺少 {field}",
        "must be a list of metric mappings": "必须是指标映射列表",
        "instance {instance}: unknown vCPU count of type {type}": "实例 {instance}：无法确定实例类型 {type} 的 vCPU 数",
    }
)

#: vCPUs of common instance types, for endpoints without `describe_instance_types`.
VCPUS = {
    "nano": 2,
    "micro": 2,
    "small": 2,
    "medium": 2,
    "large": 2,
    "xlarge": 4,
    "2xlarge": 8,
    "3xlarge": 12,
    "4xlarge": 16,
    "6xlarge": 24,
    "8xlarge": 32,
    "9xlarge": 36,
    "10xlarge": 40,
    "12xlarge": 48,
    "16xlarge": 64,
    "18xlarge": 72,
    "24xlarge": 96,
    "32xlarge": 128,
    "48xlarge": 192,
}
_ONE_VCPU = {"t2.nano", "t2.micro", "t2.small", "t1.micro", "m1.small", "m3.medium"}


@dataclass(frozen=True)
class MetricMapping:
    """A CloudWatch metric summed over the hour into a meter, per resource named by `dimension`."""

    namespace: str
    metric: str
    meter: str
    dimension: str = "InstanceId"
    statistic: str = "Sum"
    scale: Decimal = Decimal(1)


#: Outbound traffic of instances, bytes → GiB.
DEFAULT_MAPPINGS: tuple[MetricMapping, ...] = (
    MetricMapping("AWS/EC2", "NetworkOut", "egress_gib", "InstanceId", "Sum", 1 / GIB),
)

ClientFactory = Callable[[str, Cloud], Any]


def boto3_client(service: str, cloud: Cloud) -> Any:
    """A boto3 client for the cloud's endpoint and region; credentials from boto3's usual chain."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=cloud.endpoint,
        region_name=cloud.region or "us-east-1",
        config=Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )


@dataclass
class CollectResult:
    """What one collection found and what ingest made of it."""

    cloud: str
    hour: datetime
    collected: int
    report: IngestReport
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "cloud": self.cloud,
            "hour": self.hour.isoformat(),
            "collected": self.collected,
            **self.report.to_dict(),
            "skipped": self.skipped,
        }


def event_id(collector: str, cloud: str, resource: str, meter: str, hour: datetime) -> str:
    """The idempotency key of a collected event: the same inputs always give the same id."""
    key = f"{collector}|{cloud}|{resource}|{meter}|{hour.astimezone(UTC).isoformat()}"
    return f"{collector}-" + hashlib.blake2b(key.encode("utf-8"), digest_size=16).hexdigest()


def collect(
    session: Session,
    *,
    actor: Actor,
    cloud_id: str,
    hour: datetime | str,
    mappings: Sequence[MetricMapping] | Path = DEFAULT_MAPPINGS,
    client_factory: ClientFactory = boto3_client,
    now: Clock = utcnow,
) -> CollectResult:
    """Collect hour `hour` (e.g. `2026-10-01T13:00+08:00`) of a cloud and ingest it (operators only
    their own clouds); `mappings` may be a YAML file of CloudWatch metric → meter mappings."""
    require(actor, "usage.write")
    # the one time parser: an offset, a year 2000–2099 (docs/reference.md#periods-and-times)
    hour = parse_time(hour, "hour")
    if isinstance(mappings, Path):
        mappings = load_mappings(mappings)
    cloud = get_cloud(session, cloud_id)
    require_operator(actor, cloud.operator_id)
    if hour.tzinfo is None or (hour.minute, hour.second, hour.microsecond) != (0, 0, 0):
        raise InvalidInput("hour must be a whole hour with an offset, got {value}", value=hour.isoformat())
    if not cloud.endpoint:
        raise InvalidInput("cloud '{cloud}' has no endpoint: it is not collected", cloud=cloud.id)
    from botocore.exceptions import BotoCoreError, ClientError

    skipped: list[str] = []
    try:
        ec2 = client_factory("ec2", cloud)
        s3 = client_factory("s3", cloud)
        cloudwatch = client_factory("cloudwatch", cloud)
        owners: dict[str, str] = {}
        events = list(instance_hours(ec2, cloud, hour, owners, skipped))
        events += bucket_storage(s3, cloudwatch, cloud, hour, owners)
        events += metric_usage(cloudwatch, cloud, hour, mappings, owners)
    except (BotoCoreError, ClientError) as exc:
        raise InvalidInput(
            "cannot reach the endpoint of cloud '{cloud}': {detail}", cloud=cloud.id, detail=str(exc)
        ) from exc
    source = f"collector:{cloud.id}@{hour.isoformat()}"
    report = ingest_events(session, actor=actor, events=events, source=source, now=now)
    return CollectResult(cloud.id, hour, len(events), report, skipped)


def _event(
    collector: str,
    cloud: Cloud,
    resource: str,
    department: str,
    meter: str,
    hour: datetime,
    quantity: Decimal,
    attributes: dict[str, Any],
) -> dict[str, Any]:
    return {
        "event_id": event_id(collector, cloud.id, resource, meter, hour),
        "time": hour.isoformat(),
        "department": department,
        "cloud": cloud.id,
        "meter": meter,
        "quantity": quantity,
        "resource_id": resource,
        "attributes": {"collector": collector, **attributes},
    }


def _tags(tag_list: Iterable[dict[str, str]] | None) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in tag_list or ()}


def instance_hours(
    ec2: Any, cloud: Cloud, hour: datetime, owners: dict[str, str], skipped: list[str]
) -> list[dict[str, Any]]:
    """vCPU-hours of the running instances tagged with a department (and every instance's owner into `owners`)."""
    running = []
    for page in ec2.get_paginator("describe_instances").paginate():
        for reservation in page.get("Reservations", []):
            for instance in reservation.get("Instances", []):
                department = _tags(instance.get("Tags")).get(DEPARTMENT_TAG)
                if department:
                    owners[instance["InstanceId"]] = department
                    if instance.get("State", {}).get("Name") == "running":
                        running.append((instance, department))
    vcpus = _vcpus(ec2, {i["InstanceType"] for i, _ in running})
    events = []
    for instance, department in sorted(running, key=lambda x: x[0]["InstanceId"]):
        kind = instance["InstanceType"]
        count = vcpus.get(kind) or _cpu_options(instance)
        if not count:
            skipped.append(
                t("instance {instance}: unknown vCPU count of type {type}", instance=instance["InstanceId"], type=kind)
            )
            continue
        events.append(
            _event(
                "ec2",
                cloud,
                instance["InstanceId"],
                department,
                "vcpu_hours",
                hour,
                Decimal(count),
                {"instance_type": kind},
            )
        )
    return events


def _vcpus(ec2: Any, kinds: set[str]) -> dict[str, int]:
    from botocore.exceptions import BotoCoreError, ClientError

    found: dict[str, int] = {}
    if kinds:
        try:
            for page in ec2.get_paginator("describe_instance_types").paginate(InstanceTypes=sorted(kinds)):
                for info in page.get("InstanceTypes", []):
                    found[info["InstanceType"]] = int(info["VCpuInfo"]["DefaultVCpus"])
        except (BotoCoreError, ClientError):
            pass  # an endpoint without the call: the built-in table below
    for kind in kinds - found.keys():
        if kind in _ONE_VCPU:
            found[kind] = 1
        elif "." in kind and kind.rsplit(".", 1)[1] in VCPUS:  # m5.2xlarge, ecs.g7.large
            found[kind] = VCPUS[kind.rsplit(".", 1)[1]]
    return found


def _cpu_options(instance: dict[str, Any]) -> int:
    options = instance.get("CpuOptions") or {}
    return int(options.get("CoreCount", 0)) * int(options.get("ThreadsPerCore", 1))


def bucket_storage(
    s3: Any, cloudwatch: Any, cloud: Cloud, hour: datetime, owners: dict[str, str]
) -> list[dict[str, Any]]:
    """GiB-hours of the buckets tagged with a department (and every bucket's owner into `owners`)."""
    from botocore.exceptions import ClientError

    events = []
    for bucket in sorted(b["Name"] for b in s3.list_buckets().get("Buckets", [])):
        try:
            department = _tags(s3.get_bucket_tagging(Bucket=bucket).get("TagSet")).get(DEPARTMENT_TAG)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchTagSet", "NoSuchTagSetError"):
                continue
            raise
        if not department:
            continue
        owners[bucket] = department
        size = _bucket_size_metric(cloudwatch, bucket, hour)
        if size is None:
            size = sum(
                (
                    Decimal(obj["Size"])
                    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                    for obj in page.get("Contents", [])
                ),
                Decimal(0),
            )
        quantity = (size / GIB).quantize(MICRO, rounding=ROUND_HALF_UP)
        if quantity > 0:
            events.append(_event("s3", cloud, bucket, department, "storage_gib_hours", hour, quantity, {"bytes": size}))
    return events


def _bucket_size_metric(cloudwatch: Any, bucket: str, hour: datetime) -> Decimal | None:
    """The latest daily `BucketSizeBytes` up to the end of the hour, if the endpoint reports it."""
    stats = cloudwatch.get_metric_statistics(
        Namespace="AWS/S3",
        MetricName="BucketSizeBytes",
        StartTime=hour - timedelta(days=2),
        EndTime=hour + HOUR,
        Period=86400,
        Statistics=["Average"],
        Dimensions=[{"Name": "BucketName", "Value": bucket}, {"Name": "StorageType", "Value": "StandardStorage"}],
    )
    points = sorted(stats.get("Datapoints", []), key=lambda p: p["Timestamp"])
    return _exact(points[-1]["Average"]) if points else None


def _exact(value: Any) -> Decimal:
    """A number from the API as Decimal (floats through their shortest repr, never their binary value)."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def metric_usage(
    cloudwatch: Any, cloud: Cloud, hour: datetime, mappings: Sequence[MetricMapping], owners: dict[str, str]
) -> list[dict[str, Any]]:
    """Each mapped metric summed over the hour per resource, scaled into its meter."""
    events = []
    for mapping in mappings:
        for page in cloudwatch.get_paginator("list_metrics").paginate(
            Namespace=mapping.namespace, MetricName=mapping.metric
        ):
            for metric in page.get("Metrics", []):
                dims = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
                resource = dims.get(mapping.dimension)
                if resource is None or set(dims) - {mapping.dimension, DEPARTMENT_TAG}:
                    continue
                department = dims.get(DEPARTMENT_TAG) or owners.get(resource)
                if not department:
                    continue
                stats = cloudwatch.get_metric_statistics(
                    Namespace=mapping.namespace,
                    MetricName=mapping.metric,
                    Dimensions=metric["Dimensions"],
                    StartTime=hour,
                    EndTime=hour + HOUR,
                    Period=60,
                    Statistics=[mapping.statistic],
                )
                points = [
                    p
                    for p in stats.get("Datapoints", [])
                    if hour <= p["Timestamp"] < hour + HOUR and mapping.statistic in p
                ]
                if not points:
                    continue
                total = sum((_exact(p[mapping.statistic]) for p in points), Decimal(0))
                quantity = (total * mapping.scale).quantize(MICRO, rounding=ROUND_HALF_UP)
                if quantity > 0:
                    events.append(
                        _event(
                            "cloudwatch",
                            cloud,
                            resource,
                            department,
                            mapping.meter,
                            hour,
                            quantity,
                            {
                                "metric": f"{mapping.namespace}/{mapping.metric}",
                                "statistic": mapping.statistic,
                                "value": total,
                            },
                        )
                    )
    return events


def load_mappings(path: Path) -> tuple[MetricMapping, ...]:
    """Metric mappings from a YAML list of `{namespace, metric, meter, dimension?, statistic?, scale?}`."""
    doc, problems = read_yaml(path)
    if doc is None:
        raise rejected(problems)
    if not isinstance(doc.data, list):
        raise rejected([doc.problem("", "must be a list of metric mappings")])
    out, found = [], []
    for index, item in enumerate(doc.data):
        where = f"[{index}]"
        if not isinstance(item, dict):
            found.append(doc.problem(where, "must be a mapping"))
            continue
        missing = [f for f in ("namespace", "metric", "meter") if not item.get(f)]
        found += [doc.problem(f"{where}.{f}", "a metric mapping needs {field}", field=f) for f in missing]
        if missing:
            continue
        try:
            scale = Decimal(str(item.get("scale", 1)))
        except ArithmeticError:
            found.append(doc.problem(f"{where}.scale", "must be a decimal number"))
            continue
        out.append(
            MetricMapping(
                str(item["namespace"]),
                str(item["metric"]),
                str(item["meter"]),
                str(item.get("dimension", "InstanceId")),
                str(item.get("statistic", "Sum")),
                scale,
            )
        )
    if found:
        raise rejected(found)
    return tuple(out)
