"""Functions over real CloudTrail records (public detonation logs copied into tests/data).

The expected answers are computed from the parsed records in Python, independently of SQL.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections import Counter

import orjson
import polars as pl
import pytest
from sample_files import STRATUS
from test_functions_support import assert_matches_duckdb, run

FILE = STRATUS / "aws.credential-access.ec2-get-password-data.json"


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return orjson.loads(FILE.read_bytes())


@pytest.fixture(scope="module")
def tables(records: list[dict]) -> dict[str, pl.DataFrame]:
    def text(value: object) -> str | None:
        return None if value is None else orjson.dumps(value).decode()

    frame = pl.DataFrame(
        {
            "eventtime": [r["eventTime"] for r in records],
            "eventname": [r["eventName"] for r in records],
            "sourceipaddress": [r.get("sourceIPAddress") for r in records],
            "useragent": [r.get("userAgent") for r in records],
            "requestparameters": [text(r.get("requestParameters")) for r in records],
            "arn": [r["userIdentity"].get("arn") for r in records],
        }
    )
    return {"cloudtrail": frame}


def test_instance_ids_from_request_parameters(records: list[dict], tables: dict) -> None:
    expected = Counter(
        (r.get("requestParameters") or {}).get("instanceId")
        for r in records
        if (r.get("requestParameters") or {}).get("instanceId")
    )
    frame = run(
        "SELECT json_extract_scalar(requestparameters, '$.instanceId') AS id, count(*) AS n "
        "FROM cloudtrail WHERE json_extract_scalar(requestparameters, '$.instanceId') IS NOT NULL "
        "GROUP BY 1",
        tables,
    )
    assert dict(frame.rows()) == dict(expected)


def test_events_per_minute(records: list[dict], tables: dict) -> None:
    def minute(text: str) -> dt.datetime:
        stamp = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return stamp.replace(second=0, microsecond=0)

    expected = Counter(minute(r["eventTime"]) for r in records)
    frame = run(
        "SELECT date_trunc('minute', from_iso8601_timestamp(eventtime)) AS m, count(*) AS n "
        "FROM cloudtrail GROUP BY 1",
        tables,
    )
    assert dict(frame.rows()) == dict(expected)


def test_accounts_and_public_sources(records: list[dict], tables: dict) -> None:
    expected_accounts = Counter(r["userIdentity"]["arn"].split(":")[4] for r in records)
    frame = run(
        "SELECT split_part(arn, ':', 5) AS account, count(*) FROM cloudtrail GROUP BY 1", tables
    )
    assert dict(frame.rows()) == dict(expected_accounts)
    for prefix in ("10.0.0.0/8", "200.249.0.0/16", "200.249.253.0/25", "200.249.253.128/25"):
        network = ipaddress.ip_network(prefix)
        inside = sum(
            1
            for r in records
            if _is_ip(r.get("sourceIPAddress"))
            and ipaddress.ip_address(r["sourceIPAddress"]) in network
        )
        sql = f"SELECT count_if(contains('{prefix}', sourceipaddress)) FROM cloudtrail"
        assert run(sql, tables).item() == inside, prefix


def _is_ip(text: str | None) -> bool:
    try:
        ipaddress.ip_address(text or "")
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT eventname, json_extract_scalar(requestparameters, '$.instanceId') FROM cloudtrail",
        "SELECT regexp_extract(useragent, '^[A-Za-z0-9-]+') AS agent, count(*) FROM cloudtrail "
        "GROUP BY 1",
        "SELECT hour(from_iso8601_timestamp(eventtime)), minute(from_iso8601_timestamp(eventtime)) "
        "FROM cloudtrail",
        "SELECT lower(eventname), length(eventname), substr(eventname, 1, 3) FROM cloudtrail",
    ],
)
def test_same_as_duckdb_on_real_records(sql: str, tables: dict) -> None:
    assert_matches_duckdb(sql, tables)
