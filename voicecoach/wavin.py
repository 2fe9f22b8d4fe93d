"""Reading WAV files of any common PCM layout as 16 kHz mono 16-bit.

Python's ``wave`` module (3.11) refuses WAVE_FORMAT_EXTENSIBLE and float files, which is
what many recorders and ``sox`` write for 24-bit, 32-bit or multichannel audio, so the RIFF
chunks are parsed here. Supported: integer PCM of 8, 16, 24 or 32 bits, IEEE float of 32 or
64 bits, any channel count (mixed down to mono by averaging), any rate (resampled).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
import numpy.typing as npt

from voicecoach.resample import Resampler, to_int16

_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
_INT_BITS = (8, 16, 24, 32)
_FLOAT_BITS = (32, 64)
FIX = "convert it with `sox IN.wav -r 16000 -c 1 -b 16 OUT.wav`"


class WavError(Exception):
    """A file is not a WAV file voicecoach can read."""


@dataclass(frozen=True)
class WavFormat:
    """Layout of a WAV file's audio data."""

    rate: int
    """Sample rate (hertz)."""
    channels: int
    bits: int
    """Bits per sample."""
    is_float: bool
    data_bytes: int | None
    """Size of the data chunk (bytes); None when the header leaves it open (streamed WAV)."""

    @property
    def frame_bytes(self) -> int:
        return self.channels * self.bits // 8

    @property
    def native(self) -> bool:
        """Already 16 kHz mono 16-bit integer: used byte for byte."""
        return (self.rate, self.channels, self.bits, self.is_float) == (16000, 1, 16, False)


def read_header(fh: BinaryIO, name: str) -> WavFormat:
    """Parse the RIFF header up to the start of the data chunk (``fh`` is left there)."""
    head = fh.read(12)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        kind = "an RF64 WAV (too large)" if head[:4] == b"RF64" else "not a WAV file"
        raise WavError(f"{name} is {kind} (no RIFF/WAVE header); {FIX}")
    fmt: tuple[int, int, int, int] | None = None
    while True:
        chunk = fh.read(8)
        if len(chunk) < 8:
            raise WavError(f"{name} is a broken WAV file: no "
                           f"{'data' if fmt else 'fmt'} chunk; {FIX}")
        cid, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        if cid == b"fmt ":
            body = fh.read(size + (size & 1))
            if len(body) < 16:
                raise WavError(f"{name} is a broken WAV file: short fmt chunk; {FIX}")
            tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == _EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack("<H", body[24:26])[0]  # first bytes of the sub-format GUID
            fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            if fmt is None:
                raise WavError(f"{name} is a broken WAV file: data before fmt; {FIX}")
            return _format(name, *fmt, data_bytes=None if size in (0, 0xFFFFFFFF) else size)
        else:
            fh.seek(size + (size & 1), 1)


def _format(name: str, tag: int, channels: int, rate: int, bits: int,
            data_bytes: int | None) -> WavFormat:
    if tag not in (_PCM, _FLOAT):
        raise WavError(f"{name} uses WAV encoding {tag:#x}, not PCM or float; {FIX}")
    is_float = tag == _FLOAT
    if bits not in (_FLOAT_BITS if is_float else _INT_BITS):
        kind = "float" if is_float else "integer"
        raise WavError(f"{name} has {bits}-bit {kind} samples, which voicecoach cannot "
                       f"read; {FIX}")
    if channels < 1 or rate < 1000:
        raise WavError(f"{name} is a broken WAV file: {channels} channels at {rate} Hz; {FIX}")
    return WavFormat(rate, channels, bits, is_float, data_bytes)


def decode(raw: bytes, fmt: WavFormat) -> npt.NDArray[np.float64]:
    """Whole frames of raw WAV data -> mono float samples in [-1, 1]."""
    if fmt.is_float:
        x = np.frombuffer(raw, dtype="<f4" if fmt.bits == 32 else "<f8").astype(np.float64)
    elif fmt.bits == 8:
        x = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) / 128.0
    elif fmt.bits == 16:
        x = np.frombuffer(raw, dtype="<i2") / 32768.0
    elif fmt.bits == 24:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        x = np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)
    else:
        x = np.frombuffer(raw, dtype="<i4") / float(1 << 31)
    if fmt.channels > 1:
        x = x.reshape(-1, fmt.channels).mean(axis=1)
    return np.clip(x, -1.0, 1.0)


def pcm16_chunks(fh: BinaryIO, name: str, chunk_frames: int = 16000) -> Iterator[bytes]:
    """16 kHz mono 16-bit PCM from an open WAV file, in pieces of any length."""
    fmt = read_header(fh, name)
    left = fmt.data_bytes
    want = chunk_frames * fmt.frame_bytes
    resampler = None if fmt.rate == 16000 else Resampler(fmt.rate, 16000)
    carry = b""
    while left is None or left > 0:
        raw = fh.read(want if left is None else min(want, left))
        if not raw:
            break
        if left is not None:
            left -= len(raw)
        raw = carry + raw
        whole = len(raw) - len(raw) % fmt.frame_bytes
        raw, carry = raw[:whole], raw[whole:]
        if fmt.native:
            yield raw
            continue
        x = decode(raw, fmt)
        yield to_int16(resampler.process(x) if resampler else x)
    if resampler is not None:
        yield to_int16(resampler.flush())
