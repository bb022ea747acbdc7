"""Vectorised reading and validation of CSV usage files (Apache Arrow), for the rows it can vouch for.

`usage import` spends most of its time per event in Python: splitting the line, converting the time,
checking the registry. This module does that for a whole batch of lines at once in Arrow's compiled
kernels and accepts only what it can prove the Python `Validator` would turn into the very same row:

* the event id is 1–200 characters without a control character, the (department, cloud) pair is placed
  as the registry says, the meter is known, and for an operator the cloud is one of theirs;
* the time is `YYYY-MM-DDTHH:MM:SS±HH:MM` (or a space for `T`) whose minute the Python parser itself
  converts (once per distinct minute and offset, through the validator's cache), not in the future;
* the quantity is plain digits with at most 12 before and 6 after the point, converted to millionths
  in integer arithmetic; the resource id is at most 200 characters without a control character;
  attributes are empty.

Any other row — and any batch whose keys repeat — is handed back as fields for `Validator.validate`,
which accepts or rejects it with its reason exactly as before. Lines map one-to-one to rows only while
the file has no quotes, blank lines or lone carriage returns; `CsvChunks` says when a chunk is not
like that and the caller reads the rest of the file with Python's `csv` module. `CsvChunks` never reads
a line whole past `MAX_LINE` (1 MiB): such a line is a chunk of its own, `too_long`, read past in
blocks. So the result of an import never depends on which path read a line — a test reads the same
files both ways.
"""

from __future__ import annotations

import codecs
import importlib.util
import io
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate, repeat
from typing import Any, BinaryIO

from metering.events import (
    CONTROL_CLASS,
    FIELDS,
    MAX_LINE,
    CsvColumns,
    Lookups,
    Row,
    Validator,
    overflows,
    skip_line,
    utc_text,
)
from metering.models import MAX_ID_LENGTH

# pyarrow is imported by the reader when it first needs it (`_load`): an importer whose file a reader
# process reads never loads it (50 MiB); without pyarrow (a platform it does not build for) Python
# reads everything.
pa: Any = None
pc: Any = None
pcsv: Any = None

_TIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-5][0-9]:[0-5][0-9][+-][0-9]{2}:[0-9]{2}$"
_QUANTITY = r"^(?P<whole>[0-9]{1,12})(?:\.(?P<fraction>[0-9]{1,6}))?$"
_CAP = MAX_LINE + 2  # a line of MAX_LINE bytes and its \r\n
#: The most read at once to gather a chunk's lines; past it they are read line by line.
_MAX_BLOCK = 64 * 2**20
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


def string_array(values: list[str]) -> Any:
    """A string array built from its buffers (`pa.array` and `pa.scalar` import pandas: half a second)."""
    data = [v.encode("utf-8") for v in values]
    offsets = array("i", [0])
    offsets.extend(accumulate(map(len, data)))
    return pa.Array.from_buffers(
        pa.string(), len(data), [None, pa.py_buffer(offsets.tobytes()), pa.py_buffer(b"".join(data))]
    )


def _ints(values: list[int]) -> Any:
    """An int64 array built from its buffer (see `string_array`)."""
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(array("q", values).tobytes())])


def _shared(values: Any) -> list[str | None]:
    """The values as a list in which equal strings are one object (pickled once, for a reader process)."""
    encoded = pc.dictionary_encode(values, null_encoding="encode")
    return list(map(encoded.dictionary.to_pylist().__getitem__, encoded.indices.to_pylist()))


def available() -> bool:
    """Whether the vectorised path can run here."""
    return importlib.util.find_spec("pyarrow") is not None


def preload() -> None:
    """Import pyarrow now (half a second), e.g. when a server starts rather than in its first request."""
    if available():
        _load()


def _load() -> None:
    global pa, pc, pcsv
    if pcsv is None:
        import pyarrow
        import pyarrow.compute
        import pyarrow.csv

        pa, pc, pcsv = pyarrow, pyarrow.compute, pyarrow.csv
        # The allocator that returns freed memory at once: a reader's chunks are freed batch after
        # batch, and the default pool keeps them around (25 MiB more peak memory, no faster).
        pa.set_memory_pool(pa.system_memory_pool())


class SeriesCodes:
    """Numbers for the (cloud, department, meter) series of a registry: department × meters + meter, in
    sorted order (a department has one cloud), so that a batch's thousands of series are compared with
    those seen before as a set of integers, and only new ones become strings. Pure Python: instances
    made from the same lookups agree."""

    def __init__(self, lookups: Lookups):
        self.departments = sorted(lookups.department_cloud)
        self.clouds = [lookups.department_cloud[d] for d in self.departments]  # each department's
        self.meters = sorted(lookups.meters)
        self._department = {d: i for i, d in enumerate(self.departments)}
        self._meter = {m: i for i, m in enumerate(self.meters)}

    def code(self, series: tuple[str, str, str]) -> int | None:
        """The number of a series (None if the registry has no such department, cloud or meter)."""
        cloud, department, meter = series
        d, m = self._department.get(department), self._meter.get(meter)
        if d is None or m is None or self.clouds[d] != cloud:
            return None
        return d * len(self.meters) + m

    def series(self, codes: Iterable[int]) -> set[tuple[str, str, str]]:
        """The series of numbers."""
        width = len(self.meters)
        return {(self.clouds[c // width], self.departments[c // width], self.meters[c % width]) for c in codes}


#: The columns of `FastBatch.copy`, `received_at` to be appended to each line.
COPY_COLUMNS = ("cloud_id", "event_id", "department_id", "meter", "time", "quantity", "resource_id", "attributes")


@dataclass
class FastBatch:
    """The validated rows of a chunk, their lines, and (for PostgreSQL) the same rows as COPY CSV."""

    rows: list[Row]
    lines: Sequence[int]
    copy: bytes | None = None
    #: the rows' distinct (cloud, department, meter) series as `SeriesCodes` numbers
    series: list[int] | None = None
    #: the rows' clouds, sorted
    clouds: list[str] | None = None


@dataclass
class Chunk:
    """Up to `size` lines of the file: their bytes, the number of the first, where they start."""

    data: bytes
    first_line: int
    count: int
    offset: int
    #: whether lines are records one-to-one: no quote, no lone carriage return
    plain: bool
    #: a line longer than `MAX_LINE` (count 1, no data: it was read past, never held)
    too_long: bool = False


class CsvChunks:
    """Splits a binary CSV stream into chunks of lines after its header."""

    def __init__(self, raw: BinaryIO, size: int):
        self.raw = raw
        self.size = size
        self.line = 1  # lines consumed so far (the header is line 1)
        self._guess = 2**16  # bytes to read for the next `size` lines (learnt from the last chunk)

    def header(self) -> bytes:
        """The header line, BOM stripped, at most `MAX_LINE` + 2 bytes (`overflows` says if it is longer)."""
        first = self.raw.readline(_CAP)
        return first[len(codecs.BOM_UTF8) :] if first.startswith(codecs.BOM_UTF8) else first

    def __iter__(self) -> Iterator[Chunk]:
        raw = self.raw
        while True:
            offset = raw.tell()
            block = self._block()
            if block is None:  # a long line, or lines too long to gather cheaply: line by line
                raw.seek(offset)
                yield from self._by_line()
                return
            data, count = block
            if not data:
                return
            yield Chunk(data, self.line + 1, count, offset, _plain(data))
            self.line += count

    def _block(self) -> tuple[bytes, int] | None:
        """The next `size` lines (fewer at the end) read as one block, and how many; None (nothing consumed)
        if a line might be longer than `MAX_LINE`, or the lines do not fit in `_MAX_BLOCK` bytes."""
        raw, size = self.raw, self.size
        offset = raw.tell()
        want = self._guess
        while True:
            data = raw.read(want)
            lines = data.count(b"\n")
            if lines >= size or len(data) < want:  # enough lines, or the end of the file
                break
            raw.seek(offset)
            want *= 2
            if want > _MAX_BLOCK or len(data) - data.rfind(b"\n") > MAX_LINE:  # (the last line is long)
                return None
        if lines >= size:  # cut after the size-th line end, searching from the nearer side
            if lines - size < size:
                cut = len(data)
                for _ in range(lines - size + 1):
                    cut = data.rfind(b"\n", 0, cut)
            else:
                cut = -1
                for _ in range(size):
                    cut = data.find(b"\n", cut + 1)
            data = data[: cut + 1]
            raw.seek(offset + len(data))
            lines = size
        if not _short_lines(data):
            raw.seek(offset)
            return None  # (a line of MAX_LINE bytes and its \r is not too long: the line loop decides)
        if lines >= size:
            self._guess = max(2**16, len(data) + len(data) // 16)
        return data, lines + (not data.endswith(b"\n") and bool(data))

    def _by_line(self) -> Iterator[Chunk]:
        """Chunks read line by line to the end, a line never read whole past the limit."""
        raw, size = self.raw, self.size
        readline = raw.readline
        while True:
            offset = raw.tell()
            lines: list[bytes] = []
            line = b""
            for _ in range(size):
                line = readline(_CAP)  # a line is never read whole past the limit
                if not line or (len(line) > MAX_LINE and overflows(line)):
                    break
                lines.append(line)
            else:
                line = b""
            data = b"".join(lines)
            if lines:
                yield Chunk(data, self.line + 1, len(lines), offset, _plain(data))
                self.line += len(lines)
            if not line:
                if not lines:
                    return
                continue
            # a line longer than the limit
            if b"\r" in line:  # lone carriage returns may end lines inside it: Python reads from here
                yield Chunk(b"", self.line + 1, 0, offset + len(data), plain=False)
                return
            after = skip_line(readline)
            yield Chunk(b"", self.line + 1, 1, offset + len(data), plain=True, too_long=True)
            self.line += 1
            if after:  # it ended at a lone carriage return: Python reads from the line after it
                yield Chunk(b"", self.line + 1, 0, raw.tell() - len(after), plain=False)
                return


def _short_lines(data: bytes) -> bool:
    """Whether no line of `data` is longer than `MAX_LINE` bytes, its \\n not counted (an \\r is)."""
    # A line end in every half of MAX_LINE bytes proves it at once; otherwise measure every line.
    step = MAX_LINE // 2
    if all(data.find(b"\n", start, start + step) >= 0 for start in range(0, len(data), step)):
        return True
    return max(map(len, data.split(b"\n"))) <= MAX_LINE


def _plain(data: bytes) -> bool:
    """Whether lines are records one-to-one: no quote, no lone carriage return."""
    return b'"' not in data and (b"\r" not in data or data.count(b"\r") == data.count(b"\r\n"))


class ChunkValidator:
    """Validates a plain chunk in Arrow; the rows, or the fields of every line for the Python validator.

    JSON events (`metering.fastjson`) go through the same checks row by row (`json_rows`)."""

    def __init__(self, validator: Validator, columns: CsvColumns | None = None, *, copy: bool = False):
        """`columns`: a CSV file's header; None for JSON events (`json_rows`)."""
        _load()
        lookups = validator.lookups
        self.copy = copy
        self.validator = validator
        self.names = list(FIELDS if columns is None else columns.names)
        self.codes = SeriesCodes(lookups)
        self.departments = string_array(self.codes.departments)
        self.department_clouds = string_array(self.codes.clouds)
        self.meters = string_array(self.codes.meters)
        self._width = _ints([len(self.codes.meters)])[0]
        self.clouds = (
            None
            if lookups.operator is None
            else string_array([c for c, o in lookups.cloud_operator.items() if o == lookups.operator])
        )
        self.convert = pcsv.ConvertOptions(
            column_types={n: pa.string() for n in self.names},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        )
        self.parse = pcsv.ParseOptions(newlines_in_values=False, ignore_empty_lines=False)
        self._zero, self._limit, self._million, self._sixty = _ints([0, MAX_ID_LENGTH, 1_000_000, 60])
        self._empty, self._unit, self._fraction, self._utc, self._seconds = string_array(
            ["", "\x1f", ".000000", "+00", "00"]
        )
        self._null = pa.nulls(1, pa.string())[0]
        self._false = pc.equal(self._zero, self._limit)  # not `False`: converting it imports pandas

    def table(self, chunk: Chunk) -> Any:
        """The chunk's lines as string columns, or None if Arrow cannot read them one row per line."""
        data = chunk.data
        if data.startswith((b"\n", b"\r\n")) or b"\n\n" in data or b"\n\r\n" in data:
            return None  # blank lines: Python skips them
        options = pcsv.ReadOptions(column_names=self.names, use_threads=False, block_size=len(chunk.data) + 1)
        try:
            table = pcsv.read_csv(
                io.BytesIO(chunk.data), read_options=options, parse_options=self.parse, convert_options=self.convert
            )
        except (pa.ArrowInvalid, pa.ArrowException):
            return None  # wrong field counts, invalid UTF-8, …: Python names the problem
        if table.num_rows != chunk.count:
            return None
        return table.combine_chunks()

    def rows(self, table: Any, first_line: int) -> FastBatch | None:
        """The validated rows if every line passes and no key repeats; otherwise None."""
        n = table.num_rows
        col = {name: table.column(name).chunk(0) for name in table.column_names}
        decided = self._decide(col)
        if decided is None or not pc.all(decided[0]).as_py():
            return None
        _, utc, micro, resource, place, meter_place = decided
        event_id, cloud = col["event_id"], col["cloud"]
        if (
            pc.count_distinct(event_id).as_py() != n
            and pc.count_distinct(pc.binary_join_element_wise(cloud, event_id, self._unit)).as_py() != n
        ):
            return None  # a key repeats: the Python loop decides which occurrence is first
        lines: Sequence[int] = range(first_line, first_line + n)
        copy = None
        if self.copy:  # in key order (see `metering.store`), with the rows of a PostgreSQL COPY
            order = pc.sort_indices(
                pa.record_batch([cloud, event_id], names=["cloud", "event_id"]),
                sort_keys=[("cloud", "ascending"), ("event_id", "ascending")],
            )
            cloud, event_id, utc, micro, place, meter_place = (
                column.take(order) for column in (cloud, event_id, utc, micro, place, meter_place)
            )
            resource = None if resource is None else resource.take(order)
            lines = pc.add(pc.cast(order, pa.int64()), _ints([first_line])[0]).to_pylist()
            copy = self._copy_csv(
                cloud, event_id, col["department"].take(order), col["meter"].take(order), utc, micro, resource
            )
        places, meter_places = place.to_pylist(), meter_place.to_pylist()
        codes = self.codes
        series = pc.unique(pc.add(pc.multiply(pc.cast(place, pa.int64()), self._width), meter_place)).to_pylist()
        clouds = sorted(pc.unique(cloud).to_pylist())
        resources = repeat(None, n) if resource is None else _shared(resource)
        rows = list(
            zip(
                map(codes.clouds.__getitem__, places),  # the registry's strings: shared, pickled once
                event_id.to_pylist(),
                map(codes.departments.__getitem__, places),
                map(codes.meters.__getitem__, meter_places),
                utc.to_pylist(),
                micro.to_pylist(),
                resources,
                repeat(None, n),
                strict=False,
            )
        )
        return FastBatch(rows, lines, copy, series, clouds)

    def _decide(self, col: dict[str, Any]) -> tuple[Any, Any, Any, Any, Any, Any] | None:
        """Which rows pass every check (a boolean array), with their UTC time text, millionths, resource
        id (null when empty), and the places of their department and meter in the registry
        (`SeriesCodes`); the values of rows that do not pass are meaningless. None: no row passes.

        The rules are those of `Validator.validate`, narrowed to what can be proven in bulk: a row passes
        only if the Python validator would turn it into the very same row."""
        event_id, time, department, cloud, meter, quantity = (col[f] for f in FIELDS[:6])
        length = pc.utf8_length(event_id)
        ok = pc.and_(pc.greater(length, self._zero), pc.less_equal(length, self._limit))
        ok = pc.and_(ok, pc.invert(pc.match_substring_regex(event_id, CONTROL_CLASS)))
        # the department's place in the registry, its cloud the one given, the meter's place
        place = pc.index_in(department, value_set=self.departments)
        ok = pc.and_(ok, pc.equal(pc.take(self.department_clouds, place), cloud))
        meter_place = pc.index_in(meter, value_set=self.meters)
        ok = pc.and_(ok, pc.is_valid(meter_place))
        if self.clouds is not None:
            ok = pc.and_(ok, pc.is_in(cloud, value_set=self.clouds))
        resource = col.get("resource_id")
        if resource is not None:
            ok = pc.and_(ok, pc.less_equal(pc.utf8_length(resource), self._limit))
            ok = pc.and_(ok, pc.invert(pc.match_substring_regex(resource, CONTROL_CLASS)))
            resource = pc.if_else(pc.equal(resource, self._empty), self._null, resource)
        attributes = col.get("attributes")
        if attributes is not None:
            ok = pc.and_(ok, pc.equal(pc.utf8_length(attributes), self._zero))
        ok = pc.and_(ok, pc.match_substring_regex(time, _TIME))
        if not pc.any(ok).as_py():
            return None
        # The hour and offset of each time, converted by the Python parser once per distinct value (as
        # `Validator.minute` converts `YYYY-MM-DDTHH:00±HH:MM`). The form is fixed (the pattern keeps
        # minutes and seconds below 60), so the time is valid exactly when its hour is. When every hour
        # starts on a whole UTC hour (offsets of whole hours), the UTC text is that hour followed by the
        # minutes and seconds as written, and "not in the future" compares texts of the same form;
        # otherwise (an offset like +05:30: the minutes carry into the hour) the seconds since the epoch
        # are added up in integer arithmetic and the UTC text formatted in Arrow.
        keys = pc.dictionary_encode(
            pc.binary_join_element_wise(
                pc.utf8_slice_codeunits(time, 0, 13), pc.utf8_slice_codeunits(time, 19, 25), self._empty
            )
        )
        hours, valid, prefixes = [], [], []
        minute = self.validator.minute
        for key in keys.dictionary.to_pylist():
            hit = minute(f"{key[:13]}:00{key[13:]}")
            hours.append(0 if hit is None else (hit[1] - _EPOCH) // _SECOND)
            valid.append(hit is not None)
            # "YYYY-MM-DD HH" when the hour starts on a whole UTC hour
            prefixes.append(hit[0][:13] if hit is not None and hit[0].endswith(":00") else None)
        if not all(valid):
            ok = pc.and_(ok, pc.not_equal(pc.take(_ints([int(v) for v in valid]), keys.indices), self._zero))
        if None not in prefixes:
            utc = pc.binary_join_element_wise(
                pc.take(string_array([p or "" for p in prefixes]), keys.indices),
                pc.utf8_slice_codeunits(time, 13, 19),
                self._fraction,
                self._empty,
            )
            ok = pc.and_(ok, pc.less_equal(utc, string_array([utc_text(self.validator.limit)])[0]))
        else:
            minutes = pc.cast(pc.if_else(ok, pc.utf8_slice_codeunits(time, 14, 16), self._seconds), pa.int64())
            seconds = pc.cast(pc.if_else(ok, pc.utf8_slice_codeunits(time, 17, 19), self._seconds), pa.int64())
            epoch = pc.add(pc.add(pc.take(_ints(hours), keys.indices), pc.multiply(minutes, self._sixty)), seconds)
            ok = pc.and_(ok, pc.less_equal(epoch, _ints([(self.validator.limit - _EPOCH) // _SECOND])[0]))
            utc = pc.binary_join_element_wise(
                pc.strftime(pc.cast(epoch, pa.timestamp("s", tz="UTC")), format="%Y-%m-%d %H:%M:%S"),
                self._fraction,
                self._empty,
            )
        parts = pc.extract_regex(quantity, _QUANTITY)
        ok = pc.and_(ok, pc.is_valid(parts))
        whole = pc.cast(pc.struct_field(parts, [0]), pa.int64())
        fraction = pc.cast(pc.utf8_rpad(pc.struct_field(parts, [1]), width=6, padding="0"), pa.int64())
        micro = pc.add(pc.multiply(whole, self._million), fraction)
        return pc.fill_null(ok, self._false), utc, micro, resource, place, meter_place

    def json_rows(self, col: dict[str, list[str]]) -> list[Row | None]:
        """Each row's stored `Row` if it passes every check, else None (for the Python validator).

        `col` holds the string columns `FIELDS[:7]` (quantities as their JSON text, no resource as "");
        rows with attributes are not given (their canonical JSON is the Python validator's)."""
        decided = self._decide({name: string_array(values) for name, values in col.items()})
        n = len(col["event_id"])
        if decided is None:
            return [None] * n
        ok, utc, micro = decided[:3]
        return [
            (c, e, d, m, u, q, r or None, None) if passed else None
            for passed, c, e, d, m, u, q, r in zip(
                ok.to_pylist(),
                col["cloud"],
                col["event_id"],
                col["department"],
                col["meter"],
                utc.to_pylist(),
                micro.to_pylist(),
                col["resource_id"],
                strict=True,
            )
        ]

    def _copy_csv(
        self, cloud: Any, event_id: Any, department: Any, meter: Any, utc: Any, micro: Any, resource: Any
    ) -> bytes:
        """The rows as CSV for `COPY usage_event … (FORMAT csv)`, one line each, `received_at` left for
        the writer to append (it is read under the ingest barrier). Values hold no line breaks: they
        come from lines."""
        n = len(cloud)
        nulls = pa.nulls(n, pa.string())
        batch = pa.record_batch(
            [
                cloud,
                event_id,
                department,
                meter,
                pc.binary_join_element_wise(utc, self._utc, self._empty),
                micro,
                nulls if resource is None else resource,
                nulls,
            ],
            names=list(COPY_COLUMNS),
        )
        sink = pa.BufferOutputStream()
        pcsv.write_csv(batch, sink, write_options=pcsv.WriteOptions(include_header=False))
        return sink.getvalue().to_pybytes()

    def fields(self, table: Any) -> list[tuple[Any, ...]]:
        """Every line's fields in `FIELDS` order (absent optional columns as ""), for the Python validator."""
        n = table.num_rows
        values = [table.column(f).to_pylist() if f in self.names else repeat("", n) for f in FIELDS]
        return list(zip(*values, strict=False))
