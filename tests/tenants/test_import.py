"""Tenancy import: the 1+N+M shape, idempotence, dry runs, export round trips, network ranges, deletion rules."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import yaml
from sqlalchemy import text

from core.db import get_engine

DATA = Path(__file__).parent / "data"


def _audit_count(db_url: str) -> int:
    with get_engine(db_url).connect() as conn:
        return conn.execute(text("SELECT count(*) FROM audit_log")).scalar_one()


def _export(cli) -> dict:
    result = cli("tenants", "export")
    assert result.code == 0, result
    return yaml.safe_load(result.stdout)


def test_demo_province_has_the_guangdong_1_n_m_shape(cli, demo_files) -> None:
    tenancy, contracts = demo_files
    assert cli("tenants", "import", tenancy).code == 0
    assert cli("contracts", "import", contracts).code == 0
    summary = cli("tenants", "list", "--json").json()
    kinds = summary["clouds_by_kind"]
    assert kinds["provincial"] == 1 and kinds["industry"] >= 4
    assert (
        kinds["city/autonomous"] == 2 and kinds["city/autonomous"] + kinds["city/standard"] + kinds["city/hosted"] == 21
    )
    assert summary["departments"] >= 150
    tiers = {c["id"]: c["tier"] for c in summary["clouds"] if c["kind"] == "city"}
    assert tiers["gz"] == tiers["sz"] == "autonomous" and tiers["sw"] == "hosted"
    listed = cli("contracts", "list", "--json").json()["contracts"]
    assert any(c["annual_fee"] for c in listed) and any(c["prices"] for c in listed)
    assert any(c["evaluation"] for c in listed)


def test_reimporting_the_same_file_changes_nothing_and_writes_no_audit_entry(cli, use_db, demo_files) -> None:
    tenancy, _ = demo_files
    first = cli("tenants", "import", tenancy, "--json").json()
    assert first["changed"]
    entries = _audit_count(use_db)
    again = cli("tenants", "import", tenancy, "--json")
    assert again.code == 0 and again.json()["changes"] == []
    assert _audit_count(use_db) == entries


def test_an_import_that_changes_something_is_one_audit_entry(cli, use_db) -> None:
    before = _audit_count(use_db)
    assert cli("tenants", "import", DATA / "tenancy.yaml").code == 0
    assert _audit_count(use_db) == before + 1


def test_dry_run_prints_the_difference_and_changes_nothing(cli, use_db, tmp_path: Path) -> None:
    assert cli("tenants", "import", DATA / "tenancy.yaml").code == 0
    before, entries = _export(cli), _audit_count(use_db)
    changed = tmp_path / "changed.yaml"
    changed.write_text(
        (DATA / "tenancy.yaml").read_text(encoding="utf-8").replace("name: 教育厅", "name: 广东省教育厅")
        + "  - {id: gd-kjt, name: 科学技术厅, level: provincial, cloud: gd-prov}\n",
        encoding="utf-8",
    )
    result = cli("tenants", "import", changed, "--dry-run")
    assert result.code == 0
    assert "department:gd-edu" in result.stdout and "广东省教育厅" in result.stdout
    assert "add      department:gd-kjt" in result.stdout
    assert _export(cli) == before and _audit_count(use_db) == entries


def test_export_then_import_changes_nothing_and_rebuilds_the_same_registry(
    cli, use_db, demo_files, tmp_path: Path
) -> None:
    tenancy, _ = demo_files
    assert cli("tenants", "import", tenancy).code == 0
    exported = tmp_path / "export.yaml"
    exported.write_text(cli("tenants", "export").stdout, encoding="utf-8")
    result = cli("tenants", "import", exported, "--json")
    assert result.code == 0 and result.json()["changes"] == []


def test_an_exported_file_rebuilds_the_same_ranges_in_an_empty_database(
    cli, demo_files, tmp_path: Path, sqlite_template, monkeypatch
) -> None:
    import shutil

    from core.db import dispose_engines
    from core.settings import get_settings

    tenancy, _ = demo_files
    assert cli("tenants", "import", tenancy).code == 0
    text_out = cli("tenants", "export").stdout
    exported = tmp_path / "export.yaml"
    exported.write_text(text_out, encoding="utf-8")
    fresh = tmp_path / "fresh.db"
    shutil.copy(sqlite_template, fresh)
    monkeypatch.setenv("ZHENGYUN_DATABASE_URL", f"sqlite:///{fresh}")
    get_settings.cache_clear()
    dispose_engines()
    assert cli("tenants", "import", exported).code == 0
    assert cli("tenants", "export").stdout == text_out


def test_ranges_follow_the_allocation_rules(cli, demo_files) -> None:
    tenancy, _ = demo_files
    assert cli("tenants", "import", tenancy).code == 0
    doc = _export(cli)
    supernet = ipaddress.ip_network(doc["province"]["supernet"])
    platform = next(supernet.subnets(new_prefix=16))
    clouds = {c["id"]: c for c in doc["clouds"]}
    blocks = {c: [ipaddress.ip_network(n) for n in cl.get("networks", [])] for c, cl in clouds.items()}
    owned = [n for nets in blocks.values() for n in nets]
    assert platform not in owned and len(owned) == len(set(owned))
    for cid, cloud in clouds.items():
        has_infra = cloud["kind"] in ("provincial", "industry") or cloud.get("tier") in ("autonomous", "standard")
        assert bool(blocks[cid]) == has_infra, cid
    # new clouds of one import are allocated in id order: the lowest cloud id with infrastructure has the first /16
    first = sorted(c for c in clouds if blocks[c])[0]
    assert blocks[first][0] == ipaddress.ip_network("10.1.0.0/16")
    nets = []
    for d in doc["departments"]:
        net = ipaddress.ip_network(d["network"])
        assert net.prefixlen == 22 and any(net.subnet_of(b) for b in blocks[d["cloud"]]), d
        nets.append(net)
    assert len(nets) == len(set(nets))
    hosted = [d for d in doc["departments"] if clouds[d.get("city", d["cloud"])].get("tier") == "hosted"]
    assert hosted and all(d["cloud"] == "gd-prov" for d in hosted)
    # the provincial cloud holds more than 64 departments here, so it was given a second /16 when the first was full
    on_prov = [d for d in doc["departments"] if d["cloud"] == "gd-prov"]
    assert len(on_prov) > 64 and len(blocks["gd-prov"]) == 2


def test_adding_a_department_never_moves_another_and_takes_the_lowest_free_range(cli, tmp_path: Path) -> None:
    assert cli("tenants", "import", DATA / "tenancy.yaml").code == 0
    before = {d["id"]: d["network"] for d in _export(cli)["departments"]}
    bigger = tmp_path / "bigger.yaml"
    bigger.write_text(
        (DATA / "tenancy.yaml").read_text(encoding="utf-8")
        + "  - {id: aa-first, name: 甲厅, level: provincial, cloud: gd-prov}\n",
        encoding="utf-8",
    )
    assert cli("tenants", "import", bigger).code == 0
    after = {d["id"]: d["network"] for d in _export(cli)["departments"]}
    assert all(after[k] == v for k, v in before.items())
    prov_block = ipaddress.ip_network(before["gd-edu"]).supernet(new_prefix=16)
    assert ipaddress.ip_network(after["aa-first"]) == list(prov_block.subnets(new_prefix=22))[1]


def test_a_left_out_department_is_deleted_unless_referenced_then_archived_keeping_its_range(
    cli, tmp_path: Path
) -> None:
    base = (DATA / "tenancy.yaml").read_text(encoding="utf-8")
    full = tmp_path / "full.yaml"
    full.write_text(base + "  - {id: gd-kjt, name: 科技厅, level: provincial, cloud: gd-prov}\n", encoding="utf-8")
    assert cli("tenants", "import", full).code == 0
    ranges = {d["id"]: d["network"] for d in _export(cli)["departments"]}
    assert cli("users", "add", "edu-user", "--role", "department", "--department", "gd-edu").code == 0
    shorter = tmp_path / "shorter.yaml"
    shorter.write_text(
        base.replace("  - {id: gd-edu, name: 教育厅, level: provincial, cloud: gd-prov}\n", ""), encoding="utf-8"
    )
    result = cli("tenants", "import", shorter, "--json").json()
    actions = {c["entity"]: c["action"] for c in result["changes"]}
    assert actions == {"department:gd-edu": "archive", "department:gd-kjt": "delete"}
    departments = {d["id"]: d for d in _export(cli)["departments"]}
    assert departments["gd-edu"]["status"] == "archived" and departments["gd-edu"]["network"] == ranges["gd-edu"]
    assert "gd-kjt" not in departments
    # the deleted department's range is never handed out again
    again = tmp_path / "again.yaml"
    again.write_text(base + "  - {id: gd-new, name: 新厅, level: provincial, cloud: gd-prov}\n", encoding="utf-8")
    assert cli("tenants", "import", again).code == 0
    new = {d["id"]: d for d in _export(cli)["departments"]}
    assert new["gd-new"]["network"] not in ranges.values()
    assert new["gd-edu"]["status"] == "active"


def test_exhausting_the_supernet_is_a_clear_error(cli, tmp_path: Path) -> None:
    small = tmp_path / "small.yaml"
    small.write_text(
        (DATA / "tenancy.yaml")
        .read_text(encoding="utf-8")
        .replace("province: {code: gd, name: 广东省}", "province: {code: gd, name: 广东省, supernet: 10.0.0.0/15}"),
        encoding="utf-8",
    )
    result = cli("tenants", "import", small)
    assert result.code == 1 and "no free /16" in result.stderr


def test_a_declared_range_that_conflicts_with_an_allocation_is_refused(cli, tmp_path: Path) -> None:
    assert cli("tenants", "import", DATA / "tenancy.yaml").code == 0
    exported = cli("tenants", "export").stdout
    doc = yaml.safe_load(exported)
    edu = next(d for d in doc["departments"] if d["id"] == "gd-edu")
    gaj = next(d for d in doc["departments"] if d["id"] == "gz-gaj")
    clash = tmp_path / "clash.yaml"
    clash.write_text(exported.replace(f"network: {gaj['network']}", f"network: {edu['network']}"), encoding="utf-8")
    result = cli("tenants", "import", clash, "--json")
    assert result.code == 1
    problem = result.json()["problems"][0]
    assert problem["path"] in ("departments[1].network", "departments[0].network") and problem["line"]


def test_a_second_province_is_refused(cli, tmp_path: Path) -> None:
    assert cli("tenants", "import", DATA / "tenancy.yaml").code == 0
    other = tmp_path / "other.yaml"
    other.write_text(
        (DATA / "tenancy.yaml").read_text(encoding="utf-8").replace("code: gd", "code: hn"), encoding="utf-8"
    )
    result = cli("tenants", "import", other, "--json")
    assert result.code == 1 and result.json()["problems"][0]["path"] == "province.code"


def test_commands_before_db_upgrade_say_what_to_do(tmp_path: Path, monkeypatch) -> None:
    from core.db import dispose_engines
    from core.settings import get_settings
    from tests.conftest import Cli

    monkeypatch.setenv("ZHENGYUN_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    dispose_engines()
    result = Cli()("tenants", "list")
    assert result.code == 1 and "zhengyun db upgrade" in result.stderr
    get_settings.cache_clear()


def test_problems_against_the_database_are_reported_with_the_files_own_in_one_round(cli, tmp_path: Path) -> None:
    # docs/reference.md#tenancy-file: every problem at once, so a bureau fixes a file in one round — the file's own problems
    # together with those only the database shows (a range allocated to another department, a cloud
    # left out of the file that a contract still refers to).
    assert cli("tenants", "import", DATA / "tenancy.yaml").code == 0
    assert cli("contracts", "import", DATA / "contracts.yaml").code == 0  # GZ-PAYG-2026 refers to cloud gz
    doc = yaml.safe_load(cli("tenants", "export").stdout)
    edu = next(d for d in doc["departments"] if d["id"] == "gd-edu")
    taken = edu.pop("network")  # gd-edu keeps its range; the file just does not repeat it
    doc["clouds"] = [c for c in doc["clouds"] if c["id"] != "gz"]  # left out, still referenced
    doc["departments"] = [d for d in doc["departments"] if d["id"] != "gz-gaj"]
    doc["departments"] += [
        {"id": "gd-new", "name": "新设厅", "level": "provincial", "cloud": "gd-prov", "network": taken},
        {"id": "gd-lost", "name": "无云厅", "level": "provincial", "cloud": "nowhere"},
        {"id": "gd-odd", "name": "怪额度厅", "level": "provincial", "cloud": "gd-prov", "quota": {"vcpu": "lots"}},
    ]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False), encoding="utf-8")
    before = cli("tenants", "export").stdout
    result = cli("tenants", "import", bad, "--json")
    assert result.code == 1, result
    found = {(p["path"], p["message"]) for p in result.json()["problems"]}
    paths = {path for path, _ in found}
    # the file's own problems
    assert {"departments[2].cloud", "departments[3].quota.vcpu"} <= paths, found
    # and, in the same report, those found against the database
    assert "departments[1].network" in paths, found
    assert any(path == "clouds" and "'gz'" in message for path, message in found), found
    assert all(p["line"] for p in result.json()["problems"] if p["path"] != "clouds")
    assert cli("tenants", "export").stdout == before  # nothing written
