"""Click commands over the journal: ``history``, ``progress``, ``export``.

The main CLI registers them: ``for c in COMMANDS: cli.add_command(c)``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .chart import draw
from .journal import Journal, JournalError
from .profile import DEFAULT_USER, SessionRecord
from .reports import EXPORT_FORMATS, ReportError, chart_points, export, terminal_chart
from .reports import write_history as _write_history

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


def journal_options(f: F) -> F:
    """``--db PATH`` and ``--user NAME``, shared by every journal command."""
    f = click.option(
        "--user", default=DEFAULT_USER, show_default=True, metavar="NAME",
        help="Whose journal entries to use.",
    )(f)
    f = click.option(
        "--db", "db", type=click.Path(dir_okay=False, path_type=Path), default=None,
        metavar="PATH", help="Journal file (default: in your user data folder).",
    )(f)
    return f


def _sessions(db: Path | None, user: str) -> list[SessionRecord]:
    try:
        journal = Journal(db)
    except JournalError as exc:
        raise click.ClickException(str(exc)) from exc
    try:  # a damaged file was already moved aside with a logged warning
        return journal.sessions(user)
    except JournalError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        journal.close()


@click.command("history")
@journal_options
def history(db: Path | None, user: str) -> None:
    """Show past sessions: date, variation, stop point, sets, perfect reps, pain stops."""
    out = io.StringIO()
    _write_history(_sessions(db, user), out)
    click.echo(out.getvalue(), nl=False)


@click.command("progress")
@journal_options
@click.option(
    "--png", "png", type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None, metavar="FILE", help="Write a PNG chart to FILE instead of the terminal chart.",
)
def progress(db: Path | None, user: str, png: Path | None) -> None:
    """Chart perfect reps per session and the level (variation, stop point) over time."""
    sessions = _sessions(db, user)
    if png is None:
        for line in terminal_chart(sessions).lines:
            click.echo(line)
        return
    if not sessions:
        raise click.ClickException(f"no sessions for user {user!r} yet: nothing to chart")
    chart = draw(chart_points(sessions))
    try:
        with png.open("wb") as f:
            chart.write(f)
    except OSError as exc:
        raise click.ClickException(f"cannot write {png}: {exc.strerror}") from exc
    click.echo(f"Wrote {png} ({len(sessions)} sessions, {chart.width}x{chart.height}).")


@click.command("export")
@journal_options
@click.option(
    "--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="csv", show_default=True,
    help="csv: one row per session; json: sessions with their sets.",
)
@click.option(
    "--output", "-o", type=click.File("w", encoding="utf-8"), default="-", metavar="FILE",
    help="Where to write (default: standard output).",
)
def export_cmd(db: Path | None, user: str, fmt: str, output: Any) -> None:
    """Export the journal as CSV or JSON."""
    try:
        export(_sessions(db, user), fmt, output)
    except ReportError as exc:
        raise click.ClickException(str(exc)) from exc


COMMANDS: tuple[click.Command, ...] = (history, progress, export_cmd)
