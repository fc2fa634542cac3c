"""Cron schedules: when a schedule fires, and what the scheduler does after missing fires.

A schedule is a 5-field cron expression (or an ``@daily``-style macro) read in an IANA time
zone: ``0 2 * * *`` in ``Europe/Paris`` fires at 02:00 Paris wall-clock time, whatever the
UTC offset that day. Every function takes and returns timezone-aware datetimes (a naive one
raises ValueError); results are in UTC.

Daylight saving time. A local fire time fires at most once, and never in a loop:

- a local time that does not exist (the spring-forward gap, e.g. 02:30 in Paris on
  2026-03-29, when clocks jump from 02:00 to 03:00) fires at the end of the gap, the first
  instant that exists (03:00 local, 01:00 UTC). Several fire times inside one gap collapse into
  that single fire, and one at the gap's end (03:00) merges with them;
- a local time that happens twice (the autumn repeat, e.g. 02:30 in Paris on 2026-10-25, when
  clocks go back from 03:00 to 02:00) fires at its first occurrence only (02:30 summer time,
  00:30 UTC). So ``*/15 * * * *`` is silent during the second pass through 02:00-03:00.

Catch-up. The scheduler remembers, per schedule, ``last_fire``: the scheduled time it has
accounted for. On every tick it calls :func:`decide` with the current time ``now``:

- a schedule seen for the first time (``last_fire`` is None) does not fire: it starts counting
  from ``now``, so adding or re-adding a schedule never starts runs for the past;
- otherwise the fire times F in (``last_fire``, ``now``] are due. If F is empty nothing
  happens. If the latest of F is at most ``grace`` before ``now`` it is *on time* and fires;
  every earlier fire time in F is *missed* (the scheduler was down or busy);
- missed fire times never start a run each. With ``catch_up="run_once"`` a late latest fire
  time (more than ``grace`` ago) still fires, once, as one catch-up run for the whole gap,
  with the latest fire time as its scheduled time. With ``catch_up="skip"`` a late latest fire
  time is skipped as well: nothing runs until the next fire time;
- either way, at most one run starts per tick, every fire time in F that does not run is
  counted in ``skipped``, and ``last_fire`` moves to the latest of F (never backwards).

So with ``run_once``, every tick whose window holds at least one fire time starts exactly
one run, and a scheduler down for a week starts one run, not a week of them.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Final, Literal

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from runbook.errors import SpecError
from runbook.model.workflows.workflow import cron_problem, timezone_problem

CatchUp = Literal["skip", "run_once"]

_DAY: Final = timedelta(days=1)
_MINUTE: Final = timedelta(minutes=1)
# A fixed start for the "does this expression ever fire" probe, so validation is repeatable;
# naive on purpose: croniter only ever sees local wall-clock times (see _walls).
_PROBE: Final = datetime(2000, 1, 1)  # noqa: DTZ001


@dataclass(frozen=True)
class Missed:
    """A summary of the fire times in a window: how many, the earliest and the latest."""

    count: int
    earliest: datetime | None
    latest: datetime | None


@dataclass(frozen=True)
class ScheduleDecision:
    """What the scheduler does on one tick (see the module docstring).

    ``fire_at`` is the scheduled time of the run to start now, or None; ``late`` is True when
    that run is a catch-up (its scheduled time is more than ``grace`` ago); ``skipped`` counts
    the fire times that will never run; ``advance_to`` is the scheduler's new ``last_fire``.
    """

    fire_at: datetime | None
    skipped: int
    advance_to: datetime
    late: bool = False


@dataclass(frozen=True)
class _Schedule:
    expression: str
    zone: zoneinfo.ZoneInfo
    per_day: int  # fires on a matching day without a UTC offset change
    last_of_day: time  # the latest fire time of a matching day


def next_fire(cron: str, timezone: str, after: datetime) -> datetime:
    """The first fire time strictly after ``after``, as an aware UTC datetime."""
    schedule = _schedule(cron, timezone)
    found = next(_instants(schedule, _utc(after, "after")), None)
    if found is None:
        raise SpecError("schedule", f"{cron!r} never fires after {after.isoformat()}")
    return found


def missed_fires(cron: str, timezone: str, after: datetime, until: datetime) -> Missed:
    """How many fire times lie in (``after``, ``until``], and the earliest and latest of them.

    The count is exact. A whole day inside the window with one UTC offset costs one step, not
    one per fire time; only the window's first and last days and days when the offset changes
    are stepped through fire by fire. So a scheduler down for a year with ``* * * * *`` counts
    its half a million misses in a fraction of a second without listing them.
    """
    schedule = _schedule(cron, timezone)
    return _count(schedule, _utc(after, "after"), _utc(until, "until"))


def decide(
    cron: str,
    timezone: str,
    last_fire: datetime | None,
    now: datetime,
    catch_up: CatchUp,
    grace: timedelta,
) -> ScheduleDecision:
    """What the scheduler does at ``now`` given the schedule's ``last_fire``.

    The rules are the module docstring's "Catch-up" section. ``grace`` must not be negative;
    ``catch_up`` is ``"skip"`` or ``"run_once"``.
    """
    if catch_up not in ("skip", "run_once"):
        raise ValueError(f"catch_up must be 'skip' or 'run_once', got {catch_up!r}")
    if grace < timedelta(0):
        raise ValueError(f"grace must not be negative, got {grace}")
    schedule = _schedule(cron, timezone)
    current = _utc(now, "now")
    if last_fire is None:
        return ScheduleDecision(fire_at=None, skipped=0, advance_to=current)
    previous = _utc(last_fire, "last_fire")
    window = _count(schedule, previous, current)
    if window.latest is None:
        return ScheduleDecision(fire_at=None, skipped=0, advance_to=previous)
    late = current - window.latest > grace
    if late and catch_up == "skip":
        return ScheduleDecision(fire_at=None, skipped=window.count, advance_to=window.latest)
    return ScheduleDecision(
        fire_at=window.latest, skipped=window.count - 1, advance_to=window.latest, late=late
    )


@functools.lru_cache(maxsize=256)
def _schedule(cron: str, timezone: str) -> _Schedule:
    expression = cron.strip()
    problem = cron_problem(expression)
    if problem is not None:
        raise SpecError("schedule", f"{problem} ({cron!r})")
    zone_problem = timezone_problem(timezone)
    if zone_problem is not None:
        raise SpecError("schedule", zone_problem)
    try:
        fields, _ = croniter.expand(expression)
        croniter(expression, _PROBE).get_next(datetime)
    except CroniterBadDateError:
        raise SpecError("schedule", f"{cron!r} never fires (no such date)") from None
    except (CroniterBadCronError, ValueError) as error:
        raise SpecError("schedule", f"not a cron expression: {error} ({cron!r})") from None
    minutes = _values(fields[0], 60)
    hours = _values(fields[1], 24)
    return _Schedule(
        expression=expression,
        zone=zoneinfo.ZoneInfo(timezone),
        per_day=len(minutes) * len(hours),
        last_of_day=time(max(hours), max(minutes)),
    )


def _values(field: Sequence[int | str], size: int) -> set[int]:
    return set(range(size)) if "*" in field else {int(value) for value in field}


def _utc(value: datetime, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name} must be a timezone-aware datetime, got the naive {value.isoformat()}; "
            "attach a time zone (e.g. datetime.now(UTC))"
        )
    return value.astimezone(UTC)


def _wall(instant: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """The naive local wall-clock time of ``instant`` in ``zone``."""
    return instant.astimezone(zone).replace(tzinfo=None)


def _instant(wall: datetime, zone: zoneinfo.ZoneInfo) -> datetime:
    """When the local wall-clock time ``wall`` first happens (the gap's end if it never does).

    This mapping never decreases as ``wall`` grows, which is what lets the iterators below
    stop at the first instant past their window.
    """
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if _wall(first, zone) == wall:
        return first
    # In a gap, fold=1 reads the wall with the offset after the transition (an instant
    # before it) and fold=0 with the offset before (an instant after it): bisect between.
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = int(first.timestamp())
    offset = zone.utcoffset(datetime.fromtimestamp(high, UTC).astimezone(zone))
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _walls(schedule: _Schedule, start: datetime) -> Iterator[datetime]:
    """Local wall-clock fire times strictly after the naive ``start``, ascending."""
    # Naive datetimes keep croniter out of time-zone arithmetic: we map walls ourselves.
    iterator = croniter(schedule.expression, start)
    while True:
        try:
            yield iterator.get_next(datetime)
        except CroniterBadDateError:
            return


def _instants(schedule: _Schedule, after: datetime) -> Iterator[datetime]:
    """Distinct fire instants strictly after ``after`` (UTC), ascending, without end."""
    last: datetime | None = None
    for wall in _walls(schedule, _wall(after, schedule.zone)):
        instant = _instant(wall, schedule.zone)
        # Walls just after ``after``'s own wall can map before it when ``after`` lies in the
        # second pass of a repeated hour; gap walls collapse onto one instant.
        if instant <= after or instant == last:
            continue
        last = instant
        yield instant


def _count(schedule: _Schedule, after: datetime, until: datetime) -> Missed:
    zone = schedule.zone
    count = 0
    earliest: datetime | None = None
    last: datetime | None = None
    walls = _walls(schedule, _wall(after, zone))
    wall = next(walls, None)
    while wall is not None:
        day = datetime.combine(wall.date(), time())
        if (
            _steady(day, zone)
            and _instant(day, zone) > after
            and _instant(day + _DAY, zone) <= until
        ):
            # A whole day inside the window with one UTC offset: every (hour, minute) of the
            # expression fires once, so count them without stepping through them.
            first = _instant(wall, zone)
            count += schedule.per_day - (first == last)
            earliest = first if earliest is None else earliest
            last = _instant(datetime.combine(day.date(), schedule.last_of_day), zone)
            walls = _walls(schedule, day + _DAY - _MINUTE)
            wall = next(walls, None)
            continue
        instant = _instant(wall, zone)
        if instant > until:
            break
        if instant > after and instant != last:
            count += 1
            earliest = instant if earliest is None else earliest
            last = instant
        wall = next(walls, None)
    return Missed(count=count, earliest=earliest, latest=last)


def _steady(day: datetime, zone: zoneinfo.ZoneInfo) -> bool:
    """Whether the local day starting at the naive ``day`` keeps one UTC offset throughout.

    Checks both midnights only: no zone changes its offset and back within one day.
    """
    offsets = {
        moment.replace(tzinfo=zone, fold=fold).utcoffset()
        for moment in (day, day + _DAY)
        for fold in (0, 1)
    }
    return len(offsets) == 1
