"""The one clock: the only place product code (and the tests) read the time of day or today's date.

`now()` is the current instant (aware, UTC); `today(tz)` is the calendar date in the school time zone
(`tz`, else XINMIAO_TIMEZONE, else Asia/Shanghai); `local_now(tz)` is the instant in that zone; `timestamp()`
is `now()` as UNIX seconds (login session ages, the student entry stamp).

Moving the clock: set XINMIAO_NOW to an ISO 8601 instant with its offset, e.g. `2028-02-29T08:00+08:00`
(a `Z` suffix is accepted; a bare date or time without an offset is refused, since it would mean different
instants on different machines). The clock is an OFFSET clock, not a frozen one: at the first read the process
is at that instant and time keeps running from there, so elapsed-time logic (lockouts, lease expiry, session
ages, "refreshed less than a minute ago") behaves as it does on a real day. The real instant that corresponds
to XINMIAO_NOW is kept in XINMIAO_NOW_ANCHOR (UNIX seconds, written into the environment at the first read when
absent), so child processes (the scheduler, the benchmarks, CLI runs from tests) share the parent's offset
instead of starting at XINMIAO_NOW again. `move_to()` does the same from code (tests).

`travel(instant)` is a context manager that moves the clock for one block of code in this thread of control
only (a context variable: not the environment, not other threads, not child processes), runs on from there like
the moved clock, and puts the previous clock back at the end; blocks nest. It is for building history, such as
the demo district's earlier terms (app/demo), so that every stamp the services write is the time of the story.

What does not follow the moved clock, on purpose:
- Flask's own session cookie expiry (PERMANENT_SESSION_LIFETIME, itsdangerous timestamps) and Flask-Login's
  remember cookie use the real time. The app's idle and re-authentication limits (`auth_at`, `last_seen`)
  use this clock; both sides of each comparison read the same clock, so a moved clock changes nothing there.
- APScheduler fires its triggers on the real time (`wall_now()` is what "run now" means to it); the jobs it
  runs are handed `now()`.
- Comparisons with stamps the operating system writes (file modification times) use `wall_now()`.
- Durations are measured with `time.monotonic()` / `time.perf_counter()`, which no clock move affects.
- The database never supplies "now": no column has a `server_default` of `now()` / CURRENT_TIMESTAMP and no
  query calls `func.now()`; every stamp is bound from `now()` (models.base.utcnow) so it follows a moved clock.
  Keep it so (tests/unit/test_clock.py checks the models and migrations).

`main(["pick"])` prints a moved instant for one `make test` run (see `pick_instant`; the Makefile calls it).
"""
from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection
    from sqlalchemy.orm import Session

ENV_NOW = "XINMIAO_NOW"
ENV_ANCHOR = "XINMIAO_NOW_ANCHOR"
ENV_TIMEZONE = "XINMIAO_TIMEZONE"
DEFAULT_TIMEZONE = "Asia/Shanghai"

_cache: tuple[str, str, timedelta] | None = None  # (XINMIAO_NOW, XINMIAO_NOW_ANCHOR, offset) last computed
# `travel()`: the offset from the wall clock while a travel block runs (None outside one)
_travel: ContextVar[timedelta | None] = ContextVar("xinmiao_clock_travel", default=None)


def parse_instant(value: str) -> datetime:
    """An ISO 8601 instant with its UTC offset, as an aware UTC datetime; ValueError otherwise."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{ENV_NOW}={value!r} is not an ISO 8601 instant such as 2028-02-29T08:00+08:00") from None
    if moment.tzinfo is None:
        raise ValueError(f"{ENV_NOW}={value!r} has no UTC offset; write it as e.g. 2028-02-29T08:00+08:00")
    return moment.astimezone(UTC)


def wall_now() -> datetime:
    """The real time, never moved. Only for what must agree with clocks outside the app (see the module doc)."""
    return datetime.now(UTC)


def database_now(conn: Connection | Session) -> datetime:
    """The database server's real time (aware UTC), never moved: the one clock every scheduler process compares
    its lease on (app/scheduler/lease.py), so a moved product clock can neither make a lease permanent nor expire
    it at once, and processes on different hosts agree."""
    from sqlalchemy.orm import Session as _Session

    bind = conn.get_bind() if isinstance(conn, _Session) else conn
    if bind.dialect.name == "postgresql":
        value = conn.scalar(text("SELECT clock_timestamp()"))
        assert isinstance(value, datetime)
        return value.astimezone(UTC)
    raw = conn.scalar(text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')"))
    return datetime.fromisoformat(str(raw)).replace(tzinfo=UTC)


def standby_replay_lag(session: Session) -> tuple[bool, float | None]:
    """(whether the server is a standby, how many seconds its replay is behind) on the statistics replica's
    session (app/db.py: probe_replica). Real time on the standby, never moved: 0 while it streams and has replayed
    all it received; otherwise the age of the last transaction it replayed (replay paused, the WAL receiver down,
    still catching up); None when unknown."""
    in_recovery, lag = session.execute(text(
        "SELECT pg_is_in_recovery(), CASE"
        " WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"
        "  AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') THEN 0"
        " ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()) END"
    )).one()
    return bool(in_recovery), None if lag is None else float(lag)


def _offset() -> timedelta:
    global _cache
    moved = os.environ.get(ENV_NOW, "").strip()
    if not moved:
        return timedelta(0)
    anchor = os.environ.get(ENV_ANCHOR, "").strip()
    if _cache is not None and _cache[0] == moved and _cache[1] == anchor:
        return _cache[2]
    target = parse_instant(moved)
    if anchor:
        real = datetime.fromtimestamp(float(anchor), UTC)
    else:
        real = wall_now()
        anchor = repr(real.timestamp())
        os.environ[ENV_ANCHOR] = anchor
    offset = target - real
    _cache = (moved, anchor, offset)
    return offset


def now() -> datetime:
    """The current instant, aware, in UTC (moved when XINMIAO_NOW is set, or inside `travel()`)."""
    travelled = _travel.get()
    if travelled is not None:
        return wall_now() + travelled
    return wall_now() + _offset()


@contextmanager
def travel(instant: datetime) -> Iterator[datetime]:
    """Within the block, `now()` reads `instant` at its start and runs on from there; afterwards the clock is what
    it was (a moved clock stays moved). In this context only: other threads, the environment and child processes
    keep the clock they had. Yields the aware UTC instant. For building history (the demo's earlier terms)."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime given; give the instant with its time zone")
    target = instant.astimezone(UTC)
    token = _travel.set(target - wall_now())
    try:
        yield target
    finally:
        _travel.reset(token)


def school_timezone(tz: str | ZoneInfo | None = None) -> ZoneInfo:
    if isinstance(tz, ZoneInfo):
        return tz
    return ZoneInfo(tz or os.environ.get(ENV_TIMEZONE) or DEFAULT_TIMEZONE)


def local_now(tz: str | ZoneInfo | None = None) -> datetime:
    """The current instant in the school time zone."""
    return now().astimezone(school_timezone(tz))


def today(tz: str | ZoneInfo | None = None) -> date:
    """Today's date in the school time zone (not the server's, not UTC's)."""
    return local_now(tz).date()


def timestamp() -> float:
    """`now()` as UNIX seconds."""
    return now().timestamp()


def is_moved() -> bool:
    return bool(os.environ.get(ENV_NOW, "").strip())


def move_to(instant: datetime | None) -> None:
    """Move this process's clock (and its future children's) so that `now()` reads `instant` at this moment and
    runs on from there; None puts it back on the real time. Tests: prefer the `moved_clock` fixture, which
    restores the previous setting."""
    global _cache
    _cache = None
    if instant is None:
        os.environ.pop(ENV_NOW, None)
        os.environ.pop(ENV_ANCHOR, None)
        return
    if instant.tzinfo is None:
        raise ValueError("naive datetime given; give the instant with its time zone")
    os.environ[ENV_NOW] = instant.isoformat()
    os.environ[ENV_ANCHOR] = repr(wall_now().timestamp())


def pick_instant(rng: random.Random | None = None, tz: str | ZoneInfo | None = None) -> datetime:
    """A moved instant for one test run: a day within three weeks of the real date (either side), at a random
    time of day; one run in three lands within 20 minutes of local midnight (either side), where "today" in the
    school zone, in UTC and in a test's own arithmetic are most likely to disagree."""
    rng = rng or random.Random()
    zone = school_timezone(tz)
    day = wall_now().astimezone(zone).date() + timedelta(days=rng.randint(-21, 21))
    midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
    if rng.random() < 1 / 3:
        seconds = rng.randint(-20 * 60, 20 * 60)
    else:
        seconds = rng.randint(0, 24 * 3600 - 1)
    return (midnight + timedelta(seconds=seconds)).replace(microsecond=0)


def format_instant(instant: datetime, tz: str | ZoneInfo | None = None) -> str:
    """`instant` as XINMIAO_NOW takes it, in the school zone to the minute or second: 2027-01-31T23:40+08:00."""
    local = instant.astimezone(school_timezone(tz))
    return local.isoformat(timespec="seconds" if local.second else "minutes")


def main(argv: list[str]) -> int:
    if argv[:1] == ["pick"]:
        print(format_instant(pick_instant()))
        return 0
    if argv[:1] == ["check"] and len(argv) == 2:  # validate a given XINMIAO_NOW before a long run
        try:
            parse_instant(argv[1])
        except ValueError as exc:
            print(exc, file=sys.stderr)
            return 2
        print(argv[1])
        return 0
    print("usage: clock pick | clock check INSTANT", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
