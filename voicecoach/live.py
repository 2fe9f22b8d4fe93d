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
import os
import queue
import threading
import wave
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

from .asr import Hypothesis, Recognizer
from .asr.echo import EchoGuard
from .coach import Phase
from .echopath import EchoReference, EchoRemover
from .events import Event
from .intents import Intent
from .mic import AudioBlock, AudioInputError
from .runner import Notice, Session, run_realtime
from .voice import AHEAD_S

log = logging.getLogger(__name__)

RATE = 16000
"""Sample rate of recognizer input (hertz)."""
RETRY_S = 2.0
"""How often a lost microphone is tried again (seconds)."""
HEARD_WINDOW_MS = 1200
"""How far back from a command's end the canceller must have heard the user (ms)."""
HEARD_MIN_MS = 260
"""And for how long, at least, in that window (ms). With the coach's remainder turned down
to silence between the user's words (``AecSettings.suppress_gain``), a few blocks the
double-talk check took for the user were all the recognizer heard, and twice in 2.5
minutes of the coach alone they made up 160 ms and a "skip"; at 320 none did. Since the
double-talk check also looks below 1 kHz (``AecSettings.talk_band_hz``), what the
recognizer took from the coach's own voice in five recorded sessions was heard as the user
for at most 240 ms once the canceller had learned the room, and a short command such as
"ouch" (320 ms) often for less than 320 ms: hence 260. Measured again on seven recordings
(179 such hypotheses): at most 260 ms, and then none of it at the end
(``HEARD_END_MIN_MS``); one at 240 ms, 220 of them at the end, was stopped only by the
removal figure (14 dB), which a pain report does not need, so 260 stays. Users' commands
said over the coach in the live test: 280-480 ms."""
HEARD_END_MS = 400
"""And some of it (``HEARD_END_MIN_MS``) this close to the end of the command (ms): the
user's previous command was in the window of the coach's acknowledgement, whose remainder
came out as "ouch" half a second in (a live session over PulseAudio, in a rest); over the
coach a real command is heard up to its end (two recordings, 80 commands mixed in: the same
heard with and without this)."""
HEARD_END_MIN_MS = 100
TRUST_ERLE_DB = 15.0
"""Echo the canceller must remove before a command heard over the coach is trusted (dB)..."""
HEARD_SURE_MS = 360
"""...unless the canceller heard the user for this long in ``HEARD_WINDOW_MS`` (and at the
end): what the recognizer took from the coach's own remainder was heard as the user for at
most 240 ms in five microphone recordings of the coach alone (two of 10 minutes over
PulseAudio's loopback, one over a null sink, two of 100 s; 260 ms in older recordings),
while users' commands said over the coach were dropped at 9-14 dB with 360-500 ms of them
heard. Commands mixed into those recordings at the coach's level and 6 dB under it (TUNE
voices chose 360 over 400: 52 against 49 of 80 on the loopback recordings): heard on the
loopback recordings TUNE 43 -> 52 of 80, HELD-OUT 31 -> 40 of 80, wrong 1 -> 1; over the
null sink HELD-OUT 52 -> 54 of 110; from the coach alone, none either way."""
TRUST_LEARNED_S = 8.0
"""And how much of the coach's voice it must have learned from (seconds). Its removal figure
is smoothed over 200 ms and reads high early: over a digital loop it passed 15 dB 2.6 s into
a session (offline), and a 10-minute soak obeyed the coach's own "Your last session was
twenty days ago." as "skip" 4 s in."""


class EchoSink:
    """Tells the echo guard what the coach says, when, and for how long."""

    def __init__(self, guard: EchoGuard, speech_s: Callable[[str], float]) -> None:
        self.guard = guard
        self.speech_s = speech_s

    def __call__(self, event: Event) -> None:
        if event.spoken and event.text:
            self.guard.said(event.t, event.text, self.speech_s(event.text))


class GuardedSession(Session):
    """A session whose heard commands pass the echo guard first.

    The guard compares a command with what the coach was saying when the microphone heard
    it: the echo reaches the microphone ``remover.delay_s`` after the coach played it. Until
    the echo canceller has learned from TRUST_LEARNED_S of the coach's voice, a command heard
    while the coach is talking is not trusted (most likely it is the coach's own voice),
    except a pain report in a set: stopping by mistake is the safe mistake. After that, over
    the coach, the canceller must have heard the user (``HEARD_MIN_MS``), and while it
    removes less than TRUST_ERLE_DB only a pain report is believed, or a command the user
    was heard saying for longer than the coach's remainder ever is (``HEARD_SURE_MS``). A
    phrase the recognizer found after other sounds (``Hypothesis.lead_ms``) is believed only
    if the coach was talking where it began (those sounds must be the coach's own voice),
    and never before the canceller has learned the room, pain included.
    """

    def __init__(
        self, session: Session, guard: EchoGuard, remover: EchoRemover | None = None
    ) -> None:
        super().__init__(session.coach, session.table, session.sinks)
        self.guard = guard
        self.remover = remover

    def handle(self, t: float, item: object) -> None:
        if isinstance(item, Hypothesis):
            said = item
            if self.remover is not None:  # back to when the coach played what was heard
                said = replace(item, t_ms=item.t_ms - int(round(self.remover.delay_s * 1000)))
            why = ""
            if not self.guard.lead_explained(item, item.t_ms - said.t_ms):
                why = "it followed other sounds, and they were not the coach's voice"
            elif self.remover is not None and self.guard.playing(said.t_ms):
                # The removal figure falls while the user talks over the coach (blocks of
                # their voice not taken for double talk count as the coach's remainder):
                # measured, a live "easier" over a count was dropped at 12 dB. What the
                # canceller removed before the command began counts too.
                erle = max(self.remover.canceller.erle_db,
                           self.remover.erle_db_at(item.t_ms - HEARD_WINDOW_MS))
                learned = self.remover.canceller.learned_s
                heard, end = (self.remover.heard_ms(item.t_ms - ms, item.t_ms)
                              for ms in (HEARD_WINDOW_MS, HEARD_END_MS))
                log.debug("%r over the coach: the user heard for %s ms, %s of them at the "
                          "end; the canceller removes %.0f dB", item.phrase, heard, end, erle)
                if learned < TRUST_LEARNED_S:
                    # The canceller has not learned the room yet: only pain is believed, not
                    # after other sounds, and only in a set, when the user is exercising
                    # (measured: the coach's own setup cues, not yet cancelled, came out as
                    # "it hurts" 5 s into a session, from the second look and then from the
                    # first; it held the whole session until "go").
                    if (item.intent is not Intent.PAIN or item.lead_ms is not None
                            or self.coach.phase is not Phase.SET):
                        why = (f"the echo canceller has learned from only {learned:.1f} s "
                               "of the coach's voice")
                elif (erle < TRUST_ERLE_DB and item.intent is not Intent.PAIN
                      and not (_known_at_least(heard, HEARD_SURE_MS)
                               and _known_at_least(end, HEARD_END_MIN_MS))):
                    # Removing too little of the coach's voice just now: its remainder can
                    # sound like anything. A pain report is still believed if the user was
                    # heard (below); measured, a 10-minute session took the coach's "Down"
                    # for "ouch" seven minutes in, at a moment the canceller removed 10 dB,
                    # when pain was believed there without that.
                    why = f"the echo canceller removes only {erle:.0f} dB just now"
                elif not (_at_least(heard, HEARD_MIN_MS) and _at_least(end, HEARD_END_MIN_MS)):
                    # Over the coach, believe a command only if the canceller heard more
                    # than its own residue while it was said.
                    why = (f"only the coach's residue was heard (the user for {heard or 0:.0f} "
                           f"ms, {end or 0:.0f} of them at the end)")
            if not why and self.guard.is_echo(said):
                why = "the coach was saying those words"
            if why:
                log.info("dropped %r (%.2f s): %s",
                         item.phrase, item.t_ms / 1000, why)
                self.guard.dropped += 1
                return
        super().handle(t, item)


def _at_least(heard_ms: float | None, least_ms: float) -> bool:
    """Whether the user was heard for ``least_ms``; a time not (or no longer) known counts."""
    return heard_ms is None or heard_ms >= least_ms


def _known_at_least(heard_ms: float | None, least_ms: float) -> bool:
    """The same, where a time not known does not count."""
    return heard_ms is not None and heard_ms >= least_ms


def run_mic_replay(
    session: Session,
    recognizer: Recognizer,
    blocks: Iterable[AudioBlock],
    guard: EchoGuard,
    reference: EchoReference | None = None,
    ahead_s: float = AHEAD_S,
) -> None:
    """Replay a microphone recording: session time is the recording's sample clock.

    Each command acts at the coach's time when the recognizer heard it: the end of that
    block plus ``ahead_s``, so the recognizer's latency shows in the timeline exactly as it
    would live. With a ``reference`` (the coach's clips) the coach's own voice is removed
    first, as live. As live, the coach runs ``ahead_s`` ahead of the microphone: a clip must
    be scheduled before the reference renders the samples it starts in (a clip scheduled
    into samples already rendered would start late there, and the canceller would subtract
    a misaligned echo: measured 0 to 18 ms late, which made it add noise instead).
    """
    coach = session.coach
    remover = EchoRemover(reference) if reference is not None else None
    guarded = GuardedSession(session, guard, remover)
    session.emit(coach.start(0.0))

    def clocked() -> Iterator[bytes]:
        for block in blocks:
            if coach.finished:
                return
            session.emit(coach.advance(block.end / RATE + ahead_s))
            yield block if remover is None else remover.clean(bytes(block), block.start)

    for hyp in recognizer(clocked()):
        if coach.finished:
            break
        guarded.handle(coach.now, hyp)
    session.drain()


class MicRecorder:
    """``--record-mic``: what the microphone heard, as a WAV on the session's clock.

    Sample ``i`` of the file is session sample ``i``: silence fills the time before the
    microphone opened and any time it was lost, so ``replay`` of the file gives the same
    timeline. The header is kept valid as it goes (a killed process leaves a usable file).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._wav = wave.open(str(path), "wb")  # noqa: SIM115  closed in close()
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(RATE)
        self.written = 0
        self._lock = threading.Lock()

    def write(self, start: int, pcm: bytes) -> None:
        with self._lock:
            if self._wav is None:
                return
            if start > self.written:
                self._wav.writeframes(bytes(2 * (start - self.written)))
                self.written = start
            skip = self.written - start
            if skip * 2 < len(pcm):
                self._wav.writeframes(pcm[skip * 2 :])
                self.written += len(pcm) // 2 - skip

    def close(self) -> None:
        with self._lock:
            if self._wav is not None:
                self._wav.close()
                self._wav = None


class Listener:
    """A thread: microphone -> (recording) -> echo removal -> recognizer -> queue.

    Hypotheses go on the queue with ``t_ms`` on session time. Microphone blocks are placed
    on session time by the first block's arrival (``clock()`` then, minus the block's
    length); the sound system's delay on top of that is what the echo remover measures.
    """

    def __init__(
        self,
        open_mic: Callable[[], Any],
        recognizer: Recognizer,
        out: queue.Queue[Any],
        clock: Callable[[], float],
        *,
        on_level: Callable[[bytes], None] | None = None,
        on_state: Callable[[str], None] | None = None,
        remover: EchoRemover | None = None,
        recorder: MicRecorder | None = None,
    ) -> None:
        self.on_state = on_state or (lambda state: None)
        self.open_mic = open_mic
        self.recognizer = recognizer
        self.out = out
        self.clock = clock
        self.on_level = on_level
        self.remover = remover
        self.recorder = recorder
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, name="listener", daemon=True)

    def start(self) -> Listener:
        self.thread.start()
        return self

    def stop(self, timeout_s: float = 2.0) -> None:
        self.stopping.set()
        if self.thread.is_alive() and threading.current_thread() is not self.thread:
            self.thread.join(timeout_s)

    def _run(self) -> None:
        lost = False
        while not self.stopping.is_set():
            try:
                with self.open_mic() as mic:
                    self.on_state("listening")
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
                    self.on_state("lost")
                    lost = True
                self.stopping.wait(RETRY_S)
            except Exception:  # a recognizer crash must not take the session down
                if self.stopping.is_set():
                    return  # the recognizer is being shut down with the session
                log.exception("listener failed; retrying")
                self.stopping.wait(RETRY_S)

    def _listen(self, mic: Iterable[AudioBlock]) -> None:
        offset: int | None = None  # session sample of the mic's sample 0
        first = 0  # session sample of the first sample the recognizer is fed

        def blocks() -> Iterator[bytes]:
            nonlocal offset, first
            for block in mic:
                if self.stopping.is_set():
                    return
                if offset is None:
                    offset = int(round(self.clock() * RATE)) - block.end
                    first = offset + block.start
                start = offset + block.start
                pcm = bytes(block)
                if self.recorder is not None:
                    self.recorder.write(start, pcm)
                if self.on_level is not None:
                    self.on_level(pcm)
                yield pcm if self.remover is None else self.remover.clean(pcm, start)

        for hyp in self.recognizer(blocks()):
            t_ms = hyp.t_ms + round(first * 1000 / RATE)
            log.info("heard %r (%s, %.2f) ending at %.2f s", hyp.phrase, hyp.intent,
                     hyp.confidence, t_ms / 1000)
            self.out.put(replace(hyp, t_ms=t_ms))


def run_live(
    session: Session,
    listener: Listener,
    clock: Callable[[], float],
    guard: EchoGuard,
    inputs: queue.Queue[Any],
) -> None:
    """Run the session live on ``clock``; the listener and typed lines share ``inputs``."""
    listener.start()
    try:
        run_realtime(GuardedSession(session, guard, listener.remover), inputs, clock)
    finally:
        listener.stop()
