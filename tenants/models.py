"""Registry tables and the shapes that cross its boundary."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import AutoString, Field, SQLModel

from core.db import enum_check
from core.i18n import register_labels
from core.types import UtcDateTime

# The registry's kinds and statuses (docs/reference.md#the-registry, #tenancy-file): one definition, used by the
# tables, the tenancy file and the pages. Stored as the plain strings they are equal to.


class CloudKind(StrEnum):
    """The kind of a cloud of the 1+N+M."""

    PROVINCIAL = "provincial"
    INDUSTRY = "industry"
    CITY = "city"
    EXTERNAL = "external"


class CityTier(StrEnum):
    """The tier of a city cloud."""

    AUTONOMOUS = "autonomous"
    STANDARD = "standard"
    HOSTED = "hosted"


class DepartmentLevel(StrEnum):
    """The level of a department."""

    PROVINCIAL = "provincial"
    CITY = "city"
    COUNTY = "county"


class DepartmentKind(StrEnum):
    """The kind of a department."""

    GOVERNMENT = "government"
    PARTY = "party"
    CONGRESS = "congress"
    CPPCC = "cppcc"


class DepartmentStatus(StrEnum):
    """Whether a department is in use or archived (left out of a later tenancy file)."""

    ACTIVE = "active"
    ARCHIVED = "archived"


class Role(StrEnum):
    """A user's role (docs/reference.md#roles); `admin` is the built-in administrator's alone."""

    ADMIN = "admin"
    BUREAU = "bureau"
    OPERATOR = "operator"
    FINANCE = "finance"
    DEPARTMENT = "department"
    AUDITOR = "auditor"
    MONITOR = "monitor"  # a metrics scraper: reads /metrics, nothing else


#: The province's timezone until a tenancy file names another (docs/reference.md#the-registry).
DEFAULT_TIMEZONE = "Asia/Shanghai"


register_labels(
    {
        CloudKind.PROVINCIAL: "省级",
        CloudKind.INDUSTRY: "行业",
        CloudKind.CITY: "市级",
        CloudKind.EXTERNAL: "外部",
        CityTier.AUTONOMOUS: "自建",
        CityTier.STANDARD: "标准",
        CityTier.HOSTED: "托管",
        DepartmentLevel.PROVINCIAL: "省级",
        DepartmentLevel.CITY: "市级",
        DepartmentStatus.ACTIVE: "在用",
        DepartmentStatus.ARCHIVED: "已归档",
        # the roles, as shown by the demo and the dashboards
        Role.ADMIN: "管理员",
        Role.BUREAU: "数据管理局",
        Role.OPERATOR: "运营商",
        Role.FINANCE: "财务",
        Role.DEPARTMENT: "部门",
        Role.AUDITOR: "审计员",
        Role.MONITOR: "监控",
    }
)


class Province(SQLModel, table=True):
    """The one province this database runs."""

    __tablename__ = "province"

    code: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    timezone: str = Field(default=DEFAULT_TIMEZONE, max_length=64)
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
    kind: CloudKind = Field(
        sa_type=AutoString(length=16), sa_column_args=[enum_check("cloud", "kind", CloudKind)], index=True
    )
    name: str = Field(max_length=200)
    operator_id: str | None = Field(default=None, foreign_key="operator.id", max_length=40)
    industry: str | None = Field(default=None, max_length=64)
    city: str | None = Field(default=None, max_length=64)
    tier: CityTier | None = Field(
        default=None, sa_type=AutoString(length=16), sa_column_args=[enum_check("cloud", "tier", CityTier)]
    )
    host_id: str | None = Field(default=None, foreign_key="cloud.id", max_length=40)
    region: str | None = Field(default=None, max_length=64)
    endpoint: str | None = Field(default=None, max_length=500)

    @property
    def has_infrastructure(self) -> bool:
        """Provincial, industry and non-hosted city clouds run infrastructure of their own."""
        return self.kind in (CloudKind.PROVINCIAL, CloudKind.INDUSTRY) or (
            self.kind == CloudKind.CITY and self.tier != CityTier.HOSTED
        )


class Department(SQLModel, table=True):
    """A government department: the tenant, user and rater of cloud services."""

    __tablename__ = "department"

    id: str = Field(primary_key=True, max_length=40)
    name: str = Field(max_length=200)
    level: DepartmentLevel = Field(
        sa_type=AutoString(length=16), sa_column_args=[enum_check("department", "level", DepartmentLevel)]
    )
    kind: DepartmentKind = Field(
        default=DepartmentKind.GOVERNMENT,
        sa_type=AutoString(length=16),
        sa_column_args=[enum_check("department", "kind", DepartmentKind)],
    )
    city_id: str | None = Field(default=None, foreign_key="cloud.id", max_length=40)
    cloud_id: str = Field(foreign_key="cloud.id", max_length=40, index=True)
    quota_vcpu: int | None = None
    quota_memory_gib: int | None = None
    quota_storage_gib: int | None = None
    status: DepartmentStatus = Field(
        default=DepartmentStatus.ACTIVE,
        sa_type=AutoString(length=16),
        sa_column_args=[enum_check("department", "status", DepartmentStatus)],
    )
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
    role: Role = Field(sa_type=AutoString(length=16), sa_column_args=[enum_check("app_user", "role", Role)])
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
