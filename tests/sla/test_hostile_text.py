"""Free text, times and periods by the one rule each (docs/reference.md#free-text,
docs/reference.md#periods-and-times), through the services, the command line and the record-file imports:
a refused field is named — in a record file with its file and line — and nothing is stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import func, select

from core.audit import AuditEntry
from core.errors import InvalidInput
from sla import evaluation, outages
from sla.models import MaintenanceWindow, Outage, Rating
from tests.sla.conftest import DG_OPS, EDU

RATED = "2026-10-02T10:00:00+08:00"


def _count(session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


@pytest.mark.parametrize(
    "bad", ["x\x00y", "x\ud800", "bell\x07", "esc\x1b[31m", "x" * 2001], ids=["nul", "surrogate", "bel", "esc", "long"]
)
def test_services_refuse_bad_free_text_naming_the_field(call, session, bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        call(evaluation.add_rating, actor=EDU, contract_id="PROV-2026", level=1, comment=bad, time=RATED)
    assert [p.path for p in caught.value.problems] == ["comment"]
    window = {"contract_id": "PROV-2026", "start": "2026-10-05T08:00:00+08:00", "end": "2026-10-05T09:00:00+08:00"}
    with pytest.raises(InvalidInput) as caught:
        call(outages.add_outage, actor=DG_OPS, note=bad, **window)
    assert [p.path for p in caught.value.problems] == ["note"]
    with pytest.raises(InvalidInput) as caught:
        call(outages.request_maintenance, actor=DG_OPS, note=bad, **window)
    assert [p.path for p in caught.value.problems] == ["note"]
    assert (_count(session, Rating), _count(session, Outage), _count(session, MaintenanceWindow)) == (0, 0, 0)


def test_newlines_tabs_and_2000_characters_are_free_text(call) -> None:
    rated = call(
        evaluation.add_rating, actor=EDU, contract_id="PROV-2026", level=1, comment="slow\r\n\tall day", time=RATED
    )
    assert rated.rating.comment == "slow\n\tall day"
    window = {"contract_id": "PROV-2026", "start": "2026-10-05T08:00:00+08:00", "end": "2026-10-05T09:00:00+08:00"}
    assert len(call(outages.add_outage, actor=DG_OPS, note="n" * 2000, **window).note) == 2000


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+08:00", "9999-12-31T23:59:59+08:00", "1999-12-31T23:59:59+08:00"]
)
def test_times_outside_the_years_2000_to_2099_are_refused_at_the_command_line(loaded, when: str) -> None:
    rated = loaded(
        "ratings", "add", "--contract", "PROV-2026", "--level", "5", "--time", when, "--as", "edu1", "--json"
    )
    assert rated.code == 1 and [p["path"] for p in rated.json()["problems"]] == ["time"], rated
    outage = loaded(
        "sla", "outages", "add", "--contract", "PROV-2026", "--start", when, "--end", "2026-10-05T09:00:00+08:00",
        "--note", "n", "--json",
    )  # fmt: skip
    assert outage.code == 1 and [p["path"] for p in outage.json()["problems"]] == ["start"], outage


@pytest.mark.parametrize("period", ["２０２６-１０", "٢٠٢٦-١٠", "9999-12", "0001-01"])
def test_periods_by_the_one_rule_at_the_command_line(loaded, period: str) -> None:
    for args in (
        ("bills", "run", "--period", period),
        ("usage", "show", "--period", period),
        ("sla", "availability", "--contract", "PROV-2026", "--period", period),
        ("sla", "outages", "list", "--contract", "PROV-2026", "--period", period),
        ("ratings", "score", "--contract", "PROV-2026", "--period", period),
    ):
        result = loaded(*args, "--json")
        assert result.code == 1 and "a year from 2000 to 2099" in result.json()["error"], (args, result)
    assert loaded("bills", "list", "--json").json()["bills"] == []


def test_record_file_imports_name_file_line_and_field_of_bad_text_and_times(loaded, tmp_path: Path, session) -> None:
    ratings = tmp_path / "ratings.csv"
    ratings.write_text(
        "department,contract,time,level,comment\n"
        f"gd-edu,PROV-2026,{RATED},5,fine\n"
        f'gd-fin,PROV-2026,{RATED},1,"slow\x00"\n'
        "gd-hr,PROV-2026,0001-01-01T00:00:00+08:00,5,\n"
        f"gd-hr,PROV-2026,{RATED},1,{'z' * 2001}\n"
        f"gd-hr,PROV-2026,{RATED},1,bell\x07\n"
        "gd-hr,PROV-2026,２０２６-10-02T10:00:00+08:00,5,\n",
        encoding="utf-8",
    )
    report = loaded("ratings", "import", ratings, "--json")
    assert report.code == 1, report
    rejected = report.json()["rejected"]
    assert [(r["file"], r["line"], r["field"]) for r in rejected] == [
        (str(ratings), 3, "comment"),
        (str(ratings), 4, "time"),
        (str(ratings), 5, "comment"),
        (str(ratings), 6, "comment"),
        (str(ratings), 7, "time"),
    ]
    assert "U+0000" in rejected[0]["reason"] and "2000" in rejected[1]["reason"] and "2001" in rejected[2]["reason"]
    assert report.json()["accepted"] == 1

    outages_file = tmp_path / "outages.csv"
    outages_file.write_text(
        "contract,start,end,source,note\n"
        'PROV-2026,2026-10-05T08:00:00+08:00,2026-10-05T09:00:00+08:00,import,"cut\x00"\n'
        "PROV-2026,0001-01-01T00:00:00+08:00,2026-10-05T09:00:00+08:00,import,early\n"
        f"PROV-2026,2026-10-05T08:00:00+08:00,2026-10-05T09:00:00+08:00,import,{'n' * 2001}\n",
        encoding="utf-8",
    )
    before = session.exec(select(func.count()).select_from(AuditEntry)).one()
    report = loaded("sla", "outages", "import", outages_file, "--json")
    assert report.code == 1, report
    assert [(r["file"], r["line"], r["field"]) for r in report.json()["rejected"]] == [
        (str(outages_file), 2, "note"),
        (str(outages_file), 3, "start"),
        (str(outages_file), 4, "note"),
    ]
    assert _count(session, Outage) == 0
    assert session.exec(select(func.count()).select_from(AuditEntry)).one() == before  # nothing stored, nothing logged

    maintenance = tmp_path / "maintenance.csv"
    maintenance.write_text(
        "contract,start,end,announced_at,approved\n"
        "PROV-2026,2026-10-08T00:00:00+08:00,2026-10-08T02:00:00+08:00,0001-01-01T09:00:00+08:00,true\n",
        encoding="utf-8",
    )
    report = loaded("sla", "maintenance", "import", maintenance, "--as", "bureau1", "--json")
    assert [(r["line"], r["field"]) for r in report.json()["rejected"]] == [(2, "announced_at")], report
