"""The synthetic province generator is deterministic and valid; the demo command builds its province."""

from __future__ import annotations

import json
from pathlib import Path

from bench.synthetic import generate_registry, write_registry


def test_the_same_seed_gives_the_same_registry_and_another_seed_another() -> None:
    assert generate_registry(seed=7) == generate_registry(seed=7)
    assert generate_registry(seed=7) != generate_registry(seed=8)


def test_a_province_scale_synthetic_registry_imports_cleanly(cli, tmp_path: Path) -> None:
    tenancy, contracts = write_registry(tmp_path, clouds=25, departments=2000, contracts=40, seed=3)
    assert cli("tenants", "import", tenancy).code == 0
    assert cli("contracts", "import", contracts).code == 0
    summary = cli("tenants", "list", "--json").json()
    assert summary["departments"] == 2000 and len(summary["clouds"]) == 25
    assert len(cli("contracts", "list", "--json").json()["contracts"]) == 40


def test_demo_builds_the_demo_province_on_its_own_sqlite_file(use_db, tmp_path: Path) -> None:
    from tests.conftest import Cli

    result = Cli()("demo", "--json")
    assert result.code == 0, result
    report = json.loads(result.stdout)
    assert report["database"].endswith("demo.db") and report["summary"]["departments"] >= 150
    assert len(report["contracts"]) >= 3
