"""Writes a whole synthetic AWS log bucket: CloudTrail (+ digests), VPC Flow Logs, Config and
CloudWatch Logs, day by day and file by file so memory stays flat for any size."""

from __future__ import annotations

import functools
import os
import time
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import orjson

from . import cloudtrail as ct
from . import config as cfg
from . import cwlogs, flowlogs
from ._util import gzip_bytes, iso_seconds, parse_time, rng_for, sha256_hex, uuid1
from .changes import plan_day
from .digest import DigestChain, LogFileEntry, write_keys
from .plan import ConfigTouch, FlowInjection, Injection, LoggingGap, ScenarioRecord
from .progress import Progress
from .scenarios import ScenarioSpec, parse_scenarios, plan_scenarios
from .sink import Sink
from .state import WorldState
from .world import RegionEnv, World, build_world

DEFAULT_START = "2024-05-06T00:00:00Z"
GROUND_TRUTH = "ground_truth.json"
SOURCES = ("cloudtrail", "vpcflowlogs", "config", "cloudwatch")
EXPORT_CHUNK_LINES = 50_000


@dataclass
class GenerationSummary:
    """What was written: counts per source, total bytes and where the ground truth is."""

    out: str
    seed: int
    start: str
    end: str
    accounts: list[str]
    regions: list[str]
    files: dict[str, int] = field(default_factory=dict)
    events: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    ground_truth: str = ""
    public_keys: list[str] = field(default_factory=list)
    scenarios: list[str] = field(default_factory=list)
    elapsed_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Writer:
    """Compresses, hashes and stores objects on a worker thread (zlib releases the GIL)."""

    def __init__(self, sink: Sink, level: int, workers: int = 2, max_pending: int = 16) -> None:
        self.sink = sink
        self.level = level
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.pending: list[Future[Any]] = []
        self.max_pending = max_pending
        self.files: dict[str, int] = defaultdict(int)
        self.bytes: dict[str, int] = defaultdict(int)

    def _do(
        self, source: str, key: str, body: bytes, gzip: bool, metadata: dict[str, str] | None
    ) -> tuple[str, int]:
        digest = sha256_hex(body) if source == "cloudtrail" else ""
        data = gzip_bytes(body, self.level) if gzip else body
        self.sink.put(key, data, metadata)
        return digest, len(data)

    def submit(
        self,
        source: str,
        key: str,
        body: bytes,
        *,
        gzip: bool = True,
        metadata: dict[str, str] | None = None,
    ) -> Future[Any]:
        while len(self.pending) >= self.max_pending:
            self.pending.pop(0).result()
        fut = self.pool.submit(self._do, source, key, body, gzip, metadata)
        fut.add_done_callback(functools.partial(self._count, source))
        self.pending.append(fut)
        return fut

    def _count(self, source: str, fut: Future[Any]) -> None:
        if fut.exception() is None:
            self.files[source] += 1
            self.bytes[source] += fut.result()[1]

    def put_now(
        self, source: str, key: str, data: bytes, metadata: dict[str, str] | None = None
    ) -> None:
        self.sink.put(key, data, metadata)
        self.files[source] += 1
        self.bytes[source] += len(data)

    def close(self) -> None:
        for fut in self.pending:
            fut.result()
        self.pool.shutdown(wait=True)


def generate(
    out: str | os.PathLike[str],
    *,
    accounts: int = 3,
    regions: int = 2,
    days: int = 7,
    events_per_day: int = 200_000,
    seed: int = 42,
    scenarios: Iterable[str | ScenarioSpec] = (),
    start: str | float | datetime = DEFAULT_START,
    filesystem: Any = None,
    storage_options: dict[str, Any] | None = None,
    progress: bool | None = None,
    flows_per_day: int | None = None,
    log_events_per_day: int | None = None,
    organization_trail: bool = False,
    bucket: str | None = None,
    compresslevel: int = 3,
    sources: Iterable[str] = SOURCES,
) -> GenerationSummary:
    """Generate raw AWS exports under ``out`` (folder or ``s3://bucket/prefix``).

    ``events_per_day`` is the baseline CloudTrail volume per account and region;
    ``flows_per_day`` (connections) and ``log_events_per_day`` (application log lines) default to
    a tenth of it. ``compresslevel`` 3 compresses twice as fast as 6 for files about a third
    larger; readers cannot tell. The same arguments always produce the same bytes.
    """
    began = time.monotonic()
    wanted = set(sources)
    unknown = wanted - set(SOURCES)
    if unknown or not wanted:
        raise ValueError(f"unknown or no sources {sorted(unknown)}; choose from {list(SOURCES)}")
    if days < 1 or events_per_day < 0:
        raise ValueError("days must be >= 1 and events_per_day >= 0")
    if (flows_per_day or 0) < 0 or (log_events_per_day or 0) < 0:
        raise ValueError("flows_per_day and log_events_per_day must be >= 0")
    if not 1 <= compresslevel <= 9:
        raise ValueError(f"compresslevel must be between 1 and 9, not {compresslevel}")
    try:
        t0 = float(int(parse_time(start)) // 86400 * 86400)  # whole UTC days
    except (TypeError, ValueError) as exc:
        raise ValueError(f"start {start!r} is not an ISO-8601 date or time") from exc
    t_end = t0 + days * 86400
    flows_per_day = events_per_day // 10 if flows_per_day is None else flows_per_day
    log_events_per_day = events_per_day // 10 if log_events_per_day is None else log_events_per_day
    world = build_world(seed, accounts, regions, t0)
    specs = parse_scenarios(scenarios, world, t0, t_end)
    sink = Sink(
        out,
        filesystem=filesystem,
        storage_options=storage_options,
        bucket=bucket or (None if "://" in os.fspath(out) else world.trail_bucket),
    )
    writer = _Writer(sink, compresslevel)
    state = WorldState(world)
    injections, flow_injections, gaps, records = plan_scenarios(world, specs)
    org_id = world.org_id if organization_trail else None
    envs = [env for acct in world.accounts for env in acct.regions]
    bar = Progress(days * len(envs), progress)
    counts: dict[str, int] = defaultdict(int)
    summary = GenerationSummary(
        out=os.fspath(out),
        seed=seed,
        start=iso_seconds(t0),
        end=iso_seconds(t_end),
        accounts=[a.id for a in world.accounts],
        regions=list(world.regions),
        scenarios=[r.name for r in records],
    )
    try:
        if "cloudtrail" in wanted:
            summary.public_keys = write_keys(
                sink, seed, world.regions, t0 - 30 * 86400, t0 + 365 * 86400
            )
        chains: dict[tuple[str, str], DigestChain] = {}
        renderers: dict[tuple[str, str], ct.WindowRenderer] = {}
        pending_ci: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
        history_done: dict[tuple[str, str], float] = {}
        # Config starts recording when the period starts: every resource is discovered
        if "config" in wanted:
            for env in envs:
                writer.put_now(
                    "config", f"AWSLogs/{env.account.id}/Config/ConfigWritabilityCheckFile", b""
                )
                base = int(t0 * 1000) + rng_for(
                    seed, "discover", env.account.id, env.region
                ).randrange(60_000, 900_000)
                pending_ci[(env.account.id, env.region)].extend(
                    cfg.all_items(env, base, "ResourceDiscovered")
                )
                history_done[(env.account.id, env.region)] = t0
        for day in range(days):
            day_start = t0 + day * 86400
            day_injections = [i for i in injections if day_start <= i.time < day_start + 86400]
            for acct in world.accounts:
                day_injections += plan_day(world, acct, day_start)
            day_injections.sort(key=lambda i: (i.time, i.account.id, i.region_index))
            snapshots = _apply_changes(
                world, state, day_injections, pending_ci, day_start, records, "config" in wanted
            )
            by_env: dict[tuple[str, int], list[Injection]] = defaultdict(list)
            for inj in day_injections:
                if inj.event is not None:
                    by_env[(inj.account.id, inj.region_index)].append(inj)
            day_flows: dict[tuple[str, int], list[FlowInjection]] = defaultdict(list)
            for fi in flow_injections:
                if day_start <= fi.time < day_start + 86400:
                    day_flows[(fi.account.id, fi.region_index)].append(fi)
            for env in envs:
                key = (env.account.id, env.region)
                n_events = 0
                if "cloudtrail" in wanted:
                    if key not in renderers:
                        renderers[key] = ct.WindowRenderer(world, env)
                        chains[key] = DigestChain(
                            sink,
                            seed,
                            env.account.id,
                            env.region,
                            world.regions[0],
                            world.trail_name,
                            org_id,
                            t0,
                        )
                    n_events = _cloudtrail_day(
                        world,
                        env,
                        renderers[key],
                        chains[key],
                        writer,
                        by_env[(env.account.id, env.index)],
                        gaps,
                        day_start,
                        events_per_day,
                        org_id,
                        counts,
                    )
                if "vpcflowlogs" in wanted or "cloudwatch" in wanted:
                    _network_day(
                        world,
                        env,
                        state,
                        writer,
                        day_flows[(env.account.id, env.index)],
                        day_start,
                        flows_per_day,
                        log_events_per_day,
                        counts,
                        wanted,
                        {r.name: r for r in records},
                    )
                if "config" in wanted:
                    _config_day(
                        env,
                        writer,
                        pending_ci[key],
                        history_done,
                        key,
                        day_start + 86400,
                        snapshots.get(key),
                        counts,
                    )
                bar.step(f"{iso_seconds(day_start)[:10]} {env.account.name} {env.region}", n_events)
            state.prune(day_start)
        # flush what is left: late Config items and the last hourly digests
        if "config" in wanted:
            for env in envs:
                key = (env.account.id, env.region)
                _config_day(
                    env,
                    writer,
                    pending_ci[key],
                    history_done,
                    key,
                    t_end + 2 * cfg.HISTORY_WINDOW,
                    None,
                    counts,
                )
        if "cloudtrail" in wanted:
            _write_insights(seed, records, writer, org_id)
        for chain in chains.values():
            chain.advance(t_end + 2 * 3600)
            counts["cloudtrail_digests"] += len(chain.written)
    finally:
        writer.close()
        bar.close()
    for r in records:
        _finish_record(r)
    truth = _ground_truth(world, seed, t0, t_end, records, gaps)
    sink.put(GROUND_TRUTH, orjson.dumps(truth, option=orjson.OPT_INDENT_2))
    summary.ground_truth = sink.url(GROUND_TRUTH)
    summary.files = {
        "cloudtrail": writer.files["cloudtrail"],
        "cloudtrail_digest": counts["cloudtrail_digests"],
        "cloudtrail_insight": writer.files["cloudtrail_insight"],
        "vpcflowlogs": writer.files["vpcflowlogs"],
        "config": writer.files["config"],
        "cloudwatch_export": writer.files["cloudwatch_export"],
        "cloudwatch_firehose": writer.files["cloudwatch_firehose"],
    }
    summary.events = {
        "cloudtrail": counts["cloudtrail"],
        "vpcflowlogs": counts["vpcflowlogs"],
        "config": counts["config"],
        "cloudwatch": counts["cloudwatch"],
    }
    summary.bytes = sink.bytes
    summary.elapsed_seconds = round(time.monotonic() - began, 3)
    return summary


def _apply_changes(
    world: World,
    state: WorldState,
    injections: list[Injection],
    pending_ci: dict[tuple[str, str], list[dict[str, Any]]],
    day_start: float,
    records: list[ScenarioRecord],
    record_config: bool,
) -> dict[tuple[str, str], tuple[float, list[dict[str, Any]]]]:
    """Apply the day's changes in time order; returns each region's daily snapshot (taken at
    its moment, so changes after it are not in it)."""
    snapshots: dict[tuple[str, str], tuple[float, list[dict[str, Any]]]] = {}
    snap_time = day_start + 86400 - 20 * 60
    pending = list(injections)

    def take_snapshots() -> None:
        for acct in world.accounts:
            for env in acct.regions:
                offset = rng_for(
                    world.seed, "snapshot", acct.id, env.region, int(day_start)
                ).randrange(0, 600)
                t = snap_time + offset
                snapshots[(acct.id, env.region)] = (t, cfg.all_items(env, int(t * 1000) - 5000))

    taken = False
    for inj in pending:
        if not taken and inj.time >= snap_time:
            take_snapshots()
            taken = True
        if inj.apply is None:
            continue
        touches: list[ConfigTouch] = inj.apply(state, inj.time)
        if not record_config:
            continue
        rng = rng_for(world.seed, "capture", inj.account.id, int(inj.time * 1000))
        for touch in touches:
            capture_ms = int(inj.time * 1000) + rng.randrange(40_000, 400_000)
            item = touch.build(capture_ms)
            if inj.event is not None:
                item["relatedEvents"] = [inj.event["eventID"]]  # as Config links the API call
            env = touch.env
            pending_ci[(env.account.id, env.region)].append(item)
            if inj.scenario is not None:
                w0 = capture_ms // 1000 // cfg.HISTORY_WINDOW * cfg.HISTORY_WINDOW
                inj.scenario.config_changes.append(
                    {
                        "resourceType": touch.resource_type,
                        "resourceId": touch.resource_id,
                        "awsRegion": item["awsRegion"],
                        "configurationItemCaptureTime": item["configurationItemCaptureTime"],
                        "configurationStateId": item["configurationStateId"],
                        "key": cfg.history_key(
                            env, touch.resource_type, w0, w0 + cfg.HISTORY_WINDOW - 1
                        ),
                        "causedByEventID": inj.event["eventID"] if inj.event else None,
                    }
                )
    if not taken:
        take_snapshots()
    return snapshots


def _event_time(text: str) -> str:
    i = text.index('"eventTime":"') + 13
    return text[i : i + 20]


def _cloudtrail_day(
    world: World,
    env: RegionEnv,
    renderer: ct.WindowRenderer,
    chain: DigestChain,
    writer: _Writer,
    injections: list[Injection],
    gaps: list[LoggingGap],
    day_start: float,
    events_per_day: int,
    org_id: str | None,
    counts: dict[str, int],
) -> int:
    acct = env.account
    seed = world.seed
    window_counts = ct.day_counts(seed, acct.id, env.region, day_start, events_per_day)
    by_window: dict[int, list[Injection]] = defaultdict(list)
    for inj in injections:
        by_window[int((inj.time - day_start) // ct.WINDOW)].append(inj)
    if events_per_day:
        for t, ev in ct.session_events(world, env, renderer.principals, day_start):
            by_window[int((t - day_start) // ct.WINDOW)].append(Injection(t, acct, env.index, ev))
    my_gaps = [g for g in gaps if g.account_id == acct.id]
    total = 0
    for w in range(86400 // ct.WINDOW):
        ws = day_start + w * ct.WINDOW
        we = ws + ct.WINDOW
        for gap in my_gaps:
            if ws <= gap.start < we + ct.WINDOW and not chain.active and gap.start < we:
                chain.restart(gap.start)
        rng = rng_for(seed, "ct", acct.id, env.region, int(ws))
        events, oldest, newest = renderer.render(ws, window_counts[w], rng)
        times = [oldest, newest] if events else []
        for inj in by_window.get(w, ()):
            text = ct.dumps(inj.event)
            events.insert(rng.randrange(len(events) + 1), text)
            times.append(inj.time)
        active_gaps = [g for g in my_gaps if g.stop < we and g.start > ws]
        if active_gaps:
            lo = [iso_seconds(g.stop + 1) for g in active_gaps]
            hi = [iso_seconds(g.start) for g in active_gaps]
            events = [
                e
                for e in events
                if not any(a <= _event_time(e) < b for a, b in zip(lo, hi, strict=True))
            ]
            times = [parse_time(_event_time(e)) for e in events]
        if events:
            delivered = we + rng.randrange(60, 240)
            unique = "".join(
                rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", k=16)
            )
            key = ct.file_key(acct.id, env.region, delivered, unique, org_id)
            fut = writer.submit("cloudtrail", key, ct.wrap(events))
            chain.add(LogFileEntry(key, delivered, min(times), max(times), fut))
            total += len(events)
            for inj in by_window.get(w, ()):
                if any(g.stop + 1 <= int(inj.time) < g.start for g in active_gaps):
                    continue  # made while the trail was stopped: never delivered
                if inj.scenario is not None and inj.event is not None:
                    for ev in inj.scenario.events:
                        if ev["eventID"] == inj.event["eventID"]:
                            ev["key"] = key
        else:
            delivered = we + 60
        for gap in my_gaps:
            if ws <= gap.stop < we and chain.active:
                chain.advance(we)
                chain.stop(delivered + 30)
        chain.advance(we)
    counts["cloudtrail"] += total
    return total


def _network_day(
    world: World,
    env: RegionEnv,
    state: WorldState,
    writer: _Writer,
    injections: list[FlowInjection],
    day_start: float,
    flows_per_day: int,
    log_events_per_day: int,
    counts: dict[str, int],
    wanted: set[str],
    scenario_records: dict[str, ScenarioRecord],
) -> None:
    acct = env.account
    seed = world.seed
    rhythm = [ct.rhythm("workload", day_start + w * ct.WINDOW, seed, acct.id) for w in range(288)]
    scale = flows_per_day / sum(rhythm) if rhythm else 0
    by_window: dict[int, list[FlowInjection]] = defaultdict(list)
    for fi in injections:
        by_window[int((fi.time - day_start) // ct.WINDOW)].append(fi)
    ratio = log_events_per_day / max(1, flows_per_day * 0.45)
    hour_requests: list[tuple[int, Any, str, str]] = []
    export = (
        _ExportDay(world, env, writer, day_start, counts, state) if "cloudwatch" in wanted else None
    )
    for w in range(288):
        ws = day_start + w * ct.WINDOW
        rng = rng_for(seed, "flows", acct.id, env.region, int(ws))
        n = int(rhythm[w] * scale + rng.random())
        flows, reqs = flowlogs.window_flows(env, state, ws, n, rng)
        for fi in by_window.get(w, ()):
            flows += fi.build(rng, env, state, int(fi.time))
        if "vpcflowlogs" in wanted and flows:
            body, tagged = flowlogs.render(env, flows)
            key = flowlogs.file_key(env, ws, flowlogs.unique_suffix(seed, env, ws))
            writer.submit("vpcflowlogs", key, body)
            counts["vpcflowlogs"] += len(flows)
            for line_no, tag, line in tagged:
                rec = scenario_records[tag]
                rec.flow_records.append({"key": key, "line": line_no, "record": line})
        if export is not None:
            # each served HTTP request becomes log lines; ``ratio`` tunes lines per request
            for r in reqs:
                k = int(ratio) + (1 if rng.random() < ratio - int(ratio) else 0)
                for j in range(k):
                    hour_requests.append(
                        (r[0] * 1000 + rng.randrange(0, 60000) + j, r[1], r[2], r[3])
                    )
            if (w + 1) % 12 == 0:
                export.add_hour(hour_requests, ws + ct.WINDOW - 3600)
                hour_requests = []
    if export is not None:
        export.close()


class _ExportDay:
    """One day of application logs. The web access log and the batch worker's job log reach S3
    through daily export tasks; the application's JSON log through a subscription filter and
    Firehose (hourly objects). Each event is delivered once."""

    def __init__(
        self,
        world: World,
        env: RegionEnv,
        writer: _Writer,
        day_start: float,
        counts: dict[str, int],
        state: WorldState,
    ) -> None:
        self.state = state
        self.world = world
        self.env = env
        self.writer = writer
        self.day_start = day_start
        self.counts = counts
        rng = rng_for(world.seed, "export-task", env.account.id, env.region, int(day_start))
        self.task_ids = {group: uuid1(rng) for group in cwlogs.EXPORTED_GROUPS}
        self.buffers: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        self.chunks: dict[tuple[str, str], int] = defaultdict(int)
        if day_start == world.start:
            for group in self.task_ids:
                writer.put_now(
                    "cloudwatch_export",
                    f"{cwlogs.export_prefix(env, group)}/aws-logs-write-test",
                    b"Permission Check Successful",
                )

    def add_hour(self, requests: list[tuple[int, Any, str, str]], hour_start: float) -> None:
        env = self.env
        rng = rng_for(self.world.seed, "app-logs", env.account.id, env.region, int(hour_start))
        per_stream: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
        requests.sort(key=lambda r: (r[0], r[1].id, r[2]))
        for t_ms, inst, client, kind in requests:
            if kind == "api":
                per_stream[(cwlogs.APP_GROUP, inst.id)].append(
                    (t_ms, cwlogs.app_line(rng, t_ms, client))
                )
            else:
                per_stream[(cwlogs.ACCESS_GROUP, inst.id)].append(
                    (t_ms, cwlogs.access_line(rng, t_ms, client))
                )
        worker = env.instance_by_tier("batch")[0]
        n_jobs = max(1, len(requests) // 12)
        for _ in range(n_jobs):
            t_ms = int(hour_start * 1000) + rng.randrange(0, 3_600_000)
            if self.state.running(worker.id, t_ms / 1000):
                per_stream[(cwlogs.WORKER_GROUP, worker.id)].append(
                    (t_ms, cwlogs.job_line(rng, t_ms))
                )
        messages: list[dict[str, Any]] = []
        if hour_start == self.world.start:
            messages.append(cwlogs.control_message(int(hour_start * 1000) + 1500))
        for (group, stream), events in sorted(per_stream.items()):
            events.sort()
            self.counts["cloudwatch"] += len(events)
            if group in cwlogs.EXPORTED_GROUPS:
                buf = self.buffers[(group, stream)]
                buf.extend(events)
                if len(buf) >= EXPORT_CHUNK_LINES:
                    self._flush(group, stream)
                continue
            # Firehose receives a subscription record every few seconds per stream
            for i in range(0, len(events), 200):
                messages.append(
                    cwlogs.data_message(env.account.id, group, stream, events[i : i + 200], rng)
                )
        if messages:
            t = hour_start + 3600 + rng.randrange(0, 300)
            key = cwlogs.firehose_key(env, t, "acme-cwl-to-s3", uuid1(rng))
            self.writer.submit(
                "cloudwatch_firehose", key, cwlogs.firehose_body(messages), gzip=False
            )

    def _flush(self, group: str, stream: str) -> None:
        buf = self.buffers[(group, stream)]
        if not buf:
            return
        chunk = self.chunks[(group, stream)]
        key = cwlogs.export_key(self.env, group, self.task_ids[group], stream, chunk)
        self.writer.submit("cloudwatch_export", key, cwlogs.export_body(buf))
        self.chunks[(group, stream)] = chunk + 1
        self.buffers[(group, stream)] = []

    def close(self) -> None:
        for group, stream in sorted(self.buffers):
            self._flush(group, stream)


def _config_day(
    env: RegionEnv,
    writer: _Writer,
    pending: list[dict[str, Any]],
    history_done: dict[tuple[str, str], float],
    key: tuple[str, str],
    until: float,
    snapshot: tuple[float, list[dict[str, Any]]] | None,
    counts: dict[str, int],
) -> None:
    """Write the history files of every six-hour window ending by ``until`` and the snapshot."""
    start = history_done[key]
    w0 = start
    while w0 + cfg.HISTORY_WINDOW <= until:
        w1 = w0 + cfg.HISTORY_WINDOW
        lo, hi = int(w0 * 1000), int(w1 * 1000)
        inside = [c for c in pending if lo <= c["configurationStateId"] < hi]
        if inside:
            pending[:] = [c for c in pending if not lo <= c["configurationStateId"] < hi]
            by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for item in sorted(inside, key=lambda c: (c["configurationStateId"], c["resourceId"])):
                by_type[item["resourceType"]].append(item)
            for rtype, items in sorted(by_type.items()):
                body = orjson.dumps({"fileVersion": "1.0", "configurationItems": items})
                writer.submit("config", cfg.history_key(env, rtype, w0, w1 - 1), body)
                counts["config"] += len(items)
        w0 = w1
    history_done[key] = w0
    if snapshot is not None:
        t, items = snapshot
        snap_id = uuid1(rng_for(env.account.id, env.region, "snapshot-id", int(t)))
        body = orjson.dumps(
            {"fileVersion": "1.0", "configSnapshotId": snap_id, "configurationItems": items}
        )
        writer.submit("config", cfg.snapshot_key(env, t, snap_id), body)
        counts["config"] += len(items)


def _write_insights(
    seed: int, records: list[ScenarioRecord], writer: _Writer, org_id: str | None
) -> None:
    """Insights events of the scenarios, one file each under ``CloudTrail-Insight``."""
    for r in records:
        for delivered, ev in r.insights:
            rng = rng_for(seed, "insight-name", ev["eventID"])
            unique = "".join(
                rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", k=16)
            )
            key = ct.file_key(
                r.account_id, ev["awsRegion"], delivered, unique, org_id, kind="CloudTrail-Insight"
            )
            writer.submit("cloudtrail_insight", key, ct.wrap([ct.dumps(ev)]))
            r.insight_events.append(
                {
                    "eventID": ev["eventID"],
                    "eventTime": ev["eventTime"],
                    "state": ev["insightDetails"]["state"],
                    "key": key,
                }
            )


def _finish_record(r: ScenarioRecord) -> None:
    """Keep only delivered events (a stopped trail swallows calls made meanwhile)."""
    r.suppressed = [e for e in r.events if "key" not in e]
    r.events = [e for e in r.events if "key" in e]
    times = [parse_time(e["eventTime"]) for e in r.events]
    if times:
        r.start = min([r.start, *times])
        r.end = max([r.end, *times])


def _ground_truth(
    world: World,
    seed: int,
    t0: float,
    t1: float,
    records: list[ScenarioRecord],
    gaps: list[LoggingGap],
) -> dict[str, Any]:
    return {
        "generator": "loglake.datasets",
        "formatVersion": 1,
        "seed": seed,
        "start": iso_seconds(t0),
        "end": iso_seconds(t1),
        "organizationId": world.org_id,
        "trailName": world.trail_name,
        "accounts": [
            {
                "accountId": a.id,
                "name": a.name,
                "regions": [
                    {
                        "region": e.region,
                        "vpcId": e.vpc_id,
                        "flowLogId": e.flow_log_id,
                        "flowLogFormat": e.flow_format,
                        "exportPrefixes": {
                            group: cwlogs.export_prefix(e, group)
                            for group in cwlogs.EXPORTED_GROUPS
                        },
                        "firehoseLogGroups": [cwlogs.APP_GROUP],
                    }
                    for e in a.regions
                ],
            }
            for a in world.accounts
        ],
        "scenarios": [
            {
                "name": r.name,
                "description": r.description,
                "accountId": r.account_id,
                "region": r.region,
                "startTime": iso_seconds(r.start),
                "endTime": iso_seconds(max(r.end, r.start)),
                "signature": r.signature,
                "details": r.details,
                "cloudtrailEventIds": [e["eventID"] for e in r.events],
                "cloudtrailEvents": r.events,
                "flowRecords": r.flow_records,
                "configChanges": r.config_changes,
                "notDeliveredEvents": r.suppressed,
                "insightEvents": r.insight_events,
                "loggingGaps": r.logging_gaps,
            }
            for r in records
        ],
    }


__all__ = ["DEFAULT_START", "GROUND_TRUTH", "SOURCES", "GenerationSummary", "generate"]
