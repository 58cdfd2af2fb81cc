"""Generated tables and queries (filters, joins, group-bys): loglake must agree with DuckDB."""

from __future__ import annotations

import polars as pl
from difftest import DiffTester
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

small_int = st.one_of(st.none(), st.integers(min_value=-3, max_value=3))
label = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))


@st.composite
def tables(draw: st.DrawFn) -> dict[str, pl.DataFrame]:
    n = draw(st.integers(min_value=0, max_value=12))
    m = draw(st.integers(min_value=0, max_value=8))
    t = pl.DataFrame(
        {
            "a": draw(st.lists(small_int, min_size=n, max_size=n)),
            "b": draw(st.lists(small_int, min_size=n, max_size=n)),
            "c": draw(st.lists(label, min_size=n, max_size=n)),
        },
        schema={"a": pl.Int64, "b": pl.Int64, "c": pl.String},
    )
    u = pl.DataFrame(
        {
            "a": draw(st.lists(small_int, min_size=m, max_size=m)),
            "d": draw(st.lists(small_int, min_size=m, max_size=m)),
        },
        schema={"a": pl.Int64, "d": pl.Int64},
    )
    return {"t": t, "u": u}


def predicates(columns: list[str]) -> st.SearchStrategy[str]:
    atom = st.one_of(
        st.builds(
            lambda c, op, v: f"{c} {op} {v}",
            st.sampled_from(columns),
            st.sampled_from(["=", "<>", "<", "<=", ">", ">="]),
            st.integers(min_value=-3, max_value=3),
        ),
        st.builds(lambda c: f"{c} IS NULL", st.sampled_from(columns)),
        st.builds(lambda c: f"{c} IS NOT NULL", st.sampled_from(columns)),
        st.builds(
            lambda c, vs: f"{c} IN ({', '.join(map(str, vs))})",
            st.sampled_from(columns),
            st.lists(st.integers(min_value=-3, max_value=3), min_size=1, max_size=3),
        ),
        st.builds(
            lambda c, lo, hi: f"{c} BETWEEN {lo} AND {hi}",
            st.sampled_from(columns),
            st.integers(-3, 3),
            st.integers(-3, 3),
        ),
    )
    return st.recursive(
        atom,
        lambda inner: st.one_of(
            st.builds(lambda x, y: f"({x} AND {y})", inner, inner),
            st.builds(lambda x, y: f"({x} OR {y})", inner, inner),
            st.builds(lambda x: f"NOT ({x})", inner),
        ),
        max_leaves=4,
    )


@st.composite
def queries(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["filter", "join", "group", "join_group"]))
    if kind == "filter":
        where = draw(predicates(["a", "b"]))
        return f"SELECT a, b, c FROM t WHERE {where}"
    if kind == "join":
        how = draw(st.sampled_from(["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"]))
        where = draw(
            st.one_of(st.just(""), predicates(["t.b", "u.d"]).map(lambda p: f" WHERE {p}"))
        )
        return f"SELECT t.a, t.b, u.d FROM t {how} u ON t.a = u.a{where}"
    if kind == "group":
        agg = draw(
            st.sampled_from(
                [
                    "count(*)",
                    "count(b)",
                    "sum(b)",
                    "min(b)",
                    "max(a)",
                    "avg(b)",
                    "count(DISTINCT b)",
                ]
            )
        )
        key = draw(st.sampled_from(["c", "a", "c, a"]))
        having = draw(st.sampled_from(["", " HAVING count(*) > 1"]))
        return f"SELECT {key}, {agg} FROM t GROUP BY {key}{having}"
    agg = draw(st.sampled_from(["count(*)", "sum(u.d)", "max(u.d)", "count(u.d)"]))
    how = draw(st.sampled_from(["JOIN", "LEFT JOIN"]))
    return f"SELECT t.c, {agg} FROM t {how} u ON t.a = u.a GROUP BY t.c"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=tables(), sql=queries())
def test_generated_queries_match_duckdb(data: dict[str, pl.DataFrame], sql: str) -> None:
    DiffTester(data).check(sql, ordered=False)
