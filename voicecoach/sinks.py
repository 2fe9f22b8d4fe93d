"""Text sinks: a readable transcript for the terminal, and JSON lines for tools."""

from __future__ import annotations

from typing import IO

from .events import Event


class JsonLines:
    """One JSON object per event, flushed at once (a killed process loses nothing written)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        self.stream.write(event.to_json() + "\n")
        self.stream.flush()


def _describe(e: Event) -> str | None:
    d = e.data
    match e.type:
        case "cue":
            return ("!! " if e.urgent else "   ") + e.text
        case "count":
            return f"   {e.text:<14} [{d['beat']}]"
        case "command":
            return f">> {d['phrase']}  ({d['intent']})"
        case "unknown":
            return f">> {d['phrase']}  (not a command)"
        case "adjust":
            return f"   -> {d['variation']}, stop {d['stop_deg']} deg, lower {d['lower_s']:g} s"
        case "rep":
            mark = "counted" if d["counted"] else "NOT counted"
            return f"   rep {d['n']} {mark} ({d['perfect']} perfect)"
        case "set_start":
            return (
                f"== set {d['set']} of {d['of']}: {d['variation']}, stop {d['stop_deg']} deg, "
                f"lower {d['lower_s']:g} s"
            )
        case "set_end":
            return f"== set {d['set']} over ({d['reason']}): {d['perfect']} perfect"
        case "rest":
            return f"== rest {d['seconds']:g} s"
        case "pain_stop":
            return "!! pain: set stopped"
        case "pause":
            return "== paused"
        case "resume":
            return "== resumed"
        case "session_end":
            return f"== session over ({d['reason']}): {d['sets']} sets, {d['perfect']} perfect reps"
    return None


class Transcript:
    """Readable lines with the session time: what text mode prints."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        line = _describe(event)
        if line is not None:
            self.stream.write(f"[{event.t:7.1f}s] {line}\n")
            self.stream.flush()
