"""Installing vosk models: download, SHA-256 check, safe and atomic unpack.

Nothing half-unpacked is ever visible: the archive is downloaded and extracted into a hidden
``.installing-<pid>-*`` dir inside the models dir (same filesystem), the result is validated
with ``check_vosk_model``, and only then renamed into place. Any failure removes the hidden
dir; dirs left by a killed process are removed by the next install.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

from voicecoach.models import (
    MARKER,
    ModelError,
    ModelSpec,
    model_lang,
    model_problem,
    primary_lang,
    resolve_spec,
)
from voicecoach.models import models_dir as default_models_dir

log = logging.getLogger(__name__)

Progress = Callable[[int, int | None], None]
"""Called with (bytes done, total bytes or None) while downloading."""

MAX_UNPACKED = 4 * 1024**3  # refuse archives that unpack to more than this (bytes)
MAX_MEMBERS = 20_000
_CHUNK = 256 * 1024


def install(name: str, *, models_dir: str | os.PathLike[str] | None = None,
            progress: Progress | None = None, registry: Mapping[str, ModelSpec] | None = None,
            timeout: float = 60.0) -> Path:
    """Download the registry model ``name`` (or a language code), verify, unpack; its path."""
    spec = resolve_spec(name, registry)
    if spec.sha256 is None:
        raise ModelError(f"{spec.name} has no verified SHA-256, so voicecoach will not "
                         f"download it ({spec.note}); or download {spec.url} yourself and "
                         "run `voicecoach models install --from-zip FILE`")
    with _staging(models_dir) as (target_dir, work):
        archive = work / f"{spec.name}.zip"
        digest = _download(spec.url, archive, progress, timeout)
        if spec.size is not None and archive.stat().st_size != spec.size:
            raise ModelError(f"download of {spec.url} has {archive.stat().st_size} bytes, "
                             f"expected {spec.size}; try again")
        if digest != spec.sha256:
            raise ModelError(f"download of {spec.url} has SHA-256 {digest}, expected "
                             f"{spec.sha256}; the file is corrupt or not the official one. "
                             "Nothing was installed; try again")
        return _unpack_and_commit(archive, work, target_dir, spec.name, spec.lang, spec.sha256)


def install_from_zip(zip_path: str | os.PathLike[str], name: str | None = None, *,
                     lang: str | None = None, models_dir: str | os.PathLike[str] | None = None,
                     registry: Mapping[str, ModelSpec] | None = None) -> Path:
    """Install a model zip copied onto this machine; its installed path.

    The SHA-256 is checked when ``name`` names a registry model, or when the zip's file name
    or size matches one; any other zip is validated structurally only.
    """
    src = Path(zip_path)
    if not src.is_file():
        raise ModelError(f"model zip {src} does not exist")
    spec = resolve_spec(name, registry) if name else _guess_spec(src, registry)
    digest = _sha256(src)
    if spec is not None and spec.sha256 is not None and digest != spec.sha256:
        raise ModelError(f"{src} looks like {spec.name} but its SHA-256 is {digest}, "
                         f"expected {spec.sha256}; the copy is corrupt or a different "
                         f"version. Copy it again from {spec.url}")
    with _staging(models_dir) as (target_dir, work):
        dest_name = spec.name if spec else None
        dest_lang = lang or (spec.lang if spec else None)
        return _unpack_and_commit(src, work, target_dir, dest_name, dest_lang, digest)


def _guess_spec(src: Path, registry: Mapping[str, ModelSpec] | None) -> ModelSpec | None:
    from voicecoach.models import REGISTRY

    reg = REGISTRY if registry is None else registry
    size = src.stat().st_size
    stem = src.name.removesuffix(".zip")
    for spec in reg.values():
        if spec.name == stem or (spec.size is not None and spec.size == size):
            return spec
    return None


class _staging:
    """Context manager: (models dir, private work dir inside it), work dir removed on exit."""

    def __init__(self, override: str | os.PathLike[str] | None) -> None:
        self.target = default_models_dir(override)

    def __enter__(self) -> tuple[Path, Path]:
        try:
            self.target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ModelError(f"cannot create models dir {self.target}: {exc.strerror}; "
                             "set VOICECOACH_MODELS_DIR to a writable folder") from exc
        _remove_stale(self.target)
        self.work = Path(tempfile.mkdtemp(prefix=f".installing-{os.getpid()}-",
                                          dir=self.target))
        return self.target, self.work

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


def _remove_stale(folder: Path) -> None:
    for child in folder.glob(".installing-*"):
        try:
            pid = int(child.name.split("-")[1])
            os.kill(pid, 0)
        except (ValueError, IndexError, ProcessLookupError):
            log.info("removing unfinished install %s", child)
            shutil.rmtree(child, ignore_errors=True)
        except PermissionError:
            pass  # another user's live process


def _download(url: str, dest: Path, progress: Progress | None, timeout: float) -> str:
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, dest.open("wb") as out:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            done = 0
            if progress:
                progress(0, total)
            while chunk := resp.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ModelError(f"cannot download {url}: {reason}; check the network, or copy the "
                         "zip over and use `voicecoach models install --from-zip FILE`") from exc
    if total is not None and done != total:
        raise ModelError(f"download of {url} stopped after {done} of {total} bytes; try again")
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _safe_extract(archive: Path, dest: Path) -> None:
    """Unpack ``archive`` into ``dest``; ModelError on a broken zip or an unsafe member."""
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > MAX_MEMBERS:
                raise ModelError(f"{archive.name} has {len(members)} entries; not a model zip")
            if sum(m.file_size for m in members) > MAX_UNPACKED:
                raise ModelError(f"{archive.name} would unpack to more than "
                                 f"{MAX_UNPACKED // 1024**3} GB; not a model zip")
            for m in members:
                rel = _safe_name(m, archive)
                out = dest.joinpath(*rel.parts) if rel.parts else dest
                if m.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, out.open("wb") as fh:
                    shutil.copyfileobj(src, fh, _CHUNK)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile) as exc:
        raise ModelError(f"{archive.name} is not a valid zip ({exc}); the file is truncated "
                         "or corrupt, download or copy it again") from exc


def _safe_name(member: zipfile.ZipInfo, archive: Path) -> PurePosixPath:
    name = member.filename.replace("\\", "/")
    rel = PurePosixPath(name)
    mode = member.external_attr >> 16
    if (rel.is_absolute() or ".." in rel.parts or (rel.parts and ":" in rel.parts[0])
            or stat.S_ISLNK(mode)):
        raise ModelError(f"{archive.name} contains an unsafe entry {member.filename!r} "
                         "(absolute path, '..' or link); refusing to unpack it")
    return rel


def _model_root(work: Path) -> Path:
    if (work / "am").is_dir():
        return work
    dirs = [d for d in work.iterdir() if d.is_dir() and not d.name.startswith(("__", "."))]
    if len(dirs) == 1:
        return dirs[0]
    raise ModelError("the zip holds no model dir (expected am/, conf/, graph/ at the top or "
                     "inside one folder)")


def _unpack_and_commit(archive: Path, work: Path, target_dir: Path, name: str | None,
                       lang: str | None, digest: str) -> Path:
    unpacked = work / "unpacked"
    unpacked.mkdir()
    _safe_extract(archive, unpacked)
    root = _model_root(unpacked)
    name = name or (root.name if root is not unpacked else archive.name.removesuffix(".zip"))
    if not name or name.startswith(".") or "/" in name:
        raise ModelError(f"cannot name the model from {archive.name!r}; rename the zip")
    problem = model_problem(root)
    if problem is not None:
        raise ModelError(f"{archive.name} does not hold a usable vosk model: {problem}")
    lang = primary_lang(lang) if lang else model_lang(Path(name))
    if lang is None:
        raise ModelError(f"cannot tell the language of {name!r}; pass --lang CODE")
    files = {p.relative_to(root).as_posix(): p.stat().st_size
             for p in sorted(root.rglob("*")) if p.is_file()}
    (root / MARKER).write_text(json.dumps(
        {"name": name, "lang": lang, "sha256": digest, "source": archive.name, "files": files},
        indent=1), encoding="utf-8")
    final = target_dir / name
    old = work / "previous"
    if final.exists():
        os.rename(final, old)  # same filesystem: the swap below is two renames
    try:
        os.rename(root, final)
    except OSError:
        if old.exists():
            os.rename(old, final)
        raise
    log.info("installed vosk model %s (%s) in %s", name, lang, final)
    return final
