"""Hearing commands: one interface, two engines (vosk, pocketsphinx).

A recognizer is a callable fed an iterable of 16 kHz mono int16 blocks (``bytes``) that yields
:class:`Hypothesis` objects as soon as it is sure of a command. Time is audio time: the number
of samples fed so far, so a WAV file and a live microphone behave the same.

    rec = make_recognizer("en", engine="auto")
    for hyp in rec(blocks):
        print(hyp.t_ms, hyp.intent, hyp.phrase)

Choice (``engine="auto"``): vosk when a vosk model for the language is installed, else
pocketsphinx (English only; its model ships inside the wheel).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..intents import Intent, PhraseTable

log = logging.getLogger(__name__)

RATE = 16000
"""Sample rate every recognizer is fed (hertz)."""

ENGINES: tuple[str, ...] = ("auto", "vosk", "pocketsphinx")

SAFE_TO_GET_WRONG: frozenset[Intent] = frozenset(
    {Intent.PAIN, Intent.PAUSE, Intent.BACK_LIFTED, Intent.EASIER})
"""Commands that are safe to act on by mistake: stopping, pausing or easing the exercise.
Where a recognizer hears more at the price of more mistakes (pocketsphinx's look for a phrase
after other sounds, vosk's firing when the speech has just stopped), only these are taken."""


class AsrError(Exception):
    """A recognizer cannot be built or fed (bad engine, language, model or input)."""


@dataclass(frozen=True)
class Hypothesis:
    """One command heard.

    t_ms: audio time at which the spoken phrase ended (milliseconds since the first sample).
    intent: the command. phrase: the phrasing heard (a grammar phrase).
    confidence: 0..1, the engine's belief (see each engine for what it is made of).
    engine: "vosk" or "pocketsphinx".
    lead_ms: set only when the phrase followed other sounds in the same utterance (a
        recognizer's second look at what it first took for garbage): the audio time at which
        the phrase began. Such a hypothesis is believed only where those sounds can be the
        coach's own voice (see ``live.GuardedSession``).
    """

    t_ms: int
    intent: Intent
    phrase: str
    confidence: float
    engine: str
    lead_ms: int | None = None

    def as_json(self) -> dict[str, object]:
        """The stable JSON form: keys t_ms, intent, phrase, confidence, engine."""
        return {
            "t_ms": self.t_ms,
            "intent": str(self.intent),
            "phrase": self.phrase,
            "confidence": round(self.confidence, 3),
            "engine": self.engine,
        }


class Recognizer(Protocol):
    engine: str
    lang: str

    def __call__(self, blocks: Iterable[bytes]) -> Iterator[Hypothesis]: ...


def prefix_conflicts(table: PhraseTable) -> frozenset[str]:
    """Phrases that are the first words of a longer phrase with a DIFFERENT intent.

    Such a phrase may not fire on a partial result: the speaker may still be saying the longer
    one. (A prefix of a longer phrase with the same intent is safe: the intent is the same.)
    """
    owner = {p: i for i, ps in table.phrases.items() for p in ps}
    out = set()
    for p, i in owner.items():
        for q, j in owner.items():
            if j != i and q.startswith(p + " "):
                out.add(p)
    return frozenset(out)


def choose_engine(lang: str, engine: str = "auto", model_dir: Path | None = None) -> str:
    """Which engine serves ``lang``: "vosk" or "pocketsphinx" (raises AsrError if none can)."""
    if engine not in ENGINES:
        raise AsrError(f"unknown engine {engine!r}: choose one of {', '.join(ENGINES)}")
    if engine != "auto":
        if engine == "pocketsphinx" and lang != "en":
            raise AsrError(
                f"pocketsphinx only has an English model, not {lang!r}: "
                "use --engine vosk with a vosk model for that language"
            )
        return engine
    if model_dir is not None or _find_model(lang) is not None:
        return "vosk"
    if lang == "en":
        return "pocketsphinx"
    raise AsrError(_missing_model(lang))


def _find_model(lang: str) -> Path | None:
    from ..models import find_vosk_model

    return find_vosk_model(lang)


def _missing_model(lang: str) -> str:
    from ..models import missing_model_message

    return missing_model_message(lang)


def make_recognizer(
    lang: str = "en",
    engine: str = "auto",
    model_dir: Path | None = None,
    table: PhraseTable | None = None,
) -> Recognizer:
    """Build the recognizer for ``lang`` (see :func:`choose_engine`).

    ``table``: the phrases to listen for; default the language's command table. A standby
    loop passes a table of just its wake phrase, e.g.
    ``PhraseTable.of("en", {Intent.START: ["computer"]})``; everything else is rejected.
    """
    if table is not None and table.lang != lang:
        raise AsrError(f"phrase table is for {table.lang!r}, recognizer for {lang!r}: use one language")
    chosen = choose_engine(lang, engine, model_dir)
    log.info("recognizer: %s for %s", chosen, lang)
    if chosen == "vosk":
        from .vosk_engine import VoskRecognizer

        return VoskRecognizer(lang, model_dir, table=table)
    from .sphinx_engine import SphinxRecognizer

    return SphinxRecognizer(lang, table=table)
