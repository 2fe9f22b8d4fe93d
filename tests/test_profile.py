"""Progression rules (pure): when to offer harder, when to suggest easier, how often to train."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from voicecoach.knowledge import Level
from voicecoach.profile import (
    Profile,
    SessionRecord,
    SetRecord,
    back_lifting_streak,
    ease_for_next_time,
    frequency,
    offer_after_set,
    offer_progress,
    start_advice,
)

NOW = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)


def session(days_ago: float, sets: list[SetRecord], pain: int = 0) -> SessionRecord:
    return SessionRecord("s", "default", NOW - timedelta(days=days_ago), Level(), tuple(sets),
                         sum(s.perfect for s in sets), pain, "complete")


def test_fifteen_slow_perfect_reps_offer_a_longer_range_first() -> None:
    level = Level("bent-knee", 45, 3.0)
    offer = offer_progress(level, 15, 3.0)
    assert offer is not None
    assert (offer.kind, offer.proposed) == ("range", Level("bent-knee", 30, 3.0))


def test_at_the_hover_the_offer_is_the_next_variation() -> None:
    offer = offer_progress(Level("bent-knee", 5, 4.0), 16, 4.0)
    assert offer is not None
    assert (offer.kind, offer.proposed) == ("variation", Level("single-leg", 45, 4.0))


@pytest.mark.parametrize("perfect, lower_s", [(14, 3.0), (15, 2.5), (30, 2.0), (15, None)])
def test_no_offer_without_fifteen_perfect_reps_lowered_in_three_seconds(
    perfect: int, lower_s: float | None
) -> None:
    assert offer_progress(Level(), perfect, lower_s) is None


def test_no_offer_at_the_hardest_level_or_after_pain() -> None:
    assert offer_progress(Level("hanging-straight", 5, 3.0), 20, 3.0) is None
    pained = SetRecord(1, Level(), perfect=15, attempts=15, reason="pain", min_lower_s=3.0)
    assert offer_after_set(pained) is None
    fine = SetRecord(1, Level(), perfect=15, attempts=15, reason="complete", min_lower_s=3.0)
    assert offer_after_set(fine) is not None


def test_pain_stop_suggests_the_easier_option_next_time() -> None:
    level = Level("straight-leg", 15, 3.0)
    ease = ease_for_next_time(session(2, [SetRecord(1, level, 5, 5)], pain=1), level)
    assert ease is not None and (ease.reason, ease.proposed) == ("pain", level.easier())


def test_two_sets_in_a_row_with_the_back_lifting_suggest_easier() -> None:
    lv = Level("straight-leg", 30, 3.0)
    lifted = [SetRecord(1, lv, back_lifts=1), SetRecord(2, lv, back_lifts=2), SetRecord(3, lv)]
    apart = [SetRecord(1, lv, back_lifts=1), SetRecord(2, lv), SetRecord(3, lv, back_lifts=1)]
    assert back_lifting_streak(lifted) == 2 and back_lifting_streak(apart) == 1
    ease = ease_for_next_time(session(2, lifted), lv)
    assert ease is not None and (ease.reason, ease.proposed) == ("back_lifting", Level(
        "straight-leg", 45, 3.0))
    assert ease_for_next_time(session(2, apart), lv) is None
    assert ease_for_next_time(None, lv) is None
    assert ease_for_next_time(session(2, lifted, pain=1), Level("dead-bug", 45, 3.0)) is None


def test_frequency_warns_about_consecutive_days_and_counts_the_week() -> None:
    assert frequency([], NOW) == frequency([NOW + timedelta(days=1)], NOW)
    first = frequency([], NOW)
    assert (first.hours_since_last, first.consecutive_days, first.days_since_last) == (
        None, False, None)
    yesterday = frequency([NOW - timedelta(hours=23)], NOW)
    assert yesterday.consecutive_days and yesterday.days_since_last == 0
    rested = frequency([NOW - timedelta(days=2, hours=1), NOW - timedelta(days=9)], NOW)
    assert not rested.consecutive_days and rested.days_since_last == 2
    assert rested.sessions_last_7_days == 1 and not rested.too_many_this_week
    busy = frequency([NOW - timedelta(days=d) for d in (2, 4, 6)], NOW)
    assert busy.too_many_this_week


def test_start_advice_picks_up_the_last_level_and_looks_at_the_last_session_only() -> None:
    lv = Level("single-leg", 30, 3.0)
    profile = Profile("default", lv, NOW - timedelta(days=2), disclaimer_said=True)
    old_pain = session(5, [SetRecord(1, lv)], pain=1)
    good = session(2, [SetRecord(1, lv, 10, 10)])
    advice = start_advice(profile, [good, old_pain], NOW)
    assert advice.level == lv and advice.returning and not advice.first_use
    assert advice.ease is None
    assert advice.frequency.days_since_last == 2
    advice = start_advice(profile, [old_pain], NOW)
    assert advice.ease is not None and advice.ease.reason == "pain"
    new = start_advice(Profile(), [], NOW)
    assert not new.returning and new.first_use and new.level == Level()
