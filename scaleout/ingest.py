"""Ingest with Spark: the driver lists and commits, executors fetch, parse and write.

The unit of work is the one local worker processes run (:func:`loglake.ingest.runner.
read_and_parse`): a batch of objects is fetched, parsed with loglake's own parsers and written as
Parquet files beside the table; only the files' add actions, row counts and the records to
quarantine come back. The driver commits each batch with the same per-object transaction as a
local run, so a killed run leaves at most files no commit refers to, and the next run takes up
exactly the objects that were not committed. Batches go out in waves of a few per core, so commits
and progress follow the cluster and the driver holds one wave's results at a time.
"""

from __future__ import annotations

from typing import Any

from loglake.catalog.storage import StorageSettings
from loglake.ingest.runner import BatchRunner, Handler, Job, read_and_parse

#: batches in flight per executor core
PER_CORE = 2


def spark_batches(session: Any, wave: int | None = None) -> BatchRunner:
    """A batch runner for :func:`loglake.ingest.ingest` that parses on ``session``'s executors."""

    def run(
        settings: StorageSettings,
        url: str,
        jobs: list[Job],
        options: dict[str, Any],
        handle: Handler,
    ) -> None:
        context = session.sparkContext
        size = wave or max(2, PER_CORE * context.defaultParallelism)
        for start in range(0, len(jobs), size):
            chunk = list(enumerate(jobs[start : start + size]))

            def work(item: tuple[int, Job]) -> tuple[int, Any]:
                index, (group, objects) = item
                return index, read_and_parse(settings, url, group, objects, options)

            results = context.parallelize(chunk, len(chunk)).map(work).collect()
            for index, (parsed, nbytes) in sorted(results, key=lambda r: r[0]):
                group, objects = chunk[index][1]
                handle(group, objects, parsed, nbytes)

    return run
