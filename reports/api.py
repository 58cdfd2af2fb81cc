"""The report operations the CLI, the watch loop and notebooks share: run, re-run, outputs."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from loglake.catalog import Catalog, StorageSettings
from loglake.errors import UserError
from loglake.reports import store
from loglake.reports.definitions import Benchmark, Control, Section, find, parse_control
from loglake.reports.render import EXTENSIONS, FORMATS
from loglake.reports.runner import Runner, RunResult


@dataclass
class Report:
    """A finished, recorded run: its result, evidence (with the output manifest) and files."""

    result: RunResult
    evidence: dict[str, Any]
    files: dict[str, bytes]
    written: list[str] = field(default_factory=list)

    @property
    def run_id(self) -> str:
        return self.result.run_id


def parse_time(text: str | dt.datetime | None) -> dt.datetime:
    """``2024-05-08T12:00Z``, ``2024-05-08T12:00:00+02:00``, ``2024-05-08`` (UTC if no zone)."""
    if text is None:
        return dt.datetime.now(dt.UTC).replace(microsecond=0)
    if isinstance(text, dt.datetime):
        return text if text.tzinfo else text.replace(tzinfo=dt.UTC)
    value = text.strip().replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"not a time: {text!r} (use e.g. 2024-05-08T12:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def tree_of(benchmark: Benchmark) -> list[Any]:
    def walk(nodes: tuple[Section | Control, ...]) -> list[Any]:
        out: list[Any] = []
        for node in nodes:
            if isinstance(node, Control):
                out.append({"control": node.id})
            else:
                out.append(
                    {"section": node.title, "key": node.key, "children": walk(node.children)}
                )
        return out

    return walk(benchmark.children)


def run_report(
    catalog: Catalog,
    target: str | Benchmark,
    *,
    as_of: str | dt.datetime | None = None,
    formats: list[str] | None = None,
    output: str | None = None,
    time_zone: str = "UTC",
    run_id: str | None = None,
    database: str = "default",
    paths: list[str] | None = None,
    schedule: str | None = None,
    scheduled_time: dt.datetime | None = None,
    late: bool = False,
    storage: StorageSettings | None = None,
) -> Report:
    """Run a benchmark (or ``BENCHMARK/CONTROL``) at ``as_of`` and record it in the lake."""
    formats = list(formats or [])
    for fmt in formats:
        if fmt not in FORMATS:
            raise UserError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if isinstance(target, Benchmark):
        benchmark, only = target, None
    else:
        benchmark, only = find(target, paths)
    moment = parse_time(as_of)
    runner = Runner(catalog, benchmark, as_of=moment, database=database)
    result = runner.run([only] if only else None, run_id=run_id)
    validation = store.trail_validation(catalog, result.period_start, result.as_of)
    evidence = store.evidence_of(result, time_zone=time_zone, trail_validation=validation)
    evidence["tree"] = tree_of(benchmark)
    evidence["benchmark_title"] = benchmark.title
    evidence["period_days"] = benchmark.period_days
    files = store.outputs(result, evidence, formats)
    evidence = store.save(
        catalog,
        result,
        evidence,
        files,
        schedule=schedule,
        scheduled_time=scheduled_time,
        late=late,
    )
    report = Report(result, evidence, files)
    if output:
        report.written = write_outputs(output, files, formats, storage or catalog.settings)
    return report


def write_outputs(
    output: str, files: dict[str, bytes], formats: list[str], settings: StorageSettings
) -> list[str]:
    """One format to a file path; several (or a path ending in '/') into a folder."""
    wanted = [f"report.{EXTENSIONS[f]}" if f != "json" else "results.json" for f in formats]
    wanted = wanted or ["results.json"]
    target = settings.with_root(output) if "://" in output else None
    fs = (target or settings).filesystem()
    is_folder = output.endswith("/") or len(wanted) > 1
    written = []
    for name in wanted:
        url = output.rstrip("/") + "/" + name if is_folder else output
        path = target.fs_path(url) if target else url
        parent = path.rsplit("/", 1)[0] if "/" in path else "."
        fs.makedirs(parent, exist_ok=True)
        with fs.open(path, "wb") as handle:
            handle.write(files[name])
        written.append(url)
    return written


def rebuild_benchmark(evidence: dict[str, Any]) -> Benchmark:
    """The benchmark exactly as the run used it, from the control texts in its evidence."""
    texts = evidence["control_texts"]
    paths = {c["id"]: c["path"] for c in evidence["controls"]}

    def walk(nodes: list[Any], section: str) -> tuple[Section | Control, ...]:
        out: list[Section | Control] = []
        for node in nodes:
            if "control" in node:
                cid = node["control"]
                if cid in texts:
                    out.append(
                        parse_control(texts[cid], paths[cid], evidence["benchmark_id"], section)
                    )
            else:
                children = walk(node["children"], node["section"])
                if children:
                    out.append(Section(node["key"], node["section"], children=children))
        return tuple(out)

    return Benchmark(
        id=evidence["benchmark_id"],
        title=evidence.get("benchmark_title", evidence["benchmark_id"]),
        path="(recorded)",
        parameters={"period_days": evidence.get("period_days", 90)},
        children=walk(evidence["tree"], ""),
    )


@dataclass
class Rerun:
    """A re-run of a recorded run and how its outputs compare with the recorded manifest."""

    run_id: str
    identical: bool
    outputs: dict[str, tuple[str, str]]  # name -> (recorded, reproduced) SHA-256
    report: Report


def rerun(catalog: Catalog, run_id: str, *, database: str = "default") -> Rerun:
    """Run a recorded run again from the recorded table versions, controls and definitions."""
    stored = store.load(catalog, run_id)
    evidence = stored.evidence
    benchmark = rebuild_benchmark(evidence)
    runner = Runner(
        catalog,
        benchmark,
        as_of=parse_time(evidence["as_of"]),
        database=database,
        pins=evidence["tables"],
        documents=evidence["documents"],
    )
    result = runner.run(run_id=run_id)
    again = store.evidence_of(
        result,
        time_zone=evidence.get("time_zone", "UTC"),
        trail_validation=evidence.get("trail_validation"),
    )
    again["tree"] = evidence["tree"]
    again["benchmark_title"] = evidence.get("benchmark_title")
    again["period_days"] = evidence.get("period_days")
    recorded = evidence.get("outputs", {})
    formats = [f for f, ext in EXTENSIONS.items() if f"report.{ext}" in recorded]
    files = store.outputs(result, again, formats)
    now = store.manifest(files)
    compared = {name: (recorded.get(name, ""), now.get(name, "")) for name in sorted(recorded)}
    identical = all(a == b for a, b in compared.values())
    return Rerun(run_id, identical, compared, Report(result, again, files))


__all__ = ["Report", "Rerun", "parse_time", "rebuild_benchmark", "rerun", "run_report"]
