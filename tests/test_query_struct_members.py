"""Struct columns read at the members a statement uses: the values are the catalog's (files
whose nested types drift from it, members a file lacks, names in another case, files that spell
names unlike each other), rows stay aligned with the other columns under filters, partitions and
limits, and a struct used whole (or passed on) is read whole."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from loglake.catalog import Catalog
from loglake.query.engine import Engine

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


def test_files_that_spell_names_unlike_each_other(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # the first file spells every name as the catalog does; the others use another case for a
    # column, a struct column or a struct field, and one goes back to the first spelling
    folder = tmp_path / "cased"
    identity = pl.Struct({"arn": pl.String, "type": pl.String})
    spelled = [
        ("a", {"id": [1], "host": ["a"], "useridentity": [{"arn": "x", "type": "A"}]}),
        ("b", {"id": [2], "Host": ["b"], "UserIdentity": [{"Arn": "y", "type": "B"}]}),
        ("c", {"id": [3], "HOST": ["c"], "useridentity": [{"ARN": "z", "Type": "C"}]}),
        ("d", {"id": [4], "host": ["d"], "useridentity": [{"arn": "w", "type": "D"}]}),
    ]
    for name, columns in spelled:
        _write(folder, f"{name}.parquet", pl.DataFrame(columns))
    engine = Engine(catalog=Catalog(local_settings))
    engine.execute(
        "CREATE EXTERNAL TABLE cased (id bigint, host string, "
        f"useridentity struct<arn:string, type:string>) STORED AS PARQUET LOCATION '{folder}'"
    )
    whole = engine.execute("SELECT id, host, useridentity FROM cased ORDER BY id").df
    assert whole is not None and whole.schema["useridentity"] == identity
    assert whole.rows() == [
        (1, "a", {"arn": "x", "type": "A"}),
        (2, "b", {"arn": "y", "type": "B"}),
        (3, "c", {"arn": "z", "type": "C"}),
        (4, "d", {"arn": "w", "type": "D"}),
    ]
    assert _rows(
        engine, "SELECT useridentity.arn, useridentity.type FROM cased WHERE host <> 'a' ORDER BY 1"
    ) == [("w", "D"), ("y", "B"), ("z", "C")]
    # a file renamed in place (same path, another size) is read with its new names
    _write(folder, "a.parquet", pl.DataFrame({"ID": [1, 5], "HOST": ["a", "e"]}))
    assert _rows(engine, "SELECT id, host FROM cased WHERE id IN (1, 5) ORDER BY id") == [
        (1, "a"),
        (5, "e"),
    ]


def test_partitions_whose_files_spell_names_unlike_each_other(local_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # partitions in folders that do not name them are scanned one by one, the first one's
    # file types told to the next ones of the same spelling
    root = tmp_path / "parts"
    _write(root / "x", "1.parquet", pl.DataFrame({"id": [1], "useridentity": [{"arn": "one"}]}))
    _write(root / "y", "1.parquet", pl.DataFrame({"ID": [2], "UserIdentity": [{"ARN": "two"}]}))
    _write(root / "z", "1.parquet", pl.DataFrame({"id": [3], "useridentity": [{"arn": "three"}]}))
    engine = Engine(catalog=Catalog(local_settings))
    engine.execute(
        "CREATE EXTERNAL TABLE parts (id bigint, useridentity struct<arn:string>) "
        f"PARTITIONED BY (day string) STORED AS PARQUET LOCATION '{root}'"
    )
    engine.execute(
        f"ALTER TABLE parts ADD PARTITION (day='1') LOCATION '{root / 'x'}' "
        f"PARTITION (day='2') LOCATION '{root / 'y'}' PARTITION (day='3') LOCATION '{root / 'z'}'"
    )
    assert _rows(engine, "SELECT id, day, useridentity FROM parts ORDER BY id") == [
        (1, "1", {"arn": "one"}),
        (2, "2", {"arn": "two"}),
        (3, "3", {"arn": "three"}),
    ]
