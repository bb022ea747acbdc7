"""The Chinese working-day calendar for ticket and appeal deadlines (docs/reference.md#evaluation).

Public holidays and make-up working days (调休) come from the maintained `chinese_calendar`
package. A year it does not cover falls back to Monday–Friday with a warning. An override file
adds holidays and working days on top of both (YAML `{holidays: [...], workdays: [...]}` or CSV
`date,kind` with kind `holiday` | `workday`); the override wins.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar

from core.errors import Problem, problem, rejected
from core.i18n import register, t
from core.settings import get_settings
from core.yamlfile import read_yaml

log = logging.getLogger("zhengyun.sla")

#: Deadlines fall at 24:00 local time of this working day after the rating's day (docs/reference.md#evaluation).
DEADLINE_WORKDAYS = 5
#: Looked for in the data directory when no override file is named.
DEFAULT_OVERRIDE_NAME = "workdays.yaml"

register(
    {
        "the holiday calendar does not cover {year}: counting Monday to Friday as working days": "节假日日历未覆盖 {year} 年：按周一至周五计算工作日",
        "must be a date (YYYY-MM-DD), got {value!r}": "必须是日期（YYYY-MM-DD），实际为 {value!r}",
        "kind must be holiday or workday, got {value!r}": "类型必须是 holiday 或 workday，实际为 {value!r}",
        "{day} is listed both as a holiday and as a working day": "{day} 同时被列为节假日和工作日",
        "an override file needs the columns date,kind": "覆盖文件须有 date,kind 两列",
        "the override file must be a mapping with holidays and workdays": "覆盖文件须是包含 holidays 和 workdays 的映射",
    }
)


@dataclass(frozen=True)
class Overrides:
    """Extra holidays and working days that win over the package."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()


@dataclass
class WorkCalendar:
    """Which days are working days; records a warning for each year the package does not cover."""

    overrides: Overrides = field(default_factory=Overrides)
    warnings: list[str] = field(default_factory=list)
    _uncovered: set[int] = field(default_factory=set)

    def is_workday(self, day: date) -> bool:
        """Whether `day` is a working day (override, else the package, else Monday–Friday)."""
        if day in self.overrides.holidays:
            return False
        if day in self.overrides.workdays:
            return True
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self._uncovered:
                self._uncovered.add(day.year)
                message = t(
                    "the holiday calendar does not cover {year}: counting Monday to Friday as working days",
                    year=day.year,
                )
                self.warnings.append(message)
                log.warning(message)
            return day.weekday() < 5

    def nth_workday_after(self, day: date, n: int) -> date:
        """The `n`th working day after `day` (`day` itself does not count)."""
        current, found = day, 0
        while found < n:
            current += timedelta(days=1)
            if self.is_workday(current):
                found += 1
        return current

    def deadline(self, moment: datetime, tz: str | ZoneInfo, workdays: int = DEADLINE_WORKDAYS) -> datetime:
        """24:00 local time of the `workdays`th working day after `moment`'s local day, as an aware datetime."""
        zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
        last = self.nth_workday_after(moment.astimezone(zone).date(), workdays)
        return datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)


def _parse_day(value: object, file: str, line: int | None, path: str, problems: list[Problem]) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        problems.append(
            problem("must be a date (YYYY-MM-DD), got {value!r}", file=file, line=line, path=path, value=value)
        )
        return None


def load_overrides(path: str | Path) -> Overrides:
    """Read an override file (YAML or CSV); every problem is reported with its line, nothing half read."""
    file = str(path)
    holidays: set[date] = set()
    workdays: set[date] = set()
    problems: list[Problem] = []
    if Path(path).suffix.lower() == ".csv":
        try:
            text = Path(path).read_bytes().decode("utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise rejected([problem("cannot read the file: {reason}", file=file, reason=str(exc))]) from exc
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or {"date", "kind"} - {f.strip() for f in reader.fieldnames}:
            raise rejected([problem("an override file needs the columns date,kind", file=file, line=1)])
        for row in reader:
            line = reader.line_num
            day = _parse_day(row.get("date"), file, line, "date", problems)
            kind = (row.get("kind") or "").strip()
            if kind not in ("holiday", "workday"):
                problems.append(
                    problem(
                        "kind must be holiday or workday, got {value!r}", file=file, line=line, path="kind", value=kind
                    )
                )
            elif day is not None:
                (holidays if kind == "holiday" else workdays).add(day)
    else:
        try:
            doc, found = read_yaml(path)
        except ValueError as exc:  # PyYAML builds dates itself and raises for an impossible one (2099-13-01)
            raise rejected([problem("YAML syntax error: {detail}", file=file, detail=str(exc))]) from None
        if doc is None:
            raise rejected(found)
        problems.extend(found)
        data = doc.data
        if not isinstance(data, dict) or set(data) - {"holidays", "workdays"}:
            raise rejected([doc.problem("", "the override file must be a mapping with holidays and workdays")])
        for key, target in (("holidays", holidays), ("workdays", workdays)):
            items = data.get(key) or []
            if not isinstance(items, list):
                problems.append(doc.problem(key, "must be a list"))
                continue
            for i, value in enumerate(items):
                where = f"{key}[{i}]"
                day = _parse_day(value, file, doc.line(where), where, problems)
                if day is not None:
                    target.add(day)
    for day in sorted(holidays & workdays):
        problems.append(problem("{day} is listed both as a holiday and as a working day", file=file, day=day))
    if problems:
        raise rejected(problems)
    return Overrides(frozenset(holidays), frozenset(workdays))


def calendar_from(path: str | Path | None = None) -> WorkCalendar:
    """A calendar with the overrides of `path`, else of `<data dir>/workdays.yaml` when it exists."""
    if path is None:
        default = get_settings().data_dir / DEFAULT_OVERRIDE_NAME
        path = default if default.is_file() else None
    return WorkCalendar(load_overrides(path) if path is not None else Overrides())
