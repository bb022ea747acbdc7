"""The ingest pipeline shared by files, collectors and the HTTP API: read, validate, batch, store, report.

`Batcher` (no database) reads and validates events against registry lookups loaded once and cuts them
into `Batch`es whose keys are unique; a key repeated inside a batch is set aside and decided after the
batch is written, against whatever got stored under it — so within one file the first occurrence wins.
`Ingest` hands each batch to `EventWriter`, turns the outcome into the report, appends one audit entry
per batch that stored something, counts the Prometheus metric, and calls `checkpoint` — the file import
commits there, so a crash loses at most the batch in flight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from core import audit
from core.clock import Clock, utcnow
from core.i18n import t
from metering import metrics
from metering.events import Lookups, Rejected, Row, Validator, fields_of, file_kind, read_events
from metering.store import EventWriter
from tenants.models import Cloud, Department, Meter
from tenants.permissions import Actor, operator_scope

BATCH_SIZE = 10_000
#: Rejections listed in a report; past this many they are only counted (constant memory on huge files).
MAX_LISTED = 100_000
_by_key = itemgetter(0, 1)


@dataclass
class Rejection:
    """One refused event (or file): where, which event, and why."""

    file: str
    line: int | None
    event_id: str | None
    template: str
    params: dict[str, Any] = field(default_factory=dict)

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
    """Counts of accepted and duplicate events, and every rejection (SPEC 5.1)."""

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
        out: dict[str, Any] = {"accepted": self.accepted, "duplicates": self.duplicates,
                               "rejected": [r.to_dict() for r in self.rejected]}
        if self.rejected_count > len(self.rejected):
            out["rejected_count"] = self.rejected_count
        return out


@dataclass
class Batch:
    """Validated events of one source with unique keys, the repeats set aside, and the rows refused."""

    source: str
    rows: list[Row] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)
    repeats: list[tuple[int, Row]] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    position: int | None = None  # bytes of the file read so far


def load_lookups(session: Session, actor: Actor) -> Lookups:
    """The registry facts validation needs, read once."""
    return Lookups(
        department_cloud=dict(session.exec(select(Department.id, Department.cloud_id)).all()),
        cloud_operator=dict(session.exec(select(Cloud.id, Cloud.operator_id)).all()),
        meters=frozenset(session.exec(select(Meter.code)).all()),
        operator=operator_scope(actor),
    )


class Batcher:
    """Reads and validates events into batches (no database)."""

    def __init__(self, lookups: Lookups, *, now: Clock = utcnow, batch_size: int = BATCH_SIZE):
        self.now = now
        self.batch_size = batch_size
        self.validator = Validator(lookups, now())
        self._line = 0  # the last line read (where a decoding error is reported)

    def read_file(self, path: Path) -> Iterator[Batch]:
        """The batches of one CSV or JSON Lines file (UTF-8, BOM or not), in constant memory."""
        name = str(path)
        try:
            kind = file_kind(path)
            stream = open(path, encoding="utf-8-sig", newline="" if kind == "csv" else None)
        except Rejected as exc:
            yield Batch(name, rejected=[Rejection(name, None, None, exc.template, exc.params)])
            return
        except OSError as exc:
            yield Batch(name, rejected=[Rejection(name, None, None, "cannot read {file}: {reason}",
                                                  {"file": name, "reason": exc.strerror or str(exc)})])
            return
        raw = stream.buffer
        with stream:
            batches = self._batches(name, read_events(stream, kind))
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    return
                except Rejected as exc:  # the header: nothing of the file can be read
                    yield Batch(name, rejected=[Rejection(name, 1, None, exc.template, exc.params)])
                    return
                except UnicodeDecodeError as exc:
                    yield Batch(name, rejected=[Rejection(name, self._line + 1, None,
                                                          "the file is not valid UTF-8: {detail}", {"detail": str(exc)})])
                    return
                batch.position = raw.tell()
                yield batch

    def read_events(self, source: str, events: Iterable[Any]) -> Iterator[Batch]:
        """The batches of JSON objects (dicts), numbered like the lines of a JSON Lines file."""
        return self._batches(source, ((n, fields_of(obj)) for n, obj in enumerate(events, start=1)))

    def _batches(self, source: str, items: Iterable[tuple[int, Any]]) -> Iterator[Batch]:
        validate, size = self.validator.validate, self.batch_size
        batch, first = Batch(source), set()
        rows, lines = batch.rows, batch.lines
        for line, item in items:
            self._line = line
            if item.__class__ is not tuple:
                batch.rejected.append(Rejection(source, line, None, item.template, item.params))
                continue
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
                batch, first = Batch(source), set()
                rows, lines = batch.rows, batch.lines
        if rows or batch.repeats or batch.rejected:
            yield batch


class Ingest:
    """Stores batches for one acting user and reports what became of each event; see the module docstring."""

    def __init__(self, session: Session, *, actor: Actor, now: Clock = utcnow, batch_size: int = BATCH_SIZE,
                 checkpoint: Callable[[], None] | None = None):
        self.session = session
        self.actor = actor
        self.now = now
        self.checkpoint = checkpoint
        self.lookups = load_lookups(session, actor)
        self.batcher = Batcher(self.lookups, now=now, batch_size=batch_size)
        self.writer = EventWriter(session, now=now)
        self.report = IngestReport()

    def add_file(self, path: Path, progress: Callable[[int], None] | None = None) -> None:
        """Import one CSV or JSON Lines file, batch by batch."""
        for batch in self.batcher.read_file(path):
            self.store(batch)
            if progress is not None and batch.position is not None:
                progress(batch.position)

    def add_events(self, source: str, events: Iterable[Any]) -> None:
        """Import JSON objects (dicts) as if they were the lines of a JSON Lines file named `source`."""
        for batch in self.batcher.read_events(source, events):
            self.store(batch)

    def store(self, batch: Batch) -> None:
        """Write a batch, settle its repeated keys, report, audit, count, and checkpoint."""
        report, source, rows = self.report, batch.source, batch.rows
        for rejection in batch.rejected:
            report.reject(rejection)
        rejected = len(batch.rejected)
        duplicates = accepted = 0
        if rows:
            result = self.writer.write(rows)
            accepted, duplicates = result.accepted, len(result.duplicates)
            if result.conflicts or batch.repeats:
                where = {_by_key(r): i for i, r in enumerate(rows)}
                for key in result.conflicts:
                    rejected += 1
                    report.reject(_conflict(source, batch.lines[where[key]], key))
                for line, row in batch.repeats:
                    key = _by_key(row)
                    if row[8] == result.conflicts.get(key, rows[where[key]][8]):
                        duplicates += 1
                    else:
                        rejected += 1
                        report.reject(_conflict(source, line, key))
            report.accepted += accepted
            report.duplicates += duplicates
            if accepted:
                audit.append(self.session, actor=self.actor.name, action="usage.import",
                             entity=f"usage:{Path(source).name}"[:200],
                             payload={"source": source, "lines": [batch.lines[0], batch.lines[-1]],
                                      "accepted": accepted, "clouds": sorted({r[0] for r in rows})}, now=self.now)
            if self.checkpoint is not None:
                self.checkpoint()
        metrics.count(accepted=accepted, duplicate=duplicates, rejected=rejected)

    def finish(self) -> IngestReport:
        """The report, rejections in file and line order."""
        order: dict[str, int] = {}
        for r in self.report.rejected:
            order.setdefault(r.file, len(order))
        self.report.rejected.sort(key=lambda r: (order[r.file], r.line or 0))
        return self.report


def _conflict(source: str, line: int, key: tuple[str, str]) -> Rejection:
    return Rejection(source, line, key[1], "event '{event_id}' is already stored on cloud '{cloud}' with different content",
                     {"event_id": key[1], "cloud": key[0]})
