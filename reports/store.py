"""Runs in the lake: ``_reports.runs`` and ``_reports.results`` (managed tables, so trends are
SQL), the evidence of each run (``<root>/_state/reports/<run id>/evidence.json``: table versions,
control file hashes, monitor definitions, digest validation, SHA-256 of every output) and the
outputs themselves.

Both tables are appended with the Delta application transaction ``report:<run id>``: a run that
is written twice (a scheduled run retried after a crash, two watchers) adds its rows once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

import polars as pl
import pyarrow as pa

from loglake.catalog import Catalog
from loglake.catalog.documents import DocumentStore
from loglake.errors import UserError, did_you_mean
from loglake.query.types import polars_schema_from_arrow
from loglake.reports.render import EXTENSIONS, document, render
from loglake.reports.runner import RESULT_SCHEMA, RunResult
from loglake.reports.tables import iso_text

DATABASE = "_reports"
#: where each run keeps its evidence and outputs: <root>/_state/reports/<run id>/
EVIDENCE = ("_state", "reports")
RUNS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string()),
        pa.field("benchmark", pa.string()),
        pa.field("target", pa.string()),  # the benchmark, or BENCHMARK/CONTROL for one control
        pa.field("as_of", pa.timestamp("us", tz="UTC")),
        pa.field("started_at", pa.timestamp("us", tz="UTC")),
        pa.field("elapsed_s", pa.float64()),
        pa.field("controls", pa.int64()),
        pa.field("ok", pa.int64()),
        pa.field("alarm", pa.int64()),
        pa.field("info", pa.int64()),
        pa.field("skip", pa.int64()),
        pa.field("error", pa.int64()),
        pa.field("schedule", pa.string()),
        pa.field("scheduled_time", pa.timestamp("us", tz="UTC")),
        pa.field("late", pa.bool_()),
        pa.field("evidence_sha256", pa.string()),
    ]
)
RESULTS_SCHEMA = pa.schema(
    [
        pa.field("run_id", pa.string()),
        pa.field("benchmark", pa.string()),
        pa.field("as_of", pa.timestamp("us", tz="UTC")),
        pa.field("title", pa.string()),
        pa.field("section", pa.string()),
        pa.field("severity", pa.string()),
        *(pa.field(name, pa.string()) for name in RESULT_SCHEMA),
    ]
)


@dataclass
class StoredRun:
    """A run as recorded: its evidence document and where its outputs are."""

    run_id: str
    evidence: dict[str, Any]


def _table(catalog: Catalog, name: str, schema: pa.Schema, comment: str):
    return catalog.own_table(DATABASE, name, schema, comment=comment)


def target_of(result: RunResult) -> str:
    every = len(result.controls) == len(result.benchmark.controls())
    return (
        result.benchmark.id if every else f"{result.benchmark.id}/{result.controls[0].control.id}"
    )


def evidence_of(
    result: RunResult, *, time_zone: str = "UTC", trail_validation: dict[str, Any] | None = None
) -> dict[str, Any]:
    """What an auditor needs to check and reproduce the run (outputs added when written)."""
    controls = [
        {"id": c.control.id, "path": c.control.path, "sha256": c.control.sha256}
        for c in result.controls
    ]
    return {
        "run_id": result.run_id,
        "benchmark_id": result.benchmark.id,
        "benchmark_sha256": hashlib.sha256(
            "".join(c["sha256"] for c in controls).encode()
        ).hexdigest(),
        "as_of": iso_text(result.as_of),
        "period_start": iso_text(result.period_start),
        "time_zone": time_zone,
        "tables": dict(result.pins),
        "external_tables": result.external_tables,
        "controls": controls,
        "control_texts": {c.control.id: c.control.text for c in result.controls},
        "documents": result.documents,
        "trail_validation": trail_validation or {"status": "not validated"},
    }


def outputs(result: RunResult, evidence: dict[str, Any], formats: list[str]) -> dict[str, bytes]:
    """File name -> bytes for the canonical JSON and every requested format."""
    doc = document(result.results, _public(evidence), result.benchmark)
    names = {"json": "results.json"}
    for fmt in formats:
        names[fmt] = f"report.{EXTENSIONS[fmt]}" if fmt != "json" else "results.json"
    return {name: render(fmt, doc, result.benchmark) for fmt, name in names.items()}


def _public(evidence: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in evidence.items() if k != "control_texts"}


def manifest(files: dict[str, bytes]) -> dict[str, str]:
    return {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}


def save(
    catalog: Catalog,
    result: RunResult,
    evidence: dict[str, Any],
    files: dict[str, bytes],
    *,
    schedule: str | None = None,
    scheduled_time: dt.datetime | None = None,
    late: bool = False,
) -> dict[str, Any]:
    """Record the run: evidence document, output files beside it, and the two tables."""
    evidence = dict(evidence)
    evidence["outputs"] = manifest(files)
    fs = catalog.settings.filesystem()
    folder = catalog.settings.url(*EVIDENCE, result.run_id)
    fs.makedirs(catalog.settings.fs_path(folder), exist_ok=True)
    for name, data in files.items():
        with fs.open(catalog.settings.fs_path(f"{folder}/{name}"), "wb") as handle:
            handle.write(data)
    body = json.dumps(evidence, sort_keys=True, indent=1).encode()
    with fs.open(catalog.settings.fs_path(f"{folder}/evidence.json"), "wb") as handle:
        handle.write(body)
    app = f"report:{result.run_id}"
    counts = result.counts
    runs = _table(catalog, "runs", RUNS_SCHEMA, "One row per compliance report run")
    if runs.app_version(app) is None:
        runs.append(
            pa.Table.from_pylist(
                [
                    {
                        "run_id": result.run_id,
                        "benchmark": result.benchmark.id,
                        "target": target_of(result),
                        "as_of": result.as_of,
                        "started_at": result.started_at,
                        "elapsed_s": round(result.elapsed_s, 3),
                        "controls": len(result.controls),
                        **counts,
                        "schedule": schedule,
                        "scheduled_time": scheduled_time,
                        "late": late,
                        "evidence_sha256": hashlib.sha256(body).hexdigest(),
                    }
                ],
                schema=RUNS_SCHEMA,
            ),
            app_id=app,
            app_version=1,
        )
    results = _table(
        catalog, "results", RESULTS_SCHEMA, "One row per resource and control of a run"
    )
    if results.app_version(app) is None:
        meta = {c.control.id: c.control for c in result.controls}
        frame = result.results.with_columns(
            pl.lit(result.run_id).alias("run_id"),
            pl.lit(result.benchmark.id).alias("benchmark"),
            pl.lit(result.as_of).dt.cast_time_unit("us").alias("as_of"),
            pl.col("control_id")
            .replace_strict({k: v.title for k, v in meta.items()})
            .alias("title"),
            pl.col("control_id")
            .replace_strict({k: v.section for k, v in meta.items()})
            .alias("section"),
            pl.col("control_id")
            .replace_strict({k: v.severity for k, v in meta.items()})
            .alias("severity"),
        ).select(RESULTS_SCHEMA.names)
        results.append(frame.to_arrow().cast(RESULTS_SCHEMA), app_id=app, app_version=1)
    return evidence


def load(catalog: Catalog, run_id: str) -> StoredRun:
    fs = catalog.settings.filesystem()
    path = catalog.settings.fs_path(catalog.settings.url(*EVIDENCE, run_id, "evidence.json"))
    try:
        with fs.open(path, "rb") as handle:
            return StoredRun(run_id, json.loads(handle.read()))
    except FileNotFoundError:
        known = run_ids(catalog)
        hint = did_you_mean(run_id, known, quote=False)
        raise UserError(f"there is no report run {run_id!r}{hint}") from None


def run_ids(catalog: Catalog, benchmark: str | None = None) -> list[str]:
    frame = runs_frame(catalog)
    if benchmark:
        frame = frame.filter(pl.col("benchmark") == benchmark)
    return frame["run_id"].to_list()


def runs_frame(catalog: Catalog) -> pl.DataFrame:
    if not catalog.table_exists(DATABASE, "runs"):
        return pl.DataFrame(schema=polars_schema_from_arrow(RUNS_SCHEMA))
    table = catalog.managed(DATABASE, "runs")
    return (
        pl.scan_delta(
            table.location, storage_options=catalog.settings.delta_storage_options() or None
        )
        .sort("started_at")
        .collect()
    )


def results_of(catalog: Catalog, run_id: str) -> pl.DataFrame:
    table = catalog.managed(DATABASE, "results")
    return (
        pl.scan_delta(
            table.location, storage_options=catalog.settings.delta_storage_options() or None
        )
        .filter(pl.col("run_id") == run_id)
        .collect()
    )


def diff(
    catalog: Catalog, run_id: str | None = None, benchmark: str | None = None
) -> dict[str, Any]:
    """New failures and fixes of a run against the previous run of the same benchmark."""
    runs = runs_frame(catalog)
    if benchmark:
        runs = runs.filter(pl.col("benchmark") == benchmark)
    if runs.is_empty():
        raise UserError(
            "there is no report run to compare" + (f" for {benchmark}" if benchmark else "")
        )
    if run_id is None:
        run_id = runs["run_id"][-1]
    ids = runs["run_id"].to_list()
    if run_id not in ids:
        load(catalog, run_id)  # raises with a suggestion
    current = runs.filter(pl.col("run_id") == run_id).row(0, named=True)
    earlier = runs.filter(
        (pl.col("target") == current["target"]) & (pl.col("started_at") < current["started_at"])
    ).sort("started_at")
    if earlier.is_empty():
        return {"run_id": run_id, "previous": None, "new_failures": [], "fixed": []}
    previous = earlier["run_id"][-1]
    key = ["control_id", "resource", "account", "region"]
    now = results_of(catalog, run_id).filter(pl.col("status") == "alarm")
    before = results_of(catalog, previous).filter(pl.col("status") == "alarm")
    new = now.join(before.select(key), on=key, how="anti", nulls_equal=True)
    fixed = before.join(now.select(key), on=key, how="anti", nulls_equal=True)
    columns = [*key, "reason", "cause_event_name", "cause_principal", "cause_event_time"]
    return {
        "run_id": run_id,
        "previous": previous,
        "new_failures": new.select(columns).sort(key).to_dicts(),
        "fixed": fixed.select(columns).sort(key).to_dicts(),
    }


# ---------------------------------------------------------------------------------- digests

VALIDATIONS = "_state/trail_validations"


def validation_record(report: Any, source: str) -> dict[str, Any]:
    """The summary of a ``trail validate`` report that a compliance run cites."""

    def tally(items: list[Any]) -> dict[str, int]:
        valid = sum(r.valid for r in items)
        invalid = sum(r.invalid for r in items)
        return {"valid": valid, "invalid": invalid, "unverified": len(items) - valid - invalid}

    return {
        "validated_at": iso_text(dt.datetime.now(dt.UTC)),
        "source": source,
        "start": iso_text(report.start),
        "end": iso_text(report.end),
        "digests": tally(report.digests),
        "logs": tally(report.logs),
        "invalid": [r.url for r in report.results if r.invalid][:50],
        "gaps": [list(g) for g in report.gaps],
    }


def record_trail_validation(catalog: Catalog, record: dict[str, Any]) -> None:
    """Keep the outcome of ``loglake trail validate`` so reports can cite it as evidence."""
    store = DocumentStore(catalog.settings, catalog.settings.url(VALIDATIONS))
    name = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]
    if store.read(name) is None:
        store.write(name, record, 0)


def trail_validation(catalog: Catalog, start: dt.datetime, end: dt.datetime) -> dict[str, Any]:
    """Digest validation status of ``[start, end]`` from the recorded validations."""
    store = DocumentStore(catalog.settings, catalog.settings.url(VALIDATIONS))
    overlapping = []
    for name in store.children():
        doc = store.read(name)
        if doc is None:
            continue
        body = doc.body
        if body["end"] >= iso_text(start) and body["start"] <= iso_text(end):
            overlapping.append(body)
    if not overlapping:
        return {
            "status": "not validated",
            "detail": "no `loglake trail validate` covers the period",
        }
    overlapping.sort(key=lambda b: (b["start"], b["validated_at"]))
    invalid = [b for b in overlapping if b["invalid"]]
    covered = any(b["start"] <= iso_text(start) and b["end"] >= iso_text(end) for b in overlapping)
    status = "INVALID" if invalid else ("valid" if covered else "partly validated")
    return {
        "status": status,
        "validations": [
            {
                k: b[k]
                for k in ("validated_at", "start", "end", "digests", "logs", "invalid", "gaps")
            }
            for b in overlapping
        ],
    }


__all__ = [
    "DATABASE",
    "diff",
    "evidence_of",
    "load",
    "manifest",
    "outputs",
    "record_trail_validation",
    "run_ids",
    "runs_frame",
    "save",
    "trail_validation",
    "validation_record",
]
