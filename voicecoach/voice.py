"""The voice sink: spoken events become clips scheduled on the mixer's sample clock.

Session time ``t`` (seconds, from the events) maps to sample ``origin + round(t * rate)``.
Offline (``--out``) the origin is sample 0, so a count at ``t`` starts at exactly
``round(t * rate)`` in the WAV. Live, the origin is a short lead-in after the stream
starts, and the session clock must come from :meth:`VoiceSink.clock` (the device's own
sample clock), with events handed over a little ahead of their time (at least the
output block length) so each clip is queued before its sample is mixed.

With ``tick=True`` a count plays a soft tick (``audio/tick.wav``) instead of its word;
cues are always spoken.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from voicecoach.events import Event
from voicecoach.mixer import DeviceOutput, Mixer, Player, WavOutput
from voicecoach.phrasecache import PhraseCache, Progress, resample
from voicecoach.tts import TtsSettings, read_wav, write_wav

log = logging.getLogger(__name__)

TICK_PATH = Path(__file__).resolve().parent.parent / "audio" / "tick.wav"
LEAD_IN_S = 0.1
"""Live: session time 0 is this long after the output stream starts (seconds)."""
AHEAD_S = 0.1
"""Live: how far ahead of the mixer's clock events should be handed over (seconds);
more than one output block plus the scheduler's wake-up jitter."""


def make_tick(rate: int = 22050) -> np.ndarray:
    """A soft 25 ms wood-block tick: a 1.2 kHz + 2.4 kHz tone with a fast decay."""
    n = int(round(0.025 * rate))
    t = np.arange(n) / rate
    env = np.exp(-t / 0.005) * np.minimum(1.0, t / 0.0005)
    tone = 0.7 * np.sin(2 * np.pi * 1200 * t) + 0.3 * np.sin(2 * np.pi * 2400 * t)
    return (0.3 * env * tone).astype(np.float32)


def write_tick(path: str | Path, rate: int = 22050) -> None:
    """Regenerate ``audio/tick.wav`` (how the shipped asset was made)."""
    write_wav(str(path), make_tick(rate), rate)


def load_tick(rate: int, path: Path = TICK_PATH) -> np.ndarray:
    """The tick asset at ``rate``; the same tick synthesised when the asset is absent."""
    try:
        samples, src = read_wav(str(path))
    except (OSError, EOFError) as e:
        log.debug("tick asset %s unavailable (%s); synthesising it", path, e)
        return make_tick(rate)
    return resample(samples, src, rate)


class VoiceSink:
    """A sink (callable with an Event) that speaks ``cue`` and ``count`` events."""

    def __init__(
        self, mixer: Player, cache: PhraseCache, tick: bool = False, origin: int = 0
    ) -> None:
        if mixer.rate != cache.rate:
            raise ValueError(
                f"mixer runs at {mixer.rate} Hz but clips are {cache.rate} Hz; use one rate"
            )
        self.player = mixer
        self.cache = cache
        self.rate = cache.rate
        self.origin = origin
        """The sample at which session time 0 falls."""
        self._tick = load_tick(self.rate) if tick else None
        self._last_t = 0.0

    def sample_for(self, t: float) -> int:
        return self.origin + int(round(t * self.rate))

    def clock(self, ahead_s: float = 0.0) -> float:
        """Session time on the output's own sample clock (seconds), plus ``ahead_s``.

        Live, drive the coach with ``clock(ahead_s=AHEAD_S)`` so each event is handed
        over before the block holding its first sample is mixed.
        """
        return (self.player.position - self.origin) / self.rate + ahead_s

    def __call__(self, event: Event) -> None:
        self._last_t = max(self._last_t, event.t)
        if not event.spoken or not event.text.strip():
            return
        if self._tick is not None and event.type == "count":
            clip = self._tick
        else:
            clip = self.cache.clip(event.text)
        self.player.play(clip, self.sample_for(event.t), urgent=event.urgent)

    def close(self) -> None:
        """Play/render out what is scheduled, then release the output.

        A WAV always lasts at least until the last event (``session_end``)."""
        if isinstance(self.player, WavOutput):
            self.player.close(end=self.sample_for(self._last_t))
            return
        wait = getattr(self.player, "wait_idle", None)
        if wait is not None:
            wait()
        self.player.close()


def build_voice(
    settings: TtsSettings = TtsSettings(),
    out: str | Path | BinaryIO | None = None,
    texts: Iterable[str] = (),
    *,
    tick: bool = False,
    cache_dir: str | Path | None = None,
    device: int | str | None = None,
    progress: Progress | None = None,
) -> VoiceSink:
    """Everything from settings: cache (with ``texts`` rendered now), mixer, output, sink.

    ``out`` set: a WAV file (path or binary file object); otherwise the audio device,
    which raises :class:`voicecoach.mixer.NoOutputDevice` when there is none.
    """
    mixer = Mixer(settings.sample_rate)
    player: Any
    # The device is opened first: a missing device fails before a long render, and the
    # stream's start-up (PulseAudio can take a second) overlaps the rendering.
    player = WavOutput(mixer, out) if out is not None else DeviceOutput(mixer, device=device)
    cache = PhraseCache(settings, cache_dir)
    cache.ensure(texts, progress=progress)
    origin = 0 if out is not None else mixer.position + int(round(LEAD_IN_S * mixer.rate))
    return VoiceSink(player, cache, tick=tick, origin=origin)
