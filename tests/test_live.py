"""The live loop's fault handling: a microphone that goes away and comes back.

The microphone and recognizer are stand-ins here (this tests the loop, not audio: the
real audio path is tests/test_e2e_pulse.py); the coach, runner and listener are the real
ones, on a clock that runs ten times faster than the wall clock.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from voicecoach import live
from voicecoach.asr import Hypothesis
from voicecoach.asr.echo import EchoGuard
from voicecoach.coach import Coach, Plan
from voicecoach.events import Event
from voicecoach.intents import Intent, PhraseTable
from voicecoach.live import Listener, run_live
from voicecoach.mic import AudioBlock, AudioInputError
from voicecoach.runner import Session

from .test_live_replay import first_lift

SPEED = 10.0  # session seconds per wall second


class FlakyMic:
    """Open #1 works for ``first_s`` then fails; #2 and #3 cannot open; #4 works on."""

    opened = 0
    times: list[float] = []  # session time of each attempt to open
    clock: Any = None

    def __init__(self, first_s: float) -> None:
        self.first_s = first_s
        self.closed = threading.Event()

    def __enter__(self) -> FlakyMic:
        FlakyMic.opened += 1
        FlakyMic.times.append(FlakyMic.clock())
        if FlakyMic.opened in (2, 3):
            raise AudioInputError("input device 'USB mic' does not exist")
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed.set()

    def __iter__(self) -> Iterator[AudioBlock]:
        start, n = time.monotonic(), 0
        while FlakyMic.opened != 1 or time.monotonic() - start < self.first_s:
            time.sleep(0.02 / SPEED)
            yield AudioBlock(bytes(640), n * 320)
            n += 1
        raise AudioInputError("input device 'USB mic' delivered no audio (unplugged?)")


class HearsNothing:
    engine = "stand-in"
    lang = "en"

    def __call__(self, blocks: Iterable[bytes]) -> Iterator[Hypothesis]:
        for _ in blocks:
            pass
        return
        yield


def test_a_lost_microphone_is_announced_and_picked_up_again(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.setattr(live, "RETRY_S", 2.0 / SPEED)  # 2 s of session time
    FlakyMic.opened, FlakyMic.times = 0, []
    events: list[Event] = []
    plan = Plan(sets=1, reps=4, first_use=False)
    session = Session(Coach(plan), PhraseTable.for_lang("en"), [events.append])
    t0 = time.monotonic()

    def clock() -> float:
        return (time.monotonic() - t0) * SPEED

    FlakyMic.clock = clock
    inputs: queue.Queue[Any] = queue.Queue()
    lost_at = (first_lift(plan) + 1.5) / SPEED  # unplugged mid-rep (wall seconds)
    listener = Listener(lambda: FlakyMic(lost_at), HearsNothing(), inputs, clock)
    done = threading.Event()

    def stop_later() -> None:  # the user says "stop" once the mic is back for a while
        while not any(e.type == "cue" and e.data.get("id") == "mic_back" for e in events):
            time.sleep(0.01)
        time.sleep(1.0)
        inputs.put(Hypothesis(int(clock() * 1000), Intent.STOP, "stop", 1.0, "stand-in"))
        done.set()

    threading.Thread(target=stop_later, daemon=True).start()
    run_live(session, listener, clock, EchoGuard(), inputs)
    assert done.is_set()

    gone, back_at = FlakyMic.times[1], FlakyMic.times[3]  # failed to open .. opened again
    cues = [(e.t, e.data.get("id")) for e in events if e.type == "cue"]
    lost = next(t for t, i in cues if i == "mic_lost")
    back = next(t for t, i in cues if i == "mic_back")
    assert gone - 0.5 <= lost < back and back >= back_at - 0.5
    assert lost - gone < 8.0  # said within a rep of losing it
    # The coach kept counting while the microphone was gone, and after it came back.
    assert [e for e in events if e.type == "count" and gone < e.t < back_at]
    assert [e for e in events if e.type == "count" and e.t > back]
    assert events[-1].type == "session_end"
