"""IP prefixes and addresses as VPC Flow Log queries use them (Trino's IPADDRESS semantics)."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest
from test_functions_support import assert_typed, column, run

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
    ("CAST('1::2::3' AS IPADDRESS)", None, "ipaddress"),
    ("CAST('256.1.1.1' AS IPADDRESS)", None, "ipaddress"),
    ("CAST('10.0.0.1' AS IPADDRESS) = CAST('::ffff:10.0.0.1' AS IPADDRESS)", True, "boolean"),
    ("CAST('2001:db8::1' AS IPADDRESS) = IPADDRESS '2001:DB8:0::1'", True, "boolean"),
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
