"""CloudTrail events that reach S3 through another pipeline: where the event is, what its time is.

AWS writes CloudTrail records with ``eventTime`` at the top of each record. Events that travel
through another pipeline arrive differently: a Logstash/Kafka export renames the time to
``@timestamp`` (the OTRF security datasets), an EventBridge rule delivers each event under
``detail``, a CloudWatch Logs subscription wraps events in ``logEvents`` whose ``message`` is
the event as JSON text, with the log event's ``timestamp`` (epoch milliseconds) beside it.
A :class:`RecordMapping` says where the event sits in each record (``envelope``, a dotted path;
a list on the way gives one event per element, a string is parsed as JSON) and which field holds
its time (``time_field``, looked up in the event, then in each enclosing object outward), so
such files ingest into ``cloudtrail`` without rewriting them first.

A mapping is given to ingest for a source URL (CLI ``--envelope``, ``--time-field``) and kept in
the catalog as the property ``record_mapping.<url>`` of the ``cloudtrail`` table, so later runs,
the watch loop and quarantine retries read the objects under that URL the same way.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from loglake.catalog import Catalog
from loglake.errors import UserError

#: the source whose events a record mapping places, and the table they go to
SOURCE = "cloudtrail"
TABLE = "cloudtrail"
PROPERTY = "record_mapping."
#: an epoch number above this is in milliseconds (1e11 s is the year 5138)
_MILLIS_FROM = 1e11


class Unmapped(ValueError):
    """A record (or one element of a list in it) the mapping cannot place: no event at the
    envelope path, or no time. ``value`` is what could not be placed."""

    def __init__(self, reason: str, value: Any = None):
        super().__init__(reason)
        self.value = value


@dataclass(frozen=True)
class RecordMapping:
    """Where the event is in each record, and which of its fields is the event time."""

    envelope: str | None = None
    time_field: str | None = None

    def __post_init__(self) -> None:
        for name in ("envelope", "time_field"):
            path = getattr(self, name)
            if path is not None and (not path.strip() or any(not p for p in path.split("."))):
                raise UserError(f"{name.replace('_', ' ')} {path!r}: expected a dotted path")

    def __bool__(self) -> bool:
        return bool(self.envelope or self.time_field)

    def to_json(self) -> str:
        return orjson.dumps({"envelope": self.envelope, "time_field": self.time_field}).decode()

    @classmethod
    def from_json(cls, text: str) -> RecordMapping:
        body = orjson.loads(text)
        return cls(body.get("envelope") or None, body.get("time_field") or None)

    def describe(self) -> str:
        parts = [f"envelope {self.envelope}"] if self.envelope else []
        return ", ".join([*parts, f"time field {self.time_field}"] if self.time_field else parts)

    def events(self, record: Any) -> list[dict[str, Any] | Unmapped]:
        """The CloudTrail events one record holds, each with its ``eventTime`` set, in order.
        What cannot be placed (the record, or one element of a list on the way, so that its
        neighbours go on) is an :class:`Unmapped` in its place, naming what is missing."""
        if not isinstance(record, dict):
            return [Unmapped("not a JSON object", record)]
        if record.get("messageType") == "CONTROL_MESSAGE":
            return []  # a CloudWatch Logs health check around no event
        try:
            found = _unwrap(record, self.envelope.split(".") if self.envelope else [], [])
        except Unmapped as error:
            return [Unmapped(str(error), record)]
        out: list[dict[str, Any] | Unmapped] = []
        for event, outer in found:
            if isinstance(event, Unmapped):
                out.append(event)
                continue
            try:
                out.append(self._timed(event, outer))
            except Unmapped as error:
                out.append(Unmapped(str(error), event))
        return out

    def _timed(self, event: dict[str, Any], outer: list[dict[str, Any]]) -> dict[str, Any]:
        if self.time_field is None:
            return event
        path = self.time_field.split(".")
        for scope in [event, *reversed(outer)]:
            value = _at(scope, path)
            if value is not None:
                return {**event, "eventTime": iso_time(value, self.time_field)}
        if event.get("eventTime") is not None:
            return event  # the event carries CloudTrail's own time
        raise Unmapped(f"{self.time_field} missing")


def _at(scope: dict[str, Any], path: list[str]) -> Any:
    value: Any = scope
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _unwrap(
    value: Any, path: list[str], outer: list[dict[str, Any]], walked: str = ""
) -> list[tuple[dict[str, Any] | Unmapped, list[dict[str, Any]]]]:
    """(event, enclosing objects) for each event at ``path`` below ``value``; an element of a
    list that holds none is an ``Unmapped`` in its place."""
    if isinstance(value, str) and walked:
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise Unmapped(f"{walked}: a string that is not JSON") from None
    if isinstance(value, list):
        found: list[tuple[dict[str, Any] | Unmapped, list[dict[str, Any]]]] = []
        for element in value:
            try:
                found.extend(_unwrap(element, path, outer, walked))
            except Unmapped as error:
                found.append((Unmapped(str(error), element), outer))
        return found
    if not isinstance(value, dict):
        what = "null" if value is None else f"a {type(value).__name__}"
        raise Unmapped(f"{walked or 'the record'}: expected an object, got {what}")
    if not path:
        return [(value, outer)]
    key, rest = path[0], path[1:]
    if key not in value:
        raise Unmapped(f"{'.'.join([walked, key]).lstrip('.')} missing")
    return _unwrap(value[key], rest, [*outer, value], ".".join([walked, key]).lstrip("."))


def iso_time(value: Any, field: str) -> str:
    """A time as CloudTrail writes it: ISO-8601 text is kept as it is; an epoch number (seconds,
    or milliseconds as CloudWatch Logs writes them) becomes UTC text with milliseconds."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) >= _MILLIS_FROM else value
        try:
            moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise Unmapped(f"{field} {value!r} is not a time") from None
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    raise Unmapped(f"{field}: expected a time, got {orjson.dumps(value).decode()[:40]}")


def normal_prefix(url: str) -> str:
    """A source URL as object URLs under it start: absolute for folders, no trailing slash."""
    if "://" in url:
        return url.rstrip("/")
    return os.path.abspath(url).rstrip("/") or "/"


def mapping_for(url: str, mappings: Mapping[str, RecordMapping]) -> RecordMapping | None:
    """The mapping of the longest stored prefix that holds the object at ``url``."""
    best: tuple[int, RecordMapping] | None = None
    for prefix, mapping in mappings.items():
        inside = url == prefix or url.startswith(prefix.rstrip("/") + "/")
        if inside and (best is None or len(prefix) > best[0]):
            best = (len(prefix), mapping)
    return best[1] if best else None


def stored_mappings(catalog: Catalog, database: str) -> dict[str, RecordMapping]:
    """The mappings kept in the catalog, by source prefix (empty before the first one)."""
    if not catalog.table_exists(database, TABLE):
        return {}
    properties = catalog.get_table(database, TABLE).properties
    return {
        k[len(PROPERTY) :]: RecordMapping.from_json(v)
        for k, v in properties.items()
        if k.startswith(PROPERTY)
    }


def store_record_mapping(catalog: Catalog, database: str, url: str, mapping: RecordMapping) -> None:
    """Keep (add or replace) the mapping of the objects under ``url``."""
    catalog.set_table_properties(
        database, TABLE, {PROPERTY + normal_prefix(url): mapping.to_json()}
    )
