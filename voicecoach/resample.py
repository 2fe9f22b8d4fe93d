"""Streaming sample-rate conversion with numpy only (no scipy).

A windowed-sinc interpolator evaluated on a polyphase table: output sample ``n`` sits at
input position ``n * rate_in / rate_out`` and is the sum of the nearby input samples weighted
by a Kaiser-windowed sinc whose cutoff is below the lower of the two Nyquist frequencies.
The kernel is centred on that position, so there is no delay: output sample ``n`` is the
signal at time ``n / rate_out`` (the price is ``half_width`` input samples of lookahead).
Feeding a signal in any chunking gives the same output as feeding it at once.
"""

from __future__ import annotations

from math import gcd

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


class Resampler:
    """Convert a float mono stream from ``rate_in`` to ``rate_out`` (hertz), chunk by chunk."""

    def __init__(self, rate_in: int, rate_out: int, *, zero_crossings: int = 16,
                 rolloff: float = 0.92, beta: float = 8.6) -> None:
        """``zero_crossings``: sinc lobes on each side of the kernel (quality vs CPU);
        ``rolloff``: cutoff as a fraction of the lower Nyquist frequency; ``beta``: Kaiser
        window shape (8.6 gives about 90 dB stop-band rejection)."""
        if rate_in <= 0 or rate_out <= 0:
            raise ValueError(f"sample rates must be positive, got {rate_in} -> {rate_out}")
        g = gcd(rate_in, rate_out)
        self.rate_in, self.rate_out = rate_in, rate_out
        self.up, self.down = rate_out // g, rate_in // g
        cutoff = 0.5 * rolloff * min(1.0, self.up / self.down)  # cycles per input sample
        self.half = int(np.ceil(zero_crossings / (2 * cutoff)))
        taps = np.arange(-self.half + 1, self.half + 1)            # input offsets from floor
        frac = np.arange(self.up)[:, None] / self.up                # phase of each output
        t = frac - taps[None, :]                                    # distance to each input
        window = np.i0(beta * np.sqrt(np.clip(1 - (t / self.half) ** 2, 0, None))) / np.i0(beta)
        kernel = 2 * cutoff * np.sinc(2 * cutoff * t) * window
        self._table = kernel / kernel.sum(axis=1, keepdims=True)   # unity gain at DC
        self._offsets = taps
        self._buf: Floats = np.zeros(self.half)                    # input[-half:] = silence
        self._buf0 = -self.half                                     # input index of _buf[0]
        self._next = 0                                              # next output index
        self._seen = 0                                              # input samples fed

    @property
    def passthrough(self) -> bool:
        return self.rate_in == self.rate_out

    def process(self, samples: npt.ArrayLike) -> Floats:
        """Feed input samples; returns every output sample that can now be computed."""
        x = np.asarray(samples, dtype=np.float64).reshape(-1)
        self._seen += len(x)
        if self.passthrough:
            self._next += len(x)
            return x
        self._buf = np.concatenate([self._buf, x])
        return self._emit(self._buf0 + len(self._buf))

    def flush(self) -> Floats:
        """The tail: outputs up to the end of the input (as if followed by silence)."""
        if self.passthrough:
            return np.zeros(0)
        last = -(-self._seen * self.up // self.down)  # ceil: outputs the input spans
        self._buf = np.concatenate([self._buf, np.zeros(self.half + 1)])
        return self._emit(self._buf0 + len(self._buf), limit=last)

    def _emit(self, end: int, limit: int | None = None) -> Floats:
        # Output n needs inputs up to floor(n*down/up) + half, all below `end`.
        n_max = ((end - self.half) * self.up - 1) // self.down
        if limit is not None:
            n_max = min(n_max, limit - 1)
        if n_max < self._next:
            return np.zeros(0)
        n = np.arange(self._next, n_max + 1)
        base = n * self.down // self.up
        phase = n * self.down % self.up
        idx = base[:, None] - self._buf0 + self._offsets[None, :]
        out: Floats = np.einsum("ij,ij->i", self._buf[idx], self._table[phase])
        self._next = n_max + 1
        keep_from = (self._next * self.down // self.up) - self.half + 1 - self._buf0
        if keep_from > 0:
            self._buf = self._buf[keep_from:]
            self._buf0 += keep_from
        return out


def to_int16(samples: npt.ArrayLike) -> bytes:
    """Float samples in [-1, 1] to 16-bit little-endian PCM bytes (clipped)."""
    x = np.rint(np.asarray(samples, dtype=np.float64) * 32768.0)
    return np.clip(x, -32768, 32767).astype("<i2").tobytes()
