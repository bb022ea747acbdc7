"""The audit log: an append-only hash chain of every change of state (docs/reference.md#audit-log).

The chain shows an entry changed or removed in the middle, but not the newest entries removed: the
chain that is left is intact. So `head` gives the sequence and hash of the newest entry, for the bureau
to record elsewhere (`zhengyun audit head`), and `verify(expect=(seq, hash))` checks that the chain
still reaches that entry, unchanged. The database itself refuses UPDATE and DELETE of entries (and
TRUNCATE on PostgreSQL): triggers of migration 0006.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Column, Text, select, text
from sqlmodel import Field, Session, SQLModel, col

from core.clock import Clock, utcnow
from core.types import UtcDateTime, decimal_text

GENESIS = "0" * 64
_PG_AUDIT_LOCK = 7_201_226  # advisory lock key serialising appends on PostgreSQL


class AuditEntry(SQLModel, table=True):
    """One entry of the chain."""

    __tablename__ = "audit_log"

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    time: datetime = Field(sa_type=UtcDateTime, nullable=False)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64, index=True)
    entity: str = Field(max_length=200, index=True)
    payload: str = Field(sa_column=Column(Text, nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def canonical_json(value: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, decimals as plain strings."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def entry_hash(prev_hash: str, seq: int, time: datetime, actor: str, action: str, entity: str, payload: str) -> str:
    """SHA-256 over the previous hash and this entry's fields."""
    body = canonical_json(
        {"seq": seq, "time": time.isoformat(), "actor": actor, "action": action, "entity": entity, "payload": payload}
    )
    return hashlib.sha256((prev_hash + body).encode("utf-8")).hexdigest()


def append(
    session: Session, *, actor: str, action: str, entity: str, payload: Any = None, now: Clock = utcnow
) -> AuditEntry:
    """Append one entry to the chain, in the caller's transaction."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    last = session.execute(
        select(col(AuditEntry.seq), col(AuditEntry.hash)).order_by(col(AuditEntry.seq).desc()).limit(1)
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    moment = now().astimezone(UTC)
    body = canonical_json(payload if payload is not None else {})
    entry = AuditEntry(
        seq=seq,
        time=moment,
        actor=actor,
        action=action,
        entity=entity,
        payload=body,
        prev_hash=prev,
        hash=entry_hash(prev, seq, moment, actor, action, entity, body),
    )
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of `verify`: ok, how many entries were read, and the first that does not match."""

    ok: bool
    count: int
    first_bad_seq: int | None = None
    reason: str | None = None
    reason_params: dict[str, Any] | None = None


@dataclass(frozen=True)
class AuditHead:
    """The newest entry of the chain: its sequence and hash (0 and GENESIS for an empty log)."""

    seq: int
    hash: str

    def __str__(self) -> str:
        return f"{self.seq}:{self.hash}"


def head(session: Session) -> AuditHead:
    """The sequence and hash of the newest entry, to record elsewhere and check later with `verify`."""
    last = session.execute(
        select(col(AuditEntry.seq), col(AuditEntry.hash)).order_by(col(AuditEntry.seq).desc()).limit(1)
    ).first()
    return AuditHead(last[0], last[1]) if last else AuditHead(0, GENESIS)


def verify(session: Session, expect: AuditHead | None = None) -> VerifyResult:
    """Recompute the chain and report the first entry that does not match; with `expect`, a head recorded
    earlier, also that the chain still reaches it unchanged (the newest entries were not removed)."""
    result = _verify_chain(session)
    if not result.ok or expect is None or expect.seq == 0:
        return result
    if result.count < expect.seq:
        return VerifyResult(
            False,
            result.count,
            expect.seq,
            "the log ends at entry {last}: entries up to the recorded head {seq} were removed",
            {"last": result.count, "seq": expect.seq},
        )
    found = session.execute(select(col(AuditEntry.hash)).where(col(AuditEntry.seq) == expect.seq)).scalar_one()
    if found != expect.hash:
        return VerifyResult(
            False, result.count, expect.seq, "entry {seq} is not the recorded head", {"seq": expect.seq}
        )
    return result


def _verify_chain(session: Session) -> VerifyResult:
    prev, expected_seq, count = GENESIS, 1, 0
    rows = session.execute(select(AuditEntry).order_by(AuditEntry.seq)).scalars()  # type: ignore[arg-type]
    for entry in rows.yield_per(1000):
        count += 1
        if entry.seq != expected_seq:
            return VerifyResult(False, count, entry.seq, "sequence gap before entry {seq}", {"seq": entry.seq})
        if entry.prev_hash != prev:
            return VerifyResult(
                False, count, entry.seq, "previous hash does not match entry {seq}", {"seq": entry.seq - 1}
            )
        recomputed = entry_hash(prev, entry.seq, entry.time, entry.actor, entry.action, entry.entity, entry.payload)
        if recomputed != entry.hash:
            return VerifyResult(False, count, entry.seq, "hash does not match its contents", {})
        prev, expected_seq = entry.hash, expected_seq + 1
    return VerifyResult(True, count)
