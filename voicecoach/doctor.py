"""`voicecoach doctor`: check every part the coach needs and say what to fix.

Each check returns a Finding; a check never raises, so one broken part cannot hide
the report on the others.
"""

from __future__ import annotations

import logging
import math
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: A microphone quieter than this (dBFS RMS over the test second) hears nothing.
SILENT_DBFS = -75.0


@dataclass(frozen=True)
class Finding:
    part: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "ok " if self.ok else "FIX"
        text = f"[{mark}] {self.part}: {self.detail}"
        return text + (f"\n      -> {self.fix}" if self.fix else "")


def check_devices() -> Iterator[Finding]:
    try:
        from .mic import list_devices

        devices = list_devices()
    except Exception as exc:  # PortAudio missing or broken
        yield Finding("audio devices", False, f"the audio system is not available ({exc})",
                      "install PortAudio: sudo apt-get install libportaudio2")
        return
    outs = [d for d in devices if d.outputs > 0]
    ins = [d for d in devices if d.inputs > 0]
    yield Finding("speaker", bool(outs),
                  f"{len(outs)} output device(s)" if outs else "no output device",
                  "" if outs else "plug in a speaker, or use --text / --out FILE.wav")
    yield Finding("microphone", bool(ins),
                  f"{len(ins)} input device(s)" if ins else "no input device",
                  "" if ins else "plug in a USB microphone; `voicecoach devices` lists them")


def check_mic_level(seconds: float = 1.0, device: int | str | None = None) -> Finding:
    try:
        import numpy as np

        from .mic import MicSettings, Microphone

        got: list[bytes] = []
        deadline = time.monotonic() + seconds + 3.0
        with Microphone(MicSettings(device=device)) as mic:
            for block in mic:
                got.append(bytes(block))
                if sum(len(b) for b in got) >= seconds * 32000 or time.monotonic() > deadline:
                    break
        samples = np.frombuffer(b"".join(got), dtype="<i2").astype(np.float64) / 32768.0
    except Exception as exc:
        return Finding("microphone level", False, f"cannot record ({exc})",
                       "check the input device with `voicecoach devices` and `arecord -l`")
    if samples.size == 0:
        return Finding("microphone level", False, "the microphone delivered no audio",
                       "check the input device and its mute switch (alsamixer)")
    rms = float(np.sqrt(np.mean(samples**2)))
    dbfs = 20 * math.log10(rms) if rms > 0 else -math.inf
    if dbfs < SILENT_DBFS:
        return Finding("microphone level", False, f"{dbfs:.0f} dBFS: silent",
                       "unmute the microphone and raise its level (alsamixer, F4)")
    return Finding("microphone level", True, f"{dbfs:.0f} dBFS over {seconds:g} s")


def check_speech_out() -> Iterator[Finding]:
    from .tts import TtsError, TtsSettings, list_voices, make_synth

    for engine, found in list_voices().items():
        if isinstance(found, str):
            optional = engine == "piper"
            yield Finding(f"speech out ({engine})", optional,
                          f"unavailable: {found}" + (" (optional)" if optional else ""),
                          "" if optional else "sudo apt-get install espeak-ng libespeak-ng1")
            continue
        try:
            samples, rate = make_synth(TtsSettings(engine)).render("Ready.")
            yield Finding(f"speech out ({engine})", len(samples) > rate // 10,
                          f"{len(found)} voices; a test phrase rendered")
        except TtsError as exc:
            yield Finding(f"speech out ({engine})", False, str(exc))


def check_speech_in() -> Iterator[Finding]:
    try:
        import pocketsphinx  # noqa: F401

        yield Finding("speech in (pocketsphinx)", True, "English model inside the package")
    except ImportError:
        yield Finding("speech in (pocketsphinx)", False, "not installed",
                      "run `bash scripts/setup` again")
    try:
        from .models import list_models

        installed = [m for m in list_models() if m.installed]
    except Exception as exc:
        yield Finding("speech in (vosk models)", False, f"cannot list models ({exc})")
        return
    if not installed:
        yield Finding("speech in (vosk models)", True,
                      "none installed; English uses pocketsphinx",
                      "optional: `voicecoach models install en` for better accuracy")
    for m in installed:
        yield Finding(f"vosk model {m.name}", m.problem is None,
                      f"{m.lang}, {m.path}" if m.problem is None else m.problem,
                      "" if m.problem is None else f"reinstall: voicecoach models install {m.name}")


def check_cache() -> Finding:
    from .phrasecache import default_cache_dir

    path = default_cache_dir()
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as exc:
        return Finding("phrase cache", False, f"{path} is not writable ({exc.strerror})",
                       "free some disk space or fix the folder's permissions")
    clips = sum(1 for _ in path.rglob("*.wav"))
    return Finding("phrase cache", True, f"{path} ({clips} clips)")


def check_journal(db: Path | None) -> Finding:
    from .journal import Journal, JournalError

    try:
        journal = Journal(db)
    except JournalError as exc:
        return Finding("journal", False, str(exc))
    try:
        moved = journal.moved_aside
        sessions = len(journal.sessions())
    except JournalError as exc:
        return Finding("journal", False, str(exc))
    finally:
        journal.close()
    if moved is not None:
        return Finding("journal", True, f"{journal.path}: was damaged, moved to {moved}; "
                       "a new one was started")
    return Finding("journal", True, f"{journal.path} ({sessions} sessions)")


def run(db: Path | None = None, listen_s: float = 1.0) -> list[Finding]:
    findings: list[Finding] = []
    devices = list(check_devices())
    findings += devices
    checks: list[Callable[[], object]] = []
    if any(f.part == "microphone" and f.ok for f in devices) and listen_s > 0:
        checks.append(lambda: check_mic_level(listen_s))
    checks += [check_speech_out, check_speech_in, check_cache, lambda: check_journal(db)]
    for check in checks:
        try:
            result = check()
        except Exception as exc:  # a check must never hide the others
            log.debug("check failed", exc_info=True)
            findings.append(Finding(getattr(check, "__name__", "check"), False, str(exc)))
            continue
        if isinstance(result, Finding):
            findings.append(result)
        else:
            findings.extend(result)  # type: ignore[call-overload]
    return findings
