"""``voicecoach models list | install NAME [--from-zip FILE] | path``."""

from __future__ import annotations

from pathlib import Path

import click

from voicecoach.models import ModelError, list_models, models_dir, search_dirs


def _human(n: int | None) -> str:
    if n is None:
        return "?"
    size = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover


@click.group("models")
def models() -> None:
    """Speech models: list, install, and where they live."""


@models.command("list")
def list_cmd() -> None:
    """Show installed vosk models and the ones that can be installed."""
    rows = list_models()
    installed = [r for r in rows if r.installed]
    available = [r for r in rows if not r.installed]
    click.echo("Installed:" if installed else "Installed: none")
    for r in installed:
        state = f"BROKEN: {r.problem}" if r.problem else "ok"
        click.echo(f"  {r.name:32} {r.lang or '?':4} {_human(r.size):>9}  {state}")
        click.echo(f"    {r.path}  ({r.source})")
    if available:
        click.echo("Installable (voicecoach models install NAME):")
        for r in available:
            click.echo(f"  {r.name:32} {r.lang or '?':4} {_human(r.size):>9}  {r.source}")
    click.echo("PocketSphinx's English model ships with the pocketsphinx package.")


@models.command("install")
@click.argument("name", required=False)
@click.option("--from-zip", "zip_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Install from a zip already on this machine (offline).")
@click.option("--lang", help="Language code of a zip voicecoach does not know (e.g. en).")
def install_cmd(name: str | None, zip_path: Path | None, lang: str | None) -> None:
    """Download NAME (a model name or a language code such as en), check it, unpack it."""
    from voicecoach import modelinstall

    if name is None and zip_path is None:
        raise click.UsageError("give a model NAME (see `voicecoach models list`) "
                               "or --from-zip FILE")
    try:
        if zip_path is not None:
            path = modelinstall.install_from_zip(zip_path, name, lang=lang)
        else:
            path = _download_with_bar(name or "")
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"installed {path}")


def _download_with_bar(name: str) -> Path:
    """Install ``name``, drawing download progress on stderr."""
    from voicecoach import modelinstall

    shown = [-2]

    def progress(done: int, total: int | None) -> None:
        pct = int(100 * done / total) if total else None
        if pct is not None and pct == shown[0] and done != total:
            return
        shown[0] = pct if pct is not None else -1
        if total:
            filled = int(30 * done / total)
            line = f"[{'#' * filled}{'.' * (30 - filled)}] {_human(done)} / {_human(total)}"
        else:
            line = f"{_human(done)} downloaded"
        click.echo(f"\rdownloading {line}", err=True, nl=False)

    try:
        return modelinstall.install(name, progress=progress)
    finally:
        if shown[0] != -2:
            click.echo("", err=True)


@models.command("path")
@click.option("--all", "show_all", is_flag=True, help="Also show every folder searched.")
def path_cmd(show_all: bool) -> None:
    """Print the models dir (override with VOICECOACH_MODELS_DIR)."""
    if not show_all:
        click.echo(str(models_dir()))
        return
    for folder, label in search_dirs():
        click.echo(f"{folder}\t{label}")
    click.echo("(then Python packages named vosk-model-*)")


@click.command("devices")
def devices() -> None:
    """List audio devices (index, name, input/output channels, default rate)."""
    from voicecoach.mic import AudioInputError, list_devices

    try:
        found = list_devices()
    except AudioInputError as exc:
        raise click.ClickException(str(exc)) from exc
    if not any(d.inputs for d in found):
        click.echo("no input device (microphone) found", err=True)
    for d in found:
        click.echo(f"{d.index:3} {d.name:40} in {d.inputs:2}  out {d.outputs:2}  "
                   f"{d.default_rate:.0f} Hz")
