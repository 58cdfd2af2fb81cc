"""Magics, result display, the plot helper and Athena's charge, in an in-process IPython shell."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from IPython.core.error import UsageError

import loglake
from loglake import display, magics
from loglake.plot import counts_per_interval, timeseries
from loglake.query.cost import MEGABYTE, TERABYTE, athena_cost_usd, format_usd
from loglake.query.engine import QueryStats
from tests.conftest import new_lake


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A lake in a folder named demo-lake with an ``aws.events`` table (so discovery finds it)."""
    root = tmp_path_factory.mktemp("magics") / "demo-lake"
    lake = new_lake(root)
    lake.sql("CREATE DATABASE aws")
    lake.sql(
        """
        CREATE TABLE aws.events AS
        SELECT * FROM (VALUES
          ('2024-05-06T10:00:05Z', 'ConsoleLogin', '198.51.100.7', '<script>alert(1)</script>'),
          ('2024-05-06T10:00:40Z', 'ConsoleLogin', '198.51.100.7', NULL),
          ('2024-05-06T10:02:10Z', 'GetUser', '203.0.113.9', 'aws-cli/2'),
          ('2024-05-06T10:02:11Z', 'ConsoleLogin', '203.0.113.9', 'x'' OR ''1''=''1')
        ) AS t(eventtime, eventname, sourceipaddress, useragent)
        """
    )
    return str(root)


@pytest.fixture
def shell(lake_root: str) -> Any:
    from IPython.testing.globalipapp import get_ipython

    ip = get_ipython()
    ip.run_line_magic("load_ext", "loglake")
    ip.run_line_magic("loglake", f"connect {lake_root}")
    return ip


def test_connect_finds_the_lake_and_never_creates_one(
    lake_root: str, shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nested = Path(lake_root).parent / "docs" / "deeper"
    nested.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(nested)
    monkeypatch.delenv("LOGLAKE_LAKE", raising=False)
    lake = shell.run_line_magic("loglake", "connect")
    assert lake.settings.root == lake_root and lake.database == "aws"
    monkeypatch.setenv("LOGLAKE_LAKE", lake_root)
    monkeypatch.chdir(tmp_path)
    assert shell.run_line_magic("loglake", "connect").settings.root == lake_root
    missing = tmp_path / "no-such-lake"
    with pytest.raises(UsageError, match="no lake at"):
        shell.run_line_magic("loglake", f"connect {missing}")
    assert not missing.exists()
    monkeypatch.delenv("LOGLAKE_LAKE")
    with pytest.raises(UsageError, match="make demo"):
        shell.run_line_magic("loglake", "connect")


def test_sql_shows_a_table_with_types_and_a_stats_line(shell: Any) -> None:
    result = shell.run_line_magic(
        "sql", "SELECT eventname, count(*) AS n FROM events GROUP BY 1 ORDER BY 1"
    )
    assert result.pl().rows() == [("ConsoleLogin", 3), ("GetUser", 1)]
    page = result._repr_html_()
    assert "<th>eventname<br><small class='loglake-type' title='varchar'>varchar</small>" in page
    assert "<th>n<br><small class='loglake-type' title='bigint'>bigint</small>" in page
    assert "<td>ConsoleLogin</td><td>3</td>" in page
    assert "2 rows · " in page and "files 1 read, 0 skipped" in page
    assert "Athena would charge USD 0.000048" in page and result.query_id in page
    assert "2 rows · " in repr(result)
    assert result.df()["n"].tolist() == [3, 1] and result.arrow().num_rows == 2


def test_hostile_values_are_escaped_and_nulls_marked(shell: Any) -> None:
    page = shell.run_line_magic(
        "sql", "SELECT useragent FROM events ORDER BY eventtime"
    )._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<td class='loglake-null'>NULL</td>" in page


def test_named_parameters_bind_notebook_variables(shell: Any) -> None:
    shell.user_ns["ip"] = "198.51.100.7"
    shell.user_ns["hostile"] = "x' OR '1'='1"
    result = shell.run_cell_magic(
        "sql",
        "",
        "SELECT count(*) AS n, ':ip' AS text -- :hostile in a comment\n"
        "FROM events WHERE sourceipaddress = :ip",
    )
    assert result.pl().rows() == [(2, ":ip")]
    assert (
        shell.run_line_magic("sql", "SELECT count(*) AS n FROM events WHERE eventname = :hostile")
        .pl()
        .item()
        == 0
    )
    assert (
        shell.run_line_magic("sql", "SELECT count(*) AS n FROM events WHERE useragent = :hostile")
        .pl()
        .item()
        == 1
    )
    # {var} is not expanded: it stays SQL text
    shell.user_ns["name"] = "GetUser"
    assert shell.run_line_magic("sql", "SELECT '{name}' AS v").pl().item() == "{name}"
    with pytest.raises(UsageError, match="no notebook variable named 'nobody'"):
        shell.run_line_magic("sql", "SELECT :nobody")


def test_capture_into_a_variable(shell: Any) -> None:
    shell.run_cell_magic(
        "sql", "logins <<", "SELECT * FROM events WHERE eventname = 'ConsoleLogin'"
    )
    assert isinstance(shell.user_ns["logins"], pl.DataFrame) and shell.user_ns["logins"].height == 3
    shell.run_line_magic("sql", "--out users SELECT DISTINCT eventname FROM events")
    assert sorted(shell.user_ns["users"]["eventname"]) == ["ConsoleLogin", "GetUser"]


def test_errors_are_one_clean_message(shell: Any) -> None:
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic("sql", "SELECT nosuch FROM events")
    message = str(caught.value)
    assert "line 1, column 8" in message and "^^^^^^" in message and "Traceback" not in message
    with pytest.raises(UsageError, match="no SQL"):
        shell.run_line_magic("sql", "")


def test_explain_prints_files_and_athena_charge(shell: Any, capsys: pytest.CaptureFixture) -> None:
    shell.run_line_magic("loglake", "explain SELECT count(*) FROM events")
    out = capsys.readouterr().out
    assert "aws.events: 1 file(s) kept, 0 skipped" in out
    assert "Athena would charge USD 0.000048" in out and "10 MB minimum" in out


def test_progress_line_shows_while_running_then_disappears(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shown: list[str] = []

    class Handle:
        def update(self, obj: Any) -> None:
            shown.append(obj.data)

    def fake_display(obj: Any, display_id: bool = False) -> Handle:
        shown.append(obj.data)
        return Handle()

    monkeypatch.setattr("IPython.display.display", fake_display)
    monkeypatch.setattr(display, "PROGRESS_AFTER_S", 0.0)
    received = iter(range(0, 10_000, 1000))
    done = display.with_progress(
        lambda: sum(range(3_000_000)), lambda: (12, 3 * MEGABYTE, next(received, 10_000)), 0.0
    )
    assert done == sum(range(3_000_000))
    assert "<progress" in shown[0] and "reading 12 files (3.00 MB)" in shown[0]
    assert shown[-1] == ""  # removed when done

    # a fast query shows nothing
    shown.clear()
    monkeypatch.setattr(display, "PROGRESS_AFTER_S", 60.0)
    assert display.with_progress(lambda: 1, lambda: (0, 0, 0), 0.0) == 1
    assert shown == []


def test_cells_show_structs_lists_times_and_cut_long_text() -> None:
    stats = QueryStats(query_id="q1", rows=60, bytes_scanned=5 * MEGABYTE, files_scanned=3)
    frame = pl.DataFrame(
        {
            "who": [{"type": "Root", "arn": None}] * 60,
            "ports": [[22, 3389]] * 60,
            "at": [dt.datetime(2024, 5, 6, 10, 0, tzinfo=dt.UTC)] * 60,
            "note": ["a" * 500] * 60,
        }
    )
    page = display.Result(
        frame, stats, ["row", "array(integer)", "timestamp", "varchar"]
    )._repr_html_()
    assert (
        "<td>{type=Root, arn=null}</td><td>[22, 3389]</td><td>2024-05-06 10:00:00.000 UTC</td>"
        in page
    )
    assert "a" * 199 + "…</td>" in page and "a" * 201 not in page.split("title=")[0]
    assert "showing 50 of 60 rows · 60 rows · 5.00 MB scanned · files 3 read, 0 skipped" in page


def test_athena_charge() -> None:
    ten_mb = 10 * MEGABYTE / TERABYTE * 5
    assert athena_cost_usd(0) == athena_cost_usd(10 * MEGABYTE) == pytest.approx(ten_mb)
    assert athena_cost_usd(10 * MEGABYTE + 1) == pytest.approx(11 * MEGABYTE / TERABYTE * 5)
    assert athena_cost_usd(TERABYTE) == 5.0
    assert athena_cost_usd(TERABYTE, "CREATE TABLE AS") == 5.0
    assert athena_cost_usd(TERABYTE, "SHOW") == 0.0 and athena_cost_usd(5, "DESCRIBE") == 0.0
    assert format_usd(ten_mb) == "USD 0.000048" and format_usd(12.5) == "USD 12.50"


def test_counts_per_interval_and_png(tmp_path: Path) -> None:
    frame = pl.DataFrame(
        {
            "eventtime": ["2024-05-06T10:00:05Z", "2024-05-06T10:00:40Z", "2024-05-06T10:03:10Z"],
            "ip": ["a", "b", "a"],
        }
    )
    counts = counts_per_interval(frame, "eventtime", every="1m")
    assert counts["events"].to_list() == [2, 0, 0, 1]
    assert counts["eventtime"][0] == dt.datetime(2024, 5, 6, 10, 0, tzinfo=dt.UTC)
    by_ip = counts_per_interval(frame, "eventtime", every="1m", by="ip")
    assert by_ip["a"].to_list() == [1, 0, 0, 1] and by_ip["b"].to_list() == [1, 0, 0, 0]
    figure = timeseries(frame, "eventtime", every="1m", by="ip", title="sign-ins")
    target = tmp_path / "sign-ins.png"
    figure.savefig(target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and target.stat().st_size > 5000
    with pytest.raises(loglake.UserError, match="no column 'nope'"):
        counts_per_interval(frame, "nope")


def test_named_parameters_skip_strings_and_comments() -> None:
    sql, values = magics.named_parameters(
        "SELECT :a, ':b', x -- :c\nFROM t WHERE y = :a", {"a": 1, "b": 2, "c": 3}
    )
    assert (sql, values) == ("SELECT ?, ':b', x -- :c\nFROM t WHERE y = ?", [1, 1])
