"""The demo's part of usage that comes through the boto3 collectors: a local moto server on
127.0.0.1 stands in for the Guangzhou city cloud's API, seeded with tagged instances and buckets."""

from __future__ import annotations

import logging
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from core.periods import Period
from metering.collectors import collect
from tenants.models import Cloud
from tenants.permissions import SYSTEM, Actor
from tenants.service import province_zone
from tenants.tenancy import import_tenancy
from zhengyun import app

CLOUD = "gz"
#: (instance type, department) on the city cloud; and (bucket, department, object sizes in bytes)
INSTANCES = [("m5.2xlarge", "gz-gaj"), ("m5.xlarge", "gz-gaj"), ("c5.large", "gz-jyj"), ("m5.large", "gz-wjw")]
BUCKETS = [("gz-gaj-archive", "gz-gaj", [3 << 20, 5 << 20]), ("gz-wjw-records", "gz-wjw", [7 << 20])]
CREDENTIALS = {"aws_access_key_id": "demo", "aws_secret_access_key": "demo"}
HOURS = 6


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 for the duration of the block; its URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no request log on the demo's console
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def _client(service: str, url: str) -> Any:
    import boto3

    return boto3.client(service, endpoint_url=url, region_name="us-east-1", **CREDENTIALS)


def seed(url: str) -> None:
    """Tagged instances and buckets, as the operator's provisioning would have left them."""
    ec2, s3 = _client("ec2", url), _client("s3", url)
    image = "ami-12c6146b"  # any id: the emulator does not validate images (listing them is slow)
    for kind, department in INSTANCES:
        tags = [{"ResourceType": "instance", "Tags": [{"Key": "zhengyun:department", "Value": department}]}]
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType=kind, TagSpecifications=tags)
    for name, department, sizes in BUCKETS:
        s3.create_bucket(Bucket=name)
        s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "zhengyun:department", "Value": department}]})
        for i, size in enumerate(sizes):
            s3.put_object(Bucket=name, Key=f"obj-{i}", Body=b"\0" * size)


def collect_last_day(engine: Engine, operator: Actor, period: Period, tenancy: Path) -> int:
    """Point the city cloud's endpoint at a local moto server (a registry import), then collect the
    period's last day hour by hour through `metering.collectors.collect`; the events collected."""
    collected = 0
    with moto_server() as url, tempfile.TemporaryDirectory() as tmp:
        seed(url)
        text = tenancy.read_text(encoding="utf-8")
        line = "operator: gz-ops, region: cn-south-gz-1}"
        assert line in text, "the demo tenancy's Guangzhou cloud changed"
        pointed = Path(tmp) / tenancy.name
        pointed.write_text(text.replace(line, line[:-1] + f', endpoint: "{url}"}}'), encoding="utf-8")
        app.run(lambda s, a: import_tenancy(s, actor=a, path=pointed), actor=SYSTEM, engine=engine)

        clients: dict[str, Any] = {}

        def factory(service: str, _cloud: Cloud) -> Any:
            if service not in clients:
                clients[service] = _client(service, url)
            return clients[service]

        def hours(session: Session, _actor: Actor) -> list[datetime]:
            _, end = period.bounds(province_zone(session))
            return [end - timedelta(hours=h) for h in range(HOURS, 0, -1)]

        for hour in app.run(hours, actor=operator, engine=engine):
            result = app.run(
                lambda s, a, h=hour: collect(s, actor=a, cloud_id=CLOUD, hour=h, client_factory=factory),  # type: ignore[misc]
                actor=operator,
                engine=engine,
            )
            collected += result.collected
    return collected
