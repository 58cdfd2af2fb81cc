"""Query history: one JSON line per statement under ``<root>/_state/query_history/<day>.jsonl``.

Each line holds the query id, text, status, error, timings and the data scanned, so that a user
can audit what ran against the lake (Athena keeps the same in its query history).
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
    path = f"{folder}/{now:%Y-%m-%d}.jsonl"
    if settings.is_s3:
        # object stores cannot append: rewrite the day's object with the new line added
        try:
            existing = fs.cat_file(path)
        except FileNotFoundError:
            existing = b""
        fs.pipe_file(path, existing + line)
        return
    fs.makedirs(folder, exist_ok=True)
    with fs.open(path, "ab") as handle:
        handle.write(line)


def read_history(settings: StorageSettings, day: dt.date | None = None) -> list[dict[str, Any]]:
    """Records of one day (default: every day), oldest first."""
    fs = settings.filesystem()
    folder = settings.fs_path(history_folder(settings))
    try:
        names = sorted(fs.ls(folder, detail=False))
    except FileNotFoundError:
        return []
    if day is not None:
        names = [n for n in names if n.endswith(f"{day:%Y-%m-%d}.jsonl")]
    records = []
    for name in names:
        for line in fs.cat_file(name).splitlines():
            if line.strip():
                records.append(orjson.loads(line))
    return records
