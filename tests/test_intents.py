"""The phrase table: every phrasing maps to its intent, in every language."""

from __future__ import annotations

import pytest

from voicecoach.intents import Intent, PhraseTable, normalize
from voicecoach.lang import LANGUAGES


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_phrasing_maps_to_its_own_intent(lang: str) -> None:
    table = PhraseTable.for_lang(lang)
    assert set(table.phrases) == set(Intent) - {Intent.START}  # START: standby tables only
    seen: dict[str, Intent] = {}
    for intent, phrasings in table.phrases.items():
        assert len(phrasings) >= 2, f"{intent} needs several natural phrasings"
        for p in phrasings:
            assert seen.setdefault(p, intent) is intent, f"{p!r} is two intents"
            assert table.match(p) is intent
            assert table.match(p.upper() + "!") is intent


def test_typed_text_is_forgiving_but_pain_always_wins() -> None:
    table = PhraseTable.for_lang("en")
    assert table.match("Back’s up") is Intent.BACK_LIFTED
    assert table.match("ok easier please") is Intent.EASIER
    assert table.match("harder but my hip hurts") is Intent.PAIN
    assert table.match("ouch") is Intent.PAIN
    assert table.match("how many reps") is Intent.HOW_MANY
    assert table.match("the weather is nice") is None
    assert table.match("   ") is None
    assert normalize("  Let’s GO!! ") == "let's go"


def test_grammar_lists_every_phrase_once() -> None:
    table = PhraseTable.for_lang("en")
    phrases = table.all_phrases()
    assert len(phrases) == len(set(phrases))
    assert "my back is lifting" in phrases and "ouch" in phrases
