"""Who made a resource non-compliant, and when.

A control may name the CloudTrail event itself (a ``cause_event_id`` column: root sign-in,
a stopped trail). Otherwise the cause is found in the Config history of the resource (or of
``cause_resource``): the control is evaluated again just before each earlier configuration item
until the resource is no longer in alarm; the item that started the current streak of alarms is
the change, and the API call that caused it is the event its ``relatedEvents`` names or, when
Config left that empty, the write call of the same account that mentions the resource in the
fifteen minutes before the item was captured.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from loglake.query.tables import Predicate
from loglake.reports.tables import ReportTables, iso_text

#: how far back a change may be captured after the call that caused it (Config's usual delay)
CAPTURE_DELAY = dt.timedelta(minutes=15)
#: earlier configuration items looked at per resource before giving up
MAX_ROUNDS = 8

CAUSE_SCHEMA: dict[str, pl.DataType] = {
    "cause_event_id": pl.String(),
    "cause_event_name": pl.String(),
    "cause_event_source": pl.String(),
    "cause_principal": pl.String(),
    "cause_source_ip": pl.String(),
    "cause_event_time": pl.String(),
    "cause_change_time": pl.String(),
    "cause_note": pl.String(),
}
EVENT_COLUMNS = [
    "eventid",
    "eventname",
    "eventsource",
    "eventtime",
    "sourceipaddress",
    "recipientaccountid",
    "useridentity",
    "requestparameters",
    "responseelements",
    "readonly",
    "errorcode",
]


@dataclass
class Pending:
    """An alarm row whose cause is looked for in a resource's Config history."""

    index: int
    control: str
    resource: str
    account: str
    region: str
    items: list[dict[str, Any]]  # that resource's items at or before as_of, newest first
    position: int = 0  # items[position] is the current candidate cause


Evaluate = Callable[[str, dt.datetime], pl.DataFrame]


def find_causes(
    results: pl.DataFrame,
    tables: ReportTables,
    evaluate: Evaluate,
    config_controls: set[str],
) -> pl.DataFrame:
    """``results`` with the cause columns filled for every ``alarm`` row."""
    rows = results.to_dicts()
    causes: dict[int, dict[str, Any]] = {}
    wanted_events: dict[int, str] = {}
    for i, row in enumerate(rows):
        if row["status"] != "alarm":
            continue
        if row.get("cause_event_id"):
            wanted_events[i] = row["cause_event_id"]
    history = _history(tables)
    pending = []
    for i, row in enumerate(rows):
        if (
            row["status"] != "alarm"
            or i in wanted_events
            or row["control_id"] not in config_controls
        ):
            continue
        target = row.get("cause_resource") or row["resource"]
        items = _items_of(history, target, row["account"])
        if items:
            pending.append(
                Pending(i, row["control_id"], row["resource"], row["account"], row["region"], items)
            )
    changes = _walk(pending, evaluate)
    for i, item, first in changes:
        causes[i] = {
            "cause_change_time": item["configurationitemcapturetime"],
            "cause_note": (
                "in alarm since the resource was first recorded"
                if first
                else "configuration change"
            ),
        }
        related = item.get("relatedevents") or []
        if related:
            wanted_events[i] = related[0]
    events = _events_by_id(tables, sorted(set(wanted_events.values())))
    guesses = _guess_events(
        tables, {i: item for i, item, first in changes if i not in wanted_events and not first}
    )
    for i, event_id in wanted_events.items():
        causes.setdefault(i, {}).update(_event_fields(events.get(event_id), event_id))
    for i, event in guesses.items():
        causes.setdefault(i, {}).update(_event_fields(event, event["eventid"]))
    columns: dict[str, list[Any]] = {name: [] for name in CAUSE_SCHEMA}
    for i in range(len(rows)):
        found = causes.get(i, {})
        for name in CAUSE_SCHEMA:
            columns[name].append(found.get(name))
    return results.drop([c for c in CAUSE_SCHEMA if c in results.columns]).with_columns(
        pl.Series(name, values, dtype=CAUSE_SCHEMA[name]) for name, values in columns.items()
    )


def _history(tables: ReportTables) -> pl.DataFrame:
    try:
        return tables._frame("config_history").collect()
    except Exception:
        return pl.DataFrame()


def _items_of(history: pl.DataFrame, target: str, account: str | None) -> list[dict[str, Any]]:
    if history.is_empty() or not target:
        return []
    match = (pl.col("arn") == target) | (pl.col("resourceid") == target)
    if account:
        match &= pl.col("awsaccountid") == account
    found = history.filter(match)
    if "filetype" in found.columns and (found["filetype"] == "ConfigHistory").any():
        # snapshots repeat the recorded items; the changes are in the history files
        found = found.filter(pl.col("filetype") == "ConfigHistory")
    rows = found.sort(["configurationitemcapturetime", "configurationstateid"]).select(
        "configurationitemcapturetime",
        "configurationitemstatus",
        "configurationstateid",
        "relatedevents",
        "resourceid",
        "resourcename",
        "arn",
        "awsaccountid",
        pl.concat_str(
            [
                pl.col("configuration").fill_null(""),
                pl.col("supplementaryconfiguration").fill_null(""),
            ]
        ).alias("_state"),
    )
    items: list[dict[str, Any]] = []
    for row in rows.to_dicts():  # oldest first; an item that changed nothing is no cause
        if items and items[-1]["_state"] == row["_state"]:
            continue
        items.append(row)
    return items[::-1]


def _walk(pending: list[Pending], evaluate: Evaluate) -> list[tuple[int, dict[str, Any], bool]]:
    """For each pending row: the item that started its current streak of alarms."""
    done: list[tuple[int, dict[str, Any], bool]] = []
    for _ in range(MAX_ROUNDS):
        if not pending:
            break
        by_time: dict[tuple[str, dt.datetime], list[Pending]] = {}
        still: list[Pending] = []
        for p in pending:
            current = p.items[p.position]
            if p.position + 1 >= len(p.items):
                done.append((p.index, current, True))
                continue
            moment = _parse(current["configurationitemcapturetime"]) - dt.timedelta(milliseconds=1)
            by_time.setdefault((p.control, moment), []).append(p)
        for (control, moment), group in by_time.items():
            frame = evaluate(control, moment)
            alarms = (
                {
                    (r["resource"], r["account"], r["region"])
                    for r in frame.filter(pl.col("status") == "alarm")
                    .select("resource", "account", "region")
                    .to_dicts()
                }
                if frame.height
                else set()
            )
            for p in group:
                if (p.resource, p.account, p.region) in alarms:
                    p.position += 1
                    still.append(p)
                else:
                    done.append((p.index, p.items[p.position], False))
        pending = still
    for p in pending:  # still in alarm after MAX_ROUNDS changes: report the oldest looked at
        done.append((p.index, p.items[p.position], False))
    return done


def _parse(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _cloudtrail(
    tables: ReportTables, start: dt.datetime, predicates: list[Predicate]
) -> pl.LazyFrame | None:
    """Events from ``start`` to the run's instant, with each row's file as ``$path``."""
    try:
        db, name = tables._cloudtrail_source()
    except Exception:
        return None
    end = iso_text(tables.as_of)
    bounds = [
        Predicate("day", ">=", (iso_text(start)[:10],)),
        Predicate("day", "<=", (end[:10],)),
        Predicate("eventtime", "<=", (end,)),
        *predicates,
    ]
    scan = tables.base.scan(db, name, bounds, {"$path"})
    return scan.lf.filter(pl.col("eventtime") <= end)


def _events_by_id(
    tables: ReportTables,
    ids: list[str],
    paths: list[str] | None = None,
    start: dt.datetime | None = None,
) -> dict[str, dict[str, Any]]:
    """The events with those ids. Their files are found first from the ``eventid`` column
    alone, so that the wide columns (the ``useridentity`` struct is costly to decode) are read
    from those few files only."""
    if not ids:
        return {}
    start = start or tables.period_start - dt.timedelta(days=366)
    wanted = Predicate("eventid", "in", tuple(ids))
    if paths is None:
        lf = _cloudtrail(tables, start, [wanted])
        if lf is None:
            return {}
        found = lf.filter(pl.col("eventid").is_in(ids)).select("$path").unique().collect()
        paths = found["$path"].to_list()
    if not paths:
        return {}
    lf = _cloudtrail(tables, start, [wanted, Predicate("$path", "in", tuple(sorted(paths)))])
    if lf is None:
        return {}
    frame = lf.filter(pl.col("eventid").is_in(ids)).select(EVENT_COLUMNS).collect()
    return {row["eventid"]: row for row in frame.to_dicts()}


def _guess_events(
    tables: ReportTables, items: dict[int, dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """The write call that most likely caused each item (same account, mentions the resource)."""
    if not items:
        return {}
    times = {i: _parse(item["configurationitemcapturetime"]) for i, item in items.items()}
    start = min(times.values()) - CAPTURE_DELAY
    lf = _cloudtrail(tables, start, [Predicate("eventtime", ">=", (iso_text(start),))])
    if lf is None:
        return {}
    accounts = sorted({str(item["awsaccountid"]) for item in items.values()})
    candidates = (
        lf.filter(
            (pl.col("eventtime") >= iso_text(start))
            & (pl.col("readonly") == "false")
            & pl.col("errorcode").is_null()
            & pl.col("recipientaccountid").is_in(accounts)
        )
        .select(
            "$path",
            "eventid",
            "eventtime",
            "recipientaccountid",
            "requestparameters",
            "responseelements",
        )
        .collect()
    )
    chosen: dict[int, tuple[str, str]] = {}
    for i, item in items.items():
        low, high = iso_text(times[i] - CAPTURE_DELAY), iso_text(times[i])
        needles = [n for n in {item.get("resourceid"), item.get("resourcename")} if n]
        text = pl.concat_str(
            [pl.col("requestparameters").fill_null(""), pl.col("responseelements").fill_null("")]
        )
        mentions = pl.any_horizontal([text.str.contains(n, literal=True) for n in needles])
        found = candidates.filter(
            (pl.col("recipientaccountid") == str(item["awsaccountid"]))
            & pl.col("eventtime").is_between(pl.lit(low), pl.lit(high))
            & mentions
        ).sort("eventtime")
        if found.height:
            chosen[i] = (found["eventid"][-1], found["$path"][-1])
    events = _events_by_id(
        tables,
        sorted({event_id for event_id, _ in chosen.values()}),
        sorted({path for _, path in chosen.values()}),
        start,
    )
    return {i: events[event_id] for i, (event_id, _) in chosen.items() if event_id in events}


def _event_fields(event: dict[str, Any] | None, event_id: str) -> dict[str, Any]:
    if event is None:
        return {"cause_event_id": event_id, "cause_note": "event not in the lake"}
    identity = event.get("useridentity") or {}
    principal = identity.get("arn") or identity.get("principalid") or identity.get("type")
    return {
        "cause_event_id": event["eventid"],
        "cause_event_name": event["eventname"],
        "cause_event_source": event["eventsource"],
        "cause_principal": principal,
        "cause_source_ip": event["sourceipaddress"],
        "cause_event_time": event["eventtime"],
    }


__all__ = ["CAUSE_SCHEMA", "find_causes"]
