"""Hands-free: what the microphone hears drives the coach.

- ``run_mic_replay``: a recorded microphone stream on a virtual clock driven by its own
  samples, as fast as the machine allows (tests, reproducing a user's report).
- ``run_live``: microphone -> recognizer (a listener thread) -> coach, on the speaker's
  sample clock. If the microphone goes away the coach keeps counting, says so, and picks
  it up again when it comes back.

The echo guard sees every clip the coach plays (``EchoSink``) and drops hypotheses made
of the coach's own words; it is only used from the thread that runs the coach.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

from .asr import Hypothesis, Recognizer
from .asr.echo import EchoGuard
from .events import Event
from .mic import AudioInputError
from .runner import Notice, Session, run_realtime

log = logging.getLogger(__name__)

RATE = 16000
"""Sample rate of recognizer input (hertz)."""
RETRY_S = 2.0
"""How often a lost microphone is tried again (seconds)."""


class EchoSink:
    """Tells the echo guard what the coach says, when, and for how long."""

    def __init__(self, guard: EchoGuard, speech_s: Callable[[str], float]) -> None:
        self.guard = guard
        self.speech_s = speech_s

    def __call__(self, event: Event) -> None:
        if event.spoken and event.text:
            self.guard.said(event.t, event.text, self.speech_s(event.text))


class GuardedSession(Session):
    """A session whose heard commands pass the echo guard first."""

    def __init__(self, session: Session, guard: EchoGuard) -> None:
        super().__init__(session.coach, session.table, session.sinks)
        self.guard = guard

    def handle(self, t: float, item: object) -> None:
        if isinstance(item, Hypothesis) and self.guard.is_echo(item):
            self.guard.dropped += 1
            return
        super().handle(t, item)


def run_mic_replay(
    session: Session, recognizer: Recognizer, blocks: Iterable[Any], guard: EchoGuard
) -> None:
    """Replay a microphone recording: session time is the recording's sample clock.

    Each command acts at the end of the block in which the recognizer heard it, so the
    recognizer's latency shows in the timeline exactly as it would live.
    """
    coach = session.coach
    guarded = GuardedSession(session, guard)
    session.emit(coach.start(0.0))

    def clocked() -> Iterator[Any]:
        for block in blocks:
            if coach.finished:
                return
            session.emit(coach.advance(block.end / RATE))
            yield block

    for hyp in recognizer(clocked()):
        if coach.finished:
            break
        guarded.handle(coach.now, hyp)
    session.drain()


class Listener:
    """A thread: microphone blocks -> recognizer -> hypotheses (on session time) -> queue."""

    def __init__(
        self,
        open_mic: Callable[[], Any],
        recognizer: Recognizer,
        out: queue.Queue[Any],
        clock: Callable[[], float],
        on_level: Callable[[bytes], None] | None = None,
    ) -> None:
        self.open_mic = open_mic
        self.recognizer = recognizer
        self.out = out
        self.clock = clock
        self.on_level = on_level
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="listener", daemon=True)

    def start(self) -> Listener:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()

    def _run(self) -> None:
        lost = False
        while not self.stopping.is_set():
            try:
                with self.open_mic() as mic:
                    if lost:
                        self.out.put(Notice("mic_back"))
                        lost = False
                    self._listen(mic)
                if self.stopping.is_set():
                    return
                raise AudioInputError("the microphone stream ended")
            except AudioInputError as exc:
                if not lost:
                    log.warning("microphone lost: %s", exc)
                    self.out.put(Notice("mic_lost"))
                    lost = True
                self.stopping.wait(RETRY_S)
            except Exception:  # a recognizer crash must not take the session down
                log.exception("listener failed; retrying")
                self.stopping.wait(RETRY_S)

    def _listen(self, mic: Iterable[Any]) -> None:
        offset: float | None = None

        def blocks() -> Iterator[Any]:
            nonlocal offset
            for block in mic:
                if self.stopping.is_set():
                    return
                if offset is None:  # session time of the mic's sample 0
                    offset = self.clock() - block.end / RATE
                if self.on_level is not None:
                    self.on_level(bytes(block))
                yield block

        for hyp in self.recognizer(blocks()):
            t_session = hyp.t_ms / 1000.0 + (offset or 0.0)
            self.out.put(replace(hyp, t_ms=int(round(t_session * 1000))))


def run_live(
    session: Session,
    listener_factory: Callable[[queue.Queue[Any]], Listener],
    clock: Callable[[], float],
    guard: EchoGuard,
    inputs: queue.Queue[Any] | None = None,
) -> None:
    """Run the session live; typed lines may share ``inputs`` with the listener."""
    inputs = inputs if inputs is not None else queue.Queue()
    listener = listener_factory(inputs).start()
    try:
        run_realtime(GuardedSession(session, guard), inputs, clock)
    finally:
        listener.stop()
