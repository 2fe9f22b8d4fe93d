"""The coach's words and the user's command phrases, one module per language.

Each language module defines:

- ``MESSAGES``: message id -> template (``str.format`` fields) of everything the coach says;
- ``PHRASES``: intent name -> the phrasings a user may say (the first one is canonical);
- ``PAIN_WORDS``: words that make any text a pain report;
- ``PYTTSX3_VOICE``: the pyttsx3 voice id for the language when the user chose none;
- ``number(n)``, ``days(n)``, ``variation_name(slug, short)``, ``stop_name(deg, short)``:
  words for values.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

LANGUAGES: tuple[str, ...] = ("en", "ko")

#: Mid-set reminders: message ids, the same in every language, in rotation order
#: (the most important first). Then the setup cues before the first set and later sets.
REMINDERS: tuple[str, ...] = (
    "rem_back",
    "rem_breathe",
    "rem_slow",
    "rem_feet",
    "rem_neck",
    "rem_navel",
    "rem_top",
    "rem_swing",
)

SETUP_FULL: tuple[str, ...] = (
    "setup_surface",
    "setup_arms",
    "setup_legs",
    "setup_press",
    "setup_note",
    "setup_head",
    "setup_breath",
    "setup_tempo",
    "setup_first",
)
SETUP_SHORT: tuple[str, ...] = ("setup_short",)


def load(lang: str) -> ModuleType:
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} is not one of: {', '.join(LANGUAGES)}")
    return import_module(f"voicecoach.lang.{lang}")


def tts_voice(lang: str, engine: str, voice: str | None) -> str | None:
    """The voice to speak ``lang`` with: the user's choice, else the language's pyttsx3 voice."""
    if voice is not None or engine != "pyttsx3":
        return voice
    return load(lang).PYTTSX3_VOICE
