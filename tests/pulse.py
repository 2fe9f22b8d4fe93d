"""A real audio path for tests: PulseAudio with a null sink whose monitor is the microphone.

Whatever is played into the null sink comes back out of its monitor source, so a test can
play a known signal (``paplay``) and record it through the same PortAudio/ALSA path a real
microphone uses (ALSA's ``pulse``/``default`` device -> PulseAudio).

Usage::

    from tests.pulse import pulse, private_sink   # `pulse` is a session fixture

    def test_something(pulse):                    # server up, default sink/source = vc_test
        proc = pulse.play_samples(tone, 16000)    # plays into the sink, returns the Popen
        ...record with voicecoach.mic.Microphone()...
        proc.wait()

    with private_sink() as p:                     # a sink of this process alone: tests that
        ...                                       # run in parallel cannot hear each other

``ensure_pulse()`` starts the daemon when none is running (``pulseaudio -D
--exit-idle-time=-1 -n`` with the native protocol and a null sink ``vc_test``, which works as
root too), makes ``vc_test`` the default sink and its monitor the default source, and skips
the test with the reason when pulseaudio is not installed or will not start. The daemon is
left running for later tests (it is shared; nothing here kills it).

Timing: on this setup the first capture stream a process opens delivers nothing for about
2 s, and ``paplay`` also needs a moment to start, so start playing only after the first
block has arrived and keep recording until the player has exited (see tests/test_mic.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

SINK = "vc_test"


@dataclass(frozen=True)
class Pulse:
    """A null sink: play into ``sink``, record from ``source`` (its monitor)."""

    sink: str

    @property
    def source(self) -> str:
        return f"{self.sink}.monitor"

    def play(self, wav: str | os.PathLike[str]) -> subprocess.Popen[bytes]:
        """Start playing a WAV file into the sink; ``.wait()`` on the result."""
        return subprocess.Popen(["paplay", f"--device={self.sink}", str(wav)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def play_samples(self, samples: npt.ArrayLike, rate: int) -> subprocess.Popen[bytes]:
        """Play mono int16 samples (or floats in [-1, 1]) at ``rate`` hertz into the sink."""
        x = np.asarray(samples)
        if x.dtype != np.int16:
            x = np.clip(np.rint(x * 32767), -32768, 32767).astype(np.int16)
        fd, name = tempfile.mkstemp(suffix=".wav", prefix="vc-pulse-")
        os.close(fd)
        with wave.open(name, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(x.astype("<i2").tobytes())
        proc = self.play(name)

        def cleanup() -> None:
            proc.wait()
            Path(name).unlink(missing_ok=True)

        threading.Thread(target=cleanup, daemon=True).start()
        return proc


def _pactl(*args: str, check: bool = True) -> str:
    res = subprocess.run(["pactl", *args], check=False, capture_output=True, text=True, timeout=10)
    if check and res.returncode != 0:
        raise RuntimeError(f"pactl {' '.join(args)} failed: {res.stderr.strip()}")
    return res.stdout


def _running() -> bool:
    try:
        return subprocess.run(["pactl", "info"], check=False,
                              capture_output=True, timeout=5).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _has_sink(name: str) -> bool:
    return any(line.split("\t")[1] == name
               for line in _pactl("list", "short", "sinks").splitlines() if "\t" in line)


def _load_null_sink(name: str) -> int:
    return int(_pactl("load-module", "module-null-sink", f"sink_name={name}").strip())


def _rescan_portaudio() -> None:
    """Make an already initialized PortAudio see the server that has just started.

    PortAudio lists devices once, when ``sounddevice`` is imported; ALSA's ``pulse`` and
    ``default`` devices only appear in that list while a server answers. Re-initializing is
    safe here because no test holds a stream open while a fixture starts the server.
    """
    sd = sys.modules.get("sounddevice")
    if sd is not None:
        sd._terminate()
        sd._initialize()


def ensure_pulse(sink: str = SINK) -> Pulse:
    """PulseAudio up with null sink ``sink`` as default sink and its monitor as default source."""
    for tool in ("pulseaudio", "pactl", "paplay"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (apt install pulseaudio pulseaudio-utils)")
    if not _running():
        res = subprocess.run(
            ["pulseaudio", "-D", "--exit-idle-time=-1", "-n",
             "--load=module-native-protocol-unix", f"--load=module-null-sink sink_name={sink}"],
            check=False, capture_output=True, text=True, timeout=20)
        deadline = time.monotonic() + 10
        while not _running():
            if time.monotonic() > deadline:
                pytest.skip(f"pulseaudio would not start: {res.stderr.strip()[-300:]}")
            time.sleep(0.1)
        _rescan_portaudio()
    if not _has_sink(sink):
        _load_null_sink(sink)
    _pactl("set-default-sink", sink)
    _pactl("set-default-source", f"{sink}.monitor")
    return Pulse(sink)


@contextmanager
def private_sink() -> Iterator[Pulse]:
    """A null sink for this process alone; PULSE_SINK/PULSE_SOURCE point at it meanwhile.

    libpulse reads those variables when a client connects, so streams opened inside the
    block (PortAudio's default device included) play into and record from this sink.
    """
    ensure_pulse()
    name = f"vc_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    module = _load_null_sink(name)
    saved = {k: os.environ.get(k) for k in ("PULSE_SINK", "PULSE_SOURCE")}
    os.environ["PULSE_SINK"], os.environ["PULSE_SOURCE"] = name, f"{name}.monitor"
    try:
        yield Pulse(name)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _pactl("unload-module", str(module), check=False)


@pytest.fixture(scope="session")
def pulse() -> Pulse:
    """Session fixture: PulseAudio running with the shared ``vc_test`` null sink."""
    return ensure_pulse()
