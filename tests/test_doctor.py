"""`voicecoach doctor` reports every part, and says what to fix."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from voicecoach.cli import cli
from voicecoach.doctor import Finding, check_journal


def test_doctor_reports_each_part(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["doctor", "--listen", "0", "--db",
                                      str(tmp_path / "j.sqlite3")])
    out = result.stdout
    for part in ("speech out (pyttsx3)", "speech in (pocketsphinx)", "phrase cache", "journal"):
        assert f"[ok ] {part}" in out, out
    assert "Traceback" not in out
    fine = out.rstrip().endswith("Everything looks fine.")
    assert (result.exit_code == 0) == fine  # the exit code tells scripts whether to act


def test_a_broken_journal_is_reported_with_the_fix(tmp_path: Path) -> None:
    folder = tmp_path / "journal-is-a-folder"
    folder.mkdir()
    finding = check_journal(folder)
    assert not finding.ok and "--db" in finding.detail + finding.fix


def test_a_finding_prints_its_fix() -> None:
    line = Finding("microphone level", False, "silent", "unmute it").line()
    assert line == "[FIX] microphone level: silent\n      -> unmute it"
