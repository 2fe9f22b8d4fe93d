"""Echo cancellation: remove the coach's own voice from the microphone signal.

The coach knows exactly what its speaker plays (the reference). The microphone hears
that through the room: delayed, filtered, quieter. A partitioned-block
frequency-domain adaptive filter (normalised LMS, overlap-save) learns that echo path
and subtracts its estimate, so the recognizer hears the user rather than the coach.

- Block: 20 ms at 16 kHz (320 samples), the recognizer's block size.
- Filter length: ``taps_ms`` (default 160 ms) covers the delay estimate's error plus room echo.
- Double talk: when the user speaks over the coach, the error is much louder than the
  echo estimate; adaptation then slows down so the filter does not learn the user's voice.
- Path check: a jump of the whole echo path (the sound system's latency) moves the filter
  learned before it, instead of learning the moved path afresh.
- Late reverberation: a room rings on for longer than the filter reaches; after the coach's
  words that remainder is expected, so it does not pass for the user talking.

Pure numpy; about 0.009 CPU seconds per audio second with the defaults, 0.002 of them the
path check (a coach that talks all the time, on a laptop core).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class AecSettings:
    block: int = 320
    """Samples per block (320 = 20 ms at 16 kHz)."""
    taps_ms: float = 160.0
    """Length of the echo path the filter can model (milliseconds). A shorter filter learns
    and tracks faster: over PulseAudio's loopback, whose clock drifts about one sample in
    15 s, 320 ms removed 15-24 dB of the coach's voice (by stretch of a recorded session),
    160 ms 17-28 dB (the delay estimate places the filter, so it need not cover the
    latency)."""
    rate: int = 16000
    """Sample rate (hertz)."""
    step: float = 0.6
    """Adaptation step (0..1): larger learns faster and tracks changes, smaller is steadier."""
    suppress_gain: float = 0.001
    """Gain for what is left of the coach's voice once the filter has learned the echo path
    and the user is not talking over it (0.001 = -60 dB), but never below the background
    noise measured while nothing plays. Drift between the speaker's and the microphone's
    clocks leaves the coach's consonants (2-8 kHz) hardly cancelled; over a silent
    loopback every such remainder was louder than the background, and the recognizer
    decoded it as speech. Two live sessions' microphone recordings (PulseAudio loopback,
    the coach only), synthetic users' commands mixed in over the coach at its level and
    6 dB under it (80 per voice set), through the canceller, pocketsphinx and the guard:

        suppressing                        heard over the coach   CPU, canceller and
                                           TUNE      HELD-OUT     recognizer
        residue under 1/4 of the echo,      18/80      15/80      55-60 ms per audio s
        -26 dB
        no double talk, -60 dB              50/80      19/80      28-34 ms

    The coach's own voice alone: no command got past the guard either way (the second row
    needed ``live.HEARD_MIN_MS`` at 320 ms: at 160 ms two "skip" got through)."""
    max_talk_s: float = 2.0
    """Double talk longer than this (seconds) is taken as a changed echo path instead, and
    the filter adapts again at full speed (a spoken command is shorter)."""
    min_near: float = 0.01
    """Double talk needs the error to be at least this fraction of the microphone's power
    (0.01 = -20 dB): the user's voice, not a faint remainder of the coach's."""
    min_voice_dbfs: float = -60.0
    """Anything quieter than this (dB below full scale) is never the user's voice, however
    far above the background it is: a digital silence's dither or the filter's own
    remainder is (measured: dither in the pauses of a perfectly cancelled recording was
    taken for double talk, and let the coach obey its own voice)."""
    silent_ref_dbfs: float = -70.0
    """A speaker signal quieter than this (dB below full scale, RMS over a block) is taken
    as nothing playing: a resampler's or a voice's faint tail between two lines is
    inaudible against any room's noise, and learning from it against that noise blew the
    filter up (a rendered session, a tail under one 16-bit step for a minute of rest: the
    echo estimate 20 dB louder than the echo itself, for a minute after)."""
    above_floor: float = 4.0
    """With nothing playing, a block this many times louder than the background noise may
    be the user talking (ratio; 4 = 6 dB)."""
    bin_floor: float = 0.3
    """Regularisation of the step in each frequency bin, as a fraction of the reference's
    mean power over all bins (keeps bins without reference energy from amplifying noise)."""
    double_talk: float = 4.0
    """Once the filter cancels well, a block whose error power jumps above this many times
    the usual residual is taken as the user talking over the coach (ratio)."""
    talk_band_hz: tuple[float, float] = (100.0, 1000.0)
    """Double talk must also show in this band (hertz): there too the error must be
    ``double_talk`` times the usual residual there. The filter removes the coach's voice well
    below 1 kHz (26 dB, median block) and poorly above 2 kHz (4-6 dB, the clocks drift), so
    over the whole band the coach's own consonants passed for the user, and the filter
    stopped learning there. Microphone recordings of four live sessions (the coach alone,
    two of 150 s and two of 10 minutes, PulseAudio loopback), through the canceller and
    pocketsphinx: the recognizer took 25 commands from the coach's remainder without this
    check and 5 with it; "it hurts" 10 minutes in had 600 ms of "double talk" behind it,
    which the guard believes. With the check ``live.HEARD_MIN_MS`` came down from 320 to
    260 ms (a short "ouch" was heard for less than 320), and commands said over the coach at
    its level and 6 dB under it (80 per voice set, mixed into the two short recordings)
    were heard: TUNE 52 -> 57, HELD-OUT 21 -> 36; wrong 0 -> 3; from the coach's voice
    alone, none got past the guard either way."""
    track_s: float = 0.5
    """How much recent audio the path check compares (seconds; see ``EchoCanceller.moved``)."""
    track_every_s: float = 0.25
    """How often the path check runs while the coach plays (seconds)."""
    track_min_corr: float = 0.5
    """Correlation the microphone must have with the reference at the lag found before the
    lag is believed (0..1): the coach's echo, not the user's voice or noise."""
    keep_erle_db: float = 12.0
    """A filter that removes this much of the echo (dB) is kept as the one to move when the
    path moves."""
    late_ratio: float = 0.003
    """A room's echo goes on for longer than the filter reaches: the part beyond it, which
    the filter cannot remove, is expected to be this fraction of the echo estimate's power
    as it leaves the filter's reach, summed as it decays (``late_db_per_s``). Without it the
    ends of the coach's own words, heard through a room, passed for the user talking over
    the coach. A session's microphone (the coach alone, no noise) through three simulated
    rooms (reverberation decaying 60 dB in 0.3-0.5 s, 0-6 dB under the direct sound),
    replayed through the whole path: commands it obeyed from its own voice 0 -> 0.003 ->
    0.01: 1, 2 and 1 -> none -> none. Commands said over the coach at its level and 6 dB
    under it, mixed into recordings of live sessions (PulseAudio, no room), heard 285 -> 277
    -> 263 of 460."""
    late_db_per_s: float = 100.0
    """How fast that remainder is taken to decay (dB per second; 100 is a reverberation time
    of 0.6 s, longer than most living rooms': it must not die out before the room's does)."""


FLOOR_RISE = 1.01
"""How fast the noise floor estimate may rise per block (1.01 = 2 dB per second)."""
NOISE_MIN = 0.01
"""Least background noise (power per sample: a tenth of the 16-bit step, RMS)."""


class EchoCanceller:
    def __init__(self, settings: AecSettings | None = None) -> None:
        s = self.settings = settings or AecSettings()
        self.B = s.block
        self.P = max(1, math.ceil(s.taps_ms * s.rate / 1000.0 / s.block))
        bins = self.B + 1
        self.W = np.zeros((self.P, bins), dtype=np.complex128)
        self.X = np.zeros((self.P, bins), dtype=np.complex128)
        self._prev_ref = np.zeros(self.B)
        self._power = np.full(bins, 1e-6)
        self._zeros = np.zeros(self.B)
        self._mic_avg = 0.0
        self._err_avg = 0.0
        lo, hi = s.talk_band_hz
        self._band = slice(round(lo * 2 * s.block / s.rate), round(hi * 2 * s.block / s.rate) + 1)
        self._mic_band_avg = 0.0  # the same averages, in ``talk_band_hz``
        self._err_band_avg = 0.0
        self._floor = 0.0  # background noise power per block, tracked from below
        self._noise = math.inf  # the same, measured only while nothing plays
        self._talk_blocks = 0  # consecutive blocks of double talk
        # The late reverberation expected now (power of a block, and in ``talk_band_hz``),
        # and the echo estimate's power of the last P blocks, which feeds it as it leaves
        # the filter's reach.
        self._late_decay = 10 ** (-s.late_db_per_s * s.block / s.rate / 10.0)
        self._late = np.zeros(2)
        self._echo_hist = np.zeros((self.P, 2))
        self._quiet = self.P + 1  # consecutive blocks with a silent reference
        self._learned = 0  # blocks with something playing since the echo path was (re)set
        self._max_talk_blocks = int(s.max_talk_s * s.rate / s.block)
        # The last ``track_s`` of microphone, and the reference P blocks further back, for
        # the path check; the last filter that cancelled well, and the lag it was learned at.
        self._track_n = max(1, int(s.track_s * s.rate / s.block))
        self._mic_hist = np.zeros((self._track_n, self.B))
        self._ref_hist = np.zeros((self._track_n + self.P, self.B))
        self._track_every = max(1, int(s.track_every_s * s.rate / s.block))
        self._since_track = 0
        self._blocks = 0
        self._kept: tuple[npt.NDArray[np.complex128], int] | None = None
        self._lag: int | None = None  # the lag found by the last check, if believed
        self.moved = 0
        """Samples the echo path has moved in all, as found by the path check (later > 0)."""
        self._min_voice = s.block * (32768.0 * 10 ** (s.min_voice_dbfs / 20.0)) ** 2
        self._silent_ref = s.block * (32768.0 * 10 ** (s.silent_ref_dbfs / 20.0)) ** 2
        self.near_end = True
        """The last block may hold the user's voice: with nothing playing, it is louder than
        the background; while the coach plays, the filter has not learned the echo path
        yet, or the error jumped above the usual residual (double talk)."""
        self.talking = False
        """The last block held the user's voice as far as the canceller can tell: with
        nothing playing, it is louder than the background; while the coach plays, double
        talk. While the filter has not learned the echo path it cannot tell, and says no
        (``near_end`` says "maybe", and the block is left alone)."""
        self.suppressed = False
        """The last block was turned down as the coach's remainder (``suppress_gain``)."""
        self.unsuppressed: Floats = np.zeros(self.B)
        """The last block's output before it was turned down (the output itself if it was
        not)."""

    @property
    def erle_db(self) -> float:
        """How much of the echo the filter removes now (dB, smoothed over recent blocks)."""
        if self._err_avg <= 0 or self._mic_avg <= 0:
            return 0.0
        return 10.0 * math.log10(self._mic_avg / self._err_avg)

    @property
    def learned_s(self) -> float:
        """Seconds of the coach's voice the filter has learned from since it was (re)set."""
        return self._learned * self.B / self.settings.rate

    @property
    def converged(self) -> bool:
        """The filter has learned the echo path: it cancels at least 6 dB of it."""
        return self.erle_db >= 6.0

    def reset(self) -> None:
        """Forget the echo path (its delay changed); learn it again from the next block."""
        self.W[:] = 0.0
        self._kept, self._lag = None, None
        self._err_avg = self._mic_avg
        self._talk_blocks = 0
        self._learned = 0

    def follow(self, k: int) -> None:
        """The reference will come ``k`` samples more delayed (less if negative) than so far:
        the echo path moves as much earlier in the filter. Within the filter's reach the
        learned filter moves with it; beyond, it is learned again (``reset``)."""
        if abs(k) >= self.P * self.B - self.B:
            self.reset()
            return
        self.W = _delayed(self.W, -k, self.B)
        # The path check starts afresh too: a window across the move matches neither lag.
        self._kept, self._lag = None, None
        self._mic_hist[:] = 0.0
        self._ref_hist[:] = 0.0

    def process(self, mic: Floats, ref: Floats) -> Floats:
        """One block of microphone and reference samples (same length) -> cleaned block."""
        B = self.B
        if mic.shape[0] != B or ref.shape[0] != B:
            raise ValueError(f"blocks must be {B} samples, got {mic.shape[0]} and {ref.shape[0]}")
        ref_power = float(np.dot(ref, ref))
        mic_power = float(np.dot(mic, mic))
        if mic_power < self._floor or self._floor == 0.0:
            self._floor = mic_power
        else:
            self._floor *= FLOOR_RISE
        self._quiet = self._quiet + 1 if ref_power < self._silent_ref else 0
        voice = self._min_voice
        if self._quiet > self.P:
            # Nothing played within the filter's reach: no echo to remove and nothing to
            # learn (the update is zero without a reference), so no transforms either.
            if self._quiet == self.P + 1:
                self.X[:] = 0.0  # what is left in it is next to nothing
            self._remember(mic, ref)
            self._prev_ref = ref.astype(np.float64, copy=True)
            # Against the background measured while nothing plays: the running floor
            # starts afresh at the first sound after a digital silence (a silent loopback,
            # a muted input), and that sound was the user's first word, taken for the room.
            # The room still rings a while after the coach's last word: not the user either.
            self._late *= self._late_decay
            self.near_end = mic_power > max(self.settings.above_floor * self._noise, voice,
                                            self.settings.double_talk * self._late[0])
            self.talking = self.near_end
            if mic_power < self._noise:
                # Never quite zero: from a digital silence (a muted input, a silent
                # loopback) it must still be able to rise.
                self._noise = max(mic_power, NOISE_MIN * B)
            else:
                self._noise *= FLOOR_RISE
            self.suppressed = False
            self.unsuppressed = mic.astype(np.float64, copy=True)
            return self.unsuppressed
        self._learned += 1
        xk = np.fft.rfft(np.concatenate([self._prev_ref, ref]))
        self._prev_ref = ref.astype(np.float64, copy=True)
        self.X = np.roll(self.X, 1, axis=0)
        self.X[0] = xk
        self._check_path(mic, ref)
        echo = np.fft.irfft((self.W * self.X).sum(axis=0), n=2 * B)[B:]
        err = mic - echo
        echo_power = float(np.dot(echo, echo))
        self._power = 0.8 * self._power + 0.2 * (np.abs(xk) ** 2)
        err_power = float(np.dot(err, err))
        ek = np.fft.rfft(np.concatenate([self._zeros, err]))
        band = self._band
        yk = np.fft.rfft(np.concatenate([self._zeros, echo]))[band]
        # The microphone is the error plus the echo estimate, in the transform too.
        mic_band, err_band, echo_band = (
            float(np.sum(np.abs(v) ** 2)) for v in (ek[band] + yk, ek[band], yk))
        step = self.settings.step
        self.near_end = not self.converged
        # What is left of the echo usually: the echo estimate scaled by the recent ERLE,
        # plus the background noise.
        expected = echo_power * self._err_avg / max(self._mic_avg, 1e-9) + self._floor
        # (The background's share of the band, on the transforms' scale: a 2B-point
        # transform's bin holds B times a block's power per bin, by Parseval.)
        expected_band = (echo_band * self._err_band_avg / max(self._mic_band_avg, 1e-9)
                         + self._floor * (band.stop - band.start))
        # And the room's late reverberation, beyond the filter's reach (``late_ratio``).
        self._late = self._late * self._late_decay + self.settings.late_ratio * self._echo_hist[-1]
        self._echo_hist = np.roll(self._echo_hist, 1, axis=0)
        self._echo_hist[0] = (echo_power, echo_band)
        expected += self._late[0]
        expected_band += self._late[1]
        # A user's voice is in the microphone signal itself: an error louder than the
        # microphone is only the filter's own estimate where the echo already ended.
        # And a voice too quiet against the coach's to be understood does not count.
        talk = (self.converged and err_power > max(self.settings.double_talk * expected, voice)
                and self.settings.min_near * mic_power < err_power < 2.0 * mic_power
                and err_band > self.settings.double_talk * expected_band
                and err_band > self.settings.min_near * mic_band)
        self._talk_blocks = self._talk_blocks + 1 if talk else 0
        self.talking = talk and self._talk_blocks <= self._max_talk_blocks
        if self.talking:
            step *= 0.05  # the user is talking over the coach: do not learn their voice
            self.near_end = True
        else:
            # Longer "double talk" than any command is the echo path changing (the
            # speaker or microphone moved, the delay changed): learn it again.
            self.near_end = self.near_end or talk
            self._mic_avg = 0.9 * self._mic_avg + 0.1 * mic_power
            self._err_avg = 0.9 * self._err_avg + 0.1 * err_power
            self._mic_band_avg = 0.9 * self._mic_band_avg + 0.1 * mic_band
            self._err_band_avg = 0.9 * self._err_band_avg + 0.1 * err_band
        out = self.unsuppressed = err
        self.suppressed = not self.near_end
        if self.suppressed:
            # Only the coach's residue is left: turn it down, but no further than the
            # background noise. Gating the noise on and off with the coach's syllables
            # makes it sound like speech to the voice activity detector (measured: a
            # replayed session with noise 20 dB under the voice was one endless utterance).
            gain = max(self.settings.suppress_gain, math.sqrt(self._noise / max(err_power, 1e-9)))
            out = err * min(1.0, gain)
        # Normalised per bin by the reference's power there, with a floor at a fraction of
        # its mean power: in a bin the coach's voice hardly reaches (a synthetic voice has
        # almost nothing above 5 kHz), the microphone's noise would otherwise be divided by
        # next to nothing and blow the filter up (measured: the "cleaned" signal 8 dB louder
        # than the microphone's with white noise 20 dB under the coach's voice).
        floor = self.settings.bin_floor * float(self._power.mean())
        g = step * ek / (self.P * (self._power + floor) + 1e-3)
        # All partitions at once: one inverse and one forward transform of P rows.
        grad = np.fft.irfft(np.conj(self.X) * g, n=2 * B, axis=1)
        grad[:, B:] = 0.0  # keep the filter causal (gradient constraint)
        self.W += np.fft.rfft(grad, axis=1)
        return out

    def _check_path(self, mic: Floats, ref: Floats) -> None:
        """The path check, every ``track_every_s`` while the coach plays: find the lag at
        which the microphone best matches the reference. Once the filter cancels well, it
        is kept along with that lag; when the lag moves (the sound system's latency jumped:
        an output underrun, a loopback catching up), the kept filter, moved by as much,
        replaces the one that has been learning the moved path from scratch.

        Without it the filter learns the moved path afresh, every bin at once: 3-4 s until
        it removes 6 dB again (measured on a live session's microphone recording with its
        latency moved by 29 ms). Over PulseAudio's loopback a jump like that came a minute
        into a live session, and the user's "easier" was dropped because the canceller
        removed 4 dB. A latency that glides (there, back by 24 ms over 6 s) is beyond this
        check: the path moves within every window it compares."""
        self._remember(mic, ref)
        self._since_track += 1
        if self._since_track < self._track_every or self._learned < self._track_n + self.P:
            return
        self._since_track = 0
        lag = self._find_lag()
        if lag is None:
            return
        if self._lag is None or abs(lag - self._lag) > 1:
            self._lag = lag  # believed once seen twice
            return
        if self._kept is not None and abs(lag - self._kept[1]) > 1:
            W, kept_lag = self._kept
            self.W = _delayed(W, lag - kept_lag, self.B)
            self.moved += lag - kept_lag
            self._kept = (self.W.copy(), lag)
            self._err_avg = self._mic_avg  # the removal figure starts afresh
            self._err_band_avg = self._mic_band_avg
        elif self.erle_db >= self.settings.keep_erle_db:
            self._kept = (self.W.copy(), lag)

    def _remember(self, mic: Floats, ref: Floats) -> None:
        """Keep a block for the path check (every block: the two stay in step)."""
        self._blocks += 1  # rings: the newest block at index ``_blocks`` modulo their length
        self._mic_hist[self._blocks % self._track_n] = mic
        self._ref_hist[self._blocks % (self._track_n + self.P)] = ref

    def _find_lag(self) -> int | None:
        """Lag (samples, within the filter's reach) at which the recent microphone signal
        best matches the reference; None without a clear match."""
        B, P = self.B, self.P
        oldest = self._blocks + 1  # in time order, oldest first
        mic = np.roll(self._mic_hist, -(oldest % self._track_n), axis=0).reshape(-1)
        ref = np.roll(self._ref_hist, -(oldest % (self._track_n + P)), axis=0).reshape(-1)
        m_pow = float(np.dot(mic, mic))
        if m_pow <= self._min_voice * self._track_n:
            return None
        n = 1 << (ref.shape[0] - 1).bit_length()  # i + j < len(ref): no wrap-around
        # cc[j] = sum_i mic[i] * ref[i + j]; the microphone's sample i is the reference's
        # sample P*B + i, so lag k (echo k samples later) is j = P*B - k.
        cc = np.fft.irfft(np.fft.rfft(ref, n) * np.conj(np.fft.rfft(mic, n)), n)[: P * B + 1]
        j = int(np.argmax(cc))
        seg = ref[j : j + mic.shape[0]]
        r_pow = float(np.dot(seg, seg))
        if (r_pow <= self._min_voice * self._track_n
                or cc[j] < self.settings.track_min_corr * math.sqrt(m_pow * r_pow)):
            return None
        return P * B - j


def _delayed(W: npt.NDArray[np.complex128], k: int, B: int) -> npt.NDArray[np.complex128]:
    """A partitioned filter ``W`` (P partitions of B taps) moved ``k`` samples later (earlier
    if negative); what moves past either end is dropped."""
    P = W.shape[0]
    h = np.fft.irfft(W, n=2 * B, axis=1)[:, :B].reshape(-1)
    out = np.zeros_like(h)
    if k >= 0:
        out[k:] = h[: h.shape[0] - k]
    else:
        out[:k] = h[-k:]
    return np.fft.rfft(np.concatenate([out.reshape(P, B), np.zeros((P, B))], axis=1), axis=1)


def cancel(mic: Floats, ref: Floats, settings: AecSettings | None = None) -> Floats:
    """Whole signals (same length) -> the microphone with the echo of ``ref`` removed."""
    aec = EchoCanceller(settings)
    B = aec.B
    n = len(mic) // B * B
    out = np.array(mic, dtype=np.float64, copy=True)
    for i in range(0, n, B):
        out[i : i + B] = aec.process(mic[i : i + B].astype(np.float64),
                                     ref[i : i + B].astype(np.float64))
    return out
