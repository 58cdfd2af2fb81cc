"""The watch loop: ingest new objects, run metric filters, evaluate alarms, deliver actions.

All state lives in the lake (filter checkpoints in the metrics table's commit log, alarm state and
the actions outbox in versioned documents), so the loop can be killed at any moment and restarted.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from loglake.catalog import Catalog
from loglake.errors import UserError
from loglake.monitor.actions import is_local_target
from loglake.monitor.alarmstore import AlarmStore
from loglake.monitor.contributors import run_insight_rules
from loglake.monitor.runner import RunReport, put_metric_filter, run_metric_filters

log = logging.getLogger("loglake.monitor")


@dataclass
class CycleReport:
    """What one cycle of the loop did."""

    started: datetime
    ingested: Any = None
    ingest_error: str | None = None
    filters: RunReport | None = None
    #: Contributor Insights rules evaluated: top-contributor rows written per rule
    rules: dict[str, int] = field(default_factory=dict)
    transitions: list[dict[str, Any]] = field(default_factory=list)
    #: what each extra task of the cycle returned (or its error as text)
    tasks: dict[str, Any] = field(default_factory=dict)


def run_cycle(
    catalog: Catalog,
    ingest_new: Callable[[], object] | None = None,
    *,
    now: datetime | None = None,
    alarms: AlarmStore | None = None,
    tasks: Mapping[str, Callable[[datetime], Any]] | None = None,
) -> CycleReport:
    """One pass: ingest, metric filters, Contributor Insights rules, alarms (with their
    actions), then the extra tasks (scheduled reports), each given the cycle's time."""
    report = CycleReport(started=now or datetime.now(UTC))
    if ingest_new is not None:
        try:
            report.ingested = ingest_new()
        except Exception as error:  # a bad object must not stop monitoring of the rest
            report.ingest_error = f"{type(error).__name__}: {error}"
            log.warning("ingest failed: %s", report.ingest_error)
    report.filters = run_metric_filters(catalog)
    report.rules = run_insight_rules(catalog, now or report.started)
    alarms = alarms or AlarmStore(catalog)
    report.transitions = alarms.evaluate(now=now or datetime.now(UTC))
    for name, task in (tasks or {}).items():
        try:
            report.tasks[name] = task(report.started)
        except Exception as error:  # one failing task must not stop monitoring
            report.tasks[name] = f"{type(error).__name__}: {error}"
            log.warning("%s failed: %s", name, report.tasks[name])
    return report


def watch(
    catalog: Catalog,
    ingest_new: Callable[[], object] | None = None,
    *,
    interval: float = 60,
    once: bool = False,
    cycles: int | None = None,
    on_cycle: Callable[[CycleReport], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    tasks: Mapping[str, Callable[[datetime], Any]] | None = None,
) -> list[CycleReport]:
    """Run cycles every `interval` seconds (one with `once`, or `cycles` of them)."""
    if interval <= 0:
        raise UserError("--interval must be positive")
    reports: list[CycleReport] = []
    while True:
        started = time.monotonic()
        report = run_cycle(catalog, ingest_new, tasks=tasks)
        reports.append(report)
        if on_cycle is not None:
            on_cycle(report)
        if once or (cycles is not None and len(reports) >= cycles):
            return reports
        sleep(max(0.0, interval - (time.monotonic() - started)))


# ---------------------------------------------------------------------------------------------
# packs and imports


def pack(name: str) -> dict[str, Any]:
    """A packaged set of metric filters and alarms (`cis`)."""
    if name != "cis":
        raise UserError(f"Unknown pack {name!r} (available: cis)")
    return json.loads(resources.files("loglake.monitor").joinpath("cis.json").read_text())


def install_pack(
    catalog: Catalog,
    name: str = "cis",
    *,
    table: str = "cloudtrail",
    actions: Sequence[str] = (),
    now: datetime | None = None,
) -> dict[str, list[str]]:
    """Create the pack's metric filters (on `table`) and alarms (notifying `actions`)."""
    data = pack(name)
    created: dict[str, list[str]] = {"filters": [], "alarms": []}
    alarms = []
    for control in data["controls"]:
        put_metric_filter(
            catalog,
            {
                "filterName": control["filterName"],
                "table": table,
                "filterPattern": control["filterPattern"],
                "metricTransformations": control["metricTransformations"],
            },
            now=now,
        )
        created["filters"].append(control["filterName"])
        alarm = dict(control["alarm"])
        alarm["AlarmActions"] = list(actions)
        alarms.append(alarm)
        created["alarms"].append(alarm["AlarmName"])
    AlarmStore(catalog).put_alarms(alarms, now=now)
    return created


def import_metric_filters(
    catalog: Catalog, document: Mapping[str, Any], *, table: str | None = None
) -> list[str]:
    """Create the filters of `aws logs describe-metric-filters` output."""
    items = document.get("metricFilters") if isinstance(document, Mapping) else None
    if not isinstance(items, list):
        raise UserError("Expected the JSON of `aws logs describe-metric-filters` (metricFilters)")
    names = []
    for item in items:
        d = {k: v for k, v in item.items() if k not in ("creationTime",)}
        if table:
            d["table"] = table
        put_metric_filter(catalog, d)
        names.append(d["filterName"])
    return names


def import_alarms(
    catalog: Catalog,
    document: Mapping[str, Any],
    *,
    action_map: Mapping[str, str] | None = None,
) -> list[str]:
    """Create the alarms of `aws cloudwatch describe-alarms` output (composites after metrics).

    `action_map` replaces action ARNs (e.g. an SNS topic) with local targets, after the lake's
    ``action_map`` setting. A target that runs a command, writes a file or reaches the network
    is accepted only from those maps: inside the imported JSON it is refused.
    """
    if not isinstance(document, Mapping) or not (
        "MetricAlarms" in document or "CompositeAlarms" in document
    ):
        raise UserError("Expected the JSON of `aws cloudwatch describe-alarms`")
    mapping = {**catalog.lake_settings().action_map, **dict(action_map or {})}
    items = []
    for item in [*document.get("MetricAlarms", []), *document.get("CompositeAlarms", [])]:
        d = dict(item)
        for key in ("AlarmActions", "OKActions", "InsufficientDataActions"):
            if key in d:
                d[key] = [_mapped_action(d, key, str(a), mapping) for a in d[key]]
        items.append(d)
    names = [d["AlarmName"] for d in AlarmStore(catalog).put_alarms(items)]
    return names


def _mapped_action(
    alarm: Mapping[str, Any], key: str, action: str, mapping: Mapping[str, str]
) -> str:
    if action in mapping:
        return mapping[action]
    if is_local_target(action):
        raise UserError(
            f"Alarm {alarm.get('AlarmName')!r}: {key} target {action!r} comes from the imported "
            "JSON; targets that run commands, write files or call webhooks are taken only from "
            "--action-map ARN=TARGET or the lake's action_map setting"
        )
    return action
