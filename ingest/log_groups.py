"""Log group names for CloudWatch Logs export chunks, which do not carry their group.

An export task writes ``<prefix>/<task id>/<log stream>/000000.gz``: the group is known only to
whoever chose the prefix. A mapping from export prefixes to group names is given to ingest
(``log_groups=``, CLI ``--log-group-prefix PREFIX=GROUP``) and kept in the catalog as properties
``log_group.<prefix>`` of the ``cloudwatch_logs`` table, so later runs and quarantine retries
name the same groups. A prefix matches when its path segments appear in that order, one after
another, in the export's folder (``exportedlogs/web`` matches
``s3://bucket/exportedlogs/web/<task>/<stream>/000000.gz``); the longest matching prefix wins.
"""

from __future__ import annotations

from collections.abc import Mapping

from loglake.catalog import Catalog
from loglake.errors import UserError

TABLE = "cloudwatch_logs"
PROPERTY = "log_group."


def _segments(path: str) -> str:
    return "/" + "/".join(part for part in path.split("/") if part) + "/"


def group_of(url: str, prefixes: Mapping[str, str], default: str | None = None) -> str | None:
    """The log group of the export chunk at ``url`` (``default`` when no prefix matches)."""
    folder = _segments(url.rsplit("/", 3)[0])
    best: tuple[int, str] | None = None
    for prefix, group in prefixes.items():
        segments = _segments(prefix)
        if segments in folder and (best is None or len(segments) > best[0]):
            best = (len(segments), group)
    return best[1] if best else default


def parse_mapping(items: list[str] | None) -> dict[str, str]:
    """``["PREFIX=GROUP", ...]`` (the CLI's form) as a mapping."""
    out = {}
    for item in items or []:
        prefix, sep, group = item.partition("=")
        if not sep or not prefix.strip("/") or not group:
            raise UserError(f"--log-group-prefix {item!r}: expected PREFIX=GROUP")
        out[prefix] = group
    return out


def stored_mapping(catalog: Catalog, database: str) -> dict[str, str]:
    """The prefix -> group mapping kept in the catalog (empty before the first export ingest)."""
    if not catalog.table_exists(database, TABLE):
        return {}
    properties = catalog.get_table(database, TABLE).properties
    return {k[len(PROPERTY) :]: v for k, v in properties.items() if k.startswith(PROPERTY)}


def store_mapping(catalog: Catalog, database: str, mapping: Mapping[str, str]) -> None:
    """Record (add or replace) prefix -> group entries in the ``cloudwatch_logs`` table."""
    for prefix, group in mapping.items():
        if not prefix.strip("/") or not isinstance(group, str) or not group:
            raise UserError(f"log group mapping {prefix!r} -> {group!r}: both must be non-empty")
    wanted = {PROPERTY + prefix: group for prefix, group in mapping.items()}
    catalog.set_table_properties(database, TABLE, wanted)
