"""The whole product over a real audio path: PulseAudio null sinks, real sounddevice streams.

`voicecoach start` runs as a user would run it, in its own process. Its microphone is the
monitor of a null sink, into which the test plays a synthetic user's commands at set
moments, and into which the coach's own speaker plays too, at speaking level, for the whole
session: the coach hears itself all along and must never obey itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from . import speech
from .pulse import Pulse, _load_null_sink, _pactl, ensure_pulse

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (speech.have("flite") and speech.have("sox")),
                       reason="needs flite and sox"),
]

USER_VOICE = "flite:awb"  # held out: never used to tune the recognizer


@contextmanager
def room(tag: str) -> Iterator[tuple[Pulse, Pulse]]:
    """The coach's speaker and the microphone: one null sink, so everything the coach plays
    is in the microphone signal, at the level it was played. (A second sink looped back into
    this one by PulseAudio's loopback module did the same, except that now and then, under
    load, the loopback's latency jumped by up to 29 ms and glided back over several seconds,
    or wandered for four: no room does that, and the echo canceller cannot follow a glide.
    Measured on the microphone recordings of two failed runs, both 50-57 s into the
    session.)"""
    ensure_pulse()
    mic = f"vc_mic_{tag}"
    module = _load_null_sink(mic)
    try:
        yield Pulse(mic), Pulse(mic)
    finally:
        _pactl("unload-module", str(module), check=False)


class EventTail:
    """Reads the JSON events file as the coach writes it, noting when each line appeared."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.events: list[tuple[float, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self.path.exists() and not self._stop.is_set():
            time.sleep(0.01)
        with self.path.open(encoding="utf-8") as f:
            buf = ""
            while not self._stop.is_set():
                chunk = f.readline()
                if not chunk:
                    time.sleep(0.005)
                    continue
                buf += chunk
                if buf.endswith("\n"):
                    self.events.append((time.monotonic(), json.loads(buf)))
                    buf = ""

    def wait_for(self, pred: Any, timeout: float) -> tuple[float, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        seen = 0
        while time.monotonic() < deadline:
            for item in self.events[seen:]:
                if pred(item[1]):
                    return item
            seen = max(seen, len(self.events) - 1) if self.events else 0
            time.sleep(0.01)
        raise AssertionError(f"timed out; last events: {[e for _, e in self.events[-5:]]}")

    def stop(self) -> None:
        self._stop.set()


def command_clip(text: str, level_rms: float) -> np.ndarray:
    x = speech.synth(text, USER_VOICE).astype(np.float64)
    return np.clip(x * level_rms / speech._rms(x), -32767, 32767).astype(np.int16)


def returning_user(db: Path) -> None:
    """A journal with one earlier session, so the coach uses its short setup."""
    script = db.parent / "earlier.txt"
    script.write_text("5 done\n")
    subprocess.run([sys.executable, "-m", "voicecoach", "replay", str(script), "--sets", "1",
                    "--db", str(db), "--started-at", "2026-11-01"], check=True,
                   capture_output=True, timeout=120)


def start_live(db: Path, events_path: Path, mic_wav: Path, speaker: Pulse, mic: Pulse,
               reps: int, own_group: bool = False) -> subprocess.Popen[str]:
    """``voicecoach start`` live; ``own_group``: in a process group of its own, as a program
    started from a terminal is (so the test can send it what Ctrl-C sends)."""
    env = dict(os.environ, PULSE_SINK=speaker.sink, PULSE_SOURCE=mic.source)
    return subprocess.Popen(
        [sys.executable, "-m", "voicecoach", "--debug", "start", "--sets", "1", "--reps",
         str(reps), "--variation", "bent-knee", "--stop", "45", "--lower", "3", "--engine",
         "pocketsphinx", "--db", str(db), "--events", str(events_path),
         "--record-mic", str(mic_wav)],
        env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, process_group=0 if own_group else None)


def stop(proc: subprocess.Popen[str], tail: EventTail, tmp_path: Path) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    tail.stop()
    (tmp_path / "stderr.txt").write_text(err)  # kept by pytest for a failed run
    return out, err


def hearing(err: str) -> str:
    """What the coach heard and dropped, and how well it cancelled its own voice, from its
    debug log: what a failed run needs to be understood (CI keeps only the output)."""
    keep = ("heard ", "dropped ", "echo canceller at", "echo delay", "echo path moved",
            "overflow", "underflow")
    return "\n".join(line for line in err.splitlines() if any(k in line for k in keep))


def test_the_coach_hearing_itself_all_session_obeys_nothing_and_sigterm_saves(
        tmp_path: Path) -> None:
    db, events_path, mic_wav = tmp_path / "j.db", tmp_path / "events.jsonl", tmp_path / "mic.wav"
    returning_user(db)
    with room(f"self{os.getpid()}") as (speaker, mic):
        proc = start_live(db, events_path, mic_wav, speaker, mic, reps=3)
        tail = EventTail(events_path)
        try:
            # Setup cues, the set, the set's end: the coach talks the whole time.
            tail.wait_for(lambda e: e["type"] == "set_end", timeout=240)
        finally:
            out, err = stop(proc, tail, tmp_path)
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    events = [e for _, e in tail.events]
    assert not [e for e in events if e["type"] == "command"], hearing(err)  # never obeyed itself
    assert events[-1]["type"] == "session_end"  # SIGTERM: ended, saved, summarised
    assert "perfect" in out
    assert "echo delay" in err  # the canceller found the loop's delay
    assert mic_wav.stat().st_size > 16000 * 2 * 30  # the microphone was recorded
    history = subprocess.run([sys.executable, "-m", "voicecoach", "history", "--db", str(db)],
                             capture_output=True, text=True, check=True).stdout
    assert history.count("bent-knee") >= 2, history  # the earlier session and this one


def test_spoken_commands_act_live_and_the_coach_never_obeys_itself(tmp_path: Path) -> None:
    db, events_path, mic_wav = tmp_path / "j.db", tmp_path / "events.jsonl", tmp_path / "mic.wav"
    returning_user(db)
    with room(f"{os.getpid()}") as (speaker, mic):
        proc = start_live(db, events_path, mic_wav, speaker, mic, reps=4)
        tail = EventTail(events_path)
        try:
            # Rep 1's hold, just after the coach's "Hold." (its next count follows half a
            # second later): "easier" (at 45 degrees the variation steps down, from the next
            # rep on).
            tail.wait_for(lambda e: e["type"] == "count" and e.get("rep") == 1
                          and e["beat"] == "hold", timeout=120)
            time.sleep(0.5)
            level = 3000.0
            play = mic.play_samples(command_clip("easier", level), speech.RATE)
            play.wait(timeout=20)
            # Rep 3's lift, once its count ("Three, left.") has been said: a pain report stops
            # the set. "it hurts": this voice's "ouch" is not recognized even alone in quiet (a
            # per-voice accuracy miss, issue 4). Said over the coach's "Hold." instead, it was
            # dropped in one run of six: the canceller took too little of it for the user's
            # voice (240 ms), the case the replay test keeps as an expected failure (issue 4);
            # this test is about the live audio path.
            tail.wait_for(lambda e: e["type"] == "count" and e.get("rep") == 3
                          and e["beat"] == "lift", timeout=60)
            time.sleep(1.0)  # "Three, left." ends 0.7 s in; "Hold." comes 2 s in
            play = mic.play_samples(command_clip("it hurts", level), speech.RATE)
            play.wait(timeout=20)
            said_end = time.monotonic()
            seen_pain, pain = tail.wait_for(lambda e: e["type"] == "set_end", timeout=20)
            time.sleep(3.0)  # the coach keeps talking (safety message): still no self-trigger
        finally:
            out, err = stop(proc, tail, tmp_path)
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    events = [e for _, e in tail.events]
    commands = [e for e in events if e["type"] == "command"]
    assert [c["intent"] for c in commands] == ["easier", "pain"], (
        f"{commands}\n{hearing(err)}")
    assert all(c["engine"] == "pocketsphinx" for c in commands)
    levels = [(e["variation"], e["stop_deg"]) for e in events if e["type"] == "rep"]
    assert levels[:2] == [("bent-knee", 45), ("dead-bug", 45)]  # from the next rep on
    assert pain["reason"] == "pain"
    assert seen_pain - said_end < 1.0  # the set stopped within a second of the report
    assert not [e for e in events if e["type"] == "count" and e["t"] > pain["t"]]
    assert events[-1]["type"] == "session_end"  # SIGTERM: ended, saved, summarised
    assert "perfect" in out
    assert mic_wav.stat().st_size > 16000 * 2 * 10  # the microphone was recorded


@pytest.mark.parametrize("when", ["starting", "mid-set"])
def test_ctrl_c_at_any_moment_ends_cleanly_and_keeps_what_was_done(tmp_path: Path,
                                                                  when: str) -> None:
    """Ctrl-C at a terminal sends SIGINT to the whole foreground process group: the coach
    and, if it shared the group, its recognizer worker. Either moment ends without a
    traceback, leaves no process behind, and the journal keeps every finished rep."""
    db, events_path, mic_wav = tmp_path / "j.db", tmp_path / "events.jsonl", tmp_path / "mic.wav"
    returning_user(db)
    with room(f"int{when.replace('-', '')}{os.getpid()}") as (speaker, mic):
        proc = start_live(db, events_path, mic_wav, speaker, mic, reps=3, own_group=True)
        tail = EventTail(events_path)
        try:
            if when == "starting":
                time.sleep(1.5)  # the recognizer's worker is still loading its model
            else:
                tail.wait_for(lambda e: e["type"] == "rep", timeout=120)  # rep 1 is done
            workers = _children(proc.pid)
            os.killpg(proc.pid, signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            tail.stop()
            if proc.poll() is None:
                proc.kill()
    (tmp_path / "stderr.txt").write_text(err)
    assert proc.returncode in (0, 130), err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    time.sleep(1.0)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()
                and "Z" not in Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1][:3]]
    history = subprocess.run([sys.executable, "-m", "voicecoach", "history", "--db", str(db)],
                             capture_output=True, text=True, check=True).stdout
    if when == "mid-set":
        assert proc.returncode == 0 and "perfect" in out  # ended and summarised
        assert history.count("bent-knee") >= 2, history  # this session was saved
        exported = subprocess.run(
            [sys.executable, "-m", "voicecoach", "export", "--format", "json", "--db", str(db)],
            capture_output=True, text=True, check=True).stdout
        this = json.loads(exported)["sessions"][-1]
        assert this["attempts"] >= 1, this  # rep 1 was finished before the Ctrl-C
    else:
        assert "bent-knee" in history  # the earlier session is intact


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def test_serve_starts_a_session_on_the_start_phrase_and_sigterm_saves_it(tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    with room(f"serve{os.getpid()}") as (speaker, mic):
        env = dict(os.environ, PULSE_SINK=speaker.sink, PULSE_SOURCE=mic.source)
        proc = subprocess.Popen(
            [sys.executable, "-m", "voicecoach", "--debug", "serve", "--once", "--sets", "1",
             "--reps", "2", "--start-phrase", "computer", "--engine", "pocketsphinx",
             "--db", str(db)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        try:
            time.sleep(8)  # standby: models loaded, microphone open
            mic.play_samples(command_clip("computer", 3000.0), speech.RATE).wait(timeout=20)
            time.sleep(12)  # the session's first cues
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
            (tmp_path / "stderr.txt").write_text(err)
    assert proc.returncode == 0, err[-2000:]
    assert "Traceback" not in err, err[-3000:]
    assert "start phrase heard" in err
    assert "session over (stop)" in out  # SIGTERM ended the session, summarised
    history = subprocess.run([sys.executable, "-m", "voicecoach", "history", "--db", str(db)],
                             capture_output=True, text=True, check=True).stdout
    assert "bent-knee" in history, history  # and it was saved
