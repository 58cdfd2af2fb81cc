"""Cost of the per-query time limit when it is on but not reached, through ``lake.sql``.

Every query runs under the lake's time limit (30 minutes unless the operator changes it). This
times the same queries with the limit on (not reached) and off, on the same connection,
interleaved, medians of ``--runs`` rounds after an untimed one, and prints milliseconds and the
ratio, wall and CPU. With ``--runaway`` it also shows how soon a query over its limit stops.

    python bench/bench_limits.py [--rows 2000000] [--runs 5] [--runaway]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from bench_tpch import interleaved_medians  # the script's folder is on the path

import loglake
from loglake.query.limits import QueryLimitError

QUERIES = {
    "group-by of 2,000 keys": "SELECT k, sum(bytes) AS s, count(*) AS n FROM flows GROUP BY k",
    "filter and count": "SELECT count(*) AS n FROM flows WHERE bytes > 500000 AND packets < 10",
    "top 10": "SELECT k, bytes FROM flows ORDER BY bytes DESC, k LIMIT 10",
    "small table": "SELECT count(*) AS n FROM small",
}
ON = {"time_limit_s": 30 * 60}
OFF = {"time_limit_s": None}


def make_lake(root: Path, rows: int) -> loglake.Lake:
    """A lake with a VPC-flow-like external table of ``rows`` rows and a 10-row one."""
    rng = np.random.default_rng(7)
    frame = pl.DataFrame(
        {
            "k": rng.integers(0, 2000, rows, dtype=np.int64),
            "bytes": rng.integers(40, 1_000_000, rows, dtype=np.int64),
            "packets": rng.integers(1, 1000, rows, dtype=np.int32),
        }
    )
    folder = root / "external" / "flows"
    folder.mkdir(parents=True)
    frame.write_parquet(folder / "flows.parquet", row_group_size=250_000)
    lake = loglake.connect(str(root), create=True)
    lake.sql(
        "CREATE EXTERNAL TABLE flows (k bigint, bytes bigint, packets int) "
        f"STORED AS PARQUET LOCATION '{folder}'"
    )
    lake.sql("CREATE TABLE small AS SELECT x FROM UNNEST(sequence(1, 10)) AS t(x)")
    return lake


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--runaway", action="store_true", help="also time a stopped runaway")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lake = make_lake(Path(tmp) / "lake", args.rows)
        print(f"{args.rows:,} rows, medians of {args.runs} runs (ms; CPU ms of all threads)")
        print(
            f"{'query':<24} {'limit on':>9} {'off':>9} {'on/off':>7} {'cpu on':>9} {'cpu off':>9}"
        )
        walls, cpus = [], []
        for name, sql in QUERIES.items():
            medians, cpu, first = interleaved_medians(
                {
                    "on": lambda sql=sql: lake.sql(sql, limits=ON),
                    "off": lambda sql=sql: lake.sql(sql, limits=OFF),
                },
                args.runs,
            )
            on, off = (frame.sort(frame.columns) for frame in (first["on"], first["off"]))  # type: ignore[union-attr]
            if not on.equals(off):
                raise SystemExit(f"{name}: the answers differ")
            walls.append(medians["on"] / medians["off"])
            cpus.append(cpu["on"] / cpu["off"] if cpu["off"] else 1.0)
            print(
                f"{name:<24} {medians['on'] * 1000:9.1f} {medians['off'] * 1000:9.1f} "
                f"{walls[-1]:7.2f} {cpu['on'] * 1000:9.1f} {cpu['off'] * 1000:9.1f}",
                flush=True,
            )
        print(
            f"geometric mean on/off: wall {statistics.geometric_mean(walls):.2f}x, "
            f"CPU {statistics.geometric_mean(cpus):.2f}x"
        )
        if args.runaway:
            runaway = "SELECT count(*) AS n FROM flows a JOIN flows b ON a.k = b.k"
            started = time.perf_counter()
            try:
                lake.sql(runaway, limits={"time_limit_s": 1})
                print("runaway: finished within 1 s (use more --rows)")
            except QueryLimitError as error:
                print(f"runaway self-join stopped after {time.perf_counter() - started:.2f} s")
                print(f"  {error}")


if __name__ == "__main__":
    main()
