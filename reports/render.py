"""Report outputs: JSON, CSV, Markdown, JUnit XML and a self-contained HTML page.

Every output is a function of the run's results and evidence only (no wall clock, no timings),
so a re-run from the recorded table versions produces the same bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import json
from collections.abc import Callable
from typing import Any
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr
from zoneinfo import ZoneInfo

import polars as pl

from loglake.reports.definitions import SEVERITIES, STATUSES, Benchmark, Control, Section

FORMATS = ("json", "csv", "md", "junit", "html")
EXTENSIONS = {"json": "json", "csv": "csv", "md": "md", "junit": "xml", "html": "html"}
STATUS_COLOURS = {
    "alarm": "#c62828",
    "error": "#6a1b9a",
    "info": "#1565c0",
    "skip": "#757575",
    "ok": "#2e7d32",
}


def local_time(text: str | None, zone: str) -> str:
    """An ISO UTC time rendered in ``zone`` (how a schedule wants its reports read)."""
    if not text:
        return ""
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    local = moment.astimezone(ZoneInfo(zone))
    return local.strftime("%Y-%m-%d %H:%M:%S %Z")


def document(results: pl.DataFrame, evidence: dict[str, Any], benchmark: Benchmark) -> dict:
    """The canonical JSON document of a run (what every other format is rendered from)."""
    controls = []
    counts = {s: 0 for s in STATUSES}
    for control in benchmark.controls():
        rows = results.filter(pl.col("control_id") == control.id)
        mine = {s: int((rows["status"] == s).sum()) for s in STATUSES}
        for s in STATUSES:
            counts[s] += mine[s]
        controls.append(
            {
                "id": control.id,
                "title": control.title,
                "section": control.section,
                "severity": control.severity,
                "tags": control.tags,
                "status": _control_status(mine),
                "counts": mine,
                "rows": [
                    {k: v for k, v in row.items() if k != "control_id"} for row in rows.to_dicts()
                ],
            }
        )
    return {
        "run_id": evidence["run_id"],
        "benchmark": {"id": benchmark.id, "title": benchmark.title},
        "as_of": evidence["as_of"],
        "period_start": evidence["period_start"],
        "time_zone": evidence.get("time_zone", "UTC"),
        "counts": counts,
        "controls": controls,
        "evidence": {k: v for k, v in evidence.items() if k not in ("documents", "outputs")},
    }


def _control_status(counts: dict[str, int]) -> str:
    for status in ("error", "alarm", "ok", "info", "skip"):
        if counts.get(status):
            return status
    return "ok"


def render(fmt: str, doc: dict[str, Any], benchmark: Benchmark) -> bytes:
    renderers: dict[str, Callable[[dict[str, Any], Benchmark], str]] = {
        "json": _json,
        "csv": _csv,
        "md": _markdown,
        "junit": _junit,
        "html": _html,
    }
    return renderers[fmt](doc, benchmark).encode()


def _json(doc: dict[str, Any], benchmark: Benchmark) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


ROW_FIELDS = (
    "status",
    "resource",
    "account",
    "region",
    "reason",
    "cause_event_name",
    "cause_principal",
    "cause_source_ip",
    "cause_event_time",
    "cause_event_id",
    "cause_change_time",
    "evidence",
)


def _csv(doc: dict[str, Any], benchmark: Benchmark) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["run_id", "as_of", "control_id", "title", "severity", *ROW_FIELDS])
    for control in doc["controls"]:
        for row in control["rows"]:
            writer.writerow(
                [
                    doc["run_id"],
                    doc["as_of"],
                    control["id"],
                    control["title"],
                    control["severity"],
                    *(row.get(f) if row.get(f) is not None else "" for f in ROW_FIELDS),
                ]
            )
    return out.getvalue()


def _md_cell(value: Any) -> str:
    return str(value if value is not None else "").replace("|", "\\|").replace("\n", " ")


def _cause(row: dict[str, Any], zone: str) -> str:
    if not row.get("cause_event_name"):
        return row.get("cause_note") or ""
    return (
        f"{row['cause_event_name']} by {row.get('cause_principal') or '?'} from "
        f"{row.get('cause_source_ip') or '?'} at {local_time(row.get('cause_event_time'), zone)}"
    )


def _markdown(doc: dict[str, Any], benchmark: Benchmark) -> str:
    zone = doc["time_zone"]
    lines = [
        f"# {benchmark.title}",
        "",
        f"Run `{doc['run_id']}`, state of the estate at {local_time(doc['as_of'], zone)}, "
        f"CloudTrail period from {local_time(doc['period_start'], zone)}.",
        "",
        "| status | rows |",
        "|---|---|",
        *(f"| {s} | {doc['counts'][s]} |" for s in STATUSES),
        "",
    ]
    for control in doc["controls"]:
        lines += [
            f"## {control['id']} {control['title']}",
            "",
            f"Status **{control['status']}**, severity {control['severity']}.",
            "",
        ]
        if control["rows"]:
            lines += [
                "| status | resource | account | region | reason | caused by |",
                "|---|---|---|---|---|---|",
            ]
            for row in control["rows"]:
                cells = [
                    row["status"],
                    row.get("resource"),
                    row.get("account"),
                    row.get("region"),
                    row.get("reason"),
                    _cause(row, zone),
                ]
                lines.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
            lines.append("")
    lines += [
        "## Evidence",
        "",
        "```json",
        json.dumps(doc["evidence"], indent=2, sort_keys=True),
        "```",
        "",
    ]
    return "\n".join(lines)


def _junit(doc: dict[str, Any], benchmark: Benchmark) -> str:
    """Controls as test cases: alarm rows are failures, errors are errors, skip is skipped."""
    zone = doc["time_zone"]
    tests = len(doc["controls"])
    failures = sum(1 for c in doc["controls"] if c["status"] == "alarm")
    errors = sum(1 for c in doc["controls"] if c["status"] == "error")
    skipped = sum(1 for c in doc["controls"] if c["status"] == "skip")
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    out.append(
        f'<testsuites name={quoteattr(benchmark.title)} tests="{tests}" failures="{failures}" '
        f'errors="{errors}" skipped="{skipped}">'
    )
    out.append(
        f'  <testsuite name={quoteattr(benchmark.id)} tests="{tests}" failures="{failures}" '
        f'errors="{errors}" skipped="{skipped}" timestamp={quoteattr(doc["as_of"])}>'
    )
    for control in doc["controls"]:
        name = f"{control['id']} {control['title']}"
        classname = f"{benchmark.id}.{control['section'] or benchmark.id}"
        out.append(f"    <testcase classname={quoteattr(classname)} name={quoteattr(name)}>")
        rows = control["rows"]
        if control["status"] == "alarm":
            bad = [r for r in rows if r["status"] == "alarm"]
            text = "\n".join(
                f"{r.get('resource')}: {r.get('reason')}"
                + (f" [{_cause(r, zone)}]" if _cause(r, zone) else "")
                for r in bad
            )
            out.append(
                f"      <failure message={quoteattr(f'{len(bad)} resource(s) in alarm')} "
                f'type="alarm">{xml_escape(text)}</failure>'
            )
        elif control["status"] == "error":
            message = next((r.get("reason") for r in rows if r["status"] == "error"), "")
            out.append(f'      <error message={quoteattr(message or "")} type="error"/>')
        elif control["status"] == "skip":
            message = next((r.get("reason") for r in rows), "")
            out.append(f"      <skipped message={quoteattr(message or '')}/>")
        out.append("    </testcase>")
    out.append("  </testsuite>")
    out.append("</testsuites>")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------- HTML

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#212121;max-width:1200px}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}
h3{font-size:1rem;margin:1.2rem 0 .4rem}.meta{color:#555;margin-bottom:1rem}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.4rem 0 1rem}
th,td{border:1px solid #e0e0e0;padding:.3rem .45rem;text-align:left;vertical-align:top}
th{background:#f5f5f5}.badge{color:#fff;border-radius:3px;padding:1px 6px;font-size:.8rem}
.summary{display:flex;gap:2rem;flex-wrap:wrap;align-items:flex-start}
.tiles{display:flex;gap:.6rem}.tile{border-radius:6px;color:#fff;padding:.6rem 1rem;min-width:5rem}
.tile b{display:block;font-size:1.6rem}.control{margin-left:.5rem}
code{font-size:.8rem;word-break:break-all}tr.target{outline:2px solid #ff8f00}
"""


def _badge(status: str) -> str:
    return f'<span class="badge" style="background:{STATUS_COLOURS[status]}">{status}</span>'


def _anchor(*parts: str) -> str:
    return "-".join("".join(ch if ch.isalnum() else "_" for ch in p) for p in parts)


def _chart(doc: dict[str, Any]) -> str:
    """Stacked bars of rows per status for each severity (inline SVG, no script)."""
    rows: dict[str, dict[str, int]] = {s: dict.fromkeys(STATUSES, 0) for s in SEVERITIES}
    for control in doc["controls"]:
        for status, n in control["counts"].items():
            rows[control["severity"]][status] += n
    width, bar_h, gap, left = 520, 22, 10, 70
    total_max = max([sum(r.values()) for r in rows.values()] + [1])
    parts = [
        f'<svg id="chart" role="img" aria-label="rows per severity and status" width="{width + 20}" '
        f'height="{len(SEVERITIES) * (bar_h + gap) + 30}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, severity in enumerate(SEVERITIES):
        y = i * (bar_h + gap)
        parts.append(f'<text x="0" y="{y + bar_h - 6}" font-size="12">{severity}</text>')
        x = left
        for status in STATUSES:
            n = rows[severity][status]
            if not n:
                continue
            w = max(2, round((width - left) * n / total_max))
            parts.append(
                f'<rect class="bar" data-severity="{severity}" data-status="{status}" x="{x}" '
                f'y="{y}" width="{w}" height="{bar_h}" fill="{STATUS_COLOURS[status]}">'
                f"<title>{severity} {status}: {n}</title></rect>"
            )
            x += w
        parts.append(
            f'<text x="{x + 4}" y="{y + bar_h - 6}" font-size="11">{sum(rows[severity].values())}</text>'
        )
    legend_y = len(SEVERITIES) * (bar_h + gap) + 15
    for j, status in enumerate(STATUSES):
        parts.append(
            f'<rect x="{left + j * 80}" y="{legend_y}" width="10" height="10" fill="{STATUS_COLOURS[status]}"/>'
            f'<text x="{left + j * 80 + 14}" y="{legend_y + 9}" font-size="11">{status}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _html(doc: dict[str, Any], benchmark: Benchmark) -> str:
    zone = doc["time_zone"]
    esc = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(benchmark.title)} — {esc(doc['run_id'])}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{esc(benchmark.title)}</h1>",
        f'<div class="meta">Run <code id="run-id">{esc(doc["run_id"])}</code> · estate as of '
        f'<b id="as-of">{esc(local_time(doc["as_of"], zone))}</b> · CloudTrail from '
        f"{esc(local_time(doc['period_start'], zone))}</div>",
        '<div class="summary"><div class="tiles" id="totals">',
    ]
    for status in STATUSES:
        out.append(
            f'<div class="tile" data-status="{status}" style="background:{STATUS_COLOURS[status]}">'
            f"<b>{doc['counts'][status]}</b>{status}</div>"
        )
    out.append("</div>")
    out.append(_chart(doc))
    out.append("</div>")
    out.append('<h2>By section</h2><table id="sections"><tr><th>section</th>')
    out.append("".join(f"<th>{s}</th>" for s in STATUSES) + "</tr>")
    sections: dict[str, dict[str, int]] = {}
    for control in doc["controls"]:
        bucket = sections.setdefault(
            control["section"] or benchmark.title, dict.fromkeys(STATUSES, 0)
        )
        for status, n in control["counts"].items():
            bucket[status] += n
    for name, counts in sections.items():
        out.append(
            f"<tr><td>{esc(name)}</td>"
            + "".join(f"<td>{counts[s]}</td>" for s in STATUSES)
            + "</tr>"
        )
    out.append("</table>")
    by_id = {c["id"]: c for c in doc["controls"]}
    causes: list[tuple[str, dict[str, Any]]] = []

    def control_html(control: Control) -> None:
        c = by_id[control.id]
        anchor = _anchor("control", control.id)
        out.append(
            f'<div class="control" id="{anchor}" data-status="{c["status"]}">'
            f"<h3>{_badge(c['status'])} {esc(control.id)} {esc(control.title)} "
            f"<small>({esc(control.severity)})</small></h3>"
        )
        if not c["rows"]:
            out.append("<p>No resource in scope.</p></div>")
            return
        out.append(
            "<table><tr><th>status</th><th>resource</th><th>account</th><th>region</th>"
            "<th>reason</th><th>caused by</th></tr>"
        )
        for i, row in enumerate(c["rows"]):
            row_id = _anchor("row", control.id, str(i))
            cause = ""
            if row.get("cause_event_id"):
                event_anchor = _anchor("event", row["cause_event_id"])
                causes.append((event_anchor, {**row, "_row": row_id, "_control": control.id}))
                cause = f'<a class="cause" href="#{event_anchor}">{esc(_cause(row, zone))}</a>'
            elif row.get("cause_note"):
                cause = esc(row["cause_note"])
            out.append(
                f'<tr id="{row_id}" class="result" data-status="{row["status"]}">'
                f"<td>{_badge(row['status'])}</td><td><code>{esc(row.get('resource') or '')}</code></td>"
                f"<td>{esc(row.get('account') or '')}</td><td>{esc(row.get('region') or '')}</td>"
                f"<td>{esc(row.get('reason') or '')}</td><td>{cause}</td></tr>"
            )
        out.append("</table></div>")

    def walk(nodes: tuple[Section | Control, ...], depth: int) -> None:
        for node in nodes:
            if isinstance(node, Control):
                control_html(node)
            else:
                out.append(f"<h2>{esc(node.title)}</h2>")
                walk(node.children, depth + 1)

    walk(benchmark.children, 0)
    out.append(
        '<h2>Causing events</h2><table id="events"><tr><th>event</th><th>name</th>'
        "<th>principal</th><th>source IP</th><th>time</th><th>made non-compliant</th></tr>"
    )
    seen: set[str] = set()
    for anchor, row in causes:
        if anchor in seen:
            continue
        seen.add(anchor)
        out.append(
            f'<tr id="{anchor}" class="event"><td><code>{esc(row["cause_event_id"])}</code></td>'
            f"<td>{esc(row.get('cause_event_name') or '')}</td><td>{esc(row.get('cause_principal') or '')}</td>"
            f"<td>{esc(row.get('cause_source_ip') or '')}</td>"
            f"<td>{esc(local_time(row.get('cause_event_time'), zone))}</td>"
            f'<td><a href="#{row["_row"]}">{esc(row["_control"])}: {esc(row.get("resource") or "")}</a></td></tr>'
        )
    out.append("</table>")
    evidence = doc["evidence"]
    out.append('<h2>Evidence</h2><table id="evidence">')
    out.append(
        f"<tr><th>table versions read</th><td>{esc(json.dumps(evidence.get('tables', {}), sort_keys=True))}</td></tr>"
    )
    out.append(
        f"<tr><th>CloudTrail digest validation</th><td>{esc(json.dumps(evidence.get('trail_validation', {}), sort_keys=True))}</td></tr>"
    )
    out.append(
        f"<tr><th>benchmark</th><td>{esc(str(evidence.get('benchmark_sha256', '')))}</td></tr>"
    )
    out.append("</table><details><summary>control file hashes</summary><table>")
    for item in evidence.get("controls", []):
        out.append(
            f"<tr><td>{esc(item['id'])}</td><td><code>{esc(item['sha256'])}</code></td></tr>"
        )
    out.append("</table></details></body></html>")
    return "\n".join(out) + "\n"


__all__ = ["EXTENSIONS", "FORMATS", "document", "local_time", "render"]
