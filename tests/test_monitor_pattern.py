"""The filter-pattern language: every syntax family, documented examples and edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from loglake.monitor import FilterPatternError, compile_pattern, parse_pattern, test_metric_filter
from loglake.monitor.compile import MessageSource, TableSource

APACHE = [
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534',
    '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5324',
    '127.0.0.1 - frank [10/Oct/2000:13:50:35 -0700] "GET /apache_pb.gif HTTP/1.0" 200 4355',
    '127.0.0.1 - frank [10/Oct/2000:13:55:35 -0700] "GET /index.html HTTP/1.0" 404 120',
]

JSON_EVENT = json.dumps(
    {
        "eventType": "UpdateTrail",
        "sourceIPAddress": "123.123.123.123",
        "arrayKey": ["value", "another value"],
        "objectList": [{"name": "a", "id": 1}, {"name": "b", "id": 2}],
        "SomeObject": None,
        "ThisFlag": True,
        "bandwidth": 75,
        "latency": 50,
        "timeout": 4000,
        "numbers": "5",
        "user": {"id": 1, "email": "John.Doe@example.com", "name": "John Doe"},
        "users": [{"id": 2, "email": "John.Doe@example.com"}, {"id": 3}],
        "cluster.name": "prod",
        "coordinates": [[0, 1], [2, 3]],
    }
)
EVENTS = [JSON_EVENT, "UpdateTrail happened, not JSON", '{"eventType": "CreateTrail"}', "[1, 2]"]


def matching(pattern: str, messages: list[str]) -> list[int]:
    return [m["eventNumber"] for m in test_metric_filter(pattern, messages)["matches"]]


# --- term patterns ----------------------------------------------------------------------------

TERM_MESSAGES = [
    "[ERROR 401] UNAUTHORIZED REQUEST",
    "Exiting with ERRORCODE: -1",
    "[WARN] Socket timeout ARGUMENTS",
    "INFO request completed",
    "error in lower case",
    "shutting down now",
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("ERROR", [1, 2]),  # substring, not whole word
        ("error", [5]),  # case sensitive
        ("ERROR UNAUTHORIZED", [1]),  # terms are ANDed
        ("UNAUTHORIZED ERROR", [1]),  # order does not matter
        ('"ERROR 401"', [1]),  # quoted phrase
        ('"[WARN]"', [3]),  # punctuation inside quotes
        ("?ERROR ?WARN", [1, 2, 3]),  # only optional terms: any of them
        ("?ERROR ?ARGUMENTS REQUEST", [1]),  # optional terms ignored when mixed
        ("ERROR -401", [2]),  # exclusion
        ('ERROR -"ERROR 401"', [2]),
        ("-ERROR", [3, 4, 5, 6]),  # exclusion only
        ("%AUTHORIZED%", [1]),  # regex is a search
        ("%^\\[ERROR%", [1]),
        ("%^starting|^initializing|^shutting down%", [6]),
        ("%ERRORCODE\\x3A%", [2]),  # \xhh escape for ':'
        ("%\\d{3}%", [1]),
        ("", [1, 2, 3, 4, 5, 6]),  # empty pattern matches everything
        (" ", [1, 2, 3, 4, 5, 6]),
        ('" "', [1, 2, 3, 4, 5, 6]),
    ],
)
def test_term_patterns(pattern: str, expected: list[int]) -> None:
    assert matching(pattern, TERM_MESSAGES) == expected


def test_term_pattern_documented_api_example() -> None:
    messages = ["2024-01-01 [ERROR] Unhanded exception: InvalidQueryException", "[ERROR] other"]
    result = test_metric_filter('"[ERROR]" Exception', messages)
    assert result["matches"] == [
        {"eventNumber": 1, "eventMessage": messages[0], "extractedValues": {}}
    ]


def test_term_pattern_applies_to_json_text() -> None:
    assert matching("UpdateTrail", EVENTS) == [1, 2]


# --- JSON patterns ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ('{ $.eventType = "UpdateTrail" }', [1]),
        ("{ $.eventType = UpdateTrail }", [1]),  # bare value
        ('{ $.eventType = "updatetrail" }', []),  # case sensitive
        ('{ $.eventType = "Update" }', []),  # exact, not substring
        ('{ $.eventType = "Update*" }', [1]),  # trailing wildcard
        ('{ $.eventType = "*Trail" }', [1, 3]),  # leading wildcard
        ('{ $.eventType = "*date*" }', [1]),
        ('{ $.eventType = "Upd*Trail" }', []),  # a middle * is literal
        ("{ $.eventType = * }", [1, 3]),
        ("{ $.sourceIPAddress != 123.123.* }", []),
        ("{ $.sourceIPAddress = 123.123.* }", [1]),
        ("{ $.arrayKey[0] = value }", [1]),
        ('{ $.arrayKey[1] = "another value" }', [1]),
        ("{ $.objectList[1].id = 2 }", [1]),
        ("{ $.objectList[1].id = 1 }", []),
        ("{ $.coordinates[1][0] = 2 }", [1]),
        ("{ $.SomeObject IS NULL }", [1]),
        ("{ $.SomeObject NOT EXISTS }", [3]),  # present with null: exists
        ("{ $.missing NOT EXISTS }", [1, 3]),  # a JSON object without the key
        ("{ $.missing IS NULL }", []),
        ("{ $.ThisFlag IS TRUE }", [1]),
        ("{ $.ThisFlag IS FALSE }", []),
        ("{ $.bandwidth > 75 }", []),
        ("{ $.bandwidth >= 75 }", [1]),
        ("{ $.latency < 50.5 }", [1]),
        ("{ $.timeout = 4e3 }", [1]),  # numbers compare as numbers
        ("{ $.timeout = 4000.0 }", [1]),
        ("{ $.timeout > 1e+3 }", [1]),
        ("{ $.numbers = 5 }", []),  # a JSON string is not the number 5
        ('{ $.numbers = "5" }', [1]),
        ("{ $.latency = * }", [1]),  # * matches numbers too
        ("{ $.user != 1 }", []),  # an object is not a value node
        ("{ $.users != 1 }", []),  # an array is not a value node
        ("{ $.missing != 1 }", []),  # missing field: no match
        ("{ $.bandwidth != 10 }", [1]),
        ('{ $.user.name = "John Doe" }', [1]),  # quoted value with a space
        ("{ $.['cluster.name'] = prod }", [1]),
        ('{ ($.user.id = 1) && ($.users[0].email = "John.Doe@example.com") }', [1]),
        ("{ $.user.id = 2 || $.eventType = CreateTrail }", [3]),
        (
            '{ ($.user.id = 2 && $.users[0].email = "x") || $.bandwidth > 10 && $.latency <= 50 }',
            [1],
        ),
        ('{ $.eventType = "CreateTrail" && ($.x > 5 || $.y IS NULL) }', []),
        ("{ $.arrayKey[*] = %val.{2}% }", [1]),
        ('{ $.arrayKey[*] = "another*" }', [1]),
        ("{ $.objectList[*].id = 2 }", [1]),
        ("{ $.objectList[*].name = b }", [1]),
        ("{ $.user.* = %^John\\.Doe% }", [1]),
        ("{ $.eventType = %^Up% }", [1]),
        ("{ $.eventType = %Trail$% }", [1, 3]),
    ],
)
def test_json_patterns(pattern: str, expected: list[int]) -> None:
    assert matching(pattern, EVENTS) == expected


def test_non_json_events_never_match_a_json_pattern() -> None:
    messages = ["eventType = UpdateTrail", '{"eventType": "UpdateTrail"', "[]", '"UpdateTrail"']
    assert matching('{ $.eventType = "UpdateTrail" }', messages) == []
    assert matching("{ $.eventType NOT EXISTS }", messages) == []


# --- space-delimited patterns -------------------------------------------------------------------


def test_space_delimited_documented_extraction() -> None:
    result = test_metric_filter("[..., status_code=200, size]", APACHE)
    assert [m["eventNumber"] for m in result["matches"]] == [1, 3]
    assert result["matches"][0]["extractedValues"] == {
        "$1": "127.0.0.1",
        "$2": "-",
        "$3": "frank",
        "$4": "10/Oct/2000:13:25:15 -0700",
        "$5": "GET /apache_pb.gif HTTP/1.0",
        "$status_code": "200",
        "$size": "1534",
    }


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", [1, 2, 3]),
        ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", [4]),
        ('[ip, user, username, timestamp, request = "GET *", status_code, bytes]', [1, 2, 3, 4]),
        ("[..., request=*.html*, status_code=4*,]", [4]),  # trailing comma: unnamed last field
        ("[ip, ..., status_code = 404 || status_code = 500, bytes]", [2, 4]),
        ("[..., status_code != 200 && status_code != 404, bytes]", [2]),
        ("[ip = %^127\\.0%, ...]", [1, 2, 3, 4]),
        ("[ip=10.*, ...]", []),
        ("[..., status_code = 200, bytes < 2000]", [1]),
        ("[]", [1, 2, 3, 4]),
        ('[a, b, c, d, request = "GET /index.html HTTP/1.0", ...]', [4]),
    ],
)
def test_space_delimited_patterns(pattern: str, expected: list[int]) -> None:
    assert matching(pattern, APACHE) == expected


def test_space_delimited_field_count_and_quotes() -> None:
    messages = ["ERROR message", "ERROR WARN message", "WARN message", "ERROR"]
    assert matching("[w1=ERROR, w2]", messages) == [1, 2]  # last field takes the rest
    result = test_metric_filter("[w1=ERROR, w2]", messages)
    assert result["matches"][1]["extractedValues"] == {"$w1": "ERROR", "$w2": "WARN message"}
    flow = [
        "2 123456789010 eni-1235b8ca 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 "
        "1418530070 REJECT OK",
        "2 123456789010 eni-1235b8ca 172.31.16.139 172.31.16.21 20641 443 6 20 4249 1418530010 "
        "1418530070 ACCEPT OK",
    ]
    pattern = (
        '[version, account, eni, source, destination, srcport, destport="22", protocol="6", '
        "packets, bytes, windowstart, windowend, action=REJECT, flowlogstatus]"
    )
    assert matching(pattern, flow) == [1]


def test_space_delimited_with_transformation() -> None:
    result = test_metric_filter(
        "[ip, user, username, timestamp, request, status_code, bytes]",
        APACHE[:2],
        {
            "metricName": "Bytes",
            "metricNamespace": "Web",
            "metricValue": "$bytes",
            "dimensions": {"code": "$status_code"},
        },
    )
    assert [(m["metricValue"], m["dimensions"]) for m in result["matches"]] == [
        (1534.0, {"code": "200"}),
        (5324.0, {"code": "500"}),
    ]


def test_json_transformation_values() -> None:
    messages = ['{"bytes": 300, "op": "get"}', '{"bytes": "n/a", "op": "put"}', '{"op": "x"}']
    result = test_metric_filter(
        "{ $.op = * }",
        messages,
        {
            "metricName": "B",
            "metricNamespace": "N",
            "metricValue": "$.bytes",
            "dimensions": {"Op": "$.op"},
        },
    )
    assert [(m["metricValue"], m["dimensions"]["Op"]) for m in result["matches"]] == [
        (300.0, "get"),
        (None, "put"),  # not a number: no value
        (None, "x"),  # absent
    ]


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "column", "fragment"),
    [
        ("{ $.a = }", 9, "Expected a value"),
        ('{ $.a = "x" ', 13, "Expected '}'"),
        ("{ $.a IS NOT NULL }", 7, "IS NOT"),
        ("{ $.a EXISTS }", 7, "comparison operator"),
        ('{ $.a > "x" }', 9, "needs a number"),
        ("{ a = 1 }", 3, "selector"),
        ("%abc(d)%", 5, "Parentheses"),
        ("%a!b%", 3, "'!'"),
        ("[a, b", 6, "missing ]"),
        ("[a, b = ]", 9, "Expected a value"),
        ("{ $.a = 1 } trailing", 13, "after the closing"),
        ("%a% %b% %c%", 9, "at most 2"),
        ('"unterminated', 1, "Unterminated"),
    ],
)
def test_invalid_patterns_point_at_the_position(pattern: str, column: int, fragment: str) -> None:
    with pytest.raises(FilterPatternError) as info:
        parse_pattern(pattern)
    assert info.value.column == column
    assert fragment in str(info.value)
    assert "^" in str(info.value)


def test_pattern_length_limit() -> None:
    with pytest.raises(FilterPatternError, match="1024"):
        parse_pattern("a" * 1025)


# --- the same pattern over table columns ----------------------------------------------------------

CIS = json.loads((Path(__file__).resolve().parents[1] / "monitor" / "cis.json").read_text())


def _cloudtrail_rows() -> tuple[list[str], pl.DataFrame]:
    records = [
        {
            "eventName": "ConsoleLogin",
            "eventSource": "signin.amazonaws.com",
            "eventType": "AwsConsoleSignIn",
            "userIdentity": {"type": "Root", "arn": "arn:aws:iam::1:root"},
            "additionalEventData": {"MFAUsed": "No"},
            "responseElements": {"ConsoleLogin": "Success"},
        },
        {
            "eventName": "ConsoleLogin",
            "eventSource": "signin.amazonaws.com",
            "eventType": "AwsConsoleSignIn",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/a"},
            "additionalEventData": {"MFAUsed": "No"},
            "responseElements": {"ConsoleLogin": "Success"},
        },
        {
            "eventName": "StopLogging",
            "eventSource": "cloudtrail.amazonaws.com",
            "eventType": "AwsApiCall",
            "userIdentity": {"type": "AssumedRole", "invokedBy": "cloudformation.amazonaws.com"},
            "requestParameters": {"name": "trail"},
            "responseElements": None,
        },
        {
            "eventName": "DescribeInstances",
            "eventSource": "ec2.amazonaws.com",
            "eventType": "AwsApiCall",
            "errorCode": "Client.UnauthorizedOperation",
            "userIdentity": {"type": "IAMUser"},
        },
        {
            "eventName": "ScheduleKeyDeletion",
            "eventSource": "kms.amazonaws.com",
            "eventType": "AwsApiCall",
            "userIdentity": {"type": "Root", "invokedBy": "signin.amazonaws.com"},
        },
        {
            "eventName": "CreateRoute",
            "eventSource": "ec2.amazonaws.com",
            "eventType": "AwsApiCall",
            "errorCode": "AccessDenied",
            "userIdentity": {"type": "IAMUser"},
        },
    ]
    messages = [json.dumps(r) for r in records]
    table = pl.DataFrame(
        {
            "eventname": [r["eventName"] for r in records],
            "eventsource": [r["eventSource"] for r in records],
            "eventtype": [r["eventType"] for r in records],
            "errorcode": [r.get("errorCode") for r in records],
            "errormessage": [None] * len(records),
            "useridentity": [
                {"type": r["userIdentity"]["type"], "invokedby": r["userIdentity"].get("invokedBy")}
                for r in records
            ],
            "additionaleventdata": [
                json.dumps(r["additionalEventData"]) if "additionalEventData" in r else None
                for r in records
            ],
            "responseelements": [
                json.dumps(r["responseElements"]) if r.get("responseElements") else None
                for r in records
            ],
            "requestparameters": [
                json.dumps(r["requestParameters"]) if r.get("requestParameters") else None
                for r in records
            ],
        }
    )
    return messages, table


def test_cis_patterns_agree_on_messages_and_columns() -> None:
    messages, table = _cloudtrail_rows()
    frame = pl.DataFrame({"message": messages})
    expected = {
        "CloudWatch.1": [0],
        "CloudWatch.2": [3, 5],
        "CloudWatch.3": [1],
        "CloudWatch.5": [2],
        "CloudWatch.7": [4],
        "CloudWatch.13": [5],
    }
    for control in CIS["controls"]:
        pattern = control["filterPattern"]
        on_text = frame.with_row_index().filter(compile_pattern(pattern, MessageSource()))
        on_cols = table.with_row_index().filter(
            compile_pattern(pattern, TableSource(dict(table.schema)))
        )
        want = expected.get(control["control"], [])
        assert on_text["index"].to_list() == want, control["control"]
        assert on_cols["index"].to_list() == want, control["control"]


def test_table_source_missing_column_and_case() -> None:
    df = pl.DataFrame({"eventname": ["A", "B"], "readonly": ["true", "false"]})
    src = TableSource(dict(df.schema))
    assert df.filter(compile_pattern("{ $.EVENTNAME = A }", src)).height == 1
    assert df.filter(compile_pattern("{ $.nosuchcolumn NOT EXISTS }", src)).height == 2
    assert df.filter(compile_pattern("{ $.nosuchcolumn = x }", src)).height == 0
    assert df.filter(compile_pattern("{ $.readOnly IS TRUE }", src))["eventname"].to_list() == ["A"]


@pytest.mark.parametrize(
    ("pattern", "fragment"),
    [
        ("{ $.a[*][0] = 1 }", "Only property names may follow a wildcard"),
        ("{ $.a.*.b = 1 }", "must end the selector"),
        ("{ $.a[*] != 1 }", "!= cannot be used with a wildcard"),
        ("{ $.a[*] NOT EXISTS }", "NOT EXISTS cannot be used with a wildcard"),
        ("{ $.a[*] = 1 && $.b[*] = 1 && $.c[*] = 1 && $.d[*] = 1 }", "At most 3 wildcard"),
        ("[a, ..., b, ..., c]", "Only one ..."),
    ],
)
def test_unsupported_selector_shapes_are_reported_at_parse_time(pattern: str, fragment: str):
    with pytest.raises(FilterPatternError, match=fragment.replace(".", r"\.").replace("*", r"\*")):
        parse_pattern(pattern)


def test_term_pattern_needs_a_message_column() -> None:
    table = pl.DataFrame({"eventname": ["a"]})
    with pytest.raises(FilterPatternError, match="message column"):
        compile_pattern("ERROR", TableSource(dict(table.schema)))


# --- selectors at any depth ------------------------------------------------------------------------


def _nest(keys: str, leaf: object) -> object:
    """{"k1": {"k2": ... leaf}} for keys 'k1.k2...' (``[n]`` puts the rest in a list at n)."""
    value = leaf
    for key in reversed(keys.split(".")):
        name, _, index = key.partition("[")
        if index:
            value = [{"pad": 0}] * int(index.rstrip("]")) + [value]
        value = {name: value}
    return value


DEEP = [
    json.dumps({**_nest("a.b.c", "x"), "d": 1}),  # 1: the shape of the report
    json.dumps(_nest("a.b.c.d.e", 5)),  # 2: depth 5, a number
    json.dumps(_nest("a.b.c.d.e.f.g.h", True)),  # 3: depth 8, a boolean
    json.dumps(_nest("a[0].b.c", "x")),  # 4: an array on the way
    json.dumps(_nest("a.b[1].c.d.e", "5")),  # 5: an array deeper down, a string that spells 5
    json.dumps({"a": {"b": [{"c": "x"}]}}),  # 6: an array where the selector names a key
    json.dumps(_nest("a.b.c.d.e", None)),  # 7: JSON null at depth 5
    json.dumps(_nest("a.b.c.d.e.f.g.h", "prod-eu-1")),  # 8: depth 8, a string
    json.dumps({"a": {"b": {"c": {"d": {"e": [1, 7, 9]}}}}}),  # 9: a list at depth 5
]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        # depth 3
        ('{ $.a.b.c = "x" }', [1]),
        ("{ $.a.b.c = x }", [1]),
        ("{ $.a.b.c != x }", []),
        ("{ $.a.b.c = * }", [1]),
        ("{ $.a.b.c NOT EXISTS }", [4, 5, 6]),  # an object deeper down exists
        ('{ $.a.b.c = "y" || $.d = 1 }', [1]),
        # depth 5
        ("{ $.a.b.c.d.e = 5 }", [2]),
        ("{ $.a.b.c.d.e > 4.5 }", [2]),
        ("{ $.a.b.c.d.e != 6 }", [2]),
        ('{ $.a.b.c.d.e = "5" }', []),  # the number 5 is not the string "5"
        ("{ $.a.b.c.d.e IS NULL }", [7]),
        ("{ $.a.b.c.d.e NOT EXISTS }", [1, 4, 5, 6]),
        ("{ $.a.b.c.d.e = * }", [2]),
        ("{ $.a.b.c.d.e[*] = 7 }", [9]),
        ("{ $.a.b.c.d.e[2] = 9 }", [9]),
        ("{ $.a.b.c.d.e = %^[0-9]$% }", [2]),
        # depth 8
        ("{ $.a.b.c.d.e.f.g.h IS TRUE }", [3]),
        ("{ $.a.b.c.d.e.f.g.h IS FALSE }", []),
        ('{ $.a.b.c.d.e.f.g.h = "prod-*" }', [8]),
        ("{ $.a.b.c.d.e.f.g.h = %eu-[0-9]$% }", [8]),
        ("{ $.a.b.c.d.e.f.g.h != prod-eu-1 }", [3]),
        ("{ $.a.b.c.d.e.f.g.h EXISTS }", None),
        # arrays inside
        ("{ $.a[0].b.c = x }", [4]),
        ('{ $.a[0].b.c = "x" && $.a[0].b.c != y }', [4]),
        ("{ $.a[1].b.c = x }", []),
        ('{ $.a.b[1].c.d.e = "5" }', [5]),
        ("{ $.a.b[1].c.d.e = 5 }", []),
        ("{ $.a.b[0].c = x }", [6]),
        ("{ $.a.b.c = x }", [1]),  # the array of event 6 is not looked into without [n]
        ("{ $.a[*].b.c = x }", [4]),  # [*] visits the elements of an array
    ],
)
def test_json_selectors_at_any_depth(pattern: str, expected: list[int] | None) -> None:
    if expected is None:
        with pytest.raises(FilterPatternError):
            parse_pattern(pattern)
        return
    assert matching(pattern, DEEP) == expected


def test_deep_selectors_on_table_columns() -> None:
    """The same paths through struct and list columns, and into a JSON text column."""
    records = [json.loads(m) for m in DEEP]
    table = pl.DataFrame(
        {
            "id": list(range(1, 4)),
            # structs all the way down: $.deep.b...h is depth 8
            "deep": [_nest("b.c.d.e.f.g.h", v) for v in ("prod-eu-1", "dev", None)],
            "items": [[{"b": {"c": "y"}}, {"b": {"c": "x"}}], [{"b": {"c": "y"}}], []],
            "num": [{"b": {"c": {"d": {"e": n}}}} for n in (5, 6, None)],
        }
    )
    texts = pl.DataFrame({"id": list(range(1, 10)), "text": [json.dumps(r["a"]) for r in records]})
    for frame, pattern, expected in (
        (table, '{ $.deep.b.c.d.e.f.g.h = "prod-*" }', [1]),
        (table, "{ $.deep.b.c.d.e.f.g.h != dev }", [1]),
        (table, "{ $.deep.b.c.d.e.f.g.h NOT EXISTS }", [3]),
        (table, "{ $.num.b.c.d.e >= 5.5 }", [2]),
        (table, "{ $.items[1].b.c = x }", [1]),
        (table, "{ $.items[*].b.c = y }", [1, 2]),
        (table, "{ $.items[*].b.c.d = y }", []),
        (texts, '{ $.text.b.c = "x" }', [1]),
        (texts, "{ $.text.b.c.d.e = 5 }", [2]),
        (texts, "{ $.text.b.c.d.e.f.g.h IS TRUE }", [3]),
        (texts, '{ $.text[0].b.c = "x" }', [4]),
        (texts, '{ $.text.b[1].c.d.e = "5" }', [5]),
        (texts, "{ $.text.b.c = x }", [1]),
        (texts, "{ $.text.b.c.d.e IS NULL }", [7]),
        (texts, '{ $.text.b.c.d.e.f.g.h = "prod-*" }', [8]),
        (texts, "{ $.text.b.c.d.e[*] = 7 }", [9]),
        (texts, "{ $.text.b.c.d.e NOT EXISTS }", [1, 4, 5, 6]),
    ):
        hits = frame.filter(compile_pattern(pattern, TableSource(dict(frame.schema))))
        assert hits["id"].to_list() == expected, pattern


def test_deep_selectors_as_metric_value_and_dimension() -> None:
    messages = [
        json.dumps({"req": {"http": {"size": {"bytes": 512}}, "route": {"op": {"name": "get"}}}}),
        json.dumps({"req": {"http": {"size": {"bytes": "n/a"}}, "route": {"op": {"name": "put"}}}}),
    ]
    result = test_metric_filter(
        "{ $.req.route.op.name = * }",
        messages,
        {
            "metricName": "B",
            "metricNamespace": "N",
            "metricValue": "$.req.http.size.bytes",
            "dimensions": {"Op": "$.req.route.op.name"},
        },
    )
    assert [(m["metricValue"], m["dimensions"]["Op"]) for m in result["matches"]] == [
        (512.0, "get"),
        (None, "put"),
    ]
