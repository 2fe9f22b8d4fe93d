"""Sessions through the CLI into a real journal: the next one starts where the last ended."""

from __future__ import annotations

import csv
import io
import json
import struct
import zlib
from pathlib import Path

from click.testing import CliRunner

from voicecoach.cli import cli


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR"
    body = data[16 : 16 + length]
    assert zlib.crc32(kind + body) == struct.unpack(">I", data[16 + length : 20 + length])[0]
    return struct.unpack(">II", body[:8])


def test_two_replayed_sessions_in_a_row(tmp_path: Path) -> None:
    db = str(tmp_path / "journal.sqlite3")
    script = tmp_path / "s.txt"
    script.write_text("1 skip\n20 harder\n30 slower\n")
    first = invoke("replay", str(script), "--json", "--sets", "1", "--reps", "3", "--db", db,
                   "--started-at", "2026-11-01 18:00")
    end_first = [json.loads(x) for x in first.splitlines()]
    last_adjust = [e for e in end_first if e["type"] == "adjust"][-1]
    assert (last_adjust["stop_deg"], last_adjust["lower_s"]) == (30, 4.0)

    script.write_text("1 skip\n")
    second = [json.loads(x) for x in invoke(
        "replay", str(script), "--json", "--sets", "1", "--reps", "2", "--db", db,
        "--started-at", "2026-11-04 18:00").splitlines()]
    start = next(e for e in second if e["type"] == "set_start")
    assert (start["variation"], start["stop_deg"], start["lower_s"]) == ("bent-knee", 30, 4.0)
    said = [e["text"] for e in second if e["type"] == "cue"]
    assert said[0] == "Welcome back. We carry on from last time."
    assert not any("medical advice" in t for t in said)  # said once, at first use

    history = invoke("history", "--db", db)
    assert "2026-11-01" in history and "2026-11-04" in history

    rows = list(csv.DictReader(io.StringIO(invoke("export", "--db", db, "--format", "csv"))))
    assert len(rows) == 2
    exported = json.loads(invoke("export", "--db", db, "--format", "json"))
    assert len(exported if isinstance(exported, list) else exported["sessions"]) == 2

    png = tmp_path / "progress.png"
    invoke("progress", "--db", db, "--png", str(png))
    width, height = png_size(png.read_bytes())
    assert width > 100 and height > 100
    terminal = invoke("progress", "--db", db)
    assert terminal.count("\n") >= 2


def test_replay_without_db_leaves_the_journal_alone(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    script = tmp_path / "s.txt"
    script.write_text("1 stop\n")
    invoke("replay", str(script))
    assert not (tmp_path / "data").exists()


def test_a_corrupt_journal_is_moved_aside_and_the_session_still_runs(tmp_path: Path) -> None:
    db = tmp_path / "journal.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    script = tmp_path / "s.txt"
    script.write_text("1 skip\n5 stop\n")
    result = CliRunner().invoke(cli, ["replay", str(script), "--db", str(db)])
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert list(tmp_path.glob("journal.sqlite3.corrupt-*"))
    rows = list(csv.DictReader(io.StringIO(invoke("export", "--db", str(db), "--format", "csv"))))
    assert len(rows) == 1  # the new journal holds the session that just ran
