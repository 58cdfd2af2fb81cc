"""A timeline as one self-contained HTML page: a time axis with one lane per source, and the rows.

No scripts, fonts or styles are fetched: everything is inline, and every value from the logs is
escaped (log fields are attacker-controlled text).
"""

from __future__ import annotations

import html
from datetime import datetime

import polars as pl

from loglake.investigate.timeline import time_bounds

LANES = ("cloudtrail", "cloudtrail_insights", "vpc_flow_logs", "config_items", "cloudwatch_logs")
COLOURS = {
    "cloudtrail": "#2563eb",
    "cloudtrail_insights": "#9333ea",
    "vpc_flow_logs": "#059669",
    "config_items": "#d97706",
    "cloudwatch_logs": "#6b7280",
}
WIDTH, LANE, LEFT, TOP = 1100, 34, 170, 30
#: markers drawn per lane at most; further rows stay in the table
MAX_MARKERS = 4000

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:24px;color:#111827}
h1{font-size:20px;margin:0 0 4px}p.meta{color:#4b5563;margin:0 0 16px}
table{border-collapse:collapse;width:100%;font-size:12px}
th,td{border-bottom:1px solid #e5e7eb;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f3f4f6;position:sticky;top:0}td.t{white-space:nowrap;font-family:monospace}
span.src{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px}
svg text{font-size:11px;fill:#374151}.hit td{background:#fef2f2}
"""


def _x(t: datetime, lo: datetime, hi: datetime) -> float:
    span = (hi - lo).total_seconds() or 1.0
    return LEFT + (WIDTH - LEFT - 20) * (t - lo).total_seconds() / span


def timeline_html(
    frame: pl.DataFrame, title: str, meta: str = "", highlight: set[str] | None = None
) -> str:
    """The page for a timeline frame (columns time, source, summary, event_id, ...)."""
    esc = html.escape
    highlight = highlight or set()
    lanes = [lane for lane in LANES if lane in set(frame["source"].to_list())] or ["cloudtrail"]
    height = TOP + LANE * len(lanes) + 40
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'role="img" aria-label="time axis">'
    ]
    bounds = time_bounds(frame["time"])
    if bounds is not None:
        lo, hi = bounds
        for i, lane in enumerate(lanes):
            y = TOP + LANE * i + LANE / 2
            parts.append(
                f'<text x="8" y="{y + 4:.0f}">{esc(lane)}</text>'
                f'<line x1="{LEFT}" x2="{WIDTH - 20}" y1="{y:.0f}" y2="{y:.0f}" stroke="#e5e7eb"/>'
            )
            rows = frame.filter(pl.col("source") == lane).head(MAX_MARKERS)
            for t, summary, event_id in rows.select("time", "summary", "event_id").iter_rows():
                if t is None:
                    continue
                colour = "#dc2626" if event_id in highlight else COLOURS.get(lane, "#111827")
                parts.append(
                    f'<circle cx="{_x(t, lo, hi):.1f}" cy="{y:.0f}" r="4" fill="{colour}" '
                    f'fill-opacity="0.7"><title>{esc(str(t))} {esc(summary or "")}</title></circle>'
                )
        axis_y = TOP + LANE * len(lanes) + 14
        for k in range(6):
            t = lo + (hi - lo) * (k / 5)
            x = _x(t, lo, hi)
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP - 6}" y2="{axis_y - 10}" '
                f'stroke="#f3f4f6"/><text x="{x:.1f}" y="{axis_y}" text-anchor="middle">'
                f"{esc(t.strftime('%Y-%m-%d %H:%M:%S'))}</text>"
            )
    parts.append("</svg>")
    rows_html = []
    for row in frame.iter_rows(named=True):
        colour = COLOURS.get(row["source"], "#111827")
        cls = ' class="hit"' if row.get("event_id") in highlight else ""
        rows_html.append(
            f"<tr{cls}><td class=t>{esc(str(row['time']))}</td>"
            f'<td><span class=src style="background:{colour}"></span>{esc(row["source"])}</td>'
            f"<td>{esc(row.get('summary') or '')}</td><td>{esc(row.get('actor') or '')}</td>"
            f"<td>{esc(row.get('ip') or '')}</td><td>{esc(row.get('account') or '')}</td>"
            f"<td class=t>{esc(row.get('event_id') or '')}</td></tr>"
        )
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1><p class=meta>{esc(meta)}</p>{''.join(parts)}"
        "<table><thead><tr><th>time (UTC)</th><th>source</th><th>what</th><th>actor</th>"
        "<th>address</th><th>account</th><th>id</th></tr></thead><tbody>"
        + "".join(rows_html)
        + "</tbody></table></body></html>\n"
    )
