"""Replaying microphone recordings with both real engines gives the expected timeline.

The "microphone" holds a synthetic user (a held-out voice, never used for tuning) saying
commands at known times, noise at 20 dB SNR, and the coach's own rendered voice at speaking
level — so the test also proves the coach does not obey itself.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pytest

from voicecoach.asr import make_recognizer
from voicecoach.asr.echo import EchoGuard
from voicecoach.coach import Coach, Plan, speakable_texts
from voicecoach.echopath import EchoReference
from voicecoach.events import Event
from voicecoach.intents import PhraseTable
from voicecoach.lang import tts_voice
from voicecoach.live import EchoSink, run_mic_replay
from voicecoach.mic import WavSource
from voicecoach.phrasecache import resample
from voicecoach.runner import ScriptLine, Session, run_virtual
from voicecoach.tts import TtsSettings
from voicecoach.voice import build_voice

from . import speech

pytestmark = pytest.mark.slow
RATE = 16000


def coach_voice(lang: str) -> TtsSettings:
    """The coach's voice for ``lang``, as ``voicecoach start --lang`` picks it."""
    return TtsSettings(voice=tts_voice(lang, "pyttsx3", None))


def coach_audio(plan: Plan, script: list[tuple[float, str]], cache_dir: Path,
                spoken: list[float] | None = None) -> np.ndarray:
    """What the coach's speaker plays in this session, at 16 kHz; ``spoken`` gets how long
    each clip it plays lasts (seconds)."""
    wav = io.BytesIO()
    voice = build_voice(coach_voice(plan.lang), out=wav, texts=speakable_texts(plan),
                        cache_dir=cache_dir)
    sinks: list = [voice]
    if spoken is not None:
        sinks.append(lambda e: spoken.append(voice.cache.duration_s(e.text))
                     if e.spoken and e.text else None)
    session = Session(Coach(plan, speech_s=voice.cache.duration_s),
                      PhraseTable.for_lang(plan.lang), sinks)
    run_virtual(session, [ScriptLine(t, p, i) for i, (t, p) in enumerate(script, 1)])
    voice.close()
    wav.seek(0)
    with wave.open(wav) as w:
        rate = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64)
    return resample(x, rate, RATE).astype(np.float64)


def first_lift(plan: Plan, cache_dir: Path | None = None) -> float:
    """When the first rep's lift is counted: with ``cache_dir``, on the clock of the coach's
    own clips (how long each one plays), else of the coach's estimates."""
    coach = Coach(plan)
    if cache_dir is not None:
        voice = build_voice(coach_voice(plan.lang), out=io.BytesIO(), texts=speakable_texts(plan),
                            cache_dir=cache_dir)
        coach = Coach(plan, speech_s=voice.cache.duration_s)
        voice.close()
    events = coach.start(0)
    while not any(e.type == "count" for e in events):
        events += coach.advance(coach.next_due() or 0)
    return next(e.t for e in events if e.type == "count")


def mic_recording(plan: Plan, said: list[tuple[float, str]], voice: str,
                  cache_dir: Path, out: Path) -> list[tuple[float, float]]:
    """Write the microphone WAV; returns (start, end) of each spoken command."""
    clips = [(t, speech.synth(text, voice).astype(np.float64)) for t, text in said]
    length = int((max(t for t, _ in said) + 8) * RATE)
    user = np.zeros(length)
    spans = []
    for t, clip in clips:
        a = int(t * RATE)
        user[a : a + len(clip)] += clip
        spans.append((t, t + len(clip) / RATE))
    mic = speech.mix_snr(user, "white", 20.0, seed=3, speech_ref=np.concatenate(
        [c for _, c in clips])).astype(np.float64)
    # The speaker played the session in which each command acted just after it was said.
    acted = [(end + 0.25, text) for (_, text), (_, end) in zip(said, spans)]
    echo = coach_audio(plan, acted, cache_dir)[:length]
    # The speaker is heard at the same level as the user (speaking level).
    gain = speech._rms(np.concatenate([c for _, c in clips])) / max(speech._rms(echo), 1e-9)
    mic[: len(echo)] += echo * gain
    speech.write_wav(out, speech.headroom(mic))
    return spans


def replay_mic(plan: Plan, path: Path, engine: str, cache_dir: Path) -> list[Event]:
    events: list[Event] = []
    voice = build_voice(coach_voice(plan.lang), out=io.BytesIO(), texts=speakable_texts(plan),
                        cache_dir=cache_dir)
    guard = EchoGuard()
    reference = EchoReference(voice.cache.clip, voice.cache.rate)
    session = Session(Coach(plan, speech_s=voice.cache.duration_s),
                      PhraseTable.for_lang(plan.lang),
                      [events.append, EchoSink(guard, voice.cache.duration_s), reference])
    with WavSource(path) as source:
        run_mic_replay(session, make_recognizer(plan.lang, engine), source, guard, reference)
    return events


CASES = [
    # Phrases each voice is heard saying alone in this noise (accuracy per voice and phrase
    # is the benchmark's to report): flite's awb says "harder" so that pocketsphinx never
    # hears it at 20 dB, and espeak's Korean voice "쉽게" so that vosk never does (4 tries).
    pytest.param("en", "pocketsphinx", "flite:kal", ("easier", "pain"), id="pocketsphinx-en"),
    pytest.param("en", "pocketsphinx", "flite:awb", ("make it harder", "it hurts"),
                 # Not strict: the coach's clips render a few samples differently from run
                 # to run, and in one fresh-clone run of three the phrase was heard.
                 id="pocketsphinx-en-awb", marks=pytest.mark.xfail(strict=False, reason=(
                     "open (issue 4): pocketsphinx mostly does not hear this \"it hurts\", "
                     "even with no coach in the microphone at all (the same stream without "
                     "the echo): it decodes it from the cepstral mean left by \"make it "
                     "harder\" 10 s earlier; a decoder started 60 s in hears it"))),
    pytest.param("ko", "vosk", "espeak:ko+m3@150^30", ("어렵게", "아야"), id="vosk-ko",
                 # Not strict: with the canceller's hold (``echopath.LOOKAHEAD``) it passed
                 # in one whole-suite run and failed alone, hearing nothing (the coach's
                 # clips render a few samples differently from run to run).
                 # Measured: 7 phrase pairs on each held-out voice, both commands moved
                 # by -0.1 to +0.3 s (10 moves): at most 3 of 10 passed (ko+m7: none).
                 marks=pytest.mark.xfail(strict=False, reason=(
                     "open (issue 4): said over the coach's count, vosk mostly hears this "
                     "\"어렵게\" as talk (\"어 영화\") or under its confidence bound; the "
                     "replayed coach then no longer says what the recorded one said, the "
                     "canceller takes that for a moved echo path, and \"아야\" is lost too"))),
]


@pytest.mark.parametrize(("lang", "engine", "voice", "words"), CASES)
def test_mic_replay_timeline(tmp_path: Path, lang: str, engine: str, voice: str,
                             words: tuple[str, str]) -> None:
    plan = Plan(sets=1, reps=4, first_use=False, lang=lang)
    table = PhraseTable.for_lang(lang)
    cache = tmp_path.parent / "phrases"  # shared by the cases of one run
    lift = first_lift(plan, cache)
    # Right over the first count ("One."), and in rep 2.
    change_at, pain_at = lift + 0.3, lift + 10.4
    path = tmp_path / "mic.wav"
    spans = mic_recording(plan, [(change_at, words[0]), (pain_at, words[1])], voice, cache, path)
    events = replay_mic(plan, path, engine, cache)

    commands = [e for e in events if e.type == "command"]
    assert [e.data["intent"] for e in commands] == [str(table.exact(w)) for w in words], commands
    change, pain = commands
    assert spans[0][1] <= change.t < spans[0][1] + 1.0  # acted on within a second
    assert spans[1][1] <= pain.t < spans[1][1] + 1.0
    assert all(e.data["engine"] == engine for e in commands)
    # The level changes when the command is heard, and applies from the next rep: rep 1
    # is finished as it began. The pain report ends the set at once.
    adjust = next(e for e in events if e.type == "adjust")
    assert adjust.t == change.t
    assert (adjust.data["variation"], adjust.data["stop_deg"]) != ("bent-knee", 45)
    reps = [e for e in events if e.type == "rep"]
    assert (reps[0].data["variation"], reps[0].data["stop_deg"]) == ("bent-knee", 45)
    end = next(e for e in events if e.type == "set_end")
    assert end.data["reason"] == "pain" and end.t == pain.t
    assert not [e for e in events if e.type == "count" and e.t > pain.t]
