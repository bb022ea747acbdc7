"""The policy pack entry point the Pulumi CLI runs (`pulumi preview --policy-pack infra/policy`)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:  # the pack runs as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

from infra.policy.policies import POLICIES  # noqa: E402

PolicyPack(name="zhengyun-guardrails", enforcement_level=EnforcementLevel.MANDATORY, policies=POLICIES)
