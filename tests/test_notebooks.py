"""The notebooks in docs/ run top to bottom in a real Jupyter kernel against the demo lake.

Each notebook is started from a ``docs/`` folder beside the lake with ``LOGLAKE_LAKE`` unset, so
``%loglake connect`` must find the demo lake by itself, as it does for a user who opens the
notebook from the repository. One kernel per notebook.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

DOCS = Path(__file__).resolve().parents[1] / "docs"
STATS_LINE = re.compile(
    r"[\d,]+ rows? · [\d.]+ [KMGT]?B scanned · files [\d,]+ read, [\d,]+ skipped · [\d.]+ s · "
    r"Athena would charge USD [\d.]+ · query [0-9a-f-]{36}"
)


def _run(name: str, demo_lake: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Execute a notebook; returns its code cells' outputs (one list per code cell)."""
    monkeypatch.delenv("LOGLAKE_LAKE", raising=False)
    workdir = demo_lake.parent / "docs"
    workdir.mkdir(exist_ok=True)
    notebook = nbformat.read(DOCS / name, as_version=4)
    NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(workdir)}}
    ).execute()  # raises CellExecutionError, with the cell and its error, if any cell fails
    return [cell.outputs for cell in notebook.cells if cell.cell_type == "code"]


def _html(outputs: list[dict[str, Any]]) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in outputs)


def _text(outputs: list[dict[str, Any]]) -> str:
    return "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)


def _check_common(cells: list[list[dict[str, Any]]]) -> list[str]:
    """No error output, no progress bar left behind, every result table with its stats line."""
    everything = [o for outputs in cells for o in outputs]
    assert not [o for o in everything if o.output_type == "error"]
    assert not [o for o in everything if o.get("name") == "stderr"]
    assert "<progress" not in "".join(_html([o]) for o in everything)
    results = [_html(outputs) for outputs in cells if "class='loglake-result'" in _html(outputs)]
    for page in results:
        assert "<small class='loglake-type'" in page and STATS_LINE.search(page), page[-400:]
    return results


def test_investigate_notebook(demo_lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cells = _run("investigate.ipynb", demo_lake, monkeypatch)
    results = _check_common(cells)
    assert len(results) == 8  # every %sql whose result is not assigned
    assert f"connected to {demo_lake} (database aws" in _text(cells[0])
    shown_tables = _html(cells[1])
    for table in ("cloudtrail", "vpc_flow_logs", "config_items", "cloudwatch_logs"):
        assert f"<td>{table}</td>" in shown_tables
    root_logins = next(
        _html(c) for c in cells if "mfa_used" in _html(c) and "loglake-result" in _html(c)
    )
    assert "<td>No</td>" in root_logins
    assert any("image/png" in o.get("data", {}) for c in cells for o in c)
    assert re.search(r"'AKIA[A-Z0-9]{16}'", "".join(_text(c) for c in cells))
    driver = next(_text(c) for c in cells if "accepted SSH flows" in _text(c))
    assert "('dstport', 'integer')" in driver and "Athena would charge USD" in driver
    explain = next(_text(c) for c in cells if "Scans:" in _text(c))
    assert "aws.cloudtrail:" in explain and "10 MB minimum per query" in explain
    assert "CIS-RootAccountUsage-Alarm" in _html(cells[-1])


def test_sql_from_jupyter_notebook(demo_lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cells = _run("sql-from-jupyter.ipynb", demo_lake, monkeypatch)
    results = _check_common(cells)
    assert len(results) == 4  # every %sql whose result is not assigned
    text = "".join(_text(c) for c in cells)
    assert "DataFrame DataFrame Table" in text  # .pl(), .df(), .arrow()
    assert "line 3, column 7: Column 'nosuchcolumn' cannot be resolved" in text
    assert "'cloudtrail'" in text and "('srcport', 'INTEGER')" in text
    assert "OFFSET" not in text and "LIMIT 5" in text  # the compiled Core query
    hostile = next(h for h in results if "matches" in h)
    assert "<td>0</td>" in hostile
    assert (demo_lake.parent / "docs" / "write-calls.png").read_bytes()[:4] == b"\x89PNG"
    pandas_tables = [_html(c) for c in cells if 'class="dataframe"' in _html(c)]
    assert any("ACCEPT" in page for page in pandas_tables)
