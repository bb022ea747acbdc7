"""Usage tables: the append-only event table and the (cloud, department, meter) series it refers to.

`usage_event` keeps one row per event: the idempotency key `(cloud_id, event_id)` (unique, enforced by
the database in the inserting transaction), department, meter, the UTC time, the quantity in integer
millionths (`MicroUnits`, so SQL sums are exact), a content fingerprint and `received_at`.

Its department, cloud and meter are one composite foreign key to `usage_series`, a small table with one
row per (cloud, department, meter) that has usage, whose own foreign keys point at `cloud`,
`department` and `meter`. So the database still refuses an event for an unknown department or cloud,
and the registry still cannot delete a department or cloud that has usage (the series refers to it) —
but an insert checks one small index instead of three, and deleting a department probes the small
indexed series table instead of scanning every event.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Column, ForeignKeyConstraint, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.types import MicroUnits, UtcDateTime

#: Longest accepted `event_id` and `resource_id` (characters).
MAX_ID_LENGTH = 200


class UsageSeries(SQLModel, table=True):
    """A (cloud, department, meter) that has usage; every event refers to its series."""

    __tablename__ = "usage_series"

    cloud_id: str = Field(foreign_key="cloud.id", primary_key=True, max_length=40)
    department_id: str = Field(foreign_key="department.id", primary_key=True, max_length=40, index=True)
    meter: str = Field(foreign_key="meter.code", primary_key=True, max_length=40)


class UsageEvent(SQLModel, table=True):
    """One usage event as stored: never changed or deleted (SPEC 2.2)."""

    __tablename__ = "usage_event"
    __table_args__ = (
        UniqueConstraint("cloud_id", "event_id", name="uq_usage_event_cloud_event"),
        ForeignKeyConstraint(["cloud_id", "department_id", "meter"],
                             ["usage_series.cloud_id", "usage_series.department_id", "usage_series.meter"],
                             name="fk_usage_event_series"),
        Index("ix_usage_event_time", "time"),
        Index("ix_usage_event_received_at", "received_at"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger().with_variant(Integer(), "sqlite"),
                                                          primary_key=True, autoincrement=True))
    cloud_id: str = Field(max_length=40)
    event_id: str = Field(max_length=MAX_ID_LENGTH)
    department_id: str = Field(max_length=40)
    meter: str = Field(max_length=40)
    time: datetime = Field(sa_type=UtcDateTime, nullable=False)
    quantity: Decimal = Field(sa_type=MicroUnits, nullable=False)
    resource_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    attributes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    fingerprint: str = Field(max_length=32)
    received_at: datetime = Field(sa_type=UtcDateTime, nullable=False)
