"""Logs Insights queries: the examples of the CloudWatch Logs Insights query syntax documentation
(commands, filter operators, parse, display, dedup, functions, sample queries for VPC flow logs
and CloudTrail) run over a lake, with the results the documentation describes for these events.

The lake holds one CloudWatch Logs export (log group named through an export-prefix mapping),
a second group, a CloudTrail file and a VPC flow log file, all written here as AWS delivers them.
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import polars as pl
import pytest
from conftest import new_lake

from loglake.cli import main
from loglake.errors import UserError
from loglake.ingest.log_groups import group_of, stored_mapping
from loglake.query.insights import InsightsError, insights_sql, table_shape

APP = "/acme/app"
OTHER = "/acme/other"
ACCOUNT = "111122223333"


def t(minute: int, second: int = 0) -> datetime:
    return datetime(2024, 5, 25, 10, minute, second, tzinfo=UTC)


E1 = {"f1": 10, "f2": "a", "f3": 5, "f4": 2, "duration": 2500, "range": 3500,
      "accountId": 123456789012, "statusCode": 200, "Type": "foo", "server": "s1",
      "severity": "ERROR", "Operation": "Get", "StatusCode": "OK", "foo-bar": "x1",
      "action": "read", "requestParameters": {"bucketName": "logs-bucket"}}  # fmt: skip
E2 = {"f1": "java.lang.Exception: boom", "f2": "b", "f3": 30, "f4": 40, "duration": 1500,
      "range": 4000, "accountId": 111111111111, "statusCode": 404, "Type": "bar",
      "server": "s1", "severity": "INFO"}  # fmt: skip
E3 = {"f1": "exception", "f2": "a", "f3": 1, "duration": 3000, "range": 100,
      "statusCode": 300, "Type": 1, "server": "s2", "severity": "WARN"}  # fmt: skip
E4 = {"f1": 10, "f2": "b", "f3": 26, "duration": 100, "range": 3001,
      "accountId": 123456789012, "statusCode": 500, "Type": "qux", "server": "s2",
      "severity": "ERROR"}  # fmt: skip
ERROR_LINE = (
    "25 May 2019 10:24:39,474 [ERROR] {foo=2, bar=data} The error was: DataIntegrityException"
)
APP_EVENTS = [
    (t(0), json.dumps(E1)),
    (t(1), json.dumps(E2)),
    (t(2), json.dumps(E3)),
    (t(7), json.dumps(E4)),
    (t(8), ERROR_LINE),
    (t(9), "user=alice, method:GET, latency := 12"),
    (t(10), "user=alice, method:GET, latency := 20"),
    (t(11), "user=bob, method:PUT, latency := 30"),
    (t(12), "2019-05-25 [INFO] started worker"),
    (t(13), "  padded  "),
]
OTHER_EVENTS = [(t(3), "other group line with Exception"), (t(4), "other group line")]


def _export(root, prefix: str, stream: str, events) -> None:
    path = root / prefix / "task-1" / stream / "000000.gz"
    path.parent.mkdir(parents=True)
    lines = [f"{when.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z {text}" for when, text in events]
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


def _trail(root) -> None:
    def event(name: str, source: str, when: datetime, **extra) -> dict:
        return {
            "eventVersion": "1.08",
            "userIdentity": {
                "type": "IAMUser",
                "principalId": "AIDAX",
                "arn": f"arn:aws:iam::{ACCOUNT}:user/{extra.pop('user', 'alice')}",
                "accountId": ACCOUNT,
                "userName": "alice",
            },
            "eventTime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eventSource": source,
            "eventName": name,
            "awsRegion": "us-east-2",
            "sourceIPAddress": "198.51.100.7",
            "userAgent": "aws-cli/2",
            "requestID": "r",
            "eventID": f"e-{name}-{when.minute}",
            "readOnly": False,
            "eventType": "AwsApiCall",
            "managementEvent": True,
            "recipientAccountId": ACCOUNT,
            **extra,
        }

    records = [
        event("StartInstances", "ec2.amazonaws.com", t(0)),
        event("StopInstances", "ec2.amazonaws.com", t(1)),
        event(
            "CreateUser",
            "iam.amazonaws.com",
            t(2),
            requestParameters={"userName": "bob"},
            responseElements={"user": {"arn": f"arn:aws:iam::{ACCOUNT}:user/bob"}},
        ),
        event(
            "UpdateTrail",
            "cloudtrail.amazonaws.com",
            t(3),
            errorCode="AccessDenied",
            errorMessage="not allowed",
            user="mallory",
        ),
        event(
            "UpdateTrail",
            "cloudtrail.amazonaws.com",
            t(4),
            errorCode="AccessDenied",
            errorMessage="not allowed",
            user="mallory",
        ),
        event("UpdateTrail", "cloudtrail.amazonaws.com", t(5)),
        event(
            "GetObject",
            "s3.amazonaws.com",
            t(6),
            requestParameters={"bucketName": "logs-bucket", "key": "a"},
        ),
    ]
    folder = root / "AWSLogs" / ACCOUNT / "CloudTrail" / "us-east-2" / "2024" / "05" / "25"
    folder.mkdir(parents=True)
    name = f"{ACCOUNT}_CloudTrail_us-east-2_20240525T1010Z_abcdefABCDEF0123.json.gz"
    (folder / name).write_bytes(gzip.compress(json.dumps({"Records": records}).encode()))


FLOWS = [  # srcaddr dstaddr srcport dstport protocol packets bytes start action log-status
    ("192.0.2.10", "10.0.0.5", 443, 51000, 6, 10, 1000, t(0), "ACCEPT", "OK"),
    ("192.0.2.10", "10.0.0.6", 53, 53, 17, 2, 200, t(1), "ACCEPT", "OK"),
    ("192.0.2.20", "10.0.0.5", 5000, 22, 6, 30, 9000, t(2), "REJECT", "OK"),
    ("198.51.100.1", "10.0.0.5", 123, 123, 17, 5, 500, t(3), "ACCEPT", "OK"),
    ("192.0.2.10", "10.0.0.5", 443, 51001, 6, 7, 700, t(4), "ACCEPT", "OK"),
]


def _flows(root) -> None:
    lines = [
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets "
        "bytes start end action log-status"
    ]
    for src, dst, sport, dport, proto, packets, nbytes, when, action, status in FLOWS:
        start = int(when.timestamp())
        lines.append(
            f"2 {ACCOUNT} eni-0a1 {src} {dst} {sport} {dport} {proto} {packets} {nbytes} "
            f"{start} {start + 60} {action} {status}"
        )
    start = int(t(5).timestamp())
    lines.append(f"2 {ACCOUNT} eni-0a2 - - - - - - - {start} {start + 60} - SKIPDATA")
    folder = root / "AWSLogs" / ACCOUNT / "vpcflowlogs" / "us-east-2" / "2024" / "05" / "25"
    folder.mkdir(parents=True)
    name = f"{ACCOUNT}_vpcflowlogs_us-east-2_fl-1234abcd_20240525T1005Z_fe123456.log.gz"
    (folder / name).write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("insights")
    raw = root / "raw"
    _export(raw, "exports/app", "i-0abc", APP_EVENTS)
    _export(raw, "exports/other", "i-0def", OTHER_EVENTS)
    _trail(raw)
    _flows(raw)
    lake = new_lake(root / "lake")
    report = lake.ingest(
        str(raw), log_groups={"exports/app": APP, "exports/other": OTHER}, progress=False
    )
    assert report.ok and report.rows == {"cloudwatch_logs": 12, "cloudtrail": 7, "vpc_flow_logs": 6}
    return lake


def run(lake, query: str, **options) -> pl.DataFrame:
    options.setdefault("log_group", APP)
    return lake.insights(query, **options)


def messages(frame: pl.DataFrame) -> list[str]:
    return frame["@message"].to_list()


def j(event: dict) -> str:
    return json.dumps(event)


# ---------------------------------------------------------------- log groups from export prefixes


def test_export_prefixes_name_log_groups_and_stay_in_the_catalog(lake):
    groups = lake.sql("SELECT loggroup, count(*) AS n FROM cloudwatch_logs GROUP BY 1 ORDER BY 1")
    assert groups.rows() == [(APP, 10), (OTHER, 2)]
    assert stored_mapping(lake.catalog, "aws") == {"exports/app": APP, "exports/other": OTHER}
    chunk = "s3://b/x/exports/app/task-9/i-1/000000.gz"
    assert group_of(chunk, {"exports": "/all", "exports/app": APP}) == APP  # longest prefix
    assert group_of(chunk, {"exports/ap": APP}, "/fallback") == "/fallback"  # whole segments
    assert group_of("/data/exports/app/t/s/000001.gz", {"/data/exports/app/": APP}) == APP


# ---------------------------------------------------------------- query syntax: commands


def test_filter_one_condition_sorted_and_limited(lake):
    out = run(
        lake, "fields @timestamp, @message | filter (range>3000) | sort @timestamp desc | limit 20"
    )
    assert out.columns == ["@timestamp", "@message"]
    assert messages(out) == [j(E4), j(E2), j(E1)]


def test_filter_two_conditions(lake):
    q = "fields @timestamp, @message | filter (range>3000 and accountId=123456789012) | sort @timestamp desc | limit 20"
    assert messages(run(lake, q)) == [j(E4), j(E1)]


def test_fields_then_filter_and_filter_alone(lake):
    out = run(lake, "fields f1, f2, f3 | filter (duration>2000)")
    assert out.columns == ["f1", "f2", "f3"]
    assert out.rows() == [("exception", "a", "1"), ("10", "a", "5")]  # newest first
    alone = run(lake, "filter (duration>2000)")
    assert alone.columns == ["@timestamp", "@message"] and messages(alone) == [j(E3), j(E1)]


def test_filter_or(lake):
    out = run(lake, "fields f1, f2 | filter (f1=10 or f3>25)")
    assert out["f2"].to_list() == ["b", "b", "a"]  # E4, E2, E1


def test_like_regex_on_a_field(lake):
    assert run(lake, r"fields f1 | filter statusCode like /2\d\d/")["f1"].to_list() == ["10"]


def test_in_and_not_in(lake):
    assert messages(
        run(lake, "fields @timestamp, @message | filter statusCode in [300,400,500]")
    ) == [
        j(E4),
        j(E3),
    ]
    out = run(lake, 'fields @timestamp, @message | filter Type not in ["foo","bar",1]')
    assert messages(out) == [j(E4)]  # events without Type match neither in nor not in


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("fields f1, f2, f3 | filter f1 like /Exception/", ["java.lang.Exception: boom"]),
        ("fields f1, f2, f3 | filter f1 =~ /Exception/", ["java.lang.Exception: boom"]),
        ('fields f1, f2, f3 | filter f1 like "Exception"', ["java.lang.Exception: boom"]),
        (
            "fields f1, f2, f3 | filter f1 like /(?i)Exception/",
            ["exception", "java.lang.Exception: boom"],
        ),
        ("fields f1, f2, f3 | filter f1 =~ /^(?i)Exception$/", ["exception"]),
    ],
)
def test_matches_and_regular_expressions(lake, query, expected):
    assert run(lake, query)["f1"].to_list() == expected


def test_aliases_in_fields_stats_and_sort(lake):
    out = run(lake, "fields abs(f3 - f4) as AbsoluteValuemyField, f2 | filter ispresent(f4)")
    assert out.rows() == [(10.0, "b"), (3.0, "a")]
    avg = run(lake, "stats avg(f3) as myAvgF3 by f2 | sort myAvgF3 desc")
    # events without f2 form a group of their own (filter ispresent(f2) drops it), sorted last
    assert avg.rows() == [("b", 28.0), ("a", 3.0), (None, None)]


def test_backticks_and_concat(lake):
    out = run(
        lake,
        "fields `foo-bar`, action, abs(f3-f4), concat(Operation, '-', StatusCode) as opStatus "
        "| filter ispresent(action)",
    )
    assert out.columns == ["foo-bar", "action", "abs(f3-f4)", "opStatus"]
    assert out.rows() == [("x1", "read", 3.0, "Get-OK")]


def test_sort_limit_then_display(lake):
    out = run(lake, "filter ispresent(f1) | sort @timestamp desc | limit 2 | display f1, f2")
    assert out.columns == ["f1", "f2"] and out.rows() == [("10", "b"), ("exception", "a")]


def test_parse_glob_and_regex_give_the_same_fields(lake):
    glob = run(lake, 'parse @message "[*] * The error was: *" as level, config, exception '
               "| filter ispresent(exception) | display level, config, exception")  # fmt: skip
    regex = run(lake, r"parse @message /\[(?<level>\S+)\]\s+(?<config>\{.*\})\s+The error was: (?<exception>\S+)/ "
                "| filter ispresent(exception) | display level, config, exception")  # fmt: skip
    expected = [("ERROR", "{foo=2, bar=data}", "DataIntegrityException")]
    assert glob.rows() == expected and regex.rows() == expected


def test_parse_then_stats_by_the_parsed_fields(lake):
    out = run(
        lake,
        'parse @message "user=*, method:*, latency := *" as @user,\n'
        "    @method, @latency | filter ispresent(@user) | stats avg(@latency) by @method,\n    @user",
    )
    assert out.columns == ["@method", "@user", "avg(@latency)"]
    assert sorted(out.rows()) == [("GET", "alice", 16.0), ("PUT", "bob", 30.0)]


def test_display_of_a_parsed_field_and_an_expression(lake):
    out = run(
        lake,
        'fields @message | parse @message "[*] *" as loggingType, loggingMessage '
        '| filter loggingType = "ERROR" | display loggingMessage',
    )
    assert out.columns == ["loggingMessage"]
    assert out["loggingMessage"].to_list() == [
        "{foo=2, bar=data} The error was: DataIntegrityException"
    ]
    sample = run(
        lake,
        "FIELDS @message\n"
        '    | PARSE @message "* [*] *" as loggingTime, loggingType, loggingMessage\n'
        '    | FILTER loggingType IN ["ERROR", "INFO"]\n'
        '    | DISPLAY loggingMessage, loggingType = "ERROR" as isError',
    )
    assert sample.rows() == [
        ("started worker", False),
        ("{foo=2, bar=data} The error was: DataIntegrityException", True),
    ]


def test_dedup_keeps_the_first_by_sort_order_and_every_null(lake):
    out = run(
        lake, "fields @timestamp, server, severity, message | sort @timestamp desc | dedup server"
    )
    servers = out["server"].to_list()
    assert servers[:2] == [None] * 2  # the newest events have no server: nulls are no duplicates
    assert [s for s in servers if s] == ["s2", "s1"]
    kept = out.filter(pl.col("server").is_not_null())["severity"].to_list()
    assert kept == ["ERROR", "INFO"]  # E4 (newest of s2) and E2 (newest of s1)
    assert out.height == 2 + 6  # and the six events without a server
    with pytest.raises(InsightsError, match="only limit may follow dedup"):
        run(lake, "dedup server | sort @timestamp")


def test_comments_are_ignored(lake):
    q = "fields @timestamp, @message\n    # | filter @message like /delay/\n    | limit 20"
    assert run(lake, q).height == 10


def test_stats_count_by_bin(lake):
    out = run(
        lake,
        "fields @timestamp, @message | filter @message like /ERROR/ | stats count(*) by bin(5m)",
    )
    assert out.columns == ["bin(5m)", "count(*)"]
    assert out.rows() == [(t(0), 1), (t(5), 2)]  # E1 at 10:00; E4 and the [ERROR] line at 10:0x


@pytest.mark.parametrize(
    ("period", "seconds"),
    [
        ("500ms", 0.5), ("250msec", 0.25), ("250msecs", 0.25), ("2mss", 0.002),
        ("30s", 30), ("30secs", 30), ("5m", 300), ("5mins", 300), ("2minutes", 120),
        ("1h", 3600), ("2hrs", 7200), ("1d", 86400), ("2days", 172800), ("1w", 604800),
    ],
)  # fmt: skip
def test_bin_units_of_the_stats_documentation(lake, period, seconds):
    """Every unit and abbreviation of the stats page, plural s on names of two letters or more
    (`500ms` is half a second: it was read as 500 minutes)."""
    out = run(lake, f"stats count(*) as n by bin({period}) as b | sort b")
    want: dict[datetime, int] = {}
    for at, _ in APP_EVENTS:
        ms, size = round(at.timestamp() * 1000), round(seconds * 1000)
        start = datetime.fromtimestamp(ms // size * size / 1000, UTC)
        want[start] = want.get(start, 0) + 1
    assert out.rows() == sorted(want.items())


@pytest.mark.parametrize("period", ["1mo", "1mos", "1mon", "1mons", "1month", "1months"])
def test_calendar_month_bins_in_every_spelling(lake, period):
    out = run(lake, f"stats count(*) as n by bin({period}) as month")
    assert out.rows() == [(datetime(2024, 5, 1, tzinfo=UTC), 10)]


def test_stats_aggregates(lake):
    out = run(
        lake,
        "stats count(*) as n, count(f4) as with_f4, count_distinct(server) as servers, "
        "sum(f3) as total, min(f3) as low, max(duration) as high, pct(duration, 50) as median, "
        "earliest(server) as first, latest(server) as last, sortsFirst(severity) as sf, "
        "sortsLast(severity) as sl, high - low as spread",
    )
    row = out.row(0, named=True)
    assert row["n"] == 10 and row["with_f4"] == 2 and row["servers"] == 2
    assert row["total"] == 62 and row["low"] == 1 and row["high"] == 3000
    assert row["median"] in (1500, 2500)  # approximate percentile of 100, 1500, 2500, 3000
    assert (row["first"], row["last"]) == ("s1", "s2")
    assert (row["sf"], row["sl"]) == ("ERROR", "WARN")
    assert row["spread"] == 2999


def test_stddev(lake):
    out = run(lake, "filter ispresent(f3) | stats stddev(f3) as sd")
    values = [5, 30, 1, 26]
    mean = sum(values) / 4
    assert out["sd"][0] == pytest.approx((sum((v - mean) ** 2 for v in values) / 3) ** 0.5)


def test_sample_query_exceptions_per_hour_and_not_like(lake):
    out = run(
        lake,
        "filter @message like /Exception/ \n    | stats count(*) as exceptionCount by bin(1h)\n"
        "    | sort exceptionCount desc",
    )
    assert out.rows() == [(datetime(2024, 5, 25, 10, tzinfo=UTC), 2)]  # E2 and the error line
    assert run(lake, "fields @message | filter @message not like /Exception/").height == 8


# ---------------------------------------------------------------- functions


def test_string_and_number_functions_as_documented(lake):
    out = run(
        lake,
        'fields ltrim("xyZfooxyZ","xyZ") as l, rtrim("xyZfooxyZ","xyZ") as r, '
        'trim("xyZfooxyZ","xyZ") as b, substr("xyZfooxyZ",3, 3) as s, '
        'replace("foo","o","0") as rep, strcontains("foo", "oo") as c, strlen("héllo") as n, '
        'toupper("a") as up, tolower("B") as low, 2 ^ 3 as p, 10 % 3 as m, '
        "greatest(1, 5, 3) as g, least(4, 2) as le, ceil(1.2) as ce, floor(1.8) as fl, "
        'sqrt(16) as sq, trim(@message) as tr, isblank("  ") as bl, isempty("") as em '
        '| filter @message like "padded"',
    )
    assert out.row(0) == (
        "fooxyZ", "xyZfoo", "foo", "foo", "f00", 1, 5, "A", "b",
        8.0, 1, 5, 2, 2.0, 1.0, 4.0, "padded", True, True,
    )  # fmt: skip


def test_coalesce_ispresent_and_json_fields(lake):
    out = run(
        lake,
        "fields coalesce(f4, f3) as either, requestParameters.bucketName as bucket, "
        "ispresent(requestParameters.bucketName) as has | filter ispresent(f3) | sort @timestamp asc",
    )
    assert out.rows() == [
        ("2", "logs-bucket", True),
        ("40", None, False),
        ("1", None, False),
        ("26", None, False),
    ]


def test_date_functions(lake):
    out = run(
        lake,
        "fields datefloor(@timestamp, 1h) as fl, dateceil(@timestamp, 5m) as ce, "
        "toMillis(@timestamp) as ms, fromMillis(toMillis(@timestamp)) as back | filter f3 = 30",
    )
    assert out.row(0) == (
        datetime(2024, 5, 25, 10, tzinfo=UTC),
        t(5),
        int(t(1).timestamp() * 1000),
        t(1),
    )


@pytest.mark.parametrize("table", ["cloudwatch_logs", "cloudtrail", "vpc_flow_logs"])
def test_every_time_value_carries_utc(lake, table):
    """@timestamp, bin() with minutes or calendar months, datefloor()/dateceil(): UTC on every
    table, whether its time column is a SQL timestamp, ISO text or epoch seconds."""
    group = APP if table == "cloudwatch_logs" else None
    out = run(
        lake,
        "stats min(@timestamp) as first, count(*) as n by bin(5m) as b5, bin(1mo) as month, "
        "datefloor(@timestamp, 1mo) as floor, dateceil(@timestamp, 1q) as ceil | sort b5 | limit 1",
        log_group=group,
        table=table,
    )
    for name in ("first", "b5", "month", "floor", "ceil"):
        assert out.schema[name] == pl.Datetime("us", "UTC"), (table, name)
    row = out.row(0, named=True)
    assert row["b5"] == t(0) and row["b5"] <= row["first"] < t(5)
    assert row["month"] == row["floor"] == datetime(2024, 5, 1, tzinfo=UTC)
    assert row["ceil"] == datetime(2024, 7, 1, tzinfo=UTC)


def test_ingestion_time_carries_utc(lake):
    out = run(lake, "fields @timestamp, @ingestiontime | sort @timestamp | limit 1")
    assert out.row(0) == (t(0), t(0))


def test_ip_functions(lake):
    out = lake.insights(
        "fields isValidIp(srcAddr) as ip, isValidIpV4(srcAddr) as v4, isValidIpV6(srcAddr) as v6, "
        'isIpInSubnet(srcAddr, "192.0.2.0/24") as inside | filter ispresent(srcAddr) | limit 1',
        table="vpc_flow_logs",
    )
    assert out.row(0) == (True, True, False, True)


# ---------------------------------------------------------------- time range, log groups, CLI


def test_log_groups_and_time_range(lake):
    both = lake.insights(
        "filter @message like /Exception/ | stats count(*) as n by @log", log_group=[APP, OTHER]
    )
    assert sorted(both.rows()) == [(APP, 2), (OTHER, 1)]
    window = run(lake, "stats count(*) as n", start="2024-05-25T10:07:00Z", end=t(10))
    assert window["n"].to_list() == [3]  # 10:07, 10:08, 10:09; the end is exclusive
    streams = run(lake, "stats count(*) as n by @logStream")
    assert streams.rows() == [("i-0abc", 10)]


def test_cli_insights(lake, capsys):
    root = lake.catalog.settings.root
    code = main(
        [
            "--lake",
            root,
            "insights",
            "stats count(*) as n by bin(5m)",
            "--log-group",
            APP,
            "--format",
            "csv",
        ]
    )
    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        "bin(5m),n",
        "2024-05-25 10:00:00.000 UTC,3",
        "2024-05-25 10:05:00.000 UTC,3",
        "2024-05-25 10:10:00.000 UTC,4",
    ]
    assert main(["--lake", root, "insights", "stats count(*) by bin(1h)", "--show-sql"]) == 0
    assert "GROUP BY" in capsys.readouterr().out


# ---------------------------------------------------------------- VPC flow logs and CloudTrail


def test_vpc_flow_log_sample_queries(lake):
    top = lake.insights(
        "stats sum(packets) as packetsTransferred by srcAddr, dstAddr\n"
        "    | sort packetsTransferred  desc\n    | limit 15",
        table="vpc_flow_logs",
    )
    assert top.rows()[:2] == [("192.0.2.20", "10.0.0.5", 30), ("192.0.2.10", "10.0.0.5", 17)]
    subnet = lake.insights(
        'filter isIpv4InSubnet(srcAddr, "192.0.2.0/24")\n    | stats sum(bytes) as bytesTransferred by dstAddr\n'
        "    | sort bytesTransferred desc\n    | limit 15",
        table="vpc_flow_logs",
    )
    assert subnet.rows() == [("10.0.0.5", 10700), ("10.0.0.6", 200)]
    udp = lake.insights("filter protocol=17 | stats count(*) by srcAddr", table="vpc_flow_logs")
    assert sorted(udp.rows()) == [("192.0.2.10", 1), ("198.51.100.1", 1)]
    skipped = lake.insights(
        'filter logStatus="SKIPDATA"\n    | stats count(*) by bin(1h) as t\n    | sort t',
        table="vpc_flow_logs",
    )
    assert skipped.rows() == [(datetime(2024, 5, 25, 10, tzinfo=UTC), 1)]
    rejected = lake.insights(
        "fields @message | filter @message like /REJECT/", table="vpc_flow_logs"
    )
    start = int(t(2).timestamp())
    assert messages(rejected) == [
        f"2 {ACCOUNT} eni-0a1 192.0.2.20 10.0.0.5 5000 22 6 30 9000 {start} {start + 60} REJECT OK"
    ]


def test_cloudtrail_sample_queries(lake):
    counts = lake.insights(
        "stats count(*) by eventSource, eventName, awsRegion", table="cloudtrail"
    )
    assert ("cloudtrail.amazonaws.com", "UpdateTrail", "us-east-2", 3) in counts.rows()
    assert counts.height == 5
    started = lake.insights(
        'filter (eventName="StartInstances" or eventName="StopInstances") and awsRegion="us-east-2"',
        table="cloudtrail",
    )
    assert started["eventName"].to_list() == ["StopInstances", "StartInstances"]
    users = lake.insights(
        'filter eventName="CreateUser"\n    | fields awsRegion, requestParameters.userName, responseElements.user.arn',
        table="cloudtrail",
    )
    assert users.rows() == [("us-east-2", "bob", f"arn:aws:iam::{ACCOUNT}:user/bob")]
    errors = lake.insights(
        'filter eventName="UpdateTrail" and ispresent(errorCode)\n    | stats count(*) by errorCode, errorMessage',
        table="cloudtrail",
    )
    assert errors.rows() == [("AccessDenied", "not allowed", 2)]
    denied = lake.insights(
        'filter errorCode = "AccessDenied" | stats count(*) as n by userIdentity.arn',
        table="cloudtrail",
    )
    assert denied.rows() == [(f"arn:aws:iam::{ACCOUNT}:user/mallory", 2)]
    bucket = lake.insights(
        'filter requestParameters.bucketName = "logs-bucket" | fields eventName', table="cloudtrail"
    )
    assert bucket["eventName"].to_list() == ["GetObject"]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("fields @timestamp | filter x =", "line 1, column 31: the query ends too early"),
        ("fields a |\n nonsense b", "line 2, column 2: unknown command 'nonsense'"),
        ("filter bogus(1)", "unknown function bogus()"),
        ("fields count(*)", "count() is an aggregate: use it in stats"),
        ("stats f1 by f2", "stats needs an aggregate"),
        ('parse @message "* *" as a', "the glob has 2 * but 1 names follow as"),
        ("parse @message /(no names)/", "names no (?<field>...)"),
        ("stats count(*) by bin(5)", "bin() takes a time period such as 5m or 1h"),
        ("limit 0", "limit takes a positive whole number"),
        ("filter a like 5", 'like takes a "string" or a /regular expression/'),
        ("fields trim(@message, f2)", "trim() takes the characters to strip as a string"),
        ("fields `unclosed", "unexpected character '`'"),
    ],
)
def test_errors_point_at_the_problem(lake, query, message):
    with pytest.raises(InsightsError) as caught:
        run(lake, query)
    assert message in str(caught.value)
    assert "Traceback" not in str(caught.value)


def test_table_errors(lake):
    with pytest.raises(UserError, match="holds no log groups"):
        lake.insights("stats count(*)", table="cloudtrail", log_group=APP)
    with pytest.raises(UserError, match="no table 'nope'"):
        lake.insights("stats count(*)", table="nope")
    with pytest.raises(UserError, match="not an ISO 8601 time"):
        lake.insights("stats count(*)", start="yesterday")
    with pytest.raises(InsightsError, match="@message is not stored in cloudtrail"):
        lake.insights("filter @message like /x/", table="cloudtrail")


def test_hostile_values_stay_values(lake):
    out = run(lake, 'fields @message | filter @message like "\'; DROP TABLE x; --"')
    assert out.height == 0
    sql, columns = insights_sql(
        'filter f1 = "a\'b" | fields `we"ird`',
        table_shape("cloudwatch_logs", {"message": pl.String, "loggroup": pl.String}),
    )
    assert "'a''b'" in sql and columns == ['we"ird']
