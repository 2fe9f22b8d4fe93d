"""The command line: replay, text mode, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from voicecoach.cli import cli


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def events_of(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_replay_json_shows_commands_taking_effect(tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("# warm-up done\n1 skip\n\n10 harder\n12 slower\n30 stop\n")
    code, out, _ = run("replay", str(script), "--json", "--sets", "2", "--reps", "5")
    assert code == 0
    events = events_of(out)
    assert [e["t"] for e in events] == sorted(e["t"] for e in events)
    commands = [(e["t"], e["intent"]) for e in events if e["type"] == "command"]
    assert commands == [(1.0, "skip"), (10.0, "harder"), (12.0, "slower"), (30.0, "stop")]
    adjusts = [(e["variation"], e["stop_deg"], e["lower_s"]) for e in events
               if e["type"] == "adjust"]
    assert adjusts == [("bent-knee", 30, 3.0), ("bent-knee", 30, 4.0)]
    assert events[-1]["type"] == "session_end" and events[-1]["reason"] == "stop"


def test_replay_without_json_prints_a_readable_transcript(tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("1 skip\n5 what is that\n20 done\n")
    code, out, _ = run("replay", str(script), "--sets", "1", "--reps", "2")
    assert code == 0
    assert ">> what is that  (not a command)" in out
    assert "Didn't catch that." in out
    assert "set 1 over (done)" in out


def test_malformed_script_line_names_its_line(tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("1 skip\n# fine\nsoon easier\n")
    code, out, err = run("replay", str(script))
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        f"Error: {script}, line 3: expected '<seconds> <phrase>', got 'soon easier'"
    )
    script.write_text("5 skip\n3 easier\n")
    assert "line 2" in run("replay", str(script))[2]
    script.write_text("5\n")
    assert "line 1: no phrase" in run("replay", str(script))[2]


def test_invalid_option_value_is_one_line_naming_the_option(tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("1 stop\n")
    for args, name in [(["--stop", "20"], "'--stop'"), (["--variation", "crunch"],
                       "'--variation'"), (["--lower", "9"], "'--lower'"),
                       (["--lang", "fr"], "'--lang'")]:
        code, _, err = run("replay", str(script), *args)
        assert code == 2
        error_lines = [line for line in err.splitlines() if line.startswith("Error:")]
        assert len(error_lines) == 1 and name in error_lines[0]
        assert "Traceback" not in err


def test_missing_script_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = run("replay", str(tmp_path / "nope.txt"))
    assert code == 2 and "does not exist" in err and "Traceback" not in err


def test_text_mode_reads_typed_commands_on_the_real_clock(tmp_path: Path) -> None:
    events_file = tmp_path / "events.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "voicecoach", "start", "--text", "--sets", "1", "--reps", "2",
         "--events", str(events_file), "--db", str(tmp_path / "journal.sqlite3")],
        input="skip\nharder\nhello there\nstop\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert ">> harder  (harder)" in proc.stdout
    assert ">> hello there  (not a command)" in proc.stdout
    assert "session over (stop)" in proc.stdout
    assert "Traceback" not in proc.stderr
    events = events_of(events_file.read_text())
    adjust = next(e for e in events if e["type"] == "adjust")
    assert (adjust["variation"], adjust["stop_deg"]) == ("bent-knee", 30)
    assert events[-1]["type"] == "session_end"
    assert "Perfect reps: 0" in proc.stdout  # the printed summary from the journal


def test_replay_out_writes_what_the_speaker_would_play(tmp_path: Path) -> None:
    import wave

    import numpy as np

    script = tmp_path / "s.txt"
    script.write_text("1 skip\n")
    out = tmp_path / "coach.wav"
    code, stdout, _ = run("replay", str(script), "--json", "--sets", "1", "--reps", "1",
                          "--out", str(out))
    assert code == 0
    events = events_of(stdout)
    with wave.open(str(out)) as w:
        rate = w.getframerate()
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
    assert len(audio) >= round(events[-1]["t"] * rate)  # lasts to the end of the session
    lift = next(e for e in events if e["type"] == "count" and e["beat"] == "lift")
    at = int(round(lift["t"] * rate))
    before = np.abs(audio[at - rate // 10 : at]).max()
    after = np.abs(audio[at : at + rate // 10]).max()
    assert before < 50 < after  # silence, then the count starts on its sample


def test_replaying_the_coachs_own_voice_keeps_its_timeline_and_obeys_nothing(
        tmp_path: Path) -> None:
    """A recording of a microphone that heard only the coach (and a quiet room): replayed,
    the coach says the same lines at the same times (its real clip lengths) and removes its
    own voice."""
    import numpy as np

    from voicecoach.phrasecache import resample
    from voicecoach.tts import read_wav

    from . import speech

    script, coach = tmp_path / "s.txt", tmp_path / "coach.wav"
    script.write_text("# nothing said\n")
    args = ["--sets", "1", "--reps", "2", "--json"]
    code, out, _ = run("replay", str(script), *args, "--out", str(coach))
    assert code == 0
    samples, rate = read_wav(coach)
    mic = tmp_path / "mic.wav"
    room = speech.mix_snr(resample(samples * 32767.0, rate, 16000), "white", 30.0, seed=1)
    speech.write_wav(mic, np.clip(np.round(room), -32768, 32767).astype(np.int16))
    code, heard, err = run("replay", str(mic), *args, "--engine", "pocketsphinx")
    assert code == 0, err

    def spoken(events: list[dict]) -> list[tuple[str, str]]:
        return [(f"{e['t']:.2f}", e["text"]) for e in events if e.get("text")]

    live, replayed = events_of(out), events_of(heard)
    assert not [e for e in replayed if e["type"] == "command"]
    assert spoken(replayed)[:40] == spoken(live)[:40]


def test_unwritable_out_is_a_one_line_error(tmp_path: Path) -> None:
    script = tmp_path / "s.txt"
    script.write_text("1 stop\n")
    code, _, err = run("replay", str(script), "--out", str(tmp_path / "no" / "such" / "x.wav"))
    assert code == 1 and "Traceback" not in err
    assert len([line for line in err.splitlines() if line.startswith("Error:")]) == 1
