"""Collectors against a real moto server over HTTP on 127.0.0.1 (not a mocked client)."""

from __future__ import annotations

import socket
import urllib.request
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import boto3
import pytest

from core.db import session_scope
from metering import collectors
from tenants.permissions import SYSTEM
from tests.metering.conftest import DATA, stored

HOUR = "2026-10-01T13:00+08:00"
H = datetime.fromisoformat(HOUR)
MiB = 2**20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def moto_server():
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def endpoint(moto_server, monkeypatch):
    """The moto URL, reset, with dummy credentials for boto3's chain."""
    for name, value in (
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
    ):
        monkeypatch.setenv(name, value)
    urllib.request.urlopen(urllib.request.Request(f"{moto_server}/moto-api/reset", method="POST"), timeout=10)
    return moto_server


def _client(service: str, endpoint: str):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")


@pytest.fixture
def cloud(cli, endpoint, tmp_path):
    """The test province with gd-prov's endpoint at the moto server."""
    tenancy = tmp_path / "tenancy.yaml"
    tenancy.write_text(
        (DATA / "tenancy.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "operator: dgcloud, region: us-east-1}", f'operator: dgcloud, region: us-east-1, endpoint: "{endpoint}"}}'
        ),
        encoding="utf-8",
    )
    assert cli("tenants", "import", tenancy).code == 0
    return cli


def _instance(ec2, kind: str, department: str | None) -> str:
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    tags = (
        [{"ResourceType": "instance", "Tags": [{"Key": "zhengyun:department", "Value": department}]}]
        if department
        else []
    )
    return ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType=kind, TagSpecifications=tags)[
        "Instances"
    ][0]["InstanceId"]


def _bucket(s3, name: str, department: str | None, sizes: list[int]) -> None:
    s3.create_bucket(Bucket=name)
    if department:
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "zhengyun:department", "Value": department}]})
    for i, size in enumerate(sizes):
        s3.put_object(Bucket=name, Key=f"obj-{i}", Body=b"x" * size)


@pytest.fixture
def resources(cloud, endpoint):
    """Tagged and untagged instances and buckets, and an hour of outbound traffic."""
    ec2, s3, cw = (_client(s, endpoint) for s in ("ec2", "s3", "cloudwatch"))
    edu = _instance(ec2, "m5.xlarge", "gd-edu")
    _instance(ec2, "t3.micro", "sw-gaj")
    _instance(ec2, "m5.large", None)
    stopped = _instance(ec2, "m5.large", "gd-hr")
    ec2.stop_instances(InstanceIds=[stopped])
    _bucket(s3, "edu-data", "gd-edu", [MiB, MiB // 2])
    _bucket(s3, "scratch", None, [MiB])
    utc = H.astimezone(UTC)
    cw.put_metric_data(
        Namespace="AWS/EC2",
        MetricData=[
            {
                "MetricName": "NetworkOut",
                "Dimensions": [{"Name": "InstanceId", "Value": edu}],
                "Timestamp": when,
                "Value": value,
                "Unit": "Bytes",
            }
            for when, value in (
                (utc + timedelta(minutes=5), 2**30),
                (utc + timedelta(minutes=40), 2**29),
                (utc + timedelta(minutes=75), 2**31),
            )
        ],
    )  # the last is the next hour
    return edu


def _by_meter(url: str) -> dict[tuple[str, str], Decimal]:
    return {(e[3], e[2]): Decimal(e[5]) / 10**6 for e in stored(url)}


def test_collect_records_vcpu_hours_storage_and_mapped_metrics_by_department_tag(resources, cloud, db_url) -> None:
    result = cloud("usage", "collect", "--cloud", "gd-prov", "--hour", HOUR, "--json")
    assert result.code == 0, result
    report = result.json()
    assert (report["collected"], report["accepted"], report["duplicates"], report["rejected"]) == (4, 4, 0, [])
    assert _by_meter(db_url) == {
        ("vcpu_hours", "gd-edu"): Decimal(4),
        ("vcpu_hours", "sw-gaj"): Decimal(2),
        ("storage_gib_hours", "gd-edu"): Decimal("0.001465"),  # 1.5 MiB in GiB, 6 places
        ("egress_gib", "gd-edu"): Decimal("1.5"),
    }
    assert {e[4] for e in stored(db_url)} == {"2026-10-01 05:00:00.000000"}
    assert {e[6] for e in stored(db_url) if e[3] == "vcpu_hours"} >= {resources}


def test_running_a_collector_again_records_nothing_twice(resources, cloud, db_url) -> None:
    assert cloud("usage", "collect", "--cloud", "gd-prov", "--hour", HOUR).code == 0
    before = stored(db_url)
    again = cloud("usage", "collect", "--cloud", "gd-prov", "--hour", HOUR, "--json")
    assert again.code == 0, again
    assert (again.json()["accepted"], again.json()["duplicates"]) == (0, 4)
    assert stored(db_url) == before
    following = cloud("usage", "collect", "--cloud", "gd-prov", "--hour", "2026-10-01T14:00+08:00", "--json")
    assert following.json()["accepted"] == 4  # the next hour: instances and bucket again, its own traffic
    egress = sorted(Decimal(e[5]) / 10**6 for e in stored(db_url) if e[3] == "egress_gib")
    assert egress == [Decimal("1.5"), Decimal(2)]


def test_event_ids_derive_from_collector_cloud_resource_meter_and_hour() -> None:
    one = collectors.event_id("ec2", "gd-prov", "i-1", "vcpu_hours", H)
    assert one == collectors.event_id("ec2", "gd-prov", "i-1", "vcpu_hours", H.astimezone(UTC))
    others = {
        collectors.event_id(*args)
        for args in [
            ("s3", "gd-prov", "i-1", "vcpu_hours", H),
            ("ec2", "gz", "i-1", "vcpu_hours", H),
            ("ec2", "gd-prov", "i-2", "vcpu_hours", H),
            ("ec2", "gd-prov", "i-1", "gpu_hours", H),
            ("ec2", "gd-prov", "i-1", "vcpu_hours", H + timedelta(hours=1)),
        ]
    }
    assert one not in others and len(others) == 5


def test_a_resource_tagged_with_a_department_of_another_cloud_is_rejected(cloud, endpoint, db_url) -> None:
    _instance(_client("ec2", endpoint), "m5.large", "gz-gaj")
    _instance(_client("ec2", endpoint), "m5.large", "no-such-dept")
    result = cloud("usage", "collect", "--cloud", "gd-prov", "--hour", HOUR, "--json")
    assert result.code == 1
    reasons = sorted(r["reason"] for r in result.json()["rejected"])
    assert "not placed on cloud 'gd-prov'" in reasons[0] and "unknown department 'no-such-dept'" in reasons[1]
    assert stored(db_url) == set()


def test_cloudwatch_metric_mappings_are_configurable(cloud, endpoint, db_url, tmp_path) -> None:
    cw = _client("cloudwatch", endpoint)
    cw.put_metric_data(
        Namespace="Gateway",
        MetricData=[
            {
                "MetricName": "Requests",
                "Timestamp": H + timedelta(minutes=m),
                "Value": 250.0,
                "Dimensions": [{"Name": "ApiId", "Value": "api-7"}, {"Name": "zhengyun:department", "Value": "gd-hr"}],
            }
            for m in (1, 2, 3)
        ],
    )
    mappings = tmp_path / "metrics.yaml"
    mappings.write_text(
        "- {namespace: Gateway, metric: Requests, meter: api_calls, dimension: ApiId}\n"
        "- {namespace: AWS/EC2, metric: NetworkOut, meter: egress_gib, scale: 0.000000000931322574615478515625}\n",
        encoding="utf-8",
    )
    result = cloud("usage", "collect", "--cloud", "gd-prov", "--hour", HOUR, "--metrics", mappings, "--json")
    assert result.code == 0, result
    assert _by_meter(db_url) == {("api_calls", "gd-hr"): Decimal(750)}
    broken = tmp_path / "broken.yaml"
    broken.write_text("- {namespace: Gateway}\n", encoding="utf-8")
    refused = cloud("usage", "collect", "--cloud", "gd-prov", "--hour", HOUR, "--metrics", broken, "--json")
    assert refused.code == 1 and "[0].metric" in {p["path"] for p in refused.json()["problems"]}


def test_a_cloud_without_endpoint_is_not_collected(cloud) -> None:
    result = cloud("usage", "collect", "--cloud", "gz", "--hour", HOUR)
    assert result.code == 1 and "has no endpoint" in result.stderr


@pytest.mark.parametrize("hour", ["2026-10-01T13:30+08:00", "2026-10-01T13:00", "soon"])
def test_the_hour_must_be_a_whole_hour_with_offset(cloud, hour) -> None:
    result = cloud("usage", "collect", "--cloud", "gd-prov", "--hour", hour, "--json")
    assert result.code == 1 and "hour" in result.json()["error"]


@pytest.mark.parametrize("hour", ["0001-01-01T00:00+08:00", "9999-12-31T23:00+08:00", "1999-12-31T23:00+08:00"])
def test_an_hour_outside_the_years_2000_to_2099_is_refused(cloud, hour) -> None:
    """The one time parser (docs/reference.md#periods-and-times): the problem names `hour`."""
    result = cloud("usage", "collect", "--cloud", "gd-prov", "--hour", hour, "--json")
    assert result.code == 1, result
    problems = result.json()["problems"]
    assert [p["path"] for p in problems] == ["hour"] and "from 2000 to 2099" in problems[0]["message"], problems


def test_operators_collect_only_their_own_clouds(resources, cloud) -> None:
    assert cloud("users", "add", "gz-ops", "--role", "operator", "--operator", "gzops").code == 0
    assert cloud("users", "add", "gd-ops", "--role", "operator", "--operator", "dgcloud").code == 0
    refused = cloud("usage", "collect", "--cloud", "gd-prov", "--hour", HOUR, "--as", "gz-ops")
    assert refused.code == 1 and "permission denied" in refused.stderr
    assert cloud("usage", "collect", "--cloud", "gd-prov", "--hour", HOUR, "--as", "gd-ops").code == 0


def test_an_unreachable_endpoint_is_a_clear_error(use_db, cli, tmp_path, monkeypatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    tenancy = tmp_path / "tenancy.yaml"
    tenancy.write_text(
        (DATA / "tenancy.yaml")
        .read_text(encoding="utf-8")
        .replace(
            "operator: dgcloud, region: us-east-1}", f'operator: dgcloud, endpoint: "http://127.0.0.1:{_free_port()}"}}'
        ),
        encoding="utf-8",
    )
    assert cli("tenants", "import", tenancy).code == 0
    with session_scope() as session:
        with pytest.raises(Exception, match="cannot reach the endpoint"):
            collectors.collect(session, actor=SYSTEM, cloud_id="gd-prov", hour=H)


def test_instance_types_fall_back_to_the_built_in_table() -> None:
    class NoTypes:
        def get_paginator(self, name):
            from botocore.exceptions import ClientError

            raise ClientError({"Error": {"Code": "UnsupportedOperation", "Message": "no"}}, name)

    assert collectors._vcpus(NoTypes(), {"m5.2xlarge", "t2.micro", "ecs.g7.large", "weird"}) == {
        "m5.2xlarge": 8,
        "t2.micro": 1,
        "ecs.g7.large": 2,
    }
    assert collectors._cpu_options({"CpuOptions": {"CoreCount": 3, "ThreadsPerCore": 2}}) == 6
