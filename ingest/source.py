"""The record that describes one log source: how its objects are recognised, parsed and stored.

Every source (CloudTrail, VPC flow logs, Config, CloudWatch Logs, Route 53 Resolver query logs)
is one parser module holding one ``SOURCE = Source(...)``; ``loglake.ingest.sources`` lists the
modules, and discovery, the runner, coverage, quarantine retry and the CLI read the records from
there. Adding a source is writing its module and adding its name to that list.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from loglake.ingest.layout import Layout
from loglake.ingest.raw import Parsed, RawObject
from loglake.ingest.schemas import TableSpec

#: a source's parser: the objects of one batch (all bound for ``table``), the run's options
#: (``log_group``, ``log_groups``, ...) -> rows per table, bad records, rows per object
Parser = Callable[[list[RawObject], str, Mapping[str, Any]], Parsed]
#: a recogniser: an object key -> its layout, or None when the key is not in this source's layouts
Recogniser = Callable[[str], "Layout | None"]


@dataclass(frozen=True)
class Kind:
    """One kind of object a source delivers and the table its rows go to (None: not data)."""

    name: str
    table: str | None
    #: the object is one gzip stream: inflated while it is fetched, overlapping with parsing
    #: (Firehose objects are gzip members the parser splits itself)
    whole_gzip: bool = True
    source: str = ""


def _no_layout(key: str) -> Layout | None:
    return None


def _adopts_none(layout: Layout) -> Layout | None:
    return None


@dataclass(frozen=True)
class Source:
    """Everything loglake knows of one log source, in one place.

    ``recognise`` reads the AWS delivery layouts of its keys; ``loose`` reads a key outside any
    layout when a run names this source (``--source``), e.g. files copied out of a bucket.
    ``adopt`` reads a layout another source recognised when a run names this source (CloudTrail
    events that CloudWatch Logs delivered to S3). ``views`` are created beside the tables (view
    name -> SQL for a database); ``guide_views`` in the database ``athena``, named and typed as
    AWS's Athena guides name and type the source's table, so that a documented query runs word
    for word there. ``docs`` is the section of the documentation that describes the source.
    ``hourly``: an active account and region delivers every hour (CloudTrail, VPC flow logs),
    so an hour without a delivery between hours with some is a gap worth reporting; sources
    that deliver only when something changed or was forwarded (Config history, CloudWatch Logs)
    have quiet hours that are not gaps.
    """

    name: str
    title: str
    kinds: tuple[Kind, ...]
    tables: tuple[TableSpec, ...]
    recognise: Recogniser
    parse: Parser
    docs: str
    loose: Recogniser = _no_layout
    adopt: Callable[[Layout], Layout | None] = _adopts_none
    views: Mapping[str, Callable[[str], str]] = field(default_factory=dict)
    guide_views: Mapping[str, Callable[[str], str]] = field(default_factory=dict)
    hourly: bool = True

    def __post_init__(self) -> None:
        tables = {t.name for t in self.tables}
        for kind in self.kinds:
            if kind.table is not None and kind.table not in tables:
                raise ValueError(f"source {self.name}: kind {kind.name} names no table of it")
        # each kind knows its source, so a layout's kind leads back to the record
        object.__setattr__(
            self,
            "kinds",
            tuple(Kind(k.name, k.table, k.whole_gzip, self.name) for k in self.kinds),
        )
