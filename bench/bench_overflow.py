"""Cost of Trino's integer overflow checks: integer group-bys and arithmetic through ``lake.sql``.

loglake fails ``bigint addition overflow`` where Polars wraps around silently. This times the
queries that pay for that check (sums of BIGINT and INTEGER columns, +, - and * on them) through
the catalog, as a user runs them: loglake as it is, the same compiler with the checks off
(``unchecked_integers``: what the checks cost) and DuckDB (which checks overflow too) over the
same Parquet file, interleaved, medians of ``--runs`` rounds after an untimed one. Prints
milliseconds and the ratios.

    python bench/bench_overflow.py [--rows 5000000] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from bench_tpch import interleaved_medians  # the script's folder is on the path

import loglake
import loglake.query.engine  # the function registry loads before the guards
from loglake.query.guards import unchecked_integers

QUERIES = {
    "sum(bigint) by key": "SELECT k, sum(bytes) AS s FROM flows GROUP BY k",
    "sum(integer) by key": "SELECT k, sum(packets) AS s FROM flows GROUP BY k",
    "sum(bigint * integer) by key": "SELECT k, sum(bytes * packets) AS s FROM flows GROUP BY k",
    "bigint + - per row": "SELECT sum(bytes + packets - k) AS s FROM flows",
    "filter on bigint * 8": "SELECT count(*) AS n FROM flows WHERE bytes * 8 > 4000000",
}


def make_file(folder: Path, rows: int) -> Path:
    """A VPC-flow-like table: 2,000 keys, bigint byte counts, integer packet counts."""
    rng = np.random.default_rng(7)
    frame = pl.DataFrame(
        {
            "k": rng.integers(0, 2000, rows, dtype=np.int64),
            "bytes": rng.integers(40, 1_000_000, rows, dtype=np.int64),
            "packets": rng.integers(1, 1000, rows, dtype=np.int32),
        }
    )
    folder.mkdir(parents=True)
    path = folder / "flows.parquet"
    frame.write_parquet(path, row_group_size=500_000)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "lake"
        path = make_file(root / "external" / "flows", args.rows)
        lake = loglake.connect(str(root), create=True)
        unchecked = loglake.connect(
            str(root), create=True
        )  # its own kept plans, compiled without checks
        lake.sql(
            "CREATE EXTERNAL TABLE flows (k bigint, bytes bigint, packets int) "
            f"STORED AS PARQUET LOCATION '{path.parent}'"
        )
        duck = duckdb.connect()
        duck.execute(f"CREATE VIEW flows AS SELECT * FROM read_parquet('{path}')")
        print(
            f"{args.rows:,} rows, medians of {args.runs} runs (ms; CPU ms of the process), "
            f"load average {os.getloadavg()[0]:.1f}"
        )
        print(
            f"{'query':<30} {'loglake':>8} {'no check':>8} {'duckdb':>8} "
            f"{'/nocheck':>8} {'/duckdb':>8} {'cpu':>8} {'cpu nock':>8} {'cpu /nock':>9}"
        )
        ratios, cpu_ratios = [], []
        for name, sql in QUERIES.items():
            medians, cpu, first = interleaved_medians(
                {
                    "loglake": lambda sql=sql: lake.sql(sql),
                    "unchecked": lambda sql=sql: _unchecked(unchecked, sql),
                    "duckdb": lambda sql=sql: duck.sql(sql).pl(),
                },
                args.runs,
            )
            totals = {engine: int(frame[:, -1].sum()) for engine, frame in first.items()}
            if len(set(totals.values())) != 1:
                raise SystemExit(f"{name}: the engines disagree: {totals}")
            ours = medians["loglake"]
            ratios.append(ours / medians["unchecked"])
            cpu_ratios.append(cpu["loglake"] / cpu["unchecked"])
            print(
                f"{name:<30} {ours * 1000:8.1f} {medians['unchecked'] * 1000:8.1f} "
                f"{medians['duckdb'] * 1000:8.1f} {ratios[-1]:8.2f} "
                f"{ours / medians['duckdb']:8.2f} {cpu['loglake'] * 1000:8.1f} "
                f"{cpu['unchecked'] * 1000:8.1f} {cpu_ratios[-1]:9.2f}",
                flush=True,
            )
        print(
            f"geometric mean cost of the checks: wall {statistics.geometric_mean(ratios):.2f}x, "
            f"CPU {statistics.geometric_mean(cpu_ratios):.2f}x; load average "
            f"{os.getloadavg()[0]:.1f}"
        )


def _unchecked(lake: loglake.Lake, sql: str) -> pl.DataFrame:
    with unchecked_integers():
        return lake.sql(sql)


if __name__ == "__main__":
    main()
