"""IP prefixes and addresses as VPC Flow Log queries use them (Trino's IPADDRESS semantics)."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from test_functions_support import assert_typed, column, run

from loglake.errors import SqlError

LITERAL_CASES: list[tuple[str, Any, str]] = [
    ("contains('10.0.0.0/8', IPADDRESS '10.255.255.255')", True, "boolean"),
    ("contains('10.0.0.0/8', IPADDRESS '11.255.255.255')", False, "boolean"),
    ("contains('10.0.0.0/8', '10.1.2.3')", True, "boolean"),
    ("contains('192.168.1.0/31', '192.168.1.1')", True, "boolean"),
    ("contains('192.168.1.0/31', '192.168.1.2')", False, "boolean"),
    ("contains('0.0.0.0/0', '203.0.113.9')", True, "boolean"),
    ("contains('0.0.0.0/0', '2001:db8::1')", False, "boolean"),
    ("contains('10.0.0.0/8', '::ffff:10.0.0.1')", True, "boolean"),
    (
        "contains('2001:0db8:0:0:0:ff00:0042:8329/128', "
        "IPADDRESS '2001:0db8:0:0:0:ff00:0042:8329')",
        True,
        "boolean",
    ),
    (
        "contains('2001:0db8:0:0:0:ff00:0042:8329/128', "
        "IPADDRESS '2001:0db8:0:0:0:ff00:0042:8328')",
        False,
        "boolean",
    ),
    ("contains('2001:db8::/32', '2001:DB8:ffff::1')", True, "boolean"),
    ("contains('2001:db8::/33', '2001:db8:8000::1')", False, "boolean"),
    ("contains('::/0', '10.0.0.1')", True, "boolean"),
    ("contains('10.0.0.0/8', NULL)", None, "boolean"),
    ("contains('10.0.0.0/8', 'not an ip')", None, "boolean"),
    ("is_subnet_of(IPPREFIX '192.168.3.131/26', IPADDRESS '192.168.3.144')", True, "boolean"),
    ("is_subnet_of(IPPREFIX '64:ff9b::17/64', IPADDRESS '64:ffff::17')", False, "boolean"),
    ("is_subnet_of(IPPREFIX '192.168.3.131/26', IPPREFIX '192.168.3.144/30')", True, "boolean"),
    ("is_subnet_of(IPPREFIX '64:ff9b::17/64', IPPREFIX '64:ffff::17/64')", False, "boolean"),
    ("is_subnet_of(IPPREFIX '192.168.3.131/26', IPPREFIX '192.168.3.131/26')", True, "boolean"),
    ("is_subnet_of(IPPREFIX '10.0.0.0/16', IPPREFIX '10.0.0.0/8')", False, "boolean"),
    ("CAST('10.000.1.2' AS IPADDRESS)", "10.0.1.2", "ipaddress"),
    ("CAST('2001:0DB8:0000:0000:0000:0000:0002:0001' AS IPADDRESS)", "2001:db8::2:1", "ipaddress"),
    ("CAST('2001:db8:0:0:1:0:0:1' AS IPADDRESS)", "2001:db8::1:0:0:1", "ipaddress"),
    ("CAST('0:0:0:0:0:0:0:1' AS IPADDRESS)", "::1", "ipaddress"),
    ("CAST('::ffff:192.168.1.1' AS IPADDRESS)", "192.168.1.1", "ipaddress"),
    ("CAST('::ffff:c0a8:101' AS IPADDRESS)", "192.168.1.1", "ipaddress"),
    ("TRY_CAST('1::2::3' AS IPADDRESS)", None, "ipaddress"),
    ("TRY_CAST('256.1.1.1' AS IPADDRESS)", None, "ipaddress"),
    ("TRY(CAST('10.0.0' AS IPADDRESS))", None, "ipaddress"),
    ("CAST('10.0.0.1' AS IPADDRESS) = CAST('::ffff:10.0.0.1' AS IPADDRESS)", True, "boolean"),
    ("CAST('2001:db8::1' AS IPADDRESS) = IPADDRESS '2001:DB8:0::1'", True, "boolean"),
    # addresses compare as numbers in the IPv6 space, IPv4 at ::ffff:0:0/96 (Trino's order)
    ("IPADDRESS '10.9.0.10' < IPADDRESS '10.255.255.255'", True, "boolean"),
    ("IPADDRESS '9.0.0.1' < IPADDRESS '10.0.0.0'", True, "boolean"),
    ("IPADDRESS '10.0.0.2' > IPADDRESS '10.0.0.10'", False, "boolean"),
    ("IPADDRESS '::1' < IPADDRESS '0.0.0.1'", True, "boolean"),
    ("IPADDRESS '255.255.255.255' < IPADDRESS '::1:0:0:0'", True, "boolean"),
    ("IPADDRESS '2001:db8::ff' < IPADDRESS '2001:db8::1:0'", True, "boolean"),
    (
        "IPADDRESS '172.20.1.1' BETWEEN IPADDRESS '172.16.0.0' AND IPADDRESS '172.31.255.255'",
        True,
        "boolean",
    ),
    (
        "IPADDRESS '172.4.1.1' BETWEEN IPADDRESS '172.16.0.0' AND IPADDRESS '172.31.255.255'",
        False,
        "boolean",
    ),
    (
        "greatest(IPADDRESS '9.1.1.1', IPADDRESS '10.1.1.1', IPADDRESS '1.1.1.1')",
        "10.1.1.1",
        "ipaddress",
    ),
    ("CAST(IPADDRESS '::ffff:a00:1' AS VARCHAR)", "10.0.0.1", "varchar"),
    ("CAST(IPADDRESS '2001:DB8::0:1' AS VARCHAR) || '/64'", "2001:db8::1/64", "varchar"),
    ("is_subnet_of(IPPREFIX '10.0.0.0/8', '10.3.0.0/16')", True, "boolean"),
    ("is_subnet_of('10.0.0.0/8', '11.3.0.0/16')", False, "boolean"),
    ("is_subnet_of('10.0.0.0/8', '10.3.4.5')", True, "boolean"),
]


@pytest.mark.parametrize(("expression", "expected", "sql_type"), LITERAL_CASES)
def test_trino_documented_result(expression: str, expected: Any, sql_type: str) -> None:
    assert_typed(expression, expected, sql_type)


FLOWS = pl.DataFrame(
    {
        "id": [1, 2, 3, 4, 5, 6],
        "srcaddr": ["10.0.1.5", "172.31.4.9", "10.200.0.1", "2600:1f18::10", "198.51.100.7", None],
        "dstaddr": ["52.94.1.1", "10.0.1.5", "10.0.1.5", "2600:1f18::20", "10.0.1.5", "10.0.1.5"],
        "action": ["ACCEPT", "ACCEPT", "REJECT", "ACCEPT", "REJECT", "ACCEPT"],
    }
)


def test_flow_logs_by_prefix() -> None:
    tables = {"vpc_flow_logs": FLOWS}
    assert column(
        "SELECT contains('10.0.0.0/8', srcaddr) FROM vpc_flow_logs ORDER BY id", tables
    ) == [True, False, True, False, False, None]
    frame = run(
        "SELECT action, count(*) AS n FROM vpc_flow_logs "
        "WHERE NOT contains('10.0.0.0/8', srcaddr) AND contains('10.0.0.0/8', dstaddr) "
        "GROUP BY action ORDER BY action",
        tables,
    )
    assert frame.rows() == [("ACCEPT", 1), ("REJECT", 1)]
    assert column(
        "SELECT count(*) FROM vpc_flow_logs WHERE contains('2600:1f18::/32', srcaddr)", tables
    ) == [1]
    assert column(
        "SELECT id FROM vpc_flow_logs "
        "WHERE CAST(dstaddr AS IPADDRESS) = CAST('10.0.1.5' AS IPADDRESS) ORDER BY id",
        tables,
    ) == [2, 3, 5, 6]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("10.0.0.0/8", [True, True, False, None, None, None]),
        ("10.1.0.0/16", [False, True, False, None, None, None]),
        ("0.0.0.0/0", [True, True, True, None, None, None]),
        ("::ffff:0:0/96", [True, True, True, None, None, None]),  # where IPv4 lives
        ("::/0", [True, True, True, None, None, None]),
        ("2600::/16", [False, False, False, None, None, None]),
    ],
)
def test_constant_prefix_over_dotted_text_alone_and_mixed_with_ipv6(
    prefix: str, expected: list[bool | None]
) -> None:
    """A table of dotted text only takes the 32-bit test; the same rows with IPv6 text among
    them take the 128-bit one. Both give the same answers (NULL for text that is no address)."""
    dotted = ["10.0.0.1", " 10.1.2.3 ", "192.168.0.1", "10.1.2.300", "10.1", None]
    mixed = [*dotted, "::ffff:10.1.0.9", "2600:1f18::1"]
    sql = "SELECT contains('{p}', a) FROM t ORDER BY i"
    for values in (dotted, mixed):
        table = pl.DataFrame({"i": range(len(values)), "a": values})
        answers = column(sql.format(p=prefix), {"t": table})
        assert answers[: len(dotted)] == expected, (prefix, values)
    v4_inside = prefix in ("10.0.0.0/8", "10.1.0.0/16", "0.0.0.0/0", "::ffff:0:0/96", "::/0")
    assert answers[len(dotted) :] == [v4_inside, prefix in ("::/0", "2600::/16")]


SOURCES = pl.DataFrame(
    {
        "id": list(range(1, 13)),
        "sourceipaddress": [
            "10.9.0.10",
            "9.0.0.1",
            "172.15.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "172.32.0.0",
            "192.168.4.4",
            "11.0.0.0",
            "2600:1f18::10",
            "s3.amazonaws.com",
            "AWS Internal",
            None,
        ],
    }
)


def test_public_source_addresses_are_the_public_ones() -> None:
    """The usual query for calls from outside the private ranges, with BETWEEN on IPADDRESS
    (TRY_CAST skips service names such as s3.amazonaws.com)."""
    ip = "TRY_CAST(sourceipaddress AS IPADDRESS)"
    private = " OR ".join(
        f"{ip} BETWEEN IPADDRESS '{low}' AND IPADDRESS '{high}'"
        for low, high in (
            ("10.0.0.0", "10.255.255.255"),
            ("172.16.0.0", "172.31.255.255"),
            ("192.168.0.0", "192.168.255.255"),
        )
    )
    sql = (
        f"SELECT sourceipaddress FROM cloudtrail WHERE {ip} IS NOT NULL AND NOT ({private}) "
        "ORDER BY id"
    )
    assert column(sql, {"cloudtrail": SOURCES}) == [
        "9.0.0.1",
        "172.15.255.255",
        "172.32.0.0",
        "11.0.0.0",
        "2600:1f18::10",
    ]


def test_order_by_min_max_and_group_by_use_the_address_order() -> None:
    tables = {"cloudtrail": SOURCES}
    ip = "TRY_CAST(sourceipaddress AS IPADDRESS)"
    ordered = column(
        f"SELECT {ip} AS ip FROM cloudtrail WHERE {ip} IS NOT NULL ORDER BY ip", tables
    )
    assert ordered == [
        "9.0.0.1",
        "10.9.0.10",
        "11.0.0.0",
        "172.15.255.255",
        "172.16.0.1",
        "172.31.255.255",
        "172.32.0.0",
        "192.168.4.4",
        "2600:1f18::10",
    ]
    descending = column(
        f"SELECT sourceipaddress FROM cloudtrail WHERE {ip} IS NOT NULL ORDER BY {ip} DESC LIMIT 2",
        tables,
    )
    assert descending == ["2600:1f18::10", "192.168.4.4"]
    frame = run(
        f"SELECT min({ip}) AS lo, max({ip}) AS hi, max_by(id, {ip}) AS top FROM cloudtrail",
        tables,
    )
    assert frame.rows() == [("9.0.0.1", "2600:1f18::10", 9)]
    grouped = run(
        f"SELECT {ip} AS ip, count(*) AS n FROM (SELECT sourceipaddress FROM cloudtrail "
        "UNION ALL SELECT '::ffff:9.0.0.1') GROUP BY 1 HAVING count(*) > 1 ORDER BY n",
        tables,
    )
    assert grouped.rows() == [("9.0.0.1", 2), (None, 3)]


def test_join_on_addresses_matches_every_spelling() -> None:
    seen = pl.DataFrame({"addr": ["::ffff:172.16.0.1", "2600:1F18:0::10", "10.9.000.10"]})
    rows = run(
        "SELECT c.id, s.addr FROM cloudtrail c JOIN seen s "
        "ON TRY_CAST(c.sourceipaddress AS IPADDRESS) = CAST(s.addr AS IPADDRESS) ORDER BY c.id",
        {"cloudtrail": SOURCES, "seen": seen},
    ).rows()
    assert rows == [(1, "10.9.000.10"), (4, "::ffff:172.16.0.1"), (9, "2600:1F18:0::10")]


def test_a_value_that_is_no_address_fails_the_cast_naming_it() -> None:
    with pytest.raises(SqlError) as error:
        run("SELECT CAST(sourceipaddress AS IPADDRESS) FROM cloudtrail", {"cloudtrail": SOURCES})
    # two values fail; whichever Polars converts first is named (its pieces run in parallel)
    assert error.value.bare_message in {
        "Cannot cast value to IPADDRESS: 's3.amazonaws.com'",
        "Cannot cast value to IPADDRESS: 'AWS Internal'",
    }
    assert error.value.start is not None
