"""Reports from the journal: history table, CSV/JSON export, terminal chart, summary text.

Everything here takes records (``SessionRecord``) and writes to a text file
object, so tests use ``io.StringIO``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TextIO

from .chart import ChartPoint, level_rank
from .journal_sink import SessionSummary
from .knowledge import Level
from .profile import SessionRecord

EXPORT_FORMATS = ("csv", "json")
HISTORY_COLUMNS = ("date", "variation", "stop", "sets", "perfect", "pain stops")
EXPORT_FIELDS = (
    "session", "user", "started_at", "end_reason", "variation", "stop_deg", "lower_s",
    "sets", "perfect", "attempts", "pain_stops",
)


class ReportError(Exception):
    """A report cannot be made (the message names the bad value and the options)."""


def stop_text(deg: int) -> str:
    return "hover" if deg <= 5 else f"{deg}°"


def _local(t: datetime) -> datetime:
    return t.astimezone() if t.tzinfo else t


def session_row(s: SessionRecord) -> dict[str, Any]:
    """One session as a flat dict of plain values (the export schema)."""
    return {
        "session": s.id,
        "user": s.user,
        "started_at": s.started_at.isoformat(),
        "end_reason": s.end_reason or "interrupted",
        "variation": s.level.variation,
        "stop_deg": s.level.stop_deg,
        "lower_s": s.level.lower_s,
        "sets": len(s.sets),
        "perfect": s.perfect,
        "attempts": sum(x.attempts for x in s.sets),
        "pain_stops": s.pain_stops,
    }


def write_history(sessions: Sequence[SessionRecord], out: TextIO) -> None:
    """A plain-text table, one line per session, oldest first."""
    if not sessions:
        out.write("No sessions yet. Train once and they show up here.\n")
        return
    rows = [
        (
            _local(s.started_at).strftime("%Y-%m-%d %H:%M"),
            s.level.variation,
            stop_text(s.level.stop_deg),
            str(len(s.sets)),
            str(s.perfect),
            str(s.pain_stops),
        )
        for s in sessions
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(HISTORY_COLUMNS)]
    numeric = {3, 4, 5}

    def line(cells: Sequence[str]) -> str:
        cols = enumerate(zip(cells, widths, strict=True))
        return "  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in cols).rstrip()

    out.write(line(HISTORY_COLUMNS) + "\n")
    out.write(line(["-" * w for w in widths]) + "\n")
    out.writelines(line(r) + "\n" for r in rows)


def export(sessions: Sequence[SessionRecord], fmt: str, out: TextIO) -> None:
    """CSV (one row per session) or JSON (sessions with their sets)."""
    if fmt not in EXPORT_FORMATS:
        raise ReportError(f"export format {fmt!r} is not one of: {', '.join(EXPORT_FORMATS)}")
    if fmt == "csv":
        w = csv.DictWriter(out, fieldnames=EXPORT_FIELDS, lineterminator="\n")
        w.writeheader()
        for s in sessions:
            w.writerow(session_row(s))
        return
    data = []
    for s in sessions:
        row = session_row(s)
        row["sets_detail"] = [
            {"set": x.set_no, "variation": x.level.variation, "stop_deg": x.level.stop_deg,
             "lower_s": x.level.lower_s, "perfect": x.perfect, "attempts": x.attempts,
             "reason": x.reason, "back_lifts": x.back_lifts}
            for x in s.sets
        ]
        data.append(row)
    json.dump({"sessions": data}, out, indent=2, ensure_ascii=False)
    out.write("\n")


def chart_points(sessions: Sequence[SessionRecord]) -> list[ChartPoint]:
    """The series the progress charts plot: one point per session, oldest first."""
    return [ChartPoint(_local(s.started_at).strftime("%m-%d"), s.perfect, s.level)
            for s in sessions]


@dataclass(frozen=True)
class TerminalChart:
    lines: tuple[str, ...]
    points: tuple[ChartPoint, ...]


def terminal_chart(sessions: Sequence[SessionRecord], width: int = 40) -> TerminalChart:
    """Horizontal bars of perfect reps per session, with the level beside each."""
    points = chart_points(sessions)
    if not points:
        return TerminalChart(("No sessions yet.",), ())
    top = max(max(p.perfect for p in points), 1)
    lines = []
    prev: Level | None = None
    for p in points:
        cells = round(p.perfect * width / top)
        bar = "█" * cells or "·"
        mark = "  "
        if prev is not None:
            mark = "↑ " if level_rank(p.level) > level_rank(prev) else (
                "↓ " if level_rank(p.level) < level_rank(prev) else "  ")
        lines.append(f"{p.label}  {bar.ljust(width)} {p.perfect:>3}  {mark}"
                     f"{p.level.variation} {stop_text(p.level.stop_deg)}")
        prev = p.level
    return TerminalChart(tuple(lines), tuple(points))


def summary_text(s: SessionSummary) -> str:
    """The printed end-of-session summary (English)."""
    minutes, seconds = divmod(round(s.time_under_tension_s), 60)
    parts = [
        f"Sets: {s.sets}",
        f"Perfect reps: {s.perfect}",
        (f"Variation: {s.level.variation}, stop point {stop_text(s.level.stop_deg)}, "
        f"lowering {s.level.lower_s:g} s"),
        f"Time under tension: {minutes} min {seconds:02d} s",
    ]
    if s.kcal is not None:
        parts.append(f"Estimated energy: about {s.kcal:.0f} kcal")
    if s.pain_stops:
        parts.append(f"Pain stops: {s.pain_stops}")
    return "\n".join(parts) + "\n"
