"""Files written to break `zhengyun usage import`, all in one real process: ids with control characters,
empty and over-long ids, lines of megabytes in every reading path, a file that is not UTF-8, one that
does not exist, and valid events at the quantity limit — afterwards exactly the valid events are stored,
with exact totals, the month bills, and nothing shows a traceback."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from tests.faults.conftest import HEADER, line, micro

pytestmark = pytest.mark.faults

MB = 2**20
LARGEST = "999999999999.999999"


def _bad(event_id: str, resource: str = "vm-1", quantity: str = "1") -> str:
    return f"{event_id},2026-10-05T10:00:00+08:00,gd-edu,gd-prov,vcpu_hours,{quantity},{resource}"


def _write(path: Path, lines: list[str | bytes]) -> Path:
    path.write_bytes(b"".join((x if isinstance(x, bytes) else x.encode("utf-8")) + b"\n" for x in lines))
    return path


def _jsonl(event_id: str, **extra: str) -> str:
    event = {"event_id": event_id, "time": "2026-10-05T10:00:00+08:00", "department": "gz-gaj", "cloud": "gz"}
    return json.dumps(event | {"meter": "vcpu_hours", "quantity": "2"} | extra)


def test_hostile_files_cost_no_valid_event_and_show_no_traceback(zhengyun, tmp_path):
    valid = list(range(3_000))
    csv_file = _write(
        tmp_path / "hostile.csv",
        [HEADER, *(line(n) for n in valid[:1_000])]  # lines 2-1001
        + [_bad("nul\x00id"), _bad("c1\x85"), _bad(""), _bad("i" * 201), _bad("esc", resource="\x1b]0;pwned\x07")]
        + [_bad("x" * (3 * MB))]  # 1007: the vectorised path reads past it
        + [*(line(n) for n in valid[1_000:2_000])]  # 1008-2007
        + ['"quoted",2026-10-05T10:00:00+08:00,gd-edu,gd-prov,vcpu_hours,1,vm-1']  # 2008: Python's csv from here
        + [_bad("f" * 200_000), _bad("q", resource="r" * (3 * MB))]  # 2009, 2010
        + [*(line(n) for n in valid[2_000:])],  # 2011-3010
    )
    jsonl_file = _write(
        tmp_path / "hostile.jsonl",
        [
            _jsonl("j1"),
            _jsonl("j2", resource_id="z" * (2 * MB)),
            _jsonl("j3", resource_id=""),
            _jsonl("j\x004"),
            _jsonl("j5"),
        ],
    )
    latin = _write(tmp_path / "latin.csv", [HEADER, line(5_000), "l1,café".encode("latin-1"), line(5_001)])
    limits = _write(
        tmp_path / "limits.csv",
        [HEADER, *(f"max-{i},2026-10-06T10:00:00+08:00,gd-gat,gd-prov,vcpu_hours,{LARGEST},vm-9" for i in range(20))],
    )
    files = [csv_file, jsonl_file, tmp_path / "missing.csv", latin, limits]
    done = zhengyun.run("usage", "import", *map(str, files), "--json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    rejected = [(Path(r["file"]).name, r["line"]) for r in report["rejected"]]
    assert rejected == [
        *(("hostile.csv", n) for n in (1002, 1003, 1004, 1005, 1006, 1007, 2009, 2010)),
        *(("hostile.jsonl", n) for n in (2, 3, 4)),
        ("missing.csv", None),
        ("latin.csv", 3),
    ]
    assert max(len(json.dumps(r)) for r in report["rejected"]) < 1_000  # nothing echoed whole
    stored = len(valid) + 1 + 2 + 1 + 20  # the valid CSV lines, "quoted", j1 and j5, the latin file's first line
    assert report["accepted"] == stored
    expected_sum = sum(micro(n) for n in valid) + 1_000_000 + 2 * 2_000_000 + micro(5_000)
    expected_sum += 20 * 999_999_999_999_999_999
    assert zhengyun.events() == (stored, expected_sum)
    again = zhengyun.run("usage", "import", *map(str, files), "--json")
    assert json.loads(again.stdout)["accepted"] == 0 and json.loads(again.stdout)["duplicates"] == stored
    # the month with events at the limit: usage and bills are exact
    shown = zhengyun.run("usage", "show", "--period", "2026-10", "--json")
    assert shown.returncode == 0, shown.stderr
    gat = [u for u in json.loads(shown.stdout)["usage"] if u["department"] == "gd-gat" and u["meter"] == "vcpu_hours"]
    assert Decimal(gat[0]["quantity"]) == Decimal(LARGEST) * 20 + sum(
        Decimal(micro(n)) / 10**6 for n in valid if line(n).split(",")[2:5] == ["gd-gat", "gd-prov", "vcpu_hours"]
    )
    billed = zhengyun.run("bills", "run", "--period", "2026-10", "--as", "fin1", "--json")
    assert billed.returncode == 0, billed.stderr
    assert zhengyun.cli("audit", "verify").code == 0
