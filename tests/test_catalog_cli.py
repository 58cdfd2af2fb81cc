"""The CLI: init, tables, describe, crawl and catalog export, with clear one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
import sqlglot

from loglake.cli import main


def write_events(root: Path) -> None:
    for day, region, value in (("2024-01-01", "us", 1), ("2024-01-02", "eu", 2)):
        folder = root / f"dt={day}" / f"region={region}"
        folder.mkdir(parents=True)
        pl.DataFrame({"a": [value], "tags": [{"k": "v"}]}).write_parquet(folder / "part-0.parquet")
    (root / "_SUCCESS").write_text("")


def test_init_crawl_describe_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lake = str(tmp_path / "lake")
    write_events(tmp_path / "events")
    assert main(["--lake", lake, "init"]) == 0
    assert main(["--lake", lake, "crawl", str(tmp_path / "events"), "--table", "aws.events"]) == 0
    assert (
        "registered aws.events: 2 columns, 2 partition keys, 2 partitions"
        in capsys.readouterr().out
    )
    assert main(["--lake", lake, "tables"]) == 0
    assert "| aws      | events | table | parquet" in capsys.readouterr().out
    assert main(["--lake", lake, "describe", "aws.events"]) == 0
    described = capsys.readouterr().out
    assert "struct<k:string>" in described and "# Partition Information" in described

    assert main(["--lake", lake, "catalog", "export", "--format", "glue"]) == 0
    glue = json.loads(capsys.readouterr().out.strip())
    assert glue["DatabaseName"] == "aws"
    descriptor = glue["TableInput"]["StorageDescriptor"]
    assert [c["Name"] for c in descriptor["Columns"]] == ["a", "tags"]
    assert glue["TableInput"]["PartitionKeys"] == [
        {"Name": "dt", "Type": "string"},
        {"Name": "region", "Type": "string"},
    ]
    assert descriptor["SerdeInfo"]["SerializationLibrary"].endswith("ParquetHiveSerDe")

    out = tmp_path / "tables.sql"
    assert main(["--lake", lake, "catalog", "export", "--format", "hive", "-o", str(out)]) == 0
    statements = sqlglot.parse(out.read_text(), read="athena")
    assert len([s for s in statements if s is not None]) == 1
    assert main(["--lake", lake, "catalog", "export", "--format", "spark"]) == 0
    spark = capsys.readouterr().out
    assert "USING PARQUET" in spark and "PARTITIONED BY (`dt`, `region`)" in spark
    sqlglot.parse(spark, read="spark")


def test_user_errors_are_one_line_with_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = str(tmp_path / "lake")
    assert main(["--lake", lake, "tables"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"loglake: no lake at {lake}: create one with `loglake init {lake}`")
    assert not (tmp_path / "lake").exists()
    assert main(["init", lake]) == 0
    capsys.readouterr()
    assert main(["--lake", lake, "describe", "aws.missing"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("loglake: ") and err.count("\n") == 1 and "Traceback" not in err
    assert main(["--lake", lake, "crawl", str(tmp_path / "nothing"), "--table", "x"]) == 2
    assert "no Parquet files" in capsys.readouterr().err


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["init"], ["tables"], ["describe"], ["crawl"], ["catalog", "export"]):
        with pytest.raises(SystemExit) as exited:
            main([*command, "--help"])
        assert exited.value.code == 0
        assert "usage: loglake" in capsys.readouterr().out
