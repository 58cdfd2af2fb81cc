"""Catalog documents: atomic, versioned, and safe against a second writer and hand edits."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pyarrow as pa
import pytest

from loglake.catalog import Catalog, StorageSettings
from loglake.errors import CatalogError, ConflictError


def test_a_writer_that_lost_the_race_gets_a_conflict(lake_settings) -> None:
    catalog = Catalog(lake_settings)
    catalog.create_managed_table("default", "t", pa.schema([("a", pa.int64())]))
    first = catalog.get_table("default", "t")
    second = catalog.get_table("default", "t")
    catalog.update_table(first.replace(comment="first"))
    with pytest.raises(ConflictError, match="changed by another writer"):
        catalog.update_table(second.replace(comment="second"))
    assert catalog.get_table("default", "t").comment == "first"


def test_a_writer_that_read_a_pruned_version_gets_a_conflict(lake_settings) -> None:
    # the stale writer's version number was created and pruned since it read: its exclusive
    # create succeeds, yet it must not count as a write that newer versions hide
    catalog = Catalog(lake_settings)
    catalog.create_managed_table("default", "t", pa.schema([("a", pa.int64())]))
    stale = catalog.get_table("default", "t")
    for i in range(8):
        catalog.update_table(catalog.get_table("default", "t").replace(comment=f"fresh {i}"))
    with pytest.raises(ConflictError, match="changed by another writer"):
        catalog.update_table(stale.replace(comment="stale"))
    latest = catalog.get_table("default", "t")
    assert (latest.comment, latest.version) == ("fresh 7", stale.version + 8)
    catalog.update_table(latest.replace(comment="after"))
    assert catalog.get_table("default", "t").comment == "after"


def _update_many(root: str, writer: str, attempts: int, queue) -> None:
    catalog = Catalog(StorageSettings.resolve(root, environ={}))
    wins = conflicts = 0
    for i in range(attempts):
        table = catalog.get_table("default", "t")
        try:
            catalog.update_table(
                table.replace(properties={**table.properties, f"{writer}-{i}": "x"})
            )
            wins += 1
        except ConflictError:
            conflicts += 1
    queue.put((writer, wins, conflicts))


def test_two_processes_updating_one_definition(tmp_path: Path) -> None:
    root = str(tmp_path / "lake")
    catalog = Catalog(StorageSettings.resolve(root, environ={}))
    catalog.create_managed_table("default", "t", pa.schema([("a", pa.int64())]))
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(target=_update_many, args=(root, name, 40, queue)) for name in ("p1", "p2")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    results = {name: (wins, conflicts) for name, wins, conflicts in (queue.get() for _ in workers)}
    final = catalog.get_table("default", "t")
    # every successful update is in the final document, none was silently overwritten
    wins = sum(w for w, _ in results.values())
    assert len(final.properties) == wins
    assert final.version == 1 + wins
    for name, (won, lost) in results.items():
        assert won + lost == 40
        assert sum(1 for key in final.properties if key.startswith(name)) == won


def test_a_truncated_document_is_named_in_the_error(tmp_path: Path) -> None:
    catalog = Catalog(StorageSettings.resolve(tmp_path / "lake", environ={}))
    catalog.create_managed_table("default", "t", pa.schema([("a", pa.int64())]))
    document = next((tmp_path / "lake" / "_catalog" / "default" / "tables" / "t").glob("v*.json"))
    document.write_text(document.read_text()[:40])
    with pytest.raises(CatalogError) as raised:
        catalog.get_table("default", "t")
    assert str(document) in str(raised.value) and "corrupt" in str(raised.value)


def test_a_crash_mid_write_leaves_the_old_version_readable(tmp_path: Path) -> None:
    catalog = Catalog(StorageSettings.resolve(tmp_path / "lake", environ={}))
    catalog.create_managed_table("default", "t", pa.schema([("a", pa.int64())]))
    folder = tmp_path / "lake" / "_catalog" / "default" / "tables" / "t"
    (folder / ".tmp-crashed").write_text('{"kind": "tab')  # what a writer killed mid-write leaves
    assert catalog.get_table("default", "t").columns[0].name == "a"
    catalog.update_table(catalog.get_table("default", "t").replace(comment="after"))
    assert catalog.get_table("default", "t").comment == "after"


def test_old_versions_are_pruned(tmp_path: Path) -> None:
    catalog = Catalog(StorageSettings.resolve(tmp_path / "lake", environ={}))
    catalog.create_managed_table("default", "t", pa.schema([("a", pa.int64())]))
    for i in range(12):
        catalog.update_table(catalog.get_table("default", "t").replace(comment=str(i)))
    folder = tmp_path / "lake" / "_catalog" / "default" / "tables" / "t"
    assert len(list(folder.glob("v*.json"))) <= 6
    assert catalog.get_table("default", "t").comment == "11"


def test_unqualified_names_resolve_across_databases(lake_settings) -> None:
    catalog = Catalog(lake_settings)
    catalog.create_database("aws")
    catalog.create_managed_table("aws", "cloudtrail", pa.schema([("a", pa.int64())]))
    assert catalog.find_relation("cloudtrail").qualified_name == "aws.cloudtrail"
    with pytest.raises(CatalogError, match="did you mean cloudtrail"):
        catalog.find_relation("cloudtrial")
