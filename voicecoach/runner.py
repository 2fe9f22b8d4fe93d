"""Drive a coach from an input source on one clock, and hand its events to sinks.

- ``run_virtual``: scripted commands on a virtual clock, as fast as the machine allows.
- ``run_realtime``: commands from a queue (typed lines, a recognizer) on a real clock.

Both feed text through the same phrase table, so a typed "easier" and a heard
"easier" are the same intent.
"""

from __future__ import annotations

import logging
import math
import queue
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import IO, Any, Protocol

from .coach import Coach
from .events import Event
from .intents import PhraseTable

log = logging.getLogger(__name__)


class Sink(Protocol):
    def __call__(self, event: Event) -> None: ...


@dataclass(frozen=True)
class Notice:
    """Something the coach should tell the user about (a message id, e.g. ``mic_lost``)."""

    msg_id: str


class ScriptError(ValueError):
    """A malformed replay script line; the message names the line number."""


@dataclass(frozen=True)
class ScriptLine:
    t: float
    """Session time of the command (seconds)."""
    text: str
    lineno: int


def parse_script(stream: IO[str], name: str = "script") -> list[ScriptLine]:
    """Parse ``<seconds> <phrase>`` lines; blank lines and ``#`` comments are skipped."""
    out: list[ScriptLine] = []
    last = 0.0
    for lineno, raw in enumerate(stream, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        head, _, rest = line.partition(" ")
        try:
            t = float(head)
        except ValueError:
            raise ScriptError(
                f"{name}, line {lineno}: expected '<seconds> <phrase>', got {line!r}"
            ) from None
        if not math.isfinite(t) or t < 0:
            raise ScriptError(f"{name}, line {lineno}: time must be a number >= 0, got {head!r}")
        if not rest.strip():
            raise ScriptError(f"{name}, line {lineno}: no phrase after the time {head!r}")
        if t < last:
            raise ScriptError(
                f"{name}, line {lineno}: time {t:g} is earlier than the line before ({last:g})"
            )
        last = t
        out.append(ScriptLine(t, rest.strip(), lineno))
    return out


class Session:
    """A coach, its phrase table and its sinks."""

    def __init__(self, coach: Coach, table: PhraseTable, sinks: Sequence[Sink]) -> None:
        self.coach = coach
        self.table = table
        self.sinks = list(sinks)

    def emit(self, events: Iterable[Event]) -> None:
        for event in events:
            for sink in self.sinks:
                sink(event)

    def say(self, t: float, text: str) -> None:
        """Typed text at session time ``t``."""
        intent = self.table.match(text)
        if intent is None:
            self.emit(self.coach.unknown(t, text))
        else:
            self.emit(self.coach.command(intent, t, text))

    def handle(self, t: float, item: object) -> None:
        """One input at session time ``t``: typed text, a heard command, or a notice."""
        if isinstance(item, str):
            if item.strip():
                self.say(t, item.strip())
        elif isinstance(item, Notice):
            self.emit(self.coach.notice(t, item.msg_id))
        else:
            heard = getattr(item, "intent", None)
            if heard is None:
                raise TypeError(f"cannot handle input {item!r}")
            self.emit(self.coach.advance(t))  # a question asked by now counts
            if not self.coach.acts_on(heard):
                # A heard command that would only get "nothing to do" (a "no" with no
                # question asked, "continue" mid-set) is most often someone's everyday
                # talk ("not bad" as "not now", "come here" as "continue": the commonest
                # false commands, measured), and the coach would interrupt to say so. Typed,
                # it is still answered.
                log.info("heard %r, which does nothing now: ignored",
                         getattr(item, "phrase", ""))
                return
            extra = {
                "heard_t": round(getattr(item, "t_ms", 0) / 1000.0, 3),
                "confidence": round(float(getattr(item, "confidence", 1.0)), 3),
                "engine": getattr(item, "engine", ""),
            }
            self.emit(self.coach.command(heard, t, getattr(item, "phrase", str(heard)), **extra))

    def drain(self) -> None:
        """Run the rest of the session with no more input."""
        coach = self.coach
        while not coach.finished:
            due = coach.next_due()
            if due is None:
                self.emit(coach.end(coach.now, "end_of_input"))
            else:
                self.emit(coach.advance(due))


def run_virtual(session: Session, script: Iterable[ScriptLine], t0: float = 0.0) -> None:
    """Replay scripted commands on a virtual clock; returns when the session is over."""
    session.emit(session.coach.start(t0))
    for line in script:
        if session.coach.finished:
            break
        session.say(t0 + line.t, line.text)
    session.drain()


def run_realtime(
    session: Session,
    lines: queue.Queue[Any],
    clock: Callable[[], float],
) -> None:
    """Run on a real clock; ``lines`` yields inputs (see ``Session.handle``), None at the end.

    Waiting happens in ``queue.get(timeout=...)`` until the next due time, so a
    command is handled the moment it arrives and counts fire on time.
    Ctrl-C ends the session cleanly (the summary is still produced).
    """
    coach = session.coach
    session.emit(coach.start(clock()))
    eof = False
    try:
        while not coach.finished:
            now = clock()
            due = coach.next_due()
            if due is not None and due <= now:
                session.emit(coach.advance(now))
                continue
            if eof and due is None:
                session.emit(coach.end(now, "end_of_input"))
                continue
            try:
                text = lines.get(timeout=None if due is None else due - now)
            except queue.Empty:
                continue
            if text is None:
                eof = True
            else:
                session.handle(clock(), text)
    except KeyboardInterrupt:
        log.info("interrupted: ending the session")
        session.emit(coach.end(clock(), "stop"))
        session.drain()
