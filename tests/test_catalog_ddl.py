"""Every catalog statement, on a local lake and on an S3 lake served on 127.0.0.1."""

from __future__ import annotations

import polars as pl
import pytest
import sqlglot

from loglake.catalog import Catalog, TableDefinition
from loglake.errors import CatalogError, SqlError
from loglake.query.ddl import execute_ddl

CLOUDTRAIL_DDL = """
CREATE EXTERNAL TABLE IF NOT EXISTS trail.cloudtrail_logs (
  eventversion STRING,
  useridentity STRUCT<type: STRING, principalid: STRING, arn: STRING,
    sessioncontext: STRUCT<attributes: STRUCT<mfaauthenticated: STRING, creationdate: STRING>>>,
  eventtime STRING,
  resources ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
  tags MAP<STRING, STRING> COMMENT 'resource tags',
  amount DECIMAL(10,2)
)
COMMENT 'CloudTrail table for bucket'
PARTITIONED BY (region string, `timestamp` string)
ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'
STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'
OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'
LOCATION 's3://trail-bucket/AWSLogs/111122223333/CloudTrail/'
TBLPROPERTIES (
  'projection.enabled'='true',
  'projection.region.type'='enum',
  'projection.region.values'='us-east-1,eu-west-1',
  'projection.timestamp.type'='date',
  'projection.timestamp.format'='yyyy/MM/dd',
  'projection.timestamp.range'='2024/01/01,2024/12/31',
  'projection.timestamp.interval'='1',
  'projection.timestamp.interval.unit'='DAYS',
  'storage.location.template'='s3://trail-bucket/AWSLogs/111122223333/CloudTrail/${region}/${timestamp}'
)
"""


def run(catalog: Catalog, sql: str) -> pl.DataFrame:
    result = execute_ddl(catalog, sql)
    assert result is not None, f"not recognised as a catalog statement: {sql}"
    return result


@pytest.fixture
def catalog(lake_settings) -> Catalog:
    return Catalog(lake_settings)


def write_partitioned_parquet(catalog: Catalog, folder: str) -> str:
    """Two Hive partitions of Parquet under the lake root; returns the folder URL."""
    fs = catalog.settings.filesystem()
    base = catalog.settings.url(folder)
    for day, region, value in (("2024-01-01", "us", 1), ("2024-01-02", "eu", 2)):
        path = catalog.settings.fs_path(f"{base}/dt={day}/region={region}/part-0.parquet")
        with fs.open(path, "wb") as handle:
            pl.DataFrame({"a": [value], "b": [f"v{value}"]}).write_parquet(handle)
    return base


def test_databases(catalog: Catalog) -> None:
    run(catalog, "CREATE DATABASE trail COMMENT 'trails'")
    run(catalog, "CREATE SCHEMA IF NOT EXISTS trail")
    run(catalog, "CREATE SCHEMA flows")
    assert run(catalog, "SHOW DATABASES")["database_name"].to_list() == [
        "default",
        "flows",
        "trail",
    ]
    assert run(catalog, "SHOW SCHEMAS LIKE 'tr*'")["database_name"].to_list() == ["trail"]
    with pytest.raises(CatalogError, match="already exists"):
        run(catalog, "CREATE DATABASE trail")
    run(catalog, "DROP DATABASE flows")
    run(catalog, "DROP DATABASE IF EXISTS flows")
    assert run(catalog, "SHOW DATABASES")["database_name"].to_list() == ["default", "trail"]


def test_create_describe_show_drop_external_table(catalog: Catalog) -> None:
    run(catalog, "CREATE DATABASE trail")
    run(catalog, CLOUDTRAIL_DDL)
    run(catalog, CLOUDTRAIL_DDL)  # IF NOT EXISTS: no error, no change
    table = catalog.get_table("trail", "cloudtrail_logs")
    assert table.format == "json"
    assert table.column("useridentity").type == (
        "struct<type:string,principalid:string,arn:string,"
        "sessioncontext:struct<attributes:struct<mfaauthenticated:string,creationdate:string>>>"
    )
    assert (
        table.column("resources").type == "array<struct<arn:string,accountid:string,type:string>>"
    )
    assert table.column("amount").type == "decimal(10,2)"
    assert [k.name for k in table.partition_keys] == ["region", "timestamp"]

    assert run(catalog, "SHOW TABLES IN trail")["tab_name"].to_list() == ["cloudtrail_logs"]
    described = run(catalog, "DESCRIBE trail.cloudtrail_logs")
    assert described.row(0) == ("eventversion", "string", "")
    assert ("tags", "map<string,string>", "resource tags") in described.rows()
    assert "# Partition Information" in described["col_name"].to_list()
    assert run(catalog, "SHOW COLUMNS IN trail.cloudtrail_logs")["field"].to_list() == [
        "eventversion",
        "useridentity",
        "eventtime",
        "resources",
        "tags",
        "amount",
        "region",
        "timestamp",
    ]
    props = run(catalog, "SHOW TBLPROPERTIES trail.cloudtrail_logs('projection.timestamp.format')")
    assert props.rows() == [("projection.timestamp.format", "yyyy/MM/dd")]
    run(catalog, "DROP TABLE trail.cloudtrail_logs")
    assert run(catalog, "SHOW TABLES IN trail").height == 0
    with pytest.raises(CatalogError, match="does not exist"):
        run(catalog, "DROP TABLE trail.cloudtrail_logs")
    run(catalog, "DROP TABLE IF EXISTS trail.cloudtrail_logs")


def test_show_create_table_parses_back_to_the_same_definition(catalog: Catalog) -> None:
    run(catalog, "CREATE DATABASE trail")
    run(catalog, CLOUDTRAIL_DDL)
    original = catalog.get_table("trail", "cloudtrail_logs")
    ddl = "\n".join(run(catalog, "SHOW CREATE TABLE trail.cloudtrail_logs")["createtab_stmt"])
    sqlglot.parse_one(ddl, read="athena")  # Athena's dialect accepts it
    run(catalog, "DROP TABLE trail.cloudtrail_logs")
    run(catalog, ddl)
    again = catalog.get_table("trail", "cloudtrail_logs")
    assert again.replace(version=0) == original.replace(version=0)


@pytest.mark.parametrize(
    ("storage", "expected_format", "expected_params"),
    [
        ("STORED AS PARQUET", "parquet", {}),
        (
            "ROW FORMAT DELIMITED FIELDS TERMINATED BY ',' STORED AS TEXTFILE",
            "csv",
            {"field.delim": ","},
        ),
        ("ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'", "json", {}),
    ],
)
def test_storage_clauses(
    catalog: Catalog, storage: str, expected_format: str, expected_params: dict
) -> None:
    run(
        catalog,
        f"CREATE EXTERNAL TABLE t (a int, b string) {storage} LOCATION 's3://bkt/t/' "
        "TBLPROPERTIES ('skip.header.line.count'='1')",
    )
    table = catalog.get_table("default", "t")
    assert table.format == expected_format
    assert table.location == "s3://bkt/t"
    assert table.properties == {"skip.header.line.count": "1"}
    assert table.serde.get("parameters", {}) == expected_params


def test_unsupported_storage_points_at_the_clause(catalog: Catalog) -> None:
    with pytest.raises(SqlError) as raised:
        run(catalog, "CREATE EXTERNAL TABLE t (a int) STORED AS ORC LOCATION 's3://bkt/t/'")
    assert "unsupported storage format" in str(raised.value)
    assert raised.value.line == 1 and raised.value.column == 33


def test_msck_repair_and_partition_statements(catalog: Catalog) -> None:
    base = write_partitioned_parquet(catalog, "external/events")
    run(
        catalog,
        f"CREATE EXTERNAL TABLE events (a bigint, b string) PARTITIONED BY (dt string, region string) "
        f"STORED AS PARQUET LOCATION '{base}'",
    )
    assert run(catalog, "SHOW PARTITIONS events").height == 0
    repaired = run(catalog, "MSCK REPAIR TABLE events")
    assert repaired.height == 2
    assert run(catalog, "SHOW PARTITIONS events")["partition"].to_list() == [
        "dt=2024-01-01/region=us",
        "dt=2024-01-02/region=eu",
    ]
    run(catalog, "MSCK REPAIR TABLE events")  # idempotent
    assert run(catalog, "SHOW PARTITIONS events").height == 2

    run(
        catalog,
        f"ALTER TABLE events ADD PARTITION (dt='2024-01-03', region='us') LOCATION '{base}/x' "
        "PARTITION (dt='2024-01-04', region='us')",
    )
    partitions = {
        p.values: p.location for p in catalog.partitions(catalog.get_table("default", "events"))
    }
    assert partitions[("2024-01-03", "us")] == f"{base}/x"
    assert partitions[("2024-01-04", "us")] == f"{base}/dt=2024-01-04/region=us"
    with pytest.raises(CatalogError, match="already exists"):
        run(catalog, "ALTER TABLE events ADD PARTITION (dt='2024-01-03', region='us')")
    run(catalog, "ALTER TABLE events ADD IF NOT EXISTS PARTITION (dt='2024-01-03', region='us')")

    run(
        catalog,
        "ALTER TABLE events DROP PARTITION (dt='2024-01-03', region='us'), PARTITION (dt='2024-01-04')",
    )
    assert run(catalog, "SHOW PARTITIONS events")["partition"].to_list() == [
        "dt=2024-01-01/region=us",
        "dt=2024-01-02/region=eu",
    ]
    with pytest.raises(CatalogError, match="does not exist"):
        run(catalog, "ALTER TABLE events DROP PARTITION (dt='1999-01-01')")
    run(catalog, "ALTER TABLE events DROP IF EXISTS PARTITION (dt='1999-01-01')")

    table = catalog.get_table("default", "events")
    from loglake.catalog import PartitionConstraint

    files = catalog.files(table, {"region": PartitionConstraint(values=frozenset({"eu"}))})
    assert [f.partition for f in files] == [{"dt": "2024-01-02", "region": "eu"}]
    assert files[0].path.endswith("dt=2024-01-02/region=eu/part-0.parquet") and files[0].size > 0


def test_show_partitions_refuses_projected_tables(catalog: Catalog) -> None:
    run(catalog, "CREATE DATABASE trail")
    run(catalog, CLOUDTRAIL_DDL)
    with pytest.raises(CatalogError, match="projection"):
        run(catalog, "SHOW PARTITIONS trail.cloudtrail_logs")


def test_delta_table_registered_by_location_reads_its_schema(catalog: Catalog) -> None:
    import pyarrow as pa

    catalog.create_database("aws")
    catalog.create_managed_table(
        "aws", "flows", pa.schema([("bytes", pa.int64()), ("day", pa.string())]), ["day"]
    )
    location = catalog.get_table("aws", "flows").location
    run(
        catalog,
        f"CREATE EXTERNAL TABLE flows_copy LOCATION '{location}' TBLPROPERTIES ('table_type'='DELTA')",
    )
    copy = catalog.get_table("default", "flows_copy")
    assert copy.format == "delta" and copy.table_type == "EXTERNAL_TABLE"
    assert [(c.name, c.type) for c in copy.all_columns] == [("bytes", "bigint"), ("day", "string")]
    assert [k.name for k in copy.partition_keys] == ["day"]
    ddl = "\n".join(run(catalog, "SHOW CREATE TABLE aws.flows")["createtab_stmt"])
    assert "'table_type'='DELTA'" in ddl
    run(catalog, "DROP TABLE aws.flows")  # managed: data goes too
    fs = catalog.settings.filesystem()
    assert not fs.exists(catalog.settings.fs_path(location) + "/_delta_log")


def test_statements_that_are_not_catalog_statements_are_left_alone(catalog: Catalog) -> None:
    assert execute_ddl(catalog, "SELECT 1") is None
    assert execute_ddl(catalog, "CREATE TABLE x AS SELECT 1 AS a") is None


def test_definition_round_trips_through_json(catalog: Catalog) -> None:
    run(catalog, "CREATE DATABASE trail")
    run(catalog, CLOUDTRAIL_DDL)
    table = catalog.get_table("trail", "cloudtrail_logs")
    assert TableDefinition.from_json(table.to_json(), table.version) == table
