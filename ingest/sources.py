"""The registry of log sources: their names here, their records in their parser modules.

The names are listed without importing the parsers, so the CLI can offer them as choices at
start-up; the records are loaded on first use. Recognition asks every source in turn: the key
layouts of two sources never overlap (a test checks every sample key against all of them), so
the order only decides how the sources are listed.
"""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the records load on first use: the CLI reads the names at start-up
    from loglake.ingest.layout import Layout
    from loglake.ingest.schemas import TableSpec
    from loglake.ingest.source import Kind, Source

#: every source: each is the module ``loglake.ingest.<name>`` holding ``SOURCE``
SOURCE_NAMES = ("cloudtrail", "vpcflow", "config", "cloudwatch", "route53resolver")
#: the kind of objects that are never data: write probes AWS leaves in buckets, files loglake
#: keeps beside exports
MARKER = "marker"


@functools.cache
def sources() -> dict[str, Source]:
    """Every source's record, by name, in the order of ``SOURCE_NAMES``."""
    out = {}
    for name in SOURCE_NAMES:
        record = importlib.import_module(f"loglake.ingest.{name}").SOURCE
        if record.name != name:
            raise ValueError(f"loglake.ingest.{name} describes source {record.name!r}")
        out[name] = record
    return out


def source(name: str) -> Source:
    return sources()[name]


@functools.cache
def kinds() -> dict[str, Kind]:
    """Every kind of object, of every source, by name (a name given twice is an error)."""
    from loglake.ingest.source import Kind

    out = {MARKER: Kind(MARKER, None)}
    for record in sources().values():
        for kind in record.kinds:
            if kind.name in out:
                raise ValueError(f"kind {kind.name!r} is declared twice")
            out[kind.name] = kind
    return out


def kind_of(name: str) -> Kind:
    return kinds()[name]


@functools.cache
def tables() -> dict[str, TableSpec]:
    """Every destination table, by name."""
    return {spec.name: spec for record in sources().values() for spec in record.tables}


@functools.cache
def _by_table() -> dict[str, Source]:
    return {spec.name: record for record in sources().values() for spec in record.tables}


def source_of_table(table: str) -> Source:
    return _by_table()[table]


def classify(key: str, *, source: str | None = None) -> Layout | None:
    """The layout of an object key, or None when no AWS delivery layout matches.

    ``source`` restricts recognition to one source and lets objects outside any AWS layout
    (files copied out of a bucket) be read as that source.
    """
    from loglake.ingest.layout import Layout, is_marker

    if is_marker(key):
        return Layout(MARKER)
    for record in sources().values():
        layout = record.recognise(key)
        if layout is not None:
            if source in (None, record.name):
                return layout
            return sources()[source].adopt(layout)
    return sources()[source].loose(key) if source else None
