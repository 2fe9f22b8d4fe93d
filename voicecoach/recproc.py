"""A recognizer in its own process, so it can never hold up the coach's audio.

pocketsphinx's Python binding keeps the interpreter lock while it decodes: measured here,
one call held it for up to 570 ms, during which the speaker and microphone callbacks of
the same process could not run (the coach's counts stalled and microphone audio was
dropped). In a separate process the decoder has its own interpreter; the live loop only
sends it 20 ms blocks through a pipe and reads back hypotheses.

    rec = RecognizerProcess(RecognizerSpec("en", "pocketsphinx"))   # raises AsrError early
    for hyp in rec(blocks):        # the Recognizer interface: t_ms counts from this call
        ...
    rec.close()

The worker is a fresh interpreter (``python -m voicecoach.recproc FD``: no copy of the
audio threads of this one) talking over a socket pair with multiprocessing's message
framing, and stays up across calls, so a microphone that comes back does not pay the
model's loading time again. It is started with ``subprocess`` rather than
multiprocessing's "spawn", which also starts a resource-tracker interpreter that this
worker has no use for (13 MB resident, measured). When this process dies, the worker
reads the end of the socket and leaves.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .asr import AsrError, Hypothesis, make_recognizer

log = logging.getLogger(__name__)

START_TIMEOUT_S = 120.0
"""How long loading a model may take before the worker is given up (seconds)."""


@dataclass(frozen=True)
class RecognizerSpec:
    """What to build in the worker (everything picklable)."""

    lang: str = "en"
    engine: str = "auto"
    model_dir: Path | None = None
    table: Any = None
    """A PhraseTable, or None for the language's commands."""

    def build(self) -> Any:
        if self.table is None:
            return make_recognizer(self.lang, self.engine, self.model_dir)
        return make_recognizer(self.lang, self.engine, self.model_dir, table=self.table)


def _serve(spec: RecognizerSpec, conn: Connection) -> None:
    """The worker: build the recognizer, then run one recognition per "start" message.

    Ctrl-C and SIGTERM are the parent's to handle; the worker ends when the parent closes
    the socket, or exits.
    """
    try:
        rec = spec.build()
    except Exception as exc:  # noqa: BLE001  reported to the parent as one line
        conn.send(("error", str(exc)))
        return
    conn.send(("ready", rec.engine))

    def audio() -> Iterator[bytes]:
        # Audio comes as raw messages (no pickling: 50 a second); an empty one ends it.
        while msg := conn.recv_bytes():
            yield msg

    try:
        while conn.recv() == "start":
            try:
                for hyp in rec(audio()):
                    conn.send(("hyp", hyp))
            except (EOFError, OSError):
                raise
            except Exception as exc:  # noqa: BLE001  a decoder failure ends this call only
                conn.send(("failed", str(exc)))
                for _ in audio():  # drain to the end marker
                    pass
            conn.send(("done", None))
    except (EOFError, OSError):
        return  # the parent closed the pipe (it is stopping, or gone): nothing to report


def main(argv: list[str]) -> None:
    """The worker's entry point: ``python -m voicecoach.recproc FD LEVEL``; the spec comes
    first over the socket. It logs to the stderr it shares with the parent, at the parent's
    level (``--debug`` shows the recognizer's utterances too)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=int(argv[1]) if len(argv) > 1 else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    conn = Connection(int(argv[0]))
    try:
        spec = conn.recv()
    except (EOFError, OSError):
        return
    _serve(spec, conn)


class RecognizerProcess:
    """The Recognizer interface, backed by a worker process."""

    def __init__(self, spec: RecognizerSpec) -> None:
        self.spec = spec
        self.lang = spec.lang
        ours, theirs = socket.socketpair()
        # The package this module is in, for an interpreter started from any directory.
        root = str(Path(__file__).resolve().parent.parent)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [root, *filter(None, [os.environ.get("PYTHONPATH")])]))
        with ours, theirs:
            try:
                # Its own session: Ctrl-C at the terminal is this process's to handle (it
                # closes the worker), even while the worker's interpreter is starting.
                self._proc = subprocess.Popen(
                    [sys.executable, "-m", "voicecoach.recproc", str(theirs.fileno()),
                     str(logging.getLogger().getEffectiveLevel())],
                    pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env,
                    start_new_session=True)
            except OSError as e:
                raise AsrError(f"the recognizer process cannot start: {e}") from None
            self._conn = Connection(ours.detach())
        try:
            self._conn.send(spec)
            # A worker that dies closes its end: poll returns, and recv raises EOFError.
            if not self._conn.poll(START_TIMEOUT_S):
                raise AsrError(f"the recognizer did not start within {START_TIMEOUT_S:g} s")
            kind, value = self._conn.recv()
        except (EOFError, OSError):
            self.close()
            raise AsrError("the recognizer process ended while starting") from None
        except AsrError:
            self.close()
            raise
        if kind == "error":
            self.close()
            raise AsrError(value)
        self.engine: str = value

    @property
    def pid(self) -> int | None:
        return self._proc.pid

    def __call__(self, blocks: Iterable[bytes]) -> Iterator[Hypothesis]:
        self._conn.send("start")
        failure: list[BaseException] = []

        def feed() -> None:
            try:
                for block in blocks:
                    if block:  # an empty message is the end marker
                        self._conn.send_bytes(block)
            except BaseException as exc:  # noqa: BLE001  re-raised in the caller's thread
                failure.append(exc)
            finally:
                try:
                    self._conn.send_bytes(b"")
                except OSError:
                    pass

        feeder = threading.Thread(target=feed, name="recognizer-feed", daemon=True)
        feeder.start()
        while True:
            try:
                kind, value = self._conn.recv()
            except EOFError:
                raise AsrError("the recognizer process ended unexpectedly") from None
            if kind == "hyp":
                yield value
            elif kind == "failed":
                log.error("recognizer failed: %s", value)
            elif kind == "done":
                break
        feeder.join()
        if failure:
            raise failure[0]

    def close(self) -> None:
        """End the worker: it leaves when the pipe closes; one that does not (busy in the
        decoder, or blocked on a pipe another thread still reads) is killed, since it
        ignores SIGTERM and would otherwise hold up this process's exit."""
        try:
            self._conn.close()
        except OSError:
            pass
        try:
            self._proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=2.0)


if __name__ == "__main__":
    main(sys.argv[1:])
