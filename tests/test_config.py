"""The config file: its keys set defaults, flags win, bad values are one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from voicecoach import config
from voicecoach.cli import cli


def replay(tmp_path: Path, toml: str, *flags: str) -> tuple[int, str, str]:
    cfg = tmp_path / "config.toml"
    cfg.write_text(toml)
    script = tmp_path / "s.txt"
    script.write_text("1 skip\n")
    r = CliRunner().invoke(cli, ["--config", str(cfg), "replay", str(script), "--json", *flags])
    return r.exit_code, r.stdout, r.stderr


def set_start(out: str) -> dict:
    return next(e for e in map(json.loads, out.splitlines()) if e["type"] == "set_start")


def test_config_sets_defaults_and_flags_win(tmp_path: Path) -> None:
    code, out, _ = replay(tmp_path, 'sets = 1\nreps = 4\nstop = 15\nvariation = "single-leg"\n')
    assert code == 0
    s = set_start(out)
    assert (s["of"], s["reps"], s["stop_deg"], s["variation"]) == (1, 4, 15, "single-leg")
    code, out, _ = replay(tmp_path, "sets = 1\nstop = 15\n", "--stop", "30")
    assert set_start(out)["stop_deg"] == 30


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("stop = 20\n", "stop = 20 is not one of: 45, 30, 15, 5"),
        ("sets = 0\n", "sets = 0 must be from 1 to 10"),
        ('engine = "google"\n', "engine = 'google' is not one of: auto, vosk, pocketsphinx"),
        ("reps = 2.5\n", "reps = 2.5 must be a whole number"),
        ("tick = 1\n", "tick = 1 must be true or false"),
        ("colour = 3\n", "unknown key 'colour'"),
        ("sets = \n", "not valid TOML"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path: Path, toml: str, message: str) -> None:
    code, _, err = replay(tmp_path, toml)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0]


def test_missing_default_config_is_fine_but_a_named_one_is_an_error(tmp_path: Path) -> None:
    assert config.load(None) == {}  # tests run with a private, empty config file
    with pytest.raises(config.ConfigError, match="no such config file"):
        config.load(tmp_path / "nope.toml")


def test_parse_maps_keys_to_flags() -> None:
    got = config.parse(io.BytesIO(b'rest = 45\nmass = 70\nlower = 4\nstart_phrase = "computer"\n'))
    assert got == {"rest_s": 45.0, "body_mass_kg": 70.0, "lower_s": 4, "start_phrase": "computer"}
