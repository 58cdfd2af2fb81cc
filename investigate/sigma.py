"""Sigma rules for CloudTrail converted to loglake detections (SQL over the cloudtrail table).

The converter covers what CloudTrail rules use: selections as maps (AND) and lists of maps (OR),
value lists (OR, or AND with ``|all``), the ``contains``, ``startswith``, ``endswith``, ``re``,
``all``, ``fieldref``, ``exists`` and ``cased`` modifiers, Sigma wildcards (``*``, ``?``, ``\\``
escapes), null values, and conditions with ``and``, ``or``, ``not``, parentheses, ``1 of`` and
``all of`` (with ``them`` or a ``prefix*`` pattern). A rule using anything else (keywords,
aggregations, correlation, other modifiers or log sources) is reported with the reason instead of
being converted into something that means less.

Fields map to the cloudtrail table's columns: top-level names to their lower-case column,
``userIdentity.*`` to struct members, and paths into ``requestParameters``, ``responseElements``,
``additionalEventData`` and ``serviceEventDetails`` to ``json_extract_scalar`` on the JSON text.
Sigma compares strings without regard to case; so does the SQL (``lower`` on both sides), except
for the fields AWS writes in one fixed spelling (event name and source, type, region, error
code), which compare exactly so the file reader can skip rows by them.

The pySigma project's converter is LGPL-licensed and its backends target other query languages;
this converter is loglake's own and stays within the subset above.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from loglake.errors import UserError
from loglake.investigate.detections import Detection, parse_detection, render_detection

LEVELS = {
    "informational": "info",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "critical",
}
TOP_LEVEL = {
    "eventversion",
    "eventtime",
    "eventsource",
    "eventname",
    "awsregion",
    "sourceipaddress",
    "useragent",
    "errorcode",
    "errormessage",
    "requestid",
    "eventid",
    "eventtype",
    "apiversion",
    "readonly",
    "recipientaccountid",
    "sharedeventid",
    "vpcendpointid",
    "eventcategory",
    "sessioncredentialfromconsole",
    "managementevent",
}
JSON_COLUMNS = {
    "requestparameters",
    "responseelements",
    "additionaleventdata",
    "serviceeventdetails",
}
STRUCT_COLUMNS = {"useridentity", "tlsdetails", "addendum"}
#: fields AWS always writes in the same spelling: compared exactly
EXACT = {"eventname", "eventsource", "eventtype", "awsregion", "errorcode", "eventcategory"}
SUPPORTED_MODIFIERS = {
    "contains",
    "startswith",
    "endswith",
    "re",
    "all",
    "fieldref",
    "exists",
    "cased",
}
OUTPUT = (
    "eventid, eventtime, eventname, eventsource, recipientaccountid AS account, "
    "awsregion AS region, useridentity.arn AS principal, sourceipaddress AS sourceip, useragent"
)


class Unsupported(Exception):
    """A rule (or part of one) the converter does not translate; the message says why."""


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def field_sql(name: str) -> tuple[str, bool]:
    """The SQL expression of a Sigma CloudTrail field, and whether it compares exactly."""
    parts = name.split(".")
    head = parts[0].lower()
    if len(parts) == 1:
        if head in TOP_LEVEL or head in JSON_COLUMNS:
            return head, head in EXACT
        raise Unsupported(f"field {name!r} is not a CloudTrail field")
    if head in STRUCT_COLUMNS:
        return ".".join(p.lower() for p in parts), False
    if head in JSON_COLUMNS:
        path = "$" + "".join(
            f".{p}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", p) else f'["{p}"]' for p in parts[1:]
        )
        return f"json_extract_scalar({head}, {_quote(path)})", False
    raise Unsupported(f"field {name!r} is not a CloudTrail field")


def _like_pattern(value: str, prefix: bool, suffix: bool) -> tuple[str, bool]:
    """A Sigma string (with * ? wildcards and \\ escapes) as a LIKE pattern (escape '\\');
    the flag tells whether it holds a wildcard."""
    out = []
    wild = False
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value) and value[i + 1] in "*?\\":
            literal = value[i + 1]
            out.append("\\" + literal if literal in "\\" else literal)
            i += 2
            continue
        if ch == "*":
            out.append("%")
            wild = True
        elif ch == "?":
            out.append("_")
            wild = True
        elif ch in "%_\\":
            out.append("\\" + ch)
        else:
            out.append(ch)
        i += 1
    text = "".join(out)
    if prefix:
        text = "%" + text
    if suffix:
        text = text + "%"
    return text, wild or prefix or suffix


def _value_sql(column: str, exact: bool, modifiers: list[str], value: Any) -> str:
    if "fieldref" in modifiers:
        other, _ = field_sql(str(value))
        return f"{column} = {other}"
    if "exists" in modifiers:
        wanted = value is True or str(value).lower() == "true"
        return f"{column} IS {'NOT ' if wanted else ''}NULL"
    if value is None:
        return f"{column} IS NULL"
    if isinstance(value, bool):
        value = "true" if value else "false"
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        raise Unsupported(f"value {value!r} of type {type(value).__name__}")
    cased = exact or "cased" in modifiers
    if "re" in modifiers:
        return f"regexp_like({column}, {_quote(value)})"
    pattern, wild = _like_pattern(
        value,
        prefix="contains" in modifiers or "endswith" in modifiers,
        suffix="contains" in modifiers or "startswith" in modifiers,
    )
    target = column if cased else f"lower({column})"
    if not wild:
        literal = pattern.replace("\\%", "%").replace("\\_", "_").replace("\\\\", "\\")
        return f"{target} = {_quote(literal if cased else literal.lower())}"
    return f"{target} LIKE {_quote(pattern if cased else pattern.lower())} ESCAPE '\\'"


def _field_condition(key: str, value: Any) -> str:
    name, *modifiers = key.split("|")
    unknown = [m for m in modifiers if m not in SUPPORTED_MODIFIERS]
    if unknown:
        raise Unsupported(f"modifier {unknown[0]!r} (on {name})")
    column, exact = field_sql(name)
    values = value if isinstance(value, list) else [value]
    if not values:
        raise Unsupported(f"empty value list for {name}")
    parts = [_value_sql(column, exact, modifiers, v) for v in values]
    if len(parts) == 1:
        return parts[0]
    joiner = " AND " if "all" in modifiers else " OR "
    return "(" + joiner.join(parts) + ")"


def _selection(name: str, body: Any) -> str:
    if isinstance(body, dict):
        if not body:
            raise Unsupported(f"selection {name!r} is empty")
        return "(" + " AND ".join(_field_condition(k, v) for k, v in body.items()) + ")"
    if isinstance(body, list) and body and all(isinstance(b, dict) for b in body):
        return "(" + " OR ".join(_selection(name, b) for b in body) + ")"
    raise Unsupported(f"selection {name!r} uses keywords (values without a field)")


# ---------------------------------------------------------------------------------------------
# conditions

_TOKEN = re.compile(r"\s*(\(|\)|[A-Za-z0-9_*]+)")


def _tokens(text: str) -> list[str]:
    if "|" in text:
        raise Unsupported("aggregation in the condition (`| count() ...`)")
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match:
            raise Unsupported(f"condition {text!r}: cannot read {text[pos:]!r}")
        out.append(match.group(1))
        pos = match.end()
    return out


class _Condition:
    """Recursive descent over Sigma's condition grammar: or > and > not > atoms."""

    def __init__(self, text: str, selections: dict[str, str]):
        self.tokens = _tokens(text)
        self.pos = 0
        self.selections = selections

    def parse(self) -> str:
        out = self._or()
        if self.pos != len(self.tokens):
            raise Unsupported(f"unexpected {self.tokens[self.pos]!r} in the condition")
        return out

    def _peek(self) -> str | None:
        return self.tokens[self.pos].lower() if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _or(self) -> str:
        parts = [self._and()]
        while self._peek() == "or":
            self._take()
            parts.append(self._and())
        return parts[0] if len(parts) == 1 else "(" + " OR ".join(parts) + ")"

    def _and(self) -> str:
        parts = [self._not()]
        while self._peek() == "and":
            self._take()
            parts.append(self._not())
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def _not(self) -> str:
        if self._peek() == "not":
            self._take()
            return f"NOT coalesce({self._not()}, FALSE)"
        return self._atom()

    def _atom(self) -> str:
        token = self._peek()
        if token is None:
            raise Unsupported("the condition ends too early")
        if token == "(":
            self._take()
            inner = self._or()
            if self._peek() != ")":
                raise Unsupported("unbalanced parentheses in the condition")
            self._take()
            return inner
        if token in ("1", "all", "any"):
            quantifier = self._take().lower()
            if self._peek() != "of":
                raise Unsupported(f"{quantifier!r} without 'of' in the condition")
            self._take()
            target = self._take()
            names = self._matching(target)
            joiner = " AND " if quantifier == "all" else " OR "
            return "(" + joiner.join(self.selections[n] for n in names) + ")"
        name = self._take()
        if name not in self.selections:
            raise Unsupported(f"the condition names {name!r}, which is not a selection")
        return self.selections[name]

    def _matching(self, target: str) -> list[str]:
        if target.lower() == "them":
            names = [n for n in self.selections if not n.startswith("_")]
        else:
            pattern = re.compile("^" + re.escape(target).replace(r"\*", ".*") + "$")
            names = [n for n in self.selections if pattern.match(n)]
        if not names:
            raise Unsupported(f"'of {target}' matches no selection")
        return names


# ---------------------------------------------------------------------------------------------
# whole rules


def _techniques(tags: list[str]) -> tuple[list[str], list[str]]:
    mitre, other = [], []
    for tag in tags:
        match = re.fullmatch(r"attack\.t(\d{4})(?:\.(\d{3}))?", tag.lower())
        if match:
            mitre.append("T" + match.group(1) + (f".{match.group(2)}" if match.group(2) else ""))
        else:
            other.append(tag)
    return mitre, other


def convert(rule: dict[str, Any], source: str = "<rule>") -> Detection:
    """One Sigma rule (parsed YAML) as a detection; raises Unsupported with the reason."""
    if not isinstance(rule, dict):
        raise Unsupported("not a Sigma rule (a YAML mapping)")
    if rule.get("correlation") or rule.get("type") == "correlation":
        raise Unsupported("correlation rules are not converted")
    logsource = rule.get("logsource") or {}
    if (logsource.get("product"), logsource.get("service")) != ("aws", "cloudtrail"):
        raise Unsupported(
            f"log source {logsource.get('product')}/{logsource.get('service')} is not aws/cloudtrail"
        )
    detection = rule.get("detection")
    if not isinstance(detection, dict) or "condition" not in detection:
        raise Unsupported("no detection with a condition")
    if "timeframe" in detection:
        raise Unsupported("timeframe (aggregation over time) is not converted")
    conditions = detection["condition"]
    if isinstance(conditions, list):
        if len(conditions) != 1:
            raise Unsupported("several conditions in one rule")
        conditions = conditions[0]
    selections = {
        name: _selection(name, body) for name, body in detection.items() if name != "condition"
    }
    where = _Condition(str(conditions), selections).parse()
    title = str(rule.get("title") or "").strip()
    if not title:
        raise Unsupported("the rule has no title")
    rule_id = str(rule.get("id") or "")
    level = str(rule.get("level") or "medium").lower()
    mitre, tags = _techniques([str(t) for t in rule.get("tags") or []])
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:60]
    references = [str(r) for r in rule.get("references") or []]
    header: dict[str, Any] = {
        "sigma_id": rule_id,
        "level": level,
        "status": str(rule.get("status") or ""),
        "license": "DRL-1.1 (Detection Rule License; credit the author wherever matches are shown)",
    }
    if rule.get("date"):
        header["date"] = str(rule["date"])
    falsepositives = rule.get("falsepositives") or []
    if falsepositives:
        header["falsepositives"] = "; ".join(str(f) for f in falsepositives)
    d = Detection(
        id=f"sigma-{slug}-{rule_id[:8]}" if rule_id else f"sigma-{slug}",
        title=title,
        severity=LEVELS.get(level, "medium"),
        sql=f"SELECT {OUTPUT}\nFROM cloudtrail\nWHERE {where}",
        mitre=mitre,
        tags=["sigma", *tags],
        dedup=["account", "principal"],
        description=" ".join(str(rule.get("description") or "").split()),
        author=str(rule.get("author") or ""),
        path=source,
        extra=header,
    )
    if references:
        d.extra["references"] = references
    # round trip through the file format: what import-sigma writes is what runs
    return parse_detection(render_detection(d), source)


@dataclass
class Converted:
    source: str
    path: str
    detection: Detection


@dataclass
class Skipped:
    source: str
    reason: str


@dataclass
class ImportReport:
    converted: list[Converted] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _rule_files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml"))
        elif path.is_file():
            out.append(path)
        else:
            raise UserError(f"No Sigma rule file or folder at {raw}")
    return out


def import_sigma_files(paths: list[str], out: str | Path | None) -> ImportReport:
    """Convert Sigma rule files (or folders of them); write each as ``<out>/<id>.sql``."""
    report = ImportReport()
    folder = Path(out) if out is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    for file in _rule_files(paths):
        try:
            documents = list(yaml.safe_load_all(file.read_text()))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            report.skipped.append(Skipped(str(file), f"not readable YAML: {error}"))
            continue
        if len(documents) != 1:
            report.skipped.append(Skipped(str(file), "rule collections are not converted"))
            continue
        try:
            detection = convert(documents[0], str(file))
        except (Unsupported, UserError) as error:
            report.skipped.append(Skipped(str(file), str(error)))
            continue
        target = ""
        if folder is not None:
            target = str(folder / f"{detection.id}.sql")
            Path(target).write_text(render_detection(detection))
        report.converted.append(Converted(str(file), target, detection))
    return report
