"""Reading and validating usage event files (docs/reference.md#usage-events-file) — pure Python, no database.

A file is read as a stream of `(line, fields)` in the canonical column order `FIELDS`; `Validator`
turns the fields into a stored row (or raises `Rejected` with the reason) against registry lookups
loaded once. The row holds the event's canonical content (UTC time text, integer millionths, canonical
JSON attributes), so two spellings of the same event give equal rows and a repeated key is a duplicate
exactly when its content equals the stored one. The hot path is written for speed: one `itemgetter` per
CSV row, a small cache of parsed times, `Decimal` only from text (never a float). Large CSV files go
through the vectorised reader in `metering.fastcsv`, which hands every row it cannot vouch for to
`Validator.validate`.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO

from core.i18n import register
from metering.models import MAX_ID_LENGTH

FIELDS = ("event_id", "time", "department", "cloud", "meter", "quantity", "resource_id", "attributes")
REQUIRED = FIELDS[:6]
CSV_SUFFIXES = (".csv",)
JSONL_SUFFIXES = (".jsonl", ".ndjson")
MAX_QUANTITY = Decimal(10) ** 12
MICRO = Decimal("0.000001")
FUTURE_TOLERANCE = timedelta(minutes=5)
_UTC = UTC
_TIME_CACHE_SIZE = 4096
_DIGITS = "0123456789"
_SCALE = [10 ** (6 - n) for n in range(7)]
#: Control characters (Unicode category Cc: C0, DEL and C1), refused in ids (docs/reference.md#usage-events-file). The same class,
#: in RE2 syntax, is what the vectorised path (`metering.fastcsv`) matches.
CONTROL_CLASS = r"[\x00-\x1f\x7f-\x9f]"
_control = re.compile(CONTROL_CLASS).search
#: A lone UTF-16 surrogate (from a JSON escape such as `\\ud800`): no character, so neither stored nor shown.
SURROGATE_CLASS = r"[\ud800-\udfff]"
_surrogate = re.compile(SURROGATE_CLASS).search
#: What an id may not hold: a control character or a lone surrogate (one search on the hot path).
_unsafe = re.compile(CONTROL_CLASS[:-1] + SURROGATE_CLASS[1:]).search
#: The years an event's time may fall in, as written (docs/reference.md#usage-events-file).
YEARS = (2000, 2099)
#: The longest line read, in bytes without its end (docs/reference.md#usage-events-file): a longer one is rejected, never held whole.
MAX_LINE = 2**20
#: A value longer than this is cut where a report shows it (a rejected 50 MB id is not echoed whole).
MAX_SHOWN = 200
# the csv module refuses fields over 128 KiB by default; a field may be as long as a line (a quoted one
# spanning lines is refused past this too, as a record that is not valid CSV)
csv.field_size_limit(MAX_LINE + 2)

#: A validated event as stored: (cloud, event_id, department, meter, UTC time text, quantity in
#: millionths, resource_id, attributes as canonical JSON). The UTC time text has the form SQLAlchemy
#: stores on SQLite, `YYYY-MM-DD HH:MM:SS.ffffff`. `row[2:]` is the content a repeated key is compared by.
Row = tuple[str, str, str, str, str, int, "str | None", "str | None"]

register(
    {
        "missing {field}": "缺少 {field}",
        "{field} is longer than {limit} characters": "{field} 超过 {limit} 个字符",
        "{field} holds a control character": "{field} 含有控制字符",
        "{field} is not valid Unicode (a lone surrogate)": "{field} 不是有效的 Unicode（含有孤立的代理项）",
        "time is outside the years {first}–{last}: {value}": "时间不在 {first}–{last} 年之间：{value}",
        "not valid JSON: a number has more than {limit} digits": "不是有效的 JSON：数字超过 {limit} 位",
        "{field} is empty": "{field} 为空",
        "line {line} is longer than {limit} bytes": "第 {line} 行超过 {limit} 字节",
        "not a valid CSV record: {detail}": "不是有效的 CSV 记录：{detail}",
        "reading {file} stopped after line {line}: {reason}": "读取 {file} 在第 {line} 行之后中止：{reason}",
        "{field} must be a string": "{field} 必须是字符串",
        "unknown cloud '{cloud}'": "未知的云“{cloud}”",
        "unknown department '{department}'": "未知的部门“{department}”",
        "unknown meter '{meter}'": "未知的计量项“{meter}”",
        "department '{department}' is not placed on cloud '{cloud}'": "部门“{department}”未部署在云“{cloud}”上",
        "not allowed: cloud '{cloud}' is not operated by {operator}": "无权限：云“{cloud}”不由 {operator} 运营",
        "quantity is not a number: {value}": "数量不是数字：{value}",
        "quantity is infinite": "数量为无穷大",
        "quantity is negative": "数量为负数",
        "quantity must be below 10^12": "数量必须小于 10^12",
        "quantity has more than 6 decimal places": "数量的小数位超过 6 位",
        "time is not an ISO 8601 date and time: {value}": "时间不是 ISO 8601 日期时间：{value}",
        "time has no offset: {value}": "时间缺少时区偏移：{value}",
        "time is out of range: {value}": "时间超出范围：{value}",
        "time is more than 5 minutes in the future: {value}": "时间比当前时间晚 5 分钟以上：{value}",
        "attributes must be a JSON object": "attributes 必须是 JSON 对象",
        "attributes are nested too deeply": "attributes 嵌套层数过深",
        "attributes are not valid JSON: {detail}": "attributes 不是有效的 JSON：{detail}",
        "not a JSON object": "不是 JSON 对象",
        "not valid JSON: {detail}": "不是有效的 JSON：{detail}",
        "not valid JSON: nested too deeply": "不是有效的 JSON：嵌套层数过深",
        "unknown field '{field}'": "未知字段“{field}”",
        "expected {expected} fields, got {got}": "应有 {expected} 个字段，实际 {got} 个",
        "missing column '{column}'": "缺少列“{column}”",
        "unknown column '{column}'": "未知列“{column}”",
        "duplicate column '{column}'": "重复的列“{column}”",
        "the file is not valid UTF-8: {detail}": "文件不是有效的 UTF-8：{detail}",
        "unsupported file type '{suffix}': use .csv, .jsonl or .ndjson": "不支持的文件类型“{suffix}”：请使用 .csv、.jsonl 或 .ndjson",
        "event '{event_id}' is already stored on cloud '{cloud}' with different content": "云“{cloud}”上已存有内容不同的事件“{event_id}”",
        "event '{event_id}' appears earlier in this file (line {line}) with different content": "事件“{event_id}”在本文件前面（第 {line} 行）已出现且内容不同",
    }
)


class Rejected(Exception):
    """An event (or a whole file) is refused, with a reason template and its parameters."""

    def __init__(self, template: str, /, **params: Any):
        super().__init__(template)
        self.template = template
        self.params = params


@dataclass(frozen=True)
class Lookups:
    """Registry facts ingest validates against, loaded once per import."""

    department_cloud: dict[str, str]
    cloud_operator: dict[str, str | None]
    meters: frozenset[str]
    #: the operator an operator user is limited to (its clouds only); None: any cloud
    operator: str | None = None


def canonical_json(value: Any) -> str:
    """JSON with sorted keys, no spaces, and numbers normalised (`1` = `1.0`), so equal values give equal text."""
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(json.dumps(str(k), ensure_ascii=False) + ":" + canonical_json(value[k]) for k in sorted(value))
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    if value is None or isinstance(value, (bool, str)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, Decimal, float)):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite():
            raise Rejected("attributes are not valid JSON: {detail}", detail=str(number))
        return "0" if number == 0 else format(number.normalize(), "f")
    raise Rejected("attributes must be a JSON object")


def _no_constants(name: str) -> Any:
    return Decimal(name)  # NaN / Infinity: kept exact so the rules below can name them


class TooManyDigits(ValueError):
    """A JSON integer longer than Python reads (`sys.get_int_max_str_digits`): malformed input to reject, in
    words a user understands."""

    def __init__(self) -> None:
        super().__init__(f"a number has more than {sys.get_int_max_str_digits()} digits")


class TooDeep(ValueError):
    """JSON nested more deeply than Python's recursion limit lets it be read: malformed input to
    reject (a `ValueError`, as any other), never a `RecursionError` that would escape as a server error."""

    def __init__(self) -> None:
        super().__init__("nested too deeply")


def parse_json(text: str) -> Any:
    """`json.loads` with decimals read exactly (never through binary floats); `TooDeep` when nested too deeply,
    `TooManyDigits` for an integer longer than Python converts."""
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_no_constants)
    except RecursionError:
        raise TooDeep() from None
    except ValueError as exc:
        if "int_max_str_digits" in str(exc):
            raise TooManyDigits() from None
        raise


def utc_text(moment: datetime) -> str:
    """The UTC text form of an aware datetime, as stored (`YYYY-MM-DD HH:MM:SS.ffffff`)."""
    return moment.astimezone(_UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


class Validator:
    """Turns the fields of one event into a stored `Row`, or raises `Rejected` (docs/reference.md#usage-events-file).

    Fields are strings (or None for absent optional ones); the JSON Lines reader checks types first.
    `validate` is the hot path of every import: it does the common case in a few dictionary lookups and
    leaves naming what is wrong to `_diagnose`.
    """

    def __init__(self, lookups: Lookups, now: datetime):
        self.lookups = lookups
        self._department_cloud = lookups.department_cloud
        self._meters = lookups.meters
        self._operator = lookups.operator
        self._times: dict[str, tuple[str, datetime]] = {}
        self._minutes: dict[str, tuple[str, datetime]] = {}
        self.set_now(now)

    def set_now(self, now: datetime) -> None:
        """Move the clock the 5-minute future rule compares with."""
        self.limit = now.astimezone(_UTC) + FUTURE_TOLERANCE
        self._minute_limit = self.limit - timedelta(seconds=59)

    def validate(
        self,
        event_id: Any,
        time: Any,
        department: Any,
        cloud: Any,
        meter: Any,
        quantity: Any,
        resource_id: Any = None,
        attributes: Any = None,
    ) -> Row:
        """Validate one event's fields; the stored row, or `Rejected` naming the first problem."""
        operator = self._operator
        if not (
            event_id
            and len(event_id) <= MAX_ID_LENGTH
            and not _unsafe(event_id)
            and self._department_cloud.get(department, 0) == cloud
            and meter in self._meters
            and (operator is None or self.lookups.cloud_operator[cloud] == operator)
        ):
            self._diagnose(event_id, department, cloud, meter)
        hit = self._times.get(time)
        if hit is None:
            hit = self._parse_time(time)
        if hit[1] > self.limit:
            raise Rejected("time is more than 5 minutes in the future: {value}", value=time)
        utc = hit[0]
        micro = _micro(quantity)
        if not resource_id:  # an empty CSV field: none (JSON's "" is refused by `fields_of`)
            resource_id = None
        elif len(resource_id) > MAX_ID_LENGTH:
            raise Rejected("{field} is longer than {limit} characters", field="resource_id", limit=MAX_ID_LENGTH)
        elif _unsafe(resource_id):
            _refuse_unsafe("resource_id", resource_id)
        attrs = _attributes(attributes) if attributes else None
        return (cloud, event_id, department, meter, utc, micro, resource_id, attrs)

    def _diagnose(self, event_id: Any, department: Any, cloud: Any, meter: Any) -> None:
        lk = self.lookups
        if not event_id:
            raise Rejected("missing {field}", field="event_id")
        if len(event_id) > MAX_ID_LENGTH:
            raise Rejected("{field} is longer than {limit} characters", field="event_id", limit=MAX_ID_LENGTH)
        if _unsafe(event_id):
            _refuse_unsafe("event_id", event_id)
        for name, value in (("cloud", cloud), ("department", department), ("meter", meter)):
            if not value:
                raise Rejected("missing {field}", field=name)
        if cloud not in lk.cloud_operator:
            raise Rejected("unknown cloud '{cloud}'", cloud=cloud)
        placed = lk.department_cloud.get(department)
        if placed is None:
            raise Rejected("unknown department '{department}'", department=department)
        if meter not in lk.meters:
            raise Rejected("unknown meter '{meter}'", meter=meter)
        if placed != cloud:
            raise Rejected(
                "department '{department}' is not placed on cloud '{cloud}'", department=department, cloud=cloud
            )
        raise Rejected("not allowed: cloud '{cloud}' is not operated by {operator}", cloud=cloud, operator=lk.operator)

    def minute(self, key: str) -> tuple[str, datetime] | None:
        """(UTC text to the minute, UTC moment) of a `YYYY-MM-DDTHH:MM±HH:MM` key, None if it is no valid time."""
        hit = self._minutes.get(key)
        if hit is None:
            try:
                hit = self._parse_minute(key, key)
            except Rejected:
                return None
        return hit

    def _parse_minute(self, key: str, shown: str) -> tuple[str, datetime]:
        text, utc = _parse_iso(key[:16] + ":00" + key[16:], shown)
        minute = self._minutes[key] = (text[:16], utc)
        if len(self._minutes) >= _TIME_CACHE_SIZE:
            self._minutes.clear()
        return minute

    def _parse_time(self, value: str | None) -> tuple[str, datetime]:
        """(UTC text, UTC datetime) of an ISO 8601 time with offset, through two small caches."""
        if not value:
            raise Rejected("missing {field}", field="time")
        # `YYYY-MM-DDTHH:MM:SS±HH:MM`, the common form: convert its minute once, keep the seconds
        if (
            len(value) == 25
            and value[19] in "+-"
            and value[16] == ":"
            and value[17] in "012345"
            and value[18] in _DIGITS
        ):
            key = value[:16] + value[19:]
            minute = self._minutes.get(key)
            if minute is None:
                minute = self._parse_minute(key, value)
            if minute[1] <= self._minute_limit:
                return f"{minute[0]}:{value[17:19]}.000000", minute[1]
            return minute[0] + f":{value[17:19]}.000000", minute[1] + timedelta(seconds=int(value[17:19]))
        hit = _parse_iso(value, value)
        if len(self._times) >= _TIME_CACHE_SIZE:
            self._times.clear()
        self._times[value] = hit
        return hit


def _refuse_unsafe(field: str, value: str) -> None:
    """Refuse an id that holds a control character or a lone surrogate, naming which."""
    if _control(value):
        raise Rejected("{field} holds a control character", field=field)
    raise Rejected("{field} is not valid Unicode (a lone surrogate)", field=field)


def _parse_iso(text: str, shown: str) -> tuple[str, datetime]:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise Rejected("time is not an ISO 8601 date and time: {value}", value=shown) from None
    if parsed.tzinfo is None:
        raise Rejected("time has no offset: {value}", value=shown)
    if not YEARS[0] <= parsed.year <= YEARS[1]:  # (the time as written: what its sender reads)
        raise Rejected("time is outside the years {first}–{last}: {value}", first=YEARS[0], last=YEARS[1], value=shown)
    try:
        utc = parsed.astimezone(_UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00
        raise Rejected("time is out of range: {value}", value=shown) from None
    return utc.replace(tzinfo=None).isoformat(" ", "microseconds"), utc


def _micro(value: Any) -> int:
    """Millionths of a quantity: a decimal ≥ 0, below 10^12, with at most 6 decimal places."""
    kind = type(value)
    if kind is str:
        whole, dot, fraction = value.partition(".")
        if whole.isdigit() and whole.isascii() and len(whole) <= 12:  # plain `123` or `123.456`
            if not dot:
                return int(whole) * 1_000_000
            if fraction.isdigit() and fraction.isascii() and len(fraction) <= 6:
                return int(whole) * 1_000_000 + int(fraction) * _SCALE[len(fraction)]
        if not value:
            raise Rejected("missing {field}", field="quantity")
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise Rejected("quantity is not a number: {value}", value=value) from None
    elif kind is Decimal:
        number = value
    elif kind is int:
        number = Decimal(value)
    elif value is None:
        raise Rejected("missing {field}", field="quantity")
    else:
        raise Rejected("quantity is not a number: {value}", value=json.dumps(value, default=str))
    if number.is_nan():
        raise Rejected("quantity is not a number: {value}", value=str(value))
    if number.is_infinite():
        raise Rejected("quantity is infinite")
    if number < 0:
        raise Rejected("quantity is negative")
    if number >= MAX_QUANTITY:
        raise Rejected("quantity must be below 10^12")
    if number != number.quantize(MICRO):
        raise Rejected("quantity has more than 6 decimal places")
    return int(number.scaleb(6))


def _attributes(value: Any) -> str | None:
    if type(value) is str:
        try:
            value = parse_json(value)
        except ValueError as exc:
            raise Rejected("attributes are not valid JSON: {detail}", detail=str(exc)) from None
    if not isinstance(value, dict):
        raise Rejected("attributes must be a JSON object")
    try:
        text = canonical_json(value) if value else None
    except RecursionError:  # readable, but too deep to put in canonical form: rejected, never a crash
        raise Rejected("attributes are nested too deeply") from None
    if text is not None and _surrogate(text):
        raise Rejected("{field} is not valid Unicode (a lone surrogate)", field="attributes")
    return text


# ---------------------------------------------------------------------------- readers

#: What a reader yields: the line the event starts on and either its fields or why it was refused.
Item = tuple[int, "tuple[Any, ...] | Rejected"]
# a line of MAX_LINE bytes and its \r\n: what one read of a line may take
_CAP = MAX_LINE + 2
_LINE_END = re.compile(rb"\r\n|\r|\n")


def shown(value: Any) -> Any:
    """A value as a report may show it: control characters escaped, cut past MAX_SHOWN characters."""
    if not isinstance(value, str):
        return value
    if _unsafe(value):
        value = re.sub(CONTROL_CLASS, lambda m: f"\\x{ord(m.group()):02x}", value)
        value = re.sub(SURROGATE_CLASS, lambda m: f"\\u{ord(m.group()):04x}", value)
    return value if len(value) <= MAX_SHOWN else f"{value[:MAX_SHOWN]}… ({len(value)})"


class LineTooLong(Exception):
    """A line longer than MAX_LINE bytes: refused, and the reading goes on after it (docs/reference.md#usage-events-file)."""

    def __init__(self, line: int):
        super().__init__(line)
        self.line = line

    def rejected(self) -> Rejected:
        """The refusal to report."""
        return Rejected("line {line} is longer than {limit} bytes", line=self.line, limit=MAX_LINE)


class NotUtf8(Exception):
    """A line that is not UTF-8: the file is read up to the line before it."""

    def __init__(self, line: int, detail: str):
        super().__init__(line, detail)
        self.line, self.detail = line, detail


def overflows(line: bytes) -> bool:
    """Whether a line read with `readline(MAX_LINE + 2)` is longer than MAX_LINE bytes without its end."""
    if len(line) <= MAX_LINE:
        return False
    ending = 2 if line.endswith(b"\r\n") else 1 if line.endswith(b"\n") else 0
    return len(line) - ending > MAX_LINE


def skip_line(readline: Any) -> bytes:
    """Read past the rest of an over-long line in blocks; what was read after its end (a lone CR's)."""
    while True:
        block = readline(_CAP)
        found = _LINE_END.search(block)
        if found is not None and not (found.group() == b"\r" and found.end() == len(block)):
            return block[found.end() :]
        if found is not None:  # a \r that ends the block: its \n may follow
            following = readline(1)
            return following if following != b"\n" else b""
        if not block:
            return b""


class Lines:
    """The lines of a binary stream as text, numbered from `first_line`, in constant memory.

    UTF-8, a BOM on line 1 dropped; a line ends at \\n, \\r\\n or a lone \\r (as in a text stream). A line
    longer than MAX_LINE bytes raises `LineTooLong` — never held whole — and reading goes on after it;
    a line that is not UTF-8 raises `NotUtf8`. `number` is the number of the last line read.
    """

    def __init__(self, raw: BinaryIO, first_line: int = 1):
        self._readline = raw.readline
        self._pending = b""  # read ahead of the lines returned (after a lone CR)
        self.number = first_line - 1

    def __iter__(self) -> Lines:
        return self

    def __next__(self) -> str:
        data = self._next()
        if data is None:
            self.number += 1
            raise LineTooLong(self.number)
        if not data:
            raise StopIteration
        if self.number == 0 and data.startswith(codecs.BOM_UTF8):
            data = data[len(codecs.BOM_UTF8) :]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotUtf8(self.number + 1, str(exc)) from None
        self.number += 1
        return text

    def _next(self) -> bytes | None:
        """The next line with its end; b"" at the end of the stream; None for a line that is too long."""
        if not self._pending:
            line = self._readline(_CAP)
            carriage = line.count(b"\r")
            if (carriage == 0 or (carriage == 1 and line.endswith(b"\r\n"))) and not overflows(line):
                return line  # the common case, at the speed of readline
            self._pending = line
        return self._split()

    def _split(self) -> bytes | None:
        """A line from what was read ahead (lone carriage returns, or a line that may be too long)."""
        while True:
            buffer = self._pending
            found = _LINE_END.search(buffer)
            if found is not None and (found.group() != b"\r" or found.end() < len(buffer)):
                self._pending = buffer[found.end() :]
                return buffer[: found.end()] if found.start() <= MAX_LINE else None
            if len(buffer) > MAX_LINE:  # no end within the limit
                self._pending = skip_line(self._readline)
                return None
            more = self._readline(_CAP - len(buffer))
            if not more:  # the end of the stream
                self._pending = b""
                return buffer
            self._pending = buffer + more


def file_kind(path: Path) -> str:
    """`csv` or `jsonl` by extension; `Rejected` for anything else."""
    suffix = path.suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    raise Rejected("unsupported file type '{suffix}': use .csv, .jsonl or .ndjson", suffix=path.suffix or path.name)


def read_events(lines: Lines, kind: str) -> Iterator[Item]:
    """The events of a file's lines, one at a time in constant memory; `Rejected` if the CSV header is."""
    return _read_csv(lines) if kind == "csv" else _read_jsonl(lines)


@dataclass(frozen=True)
class CsvColumns:
    """The canonical field at each position of a CSV header (absent optional columns read as "")."""

    names: tuple[str, ...]

    @classmethod
    def of(cls, header: list[str]) -> CsvColumns:
        """Check a header row; `Rejected` names the first column problem."""
        names = tuple(h.strip() for h in header)
        if not names:
            raise Rejected("missing column '{column}'", column=REQUIRED[0])
        for name in names:
            if name not in FIELDS:
                raise Rejected("unknown column '{column}'", column=shown(name))
            if names.count(name) > 1:
                raise Rejected("duplicate column '{column}'", column=shown(name))
        for name in REQUIRED:
            if name not in names:
                raise Rejected("missing column '{column}'", column=name)
        return cls(names)

    def items(self, lines: Lines) -> Iterator[Item]:
        """The events of the CSV records in `lines` (past the header), numbered by the line each starts on.

        A record that holds a line too long, or that the csv module cannot read (a quoted field longer
        than a line may be), is refused and reading goes on after it.
        """
        width = len(self.names)
        # absent optional columns read the empty string appended at index `width`
        getter = itemgetter(*[self.names.index(f) if f in self.names else width for f in FIELDS])
        complete = width == len(FIELDS)
        reader = csv.reader(lines)
        while True:
            start = lines.number + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except LineTooLong as exc:
                yield start, exc.rejected()
                continue
            except csv.Error as exc:
                yield start, Rejected("not a valid CSV record: {detail}", detail=str(exc))
                continue
            if len(row) != width:
                if not row:
                    continue  # a blank line
                yield start, Rejected("expected {expected} fields, got {got}", expected=width, got=len(row))
                continue
            if not complete:
                row.append("")
            yield start, getter(row)


def _read_csv(lines: Lines) -> Iterator[Item]:
    try:
        header = next(csv.reader(lines), None)
    except LineTooLong as exc:
        raise exc.rejected() from None
    except csv.Error as exc:
        raise Rejected("not a valid CSV record: {detail}", detail=str(exc)) from None
    columns = CsvColumns.of(header or [])
    yield from columns.items(lines)


def _read_jsonl(lines: Lines) -> Iterator[Item]:
    for number, value in json_lines(lines, parse_json):
        yield number, value if isinstance(value, Rejected) else fields_of(value)


def json_lines(lines: Lines, parse: Callable[[str], Any]) -> Iterator[tuple[int, Any]]:
    """The `(line, JSON value or Rejected)` of a JSON Lines file read by `parse`, blank lines skipped."""
    while True:
        try:
            text = next(lines)
        except StopIteration:
            return
        except LineTooLong as exc:
            yield exc.line, exc.rejected()
            continue
        if not text.strip():
            continue
        try:
            value = parse(text)
        except ValueError as exc:
            yield lines.number, not_json(exc)
            continue
        yield lines.number, value


def not_json(exc: ValueError) -> Rejected:
    """The rejection of a line that is not JSON: the parser's message, or (translated) nested too deeply."""
    if isinstance(exc, TooDeep):
        return Rejected("not valid JSON: nested too deeply")
    if isinstance(exc, TooManyDigits):
        return Rejected("not valid JSON: a number has more than {limit} digits", limit=sys.get_int_max_str_digits())
    return Rejected("not valid JSON: {detail}", detail=str(exc))


_KNOWN = frozenset(FIELDS)
_STRINGS = ("event_id", "time", "department", "cloud", "meter", "resource_id")


def fields_of(obj: Any) -> tuple[Any, ...] | Rejected:
    """The fields of a JSON event object in `FIELDS` order, or why it cannot be one."""
    if not isinstance(obj, dict):
        return Rejected("not a JSON object")
    unknown = obj.keys() - _KNOWN
    if unknown:
        return Rejected("unknown field '{field}'", field=sorted(unknown)[0])
    for name in _STRINGS:
        value = obj.get(name)
        if value is not None and type(value) is not str:
            return Rejected("{field} must be a string", field=name)
    # JSON can say "none" (null, or no key): "" is an empty id (docs/reference.md#usage-events-file)
    if obj.get("resource_id") == "":
        return Rejected("{field} is empty", field="resource_id")
    attributes = obj.get("attributes")
    if attributes is not None and not isinstance(attributes, dict):
        return Rejected("attributes must be a JSON object")
    return (
        obj.get("event_id"),
        obj.get("time"),
        obj.get("department"),
        obj.get("cloud"),
        obj.get("meter"),
        obj.get("quantity"),
        obj.get("resource_id"),
        attributes,
    )
