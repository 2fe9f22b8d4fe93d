"""Echo guard: drop hypotheses made of the words the coach itself is saying at that moment.

The microphone hears the speaker. The coach knows what it says and when (each spoken event:
start time, text, clip duration), so a hypothesis is an echo when

1. it ended while a coach clip was playing (start .. end + ``tail_ms``: room echo and the
   recognizer's own delay), and
2. every word of the hypothesis is a word of that clip's text.

A real command spoken over the coach still gets through when its words are not in what the
coach is saying ("stop" over "Down, three." passes). The one thing it cannot tell apart is the
user repeating the coach's own words at the same moment; that is the price of never obeying
itself. Pure logic: no audio, no clock of its own.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..intents import normalize
from . import Hypothesis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Spoken:
    """A clip the coach plays. t_s: start (seconds, session clock); duration_s: length (s)."""

    t_s: float
    text: str
    duration_s: float

    @property
    def words(self) -> frozenset[str]:
        return frozenset(normalize(self.text).replace("-", " ").split())


@dataclass(frozen=True)
class EchoSettings:
    """tail_ms: how long after a clip ends its words still count as echo (ms).
    keep_s: how long finished clips are remembered (seconds)."""

    tail_ms: int = 600
    keep_s: float = 30.0


class EchoGuard:
    def __init__(self, settings: EchoSettings | None = None) -> None:
        self.settings = settings or EchoSettings()
        self._clips: deque[Spoken] = deque()
        self.dropped = 0

    def said(self, t_s: float, text: str, duration_s: float) -> None:
        """The coach starts playing ``text`` at ``t_s`` for ``duration_s`` seconds."""
        self._clips.append(Spoken(t_s, text, duration_s))
        while self._clips and self._clips[0].t_s + self._clips[0].duration_s + self.settings.keep_s < t_s:
            self._clips.popleft()

    def playing(self, t_ms: float) -> list[Spoken]:
        """Clips whose echo window covers audio time ``t_ms``."""
        tail = self.settings.tail_ms
        return [
            c
            for c in self._clips
            if c.t_s * 1000.0 <= t_ms <= (c.t_s + c.duration_s) * 1000.0 + tail
        ]

    def is_echo(self, hyp: Hypothesis) -> bool:
        words = normalize(hyp.phrase).split()
        for clip in self.playing(hyp.t_ms):
            if words and all(w in clip.words for w in words):
                log.info("echo guard: dropped %r (the coach is saying %r)", hyp.phrase, clip.text)
                return True
        return False

    def lead_explained(self, hyp: Hypothesis, delay_ms: float = 0.0) -> bool:
        """Whether the sounds a phrase followed (``hyp.lead_ms`` set) can be the coach's own
        voice, heard ``delay_ms`` after it played: a clip was playing, or had just ended, when
        the phrase began. A phrase heard on its own needs no explaining."""
        return hyp.lead_ms is None or bool(self.playing(hyp.lead_ms - delay_ms))

    def filter(self, hyps: Iterable[Hypothesis]) -> Iterator[Hypothesis]:
        for h in hyps:
            if self.is_echo(h) or not self.lead_explained(h):
                self.dropped += 1
            else:
                yield h
