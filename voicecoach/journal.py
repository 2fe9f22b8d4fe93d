"""The training journal: one SQLite file (stdlib sqlite3, WAL), schema versioned.

Sessions, sets, reps (counted or not, and why), commands heard, adjustments,
pain stops and the per-user profile. ``JournalSink`` (in ``journal_sink``)
writes it as the session goes; this module owns the file, the schema and the
queries.

Faults: a damaged file is moved aside (renamed with a timestamp, never deleted)
and a new one is created; a locked file raises ``JournalLocked`` from ``write``
so the caller can keep its rows and retry; rows that could not be written when
a session closed are spilled to ``<db>.pending.jsonl`` and applied on the next
open.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from .knowledge import Level
from .profile import DEFAULT_USER, Profile, SessionRecord, SetRecord

log = logging.getLogger(__name__)

Op = tuple[str, Sequence[Any]]
"""One SQL statement and its parameters."""

#: MIGRATIONS[i] upgrades a journal from schema version i to i + 1.
MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the first journal.
    """
    CREATE TABLE sessions (id TEXT PRIMARY KEY, user TEXT NOT NULL, started_at TEXT NOT NULL,
        ended_at TEXT, end_reason TEXT, variation TEXT, stop_deg INTEGER, lower_s REAL);
    CREATE TABLE sets (session_id TEXT NOT NULL, set_no INTEGER NOT NULL, variation TEXT,
        stop_deg INTEGER, lower_s REAL, perfect INTEGER, attempts INTEGER, reason TEXT,
        PRIMARY KEY (session_id, set_no));
    CREATE TABLE reps (session_id TEXT NOT NULL, set_no INTEGER NOT NULL, n INTEGER NOT NULL,
        t REAL, counted INTEGER NOT NULL, PRIMARY KEY (session_id, set_no, n));
    CREATE TABLE profiles (user TEXT PRIMARY KEY, variation TEXT, stop_deg INTEGER,
        lower_s REAL, last_session_at TEXT);
    CREATE INDEX sessions_user ON sessions (user, started_at)
    """,
    # 1 -> 2: why a rep did not count, rep timing, commands, adjustments, pain stops.
    """
    ALTER TABLE reps ADD COLUMN reason TEXT;
    ALTER TABLE reps ADD COLUMN variation TEXT;
    ALTER TABLE reps ADD COLUMN stop_deg INTEGER;
    ALTER TABLE reps ADD COLUMN lower_s REAL;
    ALTER TABLE reps ADD COLUMN duration_s REAL;
    UPDATE reps SET reason = 'not_counted' WHERE counted = 0;
    UPDATE reps SET (variation, stop_deg, lower_s) = (SELECT s.variation, s.stop_deg, s.lower_s
        FROM sets s WHERE s.session_id = reps.session_id AND s.set_no = reps.set_no);
    ALTER TABLE sets ADD COLUMN planned_reps INTEGER;
    ALTER TABLE sets ADD COLUMN started_t REAL;
    ALTER TABLE sets ADD COLUMN ended_t REAL;
    ALTER TABLE sets ADD COLUMN back_lifts INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE sessions ADD COLUMN ended_t REAL;
    ALTER TABLE profiles ADD COLUMN disclaimer_said INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE profiles ADD COLUMN body_mass_kg REAL;
    UPDATE profiles SET disclaimer_said = 1;
    CREATE TABLE commands (session_id TEXT NOT NULL, t REAL NOT NULL, set_no INTEGER,
        intent TEXT, phrase TEXT);
    CREATE TABLE adjustments (session_id TEXT NOT NULL, t REAL NOT NULL, set_no INTEGER,
        intent TEXT, variation TEXT, stop_deg INTEGER, lower_s REAL);
    CREATE TABLE pain_stops (session_id TEXT NOT NULL, t REAL NOT NULL, set_no INTEGER,
        phrase TEXT)
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)
FILE_NAME = "journal.sqlite3"


class JournalError(Exception):
    """The journal cannot be used (the message says why and what to do)."""


class JournalLocked(JournalError):
    """Another program holds the database lock; try again later."""


def default_path() -> Path:
    """The journal in the platform's user data directory."""
    import platformdirs

    return platformdirs.user_data_path("voicecoach", appauthor=False) / FILE_NAME


def _is_locked(exc: sqlite3.Error) -> bool:
    msg = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in msg or "busy" in msg)


def _parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


class Journal:
    """One journal file. ``busy_timeout_s``: how long a write waits for a lock (seconds)."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        busy_timeout_s: float = 0.05,
        open_timeout_s: float = 2.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.busy_timeout_s = busy_timeout_s
        self.moved_aside: Path | None = None
        """Where a damaged file was moved on open, if it was."""
        self._now = now
        self._ready = False
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise JournalError(
                f"cannot create the journal folder {self.path.parent}: {exc}; "
                "choose another file with --db PATH"
            ) from exc
        self._conn = self._connect()
        self._open(open_timeout_s)

    def _connect(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(self.path, isolation_level=None, timeout=self.busy_timeout_s)
        except sqlite3.Error as exc:
            raise JournalError(
                f"cannot open the journal {self.path}: {exc}; choose another file with --db PATH"
            ) from exc

    def _open(self, timeout_s: float) -> None:
        try:
            self._set_timeout(timeout_s)
            self._prepare()
        except sqlite3.Error as exc:
            if _is_locked(exc):
                log.warning("journal %s is locked by another program; will retry", self.path)
                return
            if isinstance(exc, sqlite3.OperationalError) and "unable to open" in str(exc):
                raise JournalError(
                    f"cannot open the journal {self.path}: {exc}; "
                    "choose another file with --db PATH"
                ) from exc
            self._move_aside(exc)
            self._conn = self._connect()
            self._set_timeout(timeout_s)
            self._prepare()
        finally:
            self._set_timeout(self.busy_timeout_s)

    def _set_timeout(self, seconds: float) -> None:
        self._conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")

    def _prepare(self) -> None:
        """Check the file, switch to WAL, migrate, apply spilled rows. Idempotent."""
        conn = self._conn
        row = conn.execute("PRAGMA quick_check").fetchone()
        if row is None or row[0] != "ok":
            raise sqlite3.DatabaseError(f"integrity check failed: {row[0] if row else '?'}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"the journal {self.path} has schema version {version}, newer than this "
                f"voicecoach knows ({SCHEMA_VERSION}); upgrade voicecoach or use --db NEW_FILE"
            )
        for v in range(version, SCHEMA_VERSION):
            self._transaction(
                [(s, ()) for s in MIGRATIONS[v].split(";") if s.strip()]
                + [(f"PRAGMA user_version = {v + 1}", ())]
            )
            log.info("journal %s migrated from schema %d to %d", self.path, v, v + 1)
        self._ready = True
        self._apply_spill()

    def _move_aside(self, exc: BaseException) -> None:
        self._conn.close()
        stamp = self._now().strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        k = 1
        while target.exists():
            k += 1
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{k}")
        self.path.rename(target)
        for suffix in ("-wal", "-shm"):
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.rename(target.with_name(target.name + suffix))
        self.moved_aside = target
        log.warning(
            "journal %s is damaged (%s); moved it aside to %s and started a new one",
            self.path, exc, target,
        )

    def _transaction(self, ops: Sequence[Op]) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in ops:
                conn.execute(sql, tuple(params))
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @property
    def spill_path(self) -> Path:
        return self.path.with_name(self.path.name + ".pending.jsonl")

    def _apply_spill(self) -> None:
        spill = self.spill_path
        if not spill.exists():
            return
        ops = [tuple(json.loads(line)) for line in spill.read_text("utf-8").splitlines() if line]
        self._transaction(ops)
        spill.unlink()
        log.info("journal %s: wrote %d rows kept from an earlier session", self.path, len(ops))

    # -- writing -------------------------------------------------------------

    def write(self, ops: Sequence[Op]) -> None:
        """Apply ``ops`` in one transaction. Raises JournalLocked if the file is locked."""
        try:
            if not self._ready:
                self._prepare()
            self._transaction(ops)
        except sqlite3.Error as exc:
            if _is_locked(exc):
                raise JournalLocked(f"journal {self.path} is locked by another program") from exc
            raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc

    def spill(self, ops: Sequence[Op]) -> Path:
        """Keep rows that could not be written in a side file, applied on the next open."""
        with self.spill_path.open("a", encoding="utf-8") as f:
            for sql, params in ops:
                f.write(json.dumps([sql, list(params)]) + "\n")
        return self.spill_path

    def set_body_mass(self, user: str, kg: float | None) -> None:
        if kg is not None and not 20.0 <= kg <= 400.0:
            raise JournalError(f"body mass {kg:g} kg is outside 20-400 kg; give it in kilograms")
        self.write([(
            ("INSERT INTO profiles (user, body_mass_kg) VALUES (?, ?) "
            "ON CONFLICT (user) DO UPDATE SET body_mass_kg = excluded.body_mass_kg"),
            (user, kg),
        )])

    # -- reading -------------------------------------------------------------

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        if not self._ready:
            try:
                self._prepare()
            except sqlite3.Error as exc:
                raise JournalLocked(f"journal {self.path} is locked by another program") from exc
        cur = self._conn.execute(sql, tuple(params))
        cur.row_factory = sqlite3.Row
        return cur.fetchall()

    def profile(self, user: str = DEFAULT_USER) -> Profile:
        """The user's profile; a fresh one (default level, first use) if there is none."""
        rows = self._rows("SELECT * FROM profiles WHERE user = ?", (user,))
        if not rows:
            return Profile(user)
        r = rows[0]
        level = Level()
        if r["variation"] is not None:
            level = Level(r["variation"], r["stop_deg"], r["lower_s"])
        return Profile(
            user, level, _parse_time(r["last_session_at"]),
            bool(r["disclaimer_said"]), r["body_mass_kg"],
        )

    def sessions(self, user: str = DEFAULT_USER) -> list[SessionRecord]:
        """The user's sessions, oldest first, with their sets."""
        rows = self._rows(
            "SELECT s.*, (SELECT count(*) FROM pain_stops p WHERE p.session_id = s.id) AS pains,"
            " (SELECT count(*) FROM reps r WHERE r.session_id = s.id AND r.counted) AS perfect"
            " FROM sessions s WHERE s.user = ? ORDER BY s.started_at, s.rowid",
            (user,),
        )
        sets: dict[str, list[SetRecord]] = {}
        for r in self._rows(
            "SELECT t.*, (SELECT min(r.lower_s) FROM reps r WHERE r.session_id = t.session_id"
            " AND r.set_no = t.set_no AND r.counted) AS min_lower,"
            " (SELECT count(*) FROM reps r WHERE r.session_id = t.session_id"
            " AND r.set_no = t.set_no AND r.counted) AS counted_reps,"
            " (SELECT count(*) FROM reps r WHERE r.session_id = t.session_id"
            " AND r.set_no = t.set_no) AS rep_rows"
            " FROM sets t JOIN sessions s ON s.id = t.session_id WHERE s.user = ?"
            " ORDER BY t.set_no",
            (user,),
        ):
            sets.setdefault(r["session_id"], []).append(SetRecord(
                r["set_no"], Level(r["variation"], r["stop_deg"], r["lower_s"]),
                r["perfect"] if r["perfect"] is not None else r["counted_reps"],
                r["attempts"] if r["attempts"] is not None else r["rep_rows"],
                r["reason"], r["back_lifts"], r["min_lower"],
            ))
        return [
            SessionRecord(
                r["id"], r["user"], datetime.fromisoformat(r["started_at"]),
                Level(r["variation"], r["stop_deg"], r["lower_s"]),
                tuple(sets.get(r["id"], ())), r["perfect"], r["pains"], r["end_reason"],
            )
            for r in rows
        ]

    def table(self, name: str, session_id: str) -> list[dict[str, Any]]:
        """Raw rows of one table for one session (reps, sets, commands, ...), in order."""
        if name not in {"sets", "reps", "commands", "adjustments", "pain_stops"}:
            raise JournalError(f"no journal table {name!r}")
        return [dict(r) for r in self._rows(
            f"SELECT * FROM {name} WHERE session_id = ? ORDER BY rowid", (session_id,)
        )]

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


from .journal_sink import JournalSink, SessionSummary, summarize_events

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Journal",
    "JournalError",
    "JournalLocked",
    "JournalSink",
    "SessionSummary",
    "default_path",
    "summarize_events",
]
