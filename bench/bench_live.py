"""Hands-free benchmark: reaction time to spoken commands, CPU share and peak memory.

    .venv/bin/python bench/bench_live.py reaction-replay             # seconds
    .venv/bin/python bench/bench_live.py reaction-pulse [--commands 8]   # a few minutes
    .venv/bin/python bench/bench_live.py soak --engine pocketsphinx [--minutes 10] \
        [--record-mic X.wav]
    .venv/bin/python bench/bench_live.py soak --engine vosk --lang ko [--minutes 10]

reaction-replay: microphone recordings (a synthetic user on HELD-OUT voices, 20 dB white
noise, the coach's own voice at speaking level) replayed through the live code path on a
virtual clock; reaction = first sample of the coach's acknowledgement - end of the spoken
command (both exact here).

reaction-pulse: `voicecoach start` in its own process over PulseAudio (the speaker plays
into the null sink whose monitor is the microphone, as in the end-to-end tests). Commands
are played into the microphone in the quiet of the rest between two sets (1.5 s after the
coach's last word), so that what is
timed is the audio path and the recognizer, not a command lost under a count (replay and the
end-to-end tests report that); the microphone is recorded by `--record-mic` on the session
clock. In that recording the end of the command and the start of the acknowledgement (found
by cross-correlation with the acknowledgement's own clip) are on one clock, as the
microphone heard them.

soak: `voicecoach start` over PulseAudio for about ``--minutes`` (sets and reps chosen to
fill them) with the coach's speaker playing into the microphone all along (so the recognizer
decodes the coach's speech the whole time, its worst case). Reports CPU seconds / wall
seconds (share of one core) of the process and its children together, peak RSS of each
process (by name: main, recognizer) and of all together, RSS each minute,
and any command the coach's own voice triggered.

Targets: reaction p95 <= 500 ms over the audio path; <= 10% of one core; peak RSS <= 150 MB
with pocketsphinx. Results go to bench/results/live-*.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import speech
from tests.test_e2e_pulse import EventTail, command_clip, returning_user, room
from tests.test_live_replay import first_lift, mic_recording, replay_mic
from voicecoach.coach import Plan, speakable_texts
from voicecoach.tts import TtsSettings
from voicecoach.voice import build_voice

RESULTS = ROOT / "bench" / "results"
RATE = 16000


def pct(xs: list[float], q: float) -> float | None:
    return round(float(np.percentile(xs, q)), 1) if xs else None


def save(name: str, result: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"live-{name}.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


# -- reaction in replay -----------------------------------------------------------------

REPLAY_CASES = [("flite:kal", "easier"), ("flite:awb", "harder"), ("flite:kal", "slower"),
                ("flite:awb", "how many"), ("espeak:en-us+m7@190", "faster"),
                ("espeak:en+f2@150^60", "easier")]


def reaction_replay() -> None:
    out: list[float] = []
    heard = 0
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "phrases"
        for i, (voice, word) in enumerate(REPLAY_CASES):
            plan = Plan(sets=1, reps=3, first_use=False)
            lift = first_lift(plan)
            path = Path(tmp) / f"mic{i}.wav"
            spans = mic_recording(plan, [(lift + 0.3 + 0.2 * (i % 3), word)], voice, cache, path)
            events = replay_mic(plan, path, "pocketsphinx", cache)
            cmd = next((e for e in events if e.type == "command"), None)
            if cmd is None:
                print(f"{voice} {word!r}: not heard")
                continue
            heard += 1
            ack = next(e for e in events if e.t >= cmd.t and e.spoken and e.type == "cue")
            out.append((ack.t - spans[0][1]) * 1000)
            print(f"{voice} {word!r}: heard {cmd.data['phrase']!r}, ack {out[-1]:.0f} ms")
    save("reaction-replay", {"commands": len(REPLAY_CASES), "heard": heard,
                             "reaction_ms_p50": pct(out, 50), "reaction_ms_p95": pct(out, 95),
                             "reaction_ms": [round(x) for x in out]})


# -- over PulseAudio --------------------------------------------------------------------

def start_cmd(db: Path, events: Path, mic_wav: Path | None, engine: str, lang: str,
              sets: int, reps: int, rest: int = 30) -> list[str]:
    cmd = [sys.executable, "-m", "voicecoach", "--debug", "start", "--sets", str(sets),
           "--reps", str(reps), "--rest", str(rest), "--engine", engine, "--lang", lang,
           "--db", str(db), "--events", str(events)]
    return cmd + (["--record-mic", str(mic_wav)] if mic_wav else [])


def launch(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start ``voicecoach`` with its debug log going to the file ``log``: a pipe that nobody
    reads until the end fills up (64 KB) and then stalls the session's logging thread."""
    with log.open("w") as err:
        return subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)


def read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path)) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)


def find(x: np.ndarray, clip: np.ndarray, lo: int, hi: int) -> tuple[int, float]:
    """Start of ``clip`` in ``x[lo:hi]`` by normalised cross-correlation (index, score)."""
    seg = x[max(lo, 0) : min(hi + len(clip), len(x))]
    if len(seg) < len(clip):
        return lo, 0.0
    c = np.correlate(seg, clip, mode="valid")
    energy = np.convolve(seg**2, np.ones(len(clip)), mode="valid")
    score = c / (np.sqrt(energy * np.dot(clip, clip)) + 1e-9)
    k = int(np.argmax(score))
    return max(lo, 0) + k, float(score[k])


def reaction_pulse(n: int) -> None:
    words = ["easier", "harder", "slower", "faster", "how many", "easier", "harder", "slower",
             "faster", "how many"][:n]
    voice = "flite:awb"  # command_clip's voice
    lags: list[float] = []
    details = []
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        db, ev, mic_wav = t / "j.db", t / "ev.jsonl", t / "mic.wav"
        returning_user(db)
        plan = Plan(sets=2, reps=2, rest_s=60)
        cache = build_voice(TtsSettings(), out=io.BytesIO(), texts=speakable_texts(plan)).cache
        with room(f"bench{os.getpid()}") as (spk, mic):
            env = dict(os.environ, PULSE_SINK=spk.sink, PULSE_SOURCE=mic.source)
            proc = launch(start_cmd(db, ev, mic_wav, "pocketsphinx", "en", 2, 2, rest=60), env,
                          t / "stderr.log")
            tail = EventTail(ev)
            try:
                # The commands in the quiet of a rest, a few seconds apart: what is timed is
                # the audio path and the recognizer, not a command lost under a count (the
                # replay figures and the end-to-end tests report that).
                tail.wait_for(lambda e: e["type"] == "rest", timeout=300)
                for word in words:
                    wait_quiet(tail, cache.duration_s, 1.5)
                    mic.play_samples(command_clip(word, 3000.0), RATE).wait(timeout=20)
                    time.sleep(2.0)
            finally:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
                tail.stop()
        events = [e for _, e in tail.events]
        rec = read_wav(mic_wav)
        commands = [e for e in events if e["type"] == "command"]
        for c in commands:
            heard_end = int(c["heard_t"] * RATE)
            said = speech.synth(c["phrase"] if c["phrase"] in [*words, "pause"] else words[0],
                                voice)
            start, score = find(rec, said.astype(np.float64), heard_end - 2 * RATE, heard_end)
            said_end = start + len(said)
            ack = next(e for e in events if e["t"] >= c["t"] and e["type"] == "cue")
            clip16 = _to16(cache.clip(ack["text"]), cache.rate)
            a0, a_score = find(rec, clip16, said_end, said_end + 3 * RATE)
            lag = (a0 - said_end) / RATE * 1000
            details.append({"phrase": c["phrase"], "said_score": round(score, 2),
                            "ack": ack["text"], "ack_score": round(a_score, 2),
                            "reaction_ms": round(lag)})
            if score > 0.5 and a_score > 0.5:
                lags.append(lag)
    save("reaction-pulse", {"commands_said_in_a_rest": len(words),
                            "commands_heard": len(commands),
                            "reaction_ms_p50": pct(lags, 50), "reaction_ms_p95": pct(lags, 95),
                            "details": details})


def wait_quiet(tail: EventTail, duration_s: Any, quiet_s: float) -> None:
    """Until the coach has said nothing for ``quiet_s``: each cue sounds from when its event
    appeared for as long as its clip (a fixed pause after the rest began was not enough: the
    first commands fell on the coach's set summary, and timed the guard, not the path)."""
    while True:
        ends = [seen + duration_s(e["text"]) for seen, e in tail.events
                if e["type"] in ("cue", "count")]
        wait = (max(ends) if ends else 0.0) + quiet_s - time.monotonic()
        if wait <= 0:
            return
        time.sleep(wait)


def _to16(clip: np.ndarray, rate: int) -> np.ndarray:
    from voicecoach.phrasecache import resample

    return resample(clip, rate, RATE).astype(np.float64) * 32767


# -- soak: CPU and memory ---------------------------------------------------------------

def _proc_cpu_rss(pid: int) -> tuple[float, int] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        rss = next(int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text()
                   .splitlines() if line.startswith("VmRSS:"))
    except (OSError, StopIteration, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(stat[11]) + int(stat[12])) / ticks, rss * 1024


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _name(pid: int) -> str:
    """A child process by what it runs: the recognizer worker, or the program's name."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return str(pid)
    if "voicecoach.recproc" in cmd:
        return "recognizer"
    return Path(cmd.split(" ", 1)[0]).name or str(pid)


def soak(engine: str, lang: str, minutes: float, record: Path | None) -> None:
    reps = 10
    per_set = reps * 7.0 + 30  # 7 s reps, 30 s rest
    sets = max(1, min(10, round((minutes * 60 - 60) / per_set)))
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        db, ev, log = t / "j.db", t / "ev.jsonl", t / "stderr.log"
        returning_user(db)
        with room(f"soak{engine}{os.getpid()}") as (spk, mic):
            env = dict(os.environ, PULSE_SINK=spk.sink, PULSE_SOURCE=mic.source)
            t0 = time.monotonic()
            proc = launch(start_cmd(db, ev, record, engine, lang, sets, reps), env, log)
            peak: dict[str, int] = {"all": 0}
            timeline: list[tuple[float, dict[str, float]]] = []
            cpu: dict[int, float] = {}
            while proc.poll() is None:
                total, now_mb = 0, {}
                for pid in [proc.pid, *_children(proc.pid)]:
                    got = _proc_cpu_rss(pid)
                    if got is None:
                        continue
                    cpu[pid] = got[0]
                    name = "main" if pid == proc.pid else _name(pid)
                    peak[name] = max(peak.get(name, 0), got[1])
                    now_mb[name] = round(got[1] / 2**20, 1)
                    total += got[1]
                peak["all"] = max(peak["all"], total)
                elapsed = time.monotonic() - t0
                if not timeline or elapsed - timeline[-1][0] >= 60:
                    timeline.append((round(elapsed), now_mb))
                time.sleep(0.5)
                if elapsed > minutes * 60 + 600:
                    proc.send_signal(signal.SIGTERM)
            wall = time.monotonic() - t0
            err = log.read_text()
        events = [json.loads(line) for line in ev.read_text().splitlines()]
    commands = [e for e in events if e["type"] == "command"]
    cpu_s = sum(cpu.values())
    save(f"soak-{engine}", {
        "engine": engine, "lang": lang, "sets": sets, "reps": reps,
        "wall_s": round(wall, 1), "cpu_s": round(cpu_s, 1),
        "cpu_share_of_one_core": round(cpu_s / wall, 3),
        "peak_rss_mb": {k: round(v / 2**20, 1) for k, v in peak.items()},
        "rss_mb_each_minute": timeline,
        "self_triggered_commands": [(c["t"], c["phrase"]) for c in commands],
        "echo_guard_drops": err.count("voicecoach.live: dropped "),
        "session_end": events[-1].get("reason") if events else None,
    })
    if record is not None:  # what the session heard, did and logged, to look into
        record.with_suffix(".events.jsonl").write_text(
            "".join(json.dumps(e) + "\n" for e in events), encoding="utf-8")
        record.with_suffix(".log").write_text(err, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["reaction-replay", "reaction-pulse", "soak"])
    ap.add_argument("--engine", default="pocketsphinx", choices=["pocketsphinx", "vosk"])
    ap.add_argument("--lang", default="en")
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--commands", type=int, default=8)
    ap.add_argument("--record-mic", type=Path, default=None, metavar="WAV",
                    help="soak: keep the microphone (and the events and log next to it)")
    a = ap.parse_args()
    if a.record_mic is not None and not a.record_mic.parent.is_dir():
        ap.error(f"--record-mic: no folder {a.record_mic.parent}")
    if a.what == "reaction-replay":
        reaction_replay()
    elif a.what == "reaction-pulse":
        reaction_pulse(a.commands)
    else:
        soak(a.engine, a.lang, a.minutes, a.record_mic)


if __name__ == "__main__":
    main()
