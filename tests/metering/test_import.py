"""`zhengyun usage import`: every rejection rule of docs/reference.md#usage-events-file, duplicates vs conflicts, formats, row by row."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import text

from core.db import make_engine
from metering import metrics
from metering.events import shown
from metering.service import import_files
from tenants.permissions import SYSTEM
from tests.metering.conftest import event, stored, write_csv, write_jsonl


def _in_an_hour() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).isoformat()


# (rule, the bad event's overrides, text the reason must contain)
RULES = [
    ("unknown department", {"department": "gd-nope"}, "unknown department 'gd-nope'"),
    ("unknown cloud", {"cloud": "nowhere"}, "unknown cloud 'nowhere'"),
    ("unknown meter", {"meter": "beer_litres"}, "unknown meter 'beer_litres'"),
    ("department not placed on that cloud", {"department": "gz-gaj"}, "not placed on cloud 'gd-prov'"),
    ("quantity negative", {"quantity": "-1"}, "quantity is negative"),
    ("quantity not a number", {"quantity": "lots"}, "quantity is not a number"),
    ("quantity NaN", {"quantity": "NaN"}, "quantity is not a number"),
    ("quantity infinite", {"quantity": "Infinity"}, "quantity is infinite"),
    ("more than 6 decimal places", {"quantity": "0.0000001"}, "more than 6 decimal places"),
    ("10^12 or more", {"quantity": "1000000000000"}, "below 10^12"),
    ("time without offset", {"time": "2026-10-01T13:00:00"}, "time has no offset"),
    ("time not a time", {"time": "yesterday"}, "not an ISO 8601"),
    ("time more than 5 minutes in the future", {"time": None}, "more than 5 minutes in the future"),
    ("missing event_id", {"event_id": ""}, "missing event_id"),
    ("event_id with NUL", {"event_id": "e\x00-1"}, "event_id holds a control character"),
    ("event_id with a tab", {"event_id": "e\t1"}, "event_id holds a control character"),
    ("event_id with DEL", {"event_id": "e\x7f"}, "event_id holds a control character"),
    ("event_id with a C1 control", {"event_id": "e\x85"}, "event_id holds a control character"),
    ("event_id over 200 characters", {"event_id": "e" * 201}, "event_id is longer than 200 characters"),
    ("resource_id with NUL", {"resource_id": "vm\x00"}, "resource_id holds a control character"),
    ("resource_id with an escape", {"resource_id": "vm\x1b[31m"}, "resource_id holds a control character"),
    ("resource_id over 200 characters", {"resource_id": "r" * 201}, "resource_id is longer than 200 characters"),
]


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
@pytest.mark.parametrize("rule, bad, reason", RULES, ids=[r[0] for r in RULES])
def test_each_rejection_rule_refuses_the_event_with_file_line_and_reason_and_stores_the_rest(
    province, db_url, tmp_path, kind, rule, bad, reason
) -> None:
    bad = {k: (_in_an_hour() if k == "time" and v is None else v) for k, v in bad.items()}
    events = [event("ok-1"), {**event("bad-1"), **bad}, event("ok-2", quantity="2.5")]
    path = (write_csv if kind == "csv" else write_jsonl)(tmp_path / f"usage.{kind}", events)
    result = province("usage", "import", path, "--json")
    assert result.code == 1, result
    report = result.json()
    assert report["accepted"] == 2 and report["duplicates"] == 0
    [rejection] = report["rejected"]
    line = 3 if kind == "csv" else 2  # the CSV header is line 1
    assert rejection["file"] == str(path) and rejection["line"] == line
    assert rejection["event_id"] == (shown(events[1]["event_id"]) or None)  # control characters escaped
    assert reason in rejection["reason"]
    assert {e[1] for e in stored(db_url)} == {"ok-1", "ok-2"}


def test_an_empty_resource_id_is_refused_in_json_and_is_none_in_csv(province, db_url, tmp_path) -> None:
    # JSON tells "no resource" (null, or no key) from "" (an empty id, docs/reference.md#usage-events-file); a CSV field cannot
    events = [event("ok-1"), {**event("bad-1"), "resource_id": ""}, {**event("ok-2"), "resource_id": None}]
    report = province("usage", "import", write_jsonl(tmp_path / "u.jsonl", events), "--json").json()
    assert report["accepted"] == 2 and [r["reason"] for r in report["rejected"]] == ["resource_id is empty"]
    csv_report = province("usage", "import", write_csv(tmp_path / "u.csv", [event("ok-3", resource_id="")]), "--json")
    assert csv_report.code == 0 and csv_report.json()["accepted"] == 1
    assert {e[1]: e[6] for e in stored(db_url)} == {"ok-1": None, "ok-2": None, "ok-3": None}


def test_time_a_little_in_the_future_is_accepted(province, tmp_path) -> None:
    soon = (datetime.now(UTC) + timedelta(minutes=2)).isoformat()
    result = province("usage", "import", write_csv(tmp_path / "u.csv", [event("soon", time=soon)]), "--json")
    assert result.code == 0, result
    assert result.json()["accepted"] == 1


def test_same_content_is_a_duplicate_whatever_the_offset_number_form_and_key_order(province, db_url, tmp_path) -> None:
    first = [
        event("a", time="2026-10-01T13:00:00+08:00", quantity="1", attributes={"x": 1, "y": "z"}),
        event("b", quantity="2.50", resource_id="vm-1"),
    ]
    again = [
        event("a", time="2026-10-01T05:00:00Z", quantity="1.0", attributes={"y": "z", "x": 1.0}),
        event("b", time="2026-10-01T07:00:00+02:00", quantity="2.5", resource_id="vm-1"),
    ]
    assert province("usage", "import", write_csv(tmp_path / "1.csv", first)).code == 0
    before = stored(db_url)
    result = province("usage", "import", write_jsonl(tmp_path / "2.jsonl", again), "--json")
    assert result.code == 0, result
    assert result.json() == {"accepted": 0, "duplicates": 2, "rejected": []}
    assert stored(db_url) == before


@pytest.mark.parametrize(
    "change",
    [
        {"quantity": "2"},
        {"time": "2026-10-01T14:00:00+08:00"},
        {"resource_id": "vm-2"},
        {"attributes": {"x": 2}},
        {"meter": "gpu_hours"},
        {"department": "gd-hr"},
    ],
)
def test_same_event_id_with_other_content_is_a_conflict_and_never_overwrites(
    province, db_url, tmp_path, change
) -> None:
    original = event("a", resource_id="vm-1", attributes={"x": 1})
    assert province("usage", "import", write_csv(tmp_path / "1.csv", [original])).code == 0
    before = stored(db_url)
    result = province("usage", "import", write_csv(tmp_path / "2.csv", [{**original, **change}]), "--json")
    assert result.code == 1
    [rejection] = result.json()["rejected"]
    assert rejection["line"] == 2 and "different content" in rejection["reason"]
    assert stored(db_url) == before


def test_the_same_event_id_on_another_cloud_is_another_event(province, db_url, tmp_path) -> None:
    events = [event("a"), event("a", department="gz-gaj", cloud="gz")]
    result = province("usage", "import", write_csv(tmp_path / "u.csv", events), "--json")
    assert result.json()["accepted"] == 2


@pytest.mark.parametrize("batch_size", [1, 2, 1000])
def test_within_one_file_the_first_occurrence_wins(use_db, tmp_path, batch_size, province) -> None:
    events = [
        event("a", quantity="1"),
        event("b"),
        event("a", quantity="2"),
        event("a", quantity="1.000"),
        event("c"),
        event("a", quantity="3"),
        event("d", meter="nope"),
    ]
    engine = make_engine(use_db)
    try:
        report = import_files(
            engine, actor=SYSTEM, paths=[write_csv(tmp_path / "u.csv", events)], batch_size=batch_size
        )
    finally:
        engine.dispose()
    assert (report.accepted, report.duplicates) == (3, 1)
    assert [(r.line, r.event_id) for r in report.rejected] == [(4, "a"), (7, "a"), (8, "d")]
    assert {(e[1], e[5]) for e in stored(use_db)} == {("a", 1_000_000), ("b", 1_000_000), ("c", 1_000_000)}


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
@pytest.mark.parametrize("bom", [False, True], ids=["no-bom", "bom"])
def test_csv_and_json_lines_are_read_with_or_without_bom(province, db_url, tmp_path, kind, bom) -> None:
    events = [
        event("e1", quantity="0.000001"),
        event(
            "e2",
            department="sw-gaj",
            quantity="999999999999.999999",
            resource_id="云主机-1",
            attributes={"项目": "一网通办"},
        ),
    ]
    path = (write_csv if kind == "csv" else write_jsonl)(tmp_path / f"u.{kind}", events, bom=bom)
    result = province("usage", "import", path, "--json")
    assert result.code == 0, result
    assert result.json()["accepted"] == 2
    rows = {e[1]: e for e in stored(db_url)}
    assert rows["e1"][5] == 1 and rows["e2"][5] == 999_999_999_999_999_999
    assert rows["e2"][6] == "云主机-1" and rows["e2"][7] == '{"项目":"一网通办"}'


def test_json_lines_numbers_are_read_exactly_never_as_floats(province, db_url, tmp_path) -> None:
    lines = [
        '{"event_id":"n1","time":"2026-10-01T13:00:00+08:00","department":"gd-edu","cloud":"gd-prov",'
        '"meter":"egress_gib","quantity":0.123456}',
        '{"event_id":"n2","time":"2026-10-01T13:00:00+08:00","department":"gd-edu","cloud":"gd-prov",'
        '"meter":"egress_gib","quantity":123456789012.3}',
        '{"event_id":"n3","time":"2026-10-01T13:00:00+08:00","department":"gd-edu","cloud":"gd-prov",'
        '"meter":"egress_gib","quantity":1e2}',
    ]
    result = province("usage", "import", write_jsonl(tmp_path / "n.jsonl", lines), "--json")
    assert result.code == 0, result
    assert {e[1]: e[5] for e in stored(db_url)} == {"n1": 123456, "n2": 123_456_789_012_300_000, "n3": 100_000_000}


def test_json_lines_that_are_not_events_are_rejected_by_line(province, tmp_path) -> None:
    lines = [
        "not json",
        "[1, 2]",
        '{"event_id": "x", "colour": "red"}',
        "",
        '{"event_id": 5, "time": "2026-10-01T13:00:00+08:00"}',
        '{"event_id": "y", "attributes": [1]}',
        '{"event_id": "z", "time": "2026-10-01T13:00:00+08:00", "department": "gd-edu", "cloud": "gd-prov", '
        '"meter": "api_calls", "quantity": true}',
    ]
    result = province("usage", "import", write_jsonl(tmp_path / "bad.jsonl", lines), "--json")
    assert result.code == 1
    reasons = {r["line"]: r["reason"] for r in result.json()["rejected"]}
    assert set(reasons) == {1, 2, 3, 5, 6, 7}
    assert "not valid JSON" in reasons[1] and "not a JSON object" in reasons[2]
    assert "unknown field 'colour'" in reasons[3] and "event_id must be a string" in reasons[5]
    assert "attributes must be a JSON object" in reasons[6] and "quantity is not a number" in reasons[7]


def test_a_json_lines_line_nested_too_deeply_is_rejected_by_line(province, tmp_path) -> None:
    """A line of 100,000 nested `[` exceeds Python's recursion limit: that line is rejected as not valid
    JSON (in English and Chinese), never an error that stops the import."""
    good = (
        '{"event_id": "ok", "time": "2026-10-01T13:00:00+08:00", "department": "gd-edu", "cloud": "gd-prov", '
        '"meter": "api_calls", "quantity": "1"}'
    )
    path = write_jsonl(tmp_path / "deep.jsonl", [good, "[" * 100_000, '{"a": ' * 100_000])
    result = province("usage", "import", path, "--json")
    assert result.code == 1, result
    reasons = {r["line"]: r["reason"] for r in result.json()["rejected"]}
    assert reasons == {2: "not valid JSON: nested too deeply", 3: "not valid JSON: nested too deeply"}
    chinese = province("--lang", "zh", "usage", "import", path, "--json")
    assert {r["line"]: r["reason"] for r in chinese.json()["rejected"]}[2] == "不是有效的 JSON：嵌套层数过深"


@pytest.mark.parametrize(
    "header, reason",
    [
        (["event_id", "time", "department", "cloud", "meter"], "missing column 'quantity'"),
        (["event_id", "time", "department", "cloud", "meter", "quantity", "colour"], "unknown column 'colour'"),
    ],
)
def test_a_csv_header_that_cannot_be_read_rejects_the_file_at_line_1(
    province, db_url, tmp_path, header, reason
) -> None:
    path = write_csv(tmp_path / "h.csv", [event("a")], header=header)
    result = province("usage", "import", path, "--json")
    assert result.code == 1
    assert [(r["line"], r["reason"]) for r in result.json()["rejected"]] == [(1, reason)]
    assert stored(db_url) == set()


def test_csv_rows_with_the_wrong_number_of_fields_are_rejected_and_blank_lines_skipped(province, tmp_path) -> None:
    path = tmp_path / "w.csv"
    path.write_text(
        "event_id,time,department,cloud,meter,quantity\n"
        "a,2026-10-01T13:00:00+08:00,gd-edu,gd-prov,vcpu_hours,1\n\n"
        "b,2026-10-01T13:00:00+08:00,gd-edu,gd-prov,vcpu_hours\n"
        '"c","2026-10-01T13:00:00+08:00","gd-edu","gd-prov","vcpu_hours","2"\n',
        encoding="utf-8",
    )
    result = province("usage", "import", path, "--json")
    assert result.json()["accepted"] == 2
    assert [(r["line"], r["reason"]) for r in result.json()["rejected"]] == [(4, "expected 6 fields, got 5")]


def test_unreadable_files_are_reported_and_the_others_imported(province, db_url, tmp_path) -> None:
    good = write_csv(tmp_path / "good.csv", [event("a")])
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"event_id,time,department,cloud,meter,quantity\n" + b"\xe9,x,y,z,w,1\n")
    other = tmp_path / "usage.xlsx"
    other.write_text("x")
    result = province("usage", "import", tmp_path / "missing.csv", latin, other, good, "--json")
    assert result.code == 1
    rejected = {Path(r["file"]).name: r["reason"] for r in result.json()["rejected"]}
    assert set(rejected) == {"missing.csv", "latin.csv", "usage.xlsx"}
    assert "not valid UTF-8" in rejected["latin.csv"] and "unsupported file type" in rejected["usage.xlsx"]
    assert {e[1] for e in stored(db_url)} == {"a"}


def test_human_output_lists_counts_and_each_rejection(province, tmp_path) -> None:
    path = write_csv(tmp_path / "u.csv", [event("a"), event("b", meter="nope")])
    result = province("usage", "import", path)
    assert result.code == 1
    assert "accepted 1, duplicates 0, rejected 1" in result.stdout
    assert f"{path}:3 [b]: unknown meter 'nope'" in result.stdout


def test_each_committed_transaction_appends_one_audit_entry_and_an_unchanged_import_none(
    province, db_url, tmp_path
) -> None:
    path = write_csv(tmp_path / "u.csv", [event("a"), event("b")])
    assert province("usage", "import", path).code == 0
    assert province("usage", "import", path).code == 0
    engine = make_engine(db_url)
    with engine.connect() as conn:
        payloads = conn.execute(text("SELECT payload FROM audit_log WHERE action = 'usage.import'")).scalars().all()
    engine.dispose()
    assert len(payloads) == 1 and '"accepted":2' in payloads[0]
    assert province("audit", "verify").code == 0


def test_the_audit_entry_of_a_transaction_covers_what_it_stored_from_each_file(province, db_url, tmp_path) -> None:
    # batches of 2: one transaction (no commit due) stores five batches of the first file and one of the
    # second: one entry per file, with the lines and clouds of the batches that stored something and the
    # events accepted (a duplicate is not); committing every batch instead gives an entry per batch
    first = write_csv(tmp_path / "a.csv", [event(f"a{i}") for i in range(9)] + [event("bad", meter="nope")])
    second = write_csv(tmp_path / "b.csv", [event("a1"), event("b1", cloud="gz", department="gz-gaj")])
    engine = make_engine(db_url)
    try:
        import_files(engine, actor=SYSTEM, paths=[first, second], batch_size=2, commit_seconds=3600)
        with engine.connect() as conn:
            one = conn.execute(text("SELECT payload FROM audit_log WHERE action = 'usage.import' ORDER BY seq"))
            payloads = [json.loads(p) for p in one.scalars()]
        assert [(p["source"], p["lines"], p["accepted"], p["clouds"]) for p in payloads] == [
            (str(first), [2, 10], 9, ["gd-prov"]),
            (str(second), [2, 3], 1, ["gd-prov", "gz"]),
        ]
        again = write_csv(tmp_path / "c.csv", [event(f"c{i}") for i in range(5)])
        import_files(engine, actor=SYSTEM, paths=[again], batch_size=2, commit_seconds=0)
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT payload FROM audit_log WHERE action = 'usage.import' AND entity = 'usage:c.csv'")
            )
            each = [json.loads(p)["lines"] for p in rows.scalars()]
    finally:
        engine.dispose()
    assert sorted(each) == [[2, 3], [4, 5], [6, 6]]
    assert province("audit", "verify").code == 0


def test_stored_events_can_be_neither_changed_nor_deleted(province, db_url, tmp_path) -> None:
    assert province("usage", "import", write_csv(tmp_path / "u.csv", [event("a")])).code == 0
    engine = make_engine(db_url)
    try:
        for statement in ("UPDATE usage_event SET quantity = 0", "DELETE FROM usage_event"):
            with pytest.raises(Exception, match="never"):
                with engine.begin() as conn:
                    conn.execute(text(statement))
    finally:
        engine.dispose()
    assert len(stored(db_url)) == 1


def test_the_registry_cannot_delete_a_department_with_usage(province, db_url, tmp_path) -> None:
    assert province("usage", "import", write_csv(tmp_path / "u.csv", [event("a", department="gd-hr")])).code == 0
    smaller = tmp_path / "tenancy.yaml"
    source = (Path(__file__).parent / "data" / "tenancy.yaml").read_text(encoding="utf-8")
    smaller.write_text(
        "\n".join(line for line in source.splitlines() if "gd-hr" not in line and "gz-gaj" not in line),
        encoding="utf-8",
    )
    result = province("tenants", "import", smaller, "--json")
    assert result.code == 0, result
    changes = {c["entity"]: c["action"] for c in result.json()["changes"]}
    assert changes["department:gd-hr"] == "archive" and changes["department:gz-gaj"] == "delete"


def test_import_counts_results_in_the_prometheus_counter(province, tmp_path) -> None:
    def value(result: str) -> float:
        return metrics.EVENTS.labels(result=result)._value.get()

    before = {r: value(r) for r in ("accepted", "duplicate", "rejected")}
    path = write_csv(tmp_path / "u.csv", [event("a"), event("a"), event("b", meter="nope")])
    province("usage", "import", path)
    assert {r: value(r) - before[r] for r in before} == {"accepted": 1, "duplicate": 1, "rejected": 1}


# ---------------------------------------------------------------------------- permissions


def _user(cli, name: str, *args: str) -> None:
    assert cli("users", "add", name, *args).code == 0


def test_operators_import_only_for_the_clouds_they_operate(province, db_url, tmp_path) -> None:
    _user(province, "ops-gd", "--role", "operator", "--operator", "dgcloud")
    events = [event("mine"), event("sw", department="sw-gaj"), event("theirs", department="gz-gaj", cloud="gz")]
    result = province("usage", "import", write_csv(tmp_path / "u.csv", events), "--json", "--as", "ops-gd")
    assert result.code == 1
    assert result.json()["accepted"] == 2
    [rejection] = result.json()["rejected"]
    assert rejection["event_id"] == "theirs" and "not operated by dgcloud" in rejection["reason"]


@pytest.mark.parametrize("role, extra", [("department", ["--department", "gd-edu"]), ("auditor", []), ("finance", [])])
def test_roles_without_usage_write_cannot_import(province, db_url, tmp_path, role, extra) -> None:
    _user(province, "someone", "--role", role, *extra)
    result = province("usage", "import", write_csv(tmp_path / "u.csv", [event("a")]), "--json", "--as", "someone")
    assert result.code == 1
    assert "permission denied" in result.json()["error"]
    assert stored(db_url) == set()


def test_bureau_imports_for_every_cloud(province, tmp_path) -> None:
    _user(province, "bureau1", "--role", "bureau")
    events = [event("a"), event("b", department="gz-gaj", cloud="gz")]
    result = province("usage", "import", write_csv(tmp_path / "u.csv", events), "--json", "--as", "bureau1")
    assert result.code == 0 and result.json()["accepted"] == 2


def test_quantities_are_stored_as_exact_micro_units(province, db_url, tmp_path) -> None:
    result = province(
        "usage",
        "import",
        write_csv(tmp_path / "u.csv", [event("a", quantity="0.1"), event("b", quantity="0.2")]),
        "--json",
    )
    assert result.code == 0
    engine = make_engine(db_url)
    with engine.connect() as conn:
        total = conn.execute(text("SELECT SUM(quantity) FROM usage_event")).scalar_one()
    engine.dispose()
    assert Decimal(total) == 300_000
