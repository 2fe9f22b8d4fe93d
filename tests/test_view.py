"""The live terminal view: what a user sees for real event streams and microphone levels."""

from __future__ import annotations

import io
import math
import threading

import numpy as np
from rich.console import Console

from voicecoach.coach import Coach, Plan
from voicecoach.events import Event
from voicecoach.intents import Intent
from voicecoach.knowledge import Level
from voicecoach.sinks import Transcript
from voicecoach.view import LiveView

from .coachkit import first, replay

QUICK = Plan(sets=2, reps=2, first_use=False)


def shown(view: LiveView, now: float | None = None) -> str:
    console = Console(record=True, width=80, file=io.StringIO())
    console.print(view.render(now))
    return console.export_text()


def row(text: str, label: str) -> str:
    """The rendered line whose label is ``label`` (without the panel borders)."""
    for line in text.splitlines():
        body = line.strip("│ ")
        if body.startswith(label + " "):
            return " ".join(body[len(label):].split())
    raise AssertionError(f"no {label!r} row in:\n{text}")


class Drive:
    """A real coach on a virtual clock whose events go to a view."""

    def __init__(self, plan: Plan = QUICK) -> None:
        self.coach = Coach(plan)
        self.view = LiveView(plan.lang, plan=plan)
        self.events: list[Event] = []
        self._seen = 0
        self._feed(self.coach.start(0.0))

    def _feed(self, events: list[Event]) -> list[Event]:
        for e in events:
            self.view(e)
        self.events += events
        return events

    def to(self, t: float) -> list[Event]:
        return self._feed(self.coach.advance(t))

    def say(self, t: float, intent: Intent, phrase: str) -> list[Event]:
        """A command at ``t``; then the coach runs on to ``t`` (its urgent reply is out)."""
        return self._feed(self.coach.command(intent, t, phrase) + self.coach.advance(t))

    def unknown(self, t: float, phrase: str) -> list[Event]:
        return self._feed(self.coach.unknown(t, phrase))

    def until(self, type_: str, **match: object) -> Event:
        """Run on until the next event of this type (and these keys); return it."""
        t = self.coach.now
        while True:
            while self._seen < len(self.events):
                e = self.events[self._seen]
                self._seen += 1
                if e.type == type_ and all(e.data.get(k) == v for k, v in match.items()):
                    return e
            t += 0.25
            assert t < 2000, f"no {type_} {match}"
            self.to(t)


def sine(db: float, seconds: float = 0.1, hz: float = 440.0) -> bytes:
    """A sine block whose RMS is ``db`` dBFS (16 kHz mono int16)."""
    t = np.arange(round(seconds * 16000)) / 16000
    amp = 10 ** (db / 20) * math.sqrt(2) * 32767
    return np.round(amp * np.sin(2 * math.pi * hz * t)).astype("<i2").tobytes()


def silence(seconds: float = 0.1) -> bytes:
    return bytes(2 * round(seconds * 16000))


def filled_cells(text: str) -> int:
    return row(text, "mic").count("█")


# ---------------------------------------------------------------- session state


def test_before_the_first_set_it_shows_setup_and_the_planned_level() -> None:
    d = Drive()
    d.to(2.0)
    text = shown(d.view, 2.0)
    assert row(text, "phase") == "setup"
    assert row(text, "rep") == "2 perfect reps per set"
    assert row(text, "level") == "bent-knee raises, stop 45°, lower 3 s"
    assert row(text, "coach") == "Bent-knee raises, down to forty-five degrees."
    assert row(text, "heard") == "-"


def test_set_rep_and_count_word_follow_the_counting() -> None:
    d = Drive()
    d.until("set_start", set=1)
    lower = d.until("count", beat="lower", rep=1)
    text = shown(d.view, lower.t)
    assert row(text, "phase") == "set 1 of 2"
    assert row(text, "rep") == "rep 1 perfect 0 of 2 total 0"
    assert row(text, "count") == f"{lower.text} [lower]"
    d.until("rep", n=1)
    hover = d.until("count", beat="lift", rep=2)
    text = shown(d.view, hover.t)
    assert row(text, "rep") == "rep 2 perfect 1 of 2 total 1"
    assert row(text, "count") == f"{hover.text} [lift]"


def test_easier_and_harder_show_the_new_stop_point_and_the_command_heard() -> None:
    d = Drive(Plan(sets=2, reps=3, first_use=False, level=Level("straight-leg", 15)))
    d.until("count", beat="lift", set=1, rep=1)
    assert "stop 15°" in row(shown(d.view), "level")
    t = d.events[-1].t + 0.5
    d.say(t, Intent.EASIER, "make it easier")
    text = shown(d.view, t)
    assert row(text, "level") == "straight-leg raises, stop 30°, lower 3 s"
    assert row(text, "heard") == "make it easier (easier)"
    d.say(t + 1, Intent.HARDER, "harder")
    d.say(t + 2, Intent.HARDER, "harder")
    assert row(shown(d.view), "level") == "straight-leg raises, stop hover, lower 3 s"
    d.say(t + 3, Intent.SLOWER, "slower")
    assert row(shown(d.view), "level") == "straight-leg raises, stop hover, lower 4 s"


def test_a_new_variation_is_shown_by_name() -> None:
    d = Drive()  # bent-knee at 45 degrees: easier steps the variation down
    d.say(3.0, Intent.EASIER, "easier")
    assert row(shown(d.view), "level") == "dead bugs, stop 45°, lower 3 s"


def test_words_that_are_no_command_are_shown_as_such() -> None:
    d = Drive()
    d.to(5.0)
    d.unknown(5.5, "what time is it")
    assert row(shown(d.view), "heard") == "what time is it (not a command)"


def test_ouch_shows_the_pain_stop() -> None:
    d = Drive()
    lift = d.until("count", beat="lift", set=1, rep=2)
    d.say(lift.t + 0.5, Intent.PAIN, "ouch")
    text = shown(d.view, lift.t + 1)
    assert row(text, "phase") == "PAIN STOP: set stopped"
    assert row(text, "heard") == "ouch (pain)"
    assert row(text, "count") == "-"
    assert row(text, "coach").startswith("Stop now. Lower your legs and rest.")
    # Saying go carries on with the next set.
    d.say(lift.t + 20, Intent.RESUME, "go")
    assert row(shown(d.view), "phase") == "set 2 of 2"


def test_rest_counts_down_and_a_pause_freezes_it() -> None:
    d = Drive()
    rest = d.until("rest")
    assert rest.data["seconds"] == 60
    assert row(shown(d.view, rest.t + 15.2), "phase") == "rest: 45 s left"
    d.to(rest.t + 20)
    d.say(rest.t + 20, Intent.PAUSE, "pause")
    assert row(shown(d.view, rest.t + 30), "phase") == (
        "paused (rest, 40 s left); say go to carry on"
    )
    d.say(rest.t + 100, Intent.RESUME, "go")
    assert row(shown(d.view, rest.t + 110), "phase") == "rest: 30 s left"


def test_the_session_clock_drives_the_countdown() -> None:
    d = Drive()
    rest = d.until("rest")
    now = [rest.t + 50.5]
    view = LiveView("en", plan=QUICK, clock=lambda: now[0])
    for e in d.events:
        view(e)
    assert row(shown(view), "phase") == "rest: 10 s left"
    now[0] = rest.t + 58.1
    assert row(shown(view), "phase") == "rest: 2 s left"


def test_the_end_of_the_session_shows_the_totals() -> None:
    view = LiveView("en", plan=QUICK)
    for e in replay(QUICK):
        view(e)
    assert row(shown(view), "phase") == "done (complete): 2 sets, 4 perfect reps"


def test_transcript_lines_show_in_the_log_area_and_the_view_stays_compact() -> None:
    d = Drive()
    Transcript(d.view.stream)(Event(1.0, "command", {"intent": "help", "phrase": "help"}))
    for i in range(5):
        d.view.log(f"line {i}")
    d.view(Event(2.0, "cue", {"text": "a very long cue " * 20, "id": "x"}))
    d.view.level(sine(-20))
    text = shown(d.view)
    assert "line 0" not in text and "line 1" not in text
    assert [ln.strip("│ ") for ln in text.splitlines()[-4:-1]] == ["line 2", "line 3", "line 4"]
    assert len(text.splitlines()) <= 12
    assert row(text, "coach").endswith("…")


# ---------------------------------------------------------------- microphone


def test_meter_shows_a_loud_sine_silence_and_no_microphone() -> None:
    view = LiveView("en")
    assert row(shown(view), "mic") == "no microphone"
    for _ in range(5):
        view.level(sine(-3))
    loud = shown(view)
    assert "-3 dBFS" in row(loud, "mic") and "listening" in row(loud, "mic")
    assert filled_cells(loud) == 23  # of 24: -60..0 dBFS

    quiet = LiveView("en")
    quiet.mic_state("listening")
    assert row(shown(quiet), "mic") == "listening (no audio yet)"
    for _ in range(5):
        quiet.level(silence())
    text = shown(quiet)
    assert filled_cells(text) == 0
    assert "< -60 dBFS" in row(text, "mic")


def test_meter_rises_at_once_and_falls_slowly() -> None:
    view = LiveView("en")
    view.level(silence())
    view.level(sine(-10, seconds=0.02))
    assert "-10 dBFS" in row(shown(view), "mic")
    for _ in range(3):
        view.level(silence())
    text = shown(view)
    assert 10 <= filled_cells(text) < 20  # on its way down, not gone
    assert "peak -7" in row(text, "mic")  # the sine's peak is held
    for _ in range(40):
        view.level(silence())
    text = shown(view)
    assert filled_cells(text) == 0 and "peak" not in row(text, "mic")


def test_meter_warns_of_clipping() -> None:
    view = LiveView("en")
    view.level(np.full(1600, 32767, dtype="<i2").tobytes())
    assert "CLIP" in row(shown(view), "mic")


def test_microphone_states_are_spelled_out() -> None:
    view = LiveView("en")
    view.level(sine(-20))
    view.mic_state("lost")
    assert row(shown(view), "mic") == "microphone lost"
    view.mic_state("off")
    assert row(shown(view), "mic") == "off (typed commands only)"
    view.mic_state("listening")
    view.level(sine(-20))
    assert "-20 dBFS" in row(shown(view), "mic")


# ---------------------------------------------------------------- robustness


def test_the_sink_never_raises_on_odd_events() -> None:
    view = LiveView("en")
    odd = [
        Event(0.0, "no_such_type", {"x": 1}),
        Event(1.0, "count", {}),
        Event(1.0, "count", {"text": "one", "set": "one", "rep": None}),
        Event(2.0, "set_start", {}),
        Event(3.0, "rep", {"perfect": "many"}),
        Event(4.0, "rest", {"seconds": None}),
        Event(5.0, "adjust", {"variation": "moon-walk", "stop_deg": 5}),
        Event(6.0, "command", {}),
        Event(7.0, "session_end", {}),
        Event(8.0, "pause"),
        Event(9.0, "resume", {"anything": object()}),
    ]
    for e in odd:
        view(e)
    view.level(b"\x01")  # half a sample
    view.level(b"")
    text = shown(view)
    assert "moon-walk, stop hover" in row(text, "level")  # unknown slug: shown as is


def test_start_and_stop_drive_a_live_display_and_are_idempotent() -> None:
    out = io.StringIO()
    view = LiveView("en", Console(file=out, width=80))
    view.stop()  # never started
    with view:
        view(Event(0.0, "unknown", {"phrase": "hello there"}))
    view.stop()  # twice
    assert "hello there  (not a command)" in out.getvalue()


def test_events_levels_and_rendering_from_several_threads() -> None:
    view = LiveView("en", plan=QUICK)
    events = replay(QUICK, [(30, "easier"), (70, "pause"), (80, "go")])
    block = sine(-12)
    stop = threading.Event()

    def mic() -> None:
        while not stop.is_set():
            view.level(block)

    thread = threading.Thread(target=mic)
    thread.start()
    try:
        for e in events:
            view(e)
            view.render(e.t)
    finally:
        stop.set()
        thread.join()
    text = shown(view)
    assert row(text, "phase").startswith("done (complete)")
    assert "-12 dBFS" in row(text, "mic")
    assert first(events, "session_end").data["perfect"] == 4
