"""Every function of Trino's library in scope (tests/data/trino-functions.md) works or is listed
under "Not supported" in docs/functions.md with its reason.

"Works" means an example of the Trino examples table (tests/trino_examples.py, each checked for
Trino's value and type) calls it, or the checks below run it: aggregates over a table, window
functions over a window, and SQL syntax (CASE, CAST, FILTER, frames...).
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
from test_functions_support import run
from trino_examples import EXAMPLES

REPO = Path(__file__).resolve().parents[1]
LIST = REPO / "tests" / "data" / "trino-functions.md"
DOCS = REPO / "docs" / "functions.md"

#: prose items of the list that name syntax rather than one function, with a query that uses it
SYNTAX: dict[str, str] = {
    "FILTER and ORDER BY inside aggregates": (
        "SELECT count(*) FILTER (WHERE id > 1), array_agg(id ORDER BY id DESC) FROM t"
    ),
    "every aggregate over a window": "SELECT sum(n) OVER (PARTITION BY g), max(x) OVER () FROM t",
    "ROWS": "SELECT sum(n) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t",
    "RANGE and GROUPS frames": (
        "SELECT sum(n) OVER (ORDER BY id RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) FROM t"
    ),
    "the VARBINARY type and its literal X'..'": "SELECT X'0aff', CAST('a' AS VARBINARY)",
    "IPADDRESS / IPPREFIX casts and contains": (
        "SELECT contains('10.0.0.0/8', CAST('10.1.2.3' AS IPADDRESS)), IPPREFIX '10.0.0.0/8'"
    ),
    "CASE": "SELECT CASE WHEN n > 0 THEN 'p' ELSE 'n' END FROM t",
}

#: window functions, run over a window
WINDOWS: dict[str, str] = {
    name: f"SELECT {call} OVER (PARTITION BY g ORDER BY id) FROM t"
    for name, call in {
        "cume_dist": "cume_dist()",
        "dense_rank": "dense_rank()",
        "first_value": "first_value(s)",
        "lag": "lag(s)",
        "last_value": "last_value(s)",
        "lead": "lead(s, 1, 'none')",
        "nth_value": "nth_value(s, 2)",
        "ntile": "ntile(2)",
        "percent_rank": "percent_rank()",
        "rank": "rank()",
        "row_number": "row_number()",
    }.items()
}

#: SQL forms that are not calls but appear in the list as names
FORMS: dict[str, str] = {
    "cast": "SELECT CAST(n AS VARCHAR) FROM t",
    "try_cast": "SELECT try_cast(s AS BIGINT) FROM t",
    "extract": "SELECT extract(YEAR FROM DATE '2024-01-01')",
    "current_date": "SELECT current_date",
    "current_time": "SELECT current_time",
    "current_timestamp": "SELECT current_timestamp",
    "localtime": "SELECT localtime",
    "localtimestamp": "SELECT localtimestamp",
}


def listed() -> tuple[set[str], set[str]]:
    """(function names, syntax items) of the repository's copy of the list."""
    text = LIST.read_text().split("Mathematical:", 1)[1]
    names, syntax = set(), set()
    for paragraph in re.split(r"\n\s*\n", "Mathematical:" + text):
        body = " ".join(paragraph.split(":", 1)[1].split())
        while re.search(r"\([^()]*\)", body):
            body = re.sub(r"\s*\([^()]*\)", "", body)
        for item in re.split(r"[,;]\s*", body.rstrip(".")):
            item = item.strip().rstrip(".")
            item = item.split(": ", 1)[-1]  # a sub-heading inside a paragraph ("statistical: ...")
            words = item.split(" ")
            if re.fullmatch(r"[a-z_][a-z0-9_]*", item):
                names.add(item)
            elif words[:3] == ["the", "SQL/JSON", "functions"] or words[0] == "Teradata-style":
                names.add(words[-1])
            elif item:
                syntax.add(item)
    return names, syntax


def unsupported() -> set[str]:
    """Names listed in docs/functions.md under '## Not supported', each with a reason."""
    section = DOCS.read_text().split("## Not supported", 1)
    if len(section) == 1:
        return set()
    body = section[1].split("\n## ", 1)[0]
    found = set()
    for line in body.splitlines():
        match = re.match(r"[-|]\s*`([a-z_0-9]+)`[^a-z]*(.+)", line.strip())
        if match and len(match.group(2).strip()) > 10:
            found.add(match.group(1))
    return found


def called_in_examples() -> set[str]:
    names = set()
    for _, expression, _, _ in EXAMPLES:
        names |= {m.lower() for m in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", expression)}
    return names


def test_the_list_is_read() -> None:
    names, syntax = listed()
    assert {"abs", "json_query", "to_char", "bitwise_right_shift_arithmetic", "row_number"} <= names
    assert syntax <= set(SYNTAX), syntax - set(SYNTAX)
    assert len(names) > 300


def test_every_listed_function_works_or_is_documented_as_unsupported() -> None:
    names, _ = listed()
    skipped = unsupported()
    exercised = called_in_examples() | set(WINDOWS) | set(FORMS) | AGGREGATE_CHECKED
    missing = sorted(n for n in names if n not in skipped and n not in exercised)
    assert not missing, f"neither working nor listed as not supported: {missing}"


TABLE = pl.DataFrame(
    {
        "id": [1, 2, 3, 4],
        "g": ["a", "a", "b", "b"],
        "s": ["x", "y", None, "z"],
        "n": [3, -1, 7, 2],
        "x": [1.5, 2.0, None, 4.0],
    }
)


@pytest.mark.parametrize("sql", [*SYNTAX.values(), *WINDOWS.values(), *FORMS.values()])
def test_syntax_and_window_functions_run(sql: str) -> None:
    frame = run(sql, {"t": TABLE})
    assert frame.height >= 1


#: aggregates run by test_aggregates_over_a_table (called with a table, not in the examples)
AGGREGATES: dict[str, str] = {
    "any_value": "any_value(s)",
    "approx_distinct": "approx_distinct(s)",
    "approx_most_frequent": "approx_most_frequent(2, g, 10)",
    "approx_percentile": "approx_percentile(n, 0.5)",
    "arbitrary": "arbitrary(s)",
    "array_agg": "array_agg(n)",
    "avg": "avg(n)",
    "bitwise_and_agg": "bitwise_and_agg(n)",
    "bitwise_or_agg": "bitwise_or_agg(n)",
    "bool_and": "bool_and(n > 0)",
    "bool_or": "bool_or(n > 0)",
    "checksum": "checksum(n)",
    "corr": "corr(n, x)",
    "count": "count(*)",
    "count_if": "count_if(n > 0)",
    "covar_pop": "covar_pop(n, x)",
    "covar_samp": "covar_samp(n, x)",
    "every": "every(n > 0)",
    "geometric_mean": "geometric_mean(x)",
    "histogram": "histogram(g)",
    "kurtosis": "kurtosis(n)",
    "listagg": "listagg(g, ',') WITHIN GROUP (ORDER BY g)",
    "map_agg": "map_agg(id, s)",
    "map_union": "map_union(map(ARRAY[g], ARRAY[n]))",
    "max": "max(n, 2)",
    "max_by": "max_by(s, n, 2)",
    "min": "min(n, 2)",
    "min_by": "min_by(s, n)",
    "multimap_agg": "multimap_agg(g, n)",
    "numeric_histogram": "numeric_histogram(2, x)",
    "reduce_agg": "reduce_agg(n, 0, (a, b) -> a + b, (a, b) -> a + b)",
    "regr_intercept": "regr_intercept(n, x)",
    "regr_slope": "regr_slope(n, x)",
    "skewness": "skewness(n)",
    "stddev": "stddev(n)",
    "stddev_pop": "stddev_pop(n)",
    "stddev_samp": "stddev_samp(n)",
    "sum": "sum(n)",
    "var_pop": "var_pop(n)",
    "var_samp": "var_samp(n)",
    "variance": "variance(n)",
}
AGGREGATE_CHECKED = set(AGGREGATES)


@pytest.mark.parametrize("name", sorted(AGGREGATES))
def test_aggregates_over_a_table(name: str) -> None:
    frame = run(f"SELECT g, {AGGREGATES[name]} FROM t GROUP BY g ORDER BY g", {"t": TABLE})
    assert frame.height == 2
    assert frame.to_series(1).null_count() < 2 or name in ("kurtosis", "skewness")


WINDOW_TABLE = pl.DataFrame(
    {
        "id": [1, 2, 3, 4, 5, 6],
        "g": ["a", "a", "a", "b", "b", "b"],
        "n": [3, -1, 7, 2, None, 5],
        "k": [1, 2, 4, 1, 1, 3],
    }
)


@pytest.mark.parametrize(
    ("window", "expected"),
    [
        (
            "sum(n) OVER (PARTITION BY g ORDER BY k RANGE BETWEEN 1 PRECEDING AND CURRENT ROW)",
            [3, 2, 7, 2, 2, 5],
        ),
        (
            "sum(n) OVER (PARTITION BY g ORDER BY k DESC RANGE BETWEEN 1 PRECEDING AND CURRENT ROW)",
            [2, -1, 7, 2, 2, 5],
        ),
        (
            "max(n) OVER (PARTITION BY g ORDER BY k RANGE BETWEEN 1 PRECEDING AND 1 FOLLOWING)",
            [3, 3, 7, 2, 2, 5],
        ),
        (
            "count(n) OVER (PARTITION BY g ORDER BY k GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW)",
            [1, 2, 2, 1, 1, 2],
        ),
        (
            "min(n) OVER (PARTITION BY g ORDER BY k GROUPS BETWEEN CURRENT ROW AND 1 FOLLOWING)",
            [-1, -1, 7, 2, 2, 5],
        ),
        (
            "avg(n) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 FOLLOWING)",
            [1.0, 3.0, 3.0, 2.0, 3.5, 3.5],
        ),
    ],
)
def test_range_groups_and_half_bounded_rows_frames(window: str, expected: list) -> None:
    """Frames worked out by hand from the SQL standard's definitions (peers share RANGE and
    GROUPS frames; NULLs are skipped by the aggregate, not by the frame)."""
    assert (
        run(f"SELECT {window} FROM t ORDER BY id", {"t": WINDOW_TABLE}).to_series(0).to_list()
        == expected
    )
