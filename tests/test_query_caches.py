"""What the query layer keeps between statements (definitions, schemas, Delta file lists, compiled
plans) is dropped by every kind of change, made here or by another process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from deltalake import DeltaTable

from loglake.catalog import Catalog
from loglake.catalog.documents import DocumentStore
from loglake.catalog.managed import ManagedTable
from loglake.catalog.model import columns_from_arrow
from loglake.errors import CatalogError, SqlError
from loglake.query.engine import Engine


def _value(engine: Engine, sql: str) -> object:
    df = engine.execute(sql).df
    assert df is not None
    return df.item() if df.shape == (1, 1) else df.rows()


def _other_process(settings, code: str) -> None:  # type: ignore[no-untyped-def]
    """Run ``code`` in a new Python process with ``catalog`` and ``engine`` on the same lake."""
    prelude = textwrap.dedent(
        f"""
        import pyarrow as pa
        from loglake.catalog import Catalog, StorageSettings
        from loglake.query.engine import Engine
        settings = StorageSettings.resolve({settings.root!r}, environ={{}}, **{_s3_options(settings)!r})
        catalog = Catalog(settings)
        engine = Engine(catalog=catalog)
        """
    )
    subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)], check=True, capture_output=True
    )


def _s3_options(settings) -> dict:  # type: ignore[no-untyped-def]
    if not settings.is_s3:
        return {}
    from conftest import TEST_CREDENTIALS

    return {"endpoint_url": settings.endpoint_url, **TEST_CREDENTIALS}


@pytest.fixture
def events(lake_settings) -> Engine:  # type: ignore[no-untyped-def]
    catalog = Catalog(lake_settings)
    data = pa.table({"id": [1, 2, 3], "day": ["2024-01-01"] * 3})
    catalog.create_managed_table("default", "events", data.schema, partition_by=["day"])
    catalog.managed("default", "events").append(data)
    return Engine(catalog=catalog)


def test_a_repeated_statement_reuses_its_plan(events: Engine) -> None:
    sql = "SELECT day, count(*) FROM events GROUP BY day"
    first = events.execute(sql, lazy=True).lazy
    assert events.execute(sql, lazy=True).lazy is first
    assert events.execute(sql + " ", lazy=True).lazy is not first
    # answers that depend on when they run are compiled every time
    assert events.execute("SELECT now()", lazy=True).lazy is not (
        events.execute("SELECT now()", lazy=True).lazy
    )
    today = "SELECT count(*) FROM events WHERE day <= CAST(current_date AS varchar)"
    assert events.execute(today, lazy=True).lazy is not events.execute(today, lazy=True).lazy


def test_a_statement_over_new_frames_reuses_its_trees_only_while_the_schemas_match() -> None:
    from loglake.query.plans import QUALIFIED

    sql = "SELECT b, a + ? AS d FROM t WHERE a > 1 ORDER BY a"

    def answer(frame: pl.DataFrame, add: int) -> list[tuple[object, ...]]:
        df = Engine(tables={"t": frame}, record_history=False).execute(sql, [add]).df
        assert df is not None
        return df.rows()

    answer(pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}), 1)
    hits = QUALIFIED.hits
    # new rows of the same schema: the kept tree, the new rows and the new parameter
    assert answer(pl.DataFrame({"a": [10, 20], "b": ["p", "q"]}), 1) == [("p", 11), ("q", 21)]
    assert QUALIFIED.hits == hits + 1
    assert answer(pl.DataFrame({"a": [10], "b": ["p"]}), 5) == [("p", 15)]
    # another column type: qualified again, and typed by the new schema
    assert answer(pl.DataFrame({"a": [1.5, 2.5], "b": [True, False]}), 1) == [
        (True, 2.5),
        (False, 3.5),
    ]
    assert QUALIFIED.hits == hits + 1
    # a column gone: the error still points at it
    with pytest.raises(SqlError, match="Column 'b' cannot be resolved") as raised:
        answer(pl.DataFrame({"a": [1, 2]}), 1)
    assert raised.value.start == sql.index("b,")


def test_definitions_are_read_once_while_the_catalog_is_unchanged(
    events: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    original = DocumentStore.read

    def counting(self: DocumentStore, folder: str):  # type: ignore[no-untyped-def]
        reads.append(folder)
        return original(self, folder)

    monkeypatch.setattr(DocumentStore, "read", counting)
    assert _value(events, "SELECT count(*) FROM events") == 3
    assert reads  # the first statement looks the table up
    reads.clear()
    assert _value(events, "SELECT max(id) FROM events WHERE day = '2024-01-01'") == 3
    assert reads == []
    events.catalog.create_database("other")
    assert _value(events, "SELECT min(id) FROM events") == 1
    assert reads  # a catalog change: looked up again


def test_another_process_appending_to_a_managed_table(events: Engine, lake_settings) -> None:  # type: ignore[no-untyped-def]
    sql = "SELECT count(*), max(id) FROM events"
    assert _value(events, sql) == [(3, 3)]
    _other_process(
        lake_settings,
        """
        catalog.managed("default", "events").append(pa.table({"id": [4, 5], "day": ["2024-01-02"] * 2}))
        """,
    )
    assert _value(events, sql) == [(5, 5)]
    assert events.last_query is not None and events.last_query.files_scanned == 2


def test_a_local_delta_table_is_reloaded_only_after_a_commit(
    local_settings, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    data = pa.table({"id": [1, 2]})
    Catalog(local_settings).create_managed_table("default", "t", data.schema)
    reader = Catalog(local_settings).managed("default", "t")
    writer = ManagedTable(local_settings, reader.location)
    assert reader.files() == []
    reloads: list[int] = []
    original = DeltaTable.update_incremental

    def counting(self: DeltaTable) -> None:
        reloads.append(self.version())
        original(self)

    monkeypatch.setattr(DeltaTable, "update_incremental", counting)
    assert reader.files() == [] and reader.files() == []
    assert reloads == []  # nothing committed: the next version's log file is absent
    writer.append(data)
    assert [f.num_records for f in reader.files()] == [2]
    assert reloads == [0]
    assert reader.version() == 1


def test_another_process_recreating_a_table_and_replacing_a_view(
    events: Engine, lake_settings
) -> None:  # type: ignore[no-untyped-def]
    events.execute("CREATE VIEW recent AS SELECT id FROM events WHERE id > 1")
    assert _value(events, "SELECT count(*) FROM recent") == 2
    assert _value(events, "SELECT sum(id) FROM events") == 6
    _other_process(
        lake_settings,
        """
        catalog.drop_table("default", "events")
        data = pa.table({"id": [10, 20], "label": ["a", "b"], "day": ["2024-02-01"] * 2})
        catalog.create_managed_table("default", "events", data.schema, partition_by=["day"])
        catalog.managed("default", "events").append(data)
        engine.execute("CREATE OR REPLACE VIEW recent AS SELECT id, label FROM events WHERE id > 15")
        """,
    )
    assert _value(events, "SELECT sum(id) FROM events") == 30
    assert _value(events, "SELECT label FROM recent") == "b"
    _other_process(lake_settings, 'catalog.drop_table("default", "events")')
    with pytest.raises((SqlError, CatalogError), match="events"):
        events.execute("SELECT sum(id) FROM events")


def test_changes_made_through_this_engine(events: Engine) -> None:
    sql = "SELECT count(*) FROM events"
    assert _value(events, sql) == 3
    insert = "INSERT INTO events SELECT max(id) + 1, '2024-01-03' FROM events"
    events.execute(insert)
    assert _value(events, sql) == 4
    events.execute(insert)  # the same statement again inserts again
    assert _value(events, "SELECT count(*), max(id) FROM events") == [(5, 5)]
    catalog = events.catalog
    table = catalog.get_table("default", "events")
    note = columns_from_arrow(pa.schema([pa.field("note", pa.string())]))
    catalog.update_table(table.replace(columns=(*table.columns, *note)))
    assert _value(events, "SELECT count(note) FROM events") == 0
    events.execute("CREATE TABLE copied AS SELECT id FROM events")
    events.execute("DROP TABLE copied")
    events.execute("CREATE TABLE copied AS SELECT id FROM events")
    assert _value(events, "SELECT count(*) FROM copied") == 5
    events.execute("DROP TABLE events")
    with pytest.raises((SqlError, CatalogError), match="events"):
        events.execute(sql)


def test_external_table_folders_are_listed_for_every_statement(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "flows"
    (root / "day=1").mkdir(parents=True)
    pl.DataFrame({"bytes": [1, 2]}).write_parquet(root / "day=1" / "a.parquet")
    engine = Engine(catalog=Catalog(local_settings))
    engine.execute(
        "CREATE EXTERNAL TABLE flows (bytes bigint) PARTITIONED BY (day int) "
        f"STORED AS PARQUET LOCATION '{root}'"
    )
    engine.execute("MSCK REPAIR TABLE flows")
    sql = "SELECT sum(bytes) FROM flows"
    assert _value(engine, sql) == 3
    # a new file in a registered partition: no catalog change, yet the next query reads it
    pl.DataFrame({"bytes": [10]}).write_parquet(root / "day=1" / "b.parquet")
    assert _value(engine, sql) == 13
    # a file rewritten in place
    pl.DataFrame({"bytes": [100, 200, 300]}).write_parquet(root / "day=1" / "a.parquet")
    assert _value(engine, sql) == 610
    # a new partition, registered by another engine on the same lake
    (root / "day=2").mkdir()
    pl.DataFrame({"bytes": [1000]}).write_parquet(root / "day=2" / "a.parquet")
    assert _value(engine, sql) == 610
    Engine(catalog=Catalog(local_settings)).execute("MSCK REPAIR TABLE flows")
    assert _value(engine, sql) == 1610
    Path(root / "day=1" / "b.parquet").unlink()
    assert _value(engine, sql) == 1600


def test_a_statement_reads_the_lake_settings_once_whatever_its_tables(
    local_settings, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """Checking a kept plan lists every external table's folder; the lake settings (where SQL
    may read) are read once for the statement, not once per table."""
    engine = Engine(catalog=Catalog(local_settings))
    for name in ("a", "b", "c"):
        folder = tmp_path / name
        folder.mkdir()
        pl.DataFrame({"k": [1, 2], name: [10, 20]}).write_parquet(folder / "part.parquet")
        engine.execute(
            f"CREATE EXTERNAL TABLE {name} (k bigint, {name} bigint) STORED AS PARQUET "
            f"LOCATION '{folder}'"
        )
    reads: list[int] = []
    original = Catalog.lake_settings

    def counting(self: Catalog):  # type: ignore[no-untyped-def]
        reads.append(1)
        return original(self)

    monkeypatch.setattr(Catalog, "lake_settings", counting)
    one = "SELECT sum(a) FROM a"
    three = "SELECT sum(a + b + c) FROM a JOIN b USING (k) JOIN c USING (k)"
    counts = {}
    for sql, expected in ((one, 30), (three, 90)):
        assert _value(engine, sql) == expected  # compiled
        reads.clear()
        assert _value(engine, sql) == expected  # its plan kept: the folders listed again
        counts[sql] = len(reads)
    assert counts[one] == counts[three] >= 1
