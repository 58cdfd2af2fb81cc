"""Table definitions rendered for other engines: Athena/Hive DDL, Glue CreateTable input, Spark SQL.

SHOW CREATE TABLE and ``loglake catalog export --format hive`` use the same renderer, so what a
user copies from either runs in Athena and parses back into the same definition here.
"""

from __future__ import annotations

from typing import Any

import orjson

from loglake.catalog.model import Column, TableDefinition, ViewDefinition

PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
HCATALOG_JSON_SERDE = "org.apache.hive.hcatalog.data.JsonSerDe"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"

#: the storage descriptor Glue and Hive expect for each format when the DDL named none
DEFAULT_SERDE: dict[str, dict[str, Any]] = {
    "parquet": {
        "serialization_library": PARQUET_SERDE,
        "input_format": PARQUET_INPUT,
        "output_format": PARQUET_OUTPUT,
    },
    "json": {
        "serialization_library": JSON_SERDE,
        "input_format": TEXT_INPUT,
        "output_format": TEXT_OUTPUT,
    },
    "csv": {
        "serialization_library": LAZY_SIMPLE_SERDE,
        "input_format": TEXT_INPUT,
        "output_format": TEXT_OUTPUT,
    },
    "text": {
        "serialization_library": LAZY_SIMPLE_SERDE,
        "input_format": TEXT_INPUT,
        "output_format": TEXT_OUTPUT,
    },
    "delta": {
        "serialization_library": PARQUET_SERDE,
        "input_format": PARQUET_INPUT,
        "output_format": PARQUET_OUTPUT,
    },
}


def format_from_serde(serde: dict[str, Any], stored_as: str | None) -> str:
    """The table format a Hive storage clause describes."""
    library = (serde.get("serialization_library") or "").lower()
    input_format = (serde.get("input_format") or "").lower()
    stored = (stored_as or "").lower()
    if stored == "parquet" or "parquet" in library or "parquet" in input_format:
        return "parquet"
    if "json" in library or "cloudtrail" in input_format or stored == "json":
        return "json"
    if stored in ("textfile", "csv", "") or "csv" in library or "lazysimple" in library:
        return (
            "csv"
            if (serde.get("parameters") or {}).get("field.delim")
            or "csv" in library
            or stored == "csv"
            else "text"
        )
    return stored


def storage_descriptor(table: TableDefinition) -> dict[str, Any]:
    base = dict(DEFAULT_SERDE.get(table.format, {}))
    base.update({k: v for k, v in table.serde.items() if v})
    base.setdefault("parameters", {})
    return base


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _column_lines(columns: tuple[Column, ...]) -> str:
    lines = []
    for column in columns:
        comment = f" COMMENT {_quote(column.comment)}" if column.comment else ""
        lines.append(f"  `{column.name}` {column.type}{comment}")
    return ",\n".join(lines)


def _properties(properties: dict[str, str]) -> str:
    inner = ",\n".join(f"  {_quote(k)}={_quote(v)}" for k, v in sorted(properties.items()))
    return f"(\n{inner})"


def hive_ddl(table: TableDefinition) -> str:
    """CREATE EXTERNAL TABLE text that Athena accepts for this table."""
    name = f"`{table.database}`.`{table.name}`"
    if table.format == "delta":
        properties = {**table.properties, "table_type": "DELTA"}
        return f"CREATE EXTERNAL TABLE {name}\nLOCATION {_quote(table.location)}\nTBLPROPERTIES {_properties(properties)}"
    descriptor = storage_descriptor(table)
    parts = [f"CREATE EXTERNAL TABLE {name}(\n{_column_lines(table.columns)})"]
    if table.comment:
        parts.append(f"COMMENT {_quote(table.comment)}")
    if table.partition_keys:
        parts.append(f"PARTITIONED BY (\n{_column_lines(table.partition_keys)})")
    parts.append(f"ROW FORMAT SERDE\n  {_quote(descriptor['serialization_library'])}")
    if descriptor["parameters"]:
        parts.append(f"WITH SERDEPROPERTIES {_properties(descriptor['parameters'])}")
    parts.append(
        f"STORED AS INPUTFORMAT\n  {_quote(descriptor['input_format'])}\n"
        f"OUTPUTFORMAT\n  {_quote(descriptor['output_format'])}"
    )
    parts.append(f"LOCATION\n  {_quote(table.location)}")
    if table.properties:
        parts.append(f"TBLPROPERTIES {_properties(table.properties)}")
    return "\n".join(parts)


def view_ddl(view: ViewDefinition) -> str:
    return f"CREATE OR REPLACE VIEW `{view.database}`.`{view.name}` AS\n{view.sql}"


def glue_table_input(table: TableDefinition) -> dict[str, Any]:
    """The ``aws glue create-table --cli-input-json`` document for this table."""
    descriptor = storage_descriptor(table)
    parameters = {
        **table.properties,
        "classification": "parquet" if table.format == "delta" else table.format,
    }
    if table.format == "delta":
        parameters["table_type"] = "DELTA"
        parameters["spark.sql.sources.provider"] = "delta"
    body: dict[str, Any] = {
        "DatabaseName": table.database,
        "TableInput": {
            "Name": table.name,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": parameters,
            "PartitionKeys": [{"Name": c.name, "Type": c.type} for c in table.partition_keys],
            "StorageDescriptor": {
                "Columns": [
                    {
                        "Name": c.name,
                        "Type": c.type,
                        **({"Comment": c.comment} if c.comment else {}),
                    }
                    for c in table.columns
                ],
                "Location": table.location,
                "InputFormat": descriptor["input_format"],
                "OutputFormat": descriptor["output_format"],
                "SerdeInfo": {
                    "SerializationLibrary": descriptor["serialization_library"],
                    "Parameters": dict(descriptor["parameters"]),
                },
            },
        },
    }
    if table.comment:
        body["TableInput"]["Description"] = table.comment
    return body


def spark_ddl(table: TableDefinition) -> str:
    """A Spark SQL statement registering the same data (Delta or a Hive-style datasource)."""
    name = f"`{table.database}`.`{table.name}`"
    location = table.location.replace("s3://", "s3a://", 1)
    if table.format == "delta":
        return f"CREATE TABLE IF NOT EXISTS {name}\nUSING DELTA\nLOCATION '{location}';"
    using = {"parquet": "PARQUET", "json": "JSON", "csv": "CSV", "text": "CSV"}[table.format]
    columns = ",\n".join(f"  `{c.name}` {c.type}" for c in table.all_columns)
    parts = [f"CREATE TABLE IF NOT EXISTS {name} (\n{columns})", f"USING {using}"]
    options = dict(storage_descriptor(table)["parameters"])
    if "field.delim" in options:
        options = {"sep": options.pop("field.delim"), **options}
    if options:
        parts.append(
            "OPTIONS ("
            + ", ".join(f"{_quote(k)} {_quote(v)}" for k, v in sorted(options.items()))
            + ")"
        )
    if table.partition_keys:
        parts.append(
            "PARTITIONED BY (" + ", ".join(f"`{c.name}`" for c in table.partition_keys) + ")"
        )
    parts.append(f"LOCATION '{location}'")
    statement = "\n".join(parts) + ";"
    if table.partition_keys:
        statement += f"\nMSCK REPAIR TABLE {name};"
    return statement


def export_catalog(tables: list[TableDefinition], views: list[ViewDefinition], fmt: str) -> str:
    """All definitions in one format: ``glue`` (JSON lines), ``hive`` or ``spark`` (SQL scripts)."""
    if fmt == "glue":
        return "".join(orjson.dumps(glue_table_input(t)).decode() + "\n" for t in tables)
    if fmt == "hive":
        statements = [hive_ddl(t) for t in tables] + [view_ddl(v) for v in views]
        return ";\n\n".join(statements) + (";\n" if statements else "")
    if fmt == "spark":
        statements = [spark_ddl(t) for t in tables]
        statements += [
            f"CREATE OR REPLACE VIEW `{v.database}`.`{v.name}` AS\n{v.sql};" for v in views
        ]
        return "\n\n".join(statements) + ("\n" if statements else "")
    raise ValueError(f"unknown export format {fmt!r}: use glue, hive or spark")
