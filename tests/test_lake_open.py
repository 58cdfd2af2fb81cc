"""Opening a lake: a missing lake is an error, creation is explicit, names resolve along a
search path (the current database, then aws), and every column of every AWS table reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import loglake
from loglake.cli import main
from loglake.lake import LakeNotFound


def test_a_missing_lake_is_an_error_that_names_it_and_creates_nothing(tmp_path: Path) -> None:
    root = tmp_path / "no-such-lake"
    with pytest.raises(LakeNotFound, match=f"no lake at {root}: create one with `loglake init"):
        loglake.connect(str(root))
    assert not root.exists()
    lake = loglake.connect(str(root), create=True)
    assert lake.tables() == []
    assert loglake.connect(str(root)).sql("SELECT 1 AS one").item() == 1


def test_cli_reports_a_missing_lake_and_init_creates_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = str(tmp_path / "lake")
    assert main(["--lake", root, "query", "SELECT count(*) FROM cloudtrail"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"loglake: no lake at {root}: create one with `loglake init {root}` (or "
        "loglake.connect(..., create=True)), or ingest into it, or point --lake at an existing "
        "lake\n"
    )
    assert not Path(root).exists()
    assert main(["init", root]) == 0
    assert f"lake ready at {root} (databases: aws, default)" in capsys.readouterr().out
    # the lake options are accepted after the command as well
    assert main(["query", "--lake", root, "SELECT 41 + 1 AS answer", "--format", "csv"]) == 0
    assert capsys.readouterr().out.startswith("answer\n42\n")


def test_ingest_creates_the_lake(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = tmp_path / "raw" / "AWSLogs"
    raw.mkdir(parents=True)
    root = str(tmp_path / "lake")
    assert main(["--lake", root, "ingest", str(raw.parent), "--no-progress"]) == 0
    assert loglake.connect(root).tables() == []


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"loglake {loglake.__version__}\n"


def test_unqualified_names_resolve_along_the_search_path(generated_lake: Path) -> None:
    lake = loglake.connect(str(generated_lake))
    assert lake.database == "default"
    assert {"cloudtrail", "vpc_flow_logs", "aws_config_configuration_snapshot"} <= set(
        lake.tables()
    )
    shown = lake.sql("SHOW TABLES")["tab_name"].to_list()
    assert shown == lake.tables()
    plan = lake.explain("SELECT count(*) FROM cloudtrail")
    assert "aws.cloudtrail:" in plan and "default.cloudtrail" not in plan
    described = lake.sql("DESCRIBE cloudtrail")
    assert described["col_name"].to_list()[:2] == ["eventversion", "useridentity"]
    assert (
        lake.sql("SELECT count(*) FROM cloudtrail").item()
        == lake.sql("SELECT count(*) FROM aws.cloudtrail").item()
    )


def test_the_current_database_comes_first(tmp_path: Path) -> None:
    lake = loglake.connect(str(tmp_path / "lake"), create=True)
    lake.sql("CREATE DATABASE aws")
    lake.sql("CREATE TABLE aws.events AS SELECT 'aws' AS origin")
    lake.sql("CREATE TABLE aws.only_in_aws AS SELECT 1 AS n")
    assert lake.sql("SELECT origin FROM events").item() == "aws"
    lake.sql("CREATE TABLE events AS SELECT 'default' AS origin")
    assert lake.sql("SELECT origin FROM events").item() == "default"
    assert lake.tables() == ["events", "only_in_aws"]
    in_aws = loglake.connect(str(tmp_path / "lake"), database="aws")
    assert in_aws.sql("SELECT origin FROM events").item() == "aws"
    assert "aws.only_in_aws:" in lake.explain("SELECT n FROM only_in_aws")


def test_use_makes_a_database_current(tmp_path: Path) -> None:
    """USE db (and Athena's USE catalog.db) for the statements that follow, as docs/sql.md
    tells a guide's reader to do; a database that does not exist is Trino's error."""
    lake = loglake.connect(str(tmp_path / "lake"), create=True)
    lake.sql("CREATE DATABASE guide")
    lake.sql("CREATE TABLE guide.events AS SELECT 'guide' AS origin")
    lake.sql("CREATE TABLE events AS SELECT 'default' AS origin")
    assert lake.sql("SELECT origin FROM events").item() == "default"
    lake.sql("USE guide")
    assert lake.current_database == "guide"
    assert lake.sql("SELECT origin FROM events").item() == "guide"
    assert "guide.events:" in lake.explain("SELECT origin FROM events")
    lake.sql("USE awsdatacatalog.default")
    assert lake.sql("SELECT origin FROM events").item() == "default"
    with pytest.raises(loglake.SqlError, match="Schema 'gide' does not exist Did you mean"):
        lake.sql("USE gide")
    assert lake.current_database == "default"


def test_a_guide_column_on_the_ingested_table_names_the_guide_view(generated_lake: Path) -> None:
    """The VPC guide's queries filter on its DATE partition `date`; run on the ingested table
    (which has `day`), the error names the view that has it and how to reach it."""
    lake = loglake.connect(str(generated_lake))
    sql = "SELECT count(*) FROM vpc_flow_logs WHERE date > DATE '2000-01-01'"
    with pytest.raises(loglake.SqlError) as caught:
        lake.sql(sql)
    message = str(caught.value)
    assert "Column 'date' cannot be resolved. athena.vpc_flow_logs has it" in message
    assert "USE athena; --database athena" in message
    lake.sql("USE athena")
    assert lake.sql(sql).item() == lake.sql("SELECT count(*) FROM aws.vpc_flow_logs").item() > 0


def test_every_column_of_every_aws_table_reads(generated_lake: Path) -> None:
    lake = loglake.connect(str(generated_lake))
    names = lake.tables("aws")
    assert len(names) >= 6
    for name in names:
        whole = lake.sql(f"SELECT * FROM aws.{name}")
        assert whole.height > 0, name
        for column in whole.columns:
            single = lake.sql(f'SELECT "{column}" FROM aws.{name}').to_series()
            assert single.dtype == whole[column].dtype, (name, column)
            # a view aggregates, so its row order is not fixed: compare the values as a multiset
            assert sorted(map(repr, single.to_list())) == sorted(
                map(repr, whole[column].to_list())
            ), (name, column)
    times = lake.sql("SELECT eventtime FROM aws.cloudwatch_logs ORDER BY eventtime LIMIT 2")
    assert times.schema["eventtime"] == pl.Datetime("us")
    assert times["eventtime"].dt.date().to_list()[0].isoformat() == "2024-05-06"


def test_querying_a_table_does_not_import_pandas(tmp_path: Path) -> None:
    # pandas takes about a second to import; a CLI command or a script pays it on its first query
    # if the engine reaches it (pyarrow's Schema.empty_table did), though nothing there needs it
    script = (
        "import sys, loglake\n"
        "lake = loglake.connect(sys.argv[1], create=True)\n"
        "lake.sql('CREATE TABLE t AS SELECT 1 AS x')\n"
        "assert loglake.connect(sys.argv[1]).sql('SELECT sum(x) FROM t').item() == 1\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "lake")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
