"""Every language says everything the coach can say, with the same fields."""

from __future__ import annotations

import string

import pytest

from voicecoach import lang as lang_pkg
from voicecoach.coach import Plan, speakable_texts
from voicecoach.knowledge import STOP_POINTS, VARIATION_SLUGS
from voicecoach.lang import LANGUAGES, load, tts_voice

from .coachkit import replay


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_language_mirrors_english(lang: str) -> None:
    en, mod = load("en"), load(lang)
    assert mod.MESSAGES.keys() == en.MESSAGES.keys()
    for key, template in en.MESSAGES.items():
        assert fields(mod.MESSAGES[key]) == fields(template), key
    for ids in (lang_pkg.REMINDERS, lang_pkg.SETUP_FULL, lang_pkg.SETUP_SHORT):
        assert set(ids) <= mod.MESSAGES.keys()
    assert mod.PHRASES.keys() == en.PHRASES.keys()
    for slug in VARIATION_SLUGS:
        assert mod.variation_name(slug) and mod.variation_name(slug, True)
    for deg in STOP_POINTS:
        assert mod.stop_name(deg) and mod.stop_name(deg, True)
    assert len({mod.number(n) for n in range(0, 61)}) == 61


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_whole_session_runs_in_each_language(lang: str) -> None:
    plan = Plan(sets=2, reps=3, rest_s=20, lang=lang)
    phrases = load(lang).PHRASES
    script = [(1, phrases["skip"][0]), (20, phrases["easier"][0]), (40, phrases["pain"][0]),
              (60, phrases["resume"][0])]
    events = replay(plan, script)
    assert [e.data["intent"] for e in events if e.type == "command"] == [
        "skip", "easier", "pain", "resume"]
    allowed = set(speakable_texts(plan))
    assert all(e.text in allowed for e in events if e.spoken)
    assert events[-1].type == "session_end"


def test_a_korean_session_speaks_with_the_korean_voice_unless_the_user_chose_one() -> None:
    assert tts_voice("ko", "pyttsx3", None) == "ko"
    assert tts_voice("en", "pyttsx3", None) is None
    assert tts_voice("ko", "pyttsx3", "gmw/en-us") == "gmw/en-us"
    assert tts_voice("ko", "piper", None) is None  # Piper: the installed voice package
