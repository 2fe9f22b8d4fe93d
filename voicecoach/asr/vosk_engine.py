"""Vosk backend: KaldiRecognizer in grammar mode over the phrase table.

Rejection. Vosk's grammar mode maps ANY sound to a listed word, usually with confidence 1.0.
Three defences, in order:

1. A garbage path: ``[unk]`` when the model knows it, plus a list of ordinary words of the
   language (``GARBAGE``) that are in the model's vocabulary but in no command. Ordinary talk
   then decodes to garbage words instead of commands.
2. A command fires only when the WHOLE utterance (between silences) is exactly one phrase of
   the table: "다음 회는 ..." decodes to "다음 <garbage> ..." and is dropped.
3. On the final result every word must have confidence >= ``min_conf``.

Speed. A command fires on a stable partial result (the same complete phrase for ``stable_ms``
of audio, and not the first words of a longer phrase with another intent) instead of waiting
for the end-of-utterance silence; each utterance fires at most once (a pain, pause, back or
easier report sooner, once the speaker has stopped: ``end_quiet_ms``). A partial result has
no word confidences (vosk 0.3.45 in grammar mode returns no partial text at all once partial
words are on), so a partial phrase must stay put longer than a final one needs: Korean model,
commands heard / false commands in talk / latency p50:

    fired on                 TUNE                 HELD-OUT
    final result only     0.378   7   847 ms    0.296  13   844 ms   (partial words on)
    partial, 60 ms        0.422  17   176 ms        -
    partial, 250 ms       0.422  10   387 ms    0.356  12   429 ms
    partial, 350 ms       0.422   7   499 ms    0.326   9   547 ms   <- chosen

Decoder settings for a Raspberry Pi (see ``VoskSettings``; measured with bench/bench_hearing.py):
a grammar of ~50 phrases is a tiny search space, so beam 10 -> 8 and max-active 3000 -> 1000
cost no accuracy on the test voices and cut CPU; lattice beam 2 -> 1 (we read one best path);
frames-per-chunk 6 makes the network emit results every 60 ms instead of every ~240 ms.
Decoding costs 247 ms of CPU per audio second at 3 and 125 ms at 6 (TUNE voices; HELD-OUT
248 -> 138), with accuracy TUNE 0.344 -> 0.378, HELD-OUT 0.304 -> 0.296, false commands in talk 9 -> 7 and
12 -> 13, latency +10 ms; at 9, 118 ms and accuracy 0.356; at 15, 88 ms and 0.344.

Speech gate. The network costs the same on silence as on speech, and most of a workout is
nobody speaking: a frame of 20 ms reaches the decoder only from ``preroll_ms`` before a frame
``gate_db`` above the background (a low percentile of the last seconds, so a fan or a
television raises it) until vosk's own endpointing ends the utterance in the pause after it
(2 s of silence when the best path is poor), at most ``hangover_ms`` after the last loud
frame. vosk's word times count only the audio it was fed; ``_FedClock`` maps them back to
the stream. Korean model, every command of the table by each voice, 1 s or 8 s between
them, white noise or babble 20 dB under the voice; gate off -> on (``preroll_ms`` 1000):

                         commands heard   wrong   CPU ms per     latency p50/p95 ms   same
                                                  audio second                           commands
    TUNE  clean    1 s   0.422  0.422     5  5    89   90        499/813  513/813     -5
          white    1 s   0.333  0.333     6  5    91   95        519/886  577/894    +13
          clean    8 s   0.322  0.367     4  2    84   29        498/846  535/782    -18
          white    8 s   0.356  0.367     3  4    89   30        530/865  568/879     -9
    HELD  clean    1 s   0.326  0.326     7  9    99  100        547/838  636/825     +9
          white    1 s   0.319  0.304     4  4    82   90        598/862  627/864     +2
          babble   1 s   0.104  0.126     4  4    87   93        513/956  515/899     -4
          clean    8 s   0.237  0.304     7  6    97   34        497/855  592/772     +2
          white    8 s   0.333  0.326     4  4    99   33        541/796  520/801     -2
          babble   8 s   0.022  0.022     4  4    98  115        706/770  593/741    -10

False commands in talk (1 s only): TUNE 7 -> 7, 5 -> 5; HELD-OUT 9 -> 9 in all three. CPU
from one run each, two runs at a time on two cores: the same run twice differs by up to a
tenth; babble never lets the gate close (99 % of the audio fed). With 1 s between utterances
(less than vosk needs to end one) the gate feeds nearly everything; with 8 s it feeds 30 %.
The gate changes which commands are heard, in both directions (HELD-OUT white 8 s: 7 heard
only without it, 6 only with it): vosk's result for a word depends on where its utterance
began and what the speaker adaptation has heard, and without the gate an utterance begins
wherever vosk's silence rule last ended one, seconds before the word. In a live session
(bench/bench_live.py soak, Korean, 3 sets over the PulseAudio loopback, the echo canceller
turning the coach's leftover voice down to silence between the user's words) the whole
program took 13.5% of one core with the gate and 18.6% without (same day, 386 s each), peak
memory 636 and 647 MB, no command set off by the coach's own voice in either.

Latency. The latency p50 of the heard commands rises with the gate in some rows, and that is
which commands are heard, not how fast: over the commands heard both with and without the
gate (column "same commands": the mean of latency on minus latency off, ms) the median
difference is 0 ms in every row but babble 8 s (-10), and the mean is between -18 and +13 ms
(one decoder chunk is 60 ms). The p50 moves because the latencies spread thinly from 100 to
1000 ms, and in clean speech the commands heard only with the gate were mostly slow ones
(they fire on the final result, ~750 ms): HELD clean 1 s, p50 547 -> 636 ms with 42 of 44
commands the same and those +9 ms on average. A pre-roll of 300 ms instead of 1000 (the
gate's first version) had the same per-command latency but heard fewer commands after a long
pause (TUNE 8 s: clean 0.344, white 0.322; HELD-OUT white 1 s 0.296) for 27 ms of CPU per
audio second instead of 29: vosk hears a word better, in these runs, after a second of the
room than after 300 ms of it. When the gate closes on noise vosk takes for words
(``hangover_ms``), the utterance goes on with the next speech, whose first words then hide
the command: in white noise with 8 s gaps 8 of 88 openings. Neither ending the utterance
there (``FinalResult``: TUNE white 8 s 0.367 -> 0.333) nor judging only the partial text
after the old words (vosk rewrites them; no change) helped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..denoise import DELAY_MS as DENOISE_DELAY_MS
from ..denoise import denoised
from ..intents import PhraseTable
from . import RATE, SAFE_TO_GET_WRONG, AsrError, Hypothesis, prefix_conflicts
from .gate import BackgroundGate

log = logging.getLogger(__name__)

# Ordinary words used as the garbage path (filtered by the model's vocabulary at load time;
# any word of a command phrase is removed). Chosen as frequent everyday words; NOT taken from
# the rejection sentences in the tests.
GARBAGE: dict[str, tuple[str, ...]] = {
    "ko": tuple(
        "이 그 저 것 수 나 너 우리 사람 집 밥 물 학교 회사 시간 친구 일 말 오늘 내일 어제 "
        "네 응 음 어 아 그래 진짜 정말 그리고 그런데 하지만 왜 뭐 누구 어디 언제 안 못 "
        "잘 많이 조금 아주 같이 여기 거기 저기 지금 나중에 먼저 하고 에서 으로 에게 "
        "있어요 없어요 했어요 해요 가요 와요 먹어요 봐요 좋아요 싫어요 알아요 몰라요 "
        "주세요 그럼 이제 아직 벌써 사실 생각 문제 이야기 사랑 날씨 아침 저녁 점심 "
        "밤 주말 돈 차 길 책 영화 음악 전화 가족 엄마 아빠 형 누나 동생 선생님 "
        "하나도 모두 다른 새 큰 작은 좋은 나쁜 그냥 혹시 아마 보통 항상 가끔".split()
    ),
    "en": tuple(
        "the a an and of to in is was for on with as at by from this that be are were "
        "have has had not but or they we he she you his her their our will would can "
        "could should about which when there what all one out up so if into just like "
        "time people year day way thing man woman child world life school house car "
        "food water dinner morning night week today tomorrow yesterday friend family "
        "work money book music movie phone weather city train garden coffee".split()
    ),
}


@dataclass(frozen=True)
class VoskSettings:
    """Decoder and firing settings.

    beam: decoder beam (log-likelihood units); the model's own default is 10.
    max_active: most active decoder states per frame (count); model default 3000.
    lattice_beam: lattice pruning beam (log-likelihood units); model default 2.
    frames_per_chunk: network chunk size (input frames of 10 ms); sets how often results update.
    stable_ms: a partial result must stay the same complete phrase this long (ms of audio);
        see the module docstring for why this long.
    partial_lag_ms: how long after the phrase ends a partial result first shows it (ms),
        measured; subtracted to report the phrase end time of a partial fire.
    min_conf: lowest word confidence (0..1) accepted on a final result.
    denoise: suppress steady background noise first (see voicecoach.denoise). Korean model,
        TUNE voices: white noise 20 dB under the voice 8% -> 28% of commands heard, clean
        37% -> 33%; HELD-OUT: 20 dB 10% -> 30%, 10 dB 0% -> 11%, clean 34% -> 30%.
    partial_confidence: confidence reported for a partial fire (partials carry none).
    gate_db: the speech gate (see the module docstring): a 20 ms frame is speech when it is
        this much louder than the background (dB; 0 feeds the decoder everything).
    gate_background_s, gate_background_pct: the background is this percentile (%) of the
        frame levels of the last ``gate_background_s`` seconds; until a quarter of that has
        been heard, every frame counts as speech.
    preroll_ms: when the gate opens, this much of the audio up to the frame that opened it
        is fed first (ms), so a quiet start of a word is not clipped and vosk hears the room
        before the word (300 ms heard fewer commands after long pauses; module docstring).
    hangover_ms: after the last speech frame, real audio is fed until vosk's own endpointing
        ends the utterance, or at most this long (ms); then nothing is fed until the next
        speech frame. Ending the utterance for vosk (``FinalResult``) is no shortcut: that
        also restarts its feature pipeline (speaker adaptation) and cost accuracy, TUNE 0.411
        -> 0.344 with the end forced 700 ms into a pause.
    open_frames, open_window: the gate opens when ``open_frames`` of the last ``open_window``
        frames are speech (count; 1 and 1 open it on any one). What the echo canceller lets
        through of the coach's voice comes in blips of 40-100 ms, a few a minute, and each
        one opening the gate cost the pre-roll and seconds of hangover: in a recorded
        10-minute session (Korean, PulseAudio loopback) 195 openings fed the decoder 285 of
        606 s, 35 ms of CPU per audio second; at 6 of 10, 91 s and 15 ms; at 8 of 12, 55 s
        and 9 ms. Commands 8 s apart, 1 of 1 -> 8 of 12: clean, heard TUNE 29 -> 31 of 90,
        HELD-OUT 41 -> 40 of 135, on the ones heard both ways the same latency (median
        difference +20 and 0 ms, one decoder chunk is 60); white noise 20 dB under the
        voice, TUNE 0.344 -> 0.344, HELD-OUT 0.341 -> 0.348.
    end_quiet_ms, quiet_stable_ms: a partial result that is a command safe to get wrong
        (``SAFE_TO_GET_WRONG``: pain, pause, back lifting, easier) fires once the gate has
        heard ``end_quiet_ms`` of quiet after the last speech frame and the partial has stayed
        the same for ``quiet_stable_ms`` (ms), instead of after ``stable_ms``: the speaker has
        stopped and vosk, about 180 ms behind, has caught up. (0 turns this off.) Korean
        model, every phrase 1 s and 8 s apart, and talk (clean, white noise 20 dB under the
        voice, and babble 20 dB for HELD-OUT; one number each), chosen on TUNE:

            every command allowed    heard      wrong     false in talk   latency p50 ms
            off                      76   61    7  10      7   3          509   496
            quiet 100, stable 60     85   68   14  19     11   8          198   181
            quiet 200, stable 120    81   68   11  11      8   4          269   246
            HELD-OUT off             84 79 18  19 14 5    7 10 10         596 587 495
            HELD-OUT 200, 120        91 88 18  27 25 11   9 13 11         292 306 359

        (of 180 and 270 commands). A partial taken at the first pause is more often a wrong
        command (HELD-OUT 38 -> 63 in all), so only the commands that are safe to get wrong
        fire this way. Every phrase of those (HELD-OUT, 72): latency p50/p95 clean 565/798 ->
        353/556 ms, white 20 dB 520/655 -> 272/413; heard 20 -> 18 and 20 -> 23, wrong 5 -> 7
        and 3 -> 3. All commands, HELD-OUT: heard 84 -> 85, 79 -> 80, 18 -> 18, wrong
        19 -> 21, 14 -> 17, 5 -> 7 (each a pain, pause, back or easier report), false in talk
        7 -> 7, 10 -> 11, 10 -> 10; TUNE heard 76 -> 77, 61 -> 61, wrong 7 -> 7, 10 -> 10.
    """

    beam: float = 8.0
    max_active: int = 1000
    lattice_beam: float = 1.0
    frames_per_chunk: int = 6
    stable_ms: int = 350
    partial_lag_ms: int = 180
    min_conf: float = 0.6
    denoise: bool = True
    partial_confidence: float = 0.9
    gate_db: float = 10.0
    gate_background_s: float = 5.0
    gate_background_pct: float = 10.0
    preroll_ms: int = 1000
    hangover_ms: int = 2500
    open_frames: int = 8
    open_window: int = 12
    end_quiet_ms: float = 200.0
    quiet_stable_ms: int = 120


GATE_FRAME = RATE // 50
"""Samples in one frame of the speech gate (20 ms)."""


class _FedClock:
    """Where the audio fed to the decoder came from: vosk's times count fed audio only."""

    def __init__(self) -> None:
        self.fed = 0  # samples fed so far
        self._end = -1  # stream sample just after the last fed one
        # (fed sample, stream sample) where each stretch of contiguous audio starts; a final
        # result's words reach back at most one utterance (vosk ends one at 20 s of audio).
        self._starts: deque[tuple[int, int]] = deque(maxlen=256)

    def feed(self, stream_start: int, n: int) -> None:
        if stream_start != self._end:
            self._starts.append((self.fed, stream_start))
        self.fed += n
        self._end = stream_start + n

    def stream_ms(self, fed_ms: float) -> float:
        t = fed_ms * RATE / 1000.0
        for fed, stream in reversed(self._starts):
            if t >= fed:
                break
        else:
            return fed_ms
        return (stream + t - fed) * 1000.0 / RATE


class _Utterances:
    """One stream's decoder and where its current utterance stands."""

    def __init__(self, rec: Any) -> None:
        self.rec = rec
        self.clock = _FedClock()
        self.open = False  # fed audio vosk has not ended an utterance on yet
        self.fired = False  # this utterance has fired
        self.partial, self.since = "", 0.0  # the partial text, and since when (stream ms)


_MODELS: dict[str, Any] = {}  # loaded models by overlay path: loading takes seconds


def _import_vosk() -> Any:
    try:
        import vosk
    except ImportError as e:  # pragma: no cover - vosk is a dependency
        raise AsrError("vosk is not installed: pip install vosk (or use --engine pocketsphinx)") from e
    vosk.SetLogLevel(-1)
    return vosk


def _cache_root() -> Path:
    env = os.environ.get("VOICECOACH_CACHE")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("voicecoach"))


def overlay_model(model_dir: Path, s: VoskSettings) -> Path:
    """A model dir with our decoder settings: symlinks to ``model_dir`` plus our model.conf."""
    conf = model_dir / "conf" / "model.conf"
    lines = [ln.strip() for ln in conf.read_text().splitlines() if ln.strip()] if conf.exists() else []
    ours = {
        "--beam": f"{s.beam:g}",
        "--max-active": str(s.max_active),
        "--lattice-beam": f"{s.lattice_beam:g}",
        "--frames-per-chunk": str(s.frames_per_chunk),
    }
    kept = [ln for ln in lines if ln.split("=")[0] not in ours]
    text = "\n".join(kept + [f"{k}={v}" for k, v in ours.items()]) + "\n"
    key = hashlib.sha1(f"{model_dir.resolve()}\n{text}".encode()).hexdigest()[:16]
    out = _cache_root() / "vosk-overlay" / key
    if (out / "conf" / "model.conf").exists():
        return out
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    (tmp / "conf").mkdir(parents=True, exist_ok=True)
    for item in model_dir.iterdir():
        if item.name != "conf":
            (tmp / item.name).symlink_to(item.resolve())
    for item in (model_dir / "conf").iterdir() if (model_dir / "conf").is_dir() else ():
        if item.name != "model.conf":
            (tmp / "conf" / item.name).symlink_to(item.resolve())
    (tmp / "conf" / "model.conf").write_text(text)
    try:
        tmp.rename(out)
    except OSError:  # another process made it first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return out


def locate_model(lang: str, model_dir: Path | None = None) -> Path:
    """The checked vosk model dir for ``lang`` (raises AsrError saying how to install one)."""
    from ..models import ModelError, check_vosk_model, find_vosk_model, missing_model_message

    path = model_dir if model_dir is not None else find_vosk_model(lang)
    if path is None:
        raise AsrError(missing_model_message(lang))
    try:
        check_vosk_model(path)
    except ModelError as e:
        raise AsrError(str(e)) from e
    return Path(path)


class VoskRecognizer:
    engine = "vosk"

    def __init__(
        self,
        lang: str,
        model_dir: Path | None = None,
        settings: VoskSettings | None = None,
        table: PhraseTable | None = None,
    ) -> None:
        self.lang = lang
        self.settings = settings or VoskSettings()
        self.table = table or PhraseTable.for_lang(lang)
        vosk = _import_vosk()
        path = str(overlay_model(locate_model(lang, model_dir), self.settings))
        if path not in _MODELS:
            log.info("loading vosk model %s", path)
            _MODELS[path] = vosk.Model(path)
        self._vosk = vosk
        self._model = _MODELS[path]
        phrases = self.table.all_phrases()
        vocab = {w for p in phrases for w in p.split()}
        missing = sorted(w for w in vocab if self._model.vosk_model_find_word(w) < 0)
        if missing:
            log.warning("vosk model lacks words %s; phrases with them cannot be heard", missing)
        garbage = [
            w
            for w in GARBAGE.get(lang, ())
            if w not in vocab and self._model.vosk_model_find_word(w) >= 0
        ]
        if self._model.vosk_model_find_word("[unk]") >= 0:
            garbage.append("[unk]")
        self.grammar = json.dumps(phrases + garbage, ensure_ascii=False)
        self._early = frozenset(phrases) - prefix_conflicts(self.table)
        self.fed_ms = 0.0  # audio given to the decoder, over all streams (ms; a measurement)
        self.heard_ms = 0.0  # audio that came in, over all streams (ms)

    def _hyp(self, t_ms: float, phrase: str, conf: float) -> Hypothesis | None:
        intent = self.table.exact(phrase)
        if intent is None:
            return None
        if self.settings.denoise:
            t_ms -= DENOISE_DELAY_MS
        return Hypothesis(int(round(t_ms)), intent, phrase, conf, self.engine)

    def _final(self, res: dict[str, Any], clock: _FedClock) -> Hypothesis | None:
        words = res.get("result") or []
        text = " ".join(w["word"] for w in words)
        if not words or self.table.exact(text) is None:
            if text:
                log.debug("vosk: rejected %r", text)
            return None
        conf = min(float(w.get("conf", 0.0)) for w in words)
        if conf < self.settings.min_conf:
            log.debug("vosk: rejected %r (confidence %.2f)", text, conf)
            return None
        # vosk's times count the audio it was fed: back to the stream's clock.
        return self._hyp(clock.stream_ms(1000.0 * float(words[-1]["end"])), text, conf)

    def __call__(self, blocks: Iterable[bytes]) -> Iterator[Hypothesis]:
        s = self.settings
        rec = self._vosk.KaldiRecognizer(self._model, RATE, self.grammar)
        rec.SetWords(True)
        u = _Utterances(rec)
        gate = BackgroundGate(s.gate_db, s.gate_background_pct, s.gate_background_s,
                              1000.0 * GATE_FRAME / RATE)
        unfed: deque[bytes] = deque(maxlen=max(1, round(s.preroll_ms * RATE / 1000 / GATE_FRAME)))
        recent: deque[bool] = deque(maxlen=max(1, s.open_window))
        if s.denoise:
            blocks = denoised(blocks)
        buf = b""
        pos = 0  # stream samples taken from the input
        feeding = False
        quiet_ms = 0.0  # since the last speech frame
        for block in blocks:
            buf += block
            while len(buf) >= 2 * GATE_FRAME:
                frame, buf = buf[: 2 * GATE_FRAME], buf[2 * GATE_FRAME :]
                pos += GATE_FRAME
                speech = gate(frame)
                recent.append(speech)
                quiet_ms = 0.0 if speech else quiet_ms + 1000.0 * GATE_FRAME / RATE
                if not feeding:
                    unfed.append(frame)
                    if sum(recent) < s.open_frames:
                        continue
                    # Speech: the pre-roll first (audio never fed before), ending in this frame.
                    feeding = True
                    chunk = b"".join(unfed)
                    unfed.clear()
                else:
                    chunk = frame
                ended, hyp = self._feed(u, chunk, pos, quiet_ms)
                if hyp is not None:
                    yield hyp
                if (ended and not speech) or quiet_ms >= s.hangover_ms:
                    # vosk ended the utterance in a pause, or the pause is long and vosk
                    # still hears words in it (noise): stop feeding. In the second case the
                    # utterance goes on when the speech does.
                    feeding = False
        if feeding and len(buf) >= 2:
            _, hyp = self._feed(u, buf, pos + len(buf) // 2, quiet_ms)
            if hyp is not None:
                yield hyp
        if u.open:
            hyp = self._end(u)
            if hyp is not None:
                yield hyp
        self.fed_ms += u.clock.fed * 1000.0 / RATE
        self.heard_ms += (pos + len(buf) // 2) * 1000.0 / RATE
        log.debug("vosk: fed the decoder %.1f s of %.1f s", u.clock.fed / RATE, pos / RATE)

    def _feed(self, u: _Utterances, chunk: bytes, end: int, quiet_ms: float
              ) -> tuple[bool, Hypothesis | None]:
        """Feed ``chunk``, which ends at stream sample ``end``, ``quiet_ms`` after the gate's
        last speech frame: (did vosk end the utterance, a hypothesis to fire)."""
        n = len(chunk) // 2
        u.clock.feed(end - n, n)
        now = end * 1000.0 / RATE
        if u.rec.AcceptWaveform(chunk[: 2 * n]):
            return True, self._ended(u, u.rec.Result())
        u.open = True
        text = json.loads(u.rec.PartialResult()).get("partial", "")
        if text != u.partial:
            u.partial, u.since = text, now
        if u.fired or text not in self._early:
            return False, None
        s = self.settings
        held = now - u.since
        # A command safe to get wrong need not wait as long once the speaker has stopped.
        quick = (0 < s.end_quiet_ms <= quiet_ms and held >= s.quiet_stable_ms
                 and self.table.exact(text) in SAFE_TO_GET_WRONG)
        if held >= s.stable_ms or quick:
            hyp = self._partial_hyp(text, u.since)
            if hyp is not None:
                u.fired = True
                return False, hyp
        return False, None

    def _end(self, u: _Utterances) -> Hypothesis | None:
        """End the utterance for vosk (at the end of the stream): its final result."""
        return self._ended(u, u.rec.FinalResult())

    def _ended(self, u: _Utterances, result: str) -> Hypothesis | None:
        hyp = None if u.fired else self._final(json.loads(result), u.clock)
        u.open, u.fired, u.partial = False, False, ""
        return hyp

    def _partial_hyp(self, text: str, since: float) -> Hypothesis | None:
        """A stable partial phrase; it ended about ``partial_lag_ms`` before it showed."""
        t = max(0.0, since - self.settings.partial_lag_ms)
        return self._hyp(t, text, self.settings.partial_confidence)
