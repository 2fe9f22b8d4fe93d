"""The event stream: everything the coach does, as timed, JSON-ready records.

Keys are stable; tests, benchmarks, the journal and outside tools read them.
``cue`` and ``count`` events carry ``text``: they are what the voice says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

#: Event types. ``cue`` and ``count`` are spoken; the others are facts.
TYPES: frozenset[str] = frozenset(
    {
        "cue",
        "count",
        "command",
        "unknown",
        "adjust",
        "rep",
        "set_start",
        "set_end",
        "rest",
        "pain_stop",
        "pause",
        "resume",
        "session_end",
    }
)
SPOKEN: frozenset[str] = frozenset({"cue", "count"})


@dataclass(frozen=True)
class Event:
    t: float
    """Seconds since the session started."""
    type: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def spoken(self) -> bool:
        return self.type in SPOKEN

    @property
    def text(self) -> str:
        return str(self.data.get("text", ""))

    @property
    def urgent(self) -> bool:
        """A spoken event that must cut whatever is playing (pain, pause, stop, done)."""
        return bool(self.data.get("urgent", False))

    def to_dict(self) -> dict[str, Any]:
        return {"t": round(self.t, 6), "type": self.type, **self.data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)
