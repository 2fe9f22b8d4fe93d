"""Per-user profile and the progression rules (pure: no I/O, no clock).

The rules follow the coaching notes:

* 15 perfect reps in one set with a lowering time of at least 3 s -> offer to
  progress: extend the range first, then the next variation (``Level.harder``).
* A pain stop, or two sets in a row with the back lifting -> suggest the easier
  option next time (``Level.easier``).
* Frequency: say when the last session was; warn about training the core on
  consecutive days (2-3 sessions a week is the dose).

Every function here takes plain records and returns plain dataclasses; the
journal reads and writes, the coach speaks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from .knowledge import Level

DEFAULT_USER = "default"

#: Perfect reps in one set that earn a progression offer.
PROGRESS_REPS = 15
#: Minimum lowering time for those reps to count towards progress (seconds).
PROGRESS_LOWER_S = 3.0
#: Sets in a row with the back lifting that make the easier option the advice.
BACK_LIFT_SETS = 2
#: Recommended sessions in any 7 days (the core needs recovery).
MAX_SESSIONS_PER_WEEK = 3
#: Two sessions closer than this are "consecutive days" (hours).
RECOVERY_HOURS = 36.0


@dataclass(frozen=True)
class Profile:
    """What the coach remembers about one user between sessions."""

    user: str = DEFAULT_USER
    level: Level = field(default_factory=Level)
    """Where the last session ended (variation, stop point, lowering time)."""
    last_session_at: datetime | None = None
    """Start of the most recent session (UTC), None before the first one."""
    disclaimer_said: bool = False
    """The not-medical-advice line was spoken once already."""
    body_mass_kg: float | None = None
    """Body mass for the energy estimate (kilograms); None when not configured."""

    @property
    def first_use(self) -> bool:
        """True until the coach has said it is not medical advice."""
        return not self.disclaimer_said


@dataclass(frozen=True)
class SetRecord:
    """One finished (or interrupted) set, as the journal saw it."""

    set_no: int
    level: Level
    """Level at the start of the set."""
    perfect: int = 0
    attempts: int = 0
    reason: str | None = None
    """How the set ended (complete, limit, done, pain, stop); None if interrupted."""
    back_lifts: int = 0
    """Reps (or reports) in this set where the back lifted off the floor."""
    min_lower_s: float | None = None
    """Shortest lowering time among the counted reps (seconds); None with no counted rep."""

    @property
    def back_lifted(self) -> bool:
        return self.back_lifts > 0


@dataclass(frozen=True)
class SessionRecord:
    """One session in the journal, with its sets."""

    id: str
    user: str
    started_at: datetime
    level: Level
    """Level where the session ended (or had got to when interrupted)."""
    sets: tuple[SetRecord, ...] = ()
    perfect: int = 0
    pain_stops: int = 0
    end_reason: str | None = None
    """complete, stop, end_of_input; None for a session that never ended (crash)."""


@dataclass(frozen=True)
class ProgressOffer:
    """Offer to make the exercise harder; applied only when the user says yes."""

    current: Level
    proposed: Level
    kind: Literal["range", "variation"]
    """``range``: lower stop point, same variation; ``variation``: the next variation."""
    perfect: int
    """Perfect reps in the set that earned the offer."""


@dataclass(frozen=True)
class EaseSuggestion:
    """Suggest the easier option for the next session."""

    current: Level
    proposed: Level
    reason: Literal["pain", "back_lifting"]


@dataclass(frozen=True)
class FrequencyNote:
    """How this session fits the 2-3 sessions a week dose."""

    hours_since_last: float | None
    """Hours since the previous session started; None for the first session."""
    consecutive_days: bool
    """The previous session was less than RECOVERY_HOURS ago: warn about recovery."""
    sessions_last_7_days: int
    """Sessions started in the 7 days before this one (this one not included)."""

    @property
    def days_since_last(self) -> int | None:
        if self.hours_since_last is None:
            return None
        return int(self.hours_since_last // 24)

    @property
    def too_many_this_week(self) -> bool:
        """This session would make more than MAX_SESSIONS_PER_WEEK in 7 days."""
        return self.sessions_last_7_days >= MAX_SESSIONS_PER_WEEK


@dataclass(frozen=True)
class StartAdvice:
    """What the coach should say at the start of a session."""

    level: Level
    """Where to start: the level the last session ended at."""
    returning: bool
    """The user has trained before (say "we pick up where you left off")."""
    first_use: bool
    """Say the not-medical-advice line."""
    ease: EaseSuggestion | None
    frequency: FrequencyNote


def offer_progress(level: Level, perfect: int, min_lower_s: float | None) -> ProgressOffer | None:
    """The offer earned by a set with ``perfect`` counted reps, or None.

    ``min_lower_s`` is the shortest lowering time among those reps (seconds).
    No offer at the hardest level, or when the descent was faster than 3 s.
    """
    if perfect < PROGRESS_REPS or min_lower_s is None or min_lower_s < PROGRESS_LOWER_S:
        return None
    proposed = level.harder()
    if proposed == level:
        return None
    kind: Literal["range", "variation"] = (
        "range" if proposed.variation == level.variation else "variation"
    )
    return ProgressOffer(level, proposed, kind, perfect)


def offer_after_set(record: SetRecord) -> ProgressOffer | None:
    """``offer_progress`` for a finished set; a set ended by pain never earns one."""
    if record.reason == "pain":
        return None
    return offer_progress(record.level, record.perfect, record.min_lower_s)


def back_lifting_streak(sets: Sequence[SetRecord]) -> int:
    """The longest run of consecutive sets in which the back lifted."""
    best = run = 0
    for s in sorted(sets, key=lambda s: s.set_no):
        run = run + 1 if s.back_lifted else 0
        best = max(best, run)
    return best


def ease_for_next_time(session: SessionRecord | None, level: Level) -> EaseSuggestion | None:
    """Suggest the easier option after a pain stop or two back-lifting sets in a row."""
    if session is None:
        return None
    proposed = level.easier()
    if proposed == level:
        return None
    if session.pain_stops > 0 or any(s.reason == "pain" for s in session.sets):
        return EaseSuggestion(level, proposed, "pain")
    if back_lifting_streak(session.sets) >= BACK_LIFT_SETS:
        return EaseSuggestion(level, proposed, "back_lifting")
    return None


def frequency(previous_starts: Sequence[datetime], now: datetime) -> FrequencyNote:
    """Frequency advice from the start times of earlier sessions (any order)."""
    past = [t for t in previous_starts if t <= now]
    if not past:
        return FrequencyNote(None, False, 0)
    last = max(past)
    hours = (now - last).total_seconds() / 3600.0
    week = sum(1 for t in past if now - t < timedelta(days=7))
    return FrequencyNote(hours, hours < RECOVERY_HOURS, week)


def start_advice(
    profile: Profile, history: Sequence[SessionRecord], now: datetime
) -> StartAdvice:
    """Advice for a new session from the profile and the user's earlier sessions.

    ``history`` holds earlier sessions only (any order); ``now`` is when this one starts.
    """
    earlier = sorted((s for s in history if s.started_at <= now), key=lambda s: s.started_at)
    last = earlier[-1] if earlier else None
    return StartAdvice(
        level=profile.level,
        returning=last is not None,
        first_use=profile.first_use,
        ease=ease_for_next_time(last, profile.level),
        frequency=frequency([s.started_at for s in earlier], now),
    )


class _HasProfile(Protocol):
    def profile(self, user: str) -> Profile: ...


def load_level(journal: _HasProfile, user: str = DEFAULT_USER) -> Level:
    """The level the user's last session ended at (the default level for a new user)."""
    return journal.profile(user).level
