"""Scheduled reports, run by ``loglake watch`` exactly once per scheduled time.

A schedule is a versioned document in the catalog (``<root>/_catalog/_reports/schedules/``).
Claiming a due time is the monitor's commit-then-deliver pattern: one compare-and-swap write of
the schedule moves ``last_slot`` forward and puts the run in the schedule's outbox (with a run id
derived from schedule and time). Only one watcher can win that write. The run is then executed
and recorded (its table rows carry the Delta transaction ``report:<run id>``, so a second
execution adds nothing), its outputs written and its notification sent with a stable
``MessageId``, and finally the outbox entry is removed. A watcher that dies between those steps
leaves the entry, and the next cycle of any watcher finishes it. When the watch loop was down
over several scheduled times, the latest of them runs once, marked late.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, croniter

from loglake.catalog import Catalog
from loglake.catalog.documents import DocumentStore
from loglake.errors import ConflictError, UserError, did_you_mean
from loglake.monitor import actions
from loglake.monitor.state import MonitorState

#: a run this much after its scheduled time is marked late
LATE_AFTER = dt.timedelta(minutes=15)
#: a claimed run whose watcher went silent this long is taken over
CLAIM_SECONDS = 1800.0


class Schedules:
    """Add, list and delete schedules; run the due ones."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.documents = DocumentStore(
            catalog.settings, catalog.settings.url("_catalog", "_reports", "schedules")
        )

    # ------------------------------------------------------------------ definitions
    def add(
        self,
        benchmark: str,
        cron: str,
        *,
        name: str | None = None,
        output: str | None = None,
        formats: list[str] | None = None,
        notify: list[str] | None = None,
        time_zone: str = "UTC",
        now: dt.datetime | None = None,
    ) -> dict[str, Any]:
        from loglake.reports.definitions import find

        find(benchmark)  # an unknown benchmark fails here, with a suggestion
        try:
            zone = ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise UserError(
                f"unknown time zone {time_zone!r} (use e.g. UTC or Europe/Paris)"
            ) from None
        if not croniter.is_valid(cron):
            raise UserError(f"not a cron expression: {cron!r} (five fields, e.g. '0 6 * * *')")
        name = name or benchmark.replace("/", "-")
        created = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        body = {
            "name": name,
            "benchmark": benchmark,
            "cron": cron,
            "time_zone": time_zone,
            "output": output,
            "formats": list(formats or ["html"]),
            "notify": list(notify or []),
            "created": created.isoformat(),
            # the first run is the first scheduled time after the schedule was created
            "last_slot": _slot_before(cron, zone, created).isoformat(),
            "outbox": [],
        }
        existing = self.documents.read(name)
        if existing is not None and not existing.body.get("deleted"):
            raise UserError(f"schedule {name!r} exists; delete it first or choose --name")
        self.documents.write(name, body, existing.version if existing else 0)
        return body

    def list(self) -> list[dict[str, Any]]:
        out = []
        for name in self.documents.children():
            doc = self.documents.read(name)
            if doc is not None and not doc.body.get("deleted"):
                out.append(doc.body)
        return out

    def delete(self, name: str) -> None:
        doc = self.documents.read(name)
        if doc is None or doc.body.get("deleted"):
            names = [s["name"] for s in self.list()]
            raise UserError(
                f"there is no schedule {name!r}{did_you_mean(name, names, quote=False)}"
            )
        self.documents.delete(name)

    def next_times(self, name: str, count: int = 3) -> builtins.list[dt.datetime]:
        body = self._get(name)
        zone = ZoneInfo(body["time_zone"])
        it = croniter(body["cron"], dt.datetime.fromisoformat(body["last_slot"]).astimezone(zone))
        return [it.get_next(dt.datetime).astimezone(dt.UTC) for _ in range(count)]

    def _get(self, name: str) -> dict[str, Any]:
        doc = self.documents.read(name)
        if doc is None or doc.body.get("deleted"):
            raise UserError(f"there is no schedule {name!r}")
        return doc.body

    # ------------------------------------------------------------------ the watch loop
    def run_due(
        self,
        now: dt.datetime | None = None,
        *,
        run: Callable[..., Any] | None = None,
        deliver: Callable[[str, dict[str, Any]], None] = actions.deliver,
    ) -> builtins.list[dict[str, Any]]:
        """Claim every due scheduled time, then run what the outboxes hold. Returns the runs."""
        moment = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
        for body in self.list():
            self._claim(body["name"], moment)
        done = []
        for body in self.list():
            for entry in list(body.get("outbox", [])):
                finished = self._execute(body["name"], entry, moment, run, deliver)
                if finished is not None:
                    done.append(finished)
        return done

    def _update(
        self, name: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> dict | None:
        for _ in range(20):
            doc = self.documents.read(name)
            if doc is None or doc.body.get("deleted"):
                return None
            new = change(json.loads(json.dumps(doc.body)))
            if new is None:
                return None
            try:
                self.documents.write(name, new, doc.version)
                return new
            except ConflictError:
                continue
        raise ConflictError(f"schedule {name!r} keeps changing; try again")

    def _claim(self, name: str, now: dt.datetime) -> None:
        def change(body: dict[str, Any]) -> dict[str, Any] | None:
            zone = ZoneInfo(body["time_zone"])
            due = _slot_before(body["cron"], zone, now)
            last = dt.datetime.fromisoformat(body["last_slot"])
            if due <= last:
                return None  # nothing due, or another watcher claimed it first
            missed = _count_between(body["cron"], zone, last, due)
            body["last_slot"] = due.isoformat()
            body["outbox"].append(
                {
                    "run_id": run_id_for(name, body["benchmark"], due),
                    "slot": due.isoformat(),
                    "late": now - due > LATE_AFTER,
                    "missed": missed - 1,
                    "claimed_until": None,
                }
            )
            return body

        self._update(name, change)

    def _execute(
        self,
        name: str,
        entry: dict[str, Any],
        now: dt.datetime,
        run: Callable[..., Any] | None,
        deliver: Callable[[str, dict[str, Any]], None],
    ) -> dict[str, Any] | None:
        state = MonitorState(self.catalog)
        lease = state.acquire(f"report-{entry['run_id']}", CLAIM_SECONDS)
        if lease is None:
            return None  # another watcher is running it right now
        try:
            body = self._get(name)
            if not any(e["run_id"] == entry["run_id"] for e in body.get("outbox", [])):
                return None  # finished by another watcher meanwhile
            slot = dt.datetime.fromisoformat(entry["slot"])
            if run is None:
                from loglake.reports.api import run_report

                run = run_report
            report = run(
                self.catalog,
                body["benchmark"],
                as_of=slot,
                formats=body["formats"],
                output=_output_folder(body["output"], body["benchmark"], slot, entry["run_id"]),
                time_zone=body["time_zone"],
                run_id=entry["run_id"],
                schedule=name,
                scheduled_time=slot,
                late=entry["late"],
            )
            counts = report.result.counts
            message = {
                "Type": "Notification",
                "MessageId": str(
                    uuid.uuid5(uuid.NAMESPACE_URL, f"loglake-report/{entry['run_id']}")
                ),
                "TopicArn": f"loglake:report:{name}",
                "Subject": f"{body['benchmark']}: {counts['alarm']} alarm, {counts['error']} error"[
                    :100
                ],
                "Message": json.dumps(
                    {
                        "schedule": name,
                        "benchmark": body["benchmark"],
                        "run_id": entry["run_id"],
                        "scheduled_time": entry["slot"],
                        "late": entry["late"],
                        "counts": counts,
                        "outputs": report.written,
                    },
                    sort_keys=True,
                ),
                "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            }
            failures = []
            for target in body.get("notify", []):
                try:
                    deliver(target, message)
                except actions.DeliveryError as error:
                    failures.append(f"{target}: {error}")

            def finish(latest: dict[str, Any]) -> dict[str, Any]:
                latest["outbox"] = [e for e in latest["outbox"] if e["run_id"] != entry["run_id"]]
                latest["last_run"] = {
                    "run_id": entry["run_id"],
                    "slot": entry["slot"],
                    "late": entry["late"],
                    "notify_failures": failures,
                }
                return latest

            self._update(name, finish)
            return {
                "schedule": name,
                "run_id": entry["run_id"],
                "slot": entry["slot"],
                "late": entry["late"],
                "counts": counts,
                "notify_failures": failures,
            }
        finally:
            state.release(f"report-{entry['run_id']}", lease)


def run_id_for(schedule: str, benchmark: str, slot: dt.datetime) -> str:
    stamp = slot.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{benchmark.replace('/', '-')}-{stamp}-{uuid.uuid5(uuid.NAMESPACE_URL, f'{schedule}/{stamp}').hex[:6]}"


def _output_folder(
    output: str | None, benchmark: str, slot: dt.datetime, run_id: str
) -> str | None:
    if not output:
        return None
    return f"{output.rstrip('/')}/{benchmark.replace('/', '-')}/{run_id}/"


def _slot_before(cron: str, zone: ZoneInfo, moment: dt.datetime) -> dt.datetime:
    """The latest scheduled time at or before ``moment`` (cron read in the schedule's zone)."""
    local = moment.astimezone(zone)
    it = croniter(cron, local + dt.timedelta(seconds=1))
    return it.get_prev(dt.datetime).astimezone(dt.UTC)


def _count_between(cron: str, zone: ZoneInfo, after: dt.datetime, until: dt.datetime) -> int:
    it = croniter(cron, after.astimezone(zone))
    n = 0
    while n < 10_000:
        nxt = it.get_next(dt.datetime).astimezone(dt.UTC)
        if nxt > until:
            break
        n += 1
    return n


__all__ = ["CroniterBadCronError", "Schedules", "run_id_for"]
