"""Route 53 Resolver query logs, the fifth source, and the registry every source is read from.

The records follow the field list and example AWS documents for Resolver query logs (version
1.100000, ``srcport`` as a string, ``answers`` with ``Rdata``/``Type``/``Class``); the table is
the one Athena's documentation declares for them.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import polars as pl
import pytest

import loglake
from loglake.cli import main as cli
from loglake.ingest import route53resolver
from loglake.ingest.raw import RawObject
from loglake.ingest.sources import SOURCE_NAMES, classify, kinds, sources, tables

ACCOUNT = "111122223333"
VPC = "vpc-0a1b2c3d4e5f60718"
KEY = (
    f"route53-query-logging/AWSLogs/{ACCOUNT}/vpcdnsquerylogs/{VPC}/2024/05/10/"
    f"{ACCOUNT}_vpcdnsquerylogs_{VPC}_20240510T1615Z_5f0c1d2e.log.gz"
)


def record(name: str, when: str, **more: object) -> dict:
    base = {
        "version": "1.100000",
        "account_id": ACCOUNT,
        "region": "eu-west-1",
        "vpc_id": VPC,
        "query_timestamp": when,
        "query_name": name,
        "query_type": "A",
        "query_class": "IN",
        "rcode": "NOERROR",
        "answers": [{"Rdata": "198.51.100.7", "Type": "A", "Class": "IN"}],
        "srcaddr": "10.0.1.25",
        "srcport": "56067",
        "transport": "UDP",
        "srcids": {"instance": "i-0d15cd0d3e1f2a3b4"},
    }
    base.update(more)
    return base


def delivery(*records: dict | bytes) -> bytes:
    lines = [r if isinstance(r, bytes) else orjson.dumps(r) for r in records]
    return gzip.compress(b"\n".join(lines) + b"\n")


def parse(key: str, data: bytes):
    layout = classify(key)
    assert layout is not None
    return route53resolver.parse([RawObject(key, "e1", len(data), layout, data)])


def test_key_layout():
    layout = classify(KEY)
    assert layout is not None
    assert (layout.kind, layout.source, layout.table) == (
        "resolver_query_log",
        "route53resolver",
        "resolver_query_logs",
    )
    assert (layout.account, layout.day, layout.hour, layout.detail) == (
        ACCOUNT,
        "2024-05-10",
        16,
        VPC,
    )
    assert classify(KEY, source="cloudtrail") is None
    assert classify("copies/dns.log.gz") is None
    loose = classify("copies/dns.log.gz", source="route53resolver")
    assert loose is not None and loose.table == "resolver_query_logs"


def test_rows_have_athenas_columns_and_types():
    blocked = record(
        "15.3.4.32.in-addr.arpa.",
        "2024-05-10T16:15:02Z",
        query_type="PTR",
        answers=[],
        firewall_rule_action="BLOCK",
        firewall_rule_group_id="rslvr-frg-01234567890abcdef",
        firewall_domain_list_id="rslvr-fdl-01234567890abcdef",
    )
    parsed = parse(KEY, delivery(record("example.com.", "2024-05-10T16:15:01Z"), blocked))
    assert not parsed.bad
    assert parsed.rows == {KEY: 2}
    table = parsed.tables["resolver_query_logs"]
    assert table.schema == route53resolver.RESOLVER_SCHEMA
    rows = pl.from_arrow(table).to_dicts()
    first, second = rows
    assert first["query_name"] == "example.com."
    assert first["srcport"] == 56067
    assert first["answers"] == [{"rdata": "198.51.100.7", "type": "A", "class": "IN"}]
    assert first["srcids"] == {"instance": "i-0d15cd0d3e1f2a3b4", "resolver_endpoint": None}
    assert (first["account"], first["region"], first["day"]) == (ACCOUNT, "eu-west-1", "2024-05-10")
    assert first["source_key"] == KEY and first["extrafields"] is None
    assert second["firewall_rule_action"] == "BLOCK" and second["answers"] == []


def test_members_the_table_does_not_name_are_kept():
    newer = record(
        "a.example.",
        "2024-05-10T16:00:00Z",
        firewall_protection="DGA",
        srcids={"instance": "i-1", "resolver_network_interface": {"id": "rni-1"}},
    )
    rows = pl.from_arrow(parse(KEY, delivery(newer)).tables["resolver_query_logs"]).to_dicts()
    assert orjson.loads(rows[0]["extrafields"]) == {
        "firewall_protection": "DGA",
        "srcids": {"resolver_network_interface": {"id": "rni-1"}},
    }
    assert rows[0]["srcids"]["instance"] == "i-1"


def test_bad_lines_are_quarantined_alone_with_their_line_number():
    data = delivery(
        record("ok.example.", "2024-05-10T16:00:00Z"),
        b'{"query_name": "cut',
        record("no-time.example.", "yesterday"),
        record("port.example.", "2024-05-10T16:00:01Z", srcport="http"),
        record("ok2.example.", "2024-05-10T16:00:02Z"),
    )
    parsed = parse(KEY, data)
    assert sorted((b.line, b.error) for b in parsed.bad) == [
        (2, parsed.bad[0].error),
        (3, "query_timestamp missing or not ISO-8601"),
        (4, "srcport is not a number"),
    ]
    assert parsed.bad[0].text == '{"query_name": "cut'
    assert parsed.rows == {KEY: 2}
    names = pl.from_arrow(parsed.tables["resolver_query_logs"])["query_name"].to_list()
    assert names == ["ok.example.", "ok2.example."]


def test_damaged_and_empty_objects_are_quarantined_whole():
    parsed = parse(KEY, gzip.compress(b"")[:-4])
    assert [b.whole_object for b in parsed.bad] == [True]
    assert parse(KEY, gzip.compress(b"\n\n")).bad[0].error == "empty object"


def test_ingest_and_query_as_athenas_documentation_does(tmp_path: Path):
    source = tmp_path / "bucket" / KEY
    source.parent.mkdir(parents=True)
    source.write_bytes(
        delivery(
            record("example.com.", "2024-05-10T16:15:01Z"),
            record("example.com.", "2024-05-10T16:15:03Z", rcode="NXDOMAIN", answers=[]),
            record("other.example.", "2024-05-10T16:16:00Z", srcaddr="10.0.2.9"),
        )
    )
    lake = loglake.connect(str(tmp_path / "lake"), create=True)
    report = lake.ingest(str(tmp_path / "bucket"))
    assert report.rows == {"resolver_query_logs": 3} and report.ok
    # an example query of the Athena guide for Resolver query logs, on our table name
    top = lake.sql(
        "SELECT query_name, count(*) AS n FROM aws.resolver_query_logs "
        "GROUP BY query_name ORDER BY n DESC, query_name"
    )
    assert top.rows() == [("example.com.", 2), ("other.example.", 1)]
    answers = lake.sql(
        "SELECT a.rdata FROM aws.resolver_query_logs CROSS JOIN UNNEST(answers) AS t(a) "
        "WHERE rcode = 'NOERROR' AND srcport > 1024 ORDER BY query_timestamp"
    )
    assert answers.rows() == [("198.51.100.7",), ("198.51.100.7",)]
    # exactly once: a run that lists the object again skips it (a resumed one does not list it)
    again = lake.ingest(str(tmp_path / "bucket"), full_listing=True)
    assert (again.objects_seen, again.objects_skipped, again.total_rows) == (1, 1, 0)


def test_cli_offers_every_registered_source(capsys):
    with pytest.raises(SystemExit):
        cli(["ingest", "--help"])
    help_text = capsys.readouterr().out
    for name in SOURCE_NAMES:
        assert name in help_text


# ---------------------------------------------------------------- the registry
def test_each_source_is_one_record_in_its_module():
    assert list(sources()) == list(SOURCE_NAMES)
    for name, record in sources().items():
        assert record.name == name
        for kind in record.kinds:
            assert kinds()[kind.name].source == name
            assert kind.table is None or kind.table in tables()
        for spec in record.tables:
            assert spec.sort_by in spec.schema.names
            assert {"account", "region", "day", "source_key", "extrafields"} <= set(
                spec.schema.names
            )


SAMPLE_KEYS = [
    KEY,
    "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/10/"
    "111122223333_CloudTrail_us-east-1_20240510T1620Z_abc.json.gz",
    "AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/05/10/"
    "111122223333_CloudTrail-Insight_us-east-1_20240510T1620Z_abc.json.gz",
    "AWSLogs/111122223333/vpcflowlogs/us-east-1/2024/05/10/"
    "111122223333_vpcflowlogs_us-east-1_fl-1_20240510T1620Z_abc.log.gz",
    "AWSLogs/aws-account-id=111122223333/aws-service=vpcflowlogs/aws-region=us-east-1/"
    "year=2024/month=05/day=10/x.parquet",
    "AWSLogs/111122223333/Config/us-east-1/2024/5/10/ConfigHistory/"
    "111122223333_Config_us-east-1_ConfigHistory_AWS::EC2::Instance_20240510T1620Z_"
    "20240510T1620Z_1.json.gz",
    "exports/0123-task/i-0abc/000000.gz",
    "firehose/2024/05/10/16/stream-1-2024-05-10-16-20-00-0123abcd-4567-89ab-cdef-0123456789ab.gz",
]


@pytest.mark.parametrize("key", SAMPLE_KEYS)
def test_key_layouts_of_two_sources_never_overlap(key):
    """Recognition asks the sources in turn: it is only order-free when one source claims a key."""
    claims = [name for name, record in sources().items() if record.recognise(key) is not None]
    assert len(claims) == 1, claims
