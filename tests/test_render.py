"""One renderer for every command: text tables, CSV, JSON lines and Parquet, for every type."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from loglake import render
from loglake.cli import main
from loglake.errors import UserError

NESTED = pl.DataFrame(
    {
        "name": ["a", None],
        "identity": [{"type": "IAMUser", "arn": None, "ctx": {"mfa": "true"}}, None],
        "items": [["x", None, "z"], None],
        "tags": [[{"key": "env", "value": "prod"}, {"key": "team", "value": None}], []],
        "at": [dt.datetime(2024, 5, 6, 1, 2, 3, 456000), None],
        "day": [dt.date(2024, 5, 6), None],
        "n": [1.5, None],
        "flag": [True, None],
    },
    schema_overrides={"tags": pl.List(pl.Struct({"key": pl.String, "value": pl.String}))},
).with_columns(pl.col("tags").cast(pl.Map(pl.String, pl.String)))


def test_nested_values_read_as_in_athena_csv_results() -> None:
    assert render.csv_text(NESTED).splitlines() == [
        "name,identity,items,tags,at,day,n,flag",
        'a,"{type=IAMUser, arn=null, ctx={mfa=true}}","[x, null, z]","{env=prod, team=null}",'
        "2024-05-06 01:02:03.456,2024-05-06,1.5,true",
        ",,,{},,,,",
    ]


def test_json_lines_keep_nesting_and_maps_become_objects() -> None:
    rows = [json.loads(line) for line in render.json_lines(NESTED).splitlines()]
    assert rows[0]["identity"] == {"type": "IAMUser", "arn": None, "ctx": {"mfa": "true"}}
    assert rows[0]["items"] == ["x", None, "z"]
    assert rows[0]["tags"] == {"env": "prod", "team": None}
    assert rows[0]["at"] == "2024-05-06 01:02:03.456"
    assert rows[1] == {
        "name": None,
        "identity": None,
        "items": None,
        "tags": {},
        "at": None,
        "day": None,
        "n": None,
        "flag": None,
    }


def test_parquet_keeps_types_and_maps(tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    render.write_parquet(NESTED, str(out))
    schema = pq.read_schema(out)
    assert str(schema.field("tags").type).startswith("map<large_string, large_string")
    assert schema.field("identity").type.num_fields == 3
    back = pq.read_table(out).to_pylist()
    assert back[0]["tags"] == [("env", "prod"), ("team", None)]
    assert back[0]["at"] == dt.datetime(2024, 5, 6, 1, 2, 3, 456000)


def test_table_text_shows_field_names_counts_rows_and_cuts_cells() -> None:
    frame = pl.DataFrame({"n": range(250), "text": ["y" * 100] * 250})
    lines = render.table_text(frame).splitlines()
    assert lines[0] == "| n   | text" + " " * 76 + " |"
    assert lines[2] == "| 0   | " + "y" * 77 + "... |"
    assert len(lines) == 2 + render.SCREEN_ROWS + 1
    assert lines[-1] == "(showing 200 of 250 rows; --wide shows them all, -o FILE saves them)"
    wide = render.table_text(frame, wide=True).splitlines()
    assert len(wide) == 2 + 250 and wide[2] == "| 0   | " + "y" * 100 + " |"
    nested = render.table_text(NESTED).splitlines()
    assert "{type=IAMUser, arn=null, ctx={mfa=true}}" in nested[2]
    assert render.table_text(frame.clear()).splitlines()[-1] == "(no rows)"


def test_output_format_comes_from_the_extension() -> None:
    assert render.output_format(None, "out.csv") == "csv"
    assert render.output_format(None, "out.JSONL") == "json"
    assert render.output_format(None, "out.parquet") == "parquet"
    assert render.output_format("json", "out.csv") == "json"
    assert render.output_format(None, None) == "table"
    with pytest.raises(UserError, match=r"cannot tell the format of out\.xyz"):
        render.output_format(None, "out.xyz")


def test_select_star_from_every_aws_table_in_every_format(
    generated_lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import loglake

    lake = loglake.connect(str(generated_lake))
    root = str(generated_lake)
    for table in lake.tables("aws"):
        expected = lake.sql(f"SELECT * FROM aws.{table}")
        sql = f"SELECT * FROM aws.{table}"
        capsys.readouterr()

        assert main(["--lake", root, "query", sql, "--wide", "-q"]) == 0
        shown = capsys.readouterr().out.splitlines()
        assert len(shown) == 2 + expected.height, table
        assert shown[0].split("|")[1].strip() == expected.columns[0]

        csv_file = tmp_path / f"{table}.csv"
        assert main(["--lake", root, "query", sql, "-o", str(csv_file)]) == 0
        from_csv = pl.read_csv(csv_file, infer_schema=False)
        assert from_csv.columns == expected.columns and from_csv.height == expected.height

        assert main(["--lake", root, "query", sql, "--format", "json", "-q"]) == 0
        rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert len(rows) == expected.height and list(rows[0]) == expected.columns

        parquet_file = tmp_path / f"{table}.parquet"
        assert main(["--lake", root, "query", sql, "-o", str(parquet_file)]) == 0
        back = pl.read_parquet(parquet_file)
        assert back.columns == expected.columns and back.height == expected.height
        arrow = pq.read_schema(parquet_file)
        for column, dtype in expected.schema.items():
            if dtype.is_nested():
                _check_nested(
                    dtype,
                    from_csv[column].drop_nulls().to_list(),
                    [r[column] for r in rows if r[column] is not None],
                    arrow.field(column).type,
                    (table, column),
                )

        if table == "cloudtrail":
            identity = from_csv["useridentity"].drop_nulls()[0]
            assert identity.startswith("{type=") and ", arn=arn:aws:" in identity
            assert isinstance(rows[0]["useridentity"], dict)
        if table == "aws_config_configuration_snapshot":
            items = [i for r in rows for i in r["configurationitems"]]
            assert any(isinstance(i["tags"], dict) and i["tags"] for i in items)
            arrow = pq.read_schema(parquet_file).field("configurationitems").type
            assert "map<" in str(arrow.value_type.field("tags").type)


def _check_nested(
    dtype: pl.DataType, texts: list[str], values: list, arrow: pa.DataType, where: tuple
) -> None:
    """One nested column in every format: Athena's text in CSV (``{k=v}``, ``[a, b]``), the same
    nesting in JSON, the same kind of type in Parquet."""
    assert len(texts) == len(values), where  # null in one format is null in the other
    if isinstance(dtype, pl.Struct):
        assert pa.types.is_struct(arrow), where
        names = [f.name for f in dtype.fields]
        assert all(t.startswith(f"{{{names[0]}=") and t.endswith("}") for t in texts), where
        assert all(isinstance(v, dict) and list(v) == names for v in values), where
    elif isinstance(dtype, pl.Map):
        assert pa.types.is_map(arrow), where
        assert all(t == "{}" or (t[0] == "{" and t[-1] == "}" and "=" in t) for t in texts), where
        assert all(isinstance(v, dict) for v in values), where
    else:
        assert pa.types.is_list(arrow) or pa.types.is_large_list(arrow), where
        inner = dtype.inner  # type: ignore[attr-defined]
        first = f"[{{{inner.fields[0].name}=" if isinstance(inner, pl.Struct) else "["
        assert all(t == "[]" or (t.startswith(first) and t[-1] == "]") for t in texts), where
        assert all(isinstance(v, list) for v in values), where
