"""The same lake and SQL on Spark ``local[2]``: TPC-H and the detection pack give loglake's rows.

One Spark session serves the whole module (start-up is paid once). The lakes are the ones other
tests build: TPC-H sf0.01 as external Parquet tables, and the generated investigation lake
(every incident scenario, ingested into Delta tables) for the detection queries.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from difftest import assert_same, is_ordered
from investigate_lake import shared_lake
from test_athena_guide import guide  # noqa: F401 - the fixture of Athena's guide tables
from test_query_tpch import QUERIES, TABLES, tpchgen

import loglake
from loglake.errors import SqlError
from loglake.investigate.detections import pack_detections
from loglake.scaleout import spark_name, spark_session


@pytest.fixture(scope="module")
def spark() -> Iterator[object]:
    session = spark_session("local[2]")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def tpch_lake(tmp_path_factory: pytest.TempPathFactory) -> loglake.Lake:
    """TPC-H sf0.01 registered as Athena users do: one folder of Parquet per table."""
    root = tmp_path_factory.mktemp("spark-tpch")
    generated = root / "generated"
    subprocess.run(
        [tpchgen(), "parquet", "-s", "0.01", "--output-dir", str(generated)],
        check=True,
        capture_output=True,
    )
    lake = loglake.connect(str(root / "lake"), create=True)
    lake.catalog.update_lake_settings(allowed_locations=[str(root / "data")])
    lake.sql("CREATE DATABASE tpch")
    import pyarrow.parquet as pq

    from loglake.catalog.types import from_arrow

    for table in TABLES:
        folder = root / "data" / table
        folder.mkdir(parents=True)
        shutil.move(generated / f"{table}.parquet", folder / "part-0.parquet")
        schema = pq.read_schema(folder / "part-0.parquet")
        columns = ", ".join(f"{f.name} {from_arrow(f.type)}" for f in schema)
        lake.sql(
            f"CREATE EXTERNAL TABLE tpch.{table} ({columns}) STORED AS PARQUET LOCATION '{folder}'"
        )
    return loglake.connect(str(root / "lake"), database="tpch")


@pytest.mark.parametrize("path", QUERIES, ids=[q.stem for q in QUERIES])
def test_tpch_on_spark_gives_loglakes_rows(
    tpch_lake: loglake.Lake, spark: object, path: Path
) -> None:
    sql = path.read_text()
    ours = tpch_lake.sql(sql)
    theirs = tpch_lake.spark_runner(spark).sql(sql)
    assert ours.height > 0
    assert_same(ours, theirs, ordered=is_ordered(sql), sql=sql)


@pytest.fixture(scope="module")
def scenario_lake(tmp_path_factory: pytest.TempPathFactory) -> loglake.Lake:
    lake, _ = shared_lake(tmp_path_factory)
    return lake


def test_every_aws_table_and_view_is_registered(scenario_lake: loglake.Lake, spark: object) -> None:
    registration = scenario_lake.spark_runner(spark).refresh()
    for table in ("cloudtrail", "vpc_flow_logs", "config_items", "cloudwatch_logs"):
        assert registration.views[spark_name("aws", table)] == f"aws.{table}"
        assert registration.views[table] == f"aws.{table}"
    counted = spark.sql("SELECT count(*) AS n FROM aws__cloudtrail").toArrow()  # type: ignore[attr-defined]
    assert (
        counted.column("n")[0].as_py()
        == scenario_lake.sql("SELECT count(*) AS n FROM cloudtrail")["n"][0]
    )


PACK = pack_detections("aws")


@pytest.mark.parametrize("detection", PACK, ids=[d.id for d in PACK])
def test_detection_pack_on_spark_gives_loglakes_rows(
    scenario_lake: loglake.Lake, spark: object, detection
) -> None:
    ours = scenario_lake.sql(detection.sql)
    theirs = scenario_lake.spark_runner(spark).sql(detection.sql)
    assert_same(ours, theirs, ordered=False, sql=detection.sql)


def test_refused_function_names_itself(scenario_lake: loglake.Lake, spark: object) -> None:
    with pytest.raises(SqlError, match="type IPPREFIX cannot run on Spark"):
        scenario_lake.sql(
            "SELECT count(*) FROM vpc_flow_logs "
            "WHERE is_subnet_of(IPPREFIX '10.0.0.0/8', IPADDRESS '10.1.2.3')",
            engine="spark",
        )


def test_new_rows_are_seen_after_an_insert(tmp_path: Path, spark: object) -> None:
    lake = loglake.connect(str(tmp_path / "lake"), create=True)
    lake.sql("CREATE TABLE counts AS SELECT 1 AS n")
    assert lake.sql("SELECT sum(n) AS s FROM counts", engine="spark")["s"][0] == 1
    lake.sql("INSERT INTO counts SELECT 41")
    assert lake.sql("SELECT sum(n) AS s FROM counts", engine="spark")["s"][0] == 42
    frame = pl.DataFrame({"s": [42]})
    assert_same(lake.sql("SELECT sum(n) AS s FROM counts"), frame, ordered=False, sql="")


GUIDE_QUERIES = {
    "cloudtrail_serde": "SELECT eventid, eventname, useridentity.arn AS arn, "
    "useridentity.sessioncontext.sessionissuer.arn AS issuer, cardinality(resources) AS n, "
    "json_extract_scalar(requestparameters, '$.bucketName') AS bucket FROM cloudtrail_logs",
    "cloudtrail_json_serde": "SELECT eventid, eventtime, errorcode, tlsdetails.tlsversion AS tls "
    "FROM cloudtrail_logs_json WHERE readonly = 'false'",
    "vpc_flow_text": "SELECT date, action, count(*) AS flows, sum(bytes) AS bytes, "
    "max(srcaddr) AS top FROM vpc_flow_logs_guide GROUP BY date, action",
}


@pytest.mark.parametrize("name", list(GUIDE_QUERIES))
def test_athena_guide_tables_over_raw_exports_give_loglakes_rows(
    guide: dict,  # noqa: F811 - the imported fixture
    spark: object,
    name: str,
) -> None:
    # JSON SerDe (CloudTrail's and Hive's) and space-delimited text tables read the delivered
    # files on the executors with loglake's readers
    sql = GUIDE_QUERIES[name]
    ours = guide["lake"].sql(sql)
    theirs = guide["lake"].spark_runner(spark).sql(sql)
    assert ours.height > 0
    assert_same(ours, theirs, ordered=False, sql=sql)


def _rows(lake: loglake.Lake, table: str) -> list[str]:
    """Every row of a table as JSON text, sorted: two tables are equal when these are."""
    frame = lake.sql(f"SELECT * FROM aws.{table}")
    return sorted(frame.select(pl.struct(pl.all()).struct.json_encode()).to_series().to_list())


@pytest.fixture(scope="module")
def raw_exports(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from loglake.datasets import generate

    raw = tmp_path_factory.mktemp("spark-raw")
    generate(
        str(raw),
        accounts=1,
        regions=2,
        days=1,
        events_per_day=400,
        flows_per_day=100,
        log_events_per_day=50,
        seed=7,
        scenarios=["all"],
        progress=False,
    )
    return raw


TABLES_INGESTED = ("cloudtrail", "vpc_flow_logs", "config_items", "cloudwatch_logs")


def test_spark_ingest_gives_the_local_tables(
    raw_exports: Path, tmp_path: Path, spark: object
) -> None:
    local = loglake.connect(str(tmp_path / "local"), create=True)
    local.ingest(str(raw_exports), progress=False)
    on_spark = loglake.connect(str(tmp_path / "spark"), create=True)
    on_spark.spark_runner(spark)
    report = on_spark.ingest(str(raw_exports), engine="spark", progress=False, batch_objects=7)
    assert report.ok and report.objects_ingested > 0
    for table in TABLES_INGESTED:
        expected = _rows(local, table)
        assert expected, table
        assert _rows(on_spark, table) == expected, table


def test_killed_spark_ingest_resumes_exactly_once(
    raw_exports: Path, tmp_path: Path, spark: object
) -> None:
    local = loglake.connect(str(tmp_path / "local"), create=True)
    local.ingest(str(raw_exports), progress=False)
    lake = loglake.connect(str(tmp_path / "spark"), create=True)
    lake.spark_runner(spark)
    commits = []

    def killed_after_two_commits(report: object) -> None:
        commits.append(report)
        if len(commits) == 2:
            raise KeyboardInterrupt  # the driver dies between two commits

    with pytest.raises(KeyboardInterrupt):
        lake.ingest(
            str(raw_exports),
            engine="spark",
            progress=False,
            batch_objects=5,
            on_batch=killed_after_two_commits,
        )
    partial = sum(
        len(_rows(lake, t)) for t in TABLES_INGESTED if lake.catalog.table_exists("aws", t)
    )
    assert partial > 0
    resumed = lake.ingest(str(raw_exports), engine="spark", progress=False, batch_objects=5)
    assert resumed.ok
    for table in TABLES_INGESTED:
        assert _rows(lake, table) == _rows(local, table), table
