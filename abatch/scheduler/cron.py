"""EventBridge schedule expressions: parse `cron(...)` and `rate(...)`, compute fire times.

Pure: no clock, no I/O. Time comes in as a timezone-aware `datetime` and every answer is in
UTC, as EventBridge's are. `parse_schedule(expr)` returns a `Schedule` or raises `ValueError`
with a message that names the field and what is wrong; `Schedule.next_after(t)` is the first
fire time strictly after `t`, or None when there is none (the year range is used up).

`rate(value unit)`: value a whole number >= 1; unit `minute`, `hour` or `day` with 1, and
`minutes`, `hours` or `days` otherwise (AWS refuses `rate(1 minutes)` and `rate(5 minute)`).
A rate fires at `anchor + k * period`; the runtime anchors it at the last fire (or its start).
abatch extension: `second` / `seconds`, for fast local tests; `aws_compatible` is False for
such a schedule and `parse_schedule(expr, strict=True)` refuses it.

`cron(Minutes Hours Day-of-month Month Day-of-week Year)`, EventBridge's rules:

- `,` lists, `-` ranges, `*` every value, `/` steps (`0/15`, `*/15`, `10-40/10`); a range
  whose start is past its end wraps around (`FRI-MON`, `22-2`), as in Quartz, whose syntax
  EventBridge follows; a year range cannot wrap. Day-of-week takes no `/` (AWS lists
  `, - * ? L #` there).
- exactly one of day-of-month and day-of-week is `?`; `?` is allowed nowhere else.
- months 1-12 or JAN-DEC; days of the week 1-7 with 1 = SUNDAY, or SUN-SAT; names in any case.
- day-of-month: `L` the last day of the month; `15W` the weekday (Mon-Fri) nearest the 15th,
  never leaving the month (`1W` on a Saturday is Monday the 3rd; no fire in a month that has
  no such day, as for a plain `31`).
- day-of-week: `L` alone is the last day of the week (7, Saturday); `6L` the last Friday of
  the month; `3#2` the second Tuesday (a month without a fifth Tuesday has no `3#5`).
  `L`, `W` and `#` forms stand alone, not in lists or ranges.
- years 1970-2199.

`next_after` steps field by field (year, month, day, hour, minute), never minute by minute,
so an expression that matches once a century is as cheap as one that matches every minute.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .cron_days import (
    DayRule,
    DaysOfMonth,
    DaysOfWeek,
    LastDayOfMonth,
    LastWeekdayOfMonth,
    NearestWeekday,
    NthWeekdayOfMonth,
)

MIN_YEAR, MAX_YEAR = 1970, 2199
EXAMPLES = "e.g. cron(0 2 * * ? *) or rate(10 minutes)"

_DIGITS = re.compile(r"[0-9]+")
_RATE = re.compile(r"rate\((.*)\)", re.DOTALL)
_CRON = re.compile(r"cron\((.*)\)", re.DOTALL)
_RATE_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "second": 1}
_AWS_UNITS = "minute(s), hour(s) or day(s)"
_FIELDS_HELP = "Minutes Hours Day-of-month Month Day-of-week Year"
_MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
MONTHS = {name: n for n, name in enumerate(_MONTH_NAMES, 1)}
WEEKDAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


class Schedule(ABC):
    """A parsed schedule expression."""

    expression: str

    @property
    @abstractmethod
    def aws_compatible(self) -> bool:
        """False when the expression uses an abatch extension that AWS would refuse."""

    @abstractmethod
    def next_after(self, t: datetime, anchor: datetime | None = None) -> datetime | None:
        """The first fire time strictly after `t` (UTC), or None when there is none.

        `anchor` places a rate schedule's ticks (`anchor + k * period`, any whole k); it
        defaults to `t`, so the answer is then `t + period`. A cron schedule ignores it.
        """


@dataclass(frozen=True)
class RateSchedule(Schedule):
    """`rate(value unit)`: every `period`, counted from an anchor."""

    expression: str
    period: timedelta
    unit: str  # as written, singular: minute, hour, day or second (abatch's extension)

    @property
    def aws_compatible(self) -> bool:
        return self.unit != "second"

    def next_after(self, t: datetime, anchor: datetime | None = None) -> datetime | None:
        t = _utc(t)
        start = t if anchor is None else _utc(anchor)
        ticks = (t - start) // self.period + 1  # floor division: ticks before the anchor too
        try:
            return start + ticks * self.period
        except OverflowError:
            return None


@dataclass(frozen=True)
class CronSchedule(Schedule):
    """`cron(...)`: sorted allowed values per field and a rule for the days of a month."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: DayRule
    months: tuple[int, ...]
    years: tuple[int, ...]

    @property
    def aws_compatible(self) -> bool:
        return True

    def next_after(self, t: datetime, anchor: datetime | None = None) -> datetime | None:
        t = _utc(t)
        if t.year > MAX_YEAR:
            return None
        start = t.replace(second=0, microsecond=0) + timedelta(minutes=1)
        year, month, day = start.year, start.month, start.day
        hour, minute = start.hour, start.minute
        # Each pass either answers or moves a field up to its next candidate (resetting the
        # smaller ones); a field that runs out carries into the next larger one.
        while True:
            y = _first_at_least(self.years, year)
            if y is None:
                return None
            if y != year:
                year, month, day, hour, minute = y, 1, 1, 0, 0
            m = _first_at_least(self.months, month)
            if m is None:
                year, month, day, hour, minute = year + 1, 1, 1, 0, 0
                continue
            if m != month:
                month, day, hour, minute = m, 1, 0, 0
            d = _first_at_least(self.days.days(year, month), day)
            if d is None:
                month, day, hour, minute = month + 1, 1, 0, 0
                continue
            if d != day:
                day, hour, minute = d, 0, 0
            h = _first_at_least(self.hours, hour)
            if h is None:
                day, hour, minute = day + 1, 0, 0
                continue
            if h != hour:
                hour, minute = h, 0
            mi = _first_at_least(self.minutes, minute)
            if mi is None:
                hour, minute = hour + 1, 0
                continue
            return datetime(year, month, day, hour, mi, tzinfo=UTC)


# ---------------------------------------------------------------------- parsing


def parse_schedule(expr: str, *, strict: bool = False) -> Schedule:
    """Parse a `cron(...)` or `rate(...)` expression; `strict` refuses abatch extensions."""
    text = expr.strip()
    if not text:
        raise ValueError(f"is empty: write a cron(...) or rate(...) expression, {EXAMPLES}")
    if match := _RATE.fullmatch(text):
        schedule: Schedule = _parse_rate(text, match.group(1))
    elif match := _CRON.fullmatch(text):
        schedule = _parse_cron(text, match.group(1))
    else:
        raise ValueError(f"{text!r} is neither cron(...) nor rate(...), {EXAMPLES}")
    if strict and not schedule.aws_compatible:
        raise ValueError(
            "rate: seconds are an abatch extension; AWS's smallest rate unit is the minute "
            "(strict mode)"
        )
    return schedule


def is_aws_compatible(expr: str) -> bool:
    """Whether AWS would accept `expr` too (it uses no abatch extension); ValueError if bad."""
    return parse_schedule(expr).aws_compatible


def _parse_rate(text: str, inner: str) -> RateSchedule:
    parts = inner.split()
    if len(parts) != 2:
        raise ValueError(f"rate: write rate(value unit), e.g. rate(5 minutes), not {text!r}")
    value_text, unit = parts
    if not _DIGITS.fullmatch(value_text) or int(value_text) < 1:
        raise ValueError(
            f"rate: the value must be a whole number of at least 1, not {value_text!r}"
        )
    value = int(value_text)
    singular = unit.removesuffix("s")
    if singular not in _RATE_SECONDS:
        raise ValueError(
            f"rate: unknown unit {unit!r}; use {_AWS_UNITS} (or second(s), an abatch extension)"
        )
    if value == 1 and unit != singular:
        raise ValueError(f"rate: with the value 1 the unit is {singular!r}, not {unit!r}")
    if value != 1 and unit == singular:
        raise ValueError(
            f"rate: with the value {value} the unit is {singular + 's'!r}, not {unit!r}"
        )
    try:
        period = timedelta(seconds=value * _RATE_SECONDS[singular])
    except OverflowError:
        raise ValueError(f"rate: {value} {unit} is too long a period") from None
    return RateSchedule(text, period, singular)


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: Mapping[str, int]
    wraps: bool = True

    def error(self, message: str) -> ValueError:
        return ValueError(f"cron {self.name}: {message}")

    def value(self, token: str) -> int:
        if _DIGITS.fullmatch(token):
            number = int(token)
            if not self.low <= number <= self.high:
                raise self.error(f"{token!r} is out of range {self.low}-{self.high}")
            return number
        if token.upper() in self.names:
            return self.names[token.upper()]
        if not token:
            raise self.error("a value is missing")
        special = _special(token)
        if special is not None:
            where, example = _SPECIALS[special]
            said = f"{special!r}" if token == special else f"{token!r}: {special!r}"
            if self.name in where.split(" or "):
                raise self.error(f"{said} stands alone as the whole field, e.g. {example}")
            raise self.error(f"{said} is allowed only in {where}")
        raise self.error(f"{token!r} is not a valid value; use {self.values_help()}")

    def values_help(self) -> str:
        if self.names:
            first, last = next(iter(self.names)), list(self.names)[-1]
            return f"{self.low}-{self.high} or {first}-{last}"
        return f"{self.low}-{self.high}"


_MINUTES = _Field("minutes", 0, 59, {})
_HOURS = _Field("hours", 0, 23, {})
_DOM = _Field("day-of-month", 1, 31, {})
_MONTH = _Field("month", 1, 12, MONTHS)
_DOW = _Field("day-of-week", 1, 7, WEEKDAYS)
_YEAR = _Field("year", MIN_YEAR, MAX_YEAR, {}, wraps=False)


def _parse_cron(text: str, inner: str) -> CronSchedule:
    fields = inner.split()
    if len(fields) != 6:
        raise ValueError(f"cron: needs 6 fields ({_FIELDS_HELP}), got {len(fields)} in {text!r}")
    minutes, hours, dom, month, dow, year = fields
    if dom == "?" and dow == "?":
        raise ValueError("cron: only one of day-of-month and day-of-week can be '?'")
    if dom != "?" and dow != "?":
        raise ValueError(
            "cron: one of day-of-month and day-of-week must be '?' "
            f"(e.g. cron(0 2 {dom} * ? *) or cron(0 2 ? * {dow} *))"
        )
    days = _day_of_month(dom) if dow == "?" else _day_of_week(dow)
    return CronSchedule(
        expression=text,
        minutes=_values(minutes, _MINUTES),
        hours=_values(hours, _HOURS),
        days=days,
        months=_values(month, _MONTH),
        years=_values(year, _YEAR),
    )


def _values(text: str, field: _Field, *, steps: bool = True) -> tuple[int, ...]:
    """A field of `,` `-` `*` `/` as its sorted allowed values."""
    found: set[int] = set()
    for part in text.split(","):
        if not part:
            raise field.error(f"{text!r} has an empty entry in its list")
        base, slash, step_text = part.partition("/")
        if slash and not steps:
            raise field.error(f"{part!r}: '/' is not allowed here (AWS allows , - * ? L #)")
        step = _step(part, step_text, field) if slash else 1
        if base == "*":
            start, end = field.low, field.high
        elif "-" in base:
            first, _, last = base.partition("-")
            if not first or not last:
                raise field.error(
                    f"{base!r} is not a valid range; write first-last, e.g. "
                    f"{field.low}-{field.high}"
                )
            start, end = field.value(first), field.value(last)
            if start > end and not field.wraps:
                raise field.error(f"range {base!r} runs backwards")
        else:
            start = field.value(base)
            end = field.high if slash else start
        if start <= end:
            run = list(range(start, end + 1))
        else:  # a wrapping range: FRI-MON is FRI, SAT, SUN, MON
            run = list(range(start, field.high + 1)) + list(range(field.low, end + 1))
        found.update(run[::step])
    return tuple(sorted(found))


def _step(part: str, text: str, field: _Field) -> int:
    most = field.high - field.low + 1
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= most:
        raise field.error(f"the step in {part!r} must be a whole number 1-{most}")
    return int(text)


def _day_of_month(text: str) -> DayRule:
    if text == "L":
        return LastDayOfMonth()
    if text.endswith("W"):
        if not _DIGITS.fullmatch(text[:-1]):
            raise _DOM.error(f"{text!r}: W follows one day, e.g. 15W, and stands alone")
        return NearestWeekday(_DOM.value(text[:-1]))
    if "L" in text or "W" in text:
        raise _DOM.error(f"{text!r}: L and W stand alone (L, or a day and W as in 15W)")
    return DaysOfMonth(_values(text, _DOM))


def _day_of_week(text: str) -> DayRule:
    if "#" in text:
        weekday, _, nth = text.partition("#")
        if "," in text or "-" in text:
            raise _DOW.error(f"{text!r}: '#' allows one expression only, e.g. 3#2")
        if not _DIGITS.fullmatch(nth) or not 1 <= int(nth) <= 5:
            raise _DOW.error(f"{text!r}: the number after '#' must be 1-5")
        return NthWeekdayOfMonth(_DOW.value(weekday), int(nth))
    if text == "L":
        return DaysOfWeek((7,))  # the last day of the week: Saturday
    if text.upper().endswith("L"):
        weekday = text[:-1]
        if "," in weekday or "-" in weekday or "/" in weekday:
            raise _DOW.error(f"{text!r}: L stands alone (L, or a day and L as in 6L)")
        return LastWeekdayOfMonth(_DOW.value(weekday))
    return DaysOfWeek(_values(text, _DOW, steps=False))


_SPECIALS = {
    "?": ("day-of-month or day-of-week", "?"),
    "L": ("day-of-month or day-of-week", "L"),
    "W": ("day-of-month", "15W"),
    "#": ("day-of-week", "3#2"),
}


def _special(token: str) -> str | None:
    """Which of EventBridge's special characters `token` is a misplaced use of, if any."""
    if token == "?":
        return "?"
    if "#" in token:
        return "#"
    if token[-1] in "LW" and (len(token) == 1 or _DIGITS.fullmatch(token[:-1])):
        return token[-1]
    return None


def _first_at_least(values: Sequence[int], lowest: int) -> int | None:
    index = bisect_left(values, lowest)
    return values[index] if index < len(values) else None


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None or t.tzinfo.utcoffset(t) is None:
        raise ValueError("schedule times must be timezone-aware datetimes")
    return t.astimezone(UTC)
