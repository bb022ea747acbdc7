"""The vectorised JSON path never changes a result: HTTP bodies and JSON Lines files come out exactly as the
per-event Python validator decides them, and a JSON Lines file exactly as the same events written as CSV —
accepted, duplicate or rejected alike, with the same reasons, line numbers and stored content."""

from __future__ import annotations

import csv
import io
import itertools
import json
import shutil
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.db import make_engine, session_scope
from metering import fastcsv, fastjson, ingest
from metering.events import FIELDS, Lookups
from metering.ingest import Batcher
from metering.service import import_files, ingest_events
from tenants import tenancy
from tenants.permissions import SYSTEM
from tests.metering.conftest import DATA, stored
from zhengyun.api.usage import parse_events

NOW = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
# the registry of tests/metering/data/tenancy.yaml, as `load_lookups` reads it
LOOKUPS = Lookups(
    {"gd-edu": "gd-prov", "gd-hr": "gd-prov", "gz-gaj": "gz", "sw-gaj": "gd-prov"},
    {"gd-prov": "dgcloud", "gz": "gzops", "sw": None},
    frozenset({"vcpu_hours", "memory_gib_hours", "storage_gib_hours", "egress_gib", "gpu_hours", "api_calls"}),
)
CST = timezone(timedelta(hours=8))

# ---------------------------------------------------------------------------- strategies

IDS = st.one_of(
    st.sampled_from(["e-1", "e-2", "e-3", "e-4", "事件-5", "", "e\x00-6", "e\t7", "e-\x85", "x" * 201, "x" * 200]),
    # no line breaks: a CSV value holding one spans lines, and the lines after it are numbered otherwise
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), min_size=0, max_size=6),
)
TIMES = st.one_of(
    st.sampled_from(
        [
            "2026-10-01T13:00:00+08:00",
            "2026-10-01 13:00:00+08:00",
            "2026-10-01T05:00:00Z",
            "2026-10-01T05:00:00+00:00",
            "2026-10-01T13:00:00.5+08:00",
            "2026-10-01T13:00:00",  # no offset
            "2026-02-30T10:00:00+08:00",
            "2026-10-01T24:00:00+08:00",
            "2026-10-01T10:00:00+24:00",
            "9999-12-31T23:59:59-01:00",
            "yesterday",
            "",
            (NOW + timedelta(minutes=4, seconds=59)).astimezone(CST).isoformat(),
            (NOW + timedelta(minutes=5, seconds=1)).astimezone(CST).isoformat(),
            (NOW + timedelta(days=3)).isoformat(),
        ]
    ),
    st.builds(
        lambda moment, minutes: (
            moment.replace(microsecond=0, tzinfo=UTC).astimezone(timezone(timedelta(minutes=minutes))).isoformat()
        ),
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2026, 10, 31)),
        st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
    ),
)
DEPARTMENTS = st.sampled_from(["gd-edu", "gd-hr", "gz-gaj", "sw-gaj", "gd-nope", ""])
CLOUDS = st.sampled_from(["gd-prov", "gz", "sw", "nowhere", ""])
METERS = st.sampled_from(["vcpu_hours", "egress_gib", "api_calls", "beer_litres", ""])
QUANTITY_TEXTS = st.one_of(
    st.sampled_from(
        ["1", "0", "1.5", "1.50", "12.000001", "1.0000000", "0.0000001", "-1", "-0", "1e3", "1E-2", " 2", "١"]
        + ["999999999999.999999", "1000000000000", "NaN", "Infinity", "lots", "", "00.000000", "1_000"]
    ),
    st.decimals(min_value=0, max_value=10**12, places=6).map(lambda d: format(d, "f")),
)
RESOURCES = st.one_of(st.none(), st.sampled_from(["vm-1", "资源", "vm\x00", "vm\x9f", "r" * 201]))
ATTRIBUTES = st.one_of(
    st.none(),
    st.just({}),
    st.dictionaries(
        st.sampled_from(["a", "b", "项目"]),
        st.one_of(st.integers(-5, 5), st.text(max_size=3), st.decimals(allow_nan=False, places=2), st.none()),
        min_size=1,
        max_size=3,
    ),
)


@st.composite
def text_events(draw: st.DrawFn) -> dict[str, Any]:
    """An event whose values are strings (what CSV can say too), valid or not field by field."""
    valid = draw(st.booleans())
    department, cloud = draw(st.sampled_from([("gd-edu", "gd-prov"), ("gz-gaj", "gz"), ("sw-gaj", "gd-prov")]))
    event = {
        "event_id": draw(st.sampled_from([f"e-{i}" for i in range(8)]) if valid else IDS),
        "time": draw(TIMES) if not valid else "2026-10-01T13:00:00+08:00",
        "department": department if valid else draw(DEPARTMENTS),
        "cloud": cloud if valid else draw(CLOUDS),
        "meter": draw(METERS) if not valid else "vcpu_hours",
        "quantity": draw(QUANTITY_TEXTS) if not valid else draw(st.sampled_from(["1", "2", "2.000", "3.25"])),
    }
    resource = draw(RESOURCES)
    if resource is not None:
        event["resource_id"] = resource
    attributes = draw(ATTRIBUTES)
    if attributes is not None:
        event["attributes"] = attributes
    # an absent field is a missing one in JSON and an empty one in CSV: both say "missing"
    return {k: v for k, v in event.items() if v != ""}


ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**13), max_value=10**30),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.just(""),
)


@st.composite
def json_events(draw: st.DrawFn) -> Any:
    """Any JSON value a client may send as an event: mostly events, some with wrong types, missing or
    unknown keys, numbers as quantities; some not objects at all."""
    if draw(st.integers(0, 19)) == 0:
        return draw(st.one_of(st.integers(), st.text(max_size=3), st.lists(st.integers(), max_size=2)))
    event: dict[str, Any] = draw(text_events())
    quantity = draw(
        st.one_of(
            st.none(),
            st.integers(min_value=-3, max_value=10**13),
            st.decimals(min_value=-1, max_value=10**12, places=7, allow_nan=False),
            st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("1E+3"), Decimal("-0.0")]),
        )
    )
    if quantity is not None:
        event["quantity"] = quantity
    for name in draw(st.lists(st.sampled_from([*FIELDS, "extra"]), max_size=2)):
        event[name] = draw(ODD_VALUES)
    for name in draw(st.lists(st.sampled_from(FIELDS), max_size=1)):
        event.pop(name, None)
    return event


def _json(value: Any) -> str:
    """JSON text with decimals written exactly (NaN and Infinity as Python's json writes them)."""
    if isinstance(value, Decimal):
        return "NaN" if value.is_nan() else str(value)
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" + _json(v) for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_json(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


# ---------------------------------------------------------------------------- batches, no database


def _outcome(batches: list[ingest.Batch], shift: int = 0) -> list[tuple[Any, ...]]:
    """Everything a batch carries to the writer and the report, lines moved by `shift`."""
    out = []
    for b in batches:
        out.append(
            (
                b.rows,
                [line + shift for line in b.lines],
                [(line + shift, row) for line, row in b.repeats],
                [(r.line + shift if r.line else r.line, r.event_id, r.template, r.params) for r in b.rejected],
            )
        )
    return out


def _batches(values: list[Any], batch_size: int, *, fast: bool, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    with monkeypatch.context() as m:
        m.setattr(fastcsv, "available", lambda: fast)
        batcher = Batcher(LOOKUPS, now=lambda: NOW, batch_size=batch_size)
        return _outcome(list(batcher.read_events("request", values)))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(json_events(), max_size=30), batch_size=st.sampled_from([1, 3, 7, 10_000]), text=st.booleans())
def test_http_events_come_out_of_the_vectorised_path_as_out_of_the_python_validator(
    values, batch_size, text, monkeypatch
) -> None:
    if text:  # through the body parser, as the API receives them
        body = ("[" + ",".join(_json(v) for v in values) + "]").encode()
        values = [event for _, event in parse_events(body, "application/json")]
    expected = _batches(values, batch_size, fast=False, monkeypatch=monkeypatch)
    assert _batches(values, batch_size, fast=True, monkeypatch=monkeypatch) == expected


_EVENT = {
    "event_id": "e-1",
    "time": "2026-10-01T13:00:00+08:00",
    "department": "gd-edu",
    "cloud": "gd-prov",
    "meter": "vcpu_hours",
    "quantity": "1.5",
}
#: the row `_EVENT` is stored as
_ROW = ("gd-prov", "e-1", "gd-edu", "vcpu_hours", "2026-10-01 05:00:00.000000", 1_500_000, None, None)


def test_the_vectorised_path_decides_plain_events_itself() -> None:
    checker = fastjson.JsonChecker(Batcher(LOOKUPS, now=lambda: NOW).validator)
    event = _EVENT  # each value below gives its own quantity
    values = [
        {**event, "quantity": "1.5"},
        {**event, "event_id": "e-2", "quantity": 2},
        {**event, "event_id": "e-3", "quantity": Decimal("2.25"), "resource_id": "vm-1"},
        {**event, "event_id": "e-4", "quantity": "-1"},  # refused: Python names the reason
        {**event, "event_id": "e-5", "quantity": "1", "attributes": {"a": 1}},  # canonical JSON: Python's
    ]
    items = [item for _, item in checker.items(list(enumerate(values, start=1)))]
    assert [type(i).__name__ for i in items] == ["Checked", "Checked", "Checked", "tuple", "tuple"]
    assert items[0].row == _ROW
    assert items[2].row[5:7] == (2_250_000, "vm-1")


RAW_LINES = [b"", b"  ", b"\x1c", b"{", b"[1,", b"nul", b"NaN", b"\xc3", b'{"a": "\xff"}', b'{"x":1}\r{"y":2}']


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    values=st.lists(st.one_of(json_events(), st.sampled_from(RAW_LINES)), max_size=25),
    ends=st.sampled_from([b"\n", b"\r\n"]),
    bom=st.booleans(),
    last_end=st.booleans(),
    batch_size=st.sampled_from([1, 4, 10_000]),
)
def test_json_lines_files_come_out_of_the_vectorised_path_as_out_of_the_python_reader(
    values, ends, bom, last_end, batch_size, tmp_path_factory, monkeypatch
) -> None:
    """Blank lines, broken JSON, lines that are not UTF-8 (the file stops there), lone carriage returns,
    a BOM, CRLF, no line end at the end: the same rows, lines and reasons either way."""
    lines = [v if isinstance(v, bytes) else _json(v).encode() for v in values]
    data = (b"\xef\xbb\xbf" if bom else b"") + ends.join(lines) + (ends if last_end and lines else b"")
    _same_either_way(tmp_path_factory, data, batch_size, monkeypatch)


def _same_either_way(tmp_path_factory: Any, data: bytes, batch_size: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A JSON Lines file read with the vectorised paths settles exactly as read by Python alone."""
    path = tmp_path_factory.mktemp("jsonl") / "events.jsonl"
    path.write_bytes(data)
    outcomes = []
    for fast in (False, True):
        with monkeypatch.context() as m:
            m.setattr(fastcsv, "available", lambda fast=fast: fast)
            batcher = Batcher(LOOKUPS, now=lambda: NOW, batch_size=batch_size)
            outcomes.append(_settled(list(batcher.read_file(path))))
    assert outcomes[0] == outcomes[1]


def _settled(batches: list[ingest.Batch]) -> tuple[Any, ...]:
    """What storing the batches comes to — whichever batches the events were cut into: each event in line
    order stored, a duplicate, or a conflict with the first stored under its key; and every rejection."""
    stored: dict[tuple[str, str], tuple[Any, ...]] = {}
    outcome = []
    events = sorted((line, row) for b in batches for line, row in [*zip(b.lines, b.rows, strict=True), *b.repeats])
    for line, row in events:
        content = row[2:]
        first = stored.setdefault(row[:2], content)
        outcome.append((line, row, "stored" if first is content else "duplicate" if first == content else "conflict"))
    rejected = sorted(
        (r.line or 0, r.event_id, r.template, sorted(r.params.items())) for b in batches for r in b.rejected
    )
    return outcome, rejected


# lines Arrow's JSON reader might read otherwise than Python's json: each is a valid event bent one way
_TRAPS = [
    lambda t: t + " null",  # two JSON values on one line (Arrow: two rows)
    lambda t: t + t,  # two objects
    lambda t: t.replace(',"time"', ',\n"time"'),  # an object over two lines (Arrow accepts it)
    lambda t: t[:-1] + ',"event_id":"e-9"}',  # a repeated key (Python: the last wins)
    lambda t: t.replace('"e-', '"\\u0065-'),  # an escape
    lambda t: t.replace('"e-', '"\\ud83d\\ude00e-'),  # a surrogate pair
    lambda t: t.replace('"e-', '"\\ud800e-'),  # a lone surrogate
    lambda t: t.replace('"1.5"', "1.5"),  # a number
    lambda t: t.replace('"1.5"', "null"),
    lambda t: " " + t,
    lambda t: t + " \t",
    lambda t: t[:-1] + ',"attributes":null}',
    lambda t: t[:-1] + ',"resource_id":""}',
    lambda t: t[:-1] + ',"resource_id":null}',
    lambda t: t.replace('"gd-edu"', '"gd-\\u0065du"'),
    lambda t: t + ",",
    lambda t: "[" + t + "]",
    lambda t: t.replace("{", "{ ", 1).replace("}", " }"),
    lambda t: t.replace('"e-', '"e\\"-'),
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(
        st.tuples(st.integers(0, 7), st.one_of(st.none(), st.integers(0, len(_TRAPS) - 1))), min_size=1, max_size=12
    ),
    ends=st.sampled_from([b"\n", b"\r\n"]),
    batch_size=st.sampled_from([1, 2, 3, 10_000]),
)
def test_lines_arrows_json_reader_could_read_otherwise_settle_as_python_reads_them(
    lines, ends, batch_size, tmp_path_factory, monkeypatch
) -> None:
    texts = []
    for number, trap in lines:
        text = json.dumps({**_EVENT, "event_id": f"e-{number}"}, separators=(",", ":"), ensure_ascii=False)
        texts.append((text if trap is None else _TRAPS[trap](text)).encode())
    _same_either_way(tmp_path_factory, ends.join(texts) + ends, batch_size, monkeypatch)


def test_arrows_json_reader_takes_a_chunk_of_plain_events_whole() -> None:
    # the fast path is taken (not merely correct when it falls back): plain events, some without a
    # resource, CRLF, no end at the end; a chunk with one trap in it is not taken
    batcher = Batcher(LOOKUPS, now=lambda: NOW, batch_size=10_000)
    events = [{**_EVENT, "event_id": f"e-{i}", **({"resource_id": "vm-1"} if i % 2 else {})} for i in range(5)]
    data = b"\r\n".join(json.dumps(e).encode() for e in events)
    chunk = next(iter(fastcsv.CsvChunks(io.BytesIO(data), 10_000)))
    checker = fastjson.JsonChecker(batcher.validator)
    fast = checker.lines(chunk)
    assert fast is not None and list(fast.lines) == [2, 3, 4, 5, 6]  # (CsvChunks counted a header line)
    assert fast.rows[1] == (*_ROW[:6], "vm-1", None)
    assert fast.rows[0][6] is None and checker.check.codes.series(fast.series) == {("gd-prov", "gd-edu", "vcpu_hours")}
    trapped = data + b"\n" + json.dumps(events[0]).encode() + b" null"
    assert checker.lines(next(iter(fastcsv.CsvChunks(io.BytesIO(trapped), 10_000)))) is None


def _csv(events: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for e in events:
        writer.writerow([_json(e[f]) if f == "attributes" and f in e else e.get(f, "") for f in FIELDS])
    return out.getvalue()


# ---------------------------------------------------------------------------- whole imports, both databases

_examples = itertools.count()


def _report(report: ingest.IngestReport, shift: int = 0) -> dict[str, Any]:
    return {
        "accepted": report.accepted,
        "duplicates": report.duplicates,
        "rejected": [(r.line + shift if r.line else r.line, r.event_id, r.reason) for r in report.rejected],
    }


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(events=st.lists(text_events(), min_size=1, max_size=25), earlier=st.lists(text_events(), max_size=8))
def test_csv_json_lines_and_http_store_and_report_the_same_on_each_database(
    events, earlier, province, db_url, tmp_path_factory, sqlite_template
) -> None:
    """The same events as a CSV file (on the test's database), as a JSON Lines file and as one HTTP request
    (each on a fresh SQLite copy), after the same earlier events: the same report and stored events."""
    n = next(_examples)
    prefix = f"x{n}-"  # this example's events only, on the test's database
    events = [{**e, "event_id": prefix + e["event_id"]} if "event_id" in e else e for e in events]
    earlier = [{**e, "event_id": prefix + e["event_id"]} if "event_id" in e else e for e in earlier]
    directory = tmp_path_factory.mktemp("imports")
    (directory / "earlier.jsonl").write_text("".join(_json(e) + "\n" for e in earlier), encoding="utf-8")
    (directory / "e.csv").write_text(_csv(events), encoding="utf-8")
    (directory / "e.jsonl").write_text("".join(_json(e) + "\n" for e in events), encoding="utf-8")

    def fresh_sqlite(name: str) -> str:
        path = directory / f"{name}.db"
        shutil.copy(sqlite_template, path)
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        with session_scope(engine=engine) as session:
            tenancy.import_tenancy(session, actor=SYSTEM, path=DATA / "tenancy.yaml")
        engine.dispose()
        return url

    def run(url: str, how: str) -> tuple[dict[str, Any], set[tuple[Any, ...]]]:
        engine = make_engine(url)
        try:
            import_files(engine, actor=SYSTEM, paths=[directory / "earlier.jsonl"], batch_size=3)
            if how == "http":
                body = ("[" + ",".join(_json(e) for e in events) + "]").encode()
                with session_scope(engine=engine) as session:
                    report = ingest_events(
                        session,
                        actor=SYSTEM,
                        events=[event for _, event in parse_events(body, "application/json")],
                        source="request",
                    )
                result = _report(report)
            else:
                path = directory / f"e.{how}"
                report = import_files(engine, actor=SYSTEM, paths=[path], batch_size=4, commit_seconds=0)
                result = _report(report, shift=-1 if how == "csv" else 0)
        finally:
            engine.dispose()
        return result, {row for row in stored(url) if row[1].startswith(prefix)}

    expected = run(db_url, "csv")
    assert run(fresh_sqlite(f"jsonl{n}"), "jsonl") == expected
    assert run(fresh_sqlite(f"http{n}"), "http") == expected


# ---------------------------------------------------------------------------- msgspec against json

_ATOMS = [
    "0",
    "-0",
    "-0.0",
    "1.0",
    "1.50",
    "1E400",
    "-1e-400",
    "0.1",
    "12345678901234567890123",
    "1" * 4300,
    "1" * 5000,
    "-" + "9" * 4301,
    "NaN",
    "Infinity",
    "-Infinity",
    "true",
    "false",
    "null",
    '""',
    '"é"',
    '"\\ud800"',
    '"\\udc00x"',
    '"\\ud83d\\ude00"',
    '"\ud800"',
    '"\ufeff"',
    "01",
    "1.",
    ".5",
    "+1",
    "'a'",
    "[1,]",
    '{"a"}',
]


def _json_text(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    keys = st.sampled_from(['"a"', '"b"', '"a"', '"\\u0061"', '""'])  # duplicates likely, also spelt apart
    return st.one_of(
        st.lists(children, max_size=4).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.lists(st.tuples(keys, children), max_size=4).map(lambda kv: "{" + ",".join(f"{k}:{v}" for k, v in kv) + "}"),
    )


json_texts = st.recursive(st.sampled_from(_ATOMS), _json_text, max_leaves=12)


@st.composite
def json_inputs(draw: st.DrawFn) -> str:
    """JSON texts, valid and broken: duplicate keys, huge or exotic numbers, lone surrogates, a BOM,
    extra data, deep nesting, cut short."""
    text = draw(json_texts)
    depth = draw(st.sampled_from([0, 0, 0, 10, 999, 1_000, 5_000, 100_000]))
    if depth:
        text = "[" * depth + text + "]" * draw(st.sampled_from([depth, depth - 1]))
    if draw(st.booleans()):
        text = draw(st.sampled_from(["\ufeff", " ", "\n"])) + text
    if draw(st.booleans()):
        text += draw(st.sampled_from([" 1", "]", "}", " ", "\n", ",", "x"]))
    if draw(st.booleans()):
        text = text[: draw(st.integers(0, len(text)))]
    return text


def _tagged(value: Any) -> list[Any]:
    """The value as a flat list of tokens with every part's type, so 1 and 1.0, 0 and -0, Decimal('1.0')
    and ('1.00') differ (without recursion: values may be nested thousands deep)."""
    tokens: list[Any] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            tokens.append(("dict", list(item)))
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            tokens.append(("list", len(item)))
            stack.extend(reversed(item))
        else:
            tokens.append((type(item).__name__, str(item)))
    return tokens


def _outcome_of(parse: Any) -> Any:
    try:
        return ("value", _tagged(parse()))
    except ValueError as exc:
        return ("error", type(exc).__name__, str(exc))


@settings(max_examples=400, deadline=None)
@given(text=json_inputs(), as_bytes=st.booleans())
def test_the_msgspec_parse_gives_the_value_or_the_error_json_gives(text: str, as_bytes: bool) -> None:
    """`fastjson.loads` (msgspec, as bodies and JSON Lines are parsed) reads every text exactly as
    `parse_json` (the standard library's json) does: the same value, types included, or the same error."""
    from metering.events import parse_json

    if as_bytes:  # as a JSON Lines line: a lone surrogate is then invalid UTF-8
        data = text.encode("utf-8", "surrogatepass")
        expected = _outcome_of(lambda: parse_json(data.decode("utf-8")))
        assert _outcome_of(lambda: fastjson.loads(data)) == expected
    else:
        assert _outcome_of(lambda: fastjson.loads(text)) == _outcome_of(lambda: parse_json(text))


def test_series_numbers_name_each_series_of_the_registry_once() -> None:
    codes = fastcsv.SeriesCodes(LOOKUPS)
    every = [(c, d, m) for d, c in LOOKUPS.department_cloud.items() for m in LOOKUPS.meters]
    numbers = [codes.code(s) for s in every]
    assert None not in numbers and len(set(numbers)) == len(every)
    assert codes.series(numbers) == set(every)
    assert fastcsv.SeriesCodes(LOOKUPS).code(every[3]) == numbers[3]  # another instance agrees
    # a department on another cloud, an unknown department or meter: no number
    assert codes.code(("gz", "gd-edu", "vcpu_hours")) is None
    assert codes.code(("gd-prov", "gd-nope", "vcpu_hours")) is None
    assert codes.code(("gd-prov", "gd-edu", "beer_litres")) is None
