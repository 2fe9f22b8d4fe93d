"""Text -> intent through the phrase table. The same table is the recognizers' grammar."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from . import lang as lang_pkg


class Intent(StrEnum):
    PAIN = "pain"
    STOP = "stop"
    PAUSE = "pause"
    DONE = "done"
    RESUME = "resume"
    BACK_LIFTED = "back_lifted"
    EASIER = "easier"
    HARDER = "harder"
    SLOWER = "slower"
    FASTER = "faster"
    SKIP = "skip"
    REPEAT = "repeat"
    HOW_MANY = "how_many"
    HELP = "help"
    YES = "yes"
    NO = "no"
    START = "start"
    """Standby's wake phrase ("start workout", "computer"): only in a table the caller builds
    with :meth:`PhraseTable.of`, never in a language's command table, so the coach never gets it."""


#: Intents that act at once and cut whatever the coach is saying.
URGENT: frozenset[Intent] = frozenset({Intent.PAIN, Intent.STOP, Intent.PAUSE, Intent.DONE})

_PUNCT = re.compile(r"[^\w\s']", re.UNICODE)


def normalize(text: str) -> str:
    """Lower case, NFC, curly apostrophes straightened, punctuation and extra spaces dropped."""
    text = unicodedata.normalize("NFC", text).replace("\u2019", "'").lower()
    return " ".join(_PUNCT.sub(" ", text).split())


@dataclass(frozen=True)
class PhraseTable:
    lang: str
    phrases: dict[Intent, tuple[str, ...]]
    pain_words: tuple[str, ...]

    @classmethod
    def for_lang(cls, lang: str) -> PhraseTable:
        mod = lang_pkg.load(lang)
        table = {Intent(name): tuple(normalize(p) for p in ps) for name, ps in mod.PHRASES.items()}
        return cls(lang, table, tuple(mod.PAIN_WORDS))

    @classmethod
    def of(
        cls, lang: str, phrases: Mapping[Intent, Iterable[str]], pain_words: Iterable[str] = ()
    ) -> PhraseTable:
        """A table of the caller's own phrases (normalized), e.g. a standby grammar:
        ``PhraseTable.of("en", {Intent.START: ["start workout"]})``."""
        table = {i: tuple(normalize(p) for p in ps) for i, ps in phrases.items()}
        return cls(lang, table, tuple(pain_words))

    def all_phrases(self) -> list[str]:
        """Every phrasing, for a recognizer grammar (no duplicates, table order)."""
        seen: dict[str, None] = {}
        for ps in self.phrases.values():
            for p in ps:
                seen.setdefault(p, None)
        return list(seen)

    def exact(self, text: str) -> Intent | None:
        """The intent whose phrasing is exactly ``text`` (after normalizing), if any."""
        norm = normalize(text)
        for intent, ps in self.phrases.items():
            if norm in ps:
                return intent
        return None

    def match(self, text: str) -> Intent | None:
        """Intent for typed or heard text, or None for text that is not a command.

        Exact phrasings win. Otherwise any pain word anywhere makes it a pain report
        (safety first), then the first intent (table order = priority) with a phrasing
        that occurs in the text as whole words.
        """
        norm = normalize(text)
        if not norm:
            return None
        found = self.exact(norm)
        if found is not None:
            return found
        words = norm.split()
        padded = f" {norm} "
        if any(w in words for w in self.pain_words) or any(
            " " in w and f" {w} " in padded for w in self.pain_words
        ):
            return Intent.PAIN
        for intent, ps in self.phrases.items():
            if any(f" {p} " in padded for p in ps):
                return intent
        return None
