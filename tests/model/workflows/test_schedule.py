"""Cron schedule arithmetic: fire times across DST, missed-fire counts, the scheduler's decision."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook.errors import SpecError
from runbook.model.workflows.schedule import (
    CatchUp,
    Missed,
    ScheduleDecision,
    decide,
    missed_fires,
    next_fire,
)

PARIS = "Europe/Paris"
GRACE = timedelta(minutes=5)
CATCH_UPS: tuple[CatchUp, ...] = ("skip", "run_once")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """An aware UTC datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(zone: str, times: list[datetime]) -> list[str]:
    """``times`` as local wall-clock strings with their UTC offset, for readable asserts."""
    return [t.astimezone(ZoneInfo(zone)).strftime("%m-%d %H:%M%z") for t in times]


def fire_times(
    cron: str, zone: str, after: datetime, until: datetime, *, limit: int = 1000
) -> list[datetime]:
    """The fire times in (``after``, ``until``], at most ``limit``, as the scheduler meets them:
    each the :func:`next_fire` after the one before."""
    found: list[datetime] = []
    while len(found) < limit:
        moment = next_fire(cron, zone, found[-1] if found else after)
        if moment > until:
            break
        found.append(moment)
    return found


# --- fixed examples -----------------------------------------------------------------------


def test_daily_two_am_paris_across_spring_forward() -> None:
    # 2026-03-29: clocks jump from 02:00 to 03:00, so 02:00 does not exist that day.
    fires = fire_times("0 2 * * *", PARIS, utc(2026, 3, 27), utc(2026, 3, 30, 12))
    assert local(PARIS, fires) == [
        "03-27 02:00+0100",
        "03-28 02:00+0100",
        "03-29 03:00+0200",  # the end of the gap, once
        "03-30 02:00+0200",
    ]
    assert fires == [
        utc(2026, 3, 27, 1),
        utc(2026, 3, 28, 1),
        utc(2026, 3, 29, 1),
        utc(2026, 3, 30),
    ]
    assert all(t.tzinfo is UTC for t in fires)


def test_nonexistent_times_collapse_into_one_fire_at_the_gap_end() -> None:
    window = (utc(2026, 3, 28, 12), utc(2026, 3, 29, 12))
    assert local(PARIS, fire_times("30 2 * * *", PARIS, *window)) == ["03-29 03:00+0200"]
    # 02:00, 02:30 (in the gap) and 03:00 (its end) are one instant: one fire, not three.
    assert local(PARIS, fire_times("0,30 2 * * *", PARIS, *window)) == ["03-29 03:00+0200"]
    assert local(PARIS, fire_times("0 2,3 * * *", PARIS, *window)) == ["03-29 03:00+0200"]
    assert local(PARIS, fire_times("0 2,4 * * *", PARIS, *window)) == [
        "03-29 03:00+0200",
        "03-29 04:00+0200",
    ]


def test_daily_two_am_paris_across_fall_back() -> None:
    # 2026-10-25: clocks go back from 03:00 to 02:00, so 02:00-03:00 happens twice.
    fires = fire_times("0 2 * * *", PARIS, utc(2026, 10, 22, 12), utc(2026, 10, 27))
    assert local(PARIS, fires) == [
        "10-23 02:00+0200",
        "10-24 02:00+0200",
        "10-25 02:00+0200",  # the first pass only
        "10-26 02:00+0100",
    ]
    assert local(
        PARIS, fire_times("30 2 * * *", PARIS, utc(2026, 10, 24, 12), utc(2026, 10, 26))
    ) == ["10-25 02:30+0200"]


def test_every_quarter_hour_is_silent_in_the_repeated_hour() -> None:
    fires = fire_times("*/15 * * * *", PARIS, utc(2026, 10, 24, 23, 50), utc(2026, 10, 25, 2, 20))
    assert [t.strftime("%H:%M") for t in fires] == [
        *("00:00", "00:15", "00:30", "00:45"),  # 02:00-02:45 summer time
        *("02:00", "02:15"),  # 03:00 and 03:15 winter time
    ]
    assert missed_fires(
        "*/15 * * * *", PARIS, utc(2026, 10, 24, 23, 50), utc(2026, 10, 25, 2, 20)
    ) == Missed(6, utc(2026, 10, 25), utc(2026, 10, 25, 2, 15))


def test_every_quarter_hour_bounds() -> None:
    after, until = utc(2026, 1, 5, 10, 0), utc(2026, 1, 5, 11, 0)
    # after is excluded, until included; seconds never shift a fire time.
    assert fire_times("*/15 * * * *", "UTC", after, until) == [
        utc(2026, 1, 5, 10, 15),
        utc(2026, 1, 5, 10, 30),
        utc(2026, 1, 5, 10, 45),
        utc(2026, 1, 5, 11, 0),
    ]
    assert fire_times("*/15 * * * *", "UTC", after - timedelta(seconds=1), after) == [after]
    assert fire_times("*/15 * * * *", "UTC", after, after) == []
    assert fire_times("*/15 * * * *", "UTC", until, after) == []


def test_daily_macro_and_other_zones() -> None:
    new_york = "America/New_York"
    fires = fire_times("@daily", new_york, utc(2026, 3, 7), utc(2026, 3, 10))
    # Midnight local: UTC-5 before 2026-03-08 02:00, UTC-4 after.
    assert fires == [utc(2026, 3, 7, 5), utc(2026, 3, 8, 5), utc(2026, 3, 9, 4)]
    assert fire_times(" @daily ", "UTC", utc(2026, 1, 1), utc(2026, 1, 3)) == [
        utc(2026, 1, 2),
        utc(2026, 1, 3),
    ]
    # Inputs in any time zone; results are UTC.
    plus_two = timezone(timedelta(hours=2))
    assert fire_times(
        "0 * * * *", "UTC", datetime(2026, 1, 1, 2, 30, tzinfo=plus_two), utc(2026, 1, 1, 2)
    ) == [utc(2026, 1, 1, 1), utc(2026, 1, 1, 2)]


def test_a_skipped_calendar_day() -> None:
    # Samoa skipped 2011-12-30 entirely: that day's midnight becomes the next one.
    apia = "Pacific/Apia"
    fires = fire_times("0 0 * * *", apia, utc(2011, 12, 28), utc(2012, 1, 3))
    assert local(apia, fires) == [
        "12-28 00:00-1000",
        "12-29 00:00-1000",
        "12-31 00:00+1400",
        "01-01 00:00+1400",
        "01-02 00:00+1400",
        "01-03 00:00+1400",
    ]
    assert missed_fires("0 0 * * *", apia, utc(2011, 12, 28), utc(2012, 1, 3)).count == 6


def test_next_fire_pages_through_a_window() -> None:
    after, until = utc(2026, 1, 1), utc(2026, 1, 2)
    first = fire_times("* * * * *", "UTC", after, until, limit=3)
    assert first == [utc(2026, 1, 1, 0, 1), utc(2026, 1, 1, 0, 2), utc(2026, 1, 1, 0, 3)]
    assert next_fire("* * * * *", "UTC", first[-1]) == utc(2026, 1, 1, 0, 4)
    assert len(fire_times("* * * * *", "UTC", after, until, limit=2000)) == 24 * 60


def test_missed_fires_counts_years_without_listing_them() -> None:
    after, until = utc(2025, 1, 1), utc(2026, 1, 1)
    assert missed_fires("* * * * *", "UTC", after, until) == Missed(
        365 * 24 * 60, utc(2025, 1, 1, 0, 1), until
    )
    # In Paris a year loses the repeated autumn hour and collapses the spring gap's
    # 60 nonexistent minutes into its end; the year's UTC minutes still all fire but 60.
    assert missed_fires("* * * * *", PARIS, after, until).count == 365 * 24 * 60 - 60
    assert missed_fires("0 2 * * *", PARIS, after, until).count == 365
    assert missed_fires("0 2 * * *", PARIS, until, after) == Missed(0, None, None)


def test_next_fire() -> None:
    assert next_fire("0 2 * * *", PARIS, utc(2026, 3, 28, 1)) == utc(2026, 3, 29, 1)
    assert next_fire("0 2 * * *", PARIS, utc(2026, 3, 28, 0, 59)) == utc(2026, 3, 28, 1)
    # From inside the second pass of the repeated hour, the first pass is in the past.
    assert next_fire("*/15 * * * *", PARIS, utc(2026, 10, 25, 1, 10)) == utc(2026, 10, 25, 2)
    assert next_fire("0 0 29 2 *", "UTC", utc(2026, 1, 1)) == utc(2028, 2, 29)


@pytest.mark.parametrize(
    ("cron", "zone", "message"),
    [
        ("0 2 * *", "UTC", r"^schedule: not a cron expression: expected 5 fields, got 4"),
        ("61 * * * *", "UTC", r"minute field '61' is not within 0-59 \('61 \* \* \* \*'\)"),
        ("0 0 * * * *", "UTC", "expected 5 fields, got 6"),
        ("@reboot", "UTC", "not a cron expression"),
        ("", "UTC", "expected 5 fields, got 0"),
        ("0 0 30 2 *", "UTC", r"'0 0 30 2 \*' never fires"),
        ("0 2 * * *", "Mars/Olympus", "^schedule: unknown time zone 'Mars/Olympus'$"),
        ("0 2 * * *", "", "expected a time zone name"),
    ],
)
def test_invalid_schedules_raise_spec_error(cron: str, zone: str, message: str) -> None:
    with pytest.raises(SpecError, match=message) as caught:
        fire_times(cron, zone, utc(2026, 1, 1), utc(2026, 1, 2))
    assert caught.value.where == "schedule"


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 1, 1)  # noqa: DTZ001
    with pytest.raises(ValueError, match="after must be a timezone-aware datetime"):
        fire_times("0 2 * * *", "UTC", naive, utc(2026, 1, 2))
    with pytest.raises(ValueError, match="until must be"):
        missed_fires("0 2 * * *", "UTC", utc(2026, 1, 2), naive)
    with pytest.raises(ValueError, match="after must be"):
        next_fire("0 2 * * *", "UTC", naive)
    with pytest.raises(ValueError, match="now must be"):
        decide("0 2 * * *", "UTC", None, naive, "skip", GRACE)
    with pytest.raises(ValueError, match="last_fire must be"):
        decide("0 2 * * *", "UTC", naive, utc(2026, 1, 2), "skip", GRACE)


# --- decide(): one test per branch --------------------------------------------------------

HOURLY = "0 * * * *"


def test_decide_first_sight_starts_counting_from_now() -> None:
    now = datetime(2026, 1, 1, 12, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert decide(HOURLY, "UTC", None, now, "run_once", GRACE) == ScheduleDecision(
        fire_at=None, skipped=0, advance_to=utc(2026, 1, 1, 11, 0, 30)
    )


def test_decide_nothing_due() -> None:
    last = utc(2026, 1, 1, 11)
    decision = decide(HOURLY, "UTC", last, utc(2026, 1, 1, 11, 59), "run_once", GRACE)
    assert decision == ScheduleDecision(fire_at=None, skipped=0, advance_to=last)
    # A clock that went backwards never moves last_fire back.
    decision = decide(HOURLY, "UTC", last, utc(2026, 1, 1, 9), "run_once", GRACE)
    assert decision == ScheduleDecision(fire_at=None, skipped=0, advance_to=last)


@pytest.mark.parametrize("catch_up", CATCH_UPS)
def test_decide_on_time(catch_up: CatchUp) -> None:
    last = utc(2026, 1, 1, 11)
    for now in (utc(2026, 1, 1, 12), utc(2026, 1, 1, 12, 5)):  # grace is inclusive
        assert decide(HOURLY, "UTC", last, now, catch_up, GRACE) == ScheduleDecision(
            fire_at=utc(2026, 1, 1, 12), skipped=0, advance_to=utc(2026, 1, 1, 12)
        )


@pytest.mark.parametrize("catch_up", CATCH_UPS)
def test_decide_on_time_after_missed_fires(catch_up: CatchUp) -> None:
    # Down from 11:00 to 15:02: 12, 13 and 14 were missed; 15 is on time.
    decision = decide(HOURLY, "UTC", utc(2026, 1, 1, 11), utc(2026, 1, 1, 15, 2), catch_up, GRACE)
    assert decision == ScheduleDecision(
        fire_at=utc(2026, 1, 1, 15), skipped=3, advance_to=utc(2026, 1, 1, 15)
    )


def test_decide_late_run_once_catches_up_once() -> None:
    decision = decide(HOURLY, "UTC", utc(2026, 1, 1, 11), utc(2026, 1, 1, 15, 6), "run_once", GRACE)
    assert decision == ScheduleDecision(
        fire_at=utc(2026, 1, 1, 15), skipped=3, advance_to=utc(2026, 1, 1, 15), late=True
    )
    # A single late fire time is caught up too.
    decision = decide(
        HOURLY, "UTC", utc(2026, 1, 1, 11), utc(2026, 1, 1, 12, 30), "run_once", GRACE
    )
    assert decision == ScheduleDecision(
        fire_at=utc(2026, 1, 1, 12), skipped=0, advance_to=utc(2026, 1, 1, 12), late=True
    )


def test_decide_late_skip_runs_nothing() -> None:
    decision = decide(HOURLY, "UTC", utc(2026, 1, 1, 11), utc(2026, 1, 1, 15, 6), "skip", GRACE)
    assert decision == ScheduleDecision(fire_at=None, skipped=4, advance_to=utc(2026, 1, 1, 15))


def test_decide_after_years_down() -> None:
    decision = decide(
        "* * * * *", "UTC", utc(2024, 1, 1), utc(2026, 1, 1, 0, 0, 30), "run_once", GRACE
    )
    assert decision.fire_at == utc(2026, 1, 1)
    assert decision.skipped == 731 * 24 * 60 - 1
    assert not decision.late


def test_decide_refuses_bad_arguments() -> None:
    with pytest.raises(ValueError, match="grace must not be negative"):
        decide(HOURLY, "UTC", None, utc(2026, 1, 1), "skip", -GRACE)
    with pytest.raises(ValueError, match="catch_up must be"):
        decide(HOURLY, "UTC", None, utc(2026, 1, 1), "all", GRACE)  # type: ignore[arg-type]
    with pytest.raises(SpecError):
        decide("nope", "UTC", None, utc(2026, 1, 1), "skip", GRACE)


# --- properties ---------------------------------------------------------------------------

ZONES = (
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "America/Santiago",  # changes at midnight
    "Australia/Lord_Howe",  # half-hour DST
    "Asia/Kolkata",  # no DST, half-hour offset
)
# Expressions whose day rule is plain AND (day of month or day of week left '*'), so the
# reference model below can match them field by field.
CRONS = (
    "*/15 * * * *",
    "0 2 * * *",
    "30 2 * * *",
    "0,30 0-3 * * *",
    "0 * * * *",
    "@daily",
    "45 23 * * 6",
    "*/20 1-2 1,5,29 * *",
    "5 0 * 3,4,9,10,11 *",
)


@functools.cache
def transitions(zone_name: str) -> tuple[datetime, ...]:
    """The UTC offset changes of ``zone_name`` in 2026 (plus New Year), to the minute."""
    zone = ZoneInfo(zone_name)
    found = [utc(2026, 1, 1)]
    moment = utc(2026, 1, 1)
    while moment < utc(2027, 1, 1):
        later = moment + timedelta(hours=1)
        if moment.astimezone(zone).utcoffset() != later.astimezone(zone).utcoffset():
            low, high = moment, later
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == low.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high)
        moment = later
    return tuple(found)


@st.composite
def windows(draw: st.DrawFn, max_length: timedelta) -> tuple[str, str, datetime, datetime]:
    """(cron, zone, after, until) with ``after`` within 30 h of an offset change."""
    zone = draw(st.sampled_from(ZONES))
    anchor = draw(st.sampled_from(transitions(zone)))
    shift = draw(st.integers(-30 * 3600, 30 * 3600))
    length = draw(st.integers(0, int(max_length.total_seconds())))
    after = anchor + timedelta(seconds=shift)
    return draw(st.sampled_from(CRONS)), zone, after, after + timedelta(seconds=length)


def reference_fires(cron: str, zone_name: str, after: datetime, until: datetime) -> list[datetime]:
    """Fire times by brute force, from the definition rather than the implementation.

    Walk UTC minute by minute, tracking the highest local wall-clock time seen so far; a
    minute fires when a matching wall-clock time lies in (that highest, its own wall-clock
    time]. That is "a local time fires at the first instant the clock shows it or later":
    a gap's times fire at its end, a repeated time at its first pass.
    """
    zone = ZoneInfo(zone_name)
    fields, _ = croniter.expand(cron.strip())
    allowed = [
        set(range(size)) if "*" in field else {int(value) for value in field}
        for field, size in zip(fields, (60, 24, 32, 13, 7), strict=True)
    ]
    allowed[4] = {value % 7 for value in allowed[4]}

    def matches(wall: datetime) -> bool:
        values = (wall.minute, wall.hour, wall.day, wall.month, wall.isoweekday() % 7)
        return all(value in field for value, field in zip(values, allowed, strict=True))

    moment = after.replace(second=0, microsecond=0) - timedelta(hours=30)
    highest = moment.astimezone(zone).replace(tzinfo=None)
    fires = []
    while moment <= until:
        moment += timedelta(minutes=1)
        wall = moment.astimezone(zone).replace(tzinfo=None)
        candidate = highest + timedelta(minutes=1)
        while candidate <= wall:
            if matches(candidate):
                if after < moment <= until:
                    fires.append(moment)
                break
            candidate += timedelta(minutes=1)
        highest = max(highest, wall)
    return fires


@settings(max_examples=60, deadline=None)
@given(windows(timedelta(hours=40)))
def test_fire_times_match_the_reference(window: tuple[str, str, datetime, datetime]) -> None:
    cron, zone, after, until = window
    fires = fire_times(cron, zone, after, until, limit=10_000)
    assert fires == reference_fires(cron, zone, after, until)
    assert all(t.tzinfo is UTC for t in fires)


@settings(max_examples=60, deadline=None)
@given(windows(timedelta(days=20)))
def test_missed_fires_agrees_with_the_list(window: tuple[str, str, datetime, datetime]) -> None:
    cron, zone, after, until = window
    fires = fire_times(cron, zone, after, until, limit=100_000)
    assert missed_fires(cron, zone, after, until) == Missed(
        len(fires), fires[0] if fires else None, fires[-1] if fires else None
    )
    if fires:
        assert next_fire(cron, zone, after) == fires[0]


@settings(max_examples=100, deadline=None)
@given(
    windows(timedelta(days=3)),
    st.sampled_from(CATCH_UPS),
    st.integers(0, 7200),
)
def test_decide_is_one_fire_at_most_and_never_goes_back(
    window: tuple[str, str, datetime, datetime], catch_up: CatchUp, grace_seconds: int
) -> None:
    cron, zone, last_fire, now = window
    grace = timedelta(seconds=grace_seconds)
    decision = decide(cron, zone, last_fire, now, catch_up, grace)
    due = fire_times(cron, zone, last_fire, now, limit=100_000)
    assert decision.advance_to >= last_fire
    assert decision.advance_to == (due[-1] if due else last_fire)
    assert decision.skipped + (decision.fire_at is not None) == len(due)
    if decision.fire_at is not None:
        assert decision.fire_at == due[-1]
        assert decision.late == (now - decision.fire_at > grace)
    elif due:
        assert catch_up == "skip" and now - due[-1] > grace


@settings(max_examples=60, deadline=None)
@given(
    windows(timedelta(0)),
    st.lists(st.integers(1, 3 * 3600), min_size=1, max_size=40),
    st.sampled_from(CATCH_UPS),
)
def test_repeated_ticks_never_lose_a_fire_window(
    window: tuple[str, str, datetime, datetime], steps: list[int], catch_up: CatchUp
) -> None:
    cron, zone, start, _ = window
    tick = timedelta(seconds=max(steps))
    grace = tick if catch_up == "skip" else timedelta(0)  # run_once needs no grace
    decision = decide(cron, zone, None, start, catch_up, grace)
    assert decision.fire_at is None and decision.advance_to == start
    last_fire, previous_now, now = decision.advance_to, start, start
    for step in steps:
        now = previous_now + timedelta(seconds=step)
        decision = decide(cron, zone, last_fire, now, catch_up, grace)
        gap = fire_times(cron, zone, previous_now, now, limit=100_000)
        # Every gap with a fire time produces exactly one run: its latest fire time.
        assert decision.fire_at == (gap[-1] if gap else None)
        assert decision.skipped == max(len(gap) - 1, 0)
        assert decision.advance_to >= last_fire
        last_fire, previous_now = decision.advance_to, now
    runs = fire_times(cron, zone, start, now, limit=100_000)
    assert last_fire == (runs[-1] if runs else start)
