"""Pure logic of the hearing side: echo guard, prefix rule, engine choice, JSON keys, Korean table."""

from __future__ import annotations

import string

import pytest

from voicecoach.asr import AsrError, Hypothesis, choose_engine, prefix_conflicts
from voicecoach.asr.echo import EchoGuard, EchoSettings
from voicecoach.intents import Intent, PhraseTable


def hyp(t_ms: int, phrase: str, intent: Intent = Intent.STOP) -> Hypothesis:
    return Hypothesis(t_ms, intent, phrase, 1.0, "test")


def test_echo_drops_the_coachs_own_words_while_it_speaks() -> None:
    guard = EchoGuard(EchoSettings(tail_ms=500))
    guard.said(10.0, "You can say: easier, harder, or stop.", 3.0)
    assert guard.is_echo(hyp(11_500, "stop"))
    assert guard.is_echo(hyp(13_400, "stop"))  # within the tail after the clip
    assert not guard.is_echo(hyp(13_600, "stop"))  # after the tail: the user said it
    assert not guard.is_echo(hyp(9_900, "stop"))  # before the clip started


def test_echo_lets_a_real_command_over_the_coach_through() -> None:
    guard = EchoGuard()
    guard.said(5.0, "Down, three.", 1.0)
    kept = list(guard.filter([hyp(5_500, "stop"), hyp(5_600, "down")]))
    assert [h.phrase for h in kept] == ["stop"]
    assert guard.dropped == 1


def test_echo_needs_every_word_of_the_phrase_in_the_clip() -> None:
    guard = EchoGuard()
    guard.said(0.0, "Slow on the way down.", 2.0)
    assert guard.is_echo(hyp(1_000, "slow down", Intent.SLOWER))
    assert not guard.is_echo(hyp(1_000, "speed up", Intent.FASTER))


def test_echo_forgets_old_clips() -> None:
    guard = EchoGuard(EchoSettings(keep_s=5.0))
    guard.said(0.0, "stop", 1.0)
    guard.said(60.0, "hold", 1.0)
    assert guard.playing(500) == []


def test_prefix_rule_only_blocks_prefixes_of_other_intents() -> None:
    en = prefix_conflicts(PhraseTable.for_lang("en"))
    assert "stop" not in en  # "stop workout" is also stop: firing early is safe
    for p in en:
        assert any(q.startswith(p + " ") for q in PhraseTable.for_lang("en").all_phrases())


def test_engine_choice() -> None:
    assert choose_engine("ko") == "vosk"  # the Korean model package is installed
    assert choose_engine("en", "pocketsphinx") == "pocketsphinx"
    with pytest.raises(AsrError, match="vosk, pocketsphinx"):
        choose_engine("en", "whisper")
    with pytest.raises(AsrError, match="English"):
        choose_engine("ko", "pocketsphinx")


def test_hypothesis_json_keys_are_stable() -> None:
    h = Hypothesis(1234, Intent.PAIN, "ouch", 0.87654, "vosk")
    assert h.as_json() == {
        "t_ms": 1234, "intent": "pain", "phrase": "ouch", "confidence": 0.877, "engine": "vosk"
    }


def test_korean_table_matches_english() -> None:
    import voicecoach.lang.en as en
    import voicecoach.lang.ko as ko

    fields = string.Formatter()
    assert set(ko.MESSAGES) == set(en.MESSAGES)
    for key, text in en.MESSAGES.items():
        want = {f[1] for f in fields.parse(text) if f[1]}
        assert {f[1] for f in fields.parse(ko.MESSAGES[key]) if f[1]} == want, key
    assert set(ko.PHRASES) == set(en.PHRASES)
    assert PhraseTable.for_lang("ko").match("아야 허리가 너무 아파요") == Intent.PAIN
    assert ko.number(12) == "열둘" and ko.stop_name(30) == "삼십 도"


def test_pocketsphinx_survives_a_stream_ending_on_a_frame_edge() -> None:
    from voicecoach.asr.sphinx_engine import SphinxRecognizer

    import numpy as np

    rec = SphinxRecognizer("en")
    rng = np.random.default_rng(1)
    loud = (rng.standard_normal(16000 * 2) * 6000).astype("<i2").tobytes()
    frame = 480 * 2  # 30 ms frames: the stream below ends exactly on a frame edge
    audio = loud[: len(loud) // frame * frame]
    list(rec([audio[i : i + 640] for i in range(0, len(audio), 640)]))  # must not raise


def test_pocketsphinx_names_a_start_phrase_word_it_cannot_pronounce() -> None:
    from voicecoach.asr.sphinx_engine import SphinxRecognizer

    table = PhraseTable.of("en", {Intent.START: ["start zorbulate"]})
    with pytest.raises(AsrError, match=r"lacks \['zorbulate'\]"):
        SphinxRecognizer("en", table=table)


def test_pocketsphinx_loads_only_the_grammars_words_and_no_language_model() -> None:
    from voicecoach.asr.sphinx_engine import SphinxRecognizer

    rec = SphinxRecognizer("en", table=PhraseTable.of("en", {Intent.START: ["computer"]}))
    dec = rec._decoder()
    assert dec.lookup_word("computer") is not None
    assert dec.lookup_word("banana") is None  # the other 134,000 words stay on disk
    assert rec._config["lm"] is None


def test_a_phrase_after_other_sounds_is_believed_only_where_the_coach_was_talking() -> None:
    guard = EchoGuard(EchoSettings(tail_ms=500))
    guard.said(10.0, "Hold.", 0.5)
    after = Hypothesis(11_200, Intent.PAIN, "ouch", 0.1, "test", lead_ms=10_400)
    assert list(guard.filter([after])) == [after]  # the sounds before it: the coach's "Hold."
    late = Hypothesis(13_200, Intent.PAIN, "ouch", 0.1, "test", lead_ms=12_400)
    assert list(guard.filter([late])) == []  # nothing the coach said explains them
    assert guard.lead_explained(after, delay_ms=300)  # heard 300 ms after it was played
    assert not guard.lead_explained(after, delay_ms=-2000)
    assert guard.lead_explained(hyp(13_200, "stop"))  # a phrase on its own needs nothing
