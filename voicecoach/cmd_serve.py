"""`voicecoach serve`: standby on a Raspberry Pi speaker; the start phrase begins a session.

Standby listens with a grammar of the start phrase alone (default "start workout"; a single
word such as "computer" works too), runs a whole session as `start` does, and goes back to
standby. SIGTERM (systemd) or Ctrl-C ends it cleanly at any moment: a running session is
ended and saved first. The same config keys and flags as `start` apply to each session.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

import click

from .asr import AsrError, Recognizer
from .handsfree import check_microphone, terminate_as_interrupt
from .intents import Intent, PhraseTable
from .mic import AudioInputError, Microphone, MicSettings, parse_device
from .models import ModelError
from .recproc import RecognizerProcess, RecognizerSpec

log = logging.getLogger(__name__)

RETRY_S = 2.0
"""How often standby tries a lost microphone again (seconds)."""


def standby_recognizer(lang: str, engine: str, model: str | None, phrase: str) -> Recognizer:
    """A recognizer (in its own process) for the start phrase alone."""
    table = PhraseTable.of(lang, {Intent.START: [phrase]})
    try:
        return RecognizerProcess(RecognizerSpec(lang, engine, Path(model) if model else None,
                                                table))
    except (AsrError, ModelError) as exc:
        raise click.ClickException(f"start phrase {phrase!r}: {exc}") from None


def wait_for_start(recognizer: Recognizer, device: int | str | None,
                   stopped: threading.Event) -> bool:
    """Listen until the start phrase is heard (True) or the user stops serve (False)."""
    lost = False
    while not stopped.is_set():
        try:
            with Microphone(MicSettings(device=device)) as mic:
                if lost:
                    click.echo("The microphone is back.", err=True)
                    lost = False
                for hyp in recognizer(mic):
                    if hyp.intent is Intent.START and hyp.lead_ms is None:
                        log.info("start phrase heard (%s, %.2f)", hyp.phrase, hyp.confidence)
                        return True
            raise AudioInputError("the microphone stream ended")
        except AudioInputError as exc:
            if not lost:
                click.echo(f"Microphone lost ({exc}); trying again every {RETRY_S:g} s.",
                           err=True)
                lost = True
            time.sleep(RETRY_S)
        except KeyboardInterrupt:
            stopped.set()
    return False


def serve_command() -> click.Command:
    from .cli import (
        DB_OPTION,
        close_recognizer,
        live_options,
        make_plan,
        open_recognizer,
        open_recorder,
        plan_options,
        run_start,
        sound_devices_missing,
        voice_options,
    )

    @click.command("serve")
    @plan_options
    @voice_options
    @live_options
    @DB_OPTION
    @click.option("--start-phrase", default="start workout", show_default=True,
                  metavar="PHRASE", help="What to say to start a session (a single word "
                  "such as 'computer' works too).")
    @click.option("--once", is_flag=True, help="Return after one session (for checks).")
    def serve(db: Path | None, start_phrase: str, once: bool, **opts: Any) -> None:
        """Standby: say the start phrase to begin a session; back to standby after it.

        For a Raspberry Pi speaker (see the README for the systemd unit). SIGTERM or
        Ctrl-C ends it cleanly; a running session is saved first.
        """
        why = sound_devices_missing()
        if why is None:
            why = check_microphone(parse_device(opts["input_device"]))
        if why is not None:
            raise click.ClickException(f"serve needs a speaker and a microphone: {why}")
        base, override = make_plan(opts)
        standby = standby_recognizer(base.lang, opts["engine"], opts["model"], start_phrase)
        try:
            recognizer = open_recognizer(base, opts["engine"], opts["model"], live=True)
        except click.ClickException:
            close_recognizer(standby)
            raise
        device = parse_device(opts["input_device"])
        stopped = threading.Event()
        try:
            with terminate_as_interrupt(stopped):
                while not stopped.is_set():
                    click.echo(f"Standby: say {start_phrase!r} to start "
                               f"({recognizer.engine}).", err=True)
                    if not wait_for_start(standby, device, stopped):
                        break
                    recorder = open_recorder(db, opts)
                    try:
                        run_start(recorder, base, override, False, recognizer, None, opts)
                    except KeyboardInterrupt:
                        stopped.set()
                    finally:
                        summary = recorder.close()
                    if summary:
                        click.echo(summary, nl=False)
                    if once:
                        break
        finally:
            close_recognizer(standby)
            close_recognizer(recognizer)
        click.echo("voicecoach serve stopped.", err=True)

    return serve
