"""The 22 TPC-H queries (Athena syntax) on scale factor 0.01, compared with DuckDB."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from difftest import DiffTester

QUERIES = sorted((Path(__file__).parent / "query_tpch").glob("q*.sql"))
TABLES = ["customer", "lineitem", "nation", "orders", "part", "partsupp", "region", "supplier"]


def tpchgen() -> str:
    local = Path(sys.executable).parent / "tpchgen-cli"
    found = str(local) if local.exists() else shutil.which("tpchgen-cli")
    assert found, "tpchgen-cli is part of the test dependencies"
    return found


@pytest.fixture(scope="session")
def tpch_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("tpch")
    subprocess.run(
        [tpchgen(), "parquet", "-s", "0.01", "--output-dir", str(out)],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="module")
def tpch(tpch_dir: Path) -> DiffTester:
    return DiffTester({t: tpch_dir / f"{t}.parquet" for t in TABLES})


@pytest.mark.parametrize("path", QUERIES, ids=[q.stem for q in QUERIES])
def test_tpch_query_matches_duckdb(tpch: DiffTester, path: Path) -> None:
    result = tpch.check(path.read_text())
    assert result.height > 0
