"""Write the journal as the session goes, from the coach's event stream.

``JournalSink(journal, user)`` is a sink (see docs/CONTRACT.md): call it with
every ``Event``, then ``close()``. Each fact (a rep, a set start or end, a
command, an adjustment, a pain stop) is committed when its event arrives, so a
crash keeps every finished rep. When the file is locked the rows stay in memory
and are retried with a growing back-off (the session never waits on it); at
``close()`` they are retried for a while and then spilled to a side file.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .events import Event
from .journal import Journal, JournalError, JournalLocked, Op
from .knowledge import Level, kcal
from .profile import DEFAULT_USER

log = logging.getLogger(__name__)

#: Nominal tempo used for a rep whose beats were not in the event stream (seconds).
NOMINAL_LIFT_S = 2.0
NOMINAL_HOLD_S = 1.0
BACKOFF_MIN_S = 0.1
BACKOFF_MAX_S = 5.0


@dataclass(frozen=True)
class SessionSummary:
    """End-of-session numbers, from the events."""

    sets: int
    perfect: int
    level: Level
    """Variation, stop point and lowering time at the end."""
    time_under_tension_s: float
    """Sum of lift + hold + lower of the counted reps (seconds)."""
    active_s: float
    """Time spent inside sets, from set start to set end (seconds)."""
    kcal: float | None
    """Energy estimate for the active time at 3.0 MET; None without a body mass."""
    pain_stops: int = 0


class Tally:
    """Folds events into the state the journal and the summary need. Pure."""

    def __init__(self, level: Level | None = None) -> None:
        self.level = level or Level()
        self.set_no: int | None = None
        self.sets = 0
        self.perfect = 0
        self.pain_stops = 0
        self.back_lifts = 0
        self.tut_s = 0.0
        self.active_s = 0.0
        self._set_t0: float | None = None
        self._last_command: str | None = None
        self._lift_t: dict[tuple[int, int], float] = {}
        self._hover_t: dict[tuple[int, int], float] = {}

    def _take_level(self, data: dict[str, object]) -> None:
        if {"variation", "stop_deg", "lower_s"} <= data.keys():
            self.level = Level(
                str(data["variation"]), int(data["stop_deg"]),  # type: ignore[call-overload]
                float(data["lower_s"]),  # type: ignore[arg-type]
            )

    def feed(self, ev: Event) -> dict[str, object]:
        """Update from one event; return derived values for that event (rep reason, duration)."""
        d = ev.data
        out: dict[str, object] = {}
        match ev.type:
            case "set_start":
                self.set_no = int(d.get("set", (self.set_no or 0) + 1))
                self.back_lifts = 0
                self._last_command = None
                self._set_t0 = ev.t
                self._take_level(d)
            case "count":
                key = (int(d.get("set", self.set_no or 0)), int(d.get("rep", 0)))
                if d.get("beat") == "lift":
                    self._lift_t.setdefault(key, ev.t)
                elif d.get("beat") == "hover":
                    self._hover_t.setdefault(key, ev.t)
            case "command":
                self._last_command = str(d.get("intent"))
                if d.get("intent") == "back_lifted":
                    self.back_lifts += 1
            case "adjust":
                self._take_level(d)
            case "rep":
                key = (int(d.get("set", self.set_no or 0)), int(d.get("n", 0)))
                counted = bool(d.get("counted"))
                t0 = self._lift_t.get(key)
                if t0 is not None:
                    dur = min(self._hover_t.get(key, ev.t), ev.t) - t0
                else:
                    lower = float(d.get("lower_s", self.level.lower_s))
                    dur = NOMINAL_LIFT_S + NOMINAL_HOLD_S + lower
                out["duration_s"] = round(dur, 3)
                out["reason"] = None if counted else str(
                    d.get("reason") or self._last_command or "not_counted"
                )
                if counted:
                    self.tut_s += dur
                    self.perfect += 1
                self._last_command = None
            case "set_end":
                self.sets += 1
                if self._set_t0 is not None:
                    self.active_s += max(ev.t - self._set_t0, 0.0)
                self._set_t0 = None
            case "pain_stop":
                self.pain_stops += 1
        return out

    def summary(self, body_mass_kg: float | None = None) -> SessionSummary:
        energy = kcal(self.active_s / 60.0, body_mass_kg) if body_mass_kg else None
        return SessionSummary(
            self.sets, self.perfect, self.level, round(self.tut_s, 3), round(self.active_s, 3),
            None if energy is None else round(energy, 1), self.pain_stops,
        )


def summarize_events(events: Iterable[Event], body_mass_kg: float | None = None) -> SessionSummary:
    """The end-of-session summary of an event list."""
    tally = Tally()
    for ev in events:
        tally.feed(ev)
    return tally.summary(body_mass_kg)


class JournalSink:
    """Writes one session of ``user`` into ``journal`` from its events."""

    def __init__(
        self,
        journal: Journal,
        user: str = DEFAULT_USER,
        *,
        level: Level | None = None,
        started_at: datetime | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.journal = journal
        self.user = user
        self.session_id = uuid.uuid4().hex
        self.started_at = started_at or datetime.now(UTC)
        self._clock = clock
        self._sleep = sleep
        self._pending: list[Op] = []
        self._backoff = 0.0
        self._retry_at = 0.0
        self._closed = False
        if level is None:
            try:
                level = journal.profile(user).level
            except JournalError as exc:
                log.warning("cannot read the profile of %s (%s); using the default level",
                            user, exc)
        self.tally = Tally(level)
        lv = self.tally.level
        self._pending += [
            (("INSERT INTO sessions (id, user, started_at, variation, stop_deg, lower_s)"
             " VALUES (?, ?, ?, ?, ?, ?)"),
             (self.session_id, user, self.started_at.isoformat(), lv.variation, lv.stop_deg,
              lv.lower_s)),
            (("INSERT INTO profiles (user, last_session_at) VALUES (?, ?) ON CONFLICT (user)"
             " DO UPDATE SET last_session_at = excluded.last_session_at"),
             (user, self.started_at.isoformat())),
        ]
        self.flush()

    @property
    def pending(self) -> int:
        """Rows waiting to be written (non-zero while the file is locked)."""
        return len(self._pending)

    def summary(self, body_mass_kg: float | None = None) -> SessionSummary:
        return self.tally.summary(body_mass_kg)

    def __call__(self, event: Event) -> None:
        extra = self.tally.feed(event)
        ops = self._ops(event, extra)
        if ops:
            self._pending += ops
            self.flush()

    def _level_ops(self) -> list[Op]:
        lv = self.tally.level
        vals = (lv.variation, lv.stop_deg, lv.lower_s)
        return [
            ("UPDATE sessions SET variation = ?, stop_deg = ?, lower_s = ? WHERE id = ?",
             (*vals, self.session_id)),
            (("INSERT INTO profiles (user, variation, stop_deg, lower_s) VALUES (?, ?, ?, ?)"
             " ON CONFLICT (user) DO UPDATE SET variation = excluded.variation,"
             " stop_deg = excluded.stop_deg, lower_s = excluded.lower_s"),
             (self.user, *vals)),
        ]

    def _ops(self, ev: Event, extra: dict[str, object]) -> list[Op]:
        d, sid, set_no, lv = ev.data, self.session_id, self.tally.set_no, self._lv()
        match ev.type:
            case "set_start":
                return [(
                    ("INSERT OR REPLACE INTO sets (session_id, set_no, variation, stop_deg,"
                    " lower_s, planned_reps, started_t) VALUES (?, ?, ?, ?, ?, ?, ?)"),
                    (sid, set_no, *self._lv(), d.get("reps"), ev.t),
                ), *self._level_ops()]
            case "rep":
                return [(
                    ("INSERT OR REPLACE INTO reps (session_id, set_no, n, t, counted, reason,"
                    " variation, stop_deg, lower_s, duration_s) VALUES (?,?,?,?,?,?,?,?,?,?)"),
                    (sid, d.get("set", set_no), d.get("n"), ev.t, int(bool(d.get("counted"))),
                     extra["reason"], d.get("variation", lv[0]), d.get("stop_deg", lv[1]),
                     d.get("lower_s", lv[2]), extra["duration_s"]),
                ), *self._level_ops()]
            case "set_end":
                return [(
                    ("UPDATE sets SET perfect = ?, attempts = ?, reason = ?, ended_t = ?,"
                    " back_lifts = ? WHERE session_id = ? AND set_no = ?"),
                    (d.get("perfect"), d.get("attempts"), d.get("reason"), ev.t,
                     self.tally.back_lifts, sid, d.get("set", set_no)),
                )]
            case "command" | "unknown":
                return [(("INSERT INTO commands (session_id, t, set_no, intent, phrase)"
                         " VALUES (?, ?, ?, ?, ?)"),
                         (sid, ev.t, set_no, d.get("intent"), d.get("phrase")))]
            case "adjust":
                return [(("INSERT INTO adjustments (session_id, t, set_no, intent, variation,"
                         " stop_deg, lower_s) VALUES (?, ?, ?, ?, ?, ?, ?)"),
                         (sid, ev.t, set_no, d.get("intent"), *self._lv())), *self._level_ops()]
            case "pain_stop":
                return [(("INSERT INTO pain_stops (session_id, t, set_no, phrase)"
                         " VALUES (?, ?, ?, ?)"), (sid, ev.t, set_no, d.get("phrase")))]
            case "session_end":
                ended = self.started_at + timedelta(seconds=ev.t)
                return [(("UPDATE sessions SET end_reason = ?, ended_t = ?, ended_at = ?"
                         " WHERE id = ?"), (d.get("reason"), ev.t, ended.isoformat(), sid)),
                        *self._level_ops()]
            case "cue" if d.get("id") == "disclaimer":
                return [(("INSERT INTO profiles (user, disclaimer_said) VALUES (?, 1)"
                         " ON CONFLICT (user) DO UPDATE SET disclaimer_said = 1"), (self.user,))]
        return []

    def _lv(self) -> tuple[str, int, float]:
        lv = self.tally.level
        return lv.variation, lv.stop_deg, lv.lower_s

    def flush(self, force: bool = False) -> bool:
        """Try to write the pending rows; True when none are left.

        While the file is locked, attempts are spaced by a back-off that doubles
        from 0.1 s to 5 s; ``force`` ignores the back-off.
        """
        if not self._pending:
            return True
        now = self._clock()
        if not force and now < self._retry_at:
            return False
        try:
            self.journal.write(self._pending)
        except JournalError as exc:
            if self._backoff == 0.0:
                level = logging.WARNING if isinstance(exc, JournalLocked) else logging.ERROR
                log.log(level, "%s; keeping %d rows in memory and retrying", exc, self.pending)
            self._backoff = min(max(self._backoff * 2, BACKOFF_MIN_S), BACKOFF_MAX_S)
            self._retry_at = now + self._backoff
            return False
        if self._backoff:
            log.info("journal writable again; wrote %d kept rows", len(self._pending))
        self._pending.clear()
        self._backoff = 0.0
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Write what is left, retrying up to ``timeout_s``; then spill it to a side file."""
        if self._closed:
            return
        self._closed = True
        deadline = self._clock() + timeout_s
        while not self.flush(force=True):
            if self._clock() >= deadline:
                path = self.journal.spill(self._pending)
                log.warning(
                    "journal %s stayed locked; kept %d rows in %s for the next start",
                    self.journal.path, len(self._pending), path,
                )
                self._pending.clear()
                return
            self._sleep(min(self._backoff, max(deadline - self._clock(), 0.0)))
