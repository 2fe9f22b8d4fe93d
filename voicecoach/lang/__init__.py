"""The coach's words and the user's command phrases, one module per language.

Each language module defines:

- ``MESSAGES``: message id -> template (``str.format`` fields) of everything the coach says;
- ``PHRASES``: intent name -> the phrasings a user may say (the first one is canonical);
- ``REMINDERS``: message ids of the short mid-set form reminders, in rotation order;
- ``SETUP_FULL`` / ``SETUP_SHORT``: message ids of the setup cues;
- ``number(n)``, ``variation_name(slug)``, ``stop_name(deg)``: words for values.
"""

from __future__ import annotations

from importlib import import_module
from types import ModuleType

LANGUAGES: tuple[str, ...] = ("en", "ko")


def load(lang: str) -> ModuleType:
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} is not one of: {', '.join(LANGUAGES)}")
    return import_module(f"voicecoach.lang.{lang}")
