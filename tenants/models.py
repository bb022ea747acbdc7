"""Registry tables and the shapes that cross its boundary."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.types import UtcDateTime

CLOUD_KINDS = ("provincial", "industry", "city", "external")
CITY_TIERS = ("autonomous", "standard", "hosted")
DEPARTMENT_LEVELS = ("provincial", "city", "county")
DEPARTMENT_KINDS = ("government", "party", "congress", "cppcc")
DEPARTMENT_STATUSES = ("active", "archived")
ROLES = ("admin", "bureau", "operator", "finance", "department", "auditor", "monitor")


class Province(SQLModel, table=True):
    """The one province this database runs."""

    __tablename__ = "province"

    code: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    currency: str = Field(default="CNY", max_length=3)
    supernet: str = Field(default="10.0.0.0/8", max_length=43)


class Operator(SQLModel, table=True):
    """A company or centre that runs one or more clouds under contract."""

    __tablename__ = "operator"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)


class Cloud(SQLModel, table=True):
    """A cloud of the 1+N+M: provincial, industry, city (by tier) or external."""

    __tablename__ = "cloud"

    id: str = Field(primary_key=True, max_length=40)
    kind: str = Field(max_length=16, index=True)
    name: str = Field(max_length=200)
    operator_id: str | None = Field(default=None, foreign_key="operator.id", max_length=40)
    industry: str | None = Field(default=None, max_length=64)
    city: str | None = Field(default=None, max_length=64)
    tier: str | None = Field(default=None, max_length=16)
    host_id: str | None = Field(default=None, foreign_key="cloud.id", max_length=40)
    region: str | None = Field(default=None, max_length=64)
    endpoint: str | None = Field(default=None, max_length=500)

    @property
    def has_infrastructure(self) -> bool:
        """Provincial, industry and non-hosted city clouds run infrastructure of their own."""
        return self.kind in ("provincial", "industry") or (self.kind == "city" and self.tier != "hosted")


class Department(SQLModel, table=True):
    """A government department: the tenant, user and rater of cloud services."""

    __tablename__ = "department"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    level: str = Field(max_length=16)
    kind: str = Field(default="government", max_length=16)
    city_id: str | None = Field(default=None, foreign_key="cloud.id", max_length=40)
    cloud_id: str = Field(foreign_key="cloud.id", max_length=40, index=True)
    quota_vcpu: int | None = None
    quota_memory_gib: int | None = None
    quota_storage_gib: int | None = None
    status: str = Field(default="active", max_length=16)
    network: str | None = Field(default=None, max_length=43)


class NetworkAllocation(SQLModel, table=True):
    """An allocated range. Never moved or reused: rows outlive the cloud or department they served."""

    __tablename__ = "network_allocation"

    cidr: str = Field(primary_key=True, max_length=43)
    prefix: int
    cloud_id: str = Field(max_length=40, index=True)
    department_id: str | None = Field(default=None, max_length=40)
    retired: bool = False


class User(SQLModel, table=True):
    """A person or system acting on the platform, with one role."""

    __tablename__ = "app_user"

    name: str = Field(primary_key=True, max_length=64)
    role: str = Field(max_length=16)
    department_id: str | None = Field(default=None, foreign_key="department.id", max_length=40)
    operator_id: str | None = Field(default=None, foreign_key="operator.id", max_length=40)
    token_hash: str | None = Field(default=None, max_length=64, index=True)
    password_hash: str | None = Field(default=None, max_length=200)
    disabled: bool = False
    created_at: datetime = Field(sa_type=UtcDateTime)


class Meter(SQLModel, table=True):
    """A metered quantity (all meters are summed)."""

    __tablename__ = "meter"

    code: str = Field(primary_key=True, max_length=40)
    unit: str = Field(max_length=32)
    description: str = Field(default="", max_length=200)
    builtin: bool = False


class Contract(SQLModel, table=True):
    """A service contract with one operator; `terms` holds the validated pay and SLA terms as JSON."""

    __tablename__ = "contract"

    id: str = Field(primary_key=True, max_length=64)
    operator_id: str = Field(foreign_key="operator.id", max_length=40, index=True)
    service: str = Field(max_length=64)
    service_category: str = Field(default="Other", max_length=64)
    currency: str = Field(default="CNY", max_length=3)
    start: date
    end: date
    terms: str = Field(sa_column=Column(Text, nullable=False))


class ContractCloud(SQLModel, table=True):
    """A cloud covered by a contract."""

    __tablename__ = "contract_cloud"
    __table_args__ = (UniqueConstraint("contract_id", "cloud_id"),)

    contract_id: str = Field(foreign_key="contract.id", primary_key=True, max_length=64)
    cloud_id: str = Field(foreign_key="cloud.id", primary_key=True, max_length=40, index=True)


BUILTIN_METERS = (
    ("vcpu_hours", "vCPU·h", "vCPU 小时 / vCPU-hours"),
    ("memory_gib_hours", "GiB·h", "内存 GiB 小时 / memory GiB-hours"),
    ("storage_gib_hours", "GiB·h", "存储 GiB 小时 / storage GiB-hours"),
    ("egress_gib", "GiB", "出网流量 / egress GiB"),
    ("gpu_hours", "GPU·h", "GPU 小时 / GPU-hours"),
    ("api_calls", "calls", "API 调用次数 / API calls"),
)
