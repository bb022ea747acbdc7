"""Usage tables: the append-only event table and the (cloud, department, meter) series it refers to.

`usage_event` keeps one row per event under its idempotency key `(cloud_id, event_id)` — the primary
key, so the database enforces uniqueness in the inserting transaction — with department, meter, the
UTC time, the quantity in integer millionths (`MicroUnits`, so SQL sums are exact), resource,
canonical attributes and `received_at`. Whether a repeated key is a duplicate or a conflict is decided
by comparing the stored content with the new event's canonical content.

Every event refers to a row of `usage_series`, one per (cloud, department, meter) that has usage,
whose own foreign keys point at `cloud`, `department` and `meter`; series rows are never changed or
deleted. So the registry cannot delete a department or cloud that has usage (its series refer to it),
and deleting one probes the small series table instead of scanning every event.

Inserting events is the platform's hot path (docs/reference.md#performance-targets), and each index or per-row check on
`usage_event` costs about as much as the key itself. So events refer to their series without a
per-row foreign key: the writer (`metering.store`) stores a batch's new series in the batch's own
transaction, before its events. And the migrations (`0005`, `0008`) shape the table per database, as
the PostgreSQL-only indexes below say: on PostgreSQL an index on `time` serves period queries; on
SQLite, the embedded default, the key is the only index and period queries scan the table.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, Text
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
    """One usage event as stored: never changed or deleted (docs/reference.md#usage-and-meters)."""

    __tablename__ = "usage_event"
    __table_args__ = (
        # PostgreSQL only (migrations 0002, 0005): period queries; the tail beyond the rollup mark, cheaply
        Index("ix_usage_event_time", "time").ddl_if(dialect="postgresql"),
        Index("ix_usage_event_received_brin", "received_at", postgresql_using="brin").ddl_if(dialect="postgresql"),
    )

    cloud_id: str = Field(primary_key=True, max_length=40)
    event_id: str = Field(primary_key=True, max_length=MAX_ID_LENGTH)
    department_id: str = Field(max_length=40)
    meter: str = Field(max_length=40)
    time: datetime = Field(sa_type=UtcDateTime, nullable=False)
    quantity: Decimal = Field(sa_type=MicroUnits, nullable=False)
    resource_id: str | None = Field(default=None, max_length=MAX_ID_LENGTH)
    attributes: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    received_at: datetime = Field(sa_type=UtcDateTime, nullable=False)


# ---------------------------------------------------------------------------- rollups (`metering.rollup`)
#
# Sums of the events, folded in after ingest (reads add the events not folded yet), so that dashboards
# read thousands of rows instead of scanning millions of events. A quantity sum is kept in three BIGINT parts of millionths
# (`q_hi`, `q_mid`, `q_lo`: `core.types.micro_total` puts them together), because SQLite's 64-bit integers
# cannot hold the sum of ten quantities near 10^12 (docs/reference.md#usage-events-file). The migration (`0008`) creates the tables
# with the keys and indexes below (WITHOUT ROWID on SQLite).


class UsageHourly(SQLModel, table=True):
    """Events and quantity per (UTC hour, department, cloud, meter); indexed by (department, hour)."""

    __tablename__ = "usage_hourly"
    __table_args__ = (Index("ix_usage_hourly_department", "department_id", "hour"),)

    hour: datetime = Field(sa_type=UtcDateTime, primary_key=True)
    department_id: str = Field(primary_key=True, max_length=40)
    cloud_id: str = Field(primary_key=True, max_length=40)
    meter: str = Field(primary_key=True, max_length=40)
    events: int = Field(sa_type=BigInteger, nullable=False)
    q_hi: int = Field(sa_type=BigInteger, nullable=False)
    q_mid: int = Field(sa_type=BigInteger, nullable=False)
    q_lo: int = Field(sa_type=BigInteger, nullable=False)


class UsageDaily(SQLModel, table=True):
    """Events and quantity per (UTC day, department, cloud, meter): whole UTC days of long ranges."""

    __tablename__ = "usage_daily"

    day: datetime = Field(sa_type=UtcDateTime, primary_key=True)
    department_id: str = Field(primary_key=True, max_length=40)
    cloud_id: str = Field(primary_key=True, max_length=40)
    meter: str = Field(primary_key=True, max_length=40)
    events: int = Field(sa_type=BigInteger, nullable=False)
    q_hi: int = Field(sa_type=BigInteger, nullable=False)
    q_mid: int = Field(sa_type=BigInteger, nullable=False)
    q_lo: int = Field(sa_type=BigInteger, nullable=False)


class UsageCloudHourly(SQLModel, table=True):
    """Events and quantity per (UTC hour, cloud, meter): reads that need no department."""

    __tablename__ = "usage_cloud_hourly"
    __table_args__ = (Index("ix_usage_cloud_hourly_received", "cloud_id", "last_received"),)

    hour: datetime = Field(sa_type=UtcDateTime, primary_key=True)
    cloud_id: str = Field(primary_key=True, max_length=40)
    meter: str = Field(primary_key=True, max_length=40)
    events: int = Field(sa_type=BigInteger, nullable=False)
    q_hi: int = Field(sa_type=BigInteger, nullable=False)
    q_mid: int = Field(sa_type=BigInteger, nullable=False)
    q_lo: int = Field(sa_type=BigInteger, nullable=False)
    #: the latest `received_at` of its events: whether a bill's window got usage after it was computed
    last_received: datetime = Field(sa_type=UtcDateTime, nullable=False)


class UsageRollupMark(SQLModel, table=True):
    """The one row saying which events the rollups cover (`metering.rollup`, migration `0008`).

    SQLite: the events up to rowid `folded_rowid`; PostgreSQL: those received before `folded_before`
    (`-infinity` until the first fold). `metering.rollup` reads and advances it in SQL.
    """

    __tablename__ = "usage_rollup_mark"
    __table_args__ = (CheckConstraint("id = 1"),)

    id: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    folded_rowid: int = Field(sa_type=BigInteger, nullable=False)
    folded_before: datetime | None = Field(default=None, sa_type=UtcDateTime)
