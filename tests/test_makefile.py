"""What the README's make targets install: a newcomer's first notebook waits for nothing else."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _installs(target: str, folder: Path) -> list[str]:
    """The pip install lines ``make TARGET`` would run in a fresh clone (dry run, nothing runs)."""
    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, folder / name)
    result = subprocess.run(
        ["make", "--dry-run", "--no-print-directory", target],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in result.stdout.splitlines() if "pip install" in line and " -e " in line]


@pytest.mark.parametrize(
    ("target", "extras"),
    [("demo", {"'.[demo]'"}), ("notebook", {"'.[demo]'", "'.[demo,jupyter]'"})],
)
def test_demo_and_notebook_install_no_test_tools(
    tmp_path: Path, target: str, extras: set[str]
) -> None:
    lines = _installs(target, tmp_path)
    assert {line.rsplit(" ", 1)[-1] for line in lines} == extras
