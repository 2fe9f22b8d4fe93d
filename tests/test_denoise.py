"""Steady noise is suppressed before recognition; speech and a quiet room pass through."""

from __future__ import annotations

import numpy as np

from voicecoach.denoise import DELAY_MS, Denoiser

from . import speech

RATE = 16000
LAG = int(DELAY_MS * RATE / 1000)


def run(x: np.ndarray, block: int = 480) -> np.ndarray:
    d = Denoiser()
    pcm = np.asarray(x, dtype="<i2")
    out = b"".join(d.process(pcm[i : i + block].tobytes()) for i in range(0, len(pcm), block))
    return np.frombuffer(out, dtype="<i2").astype(float)


def db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.asarray(x, float) ** 2) + 1e-12)


def test_white_noise_in_the_pauses_drops_and_the_words_stay() -> None:
    words = speech.synth("make it easier", "flite:slt")
    clean = speech.concat([speech.silence(3000), words, speech.silence(1000)]).astype(float)
    noise = np.random.default_rng(5).standard_normal(len(clean)) * 0.1 * np.sqrt(np.mean(words.astype(float) ** 2))
    out = run(np.clip(clean + noise, -32768, 32767))
    pause = slice(RATE, 3 * RATE)  # after the first second the noise is known
    assert db(noise[pause]) - db(out[pause.start + LAG : pause.stop + LAG]) > 10.0
    said = slice(3 * RATE, 3 * RATE + len(words))
    got = out[said.start + LAG : said.stop + LAG]
    assert np.corrcoef(got, clean[said])[0, 1] > 0.9  # the words are the same words


def test_a_quiet_room_passes_unchanged_apart_from_the_delay() -> None:
    words = speech.synth("ouch", "flite:rms")
    x = speech.mic_floor(speech.concat([speech.silence(1000), words, speech.silence(500)]))
    out = run(x, block=320)
    said = slice(RATE, RATE + len(words))
    got = out[said.start + LAG : said.stop + LAG]
    assert db(got - x[said].astype(float)) < db(x[said]) - 20.0
