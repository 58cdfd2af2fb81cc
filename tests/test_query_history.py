"""The query history a user audits (``loglake history``): every statement of every process is
kept, on a local lake and on a bucket, and the newest are read without reading every day."""

from __future__ import annotations

import datetime as dt
import threading

import orjson
import pytest

from loglake.catalog import Catalog
from loglake.errors import SqlError
from loglake.query.engine import Engine
from loglake.query.history import history_folder, read_history


def test_concurrent_processes_lose_no_record(lake_settings) -> None:  # type: ignore[no-untyped-def]
    catalog = Catalog(lake_settings)
    ids: list[list[str]] = [[], []]

    def run(worker: int) -> None:
        engine = Engine(catalog=Catalog(lake_settings))
        for i in range(12):
            ids[worker].append(engine.execute(f"SELECT {worker * 100 + i} AS n").query_id)

    threads = [threading.Thread(target=run, args=(w,)) for w in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    records = read_history(catalog.settings)
    assert sorted(r["query_id"] for r in records) == sorted(ids[0] + ids[1])
    assert all(r["status"] == "SUCCEEDED" and r["rows"] == 1 for r in records)
    # each worker's statements in the order it ran them
    for worker in (0, 1):
        mine = [r["query_id"] for r in records if r["query_id"] in set(ids[worker])]
        assert mine == ids[worker]
    assert [r["submitted_at"] for r in records] == sorted(r["submitted_at"] for r in records)


def test_a_bucket_keeps_an_object_per_statement(s3_settings) -> None:  # type: ignore[no-untyped-def]
    engine = Engine(catalog=Catalog(s3_settings))
    first = engine.execute("SELECT 1 AS n")
    with pytest.raises(SqlError):
        engine.execute("SELECT nope")
    fs = s3_settings.filesystem()
    today = dt.datetime.now(dt.UTC).date()
    day = f"{s3_settings.fs_path(history_folder(s3_settings))}/{today:%Y-%m-%d}"
    objects = fs.find(day)
    # one object each, never rewritten: the first statement's object holds its record alone
    assert len(objects) == 2
    mine = [o for o in objects if o.endswith(f"-{first.query_id}.json")]
    assert [orjson.loads(fs.cat_file(mine[0]))["query_id"]] == [first.query_id]
    records = read_history(s3_settings, day=today)
    assert [r["status"] for r in records] == ["SUCCEEDED", "FAILED"]
    assert "nope" in records[1]["query"] and records[1]["error"]


def test_newest_records_across_days_and_both_layouts(lake_settings) -> None:  # type: ignore[no-untyped-def]
    fs = lake_settings.filesystem()
    folder = lake_settings.fs_path(history_folder(lake_settings))
    fs.makedirs(folder, exist_ok=True)
    old = [
        {"query_id": f"day{d}-{i}", "submitted_at": f"2024-05-0{d}T10:00:0{i}+00:00", "query": "x"}
        for d in (1, 2)
        for i in range(3)
    ]
    # 2024-05-01 as a day's lines (a folder lake), 2024-05-02 as objects (a bucket)
    fs.pipe_file(f"{folder}/2024-05-01.jsonl", b"".join(orjson.dumps(r) + b"\n" for r in old[:3]))
    for r in old[3:]:
        fs.pipe_file(f"{folder}/2024-05-02/{r['query_id']}.json", orjson.dumps(r) + b"\n")
    new = Engine(catalog=Catalog(lake_settings)).execute("SELECT 2 AS n").query_id
    everything = [r["query_id"] for r in read_history(lake_settings)]
    assert everything == [r["query_id"] for r in old] + [new]
    assert [r["query_id"] for r in read_history(lake_settings, last=4)] == everything[-4:]
    one_day = read_history(lake_settings, day=dt.date(2024, 5, 2))
    assert [r["query_id"] for r in one_day] == [r["query_id"] for r in old[3:]]
    assert read_history(lake_settings, day=dt.date(2024, 5, 3)) == []
