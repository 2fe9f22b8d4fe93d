"""The journal on real SQLite files: written as the session goes, and robust to faults."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from voicecoach.events import Event
from voicecoach.journal import SCHEMA_VERSION, Journal, JournalError, JournalSink
from voicecoach.knowledge import Level
from voicecoach.profile import load_level

T0 = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
DEFAULT_LEVEL = Level()


def rep_events(
    set_no: int, t: float, outcomes: Iterable[bool | str], level: Level
) -> tuple[list[Event], float, int]:
    """Beats and rep events for one set. An outcome is True (counted), False, or an intent
    said during the rep that makes it not count (e.g. "back_lifted")."""
    lv = {"variation": level.variation, "stop_deg": level.stop_deg, "lower_s": level.lower_s}
    evs: list[Event] = []
    perfect = 0
    for n, outcome in enumerate(outcomes, 1):
        for dt, beat in ((0.0, "lift"), (2.0, "hold"), (3.0, "lower")):
            data = {"text": beat, "beat": beat, "set": set_no, "rep": n}
            evs.append(Event(t + dt, "count", data))
        if isinstance(outcome, str):
            evs.append(Event(t + 4.0, "command", {"intent": outcome, "phrase": outcome}))
        evs.append(Event(t + 3.0 + level.lower_s, "count",
                         {"text": "hover", "beat": "hover", "set": set_no, "rep": n}))
        counted = outcome is True
        perfect += counted
        evs.append(Event(t + 3.2 + level.lower_s, "rep",
                         {"n": n, "counted": counted, "perfect": perfect, "set": set_no, **lv}))
        t += 3.5 + level.lower_s
    return evs, t, perfect


def make_session(
    sets: list[list[bool | str]], level: Level = DEFAULT_LEVEL, *, pain_in_set: int | None = None,
    end: str = "complete",
) -> list[Event]:
    """A whole session as the coach would emit it (hand-made, per docs/CONTRACT.md)."""
    lv = {"variation": level.variation, "stop_deg": level.stop_deg, "lower_s": level.lower_s}
    evs: list[Event] = [Event(0.0, "cue", {"text": "hello", "id": "welcome"})]
    t, total = 1.0, 0
    for i, outcomes in enumerate(sets, 1):
        evs.append(Event(t, "set_start", {"set": i, "of": len(sets), "reps": 10, **lv}))
        reps, t, perfect = rep_events(i, t + 1.0, outcomes, level)
        evs += reps
        total += perfect
        reason = "complete"
        if pain_in_set == i:
            evs.append(Event(t, "command", {"intent": "pain", "phrase": "ouch"}))
            evs.append(Event(t, "pain_stop", {"phrase": "ouch"}))
            reason = "pain"
        evs.append(Event(t, "set_end", {"set": i, "perfect": perfect,
                                        "attempts": len(outcomes), "reason": reason}))
        evs.append(Event(t, "rest", {"seconds": 60}))
        t += 60.0
    evs.append(Event(t, "session_end", {"reason": end, "sets": len(sets), "perfect": total}))
    return evs


def run(journal: Journal, events: list[Event], user: str = "default",
        started_at: datetime = T0, close_timeout_s: float = 10.0) -> JournalSink:
    sink = JournalSink(journal, user, started_at=started_at)
    for ev in events:
        sink(ev)
    sink.close(timeout_s=close_timeout_s)
    return sink


def test_session_is_recorded_with_reasons_commands_and_profile(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    level = Level("bent-knee", 30, 4.0)
    evs = make_session([[True, True, "back_lifted", True], [True, False]], level)
    evs.insert(5, Event(2.5, "unknown", {"phrase": "what a nice day"}))
    sink = run(j, evs, "ana")
    [s] = j.sessions("ana")
    assert (s.perfect, len(s.sets), s.end_reason, s.level) == (4, 2, "complete", level)
    assert [x.back_lifts for x in s.sets] == [1, 0]
    reps = j.table("reps", sink.session_id)
    assert [(r["set_no"], r["n"], r["counted"], r["reason"]) for r in reps] == [
        (1, 1, 1, None), (1, 2, 1, None), (1, 3, 0, "back_lifted"), (1, 4, 1, None),
        (2, 1, 1, None), (2, 2, 0, "not_counted"),
    ]
    assert all(r["duration_s"] == pytest.approx(3.0 + 4.0) for r in reps)
    heard = [(c["intent"], c["phrase"]) for c in j.table("commands", sink.session_id)]
    assert heard == [(None, "what a nice day"), ("back_lifted", "back_lifted")]
    assert j.sessions("someone-else") == []
    assert load_level(j, "ana") == level
    assert j.profile("ana").last_session_at == T0


def test_end_state_follows_adjustments_and_pain_stops_are_kept(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    evs = make_session([[True, True]], Level("straight-leg", 30, 3.0), pain_in_set=1, end="stop")
    harder = Level("straight-leg", 15, 3.0)
    evs.insert(-1, Event(evs[-1].t, "adjust", {"variation": "straight-leg", "stop_deg": 15,
                                               "lower_s": 3.0, "intent": "harder"}))
    sink = run(j, evs)
    assert j.profile().level == harder
    [s] = j.sessions()
    assert (s.pain_stops, s.sets[0].reason, s.level) == (1, "pain", harder)
    assert [a["intent"] for a in j.table("adjustments", sink.session_id)] == ["harder"]
    assert j.table("pain_stops", sink.session_id)[0]["phrase"] == "ouch"


def test_first_use_flag_clears_when_the_disclaimer_is_spoken(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    assert j.profile("new").first_use
    run(j, make_session([[True]]), "new")
    assert j.profile("new").first_use, "no disclaimer cue was spoken yet"
    run(j, [Event(0.0, "cue", {"text": "not medical advice", "id": "disclaimer"})], "new")
    assert not j.profile("new").first_use


CHILD = r"""
import sys, time
from voicecoach.events import Event
from voicecoach.journal import Journal, JournalSink
j = Journal(sys.argv[1])
sink = JournalSink(j, "killme")
sink(Event(0.0, "set_start", {"set": 1, "of": 1, "reps": 10000, "variation": "bent-knee",
                              "stop_deg": 45, "lower_s": 3.0}))
n = 0
while True:
    n += 1
    sink(Event(n * 6.0, "count", {"text": "up", "beat": "lift", "set": 1, "rep": n}))
    sink(Event(n * 6.0 + 5.0, "rep", {"n": n, "counted": n % 4 != 0, "perfect": n - n // 4,
         "set": 1, "variation": "bent-knee", "stop_deg": 45, "lower_s": 3.0}))
    print(n, flush=True)
    time.sleep(0.002)
"""


def test_sigkill_mid_session_keeps_every_finished_rep(tmp_path: Path) -> None:
    db = tmp_path / "j.sqlite3"
    with subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, text=True
    ) as child:
        assert child.stdout is not None
        seen = 0
        for line in child.stdout:
            seen = int(line)
            if seen >= 40:
                break
        os.kill(child.pid, signal.SIGKILL)
        rest = child.stdout.read().split()
        child.wait()
    assert child.returncode == -signal.SIGKILL
    finished = int(rest[-1]) if rest else seen
    j = Journal(db)
    [s] = j.sessions("killme")
    assert s.end_reason is None  # it never ended
    reps = j.table("reps", s.id)
    numbers = [r["n"] for r in reps]
    assert numbers[:finished] == list(range(1, finished + 1))
    assert len(numbers) - finished <= 1  # at most the rep committed before its print
    assert [bool(r["counted"]) for r in reps[:finished]] == [
        n % 4 != 0 for n in range(1, finished + 1)
    ]


def test_corrupt_file_is_moved_aside_and_a_new_journal_starts(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "j.sqlite3"
    garbage = b"this is not a database, it is a shopping list\n" * 200
    db.write_bytes(garbage)
    with caplog.at_level(logging.WARNING, logger="voicecoach.journal"):
        j = Journal(db)
    assert j.moved_aside is not None and j.moved_aside.read_bytes() == garbage
    assert j.moved_aside.name.startswith("j.sqlite3.corrupt-")
    assert "damaged" in caplog.text and str(j.moved_aside) in caplog.text
    run(j, make_session([[True, True]]))
    assert j.sessions()[0].perfect == 2


def test_damaged_pages_in_a_real_journal_are_detected(tmp_path: Path) -> None:
    db = tmp_path / "j.sqlite3"
    j = Journal(db)
    run(j, make_session([[True] * 30] * 3))
    j.close()
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    raw = bytearray(db.read_bytes())
    page = 4096
    assert len(raw) > 3 * page
    raw[2 * page: 3 * page] = b"\xa5" * page  # wreck a b-tree page
    db.write_bytes(bytes(raw))
    j2 = Journal(db)
    assert j2.moved_aside is not None and j2.moved_aside.exists()
    assert j2.sessions() == []


def test_locked_journal_keeps_rows_in_memory_and_flushes_later(tmp_path: Path) -> None:
    db = tmp_path / "j.sqlite3"
    j = Journal(db)
    now = [0.0]
    sink = JournalSink(j, started_at=T0, clock=lambda: now[0])
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    evs = make_session([[True, True, True], [True, False]])
    for ev in evs[:-4]:
        now[0] = ev.t
        sink(ev)  # must not raise
    assert sink.pending > 0
    peek = sqlite3.connect(db)
    assert peek.execute("SELECT count(*) FROM reps").fetchone()[0] == 0
    other.execute("COMMIT")
    for ev in evs[-4:]:
        now[0] = ev.t + 10.0
        sink(ev)
    assert sink.pending == 0
    assert peek.execute("SELECT count(*) FROM reps").fetchone()[0] == 5
    sink.close()
    assert j.sessions()[0].perfect == 4


def test_close_waits_for_the_lock_to_go_away(tmp_path: Path) -> None:
    db = tmp_path / "j.sqlite3"
    j = Journal(db)
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")
    sink = JournalSink(j, started_at=T0)
    for ev in make_session([[True, True]]):
        sink(ev)
    timer = threading.Timer(0.4, lambda: other.execute("COMMIT"))
    timer.start()
    sink.close(timeout_s=10.0)
    timer.join()
    assert j.sessions()[0].perfect == 2
    assert not j.spill_path.exists()


def test_rows_still_locked_at_close_are_spilled_and_applied_next_time(tmp_path: Path) -> None:
    db = tmp_path / "j.sqlite3"
    Journal(db).close()
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    j = Journal(db, open_timeout_s=0.1)
    sink = run(j, make_session([[True, False, True]]), "sam", close_timeout_s=0.3)
    assert j.spill_path.exists()
    other.execute("COMMIT")
    j2 = Journal(db)
    assert not j2.spill_path.exists()
    [s] = j2.sessions("sam")
    assert (s.id, s.perfect, s.end_reason) == (sink.session_id, 2, "complete")


# The first released schema, written here by hand as a fixture (not taken from the code).
V1_SCHEMA = """
CREATE TABLE sessions (id TEXT PRIMARY KEY, user TEXT NOT NULL, started_at TEXT NOT NULL,
    ended_at TEXT, end_reason TEXT, variation TEXT, stop_deg INTEGER, lower_s REAL);
CREATE TABLE sets (session_id TEXT NOT NULL, set_no INTEGER NOT NULL, variation TEXT,
    stop_deg INTEGER, lower_s REAL, perfect INTEGER, attempts INTEGER, reason TEXT,
    PRIMARY KEY (session_id, set_no));
CREATE TABLE reps (session_id TEXT NOT NULL, set_no INTEGER NOT NULL, n INTEGER NOT NULL,
    t REAL, counted INTEGER NOT NULL, PRIMARY KEY (session_id, set_no, n));
CREATE TABLE profiles (user TEXT PRIMARY KEY, variation TEXT, stop_deg INTEGER,
    lower_s REAL, last_session_at TEXT);
INSERT INTO sessions VALUES ('old1', 'default', '2026-01-05T18:00:00+00:00',
    '2026-01-05T18:20:00+00:00', 'complete', 'single-leg', 30, 3.5);
INSERT INTO sets VALUES ('old1', 1, 'single-leg', 30, 3.5, 2, 3, 'complete');
INSERT INTO sets VALUES ('old1', 2, 'single-leg', 30, 3.5, 1, 1, 'done');
INSERT INTO reps VALUES ('old1', 1, 1, 5.0, 1), ('old1', 1, 2, 11.0, 0), ('old1', 1, 3, 17.0, 1),
    ('old1', 2, 1, 90.0, 1);
INSERT INTO profiles VALUES ('default', 'single-leg', 30, 3.5, '2026-01-05T18:00:00+00:00');
PRAGMA user_version = 1;
"""


def test_migration_from_v1_keeps_the_data(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    con = sqlite3.connect(db)
    con.executescript(V1_SCHEMA)
    con.close()
    j = Journal(db)
    assert j._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    [s] = j.sessions()
    assert (s.id, s.perfect, s.end_reason) == ("old1", 3, "complete")
    assert [(x.set_no, x.perfect, x.attempts, x.min_lower_s) for x in s.sets] == [
        (1, 2, 3, 3.5), (2, 1, 1, 3.5)]
    reps = j.table("reps", "old1")
    assert [(r["n"], r["counted"], r["reason"], r["variation"]) for r in reps[:3]] == [
        (1, 1, None, "single-leg"), (2, 0, "not_counted", "single-leg"),
        (3, 1, None, "single-leg")]
    p = j.profile()
    assert p.level == Level("single-leg", 30, 3.5) and not p.first_use
    run(j, make_session([[True]], p.level), started_at=datetime(2026, 1, 8, 18, tzinfo=UTC))
    assert j.sessions()[0].id == "old1" and len(j.sessions()) == 2


def test_journal_from_a_newer_version_is_refused_with_a_fix(tmp_path: Path) -> None:
    db = tmp_path / "new.sqlite3"
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(JournalError, match="newer.*--db"):
        Journal(db)
    assert db.exists()  # not moved aside: it is not damaged


def test_adjustment_during_a_rep_is_the_end_state_and_the_rep_keeps_its_own_level(
    tmp_path: Path,
) -> None:
    j = Journal(tmp_path / "j.sqlite3")
    level = Level("straight-leg", 15, 3.0)
    evs = make_session([[True, True, True]], level)
    last_rep = max(i for i, e in enumerate(evs) if e.type == "rep")
    higher = {"variation": "straight-leg", "stop_deg": 30, "lower_s": 3.0}
    adjust = Event(evs[last_rep].t - 0.1, "adjust", {**higher, "intent": "back_lifted"})
    evs.insert(last_rep, adjust)
    sink = run(j, evs)
    assert j.profile().level == Level(**higher)
    assert j.sessions()[0].level == Level(**higher)
    assert [r["stop_deg"] for r in j.table("reps", sink.session_id)] == [15, 15, 15]
