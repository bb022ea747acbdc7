"""Every broken registry file is refused whole, names the problem's path, and changes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent
TENANCY = sorted((HERE / "broken" / "tenancy").glob("*.yaml"))
CONTRACTS = sorted((HERE / "broken" / "contracts").glob("*.yaml"))


def _expectation(path: Path) -> str:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("# expect: "), path
    return first.removeprefix("# expect: ")


def _snapshot(cli) -> tuple[str, str]:
    exported = cli("tenants", "export")
    contracts = cli("contracts", "list", "--json")
    verify = cli("audit", "verify", "--json")
    return exported.stdout + contracts.stdout, verify.stdout


@pytest.fixture
def loaded(cli):
    data = HERE / "data"
    assert cli("tenants", "import", data / "tenancy.yaml").code == 0
    assert cli("contracts", "import", data / "contracts.yaml").code == 0
    return cli


@pytest.mark.parametrize("path", TENANCY, ids=[p.stem for p in TENANCY])
def test_broken_tenancy_file_is_refused_with_its_path_and_changes_nothing(loaded, path: Path) -> None:
    before = _snapshot(loaded)
    result = loaded("tenants", "import", path, "--json")
    assert result.code == 1, result
    report = result.json()
    expect = _expectation(path)
    located = [f"{p['path']} {p['message']}" for p in report["problems"]]
    assert any(expect in text for text in located), (expect, located)
    assert all(p["file"] == str(path) for p in report["problems"])
    assert _snapshot(loaded) == before


@pytest.mark.parametrize("path", CONTRACTS, ids=[p.stem for p in CONTRACTS])
def test_broken_contracts_file_is_refused_with_its_path_and_changes_nothing(loaded, path: Path) -> None:
    before = _snapshot(loaded)
    result = loaded("contracts", "import", path, "--json")
    assert result.code == 1, result
    problems = result.json()["problems"]
    expect = _expectation(path)
    assert any(p["path"] == expect for p in problems), (expect, problems)
    assert all(p["line"] for p in problems if p["path"] == expect)
    assert _snapshot(loaded) == before


def test_broken_file_reports_line_numbers_in_human_output(loaded) -> None:
    path = HERE / "broken" / "tenancy" / "unknown_cloud.yaml"
    result = loaded("tenants", "import", path)
    assert result.code == 1
    assert f"{path}:13: departments[2].cloud: unknown cloud 'gz2'" in result.stderr


def test_every_problem_of_a_file_is_reported_not_only_the_first(loaded, tmp_path: Path) -> None:
    bad = tmp_path / "many.yaml"
    bad.write_text(
        "province: {code: gd, name: 广东省}\n"
        "operators: [{id: dgcloud, name: 数字广东}]\n"
        "clouds:\n"
        "  - {id: gd-prov, kind: provincial, name: 省云, operator: dgcloud}\n"
        "  - {id: gz, kind: city, city: 广州市, tier: autonomous, name: 广州, operator: ghost}\n"
        "departments:\n"
        "  - {id: a1, name: 甲, level: provincial, cloud: nowhere}\n"
        "  - {id: a2, name: 乙, level: city, cloud: gd-prov}\n"
        "  - {id: a3, name: 丙, level: provincial, cloud: gd-prov, quota: {vcpu: many}}\n",
        encoding="utf-8",
    )
    paths = {p["path"] for p in loaded("tenants", "import", bad, "--json").json()["problems"]}
    assert {"clouds[1].operator", "departments[0].cloud", "departments[1].city", "departments[2].quota.vcpu"} <= paths
