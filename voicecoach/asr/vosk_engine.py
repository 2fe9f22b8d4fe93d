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
for the end-of-utterance silence; each utterance fires at most once. A partial result has no
word confidences (vosk 0.3.45 in grammar mode returns no partial text at all once partial
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
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..denoise import DELAY_MS as DENOISE_DELAY_MS
from ..denoise import denoised
from ..intents import PhraseTable
from . import RATE, AsrError, Hypothesis, prefix_conflicts

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

    def _hyp(self, t_ms: float, phrase: str, conf: float) -> Hypothesis | None:
        intent = self.table.exact(phrase)
        if intent is None:
            return None
        if self.settings.denoise:
            t_ms -= DENOISE_DELAY_MS
        return Hypothesis(int(round(t_ms)), intent, phrase, conf, self.engine)

    def _final(self, res: dict[str, Any]) -> Hypothesis | None:
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
        return self._hyp(1000.0 * float(words[-1]["end"]), text, conf)

    def __call__(self, blocks: Iterable[bytes]) -> Iterator[Hypothesis]:
        s = self.settings
        rec = self._vosk.KaldiRecognizer(self._model, RATE, self.grammar)
        rec.SetWords(True)
        samples = 0
        fired = False
        partial, since = "", 0.0
        if s.denoise:
            blocks = denoised(blocks)
        for block in blocks:
            samples += len(block) // 2
            now = samples * 1000.0 / RATE
            if rec.AcceptWaveform(block):
                res = json.loads(rec.Result())
                if not fired:
                    hyp = self._final(res)
                    if hyp is not None:
                        yield hyp
                fired, partial = False, ""
                continue
            res = json.loads(rec.PartialResult())
            text = res.get("partial", "")
            if text != partial:
                partial, since = text, now
            if not fired and text in self._early and now - since >= s.stable_ms:
                hyp = self._partial_hyp(text, since)
                if hyp is not None:
                    fired = True
                    yield hyp
        if not fired:
            hyp = self._final(json.loads(rec.FinalResult()))
            if hyp is not None:
                yield hyp

    def _partial_hyp(self, text: str, since: float) -> Hypothesis | None:
        """A stable partial phrase; it ended about ``partial_lag_ms`` before it showed."""
        t = max(0.0, since - self.settings.partial_lag_ms)
        return self._hyp(t, text, self.settings.partial_confidence)
