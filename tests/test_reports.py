"""history / progress / export over a real journal, and the PNG read back pixel by pixel."""

from __future__ import annotations

import csv
import io
import json
import struct
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from voicecoach import chart as chart_mod
from voicecoach.chart import draw, level_rank
from voicecoach.cmd_journal import COMMANDS
from voicecoach.coach import Coach, Plan
from voicecoach.events import Event
from voicecoach.intents import PhraseTable
from voicecoach.journal import Journal, JournalSink, summarize_events
from voicecoach.knowledge import Level
from voicecoach.profile import start_advice
from voicecoach.reports import chart_points, summary_text, terminal_chart
from voicecoach.runner import ScriptLine, Session, run_virtual

from .test_journal import make_session, run

START = datetime(2026, 3, 2, 18, 0, tzinfo=UTC)
PLAN = [  # (level, sets of outcomes, pain)
    (Level("bent-knee", 45, 3.0), [[True] * 8, [True] * 6 + [False, "back_lifted"]], None),
    (Level("bent-knee", 30, 3.0), [[True] * 10, [True] * 9, [True] * 3], 3),
    (Level("single-leg", 45, 4.0), [[True] * 12, [True] * 12, [True] * 11], None),
]


@click.group()
def cli() -> None:
    pass


for _c in COMMANDS:
    cli.add_command(_c)


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "j.sqlite3"
    j = Journal(path)
    for i, (level, sets, pain) in enumerate(PLAN):
        run(j, make_session(sets, level, pain_in_set=pain), "kim",
            started_at=START + timedelta(days=2 * i))
    run(j, make_session([[True]]), "other")
    j.close()
    return path


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_history_shows_every_session_with_its_numbers(db: Path) -> None:
    lines = invoke("history", "--db", str(db), "--user", "kim").splitlines()
    assert lines[0].split() == ["date", "variation", "stop", "sets", "perfect", "pain", "stops"]
    rows = [line.split() for line in lines[2:]]
    assert len(rows) == 3
    for row, (i, (level, sets, pain)) in zip(rows, enumerate(PLAN), strict=True):
        date = (START + timedelta(days=2 * i)).astimezone().strftime("%Y-%m-%d")
        perfect = sum(o is True for s in sets for o in s)
        assert row == [date, row[1], level.variation, f"{level.stop_deg}°", str(len(sets)),
                       str(perfect), "1" if pain else "0"]


def test_history_of_a_new_user_says_so(db: Path) -> None:
    assert "No sessions yet" in invoke("history", "--db", str(db), "--user", "nobody")


def test_export_csv_and_json_match_the_journal(db: Path) -> None:
    sessions = Journal(db).sessions("kim")
    rows = list(csv.DictReader(io.StringIO(invoke("export", "--db", str(db), "--user", "kim"))))
    assert [r["session"] for r in rows] == [s.id for s in sessions]
    assert [int(r["perfect"]) for r in rows] == [16 - 2, 22, 35]
    assert [(r["variation"], int(r["stop_deg"])) for r in rows] == [
        (lv.variation, lv.stop_deg) for lv, _, _ in PLAN]
    data = json.loads(invoke("export", "--db", str(db), "--user", "kim", "--format", "json"))
    assert [s["perfect"] for s in data["sessions"]] == [14, 22, 35]
    first = data["sessions"][0]["sets_detail"]
    assert [(x["perfect"], x["attempts"], x["back_lifts"]) for x in first] == [(8, 8, 0),
                                                                              (6, 8, 1)]
    assert data["sessions"][1]["pain_stops"] == 1


def test_export_rejects_an_unknown_format(db: Path) -> None:
    result = CliRunner().invoke(cli, ["export", "--db", str(db), "--format", "xml"])
    assert result.exit_code == 2 and "'csv'" in result.output and "'json'" in result.output


def test_terminal_chart_draws_one_bar_per_session(db: Path) -> None:
    out = invoke("progress", "--db", str(db), "--user", "kim").splitlines()
    assert len(out) == 3
    bars = [line.split()[1] for line in out]
    assert [len(b) for b in bars] == [round(p * 40 / 35) for p in (14, 22, 35)]
    assert out[1].split()[-3:] == ["↑", "bent-knee", "30°"]
    assert terminal_chart([]).lines == ("No sessions yet.",)


def read_png(path: Path) -> tuple[int, int, bytes]:
    """A small PNG reader (8-bit RGB, no interlace) that checks every chunk's CRC."""
    blob = path.read_bytes()
    assert blob[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, h = 8, b"", 0, 0
    while pos < len(blob):
        (n,) = struct.unpack(">I", blob[pos: pos + 4])
        kind, data = blob[pos + 4: pos + 8], blob[pos + 8: pos + 8 + n]
        (crc,) = struct.unpack(">I", blob[pos + 8 + n: pos + 12 + n])
        assert zlib.crc32(kind + data) == crc, kind
        if kind == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", data)
            assert (depth, ctype, interlace) == (8, 2, 0)
        elif kind == b"IDAT":
            idat += data
        pos += 12 + n
    raw = zlib.decompress(idat)
    stride = 3 * w
    assert len(raw) == h * (stride + 1)
    assert all(raw[y * (stride + 1)] == 0 for y in range(h))
    return w, h, b"".join(raw[y * (stride + 1) + 1: (y + 1) * (stride + 1)] for y in range(h))


def test_png_chart_plots_exactly_the_journal(db: Path, tmp_path: Path) -> None:
    png = tmp_path / "progress.png"
    assert "3 sessions" in invoke("progress", "--db", str(db), "--user", "kim", "--png", str(png))
    w, h, pix = read_png(png)
    sessions = Journal(db).sessions("kim")
    chart = draw(chart_points(sessions))
    assert (w, h) == (chart.width, chart.height)
    assert pix == read_png_bytes(chart.png, tmp_path)

    def at(x: int, y: int) -> tuple[int, ...]:
        i = 3 * (y * w + x)
        return tuple(pix[i: i + 3])

    # Bars: count bar-coloured pixels up the middle of each bar; heights follow perfect reps.
    heights = []
    for (x0, _, x1, base), s in zip(chart.bars, sessions, strict=True):
        x, y, n = (x0 + x1) // 2, base, 0
        while at(x, y) == chart_mod.BAR:
            n, y = n + 1, y - 1
        heights.append(n)
        assert n == round(s.perfect * chart.reps_scale)
    assert heights[0] < heights[1] < heights[2]
    # Dots: find the dot's vertical centre in its column; its order follows the level.
    centres = []
    for (x, _), s in zip(chart.dots, sessions, strict=True):
        ys = [y for y in range(h) if at(x, y) == chart_mod.DOT]
        assert ys and max(ys) - min(ys) == 8  # one dot of radius 4
        centres.append((min(ys) + max(ys)) // 2)
        assert (min(ys) + max(ys)) // 2 == chart.dots[sessions.index(s)][1]
    ranks = [level_rank(s.level) for s in sessions]
    assert ranks == sorted(ranks) and len(set(ranks)) == 3
    assert centres[0] > centres[1] > centres[2]  # higher level, higher on the chart
    step = (centres[0] - centres[1]) / (ranks[1] - ranks[0])
    assert centres[0] - centres[2] == pytest.approx(step * (ranks[2] - ranks[0]), abs=1)


def read_png_bytes(blob: bytes, tmp_path: Path) -> bytes:
    p = tmp_path / "again.png"
    p.write_bytes(blob)
    return read_png(p)[2]


def test_png_of_an_empty_journal_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["progress", "--db", str(tmp_path / "new.sqlite3"), "--png", str(tmp_path / "x.png")]
    )
    assert result.exit_code == 1 and "no sessions" in result.output
    assert not (tmp_path / "x.png").exists()


def test_summary_counts_time_under_tension_and_energy() -> None:
    level = Level("bent-knee", 45, 4.0)
    evs = make_session([[True, True, False], [True, "back_lifted"]], level)
    s = summarize_events(evs, body_mass_kg=80.0)
    assert (s.sets, s.perfect, s.level) == (2, 3, level)
    assert s.time_under_tension_s == pytest.approx(3 * (3.0 + 4.0))  # lift+hold+lower beats
    set_times = [e.t for e in evs if e.type in ("set_start", "set_end")]
    active = sum(b - a for a, b in zip(set_times[::2], set_times[1::2], strict=True))
    assert s.active_s == pytest.approx(active)
    assert s.kcal == pytest.approx(3.0 * 3.5 * 80.0 / 200.0 * active / 60.0, abs=0.05)
    assert summarize_events(evs).kcal is None
    text = summary_text(s)
    assert "Perfect reps: 3" in text and "Time under tension: 0 min 21 s" in text
    assert "kcal" in text and "kcal" not in summary_text(summarize_events(evs))


def coached_session(journal: Journal, user: str, when: datetime,
                    script: list[tuple[float, str]]) -> tuple[list[Event], JournalSink]:
    """One real coach session on a virtual clock, set up from the journal as the CLI should."""
    advice = start_advice(journal.profile(user), journal.sessions(user), when)
    plan = Plan(sets=2, reps=4, rest_s=10.0, level=advice.level,
                first_use=advice.first_use, returning=advice.returning)
    events: list[Event] = []
    sink = JournalSink(journal, user, level=plan.level, started_at=when)
    session = Session(Coach(plan), PhraseTable.for_lang("en"), [events.append, sink])
    run_virtual(session, [ScriptLine(t, text, i) for i, (t, text) in enumerate(script, 1)])
    sink.close()
    return events, sink


def test_two_replayed_sessions_in_a_row_pick_up_where_the_last_ended(tmp_path: Path) -> None:
    db = tmp_path / "j.sqlite3"
    j = Journal(db)
    first_events, _ = coached_session(j, "lee", START, [(40.0, "harder"), (41.0, "slower")])
    cues = [e.data.get("id") for e in first_events if e.type == "cue"]
    assert "disclaimer" in cues and "welcome_back" not in cues
    adjusts = [e for e in first_events if e.type == "adjust"]
    end_level = Level(**{k: adjusts[-1].data[k] for k in ("variation", "stop_deg", "lower_s")})
    assert end_level == Level("bent-knee", 30, 4.0)
    assert j.profile("lee").level == end_level

    second, _ = coached_session(j, "lee", START + timedelta(days=2), [])
    cues = [e.data.get("id") for e in second if e.type == "cue"]
    assert "welcome_back" in cues and "disclaimer" not in cues
    starts = [e for e in second if e.type == "set_start"]
    assert Level(**{k: starts[0].data[k] for k in ("variation", "stop_deg", "lower_s")}) == (
        end_level)

    sessions = j.sessions("lee")
    perfect = [sum(1 for e in evs if e.type == "rep" and e.data["counted"])
               for evs in (first_events, second)]
    assert [s.perfect for s in sessions] == perfect and perfect[1] == 8
    assert [s.level for s in sessions] == [end_level, end_level]
    history = invoke("history", "--db", str(db), "--user", "lee").splitlines()[2:]
    assert [row.split()[2:6] for row in history] == [
        ["bent-knee", "30°", "2", str(perfect[0])], ["bent-knee", "30°", "2", str(perfect[1])]]
    rows = list(csv.DictReader(io.StringIO(invoke("export", "--db", str(db), "--user", "lee"))))
    assert [r["session"] for r in rows] == [s.id for s in sessions]
    png = tmp_path / "lee.png"
    invoke("progress", "--db", str(db), "--user", "lee", "--png", str(png))
    w, _, pix = read_png(png)
    chart = draw(chart_points(sessions))
    for (x0, top, x1, base), s in zip(chart.bars, sessions, strict=True):
        i = 3 * (top * w + (x0 + x1) // 2)
        assert tuple(pix[i: i + 3]) == chart_mod.BAR and base - top + 1 == round(
            s.perfect * chart.reps_scale)
