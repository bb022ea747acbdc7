"""The Pulumi program entry point (`Pulumi.yaml` → `main: infra/`).

Stack configuration: `zhengyun:tenancy` (the file written by `zhengyun tenants export`, relative to
the project root or absolute), `zhengyun:cloud` (`province` or a cloud id) and, for clouds without a
region in the registry, `aws:region`.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # Pulumi runs the program as a directory: make the project importable
    sys.path.insert(0, str(ROOT))

import pulumi  # noqa: E402

from core.errors import DomainError  # noqa: E402
from infra.program import declare  # noqa: E402
from infra.tenancy import load_tenancy  # noqa: E402

config = pulumi.Config("zhengyun")
tenancy = Path(config.require("tenancy"))
try:
    declare(
        load_tenancy(tenancy if tenancy.is_absolute() else ROOT / tenancy),
        config.require("cloud"),
        default_region=pulumi.Config("aws").get("region"),
    )
except DomainError as exc:
    raise pulumi.RunError("\n".join([exc.message, *(str(p) for p in exc.problems)])) from None
