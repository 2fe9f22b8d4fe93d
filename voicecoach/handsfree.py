"""Assemble the live, hands-free loop: microphone -> recognizer -> coach -> voice -> speaker.

``Hearing`` holds everything between the microphone and the coach for one session: the
recognizer, the echo guard, the echo reference (the coach's own clips, as its speaker
plays them) and the canceller, and an optional recording of the microphone. ``start``
and ``serve`` build one per session with :func:`open_hearing`.

``terminate_as_interrupt`` makes SIGTERM (systemd stopping the service) end a session the
way Ctrl-C does: the coach says it stops, the session is saved, no traceback.
"""

from __future__ import annotations

import logging
import queue
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .asr import Recognizer
from .asr.echo import EchoGuard
from .echopath import EchoReference, EchoRemover
from .live import EchoSink, Listener, MicRecorder
from .mic import (
    AudioInputError,
    Microphone,
    MicSettings,
    NoMicrophoneError,
    choose_input,
    list_devices,
    parse_device,
)
from .runner import Sink
from .voice import VoiceSink

log = logging.getLogger(__name__)


def check_microphone(device: int | str | None) -> str | None:
    """None when there is a microphone to listen with, else why not (one line).

    A device name that matches nothing or several devices raises AudioInputError: that
    is the user's setting to fix, not a machine without a microphone.
    """
    try:
        choose_input(device, list_devices())
    except NoMicrophoneError:
        return "no microphone was found"
    return None


class Hearing:
    """What stands between the microphone and the coach in one live session."""

    def __init__(
        self,
        recognizer: Recognizer,
        voice: VoiceSink,
        device: int | str | None = None,
        record_mic: Path | None = None,
    ) -> None:
        self.recognizer = recognizer
        self.device = device
        self.guard = EchoGuard()
        self.reference = EchoReference(voice.cache.clip, voice.cache.rate)
        self.remover = EchoRemover(self.reference)
        self.recorder = MicRecorder(record_mic) if record_mic is not None else None
        self.sinks: list[Sink] = [EchoSink(self.guard, voice.cache.duration_s), self.reference]

    def open_mic(self) -> Microphone:
        return Microphone(MicSettings(device=self.device))

    def listener(
        self,
        out: queue.Queue[Any],
        clock: Callable[[], float],
        on_level: Callable[[bytes], None] | None = None,
        on_state: Callable[[str], None] | None = None,
    ) -> Listener:
        return Listener(self.open_mic, self.recognizer, out, clock, on_level=on_level,
                        on_state=on_state, remover=self.remover, recorder=self.recorder)

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()


def open_hearing(
    recognizer: Recognizer, voice: VoiceSink, device: str | int | None,
    record_mic: Path | None = None,
) -> tuple[Hearing | None, str | None]:
    """A Hearing, or None and why there is no microphone to hear with."""
    spec = parse_device(device)
    why = check_microphone(spec)
    if why is not None:
        return None, why
    if record_mic is not None:
        try:
            record_mic.open("wb").close()
        except OSError as exc:
            raise AudioInputError(f"cannot write {record_mic}: {exc.strerror}") from None
    return Hearing(recognizer, voice, spec, record_mic), None


@contextmanager
def terminate_as_interrupt(stopped: threading.Event | None = None) -> Iterator[None]:
    """While inside, SIGTERM raises KeyboardInterrupt in the main thread, like Ctrl-C.

    ``stopped`` is set by either signal, so a caller that survives the interrupt (a session
    ends itself cleanly on it) can still tell that the user or the system asked to stop.
    """

    def interrupt(signum: int, frame: object) -> None:
        if stopped is not None:
            stopped.set()
        raise KeyboardInterrupt

    try:
        previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
