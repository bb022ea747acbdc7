"""Files written to break the reader: lines and fields longer than any limit, wherever they are (docs/reference.md#usage-events-file).

A line longer than 1 MiB is a rejected row with its line number; the valid lines before and after it are
stored, in every reading path (vectorised, Python's csv after a quoted value, JSON Lines, a reader
process), and one bad file never costs another file's valid events. Reports never echo a huge value.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metering import ingest
from metering.events import MAX_LINE, MAX_SHOWN
from tests.metering.conftest import stored

HEADER = "event_id,time,department,cloud,meter,quantity,resource_id,attributes"
MB = 2**20


def row(event_id: str, quantity: str = "1", resource: str = "", attributes: str = "") -> str:
    return f"{event_id},2026-10-01T13:00:00+08:00,gd-edu,gd-prov,vcpu_hours,{quantity},{resource},{attributes}"


def valid(prefix: str, count: int) -> list[str]:
    return [row(f"{prefix}{i}", str(i + 1)) for i in range(count)]


def write(path: Path, lines: list[str | bytes]) -> Path:
    with open(path, "wb") as out:
        for line in lines:
            out.write((line if isinstance(line, bytes) else line.encode("utf-8")) + b"\n")
    return path


def imported(cli, *paths: Path) -> dict:
    result = cli("usage", "import", *map(str, paths), "--json")
    assert result.code == 1, result  # something was rejected
    assert "Traceback" not in result.stderr
    return result.json()


def ids(url: str) -> set[str]:
    return {e[1] for e in stored(url)}


def reasons(report: dict) -> list[tuple[int, str]]:
    return [(r["line"], r["reason"]) for r in report["rejected"]]


def test_a_50_mb_line_is_rejected_with_its_number_and_the_lines_around_it_are_stored(province, db_url, tmp_path):
    huge = row("x" * (50 * MB))  # an id of 50 MB: one line, no line break, unquoted (the vectorised path)
    path = write(tmp_path / "huge.csv", [HEADER, *valid("a", 3), huge, *valid("b", 3)])
    report = imported(province, path)
    assert report["accepted"] == 6 and reasons(report) == [(5, f"line 5 is longer than {MAX_LINE} bytes")]
    assert report["rejected"][0]["event_id"] is None  # the line is read past, never held or echoed
    assert ids(db_url) == {"a0", "a1", "a2", "b0", "b1", "b2"}


def test_a_long_field_after_a_quoted_value_is_rejected_and_reading_goes_on(province, db_url, tmp_path):
    # a quoted value sends the rest of the file to Python's csv module (which refused fields over 128 KiB)
    quoted = '"q1",2026-10-01T13:00:00+08:00,gd-edu,gd-prov,vcpu_hours,1,,'
    over_csv_limit = row("y" * 200_000)  # under 1 MiB: an id too long, said with a short excerpt
    over_line_limit = row("q2", resource="z" * (2 * MB))
    path = write(
        tmp_path / "quoted.csv", [HEADER, *valid("a", 2), quoted, over_csv_limit, over_line_limit, *valid("b", 2)]
    )
    report = imported(province, path)
    assert report["accepted"] == 5
    assert reasons(report) == [
        (5, "event_id is longer than 200 characters"),
        (6, f"line 6 is longer than {MAX_LINE} bytes"),
    ]
    shown = report["rejected"][0]["event_id"]
    assert shown.startswith("y" * MAX_SHOWN) and shown.endswith("… (200000)") and len(shown) < MAX_SHOWN + 20
    assert ids(db_url) == {"a0", "a1", "q1", "b0", "b1"}


def test_a_long_quoted_field_spanning_lines_is_one_rejected_record(province, db_url, tmp_path):
    lines: list[str | bytes] = [HEADER, *valid("a", 2), '"q1",2026-10-01T13:00:00+08:00,gd-edu,gd-prov,vcpu_hours,1,,']
    lines += ['q2,2026-10-01T13:00:00+08:00,gd-edu,gd-prov,vcpu_hours,1,"' + "w" * (MB // 2)]
    lines += ["w" * (MB // 2) for _ in range(3)]  # one field of 2 MB over four lines, each under the limit
    lines += ['w",', *valid("b", 2)]
    report = imported(province, write(tmp_path / "spanning.csv", lines))
    # the csv module stops at its field limit; the rest of that record's lines are not records either
    assert reasons(report) == [
        (5, f"not a valid CSV record: field larger than field limit ({MAX_LINE + 2})"),
        (8, "expected 8 fields, got 1"),
        (9, "expected 8 fields, got 2"),
    ]
    assert ids(db_url) == {"a0", "a1", "q1", "b0", "b1"}


@pytest.mark.parametrize("where", ["first record", "header"])
def test_a_long_first_line_is_rejected(province, db_url, tmp_path, where):
    if where == "header":
        lines: list[str | bytes] = [HEADER + "," + "h" * (2 * MB), *valid("a", 2)]
    else:
        lines = [HEADER, row("f" * (2 * MB)), *valid("a", 2)]
    report = imported(province, write(tmp_path / "first.csv", lines))
    if where == "header":  # without its header nothing of the file can be read
        assert report["accepted"] == 0 and reasons(report) == [(1, f"line 1 is longer than {MAX_LINE} bytes")]
    else:
        assert report["accepted"] == 2 and reasons(report) == [(2, f"line 2 is longer than {MAX_LINE} bytes")]


def test_a_long_json_line_is_rejected_and_reading_goes_on(province, db_url, tmp_path):
    def obj(event_id: str, **extra: str) -> str:
        return json.dumps(
            {"event_id": event_id, "time": "2026-10-01T13:00:00+08:00", "department": "gd-edu", "cloud": "gd-prov"}
            | {"meter": "vcpu_hours", "quantity": "1"}
            | extra
        )

    path = write(tmp_path / "u.jsonl", [obj("j1"), obj("j2", resource_id="r" * (3 * MB)), obj("j3")])
    report = imported(province, path)
    assert report["accepted"] == 2 and reasons(report) == [(2, f"line 2 is longer than {MAX_LINE} bytes")]
    assert ids(db_url) == {"j1", "j3"}


def test_lines_ended_by_lone_carriage_returns_are_limited_one_by_one(province, db_url, tmp_path):
    text = "\r".join([HEADER, *valid("a", 2), row("c" * (2 * MB)), *valid("b", 2)]) + "\r"
    path = tmp_path / "mac.csv"
    path.write_bytes(text.encode("utf-8"))
    report = imported(province, path)
    assert report["accepted"] == 4 and reasons(report) == [(4, f"line 4 is longer than {MAX_LINE} bytes")]


def test_one_hostile_file_never_costs_another_files_valid_events(province, db_url, tmp_path, monkeypatch):
    # the default commit cadence: the first file's events are not committed yet when the second is read
    first = write(tmp_path / "first.csv", [HEADER, *valid("a", 50)])
    hostile = write(
        tmp_path / "hostile.csv",
        [HEADER, *valid("h", 2), '"q",2026-10-01T13:00:00+08:00,gd-edu,gd-prov,vcpu_hours,1,,', row("x" * 3 * MB)]
        + [row("n\x00ul"), b"\xff\xfe not utf-8", *valid("never", 2)],
    )
    last = write(tmp_path / "last.csv", [HEADER, *valid("z", 50)])
    report = imported(province, first, hostile, last)
    assert report["accepted"] == 103
    assert [(r["file"], r["line"]) for r in report["rejected"]] == [
        (str(hostile), 5),
        (str(hostile), 6),
        (str(hostile), 7),
    ]
    assert "not valid UTF-8" in report["rejected"][2]["reason"]  # the file stops there, the next is read
    assert len(ids(db_url)) == 103 and "never0" not in ids(db_url)


def test_a_large_hostile_file_read_by_the_reader_process_gives_the_same_result(province, db_url, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "PARALLEL_BYTES", 1)
    monkeypatch.setattr(ingest, "_single_threaded", lambda: True)
    path = write(
        tmp_path / "big.csv",
        [HEADER, *valid("a", 500), row("x" * 2 * MB), row("n\x00"), *valid("b", 500), row("r", resource="\x1b[2J")],
    )
    report = imported(province, path)
    assert report["accepted"] == 1000
    assert [(r["line"], r["event_id"]) for r in report["rejected"]] == [(502, None), (503, "n\\x00"), (1004, "r")]
    assert len(ids(db_url)) == 1000
