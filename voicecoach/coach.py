"""The coach: a pure, deterministic state machine on an injected clock.

It takes intents and times and returns timed events (what to say and when, and
what happened). It never opens a device, sleeps or reads the wall clock, so a
whole session runs in a test in milliseconds on a virtual clock.

Timing model: an *agenda* holds what is due and when (counts, cues, phase
transitions). ``advance(t)`` runs everything due up to ``t``; each event keeps
its own exact time. Counts sit on fixed beats; a cue is placed in the first gap
where it fits without talking over a count. Urgent replies (pain, pause, stop,
done) clear the agenda and speak at once.
"""

from __future__ import annotations

import heapq
import itertools
import math
import string
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from functools import partial
from typing import Any

from . import lang as lang_pkg
from .events import Event
from .intents import Intent
from .profile import offer_progress
from .knowledge import (
    LOWER_MAX_S,
    LOWER_MIN_S,
    LOWER_STEP_S,
    STOP_POINTS,
    VARIATION_SLUGS,
    Level,
    kcal,
    validate_level,
    variation,
)

#: Silence kept between two utterances (seconds).
GAP_S = 0.15
#: Pause after a setup cue before the next one (seconds).
SETUP_GAP_S = 0.8
#: Time between "get ready" and the first lift (seconds).
LEAD_IN_S = 1.0
#: Reminders: one every this many reps, from the second rep on.
REMINDER_EVERY = 3
#: After the last set, how long the coach waits for a yes/no to its offer (seconds).
ANSWER_WINDOW_S = 15.0
#: Beyond this many days since the last session the coach just says "a while".
MAX_DAYS_SAID = 60


def estimate_speech_s(text: str) -> float:
    """Rough spoken length of ``text`` at a normal speaking rate (seconds)."""
    return 0.05 + 0.065 * len(text)


@dataclass(frozen=True)
class Plan:
    """What a session is made of. Times in seconds."""

    sets: int = 3
    reps: int = 10
    """Perfect reps per set."""
    rest_s: float = 60.0
    lift_s: float = 2.0
    hold_s: float = 1.0
    hover_s: float = 1.0
    """Pause at the stop point before the next lift."""
    level: Level = field(default_factory=Level)
    lang: str = "en"
    first_use: bool = True
    """Say the not-medical-advice line."""
    returning: bool = False
    """Greet as a returning user (the level comes from the last session)."""
    days_since_last: int | None = None
    """Whole days since the last session started (None: first session)."""
    recent_session: bool = False
    """The last session was too recent for the core to recover: say so."""
    ease: Level | None = None
    """Offer this easier level at the start (after a pain stop or a back-lifting streak)."""
    ease_reason: str = ""
    """Why the easier level is offered: ``pain`` or ``back_lifting``."""
    body_mass_kg: float | None = None
    """Body mass for the energy estimate in the summary (kilograms); None: not said."""

    @property
    def max_attempts(self) -> int:
        """Attempts per set before it ends even without enough perfect reps."""
        return self.reps + max(3, self.reps // 2)

    def validate(self) -> None:
        for name in ("sets", "reps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        for name in ("rest_s", "lift_s", "hold_s", "hover_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.lift_s < 0.5:
            raise ValueError("lift_s must be at least 0.5 s")
        validate_level(self.level)
        if self.ease is not None:
            validate_level(self.ease)
        lang_pkg.load(self.lang)


class Phase(Enum):
    SETUP = "setup"
    SET = "set"
    REST = "rest"
    PAUSED = "paused"
    PAIN = "pain"
    FINISHED = "finished"


@dataclass(order=True)
class _Item:
    t: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    spoken_len: float = field(default=0.0, compare=False)
    """Length of speech it starts (0 for silent transitions)."""
    is_count: bool = field(default=False, compare=False)


class Words:
    """The coach's sentences in one language."""

    def __init__(self, lang: str) -> None:
        self.mod = lang_pkg.load(lang)

    def say(self, msg_id: str, **fields: Any) -> str:
        text = str(self.mod.MESSAGES[msg_id].format(**fields))
        return text[:1].upper() + text[1:]

    def number(self, n: int) -> str:
        return str(self.mod.number(n))

    def days(self, n: int) -> str:
        return str(self.mod.days(n))

    def variation(self, slug: str, short: bool = False) -> str:
        return str(self.mod.variation_name(slug, short))

    def stop(self, deg: int, short: bool = False) -> str:
        return str(self.mod.stop_name(deg, short))

    def level_fields(self, level: Level) -> dict[str, str]:
        return {"variation": self.variation(level.variation), "stop": self.stop(level.stop_deg)}


class Coach:
    """One session. Feed it time and intents; it returns events."""

    def __init__(self, plan: Plan, speech_s: Callable[[str], float] | None = None) -> None:
        plan.validate()
        self.plan = plan
        self.words = Words(plan.lang)
        self._speech_s = speech_s or estimate_speech_s
        self.level = plan.level
        self.phase = Phase.SETUP
        self.now = 0.0
        self._agenda: list[_Item] = []
        self._seq = itertools.count()
        self._out: list[Event] = []
        self._quiet_at = 0.0
        self._pending: deque[tuple[str, str, bool]] = deque()
        self._last_cue: tuple[str, str] | None = None
        # Progress
        self.set_no = 0
        self.attempt = 0
        self.perfect = 0
        self.total_perfect = 0
        self.sets_done = 0
        self._rep_flagged = False
        self._rep_level = self.level
        self._horizon = math.inf
        """No cue may run past this time: counts not yet on the agenda start here."""
        self._in_rep = False
        self._setup_index = 0
        self._lines: deque[Callable[[], None]] = deque()
        """Lines still to say in turn, and what follows them (see ``_say_in_turn``)."""
        self._then: Callable[[], None] | None = None
        self._rest_end = 0.0
        self._resume_to: Phase | None = None
        self._reminder_index = 0
        self._explained: set[str] = set()
        self._offer: Level | None = None
        """A level the coach asked about; "yes" applies it, "no" or a new set drops it."""
        self._set_lifted = False
        self._set_min_lower = math.inf
        self.tension_s = 0.0
        """Lift + hold + lower of the counted reps (seconds)."""
        self.active_s = 0.0
        """Time inside sets (seconds)."""
        self._set_started = 0.0

    # ----------------------------------------------------------------- public API

    @property
    def asking(self) -> bool:
        """The coach asked a yes/no question that is not answered yet."""
        return self._offer is not None

    def acts_on(self, intent: Intent) -> bool:
        """Whether ``intent`` does something now, not only a reply that there is nothing to
        do: an answer when nothing was asked, "go" when nothing is paused or stopped, "skip"
        when there is no setup or rest to skip. A heard command that does not is most often
        someone's everyday talk ("not bad" as "not now", "come here" as "continue")."""
        if intent in (Intent.YES, Intent.NO):
            return self.asking
        if intent is Intent.RESUME:
            return self.phase in (Phase.SETUP, Phase.PAUSED, Phase.PAIN)
        if intent is Intent.SKIP:
            return self.phase in (Phase.SETUP, Phase.REST)
        return True

    @property
    def finished(self) -> bool:
        """The session is over and everything it had to say has been said."""
        return self.phase is Phase.FINISHED and not self._agenda

    def next_due(self) -> float | None:
        return self._agenda[0].t if self._agenda else None

    def start(self, t: float = 0.0) -> list[Event]:
        self.now = self._quiet_at = t
        opening: list[Callable[[], None]] = []
        if self.plan.first_use:
            opening.append(partial(self._cue, "disclaimer"))
        if self.plan.returning:
            opening.append(partial(self._cue, "welcome_back"))
        else:
            opening.append(partial(self._cue, "welcome", sets=self.words.number(self.plan.sets),
                                   reps=self.words.number(self.plan.reps)))
        days = self.plan.days_since_last
        if self.plan.recent_session:
            opening.append(partial(self._cue, "recover"))
        elif days is not None and days > MAX_DAYS_SAID:
            opening.append(partial(self._cue, "since_long"))
        elif days is not None and days >= 2:
            opening.append(partial(self._cue, "since_days", days=self.words.days(days)))
        opening.append(self._level_cue)
        ease = self.plan.ease
        if ease is not None and ease != self.level:
            reason = "ease_pain" if self.plan.ease_reason == "pain" else "ease_back"
            opening += [partial(self._cue, reason), partial(self._ask, ease)]
        self._setup_index = 0
        self._say_in_turn(
            opening, lambda: self._at(self._quiet_at + SETUP_GAP_S - GAP_S, self._on_setup)
        )
        return self._flush()

    def advance(self, t: float) -> list[Event]:
        """Run everything due up to ``t``; returns the events in time order."""
        self._run_until(t)
        return self._flush()

    def _run_until(self, t: float) -> None:
        while self._agenda and self._agenda[0].t <= t:
            item = heapq.heappop(self._agenda)
            self.now = max(self.now, item.t)
            item.action()
        self.now = max(self.now, t)

    def command(self, intent: Intent, t: float, phrase: str = "", **extra: Any) -> list[Event]:
        """Handle a recognized command at time ``t`` (never earlier than the coach's now).

        ``extra`` goes into the ``command`` event (e.g. the recognizer's confidence).
        """
        self._run_until(t)
        if self.phase is Phase.FINISHED:
            return self._flush()
        self._emit("command", intent=str(intent), phrase=phrase or str(intent), **extra)
        _HANDLERS[intent](self)
        return self._flush()

    def unknown(self, t: float, phrase: str) -> list[Event]:
        """Text that matched no command: a short "didn't catch that"."""
        self._run_until(t)
        if self.phase is not Phase.FINISHED:
            self._emit("unknown", phrase=phrase)
            self._reply("unknown")
        return self._flush()

    def notice(self, t: float, msg_id: str) -> list[Event]:
        """Tell the user about something outside the exercise (e.g. the microphone)."""
        self._run_until(t)
        if self.phase is not Phase.FINISHED:
            self._reply(msg_id)
        return self._flush()

    def end(self, t: float, reason: str = "end_of_input") -> list[Event]:
        """End the session now (input ended, process stopping); the summary is spoken."""
        self._run_until(t)
        if self.phase is not Phase.FINISHED:
            self._finish(reason)
        return self._flush()

    # ----------------------------------------------------------------- output helpers

    def _emit(self, type_: str, t: float | None = None, **data: Any) -> None:
        self._out.append(Event(self.now if t is None else t, type_, data))

    def _flush(self) -> list[Event]:
        out, self._out = self._out, []
        out.sort(key=lambda e: e.t)  # stable: same-time events keep their order
        return out

    def _at(
        self, t: float, action: Callable[[], None], spoken_len: float = 0.0, is_count: bool = False
    ) -> None:
        heapq.heappush(self._agenda, _Item(t, next(self._seq), action, spoken_len, is_count))

    def _clear_agenda(self) -> None:
        self._agenda.clear()
        self._pending.clear()
        self._lines = deque()
        self._then = None
        self._horizon = math.inf
        self._in_rep = False

    def _text(self, msg_id: str, **fields: Any) -> str:
        return self.words.say(msg_id, **fields)

    def _speak_at(
        self, t: float, msg_id: str, text: str, urgent: bool = False, repeatable: bool = False
    ) -> None:
        length = self._speech_s(text)

        def fire() -> None:
            if repeatable:
                self._last_cue = (msg_id, text)
            data: dict[str, Any] = {"text": text, "id": msg_id}
            if urgent:
                data["urgent"] = True
            self._emit("cue", **data)

        self._at(t, fire, spoken_len=length)
        self._quiet_at = max(self._quiet_at, t + length + GAP_S)

    def _cue(self, msg_id: str, **fields: Any) -> None:
        """A cue worth repeating (setup, set intro, rest); placed like any reply."""
        self._place(msg_id, self._text(msg_id, **fields), repeatable=True)

    def _reply(self, msg_id: str, **fields: Any) -> None:
        self._place(msg_id, self._text(msg_id, **fields))

    def _urgent(self, msg_id: str, **fields: Any) -> None:
        """Cut everything and speak now."""
        self._clear_agenda()
        self._quiet_at = self.now
        self._speak_at(self.now, msg_id, self._text(msg_id, **fields), urgent=True)

    def _place(self, msg_id: str, text: str, repeatable: bool = False) -> None:
        """Queue a cue and put it in the first gap where it fits."""
        self._pending.append((msg_id, text, repeatable))
        self._place_pending()

    def _place_pending(self) -> None:
        while self._pending:
            msg_id, text, repeatable = self._pending[0]
            t = self._free_slot(self._speech_s(text))
            if t is None:
                return
            self._pending.popleft()
            self._speak_at(t, msg_id, text, repeatable=repeatable)

    def _free_slot(self, length: float) -> float | None:
        """Earliest start >= now that talks over no count and ends before the known horizon."""
        t = max(self.now, self._quiet_at)
        busy = sorted(
            (i.t - GAP_S, i.t + i.spoken_len + GAP_S) for i in self._agenda if i.is_count
        )
        for start, end in busy:
            if t + length <= start:
                break
            t = max(t, end)
        if t + length > self._horizon - GAP_S:
            return None
        return t

    # ----------------------------------------------------------------- setup

    def _say_in_turn(self, lines: Iterable[Callable[[], None]], then: Callable[[], None]) -> None:
        """Place ``lines`` (each places one cue) one after another, then call ``then``.

        A line is placed, and worded, only when the one before it ends: a reply to
        a command said meanwhile comes right after the line being said, and a line
        naming the level names the one the user has just asked for.
        """
        self._lines = deque(lines)
        self._then = then
        self._next_line()

    def _next_line(self) -> None:
        if self._lines:
            self._lines.popleft()()
            self._at(self._quiet_at, self._next_line)
        elif self._then is not None:
            then, self._then = self._then, None
            then()

    def _on_setup(self) -> None:
        cues = lang_pkg.SETUP_FULL
        if self._setup_index < len(cues):
            self._cue(cues[self._setup_index])
            self._setup_index += 1
            self._at(self._quiet_at + SETUP_GAP_S - GAP_S, self._on_setup)
        else:
            self._start_set()

    # ----------------------------------------------------------------- sets and reps

    def _start_set(self) -> None:
        self._offer = None
        if self.set_no >= self.plan.sets:  # after the question window of the last set
            self._finish("complete")
            return
        self.phase = Phase.SET
        self._set_lifted = False
        self._set_min_lower = math.inf
        self._set_started = self.now
        self.set_no += 1
        self.attempt = 0
        self.perfect = 0
        lv = self.level
        self._emit(
            "set_start",
            set=self.set_no,
            of=self.plan.sets,
            reps=self.plan.reps,
            variation=lv.variation,
            stop_deg=lv.stop_deg,
            lower_s=lv.lower_s,
        )
        lines: list[Callable[[], None]] = []
        if self.set_no > 1:
            lines += [partial(self._cue, msg_id) for msg_id in lang_pkg.SETUP_SHORT]
        lines.append(partial(self._cue, "set_intro", n=self.words.number(self.set_no),
                             total=self.words.number(self.plan.sets)))
        lines.append(self._level_cue)
        lines.append(self._explain_variation)
        self._say_in_turn(lines, self._lead_in)

    def _level_cue(self) -> None:
        """The level, as it is when said: a change asked for just before is in it."""
        self._cue("level", **self.words.level_fields(self.level))

    def _explain_variation(self) -> None:
        if self.level.variation not in self._explained:
            self._explained.add(self.level.variation)
            self._cue(f"howto_{self.level.variation}")

    def _lead_in(self) -> None:
        """'Get ready', then the next rep's lift."""
        self._reply("get_ready")
        self._horizon = self._quiet_at - GAP_S + LEAD_IN_S
        self._at(self._horizon, self._start_rep)

    def _start_rep(self) -> None:
        self.phase = Phase.SET
        self.attempt += 1
        self._rep_flagged = False
        lv = self._rep_level = self.level
        p = self.plan
        t0 = self.now
        n = self.words.number(self.perfect + 1)
        if variation(lv.variation).alternate:
            lift_id = "beat_lift_left" if self.attempt % 2 else "beat_lift_right"
        else:
            lift_id = "beat_lift"
        self._count(t0, "lift", self._text(lift_id, n=n))
        self._count(t0 + p.lift_s, "hold", self._text("beat_hold"))
        t_low = t0 + p.lift_s + p.hold_s
        seconds = max(1, round(lv.lower_s))
        self._count(t_low, "lower", self._text("beat_lower", n=self.words.number(seconds)))
        step = lv.lower_s / seconds
        for k in range(1, seconds):
            self._count(
                t_low + k * step,
                "lower",
                self._text("beat_count", n=self.words.number(seconds - k)),
            )
        t_hover = t_low + lv.lower_s
        self._count(t_hover, "hover", self._text("beat_hover"))
        self._in_rep = True
        self._horizon = t_hover + p.hover_s
        self._at(self._horizon, self._end_rep)
        self._maybe_remind()
        self._place_pending()

    def _count(
        self, t: float, beat: str, text: str, set_no: int | None = None, rep: int | None = None
    ) -> None:
        set_no = self.set_no if set_no is None else set_no
        rep = self.attempt if rep is None else rep

        length = self._speech_s(text)

        def fire() -> None:
            self._quiet_at = max(self._quiet_at, self.now + length + GAP_S)
            self._emit("count", text=text, beat=beat, set=set_no, rep=rep)

        self._at(t, fire, spoken_len=length, is_count=True)

    def _maybe_remind(self) -> None:
        if self._pending or self.attempt < 2 or (self.attempt - 2) % REMINDER_EVERY:
            return
        reminders = lang_pkg.REMINDERS
        msg_id = reminders[self._reminder_index % len(reminders)]
        text = self._text(msg_id)
        t = self._free_slot(self._speech_s(text))
        if t is not None:  # a reminder that does not fit in this rep is simply not said
            self._reminder_index += 1
            self._speak_at(t, msg_id, text)

    def _end_rep(self) -> None:
        counted = not self._rep_flagged
        lv = self._rep_level
        if counted:
            self.perfect += 1
            self.total_perfect += 1
            self._set_min_lower = min(self._set_min_lower, lv.lower_s)
            self.tension_s += self.plan.lift_s + self.plan.hold_s + lv.lower_s
        else:
            self._set_lifted = True
        self._emit(
            "rep",
            n=self.attempt,
            counted=counted,
            perfect=self.perfect,
            set=self.set_no,
            variation=lv.variation,
            stop_deg=lv.stop_deg,
            lower_s=lv.lower_s,
        )
        self._in_rep = False
        self._horizon = math.inf
        if self.perfect >= self.plan.reps:
            self._end_set("complete")
        elif self.attempt >= self.plan.max_attempts:
            self._end_set("limit")
        elif self._pending:
            # Replies that found no gap are said now, in a slightly longer hover;
            # the next lift waits for them, so no reply waits more than one rep.
            self._place_pending()
            self._horizon = self._quiet_at
            self._at(self._horizon, self._start_rep)
        else:
            self._start_rep()

    def _end_set(self, reason: str) -> None:
        """Close the running set; then rest, or finish after the last one."""
        self._emit(
            "set_end",
            set=self.set_no,
            perfect=self.perfect,
            attempts=self.attempt,
            reason=reason,
        )
        self.sets_done += 1
        self.active_s += self.now - self._set_started
        self._horizon = math.inf
        self._in_rep = False
        self.phase = Phase.REST  # between sets until the caller says otherwise
        if reason in ("pain", "stop"):
            return
        self._reply("set_done", n=self.words.number(self.perfect))
        offer = None
        if not self._set_lifted and self._set_min_lower < math.inf:
            earned = offer_progress(self.level, self.perfect, self._set_min_lower)
            offer = earned.proposed if earned else None
        if offer is not None:
            self._cue("offer_earned")
            self._ask(offer)
        if self.set_no < self.plan.sets:
            self._start_rest(self.plan.rest_s)
        elif offer is not None:
            self.phase = Phase.REST  # a short window to answer before the summary
            self._at(self._quiet_at + ANSWER_WINDOW_S, self._start_set)
        else:
            self._finish("complete")

    def _ask(self, level: Level) -> None:
        self._offer = level
        self._cue("offer_level", **self.words.level_fields(level))

    # ----------------------------------------------------------------- rest

    def _start_rest(self, seconds: float) -> None:
        self.phase = Phase.REST
        self._emit("rest", seconds=round(seconds, 3))
        self._cue("rest", seconds=self.words.number(round(seconds)))
        self._schedule_rest(self.now + seconds)

    def _schedule_rest(self, end: float) -> None:
        self._rest_end = end
        for left in (30, 10):
            if end - left > self._quiet_at + 5:
                self._at(end - left, lambda left=left: self._reply(
                    "rest_left", seconds=self.words.number(left)))
        for left in (3, 2, 1):
            if end - left >= self._quiet_at:
                self._count(end - left, "countdown", self._text("beat_count", n=self.words.number(left)),
                            set_no=self.set_no + 1, rep=0)
        self._at(end, self._start_set)

    # ----------------------------------------------------------------- end

    def _finish(self, reason: str) -> None:
        if self.phase is Phase.SET:
            self._end_set("stop")
        # Counts and transitions go; what is already placed to be said stays.
        self._agenda = [i for i in self._agenda if i.spoken_len and not i.is_count]
        self._lines = deque()
        self._then = None
        heapq.heapify(self._agenda)
        self._horizon = math.inf
        self._reply("summary", n=self.words.number(self.total_perfect))
        self._reply("summary_sets", n=self.words.number(self.sets_done))
        self._reply("level", **self.words.level_fields(self.level))
        self._reply("summary_tension", seconds=self.words.number(_tens(self.tension_s)))
        if self.plan.body_mass_kg:
            energy = kcal(self.active_s / 60.0, self.plan.body_mass_kg)
            self._reply("summary_kcal", n=self.words.number(round(energy)))
        if reason == "complete":
            self._reply("goodbye")
        self.phase = Phase.FINISHED
        sets, perfect = self.sets_done, self.total_perfect
        self._at(
            self._quiet_at,
            lambda: self._emit("session_end", reason=reason, sets=sets, perfect=perfect),
        )

    # ----------------------------------------------------------------- commands

    def _adjust(self, new: Level, intent: Intent) -> None:
        self.level = new
        self._emit(
            "adjust",
            variation=new.variation,
            stop_deg=new.stop_deg,
            lower_s=new.lower_s,
            intent=str(intent),
        )

    def _change_level(self, new: Level, intent: Intent, word: str) -> None:
        old = self.level
        if new == old:
            self._reply("ack_easiest" if word == "easier" else "ack_hardest")
            return
        self._adjust(new, intent)
        if new.variation != old.variation:
            self._reply(f"ack_{word}_variation", var=self.words.variation(new.variation, True))
            if self.phase is not Phase.SET:
                self._explain_variation()
        else:
            self._reply(f"ack_{word}", at=self.words.stop(new.stop_deg, True))

    def on_easier(self) -> None:
        self._change_level(self.level.easier(), Intent.EASIER, "easier")

    def on_harder(self) -> None:
        self._change_level(self.level.harder(), Intent.HARDER, "harder")

    def on_back_lifted(self) -> None:
        in_rep = self.phase is Phase.SET and self._in_rep
        if in_rep:
            self._rep_flagged = True
        if in_rep:
            self._reply("ack_back")
        new = self.level.higher_stop()
        if new != self.level:
            self._adjust(new, Intent.BACK_LIFTED)
            self._reply("ack_stop_at", at=self.words.stop(new.stop_deg, True))
        else:
            self._reply("rem_back")

    def _tempo(self, delta: float, intent: Intent) -> None:
        new = self.level.with_lower(self.level.lower_s + delta)
        if new == self.level:
            self._reply("ack_slowest" if delta > 0 else "ack_fastest")
            return
        self._adjust(new, intent)
        self._reply(
            "ack_slower" if delta > 0 else "ack_faster",
            seconds=self.words.number(round(new.lower_s)),
        )

    def on_slower(self) -> None:
        self._tempo(LOWER_STEP_S, Intent.SLOWER)

    def on_faster(self) -> None:
        self._tempo(-LOWER_STEP_S, Intent.FASTER)

    def on_pain(self) -> None:
        if self.phase is Phase.SET:
            self._end_set("pain")
        if self.phase is Phase.PAUSED and self._resume_to is Phase.SET:
            self._end_set("pain")
        self.phase = Phase.PAIN
        self._resume_to = None
        self._emit("pain_stop", phrase=self._last_phrase())
        self._urgent("pain")
        self._reply("pain_resume_hint")

    def on_stop(self) -> None:
        self._urgent("ack_stop")
        if self.phase is Phase.PAUSED and self._resume_to is Phase.SET:
            self.phase = Phase.SET
        self._finish("stop")

    def on_pause(self) -> None:
        if self.phase in (Phase.PAUSED, Phase.PAIN):
            self._reply("ack_pause")
            return
        self._resume_to = self.phase
        left = max(0.0, self._rest_end - self.now) if self.phase is Phase.REST else 0.0
        self._rest_left = left
        self.phase = Phase.PAUSED
        self._emit("pause")
        if self._resume_to is Phase.SET and self._in_rep:
            self.attempt -= 1  # the interrupted rep is taken again, uncounted
        in_turn = self._lines, self._then
        self._urgent("ack_pause")
        self._lines, self._then = in_turn  # resume goes on from the next line

    def on_resume(self) -> None:
        if self.phase is Phase.SETUP:
            self.on_skip()
            return
        if self.phase is Phase.PAIN:
            self._emit("resume")
            self._reply("pain_resume")
            if self.set_no >= self.plan.sets:
                self._finish("complete")
            else:
                self._start_set()
            return
        if self.phase is not Phase.PAUSED:
            self._reply("ack_running")
            return
        target, self._resume_to = self._resume_to, None
        self._emit("resume")
        self._reply("ack_resume")
        if self._then is not None:  # paused between lines said in turn
            self.phase = target
            self._at(self._quiet_at, self._next_line)
        elif target is Phase.SETUP:
            self.phase = Phase.SETUP
            self._at(self._quiet_at, self._on_setup)
        elif target is Phase.REST:
            self.phase = Phase.REST
            self._schedule_rest(max(self._quiet_at, self.now + self._rest_left))
        else:
            self.phase = Phase.SET
            self._lead_in()

    def on_done(self) -> None:
        if self.phase is Phase.SET or (self.phase is Phase.PAUSED and self._resume_to is Phase.SET):
            if self.phase is Phase.SET and self._in_rep:
                self.attempt -= 1  # the unfinished rep is not an attempt
            self.phase = Phase.SET
            self._urgent("ack_done")
            self._end_set("done")
        elif self.phase is Phase.PAIN:
            self._urgent("ack_stop")
            self._finish("stop")
        elif self.phase is Phase.SETUP:
            self.on_skip()
        else:
            self._reply("ack_no_set")

    def on_skip(self) -> None:
        if self.phase in (Phase.SETUP, Phase.REST):
            self._urgent("ack_skip")  # cuts the cue being said
            self._start_set()
        else:
            self._reply("ack_no_skip")

    def on_repeat(self) -> None:
        if self._last_cue is None:
            self._reply("ack_nothing_to_repeat")
        else:
            self._place(*self._last_cue, repeatable=True)

    def on_yes(self) -> None:
        if self._offer is None:
            self._reply("ack_no_question")
            return
        new, self._offer = self._offer, None
        self._adjust(new, Intent.YES)
        self._reply("ack_yes")
        self._reply("level", **self.words.level_fields(new))
        if self.phase is Phase.REST and self.set_no >= self.plan.sets:
            self._finish("complete")
        elif self.phase is not Phase.SET:
            self._explain_variation()

    def on_no(self) -> None:
        if self._offer is None:
            self._reply("ack_no_question")
            return
        self._offer = None
        self._reply("ack_no")
        if self.phase is Phase.REST and self.set_no >= self.plan.sets:
            self._finish("complete")

    def on_how_many(self) -> None:
        if self.phase is Phase.SET:
            self._reply("how_many", n=self.words.number(self.perfect))
        else:
            self._reply("how_many_total", n=self.words.number(self.total_perfect))

    def on_help(self) -> None:
        self._reply("help_short" if self.phase is Phase.SET else "help")

    def _last_phrase(self) -> str:
        for e in reversed(self._out):
            if e.type == "command":
                return str(e.data.get("phrase", ""))
        return ""


_HANDLERS: dict[Intent, Callable[[Coach], None]] = {
    Intent.PAIN: Coach.on_pain,
    Intent.STOP: Coach.on_stop,
    Intent.PAUSE: Coach.on_pause,
    Intent.DONE: Coach.on_done,
    Intent.RESUME: Coach.on_resume,
    Intent.BACK_LIFTED: Coach.on_back_lifted,
    Intent.EASIER: Coach.on_easier,
    Intent.HARDER: Coach.on_harder,
    Intent.SLOWER: Coach.on_slower,
    Intent.FASTER: Coach.on_faster,
    Intent.SKIP: Coach.on_skip,
    Intent.REPEAT: Coach.on_repeat,
    Intent.HOW_MANY: Coach.on_how_many,
    Intent.HELP: Coach.on_help,
    Intent.YES: Coach.on_yes,
    Intent.NO: Coach.on_no,
}


def speakable_texts(plan: Plan) -> list[str]:
    """Every text a session with this plan can make the coach say (for pre-rendering)."""
    w = Words(plan.lang)
    num = w.number
    total = plan.sets * plan.reps
    nums = lambda lo, hi: [{"n": num(n)} for n in range(lo, hi + 1)]  # noqa: E731
    secs = lambda values: [{"seconds": num(v)} for v in values]  # noqa: E731
    lower = range(int(LOWER_MIN_S), int(LOWER_MAX_S) + 1)
    short_stops = [{"at": w.stop(s, True)} for s in STOP_POINTS]
    short_vars = [{"var": w.variation(v, True)} for v in VARIATION_SLUGS]
    max_rep_s = plan.lift_s + plan.hold_s + LOWER_MAX_S
    max_tension = plan.sets * plan.reps * max_rep_s
    longest_set_s = plan.max_attempts * (max_rep_s + plan.hover_s) + 60.0  # + replies, lead-in
    max_kcal = kcal(plan.sets * longest_set_s / 60.0, plan.body_mass_kg or 0.0)
    domains: dict[str, list[dict[str, str]]] = {
        "welcome": [{"sets": num(plan.sets), "reps": num(plan.reps)}],
        "level": [w.level_fields(Level(v, s)) for v in VARIATION_SLUGS for s in STOP_POINTS],
        "set_intro": [{"n": num(i), "total": num(plan.sets)} for i in range(1, plan.sets + 1)],
        "set_done": nums(0, plan.reps),
        "rest": secs([round(plan.rest_s)]),
        "rest_left": secs([30, 10]),
        "beat_lift": nums(1, plan.reps),
        "beat_lift_left": nums(1, plan.reps),
        "beat_lift_right": nums(1, plan.reps),
        "beat_lower": nums(1, int(LOWER_MAX_S)),
        "beat_count": nums(1, int(LOWER_MAX_S)),
        "ack_easier": short_stops,
        "ack_harder": short_stops,
        "ack_stop_at": short_stops,
        "ack_easier_variation": short_vars,
        "ack_harder_variation": short_vars,
        "ack_slower": secs(lower),
        "ack_faster": secs(lower),
        "how_many": nums(0, plan.reps),
        "how_many_total": nums(0, total),
        "summary": nums(0, total),
        "summary_sets": nums(0, plan.sets),
        "summary_tension": secs(range(0, _tens(max_tension) + 1, 10)),
        "summary_kcal": nums(0, round(max_kcal)) if plan.body_mass_kg else [],
        "since_days": [{"days": w.days(d)} for d in range(2, MAX_DAYS_SAID + 1)],
        "offer_level": [w.level_fields(Level(v, s)) for v in VARIATION_SLUGS for s in STOP_POINTS],
    }
    out: dict[str, None] = {}
    for msg_id, template in w.mod.MESSAGES.items():
        if msg_id in domains:
            for fields in domains[msg_id]:
                out[w.say(msg_id, **fields)] = None
        elif _has_fields(template):
            raise KeyError(f"message {msg_id!r} has fields but no domain in speakable_texts")
        else:
            out[w.say(msg_id)] = None
    return list(out)


def _tens(seconds: float) -> int:
    """Seconds rounded to the nearest ten, for speaking."""
    return int(round(seconds / 10.0)) * 10


def _has_fields(template: str) -> bool:
    return any(name for _, name, _, _ in string.Formatter().parse(template))


__all__ = ["Coach", "Phase", "Plan", "Words", "estimate_speech_s", "speakable_texts"]
