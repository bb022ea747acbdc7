"""The ingest pipeline shared by files, collectors and the HTTP API: read, validate, batch, store, report.

`Batcher` (no database) reads and validates events against registry lookups loaded once and cuts them
into `Batch`es whose keys are unique; a key repeated inside a batch is set aside and decided after the
batch is written, against whatever got stored under it — so within one file the first occurrence wins.
`Ingest` hands each batch to `EventWriter`, turns the outcome into the report, counts the Prometheus
metric, and — for a file import, which owns its transactions (`commit_seconds`) — commits about once a
second, so a crash loses at most the last second of work, and whenever a batch gives way to another
importer (`metering.store.WouldWait`). Each transaction that stored something appends one audit entry per
source it stored from (lines, events accepted, clouds), written in that transaction just before it
commits (`Ingest.commit`, or `Ingest.finish` when the caller owns the transaction).
"""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import count
from operator import itemgetter
from pathlib import Path
from typing import Any, BinaryIO

from sqlmodel import Session

from core import audit
from core.clock import Clock, utcnow
from core.i18n import t
from metering import fastcsv, fastjson, metrics
from metering.events import (
    CsvColumns,
    Lines,
    LineTooLong,
    Lookups,
    NotUtf8,
    Rejected,
    Row,
    Validator,
    fields_of,
    file_kind,
    overflows,
    read_events,
    shown,
)
from metering.store import BatchResult, EventWriter, WouldWait
from tenants.models import Cloud, Department, Meter
from tenants.permissions import Actor, operator_scope

BATCH_SIZE = 10_000
#: Files at least this large are read and validated by a forked process while this one stores.
PARALLEL_BYTES = 2**20
#: Rejections listed in a report; past this many they are only counted (constant memory on huge files).
MAX_LISTED = 100_000
_by_key = itemgetter(0, 1)
_series_key = itemgetter(0, 2, 3)


@dataclass
class Rejection:
    """One refused event (or file): where, which event, and why."""

    file: str
    line: int | None
    event_id: str | None
    template: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # a report never echoes a huge or control-laden value whole (a 50 MB id, a NUL)
        self.event_id = shown(self.event_id)
        self.params = {k: shown(v) for k, v in self.params.items()}

    @property
    def reason(self) -> str:
        """The reason in the current language."""
        return t(self.template, **self.params)

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "event_id": self.event_id, "reason": self.reason}

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        event = f" [{self.event_id}]" if self.event_id else ""
        return f"{where}{event}: {self.reason}"


@dataclass
class IngestReport:
    """Counts of accepted and duplicate events, and every rejection (docs/reference.md#command-line)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    rejected_count: int = 0

    def reject(self, rejection: Rejection) -> None:
        """Record a rejection (listed up to MAX_LISTED, always counted)."""
        self.rejected_count += 1
        if len(self.rejected) < MAX_LISTED:
            self.rejected.append(rejection)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": [r.to_dict() for r in self.rejected],
        }
        if self.rejected_count > len(self.rejected):
            out["rejected_count"] = self.rejected_count
        return out


@dataclass
class Batch:
    """Validated events of one source with unique keys, the repeats set aside, and the rows refused."""

    source: str
    rows: list[Row] = field(default_factory=list)
    lines: Sequence[int] = field(default_factory=list)
    repeats: list[tuple[int, Row]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    position: int | None = None  # bytes of the file read so far
    #: the rows as PostgreSQL COPY CSV (`metering.fastcsv.FastBatch.copy`), when the reader made them
    copy: bytes | None = None
    #: the (cloud, department, meter) series of `rows` the reader has not seen before, and their clouds
    #: (`Batcher.summarise`: done by the reader, so that a reader process spares the importer the work)
    series: set[tuple[str, str, str]] | None = None
    clouds: list[str] | None = None


def load_lookups(session: Session, *, actor: Actor) -> Lookups:
    """The registry facts validation needs, read once (on the driver's cursor: an HTTP request reads them
    for its one batch, and ORM rows of 2,000 departments cost more than validating the batch)."""
    raw = session.connection().connection.dbapi_connection
    assert raw is not None  # the session's connection is checked out: it has its DBAPI connection
    cur = raw.cursor()
    try:
        cur.execute(f"SELECT id, cloud_id FROM {Department.__tablename__}")
        department_cloud = dict(cur.fetchall())
        cur.execute(f"SELECT id, operator_id FROM {Cloud.__tablename__}")
        cloud_operator = dict(cur.fetchall())
        cur.execute(f"SELECT code FROM {Meter.__tablename__}")
        meters = frozenset(code for (code,) in cur.fetchall())
    finally:
        cur.close()
    return Lookups(department_cloud, cloud_operator, meters, operator=operator_scope(actor))


class Batcher:
    """Reads and validates events into batches (no database)."""

    def __init__(self, lookups: Lookups, *, now: Clock = utcnow, batch_size: int = BATCH_SIZE, copy: bool = False):
        self.now = now
        self.batch_size = batch_size
        #: whether vectorised batches also carry their rows as PostgreSQL COPY CSV
        self.copy = copy
        self.validator = Validator(lookups, now())
        self._json: fastjson.JsonChecker | None = None
        #: series of the batches read so far (and those already stored, see `Ingest`)
        self.seen_series: set[tuple[str, str, str]] = set()
        self._codes = fastcsv.SeriesCodes(lookups)
        self._seen_codes: set[int] | None = None  # their numbers (`summarise`), once a fast batch needs them

    def summarise(self, batch: Batch, fast: fastcsv.FastBatch | None = None) -> Batch:
        """Fill in the batch's new series and its clouds (from `fast`, the vectorised rows, when given)."""
        if batch.series is not None:
            return batch
        if fast is not None and fast.series is not None and fast.clouds is not None:
            # thousands of series per batch, nearly all seen before: compare their numbers, and make
            # strings of the new ones only
            if self._seen_codes is None:
                self._seen_codes = {c for c in map(self._codes.code, self.seen_series) if c is not None}
            new = set(fast.series) - self._seen_codes
            self._seen_codes |= new
            batch.series = self._codes.series(new)
            batch.clouds = fast.clouds
        else:
            series = set(map(_series_key, batch.rows))
            batch.clouds = sorted({s[0] for s in series})
            batch.series = series - self.seen_series
            if self._seen_codes is not None:
                self._seen_codes.update(c for c in map(self._codes.code, batch.series) if c is not None)
        self.seen_series |= batch.series
        return batch

    def read_file(self, path: Path) -> Iterator[Batch]:
        """The batches of one CSV or JSON Lines file (UTF-8, BOM or not), in constant memory."""
        name = str(path)
        try:
            kind = file_kind(path)
            raw = open(path, "rb")
        except Rejected as exc:
            yield Batch(name, rejected=[Rejection(name, None, None, exc.template, exc.params)])
            return
        except OSError as exc:
            yield Batch(
                name,
                rejected=[
                    Rejection(
                        name,
                        None,
                        None,
                        "cannot read {file}: {reason}",
                        {"file": name, "reason": exc.strerror or str(exc)},
                    )
                ],
            )
            return
        with raw:
            if kind == "csv" and fastcsv.available():
                batches = self._csv(name, raw)
            elif kind == "jsonl" and fastcsv.available():
                batches = self._jsonl(name, raw)
            else:
                batches = self._batches(name, read_events(Lines(raw), kind))
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    return
                except Rejected as exc:  # the header: nothing of the file can be read
                    yield Batch(name, rejected=[Rejection(name, 1, None, exc.template, exc.params)])
                    return
                except NotUtf8 as exc:
                    yield Batch(
                        name,
                        rejected=[
                            Rejection(
                                name, exc.line, None, "the file is not valid UTF-8: {detail}", {"detail": exc.detail}
                            )
                        ],
                    )
                    return
                batch.position = raw.tell()
                yield self.summarise(batch)

    def _csv(self, name: str, raw: BinaryIO) -> Iterator[Batch]:
        """A CSV file's batches: vectorised chunk by chunk (`metering.fastcsv`), Python where it must."""
        chunks = fastcsv.CsvChunks(raw, self.batch_size)
        first = chunks.header()
        if b'"' in first or b"\r" in first.rstrip(b"\r\n") or overflows(first):
            # a quoted header may span lines, a lone carriage return end it: Python reads the whole file
            raw.seek(0)
            yield from self._batches(name, read_events(Lines(raw), "csv"))
            return
        try:
            header = first.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NotUtf8(1, str(exc)) from None
        columns = CsvColumns.of(next(csv.reader([header]), []))
        check = fastcsv.ChunkValidator(self.validator, columns, copy=self.copy)
        for chunk in chunks:
            if chunk.too_long:  # one line over the limit, read past without holding it
                yield from self._batches(name, [(chunk.first_line, LineTooLong(chunk.first_line).rejected())])
                continue
            if not chunk.plain:
                # quotes (values may span lines) or lone carriage returns: Python reads the rest of the file
                raw.seek(chunk.offset)
                yield from self._batches(name, columns.items(Lines(raw, chunk.first_line)))
                return
            table = check.table(chunk)
            fast = None if table is None else check.rows(table, chunk.first_line)
            if fast is not None:
                yield self.summarise(Batch(name, rows=fast.rows, lines=fast.lines, copy=fast.copy), fast)
                self.validator.set_now(self.now())
            elif table is not None:  # some line needs the Python validator (to accept or to say why not)
                yield from self._batches(name, zip(count(chunk.first_line), check.fields(table)))
            else:  # not one record per line (field counts, blank lines, bad UTF-8): Python reads this chunk
                yield from self._batches(name, columns.items(Lines(io.BytesIO(chunk.data), chunk.first_line)))

    def _jsonl(self, name: str, raw: BinaryIO) -> Iterator[Batch]:
        """A JSON Lines file's batches: a chunk straight into Arrow columns where it can be
        (`fastjson.JsonChecker.lines`), else parsed by msgspec and decided event by event in Arrow."""
        for part in fastjson.jsonl_parts(raw, self.batch_size):
            if isinstance(part, fastcsv.Chunk):
                fast = self._json_checker().lines(part)
                if fast is not None:
                    yield self.summarise(Batch(name, rows=fast.rows, lines=fast.lines, copy=fast.copy), fast)
                    self.validator.set_now(self.now())
                    continue
                part = fastjson.chunk_values(part)
            yield from self._batches(name, self._checked(part))

    def _json_checker(self) -> fastjson.JsonChecker:
        if self._json is None:
            self._json = fastjson.JsonChecker(self.validator, copy=self.copy)
        return self._json

    def read_events(self, source: str, events: Iterable[Any], lines: Iterable[int] | None = None) -> Iterator[Batch]:
        """The batches of JSON objects (dicts), numbered like the lines of a JSON Lines file (or by `lines`);
        an event may be a `Rejected` already (a line that could not be read)."""
        numbered = zip(lines, events, strict=True) if lines is not None else enumerate(events, start=1)
        if fastcsv.available():
            return self._batches(source, self._checked(numbered))
        return self._batches(source, ((n, obj if obj.__class__ is Rejected else fields_of(obj)) for n, obj in numbered))

    def _checked(self, values: Iterable[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
        """`(line, JSON value or Rejected)` decided chunk by chunk in Arrow (`metering.fastjson`)."""
        check = self._json_checker()
        for chunk in fastjson.chunked(values, self.batch_size):
            yield from check.items(chunk)

    def _batches(self, source: str, items: Iterable[tuple[int, Any]]) -> Iterator[Batch]:
        validate, size, checked = self.validator.validate, self.batch_size, fastjson.Checked
        lines: list[int] = []
        batch, first = Batch(source, lines=lines), set()
        rows = batch.rows
        try:
            for line, item in items:
                kind = item.__class__
                if kind is checked:  # decided in Arrow (metering.fastjson)
                    row = item.row
                elif kind is not tuple:
                    batch.rejected.append(Rejection(source, line, None, item.template, item.params))
                    continue
                else:
                    try:
                        row = validate(*item)
                    except Rejected as exc:
                        event_id = item[0] if isinstance(item[0], str) and item[0] else None
                        batch.rejected.append(Rejection(source, line, event_id, exc.template, exc.params))
                        continue
                key = (row[0], row[1])
                if key in first:
                    batch.repeats.append((line, row))
                    continue
                first.add(key)
                rows.append(row)
                lines.append(line)
                if len(rows) >= size:
                    yield batch
                    self.validator.set_now(self.now())
                    lines = []
                    batch, first = Batch(source, lines=lines), set()
                    rows = batch.rows
        except NotUtf8:  # keep what was read before the line that is not UTF-8
            if rows or batch.repeats or batch.rejected:
                yield batch
            raise
        if rows or batch.repeats or batch.rejected:
            yield batch


class Ingest:
    """Stores batches for one acting user and reports what became of each event; see the module docstring."""

    def __init__(
        self,
        session: Session,
        *,
        actor: Actor,
        now: Clock = utcnow,
        batch_size: int = BATCH_SIZE,
        commit_seconds: float | None = None,
        load_series: bool = True,
    ):
        """`commit_seconds`: None to write in the caller's transaction (the API, collectors); else this ingest
        owns its transactions and commits at the first batch end that long after its last commit.
        `load_series`: read every stored series first (a file import: each batch then adds only the new
        ones); False for a request of one batch, which adds its own series (`ON CONFLICT DO NOTHING`)
        instead of reading the whole table."""
        self.session = session
        self.actor = actor
        self.now = now
        self.commit_seconds = commit_seconds
        self._last_commit = time.monotonic()
        self._holding = False  # whether batches were written since the last commit (their keys are held)
        self.lookups = load_lookups(session, actor=actor)
        self.writer = EventWriter(session, now=now, series=None if load_series else set())
        self.batcher = Batcher(self.lookups, now=now, batch_size=batch_size, copy=self.writer.postgres)
        self.batcher.seen_series = set(self.writer.series)
        self.report = IngestReport()
        self._pending: _Stored | None = None  # stored in this transaction, not yet in the audit log

    def add_file(self, path: Path, progress: Callable[[int], None] | None = None) -> None:
        """Import one CSV or JSON Lines file, batch by batch (a large one read by a second process).

        Reading a file cannot fail the import: should it go wrong all the same (a reader process that
        dies, an error of the reading code itself), the file is reported as read up to its last batch,
        and what it and the files before it stored stays; a database error still ends the import.
        """
        batches = _from_child(self.batcher, path) if _parallel(path) else self.batcher.read_file(path)
        last = 0
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                return
            except Exception as exc:
                self.report.reject(
                    Rejection(
                        str(path),
                        last + 1,
                        None,
                        "reading {file} stopped after line {line}: {reason}",
                        {"file": str(path), "line": last, "reason": f"{type(exc).__name__}: {exc}"},
                    )
                )
                metrics.count(accepted=0, duplicate=0, rejected=1)
                return
            self.store(batch)
            last = max([last, *(r.line or 0 for r in batch.rejected)], default=0)
            if batch.lines:
                last = max(last, max(batch.lines))
            if progress is not None and batch.position is not None:
                progress(batch.position)

    def add_events(self, source: str, events: Iterable[Any], lines: Iterable[int] | None = None) -> None:
        """Import JSON objects (dicts) as if they were the lines of a JSON Lines file named `source` (numbered
        1, 2, … or by `lines`)."""
        for batch in self.batcher.read_events(source, events, lines):
            self.store(batch)

    def store(self, batch: Batch) -> None:
        """Write a batch, settle its repeated keys, report, audit, count, and checkpoint."""
        report, source, rows = self.report, batch.source, batch.rows
        for rejection in batch.rejected:
            report.reject(rejection)
        rejected = len(batch.rejected)
        duplicates = accepted = 0
        if rows:
            self.batcher.summarise(batch)
            result = self._write(batch)
            accepted, duplicates = result.accepted, len(result.duplicates)
            if result.conflicts or batch.repeats:
                where = {_by_key(r): i for i, r in enumerate(rows)}
                for key in result.conflicts:
                    rejected += 1
                    report.reject(_conflict(source, batch.lines[where[key]], key))
                for line, row in batch.repeats:
                    key = _by_key(row)
                    if row[2:] == result.conflicts.get(key, rows[where[key]][2:]):
                        duplicates += 1
                    else:
                        rejected += 1
                        report.reject(_conflict(source, line, key))
            report.accepted += accepted
            report.duplicates += duplicates
            if accepted:
                self._stored(source, batch, accepted)
            if self.commit_seconds is not None and time.monotonic() - self._last_commit >= self.commit_seconds:
                self.commit()
        metrics.count(accepted=accepted, duplicate=duplicates, rejected=rejected)

    def _write(self, batch: Batch) -> BatchResult:
        owns = self.commit_seconds is not None
        try:
            result = self.writer.write(batch.rows, batch.series, batch.copy, holding=owns and self._holding)
        except WouldWait:
            # another importer holds keys of this batch and may wait for the earlier batches' keys this
            # transaction holds: commit them, and write the batch again holding nothing (metering.store)
            self.commit()
            result = self.writer.write(batch.rows, batch.series, batch.copy)
        self._holding = True
        return result

    def _stored(self, source: str, batch: Batch, accepted: int) -> None:
        """Count a batch's stored events into the audit entry of this transaction and source."""
        pending = self._pending
        if pending is not None and pending.source != source:
            self._audit()
            pending = None
        if pending is None:
            pending = self._pending = _Stored(source)
        # (a PostgreSQL batch is in key order, not line order)
        pending.first = min(pending.first, min(batch.lines))
        pending.last = max(pending.last, max(batch.lines))
        pending.accepted += accepted
        pending.clouds.update(batch.clouds or ())

    def _audit(self) -> None:
        """Append the audit entry of what this transaction stored from the current source, if anything."""
        pending, self._pending = self._pending, None
        if pending is None:
            return
        audit.append(
            self.session,
            actor=self.actor.name,
            action="usage.import",
            entity=f"usage:{Path(pending.source).name}"[:200],
            payload={
                "source": pending.source,
                "lines": [pending.first, pending.last],
                "accepted": pending.accepted,
                "clouds": sorted(pending.clouds),
            },
            now=self.now,
        )

    def commit(self) -> None:
        """Commit what was stored so far, with its audit entry (an ingest that owns its transactions)."""
        self._audit()
        self.session.commit()
        self._holding = False
        self._last_commit = time.monotonic()

    def finish(self) -> IngestReport:
        """Append the audit entry of what is stored and not yet committed (the caller commits it), and
        return the report, rejections in file and line order."""
        self._audit()
        order: dict[str, int] = {}
        for r in self.report.rejected:
            order.setdefault(r.file, len(order))
        self.report.rejected.sort(key=lambda r: (order[r.file], r.line or 0))
        return self.report


@dataclass
class _Stored:
    """What a transaction stored from one source: the audit entry to append before it commits."""

    source: str
    first: int = 2**62
    last: int = 0
    accepted: int = 0
    clouds: set[str] = field(default_factory=set)


class _Failure:
    """An exception of the reader process, handed to the importer to raise."""

    def __init__(self, exc: BaseException):
        self.exc = exc


def _parallel(path: Path) -> bool:
    """Whether a forked reader process is worth it (and safe: a process with other threads is not forked)."""
    try:
        large = path.stat().st_size >= PARALLEL_BYTES
    except OSError:
        return False
    return large and _single_threaded() and "fork" in multiprocessing.get_all_start_methods()


def _single_threaded() -> bool:
    """Whether this process runs no other thread (forking a process with threads may copy a held lock)."""
    return threading.active_count() == 1


def _from_child(batcher: Batcher, path: Path) -> Iterator[Batch]:
    """The batches of `batcher.read_file(path)`, read and validated by a forked child process.

    Reading, validating and pickling the next batches in the child overlaps storing this one in the
    importer: the two cores of docs/reference.md#performance-targets. The child only reads the file — every write stays in the
    importer's transaction — and sends batches through a pipe widened to hold a few of them, so it runs
    ahead. If the importer stops early (an error, an interrupt), the child is ended; if the importer is
    killed, the child is killed too (and its next send would fail).
    """
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    _widen(send)
    child = context.Process(
        target=_read_in_child, args=(batcher, path, send, receive, os.getpid()), name="usage-reader", daemon=True
    )
    child.start()
    send.close()
    try:
        while True:
            try:
                item = receive.recv()
            except EOFError:
                child.join()
                raise RuntimeError(
                    f"the process reading {path} ended unexpectedly (exit code {child.exitcode})"
                ) from None
            if item is None:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        receive.close()
        if child.is_alive():
            child.terminate()
        child.join()


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when its parent dies (a no-op elsewhere)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass
    if os.getppid() != parent:  # the parent died before the request took effect
        os._exit(1)


def _widen(connection: Any) -> None:
    """Let the pipe hold a whole pickled batch or more, so the reader runs ahead (default: 64 KiB)."""
    try:
        import fcntl

        for size in (8 * 2**20, 2**20):
            try:
                fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, size)
                return
            except OSError:  # above /proc/sys/fs/pipe-max-size for this user
                continue
    except (ImportError, AttributeError):  # pragma: no cover - not Linux
        pass


def _read_in_child(batcher: Batcher, path: Path, send: Any, receive: Any, parent: int) -> None:
    # Hold no read end (a send then fails once the importer is gone) and die with the importer: the
    # child shares the importer's database sockets, and must not keep its transaction alive.
    receive.close()
    _die_with_parent(parent)
    try:
        for batch in batcher.read_file(path):
            send.send(batch)
        send.send(None)
    except (BrokenPipeError, KeyboardInterrupt):  # the importer stopped
        pass
    except BaseException as exc:  # raised in the importer
        try:
            send.send(_Failure(exc))
        except Exception:  # an exception that cannot be pickled
            send.send(_Failure(RuntimeError(f"{type(exc).__name__}: {exc}")))
    finally:
        send.close()


def _conflict(source: str, line: int, key: tuple[str, str]) -> Rejection:
    return Rejection(
        source,
        line,
        key[1],
        "event '{event_id}' is already stored on cloud '{cloud}' with different content",
        {"event_id": key[1], "cloud": key[0]},
    )
