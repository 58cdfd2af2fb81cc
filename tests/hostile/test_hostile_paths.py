"""Writes stay where they belong: escaped partition folders, allowed locations, no metadata writes."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

import loglake
from loglake.catalog.paths import (
    LocationError,
    LocationPolicy,
    escape_partition_value,
    partition_path,
    unescape_partition_value,
)
from loglake.cli import main
from loglake.errors import UserError

CLIMB = "/../../../../../../escaped"


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("value", "folder"),
    [
        ("2024-01-01", "2024-01-01"),
        ("a/b", "a%2Fb"),
        ("../..", "..%2F.."),
        ("x=y", "x%3Dy"),
        ("100%", "100%25"),
        ("tab\there", "tab%09here"),
        (None, "__HIVE_DEFAULT_PARTITION__"),
        ("", "__HIVE_DEFAULT_PARTITION__"),
        ("C:\\win", "C%3A%5Cwin"),
    ],
)
def test_partition_values_are_escaped_as_hive_does(value: str | None, folder: str) -> None:
    assert escape_partition_value(value) == folder
    if value:
        assert unescape_partition_value(folder) == value


def test_partition_path_is_always_one_folder_per_key() -> None:
    path = partition_path(["p", "q"], [CLIMB, "../x"])
    assert path.count("/") == 1 and ".." not in path.split("/")


@pytest.fixture
def lake(tmp_path: Path) -> loglake.Lake:
    return loglake.connect(tmp_path / "lake", create=True)


def test_unload_partition_values_cannot_leave_the_destination(
    lake: loglake.Lake, tmp_path: Path
) -> None:
    target = tmp_path / "lake" / "exports" / "u1"
    lake.sql(
        f"UNLOAD (SELECT 1 AS a, '{CLIMB}' AS p) TO '{target}' "
        "WITH (format='TEXTFILE', partitioned_by=ARRAY['p'])"
    )
    own = [tmp_path / "lake" / "_state", tmp_path / "lake" / "_catalog"]  # history, catalog
    written = [p for p in files_under(tmp_path) if not any(o in p.parents for o in own)]
    assert written and all(target in p.parents for p in written)
    assert not (tmp_path / "escaped").exists()
    assert [p.parent.name for p in files_under(target)] == [
        "p=%2F..%2F..%2F..%2F..%2F..%2F..%2Fescaped"
    ]


def test_insert_into_external_table_escapes_and_reads_back(
    lake: loglake.Lake, tmp_path: Path
) -> None:
    location = tmp_path / "lake" / "external" / "t"
    lake.sql(
        f"CREATE EXTERNAL TABLE t (a int) PARTITIONED BY (p string) STORED AS PARQUET "
        f"LOCATION '{location}'"
    )
    lake.sql(f"INSERT INTO t SELECT 1, '{CLIMB}'")
    assert not (tmp_path / "escaped").exists()
    assert all(location in p.parents for p in files_under(location))
    assert lake.sql("SELECT a, p FROM t").rows() == [(1, CLIMB)]
    lake.sql(
        "CREATE EXTERNAL TABLE t2 (a int) PARTITIONED BY (p string) STORED AS PARQUET "
        f"LOCATION '{location}'"
    )
    lake.sql("MSCK REPAIR TABLE t2")
    assert lake.sql("SELECT a, p FROM t2").rows() == [(1, CLIMB)]


def test_external_table_outside_the_allowed_locations_is_refused(
    lake: loglake.Lake, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    lake.sql(f"CREATE EXTERNAL TABLE pw (line string) STORED AS TEXTFILE LOCATION '{outside}'")
    with pytest.raises(LocationError, match="outside the locations this lake allows"):
        lake.sql("SELECT * FROM pw")
    # the operator extends the allowed locations, as an IAM policy's resource list
    lake.catalog.update_lake_settings(allowed_locations=[str(outside)])
    assert lake.sql("SELECT count(*) AS n FROM pw").item() == 1


def test_narrowed_allowed_locations_hold_at_once_for_open_connections(
    lake: loglake.Lake, tmp_path: Path
) -> None:
    outside = tmp_path / "exports"
    outside.mkdir()
    (outside / "rows.csv").write_text("1\n2\n")
    lake.catalog.update_lake_settings(allowed_locations=[str(outside)])
    lake.sql(f"CREATE EXTERNAL TABLE ex (a bigint) STORED AS TEXTFILE LOCATION '{outside}'")
    repeated = "SELECT sum(a) AS s FROM ex"
    assert lake.sql(repeated).item() == 3
    assert lake.sql(repeated).item() == 3  # its plan and listing are kept now
    # another process (another connection) takes the folder away again
    loglake.connect(lake.settings.root, create=True).catalog.update_lake_settings(
        allowed_locations=[]
    )
    for sql in [repeated, "SELECT count(*) AS n FROM ex"]:
        with pytest.raises(LocationError, match="outside the locations this lake allows"):
            lake.sql(sql)
    with pytest.raises(LocationError, match="outside the locations this lake allows"):
        lake.sql(f"UNLOAD (SELECT 1 AS a) TO '{outside / 'more'}' WITH (format='JSON')")


def test_sql_never_writes_into_lake_metadata(lake: loglake.Lake, tmp_path: Path) -> None:
    lake.sql("CREATE TABLE keep AS SELECT 1 AS a")
    root = tmp_path / "lake"
    for target in [
        "_catalog/default/tables/x",
        "_state/y",
        "_quarantine/z",
        "default/keep/_delta_log",
    ]:
        with pytest.raises(LocationError, match="metadata"):
            lake.sql(f"UNLOAD (SELECT 1 AS a) TO '{root / target}' WITH (format='JSON')")
    with pytest.raises(LocationError, match="metadata"):
        lake.sql("UNLOAD (SELECT 1 AS a) TO '_catalog/x' WITH (format='JSON')")
    assert lake.tables() == ["keep"]
    assert lake.sql("SELECT a FROM keep").rows() == [(1,)]


def test_relative_locations_resolve_against_the_lake_root(
    lake: loglake.Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    lake.sql("UNLOAD (SELECT 1 AS a) TO 'exports/rel' WITH (format='JSON')")
    assert files_under(tmp_path / "lake" / "exports" / "rel")
    assert not files_under(elsewhere)
    with pytest.raises(LocationError):
        lake.sql("UNLOAD (SELECT 1 AS a) TO '../../outside' WITH (format='JSON')")


def test_location_policy_rules() -> None:
    policy = LocationPolicy("/lake", ("s3://logs/AWSLogs",))
    assert policy.check_read("s3://logs/AWSLogs/1111/") == "s3://logs/AWSLogs/1111"
    for bad in ["s3://logs/AWSLogsX", "s3://logs/AWSLogs/../secret", "/lakeX/a", "/etc/passwd"]:
        with pytest.raises(LocationError):
            policy.check_read(bad)
    with pytest.raises(UserError):
        policy.check_read("http://example.invalid/x")
    assert policy.check_write("/lake/exports") == "/lake/exports"


def test_the_location_error_names_the_command_that_allows_the_location(
    lake: loglake.Lake, tmp_path: Path
) -> None:
    kept = tmp_path / "kept"
    lake.catalog.update_lake_settings(allowed_locations=[str(kept)])
    exports = tmp_path / "exports dir"
    exports.mkdir()
    (exports / "a.csv").write_text("1\n")
    lake.sql(f"CREATE EXTERNAL TABLE ex (a int) STORED AS TEXTFILE LOCATION '{exports}'")
    with pytest.raises(LocationError) as info:
        lake.sql("SELECT * FROM ex")
    command = str(info.value).split("to allow it, run: ", 1)[1]
    words = shlex.split(command)
    assert words[:2] == ["loglake", "--lake"] and words[3] == "settings"
    assert main(words[1:]) in (0, None)
    assert lake.sql("SELECT count(*) AS n FROM ex").item() == 1
    # the locations allowed before stay allowed
    assert lake.catalog.lake_settings().allowed_locations == (str(kept), str(exports))


def test_locations_named_when_the_lake_is_set_up_are_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw, other = tmp_path / "raw", tmp_path / "other"
    for folder in (raw, other):
        folder.mkdir()
        (folder / "a.csv").write_text("1\n")
    root = tmp_path / "lake"
    assert main(["init", str(root), "--allow-location", f"{raw},s3://logs/AWSLogs"]) == 0
    assert "SQL may also read and write" in capsys.readouterr().out
    lake = loglake.connect(root)
    assert lake.catalog.lake_settings().allowed_locations == (str(raw), "s3://logs/AWSLogs")
    lake.sql(f"CREATE EXTERNAL TABLE r (a int) STORED AS TEXTFILE LOCATION '{raw}'")
    lake.sql(f"CREATE EXTERNAL TABLE o (a int) STORED AS TEXTFILE LOCATION '{other}'")
    assert lake.sql("SELECT count(*) AS n FROM r").item() == 1
    with pytest.raises(LocationError, match="outside the locations this lake allows"):
        lake.sql("SELECT count(*) AS n FROM o")
    # init again on the same lake adds to what it allows, never narrows it
    assert main(["init", str(root), "--allow-location", str(other)]) == 0
    assert lake.sql("SELECT count(*) AS n FROM o").item() == 1
    assert len(lake.catalog.lake_settings().allowed_locations) == 3
