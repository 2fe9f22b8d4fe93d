"""A whole ~10-minute session rendered through the mixer to a WAV: every count on its beat.

The onsets are found in the rendered audio (short-window energy), never read back
from the schedule; the expected times come from the events' JSON form.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np
import pytest

from voicecoach.coach import Coach, Plan, speakable_texts
from voicecoach.events import Event
from voicecoach.intents import PhraseTable
from voicecoach.mixer import Mixer, WavOutput
from voicecoach.phrasecache import PhraseCache
from voicecoach.runner import Session, parse_script, run_virtual
from voicecoach.tts import TtsSettings, read_wav
from voicecoach.voice import VoiceSink

TEN_MINUTES = Plan(sets=4, reps=12, rest_s=60.0)
ONSET_WINDOW_S = 0.001
"""Energy window of the onset detector (seconds)."""
ONSET_RMS = 0.002
"""Onset: the window's RMS rises above this (about -54 dBFS)."""


def onset_s(audio: np.ndarray, rate: int, t: float, search_s: float = 0.05) -> float | None:
    """First time in [t - search_s, t + search_s] where short-window energy rises above
    ONSET_RMS, or None. Audio before the search window is ignored."""
    win = max(1, int(round(ONSET_WINDOW_S * rate)))
    lo = max(0, int((t - search_s) * rate))
    hi = min(audio.size, int((t + search_s) * rate) + win)
    seg = audio[lo:hi].astype(np.float64)
    energy = np.convolve(seg * seg, np.ones(win) / win, mode="full")[: seg.size]  # causal
    above = np.flatnonzero(np.sqrt(energy) > ONSET_RMS)
    if above.size == 0:
        return None
    # The window that first crosses ends at ``above[0]``; speech began inside it:
    # take the first non-silent sample of that window.
    end = int(above[0])
    start = max(0, end - win + 1)
    first = start + int(np.flatnonzero(seg[start : end + 1])[0])
    return (lo + first) / rate


@dataclass
class Rendered:
    audio: np.ndarray
    rate: int
    events: list[dict]


def render_session(cache: PhraseCache, plan: Plan, script: str = "", tick: bool = False) -> Rendered:
    buf = io.BytesIO()
    sink = VoiceSink(WavOutput(Mixer(cache.rate), buf), cache, tick=tick)
    lines: list[str] = []
    coach = Coach(plan, speech_s=cache.duration_s)
    session = Session(coach, PhraseTable.for_lang("en"), [sink, lambda e: lines.append(e.to_json())])
    run_virtual(session, parse_script(io.StringIO(script)))
    sink.close()
    buf.seek(0)
    audio, rate = read_wav(buf)
    return Rendered(audio, rate, [json.loads(line) for line in lines])


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> PhraseCache:
    cache = PhraseCache(TtsSettings(), tmp_path_factory.mktemp("phrases"))
    cache.ensure(speakable_texts(TEN_MINUTES))
    return cache


@pytest.fixture(scope="module")
def ten_minutes(cache: PhraseCache) -> Rendered:
    return render_session(cache, TEN_MINUTES)


def test_onset_detector_finds_a_known_onset() -> None:
    rate = 22050
    audio = np.zeros(rate, dtype=np.float32)
    k = 12345
    audio[k:] = 0.05 * np.sin(2 * np.pi * 300 * np.arange(rate - k) / rate + 0.3)
    assert onset_s(audio, rate, k / rate + 0.02) == pytest.approx(k / rate, abs=1 / rate)
    assert onset_s(np.zeros(rate, dtype=np.float32), rate, 0.5) is None


@pytest.mark.slow
def test_every_count_lands_within_5_ms_with_no_drift(ten_minutes: Rendered) -> None:
    r = ten_minutes
    assert r.events[-1]["t"] > 540, "the session should last about ten minutes"
    assert r.audio.size >= int(round(r.events[-1]["t"] * r.rate))
    counts = [e for e in r.events if e["type"] == "count"]
    assert len(counts) > 250
    times, errors = [], []
    for e in counts:
        found = onset_s(r.audio, r.rate, e["t"])
        assert found is not None, f"no speech near the count {e['text']!r} at {e['t']} s"
        # Real speech follows the onset, not a stray click.
        seg = r.audio[int(found * r.rate) : int((found + 0.15) * r.rate)]
        assert np.sqrt(np.mean(seg.astype(np.float64) ** 2)) > 0.01
        times.append(e["t"])
        errors.append(found - e["t"])
    err = np.abs(np.array(errors))
    assert err.max() < 0.005, f"worst count onset {err.max() * 1000:.2f} ms late/early"
    slope = np.polyfit(np.array(times), np.array(errors), 1)[0]
    assert abs(slope) * 600 < 0.001, f"onsets drift {slope * 600 * 1000:.2f} ms over 10 minutes"


@pytest.mark.slow
def test_cues_start_on_time_too(ten_minutes: Rendered) -> None:
    r = ten_minutes
    cues = [e for e in r.events if e["type"] == "cue"]
    for e in cues:
        found = onset_s(r.audio, r.rate, e["t"])
        assert found is not None and abs(found - e["t"]) < 0.005, (e, found, r.audio.size / r.rate)


@pytest.mark.slow
def test_urgent_stop_cuts_the_voice(cache: PhraseCache) -> None:
    plan = Plan(sets=1, reps=5, rest_s=10.0, first_use=False)
    r = render_session(cache, plan, script="75.5 ouch\n")
    urgent = [e for e in r.events if e["type"] == "cue" and e.get("urgent")]
    assert urgent, "the pain phrase should produce an urgent cue"
    u = urgent[0]
    found = onset_s(r.audio, r.rate, u["t"], search_s=0.002)
    assert found is not None and abs(found - u["t"]) < 0.005
    # Nothing scheduled before the urgent cue sounds after it: once the urgent clip
    # (and anything the coach said after it) is over, the WAV is silent.
    later = [e for e in r.events if e["type"] in ("cue", "count") and e["t"] >= u["t"]]
    last = max(later, key=lambda e: e["t"])
    end_s = last["t"] + cache.duration_s(last["text"])
    tail = r.audio[int((end_s + 0.01) * r.rate) :]
    assert not tail.any()


@pytest.mark.slow
def test_tick_mode_ticks_on_each_count(cache: PhraseCache) -> None:
    plan = Plan(sets=1, reps=3, rest_s=10.0, first_use=False)
    r = render_session(cache, plan, tick=True)
    counts = [e for e in r.events if e["type"] == "count"]
    for e in counts:
        found = onset_s(r.audio, r.rate, e["t"])
        assert found is not None and abs(found - e["t"]) < 0.001
        # A tick is short: silent 60 ms after the beat (counts are 1 s apart).
        seg = r.audio[int((e["t"] + 0.06) * r.rate) : int((e["t"] + 0.2) * r.rate)]
        assert not seg.any()


def test_sink_ignores_silent_events(cache: PhraseCache) -> None:
    buf = io.BytesIO()
    out = WavOutput(Mixer(cache.rate), buf)
    sink = VoiceSink(out, cache)
    sink(Event(0.0, "rep", {"n": 1}))
    sink(Event(0.5, "set_end", {"set": 1}))
    sink.close()
    buf.seek(0)
    audio, _ = read_wav(buf)
    assert not audio.any()
