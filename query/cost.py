"""What Athena would have charged for a statement, the number its users compare.

Athena bills USD 5 per TB of data scanned, rounded up to the next whole megabyte, with 10 MB
minimum per query; DDL and failed statements are free. Statements that run a query plan (SELECT,
CTAS, INSERT INTO, UNLOAD) are charged; catalog statements (CREATE TABLE, SHOW, DESCRIBE, MSCK,
...) are not.
"""

from __future__ import annotations

USD_PER_TB = 5.0
MEGABYTE = 1024**2
TERABYTE = 1024**4
MINIMUM_MEGABYTES = 10

#: statements Athena bills by data scanned (``QueryStats.statement`` values)
CHARGED_STATEMENTS = frozenset({"SELECT", "CREATE TABLE AS", "INSERT", "UNLOAD"})


def athena_cost_usd(bytes_scanned: int, statement: str = "SELECT") -> float:
    """USD Athena would bill for a statement that scanned ``bytes_scanned`` bytes."""
    if statement not in CHARGED_STATEMENTS:
        return 0.0
    megabytes = max(MINIMUM_MEGABYTES, -(-max(0, bytes_scanned) // MEGABYTE))
    return megabytes * MEGABYTE / TERABYTE * USD_PER_TB


def format_usd(amount: float) -> str:
    """Cents for amounts a person notices, six decimals for the small ones Athena bills."""
    if amount == 0:
        return "USD 0"
    if amount >= 0.01:
        return f"USD {amount:,.2f}"
    return f"USD {amount:.6f}"
