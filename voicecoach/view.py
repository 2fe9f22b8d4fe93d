"""A live terminal view (rich): where the session is, what was heard, and the microphone level.

``LiveView`` is a sink: it reads events into a small state model and nothing else
(no I/O, never raises: the coach's thread calls it). ``level`` is called from the
microphone thread with 16 kHz mono int16 blocks. ``render`` draws the state as a
compact panel; ``start``/``stop`` (or ``with view:``) drive a ``rich.live.Live`` on
the given console, which re-renders about eight times a second on its own thread.

Wiring::

    view = LiveView(plan.lang, console, plan=plan, clock=clock)
    sinks.append(view)                  # events
    Transcript(view.stream)             # optional: transcript lines in the log area
    view.level(block)                   # each microphone block, from the mic thread
    view.mic_state("lost")              # or "listening", "off" (typed commands only)
    with view:
        ...
"""

from __future__ import annotations

import io
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from types import ModuleType, TracebackType
from typing import IO, Any, Self, cast

import numpy as np
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from . import lang as lang_pkg
from .coach import Plan
from .events import Event

RATE = 16000
"""Sample rate of the blocks given to ``level``."""
FLOOR_DB = -60.0
"""The meter's left end (dBFS); its right end is 0 dBFS."""
SILENT_DB = -120.0
"""What digital silence reads as (the level starts here)."""
ATTACK_S = 0.005
"""Time constant of the smoothed power while it rises."""
RELEASE_S = 0.15
"""... and while it falls (about 29 dB a second)."""
PEAK_HOLD_S = 1.5
PEAK_FALL_DB_S = 30.0
METER_CELLS = 24
LOG_LINES = 3
REFRESH_PER_S = 8.0
HOVER_DEG = 5

MIC_LABELS = {
    "listening": "listening",
    "lost": "microphone lost",
    "off": "off (typed commands only)",
}


def block_power(block: bytes) -> tuple[float, float]:
    """Mean square and sample peak of an int16 block, full scale 1 (a full-scale sine: 0.5, 1)."""
    x = np.frombuffer(block[: len(block) // 2 * 2], dtype="<i2").astype(np.float64)
    if x.size == 0:
        return 0.0, 0.0
    x /= 32768.0
    return float(np.mean(x * x)), float(np.max(np.abs(x)))


def dbfs(amplitude: float) -> float:
    """An amplitude (full scale 1) in dBFS; silence reads as SILENT_DB."""
    return max(SILENT_DB, 20.0 * math.log10(amplitude)) if amplitude > 0 else SILENT_DB


@dataclass
class _State:
    phase: str = "setup"
    """setup, set, set_over, rest, paused, pain, done."""
    before_pause: str = "setup"
    set_no: int = 0
    sets: int | None = None
    reps: int | None = None
    rep: int = 0
    perfect: int = 0
    total_perfect: int = 0
    last_rep_counted: bool | None = None
    count_text: str = ""
    beat: str = ""
    variation: str = ""
    stop_deg: int | None = None
    lower_s: float | None = None
    rest_end: float | None = None
    rest_left: float | None = None
    heard: str = ""
    heard_as: str = ""
    cue: str = ""
    cue_urgent: bool = False
    end_reason: str = ""
    end_sets: int = 0
    last_t: float | None = None
    last_mono: float = 0.0
    log: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))


class LiveView:
    """State of a running session for the terminal, and its rendering."""

    def __init__(
        self,
        lang: str | None = None,
        console: Console | None = None,
        *,
        plan: Plan | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``plan`` fills in sets, reps and level before the first set starts;
        ``clock`` is the session clock (seconds) for the rest countdown; without it
        the time of the last event is carried on by the wall clock."""
        self.lang: ModuleType = lang_pkg.load(lang or (plan.lang if plan else "en"))
        self.console = console if console is not None else Console()
        self.clock = clock
        self._lock = threading.Lock()
        self._s = _State()
        if plan is not None:
            self._s.sets, self._s.reps = plan.sets, plan.reps
            lv = plan.level
            self._s.variation, self._s.stop_deg, self._s.lower_s = (
                lv.variation,
                lv.stop_deg,
                lv.lower_s,
            )
        self._mic: str | None = None
        self._heard_audio = False
        self._power = 0.0
        """Smoothed mean square (full scale: 1)."""
        self._peak = SILENT_DB
        self._peak_age = 0.0
        self._live: Live | None = None
        self.stream: IO[str] = cast(IO[str], _LineStream(self.log))
        """A text stream whose lines go to the log area (e.g. ``Transcript(view.stream)``)."""

    # ------------------------------------------------------------------ inputs

    def __call__(self, event: Event) -> None:
        try:
            with self._lock:
                self._apply(event)
        except Exception:  # a display must never stop the coach
            pass

    def level(self, block: bytes) -> None:
        """One microphone block (16 kHz mono int16): update the smoothed level and peak."""
        try:
            power, amplitude = block_power(block)
            peak = dbfs(amplitude)
            dt = len(block) // 2 / RATE
            with self._lock:
                self._heard_audio = True
                if self._mic is None:
                    self._mic = "listening"
                tau = ATTACK_S if power > self._power else RELEASE_S
                self._power += (power - self._power) * (1.0 - math.exp(-dt / tau))
                self._peak_age += dt
                if peak >= self._peak:
                    self._peak, self._peak_age = peak, 0.0
                elif self._peak_age > PEAK_HOLD_S:
                    self._peak = max(peak, self._peak - PEAK_FALL_DB_S * dt)
        except Exception:  # nor the microphone thread
            pass

    def mic_state(self, state: str) -> None:
        """``listening``, ``lost`` or ``off`` (typed commands only)."""
        with self._lock:
            self._mic = str(state)
            if state != "listening":
                self._power, self._peak = 0.0, SILENT_DB

    def log(self, line: str) -> None:
        """Show a line (e.g. of the transcript) in the log area; the last few are kept."""
        with self._lock:
            self._s.log.append(str(line).rstrip("\n"))

    def close(self) -> None:
        self.stop()

    # ------------------------------------------------------------------ events

    def _apply(self, e: Event) -> None:
        s, d = self._s, e.data
        s.last_t, s.last_mono = float(e.t), time.monotonic()
        match e.type:
            case "cue":
                s.cue, s.cue_urgent = e.text, e.urgent
            case "count":
                s.count_text, s.beat = e.text, str(d.get("beat", ""))
                if s.beat != "countdown":  # the countdown belongs to the coming set
                    s.set_no = int(d.get("set", s.set_no))
                    s.rep = int(d.get("rep", s.rep))
            case "command":
                s.heard = str(d.get("phrase", ""))
                s.heard_as = str(d.get("intent", "")).replace("_", " ")
            case "unknown":
                s.heard, s.heard_as = str(d.get("phrase", "")), "not a command"
            case "adjust":
                self._level_from(d)
            case "rep":
                s.rep = int(d.get("n", s.rep))
                s.last_rep_counted = bool(d.get("counted", True))
                new = int(d.get("perfect", s.perfect))
                s.total_perfect += max(0, new - s.perfect)
                s.perfect = new
            case "set_start":
                s.phase = "set"
                s.set_no = int(d.get("set", s.set_no + 1))
                s.sets = int(d.get("of", s.sets or s.set_no))
                s.reps = int(d.get("reps", s.reps or 0)) or s.reps
                s.rep, s.perfect, s.last_rep_counted = 0, 0, None
                s.count_text = s.beat = ""
                s.rest_end = s.rest_left = None
                self._level_from(d)
            case "set_end":
                s.phase = "pain" if d.get("reason") == "pain" else "set_over"
                s.end_reason = str(d.get("reason", ""))
            case "rest":
                s.phase = "rest"
                s.rest_end = float(e.t) + float(d.get("seconds", 0.0))
                s.count_text = s.beat = ""
            case "pain_stop":
                s.phase = "pain"
                s.rest_end = None
                s.count_text = s.beat = ""
            case "pause":
                s.before_pause = s.phase
                s.phase = "paused"
                if s.rest_end is not None:
                    s.rest_left = max(0.0, s.rest_end - float(e.t))
            case "resume":
                if s.phase == "paused":
                    s.phase = s.before_pause
                    if s.phase == "rest" and s.rest_left is not None:
                        s.rest_end = float(e.t) + s.rest_left
                elif s.phase == "pain":
                    s.phase = "set_over"  # the next set starts (or the session ends)
                s.rest_left = None
            case "session_end":
                s.phase = "done"
                s.end_reason = str(d.get("reason", ""))
                s.end_sets = int(d.get("sets", 0))
                s.total_perfect = int(d.get("perfect", s.total_perfect))
                s.count_text = s.beat = ""
                s.rest_end = None

    def _level_from(self, d: dict[str, Any]) -> None:
        s = self._s
        if "variation" in d:
            s.variation = str(d["variation"])
        if "stop_deg" in d:
            s.stop_deg = int(d["stop_deg"])
        if "lower_s" in d:
            s.lower_s = float(d["lower_s"])

    # ------------------------------------------------------------------ rendering

    def render(self, now: float | None = None) -> RenderableType:
        """The view as a panel (at most 12 lines); ``now`` is session time for the countdown."""
        with self._lock:
            s = replace(self._s, log=deque(self._s.log))
            mic, heard_audio = self._mic, self._heard_audio
            level, peak = dbfs(math.sqrt(self._power)), self._peak
        if now is None:
            now = self._now(s)
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(style="dim", no_wrap=True, width=7)
        grid.add_column(no_wrap=True, overflow="ellipsis", ratio=1)
        grid.add_row("phase", self._phase(s, now))
        grid.add_row("rep", self._reps(s))
        grid.add_row("count", Text(f"{s.count_text}  [{s.beat}]" if s.count_text else "-"))
        grid.add_row("level", self._level_text(s))
        heard = f"{s.heard}  ({s.heard_as})" if s.heard or s.heard_as else "-"
        grid.add_row("heard", Text(heard))
        cue = Text(s.cue or "-", style="bold red" if s.cue_urgent else "")
        grid.add_row("coach", cue)
        grid.add_row("mic", self._meter(mic, heard_audio, level, peak))
        parts: list[RenderableType] = [grid]
        if s.log:
            parts.append(
                Text("\n".join(s.log), style="dim", no_wrap=True, overflow="ellipsis")
            )
        return Panel(Group(*parts), title="voicecoach", title_align="left", padding=(0, 1))

    def __rich__(self) -> RenderableType:
        return self.render()

    def _now(self, s: _State) -> float:
        if self.clock is not None:
            try:
                return float(self.clock())
            except Exception:  # a clock that is gone (device closed): carry on without it
                pass
        if s.last_t is None:
            return 0.0
        return s.last_t + (time.monotonic() - s.last_mono)

    @staticmethod
    def _set_of(s: _State) -> str:
        if not s.set_no:
            return ""
        return f"set {s.set_no} of {s.sets}" if s.sets else f"set {s.set_no}"

    def _phase(self, s: _State, now: float) -> Text:
        match s.phase:
            case "set":
                return Text(self._set_of(s), style="bold green")
            case "set_over":
                return Text(f"{self._set_of(s)} over ({s.end_reason})")
            case "rest":
                left = math.ceil(max(0.0, (s.rest_end or now) - now) - 1e-9)
                return Text(f"rest: {left} s left", style="bold cyan")
            case "paused":
                what = self._set_of(s) if s.before_pause == "set" else s.before_pause
                if s.before_pause == "rest" and s.rest_left is not None:
                    what = f"rest, {math.ceil(s.rest_left - 1e-9)} s left"
                return Text(f"paused ({what}); say go to carry on", style="bold yellow")
            case "pain":
                return Text("PAIN STOP: set stopped", style="bold red")
            case "done":
                return Text(
                    f"done ({s.end_reason}): {s.end_sets} sets, {s.total_perfect} perfect reps",
                    style="bold",
                )
        return Text("setup")

    @staticmethod
    def _reps(s: _State) -> Text:
        if not s.set_no:
            return Text(f"{s.reps} perfect reps per set" if s.reps else "-")
        target = f" of {s.reps}" if s.reps else ""
        text = f"rep {s.rep}   perfect {s.perfect}{target}   total {s.total_perfect}"
        if s.last_rep_counted is False:
            text += "   last rep NOT counted"
        return Text(text)

    def _level_text(self, s: _State) -> Text:
        parts = []
        if s.variation:
            try:
                parts.append(str(self.lang.variation_name(s.variation)))
            except (KeyError, AttributeError):  # a slug this language does not name
                parts.append(s.variation)
        if s.stop_deg is not None:
            at = "hover" if s.stop_deg <= HOVER_DEG else f"{s.stop_deg}°"
            parts.append(f"stop {at}")
        if s.lower_s is not None:
            parts.append(f"lower {s.lower_s:g} s")
        return Text(", ".join(parts) or "-")

    @staticmethod
    def _meter(mic: str | None, heard_audio: bool, level: float, peak: float) -> Text:
        if mic is None:
            return Text("no microphone", style="yellow")
        if mic != "listening":
            return Text(MIC_LABELS.get(mic, mic), style="red" if mic == "lost" else "yellow")
        if not heard_audio:
            return Text("listening (no audio yet)")

        def cell(db: float) -> int:
            return round((min(0.0, max(FLOOR_DB, db)) - FLOOR_DB) / -FLOOR_DB * METER_CELLS)

        filled, mark = cell(level), cell(peak) - 1
        bar = Text()
        for i in range(METER_CELLS):
            db_here = FLOOR_DB + (i + 0.5) * -FLOOR_DB / METER_CELLS
            colour = "green" if db_here < -18 else "yellow" if db_here < -6 else "red"
            if i < filled:
                bar.append("█", style=colour)
            elif i == mark:
                bar.append("|", style=colour)
            else:
                bar.append("·", style="dim")
        value = f"{level:4.0f} dBFS" if level > FLOOR_DB else "< -60 dBFS"
        bar.append(f" {value}")
        if peak > FLOOR_DB:
            bar.append(f" peak {peak:.0f}")
        if peak >= -0.1:
            bar.append(" CLIP", style="bold red")
        bar.append("  listening", style="dim")
        return bar

    # ------------------------------------------------------------------ live display

    def start(self) -> Self:
        """Show the view on the console, refreshed about eight times a second."""
        if self._live is None:
            live = Live(
                console=self.console,
                refresh_per_second=REFRESH_PER_S,
                get_renderable=self.render,
            )
            live.start()
            self._live = live
        return self

    def stop(self) -> None:
        """Stop refreshing (the last view stays on screen); safe to call again or unstarted."""
        live, self._live = self._live, None
        if live is not None:
            live.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        t: type[BaseException] | None,
        e: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class _LineStream(io.TextIOBase):
    """Writes whole lines to a callable (partial lines wait for their newline)."""

    def __init__(self, put: Callable[[str], None]) -> None:
        super().__init__()
        self._put = put
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        *lines, self._partial = (self._partial + s).split("\n")
        for line in lines:
            self._put(line)
        return len(s)
