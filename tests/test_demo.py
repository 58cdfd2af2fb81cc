"""The demo end to end on a small lake, then every cell of the example notebook against it."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import polars as pl
import pytest

from loglake import demo

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "investigate.ipynb"


@pytest.fixture(scope="module")
def demo_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "demo-lake"
    assert demo.run(out, events_per_day=400, days=3, seed=7) == 0
    return out


def test_demo_finds_every_incident(demo_lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import loglake

    lake = loglake.connect(str(demo_lake))
    fired = set(
        lake.sql(
            "SELECT DISTINCT alarm_name FROM _monitor.alarm_history "
            "WHERE history_summary LIKE '%to ALARM%'"
        )["alarm_name"].to_list()
    )
    # one CIS alarm per injected incident
    assert {
        "CIS-RootAccountUsage-Alarm",
        "CIS-CloudTrailConfigChanges-Alarm",
        "CIS-SecurityGroupChanges-Alarm",
        "CIS-DisableOrDeleteCMK-Alarm",
        "CIS-ConsoleAuthenticationFailures-Alarm",
        "CIS-IAMPolicyChanges-Alarm",
    } <= fired
    truth = json.loads((demo_lake.with_name("demo-lake-raw") / "ground_truth.json").read_text())
    opened = next(s for s in truth["scenarios"] if s["name"] == "security_group_open_ssh")
    who = lake.sql(demo.INVESTIGATIONS[0][1])
    assert who["security_group"].to_list() == [opened["details"]["groupId"]]
    assert who["who"].to_list() == [opened["details"]["openedBy"]]


def test_notebook_cells_run_against_the_demo_lake(
    demo_lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook = json.loads(NOTEBOOK.read_text())
    monkeypatch.chdir(demo_lake.parent)
    namespace: dict[str, object] = {}
    results = []
    for cell in notebook["cells"]:
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse("".join(cell["source"]))
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "notebook", "exec"), namespace)
        value = None
        if last is not None:
            value = eval(compile(ast.Expression(last.value), "notebook", "eval"), namespace)
        results.append(value)
    tables = results[0]
    assert isinstance(tables, pl.DataFrame)
    assert {"cloudtrail", "vpc_flow_logs", "config_items", "cloudwatch_logs"} <= set(
        tables["tab_name"]
    )
    root_logins = results[3]
    assert root_logins.height >= 1 and set(root_logins["mfa_used"]) == {"No"}
    assert namespace["key"] is not None
