"""The phrase cache: every phrase rendered once to a WAV, ready to mix.

Clips live in the user cache dir (``platformdirs``), or in ``directory`` /
``$VOICECOACH_CACHE_DIR``. A file name is the engine plus a hash of (engine, voice,
rate, sample rate, text), so changing any of them renders anew. A missing, unreadable
or truncated file is rendered again. Every clip is stored trimmed and at the output
sample rate, so a clip's first sample is the start of speech.

Trimming (see :func:`trim_silence`): a sample counts as sound when its magnitude is
above ``max(TRIM_RELATIVE * peak, TRIM_FLOOR)``, i.e. -40 dB under the clip's peak but
never below -60 dBFS. Everything before the first such sample is dropped; after the
last one, ``TAIL_S`` is kept and faded out so word endings are not clipped.

Memory: ``ensure`` checks that every phrase a session may say is on disk and notes its
length, but keeps in memory only the clips actually spoken (read from the file the first
time, then kept), as the 16-bit samples the file holds. A five-set session may say 436
phrases (38 MB of 16-bit samples at 22050 Hz; 77 MB as float32), most of them offers and
summaries it never needs. ``clip`` hands out a float32 copy, made when the clip is
scheduled (the coach hands clips over 100 ms ahead; reading a 2-second phrase from the
page cache and converting it takes well under a millisecond), never in the audio callback.

If the disk is full (or the cache dir is not writable) the cache logs one warning and
keeps the clips in memory: the session still runs.
"""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import wave
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from voicecoach.tts import Synth, TtsSettings, make_synth, read_pcm16, write_pcm16

log = logging.getLogger(__name__)

CACHE_ENV = "VOICECOACH_CACHE_DIR"
#: Bumped when the stored format or trimming changes, so old clips are re-rendered.
FORMAT_VERSION = 1
TRIM_RELATIVE = 0.01
"""Sound threshold relative to the clip's peak (0.01 = -40 dB)."""
TRIM_FLOOR = 0.001
"""Absolute sound threshold (full scale = 1.0; 0.001 = -60 dBFS)."""
TAIL_S = 0.02
"""Kept after the last sample above the threshold, faded out (seconds)."""

Progress = Callable[[int, int, str], None]
"""progress(done, total, text): called before each phrase that must be rendered."""


def trim_silence(samples: np.ndarray, rate: int) -> np.ndarray:
    """``samples`` without leading silence and with at most ``TAIL_S`` of trailing tail."""
    if samples.size == 0:
        return samples
    mag = np.abs(samples)
    threshold = max(TRIM_RELATIVE * float(mag.max()), TRIM_FLOOR)
    loud = np.flatnonzero(mag > threshold)
    if loud.size == 0:
        return samples[:0].copy()
    tail = int(round(TAIL_S * rate))
    end = min(samples.size, int(loud[-1]) + 1 + tail)
    out = samples[int(loud[0]) : end].astype(np.float32, copy=True)
    fade = min(tail, out.size)
    if fade:
        out[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    return out


def resample(samples: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Band-limited resampling of a whole clip (FFT method); length becomes n*dst/src."""
    if src == dst or samples.size == 0:
        return samples.astype(np.float32, copy=False)
    n_out = max(1, int(round(samples.size * dst / src)))
    spec = np.fft.rfft(samples.astype(np.float64))
    n_bins = n_out // 2 + 1
    out_spec = np.zeros(n_bins, dtype=np.complex128)
    keep = min(n_bins, spec.size)
    out_spec[:keep] = spec[:keep]
    out = np.fft.irfft(out_spec, n_out) * (n_out / samples.size)
    return out.astype(np.float32)


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("voicecoach")) / "phrases"


class PhraseCache:
    """Rendered phrases for one TTS setting, on disk and in memory.

    ``synth`` is created lazily (a warm cache never starts a speech engine); pass one
    to use a stand-in engine in tests.
    """

    def __init__(
        self,
        settings: TtsSettings = TtsSettings(),
        directory: Path | str | None = None,
        synth: Synth | None = None,
    ) -> None:
        self.settings = settings
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self._synth = synth
        self._clips: dict[str, np.ndarray] = {}  # 16-bit samples of the clips in use
        self._lengths: dict[str, int] = {}  # samples of every clip known to be ready
        self._disk_ok = True
        self.rendered = 0
        """How many phrases this cache rendered (not found on disk)."""

    @property
    def rate(self) -> int:
        return self.settings.sample_rate

    def key(self, text: str) -> str:
        s = self.settings
        ident = json.dumps(
            [FORMAT_VERSION, s.engine, s.voice or "", s.rate, s.sample_rate, text],
            ensure_ascii=False,
        )
        return hashlib.sha256(ident.encode("utf-8")).hexdigest()[:24]

    def path_for(self, text: str) -> Path:
        return self.directory / f"{self.settings.engine}-{self.key(text)}.wav"

    def synth(self) -> Synth:
        if self._synth is None:
            self._synth = make_synth(self.settings)
        return self._synth

    def missing(self, texts: Iterable[str]) -> list[str]:
        """Texts not known to be ready: not in memory and without a readable clip on disk."""
        out: list[str] = []
        for text in dict.fromkeys(texts):
            if text not in self._lengths and self._load(text, keep=False) is None:
                out.append(text)
        return out

    def ensure(self, texts: Iterable[str], progress: Progress | None = None) -> int:
        """Load or render every text; returns how many had to be rendered."""
        todo = self.missing(texts)
        for i, text in enumerate(todo):
            if progress is not None:
                progress(i, len(todo), text)
            self._render(text)
        if progress is not None and todo:
            progress(len(todo), len(todo), "")
        return len(todo)

    def clip(self, text: str) -> np.ndarray:
        """The trimmed clip (a new float32 array, mono, at ``rate``); rendered now if
        needed."""
        return self._pcm(text).astype(np.float32) / np.float32(32768.0)

    @property
    def resident_bytes(self) -> int:
        """Memory held by clips (bytes)."""
        return sum(c.nbytes for c in self._clips.values())

    def duration_s(self, text: str) -> float:
        """Real length of the spoken clip (seconds)."""
        n = self._lengths.get(text)
        return (n if n is not None else self._pcm(text).size) / self.rate

    def _pcm(self, text: str) -> np.ndarray:
        got = self._clips.get(text)
        if got is None:
            got = self._load(text)
        if got is None:
            got = self._clips[text] = self._render(text)
        return got

    def _load(self, text: str, keep: bool = True) -> np.ndarray | None:
        """The clip's samples from its file (None if missing or unreadable); ``keep``: in
        memory from now on."""
        path = self.path_for(text)
        try:
            pcm, rate = read_pcm16(path)
        except FileNotFoundError:
            return None
        except (OSError, wave.Error, EOFError, ValueError) as e:
            log.info("cached clip %s is unreadable (%s); rendering it again", path.name, e)
            return None
        if rate != self.rate or pcm.size == 0:
            log.info("cached clip %s has the wrong format; rendering it again", path.name)
            return None
        self._lengths[text] = pcm.size
        if keep:
            self._clips[text] = pcm
        return pcm

    def _render(self, text: str) -> np.ndarray:
        """Render, trim and store a clip; kept in memory only if the disk cannot keep it."""
        raw, rate = self.synth().render(text)
        clip = trim_silence(resample(raw, rate, self.rate), self.rate)
        pcm = np.clip(np.round(clip * 32768.0), -32768, 32767).astype(np.int16)
        self._lengths[text] = pcm.size
        self.rendered += 1
        if not self._store(text, pcm):
            self._clips[text] = pcm
        return pcm

    def _store(self, text: str, pcm: np.ndarray) -> bool:
        """Write the clip's file (16-bit samples); False if the disk cannot keep it."""
        if not self._disk_ok:
            return False
        path = self.path_for(text)
        tmp = path.with_name(path.name + ".tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                write_pcm16(f, pcm, self.rate)
            os.replace(tmp, path)
            return True
        except OSError as e:
            self._disk_ok = False
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            why = "the disk is full" if e.errno == errno.ENOSPC else str(e)
            log.warning(
                "cannot save speech clips in %s (%s); keeping them in memory for this "
                "session, they will be rendered again next time",
                self.directory,
                why,
            )
            return False
