"""Controls and benchmarks as plain files a user can copy and edit.

A control is one SQL query with a TOML header in a leading comment::

    /* +++
    id = "5.2"
    title = "Ensure no security groups allow ingress from 0.0.0.0/0 to admin ports"
    severity = "high"
    tags = { cis_v3 = "5.2", level = "1" }
    +++ */
    SELECT ... AS resource, ... AS account, ... AS region, ... AS status, ... AS reason

A benchmark is a folder: ``benchmark.toml`` (id, title, description, parameters) and one folder
per section (``section.toml`` with its title) holding control files, or nested sections. Folder
and file names sort naturally, so ``1.10`` comes after ``1.9``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from loglake.errors import UserError, did_you_mean

SEVERITIES = ("critical", "high", "medium", "low", "info")
STATUSES = ("ok", "alarm", "info", "skip", "error")
REQUIRED_COLUMNS = ("resource", "account", "region", "status", "reason")
#: optional columns with a meaning for the runner (every other column is evidence)
CAUSE_COLUMNS = ("cause_event_id", "cause_resource")

CONTROL_FIELDS: dict[str, type] = {
    "id": str,
    "title": str,
    "description": str,
    "severity": str,
    "tags": dict,
    "remediation": str,
    "cause": str,
    "sql": str,
}
BENCHMARK_FIELDS: dict[str, type] = {
    "id": str,
    "title": str,
    "description": str,
    "parameters": dict,
    "tags": dict,
}
SECTION_FIELDS: dict[str, type] = {"title": str, "description": str}
PARAMETERS = {"period_days": int}
#: where users keep their own benchmarks besides the shipped ones (``os.pathsep``-separated)
PATH_VARIABLE = "LOGLAKE_REPORTS_PATH"

_HEADER = re.compile(r"\A\s*/\*\s*\+\+\+[ \t]*\n(?P<toml>.*?)\n[ \t]*\+\+\+\s*\*/[ \t]*\n?", re.S)


@dataclass(frozen=True)
class Control:
    """One control: its header fields and its SQL."""

    id: str
    title: str
    sql: str
    path: str
    benchmark: str = ""
    section: str = ""
    description: str = ""
    severity: str = "medium"
    tags: dict[str, str] = field(default_factory=dict)
    remediation: str = ""
    cause: str = "config"
    text: str = ""  # the whole file, as hashed (with the borrowed SQL appended)
    #: ``BENCHMARK/ID`` of the control whose SQL this one runs (one query, two benchmarks)
    sql_from: str = ""

    @property
    def qualified_id(self) -> str:
        return f"{self.benchmark}/{self.id}" if self.benchmark else self.id

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "section": self.section,
            "description": self.description,
            "severity": self.severity,
            "tags": dict(self.tags),
            "remediation": self.remediation,
            "cause": self.cause,
            "path": self.path,
            "sha256": self.sha256,
            "text": self.text,
        }


@dataclass(frozen=True)
class Section:
    """A named group of controls and sub-sections."""

    key: str
    title: str
    description: str = ""
    children: tuple[Section | Control, ...] = ()


@dataclass(frozen=True)
class Benchmark:
    """A named tree of controls."""

    id: str
    title: str
    path: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    children: tuple[Section | Control, ...] = ()

    def controls(self) -> list[Control]:
        """Every control of the tree, in order."""
        out: list[Control] = []

        def walk(nodes: tuple[Section | Control, ...]) -> None:
            for node in nodes:
                if isinstance(node, Control):
                    out.append(node)
                else:
                    walk(node.children)

        walk(self.children)
        return out

    def control(self, control_id: str) -> Control:
        for control in self.controls():
            if control.id == control_id:
                return control
        raise UserError(
            f"benchmark {self.id} has no control {control_id!r}"
            + _closest(control_id, [c.id for c in self.controls()])
        )

    @property
    def period_days(self) -> int:
        return int(self.parameters.get("period_days", 90))


# ---------------------------------------------------------------------------------- parsing


def parse_control(text: str, path: str, benchmark: str = "", section: str = "") -> Control:
    """A control from the text of its file; errors name the file, the line and the field."""
    match = _HEADER.match(text)
    if match is None:
        raise UserError(
            f"{path}: a control starts with a TOML header in a comment: '/* +++', the fields, '+++ */'"
        )
    header_line = text.count("\n", 0, match.start("toml")) + 1
    header = _load_toml(match.group("toml"), path, header_line)
    _check_fields(header, CONTROL_FIELDS, path)
    for required in ("id", "title"):
        if not str(header.get(required) or "").strip():
            raise UserError(f"{path}: header field {required!r} is missing")
    severity = header.get("severity", "medium")
    if severity not in SEVERITIES:
        raise UserError(
            f"{path}: header field 'severity' is {severity!r}; use one of {', '.join(SEVERITIES)}"
        )
    cause = header.get("cause", "config")
    if cause not in ("config", "none"):
        raise UserError(f"{path}: header field 'cause' is {cause!r}; use 'config' or 'none'")
    tags = header.get("tags", {})
    for key, value in tags.items():
        if not isinstance(value, str | int | float | bool):
            raise UserError(f"{path}: tag {key!r} must be a string")
    sql = text[match.end() :].strip().rstrip(";").strip()
    if not sql and not header.get("sql"):
        raise UserError(f"{path}: the control has no SQL after its header (nor sql = BENCHMARK/ID)")
    return Control(
        id=str(header["id"]).strip(),
        title=header["title"].strip(),
        sql=sql,
        path=path,
        benchmark=benchmark,
        section=section,
        description=header.get("description", "").strip(),
        severity=severity,
        tags={k: str(v) for k, v in tags.items()},
        remediation=header.get("remediation", "").strip(),
        cause=cause,
        text=text,
        sql_from=header.get("sql", "") if not sql else "",
    )


def _load_toml(text: str, path: str, first_line: int = 1) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        found = re.search(r"\(at line (\d+), column (\d+)\)", message)
        if found:
            line = int(found.group(1)) + first_line - 1
            message = message[: found.start()].strip() + f" (line {line}, column {found.group(2)})"
        raise UserError(f"{path}: bad header: {message}") from None


def _check_fields(header: dict[str, Any], known: dict[str, type], path: str) -> None:
    for name, value in header.items():
        if name not in known:
            raise UserError(f"{path}: unknown header field {name!r}" + _closest(name, list(known)))
        if not isinstance(value, known[name]):
            kind = {str: "a string", dict: "a table", int: "a number"}[known[name]]
            raise UserError(f"{path}: header field {name!r} must be {kind}")


def _natural(name: str) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def load_benchmark(folder: str | os.PathLike[str]) -> Benchmark:
    """The benchmark in a folder (``benchmark.toml`` plus sections and control files)."""
    root = Path(folder)
    manifest = root / "benchmark.toml"
    if not manifest.is_file():
        raise UserError(f"{root}: not a benchmark folder (no benchmark.toml)")
    header = _load_toml(manifest.read_text(), str(manifest))
    _check_fields(header, BENCHMARK_FIELDS, str(manifest))
    bench_id = str(header.get("id") or root.name)
    for name, value in header.get("parameters", {}).items():
        if name not in PARAMETERS:
            raise UserError(
                f"{manifest}: unknown parameter {name!r}" + _closest(name, list(PARAMETERS))
            )
        if not isinstance(value, PARAMETERS[name]):
            raise UserError(f"{manifest}: parameter {name!r} must be a number")
    children = _load_children(root, bench_id, "")
    benchmark = Benchmark(
        id=bench_id,
        title=str(header.get("title") or bench_id),
        path=str(root),
        description=str(header.get("description", "")),
        parameters=dict(header.get("parameters", {})),
        tags={k: str(v) for k, v in header.get("tags", {}).items()},
        children=children,
    )
    benchmark = _borrow_sql(benchmark)
    seen: dict[str, str] = {}
    for control in benchmark.controls():
        if control.id in seen:
            raise UserError(
                f"{control.path}: control id {control.id!r} is also used by {seen[control.id]}"
            )
        seen[control.id] = control.path
    return benchmark


def _borrow_sql(benchmark: Benchmark) -> Benchmark:
    """Give controls with ``sql = BENCHMARK/ID`` that control's query (and hash it with theirs)."""

    def resolve(control: Control) -> Control:
        if not control.sql_from:
            return control
        bench_name, _, control_id = control.sql_from.partition("/")
        if bench_name == benchmark.id:
            raise UserError(f"{control.path}: sql = {control.sql_from!r} names its own benchmark")
        folder = available([str(Path(benchmark.path).parent)]).get(bench_name)
        if folder is None:
            raise UserError(
                f"{control.path}: sql names unknown benchmark {bench_name!r}"
                + _closest(bench_name, list(available()))
            )
        source = load_benchmark(folder).control(control_id)
        text = control.text.rstrip("\n") + "\n" + source.sql + "\n"
        return replace(control, sql=source.sql, text=text, sql_from="")

    def walk(nodes: tuple[Section | Control, ...]) -> tuple[Section | Control, ...]:
        return tuple(
            resolve(n) if isinstance(n, Control) else replace(n, children=walk(n.children))
            for n in nodes
        )

    return replace(benchmark, children=walk(benchmark.children))


def _load_children(folder: Path, bench_id: str, section: str) -> tuple[Section | Control, ...]:
    nodes: list[Section | Control] = []
    for entry in sorted(folder.iterdir(), key=lambda p: _natural(p.name)):
        if entry.is_dir() and (entry / "section.toml").is_file():
            header = _load_toml((entry / "section.toml").read_text(), str(entry / "section.toml"))
            _check_fields(header, SECTION_FIELDS, str(entry / "section.toml"))
            title = str(header.get("title") or entry.name)
            nodes.append(
                Section(
                    key=entry.name,
                    title=title,
                    description=str(header.get("description", "")),
                    children=_load_children(entry, bench_id, title),
                )
            )
        elif entry.suffix == ".sql":
            nodes.append(parse_control(entry.read_text(), str(entry), bench_id, section))
    return tuple(nodes)


# ---------------------------------------------------------------------------------- lookup


def shipped_folder() -> Path:
    return Path(str(resources.files("loglake.reports").joinpath("benchmarks")))


def search_path(extra: list[str] | None = None) -> list[Path]:
    """Folders holding benchmark folders: given ones, ``$LOGLAKE_REPORTS_PATH``, the shipped."""
    folders = [Path(p) for p in extra or []]
    folders += [Path(p) for p in os.environ.get(PATH_VARIABLE, "").split(os.pathsep) if p]
    folders.append(shipped_folder())
    return folders


def available(extra: list[str] | None = None) -> dict[str, Path]:
    """Benchmark id -> folder; earlier folders of the search path win."""
    found: dict[str, Path] = {}
    for folder in search_path(extra):
        if (folder / "benchmark.toml").is_file():
            found.setdefault(folder.name, folder)
            continue
        if not folder.is_dir():
            continue
        for child in sorted(folder.iterdir()):
            if (child / "benchmark.toml").is_file():
                found.setdefault(child.name, child)
    return found


def find_benchmark(name: str, extra: list[str] | None = None) -> Benchmark:
    """A benchmark by id or by folder path; an unknown id suggests the closest."""
    if os.sep in name or name.startswith(".") or Path(name, "benchmark.toml").is_file():
        return load_benchmark(name)
    known = available(extra)
    if name not in known:
        raise UserError(f"unknown benchmark {name!r}" + _closest(name, list(known)))
    return load_benchmark(known[name])


def find(target: str, extra: list[str] | None = None) -> tuple[Benchmark, Control | None]:
    """``BENCHMARK`` or ``BENCHMARK/CONTROL`` (a control id may itself hold no slash)."""
    bench_name, _, control_id = target.partition("/")
    if Path(target).exists():
        return load_benchmark(target), None
    benchmark = find_benchmark(bench_name, extra)
    return benchmark, benchmark.control(control_id) if control_id else None


def _closest(name: str, candidates: list[str]) -> str:
    return did_you_mean(name, candidates, cutoff=0.5)


__all__ = [
    "REQUIRED_COLUMNS",
    "SEVERITIES",
    "STATUSES",
    "Benchmark",
    "Control",
    "Section",
    "available",
    "find",
    "find_benchmark",
    "load_benchmark",
    "parse_control",
]
