"""Differential suite: each query runs on loglake and on DuckDB over the same NULL-heavy tables."""

from __future__ import annotations

import datetime as dt
import decimal
import random

import polars as pl
import pytest
from difftest import DiffTester


def _tables() -> dict[str, pl.DataFrame]:
    rng = random.Random(7)

    def maybe(value: object, p: float = 0.2) -> object:
        return None if rng.random() < p else value

    n = 60
    t = pl.DataFrame(
        {
            "id": list(range(1, n + 1)),
            "g": [maybe(rng.choice(["a", "b", "c", "d"])) for _ in range(n)],
            "h": [rng.choice(["x", "y"]) for _ in range(n)],
            "x": [maybe(rng.randint(-20, 20)) for _ in range(n)],
            "y": [maybe(round(rng.uniform(-100, 100), 3)) for _ in range(n)],
            "d": [
                maybe(dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 90))) for _ in range(n)
            ],
            "s": [
                maybe(rng.choice(["alpha", "beta", "gamma", "delta", "a_b", "50%"]))
                for _ in range(n)
            ],
            "amt": [maybe(decimal.Decimal(rng.randint(-10000, 10000)) / 100) for _ in range(n)],
            "flag": [maybe(rng.random() < 0.5) for _ in range(n)],
        },
        schema_overrides={"x": pl.Int32, "amt": pl.Decimal(10, 2)},
    )
    m = 25
    u = pl.DataFrame(
        {
            "uid": list(range(1, m + 1)),
            "tid": [maybe(rng.randint(1, 80), 0.15) for _ in range(m)],
            "g": [maybe(rng.choice(["a", "b", "c", "e"])) for _ in range(m)],
            "z": [maybe(rng.randint(0, 5)) for _ in range(m)],
        }
    )
    e = t.clear()
    k = 12
    nested = pl.DataFrame(
        {
            "id": list(range(1, k + 1)),
            "tags": [
                maybe([rng.choice(["p", "q", "r"]) for _ in range(rng.randint(0, 3))], 0.15)
                for _ in range(k)
            ],
            "nums": [[rng.randint(0, 9) for _ in range(rng.randint(1, 4))] for _ in range(k)],
            "ui": [
                {
                    "arn": f"arn:aws:iam::1:user/u{i % 4}",
                    "type": rng.choice(["IAMUser", "Root"]),
                    "ctx": {"mfa": i % 2 == 0},
                }
                for i in range(k)
            ],
            "recs": [
                [
                    {"k": rng.choice(["s3", "ec2"]), "v": rng.randint(1, 9)}
                    for _ in range(rng.randint(1, 3))
                ]
                for _ in range(k)
            ],
        }
    )
    return {"t": t, "u": u, "e": e, "nested": nested}


@pytest.fixture(scope="module")
def diff() -> DiffTester:
    return DiffTester(_tables())


QUERIES = [
    # projection, filters, expressions
    "SELECT id, g, x FROM t",
    "SELECT * FROM t WHERE x > 0",
    "SELECT id, x + 1 AS x1, x - 2, x * 3, -x FROM t",
    "SELECT id FROM t WHERE x IS NULL",
    "SELECT id FROM t WHERE x IS NOT NULL AND y IS NULL",
    "SELECT id FROM t WHERE NOT (x > 0)",
    "SELECT id FROM t WHERE x > 0 OR y > 0",
    "SELECT id FROM t WHERE x > 0 AND (y < 0 OR g = 'a')",
    "SELECT id FROM t WHERE g IN ('a', 'b')",
    "SELECT id FROM t WHERE g NOT IN ('a', 'b')",
    "SELECT id FROM t WHERE x IN (1, 2, 3, -5)",
    "SELECT id FROM t WHERE x BETWEEN -5 AND 5",
    "SELECT id FROM t WHERE x NOT BETWEEN -5 AND 5",
    "SELECT id FROM t WHERE s LIKE 'a%'",
    "SELECT id FROM t WHERE s LIKE '%ta'",
    "SELECT id FROM t WHERE s LIKE '%amm%'",
    "SELECT id FROM t WHERE s LIKE '_eta'",
    "SELECT id FROM t WHERE s NOT LIKE '%a%'",
    "SELECT id FROM t WHERE s LIKE 'a!_b' ESCAPE '!'",
    "SELECT id FROM t WHERE s LIKE '50!%' ESCAPE '!'",
    "SELECT id, CASE WHEN x > 0 THEN 'pos' WHEN x < 0 THEN 'neg' ELSE 'zero or null' END AS sign FROM t",
    "SELECT id, CASE g WHEN 'a' THEN 1 WHEN 'b' THEN 2 END AS code FROM t",
    "SELECT id, coalesce(x, 0) AS x0, coalesce(g, h) AS gh FROM t",
    "SELECT id, nullif(x, 0) FROM t",
    "SELECT id, if(x > 0, 'p', 'n') AS p FROM t",
    "SELECT id, g || '-' || h AS gh FROM t",
    "SELECT id, y * 2.5 AS y2, y / 4 AS y4 FROM t",
    "SELECT id, amt, amt + 1, amt * 2, amt - amt FROM t",
    "SELECT id, amt * amt AS sq FROM t",
    "SELECT id FROM t WHERE amt > 10.5",
    "SELECT id FROM t WHERE d >= DATE '2024-02-01' AND d < DATE '2024-03-01'",
    "SELECT id, extract(YEAR FROM d) AS yr, extract(MONTH FROM d) AS mo, extract(DAY FROM d) AS dy FROM t",
    "SELECT id FROM t WHERE flag",
    "SELECT id FROM t WHERE flag IS NULL OR NOT flag",
    "SELECT id, x = 1 AS eq, x <> 1 AS ne, x IS DISTINCT FROM 1 AS dist FROM t",
    "SELECT id, x IS NOT DISTINCT FROM NULL AS same FROM t",
    "SELECT id, CAST(x AS VARCHAR) AS xs, CAST(id AS DOUBLE) AS idd FROM t",
    "SELECT id, CAST(amt AS DECIMAL(12, 3)) AS a3 FROM t",
    "SELECT id, substring(s, 2, 3) AS sub FROM t",
    "SELECT DISTINCT g FROM t",
    "SELECT DISTINCT g, h FROM t",
    "SELECT 1 AS one, 'x' AS ex, NULL AS nothing",
    "SELECT id FROM t WHERE TRUE",
    "SELECT id FROM t WHERE x > 100",
    # ordering and limits
    "SELECT id, x FROM t ORDER BY x, id",
    "SELECT id, x FROM t ORDER BY x DESC, id",
    "SELECT id, x FROM t ORDER BY x NULLS FIRST, id",
    "SELECT id, x FROM t ORDER BY x DESC NULLS FIRST, id DESC",
    "SELECT id, g FROM t ORDER BY 2, 1",
    "SELECT id, x FROM t ORDER BY x * x, id LIMIT 5",
    "SELECT id, x FROM t ORDER BY id LIMIT 10",
    "SELECT id, x FROM t ORDER BY id OFFSET 55",
    "SELECT id, x AS renamed FROM t ORDER BY renamed, id",
    "SELECT id FROM t ORDER BY y * -1, id",
    "SELECT g, h FROM t ORDER BY h DESC, g, 1",
    "SELECT id FROM e ORDER BY id",
    # aggregation
    "SELECT count(*) FROM t",
    "SELECT count(x), count(y), count(g), count(*) FROM t",
    "SELECT sum(x), avg(x), min(x), max(x) FROM t",
    "SELECT sum(y), avg(y), min(y), max(y) FROM t",
    "SELECT sum(amt), min(amt), max(amt) FROM t",
    "SELECT avg(amt) FROM t",
    "SELECT min(d), max(d), min(s), max(s) FROM t",
    "SELECT count(DISTINCT g), count(DISTINCT x) FROM t",
    "SELECT g, count(*) FROM t GROUP BY g",
    "SELECT g, h, count(*), sum(x) FROM t GROUP BY g, h",
    "SELECT g, sum(x) AS total FROM t GROUP BY 1",
    "SELECT g, count(DISTINCT h) FROM t GROUP BY g",
    "SELECT coalesce(g, 'none') AS gg, count(*) FROM t GROUP BY coalesce(g, 'none')",
    "SELECT x % 3 AS bucket, count(*) FROM t WHERE x >= 0 GROUP BY x % 3",
    "SELECT g, sum(x) FROM t GROUP BY g HAVING sum(x) > 0",
    "SELECT g, count(*) AS c FROM t GROUP BY g HAVING count(*) > 10",
    "SELECT g, max(y) - min(y) AS spread FROM t GROUP BY g",
    "SELECT g, avg(y) FROM t WHERE y > 0 GROUP BY g",
    "SELECT h, sum(amt) FROM t GROUP BY h",
    "SELECT g, count(*) FILTER (WHERE x > 0) AS pos FROM t GROUP BY g",
    "SELECT g, sum(x) FILTER (WHERE h = 'x') AS sx FROM t GROUP BY g",
    "SELECT count(*), sum(x), avg(y), min(d) FROM e",
    "SELECT g, count(*) FROM e GROUP BY g",
    "SELECT count(*) FROM t WHERE x > 1000",
    "SELECT sum(x) FROM t WHERE x IS NULL",
    "SELECT g, h, count(*) FROM t GROUP BY GROUPING SETS ((g), (h), ())",
    "SELECT g, h, sum(x) FROM t GROUP BY ROLLUP (g, h)",
    "SELECT g, h, count(*) FROM t GROUP BY CUBE (g, h)",
    "SELECT g, h, grouping(g, h) AS gid, count(*) FROM t GROUP BY ROLLUP (g, h)",
    "SELECT g, sum(x), grouping(g) FROM t GROUP BY GROUPING SETS ((g), ())",
    "SELECT d, count(*) FROM t GROUP BY d",
    "SELECT flag, count(*) FROM t GROUP BY flag",
    "SELECT g, sum(x) + count(*) AS mixed FROM t GROUP BY g",
    "SELECT count(*) AS n FROM (SELECT DISTINCT g, h FROM t)",
    # joins
    "SELECT t.id, u.uid FROM t JOIN u ON t.id = u.tid",
    "SELECT t.id, u.uid FROM t INNER JOIN u ON t.id = u.tid AND u.z > 1",
    "SELECT t.id, u.uid FROM t LEFT JOIN u ON t.id = u.tid",
    "SELECT t.id, u.uid FROM t RIGHT JOIN u ON t.id = u.tid",
    "SELECT t.id, u.uid FROM t FULL OUTER JOIN u ON t.id = u.tid",
    "SELECT t.id, u.uid FROM t LEFT JOIN u ON t.id = u.tid AND u.z > 2",
    "SELECT t.id, u.uid FROM t LEFT JOIN u ON t.id = u.tid AND t.x > 0",
    "SELECT t.id, u.uid FROM t RIGHT JOIN u ON t.id = u.tid AND t.x > 0",
    "SELECT t.id, u.uid FROM t FULL JOIN u ON t.id = u.tid AND u.z > 2",
    "SELECT t.id, u.uid FROM t, u WHERE t.id = u.tid",
    "SELECT t.id, u.uid FROM t, u WHERE t.id = u.tid AND t.x > 0 AND u.z < 4",
    "SELECT t.id, u.uid FROM t CROSS JOIN u WHERE u.uid < 3 AND t.id < 4",
    "SELECT count(*) FROM t CROSS JOIN u",
    "SELECT t.id, u.uid FROM t JOIN u ON t.x > u.z AND t.id < 5",
    "SELECT t.id, u.uid FROM t JOIN u ON t.g = u.g",
    "SELECT t.id, u.uid FROM t LEFT JOIN u ON t.g = u.g WHERE u.uid IS NULL",
    "SELECT t.g, count(u.uid) FROM t LEFT JOIN u ON t.g = u.g GROUP BY t.g",
    "SELECT a.id, b.id FROM t a JOIN t b ON a.x = b.x AND a.id < b.id",
    "SELECT t.id, u.uid, u2.uid FROM t JOIN u ON t.id = u.tid LEFT JOIN u u2 ON u.z = u2.z AND u2.uid < 5",
    "SELECT t.id FROM t JOIN u USING (g)",
    "SELECT t.id, u.uid FROM t JOIN u ON t.id = u.tid JOIN e ON e.id = t.id",
    "SELECT t.id, u.uid FROM t LEFT JOIN e ON e.id = t.id JOIN u ON t.id = u.tid",
    "SELECT t.id, u.uid FROM t LEFT JOIN u ON t.id = u.tid WHERE t.x > 0",
    "SELECT t.id, u.uid FROM t LEFT JOIN u ON t.id = u.tid WHERE u.z = 1",
    "SELECT t.id, u.uid FROM t JOIN u ON CAST(t.id AS BIGINT) = u.tid",
    "SELECT t.id, u.uid FROM t JOIN u ON t.id = u.tid OR t.id = u.uid",
    # set operations
    "SELECT g FROM t UNION SELECT g FROM u",
    "SELECT g FROM t UNION ALL SELECT g FROM u",
    "SELECT g FROM t INTERSECT SELECT g FROM u",
    "SELECT g FROM t EXCEPT SELECT g FROM u",
    "SELECT id, g FROM t WHERE x > 0 UNION ALL SELECT uid, g FROM u ORDER BY 1, 2",
    "SELECT x FROM t UNION SELECT z FROM u",
    "(SELECT id FROM t ORDER BY id LIMIT 3) UNION ALL (SELECT uid FROM u ORDER BY uid DESC LIMIT 2)",
    "SELECT g FROM t UNION SELECT g FROM e",
    "SELECT g FROM e EXCEPT SELECT g FROM t",
    "SELECT count(*) FROM (SELECT g FROM t UNION ALL SELECT g FROM u) AS x",
    # WITH, subqueries
    "WITH a AS (SELECT id, x FROM t WHERE x > 0) SELECT * FROM a",
    "WITH a AS (SELECT g, count(*) AS c FROM t GROUP BY g) SELECT x.g, x.c, y.c FROM a x JOIN a y ON x.g = y.g",
    "WITH a AS (SELECT id FROM t), b AS (SELECT id FROM a WHERE id < 10) SELECT count(*) FROM b",
    "WITH a (k, v) AS (SELECT id, x FROM t) SELECT k, v FROM a WHERE v > 5",
    "SELECT * FROM (SELECT id, x * 2 AS x2 FROM t) AS s WHERE x2 > 10",
    "SELECT id FROM t WHERE x = (SELECT max(x) FROM t)",
    "SELECT id, (SELECT count(*) FROM u) AS nu FROM t",
    "SELECT id FROM t WHERE x > (SELECT avg(x) FROM t)",
    "SELECT id FROM t WHERE id IN (SELECT tid FROM u)",
    "SELECT id FROM t WHERE id NOT IN (SELECT tid FROM u WHERE tid IS NOT NULL)",
    "SELECT id FROM t WHERE id NOT IN (SELECT tid FROM u)",
    "SELECT id FROM t WHERE g IN (SELECT g FROM u)",
    "SELECT id FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.tid = t.id)",
    "SELECT id FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.tid = t.id)",
    "SELECT id FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.g = t.g AND u.z > t.x)",
    "SELECT id FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.g = t.g AND u.z <> t.x)",
    "SELECT id FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.z > 4)",
    "SELECT id FROM t WHERE NOT EXISTS (SELECT 1 FROM e)",
    "SELECT id, (SELECT max(z) FROM u WHERE u.g = t.g) AS mz FROM t",
    "SELECT id FROM t WHERE x > (SELECT avg(z) FROM u WHERE u.g = t.g)",
    "SELECT id FROM t WHERE (SELECT count(*) FROM u WHERE u.tid = t.id) > 0",
    # correlated aggregates over joins: the keys restrict u before the join, or after a LEFT JOIN
    "SELECT id FROM t WHERE x >= (SELECT min(u.z) FROM u, t AS t2 WHERE u.tid = t2.id AND u.g = t.g)",
    "SELECT id, (SELECT max(u.z) FROM u LEFT JOIN t AS t2 ON u.tid = t2.id WHERE u.g = t.g) FROM t",
    "SELECT id, (SELECT count(*) FROM u WHERE u.tid = t.id) AS matches FROM t",
    "SELECT id, (SELECT min(x) FROM e) AS m FROM t",
    "SELECT g, (SELECT count(*) FROM u) AS c FROM t GROUP BY g",
    "SELECT g, count(*) FROM t GROUP BY g HAVING count(*) > (SELECT count(*) FROM u) / 3",
    "SELECT id, x IN (SELECT z FROM u) AS hit FROM t",
    "SELECT id FROM t WHERE x > 0 OR id IN (SELECT tid FROM u)",
    "SELECT id, EXISTS (SELECT 1 FROM u WHERE u.z = 5) AS any5 FROM t",
    # VALUES
    "SELECT * FROM (VALUES (1, 'a'), (2, 'b'), (3, NULL)) AS v(n, c)",
    "SELECT n * 2 FROM (VALUES 1, 2, 3) AS v(n)",
    "SELECT t.id, v.label FROM t JOIN (VALUES (1, 'one'), (2, 'two')) AS v(k, label) ON t.id = v.k",
    # windows
    "SELECT id, row_number() OVER (ORDER BY id) AS rn FROM t",
    "SELECT id, g, row_number() OVER (PARTITION BY g ORDER BY id) AS rn FROM t",
    "SELECT id, g, rank() OVER (PARTITION BY g ORDER BY x) AS r FROM t",
    "SELECT id, g, dense_rank() OVER (PARTITION BY g ORDER BY x) AS r FROM t",
    "SELECT id, rank() OVER (ORDER BY x DESC) AS r, dense_rank() OVER (ORDER BY x DESC) AS dr FROM t",
    "SELECT id, percent_rank() OVER (PARTITION BY h ORDER BY x) AS pr FROM t",
    "SELECT id, cume_dist() OVER (PARTITION BY h ORDER BY x) AS cd FROM t",
    "SELECT id, ntile(4) OVER (ORDER BY id) AS q FROM t",
    "SELECT id, lag(x) OVER (ORDER BY id) AS prev, lead(x) OVER (ORDER BY id) AS nxt FROM t",
    "SELECT id, lag(x, 2, 0) OVER (PARTITION BY h ORDER BY id) AS prev2 FROM t",
    "SELECT id, first_value(x) OVER (PARTITION BY g ORDER BY id) AS fv FROM t",
    "SELECT id, nth_value(x, 2) OVER (PARTITION BY g ORDER BY id) AS nv FROM t",
    "SELECT id, last_value(x) OVER (PARTITION BY g ORDER BY id) AS lv FROM t",
    "SELECT id, last_value(x) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS lv FROM t",
    "SELECT id, sum(x) OVER (PARTITION BY g) AS total FROM t",
    "SELECT id, sum(x) OVER () AS total, count(*) OVER () AS n FROM t",
    "SELECT id, sum(x) OVER (ORDER BY id) AS running FROM t",
    "SELECT id, sum(x) OVER (PARTITION BY h ORDER BY g) AS running_ties FROM t",
    "SELECT id, count(x) OVER (PARTITION BY h ORDER BY id) AS c FROM t",
    "SELECT id, avg(y) OVER (ORDER BY id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) AS ma FROM t",
    "SELECT id, sum(x) OVER (ORDER BY id ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) AS s3 FROM t",
    "SELECT id, max(x) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS mx FROM t",
    "SELECT id, min(x) OVER (PARTITION BY g ORDER BY id ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS mn FROM t",
    "SELECT g, sum(x) AS sx, rank() OVER (ORDER BY sum(x) DESC) AS r FROM t WHERE g IS NOT NULL GROUP BY g",
    "SELECT * FROM (SELECT id, g, row_number() OVER (PARTITION BY g ORDER BY x DESC, id) AS rn FROM t) WHERE rn <= 2",
    "SELECT id, x - lag(x) OVER (ORDER BY id) AS delta FROM t",
    # nested data
    "SELECT id, ui.arn, ui.type FROM nested",
    "SELECT id, nested.ui.ctx.mfa FROM nested",
    "SELECT id FROM nested WHERE ui.type = 'Root'",
    "SELECT ui.type, count(*) FROM nested GROUP BY ui.type",
    "SELECT id, nums[1] AS first_num FROM nested",
    "SELECT id, tag FROM nested CROSS JOIN UNNEST(tags) AS x(tag)",
    "SELECT id, n FROM nested CROSS JOIN UNNEST(nums) AS x(n) WHERE n > 4",
    "SELECT tag, count(*) FROM nested CROSS JOIN UNNEST(tags) AS x(tag) GROUP BY tag",
    "SELECT id, n, pos FROM nested CROSS JOIN UNNEST(nums) WITH ORDINALITY AS x(n, pos)",
    "SELECT id, r.rec.k FROM nested CROSS JOIN UNNEST(recs) AS r(rec)",
    "SELECT x FROM UNNEST(ARRAY[3, 1, 2]) AS t(x)",
]


@pytest.mark.parametrize("sql", QUERIES)
def test_query_matches_duckdb(diff: DiffTester, sql: str) -> None:
    diff.check(sql)


def test_date_plus_interval_stays_a_date(diff: DiffTester) -> None:
    """Trino keeps DATE + INTERVAL a DATE; DuckDB makes it a timestamp, so its side casts back."""
    diff.check(
        "SELECT id, d + INTERVAL '3' DAY AS d3, d - INTERVAL '1' MONTH AS dm FROM t",
        duckdb_sql="SELECT id, CAST(d + INTERVAL 3 DAY AS DATE) AS d3, "
        "CAST(d - INTERVAL 1 MONTH AS DATE) AS dm FROM t",
    )


def test_suite_is_large_enough() -> None:
    assert len(QUERIES) >= 150
