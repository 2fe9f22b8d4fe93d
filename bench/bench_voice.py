"""Benchmark: does the coach's voice land on the beat? Pre-rendered mixer vs the naive way.

Measured side by side in one run:

1. Offline mixer: a ~10-minute session rendered to a WAV; count-onset error p50/p95/max
   (onsets found by short-window energy in the audio, expected times from the events).
2. Real audio path: a private PulseAudio daemon with a null sink ``coach``, recorded from
   ``coach.monitor`` while (a) the mixer plays the session's counts through a
   ``sounddevice.OutputStream`` and (b) the naive way speaks each count with pyttsx3
   ``say()`` + ``runAndWait()`` at its beat. Onset error = recorded onset - intended time;
   reported raw and with the median (constant latency) removed, plus drift.
3. Time from session start to the first audible cue, cold and warm cache (mixer), and for
   the naive way (fresh engine), each in a fresh process.

    .venv/bin/python bench/bench_voice.py [--live-s 90] [--minutes 10]

Prints a table and writes bench/results/voice.json. Targets: offline p95 <= 2 ms;
warm start to first cue <= 0.5 s.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

RATE = 22050
ROOT = Path(__file__).resolve().parent.parent
WIN = 22  # 1 ms energy window at 22050 Hz
ONSET_RMS = 0.002


def onset_after(audio: np.ndarray, start: int, stop: int, quiet_s: float = 0.0) -> int | None:
    """First sample in [start, stop) where 1-ms RMS rises above ONSET_RMS after at least
    ``quiet_s`` of energy below it (so the tail of an earlier phrase is not an onset)."""
    quiet = int(quiet_s * RATE)
    lo = max(0, start - quiet)
    seg = audio[lo : min(audio.size, stop)].astype(np.float64)
    if seg.size <= quiet:
        return None
    energy = np.convolve(seg * seg, np.ones(WIN) / WIN, mode="full")[: seg.size]
    above = np.sqrt(energy) > ONSET_RMS
    if quiet:
        run = np.concatenate([[0], np.cumsum(above)])
        idx = np.arange(quiet, seg.size)
        ok = above[idx] & (run[idx] - run[idx - quiet] == 0)
        cand = idx[ok]
    else:
        cand = np.flatnonzero(above)
    if cand.size == 0:
        return None
    end = int(cand[0])
    s = max(0, end - WIN + 1)
    nz = np.flatnonzero(np.abs(seg[s : end + 1]) > ONSET_RMS / 4)
    return lo + s + (int(nz[0]) if nz.size else 0)


def stats_ms(errors_s: list[float]) -> dict[str, float]:
    a = np.abs(np.array(errors_s)) * 1000
    return {"n": int(a.size), "p50_ms": float(np.percentile(a, 50)),
            "p95_ms": float(np.percentile(a, 95)), "max_ms": float(a.max())}


def session_events(minutes: float) -> tuple[list, object]:
    from voicecoach.coach import Coach, Plan
    from voicecoach.intents import PhraseTable
    from voicecoach.phrasecache import PhraseCache
    from voicecoach.runner import Session, run_virtual
    from voicecoach.tts import TtsSettings

    sets = max(1, round(minutes * 4 / 10))
    plan = Plan(sets=sets, reps=12, rest_s=60.0)
    cache = PhraseCache(TtsSettings(), Path(tempfile.mkdtemp(prefix="vc-bench-")))
    events: list = []
    run_virtual(Session(Coach(plan, speech_s=cache.duration_s), PhraseTable.for_lang("en"),
                        [events.append]), [])
    return events, cache


def bench_offline(events: list, cache) -> dict:
    from voicecoach.mixer import Mixer, WavOutput
    from voicecoach.tts import read_wav
    from voicecoach.voice import VoiceSink

    buf = io.BytesIO()
    t0 = time.perf_counter()
    sink = VoiceSink(WavOutput(Mixer(RATE), buf), cache)
    for e in events:
        sink(e)
    sink.close()
    render_s = time.perf_counter() - t0
    buf.seek(0)
    audio, _ = read_wav(buf)
    errors = []
    for e in events:
        if e.type == "count":
            at = int(round(e.t * RATE))
            found = onset_after(audio, at - RATE // 20, at + RATE // 20)
            errors.append(np.inf if found is None else (found - at) / RATE)
    out = stats_ms(errors)
    out.update(session_s=events[-1].t, render_s=render_s)
    return out


# -- the real audio path ---------------------------------------------------------------


class Pulse:
    """A private PulseAudio daemon (own runtime dir) with a null sink ``coach``."""

    def __init__(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="vc-pulse-")
        sock = f"{self.dir}/native"
        self.env = dict(os.environ, PULSE_RUNTIME_PATH=self.dir, PULSE_SERVER=f"unix:{sock}",
                        PULSE_SINK="coach")
        subprocess.run(
            ["pulseaudio", "-D", "--exit-idle-time=-1", "-n", "--use-pid-file=yes",
             f"--load=module-native-protocol-unix socket={sock} auth-anonymous=1",
             "--load=module-null-sink sink_name=coach"],
            env=self.env, check=True, capture_output=True,
        )
        for _ in range(100):
            if subprocess.run(["pactl", "info"], env=self.env, capture_output=True).returncode == 0:
                break
            time.sleep(0.05)
        os.environ.update(PULSE_RUNTIME_PATH=self.dir, PULSE_SERVER=f"unix:{sock}",
                          PULSE_SINK="coach")

    def stop(self) -> None:
        pid_file = Path(self.dir) / "pid"
        if pid_file.exists():
            try:
                os.kill(int(pid_file.read_text().split()[0]), 15)
            except (ProcessLookupError, ValueError):
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


class Recorder:
    """Records coach.monitor; maps recorded samples to CLOCK_MONOTONIC."""

    def __init__(self, env: dict) -> None:
        self.proc = subprocess.Popen(
            ["parec", "-d", "coach.monitor", "--raw", "--format=s16le", f"--rate={RATE}",
             "--channels=1", "--latency-msec=5"], env=env, stdout=subprocess.PIPE)
        self.chunks: list[bytes] = []
        self.offset = np.inf
        self._n = 0
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        time.sleep(0.5)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while True:
            data = self.proc.stdout.read1(4096)  # type: ignore[attr-defined]
            now = time.monotonic()
            if not data:
                return
            self.chunks.append(data)
            self._n += len(data) // 2
            # The chunk's last sample was captured no later than now: the earliest
            # (least delayed) arrival gives the tightest sample->clock mapping.
            self.offset = min(self.offset, now - self._n / RATE)

    def sample_at(self, t_mono: float) -> int:
        return int(round((t_mono - self.offset) * RATE))

    def stop(self) -> np.ndarray:
        self.proc.terminate()
        self.proc.wait()
        self._thread.join(2)
        raw = b"".join(self.chunks)
        return np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.float32) / 32768


def live_counts(events: list, live_s: float) -> list[tuple[float, str]]:
    """The session's counts from its first set, re-timed to start at 1 s, for live_s."""
    counts = [e for e in events if e.type == "count"]
    t0 = counts[0].t - 1.0
    return [(e.t - t0, e.text) for e in counts if e.t - t0 <= live_s]


def mixer_live(counts: list[tuple[float, str]], cache) -> float:
    """Play counts through the mixer on the device; returns the monotonic time of t=0."""
    from voicecoach.events import Event
    from voicecoach.mixer import DeviceOutput, Mixer
    from voicecoach.voice import AHEAD_S, LEAD_IN_S, VoiceSink

    mixer = Mixer(RATE)
    out = DeviceOutput(mixer)
    sink = VoiceSink(out, cache, origin=mixer.position + int(LEAD_IN_S * RATE))
    # Session time 0 on the wall clock, from the stream's own clock while it runs (the
    # median of wall - clock); the output latency left over shows as a constant offset.
    marks: list[float] = []
    pending = list(counts)
    while pending:
        marks.append(time.monotonic() - sink.clock())
        now = sink.clock(AHEAD_S)
        while pending and pending[0][0] <= now:
            t, text = pending.pop(0)
            sink(Event(t, "count", {"text": text}))
        time.sleep(0.005)
    sink.close()
    return float(np.median(marks)) + out.latency_s


NAIVE_WORKER = """
import json, sys, time
counts, t_zero = json.loads(sys.argv[1]), float(sys.argv[2])
import pyttsx3
engine = pyttsx3.init()
engine.setProperty("rate", 170)
for t, text in counts:
    delay = t_zero + t - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    engine.say(text)
    engine.runAndWait()
"""


def naive_live(counts: list[tuple[float, str]], env: dict) -> float:
    t_zero = time.monotonic() + 1.0
    subprocess.run([sys.executable, "-c", NAIVE_WORKER, json.dumps(counts), repr(t_zero)],
                   env=env, check=True, capture_output=True)
    return t_zero


def live_errors(audio: np.ndarray, rec: Recorder, counts, t_zero: float) -> dict:
    errors = []
    for t, _ in counts:
        at = rec.sample_at(t_zero + t)
        found = onset_after(audio, at - RATE // 10, at + RATE, quiet_s=0.03)  # <= 1 s late
        errors.append(np.inf if found is None else (found - at) / RATE)
    if os.environ.get("VC_BENCH_DEBUG"):
        print([round(x * 1000, 1) for x in errors], file=sys.stderr)
    e = np.array([x for x in errors if np.isfinite(x)])
    med = float(np.median(e)) if e.size else float("nan")
    out = {"missed": int(len(errors) - e.size), "median_offset_ms": med * 1000}
    out.update({f"raw_{k}": v for k, v in stats_ms(list(e)).items()})
    out.update({f"jitter_{k}": v for k, v in stats_ms(list(e - med)).items()})
    times = np.array([t for (t, _), x in zip(counts, errors) if np.isfinite(x)])
    out["drift_ms_per_10min"] = float(np.polyfit(times, e, 1)[0] * 600 * 1000) if e.size > 2 else 0.0
    return out


FIRST_CUE_WORKER = """
import sys, time
t_start = time.monotonic()
from voicecoach.coach import Coach, Plan, speakable_texts
from voicecoach.events import Event
from voicecoach.tts import TtsSettings
from voicecoach.voice import build_voice
plan = Plan(sets=4, reps=12, rest_s=60.0)
t_session = time.monotonic()
sink = build_voice(TtsSettings(), texts=speakable_texts(plan), cache_dir=sys.argv[1])
coach = Coach(plan, speech_s=sink.cache.duration_s)
first = next(e for e in coach.start(0.0) + coach.advance(0.0) if e.spoken)
sink(first)
sink.close()
print(t_start, t_session, sink.cache.rendered)
"""

NAIVE_FIRST_WORKER = """
import sys, time
t_start = time.monotonic()
import pyttsx3
t_session = time.monotonic()
engine = pyttsx3.init()
engine.say(sys.argv[1])
engine.runAndWait()
print(t_start, t_session, 0)
"""


def first_cue(worker: str, arg: str, env: dict, audio_of, rec: Recorder) -> dict:
    t_launch = time.monotonic()
    res = subprocess.run([sys.executable, "-c", worker, arg], env=env,
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"first-cue worker failed: {res.stderr.strip()[-800:]}")
    t_start, t_session, rendered = res.stdout.split()[-3:]
    time.sleep(1.0)
    audio = audio_of()
    at = rec.sample_at(float(t_session))
    found = onset_after(audio, at, audio.size, quiet_s=0.03)
    heard = np.nan if found is None else rec.offset + found / RATE
    return {"from_launch_s": heard - t_launch, "from_session_start_s": heard - float(t_session),
            "rendered": int(rendered)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=10.0, help="offline session length")
    ap.add_argument("--live-s", type=float, default=90.0, help="seconds of counts played live")
    args = ap.parse_args()

    events, cache = session_events(args.minutes)
    t = time.perf_counter()
    from voicecoach.coach import speakable_texts  # noqa: F401 (timing the cold render)
    cache.ensure([e.text for e in events if e.spoken])
    results: dict = {"note": "2 shared cores, other jobs running: numbers under contention"}
    results["render_all_phrases_s"] = time.perf_counter() - t
    results["offline_mixer"] = bench_offline(events, cache)

    pulse = Pulse()
    try:
        rec = Recorder(pulse.env)
        counts = live_counts(events, args.live_s)
        t_zero = mixer_live(counts, cache)
        time.sleep(1.0)
        t_naive = naive_live(counts, pulse.env)
        time.sleep(1.0)

        def audio_now() -> np.ndarray:
            raw = b"".join(rec.chunks)
            return np.frombuffer(raw[: len(raw) // 2 * 2], dtype="<i2").astype(np.float32) / 32768

        audio = audio_now()
        results["live_mixer_pulseaudio"] = live_errors(audio, rec, counts, t_zero)
        results["live_naive_pulseaudio"] = live_errors(audio, rec, counts, t_naive)
        cold_dir = tempfile.mkdtemp(prefix="vc-bench-cold-")
        results["first_cue_mixer_cold"] = first_cue(FIRST_CUE_WORKER, cold_dir, pulse.env, audio_now, rec)
        time.sleep(0.5)
        results["first_cue_mixer_warm"] = first_cue(FIRST_CUE_WORKER, cold_dir, pulse.env, audio_now, rec)
        time.sleep(0.5)
        text = events[0].text
        results["first_cue_naive_cold"] = first_cue(NAIVE_FIRST_WORKER, text, pulse.env, audio_now, rec)
        time.sleep(0.5)
        results["first_cue_naive_warm"] = first_cue(NAIVE_FIRST_WORKER, text, pulse.env, audio_now, rec)
        rec.stop()
        shutil.rmtree(cold_dir, ignore_errors=True)
    finally:
        pulse.stop()
        shutil.rmtree(cache.directory, ignore_errors=True)

    off = results["offline_mixer"]
    print(f"offline mixer, {off['session_s'] / 60:.1f}-min session, {off['n']} counts: "
          f"onset error p50 {off['p50_ms']:.2f} ms, p95 {off['p95_ms']:.2f} ms, "
          f"max {off['max_ms']:.2f} ms (target p95 <= 2 ms); rendered in {off['render_s']:.2f} s")
    print(f"\nlive over PulseAudio null sink, {len(counts)} counts ({args.live_s:g} s):")
    print(f"{'path':<8} {'missed':>6} {'median':>9} {'raw p95':>9} {'raw max':>9} "
          f"{'jit p50':>8} {'jit p95':>8} {'jit max':>8} {'drift/10min':>12}")
    for name in ("mixer", "naive"):
        r = results[f"live_{name}_pulseaudio"]
        print(f"{name:<8} {r['missed']:>6} {r['median_offset_ms']:>7.1f}ms {r['raw_p95_ms']:>7.1f}ms "
              f"{r['raw_max_ms']:>7.1f}ms {r['jitter_p50_ms']:>6.1f}ms {r['jitter_p95_ms']:>6.1f}ms "
              f"{r['jitter_max_ms']:>6.1f}ms {r['drift_ms_per_10min']:>10.1f}ms")
    print("\ntime to first audible cue (s)      from launch   from session start")
    for key in ("mixer_cold", "mixer_warm", "naive_cold", "naive_warm"):
        r = results[f"first_cue_{key}"]
        print(f"  {key:<32} {r['from_launch_s']:>8.3f} {r['from_session_start_s']:>14.3f}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "voice.json").write_text(json.dumps(results, indent=2, default=float))
    print(f"\nwrote {out / 'voice.json'} ({results['note']})")


if __name__ == "__main__":
    main()
