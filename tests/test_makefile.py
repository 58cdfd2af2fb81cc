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


def _dry_run(folder: Path, *args: str) -> str:
    result = subprocess.run(
        ["make", "--dry-run", "--no-print-directory", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_the_notebook_opens_the_lake_the_demo_names(tmp_path: Path) -> None:
    """`make notebook` opens ./demo-lake; the demo run elsewhere prints `make notebook LAKE=...`,
    which points the notebook at that lake (and builds it there when it is missing)."""
    from loglake.demo import notebook_command

    for name in ("Makefile", "pyproject.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    stamps = ["-W", ".venv/.installed-jupyter"]  # as if installed: only the notebook's own lines
    assert notebook_command(tmp_path / "demo-lake", checkout=tmp_path) == "make notebook"
    assert f"LOGLAKE_LAKE={tmp_path / 'demo-lake'} " in _dry_run(tmp_path, *stamps, "notebook")
    elsewhere = tmp_path / "lakes" / "mine"
    command = notebook_command(elsewhere, checkout=tmp_path)
    assert command == f"make notebook LAKE={elsewhere}"
    out = _dry_run(tmp_path, *stamps, *command.split()[1:])
    assert f"test -d {elsewhere}/_catalog" in out and f"LOGLAKE_LAKE={elsewhere} " in out
    assert f"--out {elsewhere}" in _dry_run(
        tmp_path, "-W", ".venv/.runtime-installed", "demo", f"LAKE={elsewhere}"
    )
