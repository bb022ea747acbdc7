"""Outages (manual, CSV), maintenance windows (requested, approved, imported) and availability (docs/reference.md#sla, #record-files, #availability)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import func, select

from core.errors import Conflict, Forbidden, NotFound
from sla import inputs, outages
from sla.models import MaintenanceWindow, Outage
from tests.sla.conftest import BUREAU, DG_OPS, GZ_OPS, Clock

SH = ZoneInfo("Asia/Shanghai")
OCT = 31 * 86_400


def _csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _audit_count(cli) -> int:
    return cli("audit", "verify", "--json").json()["entries"]


def test_a_manual_outage_is_recorded_audited_and_counted(loaded) -> None:
    before = _audit_count(loaded)
    added = loaded(
        "sla",
        "outages",
        "add",
        "--contract",
        "PROV-2026",
        "--start",
        "2026-10-03T10:00:00+08:00",
        "--end",
        "2026-10-03T10:30:00+08:00",
        "--note",
        "disk array",
        "--json",
    )
    assert added.code == 0, added
    assert added.json()["outage"]["source"] == "manual"
    assert _audit_count(loaded) == before + 1
    report = loaded("sla", "availability", "--contract", "PROV-2026", "--period", "2026-10", "--json").json()
    assert report["eligible_seconds"] == OCT
    assert report["down_seconds"] == 1800
    assert report["maintenance_seconds"] == 0
    assert report["availability"] == str((Decimal(100) * (OCT - 1800) / OCT).quantize(Decimal("0.000001")))
    assert report["coverage"] is None and report["insufficient"] is False
    assert report["outages"] == [
        {"start": "2026-10-03T10:00:00+08:00", "end": "2026-10-03T10:30:00+08:00", "seconds": 1800}
    ]


def test_outage_import_stores_valid_rows_reports_each_bad_one_and_merges_overlaps(loaded, tmp_path) -> None:
    path = _csv(
        tmp_path / "outages.csv",
        "contract,start,end,source,note\n"
        "PROV-2026,2026-10-05T08:00:00+08:00,2026-10-05T09:00:00+08:00,import,upstream\n"
        "PROV-2026,2026-10-05T08:30:00+08:00,2026-10-05T10:00:00+08:00,,overlaps the first\n"
        "NOPE,2026-10-05T08:00:00+08:00,2026-10-05T09:00:00+08:00,import,unknown contract\n"
        "PROV-2026,2026-10-05T09:00:00+08:00,2026-10-05T08:00:00+08:00,import,backwards\n"
        "PROV-2026,2026-10-05T08:00:00,2026-10-05T09:00:00+08:00,import,no offset\n"
        "PROV-2026,2026-10-05T08:00:00+08:00,2026-10-05T09:00:00+08:00,probe,migrated from the old monitor\n"
        "PROV-2026,2026-10-05T08:00:00+08:00,2026-10-05T09:00:00+08:00,sensor,unknown source\n"
        "GZ-2026,2026-10-20T08:00:00+08:00,2026-10-20T09:00:00+08:00,manual,after the term\n"
        "PROV-2026,2099-10-05T08:00:00+08:00,2099-10-05T09:00:00+08:00,manual,in the future\n",
    )
    before = _audit_count(loaded)
    result = loaded("sla", "outages", "import", path, "--json")
    assert result.code == 1, result
    report = result.json()
    assert report["accepted"] == 3  # `probe`: outages migrated from another monitoring system
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [
        (4, "contract"),
        (5, "end"),
        (6, "start"),
        (8, "source"),
        (9, "start"),
        (10, "end"),
    ]
    assert all(r["file"] == str(path) for r in report["rejected"])
    assert "no offset" in report["rejected"][2]["reason"]
    assert _audit_count(loaded) == before + 1
    availability = loaded("sla", "availability", "--contract", "PROV-2026", "--period", "2026-10", "--json").json()
    assert availability["down_seconds"] == 7200
    assert [o["seconds"] for o in availability["outages"]] == [7200]

    again = loaded("sla", "outages", "import", path, "--json").json()
    assert (again["accepted"], again["duplicates"]) == (0, 3)
    assert _audit_count(loaded) == before + 1  # an import that changes nothing appends nothing
    sources = loaded("sla", "outages", "list", "--contract", "PROV-2026", "--period", "2026-10", "--json").json()
    assert sorted(o["source"] for o in sources["outages"]) == ["import", "import", "probe"]


def test_bad_outage_rows_are_reported_with_file_line_and_field_in_human_output(loaded, tmp_path) -> None:
    path = _csv(tmp_path / "o.csv", "contract,start,end,source,note\nPROV-2026,yesterday,2026-10-05T09:00:00+08:00,,\n")
    result = loaded("sla", "outages", "import", path)
    assert result.code == 1
    assert f"{path}:2: start: must be an ISO 8601 time with an offset" in result.stdout


def test_a_file_without_the_required_columns_is_refused_whole(loaded, tmp_path) -> None:
    path = _csv(
        tmp_path / "o.csv", "contract,begin,end\nPROV-2026,2026-10-05T08:00:00+08:00,2026-10-05T09:00:00+08:00\n"
    )
    result = loaded("sla", "outages", "import", path, "--json")
    assert result.code == 1
    assert result.json()["problems"][0]["line"] == 1
    assert (
        loaded("sla", "availability", "--contract", "PROV-2026", "--period", "2026-10", "--json").json()["down_seconds"]
        == 0
    )


def test_an_operator_records_outages_only_for_its_own_contracts(loaded, tmp_path) -> None:
    refused = loaded(
        "sla",
        "outages",
        "add",
        "--contract",
        "PROV-2026",
        "--start",
        "2026-10-03T10:00:00+08:00",
        "--end",
        "2026-10-03T10:30:00+08:00",
        "--note",
        "x",
        "--as",
        "ops-gz",
    )
    assert refused.code == 1
    assert "contract not found: PROV-2026" in refused.stderr  # another operator's: as if it did not exist
    path = _csv(
        tmp_path / "o.csv",
        "contract,start,end,source,note\n"
        "GZ-2026,2026-10-03T10:00:00+08:00,2026-10-03T10:30:00+08:00,manual,ours\n"
        "PROV-2026,2026-10-03T10:00:00+08:00,2026-10-03T10:30:00+08:00,manual,theirs\n",
    )
    report = loaded("sla", "outages", "import", path, "--as", "ops-gz", "--json").json()
    assert report["accepted"] == 1
    assert [r["line"] for r in report["rejected"]] == [3]
    assert (
        loaded(
            "sla",
            "outages",
            "add",
            "--contract",
            "PROV-2026",
            "--start",
            "2026-10-03T10:00:00+08:00",
            "--end",
            "2026-10-03T10:30:00+08:00",
            "--note",
            "x",
            "--as",
            "edu1",
        ).code
        == 1
    )


def test_availability_covers_only_the_active_part_of_the_period_inside_the_term(loaded) -> None:
    report = loaded("sla", "availability", "--contract", "GZ-2026", "--period", "2026-10", "--json").json()
    assert report["eligible_seconds"] == 15 * 86_400  # the term ends on 15 October
    assert report["availability"] == "100.000000"
    outside = loaded("sla", "availability", "--contract", "GZ-2026", "--period", "2026-02", "--json").json()
    assert outside["eligible_seconds"] == 0 and outside["availability"] == "100.000000"


def test_availability_is_scoped_to_what_the_acting_user_may_see(loaded) -> None:
    assert loaded("sla", "availability", "--contract", "PROV-2026", "--period", "2026-10", "--as", "edu1").code == 0
    assert loaded("sla", "availability", "--contract", "GZ-2026", "--period", "2026-10", "--as", "edu1").code == 1
    assert loaded("sla", "availability", "--contract", "PROV-2026", "--period", "2026-10", "--as", "ops-gz").code == 1
    assert loaded("sla", "availability", "--contract", "GZ-2026", "--period", "2026-10", "--as", "fin1").code == 0
    unknown = loaded("sla", "availability", "--contract", "NOPE", "--period", "2026-10", "--json")
    assert unknown.code == 1 and "NOPE" in unknown.json()["error"]


def _window(call, clock, start: str, end: str, actor=DG_OPS, contract="PROV-2026"):
    return call(
        outages.request_maintenance,
        actor=actor,
        contract_id=contract,
        start=start,
        end=end,
        note="kernel upgrade",
        now=clock,
    )


def test_only_approved_and_timely_maintenance_is_excluded(call) -> None:
    clock = Clock(datetime(2026, 10, 1, 9, 0, tzinfo=SH))
    call(
        outages.add_outage,
        actor=BUREAU,
        contract_id="PROV-2026",
        start="2026-10-03T02:00:00+08:00",
        end="2026-10-03T03:00:00+08:00",
        note="during the window",
        now=Clock(datetime(2026, 11, 1, tzinfo=SH)),
    )
    timely_window = _window(call, clock, "2026-10-03T01:00:00+08:00", "2026-10-03T05:00:00+08:00")
    late = _window(call, clock, "2026-10-02T00:00:00+08:00", "2026-10-02T02:00:00+08:00")  # 15 h notice
    pending = _window(call, clock, "2026-10-10T00:00:00+08:00", "2026-10-10T02:00:00+08:00")
    assert (timely_window.timely, late.timely, pending.timely) == (True, False, True)
    assert not timely_window.counts  # not approved yet
    after = Clock(datetime(2026, 11, 1, tzinfo=SH))

    def availability():
        return call(inputs.availability_for, contract_id="PROV-2026", period="2026-10", now=after)

    assert (availability().maintenance_seconds, availability().down_seconds) == (0, 3600)
    approved = call(outages.decide_maintenance, actor=BUREAU, window_id=timely_window.id, now=clock)
    assert approved.counts
    call(outages.decide_maintenance, actor=BUREAU, window_id=late.id, now=clock)
    result = availability()
    assert result.maintenance_seconds == 4 * 3600  # the late one does not count, the pending one neither
    assert result.down_seconds == 0  # the outage lies inside the approved window
    assert result.eligible_seconds == OCT - 4 * 3600
    assert result.availability == Decimal(100)


def test_maintenance_decisions_belong_to_the_bureau_and_are_final(call) -> None:
    clock = Clock(datetime(2026, 10, 1, 9, 0, tzinfo=SH))
    window = _window(call, clock, "2026-10-05T01:00:00+08:00", "2026-10-05T02:00:00+08:00")
    with pytest.raises(Forbidden):
        call(outages.decide_maintenance, actor=DG_OPS, window_id=window.id, now=clock)
    with pytest.raises(NotFound, match="contract not found"):  # another operator's contract: as if missing
        _window(call, clock, "2026-10-05T01:00:00+08:00", "2026-10-05T02:00:00+08:00", actor=GZ_OPS)
    call(outages.decide_maintenance, actor=BUREAU, window_id=window.id, approve=False, now=clock)
    with pytest.raises(Conflict):
        call(outages.decide_maintenance, actor=BUREAU, window_id=window.id, approve=True, now=clock)


def test_maintenance_request_and_approval_through_the_command_line_are_audited(loaded) -> None:
    before = _audit_count(loaded)
    requested = loaded(
        "sla",
        "maintenance",
        "request",
        "--contract",
        "PROV-2026",
        "--start",
        "2026-12-30T01:00:00+08:00",
        "--end",
        "2026-12-30T03:00:00+08:00",
        "--as",
        "ops-dg",
        "--json",
    )
    assert requested.code == 0, requested
    window = requested.json()["maintenance"]
    assert window["approved"] is None
    assert loaded("sla", "maintenance", "approve", str(window["id"]), "--as", "ops-dg").code == 1
    approved = loaded("sla", "maintenance", "approve", str(window["id"]), "--as", "bureau1", "--json")
    assert approved.json()["maintenance"]["approved"] is True
    assert _audit_count(loaded) == before + 2
    listed = loaded("sla", "maintenance", "list", "--as", "ops-gz", "--json").json()["maintenance"]
    assert listed == []


def test_maintenance_import_needs_the_bureau_and_records_its_decisions(loaded, call, tmp_path, session) -> None:
    path = _csv(
        tmp_path / "m.csv",
        "contract,start,end,announced_at,approved\n"
        "PROV-2026,2026-10-08T00:00:00+08:00,2026-10-08T02:00:00+08:00,2026-10-01T09:00:00+08:00,true\n"
        "PROV-2026,2026-10-09T00:00:00+08:00,2026-10-09T02:00:00+08:00,2026-10-01T09:00:00+08:00,false\n"
        "PROV-2026,2026-10-10T00:00:00+08:00,2026-10-10T02:00:00+08:00,2026-10-09T09:00:00+08:00,true\n"
        "PROV-2026,2026-10-11T00:00:00+08:00,2026-10-11T02:00:00+08:00,2026-10-01T09:00:00+08:00,maybe\n"
        "PROV-2026,2026-10-12T00:00:00+08:00,2026-10-12T02:00:00+08:00,2026-10-01T09:00,true\n",
    )
    denied = loaded("sla", "maintenance", "import", path, "--as", "ops-dg", "--json")
    assert denied.code == 1 and "permission denied" in denied.json()["error"]
    assert session.exec(select(func.count()).select_from(MaintenanceWindow)).one() == 0
    result = loaded("sla", "maintenance", "import", path, "--as", "bureau1", "--json")
    assert result.code == 1
    report = result.json()
    assert report["accepted"] == 3
    assert [(r["line"], r["field"]) for r in report["rejected"]] == [(5, "approved"), (6, "announced_at")]
    availability = loaded("sla", "availability", "--contract", "PROV-2026", "--period", "2026-10", "--json").json()
    assert availability["maintenance_seconds"] == 7200  # rejected and late-announced windows do not count

    flipped = _csv(
        tmp_path / "m2.csv",
        "contract,start,end,announced_at,approved\n"
        "PROV-2026,2026-10-09T00:00:00+08:00,2026-10-09T02:00:00+08:00,2026-10-01T09:00:00+08:00,true\n",
    )
    entries = _audit_count(loaded)
    again = loaded("sla", "maintenance", "import", flipped, "--as", "bureau1", "--json")
    assert again.code == 1, again  # a decision is final, whatever the route: the row is rejected
    assert (again.json()["accepted"], again.json()["updated"]) == (0, 0)
    assert [(r["line"], r["field"]) for r in again.json()["rejected"]] == [(2, "approved")]
    assert "already" in again.json()["rejected"][0]["reason"]
    availability = loaded("sla", "availability", "--contract", "PROV-2026", "--period", "2026-10", "--json").json()
    assert availability["maintenance_seconds"] == 7200
    assert _audit_count(loaded) == entries

    # a requested window the bureau has not decided yet takes the imported decision
    requested = _window(
        call, Clock(datetime(2026, 10, 1, 9, 0, tzinfo=SH)), "2026-10-20T00:00:00+08:00", "2026-10-20T01:00:00+08:00"
    )
    decision = _csv(
        tmp_path / "m3.csv",
        "contract,start,end,announced_at,approved\n"
        "PROV-2026,2026-10-20T00:00:00+08:00,2026-10-20T01:00:00+08:00,2026-10-01T09:00:00+08:00,true\n",
    )
    decided = loaded("sla", "maintenance", "import", decision, "--as", "bureau1", "--json").json()
    assert (decided["accepted"], decided["updated"], decided["rejected"]) == (0, 1, [])
    listed = loaded("sla", "maintenance", "list", "--contract", "PROV-2026", "--json").json()["maintenance"]
    assert [m["approved"] for m in listed if m["id"] == requested.id] == [True]


def test_outage_times_are_kept_in_whole_seconds(call, session) -> None:
    call(
        outages.add_outage,
        actor=BUREAU,
        contract_id="PROV-2026",
        start="2026-10-03T10:00:00.750+08:00",
        end="2026-10-03T10:00:10.250+08:00",
        now=Clock(datetime(2026, 11, 1, tzinfo=SH)),
    )
    row = session.exec(select(Outage)).one()
    assert (row.start.microsecond, row.end.microsecond) == (0, 0)
    assert (row.end - row.start).total_seconds() == 10


def test_maintenance_notice_is_the_contracts_notice_hours(loaded, call, tmp_path: Path) -> None:
    # docs/reference.md#sla: a window counts when announced at least the contract's `sla.notice_hours` ahead (default 24).
    terms = _csv(
        tmp_path / "notice.yaml",
        "contracts:\n"
        + "".join(
            f"  - {{id: {cid}, operator: dgcloud, clouds: [gd-prov], service: portal, start: 2026-01-01,"
            f" end: 2026-12-31, sla: {{notice_hours: {hours}, credits: [{{below: '99', credit: '0.1'}}]}}}}\n"
            for cid, hours in (("LONG-NOTICE", 48), ("SHORT-NOTICE", 4))
        ),
    )
    assert loaded("contracts", "import", terms).code == 0
    clock = Clock(datetime(2026, 10, 1, 9, 0, tzinfo=SH))
    start, end = "2026-10-02T15:00:00+08:00", "2026-10-02T17:00:00+08:00"  # announced 30 h ahead
    long = _window(call, clock, start, end, contract="LONG-NOTICE")
    default = _window(call, clock, start, end, contract="PROV-2026")
    short = _window(call, clock, "2026-10-01T14:00:00+08:00", "2026-10-01T16:00:00+08:00", contract="SHORT-NOTICE")
    assert (long.timely, default.timely, short.timely) == (False, True, True)
    for window in (long, default, short):
        call(outages.decide_maintenance, actor=BUREAU, window_id=window.id, now=clock)
    after = Clock(datetime(2026, 11, 1, tzinfo=SH))

    def counted(contract: str) -> int:
        return call(inputs.availability_for, contract_id=contract, period="2026-10", now=after).maintenance_seconds

    assert (counted("LONG-NOTICE"), counted("PROV-2026"), counted("SHORT-NOTICE")) == (0, 7200, 7200)
    listed = loaded("sla", "maintenance", "list", "--contract", "LONG-NOTICE", "--json").json()
    assert [(m["timely"], m["counts"]) for m in listed["maintenance"]] == [(False, False)]
