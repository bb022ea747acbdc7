"""The FOCUS export checked by the FinOps Foundation's own validator (`focus-validator`, FOCUS 1.2 model).

The validator needs Python ≥ 3.12 and pins its own libraries, so it lives in a virtual environment of
its own: `make focus-validator` (which `.ci/run` calls) creates it in `.venv-focus/`, and
`ZHENGYUN_FOCUS_VALIDATOR` may point at another one. Without it the test skips, saying how to get it;
`.ci/run` sets `ZHENGYUN_FOCUS_VALIDATOR`, which makes it required (a missing validator fails the test).

The province exported here carries every line kind — annual, usage, unpriced, SLA credit, evaluation
deduction, cap adjustment and correction — with Chinese names, as real provinces have.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from tests.billing.conftest import CONTRACT, import_usage, ok, write_usage
from tests.conftest import REPO

#: The FOCUS 1.2 model the validator checks against, in its package.
MODEL = "rules/model-1.2.0.1.json"

CAP_CONTRACTS = """contracts:
  - id: GZ-CAP-2026
    operator: gzops
    clouds: [gz]
    service: 政务外网
    service_category: Networking
    start: 2026-01-01
    end: 2026-12-31
    annual_fee: "73000.00"
    sla: {credits: [{below: "99.99", credit: "0.30"}]}
    evaluation:
      at_risk: "0.50"
      payout: [{min_score: "60", pays: "1.00"}, {min_score: "0", pays: "0.00"}]
      min_ratings: 1
    max_deduction: "0.40"
"""


def validator_python() -> Path | None:
    """The Python of the validator's environment: `ZHENGYUN_FOCUS_VALIDATOR`, else `.venv-focus/`.

    When `ZHENGYUN_FOCUS_VALIDATOR` is set (CI sets it), the validator is required: missing, the test fails.
    """
    given = os.environ.get("ZHENGYUN_FOCUS_VALIDATOR")
    python = Path(given or REPO / ".venv-focus") / "bin" / "python"
    if python.exists():
        return python
    if given:
        pytest.fail(f"ZHENGYUN_FOCUS_VALIDATOR={given} holds no validator environment: run `make focus-validator`")
    return None


def validator_package(python: Path) -> Path:
    """The folder that holds the `focus_validator` package (it reads its rule files relative to it)."""
    out = subprocess.run(
        [str(python), "-c", "import focus_validator, os; print(os.path.dirname(focus_validator.__file__))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return Path(out)


def run_validator(python: Path, export: Path, workdir: Path) -> dict[str, str]:
    """Run `focus-validator` on `export`; every rule it checked with its outcome (PASS, FAIL, SKIPPED)."""
    package = validator_package(python)
    report = workdir / "focus-report.xml"
    done = subprocess.run(
        [
            str(python),
            "-m",
            "focus_validator.main",
            "--data-file",
            str(export),
            "--validate-version",
            "1.2",
            "--block-download",
            "--output-type",
            "unittest",
            "--output-destination",
            str(report),
        ],
        cwd=package.parent,  # it opens `focus_validator/rules/...` relative to the working directory
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert report.exists(), f"focus-validator wrote no report (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    return parse_report(report.read_text(encoding="utf-8"))


def parse_report(xml: str) -> dict[str, str]:
    """Rule id -> outcome from the validator's JUnit-style report (`<testcase name="RULE :: kind">`)."""
    outcomes: dict[str, str] = {}
    for case in ElementTree.fromstring(xml).iter("testcase"):
        rule = case.get("name", "").split(" ")[0]
        if case.find("failure") is not None or case.find("error") is not None:
            outcomes[rule] = "FAIL"
        elif case.find("skipped") is not None:
            outcomes[rule] = "SKIPPED"
        else:
            outcomes[rule] = "PASS"
    return outcomes


def _references(rule: dict[str, Any]) -> list[str] | None:
    """The rules a composite rule combines, None when it is not a pure composite of model rules."""
    items = rule["ValidationCriteria"]["Requirement"].get("Items")
    if not items or any(item.get("CheckFunction") != "CheckModelRule" for item in items):
        return None
    return [item["ModelRuleId"] for item in items]


def unexcused_failures(outcomes: dict[str, str], model: dict[str, Any]) -> list[str]:
    """The failed rules other than those the export may fail, with the reason each is excused:

    * the ASCII-only string checks (`FormatString`: the validator implements FOCUS StringHandling as
      ASCII only; FOCUS 1.2 asks for valid Unicode, and names here are Chinese — docs/billing.md);
    * an alternative of an OR composite that passed (the validator also reports each alternative on
      its own: InvoiceId-C-004-C "null when not invoiced" beside C-005-C "not null when invoiced");
    * a composite (AND) whose failed parts are all excused.
    """
    rules = model["ModelRules"]
    failed = {rule for rule, outcome in outcomes.items() if outcome == "FAIL"}
    excused = {
        r for r in failed if rules[r]["ValidationCriteria"]["Requirement"].get("CheckFunction") == "FormatString"
    }
    for rule_id, rule in rules.items():
        refs = _references(rule)
        if (
            refs
            and rule["ValidationCriteria"]["Requirement"]["CheckFunction"] == "OR"
            and outcomes.get(rule_id) == "PASS"
        ):
            excused |= failed & set(refs)
    changed = True
    while changed:
        changed = False
        for rule_id in sorted(failed - excused):
            refs = _references(rules[rule_id])
            failed_parts = [r for r in refs or [] if r in failed]
            if failed_parts and all(r in excused for r in failed_parts):
                excused.add(rule_id)
                changed = True
    return sorted(failed - excused)


def every_line_kind(cli: Any, tmp_path: Path) -> str:
    """A province whose October bills carry every line kind; its FOCUS export."""
    ok(cli("contracts", "import", str(tmp_path / "cap.yaml"), "--json"))
    # September billed and approved, then late usage of September: a correction in October
    ok(cli("bills", "run", "--period", "2026-09", "--as", "fin1", "--json"))
    ok(cli("bills", "approve", f"{CONTRACT}@2026-09", "--as", "fin2", "--json"))
    report = import_usage(
        cli,
        write_usage(
            tmp_path / "late.csv", [("late-1", "2026-09-20T12:00:00+08:00", "gd-gat", "gd-prov", "vcpu_hours", "1000")]
        ),
    )
    assert report["accepted"] == 1, report
    # GZ-CAP: an outage and a bad review take more than its cap allows: a cap adjustment
    ok(
        cli(
            "sla",
            "outages",
            "add",
            "--contract",
            "GZ-CAP-2026",
            "--start",
            "2026-10-05T10:00:00+08:00",
            "--end",
            "2026-10-05T12:00:00+08:00",
            "--note",
            "光缆中断",
            "--json",
        )
    )
    ok(
        cli(
            "ratings",
            "add",
            "--contract",
            "GZ-CAP-2026",
            "--department",
            "gz-gaj",
            "--level",
            "1",
            "--comment",
            "网络中断两小时",
            "--time",
            "2026-10-06T09:00:00+08:00",
            "--json",
        )
    )
    ok(cli("bills", "run", "--period", "2026-10", "--as", "fin1", "--json"))
    result = cli("bills", "show", "--period", "2026-10", "--format", "focus")
    assert result.code == 0, result
    return str(result.stdout)


@pytest.fixture
def province(world: Any, tmp_path: Path) -> str:
    (tmp_path / "cap.yaml").write_text(CAP_CONTRACTS, encoding="utf-8")
    return every_line_kind(world, tmp_path)


def test_the_export_has_every_line_kind(province: str) -> None:
    rows = list(csv.DictReader(io.StringIO(province)))
    kinds = {row["x_LineKind"] for row in rows}
    assert kinds == {"annual", "usage", "unpriced", "sla_credit", "evaluation", "cap_adjustment", "correction"}


def test_the_focus_validator_finds_no_failed_rule_but_its_ascii_only_checks(province: str, tmp_path: Path) -> None:
    python = validator_python()
    if python is None:
        pytest.skip(
            "focus-validator is not installed: run `make focus-validator` (CI does) or set ZHENGYUN_FOCUS_VALIDATOR"
        )
    export = tmp_path / "focus.csv"
    export.write_text(province, encoding="utf-8")
    outcomes = run_validator(python, export, tmp_path)
    assert len(outcomes) > 500, outcomes  # the whole FOCUS 1.2 rule set ran
    model = json.loads((validator_package(python) / MODEL).read_text(encoding="utf-8"))
    assert unexcused_failures(outcomes, model) == []
    # what the validator checked here and passed (not skipped as not applicable or not implemented)
    passed = {rule for rule, outcome in outcomes.items() if outcome == "PASS"}
    for rule in ("EffectiveCost-C-005-C", "PricingUnit-C-003-O", "ChargeFrequency-C-000-O", "InvoiceId-C-003-C"):
        assert rule in passed, rule
