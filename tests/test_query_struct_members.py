"""Struct columns read only at the members a statement uses: the values are the catalog's
(files whose nested types drift from it, members a file lacks, names in another case), rows
stay aligned with the other columns under filters, partitions and limits,
and a struct used whole (or passed on) is read whole."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import sqlglot
from sqlglot.optimizer.qualify import qualify

from loglake.catalog import Catalog
from loglake.query.engine import Engine
from loglake.query.struct_reads import member_paths

IDENTITY = (
    "useridentity struct<type:string, arn:string, accountid:bigint, "
    "sessioncontext:struct<sessionissuer:struct<username:string>, "
    "attributes:struct<mfaauthenticated:string>>>"
)


def _write(folder: Path, name: str, frame: pl.DataFrame) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(folder / name)


def _drifted(folder: Path) -> None:
    """Three files with names in another case than the catalog's: a narrower number, an extra
    member and no ``attributes``; every member, in other places; no ``useridentity`` at all."""
    _write(
        folder,
        "a.parquet",
        pl.DataFrame(
            {
                "id": [1, 2, 3],
                "errorcode": [None, "AccessDenied", "AccessDenied"],
                "userIdentity": [
                    {
                        "Arn": "arn:a",
                        "type": "IAMUser",
                        "accountId": 11,
                        "sessionContext": {"sessionIssuer": {"userName": "ops"}},
                        "extra": 1,
                    },
                    None,
                    {
                        "Arn": "arn:b",
                        "type": "Root",
                        "accountId": None,
                        "sessionContext": None,
                        "extra": 2,
                    },
                ],
            },
            schema_overrides={
                "userIdentity": pl.Struct(
                    {
                        "Arn": pl.String,
                        "type": pl.String,
                        "accountId": pl.Int32,
                        "sessionContext": pl.Struct(
                            {"sessionIssuer": pl.Struct({"userName": pl.String})}
                        ),
                        "extra": pl.Int8,
                    }
                )
            },
        ),
    )
    _write(
        folder,
        "b.parquet",
        pl.DataFrame(
            {
                "id": [4, 5],
                "errorcode": ["Throttling", None],
                "userIdentity": [
                    {
                        "type": "AssumedRole",
                        "Arn": "arn:c",
                        "accountId": 12,
                        "sessionContext": {
                            "sessionIssuer": {"userName": "deploy"},
                            "attributes": {"mfaAuthenticated": "true"},
                        },
                    },
                    {
                        "type": "AssumedRole",
                        "Arn": "arn:c",
                        "accountId": 12,
                        "sessionContext": {
                            "sessionIssuer": None,
                            "attributes": {"mfaAuthenticated": "false"},
                        },
                    },
                ],
            },
            schema_overrides={
                "userIdentity": pl.Struct(
                    {
                        "type": pl.String,
                        "Arn": pl.String,
                        "accountId": pl.Int32,
                        "sessionContext": pl.Struct(
                            {
                                "sessionIssuer": pl.Struct({"userName": pl.String}),
                                "attributes": pl.Struct({"mfaAuthenticated": pl.String}),
                            }
                        ),
                    }
                )
            },
        ),
    )
    _write(folder, "c.parquet", pl.DataFrame({"id": [6], "errorcode": ["AccessDenied"]}))


def _engine(local_settings, folder: Path) -> Engine:  # type: ignore[no-untyped-def]
    _drifted(folder)
    engine = Engine(catalog=Catalog(local_settings))
    engine.execute(
        f"CREATE EXTERNAL TABLE trail (id bigint, errorcode string, {IDENTITY}) "
        f"STORED AS PARQUET LOCATION '{folder}'"
    )
    return engine


def _rows(engine: Engine, sql: str) -> list[tuple]:
    df = engine.execute(sql).df
    assert df is not None
    return df.rows()


def test_members_of_drifted_files_read_by_name_and_as_the_catalogs_types(
    local_settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    engine = _engine(local_settings, tmp_path / "trail")
    members = _rows(
        engine,
        "SELECT id, useridentity.arn, useridentity.accountid, "
        "useridentity.sessioncontext.sessionissuer.username, "
        "useridentity.sessioncontext.attributes.mfaauthenticated FROM trail ORDER BY id",
    )
    assert members == [
        (1, "arn:a", 11, "ops", None),
        (2, None, None, None, None),
        (3, "arn:b", None, None, None),
        (4, "arn:c", 12, "deploy", "true"),
        (5, "arn:c", 12, None, "false"),
        (6, None, None, None, None),
    ]


def test_a_struct_member_is_read_whole_with_the_catalogs_type(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = _engine(local_settings, tmp_path / "trail")
    df = engine.execute(
        "SELECT id, useridentity.sessioncontext AS context FROM trail WHERE id IN (1, 4) "
        "ORDER BY id"
    ).df
    assert df is not None
    assert df.schema["context"] == pl.Struct(
        {
            "sessionissuer": pl.Struct({"username": pl.String}),
            "attributes": pl.Struct({"mfaauthenticated": pl.String}),
        }
    )
    assert df.rows() == [
        (1, {"sessionissuer": {"username": "ops"}, "attributes": None}),
        (4, {"sessionissuer": {"username": "deploy"}, "attributes": {"mfaauthenticated": "true"}}),
    ]


def test_members_stay_aligned_with_filters_groups_and_limits(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    engine = _engine(local_settings, tmp_path / "trail")
    assert _rows(
        engine,
        "SELECT useridentity.arn AS principal, errorcode, count(*) AS calls FROM trail "
        "WHERE errorcode IS NOT NULL GROUP BY 1, 2 ORDER BY 1 NULLS FIRST, 2",
    ) == [(None, "AccessDenied", 2), ("arn:b", "AccessDenied", 1), ("arn:c", "Throttling", 1)]
    assert _rows(
        engine, "SELECT id FROM trail WHERE useridentity.type = 'AssumedRole' ORDER BY id"
    ) == [(4,), (5,)]
    assert _rows(
        engine,
        "SELECT id, useridentity.arn FROM trail WHERE useridentity.sessioncontext.attributes"
        ".mfaauthenticated = 'false' OR errorcode = 'AccessDenied' ORDER BY id",
    ) == [(2, None), (3, "arn:b"), (5, "arn:c"), (6, None)]
    limited = _rows(engine, "SELECT id, useridentity.arn FROM trail LIMIT 4")
    expected = {1: "arn:a", 2: None, 3: "arn:b", 4: "arn:c", 5: "arn:c", 6: None}
    assert len(limited) == 4 and all(expected[i] == arn for i, arn in limited)
    # a self-join reads the members both sides use
    assert _rows(
        engine,
        "SELECT a.id, b.id FROM trail a JOIN trail b ON a.useridentity.arn = b.useridentity.arn "
        "AND a.id < b.id",
    ) == [(4, 5)]


def test_members_of_a_partitioned_table_in_folders_of_its_own(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # partitions registered at folders that do not name them: read per partition, so the
    # members must come back in that order too
    root = tmp_path / "spread"
    _write(
        root / "x",
        "1.parquet",
        pl.DataFrame({"id": [1, 2], "useridentity": [{"arn": "one"}, {"arn": "two"}]}),
    )
    _write(root / "y", "1.parquet", pl.DataFrame({"id": [3], "useridentity": [{"arn": "three"}]}))
    _write(root / "x", "2.parquet", pl.DataFrame({"id": [4], "useridentity": [{"arn": "four"}]}))
    engine = Engine(catalog=Catalog(local_settings))
    engine.execute(
        "CREATE EXTERNAL TABLE spread (id bigint, useridentity struct<arn:string, type:string>) "
        f"PARTITIONED BY (day string) STORED AS PARQUET LOCATION '{root}'"
    )
    engine.execute(
        f"ALTER TABLE spread ADD PARTITION (day='2024-01-02') LOCATION '{root / 'y'}' "
        f"PARTITION (day='2024-01-01') LOCATION '{root / 'x'}'"
    )
    assert _rows(
        engine, "SELECT id, day, useridentity.arn, \"$path\" LIKE '%/x/%' FROM spread ORDER BY id"
    ) == [
        (1, "2024-01-01", "one", True),
        (2, "2024-01-01", "two", True),
        (3, "2024-01-02", "three", False),
        (4, "2024-01-01", "four", True),
    ]
    assert _rows(engine, "SELECT id FROM spread WHERE useridentity.arn = 'four'") == [(4,)]


def _members(sql: str) -> dict[str, frozenset[tuple[str, ...]]]:
    schema = {
        "trail": {
            "id": "BIGINT",
            "useridentity": "STRUCT<arn STRING, sessioncontext STRUCT<a STRING, b STRING>>",
            "resources": "ARRAY<STRUCT<arn STRING>>",
        }
    }
    tree = qualify(sqlglot.parse_one(sql, read="athena"), schema=schema, dialect="athena")
    polars_schema = pl.Schema(
        {
            "id": pl.Int64,
            "useridentity": pl.Struct(
                {"arn": pl.String, "sessioncontext": pl.Struct({"a": pl.String, "b": pl.String})}
            ),
            "resources": pl.List(pl.Struct({"arn": pl.String})),
        }
    )
    return member_paths(tree, polars_schema)


def test_which_struct_columns_a_statement_reads_only_through_members() -> None:
    assert _members(
        "SELECT useridentity.arn, count(*) FROM trail "
        "WHERE useridentity.sessioncontext.a = 'x' GROUP BY 1"
    ) == {"useridentity": frozenset({("arn",), ("sessioncontext", "a")})}
    assert _members("SELECT t.useridentity.sessioncontext FROM trail t") == {
        "useridentity": frozenset({("sessioncontext",)})
    }
    # read whole: selected as it is, passed to a function, in a star the qualifier kept
    assert _members("SELECT useridentity.arn, useridentity FROM trail") == {}
    assert _members("SELECT useridentity.arn, to_json(CAST(useridentity AS JSON)) FROM trail") == {}
    assert _members("SELECT * FROM trail") == {}
    assert _members("SELECT id FROM trail") == {}
