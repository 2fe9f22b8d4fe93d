"""Helpers for driving a coach on a virtual clock in tests."""

from __future__ import annotations

from collections.abc import Iterable

from voicecoach.asr import Hypothesis
from voicecoach.coach import Coach, Plan, estimate_speech_s
from voicecoach.events import Event
from voicecoach.intents import PhraseTable
from voicecoach.runner import ScriptLine, Session, run_virtual


def replay(plan: Plan, script: Iterable[tuple[float, str]] = ()) -> list[Event]:
    """Run a whole session with typed commands at the given times; return every event."""
    events: list[Event] = []
    session = Session(Coach(plan), PhraseTable.for_lang(plan.lang), [events.append])
    run_virtual(session, [ScriptLine(t, text, i) for i, (t, text) in enumerate(script, 1)])
    return events


def replay_heard(plan: Plan, heard: list[tuple[float, str]]) -> list[Event]:
    """A session with commands that came from the recognizer (not typed)."""
    events: list[Event] = []
    table = PhraseTable.for_lang(plan.lang)
    session = Session(Coach(plan), table, [events.append])
    session.emit(session.coach.start(0.0))
    for t, phrase in heard:
        session.handle(t, Hypothesis(round(t * 1000), table.exact(phrase), phrase, 1.0,
                                     "pocketsphinx"))
    session.drain()
    return events


def of_type(events: Iterable[Event], *types: str) -> list[Event]:
    return [e for e in events if e.type in types]


def first(events: Iterable[Event], type_: str, after: float = -1.0, **match: object) -> Event:
    for e in events:
        if e.type == type_ and e.t > after and all(e.data.get(k) == v for k, v in match.items()):
            return e
    raise AssertionError(f"no {type_} event after {after} matching {match}")


def lift_times(events: Iterable[Event], set_no: int | None = None) -> list[float]:
    return [
        e.t
        for e in events
        if e.type == "count" and e.data["beat"] == "lift" and set_no in (None, e.data["set"])
    ]


def speech_intervals(events: Iterable[Event]) -> list[tuple[float, float, Event]]:
    """(start, end, event) of everything said; an urgent cue cuts what was playing."""
    spoken = [e for e in events if e.spoken]
    out = []
    for i, e in enumerate(spoken):
        end = e.t + estimate_speech_s(e.text)
        cut = next((u.t for u in spoken[i + 1 :] if u.urgent and u.t >= e.t), end)
        out.append((e.t, min(end, cut), e))
    return out
