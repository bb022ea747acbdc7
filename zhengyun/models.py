"""Import every domain's tables so SQLModel.metadata knows them all (migrations, tests), and the platform's own."""

from sqlalchemy import BigInteger
from sqlmodel import Field, SQLModel

import billing.models  # noqa: F401
import core.audit  # noqa: F401
import metering.models  # noqa: F401
import sla.models  # noqa: F401
import tenants.models  # noqa: F401

metadata = SQLModel.metadata


class SchedulerLease(SQLModel, table=True):
    """Which `zhengyun serve` process runs the scheduled jobs (`zhengyun.scheduler`, migration `0007`).

    The scheduler takes, renews and gives up the lease in SQL; the jobs themselves are kept by
    APScheduler in its own table, `scheduler_job`, which it creates itself (`zhengyun.database.UNMODELLED`).
    """

    __tablename__ = "scheduler_lease"

    name: str = Field(primary_key=True, max_length=64)
    holder: str = Field(max_length=200)
    #: milliseconds since the epoch (UTC); every process compares against its own clock
    expires_at_ms: int = Field(sa_type=BigInteger, nullable=False)
