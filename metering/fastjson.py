"""Vectorised validation of JSON events — HTTP bodies and JSON Lines files — for the rows it can vouch for.

JSON is parsed by msgspec (compiled; numbers with a fraction or exponent read as `Decimal` from their
text, never through a float); whatever it refuses — NaN and Infinity, integers of more than 4,300 digits,
lone surrogates, invalid UTF-8, any malformed text — is parsed again by `metering.events.parse_json`,
so values and error messages are exactly Python's. A chunk of parsed events is turned into columns, and
each event whose fields are plain (strings; a quantity given as a string, integer or decimal; no
attributes) goes through the same Arrow checks as a CSV chunk (`fastcsv.ChunkValidator._decide`). An
event those checks accept becomes its stored row at once; every other one — a wrong type, a missing or
unknown key, attributes, any rule it fails — goes to `Validator.validate` as before, which accepts it
or names the reason. So the rules and messages have one source, and the result of an import or a
request never depends on which path decided an event (a property test compares the two).

A JSON Lines file is first offered chunk by chunk to Arrow's own JSON reader (`JsonChecker.lines`),
which turns its lines straight into columns without a Python object per event. It takes a chunk only
when nothing in it could be read differently from Python: every line starting an object, every value a
string or null, no attributes, no unknown or repeated key, no escaped surrogate, valid UTF-8,
one row per line, and every row passing the checks; any other chunk is parsed by msgspec as above.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal
from typing import Any, BinaryIO

import msgspec

from core.i18n import register
from metering import fastcsv
from metering.events import (
    FIELDS,
    Lines,
    LineTooLong,
    NotUtf8,
    Rejected,
    Row,
    TooDeep,
    TooManyDigits,
    Validator,
    fields_of,
    json_lines,
    not_json,
    parse_json,
)

register(
    {
        "not valid UTF-8: {detail}": "不是有效的 UTF-8：{detail}",
        "key '{key}' appears more than once": "键“{key}”出现了不止一次",
    }
)

_decode = msgspec.json.Decoder(float_hook=Decimal).decode
_KNOWN = frozenset(FIELDS)
_STR = frozenset({str})
_QUANTITY_TYPES = frozenset({str, int, Decimal})
_RESOURCE_TYPES = frozenset({str, type(None)})
_ATTRIBUTE_TYPES = frozenset({dict, type(None)})
#: the columns the Arrow checks read (attributes: always empty there)
_COLUMNS = FIELDS[:7]
#: an escaped UTF-16 surrogate (`\ud800`): Python keeps a lone one, Arrow would not
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def loads(text: str | bytes) -> Any:
    """A JSON value exactly as `parse_json` reads it (and its `ValueError` when it is not JSON)."""
    try:
        return _decode(text)
    except Exception:  # anything msgspec refuses: Python decides, with its own message
        return parse_json(text if isinstance(text, str) else text.decode("utf-8"))


class Checked:
    """An event the vectorised checks turned into its stored row."""

    __slots__ = ("row",)

    def __init__(self, row: Row):
        self.row = row


class JsonChecker:
    """Decides chunks of parsed JSON events: a `Checked` row, or the fields (or refusal) for Python."""

    def __init__(self, validator: Validator, *, copy: bool = False):
        """`copy`: whether `lines` also gives its rows as PostgreSQL COPY CSV."""
        self.check = fastcsv.ChunkValidator(validator, copy=copy)
        self._options: Any = None
        self._empty = fastcsv.string_array([""])[0]  # (converting a Python "" would import pandas)

    def lines(self, chunk: fastcsv.Chunk) -> fastcsv.FastBatch | None:
        """The rows of a chunk of JSON Lines read by Arrow's JSON reader, if every line is an event it can
        vouch for (see the module docstring) and no key repeats; otherwise None, and nothing is decided."""
        # Every line starts an object, and no value may be one (or an array): so no object spans lines, and
        # as many rows as lines means one object per line (Arrow reads `{…} null` as two rows, and accepts
        # an object broken over lines).
        data, n = chunk.data, chunk.count
        if (
            not n
            or not data.startswith(b"{")
            or data.count(b"\n{") != n - 1
            or (b"\\u" in data and _SURROGATE.search(data) is not None)
        ):
            return None
        pa, pj = fastcsv.pa, _arrow_json()
        if self._options is None:
            schema = pa.schema([(name, pa.string()) for name in FIELDS])
            self._options = pj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="error", newlines_in_values=False
            )
        try:
            table = pj.read_json(
                io.BytesIO(data),
                read_options=pj.ReadOptions(use_threads=False, block_size=len(data) + 1),
                parse_options=self._options,
            ).combine_chunks()
            table.validate(full=True)  # (Arrow's reader keeps invalid UTF-8 inside strings)
        except Exception:  # a number, object or array, a repeated or unknown key, not JSON, …: msgspec reads it
            return None
        attributes = table.column("attributes")
        if table.num_rows != n or attributes.null_count != n:
            return None
        pc = fastcsv.pc
        resource = table.column("resource_id")
        if resource.null_count < n and pc.any(pc.equal(resource, self._empty)).as_py():
            return None  # "" is an empty id, refused: the Python validator says so
        # no resource (null) as CSV says it (empty); the checks turn it back into none
        table = table.drop_columns(["attributes"]).set_column(
            FIELDS.index("resource_id"), "resource_id", pc.fill_null(resource, self._empty)
        )
        return self.check.rows(table, chunk.first_line)

    def items(self, chunk: list[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
        """`(line, value)` pairs (a value: a parsed JSON value or a `Rejected`) as `(line, item)` for
        `Batcher._batches`, where an item is a `Checked` row, a fields tuple or a `Rejected`."""
        values = [v for _, v in chunk]
        columns = _clean_columns(values)
        if columns is not None:  # the common case: every event an object of plain values
            fields: Any = _Fields(columns)
            if any(columns[7]):  # events with attributes: their canonical JSON is the Python validator's
                plain: Sequence[int] = [i for i, a in enumerate(columns[7]) if not a]
                col = {name: [columns[n][i] for i in plain] for n, name in enumerate(_COLUMNS)}
            else:
                plain = range(len(values))
                col = dict(zip(_COLUMNS, columns, strict=False))
        else:
            fields = [v if v.__class__ is Rejected else fields_of(v) for v in values]
            plain = [i for i, f in enumerate(fields) if f.__class__ is tuple and _plain(f)]
            col = {name: [fields[i][n] for i in plain] for n, name in enumerate(_COLUMNS)}
        decided: list[Row | None] = []
        if plain:
            quantity = col["quantity"]
            if not all(q.__class__ is str for q in quantity):
                col["quantity"] = [q if q.__class__ is str else str(q) for q in quantity]
            col["resource_id"] = [r or "" for r in col["resource_id"]]
            try:
                decided = self.check.json_rows(col)
            except UnicodeEncodeError:  # a lone surrogate (from `\ud800`): Python decides
                decided = [None] * len(plain)
        if len(decided) == len(values) and None not in decided:  # every event decided in Arrow
            for (line, _), row in zip(chunk, decided, strict=True):
                yield line, Checked(row)  # type: ignore[arg-type]
            return
        rows: dict[int, Row] = {i: row for i, row in zip(plain, decided, strict=False) if row is not None}
        for i, (line, _) in enumerate(chunk):
            row = rows.get(i)
            yield line, fields[i] if row is None else Checked(row)


class _Fields:
    """The fields tuple of event `i` from the columns, made only for the events Python decides."""

    def __init__(self, columns: list[list[Any]]):
        self.columns = columns

    def __getitem__(self, i: int) -> tuple[Any, ...]:
        return tuple(column[i] for column in self.columns)


def _clean_columns(values: list[Any]) -> list[list[Any]] | None:
    """The events' columns in `FIELDS` order if every event is an object of known keys with plain types
    (what `fields_of` would pass as they are); else None (the events are looked at one by one)."""
    if not values or {type(v) for v in values} != {dict}:
        return None
    if not _KNOWN.issuperset(set().union(*values)):
        return None
    columns = [[v.get(name) for v in values] for name in FIELDS]
    for column in columns[:5]:
        if set(map(type, column)) != _STR:
            return None
    if not _QUANTITY_TYPES.issuperset(map(type, columns[5])):
        return None
    if not _RESOURCE_TYPES.issuperset(map(type, columns[6])) or "" in columns[6]:
        return None
    if not _ATTRIBUTE_TYPES.issuperset(map(type, columns[7])):
        return None
    return columns


def _plain(fields: tuple[Any, ...]) -> bool:
    """Whether one event's fields (as `fields_of` gives them) can go through the Arrow checks."""
    return (
        all(type(f) is str for f in fields[:5])
        and type(fields[5]) in _QUANTITY_TYPES
        and not fields[7]  # attributes: canonical JSON is the Python validator's
    )


def chunked(items: Iterable[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    """`items` in lists of `size`; a `NotUtf8` raised while reading is raised after the items before it."""
    iterator = iter(items)
    while True:
        chunk: list[tuple[int, Any]] = []
        try:
            for item in iterator:
                chunk.append(item)
                if len(chunk) >= size:
                    break
        except NotUtf8:
            if chunk:
                yield chunk
            raise
        if chunk:
            yield chunk
        if len(chunk) < size:
            return


def jsonl_values(lines: Lines) -> Iterator[tuple[int, Any]]:
    """The `(line, JSON value or Rejected)` of a JSON Lines file, parsed by `loads` (`events.json_lines`)."""
    return json_lines(lines, loads)


def jsonl_parts(raw: BinaryIO, size: int) -> Iterator[fastcsv.Chunk | Iterable[tuple[int, Any]]]:
    """A JSON Lines file in parts of `size` lines (`fastcsv.CsvChunks`: never a line whole past
    `MAX_LINE`): a chunk of plain lines (`chunk_values` parses it), or `(line, value or Rejected)` pairs
    exactly as `jsonl_values` reads them. From a lone carriage return on (it ends a line too),
    `jsonl_values` reads the rest."""
    chunks = fastcsv.CsvChunks(raw, size)
    chunks.line = 0  # no header
    for chunk in chunks:
        if chunk.too_long:
            yield [(chunk.first_line, LineTooLong(chunk.first_line).rejected())]
            continue
        data = chunk.data
        if not chunk.count or data.count(b"\r") != data.count(b"\r\n"):
            raw.seek(chunk.offset)
            yield jsonl_values(Lines(raw, chunk.first_line))
            return
        yield chunk


def chunk_values(chunk: fastcsv.Chunk) -> Iterator[tuple[int, Any]]:
    """The `(line, JSON value or Rejected)` of a chunk of plain lines, parsed from bytes by msgspec, as
    `jsonl_values` reads them (blank lines skipped; `NotUtf8` at a line that is not UTF-8)."""
    for number, line in enumerate(chunk.data.splitlines(keepends=True), start=chunk.first_line):
        if number == 1 and line.startswith(codecs.BOM_UTF8):
            line = line[len(codecs.BOM_UTF8) :]
        try:
            value = _decode(line)
        except Exception:  # not JSON to msgspec: read as `Lines` and `jsonl_values` do
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise NotUtf8(number, str(exc)) from None
            if not text.strip():
                continue
            try:
                value = parse_json(text)
            except ValueError as exc:
                yield number, not_json(exc)
                continue
        yield number, value


def _arrow_json() -> Any:
    import pyarrow.json

    return pyarrow.json


# ---------------------------------------------------------------------------- request bodies

#: a JSON string (escapes included), and a colon after it when it is a key
_STRING_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"[ \t\r\n]*(:)?')
#: what a JSON array's elements are split at: strings (skipped whole), brackets and commas
_STRUCTURE = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]')


class NotAnArray(ValueError):
    """A JSON body that is not one array of values (`detail` says why)."""


class _RepeatedKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def request_array(body: bytes) -> list[tuple[int, Any]]:
    """The `(line, value or Rejected)` of a JSON array body (`application/json`), `line` = index + 1.

    An element Python cannot read although it is JSON — nested too deeply, an integer of more digits
    than Python converts — is that event's rejection; an element repeating a key too. Anything else that
    is not one JSON array raises `NotAnArray` (`TooDeep` for text nested too deeply to tell); a body
    that is not UTF-8 raises `NotUtf8`.
    """
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    try:
        values = _decode(body)
    except Exception:  # anything msgspec refuses: Python decides, with its own message
        values = _python_array(body)
    if not isinstance(values, list):
        raise NotAnArray("not an array")
    items: list[tuple[int, Any]] = list(enumerate(values, start=1))
    if _repeats(_keys_in(body), values):  # some object repeats a key: find whose
        elements = _elements(body)
        assert elements is not None and len(elements) == len(values)  # (a JSON array, read just now)
        items = [(n, _unrepeated(raw, value)) for (n, value), raw in zip(items, elements, strict=True)]
    return items


def request_lines(body: bytes) -> list[tuple[int, Any]]:
    """The `(line, value or Rejected)` of an NDJSON body (`application/x-ndjson`): lines end at `\\n` only
    (a `\\r\\n` tolerated), numbered from 1, blank ones counted and skipped; a line that is not UTF-8, not
    JSON, or repeats a key is rejected."""
    if body.startswith(codecs.BOM_UTF8):
        body = body[len(codecs.BOM_UTF8) :]
    items: list[tuple[int, Any]] = []
    lines = body.split(b"\n")
    raws: list[bytes] = []
    for number, line in enumerate(lines, start=1):
        try:
            value = _decode(line)
        except Exception:  # not JSON to msgspec (or blank): Python decides, with its own message
            if not line.strip():
                continue
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError as exc:
                value = Rejected("not valid UTF-8: {detail}", detail=str(exc))
            else:
                try:
                    value = parse_json(text)
                except ValueError as exc:
                    value = not_json(exc)
        items.append((number, value))
        raws.append(line)
    values = [v for _, v in items]
    if _repeats(_keys_in(body), values):  # some line repeats a key (or one was rejected): find whose
        items = [(n, _unrepeated(raw, v)) for (n, v), raw in zip(items, raws, strict=True)]
    return items


def _python_array(body: bytes) -> Any:
    """A JSON body as Python reads it; an array whose elements Python cannot all read is read element by
    element, each refused one a `Rejected`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotUtf8(1, str(exc)) from None
    try:
        return parse_json(text)
    except (TooDeep, TooManyDigits):  # JSON all the same, unless its structure says otherwise
        elements = _elements(body)
        if elements is None:
            raise  # (not an array: the whole body is refused, for this reason)
        values: list[Any] = []
        for raw in elements:
            try:
                values.append(parse_json(raw.decode("utf-8")))
            except (TooDeep, TooManyDigits) as exc:
                values.append(not_json(exc))
            except ValueError as exc:
                raise NotAnArray(str(exc)) from None
        return values
    except ValueError as exc:
        raise NotAnArray(str(exc)) from None


def _elements(body: bytes) -> list[bytes] | None:
    """The text of each element of a JSON array, split without reading them (no recursion: any depth);
    None if the text is not one array."""
    depth, start, end = 0, -1, -1
    elements: list[bytes] = []
    for match in _STRUCTURE.finditer(body):
        token = match.group()
        if depth == 0:
            if end >= 0 or token != b"[" or body[: match.start()].strip():
                return None  # something before the array, or a second value after it
            depth, start = 1, match.end()
            continue
        if token in (b"[", b"{"):
            depth += 1
        elif token in (b"]", b"}"):
            depth -= 1
            if depth == 0:
                end = match.end()
                if body[start : match.start()].strip() or elements:
                    elements.append(body[start : match.start()])
        elif token == b"," and depth == 1:
            elements.append(body[start : match.start()])
            start = match.end()
    if depth != 0 or end < 0 or body[end:].strip():
        return None
    return elements


def _keys_in(data: bytes) -> int:
    """How many object keys JSON text holds (any malformed part counted as it looks). Outside strings a
    `"` only delimits one, and inside one it is escaped: so in text without a backslash, once the
    whitespace is gone (none is left between a key and its colon, and none can make a `"` inside a
    string), each `":` ends a key. Text with a backslash is scanned string by string."""
    if b"\\" not in data:
        return data.translate(None, b" \t\r\n").count(b'":')
    return sum(1 for match in _STRING_TOKEN.finditer(data) if match.group(1))


def _repeats(text_keys: int, values: list[Any]) -> bool:
    """Whether the text the values were parsed from held more keys (`text_keys`) than their objects do:
    a key repeated in some object (or text that was not read, such as a rejected line). The objects'
    own keys are counted first: when they are all the text holds, nothing nested needs counting."""
    if text_keys == sum([len(v) for v in values if v.__class__ is dict]):
        return False
    try:
        return text_keys != sum(map(_nested_keys, values))
    except RecursionError:
        return True  # (then each value is looked at alone)


def _nested_keys(value: Any) -> int:
    if value.__class__ is dict:
        return len(value) + sum(_nested_keys(v) for v in value.values() if v.__class__ in (dict, list))
    if value.__class__ is list:
        return sum(_nested_keys(v) for v in value if v.__class__ in (dict, list))
    return 0


def _unrepeated(raw: bytes, value: Any) -> Any:
    """`value`, or its rejection when its text `raw` repeats a key in some object."""
    if value.__class__ is Rejected or not _repeats(_keys_in(raw), [value]):
        return value
    try:
        json.loads(raw.decode("utf-8"), object_pairs_hook=_refuse_repeats, parse_float=Decimal)
    except _RepeatedKey as exc:
        return Rejected("key '{key}' appears more than once", key=exc.key)
    except (ValueError, RecursionError):
        pass  # (read before: the key count differs for another reason)
    return value


def _refuse_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _RepeatedKey(key)
        seen[key] = value
    return seen
