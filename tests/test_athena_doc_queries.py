"""The example queries of AWS's documentation run word for word on an ingested lake (in the
``athena`` database, whose views carry the guides' table names and types) and give the answer
DuckDB gives over the same rows.

``tests/athena_doc_queries.py`` holds the queries; the one that cannot run (in Athena neither,
on the table AWS documents) is in ``NOT_RUNNABLE`` with the reason, which docs/sql.md gives too.
The VPC examples that use the guide's DATE partition also run on the guide's own table over the
raw exports (see tests/athena_guide.py).
"""

from __future__ import annotations

import ipaddress
import json
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

#: the query that cannot run, with the reason: the documented table declares `configuration`
#: STRING, so a member access on it is an error in Athena too
NOT_RUNNABLE = {"config_instance_types": "`configuration` is JSON text (use json_extract_scalar)"}
#: the guide's own table (created with the guide's DDL over the raw exports) serves these too
ON_GUIDE_TABLE = {"vpc_rejected_tcp", "vpc_https_top_servers"}


@pytest.fixture(scope="module")
def docs(generated_lake: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    lake = loglake.connect(str(generated_lake), database="athena")
    duck = duckdb.connect()
    for name in TABLES:
        frame = lake.sql(f"SELECT * FROM {name}")
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
    """``theirs`` is the whole answer (without the query's LIMIT): any LIMIT rows of it will do,
    and for an ORDER BY, the ones whose sort keys come first (rows tied at the cut may differ)."""
    limit = re.search(r"\bLIMIT (\d+)\s*$", sql)
    if not limit:
        assert_same(ours, theirs, ordered=is_ordered(sql), sql=sql)
        return
    assert ours.height == min(int(limit.group(1)), theirs.height)
    assert set(ours.rows()) <= set(theirs.rows())
    if is_ordered(sql):
        order = sqlglot.parse_one(sql, read="athena").args["order"].expressions
        keys = [o.this.name for o in order]
        assert ours.select(keys).rows() == theirs.select(keys).head(ours.height).rows()


@pytest.mark.parametrize(("name", "sql"), QUERIES, ids=[n for n, _ in QUERIES])
def test_documented_query_runs_unchanged(docs: dict, name: str, sql: str) -> None:
    if name in NOT_RUNNABLE:
        # refused as Athena refuses it, with the way that works in the message
        hint = "json_extract_scalar(configurationItem.configuration, '$.instancetype')"
        with pytest.raises(SqlError, match=re.escape(hint)):
            docs["lake"].sql(sql)
        return
    got = docs["lake"].sql(sql)
    assert got.height > 0, "the generated data has rows for every documented example"
    same_answer(got, expected(docs, name, re.sub(r"\bLIMIT \d+\s*$", "", sql)), sql)
    if name in ON_GUIDE_TABLE:
        assert docs["guide"].sql(sql).height > 0


def test_the_config_example_runs_with_json_extract_scalar(docs: dict) -> None:
    """The way AWS's Config examples read a member of ``configuration``: a lower-case path, since
    the documented table's SerDe lowers every key of the JSON text. The answer is the one the
    aws view (AWS's own key case) gives for ``$.instanceType``."""
    sql = dict(QUERIES)["config_instance_types"].replace(
        "configurationItem.configuration.instancetype",
        "json_extract_scalar(configurationItem.configuration, '$.instancetype')",
    )
    got = docs["lake"].sql(sql)
    assert got.height > 0 and got["instancetype"].null_count() == 0
    assert_same(got, expected(docs, "config_instance_types", sql), ordered=False, sql=sql)
    own_case = sql.replace("$.instancetype", "$.instanceType")
    assert_same(got, docs["lake"].sql(own_case.replace("FROM ", "FROM aws.", 1)), ordered=False)


def test_the_guide_view_lowers_json_keys_only(docs: dict) -> None:
    """Keys lowered at every depth, values (and JSON text inside string values) untouched."""
    sql = (
        "SELECT ci.configuration AS c FROM {}aws_config_configuration_snapshot "
        "CROSS JOIN UNNEST(configurationitems) AS t(ci) ORDER BY ci.resourceid, c"
    )
    guide = docs["lake"].sql(sql.format(""))["c"].to_list()
    own = docs["lake"].sql(sql.format("aws."))["c"].to_list()
    assert len(guide) == len(own) > 0
    lowered = [_lower_keys(json.loads(text)) for text in own]
    assert [json.loads(text) for text in guide] == lowered
    assert any(text != lower for text, lower in zip(own, guide, strict=True))


def _lower_keys(value: object) -> object:
    if isinstance(value, dict):
        return {k.lower(): _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value


def test_how_many_documented_queries_run_unchanged(docs: dict) -> None:
    """The measure of issue 21: queries that run word for word on an ingested lake."""
    unchanged = [n for n, _ in QUERIES if n not in NOT_RUNNABLE]
    assert len(QUERIES) == 28
    assert len(unchanged) == 27
