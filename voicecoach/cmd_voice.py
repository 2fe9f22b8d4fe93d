"""CLI commands for the voice: ``say`` and ``voices`` (registered on the main group)."""

from __future__ import annotations

from pathlib import Path

import click

from voicecoach.events import Event
from voicecoach.mic import parse_device
from voicecoach.mixer import NoOutputDevice
from voicecoach.tts import ENGINES, TtsError, TtsSettings, list_voices
from voicecoach.voice import build_voice


def tts_options(f):  # type: ignore[no-untyped-def]
    """--tts/--voice/--rate, shared by every command that speaks."""
    f = click.option(
        "--rate", type=click.IntRange(60, 400), default=170, show_default=True,
        help="Speaking rate (words per minute).",
    )(f)
    f = click.option(
        "--voice", default=None,
        help="Voice id (see `voicecoach voices`), Piper voice package or .onnx file.",
    )(f)
    f = click.option(
        "--tts", type=click.Choice(ENGINES), default="pyttsx3", show_default=True,
        help="Speech engine for the coach's voice.",
    )(f)
    return f


@click.command()
@click.argument("text")
@tts_options
@click.option(
    "--out", type=click.Path(dir_okay=False, writable=True, path_type=Path), default=None,
    help="Write the speech to this WAV file instead of playing it.",
)
@click.option("--device", default=None, help="Output device (index or name substring).")
def say(text: str, tts: str, voice: str | None, rate: int, out: Path | None,
        device: str | None) -> None:
    """Speak TEXT with the coach's voice (through the phrase cache)."""
    if not text.strip():
        raise click.BadParameter("give some words to say", param_hint="TEXT")
    dev = parse_device(device)
    try:
        sink = build_voice(TtsSettings(tts, voice, rate), out=out, texts=[text], device=dev)
        sink(Event(0.0, "cue", {"text": text}))
        sink.close()
    except (TtsError, NoOutputDevice) as e:
        raise click.ClickException(str(e)) from e
    if out is not None:
        click.echo(f"wrote {out}", err=True)


@click.command()
def voices() -> None:
    """List the speech engines and their voices."""
    for engine, found in list_voices().items():
        if isinstance(found, str):
            click.echo(f"{engine}: unavailable ({found})")
            continue
        click.echo(f"{engine}: {len(found)} voices (pass one with --tts {engine} --voice ID)")
        for v in found:
            lang = f"  [{v.language}]" if v.language else ""
            click.echo(f"  {v.id:<24} {v.name}{lang}")
