"""Reading only the members of struct columns that a statement uses.

Polars decodes every leaf of a struct column it reads from Parquet: ``useridentity.arn`` costs
the 34 leaves of CloudTrail's ``useridentity`` (about 0.9 s per million rows, where the one
leaf costs 0.02 s). When a statement reads a table's struct columns only through member access
(``useridentity.arn``, ``useridentity.sessioncontext.sessionissuer``), :func:`member_paths`
names the members, and :func:`member_scan` reads the table's Parquet files with only those
leaves decoded (Parquet's own nested column selection); the members not read are null, which
the statement never sees. Values keep the catalog's types: struct fields are matched by name
(regardless of case) and members a file lacks are null, as the catalog scan does for them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from sqlglot import exp

#: per struct column, the member paths a statement reads (lower case); () reads it whole
MemberPaths = Mapping[str, frozenset[tuple[str, ...]]]


def member_paths(root: exp.Expr, schema: pl.Schema) -> dict[str, frozenset[tuple[str, ...]]]:
    """The struct columns of ``schema`` that the (qualified) statement reads only through member
    access, each with the member paths it reads.

    Conservative: a struct column whose name appears anywhere else in the statement (read whole,
    passed to a function, a name this analysis does not place) is left out, so it is read whole.
    """
    structs = {c.lower(): c for c, t in schema.items() if isinstance(t, pl.Struct)}
    if not structs:
        return {}
    for star in root.find_all(exp.Star):
        if not isinstance(star.parent, exp.Count):
            return {}  # a star the qualifier left in place: every column is read whole
    mentions: dict[str, int] = {}
    for ident in root.find_all(exp.Identifier):
        name = ident.name.lower()
        if name in structs:
            mentions[name] = mentions.get(name, 0) + 1
    paths: dict[str, set[tuple[str, ...]]] = {}
    placed: dict[str, int] = {}
    for column in root.find_all(exp.Column):
        name = column.name.lower()
        if name not in structs or column.args.get("this") is None:
            continue
        placed[name] = placed.get(name, 0) + 1
        path: list[str] = []
        node: exp.Expression = column
        while isinstance(node.parent, exp.Dot) and node.parent.this is node:
            node = node.parent
            path.append(node.expression.name.lower())
        paths.setdefault(name, set()).add(tuple(path))
    return {
        structs[name]: frozenset(found)
        for name, found in paths.items()
        if () not in found and placed[name] == mentions.get(name)
    }


def member_scan(
    paths: Sequence[str],
    schema: pl.Schema,
    members: MemberPaths,
    open_file: Any,
) -> pl.LazyFrame:
    """The rows of Parquet ``paths`` as ``schema``'s columns, reading of each struct column in
    ``members`` only the listed member paths: its type is narrowed to them (see
    :func:`narrowed`), as the statement reads nothing else of it.

    ``open_file`` opens a path for reading. Polars still chooses the columns (projection
    pushdown) and applies the statement's filters to the batches.
    """
    read = pl.Schema(
        {
            c: narrowed(t, members[c]) if c in members and isinstance(t, pl.Struct) else t
            for c, t in schema.items()
        }
    )
    target = pl.DataFrame(schema=read).to_arrow().schema

    def batches(with_columns: list[str] | None, n_rows: int | None) -> Iterator[pl.DataFrame]:
        names = list(schema) if with_columns is None else with_columns
        left = n_rows
        for path in paths:
            with open_file(path) as handle:
                parquet = pq.ParquetFile(handle)
                found = parquet.schema_arrow
                selection = _selection(names, found, members)
                # text members read as dictionaries and decoded after: decoding the text of
                # every row of a nested column costs about twice as much
                texts = [c for c in selection if _is_text(_leaf(found, c))]
                if texts:
                    parquet = pq.ParquetFile(
                        handle, metadata=parquet.metadata, read_dictionary=texts
                    )
                for group in range(parquet.num_row_groups):
                    if left is not None and left <= 0:
                        return
                    table = parquet.read_row_group(group, columns=selection)
                    rows = table.num_rows
                    columns = [
                        _column(table, name, target.field(name).type, members) for name in names
                    ]
                    frame = pl.from_arrow(pa.Table.from_arrays(columns, names=names))
                    assert isinstance(frame, pl.DataFrame)
                    if left is not None:
                        frame = frame.head(left)
                        left -= rows
                    yield frame

    def scan_fn(
        with_columns: list[str] | None, predicate: Any, n_rows: int | None, batch_size: Any
    ) -> tuple[Iterator[pl.DataFrame], bool]:
        # False: the filter is not applied here; Polars applies it to the batches
        return batches(with_columns, n_rows), False

    # the private form of register_io_source: it lets the filter stay with Polars
    return pl.LazyFrame._scan_python_function(dict(read), scan_fn, is_pure=True)


def narrowed(dtype: pl.Struct, wanted: frozenset[tuple[str, ...]]) -> pl.Struct:
    """The struct type of only the ``wanted`` members (what :func:`member_scan` reads)."""
    fields = []
    for field in dtype.fields:
        inner = _below(wanted, field.name.lower())
        if inner is None:
            continue
        if inner and isinstance(field.dtype, pl.Struct):
            fields.append(pl.Field(field.name, narrowed(field.dtype, inner)))
        else:
            fields.append(field)
    return pl.Struct(fields)


def _selection(names: list[str], found: pa.Schema, members: MemberPaths) -> list[str]:
    """Parquet column names to read: whole columns, or dotted paths of struct members."""
    lower = {n.lower(): n for n in found.names}
    out: list[str] = []
    for name in names:
        file_name = name if name in found.names else lower.get(name.lower())
        if file_name is None:
            continue
        wanted = members.get(name)
        if wanted is None or "." in file_name:
            out.append(file_name)
            continue
        for member in sorted(wanted):
            if any(member[:i] in wanted for i in range(1, len(member))):
                continue  # read with the member that holds it
            dotted = _dotted(found.field(file_name).type, member)
            if dotted:
                out.append(".".join([file_name, *dotted]))
    return out


def _leaf(schema: pa.Schema, dotted: str) -> pa.DataType | None:
    """The type of a column named by its dotted path (None for a whole top-level column)."""
    top, *rest = dotted.split(".")
    if not rest:
        return None
    dtype = schema.field(top).type
    for step in rest:
        dtype = dtype.field(dtype.get_field_index(step)).type
    return dtype


def _is_text(dtype: pa.DataType | None) -> bool:
    return dtype is not None and (pa.types.is_string(dtype) or pa.types.is_large_string(dtype))


def _dotted(dtype: pa.DataType, member: tuple[str, ...]) -> list[str] | None:
    """The file's names along a member path (None when the file lacks a step of it)."""
    names: list[str] = []
    for step in member:
        if not pa.types.is_struct(dtype):
            return names or None  # a path into a non-struct: read what holds it
        fields = {dtype.field(i).name.lower(): dtype.field(i) for i in range(dtype.num_fields)}
        field = fields.get(step)
        if field is None or "." in field.name:
            return None if field is None else names or None
        names.append(field.name)
        dtype = field.type
    return names


def _column(
    table: pa.Table,
    name: str,
    target: pa.DataType,
    members: MemberPaths,
) -> pa.Array:
    rows = table.num_rows
    lower = {n.lower(): n for n in table.column_names}
    file_name = name if name in table.column_names else lower.get(name.lower())
    if file_name is None:
        return pa.nulls(rows, target)
    array = table.column(file_name).combine_chunks()
    return _conform(array, target, members.get(name))


def _conform(
    array: pa.Array, target: pa.DataType, wanted: frozenset[tuple[str, ...]] | None
) -> pa.Array:
    """A file's values as the catalog's type: struct fields by name (null where the file lacks
    them), other values cast where their types differ; ``wanted`` members only, when given."""
    if pa.types.is_struct(target) and pa.types.is_struct(array.type):
        fields = {array.type.field(i).name.lower(): i for i in range(array.type.num_fields)}
        children = []
        for i in range(target.num_fields):
            field = target.field(i)
            inner = _below(wanted, field.name.lower())
            index = fields.get(field.name.lower())
            if index is None or (wanted is not None and inner is None):
                children.append(pa.nulls(len(array), field.type))
            else:
                child = pc.struct_field(array, [index])  # null where the struct is null
                children.append(_conform(child, field.type, inner or None))
        return pa.StructArray.from_arrays(
            children,
            fields=[pa.field(f.name, c.type) for f, c in zip(target, children, strict=True)],
            mask=array.is_null(),
        )
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if _same(array.type, target):
        return array
    return array.cast(target)


def _below(
    wanted: frozenset[tuple[str, ...]] | None, name: str
) -> frozenset[tuple[str, ...]] | None:
    """The paths under member ``name`` (empty: all of it; None: none of it)."""
    if wanted is None:
        return frozenset()
    inner = {p[1:] for p in wanted if p[0] == name}
    if not inner:
        return None
    return frozenset() if () in inner else frozenset(inner)


def _same(have: pa.DataType, want: pa.DataType) -> bool:
    """Whether Polars reads both types as the same type (text of any width is its String)."""
    if have == want:
        return True
    text = (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
    if any(t(have) for t in text) and any(t(want) for t in text):
        return True
    binary = (pa.types.is_binary, pa.types.is_large_binary, pa.types.is_binary_view)
    if any(t(have) for t in binary) and any(t(want) for t in binary):
        return True
    nested = (pa.types.is_list, pa.types.is_large_list, pa.types.is_list_view)
    if any(t(have) for t in nested) and any(t(want) for t in nested):
        return _same(have.value_type, want.value_type)
    if pa.types.is_map(have) and pa.types.is_map(want):
        return _same(have.key_type, want.key_type) and _same(have.item_type, want.item_type)
    if pa.types.is_struct(have) and pa.types.is_struct(want):
        return have.num_fields == want.num_fields and all(
            have.field(i).name == want.field(i).name
            and _same(have.field(i).type, want.field(i).type)
            for i in range(have.num_fields)
        )
    return False
