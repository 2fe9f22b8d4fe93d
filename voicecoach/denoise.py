"""Steady background noise out of the microphone signal, before the recognizer.

A fan, traffic hum or the hiss of a cheap microphone sit under every word; the recognizers'
acoustic models were trained on cleaner speech (pocketsphinx heard 80% of commands clean but
41% with white noise 20 dB under the voice). This is a classic short-time spectral
suppressor:

- frames of 20 ms every 10 ms, square-root Hann windows on both sides (they overlap-add to
  exactly one, so with no noise the signal comes out unchanged, 10 ms late);
- the noise spectrum is tracked from below: each bin follows the smoothed power down at once
  and rises only slowly (``rise_db_s``), so speech, which comes and goes, does not raise it
  but a noise that grows is followed within seconds;
- each bin gets a Wiener gain from its a-priori signal-to-noise ratio (decision-directed:
  smoothed over frames, which keeps "musical" noise down), never below ``floor_db``.

Pure numpy, block in, block out, any block size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

RATE = 16000
DELAY_MS = 10.0
"""How late the output is (one hop of the default frame, milliseconds)."""


@dataclass(frozen=True)
class DenoiseSettings:
    frame: int = 320
    """Frame length (samples; 320 = 20 ms), hop is half of it."""
    rise_db_s: float = 3.0
    """How fast the noise estimate may rise (dB per second)."""
    smooth: float = 0.7
    """Smoothing of each bin's power over frames (0..1)."""
    dd: float = 0.96
    """Decision-directed weight of the previous frame's estimate (0..1)."""
    floor_db: float = -15.0
    """Least gain in any bin (dB): deeper suppression makes speech sound hollow."""
    over: float = 1.5
    """Noise over-estimate (ratio): suppress a little more than the estimate."""


class Denoiser:
    """``process(int16 bytes) -> int16 bytes`` (same total length, 10 ms of latency)."""

    def __init__(self, settings: DenoiseSettings | None = None) -> None:
        s = self.settings = settings or DenoiseSettings()
        self.N, self.H = s.frame, s.frame // 2
        self.window = np.sqrt(np.hanning(self.N + 1)[:-1])
        bins = self.N // 2 + 1
        self._in = np.zeros(self.N - self.H)  # the previous hop, for the next frame
        self._out = np.zeros(self.N - self.H)  # overlap-add tail
        self._pending = np.zeros(0)
        self._power = np.zeros(bins)
        self._noise = np.zeros(bins)
        self._gain = np.ones(bins)
        self._post = np.ones(bins)
        self._rise = 10 ** (s.rise_db_s / 10 * self.H / RATE)
        self._floor = 10 ** (s.floor_db / 20)
        self._frames = 0

    def process(self, pcm: bytes) -> bytes:
        x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        self._pending = np.concatenate([self._pending, x])
        hops = len(self._pending) // self.H
        out = np.empty(hops * self.H)
        for i in range(hops):
            out[i * self.H : (i + 1) * self.H] = self._hop(self._pending[i * self.H : (i + 1) * self.H])
        self._pending = self._pending[hops * self.H :]
        return np.clip(np.round(out), -32768, 32767).astype("<i2").tobytes()

    def _hop(self, hop: np.ndarray) -> np.ndarray:
        s = self.settings
        frame = np.concatenate([self._in, hop])
        self._in = hop.copy()
        X = np.fft.rfft(frame * self.window)
        p = X.real**2 + X.imag**2
        self._frames += 1
        if self._frames == 1:
            self._power[:] = p
            self._noise[:] = p
        self._power = s.smooth * self._power + (1 - s.smooth) * p
        self._noise = np.minimum(self._power, self._noise * self._rise)
        noise = np.maximum(s.over * self._noise, 1e-3)
        post = p / noise
        prio = s.dd * self._gain**2 * self._post + (1 - s.dd) * np.maximum(post - 1.0, 0.0)
        gain = np.maximum(prio / (1.0 + prio), self._floor)
        self._gain, self._post = gain, post
        y = np.fft.irfft(X * gain, self.N) * self.window
        y[: self.N - self.H] += self._out
        self._out = y[self.H :].copy()
        return y[: self.H]


def denoised(blocks: Iterable[bytes], settings: DenoiseSettings | None = None) -> Iterator[bytes]:
    """The same stream with steady noise suppressed (see :class:`Denoiser`)."""
    d = Denoiser(settings)
    for block in blocks:
        out = d.process(block)
        if out:
            yield out
