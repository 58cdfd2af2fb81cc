"""First-seen and rare behaviour: what an entity did in a window that it never did before.

Both questions are plain SQL with ``?`` parameters (``FIRST_SEEN_SQL``, ``RARE_CALLS_SQL``) over
the actors table (CloudTrail events with their identity as plain columns, see ``actors.py``), so
a notebook can run them with ``lake.sql(sql, params)`` or adapt them; the functions here only
fill in the parameters.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl

from loglake.errors import UserError
from loglake.query.engine import Engine

#: how far back "never seen before" looks by default
BASELINE = timedelta(days=30)
#: a call made at most this many times in the account (baseline and window) is rare
RARE_AT_MOST = 5

#: the entity tests over the actors table (``_investigate.actors``: identity as plain columns)
ENTITY_CONDITIONS = {
    "principal": "(arn = ? OR issuer_arn = ?)",
    "access_key": "accesskeyid = ?",
    "ip": "sourceipaddress = ?",
}
ACTORS = '"_investigate"."actors"'

#: Parameters: window start, the entity (one value, twice for a principal), baseline start, the
#: days of the baseline start and the window end (partition pruning), window end.
FIRST_SEEN_SQL = """
WITH events AS (
  SELECT eventid, eventtime, eventsource, eventname, sourceipaddress, useragent, awsregion,
         CASE WHEN eventtime >= ? THEN 1 ELSE 0 END AS in_window
  FROM {table}
  WHERE {entity} AND eventtime >= ? AND day >= ? AND day <= ? AND eventtime < ?
),
attributes AS (
  SELECT 'api_call' AS attribute, eventsource || ' ' || eventname AS value, eventid, eventtime,
         in_window FROM events
  UNION ALL
  SELECT 'service', eventsource, eventid, eventtime, in_window FROM events
  UNION ALL
  SELECT 'source_ip', sourceipaddress, eventid, eventtime, in_window FROM events
  UNION ALL
  SELECT 'user_agent', useragent, eventid, eventtime, in_window FROM events
  UNION ALL
  SELECT 'region', awsregion, eventid, eventtime, in_window FROM events
)
SELECT attribute, value, min(eventtime) AS first_seen, count(*) AS events,
       min_by(eventid, eventtime) AS first_event_id
FROM attributes
WHERE value IS NOT NULL
GROUP BY attribute, value
HAVING min(in_window) = 1
ORDER BY first_seen, attribute, value
"""

#: Parameters: the account ids (one ``?`` each), baseline start, its day, the window end's day,
#: window end, the rarity bound; then the entity's calls in the window are joined in Python.
RARE_CALLS_SQL = """
SELECT eventsource, eventname, count(*) AS calls_in_account
FROM {table}
WHERE recipientaccountid IN ({accounts}) AND eventtime >= ? AND day >= ? AND day <= ?
  AND eventtime < ?
GROUP BY eventsource, eventname
HAVING count(*) <= ?
"""


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _history(start: datetime, end: datetime, baseline: timedelta) -> list[Any]:
    """Baseline start, its day, the window end's day and the window end: the parameters both
    queries use to bound what they read."""
    since = start - baseline
    return [
        _iso(since),
        since.strftime("%Y-%m-%d"),
        end.astimezone(UTC).strftime("%Y-%m-%d"),
        _iso(end),
    ]


def first_seen(
    engine: Engine,
    kind: str,
    value: str,
    start: datetime,
    end: datetime,
    *,
    baseline: timedelta = BASELINE,
    table: str = ACTORS,
) -> pl.DataFrame:
    """API calls, services, addresses, user agents and regions an entity used in [start, end)
    and never in the baseline before ``start``."""
    if kind not in ENTITY_CONDITIONS:
        raise UserError(f"first-seen works for a principal, access key or ip, not {kind!r}")
    if end <= start:
        raise UserError("the window ends before it starts")
    entity_params = [value, value] if kind == "principal" else [value]
    params: list[Any] = [_iso(start), *entity_params, *_history(start, end, baseline)]
    sql = FIRST_SEEN_SQL.format(table=table, entity=ENTITY_CONDITIONS[kind])
    df = engine.execute(sql, params).df
    assert df is not None
    return df


def rare_calls(
    engine: Engine,
    kind: str,
    value: str,
    start: datetime,
    end: datetime,
    *,
    baseline: timedelta = BASELINE,
    at_most: int = RARE_AT_MOST,
    table: str = ACTORS,
) -> pl.DataFrame:
    """The entity's calls in [start, end) that the whole account made at most ``at_most`` times
    over the baseline and the window."""
    mine = first_seen_calls(engine, kind, value, start, end, table=table)
    if mine.height == 0:
        return mine.with_columns(pl.lit(None, dtype=pl.Int64).alias("calls_in_account"))
    accounts = sorted(set(mine["account"].drop_nulls().to_list()))
    sql = RARE_CALLS_SQL.format(table=table, accounts=", ".join("?" for _ in accounts))
    params: list[Any] = [*accounts, *_history(start, end, baseline), at_most]
    rare = engine.execute(sql, params).df
    assert rare is not None
    return mine.join(rare, on=["eventsource", "eventname"], how="inner").sort("first_call")


def first_seen_calls(
    engine: Engine, kind: str, value: str, start: datetime, end: datetime, *, table: str = ACTORS
) -> pl.DataFrame:
    """The entity's calls in the window, one row per API with its count and first call."""
    entity_params = [value, value] if kind == "principal" else [value]
    sql = f"""
    SELECT eventsource, eventname, recipientaccountid AS account, count(*) AS calls,
           min(eventtime) AS first_call
    FROM {table}
    WHERE {ENTITY_CONDITIONS[kind]} AND eventtime >= ? AND eventtime < ? AND day >= ? AND day <= ?
    GROUP BY eventsource, eventname, recipientaccountid
    """
    params: list[Any] = [
        *entity_params,
        _iso(start),
        _iso(end),
        start.astimezone(UTC).strftime("%Y-%m-%d"),
        end.astimezone(UTC).strftime("%Y-%m-%d"),
    ]
    df = engine.execute(sql, params).df
    assert df is not None
    return df
