"""Detections as code: a SQL query in a file whose leading comment lines are its header.

```sql
-- id: aws-cloudtrail-stopped
-- title: CloudTrail logging stopped
-- severity: high
-- mitre: T1562.008
-- tags: cloudtrail, defense-evasion
-- dedup: recipientaccountid, requestparameters
SELECT eventid, eventtime, ... FROM cloudtrail WHERE eventname = 'StopLogging'
```

The query returns one row per matching event with at least ``eventid`` and ``eventtime``; the
``dedup`` header names the output columns whose values group the events of one incident, so a
notification goes out once per group.

Rules that look at more than one event say how far: ``window: 10m`` for rules that count or
correlate events up to ten minutes apart in either direction (a burst of failed sign-ins), and
``lookback: 30d`` for rules that compare an event with the history before it (a key used from an
address it never used). An incremental run re-reads that much context around new events;
``entity`` (a SQL expression such as ``useridentity.accesskeyid``) limits the history read to the
entities the new events are about. ``history: accesskeyid, sourceipaddress`` promises more: the
rule uses the history before the new events only through the earliest and latest event of each
combination of those columns (first-seen and last-seen questions), so an incremental run reads
those few columns of the history and keeps two rows per combination instead of every event.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import sqlglot
from sqlglot import exp

from loglake.errors import UserError

SEVERITIES = ("info", "low", "medium", "high", "critical")
REQUIRED = ("id", "title", "severity")
LIST_KEYS = ("mitre", "tags", "covers", "scenarios", "references", "dedup", "history")
KNOWN_KEYS = (
    *REQUIRED,
    *LIST_KEYS,
    "description",
    "window",
    "lookback",
    "entity",
    "lateness",
    "source",
    "author",
    "license",
    "level",
    "status",
    "sigma_id",
    "date",
    "falsepositives",
)
#: the source table of a detection that does not name one
DEFAULT_SOURCE = "cloudtrail"
#: how late an event may arrive (after the newest one seen) and still count as on time
DEFAULT_LATENESS = 20 * 60
_HEADER = re.compile(r"^--\s*([A-Za-z_][A-Za-z0-9_]*)\s*:\s*(.*?)\s*$")
#: a window or lookback: a number with an optional unit (s, m, h, d)
DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


class DetectionError(UserError):
    """A detection file that cannot be used, with the file and the reason."""


def parse_duration(text: str | int | float, what: str = "duration") -> int:
    """Seconds from ``90``, ``90s``, ``15m``, ``2h`` or ``30d``."""
    if isinstance(text, int | float):
        return int(text)
    match = DURATION.match(str(text))
    if not match:
        raise UserError(f"{what} {text!r} is not a duration such as 90s, 15m, 2h or 30d")
    return int(match.group(1)) * _UNITS[match.group(2)]


@dataclass
class Detection:
    """One detection: its header and its SQL."""

    id: str
    title: str
    severity: str
    sql: str
    mitre: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    dedup: list[str] = field(default_factory=list)
    covers: list[str] = field(default_factory=list)  # public technique ids it is tested against
    scenarios: list[str] = field(default_factory=list)  # generator scenarios it finds
    window: int = 0  # seconds before and after an event that its verdict depends on
    lookback: int = 0  # seconds of history before an event that its verdict depends on
    entity: str | None = None  # SQL expression: the history of the same entity is enough
    history: list[str] = field(default_factory=list)  # columns: first and last event of each
    lateness: int = DEFAULT_LATENESS
    source: str = DEFAULT_SOURCE
    description: str = ""
    author: str = ""
    path: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # other header fields (Sigma's, ...)

    def header(self) -> dict[str, Any]:
        """The header as a mapping, for listings and for the hits table."""
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "mitre": self.mitre,
            "tags": self.tags,
            "source": self.source,
        }
        if self.author:
            out["author"] = self.author
        out.update(self.extra)
        return out

    def tables(self) -> list[str]:
        """Lower-case names of the tables the query reads (CTE names left out)."""
        return [t for _, t in _tables_in(parse_sql(self.sql, self.path or self.id))]

    def prefilter(self, *, cheap: bool = False) -> str | None:
        """A SQL condition on the source table that every row the query can use satisfies.

        It is the OR of the WHERE clauses of every SELECT that reads the source table; None when
        some SELECT reads it without a WHERE (the rule needs every row). Rules that share a
        source are run over the rows any of their prefilters keep, read in one scan. With
        ``cheap`` only the conjuncts that compare plain columns with constants are kept (a
        weaker condition that costs no function calls, applied first).
        """
        return _prefilter(self.sql, self.source, self.path or self.id, cheap)


@functools.lru_cache(maxsize=1024)
def _prefilter(sql: str, source_table: str, label: str, cheap: bool) -> str | None:
    tree = parse_sql(sql, label)
    source = source_table.rpartition(".")[2].lower()
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    conditions: list[str] = []
    for table in tree.find_all(exp.Table):
        if table.name.lower() != source or (table.name.lower() in ctes and not table.db):
            continue
        select = table.find_ancestor(exp.Select)
        if select is None or table.find_ancestor(exp.Join) is not None:
            return None
        from_ = select.args.get("from_") or select.args.get("from")
        if from_ is None or from_.this is not table or select.args.get("joins"):
            return None
        where = select.args.get("where")
        if where is None:
            return None
        condition = where.this.copy()
        if condition.find(exp.Subquery, exp.Exists, exp.Select) is not None:
            return None
        alias = table.alias_or_name.lower()
        for column in condition.find_all(exp.Column):
            _unqualify(column, (alias, source))
        if cheap:
            weak = _weaken(condition)
            if weak is None:
                return None
            condition = weak
        conditions.append(condition.sql(dialect="athena"))
    if not conditions:
        return None
    return " OR ".join(f"({c})" for c in dict.fromkeys(conditions))


def _unqualify(column: exp.Column, names: tuple[str, ...]) -> None:
    """Drop a leading qualifier naming the table (`t.col`, `t.useridentity.arn`); any other
    prefix is a struct column (`useridentity.arn`) and stays."""
    for key in ("catalog", "db", "table"):
        part = column.args.get(key)
        if part is None:
            continue
        if part.name.lower() in names:
            column.set(key, None)
        return


_CHEAP = (
    exp.EQ,
    exp.NEQ,
    exp.In,
    exp.Is,
    exp.Like,
    exp.Not,
    exp.Paren,
    exp.Column,
    exp.Literal,
    exp.Null,
    exp.Boolean,
    exp.Dot,
    exp.Identifier,
    exp.Tuple,
    exp.LT,
    exp.LTE,
    exp.GT,
    exp.GTE,
    exp.Between,
)


def _weaken(condition: exp.Expr) -> exp.Expr | None:
    """A condition implied by ``condition`` that calls no function (None: always true).

    Conjuncts that call functions are dropped; a disjunction keeps its branches' weakened forms
    (or is dropped when one branch weakens to nothing).
    """
    if isinstance(condition, exp.Paren):
        return _weaken(condition.this)
    if isinstance(condition, exp.And):
        parts = [p for p in (_weaken(condition.left), _weaken(condition.right)) if p is not None]
        return exp.and_(*parts) if parts else None
    if isinstance(condition, exp.Or):
        left, right = _weaken(condition.left), _weaken(condition.right)
        if left is None or right is None:
            return None
        return exp.or_(left, right)
    if all(isinstance(node, _CHEAP) for node in condition.walk()):
        return condition.copy()
    return None


def parse_sql(sql: str, where: str) -> exp.Query:
    """The query's tree (shared by every caller: read it, copy before changing it)."""
    try:
        tree = _parsed(sql)
    except sqlglot.errors.ParseError as error:
        raise DetectionError(f"{where}: the query is not valid SQL: {error}") from None
    if tree is None or not isinstance(tree, exp.Query):
        raise DetectionError(f"{where}: a detection is one SELECT query")
    return tree


@functools.lru_cache(maxsize=512)
def _parsed(sql: str) -> exp.Expr | None:
    # an incremental run asks each rule for its tables, columns and prefilters many times
    return sqlglot.parse_one(sql, read="athena")


def _tables_in(tree: exp.Expr) -> list[tuple[str, str]]:
    ctes = {c.alias_or_name.lower() for c in tree.find_all(exp.CTE)}
    out: list[tuple[str, str]] = []
    for t in tree.find_all(exp.Table):
        if t.name.lower() in ctes and not t.db:
            continue
        key = ((t.db or "").lower(), t.name.lower())
        if key not in out:
            out.append(key)
    return out


def _split_list(value: str) -> list[str]:
    value = value.strip()
    if value.startswith("[") and value.endswith("]"):
        value = value[1:-1]
    return [v.strip().strip("'\"") for v in value.split(",") if v.strip().strip("'\"")]


def parse_detection(text: str, path: str = "<detection>") -> Detection:
    """A detection from its file text; raises DetectionError naming the file and the problem."""
    header: dict[str, str] = {}
    body_lines: list[str] = []
    in_header = True
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if in_header and stripped.startswith("--"):
            match = _HEADER.match(stripped)
            if match:
                key = match.group(1).lower()
                if key in header:
                    raise DetectionError(f"{path}:{number}: header field {key!r} given twice")
                header[key] = match.group(2)
            elif header and stripped.startswith("--  "):
                # an indented continuation of the previous field (long descriptions)
                last = list(header)[-1]
                header[last] = (header[last] + " " + stripped[2:].strip()).strip()
            continue
        if in_header and not stripped:
            continue
        in_header = False
        body_lines.append(line)
    missing = [k for k in REQUIRED if not header.get(k)]
    if missing:
        raise DetectionError(f"{path}: the header lacks {', '.join(missing)}")
    if not _ID.match(header["id"]):
        raise DetectionError(f"{path}: id {header['id']!r} may hold letters, digits and . _ : -")
    severity = header["severity"].lower()
    if severity not in SEVERITIES:
        raise DetectionError(
            f"{path}: severity {header['severity']!r} is not one of {', '.join(SEVERITIES)}"
        )
    lists = {k: _split_list(header.get(k, "")) for k in LIST_KEYS}
    for technique in lists["mitre"]:
        if not _TECHNIQUE.match(technique):
            raise DetectionError(
                f"{path}: {technique!r} is not a MITRE ATT&CK technique id (T1234 or T1234.001)"
            )
    sql = "\n".join(body_lines).strip().rstrip(";").strip()
    if not sql:
        raise DetectionError(f"{path}: there is no query after the header")
    try:
        window = parse_duration(header.get("window", "0"), "window")
        lookback = parse_duration(header.get("lookback", "0"), "lookback")
        lateness = parse_duration(header.get("lateness", str(DEFAULT_LATENESS)), "lateness")
    except UserError as error:
        raise DetectionError(f"{path}: {error}") from None
    if lists["history"] and not lookback:
        raise DetectionError(f"{path}: history needs a lookback (how far back the history goes)")
    extra = {k: v for k, v in header.items() if k not in KNOWN_KEYS or k in ("license", "level")}
    for key in ("status", "sigma_id", "date", "falsepositives"):
        if key in header:
            extra[key] = header[key]
    detection = Detection(
        id=header["id"],
        title=header["title"],
        severity=severity,
        sql=sql,
        mitre=lists["mitre"],
        tags=lists["tags"],
        dedup=lists["dedup"],
        covers=lists["covers"],
        scenarios=lists["scenarios"],
        window=window,
        lookback=lookback,
        entity=header.get("entity") or None,
        history=lists["history"],
        lateness=lateness,
        source=header.get("source", DEFAULT_SOURCE).lower(),
        description=header.get("description", ""),
        author=header.get("author", ""),
        path=path,
        extra=extra,
    )
    if lists["references"]:
        detection.extra["references"] = lists["references"]
    tree = parse_sql(sql, path)
    source = detection.source.rpartition(".")[2]
    if source not in [t for _, t in _tables_in(tree)]:
        raise DetectionError(f"{path}: the query does not read its source table {source!r}")
    return detection


def render_detection(detection: Detection) -> str:
    """The file text of a detection (what `import-sigma` writes)."""
    lines = [
        f"-- id: {detection.id}",
        f"-- title: {detection.title}",
        f"-- severity: {detection.severity}",
    ]
    for key in ("mitre", "tags", "dedup", "covers", "scenarios", "history"):
        values = getattr(detection, key)
        if values:
            lines.append(f"-- {key}: {', '.join(values)}")
    if detection.source != DEFAULT_SOURCE:
        lines.append(f"-- source: {detection.source}")
    if detection.window:
        lines.append(f"-- window: {detection.window}s")
    if detection.lookback:
        lines.append(f"-- lookback: {detection.lookback}s")
    if detection.entity:
        lines.append(f"-- entity: {detection.entity}")
    if detection.lateness != DEFAULT_LATENESS:
        lines.append(f"-- lateness: {detection.lateness}s")
    if detection.author:
        lines.append(f"-- author: {detection.author}")
    if detection.description:
        lines.append(f"-- description: {' '.join(detection.description.split())}")
    for key, value in detection.extra.items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        text = " ".join(str(value).split())
        if text:
            lines.append(f"-- {key}: {text}")
    return "\n".join(lines) + "\n" + detection.sql.strip() + "\n"


# ---------------------------------------------------------------------------------------------
# packs and folders

PACKS = ("aws",)


def pack_detections(name: str = "aws") -> list[Detection]:
    """The detections of a pack shipped with loglake."""
    if name not in PACKS:
        raise UserError(f"Unknown detection pack {name!r} (available: {', '.join(PACKS)})")
    folder = resources.files("loglake.investigate").joinpath("packs", name)
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".sql"):
            out.append(parse_detection(entry.read_text(), f"pack {name}/{entry.name}"))
    return _unique(out)


def load_detections(*paths: str | Path) -> list[Detection]:
    """Detections from files and folders of ``.sql`` files (each file one detection)."""
    out = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(path.rglob("*.sql"))
        elif path.is_file():
            files = [path]
        else:
            raise UserError(f"No detection file or folder at {raw}")
        for file in files:
            try:
                text = file.read_text()
            except (OSError, UnicodeDecodeError) as error:
                raise DetectionError(f"{file}: cannot be read ({error})") from None
            out.append(parse_detection(text, str(file)))
    return _unique(out)


def _unique(detections: list[Detection]) -> list[Detection]:
    seen: dict[str, Detection] = {}
    for d in detections:
        if d.id in seen:
            raise DetectionError(f"{d.path}: id {d.id!r} is also used by {seen[d.id].path}")
        seen[d.id] = d
    return detections
