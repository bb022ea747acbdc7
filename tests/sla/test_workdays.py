"""Ticket and appeal deadlines by the Chinese working-day calendar (docs/reference.md#evaluation)."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from core.errors import InvalidInput
from core.settings import get_settings
from sla.workdays import WorkCalendar, calendar_from, load_overrides

SH = ZoneInfo("Asia/Shanghai")


def test_a_rating_on_30_september_2026_is_due_at_the_end_of_13_october() -> None:
    # National Day holidays 1-7 October; Saturday 10 October is a make-up working day
    due = WorkCalendar().deadline(datetime(2026, 9, 30, 15, 30, tzinfo=SH), SH)
    assert due == datetime(2026, 10, 14, 0, 0, tzinfo=SH)


def test_the_deadline_is_taken_from_the_local_day_of_the_rating() -> None:
    # 2026-09-30T20:00Z is already 1 October in Shanghai, a holiday: five working days from there
    utc = datetime.fromisoformat("2026-09-30T20:00:00+00:00")
    assert WorkCalendar().deadline(utc, SH) == datetime(2026, 10, 14, 0, 0, tzinfo=SH)
    assert WorkCalendar().deadline(datetime.fromisoformat("2026-09-30T15:00:00+00:00"), SH) == datetime(
        2026, 10, 14, tzinfo=SH
    )


def test_a_year_the_package_does_not_cover_falls_back_to_monday_to_friday_with_a_warning(caplog) -> None:
    calendar = WorkCalendar()
    # Friday 2099-01-02 -> Mon 5, Tue 6, Wed 7, Thu 8, Fri 9
    with caplog.at_level("WARNING", logger="zhengyun.sla"):
        due = calendar.deadline(datetime(2099, 1, 2, 9, tzinfo=SH), SH)
    assert due == datetime(2099, 1, 10, tzinfo=SH)
    assert len(calendar.warnings) == 1 and "2099" in calendar.warnings[0]
    assert "2099" in caplog.text
    calendar.deadline(datetime(2099, 2, 2, 9, tzinfo=SH), SH)
    assert len(calendar.warnings) == 1  # once per year


def test_an_override_file_adds_holidays_and_working_days(tmp_path: Path) -> None:
    override = tmp_path / "workdays.yaml"
    override.write_text("holidays: [2099-01-06, 2099-01-07]\nworkdays: [2099-01-10]\n", encoding="utf-8")
    calendar = WorkCalendar(load_overrides(override))
    # Fri 2099-01-02 -> Mon 5, (Tue 6, Wed 7 holidays), Thu 8, Fri 9, Sat 10 (working), Mon 12
    assert calendar.deadline(datetime(2099, 1, 2, 9, tzinfo=SH), SH) == datetime(2099, 1, 13, tzinfo=SH)
    assert not calendar.is_workday(date(2099, 1, 6))
    assert calendar.is_workday(date(2099, 1, 10))


def test_an_override_wins_over_the_package_in_a_covered_year(tmp_path: Path) -> None:
    override = tmp_path / "workdays.csv"
    override.write_text("date,kind\n2026-10-12,holiday\n2026-10-11,workday\n", encoding="utf-8")
    calendar = WorkCalendar(load_overrides(override))
    assert not calendar.is_workday(date(2026, 10, 12))
    assert calendar.is_workday(date(2026, 10, 11))
    # 8, 9, 10 (make-up), 11 (override), 13 -> end of the 13th still, but through other days
    assert calendar.nth_workday_after(date(2026, 9, 30), 5) == date(2026, 10, 13)
    assert calendar.warnings == []


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        ("bad.yaml", "holidays: [2099-02-01, 1 May]\n", "holidays[1]"),
        ("impossible.yaml", "holidays: [2099-13-01]\n", "holidays[0]"),
        ("both.yaml", "holidays: [2099-01-06]\nworkdays: [2099-01-06]\n", None),
        ("bad.csv", "date,kind\n2099-01-06,vacation\n", "kind"),
    ],
)
def test_a_broken_override_file_is_refused_with_its_place(tmp_path: Path, name: str, text: str, where) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidInput) as caught:
        load_overrides(path)
    problem = caught.value.problems[0]
    assert problem.file == str(path)
    assert problem.path == where


def test_the_data_directory_override_is_used_when_none_is_named(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "workdays.yaml").write_text("holidays: [2099-01-05]\n", encoding="utf-8")
    monkeypatch.setenv("ZHENGYUN_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    try:
        assert not calendar_from(None).is_workday(date(2099, 1, 5))
        assert calendar_from(None).is_workday(date(2099, 1, 6))
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
