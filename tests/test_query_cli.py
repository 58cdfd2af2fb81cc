"""The query commands of the CLI: results, formats, statistics, explain and history."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from loglake.cli import main


@pytest.fixture
def lake_root(tmp_path: Path) -> str:
    root = str(tmp_path / "lake")
    assert main(["init", root]) == 0
    assert (
        main(
            [
                "--lake",
                root,
                "query",
                "CREATE TABLE nums AS SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, 'b')) AS v(n, label)",
            ]
        )
        == 0
    )
    return root


def test_query_prints_table_and_statistics(
    lake_root: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert (
        main(
            [
                "--lake",
                lake_root,
                "query",
                "SELECT label, sum(n) AS total FROM nums GROUP BY label ORDER BY label",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "| a     | 1     |" in out and "| b     | 5     |" in out
    assert "data scanned" in out and "2 rows" in out


def test_query_json_with_parameters(lake_root: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert (
        main(
            [
                "--lake",
                lake_root,
                "query",
                "--format",
                "json",
                "-q",
                "-p",
                "b",
                "SELECT n FROM nums WHERE label = ? ORDER BY n",
            ]
        )
        == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == [{"n": 2}, {"n": 3}]


def test_query_parquet_output(lake_root: str, tmp_path: Path) -> None:
    target = tmp_path / "out.parquet"
    assert (
        main(
            [
                "--lake",
                lake_root,
                "query",
                "-q",
                "--format",
                "parquet",
                "-o",
                str(target),
                "SELECT * FROM nums",
            ]
        )
        == 0
    )
    assert pl.read_parquet(target).height == 3


def test_bad_sql_exits_2_with_position(lake_root: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lake", lake_root, "query", "SELECT nn FROM nums"]) == 2
    err = capsys.readouterr().err
    assert "nn" in err and "line 1, column 8" in err


def test_explain_and_history(lake_root: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lake", lake_root, "explain", "SELECT * FROM nums WHERE n > 1"]) == 0
    assert "default.nums" in capsys.readouterr().out
    assert main(["--lake", lake_root, "history", "--limit", "5"]) == 0
    out = capsys.readouterr().out
    assert "CREATE TABLE nums" in out and "SUCCEEDED" in out


def test_explain_reads_nothing_and_says_so(
    lake_root: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The plan names the files a query would read; the statement itself scanned none, so its
    statistics line and the history show 0 bytes (the query run after it shows its own)."""
    capsys.readouterr()
    assert main(["--lake", lake_root, "query", "EXPLAIN SELECT * FROM nums"]) == 0
    captured = capsys.readouterr()
    assert "1 file(s) kept" in captured.out
    assert "data scanned 0 B, files scanned 0" in captured.out + captured.err
    assert main(["--lake", lake_root, "query", "SELECT * FROM nums"]) == 0
    captured = capsys.readouterr()
    assert "files scanned 1" in captured.out + captured.err
    assert main(["--lake", lake_root, "history", "--format", "json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    scanned = {r["query"]: r["bytes_scanned"] for r in rows if "nums" in r["query"]}
    assert scanned["EXPLAIN SELECT * FROM nums"] == 0
    assert scanned["SELECT * FROM nums"] > 0


def test_explain_binds_parameters(lake_root: str, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT * FROM nums WHERE label = ?"
    assert main(["--lake", lake_root, "explain", sql, "--param", "b"]) == 0
    assert "default.nums" in capsys.readouterr().out
    assert main(["--lake", lake_root, "explain", sql]) == 2
    assert "1 parameter(s) but 0 value(s)" in capsys.readouterr().err


def test_the_command_line_starts_without_loading_spark() -> None:
    """`loglake --version`, `--help` and every command's options are read without the Spark
    side (it loaded the catalog, sqlglot and pyarrow for every command: 3.9 s of imports on a
    busy machine); `query --engine spark` loads it when it runs."""
    import subprocess
    import sys

    probe = (
        "import sys; from loglake.cli import build_parser; build_parser(); "
        "print(sorted(m for m in sys.modules if m.startswith(('loglake.scaleout', 'pyspark'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
