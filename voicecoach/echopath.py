"""The coach's own voice on the microphone: its reference, its delay, and its removal.

The coach knows every clip it plays and when (session time). ``EchoReference`` rebuilds
that speaker signal at 16 kHz from the same cached clips, so it can be read at any session
sample. The microphone hears it ``delay`` later: live, the output and input buffers of the
sound system (tens to hundreds of milliseconds); in a recording made with ``--record-mic``,
the same. ``DelayEstimator`` finds that delay from the data (energy envelopes of speaker and
microphone, correlated over the last few seconds), and ``EchoRemover`` aligns the reference
by it and runs the echo canceller, block by block, in step with the microphone.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .aec import EchoCanceller
from .events import Event
from .mixer import Mixer
from .resample import Resampler

log = logging.getLogger(__name__)

RATE = 16000
"""Sample rate of the microphone side (hertz)."""
Floats = npt.NDArray[np.float64]
NEAR_KEEP_S = 10.0
"""How long the per-block "user may be talking" flags are kept (seconds)."""
LOOKAHEAD = 2
"""Blocks (20 ms each) that the coach's remainder, turned down, is held back before it goes
to the recognizer: when the user's voice over the coach shows within them, they go as they
were. A word's first sounds (the burst of a "p", a "t") come before the canceller can tell
them from the remainder; turned down, the recognizer heard "pain" as "iy n p". Only blocks
turned down are held, so a command said while the coach is silent comes no later."""
REPORT_S = 5
"""How often the canceller's state goes to the debug log (seconds of audio)."""


class EchoReference:
    """What the coach's speaker plays, at 16 kHz, readable by session sample.

    A sink: each spoken event schedules its clip at its session time on a mixer at the
    clips' own rate, exactly as the speaker's mixer does, and that mix is resampled to
    16 kHz as one stream (so every clip keeps its exact sub-sample timing, which the echo
    canceller needs to cancel deeply). ``at(start, n)`` returns samples ``start ..
    start+n`` of it; the last ``history_s`` seconds stay readable, so a reader that is late
    or whose delay grows still gets the right samples. Sink calls and reads may come from
    two threads (the coach's and the microphone's), as the mixer allows.
    """

    def __init__(self, clip: Callable[[str], Any], clip_rate: int, history_s: float = 2.0
                 ) -> None:
        self._clip = clip
        self._clip_rate = clip_rate
        self._mixer = Mixer(clip_rate)
        self._resampler = Resampler(clip_rate, RATE)
        self._chunk = np.zeros(max(1, clip_rate // 50), dtype=np.float32)
        self._ready = np.zeros(0)  # resampled, not yet in the history
        self._hist = np.zeros(int(history_s * RATE), dtype=np.float32)
        self._end = 0  # session sample just past the newest sample in the history

    def __call__(self, event: Event) -> None:
        if event.spoken and event.text:
            self._mixer.play(self._clip(event.text), int(round(event.t * self._clip_rate)),
                             urgent=event.urgent)

    @property
    def late(self) -> int:
        """Clips handed over after the microphone side had read past their start: the
        reference then plays them late, out of step with their echo."""
        return self._mixer.late

    def at(self, start: int, n: int) -> Floats:
        """Reference samples ``start .. start+n`` (session samples; zeros before 0)."""
        if start + n > self._end:
            self._advance(start + n - self._end)
        h = self._hist.shape[0]
        lo = start - (self._end - h)  # index into the history
        out = np.zeros(n)
        a, b = max(lo, 0), min(lo + n, h)
        if b > a:
            out[a - lo : b - lo] = self._hist[a:b]
        return out

    def _advance(self, n: int) -> None:
        while self._ready.shape[0] < n:
            self._mixer.fill(self._chunk)
            self._ready = np.concatenate([self._ready, self._resampler.process(self._chunk)])
        new, self._ready = self._ready[:n], self._ready[n:]
        h = self._hist.shape[0]
        if n >= h:
            self._hist[:] = new[-h:]
        else:
            self._hist[:-n] = self._hist[n:]
            self._hist[-n:] = new
        self._end += n


@dataclass(frozen=True)
class DelaySettings:
    frame: int = 160
    """Envelope frame (samples; 160 = 10 ms)."""
    window_s: float = 4.0
    """How much recent audio is correlated (seconds)."""
    max_delay_s: float = 0.8
    """Longest delay looked for (seconds); shorter than the gap between two counts."""
    every_s: float = 0.5
    """How often the delay is estimated again (seconds)."""
    min_corr: float = 0.5
    """Correlation a peak must reach to be believed (0..1)."""
    min_active: float = 0.2
    """Fraction of the window the speaker must be playing for an estimate (0..1)."""
    edge: float = 0.95
    """The delay is the earliest lag at which the correlation peak is within this fraction
    of its top. A room's reverberation smears the microphone's envelope later, so the top
    itself runs late: through simulated rooms (RT60 0.3-0.6 s) by a median 20-40 ms, the
    direct sound then falling before the canceller's filter (which started 40 ms before the
    delay) 3-45% of the time; on the leading edge, with the filter starting 20 ms before it,
    0-11%."""


class DelayEstimator:
    """Delay of the speaker signal in the microphone signal, from energy envelopes.

    The delay is that of the direct sound: the leading edge of the correlation peak (see
    ``DelaySettings.edge``). Feed both signals frame-aligned (``add``); ``delay_s`` is None
    until two estimates in a row agree, then the latest agreed value (10 ms resolution; the
    echo canceller's filter covers the fine structure).
    """

    def __init__(self, settings: DelaySettings | None = None) -> None:
        s = self.settings = settings or DelaySettings()
        self._n = int(s.window_s * RATE / s.frame)
        self._lags = int(s.max_delay_s * RATE / s.frame)
        self._every = int(s.every_s * RATE / s.frame)
        self._ref = np.zeros(self._n)
        self._mic = np.zeros(self._n)
        self._frames = 0
        self._last: int | None = None
        self.delay_s: float | None = None

    def add(self, mic: Floats, ref: Floats) -> None:
        f = self.settings.frame
        k = mic.shape[0] // f
        if k == 0:
            return
        m = np.log10(1.0 + np.square(mic[: k * f]).reshape(k, f).mean(axis=1))
        r = np.log10(1.0 + np.square(ref[: k * f]).reshape(k, f).mean(axis=1))
        self._mic = np.concatenate([self._mic[k:], m])
        self._ref = np.concatenate([self._ref[k:], r])
        before = self._frames // self._every
        self._frames += k
        if self._frames >= self._n and self._frames // self._every != before:
            self._estimate()

    def _estimate(self) -> None:
        s = self.settings
        ref, mic = self._ref, self._mic
        if np.mean(ref > 0.5 * ref.max() if ref.max() > 0 else ref > 0) < s.min_active:
            return
        n, L = self._n, self._lags
        tail = mic[L:]  # the microphone frames every lag can be compared with
        # Row d: the reference d frames earlier than the microphone's frames.
        lagged = np.lib.stride_tricks.sliding_window_view(ref, n - L)[::-1]
        corr = _corr_rows(lagged, tail)
        lag = int(np.argmax(corr))
        best = float(corr[lag])
        if best < s.min_corr:
            return
        while lag > 0 and corr[lag - 1] >= s.edge * best:
            lag -= 1
        if self._last is not None and abs(lag - self._last) <= 2:
            delay = lag * s.frame / RATE
            if self.delay_s is None or abs(delay - self.delay_s) > 0.015:
                log.info("echo delay %.0f ms (correlation %.2f)", delay * 1000, best)
            self.delay_s = delay
        self._last = lag


def _corr_rows(rows: Floats, b: Floats) -> Floats:
    """Pearson correlation of each row of ``rows`` with ``b`` (0 where either is flat)."""
    a = rows - rows.mean(axis=1, keepdims=True)
    b = b - b.mean()
    den = np.sqrt(np.einsum("ij,ij->i", a, a) * np.dot(b, b))
    num = a @ b
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


class EchoRemover:
    """Microphone blocks in, the same audio with the coach's voice removed out.

    ``clean(pcm, start)``: ``pcm`` is int16 bytes whose first sample is session sample
    ``start``; returns cleaned int16 bytes (in 20 ms frames, so a call may return less or
    more than it was given). The reference is read ``delay`` earlier than the microphone,
    minus ``margin_s`` so that the filter sees the start of the echo path (the delay found
    is the direct sound's to within 10-20 ms; the rest of the filter's reach is for the
    room's ringing after it). Blocks turned down as the coach's remainder come out up to
    ``lookahead`` blocks late (see ``LOOKAHEAD``); sample ``i`` out is still sample ``i`` in.
    """

    def __init__(self, reference: EchoReference, canceller: EchoCanceller | None = None,
                 estimator: DelayEstimator | None = None, margin_s: float = 0.02,
                 lookahead: int = LOOKAHEAD) -> None:
        self.reference = reference
        self.canceller = canceller or EchoCanceller()
        self.estimator = estimator or DelayEstimator()
        self.margin = int(margin_s * RATE)
        self.shift = 0  # samples the reference is read earlier than the microphone
        # (stream sample after the block, the user talking in it, the removal figure then)
        self._near: deque[tuple[int, bool, float]] = deque(
            maxlen=int(NEAR_KEEP_S * RATE) // 320)
        self._buf = np.zeros(0)
        self._buf_start = 0
        self.lookahead = lookahead
        # The last ``lookahead`` blocks, not yet returned: (output, output unsuppressed).
        self._held: deque[tuple[Floats, Floats]] = deque()

    @property
    def delay_s(self) -> float:
        """The delay in use (seconds)."""
        return self.shift / RATE

    def clean(self, pcm: bytes, start: int) -> bytes:
        mic = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
        if start != self._buf_start + self._buf.shape[0]:
            # A gap (the microphone was lost), or a first block not at 0: start afresh. What was
            # held is dropped with the rest of the old stream (the coach's remainder, turned
            # down): the stream from here on starts at ``start``.
            self._held.clear()
            self._buf, self._buf_start = mic, start
        else:
            self._buf = np.concatenate([self._buf, mic])
        B = self.canceller.B
        n = self._buf.shape[0] // B * B
        frames = []
        for i in range(0, n, B):
            s0 = self._buf_start + i
            block = self._buf[i : i + B]
            ref = self.reference.at(s0 - self.shift, B) * 32767.0
            raw_ref = ref if self.shift == 0 else self.reference.at(s0, B) * 32767.0
            self.estimator.add(block, raw_ref)
            moved = self.canceller.moved
            out = self.canceller.process(block, ref)
            if self.canceller.suppressed:
                self._held.append((out, self.canceller.unsuppressed))
                if len(self._held) > self.lookahead:
                    frames.append(self._held.popleft()[0])
            else:
                # The user's first sounds come before the canceller tells them from the
                # coach's remainder: once it does, what was held goes as it was.
                talking = self.canceller.talking
                frames.extend(raw if talking else held for held, raw in self._held)
                self._held.clear()
                frames.append(out)
            if self.canceller.moved != moved:
                log.info("echo path moved %+.1f ms at %.1f s; the learned filter follows",
                         (self.canceller.moved - moved) * 1000 / RATE, s0 / RATE)
            self._near.append((s0 + B, self.canceller.talking, self.canceller.erle_db))
            self._update_shift()
            if (s0 // B) % (REPORT_S * RATE // B) == 0:
                log.debug("echo canceller at %.1f s: removes %.1f dB, delay %.0f ms, "
                          "%d clips late", s0 / RATE, self.canceller.erle_db,
                          self.delay_s * 1000, self.reference.late)
        self._buf, self._buf_start = self._buf[n:], self._buf_start + n
        if not frames:
            return b""
        out = np.concatenate(frames)
        return np.clip(out, -32768, 32767).astype("<i2").tobytes()

    def heard_ms(self, t0_ms: float, t1_ms: float) -> float | None:
        """How long the user spoke between session times ``t0_ms`` and ``t1_ms``, as far as
        the canceller can tell: the blocks there that held their voice (see
        ``EchoCanceller.talking``; a command is longer, a blip of residue shorter), in ms;
        None if none of that time is known (any more, or yet). Blocks where the filter had
        lost the echo path count as no: then every block "may" be the user (measured: a
        10-minute session took the coach's "Down, three" for "ouch" while the canceller
        removed 6 dB, and stopped the set)."""
        a, b = t0_ms * RATE / 1000.0, t1_ms * RATE / 1000.0
        B = self.canceller.B
        seen = [near for end, near, _ in self._near if a <= end and end - B <= b]
        return sum(seen) * B * 1000.0 / RATE if seen else None

    def erle_db_at(self, t_ms: float) -> float:
        """How much of the coach's voice the canceller removed at session time ``t_ms`` (dB;
        the figure now if that time is no longer, or not yet, known)."""
        t = t_ms * RATE / 1000.0
        before = [erle for end, _, erle in self._near if end <= t]
        return before[-1] if before else self.canceller.erle_db

    def _update_shift(self) -> None:
        d = self.estimator.delay_s
        if d is None:
            return
        shift = max(0, int(round(d * RATE)) - self.margin)
        if abs(shift - self.shift) > 0.03 * RATE:
            # The learned filter moves along (``EchoCanceller.follow``). Learning it afresh
            # instead, through a simulated room (reverberation decaying 60 dB in 0.5-0.6 s,
            # where the estimate wanders 60-100 ms around the true 80 or 100) the canceller
            # was still learning 36-45% of the time the coach talked, 17-23 times afresh in
            # a 7-minute session; and nothing said over the coach but pain is believed then.
            self.canceller.follow(shift - self.shift)
            self.shift = shift
