"""Alarms in the lake: definitions, state, transitions, history and the actions outbox.

An alarm is one versioned document under ``<root>/_state/monitor/alarms/``. A transition is
decided and recorded in a single compare-and-swap write of that document: the new state, the
history item and one outbox entry per action. Afterwards the history item is copied to the
`_monitor.alarm_history` Delta table (a Delta application transaction keyed by the item's
sequence number makes the copy idempotent) and the outbox entries are delivered and removed.
If the process dies after the decision, the next run finds the pending entries and finishes the
work: every transition notifies each target at least once, always with the same `MessageId`, and
a target that keeps failing is retried with backoff until it is given up and recorded as failed.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, overload

import orjson
import polars as pl
import pyarrow as pa

from loglake.catalog import Catalog
from loglake.errors import ConflictError, UserError
from loglake.monitor import actions
from loglake.monitor.alarms import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    STATES,
    alarm_period,
    evaluate_composite_rule,
    rule_children,
    validate_alarm,
)
from loglake.monitor.evaluation import (
    Outcome,
    Plan,
    evaluate_plans,
    step_index,
    step_seconds,
    step_time,
)
from loglake.monitor.metrics import DATABASE, MetricsStore, append_committed, compact_if_many
from loglake.monitor.state import MonitorState

HISTORY_TABLE = "alarm_history"
HISTORY_SCHEMA = pa.schema(
    [
        pa.field("alarm_name", pa.string()),
        pa.field("seq", pa.int64()),
        pa.field("timestamp", pa.timestamp("us", tz="UTC")),
        pa.field("history_item_type", pa.string()),  # ConfigurationUpdate | StateUpdate | Action
        pa.field("history_summary", pa.string()),
        pa.field("history_data", pa.string()),  # JSON
    ]
)
READ_ONLY_FIELDS = (
    "AlarmArn",
    "AlarmConfigurationUpdatedTimestamp",
    "StateValue",
    "StateReason",
    "StateReasonData",
    "StateUpdatedTimestamp",
    "StateTransitionedTimestamp",
    "EvaluationState",
    "ActionsSuppressedBy",
    "ActionsSuppressedReason",
)
ACTION_KEYS = {ALARM: "AlarmActions", OK: "OKActions", INSUFFICIENT_DATA: "InsufficientDataActions"}


def _now(now: datetime | None) -> datetime:
    return now or datetime.now(UTC)


def _message_id(alarm: str, seq: int, target: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{actions.alarm_arn(alarm)}/{seq}/{target}"))


class AlarmStore:
    """PutMetricAlarm / PutCompositeAlarm / DescribeAlarms / SetAlarmState and evaluation."""

    def __init__(self, catalog: Catalog, *, sleep: Callable[[float], None] = time.sleep):
        self.catalog = catalog
        self.state = MonitorState(catalog)
        self.metrics = MetricsStore(catalog)
        self.sleep = sleep
        self._history_table = None
        #: per alarm, the last history sequence number known to be in the history table
        self._copied: dict[str, int] = {}

    # ------------------------------------------------------------------ history table
    @property
    def history_table(self):
        if self._history_table is None:
            self._history_table = self.catalog.own_table(
                DATABASE,
                HISTORY_TABLE,
                HISTORY_SCHEMA,
                comment="Alarm history: configuration updates, state changes, actions",
            )
        return self._history_table

    # ------------------------------------------------------------------ definitions
    def put_alarm(self, definition: Mapping[str, Any], *, now: datetime | None = None) -> dict:
        """Create or update a metric or composite alarm (an update keeps the current state)."""
        return self.put_alarms([definition], now=now)[0]

    def put_alarms(
        self, definitions: Sequence[Mapping[str, Any]], *, now: datetime | None = None
    ) -> list[dict]:
        """Create or update several alarms; their history is recorded in one commit."""
        when = _now(now)
        checked = []
        for definition in definitions:
            clean = {k: v for k, v in definition.items() if k not in READ_ONLY_FIELDS}
            d = validate_alarm(clean)
            if "AlarmRule" in d:
                for child in rule_children(d["AlarmRule"]):
                    if child == d["AlarmName"]:
                        raise UserError(f"Composite alarm {child!r} cannot refer to itself")
            d["AlarmConfigurationUpdatedTimestamp"] = when.isoformat()
            checked.append(d)
        for d in checked:
            self._write(d["AlarmName"], self._configured(d, when))
        self.flush([d["AlarmName"] for d in checked], now=when)
        return checked

    def _configured(self, d: dict, when: datetime) -> Callable[[dict | None], dict]:
        name = d["AlarmName"]

        def change(body: dict | None) -> dict:
            if body is None:
                body = {
                    "AlarmName": name,
                    "seq": 0,
                    "pendingHistory": [],
                    "outbox": [],
                    "lastEvaluated": None,
                    "state": {
                        "StateValue": INSUFFICIENT_DATA,
                        "StateReason": "Unchecked: Initial alarm creation",
                        "StateReasonData": None,
                        "StateUpdatedTimestamp": when.isoformat(),
                    },
                }
                summary = f'Alarm "{name}" created'
            else:
                summary = f'Alarm "{name}" updated'
            body["definition"] = d
            return self._add_history(
                body, when, "ConfigurationUpdate", summary, {"type": "Update", "updatedAlarm": d}
            )

        return change

    @overload
    def _write(self, name: str, change: Callable[[dict | None], dict]) -> dict: ...

    @overload
    def _write(self, name: str, change: Callable[[dict | None], dict | None]) -> dict | None: ...

    def _write(self, name: str, change: Callable[[dict | None], dict | None]) -> dict | None:
        """Read-modify-write of an alarm's document; history already copied to the table is
        dropped from it on the way (so each write carries at most one run's history)."""
        for _ in range(20):
            found = self.state.get("alarms", name)
            body, version = (found[0], found[1]) if found else (None, 0)
            new = change(orjson.loads(orjson.dumps(body)) if body else None)
            if new is None:
                return body
            if new.get("pendingHistory"):
                copied = self._copied_seq(name)
                new["pendingHistory"] = [p for p in new["pendingHistory"] if p["seq"] > copied]
            try:
                self.state.put("alarms", name, new, version)
                return new
            except ConflictError:
                continue
        raise ConflictError(f"alarm {name!r} keeps changing; try again")

    def _copied_seq(self, name: str) -> int:
        """The last sequence number of `name` in the history table (a Delta app version)."""
        if name not in self._copied:
            self._copied[name] = self.history_table.app_version(f"alarm-history:{name}") or 0
        return self._copied[name]

    def delete_alarm(self, name: str) -> None:
        for other in self.state.list("alarms"):
            rule = other["definition"].get("AlarmRule")
            if rule and name in rule_children(rule):
                raise UserError(f"Alarm {name!r} is used by composite alarm {other['AlarmName']!r}")
        self.state.delete("alarms", name)

    def get(self, name: str) -> dict:
        return self.state.require("alarms", name)[0]

    def describe_alarms(self, names: Sequence[str] | None = None) -> dict[str, list[dict]]:
        """DescribeAlarms' shape: MetricAlarms and CompositeAlarms with their current state."""
        metric: list[dict[str, Any]] = []
        composite: list[dict[str, Any]] = []
        for body in self.state.list("alarms"):
            if names and body["AlarmName"] not in names:
                continue
            d = dict(body["definition"])
            st = body["state"]
            d.update(
                {
                    "AlarmArn": actions.alarm_arn(body["AlarmName"]),
                    "StateValue": st["StateValue"],
                    "StateReason": st["StateReason"],
                    "StateUpdatedTimestamp": st["StateUpdatedTimestamp"],
                }
            )
            if st.get("StateReasonData") is not None:
                d["StateReasonData"] = json.dumps(st["StateReasonData"])
            (composite if "AlarmRule" in d else metric).append(d)
        return {"MetricAlarms": metric, "CompositeAlarms": composite}

    def history(self, name: str | None = None, item_type: str | None = None) -> pl.DataFrame:
        """DescribeAlarmHistory as a frame, newest first."""
        table = self.history_table
        lf = pl.scan_delta(
            table.location, storage_options=table.settings.delta_storage_options() or None
        )
        if name:
            lf = lf.filter(pl.col("alarm_name") == name)
        if item_type:
            lf = lf.filter(pl.col("history_item_type") == item_type)
        return lf.sort(["timestamp", "seq"], descending=True).collect()

    # ------------------------------------------------------------------ transitions
    def _add_history(self, body: dict, when: datetime, kind: str, summary: str, data: dict) -> dict:
        body["seq"] = int(body.get("seq", 0)) + 1
        body.setdefault("pendingHistory", []).append(
            {
                "seq": body["seq"],
                "timestamp": when.isoformat(),
                "type": kind,
                "summary": summary,
                "data": data,
            }
        )
        return body

    def _transition(
        self,
        body: dict,
        new_state: str,
        reason: str,
        reason_data: dict | orjson.Fragment | None,
        when: datetime,
        *,
        notify: bool = True,
    ) -> dict:
        d = body["definition"]
        old = body["state"]["StateValue"]
        body["state"] = {
            "StateValue": new_state,
            "StateReason": reason,
            "StateReasonData": reason_data,
            "StateUpdatedTimestamp": when.isoformat(),
        }
        body = self._add_history(
            body,
            when,
            "StateUpdate",
            f"Alarm updated from {old} to {new_state}",
            {
                "version": "1.0",
                "oldState": {"stateValue": old},
                "newState": {
                    "stateValue": new_state,
                    "stateReason": reason,
                    "stateReasonData": reason_data,
                },
            },
        )
        if notify and d.get("ActionsEnabled", True):
            message = actions.alarm_message(d, old, new_state, reason, when)
            for target in d.get(ACTION_KEYS[new_state], []):
                mid = _message_id(body["AlarmName"], body["seq"], target)
                body.setdefault("outbox", []).append(
                    {
                        "id": mid,
                        "target": target,
                        "body": actions.notification(message, mid, target, when),
                        "attempts": 0,
                        "nextAttempt": when.isoformat(),
                    }
                )
        return body

    def set_alarm_state(
        self,
        name: str,
        state: str,
        reason: str,
        reason_data: Mapping[str, Any] | None = None,
        *,
        now: datetime | None = None,
    ) -> dict:
        """SetAlarmState: holds until the next evaluation; actions of the new state run."""
        if state not in STATES:
            raise UserError(f"StateValue must be one of {', '.join(STATES)}")
        when = _now(now)

        def change(body: dict | None) -> dict:
            if body is None:
                raise UserError(f"There is no alarm named {name!r}")
            if body["state"]["StateValue"] == state:
                body["state"]["StateReason"] = reason
                return body
            return self._transition(body, state, reason, dict(reason_data or {}), when)

        out = self._write(name, change)
        self.flush([name], now=when)
        return out["state"]

    # ------------------------------------------------------------------ evaluation
    def window_end(self, definition: Mapping[str, Any], now: datetime) -> datetime:
        """The latest complete minute (10 s for high-resolution periods) at `now`."""
        step = step_seconds(alarm_period(definition))
        return step_time(step_index(now, step), step)

    def evaluate(self, *, now: datetime | None = None) -> list[dict[str, Any]]:
        """Evaluate every alarm whose window has moved since its last evaluation.

        All metric alarms are evaluated in one query over the metrics table; composite alarms
        then follow their children. Returns the transitions made.
        """
        when = _now(now)
        return self._run(lambda d: (self.window_end(d, when),) * 2, when)

    def replay(
        self, start: datetime, end: datetime, *, actions: bool = True
    ) -> list[dict[str, Any]]:
        """Evaluate the alarms at every minute (10 s) of [start, end] as the watch loop would have.

        One query decides every evaluation of every alarm; each alarm's transitions are then
        recorded with one write of its state document and the history of all alarms in one
        commit. With `actions` false, transitions are recorded without notifying anyone.
        """
        start, end = _now(start), _now(end)
        if end < start:
            raise UserError("the replay ends before it starts")
        transitions = self._run(
            lambda d: (self.window_end(d, start), self.window_end(d, end)), end, notify=actions
        )
        compact_if_many(self.history_table, 2)
        return transitions

    def _run(
        self,
        window: Callable[[Mapping[str, Any]], tuple[datetime, datetime]],
        when: datetime,
        *,
        notify: bool = True,
    ) -> list[dict[str, Any]]:
        bodies = self.state.list("alarms")
        plans = []
        for body in bodies:
            d = body["definition"]
            if "AlarmRule" in d:
                continue
            first, last = window(d)
            step = step_seconds(alarm_period(d))
            if body.get("lastEvaluated"):
                done = datetime.fromisoformat(body["lastEvaluated"])
                first = max(first, done + timedelta(seconds=step))
            if first > last:
                continue
            plans.append(
                Plan(
                    d,
                    body["state"]["StateValue"],
                    step_index(first, step) - 1,
                    step_index(last, step) - 1,
                )
            )
        outcomes = evaluate_plans(plans, self.metrics.frame())
        events: list[tuple[datetime, str, str]] = []
        transitions: list[dict[str, Any]] = []
        written: dict[str, dict] = {}
        for outcome in outcomes:  # the history table is read here, not by the writers below
            self._copied.pop(outcome.plan.definition["AlarmName"], None)
            self._copied_seq(outcome.plan.definition["AlarmName"])
        # each alarm's write waits on storage (an fsync, or a round trip to S3): in parallel
        with cf.ThreadPoolExecutor(min(8, len(outcomes) or 1)) as pool:
            recorded = list(pool.map(lambda o: self._record(o, notify, when), outcomes))
        for outcome, (made, document) in zip(outcomes, recorded, strict=True):
            if document is not None:
                written[outcome.plan.definition["AlarmName"]] = document
            transitions.extend(made)
            events.extend((t["time"], t["alarm"], t["to"]) for t in made)
        composites = [b["AlarmName"] for b in bodies if "AlarmRule" in b["definition"]]
        if composites:
            transitions.extend(self._follow(composites, events, when, notify))
            written = {}  # composites wrote after these: read every document afresh
        self.flush([b["AlarmName"] for b in bodies], now=when, known=written)
        transitions.sort(key=lambda t: t["time"])  # stable: children before their composites
        for t in transitions:
            t.pop("time")
        return transitions

    def _record(
        self, outcome: Outcome, notify: bool, when: datetime
    ) -> tuple[list[dict[str, Any]], dict | None]:
        """Write one alarm's transitions of a run (one compare-and-swap write).

        A transition is stamped with its evaluation time: the window end in a replay, the
        run's own time for the latest window. Returns the transitions and the document as
        written or, when another process evaluated these windows first, as read.
        """
        plan = outcome.plan
        d = plan.definition
        name = d["AlarmName"]
        decided = [
            (when if j == plan.last else plan.end_of(j), new, reason, data)
            for j, new, reason, data in outcome.reasons(when)
        ]
        last_end = plan.end_of(plan.last)
        made: list[dict[str, Any]] = []

        def change(latest: dict | None) -> dict | None:
            made.clear()
            if latest is None:
                return None
            done = latest.get("lastEvaluated")
            done_at = datetime.fromisoformat(done) if done else None
            if done_at is not None and done_at >= last_end:
                return None  # another process evaluated these windows first
            for at, new, reason, data in decided:
                if done_at is not None and at <= done_at:
                    continue  # another process evaluated this window first
                old = latest["state"]["StateValue"]
                if new == old:
                    continue
                made.append({"alarm": name, "from": old, "to": new, "reason": reason, "time": at})
                latest = self._transition(latest, new, reason, data, at, notify=notify)
            # the windows count as evaluated (a state set by SetAlarmState holds until the next)
            latest["lastEvaluated"] = last_end.isoformat()
            return latest

        body = self._write(name, change)
        return list(made), body

    def _follow(
        self,
        composites: list[str],
        events: list[tuple[datetime, str, str]],
        when: datetime,
        notify: bool,
    ) -> list[dict[str, Any]]:
        """Composite alarms at the run's start and after each change of a child, in time order."""
        states = {b["AlarmName"]: b["state"]["StateValue"] for b in self.state.list("alarms")}
        moments: dict[datetime, list[tuple[str, str]]] = {}
        for at, alarm, state in events:
            moments.setdefault(at, []).append((alarm, state))
        first = min([when, *moments])
        made: list[dict[str, Any]] = []
        for at in sorted({first, *moments}):
            for alarm, state in moments.get(at, []):
                states[alarm] = state
            for _ in range(len(composites)):  # composites of composites settle in a few passes
                changed = False
                for name in composites:
                    t = self._evaluate_composite(name, states, at, notify)
                    if t:
                        states[name] = t["to"]
                        made.append(t)
                        changed = True
                if not changed:
                    break
        return made

    def _evaluate_composite(
        self, name: str, states: Mapping[str, str], when: datetime, notify: bool
    ) -> dict | None:
        rule = self.get(name)["definition"]["AlarmRule"]
        children = rule_children(rule)
        if any(child not in states for child in children):
            return None  # a child is missing: nothing to decide (CloudWatch rejects this)
        fired = evaluate_composite_rule(rule, states)
        state = ALARM if fired else OK
        if state == states[name]:
            return None
        triggering = [
            {"arn": actions.alarm_arn(c), "state": {"value": states[c]}} for c in children
        ]
        reason = (
            "arn:aws:cloudwatch alarm rule "
            + ("evaluated to TRUE" if fired else "evaluated to FALSE")
            + f": {rule}"
        )
        transition: dict | None = None

        def change(latest: dict | None) -> dict | None:
            nonlocal transition
            if latest is None or latest["state"]["StateValue"] == state:
                return None
            transition = {
                "alarm": name,
                "from": latest["state"]["StateValue"],
                "to": state,
                "reason": reason,
                "time": when,
            }
            return self._transition(
                latest, state, reason, {"triggeringAlarms": triggering}, when, notify=notify
            )

        self._write(name, change)
        return transition

    # ------------------------------------------------------------------ history and actions
    def flush(
        self,
        names: Sequence[str],
        *,
        now: datetime | None = None,
        known: Mapping[str, dict] | None = None,
    ) -> None:
        """Copy pending history to the history table (one commit) and deliver due actions.

        `known` holds documents this process has just written, so they are not read again.
        """
        when = _now(now)
        bodies = self._bodies(names, known or {})
        self._flush_history(bodies)
        delivered = False
        for name, body in bodies.items():
            for entry in list(body.get("outbox", [])):
                if datetime.fromisoformat(entry["nextAttempt"]) > when:
                    continue
                error: actions.DeliveryError | None = None
                try:
                    actions.deliver(entry["target"], entry["body"], sleep=self.sleep)
                except actions.DeliveryError as exc:
                    error = exc
                self._delivered(name, entry, error, when)
                delivered = True
        if delivered:
            self._flush_history(self._bodies(names, {}))

    def _bodies(self, names: Sequence[str], known: Mapping[str, dict]) -> dict[str, dict]:
        """The documents of these alarms: as just written where known, otherwise read."""
        out = {}
        for name in names:
            body = known.get(name)
            if body is None:
                found = self.state.get("alarms", name)
                body = found[0] if found else None
            if body is not None:
                out[name] = body
        return out

    def _delivered(
        self, name: str, entry: dict, error: actions.DeliveryError | None, when: datetime
    ) -> None:
        def change(body: dict | None) -> dict | None:
            if body is None:
                return None
            outbox = body.get("outbox", [])
            current = next((e for e in outbox if e["id"] == entry["id"]), None)
            if current is None:
                return None
            attempts = current.get("attempts", 0) + 1
            data = {"actionTarget": entry["target"], "messageId": entry["id"]}
            if error is None:
                body["outbox"] = [e for e in outbox if e["id"] != entry["id"]]
                return self._add_history(
                    body, when, "Action", f"Successfully executed action {entry['target']}", data
                )
            if error.permanent or attempts >= actions.MAX_ATTEMPTS:
                body["outbox"] = [e for e in outbox if e["id"] != entry["id"]]
                data["error"] = str(error)
                return self._add_history(
                    body, when, "Action", f"Failed to execute action {entry['target']}", data
                )
            current["attempts"] = attempts
            current["lastError"] = str(error)
            delay = min(3600, 30 * 2 ** (attempts - 1))
            current["nextAttempt"] = (when + timedelta(seconds=delay)).isoformat()
            return body

        self._write(name, change)

    def _flush_history(self, bodies: Mapping[str, dict]) -> None:
        """Append the pending history items of these alarm documents in one commit.

        The commit records, per alarm, the last sequence number copied (a Delta application
        transaction), so a copy interrupted after the commit is not repeated. The documents
        keep the copied items until their next write drops them (see `_write`): one write
        per alarm and run instead of two.
        """
        pending = {
            name: body["pendingHistory"]
            for name, body in bodies.items()
            if body.get("pendingHistory")
        }
        if not pending:
            return
        table = self.history_table
        rows: list[dict[str, Any]] = []
        transactions: dict[str, int] = {}
        for name, items in pending.items():
            app = f"alarm-history:{name}"
            self._copied.pop(name, None)  # read again: another process may have copied since
            done = self._copied_seq(name)
            todo = [p for p in items if p["seq"] > done]
            if todo:
                transactions[app] = max(p["seq"] for p in todo)
                rows.extend(
                    {
                        "alarm_name": name,
                        "seq": p["seq"],
                        "timestamp": datetime.fromisoformat(p["timestamp"]),
                        "history_item_type": p["type"],
                        "history_summary": p["summary"],
                        "history_data": orjson.dumps(p["data"]).decode(),
                    }
                    for p in todo
                )
        if rows:
            # built by Polars: pyarrow would import pandas to convert zoned datetimes, and its
            # cast pyarrow.compute (together seconds on a busy machine, in a fresh process)
            frame = pl.DataFrame(rows, schema=pl.Schema(HISTORY_SCHEMA))
            append_committed(table, frame.to_arrow(), transactions)
            compact_if_many(table)
        for app, seq in transactions.items():
            self._copied[app.removeprefix("alarm-history:")] = seq
