"""Metering fixtures: a small province loaded through the CLI, and helpers to write usage files."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from core.db import make_engine

DATA = Path(__file__).parent / "data"
HEADER = ["event_id", "time", "department", "cloud", "meter", "quantity", "resource_id", "attributes"]


def event(
    event_id: str,
    *,
    time: str = "2026-10-01T13:00:00+08:00",
    department: str = "gd-edu",
    cloud: str = "gd-prov",
    meter: str = "vcpu_hours",
    quantity: Any = "1",
    resource_id: str | None = None,
    attributes: Any = None,
) -> dict[str, Any]:
    """One usage event as a JSON-shaped dict (valid unless told otherwise)."""
    out = {
        "event_id": event_id,
        "time": time,
        "department": department,
        "cloud": cloud,
        "meter": meter,
        "quantity": quantity,
    }
    if resource_id is not None:
        out["resource_id"] = resource_id
    if attributes is not None:
        out["attributes"] = attributes
    return out


def write_csv(path: Path, events: Iterable[dict[str, Any]], *, bom: bool = False, header: list[str] = HEADER) -> Path:
    """Events as CSV (attributes as JSON text)."""
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        out = csv.writer(f)
        out.writerow(header)
        for e in events:
            row = dict(e)
            if isinstance(row.get("attributes"), (dict, list)):
                row["attributes"] = json.dumps(row["attributes"], ensure_ascii=False)
            out.writerow(["" if row.get(h) is None else row[h] for h in header])
    return path


def write_jsonl(path: Path, events: Iterable[Any], *, bom: bool = False) -> Path:
    """Events as JSON Lines (strings are written as they are)."""
    with open(path, "w", encoding="utf-8-sig" if bom else "utf-8") as f:
        for e in events:
            f.write((e if isinstance(e, str) else json.dumps(e, ensure_ascii=False)) + "\n")
    return path


def stored(url: str) -> set[tuple]:
    """Every stored event's content, backend-independent: (cloud, id, department, meter, UTC time, micro, ...)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT cloud_id, event_id, department_id, meter, time, quantity, resource_id, attributes "
                    "FROM usage_event"
                )
            ).all()
    finally:
        engine.dispose()
    return {(r[0], r[1], r[2], r[3], _utc(r[4]), int(r[5]), r[6], r[7]) for r in rows}


def _utc(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return str(value)


@pytest.fixture
def province(cli):
    """The CLI on a database holding the metering test province."""
    result = cli("tenants", "import", DATA / "tenancy.yaml")
    assert result.code == 0, result
    return cli
