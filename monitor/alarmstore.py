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

import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

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
    evaluate_alarm_detail,
    evaluate_composite_rule,
    evaluation_range,
    rule_children,
    validate_alarm,
)
from loglake.monitor.metrics import DATABASE, MetricsStore
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

    # ------------------------------------------------------------------ history table
    @property
    def history_table(self):
        if self._history_table is None:
            self.catalog.create_database(DATABASE, if_not_exists=True)
            self.catalog.create_managed_table(
                DATABASE,
                HISTORY_TABLE,
                HISTORY_SCHEMA,
                comment="Alarm history: configuration updates, state changes, actions",
                if_not_exists=True,
            )
            self._history_table = self.catalog.managed(DATABASE, HISTORY_TABLE)
        return self._history_table

    # ------------------------------------------------------------------ definitions
    def put_alarm(self, definition: Mapping[str, Any], *, now: datetime | None = None) -> dict:
        """Create or update a metric or composite alarm (an update keeps the current state)."""
        clean = {k: v for k, v in definition.items() if k not in READ_ONLY_FIELDS}
        d = validate_alarm(clean)
        if "AlarmRule" in d:
            for child in rule_children(d["AlarmRule"]):
                if child == d["AlarmName"]:
                    raise UserError(f"Composite alarm {child!r} cannot refer to itself")
        when = _now(now)
        d["AlarmConfigurationUpdatedTimestamp"] = when.isoformat()
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
            body = self._add_history(
                body, when, "ConfigurationUpdate", summary, {"type": "Update", "updatedAlarm": d}
            )
            return body

        self._write(name, change)
        self.flush(name, now=when)
        return d

    def _write(self, name: str, change: Callable[[dict | None], dict | None]) -> dict | None:
        for _ in range(20):
            found = self.state.get("alarms", name)
            body, version = (found[0], found[1]) if found else (None, 0)
            new = change(json.loads(json.dumps(body)) if body else None)
            if new is None:
                return body
            try:
                self.state.put("alarms", name, new, version)
                return new
            except ConflictError:
                continue
        raise ConflictError(f"alarm {name!r} keeps changing; try again")

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
        metric, composite = [], []
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
        reason_data: dict | None,
        when: datetime,
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
        if d.get("ActionsEnabled", True):
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

        def change(body: dict | None) -> dict | None:
            if body is None:
                raise UserError(f"There is no alarm named {name!r}")
            if body["state"]["StateValue"] == state:
                body["state"]["StateReason"] = reason
                return body
            return self._transition(body, state, reason, dict(reason_data or {}), when)

        out = self._write(name, change)
        self.flush(name, now=when)
        return out["state"]

    # ------------------------------------------------------------------ evaluation
    def window_end(self, definition: Mapping[str, Any], now: datetime) -> datetime:
        step = 60 if int(definition["Period"]) >= 60 else 10
        seconds = int(now.timestamp()) // step * step
        return datetime.fromtimestamp(seconds, UTC)

    def datapoints(
        self, definition: Mapping[str, Any], end: datetime
    ) -> tuple[list[float | None], list[datetime], list[float | None]]:
        """The evaluation range ending at `end`: values (None = missing), period starts, counts."""
        period = int(definition["Period"])
        n = evaluation_range(int(definition["EvaluationPeriods"]))
        start = end - timedelta(seconds=n * period)
        stat = definition.get("ExtendedStatistic") or definition["Statistic"]
        frame = self.metrics.statistics(
            definition["Namespace"],
            definition["MetricName"],
            definition.get("Dimensions"),
            start,
            end,
            period,
            sorted({stat, "SampleCount"}),
            definition.get("Unit"),
        )
        found = {row["timestamp"]: row for row in frame.iter_rows(named=True)}
        stamps = [start + timedelta(seconds=k * period) for k in range(n)]
        values = [found[t][stat] if t in found else None for t in stamps]
        counts = [found[t]["SampleCount"] if t in found else None for t in stamps]
        return values, stamps, counts

    def evaluate(self, *, now: datetime | None = None) -> list[dict[str, Any]]:
        """Evaluate every alarm whose window has moved since its last evaluation.

        Metric alarms first, then composite alarms (repeated so composites of composites settle).
        Returns the transitions made.
        """
        when = _now(now)
        transitions: list[dict[str, Any]] = []
        bodies = self.state.list("alarms")
        for body in bodies:
            if "AlarmRule" not in body["definition"]:
                t = self._evaluate_metric_alarm(body["AlarmName"], when)
                if t:
                    transitions.append(t)
        composites = [b["AlarmName"] for b in bodies if "AlarmRule" in b["definition"]]
        for _ in range(max(1, len(composites))):
            changed = False
            for name in composites:
                t = self._evaluate_composite(name, when)
                if t:
                    transitions.append(t)
                    changed = True
            if not changed:
                break
        for body in self.state.list("alarms"):
            if body.get("pendingHistory") or body.get("outbox"):
                self.flush(body["AlarmName"], now=when)
        return transitions

    def _evaluate_metric_alarm(self, name: str, when: datetime) -> dict | None:
        body = self.get(name)
        d = body["definition"]
        end = self.window_end(d, when)
        if body.get("lastEvaluated") and datetime.fromisoformat(body["lastEvaluated"]) >= end:
            return None
        values, stamps, counts = self.datapoints(d, end)
        current = body["state"]["StateValue"]
        ev = evaluate_alarm_detail(d, values, current, stamps)
        state = ev.state
        if (
            d.get("ExtendedStatistic")
            and d.get("EvaluateLowSampleCountPercentile") == "ignore"
            and _low_samples(d["ExtendedStatistic"], [counts[i] for i, _ in ev.evaluated])
        ):
            state = current
        data = dict(ev.reason_data)
        data.update(
            {
                "queryDate": when.isoformat(),
                "startDate": stamps[0].isoformat(),
                "statistic": d.get("ExtendedStatistic") or d["Statistic"],
                "period": d["Period"],
            }
        )
        transition: dict | None = None

        def change(latest: dict | None) -> dict | None:
            nonlocal transition
            if latest is None:
                return None
            if (
                latest.get("lastEvaluated")
                and datetime.fromisoformat(latest["lastEvaluated"]) >= end
            ):
                return None  # another process evaluated this window first
            latest["lastEvaluated"] = end.isoformat()
            old = latest["state"]["StateValue"]
            if state != old:
                transition = {"alarm": name, "from": old, "to": state, "reason": ev.reason}
                return self._transition(latest, state, ev.reason, data, when)
            return latest

        self._write(name, change)
        return transition

    def _evaluate_composite(self, name: str, when: datetime) -> dict | None:
        body = self.get(name)
        rule = body["definition"]["AlarmRule"]
        children = rule_children(rule)
        states = {}
        for child in children:
            found = self.state.get("alarms", child)
            if found is None:
                return None  # a child is missing: nothing to decide (CloudWatch rejects this)
            states[child] = found[0]["state"]["StateValue"]
        fired = evaluate_composite_rule(rule, states)
        state = ALARM if fired else OK
        if state == body["state"]["StateValue"]:
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
            }
            return self._transition(latest, state, reason, {"triggeringAlarms": triggering}, when)

        self._write(name, change)
        return transition

    # ------------------------------------------------------------------ history and actions
    def flush(self, name: str, *, now: datetime | None = None) -> None:
        """Copy pending history to the history table and deliver the due outbox entries."""
        when = _now(now)
        self._flush_history(name)
        body = self.state.get("alarms", name)
        if body is None:
            return
        for entry in list(body[0].get("outbox", [])):
            if datetime.fromisoformat(entry["nextAttempt"]) > when:
                continue
            error: actions.DeliveryError | None = None
            try:
                actions.deliver(entry["target"], entry["body"], sleep=self.sleep)
            except actions.DeliveryError as exc:
                error = exc
            self._delivered(name, entry, error, when)
        self._flush_history(name)

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

    def _flush_history(self, name: str) -> None:
        found = self.state.get("alarms", name)
        if found is None or not found[0].get("pendingHistory"):
            return
        pending = found[0]["pendingHistory"]
        app = f"alarm-history:{name}"
        table = self.history_table
        done = table.app_version(app) or 0
        todo = [p for p in pending if p["seq"] > done]
        if todo:
            rows = pa.Table.from_pylist(
                [
                    {
                        "alarm_name": name,
                        "seq": p["seq"],
                        "timestamp": datetime.fromisoformat(p["timestamp"]),
                        "history_item_type": p["type"],
                        "history_summary": p["summary"],
                        "history_data": json.dumps(p["data"]),
                    }
                    for p in todo
                ],
                schema=HISTORY_SCHEMA,
            )
            table.append(rows, app_id=app, app_version=max(p["seq"] for p in todo))
        recorded = max(p["seq"] for p in pending)

        def change(body: dict | None) -> dict | None:
            if body is None:
                return None
            body["pendingHistory"] = [p for p in body["pendingHistory"] if p["seq"] > recorded]
            return body

        self._write(name, change)


def _low_samples(stat: str, counts: Sequence[float | None]) -> bool:
    """EvaluateLowSampleCountPercentile=ignore: too few samples for this percentile."""
    p = float(stat[1:]) / 100.0
    if p <= 0 or p >= 1:
        return False
    needed = 10 / (1 - p) if p >= 0.5 else 10 / p
    return any(c is not None and c < needed for c in counts)
