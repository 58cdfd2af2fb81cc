"""ROW values over a real lake: the Config snapshot view AWS documents for Athena, built with
ROW(...) cast to a named ROW type and array_agg, queried with UNNEST and field access."""

from __future__ import annotations

import gzip

import orjson
import polars as pl
import pytest
from sample_files import CONFIG_ITEMS

from loglake.catalog import Catalog, StorageSettings
from loglake.errors import SqlError
from loglake.ingest import ingest
from loglake.query.engine import Engine

ACCOUNT = "264683526309"


def sample_item(name: str) -> dict:
    doc = orjson.loads((CONFIG_ITEMS / name).read_bytes())
    return doc.get("configurationItem", doc)


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> tuple[Engine, list[dict]]:
    root = tmp_path_factory.mktemp("config")
    items = [sample_item("AWS_S3_Bucket.json"), sample_item("AWS_EC2_SecurityGroup.json")]
    folder = root / "raw" / "AWSLogs" / ACCOUNT / "Config" / "us-east-1" / "2024" / "5" / "10"
    folder = folder / "ConfigHistory"
    folder.mkdir(parents=True)
    name = (
        f"{ACCOUNT}_Config_us-east-1_ConfigHistory_AWS::S3::Bucket_"
        "20240510T085959Z_20240510T085959Z_1.json.gz"
    )
    body = {"fileVersion": "1.0", "configurationItems": items}
    (folder / name).write_bytes(gzip.compress(orjson.dumps(body)))
    catalog = Catalog(StorageSettings.resolve(str(root / "lake")))
    report = ingest(catalog, str(root / "raw"), progress=False)
    assert report.ok and report.rows["config_items"] == 2
    return Engine(catalog), items


def test_snapshot_view_has_one_row_per_file_with_nested_items(lake) -> None:
    engine, items = lake
    frame = engine.execute("SELECT * FROM aws.aws_config_configuration_snapshot").df
    assert frame.height == 1
    row = frame.row(0, named=True)
    assert row["fileversion"] == "1.0"
    assert row["accountid"] == ACCOUNT and row["region"] == "us-east-1"
    nested = row["configurationitems"]
    assert sorted(i["resourcetype"] for i in nested) == sorted(i["resourceType"] for i in items)
    # Athena's documented member names (lower case) and types
    assert list(nested[0]) == [
        "configurationitemversion",
        "configurationitemcapturetime",
        "configurationstateid",
        "awsaccountid",
        "configurationitemstatus",
        "resourcetype",
        "resourceid",
        "resourcename",
        "arn",
        "awsregion",
        "availabilityzone",
        "configurationstatemd5hash",
        "configuration",
        "supplementaryconfiguration",
        "tags",
        "resourcecreationtime",
    ]
    member = frame.schema["configurationitems"].inner  # type: ignore[union-attr]
    assert dict(member)["configurationstateid"] == pl.Int64


def test_unnest_items_and_read_their_fields(lake) -> None:
    engine, items = lake
    frame = engine.execute(
        "SELECT item.resourcetype, item.resourceId, item.configurationStateId AS state "
        "FROM aws.aws_config_configuration_snapshot "
        "CROSS JOIN UNNEST(configurationitems) AS t(item) "
        "WHERE item.resourcetype LIKE 'AWS::%' ORDER BY 1"
    ).df
    expected = sorted(
        (i["resourceType"], i["resourceId"], int(i["configurationStateId"])) for i in items
    )
    assert frame.rows() == expected
    bucket = engine.execute(
        "SELECT json_extract_scalar(item.configuration, '$.name') "
        "FROM aws.aws_config_configuration_snapshot "
        "CROSS JOIN UNNEST(configurationitems) AS t(item) "
        "WHERE item.resourcetype = 'AWS::S3::Bucket'"
    ).df
    assert bucket.item() == "mborch-test-bucket-config-item"


def rows_engine() -> Engine:
    frame = pl.DataFrame({"a": ["x", "y", None], "b": [1, 2, 3]})
    return Engine(tables={"t": frame})


def answer(sql: str) -> list:
    return rows_engine().execute(sql).df.to_series(0).to_list()


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        # Trino's documented ROW examples
        ("SELECT CAST(ROW(1, 2e0) AS ROW(x BIGINT, y DOUBLE)).x", [1]),
        ("SELECT CAST(ROW(1, 2e0) AS ROW(x BIGINT, y DOUBLE)).y", [2.0]),
        ("SELECT ROW(1, 2.0)[1]", [1]),
        ("SELECT ROW(1, 'a')[2]", ["a"]),
        ("SELECT r[2] FROM (SELECT ROW(b, a) AS r FROM t) ORDER BY r[1]", ["x", "y", None]),
        # field names are matched without regard to case; unquoted ones fold to lower case
        ("SELECT CAST(ROW(a, b) AS ROW(Name VARCHAR, N VARCHAR)).NAME FROM t", ["x", "y", None]),
        ("SELECT CAST(ROW(a, b) AS ROW(name VARCHAR, n VARCHAR)).n FROM t", ["1", "2", "3"]),
        (
            "SELECT CAST(CAST(NULL AS ROW(x VARCHAR, y BIGINT)) AS ROW(p VARCHAR, q VARCHAR))",
            [None],
        ),
        # a field that differs decides; otherwise a NULL field makes the answer NULL
        ("SELECT ROW(a, b) = ROW('x', 1) FROM t", [True, False, False]),
        ("SELECT ROW(a, b) = ROW('z', 3) FROM t", [False, False, None]),
        ("SELECT ROW(a, b) <> ROW('z', 3) FROM t", [True, True, None]),
    ],
)
def test_row_values(sql: str, expected: list) -> None:
    assert answer(sql) == expected


def test_rows_aggregate_cast_and_unnest() -> None:
    engine = rows_engine()
    frame = engine.execute(
        "SELECT CAST(array_agg(ROW(a, b)) AS ARRAY(ROW(name VARCHAR, n BIGINT))) AS items FROM t"
    ).df
    assert frame.schema["items"] == pl.List(pl.Struct({"name": pl.String, "n": pl.Int64}))
    assert frame.item().to_list() == [
        {"name": "x", "n": 1},
        {"name": "y", "n": 2},
        {"name": None, "n": 3},
    ]
    unnested = engine.execute(
        "SELECT item.n, item.name FROM ("
        "  SELECT array_agg(CAST(ROW(a, b) AS ROW(name VARCHAR, n BIGINT))) AS items FROM t"
        ") CROSS JOIN UNNEST(items) AS u(item) WHERE item.n > 1 ORDER BY item.n"
    ).df
    assert unnested.rows() == [(2, "y"), (3, None)]


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT CAST(ROW(a, b) AS ROW(x VARCHAR)) FROM t", "Cannot cast row"),
        ("SELECT ROW(1, 2)[3]", "Invalid field index 3"),
        ("SELECT ROW(a, b) < ROW('x', 1) FROM t", "Cannot apply operator"),
        ("SELECT CAST(ROW(a, b) AS ROW(x VARCHAR, y BIGINT)).z FROM t", "Field 'z' not found"),
    ],
)
def test_row_errors(sql: str, message: str) -> None:
    with pytest.raises(SqlError, match=message):
        rows_engine().execute(sql)


def test_athena_documented_config_query_shape(lake) -> None:
    """The camel-case spelling of AWS's example query resolves the same fields."""
    engine, items = lake
    frame = engine.execute(
        "SELECT configurationItem.resourceType, configurationItem.resourceName, "
        "cardinality(configurationItem.tags) AS tag_count, "
        "element_at(configurationItem.tags, 'Name') AS name_tag "
        "FROM aws.aws_config_configuration_snapshot "
        "CROSS JOIN UNNEST(configurationitems) AS t(configurationItem) "
        "WHERE accountid = '264683526309' ORDER BY 1"
    ).df
    expected = sorted((i["resourceType"], i.get("resourceName"), len(i["tags"])) for i in items)
    assert [r[:3] for r in frame.rows()] == expected
    assert frame["name_tag"].to_list() == [None, None]


def test_describe_view_stored_without_columns(lake) -> None:
    """The view is registered by ingest without a column list: DESCRIBE derives it."""
    engine, _ = lake
    rows = dict(
        (name, kind)
        for name, kind, _ in engine.execute(
            "DESCRIBE aws.aws_config_configuration_snapshot"
        ).df.rows()
    )
    assert list(rows)[:3] == ["fileversion", "configsnapshotid", "configurationitems"]
    items = rows["configurationitems"]
    assert items.startswith("array<struct<configurationitemversion:string,")
    assert "configurationstateid:bigint" in items and "tags:map<string,string>" in items
    shown = engine.execute("SHOW COLUMNS FROM aws.aws_config_configuration_snapshot").df
    assert shown["field"].to_list() == list(rows)
