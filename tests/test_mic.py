"""Audio input: resampling, WAV files of every common layout, the microphone (fake and real)."""

from __future__ import annotations

import itertools
import logging
import struct
import threading
import time
import wave
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from voicecoach.mic import (
    AudioBlock,
    AudioInputError,
    DeviceInfo,
    Microphone,
    MicSettings,
    NoMicrophoneError,
    WavSource,
    choose_input,
    open_input,
    record_to,
)
from voicecoach.resample import Resampler

RATE = 16000


def tone(freq: float, seconds: float, rate: int, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)


def pcm(blocks: list[AudioBlock] | list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(blocks), dtype="<i2").astype(np.float64) / 32768.0


def peak_hz(x: np.ndarray, rate: int = RATE) -> float:
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(spec)])


# --- resampler ---------------------------------------------------------------------------

@pytest.mark.parametrize("rate_in", [8000, 22050, 32000, 44100, 48000])
def test_resampler_keeps_a_tone_exact(rate_in: int) -> None:
    r = Resampler(rate_in, RATE)
    y = np.concatenate([r.process(tone(1000, 1.0, rate_in)), r.flush()])
    assert len(y) == RATE
    ideal = tone(1000, 1.0, RATE)
    inner = slice(200, -200)  # the edges see the silence before and after the signal
    assert np.max(np.abs(y[inner] - ideal[inner])) < 1e-4


@pytest.mark.parametrize("rate_in", [44100, 48000])
def test_resampler_rejects_what_would_alias(rate_in: int) -> None:
    y = Resampler(rate_in, RATE).process(tone(12000, 1.0, rate_in))  # above 8 kHz Nyquist
    level_db = 20 * np.log10(np.sqrt(np.mean(y[200:-200] ** 2)) / (0.5 / np.sqrt(2)))
    assert level_db < -60


def test_resampler_output_does_not_depend_on_chunking() -> None:
    x = np.random.default_rng(1).standard_normal(44100) * 0.1
    whole = Resampler(44100, RATE)
    a = np.concatenate([whole.process(x), whole.flush()])
    pieces = Resampler(44100, RATE)
    sizes = np.random.default_rng(2).integers(1, 2000, 100)
    edges = np.concatenate([[0], np.cumsum(sizes)])
    b = np.concatenate([pieces.process(x[s:e]) for s, e in itertools.pairwise(edges)]
                       + [pieces.flush()])
    np.testing.assert_allclose(a, b, atol=1e-12)


# --- WAV files ---------------------------------------------------------------------------

def write_wav(path: Path, x: np.ndarray, rate: int, bits: int = 16, channels: int = 1,
              is_float: bool = False, extensible: bool = False) -> Path:
    """A WAV file written by hand, so every layout (24-bit, float, extensible) is possible."""
    frames = np.repeat(x[:, None], channels, axis=1) * np.linspace(1.0, 0.6, channels)
    if is_float:
        data = frames.astype("<f4" if bits == 32 else "<f8").tobytes()
    elif bits == 8:
        data = np.clip(np.rint(frames * 127 + 128), 0, 255).astype(np.uint8).tobytes()
    elif bits == 24:
        v = np.rint(frames * (2**23 - 1)).astype("<i4").reshape(-1)
        data = np.stack([v & 255, (v >> 8) & 255, (v >> 16) & 255], 1).astype(np.uint8).tobytes()
    else:
        dtype = {16: "<i2", 32: "<i4"}[bits]
        data = np.rint(frames * (2 ** (bits - 1) - 1)).astype(dtype).tobytes()
    tag = 3 if is_float else 1
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * align,
                      align, bits)
    if extensible:
        guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt += struct.pack("<HHI", 22, bits, 3) + struct.pack("<H", tag) + guid_tail
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"LIST" + struct.pack("<I", 4) + b"INFO"
            + b"data" + struct.pack("<I", len(data)) + data)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return path


def test_native_wav_is_used_byte_for_byte(tmp_path: Path) -> None:
    x = np.random.default_rng(3).integers(-30000, 30000, RATE + 123).astype("<i2")
    path = tmp_path / "native.wav"
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(x.tobytes())
    src = WavSource(path, block_ms=20)
    blocks = list(src)
    assert b"".join(blocks) == x.tobytes()
    assert [len(b) for b in blocks[:-1]] == [640] * (len(blocks) - 1) and len(blocks[-1]) == 246
    assert [b.start for b in blocks] == [320 * i for i in range(len(blocks))]
    assert src.samples == RATE + 123


@pytest.mark.parametrize("rate,bits,channels,is_float,ext", [
    (8000, 8, 1, False, False),
    (44100, 16, 2, False, False),
    (48000, 24, 2, False, True),
    (22050, 24, 1, False, False),
    (32000, 32, 1, False, False),
    (44100, 32, 2, True, True),
    (16000, 64, 1, True, False),
])
def test_other_wav_layouts_are_converted(tmp_path: Path, rate: int, bits: int, channels: int,
                                         is_float: bool, ext: bool) -> None:
    path = write_wav(tmp_path / "in.wav", tone(1000, 1.0, rate), rate, bits, channels,
                     is_float, ext)
    y = pcm(list(WavSource(path)))
    assert abs(len(y) - RATE) <= 1
    expect = tone(1000, 1.0, RATE) * np.mean(np.linspace(1.0, 0.6, channels))
    tolerance = 0.02 if bits == 8 else 2e-3
    assert np.max(np.abs(y[200:-200] - expect[200:len(y) - 200])) < tolerance


@pytest.mark.parametrize("content,message", [
    (b"this is not audio at all", "not a WAV file"),
    (b"RIFF\x10\x00\x00\x00WAVEfmt ", "broken WAV file"),
    (b"", "not a WAV file"),
])
def test_broken_files_are_refused_naming_the_file(tmp_path: Path, content: bytes,
                                                  message: str) -> None:
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioInputError, match=f"{path}.*{message}|{message}.*{path}") as err:
        WavSource(path)
    assert str(path) in str(err.value) and "sox" in str(err.value)


def test_unsupported_encoding_and_missing_file(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "adpcm.wav", tone(440, 0.1, 8000), 8000)
    raw = bytearray(path.read_bytes())
    raw[20:22] = struct.pack("<H", 2)  # MS ADPCM
    path.write_bytes(bytes(raw))
    with pytest.raises(AudioInputError, match="adpcm.wav uses WAV encoding 0x2"):
        WavSource(path)
    with pytest.raises(AudioInputError, match="cannot read WAV file .*nope.wav"):
        open_input(tmp_path / "nope.wav")


def test_record_to_tees_blocks_into_a_wav(tmp_path: Path) -> None:
    src = write_wav(tmp_path / "in.wav", tone(500, 0.5, 44100), 44100)
    out = tmp_path / "rec.wav"
    passed = list(record_to(WavSource(src), out))
    with wave.open(str(out), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        assert w.readframes(w.getnframes()) == b"".join(passed)


# --- the microphone, with a scripted stand-in for sounddevice ----------------------------

class FakeStream:
    """Calls the callback from its own thread, like PortAudio, with scripted status flags."""

    def __init__(self, sd: FakeSd, samplerate: int, blocksize: int, callback: Any,
                 **_: Any) -> None:
        self.sd, self.rate, self.blocksize, self.callback = sd, samplerate, blocksize, callback
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.running = False

    def start(self) -> None:
        self.running = True
        self.thread.start()

    def _run(self) -> None:
        signal = (tone(1000, self.sd.seconds, self.rate) * 32767).astype(np.int16)
        for i, start in enumerate(range(0, len(signal), self.blocksize)):
            if not self.running:
                return
            if i == self.sd.pause_at:
                self.sd.paused.set()
                self.sd.resume.wait(timeout=5)
            if self.sd.pause_at is not None and i >= self.sd.pause_at:
                time.sleep(0.005)  # a consumer that caught up: nothing more is lost
            chunk = signal[start:start + self.blocksize]
            status = SimpleNamespace(input_overflow=i in self.sd.overflow_at)
            self.callback(chunk[:, None], len(chunk), None, status)
        self.sd.done.set()

    def stop(self) -> None:
        self.running = False

    def close(self) -> None:
        self.thread.join(timeout=5)


class FakeSd:
    PortAudioError = RuntimeError

    def __init__(self, devices: list[dict[str, Any]], native_16k: bool = True,
                 seconds: float = 1.0, overflow_at: tuple[int, ...] = (),
                 pause_at: int | None = None) -> None:
        self.devices, self.native_16k, self.seconds = devices, native_16k, seconds
        self.overflow_at, self.pause_at = overflow_at, pause_at
        self.done = threading.Event()
        self.paused = threading.Event()
        self.resume = threading.Event()
        self.opened: dict[str, Any] = {}

    def query_devices(self, index: int | None = None, kind: str | None = None) -> Any:
        if index is None and kind is None:
            return self.devices
        return self.devices[index if index is not None else 0]

    def check_input_settings(self, samplerate: int, **_: Any) -> None:
        if not self.native_16k and samplerate != 48000:
            raise ValueError("Invalid sample rate")

    def InputStream(self, **kw: Any) -> FakeStream:
        self.opened = kw
        return FakeStream(self, **kw)


def dev(name: str, inputs: int = 2, outputs: int = 2, rate: float = 48000.0) -> dict[str, Any]:
    return {"name": name, "max_input_channels": inputs, "max_output_channels": outputs,
            "default_samplerate": rate}


def take(mic: Microphone, seconds: float) -> list[AudioBlock]:
    blocks: list[AudioBlock] = []
    for b in mic:
        blocks.append(b)
        if len(blocks) * mic.settings.block_ms >= seconds * 1000:
            break
    return blocks


@pytest.mark.parametrize("native", [True, False])
def test_mic_blocks_are_16k_with_positions(native: bool) -> None:
    sd = FakeSd([dev("Speakers", 0, 2), dev("USB Mic", 1, 0)], native_16k=native)
    with Microphone(MicSettings(device="usb"), sd=sd) as mic:  # type: ignore[arg-type]
        blocks = take(mic, 0.8)
    assert sd.opened["samplerate"] == (16000 if native else 48000)
    assert sd.opened["device"] == 1
    n = MicSettings().block_ms * RATE // 1000  # samples per block
    assert all(len(b) == 2 * n for b in blocks)
    assert [b.start for b in blocks] == [n * i for i in range(len(blocks))]
    assert peak_hz(pcm(blocks)) == pytest.approx(1000, abs=3)
    assert mic.samples == n * len(blocks)


def test_overflows_are_counted_and_logged_never_fatal(caplog: pytest.LogCaptureFixture) -> None:
    sd = FakeSd([dev("Mic", 1, 0)], overflow_at=(3, 4, 10))
    caplog.set_level(logging.WARNING, logger="voicecoach.mic")
    with Microphone(MicSettings(block_ms=20), sd=sd) as mic:  # type: ignore[arg-type]
        blocks = take(mic, 0.9)
    assert mic.overflows == 3 and len(blocks) == 45
    assert "input overflow" in caplog.text


def test_a_slow_consumer_gets_silence_in_place_of_lost_audio() -> None:
    # 1 s of audio arrives while nobody reads (the queue holds 0.1 s), then 0.2 s more.
    sd = FakeSd([dev("Mic", 1, 0)], seconds=1.2, pause_at=50)
    mic = Microphone(MicSettings(queue_s=0.1, block_ms=20), sd=sd)  # type: ignore[arg-type]
    blocks: list[AudioBlock] = []
    with mic:
        assert sd.paused.wait(timeout=5)
        for b in mic:
            blocks.append(b)
            sd.resume.set()
            if len(blocks) == 60:
                break
    assert mic.dropped_frames == 45 * 320
    assert [b.start for b in blocks] == [320 * i for i in range(60)]
    x = pcm(blocks)
    expect = tone(1000, 1.2, RATE)
    np.testing.assert_allclose(x[:1600], expect[:1600], atol=1e-3)       # kept
    assert not np.any(x[1600:16000])                                      # lost -> silence
    np.testing.assert_allclose(x[16000:], expect[16000:], atol=1e-3)      # on the clock


def test_no_microphone_is_a_clear_error() -> None:
    sd = FakeSd([dev("HDMI", 0, 8)])
    with pytest.raises(NoMicrophoneError, match="no microphone found.*--file"):
        Microphone(sd=sd).open()  # type: ignore[arg-type]


def test_device_choice_by_index_and_name() -> None:
    devices = [DeviceInfo(0, "HDMI out", 0, 2, 48000), DeviceInfo(1, "USB Mic A", 1, 0, 48000),
               DeviceInfo(2, "USB Mic B", 1, 0, 44100), DeviceInfo(3, "pulse", 32, 32, 44100)]
    assert choose_input(None, devices) is None
    assert choose_input(2, devices) == 2 and choose_input("3", devices) == 3
    assert choose_input("mic b", devices) == 2 and choose_input("PULSE", devices) == 3
    with pytest.raises(AudioInputError, match="ambiguous.*1: USB Mic A.*2: USB Mic B"):
        choose_input("usb", devices)
    with pytest.raises(AudioInputError, match="no input device matches 'webcam'.*3: pulse"):
        choose_input("webcam", devices)
    with pytest.raises(AudioInputError, match="device 0 does not exist or has no inputs"):
        choose_input(0, devices)


# --- the real audio path: PulseAudio null sink -> ALSA -> PortAudio -> Microphone --------

@pytest.fixture(scope="module")
def loopback() -> Iterator[Any]:
    """A private PulseAudio null sink whose monitor is this process's default microphone."""
    from tests.pulse import private_sink

    with private_sink() as pulse:
        yield pulse


@pytest.mark.slow
@pytest.mark.parametrize("capture_rate", [None, 48000, 44100])
def test_real_mic_hears_a_tone_played_into_pulseaudio(loopback: Any,
                                                      capture_rate: int | None) -> None:
    blocks: list[AudioBlock] = []
    with Microphone(MicSettings(capture_rate=capture_rate)) as mic:
        player, stop_at = None, None
        for block in mic:  # play once audio flows; record until the player is done + 0.3 s
            blocks.append(block)
            if player is None:
                player = loopback.play_samples(tone(1000, 1.0, 44100), 44100)
            elif stop_at is None and player.poll() is not None:
                stop_at = len(blocks) + 15
            if len(blocks) == stop_at or len(blocks) > 500:
                break
        assert player is not None and player.wait(timeout=10) == 0
    assert mic.capture_rate == (capture_rate or 16000)
    assert all(len(b) == 2 * MicSettings().block_ms * RATE // 1000 for b in blocks)
    assert all(b.start == a.end for a, b in itertools.pairwise(blocks))
    x = pcm(blocks)
    loud = x[np.abs(x) > 0.05]
    assert len(loud) > 0.4 * RATE, "the tone did not come through"
    assert peak_hz(x) == pytest.approx(1000, abs=2)  # right pitch = right sample rate
