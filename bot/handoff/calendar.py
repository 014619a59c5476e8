"""Working days in mainland China: public holidays and make-up working days (调休) included.

Sources, in order: `knowledge/data/workdays.yml` (years administrators add or correct), then the
`chinesecalendar` library (2004–2026 in 1.11.0). A year neither knows is counted with weekends only
and every answer for it says `estimated=True`, so a deadline is never refused and staff are told.

Deadline convention (`add_working_days`): the day a ticket is created is not counted (as with
statutory periods, 期间开始之日不计算在内). Day 1 is the first working day after the creation date
in Asia/Shanghai, so a ticket created on a non-working day, or after hours, also counts from the next
working day. The deadline is the end of the n-th working day, 17:30 Asia/Shanghai (`WORKDAY_END`).
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Dict, List, NamedTuple
from zoneinfo import ZoneInfo

import chinese_calendar
import yaml
from pydantic import BaseModel, Field, ValidationError, root_validator

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = ZoneInfo("Asia/Shanghai")
WORKDAY_END = dt.time(17, 30)
# No deadline counts more working days than this; guards the loop against nonsense input.
MAX_WORKING_DAYS = 366


class CalendarFileError(ValueError):
    """workdays.yml is not valid; raised when it is loaded (at start-up), never later."""


class YearSchedule(BaseModel):
    """One year's official schedule, as published by the State Council."""

    source: str = Field(..., min_length=1)
    holidays: List[dt.date] = []
    workdays: List[dt.date] = []

    class Config:
        extra = "forbid"


class WorkdaysFile(BaseModel):
    years: Dict[int, YearSchedule] = {}

    class Config:
        extra = "forbid"

    @root_validator(skip_on_failure=True)
    def _consistent(cls, values: dict) -> dict:  # noqa: N805
        for year, schedule in values["years"].items():
            for day in [*schedule.holidays, *schedule.workdays]:
                if day.year != year:
                    raise ValueError(f"{year}: date {day} belongs to another year")
            for day in schedule.workdays:
                if day.weekday() < 5:
                    raise ValueError(f"{year}: workday {day} is not a Saturday or Sunday")
            both = set(schedule.holidays) & set(schedule.workdays)
            if both:
                raise ValueError(f"{year}: listed as holiday and workday: {sorted(map(str, both))}")
        return values


class DayInfo(NamedTuple):
    working: bool
    estimated: bool


class Due(NamedTuple):
    at: dt.datetime  # aware, UTC
    estimated: bool  # some day on the way was in a year no source knows


class WorkCalendar:
    """Answers "is this a working day" and "when is n working days after this moment"."""

    def __init__(self, years: Dict[int, YearSchedule] | None = None) -> None:
        self._years: Dict[int, tuple[frozenset[dt.date], frozenset[dt.date]]] = {
            year: (frozenset(s.holidays), frozenset(s.workdays)) for year, s in (years or {}).items()
        }
        self._warned: set[int] = set()

    @classmethod
    def load(cls, path: Path | str | None) -> WorkCalendar:
        """Read `path` (missing file = no extra years); CalendarFileError names what is wrong.

        A relative path is taken from the repository root, like WORKDAYS_PATH's default, so the
        result does not depend on the working directory.
        """
        if path is None:
            return cls()
        path = Path(path)
        if not path.is_absolute():
            path = REPO_ROOT / path
        if not path.exists():
            logger.warning("%s not found: holiday data from chinesecalendar only", path)
            return cls()
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
            parsed = WorkdaysFile.parse_obj(data)
        except (yaml.YAMLError, ValidationError) as error:
            raise CalendarFileError(f"{path}: {error}") from error
        return cls(parsed.years)

    @property
    def extra_years(self) -> list[int]:
        return sorted(self._years)

    def day(self, day: dt.date) -> DayInfo:
        if day.year in self._years:
            holidays, workdays = self._years[day.year]
            if day in workdays:
                return DayInfo(True, False)
            return DayInfo(day.weekday() < 5 and day not in holidays, False)
        try:
            return DayInfo(bool(chinese_calendar.is_workday(day)), False)
        except NotImplementedError:
            if day.year not in self._warned:
                self._warned.add(day.year)
                logger.warning("no holiday data for %s: weekends only; add it to workdays.yml", day.year)
            return DayInfo(day.weekday() < 5, True)

    def is_working_day(self, day: dt.date) -> bool:
        return self.day(day).working

    def add_working_days(self, start: dt.datetime, n: int) -> Due:
        """The end (17:30 Shanghai) of the n-th working day after `start`'s date; see the module doc."""
        if start.tzinfo is None:
            raise ValueError("start must be timezone-aware")
        if not 1 <= n <= MAX_WORKING_DAYS:
            raise ValueError(f"n must be between 1 and {MAX_WORKING_DAYS}")
        day = start.astimezone(SHANGHAI).date()
        estimated = False
        counted = 0
        while counted < n:
            day += dt.timedelta(days=1)
            info = self.day(day)
            estimated = estimated or info.estimated
            if info.working:
                counted += 1
        end = dt.datetime.combine(day, WORKDAY_END, tzinfo=SHANGHAI)
        return Due(end.astimezone(dt.timezone.utc), estimated)
