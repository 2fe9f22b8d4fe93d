"""The coach on a virtual clock: timelines, commands, safety."""

from __future__ import annotations

import random

import pytest

from voicecoach.coach import GAP_S, Coach, Plan, estimate_speech_s, speakable_texts
from voicecoach.events import Event
from voicecoach.intents import Intent
from voicecoach.knowledge import Level

from .coachkit import first, lift_times, of_type, replay, replay_heard, speech_intervals

QUICK = Plan(sets=2, reps=3, rest_s=20, first_use=False)


def set1_start(events: list[Event]) -> float:
    return lift_times(events, 1)[0]


def test_default_session_is_three_sets_of_ten_with_exact_tempo() -> None:
    events = replay(Plan())
    sets = of_type(events, "set_end")
    assert [(e.data["set"], e.data["perfect"], e.data["reason"]) for e in sets] == [
        (1, 10, "complete"),
        (2, 10, "complete"),
        (3, 10, "complete"),
    ]
    end = events[-1]
    assert end.type == "session_end" and end.data["perfect"] == 30
    # Within a set, every rep is lift 2 s + hold 1 s + lower 3 s + hover 1 s.
    for set_no in (1, 2, 3):
        lifts = lift_times(events, set_no)
        assert len(lifts) == 10
        assert all(abs((b - a) - 7.0) < 1e-9 for a, b in zip(lifts, lifts[1:]))
    t0 = lift_times(events, 1)[0]
    rep1 = [e for e in events if e.type == "count" and e.data["set"] == 1 and e.data["rep"] == 1]
    assert [(e.data["beat"], round(e.t - t0, 6)) for e in rep1] == [
        ("lift", 0.0),
        ("hold", 2.0),
        ("lower", 3.0),
        ("lower", 4.0),
        ("lower", 5.0),
        ("hover", 6.0),
    ]
    # Rest between sets: 60 s from the end of one set to the start of the next.
    ends = [e.t for e in of_type(events, "set_end")]
    starts = [e.t for e in of_type(events, "set_start")]
    assert [round(s - e, 6) for e, s in zip(ends, starts[1:])] == [60.0, 60.0]


def test_events_are_in_time_order_and_carry_their_keys() -> None:
    events = replay(QUICK, [(30, "easier"), (45, "my back is lifting"), (50, "blah")])
    assert [e.t for e in events] == sorted(e.t for e in events)
    required = {
        "cue": {"text", "id"},
        "count": {"text", "beat", "set", "rep"},
        "command": {"intent", "phrase"},
        "adjust": {"variation", "stop_deg", "lower_s"},
        "rep": {"n", "counted"},
        "set_start": {"set"},
        "set_end": {"set", "reason"},
        "rest": {"seconds"},
        "session_end": {"reason"},
    }
    for e in events:
        assert required.get(e.type, set()) <= e.data.keys(), e


def test_a_cue_never_talks_over_a_count() -> None:
    rng = random.Random(7)
    phrases = ["easier", "harder", "slower", "faster", "how many", "help", "repeat",
               "my back is lifting", "what is this", "skip"]
    for _ in range(30):
        script = sorted((rng.uniform(0, 200), rng.choice(phrases)) for _ in range(12))
        events = replay(QUICK, script)
        spoken = speech_intervals(events)
        counts = [(a, b) for a, b, e in spoken if e.type == "count"]
        for a, b, e in spoken:
            if e.type != "cue" or e.urgent:
                continue
            for ca, cb in counts:
                assert b <= ca or a >= cb, f"{e.text!r} at {a:.2f} overlaps a count at {ca:.2f}"


def test_easier_mid_rep_changes_the_stop_point_from_the_next_rep() -> None:
    base = replay(QUICK)
    t = set1_start(base) + 1.0  # during the lift of rep 1
    events = replay(QUICK, [(t, "easier")])
    reps = of_type(events, "rep")
    # bent-knee at 45 is the shortest range: easier steps the variation down
    assert (reps[0].data["variation"], reps[0].data["stop_deg"]) == ("bent-knee", 45)
    assert (reps[1].data["variation"], reps[1].data["stop_deg"]) == ("dead-bug", 45)
    adjust = first(events, "adjust")
    assert adjust.t == pytest.approx(t) and adjust.data["intent"] == "easier"
    assert any(e.type == "cue" and e.data["id"] == "ack_easier_variation" for e in events)


def test_harder_lengthens_the_range_then_steps_the_variation_up() -> None:
    plan = Plan(sets=1, reps=2, first_use=False, level=Level("bent-knee", 15))
    events = replay(plan, [(1, "harder"), (2, "harder")])
    adjusts = [(e.data["variation"], e.data["stop_deg"]) for e in of_type(events, "adjust")]
    assert adjusts == [("bent-knee", 5), ("single-leg", 45)]
    assert {e.data["stop_deg"] for e in of_type(events, "rep")} == {45}
    top = Plan(sets=1, reps=1, first_use=False, level=Level("hanging-straight", 5))
    events = replay(top, [(1, "harder")])
    assert not of_type(events, "adjust")
    assert any(e.data.get("id") == "ack_hardest" for e in events)


def test_back_lifting_voids_the_rep_and_moves_the_stop_point_up() -> None:
    plan = Plan(sets=1, reps=3, first_use=False, level=Level("straight-leg", 15))
    base = replay(plan)
    t = set1_start(base) + 4.5  # lowering of rep 1
    events = replay(plan, [(t, "my back is lifting")])
    reps = of_type(events, "rep")
    assert reps[0].data["counted"] is False and reps[0].data["stop_deg"] == 15
    assert reps[1].data["counted"] is True and reps[1].data["stop_deg"] == 30
    assert len(reps) == 4  # three perfect reps still needed
    assert first(events, "session_end").data["perfect"] == 3
    # the coach says the voided rep's number again
    lifts = [e.text for e in events if e.type == "count" and e.data["beat"] == "lift"]
    assert lifts[:2] == ["One.", "One."]


def test_done_ends_the_set_at_once_and_rest_follows() -> None:
    base = replay(QUICK)
    t = set1_start(base) + 8.5  # inside rep 2
    events = replay(QUICK, [(t, "done")])
    end = first(events, "set_end")
    assert end.t == pytest.approx(t) and end.data["reason"] == "done"
    assert end.data["perfect"] == 1 and end.data["attempts"] == 1
    assert not [e for e in events if e.type == "count" and e.data["set"] == 1 and e.t > t]
    rest = first(events, "rest")
    assert rest.t == pytest.approx(t)
    assert first(events, "set_start", set=2).t == pytest.approx(t + 20)


def test_stop_ends_the_session_with_a_summary() -> None:
    events = replay(QUICK, [(30, "end workout")])
    end = events[-1]
    assert end.type == "session_end" and end.data["reason"] == "stop"
    assert not [e for e in events if e.type == "count" and e.t > 30]
    assert any(e.type == "cue" and e.data["id"] == "summary" for e in events)


def test_pause_stops_counts_until_resume_and_retakes_the_rep() -> None:
    base = replay(QUICK)
    t = set1_start(base) + 9.0
    events = replay(QUICK, [(t, "pause"), (t + 30, "ready")])
    pause, resume = first(events, "pause"), first(events, "resume")
    assert pause.t == pytest.approx(t) and resume.t == pytest.approx(t + 30)
    assert not [e for e in events if e.type == "count" and t < e.t < t + 30]
    lift = first(events, "count", after=t + 30, beat="lift")
    assert lift.text == "Two."  # the interrupted rep 2 is taken again
    assert [r.data["n"] for r in of_type(events, "rep") if r.data["set"] == 1] == [1, 2, 3]


def test_heard_commands_that_would_do_nothing_do_not_interrupt_the_set() -> None:
    """Everyday talk is heard as "continue" or "next" mid-set (measured: "come here",
    "really"); the coach does not break into its counts to say there is nothing to do. The
    same words act where they do something, and typed they are still answered."""
    t = set1_start(replay(QUICK)) + 3.5
    heard = replay_heard(QUICK, [(t, "continue"), (t + 4, "next"), (t + 8, "pause"),
                                 (t + 20, "continue")])
    assert [e.data["intent"] for e in of_type(heard, "command")] == ["pause", "resume"]
    replies = {e.data["id"] for e in of_type(heard, "cue")}
    assert not replies & {"ack_running", "ack_no_skip"}
    assert first(heard, "resume").t == pytest.approx(t + 20)
    typed = replay(QUICK, [(t, "continue"), (t + 4, "next")])
    assert [e.data["id"] for e in of_type(typed, "cue") if e.t >= t][:2] == [
        "ack_running", "ack_no_skip"]


def test_pause_during_rest_keeps_the_rest_left() -> None:
    base = replay(QUICK)
    rest = first(base, "rest").t
    events = replay(QUICK, [(rest + 5, "wait"), (rest + 100, "continue")])
    assert first(events, "set_start", set=2).t >= rest + 100 + 15 - 1e-6


@pytest.mark.parametrize("offset", [-30.0, 0.5, 2.2, 3.5, 6.4, 25.0, 40.0])
def test_pain_always_wins_and_nothing_resumes_without_resume(offset: float) -> None:
    base = replay(QUICK)
    t = set1_start(base) + offset
    others = ["skip", "harder", "done", "pause", "faster", "repeat", "how many", "blah"]
    script = [(t, "ouch")] + [(t + 5 + 3 * i, p) for i, p in enumerate(others)]
    events = replay(QUICK, script)
    pain = first(events, "pain_stop")
    assert pain.t == pytest.approx(t)
    cue = first(events, "cue", after=t - 1e-9)
    assert cue.data["id"] == "pain" and cue.urgent and cue.t == pytest.approx(t)
    assert not [e for e in events if e.type == "count" and e.t > t]
    assert not of_type([e for e in events if e.t > t], "set_start", "rep")
    # input ended while stopped: the session ends, saved, without another count
    assert events[-1].type == "session_end"


def test_resume_after_pain_goes_on_gently_with_the_next_set() -> None:
    base = replay(QUICK)
    t = set1_start(base) + 3.5
    events = replay(QUICK, [(t, "it hurts"), (t + 60, "go")])
    assert first(events, "set_end").data["reason"] == "pain"
    assert first(events, "cue", after=t + 59).data["id"] == "pain_resume"
    assert first(events, "set_start", set=2).t == pytest.approx(t + 60)
    assert first(events, "count", after=t + 60, beat="lift")


def test_pain_words_in_any_sentence_stop_the_set() -> None:
    base = replay(QUICK)
    t = set1_start(base) + 1
    events = replay(QUICK, [(t, "my knee really hurts now")])
    assert first(events, "pain_stop").t == pytest.approx(t)


def test_slower_and_faster_stay_within_two_to_five_seconds() -> None:
    events = replay(QUICK, [(1, "slower"), (2, "slower"), (3, "slower")])
    assert [e.data["lower_s"] for e in of_type(events, "adjust")] == [4.0, 5.0]
    assert any(e.data.get("id") == "ack_slowest" for e in events)
    lifts = lift_times(events, 1)
    assert lifts[1] - lifts[0] == pytest.approx(2 + 1 + 5 + 1)
    events = replay(QUICK, [(1, "faster"), (2, "speed up")])
    assert [e.data["lower_s"] for e in of_type(events, "adjust")] == [2.0]
    assert any(e.data.get("id") == "ack_fastest" for e in events)


def test_skip_setup_and_rest() -> None:
    events = replay(QUICK, [(1, "skip")])
    assert first(events, "set_start").t == pytest.approx(1)
    rest = first(events, "rest").t
    events = replay(QUICK, [(1, "skip"), (rest + 2, "next")])
    assert first(events, "set_start", set=2).t == pytest.approx(rest + 2)


def test_a_change_asked_for_during_the_opening_is_answered_after_the_line_being_said() -> None:
    plan = Plan(sets=1, reps=3, first_use=True)
    events = replay(plan, [(1, "easier")])
    disclaimer = first(events, "cue", id="disclaimer")
    ack = first(events, "cue", id="ack_easier_variation")
    # Next thing said, not after the rest of the opening lines.
    assert ack.t == pytest.approx(
        disclaimer.t + estimate_speech_s(disclaimer.text) + GAP_S, abs=1e-6
    )
    said = [e for e in events if e.type == "cue"]
    assert said[said.index(disclaimer) + 1] is ack
    # The line naming the level names the one the user asked for.
    assert first(events, "cue", id="level").text == "Dead bugs, down to forty-five degrees."
    assert first(events, "set_start").data["variation"] == "dead-bug"


def test_a_change_asked_for_as_a_set_is_introduced_is_what_the_intro_describes() -> None:
    plan = Plan(sets=1, reps=3, first_use=False)
    events = replay(plan, [(1, "skip"), (2, "easier")])
    intro = [e.data["id"] for e in events if e.type == "cue" and e.t > 2]
    assert intro[:4] == ["ack_easier_variation", "level", "howto_dead-bug", "get_ready"]
    assert first(events, "cue", id="level", after=2).text.startswith("Dead bugs")
    assert first(events, "rep").data["variation"] == "dead-bug"


def test_a_pause_during_a_set_intro_goes_on_with_the_next_line_after_resume() -> None:
    plan = Plan(sets=1, reps=3, first_use=False)
    events = replay(plan, [(1, "skip"), (2, "pause"), (10, "resume")])
    after = [e.data["id"] for e in events if e.type == "cue" and e.t >= 10]
    assert after[:4] == ["ack_resume", "level", "howto_bent-knee", "get_ready"]
    assert first(events, "count").t > first(events, "cue", id="get_ready").t


def test_how_many_repeat_help_and_unknown_are_answered() -> None:
    base = replay(QUICK, [(1, "repeat")])
    t = set1_start(base) + 14.5  # inside rep 3, two perfect so far
    events = replay(QUICK, [(1, "repeat"), (t, "how many"), (t + 1, "help"), (t + 2, "what")])
    said = [e.text for e in events if e.type == "cue"]
    assert "Two this set." in said
    assert "Say easier, harder, or done." in said
    assert "Didn't catch that." in said
    assert said.count("Leg raises, two by three.") == 2  # repeated


def test_replies_never_wait_more_than_a_rep() -> None:
    plan = Plan(sets=1, reps=6, first_use=False)
    base = replay(plan)
    start = set1_start(base)
    for offset in [x / 4 for x in range(0, 28)]:
        t = start + offset
        events = replay(plan, [(t, "my back is lifting")])
        ack = first(events, "cue", after=t - 1e-9, id="ack_back")
        assert ack.t - t < 7.0 + 2.0


def test_whole_session_runs_in_milliseconds() -> None:
    coach = Coach(Plan())
    events = coach.start(0)
    while not coach.finished:
        due = coach.next_due()
        assert due is not None
        events += coach.advance(due)
    assert events[-1].type == "session_end"


def test_every_text_the_coach_says_is_pre_renderable() -> None:
    rng = random.Random(3)
    phrases = ["easier", "harder", "slower", "faster", "how many", "help", "repeat", "ouch",
               "go", "pause", "my back is lifting", "skip", "done", "xyz"]
    plan = Plan(sets=2, reps=4, rest_s=30)
    allowed = set(speakable_texts(plan))
    for _ in range(20):
        script = sorted((rng.uniform(0, 150), rng.choice(phrases)) for _ in range(15))
        for e in replay(plan, script):
            if e.spoken:
                assert e.text in allowed, e


def test_commands_after_the_end_are_ignored() -> None:
    coach = Coach(QUICK)
    coach.start(0)
    coach.end(5)
    while not coach.finished:
        coach.advance(coach.next_due() or 0)
    assert coach.command(Intent.HARDER, 100) == []
