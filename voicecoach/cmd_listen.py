"""`voicecoach listen`: print each command heard, from a WAV file or the microphone."""

from __future__ import annotations

import json
import logging

import click

from .asr import ENGINES, AsrError, make_recognizer
from .lang import LANGUAGES

log = logging.getLogger(__name__)


@click.command("listen")
@click.option("--file", "file", type=click.Path(dir_okay=False), default=None,
              help="Read this WAV file (any PCM layout; runs faster than real time).")
@click.option("--engine", type=click.Choice(ENGINES), default="auto", show_default=True,
              help="Recognizer: vosk when a model for the language is installed, else pocketsphinx.")
@click.option("--lang", type=click.Choice(LANGUAGES), default="en", show_default=True)
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per command: t_ms, intent, phrase, confidence, engine.")
def listen(file: str | None, engine: str, lang: str, as_json: bool) -> None:
    """Print each command heard."""
    try:
        from .mic import AudioInputError, open_input
    except ImportError as e:  # pragma: no cover - mic is part of the package
        raise click.ClickException(f"audio input is not available: {e}") from e
    try:
        rec = make_recognizer(lang, engine)
        source = open_input(file)
    except (AsrError, AudioInputError) as e:
        raise click.ClickException(str(e)) from e
    if file is None and not as_json:
        click.echo(f"Listening ({rec.engine}, {lang}); Ctrl-C to stop.", err=True)
    try:
        with source:
            for hyp in rec(source):
                if hyp.lead_ms is not None:
                    continue  # a phrase after other sounds: believed only over the coach
                if as_json:
                    click.echo(json.dumps(hyp.as_json(), ensure_ascii=False))
                else:
                    click.echo(
                        f"{hyp.t_ms / 1000:8.2f}s  {hyp.intent:<12} {hyp.phrase!r}"
                        f"  ({hyp.engine}, {hyp.confidence:.2f})"
                    )
    except (AsrError, AudioInputError) as e:
        raise click.ClickException(str(e)) from e
    except KeyboardInterrupt:
        click.echo("", err=True)
