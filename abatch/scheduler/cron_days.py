"""Which days of a month a cron day field matches: day-of-month or day-of-week rules.

Part of `cron`: the field that is not `?` becomes one `DayRule`, asked for the matching days
of one month at a time. Weekdays are EventBridge's numbers, 1 = Sunday .. 7 = Saturday.
Pure: no clock, no I/O.
"""

from __future__ import annotations

import calendar
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


class DayRule(ABC):
    """Which days of a given month match: day-of-month or day-of-week, whichever is not `?`."""

    @abstractmethod
    def days(self, year: int, month: int) -> Sequence[int]:
        """The matching days of `month`, ascending."""


@dataclass(frozen=True)
class DaysOfMonth(DayRule):
    values: tuple[int, ...]

    def days(self, year: int, month: int) -> Sequence[int]:
        last = calendar.monthrange(year, month)[1]
        return [d for d in self.values if d <= last]


@dataclass(frozen=True)
class LastDayOfMonth(DayRule):
    def days(self, year: int, month: int) -> Sequence[int]:
        return [calendar.monthrange(year, month)[1]]


@dataclass(frozen=True)
class NearestWeekday(DayRule):
    """`15W`: the Monday-Friday day nearest the 15th, within the month."""

    day: int

    def days(self, year: int, month: int) -> Sequence[int]:
        last = calendar.monthrange(year, month)[1]
        if self.day > last:
            return []
        weekday = calendar.weekday(year, month, self.day)  # Monday 0 .. Sunday 6
        if weekday == calendar.SATURDAY:
            return [self.day - 1 if self.day > 1 else self.day + 2]
        if weekday == calendar.SUNDAY:
            return [self.day + 1 if self.day < last else self.day - 2]
        return [self.day]


@dataclass(frozen=True)
class DaysOfWeek(DayRule):
    """Days whose weekday (1 = Sunday .. 7 = Saturday) is one of `values`."""

    values: tuple[int, ...]

    def days(self, year: int, month: int) -> Sequence[int]:
        first = aws_weekday(year, month, 1)
        last = calendar.monthrange(year, month)[1]
        return [d for d in range(1, last + 1) if (first + d - 2) % 7 + 1 in self.values]


@dataclass(frozen=True)
class LastWeekdayOfMonth(DayRule):
    """`6L`: the last Friday of the month."""

    weekday: int

    def days(self, year: int, month: int) -> Sequence[int]:
        last = calendar.monthrange(year, month)[1]
        return [last - (aws_weekday(year, month, last) - self.weekday) % 7]


@dataclass(frozen=True)
class NthWeekdayOfMonth(DayRule):
    """`3#2`: the second Tuesday of the month."""

    weekday: int
    nth: int

    def days(self, year: int, month: int) -> Sequence[int]:
        first = 1 + (self.weekday - aws_weekday(year, month, 1)) % 7
        day = first + 7 * (self.nth - 1)
        return [day] if day <= calendar.monthrange(year, month)[1] else []


def aws_weekday(year: int, month: int, day: int) -> int:
    """EventBridge's day-of-week number: 1 = Sunday .. 7 = Saturday."""
    return (calendar.weekday(year, month, day) + 1) % 7 + 1
