"""Keep tests away from the user's real journal, config and cache."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_HERE = Path(__file__).parent


@pytest.fixture(autouse=True, scope="session")
def _private_user_dirs(tmp_path_factory: pytest.TempPathFactory) -> None:
    home = tmp_path_factory.mktemp("home")
    os.environ["XDG_DATA_HOME"] = str(home / "data")
    # Not XDG_CONFIG_HOME: the PulseAudio client finds its auth cookie there.
    empty = home / "config.toml"
    empty.write_text("")
    os.environ["VOICECOACH_CONFIG"] = str(empty)
    # Rendered phrases are kept between local runs (git ignores tests/.cache/).
    os.environ.setdefault("XDG_CACHE_HOME", str(_HERE / ".cache" / "xdg"))
