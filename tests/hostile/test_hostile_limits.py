"""Per-query limits cancel a runaway query with a clear error; ingest limits how far gzip inflates."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest

import loglake
from loglake.query import interrupt
from loglake.query.limits import QueryLimitError

# 9 billion triples: about 100 s of CPU time (270 million took 2.9 s), so that no machine, however
# fast or idle, finishes it within the limits below; the tests prove the stop by the error's
# words ("was cancelled" only when Polars' work was stopped), never by a duration
RUNAWAY = (
    "SELECT sum(a.x * b.x + c.x) AS s FROM nums a CROSS JOIN nums b "
    "CROSS JOIN (SELECT x FROM nums WHERE x <= 1000) c"
)


@pytest.fixture
def lake(tmp_path: Path) -> loglake.Lake:
    lake = loglake.connect(tmp_path / "lake", create=True)
    lake.sql("CREATE TABLE nums AS SELECT x, x % 10 AS g FROM UNNEST(sequence(1, 3000)) AS t(x)")
    return lake


def test_a_query_over_its_time_limit_is_cancelled(lake: loglake.Lake) -> None:
    with pytest.raises(QueryLimitError, match=r"time limit of 0\.2 s and was cancelled"):
        lake.sql(RUNAWAY, limits={"time_limit_s": 0.2})
    assert lake.sql("SELECT count(*) AS n FROM nums").item() == 3000  # the engine still works


def test_the_time_limit_is_on_by_default() -> None:
    assert loglake.catalog.lakesettings.QueryLimits().time_limit_s == 30 * 60


def test_a_query_with_a_time_limit_it_does_not_reach_answers(lake: loglake.Lake) -> None:
    assert lake.sql("SELECT sum(x) AS s FROM nums", limits={"time_limit_s": 60}).item() == 4501500


def test_the_time_limit_stops_a_query_after_a_notebook_replaced_the_sigint_handler(
    lake: loglake.Lake,
) -> None:
    # Jupyter's kernel calls signal.signal(SIGINT, ...) before each cell, which removes Polars'
    # own handler at the C level; the limit puts it back while the query runs
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(QueryLimitError, match="was cancelled"):
            lake.sql(RUNAWAY, limits={"time_limit_s": 0.2})
    finally:
        signal.signal(signal.SIGINT, previous)
        interrupt.restore_polars_handler()


def test_the_time_limit_cancels_in_a_process_started_with_sigint_ignored(tmp_path: Path) -> None:
    # a shell's background job and some schedulers start Python with SIGINT ignored; the limit
    # must still stop Polars' work there, not merely stop waiting for it
    script = (
        "import signal, sys, loglake\n"
        "assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN\n"
        "lake = loglake.connect(sys.argv[1], create=True)\n"
        "lake.sql('CREATE TABLE nums AS SELECT x FROM UNNEST(sequence(1, 3000)) AS t(x)')\n"
        f"try:\n    lake.sql({RUNAWAY!r}, limits={{'time_limit_s': 0.2}})\n"
        "except Exception as error:\n    print(error)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "lake")],
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "time limit of 0.2 s and was cancelled" in done.stdout


def test_ctrl_c_during_a_query_with_a_time_limit_is_a_keyboard_interrupt(
    lake: loglake.Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    arm = interrupt._WATCHDOG.arm
    timers: list[threading.Timer] = []

    def arm_then_press_ctrl_c(seconds: float) -> interrupt._Ticket:
        timers.append(threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT)))
        timers[-1].start()  # the query starts right after its deadline is armed
        return arm(seconds)

    monkeypatch.setattr(interrupt._WATCHDOG, "arm", arm_then_press_ctrl_c)
    with pytest.raises(KeyboardInterrupt):  # RUNAWAY never ends on its own in 0.3 s
        lake.sql(RUNAWAY, limits={"time_limit_s": 120})
    monkeypatch.undo()
    assert lake.sql("SELECT count(*) AS n FROM nums").item() == 3000


def test_many_queries_under_a_time_limit_they_do_not_reach(lake: loglake.Lake) -> None:
    for _ in range(30):
        assert (
            lake.sql("SELECT count(*) AS n FROM nums", limits={"time_limit_s": 60}).item() == 3000
        )
    assert lake.sql("SELECT count(*) AS n FROM nums").item() == 3000


def test_a_disarmed_deadline_never_sends_its_stop() -> None:
    # a deadline that passes after its query ended must not stop a later statement; each
    # deadline that did pass before it was disarmed (a stalled machine) is counted by disarm()
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda *_: received.append(1))
    try:
        fired = 0
        for _ in range(30):
            ticket = interrupt._WATCHDOG.arm(0.05)
            fired += interrupt._WATCHDOG.disarm(ticket)
        time.sleep(0.3)  # every deadline is past: a ticket kept by mistake would fire now
        assert len(received) == fired
    finally:
        signal.signal(signal.SIGINT, previous)
        interrupt.restore_polars_handler()


def test_off_the_main_thread_the_time_limit_gives_the_caller_its_error(lake: loglake.Lake) -> None:
    # Python interrupts only from the main thread: here the caller gets its error on time and
    # the work ends on its own
    outcome: list[BaseException | None] = []

    def query() -> None:
        try:
            lake.sql(RUNAWAY, limits={"time_limit_s": 0.2})
            outcome.append(None)
        except Exception as error:
            outcome.append(error)

    worker = threading.Thread(target=query)
    worker.start()
    worker.join()
    assert isinstance(outcome[0], QueryLimitError)
    assert "time limit of 0.2 s and was abandoned" in str(outcome[0])
    stop_abandoned_work()


def stop_abandoned_work() -> None:
    """Stop the abandoned query as Ctrl-C would, so that it does not run on beside later tests."""
    interrupt._send_stop()
    for thread in threading.enumerate():
        if thread.name == "loglake-query":
            thread.join()


def test_a_query_after_a_stop_waits_for_earlier_work_to_wind_down(lake: loglake.Lake) -> None:
    # Polars keeps its stop raised until all of its work in the process has ended and refuses
    # new work meanwhile: a statement started then failed with a KeyboardInterrupt (as if the
    # user had pressed Ctrl-C), which ended a script or a test run
    busy, release = threading.Event(), threading.Event()

    def holds_polars(s: pl.Series) -> pl.Series:
        busy.set()
        release.wait()  # Polars work that does not check for the stop until it is released
        return s

    def other_work() -> None:
        with contextlib.suppress(KeyboardInterrupt):
            pl.LazyFrame({"a": [1]}).select(pl.col("a").map_batches(holds_polars)).collect()

    other = threading.Thread(target=other_work)
    other.start()
    busy.wait()
    # the held callback occupies one of Polars' threads: released at the latest after a minute,
    # so that a pool of one thread cannot wait on it for ever
    safety = threading.Timer(60.0, release.set)
    safety.start()
    try:
        with pytest.raises(QueryLimitError, match="was cancelled"):
            lake.sql(RUNAWAY, limits={"time_limit_s": 0.2})
        # the other work ends a second from now, while (or before) the next statement waits;
        # the second bounds that work, it is no assertion on how fast anything runs
        threading.Timer(1.0, release.set).start()
        try:
            answer = lake.sql("SELECT count(*) AS n FROM nums").item()
        except KeyboardInterrupt:
            pytest.fail("the statement failed with the stop of the query before it")
        assert answer == 3000
    finally:
        release.set()
        safety.cancel()
        other.join()


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


def test_a_notebook_cell_showing_progress_stops_its_query_at_the_limit(lake: loglake.Lake) -> None:
    # the %%sql magic runs the query on a thread and shows progress from the cell's thread,
    # which sends the stop when the query's time is up
    from loglake.display import with_progress

    with pytest.raises(QueryLimitError, match="was cancelled"):
        with_progress(
            lambda: lake.sql(RUNAWAY, limits={"time_limit_s": 0.2}),
            lambda: (0, 0, 0),
            time.monotonic(),
        )
    assert lake.sql("SELECT count(*) AS n FROM nums").item() == 3000
