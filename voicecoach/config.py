"""The config file: TOML in the user config dir; every key is also a command-line flag.

Example (``voicecoach config path`` shows where it lives)::

    lang = "en"
    engine = "auto"          # speech in: auto, vosk, pocketsphinx
    tts = "pyttsx3"          # speech out: pyttsx3, piper
    rate = 170               # words per minute
    output_device = "USB"    # index or name substring
    input_device = "USB"
    start_phrase = "start workout"
    sets = 3
    reps = 10
    rest = 60
    lower = 3

A flag on the command line wins over the file; the file wins over the defaults.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import platformdirs

from .knowledge import STOP_POINTS, VARIATION_SLUGS
from .lang import LANGUAGES

CONFIG_ENV = "VOICECOACH_CONFIG"


class ConfigError(ValueError):
    """A bad config file or value; the message names the file, the key and what is allowed."""


@dataclass(frozen=True)
class Key:
    param: str
    """Name of the command-line parameter this key sets."""
    check: Callable[[Any], Any]
    """Returns the value for the parameter, or raises ValueError saying what is allowed."""


def _choice(*options: str | int) -> Callable[[Any], Any]:
    allowed = [str(o) for o in options]

    def check(value: Any) -> str:
        if str(value) not in allowed:
            raise ValueError(f"is not one of: {', '.join(allowed)}")
        return str(value)

    return check


def _number(kind: type, lo: float, hi: float) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"must be a number from {lo:g} to {hi:g}")
        if kind is int and not float(value).is_integer():
            raise ValueError(f"must be a whole number from {lo:g} to {hi:g}")
        if not lo <= value <= hi:
            raise ValueError(f"must be from {lo:g} to {hi:g}")
        return kind(value)

    return check


def _text(value: Any) -> str:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value).strip() == "":
        raise ValueError("must be a non-empty text (or a device index)")
    return str(value)


def _flag(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


KEYS: dict[str, Key] = {
    "lang": Key("lang", _choice(*LANGUAGES)),
    "engine": Key("engine", _choice("auto", "vosk", "pocketsphinx")),
    "model": Key("model", _text),
    "tts": Key("tts", _choice("pyttsx3", "piper")),
    "voice": Key("voice", _text),
    "rate": Key("rate", _number(int, 80, 400)),
    "tick": Key("tick", _flag),
    "input_device": Key("input_device", _text),
    "output_device": Key("output_device", _text),
    "start_phrase": Key("start_phrase", _text),
    "user": Key("user", _text),
    "mass": Key("body_mass_kg", _number(float, 20, 400)),
    "sets": Key("sets", _number(int, 1, 10)),
    "reps": Key("reps", _number(int, 1, 50)),
    "rest": Key("rest_s", _number(float, 0, 600)),
    "lift": Key("lift_s", _number(float, 0.5, 10)),
    "hold": Key("hold_s", _number(float, 0, 10)),
    "lower": Key("lower_s", _number(int, 2, 5)),
    "variation": Key("variation", _choice(*VARIATION_SLUGS)),
    "stop": Key("stop_deg", _choice(*STOP_POINTS)),
}


def default_path() -> Path:
    return platformdirs.user_config_path("voicecoach") / "config.toml"


def parse(stream: IO[bytes], name: str = "config") -> dict[str, Any]:
    """Command-line parameter name -> value, from a TOML file; raises ConfigError."""
    try:
        raw = tomllib.load(stream)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML ({exc})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: not a text file") from None
    out: dict[str, Any] = {}
    for key, value in raw.items():
        spec = KEYS.get(key)
        if spec is None:
            raise ConfigError(
                f"{name}: unknown key {key!r}; the keys are: {', '.join(sorted(KEYS))}"
            )
        try:
            out[spec.param] = spec.check(value)
        except ValueError as exc:
            raise ConfigError(f"{name}: {key} = {value!r} {exc}") from None
    return out


def load(path: Path | None = None) -> dict[str, Any]:
    """The config as parameter defaults; {} when there is no file."""
    import os

    explicit = path is not None or CONFIG_ENV in os.environ
    path = path or Path(os.environ.get(CONFIG_ENV) or default_path())
    try:
        with open(path, "rb") as f:
            return parse(f, str(path))
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{path}: no such config file") from None
        return {}
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a folder, not a config file") from None
    except PermissionError:
        raise ConfigError(f"{path}: cannot be read (permission denied)") from None
