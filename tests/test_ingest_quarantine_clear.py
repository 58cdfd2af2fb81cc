"""``loglake quarantine clear``: forget chosen entries, never the source objects."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
from sample_files import invictus_files

from loglake.cli import main


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _entries(lake: str, capsys: pytest.CaptureFixture[str]) -> list[dict]:
    assert main(["--lake", lake, "quarantine", "list", "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


@pytest.fixture
def quarantined(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[str, Path]:
    """A lake whose first ingest quarantined three objects for three reasons."""
    raw = tmp_path / "raw"
    good, cut = invictus_files()[:2]
    (raw / "delivered").mkdir(parents=True)
    (raw / "delivered" / good.name).write_bytes(good.read_bytes())
    (raw / "delivered" / cut.name).write_bytes(cut.read_bytes()[:300])  # a cut-off gzip
    (raw / "delivered" / f"{good.name[:-8]}X.json").write_bytes(b"")  # an empty delivery
    (raw / "tool-output").mkdir()
    (raw / "tool-output" / "events.log").write_text("2024-05-06 something happened\n")
    lake = str(tmp_path / "lake")
    assert main(["--lake", lake, "ingest", str(raw), "--no-progress"]) == 1
    capsys.readouterr()
    assert len(_entries(lake, capsys)) == 3
    return lake, raw


def test_clear_needs_a_filter_or_all(
    quarantined: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    lake, _ = quarantined
    assert main(["--lake", lake, "quarantine", "clear"]) == 2
    assert "--older-than, --reason and/or --object, or --all" in capsys.readouterr().err
    assert main(["--lake", lake, "quarantine", "clear", "--all", "--reason", "gzip"]) == 2
    capsys.readouterr()
    assert len(_entries(lake, capsys)) == 3


def test_filters_choose_entries_and_dry_run_only_lists(
    quarantined: tuple[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lake, raw = quarantined
    before = _digests(raw)
    by_object = {Path(e["source_key"]).name: e for e in _entries(lake, capsys)}
    layout = by_object["events.log"]
    assert "unknown key layout" in layout["error"]

    clear = ["--lake", lake, "quarantine", "clear"]
    assert main([*clear, "--reason", "UNKNOWN KEY", "--dry-run", "--format", "json"]) == 0
    out, err = capsys.readouterr()
    assert [json.loads(line)["id"] for line in out.splitlines()] == [layout["id"]]
    assert "would clear 1 quarantine entry; the source objects are untouched" in err
    assert len(_entries(lake, capsys)) == 3

    # age one entry by a month: --older-than chooses it alone
    entry_file = Path(lake) / "_quarantine" / "entries" / f"{layout['id']}.json"
    body = json.loads(entry_file.read_text())
    month_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    body["quarantined_at"] = month_ago.isoformat(timespec="seconds")
    entry_file.write_text(json.dumps(body))
    assert main([*clear, "--older-than", "7d"]) == 0
    assert "cleared 1 quarantine entry" in capsys.readouterr().err
    left = _entries(lake, capsys)
    assert {Path(e["source_key"]).name for e in left} == set(by_object) - {"events.log"}

    # --object takes a folder as typed (relative paths included); both filters must match
    monkeypatch.chdir(raw)
    assert main([*clear, "--object", "delivered", "--reason", "0-byte"]) == 0
    assert "cleared 1 quarantine entry" in capsys.readouterr().err
    assert main([*clear, "--all"]) == 0
    assert "cleared 1 quarantine entry" in capsys.readouterr().err
    assert _entries(lake, capsys) == []
    assert _digests(raw) == before  # the source objects are untouched

    # cleared entries stay cleared: the unchanged objects are not read again
    assert main(["--lake", lake, "ingest", str(raw), "--no-progress"]) == 0
    capsys.readouterr()
    assert _entries(lake, capsys) == []
    assert main([*clear, "--all"]) == 0
    assert "cleared 0 quarantine entries" in capsys.readouterr().err


def test_a_duration_that_is_not_one_is_refused(
    quarantined: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    lake, _ = quarantined
    assert main(["--lake", lake, "quarantine", "clear", "--older-than", "a week"]) == 2
    assert "--older-than 'a week' is not a duration" in capsys.readouterr().err
