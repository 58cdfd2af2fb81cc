"""From ``git clone`` to the first answer in a notebook, following only the README, step by step.

A newcomer clones the repository, runs the quick start (``make demo``), then ``make notebook``
and runs the first cells of ``docs/investigate.ipynb``. JupyterLab itself cannot be timed from a
script, so the last step runs the notebook's cells in a real kernel with nbclient (what
``make notebook``'s JupyterLab does for each cell), started as ``make notebook`` starts it: in
``docs/`` with ``LOGLAKE_LAKE`` pointing at the demo lake. Every step is a command of the
README, run in a fresh clone in a temporary folder; the script prints each step's wall time and
the total. The first time the README's answer appears is the first query cell that shows rows.

There is no peer to race here: the number is the newcomer's wait. pip's download cache is used
as the machine has it (say with ``--no-pip-cache`` to download everything, as a first-time user
does).

    python bench/bench_first_hour.py [--source REPO] [--keep] [--no-pip-cache]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: run by the clone's own Python after ``make notebook``'s install: kernel start, then cells up
#: to the first query result; prints one JSON line of timings
FIRST_CELLS = r"""
import json, sys, time
import nbformat
from nbclient import NotebookClient

notebook = nbformat.read(sys.argv[1], as_version=4)
client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                        resources={"metadata": {"path": sys.argv[2]}})
timings = {}
start = time.perf_counter()
with client.setup_kernel():
    timings["kernel start"] = time.perf_counter() - start
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        began = time.perf_counter()
        client.execute_cell(cell, index)
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if errors:
            print(json.dumps({"error": errors[0].get("evalue", ""), "cell": cell.source}))
            sys.exit(1)
        label = cell.source.splitlines()[-1][:60]
        timings[f"cell: {label}"] = time.perf_counter() - began
        html = "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs)
        if "class='loglake-result'" in html and "<td" in html:
            break
print(json.dumps(timings))
"""


def run(step: str, command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """Run one README command; stops the script with its output when it fails."""
    print(f"  {step}: {' '.join(command)}", flush=True)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(
            f"step {step!r} failed (exit {result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=str(REPO), help="repository to clone (default: this)")
    parser.add_argument("--keep", action="store_true", help="keep the clone and print its path")
    parser.add_argument("--no-pip-cache", action="store_true", help="download every package")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="loglake-first-hour-"))
    clone = folder / "loglake"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "LOGLAKE_LAKE")}
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if "/.venv/" not in p
    )
    if args.no_pip_cache:
        env["PIP_NO_CACHE_DIR"] = "1"
    steps: dict[str, float] = {}
    try:
        print(f"from {args.source} to {clone}")
        steps["git clone"] = run(
            "git clone", ["git", "clone", "--quiet", args.source, str(clone)], folder, env
        )
        # make demo = install the runtime (and pandas), then build the demo lake
        steps["make demo: install"] = run(
            "make demo: install",
            ["make", "--no-print-directory", ".venv/.runtime-installed"],
            clone,
            env,
        )
        steps["make demo: build the lake"] = run(
            "make demo: build the lake", ["make", "--no-print-directory", "demo"], clone, env
        )
        # make notebook = install the notebook extras, then JupyterLab on docs/investigate.ipynb
        steps["make notebook: install"] = run(
            "make notebook: install",
            ["make", "--no-print-directory", ".venv/.installed-jupyter"],
            clone,
            env,
        )
        script = folder / "first_cells.py"
        script.write_text(FIRST_CELLS)
        notebook_env = dict(env, LOGLAKE_LAKE=str(clone / "demo-lake"))
        start = time.perf_counter()
        result = subprocess.run(
            [
                str(clone / ".venv/bin/python"),
                str(script),
                str(clone / "docs/investigate.ipynb"),
                str(clone / "docs"),
            ],
            cwd=clone / "docs",
            env=notebook_env,
            capture_output=True,
            text=True,
            check=False,
        )
        notebook_seconds = time.perf_counter() - start
        if result.returncode != 0:
            sys.exit(
                f"the notebook's first cells failed:\n{result.stdout}\n{result.stderr[-3000:]}"
            )
        cells = json.loads(result.stdout.strip().splitlines()[-1])
        steps["notebook: first answer"] = notebook_seconds
    finally:
        if args.keep:
            print(f"clone kept in {clone}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    total = sum(steps.values())
    print(f"\n{'step':<32}{'seconds':>10}")
    for step, seconds in steps.items():
        print(f"{step:<32}{seconds:>10.1f}")
        if step == "notebook: first answer":
            for cell, cell_seconds in cells.items():
                print(f"  {cell:<58}{cell_seconds:>8.1f}")
    print(f"{'clone to first answer':<32}{total:>10.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
