"""The mixer: clips land on their exact sample; urgent clips cut; WAV == device path."""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest

from voicecoach.mixer import FADE_S, DeviceOutput, Mixer, NoOutputDevice, WavOutput
from voicecoach.tts import read_wav

RATE = 8000


def ramp_clip(n: int, value: float = 0.5) -> np.ndarray:
    """A clip whose every sample is non-zero, so its first and last sample are visible."""
    return np.full(n, value, dtype=np.float32)


def render(mixer: Mixer, frames: int, blocks: list[int] | None = None) -> np.ndarray:
    """Pull ``frames`` from the mixer in blocks the way a device callback would."""
    out = np.zeros(frames, dtype=np.float32)
    pos = 0
    sizes = iter(blocks or [])
    while pos < frames:
        n = min(next(sizes, 256), frames - pos)
        mixer.fill(out[pos : pos + n])
        pos += n
    return out


@pytest.mark.parametrize("block", [1, 7, 256, 1000, 4096])
def test_clip_starts_on_its_exact_sample_whatever_the_block_size(block: int) -> None:
    mixer = Mixer(RATE)
    mixer.play(ramp_clip(100), at=1234)
    out = render(mixer, 3000, [block] * 10000)
    nz = np.flatnonzero(out)
    assert nz[0] == 1234 and nz[-1] == 1333 and nz.size == 100


def test_irregular_blocks_give_identical_output() -> None:
    rng = np.random.default_rng(1)
    clips = [rng.uniform(-0.3, 0.3, int(n)).astype(np.float32) for n in rng.integers(50, 900, 20)]
    starts = sorted(int(s) for s in rng.integers(0, 20000, 20))

    def run(blocks: list[int]) -> np.ndarray:
        m = Mixer(RATE)
        for c, s in zip(clips, starts):
            m.play(c, s)
        return render(m, 22000, blocks)

    steady = run([512] * 100)
    ragged = run([int(b) for b in rng.integers(1, 700, 1000)])
    np.testing.assert_array_equal(steady, ragged)


def test_overlapping_clips_are_summed() -> None:
    mixer = Mixer(RATE)
    mixer.play(ramp_clip(100, 0.25), at=0)
    mixer.play(ramp_clip(100, 0.5), at=50)
    out = render(mixer, 200)
    assert out[10] == pytest.approx(0.25)
    assert out[60] == pytest.approx(0.75)
    assert out[120] == pytest.approx(0.5)
    assert out[160] == 0.0


def test_urgent_clip_cuts_playing_and_scheduled_clips() -> None:
    fade = int(round(FADE_S * RATE))
    mixer = Mixer(RATE)
    mixer.play(ramp_clip(1000, 0.25), at=0)  # sounding when the urgent clip comes
    mixer.play(ramp_clip(100, 0.25), at=2000)  # queued for later: must be dropped
    mixer.play(ramp_clip(200, 0.5), at=500, urgent=True)
    mixer.play(ramp_clip(100, 0.125), at=2500)  # submitted after the urgent one: plays
    out = render(mixer, 3000)
    assert out[499] == pytest.approx(0.25)
    assert out[500] == pytest.approx(0.75)  # cut clip fades out over FADE_S...
    assert np.all(out[500 + fade : 700] == pytest.approx(0.5))  # ...then only the urgent one
    assert np.all(out[700:2500] == 0.0)  # the queued clip was dropped
    assert out[2500] == pytest.approx(0.125)
    assert mixer.idle


def test_clip_submitted_too_late_plays_whole_from_now() -> None:
    mixer = Mixer(RATE)
    render(mixer, 1000)
    mixer.play(ramp_clip(100), at=900)
    out = render(mixer, 300)
    assert np.flatnonzero(out).tolist() == list(range(100))
    assert mixer.late == 1


def test_full_slots_drop_instead_of_failing() -> None:
    mixer = Mixer(RATE, slots=2)
    for _ in range(3):
        mixer.play(ramp_clip(100, 0.1), at=0)
    out = render(mixer, 100)
    assert out[0] == pytest.approx(0.2)
    assert mixer.dropped == 1


def test_fill_allocates_no_audio_buffers() -> None:
    mixer = Mixer(22050)
    clip = np.random.default_rng(0).uniform(-0.2, 0.2, 22050 * 5).astype(np.float32)
    out = np.zeros((512, 1), dtype=np.float32)
    for k in range(8):
        mixer.play(clip, at=k * 3000)
    mixer.play(clip, at=30000, urgent=True)
    mixer.fill(out[:, 0])  # drains the queue
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for _ in range(400):
            mixer.fill(out[:, 0])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 512 float32 frames are 2 KiB: the callback must stay far below one block's worth.
    assert peak - base < 1024


def test_wav_output_writes_exactly_the_mix() -> None:
    rng = np.random.default_rng(2)
    a = rng.uniform(-0.5, 0.5, 300).astype(np.float32)
    b = rng.uniform(-0.5, 0.5, 300).astype(np.float32)
    buf = io.BytesIO()
    out = WavOutput(Mixer(RATE), buf, block=64)
    out.play(a, 100)
    out.play(b, 1000)
    out.close()
    buf.seek(0)
    samples, rate = read_wav(buf)
    assert rate == RATE
    assert 1300 <= samples.size < 1300 + 64
    np.testing.assert_allclose(samples[100:400], a, atol=1 / 32768)
    np.testing.assert_allclose(samples[1000:1300], b, atol=1 / 32768)
    assert not samples[:100].any() and not samples[400:1000].any()


def test_wav_output_close_pads_to_requested_end() -> None:
    buf = io.BytesIO()
    out = WavOutput(Mixer(RATE), buf)
    out.close(end=5000)
    buf.seek(0)
    samples, _ = read_wav(buf)
    assert samples.size == 5000


def test_no_output_device_is_a_one_line_error_with_the_way_out(monkeypatch) -> None:
    import sounddevice as sd

    def no_device(*args, **kwargs):
        raise sd.PortAudioError("Error querying device -1")

    monkeypatch.setattr(sd, "OutputStream", no_device)
    with pytest.raises(NoOutputDevice) as err:
        DeviceOutput(Mixer(RATE))
    msg = str(err.value)
    assert "\n" not in msg and "--text" in msg and "--out" in msg
