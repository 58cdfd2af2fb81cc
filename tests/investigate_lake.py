"""A small generated lake with every incident scenario, shared by the investigation tests."""

from __future__ import annotations

import json
from pathlib import Path

import loglake
from loglake.datasets import generate
from loglake.investigate.actors import update_actors

#: the SigmaHQ rules for CloudTrail (origin and licence in tests/data/README.md)
SIGMA = Path(__file__).resolve().parent / "data" / "sigma-aws-cloudtrail-rules" / "rules"


def build(root: Path) -> tuple[loglake.Lake, dict]:
    """Raw exports with every scenario (one account, two regions, three days) ingested."""
    raw = root / "raw"
    summary = generate(
        str(raw),
        accounts=1,
        regions=2,
        days=3,
        events_per_day=1500,
        flows_per_day=300,
        log_events_per_day=100,
        seed=42,
        scenarios=["all"],
        progress=False,
    )
    lake = loglake.connect(str(root / "lake"), create=True)
    lake.ingest(str(raw), progress=False)
    update_actors(lake.catalog)  # built once here, not by several test workers at a time
    return lake, json.loads(Path(summary.ground_truth).read_text())


def truth_events(truth: dict) -> dict[str, tuple[str, str]]:
    """Every delivered ground-truth CloudTrail event: id -> (scenario, event name)."""
    return {
        e["eventID"]: (s["name"], e["eventName"])
        for s in truth["scenarios"]
        for e in s["cloudtrailEvents"]
    }


def shared_lake(tmp_path_factory) -> tuple[loglake.Lake, dict]:
    """The scenario lake, built once per test run even with several xdist workers."""
    import fcntl

    base = tmp_path_factory.getbasetemp()
    root = (base.parent if base.name.startswith("popen-gw") else base) / "investigate-lake"
    root.mkdir(exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / "ground_truth.json"
        if not done.exists():
            lake, truth = build(root)
            done.write_text(json.dumps(truth))
        lake = loglake.connect(str(root / "lake"))
        return lake, json.loads(done.read_text())
