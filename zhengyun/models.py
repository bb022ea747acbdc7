"""Import every domain's tables so SQLModel.metadata knows them all (migrations, tests)."""

from sqlmodel import SQLModel

import billing.models  # noqa: F401
import core.audit  # noqa: F401
import metering.models  # noqa: F401
import sla.models  # noqa: F401
import tenants.models  # noqa: F401

metadata = SQLModel.metadata
