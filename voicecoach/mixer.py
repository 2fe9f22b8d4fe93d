"""The mixer: prepared clips mixed at exact sample positions, to a device or a WAV.

One :class:`Mixer` owns a sample clock (``position``: frames produced so far). A clip
played at sample ``at`` starts at exactly that sample. Both outputs drive the very
same :meth:`Mixer.fill`, so a WAV written by :class:`WavOutput` holds exactly what
:class:`DeviceOutput` hands the speaker.

Why the real-time callback is safe (``fill`` is the whole callback body):

* Producer -> callback: :meth:`Mixer.play` appends one tuple to a
  ``collections.deque``; ``fill`` drains it with ``popleft``. Both are single atomic
  operations on CPython (documented thread-safe, no Python-level lock, never
  blocking), so the callback never waits on the producer.
* Slots are preallocated Python lists owned by the callback alone; the producer never
  touches them, so there is nothing to lock.
* Finished clips are handed back through a second deque and released by the producer,
  so no audio buffer is ever freed (or allocated) in the callback. Mixing is in-place
  ``+=`` on slices of the device buffer; the fade at a cut multiplies into a
  preallocated scratch buffer. Only tiny slice views are created.
* No I/O, no logging and no sleeping in ``fill``; counters are plain integers.

An urgent clip cuts everything submitted before it: clips already sounding stop at the
urgent clip's first sample (with a FADE_S fade-out), clips not yet started are dropped.
A clip submitted for a sample that has already been played starts at once (late, but
whole) and is counted in ``late``.
"""

from __future__ import annotations

import logging
import time
import wave
from collections import deque
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

log = logging.getLogger(__name__)

FADE_S = 0.003
"""Fade-out when an urgent clip cuts a sounding one (seconds)."""


class NoOutputDevice(Exception):
    """There is no usable audio output device."""


class Player(Protocol):
    """What a sink needs: a rate, a sample clock, and scheduled playback."""

    rate: int

    @property
    def position(self) -> int: ...

    def play(self, clip: np.ndarray, at: int, urgent: bool = False) -> None: ...

    def close(self) -> None: ...


class Mixer:
    """Mixes mono float32 clips at sample positions on its own clock (see module doc)."""

    def __init__(self, rate: int, slots: int = 32) -> None:
        self.rate = rate
        self.position = 0
        """Frames produced so far: the stream's own sample clock."""
        self._commands: deque[tuple[np.ndarray, int, int, bool]] = deque()
        self._retired: deque[np.ndarray] = deque()
        self._clip: list[np.ndarray | None] = [None] * slots
        self._start = [0] * slots
        self._stop = [0] * slots
        self._fade_at = [0] * slots
        self._seq = [0] * slots
        self._active = 0
        self._next_seq = 0
        fade = max(1, int(round(FADE_S * rate)))
        self._ramp = np.linspace(1.0, 0.0, fade, endpoint=False, dtype=np.float32)
        self._scratch = np.zeros(fade, dtype=np.float32)
        self.late = 0
        """Clips that arrived after their start sample had been played."""
        self.dropped = 0
        """Clips dropped because every slot was busy."""

    # -- producer side (any thread but the callback) --------------------------------

    def play(self, clip: np.ndarray, at: int, urgent: bool = False) -> None:
        """Start ``clip`` (1-D float32) at sample ``at``; ``urgent`` cuts earlier clips."""
        while self._retired:
            self._retired.popleft()
        self._next_seq += 1
        self._commands.append((clip, int(at), self._next_seq, urgent))

    @property
    def idle(self) -> bool:
        """Nothing queued, nothing sounding."""
        return not self._commands and self._active == 0

    def close(self) -> None:
        pass

    # -- the callback body -------------------------------------------------------------

    def fill(self, out: np.ndarray) -> None:
        """Write the next ``len(out)`` frames of the mix into ``out`` (1-D float32)."""
        out.fill(0.0)
        pos = self.position
        end = pos + out.shape[0]
        cmds = self._commands
        while cmds:
            try:
                clip, at, seq, urgent = cmds.popleft()
            except IndexError:  # pragma: no cover - only if another consumer raced us
                break
            if at < pos:
                self.late += 1
                at = pos
            if urgent:
                self._cut(seq, at)
            self._add(clip, at, seq)
        if self._active:
            self._mix(out, pos, end)
        self.position = end

    def _add(self, clip: np.ndarray, at: int, seq: int) -> None:
        clips = self._clip
        for i in range(len(clips)):
            if clips[i] is None:
                clips[i] = clip
                self._start[i] = at
                self._stop[i] = at + clip.shape[0]
                self._fade_at[i] = at + clip.shape[0]
                self._seq[i] = seq
                self._active += 1
                return
        self.dropped += 1
        self._retired.append(clip)

    def _cut(self, seq: int, at: int) -> None:
        fade = self._ramp.shape[0]
        for i in range(len(self._clip)):
            if self._clip[i] is None or self._seq[i] >= seq:
                continue
            if self._start[i] >= at:
                self._release(i)
            elif self._stop[i] > at:
                self._stop[i] = min(self._stop[i], at + fade)
                self._fade_at[i] = at

    def _release(self, i: int) -> None:
        clip = self._clip[i]
        self._clip[i] = None
        self._active -= 1
        if clip is not None:
            self._retired.append(clip)

    def _mix(self, out: np.ndarray, pos: int, end: int) -> None:
        for i in range(len(self._clip)):
            clip = self._clip[i]
            if clip is None:
                continue
            s = self._start[i]
            if s >= end:
                continue
            e = self._stop[i]
            f = self._fade_at[i]
            a = s if s > pos else pos
            b = e if e < end else end
            plain_end = f if f < b else b
            if plain_end > a:
                out[a - pos : plain_end - pos] += clip[a - s : plain_end - s]
            fa = f if f > a else a
            if b > fa:
                n = b - fa
                scratch = self._scratch[:n]
                np.multiply(clip[fa - s : b - s], self._ramp[fa - f : b - f], out=scratch)
                out[fa - pos : b - pos] += scratch
            if e <= end:
                self._release(i)


def _pcm16(block: np.ndarray) -> bytes:
    return np.clip(np.round(block * 32768.0), -32768, 32767).astype("<i2").tobytes()


class WavOutput:
    """Renders a mixer to a mono 16-bit WAV offline: sample-exact, no real time.

    ``play(clip, at)`` first renders everything up to sample ``at``, so clips must come
    in time order (as events do); ``close()`` renders until the mix falls silent.
    """

    def __init__(self, mixer: Mixer, f: str | Path | BinaryIO, block: int = 1024) -> None:
        self.mixer = mixer
        self.rate = mixer.rate
        self._block = np.zeros(block, dtype=np.float32)
        self._wav: Any = wave.open(str(f) if isinstance(f, Path) else f, "wb")
        self._wav.setnchannels(1)
        self._wav.setsampwidth(2)
        self._wav.setframerate(mixer.rate)
        self._closed = False

    @property
    def position(self) -> int:
        return self.mixer.position

    def render_to(self, sample: int) -> None:
        """Render and write frames until the clock reaches ``sample``."""
        while self.mixer.position < sample:
            n = min(self._block.shape[0], sample - self.mixer.position)
            buf = self._block[:n]
            self.mixer.fill(buf)
            self._wav.writeframes(_pcm16(buf))

    def play(self, clip: np.ndarray, at: int, urgent: bool = False) -> None:
        self.render_to(at)
        self.mixer.play(clip, at, urgent)

    def close(self, end: int | None = None) -> None:
        """Render until silent (and at least to sample ``end``), then close the file."""
        if self._closed:
            return
        if end is not None:
            self.render_to(end)
        while not self.mixer.idle:
            self.render_to(self.mixer.position + self._block.shape[0])
        self._wav.close()
        self._closed = True


class DeviceOutput:
    """A mixer played through one long-lived ``sounddevice.OutputStream``.

    ``latency`` (seconds, or PortAudio's "low"/"high") is the device buffer. 0.1 s keeps
    the ALSA/PulseAudio path free of underruns on a busy machine; an underrun would play
    the sample clock's frames later than their time.
    """

    def __init__(
        self,
        mixer: Mixer,
        device: int | str | None = None,
        latency: str | float = 0.1,
    ) -> None:
        self.mixer = mixer
        self.rate = mixer.rate
        self.underflows = 0
        hint = "; use --text to print the coach instead, or --out FILE.wav to write the audio"
        try:
            import sounddevice as sd
        except OSError as e:  # PortAudio library itself is missing
            raise NoOutputDevice(f"no audio output: {e}{hint}") from e
        try:
            self._stream = sd.OutputStream(
                samplerate=mixer.rate,
                channels=1,
                dtype="float32",
                callback=self._callback,
                device=device,
                latency=latency,
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as e:
            what = f"output device {device!r}" if device is not None else "audio output device"
            raise NoOutputDevice(f"no usable {what} ({e}){hint}") from e
        log.debug("output stream open: %s Hz, latency %.3f s", mixer.rate, self._stream.latency)

    @property
    def position(self) -> int:
        return self.mixer.position

    @property
    def latency_s(self) -> float:
        """Output latency the stream reports (seconds): from clock sample to speaker."""
        return float(self._stream.latency)

    def _callback(self, outdata: np.ndarray, frames: int, t: Any, status: Any) -> None:
        if status:
            self.underflows += 1
        self.mixer.fill(outdata[:, 0])

    def play(self, clip: np.ndarray, at: int, urgent: bool = False) -> None:
        self.mixer.play(clip, at, urgent)

    def wait_idle(self, timeout_s: float = 60.0) -> bool:
        """Block until everything scheduled has been played (for ``say`` and shutdown)."""
        deadline = time.monotonic() + timeout_s
        while not self.mixer.idle:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        time.sleep(self.latency_s)  # let the device buffer drain to the speaker
        return True

    def close(self) -> None:
        self._stream.stop()
        self._stream.close()
