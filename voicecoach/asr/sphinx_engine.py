"""PocketSphinx backend (5.x API): English model from inside the wheel, JSGF grammar.

The grammar is the phrase table plus a garbage path: any run of ordinary English words
(``GARBAGE``, the same everyday words the vosk backend uses) with a weight that makes the
decoder prefer a command only when the audio really fits one:

    public <utt> = /w_cmd/ <command> | /w_garbage/ <garbage>+ ;

A command fires when the whole utterance so far is exactly one phrase and that partial
hypothesis stays the same for ``stable_ms`` of audio after the speech stops changing it, or at
the end of the utterance (the voice activity detector saw ``end_silence_ms`` of silence).
Its posterior probability must be >= ``min_prob``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from ..intents import PhraseTable
from . import RATE, AsrError, Hypothesis, prefix_conflicts
from .vosk_engine import GARBAGE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SphinxSettings:
    """Grammar weights, voice activity and firing settings.

    garbage_weight: JSGF weight of the garbage path against 1.0 for the commands (ratio).
    vad_mode: voice activity aggressiveness (0 loose .. 3 strict).
    vad_window_s: window over which speech/non-speech is decided (seconds).
    vad_ratio: fraction of that window that must agree to switch (0..1); 0.5 lets a
        300 ms word like "ready" start an utterance.
    stable_ms: a partial result must stay the same complete phrase this long (ms of audio).
    partial_lag_ms: typical delay from the phrase end to the partial showing it (ms, measured).
    partial_every: look at the partial hypothesis every this many 30 ms frames (count);
        reading it is the costly part of decoding.
    min_prob: lowest posterior probability (0..1) accepted for a command.
    max_utt_ms: an utterance longer than this is talk, not a command (the longest phrase
        takes about 1.5 s): decoding restarts there. This bounds the cost of continuous
        speech such as the coach's own voice, which otherwise grows with every frame.
    garbage_words: how many everyday words make the garbage loop (count). With 120 words
        and the default beams, continuous speech cost over 30 CPU seconds per audio
        second; 24 words with the beams below cost about 0.05 (measured on the coach's
        own voice).
    beam, word_beam: pruning beams (relative probability; smaller prunes less).
    max_hmm_per_frame: cap on active HMMs per frame (count), bounding the worst case.
    """

    garbage_weight: float = 0.5
    vad_mode: int = 1
    vad_window_s: float = 0.3
    vad_ratio: float = 0.5
    stable_ms: int = 150
    partial_lag_ms: int = 60
    partial_every: int = 2
    min_prob: float = 0.0
    max_utt_ms: float = 3000.0
    garbage_words: int = 24
    beam: float = 1e-25
    word_beam: float = 1e-15
    max_hmm_per_frame: int = 1500


def _import_ps() -> Any:
    try:
        import pocketsphinx
    except ImportError as e:  # pragma: no cover - pocketsphinx is a dependency
        raise AsrError("pocketsphinx is not installed: pip install pocketsphinx") from e
    return pocketsphinx


def _rule(name: str, alternatives: Iterable[str]) -> str:
    return f"<{name}> = " + " | ".join(f"( {a} )" for a in alternatives) + " ;"


class SphinxRecognizer:
    engine = "pocketsphinx"

    def __init__(self, lang: str = "en", settings: SphinxSettings | None = None) -> None:
        if lang != "en":
            raise AsrError(f"pocketsphinx only has an English model, not {lang!r}: use vosk")
        self.lang = lang
        self.settings = settings or SphinxSettings()
        self.table = PhraseTable.for_lang(lang)
        self._ps = _import_ps()
        phrases = self.table.all_phrases()
        config = self._ps.Config(
            hmm=self._ps.get_model_path("en-us/en-us"),
            dict=self._ps.get_model_path("en-us/cmudict-en-us.dict"),
            samprate=RATE,
            loglevel="FATAL",
        )
        config["beam"] = self.settings.beam
        config["pbeam"] = self.settings.beam
        config["wbeam"] = self.settings.word_beam
        config["maxhmmpf"] = self.settings.max_hmm_per_frame
        self._config = config
        probe = self._ps.Decoder(config)
        missing = sorted({w for p in phrases for w in p.split() if probe.lookup_word(w) is None})
        if missing:
            raise AsrError(f"pocketsphinx dictionary lacks {missing}: rephrase those commands")
        vocab = {w for p in phrases for w in p.split()}
        garbage = [w for w in GARBAGE["en"] if w not in vocab and probe.lookup_word(w)]
        garbage = garbage[: self.settings.garbage_words]
        g = self.settings.garbage_weight
        self.jsgf = "\n".join(
            [
                "#JSGF V1.0;",
                "grammar voicecoach;",
                _rule("command", phrases),
                _rule("garbage", garbage),
                f"public <utt> = /1.0/ <command> | /{g:g}/ <garbage>+ ;",
            ]
        )
        self._early = frozenset(phrases) - prefix_conflicts(self.table)

    def _decoder(self) -> Any:
        dec = self._ps.Decoder(self._config)
        dec.add_jsgf_string("voicecoach", self.jsgf)
        dec.activate_search("voicecoach")
        return dec

    def _hyp(self, t_ms: float, text: str, prob: float) -> Hypothesis | None:
        intent = self.table.exact(text)
        if intent is None or prob < self.settings.min_prob:
            if text:
                log.debug("pocketsphinx: rejected %r (p=%.2f)", text, prob)
            return None
        return Hypothesis(int(round(t_ms)), intent, text, prob, self.engine)

    def __call__(self, blocks: Iterable[bytes]) -> Iterator[Hypothesis]:
        s = self.settings
        ps = self._ps
        ep = ps.Endpointer(
            window=s.vad_window_s, ratio=s.vad_ratio, vad_mode=s.vad_mode, sample_rate=RATE
        )
        frame = ep.frame_bytes
        dec = self._decoder()
        buf = b""
        samples = 0  # samples handed to the endpointer
        in_utt = fired = False
        utt_start_ms = 0.0
        nframe = 0
        self._partial_text, self._since = "", 0.0
        for block in blocks:
            buf += block
            while len(buf) >= frame:
                chunk, buf = buf[:frame], buf[frame:]
                samples += frame // 2
                now = samples * 1000.0 / RATE
                speech = ep.process(chunk)
                if speech is not None:
                    if not in_utt:
                        dec.start_utt()
                        in_utt, fired, self._partial_text = True, False, ""
                        utt_start_ms = ep.speech_start * 1000.0
                    dec.process_raw(speech, False, False)
                    nframe += 1
                    if now - utt_start_ms > s.max_utt_ms:
                        dec.end_utt()  # talk, not a command: listen afresh from here
                        dec.start_utt()
                        fired, self._partial_text, utt_start_ms = False, "", now
                        continue
                    h = None if nframe % s.partial_every else self._partial(dec, now, fired)
                    if h is not None:
                        fired = True
                        yield h
                if in_utt and not ep.in_speech:
                    h = self._end(dec, fired, utt_start_ms)
                    in_utt = False
                    if h is not None:
                        yield h
        if in_utt:
            # end_stream() fails on an empty buffer (a stream that ended on a frame edge)
            tail = ep.end_stream(buf) if buf else None
            if tail is not None:
                dec.process_raw(tail, False, False)
            h = self._end(dec, fired, utt_start_ms)
            if h is not None:
                yield h

    def _partial(self, dec: Any, now: float, fired: bool) -> Hypothesis | None:
        """A command when the partial hypothesis is a complete phrase that has stayed put."""
        hyp = dec.hyp()
        text = hyp.hypstr if hyp is not None else ""
        if text != self._partial_text:
            self._partial_text, self._since = text, now
        s = self.settings
        if fired or text not in self._early or now - self._since < s.stable_ms:
            return None
        return self._hyp(self._since - s.partial_lag_ms, text, 1.0)

    def _end(self, dec: Any, fired: bool, utt_start_ms: float) -> Hypothesis | None:
        dec.end_utt()
        hyp = dec.hyp()
        if fired or hyp is None or not hyp.hypstr:
            return None
        words = [sg for sg in dec.seg() if sg.word not in ("<s>", "</s>", "<sil>", "[NOISE]")]
        end_frame = words[-1].end_frame + 1 if words else dec.n_frames()
        # Frames (10 ms) count from the utterance start, which the endpointer reports.
        return self._hyp(utt_start_ms + 10.0 * end_frame, hyp.hypstr, float(hyp.prob))
