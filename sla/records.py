"""Record files (docs/reference.md#record-files: outages, maintenance, ratings as CSV) and the field parsers they share with
the single-entry services. A bad field raises an InvalidInput whose problem names the field."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import DomainError, Problem, problem, rejected
from core.errors import invalid_field as invalid  # an InvalidInput about one field
from core.i18n import register
from core.periods import parse_time as parse_time  # the one time parser: an offset, a year 2000–2099
from core.validation import free_text
from sla.scoring import LEVEL_NAMES, LEVELS

register(
    {
        "level must be 1-5 or one of 非常满意, 满意, 基本满意, 不满意, 非常不满意, got {value!r}": "评价等级必须是 1-5 或 非常满意、满意、基本满意、不满意、非常不满意 之一，实际为 {value!r}",
        "must be true or false, got {value!r}": "必须是 true 或 false，实际为 {value!r}",
        "the file needs the columns {columns}; missing: {missing}": "文件须有以下列：{columns}；缺少：{missing}",
        "unknown column(s): {unknown}": "未知列：{unknown}",
    }
)

TRUE_WORDS = {"true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}


def parse_level(value: int | str | None, field: str = "level") -> int:
    """A rating level from 1–5 or its Chinese name (非常满意 5 … 非常不满意 1)."""
    if isinstance(value, bool):
        value = str(value)
    if isinstance(value, int) and value in LEVELS:
        return value
    text = str(value if value is not None else "").strip()
    if text in LEVEL_NAMES:
        return LEVEL_NAMES[text]
    if text.isascii() and text.isdigit() and int(text) in LEVELS:
        return int(text)
    raise invalid(
        field, "level must be 1-5 or one of 非常满意, 满意, 基本满意, 不满意, 非常不满意, got {value!r}", value=value
    )


def parse_bool(value: str | bool | None, field: str) -> bool:
    """`true`/`false` (also yes/no, 1/0), case-insensitive."""
    if isinstance(value, bool):
        return value
    text = (value or "").strip().lower()
    if text not in TRUE_WORDS:
        raise invalid(field, "must be true or false, got {value!r}", value=value)
    return TRUE_WORDS[text]


def parse_text(value: str | None, field: str, *, required: bool = False) -> str:
    """Free text by the one rule (core.validation.free_text, docs/reference.md#free-text)."""
    return free_text(value, field, required=required)


@dataclass
class ImportReport:
    """What a record import did: rows accepted, recognised as duplicates, updated, and rejected."""

    file: str
    accepted: int = 0
    duplicates: int = 0
    updated: int = 0
    rejected: list[Problem] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether the import stored anything."""
        return bool(self.accepted or self.updated)

    def reject(self, line: int, exc: DomainError) -> None:
        """Record a rejected row with the field the error names."""
        first = exc.problems[0] if exc.problems else None
        self.rejected.append(
            problem(
                "{detail}",
                file=self.file,
                line=line,
                path=first.path if first else None,
                detail=first.message if first else exc.message,
            )
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "updated": self.updated,
            "rejected": [{"file": p.file, "line": p.line, "field": p.path, "reason": p.message} for p in self.rejected],
            "ids": self.ids,
            "warnings": self.warnings,
        }


def read_records(
    path: str | Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """The rows of a CSV record file as (line, row); a missing file or a bad header rejects the whole file.

    The header is line 1; a row's line is the file line where it starts. Blank lines are skipped.
    """
    file = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise rejected([problem("file not found", file=file)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise rejected([problem("cannot read the file: {reason}", file=file, reason=str(exc))]) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise rejected([problem("the file is empty", file=file)])
    names = [h.strip() for h in header]
    missing = [c for c in columns if c not in names and c not in optional]
    unknown = [n for n in names if n not in columns]
    if missing:
        raise rejected(
            [
                problem(
                    "the file needs the columns {columns}; missing: {missing}",
                    file=file,
                    line=1,
                    columns=",".join(columns),
                    missing=",".join(missing),
                )
            ]
        )
    if unknown:
        raise rejected([problem("unknown column(s): {unknown}", file=file, line=1, unknown=",".join(unknown))])
    line = reader.line_num + 1
    for cells in reader:
        start, line = line, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        row = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(names)}
        yield start, row
