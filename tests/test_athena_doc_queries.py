"""The example queries of AWS's documentation run unchanged on the ingested tables (table names
aside) and give the answer DuckDB gives over the same rows.

``tests/athena_doc_queries.py`` holds the queries; the ones that do not run on the ingested
tables are listed in ``NOT_ON_INGESTED`` with the reason and where they do run instead (the
guide's own table over the raw exports, see tests/athena_guide.py), and docs/sql.md lists them.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import duckdb
import polars as pl
import pytest
import sqlglot
from athena_doc_queries import QUERIES, TABLES
from athena_guide import VPC_FLOW, VPC_FLOW_PARTITION, fill
from difftest import assert_same, is_ordered

import loglake
from loglake.errors import SqlError

#: queries that cannot run on the ingested tables, with the reason
NOT_ON_INGESTED = {
    "vpc_rejected_tcp": "the guide's table has a DATE partition `date`; ingest keeps `day` text",
    "vpc_https_top_servers": "the guide's table has a DATE partition `date`; ingest keeps `day`",
    "config_instance_types": "`configuration` is JSON text (use json_extract_scalar)",
}
#: the guide's own table (created with the guide's DDL over the raw exports) serves these
ON_GUIDE_TABLE = {"vpc_rejected_tcp", "vpc_https_top_servers"}


def ingested_sql(sql: str) -> str:
    for name, table in TABLES.items():
        sql = re.sub(rf"\b{name}\b", table, sql)
    return sql


@pytest.fixture(scope="module")
def docs(generated_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    lake = loglake.connect(str(generated_lake))
    duck = duckdb.connect()
    for name, table in TABLES.items():
        frame = lake.sql(f"SELECT * FROM {table}")
        duck.register(name, frame.to_arrow())
    raw = generated_lake.parent / "raw"
    (account,) = [p.name for p in (raw / "AWSLogs").iterdir()]
    (region,) = [p.name for p in (raw / "AWSLogs" / account / "CloudTrail").iterdir()]
    guide = loglake.connect(str(tmp_path_factory.mktemp("docs") / "lake"), create=True)
    guide.catalog.update_lake_settings(allowed_locations=[str(raw)])  # the raw exports
    names = dict(logs=str(raw), account=account, region=region)
    guide.sql(fill(VPC_FLOW, **names).replace("vpc_flow_logs_guide", "vpc_flow_logs"))
    flows = raw / "AWSLogs" / account / "vpcflowlogs" / region
    for folder in flows.glob("*/*/*"):
        slashed = "/".join(folder.parts[-3:])
        partition = fill(
            VPC_FLOW_PARTITION, day=slashed.replace("/", "-"), slashed=slashed, **names
        )
        guide.sql(partition.replace("vpc_flow_logs_guide", "vpc_flow_logs"))
    return {"lake": lake, "duck": duck, "guide": guide}


def expected(docs: dict, name: str, sql: str) -> pl.DataFrame:
    """DuckDB's answer over the same rows (Python's ipaddress for IPADDRESS, which DuckDB's core
    lacks)."""
    duck = docs["duck"]
    if name == "ct_public_source_addresses":
        addresses = duck.sql("SELECT sourceipaddress FROM cloudtrail_logs").pl()["sourceipaddress"]
        public = [
            a
            for a in addresses
            if a is not None
            and re.fullmatch(r"[0-9.]+", a)
            and not any(
                ipaddress.ip_address(low) <= ipaddress.ip_address(a) <= ipaddress.ip_address(high)
                for low, high in [
                    ("10.0.0.0", "10.255.255.255"),
                    ("172.16.0.0", "172.31.255.255"),
                    ("192.168.0.0", "192.168.255.255"),
                ]
            )
        ]
        return pl.DataFrame({"sourceipaddress": public}).group_by("sourceipaddress").len("calls")
    return duck.sql(sqlglot.transpile(sql, read="athena", write="duckdb")[0]).pl()


def same_answer(ours: pl.DataFrame, theirs: pl.DataFrame, sql: str) -> None:
    limit = re.search(r"\bLIMIT (\d+)\s*$", sql)
    if limit and not is_ordered(sql):
        # any LIMIT rows of the answer will do
        everything = expected_rows = theirs.rows()
        assert ours.height == min(int(limit.group(1)), len(everything))
        assert set(ours.rows()) <= set(expected_rows)
        return
    assert_same(ours, theirs, ordered=is_ordered(sql), sql=sql)


@pytest.mark.parametrize(("name", "sql"), QUERIES, ids=[n for n, _ in QUERIES])
def test_documented_query_runs_unchanged(docs: dict, name: str, sql: str) -> None:
    if name in NOT_ON_INGESTED:
        with pytest.raises(SqlError):
            docs["lake"].sql(ingested_sql(sql))
        if name in ON_GUIDE_TABLE:
            got = docs["guide"].sql(sql)
            assert got.height > 0
        return
    got = docs["lake"].sql(ingested_sql(sql))
    assert got.height > 0, "the generated data has rows for every documented example"
    same_answer(got, expected(docs, name, sql.replace("LIMIT 100", "")), sql)


def test_how_many_documented_queries_run_unchanged(docs: dict) -> None:
    """The measure of issue 21: queries that run unchanged on the ingested tables, and on the
    guides' own tables over the raw exports."""
    on_ingested = [n for n, _ in QUERIES if n not in NOT_ON_INGESTED]
    assert len(QUERIES) == 28
    assert len(on_ingested) == 25
    assert len(on_ingested) + len(ON_GUIDE_TABLE) == 27
