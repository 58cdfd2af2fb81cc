"""Query history: one JSON record per statement under ``<root>/_state/query_history/``.

Each record holds the query id, text, status, error, timings and the data scanned, so that a user
can audit what ran against the lake (Athena keeps the same in its query history). A local lake
appends a line to the day's ``<day>.jsonl``; an object store cannot append, so each statement
there writes its own object ``<day>/<time>-<query id>.json``: rewriting a day's object for each
statement cost bytes quadratic in the day's statements, and two processes rewriting it at once
lost one's records.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson

from loglake.catalog import StorageSettings


def history_folder(settings: StorageSettings) -> str:
    return settings.url("_state", "query_history")


def append_history(
    settings: StorageSettings, sql: str, stats: Any, status: str, error: str | None
) -> None:
    """Append one record to today's history file."""
    now = dt.datetime.now(dt.UTC)
    record = {
        "query_id": stats.query_id,
        "submitted_at": now.isoformat(),
        "statement": stats.statement,
        "query": sql,
        "status": status,
        "error": error,
        "rows": stats.rows,
        "files_scanned": stats.files_scanned,
        "files_skipped": stats.files_skipped,
        "bytes_scanned": stats.bytes_scanned,
        "elapsed_s": round(stats.elapsed_s, 6),
        "compile_s": round(stats.compile_s, 6),
    }
    line = orjson.dumps(record) + b"\n"
    fs = settings.filesystem()
    folder = settings.fs_path(history_folder(settings))
    if settings.is_s3:
        fs.pipe_file(f"{folder}/{now:%Y-%m-%d}/{now:%H%M%S%f}-{stats.query_id}.json", line)
        return
    fs.makedirs(folder, exist_ok=True)
    with fs.open(f"{folder}/{now:%Y-%m-%d}.jsonl", "ab") as handle:
        handle.write(line)


def read_history(
    settings: StorageSettings, day: dt.date | None = None, last: int | None = None
) -> list[dict[str, Any]]:
    """Records of one day (default: every day), oldest first; with ``last``, only the newest
    ``last`` of them, reading the newest days first (a bucket holds an object per statement)."""
    fs = settings.filesystem()
    try:
        found = fs.find(settings.fs_path(history_folder(settings)))
    except FileNotFoundError:
        return []
    by_day: dict[str, list[str]] = {}
    for name in found:
        if not name.endswith((".jsonl", ".json")):
            continue
        parent, _, base = name.rpartition("/")
        stem = base.removesuffix(".jsonl") if base.endswith(".jsonl") else parent.rpartition("/")[2]
        by_day.setdefault(stem, []).append(name)
    days = [f"{day:%Y-%m-%d}"] if day is not None else sorted(by_day, reverse=True)
    records: list[dict[str, Any]] = []
    for stem in days:
        if last is not None and len(records) >= last:
            break
        names = by_day.get(stem, [])
        texts = fs.cat(names, on_error="omit").values() if names else ()
        records.extend(
            orjson.loads(line) for text in texts for line in text.splitlines() if line.strip()
        )
    records.sort(key=lambda record: record["submitted_at"])  # stable: a file's order stays
    return records if last is None else records[-last:] if last else []
