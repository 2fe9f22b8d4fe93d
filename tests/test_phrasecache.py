"""The phrase cache: render once, reload, re-render when broken, trim, survive a full disk."""

from __future__ import annotations

import errno
import logging
from pathlib import Path

import numpy as np
import pytest

from voicecoach import phrasecache
from voicecoach.phrasecache import TAIL_S, PhraseCache, resample, trim_silence
from voicecoach.tts import TtsSettings


class ToneSynth:
    """Stand-in engine: 0.2 s silence, a tone as long as the text (10 ms/char), 0.3 s silence."""

    engine = "pyttsx3"

    def __init__(self, rate: int = 22050) -> None:
        self.rate = rate
        self.calls: list[str] = []

    def render(self, text: str) -> tuple[np.ndarray, int]:
        self.calls.append(text)
        n = int(0.01 * len(text) * self.rate)
        t = np.arange(n) / self.rate
        tone = 0.5 * np.sin(2 * np.pi * 220 * t + np.pi / 2)  # starts at full amplitude
        lead, tail = np.zeros(int(0.2 * self.rate)), np.zeros(int(0.3 * self.rate))
        return np.concatenate([lead, tone, tail]).astype(np.float32), self.rate

    def expected_samples(self, text: str, rate: int) -> int:
        return int(0.01 * len(text) * self.rate)


def make_cache(tmp_path: Path, synth: ToneSynth | None = None, **settings) -> PhraseCache:
    return PhraseCache(TtsSettings(**settings), tmp_path / "clips", synth or ToneSynth())


def test_trim_starts_at_first_sound_and_keeps_a_short_tail() -> None:
    rate = 1000
    x = np.zeros(3000, dtype=np.float32)
    x[500:1500] = 0.5
    x[700] = 0.002  # a quiet sample inside stays
    y = trim_silence(x, rate)
    assert y[0] == pytest.approx(0.5)
    assert y.size == 1000 + int(TAIL_S * rate)


def test_trim_ignores_noise_below_threshold() -> None:
    rate = 1000
    x = np.full(2000, 0.0004, dtype=np.float32)  # under -60 dBFS
    x[1000:1100] = 0.8
    assert trim_silence(x, rate)[0] == pytest.approx(0.8)


def test_resample_keeps_pitch_and_duration() -> None:
    src, dst = 48000, 22050
    t = np.arange(src) / src
    y = resample(np.sin(2 * np.pi * 1000 * t).astype(np.float32), src, dst)
    assert y.size == dst
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) * dst / y.size == pytest.approx(1000, abs=2)


def test_clip_is_trimmed_and_duration_is_real(tmp_path: Path) -> None:
    cache = make_cache(tmp_path)
    clip = cache.clip("Two.")
    assert abs(clip[0]) > 0.4  # speech (here: the tone) starts at the first sample
    expect = (int(0.04 * 22050) + int(TAIL_S * 22050)) / 22050
    assert cache.duration_s("Two.") == pytest.approx(expect, abs=2 / 22050)


def test_ensure_renders_only_what_is_missing_and_reports_progress(tmp_path: Path) -> None:
    synth = ToneSynth()
    cache = make_cache(tmp_path, synth)
    seen: list[tuple[int, int, str]] = []
    assert cache.ensure(["One.", "Two.", "One."], progress=lambda *a: seen.append(a)) == 2
    assert synth.calls == ["One.", "Two."]
    assert seen == [(0, 2, "One."), (1, 2, "Two."), (2, 2, "")]
    again = ToneSynth()
    warm = make_cache(tmp_path, again)
    assert warm.ensure(["One.", "Two."], progress=lambda *a: seen.append(a)) == 0
    assert again.calls == [] and len(seen) == 3
    np.testing.assert_array_equal(warm.clip("One."), cache.clip("One."))


def test_memory_holds_only_the_clips_spoken(tmp_path: Path) -> None:
    """A session prepares every phrase it may say, but most (offers, summaries) are never
    said: only spoken clips stay in memory, and each comes back exactly as rendered."""
    texts = [f"Phrase number {k}." for k in range(40)]
    rendered = make_cache(tmp_path)
    rendered.ensure(texts)
    lengths = [rendered.duration_s(t) for t in texts]
    assert rendered.resident_bytes == 0
    warm = make_cache(tmp_path)
    assert warm.ensure(texts) == 0
    assert [warm.duration_s(t) for t in texts] == lengths and warm.resident_bytes == 0
    clip = warm.clip(texts[3])
    assert clip.dtype == np.float32 and abs(clip[0]) > 0.4
    assert warm.resident_bytes == clip.size * 2  # 16-bit samples
    np.testing.assert_array_equal(warm.clip(texts[3]), clip)


@pytest.mark.parametrize(
    "other", [dict(engine="piper"), dict(voice="gmw/en-us"), dict(rate=120), dict(sample_rate=16000)]
)
def test_key_depends_on_engine_voice_rate_and_sample_rate(tmp_path: Path, other) -> None:
    base = make_cache(tmp_path)
    assert make_cache(tmp_path, **other).path_for("One.") != base.path_for("One.")
    assert base.path_for("One.") != base.path_for("One")


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupt_clip_is_rendered_again(tmp_path: Path, damage: str) -> None:
    make_cache(tmp_path).ensure(["Hold."])
    path = make_cache(tmp_path).path_for("Hold.")
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"RIFFjunk" * 8, "empty": b""}[damage])
    synth = ToneSynth()
    cache = make_cache(tmp_path, synth)
    assert cache.missing(["Hold."]) == ["Hold."]
    cache.ensure(["Hold."])
    assert synth.calls == ["Hold."]
    assert make_cache(tmp_path, ToneSynth()).missing(["Hold."]) == []


def test_env_var_chooses_the_directory(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(phrasecache.CACHE_ENV, str(tmp_path / "env"))
    cache = PhraseCache(TtsSettings(), synth=ToneSynth())
    cache.ensure(["Hover."])
    assert cache.path_for("Hover.").parent == tmp_path / "env"
    assert cache.path_for("Hover.").is_file()


def test_full_disk_warns_once_and_keeps_clips_in_memory(tmp_path: Path, monkeypatch, caplog) -> None:
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(phrasecache, "write_pcm16", full)
    synth = ToneSynth()
    cache = make_cache(tmp_path, synth)
    with caplog.at_level(logging.WARNING, logger="voicecoach.phrasecache"):
        cache.ensure(["One.", "Two.", "Three."])
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "disk is full" in warnings[0].getMessage()
    assert cache.clip("Three.").size > 0
    assert synth.calls == ["One.", "Two.", "Three."]  # from memory, not rendered again
    assert not list((tmp_path / "clips").glob("*.wav*"))
