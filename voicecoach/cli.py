"""Command line: `voicecoach start`, `replay`, and the tools around them.

Errors become one-line click errors here, at the boundary; the core raises its own.
"""

from __future__ import annotations

import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import click
from rich.console import Console

from . import __version__, config
from .app import LevelOverride, Recorder
from .asr import ENGINES as ASR_ENGINES
from .asr import AsrError, Recognizer, make_recognizer
from .asr.echo import EchoGuard
from .cmd_voice import tts_options
from .coach import Coach, Plan, estimate_speech_s, speakable_texts
from .echopath import EchoReference
from .handsfree import open_hearing, terminate_as_interrupt
from .intents import PhraseTable
from .knowledge import STOP_POINTS, VARIATION_SLUGS, Level
from .lang import LANGUAGES, tts_voice
from .live import EchoSink, run_live, run_mic_replay
from .mic import AudioInputError, WavSource, parse_device
from .mixer import NoOutputDevice
from .models import ModelError
from .phrasecache import PhraseCache
from .profile import DEFAULT_USER
from .recproc import RecognizerProcess, RecognizerSpec
from .runner import (
    ScriptError,
    ScriptLine,
    Session,
    Sink,
    parse_script,
    run_realtime,
    run_virtual,
)
from .sinks import JsonLines, Transcript
from .tts import TtsError, TtsSettings
from .view import LiveView
from .voice import AHEAD_S, VoiceSink, build_voice

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

PLAN_OPTIONS: list[Callable[[F], F]] = [
    click.option("--sets", type=click.IntRange(1, 10), default=3, show_default=True,
                 help="Sets in the session."),
    click.option("--reps", type=click.IntRange(1, 50), default=10, show_default=True,
                 help="Perfect reps per set."),
    click.option("--rest", "rest_s", type=click.FloatRange(0, 600), default=60.0,
                 show_default=True, help="Rest between sets (seconds)."),
    click.option("--lift", "lift_s", type=click.FloatRange(0.5, 10), default=2.0,
                 show_default=True, help="Lift time (seconds)."),
    click.option("--hold", "hold_s", type=click.FloatRange(0, 10), default=1.0,
                 show_default=True, help="Hold at the top (seconds)."),
    click.option("--lower", "lower_s", type=click.IntRange(2, 5), default=None,
                 help="Lowering time (seconds) [default: where you left off, else 3]."),
    click.option("--variation", type=click.Choice(VARIATION_SLUGS), default=None,
                 help="Exercise variation, easiest first [default: where you left off, "
                 "else bent-knee]."),
    click.option("--stop", "stop_deg", type=click.Choice([str(s) for s in STOP_POINTS]),
                 default=None, help="Stop point: leg angle above the floor at the bottom "
                 "(5 = hover) [default: where you left off, else 45]."),
    click.option("--lang", type=click.Choice(LANGUAGES), default="en", show_default=True,
                 help="Language of the coach and of the commands."),
    click.option("--user", default=DEFAULT_USER, show_default=True, metavar="NAME",
                 help="Whose profile and journal to use."),
    click.option("--mass", "body_mass_kg", type=click.FloatRange(20, 400), default=None,
                 metavar="KG", help="Your body mass (kg), remembered, for the energy estimate."),
]


def plan_options(fn: F) -> F:
    for option in reversed(PLAN_OPTIONS):
        fn = option(fn)
    return fn


def make_plan(opts: dict[str, Any]) -> tuple[Plan, LevelOverride]:
    """The plan with default level, and the level fields the user gave."""
    override = LevelOverride(
        opts["variation"],
        None if opts["stop_deg"] is None else int(opts["stop_deg"]),
        None if opts["lower_s"] is None else float(opts["lower_s"]),
    )
    plan = Plan(
        sets=opts["sets"],
        reps=opts["reps"],
        rest_s=opts["rest_s"],
        lift_s=opts["lift_s"],
        hold_s=opts["hold_s"],
        level=override.apply(Level()),
        lang=opts["lang"],
    )
    return plan, override


def open_recorder(
    db: Path | None, opts: dict[str, Any], started_at: datetime | None = None
) -> Recorder:
    return Recorder(db, opts["user"], started_at=started_at, body_mass_kg=opts["body_mass_kg"])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="voicecoach")
@click.option("--debug", is_flag=True, help="Log what happens inside (to stderr).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, metavar="PATH",
              help="Config file [default: config.toml in your user config folder].")
@click.pass_context
def cli(ctx: click.Context, debug: bool, config_path: Path | None) -> None:
    """voicecoach: an offline, hands-free voice coach for the leg raise."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        defaults = config.load(config_path)
    except config.ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    # Every key of the file is the default of the flag of the same meaning.
    ctx.default_map = {name: defaults for name in cli.commands}


def _stdin_lines(q: queue.Queue[Any], stream: IO[str], eof_ends: bool = True) -> None:
    """Typed lines onto the input queue; None at the end when that ends the session."""
    try:
        for line in stream:
            q.put(line)
    except (OSError, ValueError):  # no usable stdin (closed, or a service's /dev/null)
        pass
    if eof_ends:
        q.put(None)


def sound_devices_missing() -> str | None:
    """Why there is no usable speaker, or None when there is one."""
    try:
        import sounddevice as sd

        devices = sd.query_devices()
    except Exception as exc:  # PortAudio missing or broken: say why, fall back
        return f"the audio system is not available ({exc})"
    if not any(d["max_output_channels"] > 0 for d in devices):
        return "no sound output device was found"
    return None


VOICE_OPTIONS: list[Callable[[F], F]] = [
    click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                 metavar="FILE.wav", help="Write exactly what the speaker would play to a WAV."),
    click.option("--tick", is_flag=True, help="A soft tick on each beat instead of spoken counts."),
    click.option("--output-device", default=None, metavar="DEVICE",
                 help="Speaker: index or name substring (see `voicecoach devices`)."),
]


def voice_options(fn: F) -> F:
    for option in reversed(VOICE_OPTIONS):
        fn = option(fn)
    return tts_options(fn)  # type: ignore[no-any-return]


class _RenderProgress:
    """A progress bar for rendering the phrase cache, shown only when there is work."""

    def __init__(self) -> None:
        self.bar: Any = None

    def __call__(self, done: int, total: int, text: str) -> None:
        if self.bar is None and done < total:
            self.bar = click.progressbar(length=total, label="Preparing the coach's voice",
                                         file=sys.stderr)
            self.bar.__enter__()
        if self.bar is not None:
            self.bar.update(done - self.bar.pos)
            if done >= total:
                self.bar.__exit__(None, None, None)
                self.bar = None
                if not sys.stderr.isatty():
                    click.echo(" done.", err=True)


def tts_settings(lang: str, opts: dict[str, Any]) -> TtsSettings:
    """The coach's voice settings from the --tts/--voice/--rate options, for ``lang``."""
    return TtsSettings(opts["tts"], tts_voice(lang, opts["tts"], opts["voice"]), opts["rate"])


def open_voice(plan: Plan, opts: dict[str, Any], to_device: bool) -> VoiceSink | None:
    """The coach's voice: the speaker, a WAV (--out), or None (text only)."""
    out = opts["out"]
    if not to_device and out is None:
        return None
    device = opts["output_device"]
    if out is not None:
        try:
            out.open("wb").close()  # fail here, clearly, rather than deep in the WAV writer
        except OSError as exc:
            raise click.ClickException(f"cannot write {out}: {exc.strerror}") from None
    try:
        settings = tts_settings(plan.lang, opts)
        return build_voice(
            settings,
            out=out,
            texts=speakable_texts(plan),
            tick=opts["tick"],
            device=parse_device(device),
            progress=_RenderProgress(),
        )
    except (TtsError, NoOutputDevice) as exc:
        raise click.ClickException(str(exc)) from None


def rendered_clips(plan: Plan, opts: dict[str, Any]) -> PhraseCache | None:
    """The coach's clips as its speaker played them, so a recorded microphone can have the
    coach's own voice removed, and each line last as long, as live; None (with a warning)
    when they cannot be rendered."""
    try:
        settings = tts_settings(plan.lang, opts)
        cache = PhraseCache(settings)
        cache.ensure(speakable_texts(plan), progress=_RenderProgress())
    except TtsError as exc:
        log.warning("the coach's voice cannot be rendered (%s): no echo cancellation", exc)
        return None
    return cache


DB_OPTION = click.option(
    "--db", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="PATH",
    help="Journal file [default: in your user data folder].")


HEARING_OPTIONS: list[Callable[[F], F]] = [
    click.option("--engine", type=click.Choice(ASR_ENGINES), default="auto", show_default=True,
                 help="Speech recognizer (auto: vosk when a model for the language is "
                 "installed, else pocketsphinx)."),
    click.option("--model", default=None, metavar="DIR",
                 help="A vosk model folder [default: the installed model for the language]."),
]


def hearing_options(fn: F) -> F:
    for option in reversed(HEARING_OPTIONS):
        fn = option(fn)
    return fn


LIVE_OPTIONS: list[Callable[[F], F]] = [
    click.option("--listen/--no-listen", default=True, show_default=True,
                 help="Hear spoken commands through the microphone."),
    click.option("--input-device", default=None, metavar="DEVICE",
                 help="Microphone: index or name substring (see `voicecoach devices`)."),
    click.option("--record-mic", type=click.Path(dir_okay=False, path_type=Path),
                 default=None, metavar="FILE.wav",
                 help="Save what the microphone heard, for `voicecoach replay FILE.wav`."),
]


def live_options(fn: F) -> F:
    for option in reversed(LIVE_OPTIONS):
        fn = option(fn)
    return hearing_options(fn)


@cli.command()
@plan_options
@voice_options
@live_options
@DB_OPTION
@click.option("--text", "text_mode", is_flag=True,
              help="Print cues and counts and read typed commands (no speaker, no microphone).")
@click.option("--events", "events_file", type=click.File("w"),
              help="Also write every event as a JSON line to this file.")
def start(text_mode: bool, events_file: IO[str] | None, db: Path | None, **opts: Any) -> None:
    """Start a coaching session (saved in your journal as it goes).

    The coach speaks through the speaker and listens for your commands; typed commands
    (press Enter) work too. Ctrl-C ends the session, saved.
    """
    base, override = make_plan(opts)
    if not text_mode:
        why = sound_devices_missing()
        if why is not None:
            click.echo(f"Starting in text mode: {why}. Type commands and press Enter.",
                       err=True)
            text_mode = True
    recognizer = None
    if not text_mode and opts["listen"]:
        recognizer = open_recognizer(base, opts["engine"], opts["model"], live=True)
    recorder = open_recorder(db, opts)
    summary = None
    try:
        with terminate_as_interrupt():
            run_start(recorder, base, override, text_mode, recognizer, events_file, opts)
    finally:
        summary = recorder.close()
        close_recognizer(recognizer)
    if summary:
        click.echo(summary, nl=False)


def close_recognizer(recognizer: Recognizer | None) -> None:
    close = getattr(recognizer, "close", None)
    if close is not None:
        close()


def run_start(recorder: Recorder, base: Plan, override: LevelOverride, text_mode: bool,
              recognizer: Recognizer | None, events_file: IO[str] | None,
              opts: dict[str, Any]) -> None:
    """One session of `start` (or of `serve`), recorded by ``recorder``."""
    plan = recorder.plan(base, override)
    voice = open_voice(plan, opts, to_device=not text_mode)
    hearing = None
    if voice is not None and recognizer is not None:
        try:
            hearing, why = open_hearing(recognizer, voice, opts["input_device"],
                                        opts["record_mic"])
        except AudioInputError as exc:
            voice.close()
            raise click.ClickException(str(exc)) from None
        if why is not None:
            click.echo(f"Listening is off: {why}. Type commands and press Enter.", err=True)
    view = None
    if voice is not None and not text_mode and sys.stdout.isatty():
        view = LiveView(plan.lang, Console(), plan=plan)
        if hearing is None:
            view.mic_state("off")
    sinks: list[Sink] = [Transcript(view.stream if view is not None else sys.stdout)]
    if view is not None:
        sinks.append(view)
    if events_file is not None:
        sinks.append(JsonLines(events_file))
    if hearing is not None:
        sinks += hearing.sinks
    if voice is not None:
        sinks.append(voice)
    journal_sink = recorder.open_sink(plan)
    if journal_sink is not None:
        sinks.append(journal_sink)
    coach = Coach(plan, speech_s=voice.cache.duration_s if voice else None)
    session = Session(coach, PhraseTable.for_lang(plan.lang), sinks)
    inputs: queue.Queue[Any] = queue.Queue()
    # With a speaker, the end of typed input (none at all, under a service) is not the end
    # of the session: the coach counts on and listens.
    eof_ends = voice is None or text_mode
    threading.Thread(target=_stdin_lines, args=(inputs, sys.stdin, eof_ends),
                     daemon=True).start()
    if voice is not None and not text_mode:
        clock = lambda: voice.clock(ahead_s=AHEAD_S)
    else:
        t0 = time.monotonic()
        clock = lambda: time.monotonic() - t0
    try:
        if view is not None:
            view.start()
        if hearing is not None:
            assert voice is not None  # hearing needs the voice's clips and clock
            listener = hearing.listener(inputs, voice.clock,
                                        on_level=view.level if view else None,
                                        on_state=view.mic_state if view else None)
            run_live(session, listener, clock, hearing.guard, inputs)
        else:
            run_realtime(session, inputs, clock)
    finally:
        if view is not None:
            view.stop()
        if hearing is not None:
            hearing.close()
        if voice is not None:
            voice.close()


def open_recognizer(plan: Plan, engine: str, model: str | None = None,
                    live: bool = False) -> Recognizer:
    """The recognizer; ``live``: in its own process, so it never holds up the audio."""
    try:
        if live:
            return RecognizerProcess(
                RecognizerSpec(plan.lang, engine, Path(model) if model else None))
        return make_recognizer(plan.lang, engine, Path(model) if model else None)
    except (AsrError, ModelError) as exc:
        raise click.ClickException(str(exc)) from None


def _is_wav(path: Path) -> bool:
    with path.open("rb") as f:
        return f.read(4) == b"RIFF"


@cli.command()
@click.argument("script", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@plan_options
@voice_options
@hearing_options
@DB_OPTION
@click.option("--started-at", type=click.DateTime(["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M",
              "%Y-%m-%d"]), default=None, help="Wall-clock start of the replayed session, "
              "for the journal [default: now].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per event.")
def replay(script: Path, as_json: bool, db: Path | None, started_at: datetime | None,
           engine: str, **opts: Any) -> None:
    """Run a session against SCRIPT on a virtual clock, as fast as possible.

    SCRIPT is either a text file of `<seconds> <phrase>` lines (commands typed at those
    session times) or a WAV recording of a microphone (e.g. from `start --record-mic`),
    heard by the recognizer with the session clock driven by the file's samples.
    With --db the session is read from and written to that journal like a real one;
    without it, replays leave your journal alone.
    """
    base, override = make_plan(opts)
    mic_file = _is_wav(script)
    lines: list[ScriptLine] = []
    if not mic_file:
        try:
            with script.open(encoding="utf-8") as f:
                lines = parse_script(f, name=str(script))
        except ScriptError as exc:
            raise click.ClickException(str(exc)) from None
        except UnicodeDecodeError:
            raise click.ClickException(f"{script}: neither a text script nor a WAV") from None
    sinks: list[Sink] = [JsonLines(sys.stdout) if as_json else Transcript(sys.stdout)]
    recorder = None
    plan = replace(base, level=override.apply(base.level), body_mass_kg=opts["body_mass_kg"])
    if db is not None:
        when = started_at.replace(tzinfo=UTC) if started_at else None
        recorder = open_recorder(db, opts, when)
        plan = recorder.plan(base, override)
        journal_sink = recorder.open_sink(plan)
        if journal_sink is not None:
            sinks.append(journal_sink)
    voice = open_voice(plan, opts, to_device=False)
    if voice is not None:
        sinks.append(voice)
    # A recorded microphone heard the coach's real clips: the replayed coach must say the
    # same lines at the same times (and know them, to remove them from the recording).
    clips = voice.cache if voice is not None else rendered_clips(plan, opts) if mic_file else None
    speech_s = clips.duration_s if clips is not None else estimate_speech_s
    guard, reference = EchoGuard(), None
    if mic_file:
        sinks.append(EchoSink(guard, speech_s))
        if clips is not None:
            reference = EchoReference(clips.clip, clips.rate)
            sinks.append(reference)
    coach = Coach(plan, speech_s=speech_s)
    session = Session(coach, PhraseTable.for_lang(plan.lang), sinks)
    try:
        if mic_file:
            recognizer = open_recognizer(plan, engine, opts["model"])
            try:
                with WavSource(script) as source:
                    run_mic_replay(session, recognizer, source, guard, reference)
            except AudioInputError as exc:
                raise click.ClickException(str(exc)) from None
        else:
            run_virtual(session, lines)
    finally:
        if voice is not None:
            voice.close()
        summary = recorder.close() if recorder is not None else None
    if summary and not as_json:
        click.echo(summary, nl=False)


@cli.command()
@DB_OPTION
@click.option("--listen", "listen_s", type=click.FloatRange(0, 10), default=1.0,
              show_default=True, help="Seconds to record for the microphone level (0: skip).")
def doctor(db: Path | None, listen_s: float) -> None:
    """Check the speaker, microphone, speech engines, models, cache and journal."""
    from . import doctor as checks

    findings = checks.run(db, listen_s)
    for finding in findings:
        click.echo(finding.line())
    problems = [f for f in findings if not f.ok]
    click.echo(f"{len(problems)} problem(s) found." if problems else "Everything looks fine.")
    if problems:
        sys.exit(1)


def _register() -> None:
    from .cmd_journal import export_cmd, history, progress
    from .cmd_listen import listen
    from .cmd_models import devices, models
    from .cmd_serve import serve_command
    from .cmd_voice import say, voices

    for command in (say, voices, listen, devices, models, history, progress, export_cmd,
                    serve_command()):
        cli.add_command(command)


_register()


def main() -> None:
    try:
        cli(prog_name="voicecoach")
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(130)
