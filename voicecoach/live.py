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

import numpy as np

from .aec import EchoCanceller
from .asr import Hypothesis, Recognizer
from .asr.echo import EchoGuard
from .events import Event
from .intents import Intent
from .mic import AudioInputError
from .mixer import Mixer
from .phrasecache import resample
from .runner import Notice, Session, run_realtime

log = logging.getLogger(__name__)

RATE = 16000
"""Sample rate of recognizer input (hertz)."""
RETRY_S = 2.0
"""How often a lost microphone is tried again (seconds)."""
TRUST_ERLE_DB = 15.0
"""Echo the canceller must remove before a command heard over the coach is trusted (dB)."""


class EchoSink:
    """Tells the echo guard what the coach says, when, and for how long."""

    def __init__(self, guard: EchoGuard, speech_s: Callable[[str], float]) -> None:
        self.guard = guard
        self.speech_s = speech_s

    def __call__(self, event: Event) -> None:
        if event.spoken and event.text:
            self.guard.said(event.t, event.text, self.speech_s(event.text))


class EchoReference:
    """What the coach's speaker plays, at 16 kHz, for the echo canceller.

    A sink: each spoken event schedules its clip (the same cached clip the speaker plays,
    resampled once) at its own time on a 16 kHz mixer. ``take(n)`` returns the next ``n``
    samples of that mix, in step with the microphone blocks.
    """

    def __init__(self, clip: Callable[[str], Any], clip_rate: int) -> None:
        self._clip = clip
        self._clip_rate = clip_rate
        self._mixer = Mixer(RATE)
        self._resampled: dict[str, Any] = {}

    def __call__(self, event: Event) -> None:
        if not (event.spoken and event.text):
            return
        clip = self._resampled.get(event.text)
        if clip is None:
            clip = resample(self._clip(event.text), self._clip_rate, RATE)
            self._resampled[event.text] = clip
        self._mixer.play(clip, int(round(event.t * RATE)), urgent=event.urgent)

    def take(self, n: int) -> Any:
        out = np.zeros(n, dtype=np.float32)
        self._mixer.fill(out)
        return out


def cancel_echo(blocks: Iterable[Any], reference: EchoReference,
                canceller: EchoCanceller | None = None) -> Iterator[bytes]:
    """Microphone blocks with the coach's own voice removed.

    The reference is taken block by block in step with the microphone, so its clips must
    be scheduled before their block comes round (the coach runs ahead of the mic).
    """
    aec = canceller or EchoCanceller()
    size = aec.B
    mic_buf = np.zeros(0)
    ref_buf = np.zeros(0)
    for block in blocks:
        mic = np.frombuffer(bytes(block), dtype="<i2").astype(np.float64)
        ref = reference.take(mic.shape[0]).astype(np.float64) * 32767.0
        mic_buf = np.concatenate([mic_buf, mic])
        ref_buf = np.concatenate([ref_buf, ref])
        n = mic_buf.shape[0] // size * size
        if n == 0:
            continue
        out = np.concatenate(
            [aec.process(mic_buf[i : i + size], ref_buf[i : i + size]) for i in range(0, n, size)]
        )
        mic_buf, ref_buf = mic_buf[n:], ref_buf[n:]
        yield np.clip(out, -32768, 32767).astype("<i2").tobytes()


class GuardedSession(Session):
    """A session whose heard commands pass the echo guard first.

    With an echo canceller that does not yet remove TRUST_ERLE_DB of the coach's voice, a
    command heard while the coach is talking is not trusted (it is most likely the coach's own voice), except a
    pain report: stopping by mistake is the safe mistake.
    """

    def __init__(
        self, session: Session, guard: EchoGuard, canceller: EchoCanceller | None = None
    ) -> None:
        super().__init__(session.coach, session.table, session.sinks)
        self.guard = guard
        self.canceller = canceller

    def handle(self, t: float, item: object) -> None:
        if isinstance(item, Hypothesis):
            untrusted = (
                self.canceller is not None
                and self.canceller.erle_db < TRUST_ERLE_DB
                and item.intent is not Intent.PAIN
                and bool(self.guard.playing(item.t_ms))
            )
            if untrusted or self.guard.is_echo(item):
                log.info("dropped %r heard while the coach was talking", item.phrase)
                self.guard.dropped += 1
                return
        super().handle(t, item)


def run_mic_replay(
    session: Session,
    recognizer: Recognizer,
    blocks: Iterable[Any],
    guard: EchoGuard,
    reference: EchoReference | None = None,
) -> None:
    """Replay a microphone recording: session time is the recording's sample clock.

    Each command acts at the end of the block in which the recognizer heard it, so the
    recognizer's latency shows in the timeline exactly as it would live.
    """
    coach = session.coach
    canceller = EchoCanceller() if reference is not None else None
    guarded = GuardedSession(session, guard, canceller)
    session.emit(coach.start(0.0))

    def clocked() -> Iterator[Any]:
        for block in blocks:
            if coach.finished:
                return
            session.emit(coach.advance(block.end / RATE))
            yield block

    heard = clocked() if reference is None else cancel_echo(clocked(), reference, canceller)
    for hyp in recognizer(heard):
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
