"""EventBridge schedule expressions: next fire times and refusals, tested from tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from abatch.scheduler.cron import (
    CronSchedule,
    RateSchedule,
    is_aws_compatible,
    parse_schedule,
)
from abatch.scheduler.cron_days import aws_weekday


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (expression, after, the next fire time strictly after it). Calendar facts used below:
# 2024-01-01 is a Monday; 2024 is a leap year; 2024-06-01 is a Saturday; 2024-09-01 a Sunday.
NEXT = [
    # plain values, *, and "strictly after"
    ("cron(0 2 * * ? *)", "2024-01-01T01:59", "2024-01-01T02:00"),
    ("cron(0 2 * * ? *)", "2024-01-01T02:00", "2024-01-02T02:00"),
    ("cron(0 2 * * ? *)", "2024-01-01T02:00:30", "2024-01-02T02:00"),
    ("cron(0 2 * * ? *)", "2024-01-01T01:59:59.999999", "2024-01-01T02:00"),
    ("cron(* * * * ? *)", "2024-01-01T10:00", "2024-01-01T10:01"),
    ("cron(* * * * ? *)", "2024-01-01T10:00:01", "2024-01-01T10:01"),
    ("cron(15 12 * * ? *)", "2024-12-31T12:15", "2025-01-01T12:15"),
    ("cron(59 23 31 12 ? *)", "2024-12-31T23:59", "2025-12-31T23:59"),
    # lists, ranges, steps
    ("cron(0 10,15 * * ? *)", "2024-01-01T10:00", "2024-01-01T15:00"),
    ("cron(0 10,15 * * ? *)", "2024-01-01T15:00", "2024-01-02T10:00"),
    ("cron(0/15 * * * ? *)", "2024-01-01T03:07", "2024-01-01T03:15"),
    ("cron(0/15 * * * ? *)", "2024-01-01T03:45", "2024-01-01T04:00"),
    ("cron(*/20 * * * ? *)", "2024-01-01T03:41", "2024-01-01T04:00"),
    ("cron(1/10 * * * ? *)", "2024-01-01T03:01", "2024-01-01T03:11"),
    ("cron(1/10 * * * ? *)", "2024-01-01T03:51", "2024-01-01T04:01"),
    ("cron(10-40/10 * * * ? *)", "2024-01-01T03:40", "2024-01-01T04:10"),
    ("cron(0/5 8-17 ? * MON-FRI *)", "2024-01-05T17:55", "2024-01-08T08:00"),
    ("cron(0 8 1 * ? *)", "2024-01-01T08:00", "2024-02-01T08:00"),
    ("cron(0 0 1-3 * ? *)", "2024-01-03T00:00", "2024-02-01T00:00"),
    ("cron(0 0 1/10 * ? *)", "2024-01-21T00:00", "2024-01-31T00:00"),
    ("cron(0 0 1 */4 ? *)", "2024-01-01T00:00", "2024-05-01T00:00"),
    ("cron(30 22-2 * * ? *)", "2024-01-01T23:30", "2024-01-02T00:30"),  # wraps midnight
    ("cron(30 22-2 * * ? *)", "2024-01-02T02:30", "2024-01-02T22:30"),
    # month and weekday names (any case), day-of-week numbers with 1 = Sunday
    ("cron(0 0 1 JAN,JUL ? *)", "2024-01-01T00:00", "2024-07-01T00:00"),
    ("cron(0 0 1 mar-may ? *)", "2024-05-01T00:00", "2025-03-01T00:00"),
    ("cron(0 18 ? * MON-FRI *)", "2024-01-05T18:00", "2024-01-08T18:00"),
    ("cron(0 0 ? * 1 *)", "2024-01-01T00:00", "2024-01-07T00:00"),  # 1 is Sunday
    ("cron(0 0 ? * 7 *)", "2024-01-01T00:00", "2024-01-06T00:00"),  # 7 is Saturday
    ("cron(0 0 ? * SUN,sat *)", "2024-01-06T00:00", "2024-01-07T00:00"),
    ("cron(0 0 ? * FRI-MON *)", "2024-01-02T00:00", "2024-01-05T00:00"),  # wraps the week
    ("cron(0 0 ? * FRI-MON *)", "2024-01-07T00:00", "2024-01-08T00:00"),
    ("cron(0 0 ? * * *)", "2024-01-01T00:00", "2024-01-02T00:00"),
    # L: last day of the month (leap and common Februaries), last day of the week
    ("cron(0 0 L * ? *)", "2024-01-01T00:00", "2024-01-31T00:00"),
    ("cron(0 0 L * ? *)", "2024-01-31T00:00", "2024-02-29T00:00"),
    ("cron(0 0 L * ? *)", "2023-02-01T00:00", "2023-02-28T00:00"),
    ("cron(0 0 L * ? *)", "2024-04-01T00:00", "2024-04-30T00:00"),
    ("cron(0 0 ? * L *)", "2024-01-01T00:00", "2024-01-06T00:00"),  # Saturday
    # nL: the last given weekday of the month
    ("cron(0 0 ? * 6L *)", "2024-01-01T00:00", "2024-01-26T00:00"),  # last Friday
    ("cron(0 0 ? * 6L *)", "2024-01-26T00:00", "2024-02-23T00:00"),
    ("cron(0 0 ? * FRIL *)", "2024-03-01T00:00", "2024-03-29T00:00"),
    ("cron(0 0 ? * 5L *)", "2024-02-01T00:00", "2024-02-29T00:00"),  # a Thursday, leap day
    ("cron(0 0 ? * 1L *)", "2024-03-01T00:00", "2024-03-31T00:00"),  # month ends on Sunday
    # W: the weekday nearest a day, never leaving the month
    ("cron(0 0 15W * ? *)", "2024-01-01T00:00", "2024-01-15T00:00"),  # a Monday already
    ("cron(0 0 15W * ? *)", "2024-06-01T00:00", "2024-06-14T00:00"),  # Saturday -> Friday
    ("cron(0 0 15W * ? *)", "2024-09-01T00:00", "2024-09-16T00:00"),  # Sunday -> Monday
    ("cron(0 0 1W * ? *)", "2024-06-01T00:00", "2024-06-03T00:00"),  # Sat 1st -> Mon 3rd
    ("cron(0 0 1W * ? *)", "2024-09-01T00:00", "2024-09-02T00:00"),  # Sun 1st -> Mon 2nd
    ("cron(0 0 31W * ? *)", "2024-03-01T00:00", "2024-03-29T00:00"),  # Sun 31st -> Fri 29th
    ("cron(0 0 30W * ? *)", "2024-11-01T00:00", "2024-11-29T00:00"),  # Sat 30th -> Fri 29th
    ("cron(0 0 31W * ? *)", "2024-04-01T00:00", "2024-05-31T00:00"),  # no 31st in April
    # #: the nth given weekday of the month
    ("cron(0 0 ? * 3#2 *)", "2024-01-01T00:00", "2024-01-09T00:00"),  # second Tuesday
    ("cron(0 0 ? * 3#2 *)", "2024-01-09T00:00", "2024-02-13T00:00"),
    ("cron(0 0 ? * MON#1 *)", "2024-01-01T00:00", "2024-02-05T00:00"),
    ("cron(0 0 ? * 2#1 *)", "2023-12-31T23:59", "2024-01-01T00:00"),
    ("cron(0 0 ? * 6#5 *)", "2024-01-01T00:00", "2024-03-29T00:00"),  # first 5-Friday month
    ("cron(0 0 ? * 5#5 *)", "2024-01-01T00:00", "2024-02-29T00:00"),  # leap day is 5th Thu
    # leap years: Feb 29 only, and a century that is not a leap year
    ("cron(0 0 29 FEB ? *)", "2024-03-01T00:00", "2028-02-29T00:00"),
    ("cron(0 0 29 2 ? *)", "2096-03-01T00:00", "2104-02-29T00:00"),  # 2100 is not leap
    ("cron(0 0 30 FEB ? *)", "2024-01-01T00:00", None),  # never
    ("cron(0 0 31 4 ? *)", "2024-01-01T00:00", None),
    # years and the year range
    ("cron(0 12 1 1 ? 2030)", "2024-06-01T00:00", "2030-01-01T12:00"),
    ("cron(0 12 1 1 ? 2030)", "2030-01-01T12:00", None),
    ("cron(0 0 1 1 ? 2025-2027)", "2025-01-01T00:00", "2026-01-01T00:00"),
    ("cron(0 0 1 1 ? 2020/5)", "2024-01-01T00:00", "2025-01-01T00:00"),
    ("cron(0 0 1 1 ? *)", "1960-05-05T00:00", "1970-01-01T00:00"),
    ("cron(59 23 31 12 ? *)", "2199-12-31T23:58", "2199-12-31T23:59"),
    ("cron(59 23 31 12 ? *)", "2199-12-31T23:59", None),
    ("cron(* * * * ? *)", "2250-01-01T00:00", None),
    ("cron(0 0 ? * 3#2 2199)", "2199-12-14T00:00", None),  # 2199-12-10 was the last one
    # rates: anchored at `after` when no anchor is given
    ("rate(5 minutes)", "2024-01-01T00:00", "2024-01-01T00:05"),
    ("rate(1 minute)", "2024-01-01T00:00:30", "2024-01-01T00:01:30"),
    ("rate(1 hour)", "2024-01-01T00:00", "2024-01-01T01:00"),
    ("rate(12 hours)", "2024-01-01T00:00", "2024-01-01T12:00"),
    ("rate(1 day)", "2024-02-28T09:00", "2024-02-29T09:00"),
    ("rate(7 days)", "2024-01-01T00:00", "2024-01-08T00:00"),
    ("rate(1 second)", "2024-01-01T00:00", "2024-01-01T00:00:01"),
    ("rate(30 seconds)", "2024-01-01T00:00", "2024-01-01T00:00:30"),
]


@pytest.mark.parametrize(("expr", "after", "expected"), NEXT)
def test_next_after(expr: str, after: str, expected: str | None) -> None:
    got = parse_schedule(expr).next_after(at(after))
    assert got == (at(expected) if expected is not None else None)
    if got is not None:
        assert got.tzinfo is UTC and got > at(after)


# (expression, anchor, after, expected): a rate fires at anchor + k * period, whole k.
ANCHORED = [
    ("rate(10 minutes)", "2024-01-01T00:00", "2024-01-01T00:00", "2024-01-01T00:10"),
    ("rate(10 minutes)", "2024-01-01T00:00", "2024-01-01T00:09:59", "2024-01-01T00:10"),
    ("rate(10 minutes)", "2024-01-01T00:00", "2024-01-01T00:10", "2024-01-01T00:20"),
    ("rate(10 minutes)", "2024-01-01T00:03", "2024-01-01T05:00", "2024-01-01T05:03"),
    # before the anchor: the anchor itself is a tick, and so are those before it
    ("rate(10 minutes)", "2024-01-01T00:03", "2023-12-31T23:55", "2024-01-01T00:03"),
    ("rate(10 minutes)", "2024-01-01T00:03", "2023-12-31T23:40", "2023-12-31T23:43"),
    ("rate(1 day)", "2024-01-01T06:00", "2024-03-10T07:00", "2024-03-11T06:00"),
    ("rate(2 seconds)", "2024-01-01T00:00:01", "2024-01-01T00:00:04", "2024-01-01T00:00:05"),
    ("cron(0 2 * * ? *)", "2020-01-01T00:17", "2024-01-01T00:00", "2024-01-01T02:00"),
]


@pytest.mark.parametrize(("expr", "anchor", "after", "expected"), ANCHORED)
def test_next_after_with_anchor(expr: str, anchor: str, after: str, expected: str) -> None:
    assert parse_schedule(expr).next_after(at(after), at(anchor)) == at(expected)


def test_times_in_other_zones_are_converted_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    after = datetime(2024, 1, 1, 3, 30, tzinfo=plus_two)  # 01:30 UTC
    assert parse_schedule("cron(0 2 * * ? *)").next_after(after) == at("2024-01-01T02:00")


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse_schedule("rate(5 minutes)").next_after(datetime(2024, 1, 1))


def test_a_long_search_steps_by_fields() -> None:
    """A schedule that matches once a century, searched from 1970, answers at once."""
    schedule = parse_schedule("cron(0 0 29 FEB ? 2100-2199)")
    assert schedule.next_after(at("1970-01-01T00:00")) == at("2104-02-29T00:00")
    never = parse_schedule("cron(0 0 31 2,4,6,9,11 ? *)")
    assert never.next_after(at("1970-01-01T00:00")) is None


def test_successive_fires_of_a_weekday_schedule() -> None:
    schedule = parse_schedule("cron(0/30 9-10 ? * MON-FRI *)")
    t, fired = at("2024-01-05T09:45"), []  # a Friday
    for _ in range(5):
        nxt = schedule.next_after(t)
        assert nxt is not None
        fired.append(nxt)
        t = nxt
    assert fired == [
        at(s)
        for s in (
            "2024-01-05T10:00",
            "2024-01-05T10:30",
            "2024-01-08T09:00",
            "2024-01-08T09:30",
            "2024-01-08T10:00",
        )
    ]


def test_parsed_shapes() -> None:
    rate = parse_schedule(" rate(5 minutes) ")
    assert rate == RateSchedule("rate(5 minutes)", timedelta(minutes=5), "minute")
    cron = parse_schedule("cron(0 2 * * ? *)")
    assert isinstance(cron, CronSchedule)
    assert cron.minutes == (0,) and cron.hours == (2,) and len(cron.years) == 230


@pytest.mark.parametrize(
    ("expr", "aws"),
    [
        ("rate(5 minutes)", True),
        ("rate(1 day)", True),
        ("cron(0 2 * * ? *)", True),
        ("rate(1 second)", False),
        ("rate(60 seconds)", False),
    ],
)
def test_seconds_are_an_abatch_extension(expr: str, aws: bool) -> None:
    assert is_aws_compatible(expr) is aws
    assert parse_schedule(expr).aws_compatible is aws
    if aws:
        assert parse_schedule(expr, strict=True).expression == expr
    else:
        with pytest.raises(ValueError, match=r"abatch extension.*\(strict mode\)"):
            parse_schedule(expr, strict=True)


def test_aws_weekday_numbers() -> None:
    assert [aws_weekday(2024, 1, d) for d in range(1, 8)] == [2, 3, 4, 5, 6, 7, 1]


# (expression, a fragment of the ValueError message)
INVALID = [
    ("", "is empty"),
    ("   ", "is empty"),
    ("every 5 minutes", "is neither cron(...) nor rate(...)"),
    ("CRON(0 2 * * ? *)", "is neither cron(...) nor rate(...)"),
    ("cron 0 2 * * ? *", "is neither cron(...) nor rate(...)"),
    # rate
    ("rate(1 minutes)", "rate: with the value 1 the unit is 'minute', not 'minutes'"),
    ("rate(5 minute)", "rate: with the value 5 the unit is 'minutes', not 'minute'"),
    ("rate(1 hours)", "the unit is 'hour', not 'hours'"),
    ("rate(2 day)", "the unit is 'days', not 'day'"),
    ("rate(1 seconds)", "the unit is 'second', not 'seconds'"),
    ("rate(0 minutes)", "rate: the value must be a whole number of at least 1, not '0'"),
    ("rate(-5 minutes)", "at least 1, not '-5'"),
    ("rate(1.5 hours)", "at least 1, not '1.5'"),
    ("rate(five minutes)", "at least 1, not 'five'"),
    ("rate(5 weeks)", "rate: unknown unit 'weeks'; use minute(s), hour(s) or day(s)"),
    ("rate(5 Minutes)", "unknown unit 'Minutes'"),
    ("rate(5)", "rate: write rate(value unit), e.g. rate(5 minutes)"),
    ("rate()", "rate: write rate(value unit)"),
    ("rate(5 minutes now)", "rate: write rate(value unit)"),
    ("rate(99999999999999 days)", "too long a period"),
    # cron: shape and the ? rule
    (
        "cron(0 2 * * ?)",
        "cron: needs 6 fields (Minutes Hours Day-of-month Month Day-of-week Year), got 5",
    ),
    ("cron(0 2 * * ? * *)", "needs 6 fields"),
    ("cron()", "got 0"),
    ("cron(0 2 * * * *)", "cron: one of day-of-month and day-of-week must be '?'"),
    ("cron(0 2 1 * MON *)", "one of day-of-month and day-of-week must be '?'"),
    ("cron(0 2 ? * ? *)", "cron: only one of day-of-month and day-of-week can be '?'"),
    ("cron(? 2 * * ? *)", "cron minutes: '?' is allowed only in day-of-month or day-of-week"),
    ("cron(0 2 * ? ? *)", "cron month: '?' is allowed only in day-of-month or day-of-week"),
    ("cron(0 2 ?,1 * ? *)", "cron day-of-month: '?' stands alone as the whole field"),
    # ranges of values
    ("cron(60 * * * ? *)", "cron minutes: '60' is out of range 0-59"),
    ("cron(0 24 * * ? *)", "cron hours: '24' is out of range 0-23"),
    ("cron(0 0 0 * ? *)", "cron day-of-month: '0' is out of range 1-31"),
    ("cron(0 0 32 * ? *)", "cron day-of-month: '32' is out of range 1-31"),
    ("cron(0 0 1 13 ? *)", "cron month: '13' is out of range 1-12"),
    ("cron(0 0 ? * 8 *)", "cron day-of-week: '8' is out of range 1-7"),
    ("cron(0 0 ? * 0 *)", "cron day-of-week: '0' is out of range 1-7"),
    ("cron(0 0 1 1 ? 1969)", "cron year: '1969' is out of range 1970-2199"),
    ("cron(0 0 1 1 ? 2200)", "cron year: '2200' is out of range 1970-2199"),
    ("cron(0 0 1 JANUARY ? *)", "cron month: 'JANUARY' is not a valid value; use 1-12 or JAN-DEC"),
    (
        "cron(0 0 ? * MONDAY *)",
        "cron day-of-week: 'MONDAY' is not a valid value; use 1-7 or SUN-SAT",
    ),
    ("cron(x 0 * * ? *)", "cron minutes: 'x' is not a valid value; use 0-59"),
    ("cron(0 0 1 1 ? 2030-2020)", "cron year: range '2030-2020' runs backwards"),
    ("cron(-5 0 * * ? *)", "cron minutes: '-5' is not a valid range"),
    ("cron(5- 0 * * ? *)", "cron minutes: '5-' is not a valid range"),
    ("cron(1,,2 0 * * ? *)", "cron minutes: '1,,2' has an empty entry in its list"),
    ("cron(1, 0 * * ? *)", "has an empty entry"),
    # steps
    ("cron(0/0 * * * ? *)", "cron minutes: the step in '0/0' must be a whole number 1-60"),
    ("cron(0/61 * * * ? *)", "the step in '0/61' must be a whole number 1-60"),
    ("cron(0/x * * * ? *)", "the step in '0/x'"),
    ("cron(0/ * * * ? *)", "the step in '0/'"),
    ("cron(0 0 ? * 1/2 *)", "cron day-of-week: '1/2': '/' is not allowed here"),
    # L, W and #
    ("cron(L 0 * * ? *)", "cron minutes: 'L' is allowed only in day-of-month or day-of-week"),
    ("cron(0 0 * 5L ? *)", "cron month: '5L': 'L' is allowed only in"),
    ("cron(0 15W * * ? *)", "cron hours: '15W': 'W' is allowed only in day-of-month"),
    ("cron(0 0 ? * 3W *)", "cron day-of-week: '3W': 'W' is allowed only in day-of-month"),
    ("cron(0 0 3#2 * ? *)", "cron day-of-month: '3#2': '#' is allowed only in day-of-week"),
    ("cron(0 0 1,L * ? *)", "cron day-of-month: '1,L': L and W stand alone"),
    ("cron(0 0 L-3 * ? *)", "cron day-of-month: 'L-3': L and W stand alone"),
    ("cron(0 0 1-15W * ? *)", "cron day-of-month: '1-15W': W follows one day, e.g. 15W"),
    ("cron(0 0 LW * ? *)", "W follows one day"),
    ("cron(0 0 32W * ? *)", "cron day-of-month: '32' is out of range 1-31"),
    ("cron(0 0 0W * ? *)", "'0' is out of range 1-31"),
    ("cron(0 0 ? * L,1 *)", "cron day-of-week: 'L' stands alone as the whole field, e.g. L"),
    ("cron(0 0 ? * 1,6L *)", "cron day-of-week: '1,6L': L stands alone"),
    ("cron(0 0 ? * 8L *)", "cron day-of-week: '8' is out of range 1-7"),
    ("cron(0 0 ? * 3#6 *)", "cron day-of-week: '3#6': the number after '#' must be 1-5"),
    ("cron(0 0 ? * 3#0 *)", "the number after '#' must be 1-5"),
    ("cron(0 0 ? * 3# *)", "the number after '#' must be 1-5"),
    ("cron(0 0 ? * #2 *)", "cron day-of-week: a value is missing"),
    ("cron(0 0 ? * 3#1,6#3 *)", "cron day-of-week: '3#1,6#3': '#' allows one expression only"),
    ("cron(0 0 ? * 8#1 *)", "cron day-of-week: '8' is out of range 1-7"),
]


@pytest.mark.parametrize(("expr", "fragment"), INVALID)
def test_invalid_expressions(expr: str, fragment: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_schedule(expr)
    assert fragment in str(caught.value)


STEPPED = [
    "cron(0/7 */5 * * ? *)",
    "cron(59 23 L * ? *)",
    "cron(30 9 15W * ? *)",
    "cron(0 12 ? * 6L *)",
    "cron(15 6 ? * 2#1 *)",
    "cron(0/20 22-2 ? * FRI-MON *)",
    "cron(5 0 1,15,28-31 FEB,MAR ? *)",
]


@pytest.mark.parametrize("expr", STEPPED)
def test_stepping_agrees_with_a_minute_by_minute_scan(expr: str) -> None:
    """Field-by-field stepping never skips a match that a plain scan of minutes finds."""
    schedule = parse_schedule(expr)
    assert isinstance(schedule, CronSchedule)

    days: dict[tuple[int, int], set[int]] = {}

    def matches(t: datetime) -> bool:
        if (t.year, t.month) not in days:
            days[t.year, t.month] = set(schedule.days.days(t.year, t.month))
        return (
            t.minute in schedule.minutes
            and t.hour in schedule.hours
            and t.month in schedule.months
            and t.year in schedule.years
            and t.day in days[t.year, t.month]
        )

    for start in ("2024-02-26T21:13", "2023-12-31T23:59", "2024-03-29T11:59"):
        t = at(start)
        for _ in range(4):
            got = schedule.next_after(t)
            assert got is not None
            scan = t.replace(second=0) + timedelta(minutes=1)
            while not matches(scan):
                scan += timedelta(minutes=1)
            assert got == scan, (expr, t)
            t = got
