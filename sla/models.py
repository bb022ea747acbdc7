"""SLA and evaluation tables — probe checks, outages, maintenance windows, ratings, tickets, appeals —
and the read shapes that cross the domain's boundary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import Column, Index, Text, text
from sqlmodel import AutoString, Field, SQLModel

from core.db import enum_check
from core.i18n import register_labels
from core.types import UtcDateTime

# Sources and statuses (docs/reference.md#sla, #evaluation): one definition, used by the tables, the
# record files and the pages. Stored as the plain strings they are equal to.


class OutageSource(StrEnum):
    """Where an outage comes from; an outage file may carry any of them."""

    PROBE = "probe"
    MANUAL = "manual"
    IMPORT = "import"


class RatingSource(StrEnum):
    """How a rating reached the platform: given through the service, or imported from a file."""

    SERVICE = "service"
    IMPORT = "import"


class TicketStatus(StrEnum):
    """A rectification ticket: open until answered, withdrawn when its rating's appeal is upheld."""

    OPEN = "open"
    ANSWERED = "answered"
    WITHDRAWN = "withdrawn"


class AppealStatus(StrEnum):
    """An appeal: pending until the bureau upholds or rejects it."""

    PENDING = "pending"
    UPHELD = "upheld"
    REJECTED = "rejected"


register_labels(
    {
        OutageSource.PROBE: "探测",
        OutageSource.MANUAL: "人工录入",
        OutageSource.IMPORT: "文件导入",
        RatingSource.IMPORT: "文件导入",
        TicketStatus.OPEN: "待答复",
        TicketStatus.ANSWERED: "已答复",
        TicketStatus.WITHDRAWN: "已撤销",
        AppealStatus.PENDING: "待审批",
        AppealStatus.UPHELD: "申诉成立",
        AppealStatus.REJECTED: "已驳回",
    }
)


class ProbeCheck(SQLModel, table=True):
    """One stored check of one probe from one vantage point; it covers the `interval_s` seconds after it."""

    __tablename__ = "sla_probe_check"
    __table_args__ = (
        Index("ix_sla_probe_check_contract_time", "contract_id", "time"),
        Index("ix_sla_probe_check_probe_vantage_time", "contract_id", "probe", "vantage", "time"),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(foreign_key="contract.id", max_length=64)
    probe: str = Field(max_length=64)
    vantage: str = Field(max_length=64)
    time: datetime = Field(sa_type=UtcDateTime)
    interval_s: int
    ok: bool
    status: int | None = None
    duration_ms: int
    error: str | None = Field(default=None, max_length=500)


class Outage(SQLModel, table=True):
    """`[start, end)` of a contract's service being down; `end` is None while a probe outage is open."""

    __tablename__ = "sla_outage"
    __table_args__ = (
        Index("ix_sla_outage_contract_start", "contract_id", "start"),
        # at most one open probe outage per probe, whichever process opens it
        Index(
            "uq_sla_outage_open_probe",
            "contract_id",
            "probe",
            unique=True,
            sqlite_where=text('"end" IS NULL'),
            postgresql_where=text('"end" IS NULL'),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(foreign_key="contract.id", max_length=64)
    start: datetime = Field(sa_type=UtcDateTime)
    end: datetime | None = Field(default=None, sa_type=UtcDateTime)
    source: OutageSource = Field(
        sa_type=AutoString(length=16), sa_column_args=[enum_check("sla_outage", "source", OutageSource)]
    )
    probe: str | None = Field(default=None, max_length=64)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)


class MaintenanceWindow(SQLModel, table=True):
    """A maintenance window requested by the operator; it counts once approved and announced in time."""

    __tablename__ = "sla_maintenance"
    __table_args__ = (Index("ix_sla_maintenance_contract_start", "contract_id", "start"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(foreign_key="contract.id", max_length=64)
    start: datetime = Field(sa_type=UtcDateTime)
    end: datetime = Field(sa_type=UtcDateTime)
    announced_at: datetime = Field(sa_type=UtcDateTime)
    note: str = Field(default="", sa_column=Column(Text, nullable=False))
    requested_by: str = Field(max_length=64)
    requested_at: datetime = Field(sa_type=UtcDateTime)
    approved: bool | None = None
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Rating(SQLModel, table=True):
    """A department's rating of a contract (好差评); kept for history even when a later one counts."""

    __tablename__ = "sla_rating"
    __table_args__ = (Index("ix_sla_rating_contract_period", "contract_id", "period"),)

    id: int | None = Field(default=None, primary_key=True)
    contract_id: str = Field(foreign_key="contract.id", max_length=64)
    department_id: str = Field(foreign_key="department.id", max_length=40, index=True)
    time: datetime = Field(sa_type=UtcDateTime)
    period: str = Field(max_length=7)
    level: int
    comment: str = Field(default="", sa_column=Column(Text, nullable=False))
    source: RatingSource = Field(
        sa_type=AutoString(length=16), sa_column_args=[enum_check("sla_rating", "source", RatingSource)]
    )
    created_by: str = Field(max_length=64)
    received_at: datetime = Field(sa_type=UtcDateTime)
    appeal_due: datetime = Field(sa_type=UtcDateTime)
    excluded: bool = False


class Ticket(SQLModel, table=True):
    """A rectification ticket (整改) opened by a bad review, for the contract's operator to answer."""

    __tablename__ = "sla_ticket"

    id: int | None = Field(default=None, primary_key=True)
    rating_id: int = Field(foreign_key="sla_rating.id", unique=True)
    contract_id: str = Field(foreign_key="contract.id", max_length=64, index=True)
    operator_id: str = Field(foreign_key="operator.id", max_length=40, index=True)
    department_id: str = Field(foreign_key="department.id", max_length=40)
    opened_at: datetime = Field(sa_type=UtcDateTime)
    due_at: datetime = Field(sa_type=UtcDateTime)
    status: TicketStatus = Field(
        default=TicketStatus.OPEN,
        sa_type=AutoString(length=16),
        sa_column_args=[enum_check("sla_ticket", "status", TicketStatus)],
        index=True,
    )
    answer: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    answered_by: str | None = Field(default=None, max_length=64)
    answered_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class Appeal(SQLModel, table=True):
    """An operator's appeal against a rating, decided by the bureau."""

    __tablename__ = "sla_appeal"

    id: int | None = Field(default=None, primary_key=True)
    rating_id: int = Field(foreign_key="sla_rating.id", unique=True)
    contract_id: str = Field(foreign_key="contract.id", max_length=64, index=True)
    reason: str = Field(sa_column=Column(Text, nullable=False))
    filed_by: str = Field(max_length=64)
    filed_at: datetime = Field(sa_type=UtcDateTime)
    status: AppealStatus = Field(
        default=AppealStatus.PENDING,
        sa_type=AutoString(length=16),
        sa_column_args=[enum_check("sla_appeal", "status", AppealStatus)],
    )
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


# ---------------------------------------------------------------------------- read shapes


def _local(value: datetime | None, tz: ZoneInfo) -> datetime | None:
    return None if value is None else value.astimezone(tz)


@dataclass(frozen=True)
class OutageRead:
    """An outage as shown (times in the province's timezone)."""

    id: int
    contract: str
    start: datetime
    end: datetime | None
    source: str
    probe: str | None
    note: str

    @classmethod
    def of(cls, row: Outage, tz: ZoneInfo) -> OutageRead:
        assert row.id is not None
        return cls(
            row.id, row.contract_id, row.start.astimezone(tz), _local(row.end, tz), row.source, row.probe, row.note
        )


@dataclass(frozen=True)
class MaintenanceRead:
    """A maintenance window as shown; `counts` is approved and timely."""

    id: int
    contract: str
    start: datetime
    end: datetime
    announced_at: datetime
    note: str
    approved: bool | None
    timely: bool
    counts: bool
    requested_by: str
    decided_by: str | None

    @classmethod
    def of(cls, row: MaintenanceWindow, tz: ZoneInfo, timely: bool) -> MaintenanceRead:
        assert row.id is not None
        return cls(
            row.id,
            row.contract_id,
            row.start.astimezone(tz),
            row.end.astimezone(tz),
            row.announced_at.astimezone(tz),
            row.note,
            row.approved,
            timely,
            bool(row.approved) and timely,
            row.requested_by,
            row.decided_by,
        )


@dataclass(frozen=True)
class RatingRead:
    """A rating as shown."""

    id: int
    contract: str
    department: str
    time: datetime
    period: str
    level: int
    comment: str
    source: str
    appeal_due: datetime
    excluded: bool

    @classmethod
    def of(cls, row: Rating, tz: ZoneInfo) -> RatingRead:
        assert row.id is not None
        return cls(
            row.id,
            row.contract_id,
            row.department_id,
            row.time.astimezone(tz),
            row.period,
            row.level,
            row.comment,
            row.source,
            row.appeal_due.astimezone(tz),
            row.excluded,
        )


@dataclass(frozen=True)
class TicketRead:
    """A rectification ticket as shown; `overdue` at the time it was read."""

    id: int
    rating: int
    contract: str
    operator: str
    department: str
    opened_at: datetime
    due_at: datetime
    status: str
    overdue: bool
    answer: str | None
    answered_by: str | None
    answered_at: datetime | None

    @classmethod
    def of(cls, row: Ticket, tz: ZoneInfo, now: datetime) -> TicketRead:
        assert row.id is not None
        return cls(
            row.id,
            row.rating_id,
            row.contract_id,
            row.operator_id,
            row.department_id,
            row.opened_at.astimezone(tz),
            row.due_at.astimezone(tz),
            row.status,
            row.status == TicketStatus.OPEN and now >= row.due_at,
            row.answer,
            row.answered_by,
            _local(row.answered_at, tz),
        )


@dataclass(frozen=True)
class AppealRead:
    """An appeal as shown."""

    id: int
    rating: int
    contract: str
    reason: str
    filed_by: str
    filed_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None
    note: str | None

    @classmethod
    def of(cls, row: Appeal, tz: ZoneInfo) -> AppealRead:
        assert row.id is not None
        return cls(
            row.id,
            row.rating_id,
            row.contract_id,
            row.reason,
            row.filed_by,
            row.filed_at.astimezone(tz),
            row.status,
            row.decided_by,
            _local(row.decided_at, tz),
            row.note,
        )


@dataclass(frozen=True)
class CheckRead:
    """One probe check as reported by a probe run."""

    contract: str
    probe: str
    vantage: str
    time: datetime
    ok: bool
    status: int | None
    duration_ms: int
    error: str | None
