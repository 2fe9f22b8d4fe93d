"""Audio input: the microphone or a WAV file as 16 kHz mono int16 blocks.

Every source is an iterable of ``AudioBlock``: ``bytes`` of 16-bit little-endian samples at
16 kHz that also carry ``start``, the index of their first sample since the source opened,
so a session clock can be the sample count. Blocks are ``block_ms`` long (the last block of a
file may be shorter).

- ``Microphone(settings)``: a ``sounddevice.InputStream`` whose callback only copies and
  enqueues; captured at 16 kHz, or at the device's default rate and resampled when the
  device cannot do 16 kHz. Input overflows are counted and logged, never fatal; audio lost
  because the consumer fell behind is replaced by silence of the same length, so sample
  positions stay on the device clock.
- ``WavSource(path)``: any PCM/float WAV, converted (16 kHz mono 16-bit is used as is).
- ``record_to(blocks, path)``: pass blocks through while saving them to a WAV file.
"""

from __future__ import annotations

import logging
import os
import queue
import time
import wave
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Self

import numpy as np

from voicecoach.resample import Resampler, to_int16
from voicecoach.wavin import WavError, pcm16_chunks, read_header

log = logging.getLogger(__name__)

RATE = 16000
"""Sample rate of every block (hertz)."""


class AudioInputError(Exception):
    """Audio input cannot be opened or read; the message says why and what to do."""


class NoMicrophoneError(AudioInputError):
    """This machine has no audio input device."""


class AudioBlock(bytes):
    """16 kHz mono int16 samples plus ``start``: index of the first sample in the stream."""

    start: int

    def __new__(cls, data: bytes, start: int) -> Self:
        block = super().__new__(cls, data)
        block.start = start
        return block

    @property
    def samples(self) -> int:
        return len(self) // 2

    @property
    def end(self) -> int:
        """Index just past the last sample."""
        return self.start + len(self) // 2


@dataclass(frozen=True)
class MicSettings:
    """How to open the microphone."""

    device: int | str | None = None
    """Input device: index, name substring, or None for the system default."""
    block_ms: int = 40
    """Length of each block (milliseconds). Every block costs a callback in the audio
    thread, a queue hand-over and a message to the recognizer's process: over PulseAudio
    the input stream alone took 1.45% of a core at 20 ms and 0.74% at 40 ms; a command is
    heard up to 20 ms later."""
    capture_rate: int | None = None
    """Device rate (hertz); None = 16000 when the device can, else its default rate."""
    queue_s: float = 2.0
    """Audio the queue holds before new audio is dropped (seconds)."""
    stall_s: float = 3.0
    """No audio for this long means the device stopped (seconds)."""


@dataclass(frozen=True)
class DeviceInfo:
    index: int
    name: str
    inputs: int
    outputs: int
    default_rate: float
    """Default sample rate (hertz)."""


def _sounddevice() -> ModuleType:
    try:
        import sounddevice  # type: ignore[import-untyped]
    except (ImportError, OSError) as exc:
        raise AudioInputError(f"audio devices are unavailable ({exc}); install PortAudio "
                              "(apt install libportaudio2) or use --file X.wav") from exc
    module: ModuleType = sounddevice
    return module


def list_devices(sd: ModuleType | None = None) -> list[DeviceInfo]:
    """Every audio device PortAudio sees."""
    sd = sd or _sounddevice()
    return [DeviceInfo(i, str(d["name"]), int(d["max_input_channels"]),
                       int(d["max_output_channels"]), float(d["default_samplerate"]))
            for i, d in enumerate(sd.query_devices())]


def parse_device(spec: str | int | None) -> int | str | None:
    """A device given as text: an index when it is a number, else a name substring."""
    if isinstance(spec, str) and spec.strip().isdigit():
        return int(spec)
    return spec or None


def choose_input(spec: int | str | None, devices: list[DeviceInfo]) -> int | None:
    """Resolve a device index or name substring among input devices (None = default)."""
    inputs = [d for d in devices if d.inputs > 0]
    if not inputs:
        raise NoMicrophoneError("no microphone found: this machine has no audio input device; "
                                "plug one in (see `voicecoach devices`) or use --file X.wav")
    listing = "; ".join(f"{d.index}: {d.name}" for d in inputs)
    if spec is None:
        return None
    if isinstance(spec, int) or spec.strip().isdigit():
        index = int(spec)
        if any(d.index == index for d in inputs):
            return index
        raise AudioInputError(f"input device {index} does not exist or has no inputs; "
                              f"input devices are {listing}")
    hits = [d for d in inputs if spec.lower() in d.name.lower()]
    exact = [d for d in hits if d.name.lower() == spec.lower()]
    if len(exact) == 1 or len(hits) == 1:
        return (exact or hits)[0].index
    if not hits:
        raise AudioInputError(f"no input device matches {spec!r}; input devices are {listing}")
    names = "; ".join(f"{d.index}: {d.name}" for d in hits)
    raise AudioInputError(f"input device name {spec!r} is ambiguous, it matches {names}; "
                          "give the index or more of the name")


class _Reblock:
    """Cuts a stream of PCM bytes into AudioBlocks of a fixed size."""

    def __init__(self, block_samples: int) -> None:
        self.size = block_samples * 2
        self.buf = b""
        self.pos = 0

    def feed(self, pcm: bytes) -> Iterator[AudioBlock]:
        self.buf += pcm
        while len(self.buf) >= self.size:
            yield self._take(self.size)

    def rest(self) -> Iterator[AudioBlock]:
        if self.buf:
            yield self._take(len(self.buf))

    def _take(self, n: int) -> AudioBlock:
        block = AudioBlock(self.buf[:n], self.pos)
        self.buf = self.buf[n:]
        self.pos += n // 2
        return block


class Microphone:
    """Live input: use as a context manager, iterate for AudioBlocks until ``close()``."""

    def __init__(self, settings: MicSettings = MicSettings(), *,
                 sd: ModuleType | None = None) -> None:
        self.settings = settings
        self._sd = sd
        self._stream: Any = None
        self._q: queue.Queue[Any] = queue.Queue()
        self.overflows = 0
        """Input overflows PortAudio reported (audio lost in the driver)."""
        self.dropped_frames = 0
        """Captured frames dropped because the consumer fell behind (replaced by silence)."""
        self.capture_rate = RATE
        self.device_name = ""
        self._closed = False

    @property
    def samples(self) -> int:
        """16 kHz samples delivered so far: the session clock."""
        return self._reblock.pos if hasattr(self, "_reblock") else 0

    def open(self) -> Microphone:
        sd = self._sd = self._sd or _sounddevice()
        s = self.settings
        devices = list_devices(sd)
        index = choose_input(s.device, devices)
        info = sd.query_devices(index, "input")
        self.device_name = str(info["name"])
        self.capture_rate = s.capture_rate or self._pick_rate(sd, index, info)
        block = max(1, self.capture_rate * s.block_ms // 1000)
        self._q = queue.Queue(maxsize=max(2, int(s.queue_s * 1000 / s.block_ms)))
        self._resampler = Resampler(self.capture_rate, RATE)
        self._reblock = _Reblock(RATE * s.block_ms // 1000)
        try:
            self._stream = sd.InputStream(
                device=index, samplerate=self.capture_rate, channels=1, dtype="int16",
                blocksize=block, callback=self._callback)
            self._stream.start()
        except Exception as exc:  # PortAudioError, ValueError: both mean "cannot open"
            self._stream = None
            raise AudioInputError(f"cannot open input device {self.device_name!r} at "
                                  f"{self.capture_rate} Hz: {exc}; pick another with "
                                  "--device (see `voicecoach devices`)") from exc
        log.info("microphone %r open at %d Hz, %d ms blocks", self.device_name,
                 self.capture_rate, s.block_ms)
        return self

    @staticmethod
    def _pick_rate(sd: ModuleType, index: int | None, info: Any) -> int:
        try:
            sd.check_input_settings(device=index, samplerate=RATE, channels=1, dtype="int16")
            return RATE
        except (ValueError, sd.PortAudioError):
            rate = int(info["default_samplerate"])
            log.info("device cannot capture at %d Hz; capturing at %d Hz and resampling",
                     RATE, rate)
            return rate

    def _callback(self, indata: Any, frames: int, time_info: Any, status: Any) -> None:
        if status.input_overflow:
            self.overflows += 1
        try:  # the running drop count tells the consumer where lost audio belongs
            self._q.put_nowait((indata.copy(), self.dropped_frames))
        except queue.Full:
            self.dropped_frames += frames

    def close(self) -> None:
        if self._stream is not None:
            self._stream.stop()
            self._stream.close()
            self._stream = None
        self._closed = True
        try:
            self._q.put_nowait(None)
        except queue.Full:
            pass

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __iter__(self) -> Iterator[AudioBlock]:
        if self._stream is None and not self._closed:
            self.open()
        seen_overflows, seen_dropped, last_log = 0, 0, 0.0
        waited = 0.0
        while not self._closed:
            try:
                item = self._q.get(timeout=0.1)
            except queue.Empty:
                waited += 0.1
                if waited >= self.settings.stall_s and not self._closed:
                    raise AudioInputError(
                        f"input device {self.device_name!r} delivered no audio for "
                        f"{self.settings.stall_s:g} s (unplugged?)") from None
                continue
            if item is None:
                return
            waited = 0.0
            data, dropped = item
            if dropped != seen_dropped:  # audio lost before this block: keep the clock true
                log.warning("%d frames dropped on %r (consumer too slow); replaced by silence",
                            dropped - seen_dropped, self.device_name)
                yield from self._push(np.zeros(dropped - seen_dropped))
                seen_dropped = dropped
            if self.overflows != seen_overflows and time.monotonic() - last_log > 1.0:
                log.warning("input overflow on %r: %d so far (audio was lost in the driver)",
                            self.device_name, self.overflows)
                seen_overflows, last_log = self.overflows, time.monotonic()
            yield from self._push(data.reshape(-1))

    def _push(self, samples: Any) -> Iterator[AudioBlock]:
        if self.capture_rate == RATE and samples.dtype == np.int16:
            pcm = samples.astype("<i2").tobytes()
        else:
            x = samples / 32768.0 if samples.dtype == np.int16 else samples
            pcm = to_int16(self._resampler.process(x))
        yield from self._reblock.feed(pcm)


class WavSource:
    """A WAV file as AudioBlocks, read faster than real time.

    The header is checked on construction, so a missing, broken or unsupported file fails
    before a session starts.
    """

    def __init__(self, path: str | os.PathLike[str], block_ms: int = 20) -> None:
        self.path = Path(path)
        self.block_ms = block_ms
        self._reblock = _Reblock(RATE * block_ms // 1000)
        try:
            with self.path.open("rb") as fh:
                self.format = read_header(fh, str(self.path))
        except OSError as exc:
            raise AudioInputError(f"cannot read WAV file {self.path}: {exc.strerror}") from exc
        except WavError as exc:
            raise AudioInputError(str(exc)) from exc

    @property
    def samples(self) -> int:
        """16 kHz samples delivered so far."""
        return self._reblock.pos

    def __iter__(self) -> Iterator[AudioBlock]:
        try:
            with self.path.open("rb") as fh:
                for pcm in pcm16_chunks(fh, str(self.path)):
                    yield from self._reblock.feed(pcm)
            yield from self._reblock.rest()
        except (OSError, WavError) as exc:
            raise AudioInputError(f"cannot read WAV file {self.path}: {exc}") from exc

    def close(self) -> None:
        """Nothing to release (the file is only open while iterating)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_input(file: str | os.PathLike[str] | None = None,
               settings: MicSettings = MicSettings()) -> Microphone | WavSource:
    """A WAV source when ``file`` is given, else the microphone (not opened yet)."""
    if file is not None:
        return WavSource(file, settings.block_ms)
    return Microphone(settings)


def record_to(blocks: Iterable[bytes], path: str | os.PathLike[str]) -> Iterator[bytes]:
    """Yield ``blocks`` unchanged while writing them to a 16 kHz mono 16-bit WAV at ``path``.

    The header is updated with every block, so the file stays valid if the run is killed.
    """
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        for block in blocks:
            out.writeframes(block)
            yield block
