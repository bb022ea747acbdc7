"""The vectorised CSV path never changes a result: it accepts only rows the Python validator turns into the
very same row, and whole imports come out the same either way, in one process or with a reader process."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from core.db import make_engine, session_scope
from metering import fastcsv, ingest, store
from metering.events import CsvColumns, Lookups, Rejected, Validator
from metering.service import import_files
from tenants import tenancy
from tenants.permissions import SYSTEM
from tests.metering.conftest import DATA, stored

NOW = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
LOOKUPS = Lookups(
    {"gd-edu": "gd-prov", "gz-gaj": "gz", "部门-1": "gd-prov"},
    {"gd-prov": "dgcloud", "gz": "gzops"},
    frozenset({"vcpu_hours", "egress_gib"}),
)
NAMES = ("event_id", "time", "department", "cloud", "meter", "quantity", "resource_id", "attributes")
PLAIN = st.characters(blacklist_characters=',"\r\n', blacklist_categories=("Cs",))

TIMES = [  # each is either accepted or refused by the Python parser; the fast path must agree
    "2026-10-01T13:00:00+08:00",
    "2026-10-01 13:00:00+08:00",
    "2026-10-01T05:00:00Z",
    "2026-10-01T05:00:00+00:00",
    "2026-10-01T13:00:00.5+08:00",
    "2026-10-01T13:00+08:00",
    "2026-10-01T13:00:00+0800",
    "2026-10-01T13:00:00",
    "2026-02-30T10:00:00+08:00",
    "2026-02-29T10:00:00+08:00",
    "2024-02-29T10:00:00+08:00",
    "2026-10-01T24:00:00+08:00",
    "2026-10-01T10:60:00+08:00",
    "2026-10-01T10:00:60+08:00",
    "2026-10-01T10:00:00+24:00",
    "2026-10-01T10:00:00+23:59",
    "2026-10-01T10:00:00-12:30",
    "2026-10-01T10:00:00+05:45",
    "2026-10-01X10:00:00+08:00",
    "２０２６-10-01T10:00:00+08:00",
    "2026-10-01T10:00:0５+08:00",
    "yesterday",
    "",
    "0001-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59-01:00",
    # around the 5-minute future limit, in other offsets
    (NOW + timedelta(minutes=4, seconds=59)).astimezone(timezone(timedelta(hours=8))).isoformat(),
    (NOW + timedelta(minutes=5)).astimezone(timezone(timedelta(hours=-3))).isoformat(),
    (NOW + timedelta(minutes=5, seconds=1)).astimezone(timezone(timedelta(hours=8))).isoformat(),
    (NOW + timedelta(minutes=6)).isoformat(),
]
QUANTITIES = [
    "1",
    "0",
    "1.5",
    "12.000001",
    "1.",
    ".5",
    "+1",
    "-0",
    "-1",
    "1e3",
    " 2",
    "2 ",
    "000000000001",
    "999999999999.999999",
    "1000000000000",
    "9999999999999",
    "0.0000001",
    "1.1234567",
    "١",
    "NaN",
    "Infinity",
    "lots",
    "",
    "00.000000",
    "1_000",
]


def fields(draw: st.DrawFn) -> dict[str, str]:
    long_text = st.text(PLAIN, min_size=195, max_size=205)
    return {
        "event_id": draw(
            st.one_of(
                st.sampled_from(["e-1", "", "事件-1", "e\x00-1", "e\t1", "\x7f", "e-\x85", "e-\xa0"]),
                st.text(PLAIN, min_size=1, max_size=8),
                long_text,
            )
        ),
        "time": draw(st.one_of(st.sampled_from(TIMES), _fast_times())),
        "department": draw(st.sampled_from(["gd-edu", "gz-gaj", "部门-1", "gd-nope", "", " gd-edu"])),
        "cloud": draw(st.sampled_from(["gd-prov", "gz", "nowhere", ""])),
        "meter": draw(st.sampled_from(["vcpu_hours", "egress_gib", "beer_litres", ""])),
        "quantity": draw(
            st.one_of(
                st.sampled_from(QUANTITIES),
                st.decimals(min_value=0, max_value=10**12, places=6).map(lambda d: format(d, "f")),
            )
        ),
        "resource_id": draw(
            st.one_of(st.sampled_from(["", "vm-1", "资源", "vm\x00", "vm\x1b[0m", "vm\x9f"]), long_text)
        ),
        "attributes": draw(st.sampled_from(["", "", "{}", "{a}"])),
    }


def _fast_times() -> st.SearchStrategy[str]:
    """`YYYY-MM-DDTHH:MM:SS±HH:MM` in any offset, in the past (from 2000: earlier years are rejected): the form the fast path takes."""
    return st.builds(
        lambda moment, minutes: (
            moment.replace(microsecond=0, tzinfo=UTC).astimezone(timezone(timedelta(minutes=minutes))).isoformat()
        ),
        st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2026, 10, 31)),  # years 2000-2099 only
        st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
    )


def _python(lookups: Lookups, row: dict[str, str]) -> tuple | Rejected:
    try:
        return Validator(lookups, NOW).validate(*(row[n] for n in NAMES))
    except Rejected as exc:
        return exc


def _fast(
    lookups: Lookups, rows: list[dict[str, str]], names: tuple[str, ...] = NAMES, *, copy: bool = False
) -> fastcsv.FastBatch | None:
    data = "".join(",".join(r[n] for n in names) + "\n" for r in rows).encode()
    check = fastcsv.ChunkValidator(Validator(lookups, NOW), CsvColumns.of(list(names)), copy=copy)
    table = check.table(fastcsv.Chunk(data, 2, len(rows), 0, plain=True))
    return None if table is None else check.rows(table, 2)


@st.composite
def any_row(draw: st.DrawFn) -> dict[str, str]:
    return fields(draw)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_row(), st.sampled_from([None, "dgcloud", "gzops"]), st.booleans())
def test_the_fast_path_accepts_only_what_python_turns_into_the_same_row(row, operator, copy) -> None:
    lookups = Lookups(LOOKUPS.department_cloud, LOOKUPS.cloud_operator, LOOKUPS.meters, operator)
    expected = _python(lookups, row)
    fast = _fast(lookups, [row], copy=copy)
    if fast is None:
        return  # handed to the Python validator: same result by construction
    assert not isinstance(expected, Rejected), (row, expected.template)
    assert fast.rows == [expected] and list(fast.lines) == [2]
    if copy:  # the COPY line is the same row (time with its UTC offset), received_at left to the writer
        line = next(csv.reader(io.StringIO(fast.copy.decode())))
        assert line == [
            *(str(v) if v is not None else "" for v in expected[:4]),
            expected[4] + "+00",
            str(expected[5]),
            expected[6] or "",
            "",
        ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([("gd-edu", "gd-prov"), ("gz-gaj", "gz"), ("部门-1", "gd-prov")]),
            _fast_times(),
            st.decimals(min_value=0, max_value=10**12 - 1, places=6).map(abs),
            st.sampled_from(["", "vm-1", "资源-2"]),
        ),
        min_size=1,
        max_size=40,
    ),
    st.booleans(),
)
def test_the_fast_path_takes_whole_chunks_of_ordinary_rows(items, copy) -> None:
    rows = [
        {
            "event_id": f"e-{i}",
            "time": when,
            "department": dept,
            "cloud": cloud,
            "meter": "vcpu_hours",
            "quantity": format(quantity, "f"),
            "resource_id": res,
            "attributes": "",
        }
        for i, ((dept, cloud), when, quantity, res) in enumerate(items)
    ]
    fast = _fast(LOOKUPS, rows, copy=copy)
    assert fast is not None
    expected = [_python(LOOKUPS, r) for r in rows]
    by_line = dict(zip(fast.lines, fast.rows, strict=True))
    assert [by_line[2 + i] for i in range(len(rows))] == expected
    if copy:  # key order, so concurrent importers lock keys in one order
        assert [r[:2] for r in fast.rows] == sorted(r[:2] for r in fast.rows)


def test_a_repeated_key_or_one_doubtful_row_sends_the_chunk_to_python() -> None:
    good = {
        "event_id": "e-1",
        "time": "2026-10-01T13:00:00+08:00",
        "department": "gd-edu",
        "cloud": "gd-prov",
        "meter": "vcpu_hours",
        "quantity": "1",
        "resource_id": "",
        "attributes": "",
    }
    assert _fast(LOOKUPS, [good, {**good, "event_id": "e-2"}]) is not None
    assert _fast(LOOKUPS, [good, {**good, "quantity": "2"}]) is None  # same key twice
    assert _fast(LOOKUPS, [good, {**good, "event_id": "e-2", "time": "2026-10-01T05:00:00Z"}]) is None


def test_copy_lines_have_the_writers_columns() -> None:
    assert store.COLUMNS == (*fastcsv.COPY_COLUMNS, "received_at")


# ---------------------------------------------------------------------------- whole imports


def _lines(*rows: str) -> str:
    return "".join(r + "\n" for r in rows)


HEADER = "event_id,time,department,cloud,meter,quantity,resource_id,attributes"
ROW = "{id},2026-10-0{d}T1{h}:0{m}:{s}+08:00,gd-edu,gd-prov,vcpu_hours,{q},vm-{m},"
FILES = {
    # ordinary rows, Python-only spellings, every kind of refusal, repeats in and across chunks, blank lines,
    # wrong field counts, then a quoted value (Python reads the rest of the file), then ordinary rows again
    "mixed.csv": _lines(
        HEADER,
        *[
            ROW.format(id=f"a{i}", d=1 + i % 9, h=i % 10, m=i % 10, s=f"{i % 60:02d}", q=f"{i}.{i % 7}")
            for i in range(30)
        ],
        "b1,2026-10-01T05:00:00Z,gd-edu,gd-prov,vcpu_hours,1,,",
        "b2,2026-10-01T13:00:00.25+08:00,gd-edu,gd-prov,vcpu_hours,1e3,,",
        "b3,2026-10-01T13:00:00+08:00,gd-nope,gd-prov,vcpu_hours,1,,",
        "a3,2026-10-04T13:03:03+08:00,gd-edu,gd-prov,vcpu_hours,3.3,vm-3,",
        "a4,2026-10-05T14:04:04+08:00,gd-edu,gd-prov,vcpu_hours,999,vm-4,",
        "",
        "b4,2026-10-01T13:00:00+08:00,gd-edu",
        "",
        "b5,2030-10-01T13:00:00+08:00,gd-edu,gd-prov,vcpu_hours,1,,",
        "b5,2026-10-01T13:00:00+08:00,gd-edu,gd-prov,vcpu_hours,1,,",
        "b6,2026-10-01T13:00:00+08:00,gd-edu,gd-prov,vcpu_hours,1,,",
        "b6,2026-10-01T13:00:00+08:00,gd-edu,gd-prov,vcpu_hours,2,,",
        "b7,2026-10-01T13:00:00+08:00,sw-gaj,gd-prov,egress_gib,7,,{}",
        *[ROW.format(id=f"c{i}", d=2, h=3, m=i % 10, s="00", q=i) for i in range(12)],
        'b8,2026-10-01T13:00:00+08:00,gd-edu,gd-prov,vcpu_hours,1,"vm,8","{""k"": 1}"',
        'b9,2026-10-01T13:00:00+08:00,gd-edu,gd-prov,vcpu_hours,1,"vm\n9",',
        *[ROW.format(id=f"d{i}", d=3, h=4, m=i % 10, s="00", q=i) for i in range(12)],
    ),
    # BOM, CRLF, columns in another order, optional ones absent
    "crlf.csv": "\ufeff"
    + "".join(
        r + "\r\n"
        for r in [
            "quantity,meter,cloud,department,time,event_id",
            *[f"{i}.5,egress_gib,gz,gz-gaj,2026-10-0{1 + i % 9}T0{i % 10}:00:00+08:00,x{i}" for i in range(25)],
            "1,egress_gib,gd-prov,gz-gaj,2026-10-01T00:00:00+08:00,x-wrong-cloud",
        ]
    ),
    # a line that is not UTF-8 in the middle: what comes before it is kept, the file stops there
    "latin.csv": _lines(HEADER, *[ROW.format(id=f"l{i}", d=1, h=1, m=i % 10, s="00", q=i) for i in range(9)]).encode()
    + "l-x,2026-10-01T13:00:00+08:00,gd-edu,gd-prov,vcpu_hours,1,café,\n".encode("latin-1")
    + _lines(*[ROW.format(id=f"m{i}", d=1, h=1, m=i % 10, s="00", q=i) for i in range(3)]).encode(),
    "header-only.csv": HEADER + "\n",
    "empty.csv": "",
}


def _write(directory: Path) -> list[Path]:
    paths = []
    for name, content in FILES.items():
        path = directory / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        paths.append(path)
    return paths


def _import(url: str, paths: list[Path], batch_size: int) -> tuple[dict, set]:
    engine = make_engine(url)
    try:
        report = import_files(engine, actor=SYSTEM, paths=paths, batch_size=batch_size, commit_seconds=0)
    finally:
        engine.dispose()
    return report.to_dict(), stored(url)


def _python_only(
    template: Path, directory: Path, paths: list[Path], batch_size: int, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict, set]:
    path = directory / "python-only.db"
    shutil.copy(template, path)
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    with session_scope(engine=engine) as session:
        tenancy.import_tenancy(session, actor=SYSTEM, path=DATA / "tenancy.yaml")
    engine.dispose()
    with monkeypatch.context() as m:
        m.setattr(fastcsv, "available", lambda: False)
        m.setattr(ingest, "PARALLEL_BYTES", 2**62)
        return _import(url, paths, batch_size)


@pytest.mark.parametrize("batch_size", [4, 7, 10_000])
def test_imports_come_out_the_same_with_the_fast_path_as_with_python_alone(
    province, db_url, tmp_path, sqlite_template, monkeypatch, batch_size
) -> None:
    paths = _write(tmp_path)
    expected = _python_only(sqlite_template, tmp_path, paths, batch_size, monkeypatch)
    assert expected[0]["accepted"] > 80 and len(expected[0]["rejected"]) >= 8
    assert _import(db_url, paths, batch_size) == expected


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_a_large_file_is_read_by_a_second_process_with_the_same_result(
    province, db_url, tmp_path, sqlite_template, monkeypatch, kind
) -> None:
    rows = [ROW.format(id=f"p{i}", d=1 + i % 9, h=i % 10, m=i % 10, s=f"{i % 60:02d}", q=i) for i in range(3000)]
    rows[1500:1500] = ["p7,2026-10-01T13:00:00+08:00,gd-edu,gd-prov,vcpu_hours,1,,", "p9,bad,gd-edu,gd-prov,x,1,,"]
    path = tmp_path / f"large.{kind}"
    if kind == "csv":
        path.write_text(_lines(HEADER, *rows), encoding="utf-8")
    else:
        names = HEADER.split(",")
        path.write_text(
            _lines(
                *(
                    json.dumps({n: v for n, v in zip(names, r.split(","), strict=True) if v})
                    for r in rows
                    if r.count(",") == 7
                )
            ),
            encoding="utf-8",
        )
    expected = _python_only(sqlite_template, tmp_path, [path], 500, monkeypatch)
    children = []
    real = ingest._from_child

    def spy(batcher, file):
        children.append(file)
        return real(batcher, file)

    monkeypatch.setattr(ingest, "_from_child", spy)
    monkeypatch.setattr(ingest, "PARALLEL_BYTES", 1)
    # other tests of this worker may have left a server thread running (moto, a probe target): the reader
    # process must be used all the same, so this test does not depend on which tests ran before it
    monkeypatch.setattr(ingest, "_single_threaded", lambda: True)
    assert _import(db_url, [path], 500) == expected
    assert children == [path]


def test_a_reader_process_that_dies_is_reported_and_the_other_files_are_still_imported(
    province, db_url, tmp_path, monkeypatch
) -> None:
    paths = []
    for name in ("dies.csv", "next.csv"):
        path = tmp_path / name
        path.write_text(
            _lines(
                HEADER,
                *[ROW.format(id=f"{name[0]}{i}", d=1, h=1, m=i % 10, s=f"{i % 60:02d}", q=i) for i in range(100)],
            ),
            encoding="utf-8",
        )
        paths.append(path)
    real = ingest.Batcher.read_file

    def dies_after_one_batch(self, file):
        for batch in real(self, file):
            yield batch
            if file.name == "dies.csv":
                os._exit(3)

    monkeypatch.setattr(ingest.Batcher, "read_file", dies_after_one_batch)
    monkeypatch.setattr(ingest, "PARALLEL_BYTES", 1)
    # other tests of this worker may have left a server thread running (moto, a probe target): the reader
    # process must be used all the same, so this test does not depend on which tests ran before it
    monkeypatch.setattr(ingest, "_single_threaded", lambda: True)
    report, events = _import(db_url, paths, 10)
    [rejection] = report["rejected"]
    assert rejection["file"] == str(paths[0]) and rejection["line"] == 12  # the batch had lines 2-11
    assert "stopped after line 11" in rejection["reason"] and "ended unexpectedly (exit code 3)" in rejection["reason"]
    assert report["accepted"] == 110 == len(events)  # its first batch, and all of the next file


def test_every_event_has_its_series_and_series_are_never_changed_or_deleted(province, db_url, tmp_path) -> None:
    paths = _write(tmp_path)
    report, events = _import(db_url, paths, 5)
    assert report["accepted"] == len(events) > 0
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            orphans = conn.execute(
                text(
                    "SELECT COUNT(*) FROM usage_event e WHERE NOT EXISTS (SELECT 1 FROM usage_series s WHERE "
                    "s.cloud_id = e.cloud_id AND s.department_id = e.department_id AND s.meter = e.meter)"
                )
            ).scalar()
            assert orphans == 0
        for statement in ("DELETE FROM usage_series", "UPDATE usage_series SET meter = 'egress_gib'"):
            with engine.connect() as conn, pytest.raises(Exception, match="never changed|never deleted"):
                conn.execute(text(statement))
    finally:
        engine.dispose()


_LINE_BYTES = st.lists(
    st.sampled_from([b"a", b"bb,c", b'"q"', b"\r", b"\r\n", b"\n", b"\n", b"\n", b"\xff", b"x" * 40]), max_size=60
).map(b"".join)


@settings(max_examples=300, deadline=None)
@given(data=_LINE_BYTES, size=st.integers(1, 9), guess=st.integers(1, 64))
def test_chunks_read_in_blocks_are_the_chunks_read_line_by_line(data, size, guess) -> None:
    # the block reader (`CsvChunks._block`) must cut exactly the chunks the line-by-line reader does: the
    # same bytes, first line, count, offset and plainness, whatever its first guess of the block size
    def chunks(by_line: bool) -> list[tuple]:
        reader = fastcsv.CsvChunks(io.BytesIO(data), size)
        reader.line = 0
        reader._guess = guess
        got = reader._by_line() if by_line else iter(reader)
        return [(c.data, c.first_line, c.count, c.offset, c.plain, c.too_long) for c in got]

    assert chunks(by_line=False) == chunks(by_line=True)
