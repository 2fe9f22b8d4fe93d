"""The leg-raise knowledge the coach carries, as data.

Facts come from the project's coaching notes (two source articles); every
sentence the coach speaks lives in ``voicecoach.lang``. Nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Variation:
    slug: str
    """Stable identifier used on the command line, in the journal and in events."""
    alternate: bool = False
    """Reps alternate sides (left, right) instead of moving both legs together."""


#: The variation ladder, easiest first.
VARIATIONS: tuple[Variation, ...] = (
    Variation("dead-bug", alternate=True),
    Variation("bent-knee"),
    Variation("single-leg", alternate=True),
    Variation("straight-leg"),
    Variation("hip-lift"),
    Variation("flutter-kick"),
    Variation("hanging-knee"),
    Variation("hanging-straight"),
)
VARIATION_SLUGS: tuple[str, ...] = tuple(v.slug for v in VARIATIONS)

#: The lowering-range ladder: degrees above the floor at the bottom of a rep,
#: shortest range (easiest) first. 5 stands for the hover (feet 5-10 cm up).
STOP_POINTS: tuple[int, ...] = (45, 30, 15, 5)
HOVER_DEG = 5
START_STOP_DEG = STOP_POINTS[0]
"""Where a newly chosen variation starts: the shortest range."""

#: Lowering time limits for "slower" / "faster" (seconds).
LOWER_MIN_S = 2.0
LOWER_MAX_S = 5.0
LOWER_STEP_S = 1.0

#: Energy estimate: light-to-moderate core work.
LEG_RAISE_MET = 3.0


def variation(slug: str) -> Variation:
    for v in VARIATIONS:
        if v.slug == slug:
            return v
    raise KeyError(slug)


def kcal(minutes: float, body_mass_kg: float, met: float = LEG_RAISE_MET) -> float:
    """Energy from the compendium formula: kcal/min = MET x 3.5 x kg / 200."""
    return met * 3.5 * body_mass_kg / 200.0 * minutes


@dataclass(frozen=True)
class Level:
    """Where the user trains: variation, stop point and lowering time."""

    variation: str = "bent-knee"
    """Variation slug (see VARIATION_SLUGS)."""
    stop_deg: int = START_STOP_DEG
    """Stop point: leg angle above the floor at the bottom of the rep (degrees)."""
    lower_s: float = 3.0
    """Lowering time (seconds)."""

    def easier(self) -> Level:
        """Shorten the range one step; at the shortest range, step the variation down."""
        i = STOP_POINTS.index(self.stop_deg)
        if i > 0:
            return Level(self.variation, STOP_POINTS[i - 1], self.lower_s)
        v = VARIATION_SLUGS.index(self.variation)
        if v > 0:
            return Level(VARIATION_SLUGS[v - 1], START_STOP_DEG, self.lower_s)
        return self

    def harder(self) -> Level:
        """Lengthen the range one step; at the hover, step the variation up (range reset)."""
        i = STOP_POINTS.index(self.stop_deg)
        if i < len(STOP_POINTS) - 1:
            return Level(self.variation, STOP_POINTS[i + 1], self.lower_s)
        v = VARIATION_SLUGS.index(self.variation)
        if v < len(VARIATION_SLUGS) - 1:
            return Level(VARIATION_SLUGS[v + 1], START_STOP_DEG, self.lower_s)
        return self

    def higher_stop(self) -> Level:
        """Move the stop point up one step (back lifted); never changes the variation."""
        i = STOP_POINTS.index(self.stop_deg)
        return Level(self.variation, STOP_POINTS[max(i - 1, 0)], self.lower_s)

    def with_lower(self, seconds: float) -> Level:
        clamped = min(max(seconds, LOWER_MIN_S), LOWER_MAX_S)
        return Level(self.variation, self.stop_deg, clamped)


def validate_level(level: Level) -> None:
    """Raise ValueError naming the bad field and the allowed values."""
    if level.variation not in VARIATION_SLUGS:
        raise ValueError(
            f"variation {level.variation!r} is not one of: {', '.join(VARIATION_SLUGS)}"
        )
    if level.stop_deg not in STOP_POINTS:
        raise ValueError(
            f"stop point {level.stop_deg} is not one of: {', '.join(map(str, STOP_POINTS))}"
        )
    if not LOWER_MIN_S <= level.lower_s <= LOWER_MAX_S:
        raise ValueError(
            f"lowering time {level.lower_s:g} s is outside {LOWER_MIN_S:g}-{LOWER_MAX_S:g} s"
        )
