"""Per-query limits cancel a runaway query with a clear error; ingest limits how far gzip inflates."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import loglake
from loglake.query.limits import QueryLimitError

# nine million pairs: seconds of work, far longer than the limits below, were it not cancelled
RUNAWAY = "SELECT sum(a.x * b.x) AS s FROM nums a CROSS JOIN nums b"


@pytest.fixture
def lake(tmp_path: Path) -> loglake.Lake:
    lake = loglake.connect(tmp_path / "lake", create=True)
    lake.sql("CREATE TABLE nums AS SELECT x, x % 10 AS g FROM UNNEST(sequence(1, 3000)) AS t(x)")
    return lake


def test_a_query_over_its_time_limit_is_cancelled(lake: loglake.Lake) -> None:
    started = time.monotonic()
    with pytest.raises(QueryLimitError, match=r"time limit of 0\.2 s"):
        lake.sql(RUNAWAY, limits={"time_limit_s": 0.2})
    assert time.monotonic() - started < 60  # cancelled, not run to the end
    assert lake.sql("SELECT count(*) AS n FROM nums").item() == 3000  # the engine still works


def test_the_time_limit_is_a_lake_setting(lake: loglake.Lake) -> None:
    lake.catalog.update_lake_settings(time_limit_s=0.2)
    with pytest.raises(QueryLimitError, match="time_limit_s"):
        lake.sql(RUNAWAY)
    fresh = loglake.connect(lake.settings.root, create=True)  # another connection sees the setting
    assert fresh.catalog.lake_settings().limits.time_limit_s == 0.2


def test_the_scan_limit_refuses_before_reading(lake: loglake.Lake) -> None:
    scanned = lake.sql("SELECT * FROM nums") is not None and lake.last_query.bytes_scanned
    assert scanned > 0
    with pytest.raises(QueryLimitError, match="data scanned limit"):
        lake.sql("SELECT sum(x) FROM nums", limits={"scan_limit_bytes": scanned - 1})
    assert (
        lake.sql("SELECT sum(x) AS s FROM nums", limits={"scan_limit_bytes": scanned}).item()
        == 4501500
    )


def test_the_result_row_limit_cancels_instead_of_truncating(lake: loglake.Lake) -> None:
    with pytest.raises(QueryLimitError, match=r"result rows limit of 1,000 rows"):
        lake.sql("SELECT a.x FROM nums a CROSS JOIN nums b", limits={"result_limit_rows": 1000})
    assert lake.sql("SELECT x FROM nums", limits={"result_limit_rows": 3000}).height == 3000


def test_the_result_size_limit(lake: loglake.Lake) -> None:
    with pytest.raises(QueryLimitError, match="result size limit"):
        lake.sql("SELECT x FROM nums", limits={"result_limit_bytes": 1000})


def test_limits_can_be_lifted_for_one_call_and_unknown_ones_are_refused(lake: loglake.Lake) -> None:
    lake.catalog.update_lake_settings(result_limit_rows=10)
    with pytest.raises(QueryLimitError):
        lake.sql("SELECT x FROM nums")
    assert lake.sql("SELECT x FROM nums", limits={"result_limit_rows": None}).height == 3000
    with pytest.raises(loglake.errors.UserError, match="unknown query limit"):
        lake.sql("SELECT 1", limits={"rows": 1})
