"""A lake is self-contained and its catalog only shows complete tables."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import orjson
import polars as pl
import pytest

import loglake
from loglake.catalog import Catalog, managed


def trail(raw: Path, minute: int, ids: range) -> None:
    folder = raw / "AWSLogs" / "111122223333" / "CloudTrail" / "us-east-1" / "2024" / "05" / "10"
    folder.mkdir(parents=True, exist_ok=True)
    records = [
        {
            "eventVersion": "1.09",
            "eventTime": f"2024-05-10T16:{minute:02d}:00Z",
            "eventSource": "s3.amazonaws.com",
            "eventName": "GetObject",
            "awsRegion": "us-east-1",
            "eventID": f"evt-{i:06d}",
            "recipientAccountId": "111122223333",
        }
        for i in ids
    ]
    name = f"111122223333_CloudTrail_us-east-1_20240510T16{minute:02d}Z_{minute:016d}.json.gz"
    (folder / name).write_bytes(gzip.compress(orjson.dumps({"Records": records})))


def delta_versions(table: Path) -> list[str]:
    return sorted(p.name for p in (table / "_delta_log").glob("*.json"))


def test_a_copied_lake_never_writes_into_the_original(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    trail(raw, 0, range(3))
    original = tmp_path / "lakeA"
    lake_a = loglake.connect(original, create=True)
    lake_a.ingest(str(raw), progress=False)
    lake_a.sql("CREATE TABLE summary AS SELECT eventname, count(*) AS n FROM cloudtrail GROUP BY 1")
    before = delta_versions(original / "default" / "cloudtrail")
    documents = list((original / "_catalog").rglob("*.json"))
    assert documents and not any(str(original) in p.read_text() for p in documents)

    shutil.copytree(original, tmp_path / "lakeB", symlinks=True)
    trail(raw, 5, range(3, 10))
    lake_b = loglake.connect(tmp_path / "lakeB", create=True)
    lake_b.ingest(str(raw), progress=False)
    lake_b.sql("INSERT INTO summary VALUES ('x', 1)")
    assert lake_b.sql("SELECT count(*) AS n FROM cloudtrail").item() == 10
    assert lake_b.sql("SELECT count(*) AS n FROM summary").item() == 2

    assert delta_versions(original / "default" / "cloudtrail") == before
    assert lake_a.sql("SELECT count(*) AS n FROM cloudtrail").item() == 3
    assert lake_a.sql("SELECT count(*) AS n FROM summary").item() == 1


def test_a_moved_lake_keeps_working(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    trail(raw, 0, range(4))
    loglake.connect(tmp_path / "here", create=True).ingest(str(raw), progress=False)
    (tmp_path / "here").rename(tmp_path / "there")
    moved = loglake.connect(tmp_path / "there", create=True)
    assert moved.sql("SELECT count(*) AS n FROM cloudtrail").item() == 4


def test_documents_with_absolute_managed_locations_are_read_under_the_new_root(
    tmp_path: Path,
) -> None:
    lake = loglake.connect(tmp_path / "lake", create=True)
    lake.sql("CREATE TABLE t AS SELECT 1 AS a")
    (document,) = (tmp_path / "lake" / "_catalog" / "default" / "tables" / "t").glob("v*.json")
    body = orjson.loads(document.read_bytes())
    body["location"] = "/somewhere/else/entirely/default/t"  # as older versions wrote it
    document.write_bytes(orjson.dumps(body))
    again = loglake.connect(tmp_path / "lake", create=True)
    assert again.catalog.get_table("default", "t").location == str(
        tmp_path / "lake" / "default" / "t"
    )
    assert again.sql("SELECT a FROM t").rows() == [(1,)]


class Killed(BaseException):
    """Stands for SIGKILL at one point of a statement (a BaseException, as nothing catches it)."""


def test_ctas_killed_after_writing_data_leaves_no_table_and_can_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = loglake.connect(tmp_path / "lake", create=True)
    ctas = "CREATE TABLE nums AS SELECT x FROM UNNEST(sequence(1, 1000)) AS t(x)"

    def killed(*args: object, **kwargs: object) -> None:
        raise Killed

    with monkeypatch.context() as patch:  # killed between the data commit and the registration
        patch.setattr(Catalog, "create_table", killed)
        with pytest.raises(Killed):
            lake.sql(ctas)
    assert "nums" not in lake.tables()
    lake.sql(ctas)
    assert lake.sql("SELECT count(*) AS n, sum(x) AS s FROM nums").row(0) == (1000, 500500)


def test_ctas_killed_while_writing_data_leaves_no_table_and_can_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = loglake.connect(tmp_path / "lake", create=True)
    ctas = "CREATE TABLE nums AS SELECT x, x % 3 AS p FROM UNNEST(sequence(1, 10)) AS t(x)"

    def killed_after_files(location, data, **kwargs):  # a file written, the commit never made
        folder = Path(location)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "part-0.parquet").write_bytes(b"PAR1 half written")
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(managed, "write_deltalake", killed_after_files)
        with pytest.raises(Killed):
            lake.sql(ctas)
    assert "nums" not in lake.tables()
    lake.sql(ctas)
    assert lake.sql("SELECT count(*) AS n FROM nums").item() == 10


def test_a_damaged_catalog_document_is_named_and_hides_no_other_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from loglake.cli import main

    lake = loglake.connect(tmp_path / "lake", create=True)
    lake.sql("CREATE TABLE good AS SELECT 1 AS a")
    lake.sql("CREATE TABLE broken AS SELECT 1 AS a")
    (document,) = (tmp_path / "lake" / "_catalog" / "default" / "tables" / "broken").glob("v*.json")
    document.write_text('{"columns": [')
    assert main(["--lake", str(tmp_path / "lake"), "tables"]) == 1
    out, err = capsys.readouterr()
    assert "good" in out and "damaged" in out
    assert err.count(str(document)) == 1 and "_catalog/_catalog" not in err
    assert lake.sql("SELECT a FROM good").rows() == [(1,)]


def test_damaged_delta_logs_and_broken_links_are_clean_errors(tmp_path: Path) -> None:
    from loglake.errors import UserError

    lake = loglake.connect(tmp_path / "lake", create=True)
    lake.sql("CREATE TABLE t AS SELECT 1 AS a")
    (log,) = (tmp_path / "lake" / "default" / "t" / "_delta_log").glob("*.json")
    log.write_bytes(log.read_bytes()[:40])
    with pytest.raises(UserError, match=r"Delta log .* could not be read"):
        lake.sql("SELECT * FROM t")

    folder = tmp_path / "lake" / "ext"
    folder.mkdir()
    (folder / "broken.parquet").symlink_to(tmp_path / "nowhere.parquet")
    lake.sql(f"CREATE EXTERNAL TABLE e (a int) STORED AS PARQUET LOCATION '{folder}'")
    with pytest.raises(UserError, match="broken symbolic link"):
        lake.sql("SELECT * FROM e")
    # a link to a file that exists is read like the file
    (folder / "broken.parquet").unlink()
    real = tmp_path / "lake" / "kept" / "real.parquet"
    real.parent.mkdir()
    pl.DataFrame({"a": [1, 2]}, schema={"a": pl.Int32}).write_parquet(real)
    (folder / "linked.parquet").symlink_to(real)
    assert lake.sql("SELECT sum(a) AS s FROM e").item() == 3


def test_settings_command_shows_and_changes_lake_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from loglake.cli import main

    root = str(tmp_path / "lake")
    loglake.connect(root, create=True)
    assert (
        main(["--lake", root, "settings", "time_limit_s=60", "allowed_locations=s3://a/b,/data"])
        == 0
    )
    shown = orjson.loads(capsys.readouterr().out)
    assert shown["time_limit_s"] == 60 and shown["allowed_locations"] == ["s3://a/b", "/data"]
    assert main(["--lake", root, "settings", "scan_limit_bytes=none"]) == 0
    assert orjson.loads(capsys.readouterr().out)["scan_limit_bytes"] is None
    assert loglake.connect(root, create=True).catalog.lake_settings().limits.time_limit_s == 60
    assert main(["--lake", root, "settings", "no_such=1"]) == 2
