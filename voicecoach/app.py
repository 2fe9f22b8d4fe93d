"""Assemble a session: the plan (from the user's profile and overrides) and the journal.

The one place that decides where a session starts and where it is saved, so `start`,
`replay` and `serve` behave alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from .coach import Plan
from .journal import Journal, JournalError, JournalSink
from .knowledge import Level
from .profile import DEFAULT_USER, StartAdvice, start_advice
from .reports import summary_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LevelOverride:
    """Level fields given on the command line; None keeps the profile's value."""

    variation: str | None = None
    stop_deg: int | None = None
    lower_s: float | None = None

    def apply(self, level: Level) -> Level:
        return Level(
            self.variation or level.variation,
            level.stop_deg if self.stop_deg is None else self.stop_deg,
            level.lower_s if self.lower_s is None else self.lower_s,
        )


def plan_with_advice(plan: Plan, advice: StartAdvice, override: LevelOverride) -> Plan:
    """The plan for this user: start where they left off unless told otherwise."""
    freq = advice.frequency
    ease = advice.ease
    return replace(
        plan,
        level=override.apply(advice.level),
        first_use=advice.first_use,
        returning=advice.returning,
        days_since_last=freq.days_since_last,
        recent_session=freq.consecutive_days or freq.too_many_this_week,
        ease=None if ease is None else override.apply(ease.proposed),
        ease_reason="" if ease is None else ease.reason,
    )


class Recorder:
    """The journal side of one session; works (with a warning) when the journal cannot."""

    def __init__(
        self,
        db: Path | None,
        user: str = DEFAULT_USER,
        *,
        started_at: datetime | None = None,
        body_mass_kg: float | None = None,
    ) -> None:
        self.user = user
        self.started_at = started_at or datetime.now(UTC)
        self.sink: JournalSink | None = None
        self.journal: Journal | None = None
        self.body_mass_kg = body_mass_kg
        try:
            self.journal = Journal(db)
            if self.journal.moved_aside is not None:
                log.warning(
                    "the journal was damaged; it was moved to %s and a new one started",
                    self.journal.moved_aside,
                )
            if body_mass_kg is not None:
                self.journal.set_body_mass(user, body_mass_kg)
            else:
                self.body_mass_kg = self.journal.profile(user).body_mass_kg
        except JournalError as exc:
            log.warning("%s; this session will not be saved", exc)
            self.journal = None

    def advice(self) -> StartAdvice | None:
        if self.journal is None:
            return None
        try:
            return start_advice(
                self.journal.profile(self.user), self.journal.sessions(self.user), self.started_at
            )
        except JournalError as exc:
            log.warning("cannot read your history (%s); starting from the defaults", exc)
            return None

    def plan(self, plan: Plan, override: LevelOverride) -> Plan:
        advice = self.advice()
        if advice is None:
            return replace(plan, level=override.apply(plan.level), body_mass_kg=self.body_mass_kg)
        return replace(plan_with_advice(plan, advice, override), body_mass_kg=self.body_mass_kg)

    def open_sink(self, plan: Plan) -> JournalSink | None:
        if self.journal is not None:
            self.sink = JournalSink(
                self.journal, self.user, level=plan.level, started_at=self.started_at
            )
        return self.sink

    def close(self) -> str | None:
        """Flush and close; returns the printed summary (None when nothing was recorded)."""
        text = None
        if self.sink is not None:
            self.sink.close()
            text = summary_text(self.sink.summary(self.body_mass_kg))
        if self.journal is not None:
            self.journal.close()
        return text
