"""Journal timings: commit per event, reading a long history, drawing the PNG chart.

Run: python bench/bench_journal.py [--sessions N]
Prints a table and writes bench/results/journal.json.

Targets: a rep commit well under the ~100 ms gap between a rep ending and the next
beat (the sink runs in the coaching thread); history and chart of a year of
training (150 sessions) in well under a second on a Raspberry Pi.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from voicecoach.chart import draw
from voicecoach.events import Event
from voicecoach.journal import Journal, JournalSink
from voicecoach.knowledge import Level
from voicecoach.reports import chart_points, write_history


def session_events(level: Level, sets: int = 3, reps: int = 10) -> list[Event]:
    lv = {"variation": level.variation, "stop_deg": level.stop_deg, "lower_s": level.lower_s}
    evs: list[Event] = []
    t = 0.0
    for s in range(1, sets + 1):
        evs.append(Event(t, "set_start", {"set": s, "of": sets, "reps": reps, **lv}))
        for n in range(1, reps + 1):
            for dt, beat in ((0.0, "lift"), (2.0, "hold"), (3.0, "lower")):
                evs.append(Event(t + dt, "count", {"text": beat, "beat": beat, "set": s, "rep": n}))
            t += 3.0 + level.lower_s
            evs.append(Event(t, "rep", {"n": n, "counted": True, "perfect": n, "set": s, **lv}))
        evs.append(Event(t, "set_end", {"set": s, "perfect": reps, "attempts": reps,
                                        "reason": "complete"}))
        t += 60.0
    evs.append(Event(t, "session_end", {"reason": "complete", "sets": sets,
                                        "perfect": sets * reps}))
    return evs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=150)
    ap.add_argument("--dir", default=None, help="Folder for the journal (its disk matters).")
    args = ap.parse_args()
    rows: dict[str, float] = {}
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        j = Journal(Path(tmp) / "bench.sqlite3")
        start = datetime(2026, 1, 1, tzinfo=UTC)
        rep_ms: list[float] = []
        level = Level()
        t_fill = time.perf_counter()
        for i in range(args.sessions):
            sink = JournalSink(j, started_at=start + timedelta(days=2 * i))
            for ev in session_events(level):
                t0 = time.perf_counter()
                sink(ev)
                if ev.type == "rep":
                    rep_ms.append((time.perf_counter() - t0) * 1000)
            sink.close()
            if i % 10 == 9:
                level = level.harder()
        rows["fill_s"] = time.perf_counter() - t_fill
        rows["rep_commit_median_ms"] = statistics.median(rep_ms)
        rows["rep_commit_p99_ms"] = sorted(rep_ms)[int(len(rep_ms) * 0.99)]
        j.close()

        t0 = time.perf_counter()
        j = Journal(Path(tmp) / "bench.sqlite3")
        rows["open_ms"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        sessions = j.sessions()
        rows["read_sessions_ms"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        write_history(sessions, io.StringIO())
        rows["history_table_ms"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        chart = draw(chart_points(sessions))
        rows["png_chart_ms"] = (time.perf_counter() - t0) * 1000
        rows["png_bytes"] = len(chart.png)
    print(f"journal benchmark, {args.sessions} sessions of 3x10 reps ({platform.machine()})")
    for k, v in rows.items():
        print(f"  {k:<22} {v:>10.2f}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "journal.json").write_text(json.dumps(
        {"sessions": args.sessions, "machine": platform.machine(), **rows}, indent=2))


if __name__ == "__main__":
    main()
