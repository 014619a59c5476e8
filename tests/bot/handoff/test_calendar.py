"""Working days across holidays, 调休 make-up days, and years no source knows."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.handoff.calendar import SHANGHAI, CalendarFileError, WorkCalendar

REPO = Path(__file__).resolve().parents[3]


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SHANGHAI)


def due(calendar: WorkCalendar, start: dt.datetime, n: int) -> tuple[dt.datetime, bool]:
    result = calendar.add_working_days(start, n)
    return result.at.astimezone(SHANGHAI), result.estimated


@pytest.fixture
def calendar() -> WorkCalendar:
    return WorkCalendar.load(REPO / "knowledge" / "data" / "workdays.yml")


def test_shipped_file_is_valid_and_does_not_invent_2027(calendar: WorkCalendar) -> None:
    assert 2027 not in calendar.extra_years


def test_across_national_day_2026_with_make_up_saturday(calendar: WorkCalendar) -> None:
    # Created Wed 30 Sep 2026: 1–7 Oct are holidays; Sat 10 Oct is a 调休 working day.
    start = at(2026, 9, 30, 10, 0)
    assert due(calendar, start, 1) == (at(2026, 10, 8, 17, 30), False)
    assert due(calendar, start, 2) == (at(2026, 10, 9, 17, 30), False)
    assert due(calendar, start, 3) == (at(2026, 10, 10, 17, 30), False)  # the Saturday counts
    assert due(calendar, start, 4) == (at(2026, 10, 12, 17, 30), False)  # Sunday 11 Oct does not


def test_holiday_start_counts_from_next_working_day(calendar: WorkCalendar) -> None:
    assert due(calendar, at(2026, 10, 3, 11, 0), 1) == (at(2026, 10, 8, 17, 30), False)


def test_after_hours_counts_from_next_working_day(calendar: WorkCalendar) -> None:
    assert due(calendar, at(2026, 11, 26, 21, 0), 1) == (at(2026, 11, 27, 17, 30), False)
    # Friday evening: the weekend does not count.
    assert due(calendar, at(2026, 11, 27, 18, 0), 1) == (at(2026, 11, 30, 17, 30), False)


def test_2025_make_up_saturday_counts(calendar: WorkCalendar) -> None:
    # Sat 11 Oct 2025 was a 调休 working day after National Day 2025.
    assert calendar.is_working_day(dt.date(2025, 10, 11))
    assert due(calendar, at(2025, 10, 10, 9, 0), 1) == (at(2025, 10, 11, 17, 30), False)
    assert due(calendar, at(2025, 10, 10, 9, 0), 2) == (at(2025, 10, 13, 17, 30), False)


def test_unknown_year_falls_back_to_weekends_and_says_so(calendar: WorkCalendar) -> None:
    # 15 working days from 30 Dec 2026 run into 2027, which nobody has published yet.
    when, estimated = due(calendar, at(2026, 12, 30, 10, 0), 15)
    assert estimated is True
    assert when == at(2027, 1, 20, 17, 30)  # weekends only: 1 Jan 2027 counted as a working day
    # A deadline that stays inside 2026 is exact.
    assert due(calendar, at(2026, 12, 1, 10, 0), 3)[1] is False


def test_administrators_can_add_a_year(tmp_path: Path) -> None:
    path = tmp_path / "workdays.yml"
    path.write_text(
        "years:\n  2027:\n    source: test schedule\n"
        "    holidays: [2027-01-01]\n    workdays: [2027-01-02]\n",
        encoding="utf-8",
    )
    calendar = WorkCalendar.load(path)
    assert not calendar.is_working_day(dt.date(2027, 1, 1))
    assert calendar.is_working_day(dt.date(2027, 1, 2))  # a Saturday made a working day
    assert due(calendar, at(2026, 12, 31, 10, 0), 2) == (at(2027, 1, 4, 17, 30), False)


@pytest.mark.parametrize(
    "body, reason",
    [
        ("years:\n  2027:\n    source: x\n    holidays: [2026-12-31]\n", "another year"),
        ("years:\n  2027:\n    source: x\n    workdays: [2027-01-04]\n", "not a Saturday or Sunday"),
        (
            "years:\n  2027:\n    source: x\n    holidays: [2027-01-02]\n    workdays: [2027-01-02]\n",
            "holiday and workday",
        ),
        ("years:\n  2027:\n    holidays: [2027-01-01]\n", "source"),
        ("years: [\n", "while parsing"),
    ],
)
def test_broken_file_is_reported_at_load(tmp_path: Path, body: str, reason: str) -> None:
    path = tmp_path / "workdays.yml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(CalendarFileError, match=reason):
        WorkCalendar.load(path)


def test_relative_path_is_taken_from_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)  # the default WORKDAYS_PATH is relative
    WorkCalendar.load(Path("knowledge/data/no-such-file.yml"))
    assert "not found" in caplog.text
    caplog.clear()
    path = tmp_path / "extra.yml"
    path.write_text("years:\n  2027:\n    source: t\n    holidays: [2027-01-01]\n", encoding="utf-8")
    assert WorkCalendar.load(Path("knowledge/data/workdays.yml")).extra_years == []
    assert "not found" not in caplog.text
    assert WorkCalendar.load(path).extra_years == [2027]


def test_missing_file_means_library_only(tmp_path: Path) -> None:
    calendar = WorkCalendar.load(tmp_path / "absent.yml")
    assert not calendar.is_working_day(dt.date(2026, 10, 1))


def test_naive_start_is_refused(calendar: WorkCalendar) -> None:
    with pytest.raises(ValueError):
        calendar.add_working_days(dt.datetime(2026, 10, 1, 9, 0), 1)
