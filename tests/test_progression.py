"""Progression in the session: offers after 15 perfect reps, yes/no, advice at the start."""

from __future__ import annotations

import pytest

from voicecoach.coach import Plan
from voicecoach.knowledge import Level

from .coachkit import first, of_type, replay, replay_heard

FIFTEEN = Plan(sets=2, reps=15, rest_s=30, first_use=False, level=Level("bent-knee", 30))


def test_fifteen_clean_reps_earn_an_offer_and_yes_applies_it() -> None:
    base = replay(FIFTEEN)
    end = first(base, "set_end").t
    assert first(base, "cue", after=end - 1e-9, id="offer_level").text == (
        "How about bent-knee raises, down to fifteen degrees? Say yes or no.")
    events = replay(FIFTEEN, [(end + 12, "yes")])
    adjust = first(events, "adjust")
    assert adjust.data["intent"] == "yes" and adjust.data["stop_deg"] == 15
    assert first(events, "set_start", set=2).data["stop_deg"] == 15


def test_no_keeps_the_level_and_an_unasked_yes_changes_nothing() -> None:
    base = replay(FIFTEEN)
    end = first(base, "set_end").t
    events = replay(FIFTEEN, [(5, "yes"), (end + 12, "no")])
    assert not of_type(events, "adjust")
    said = [e.data["id"] for e in of_type(events, "cue")]
    assert "ack_no_question" in said and "ack_no" in said


def test_no_offer_after_a_back_lift_or_a_fast_lower() -> None:
    base = replay(FIFTEEN)
    lift = first(base, "count", beat="lift").t
    lifted = replay(FIFTEEN, [(lift + 4, "my back is lifting"), (lift + 5, "harder")])
    set2 = first(lifted, "set_start", set=2).t
    assert not [e for e in of_type(lifted, "cue") if e.data["id"] == "offer_level" and e.t < set2]
    fast = replay(FIFTEEN, [(lift - 1, "faster")])
    assert not [e for e in of_type(fast, "cue") if e.data["id"] == "offer_level"]


def test_after_the_last_set_the_coach_waits_for_an_answer() -> None:
    plan = Plan(sets=1, reps=15, first_use=False, level=Level("straight-leg", 5))
    base = replay(plan)
    end = first(base, "set_end").t
    offer = first(base, "cue", id="offer_level")
    assert "leg raises with a hip lift" in offer.text
    assert first(base, "session_end").t > end + 15
    events = replay(plan, [(offer.t + 5, "yeah")])
    assert first(events, "adjust").data["variation"] == "hip-lift"
    assert first(events, "session_end").t < first(base, "session_end").t  # no more waiting


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (Plan(returning=True, days_since_last=4), "Your last session was four days ago."),
        (Plan(returning=True, days_since_last=0, recent_session=True), "You trained very recently."),
        (Plan(returning=True, days_since_last=90), "It has been a while"),
    ],
)
def test_frequency_is_said_at_the_start(plan: Plan, expected: str) -> None:
    events = replay(plan, [(200, "stop")])
    assert any(e.text.startswith(expected) for e in of_type(events, "cue") if e.t < 30)


def test_after_pain_last_time_the_easier_option_is_offered() -> None:
    plan = Plan(returning=True, level=Level("straight-leg", 15), ease=Level("straight-leg", 30),
                ease_reason="pain")
    base = replay(plan)
    assert first(base, "cue", id="ease_pain")
    ask = first(base, "cue", id="offer_level")
    events = replay(plan, [(ask.t + 4, "yes")])
    assert first(events, "set_start").data["stop_deg"] == 30
    assert first(replay(plan), "set_start").data["stop_deg"] == 15


def test_summary_says_sets_tension_and_energy_when_mass_is_known() -> None:
    plan = Plan(sets=1, reps=2, first_use=False, body_mass_kg=70)
    said = [e.text for e in of_type(replay(plan), "cue")]
    assert "Workout over: two perfect reps." in said and "Sets: one." in said
    assert "Time under tension: twelve seconds." not in said  # rounded to tens
    assert "Time under tension: ten seconds." in said
    assert any(t.startswith("About ") and t.endswith(" calories.") for t in said)
    no_mass = [e.text for e in of_type(replay(Plan(sets=1, reps=2)), "cue")]
    assert not any("calories" in t for t in no_mass)


def test_a_heard_no_or_yes_counts_only_when_the_coach_asked() -> None:
    """Everyday talk ("not bad", "nice one") is heard as "not now" more than any other
    command; with no question asked, the coach does not interrupt to say so."""
    end = first(replay(FIFTEEN), "set_end").t
    events = replay_heard(FIFTEEN, [(5, "not now"), (20, "yes"), (end + 12, "yes")])
    assert [e.data["phrase"] for e in of_type(events, "command")] == ["yes"]
    assert "ack_no_question" not in [e.data["id"] for e in of_type(events, "cue")]
    assert first(events, "adjust").data["stop_deg"] == 15  # the asked question's answer
