"""Partition projection lists only the partitions a predicate needs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from loglake.catalog import Catalog, Column, PartitionConstraint, TableDefinition
from loglake.catalog.projection import projected_partitions
from loglake.errors import CatalogError

BASE = "s3://trail-bucket/AWSLogs/111122223333/CloudTrail"


def projected_table(**extra: str) -> TableDefinition:
    properties = {
        "projection.enabled": "true",
        "projection.region.type": "enum",
        "projection.region.values": "us-east-1,eu-west-1,ap-south-1",
        "projection.day.type": "date",
        "projection.day.format": "yyyy/MM/dd",
        "projection.day.range": "2024/01/01,NOW",
        "storage.location.template": BASE + "/${region}/${day}",
        **extra,
    }
    return TableDefinition(
        database="default",
        name="trail",
        columns=(Column("eventname", "string"),),
        partition_keys=(Column("region", "string"), Column("day", "string")),
        location=BASE,
        format="json",
        properties=properties,
    )


NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)


def test_one_day_one_region_is_one_folder() -> None:
    constraints = {
        "region": PartitionConstraint(values=frozenset({"eu-west-1"})),
        "day": PartitionConstraint(values=frozenset({"2024/02/10"})),
    }
    partitions = projected_partitions(projected_table(), constraints, now=NOW)
    assert [(p.values, p.location) for p in partitions] == [
        (("eu-west-1", "2024/02/10"), f"{BASE}/eu-west-1/2024/02/10")
    ]


def test_a_range_enumerates_only_its_days() -> None:
    constraints = {"day": PartitionConstraint(low="2024/02/27", high="2024/03/02")}
    partitions = projected_partitions(projected_table(), constraints, now=NOW)
    days = sorted({p.values[1] for p in partitions})
    assert days == ["2024/02/27", "2024/02/28", "2024/02/29", "2024/03/01"]  # NOW ends the range
    assert len(partitions) == 3 * 4


def test_integer_and_injected_projections() -> None:
    table = projected_table(
        **{
            "projection.region.type": "injected",
            "projection.day.type": "integer",
            "projection.day.range": "1,12",
            "projection.day.digits": "2",
        }
    )
    constraints = {
        "region": PartitionConstraint(values=frozenset({"us-east-1"})),
        "day": PartitionConstraint(low="3", high="5"),
    }
    assert [p.values for p in projected_partitions(table, constraints, now=NOW)] == [
        ("us-east-1", "03"),
        ("us-east-1", "04"),
        ("us-east-1", "05"),
    ]
    with pytest.raises(CatalogError, match="injected"):
        projected_partitions(table, {}, now=NOW)


def test_the_catalog_lists_files_only_for_projected_partitions(lake_settings) -> None:
    catalog = Catalog(lake_settings)
    fs = catalog.settings.filesystem()
    base = catalog.settings.url("trail")
    for region, day in (
        ("us-east-1", "2024/02/10"),
        ("eu-west-1", "2024/02/10"),
        ("eu-west-1", "2024/02/11"),
    ):
        with fs.open(catalog.settings.fs_path(f"{base}/{region}/{day}/file.json"), "wb") as handle:
            handle.write(b'{"Records": []}')
    table = projected_table(**{"storage.location.template": base + "/${region}/${day}"}).replace(
        location=base
    )
    catalog.create_table(table)
    stored = catalog.get_table("default", "trail")
    files = catalog.files(
        stored,
        {
            "region": PartitionConstraint(values=frozenset({"eu-west-1"})),
            "day": PartitionConstraint(values=frozenset({"2024/02/11"})),
        },
    )
    assert [f.path for f in files] == [f"{base}/eu-west-1/2024/02/11/file.json"]
    assert files[0].partition == {"region": "eu-west-1", "day": "2024/02/11"}
