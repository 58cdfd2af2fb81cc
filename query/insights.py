"""CloudWatch Logs Insights queries, translated to Athena SQL and run by the same engine.

A query is a pipeline of commands separated by `|` (`fields`, `filter`, `stats`, `sort`, `limit`,
`parse`, `display`, `dedup`). Each command becomes one SELECT over the previous one; the engine's
optimiser merges the nesting, so an Insights query compiles to the Polars plan of the SQL a user
would have written (`insights_sql` shows it). Fields resolve against the table:

* `@timestamp`, `@message`, `@logStream`, `@log` are the CloudWatch Logs columns (for CloudTrail
  and VPC flow logs `@timestamp` is the event time / flow start);
* a name matches a column without regard to case (`eventName` reads `eventname`, `srcAddr`
  reads `srcaddr`); `a.b.c` continues into a struct column (`userIdentity.arn`) or into a JSON
  text column (`requestParameters.bucketName`);
* any other name is looked up in the message when it is JSON (`@message` of CloudWatch Logs):
  Insights' field discovery.

Values read from JSON are text; comparisons with numbers and arithmetic read them as numbers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl
from polars.datatypes import DataTypeClass
from sqlglot import exp

from loglake.errors import LoglakeError, SqlError, UserError

#: rows a query returns when it says no `limit` (Insights' own maximum)
DEFAULT_LIMIT = 10_000
_UNITS = {
    "ms": 0.001,
    "msec": 0.001,
    "millisecond": 0.001,
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hr": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
    "w": 604800,
    "week": 604800,
}
_CALENDAR = {
    "mo": "month",
    "mon": "month",
    "month": "month",
    "q": "quarter",
    "qtr": "quarter",
    "quarter": "quarter",
    "y": "year",
    "yr": "year",
    "year": "year",
}


class InsightsError(UserError):
    """A query that cannot be read, with the position of the problem."""


# ---------------------------------------------------------------------------------------------
# tokens

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<duration>\d+(?:\.\d+)?(?:milliseconds?|msecs?|mss?|seconds?|secs?|s|minutes?|mins?|m
        |hours?|hrs?|h|days?|d|weeks?|w|months?|mons?|mos?|quarters?|qtrs?|q|years?|yrs?|y)\b)
  | (?P<number>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<regex>/(?:[^/\\\n]|\\.)+/)
  | (?P<field>`[^`]+`|@?[A-Za-z_][A-Za-z0-9_@.]*(?:`[^`]+`[A-Za-z0-9_.]*)*)
  | (?P<op>=~|!=|<=|>=|==|[|,()\[\]=<>+\-*/^%!])
    """,
    re.VERBOSE,
)
_KEYWORDS = {"and", "or", "not", "like", "in", "as", "by", "asc", "desc"}


@dataclass(frozen=True)
class Tok:
    kind: str
    text: str
    pos: int


def tokenize(text: str) -> list[Tok]:
    out: list[Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise _error(text, pos, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup or ""
        if kind != "ws":
            value = m.group(kind)
            if kind == "field" and value.lower() in _KEYWORDS:
                kind = "keyword"
            out.append(Tok(kind, value, m.start()))
        pos = m.end()
    return out


def _error(text: str, pos: int, message: str) -> InsightsError:
    line = text.count("\n", 0, pos) + 1
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    source = text[start : end if end >= 0 else len(text)]
    return InsightsError(
        f"Insights query, line {line}, column {pos - start + 1}: {message}\n"
        f"  {source}\n  {' ' * (pos - start)}^"
    )


# ---------------------------------------------------------------------------------------------
# syntax tree


@dataclass(frozen=True)
class Node:
    kind: str  # field num str regex duration call binop unop like in star list
    value: Any = None
    args: tuple[Node, ...] = ()
    pos: int = 0


@dataclass
class Command:
    name: str
    pos: int
    items: list[tuple[Node, str | None]] = field(default_factory=list)  # (expr, alias)
    by: list[tuple[Node, str | None]] = field(default_factory=list)
    condition: Node | None = None
    order: list[tuple[Node, bool]] = field(default_factory=list)  # (expr, descending)
    count: int | None = None
    source: Node | None = None
    pattern: Node | None = None
    names: list[str] = field(default_factory=list)


COMMANDS = ("fields", "filter", "stats", "sort", "limit", "parse", "display", "dedup")


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    def error(self, message: str, tok: Tok | None = None) -> InsightsError:
        tok = tok or self.peek()
        return _error(self.text, tok.pos if tok else len(self.text), message)

    def peek(self, offset: int = 0) -> Tok | None:
        k = self.i + offset
        return self.tokens[k] if k < len(self.tokens) else None

    def next(self) -> Tok:
        tok = self.peek()
        if tok is None:
            raise self.error("the query ends too early")
        self.i += 1
        return tok

    def accept(self, *words: str) -> Tok | None:
        tok = self.peek()
        if tok and tok.kind in ("keyword", "op", "field") and tok.text.lower() in words:
            self.i += 1
            return tok
        return None

    def expect(self, word: str) -> Tok:
        tok = self.accept(word)
        if tok is None:
            raise self.error(f"expected {word!r}")
        return tok

    # -- commands
    def query(self) -> list[Command]:
        commands = []
        while True:
            if self.peek() is None:
                raise self.error("expected a command (" + ", ".join(COMMANDS) + ")")
            commands.append(self.command())
            if self.peek() is None:
                return commands
            if not self.accept("|"):
                raise self.error("expected | between commands")

    def command(self) -> Command:
        tok = self.next()
        name = tok.text.lower()
        if tok.kind != "field" or name not in COMMANDS:
            raise self.error(
                f"unknown command {tok.text!r} (supported: {', '.join(COMMANDS)})", tok
            )
        cmd = Command(name, tok.pos)
        if name in ("fields", "display"):
            cmd.items = self.aliased_list(allow_alias=True)
        elif name == "filter":
            cmd.condition = self.expr()
        elif name == "stats":
            cmd.items = self.aliased_list(allow_alias=True)
            if self.accept("by"):
                cmd.by = self.aliased_list(allow_alias=True)
        elif name == "sort":
            while True:
                e = self.expr()
                desc = False
                if self.accept("desc"):
                    desc = True
                else:
                    self.accept("asc")
                cmd.order.append((e, desc))
                if not self.accept(","):
                    break
        elif name == "limit":
            num = self.next()
            if num.kind != "number" or not num.text.isdigit() or int(num.text) < 1:
                raise self.error("limit takes a positive whole number", num)
            cmd.count = int(num.text)
        elif name == "dedup":
            cmd.items = self.aliased_list(allow_alias=False)
        else:  # parse
            ahead = self.peek()
            cmd.source = self.expr() if ahead is not None and ahead.kind == "field" else None
            pattern = self.next()
            if pattern.kind not in ("string", "regex"):
                raise self.error("parse takes a glob in quotes or a /regular expression/", pattern)
            cmd.pattern = self.literal(pattern)
            if pattern.kind == "string":
                self.expect("as")
                cmd.names = [self.field_name(self.next())]
                while self.accept(","):
                    cmd.names.append(self.field_name(self.next()))
        return cmd

    def field_name(self, tok: Tok) -> str:
        if tok.kind != "field":
            raise self.error("expected a field name", tok)
        return tok.text.replace("`", "")

    def aliased_list(self, allow_alias: bool) -> list[tuple[Node, str | None]]:
        out = []
        while True:
            e = self.expr()
            alias = None
            if self.accept("as"):
                if not allow_alias:
                    raise self.error("aliases are not allowed here")
                alias = self.field_name(self.next())
            out.append((e, alias))
            if not self.accept(","):
                return out

    # -- expressions: or > and > not > comparison > additive > multiplicative > power > unary
    def expr(self) -> Node:
        left = self.and_()
        while tok := self.accept("or"):
            left = Node("binop", "or", (left, self.and_()), tok.pos)
        return left

    def and_(self) -> Node:
        left = self.not_()
        while tok := self.accept("and"):
            left = Node("binop", "and", (left, self.not_()), tok.pos)
        return left

    def not_(self) -> Node:
        if tok := self.accept("not", "!"):
            return Node("unop", "not", (self.not_(),), tok.pos)
        return self.comparison()

    def comparison(self) -> Node:
        left = self.additive()
        tok = self.peek()
        negate = False
        if tok and tok.kind == "keyword" and tok.text.lower() == "not":
            after = self.peek(1)
            if after and after.text.lower() in ("like", "in"):
                self.i += 1
                negate = True
                tok = self.peek()
        if tok is None:
            return left
        word = tok.text.lower()
        if word in ("like", "=~"):
            self.i += 1
            pattern = self.next()
            if pattern.kind not in ("string", "regex"):
                raise self.error('like takes a "string" or a /regular expression/', pattern)
            node = Node("like", None, (left, self.literal(pattern)), tok.pos)
            return Node("unop", "not", (node,), tok.pos) if negate else node
        if word == "in":
            self.i += 1
            self.expect("[")
            items = [self.additive()]
            while self.accept(","):
                items.append(self.additive())
            self.expect("]")
            node = Node("in", None, (left, *items), tok.pos)
            return Node("unop", "not", (node,), tok.pos) if negate else node
        if negate:
            raise self.error("expected like or in after not")
        if tok.kind == "op" and word in ("=", "==", "!=", "<", "<=", ">", ">="):
            self.i += 1
            op = "=" if word == "==" else word
            return Node("binop", op, (left, self.additive()), tok.pos)
        return left

    def additive(self) -> Node:
        left = self.term()
        while (tok := self.peek()) and tok.kind == "op" and tok.text in "+-" and tok.text:
            self.i += 1
            left = Node("binop", tok.text, (left, self.term()), tok.pos)
        return left

    def term(self) -> Node:
        left = self.power()
        while (tok := self.peek()) and tok.kind == "op" and tok.text in ("*", "/", "%"):
            self.i += 1
            left = Node("binop", tok.text, (left, self.power()), tok.pos)
        return left

    def power(self) -> Node:
        base = self.unary()
        if (tok := self.peek()) and tok.kind == "op" and tok.text == "^":
            self.i += 1
            return Node("binop", "^", (base, self.power()), tok.pos)
        return base

    def unary(self) -> Node:
        tok = self.peek()
        if tok and tok.kind == "op" and tok.text == "-":
            self.i += 1
            return Node("unop", "-", (self.unary(),), tok.pos)
        return self.primary()

    def literal(self, tok: Tok) -> Node:
        if tok.kind == "string":
            return Node("str", _unescape(tok.text[1:-1]), pos=tok.pos)
        return Node("regex", tok.text[1:-1].replace("\\/", "/"), pos=tok.pos)

    def primary(self) -> Node:
        tok = self.next()
        if tok.kind == "number":
            return Node(
                "num",
                float(tok.text) if "." in tok.text or "e" in tok.text.lower() else int(tok.text),
                pos=tok.pos,
            )
        if tok.kind in ("string", "regex"):
            return self.literal(tok)
        if tok.kind == "duration":
            return Node("duration", tok.text, pos=tok.pos)
        if tok.kind == "op" and tok.text == "(":
            inner = self.expr()
            self.expect(")")
            return inner
        if tok.kind == "op" and tok.text == "*":
            return Node("star", pos=tok.pos)
        if tok.kind == "field":
            if (after := self.peek()) and after.kind == "op" and after.text == "(":
                self.i += 1
                args: list[Node] = []
                if not self.accept(")"):
                    args.append(self.expr())
                    while self.accept(","):
                        args.append(self.expr())
                    self.expect(")")
                return Node("call", tok.text.lower(), tuple(args), tok.pos)
            return Node("field", tok.text.replace("`", ""), pos=tok.pos)
        raise self.error(f"unexpected {tok.text!r}", tok)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def parse_insights(text: str) -> list[Command]:
    """The commands of a query (errors name line and column)."""
    if not isinstance(text, str) or not text.strip():
        raise InsightsError("the Insights query is empty")
    return _Parser(text).query()


# ---------------------------------------------------------------------------------------------
# translation to SQL


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return exp.Literal.string(value).sql(dialect="athena")


def seconds_of(duration: str) -> tuple[float, str | None]:
    """`5m` -> (300, None); calendar units -> (count, 'month' | 'quarter' | 'year')."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([a-z]+)", duration)
    assert m is not None
    amount, unit = float(m.group(1)), m.group(2)
    # the tokenizer admits a plural s only after names of two letters or more, so a name that
    # is not a unit is a plural: `ms` is milliseconds, not minutes
    base = unit if unit in _UNITS or unit in _CALENDAR else unit[:-1]
    if base in _CALENDAR:
        return amount, _CALENDAR[base]
    return amount * _UNITS[base], None


@dataclass
class TableShape:
    """How Insights' names map onto one table's columns."""

    name: str  # SQL name of the table
    columns: Mapping[str, pl.DataType]  # lower-case column name -> dtype
    timestamp: str  # SQL expression of @timestamp
    message: str | None = None  # column of @message (JSON field discovery), if any
    specials: Mapping[str, str] = field(default_factory=dict)  # @logStream -> SQL
    json_columns: frozenset[str] = frozenset()
    aliases: Mapping[str, str] = field(default_factory=dict)  # Insights name -> column
    defaults: tuple[str, ...] = ("@timestamp", "@message")  # shown when no fields/display

    def column(self, name: str) -> str | None:
        """The column an Insights name reads: same letters, any case, `_` optional."""
        low = name.lower()
        if low in self.columns:
            return low
        if low in self.aliases:
            return self.aliases[low]
        squashed = {c.replace("_", ""): c for c in self.columns}
        return squashed.get(low.replace("_", ""))


#: CloudTrail's JSON text columns: a dotted name continues into them
CLOUDTRAIL_JSON = frozenset(
    {"requestparameters", "responseelements", "additionaleventdata", "serviceeventdetails"}
)


#: what a query without fields/display shows of a CloudTrail event
CLOUDTRAIL_DEFAULTS = (
    "@timestamp", "eventSource", "eventName", "awsRegion", "sourceIPAddress", "userIdentity.arn",
)  # fmt: skip
#: a flow record's @message: the default (version 2) format line, `-` for a missing value
VPC_MESSAGE = (
    "version", "account_id", "interface_id", "srcaddr", "dstaddr", "srcport", "dstport",
    "protocol", "packets", "bytes", "start", "end", "action", "log_status",
)  # fmt: skip


def _in_utc(column: str, dtype: pl.DataType | None) -> str:
    """A time column as an instant in UTC.

    Insights results carry UTC on every time value (bin(), datefloor(), CloudTrail's and VPC
    flow logs' @timestamp); a plain SQL `timestamp` column (the table's, Athena's type) is a
    UTC wall-clock time, so it is given that zone rather than shown without one.
    """
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return f"with_timezone({_q(column)}, 'UTC')"
    return _q(column)


def table_shape(name: str, schema: Mapping[str, pl.DataType]) -> TableShape:
    """The Insights view of a table: CloudWatch Logs, CloudTrail, VPC flow logs or any other."""
    columns = {k.lower(): v for k, v in schema.items()}
    if "message" in columns and "loggroup" in columns:
        log = 'CASE WHEN "owner" IS NULL THEN "loggroup" ELSE "owner" || \':\' || "loggroup" END'
        eventtime = _in_utc("eventtime", columns.get("eventtime"))
        return TableShape(
            name,
            columns,
            eventtime,
            "message",
            {"@logstream": '"logstream"', "@log": log, "@ingestiontime": eventtime},
        )
    if "eventtime" in columns and isinstance(columns["eventtime"], pl.String):
        json = frozenset(c for c in CLOUDTRAIL_JSON if c in columns)
        return TableShape(
            name,
            columns,
            'from_iso8601_timestamp("eventtime")',
            json_columns=json,
            defaults=CLOUDTRAIL_DEFAULTS,
        )
    if "srcaddr" in columns and "start" in columns:
        line = [c for c in VPC_MESSAGE if c in columns]
        message = (
            "concat_ws(' ', "
            + ", ".join(f"coalesce(CAST({_q(c)} AS VARCHAR), '-')" for c in line)
            + ")"
        )
        return TableShape(
            name,
            columns,
            'from_unixtime("start")',
            specials={"@message": message},
            aliases={"starttime": "start", "endtime": "end"},
        )
    for candidate in ("eventtime", "timestamp", "time"):
        if candidate in columns:
            return TableShape(
                name, columns, _in_utc(candidate, columns[candidate]), defaults=("@timestamp",)
            )
    raise UserError(f"table {name} has no time column for @timestamp")


@dataclass
class Value:
    """A translated expression: its SQL, whether it is text read from JSON (numbers in it are
    read as numbers), and whether it is text anyway (no CAST needed where text is wanted)."""

    sql: str
    json: bool = False
    aggregate: bool = False
    text: bool = False


_AGGREGATES = {
    "avg", "count", "count_distinct", "max", "min", "pct", "stddev", "sum", "earliest",
    "latest", "sortsfirst", "sortslast",
}  # fmt: skip


class _Translator:
    def __init__(self, text: str, shape: TableShape):
        self.text = text
        self.shape = shape
        self.fields: dict[str, Value] = {}  # fields named so far (lower-case) -> their SQL
        self.json_fields: dict[str, str] = {}  # fields holding parsed JSON (jsonParse) -> SQL

    def error(self, node: Node | Command, message: str) -> InsightsError:
        return _error(self.text, node.pos, message)

    # -- fields
    def field(self, node: Node) -> Value:
        name = node.value
        low = name.lower()
        if low in self.fields:
            return self.fields[low]
        head, _, rest = name.partition(".")
        if head.lower() in self.json_fields and rest:
            return Value(_json_path(self.json_fields[head.lower()], rest.split(".")), True)
        shape = self.shape
        if low == "@timestamp":
            return Value(shape.timestamp)
        if low in shape.specials:
            return Value(shape.specials[low], text=low != "@ingestiontime")
        if low == "@message":
            if shape.message is None:
                raise self.error(node, f"@message is not stored in {shape.name}: name fields")
            return Value(_q(shape.message), text=True)
        if low.startswith("@"):
            raise self.error(node, f"unknown field {name}")
        if shape.message is not None:  # field discovery in the JSON of @message
            return Value(_json_path(_q(shape.message), name.split(".")), True)
        if (column := shape.column(name)) is not None:
            return Value(_q(column), text=isinstance(shape.columns[column], pl.String))
        parts = name.split(".")
        if (column := shape.column(parts[0])) is not None:
            dtype: pl.DataType | DataTypeClass = shape.columns[column]
            if column in shape.json_columns or isinstance(dtype, pl.String):
                return Value(_json_path(_q(column), parts[1:]), True)
            sql = _q(column)
            for part in parts[1:]:
                if not isinstance(dtype, pl.Struct):
                    raise self.error(node, f"{name}: {column} has no field {part}")
                match = {f.name.lower(): f for f in dtype.fields}.get(part.lower())
                if match is None:
                    raise self.error(node, f"{name}: no field {part!r} in {column}")
                sql += "." + _q(match.name)
                dtype = match.dtype
            return Value(sql, text=isinstance(dtype, pl.String))
        raise self.error(node, f"unknown field {name!r} in {shape.name}")

    # -- expressions
    def number(self, value: Value) -> str:
        return f"TRY_CAST({value.sql} AS DOUBLE)" if value.json else value.sql

    def text_of(self, value: Value) -> str:
        return value.sql if value.json or value.text else f"CAST({value.sql} AS VARCHAR)"

    def expr(self, node: Node, *, in_stats: bool = False) -> Value:
        kind = node.kind
        if kind == "field":
            return self.field(node)
        if kind == "num":
            return Value(repr(node.value) if isinstance(node.value, float) else str(node.value))
        if kind == "str":
            return Value(_lit(node.value), text=True)
        if kind == "regex":
            raise self.error(node, "a regular expression is only allowed after like or =~")
        if kind == "duration":
            raise self.error(
                node, "a time period is only allowed in bin(), datefloor(), dateceil()"
            )
        if kind == "star":
            raise self.error(node, "* is only allowed in count(*)")
        if kind == "unop":
            inner = self.expr(node.args[0], in_stats=in_stats)
            if node.value == "-":
                return Value(f"(-{self.number(inner)})", aggregate=inner.aggregate)
            return Value(f"(NOT {inner.sql})", aggregate=inner.aggregate)
        if kind == "like":
            target = self.expr(node.args[0], in_stats=in_stats)
            pattern = node.args[1]
            text = self.text_of(target)
            if pattern.kind == "str":
                return Value(f"(strpos({text}, {_lit(pattern.value)}) > 0)")
            return Value(f"regexp_like({text}, {_lit(_regex(pattern.value))})")
        if kind == "in":
            target = self.expr(node.args[0], in_stats=in_stats)
            items = node.args[1:]
            if all(a.kind == "num" for a in items):
                left = self.number(target)
                values = [self.expr(a).sql for a in items]
            elif all(a.kind in ("num", "str") for a in items):  # mixed: compare as text
                left = self.text_of(target)
                values = [_lit(a.value if a.kind == "str" else str(a.value)) for a in items]
            else:
                raise self.error(node, 'in takes a list of numbers and strings: [1, "a"]')
            return Value(f"({left} IN ({', '.join(values)}))")
        if kind == "binop":
            return self.binop(node, in_stats)
        return self.call(node, in_stats)

    def binop(self, node: Node, in_stats: bool) -> Value:
        a = self.expr(node.args[0], in_stats=in_stats)
        b = self.expr(node.args[1], in_stats=in_stats)
        agg = a.aggregate or b.aggregate
        op = node.value
        if op in ("and", "or"):
            return Value(f"({a.sql} {op.upper()} {b.sql})", aggregate=agg)
        if op in ("=", "!=", "<", "<=", ">", ">="):
            numeric = node.args[0].kind == "num" or node.args[1].kind == "num"
            left, right = (self.number(a), self.number(b)) if numeric else (a.sql, b.sql)
            sql_op = "<>" if op == "!=" else op
            return Value(f"({left} {sql_op} {right})", aggregate=agg)
        left, right = self.number(a), self.number(b)
        if op == "/":
            return Value(f"(CAST({left} AS DOUBLE) / {right})", aggregate=agg)
        if op == "^":
            return Value(f"power({left}, {right})", aggregate=agg)
        if op == "%":
            return Value(f"mod({left}, {right})", aggregate=agg)
        return Value(f"({left} {op} {right})", aggregate=agg)

    def period(self, node: Node, what: str) -> tuple[float, str | None]:
        if node.kind != "duration":
            raise self.error(node, f"{what} takes a time period such as 5m or 1h")
        return seconds_of(node.value)

    def floor_time(self, ts: str, node: Node, what: str, ceil: bool = False) -> str:
        amount, calendar = self.period(node, what)
        if calendar is not None:
            if amount != 1:
                raise self.error(node, f"{what}: calendar periods take a count of 1")
            floor = f"date_trunc({_lit(calendar)}, {ts})"
            if ceil:
                return (
                    f"CASE WHEN {floor} = {ts} THEN {ts} "
                    f"ELSE date_add({_lit(calendar)}, 1, {floor}) END"
                )
            return floor
        seconds = repr(float(amount))
        fn = "ceil" if ceil else "floor"
        return f"from_unixtime({fn}(to_unixtime({ts}) / {seconds}) * {seconds})"

    def call(self, node: Node, in_stats: bool) -> Value:
        name = node.value
        args = node.args
        if name in _AGGREGATES:
            if not in_stats:
                raise self.error(node, f"{name}() is an aggregate: use it in stats")
            return self.aggregate(node)
        if name == "bin":
            self.arity(node, 1, 1)
            return Value(self.floor_time(self.shape.timestamp, args[0], "bin()"))
        if name in ("datefloor", "dateceil"):
            self.arity(node, 2, 2)
            ts = self.expr(args[0], in_stats=in_stats).sql
            return Value(self.floor_time(ts, args[1], f"{name}()", ceil=name == "dateceil"))
        if name in ("trim", "ltrim", "rtrim") and len(args) == 2:
            if args[1].kind != "str" or not args[1].value:
                raise self.error(args[1], f"{name}() takes the characters to strip as a string")
            text = self.text_of(self.expr(args[0], in_stats=in_stats))
            return Value(_trim_chars(name, text, args[1].value), text=True)
        if name == "jsonparse":
            self.arity(node, 1, 1)
            return Value(self.text_of(self.expr(args[0], in_stats=in_stats)), True)
        values = [self.expr(a, in_stats=in_stats) for a in args]
        agg = any(v.aggregate for v in values)
        spec = _SCALARS.get(name)
        if spec is None:
            raise self.error(
                node, f"unknown function {name}() (supported: {', '.join(sorted(_FUNCTION_NAMES))})"
            )
        low, high, kind, render = spec
        self.arity(node, low, high)
        prepared = [
            self.number(v) if kind == "number" else self.text_of(v) if kind == "text" else v.sql
            for v in values
        ]
        return Value(render(*prepared), aggregate=agg, text=name in _TEXT_RESULTS)

    def arity(self, node: Node, low: int, high: int | None) -> None:
        n = len(node.args)
        if n < low or (high is not None and n > high):
            span = (
                str(low) if low == high else f"{low} or more" if high is None else f"{low}-{high}"
            )
            raise self.error(node, f"{node.value}() takes {span} argument(s), got {n}")

    def aggregate(self, node: Node) -> Value:
        name = node.value
        args = node.args
        if name == "count":
            self.arity(node, 0, 1)
            if not args or args[0].kind == "star":
                return Value("count(*)", aggregate=True)
            return Value(f"count({self.expr(args[0]).sql})", aggregate=True)
        if name == "pct":
            self.arity(node, 2, 2)
            if args[1].kind != "num":
                raise self.error(args[1], "pct() takes a percentile number, e.g. pct(latency, 95)")
            p = float(args[1].value) / 100.0
            return Value(
                f"approx_percentile({self.number(self.expr(args[0]))}, {p!r})", aggregate=True
            )
        self.arity(node, 1, 1)
        inner = self.expr(args[0])
        if inner.aggregate:
            raise self.error(node, f"{name}() of an aggregate is not allowed")
        present = f"CASE WHEN {inner.sql} IS NOT NULL THEN {self.shape.timestamp} END"
        sql = {
            "avg": lambda: f"avg({self.number(inner)})",
            "sum": lambda: f"sum({self.number(inner)})",
            "stddev": lambda: f"stddev_samp({self.number(inner)})",
            "count_distinct": lambda: f"count(DISTINCT {inner.sql})",
            "max": lambda: f"max({self.number(inner)})" if inner.json else f"max({inner.sql})",
            "min": lambda: f"min({self.number(inner)})" if inner.json else f"min({inner.sql})",
            # the earliest/latest event that has the field
            "earliest": lambda: f"min_by({inner.sql}, {present})",
            "latest": lambda: f"max_by({inner.sql}, {present})",
            "sortsfirst": lambda: f"min({inner.sql})",
            "sortslast": lambda: f"max({inner.sql})",
        }[name]()
        return Value(sql, aggregate=True)


def _json_path(column: str, keys: Sequence[str]) -> str:
    """`a.b` of a JSON text column; each key quoted, so `foo-bar` and spaces are safe."""
    path = "$" + "".join(
        "." + k if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) else "[" + json.dumps(k) + "]"
        for k in keys
    )
    return f"json_extract_scalar({column}, {_lit(path)})"


def _regex(pattern: str) -> str:
    """Insights regexes use (?<name>...) groups; the engine reads (?P<name>...)."""
    return re.sub(r"\(\?<(?=[A-Za-z_])", "(?P<", pattern)


def _trim_chars(side: str, text: str, chars: str) -> str:
    """`trim(s, "xyZ")`: strip any of the given characters (a set, as Insights documents)."""
    klass = "[" + "".join("\\" + c if c in "\\]^-[" else c for c in chars) + "]+"
    if side == "ltrim":
        return f"regexp_replace({text}, {_lit('^' + klass)}, '')"
    if side == "rtrim":
        return f"regexp_replace({text}, {_lit(klass + '$')}, '')"
    return f"regexp_replace({text}, {_lit('^' + klass + '|' + klass + '$')}, '')"


#: name -> (min args, max args or None, argument kind, SQL template)
_SCALARS: dict[str, tuple[int, int | None, str, Any]] = {
    "abs": (1, 1, "number", lambda a: f"abs({a})"),
    "ceil": (1, 1, "number", lambda a: f"ceil({a})"),
    "floor": (1, 1, "number", lambda a: f"floor({a})"),
    "log": (1, 1, "number", lambda a: f"ln({a})"),
    "sqrt": (1, 1, "number", lambda a: f"sqrt({a})"),
    "greatest": (1, None, "number", lambda *a: f"greatest({', '.join(a)})"),
    "least": (1, None, "number", lambda *a: f"least({', '.join(a)})"),
    "ispresent": (1, 1, "any", lambda a: f"({a} IS NOT NULL)"),
    "coalesce": (1, None, "any", lambda *a: f"coalesce({', '.join(a)})"),
    "isempty": (1, 1, "text", lambda a: f"({a} IS NULL OR {a} = '')"),
    "isblank": (1, 1, "text", lambda a: f"({a} IS NULL OR trim({a}) = '')"),
    "concat": (1, None, "text", lambda *a: f"concat({', '.join(a)})"),
    "ltrim": (1, 1, "text", lambda a: f"ltrim({a})"),
    "rtrim": (1, 1, "text", lambda a: f"rtrim({a})"),
    "trim": (1, 1, "text", lambda a: f"trim({a})"),
    "strlen": (1, 1, "text", lambda a: f"length({a})"),
    "toupper": (1, 1, "text", lambda a: f"upper({a})"),
    "tolower": (1, 1, "text", lambda a: f"lower({a})"),
    "substr": (
        2,
        3,
        "any",
        lambda s, x, y=None: (
            f"substr(CAST({s} AS VARCHAR), CAST({x} AS BIGINT) + 1"
            + (f", CAST({y} AS BIGINT))" if y is not None else ")")
        ),
    ),
    "replace": (3, 3, "text", lambda s, a, b: f"replace({s}, {a}, {b})"),
    "strcontains": (
        2,
        2,
        "text",
        lambda s, t: f"(CASE WHEN strpos({s}, {t}) > 0 THEN 1 ELSE 0 END)",
    ),
    "frommillis": (1, 1, "number", lambda a: f"from_unixtime({a} / 1000.0)"),
    "tomillis": (1, 1, "any", lambda a: f"CAST(to_unixtime({a}) * 1000 AS BIGINT)"),
    "jsonstringify": (1, 1, "text", lambda a: a),
    "isvalidip": (1, 1, "text", lambda a: f"(TRY_CAST({a} AS IPADDRESS) IS NOT NULL)"),
    "isvalidipv4": (
        1,
        1,
        "text",
        lambda a: f"(TRY_CAST({a} AS IPADDRESS) IS NOT NULL AND strpos({a}, '.') > 0)",
    ),
    "isvalidipv6": (
        1,
        1,
        "text",
        lambda a: f"(TRY_CAST({a} AS IPADDRESS) IS NOT NULL AND strpos({a}, ':') > 0)",
    ),
    "isipinsubnet": (2, 2, "text", lambda a, n: f"contains({n}, {a})"),
    "isipv4insubnet": (2, 2, "text", lambda a, n: f"contains({n}, {a})"),
    "isipv6insubnet": (2, 2, "text", lambda a, n: f"contains({n}, {a})"),
}
#: functions whose result is text
_TEXT_RESULTS = {
    "concat", "ltrim", "rtrim", "trim", "toupper", "tolower", "substr", "replace", "jsonstringify",
}  # fmt: skip
_FUNCTION_NAMES = set(_SCALARS) | _AGGREGATES | {"bin", "datefloor", "dateceil", "jsonparse"}


def _glob_regex(glob: str) -> tuple[str, int]:
    """A parse glob as a regex: each * captures (lazily, the last one to the end)."""
    pieces = glob.split("*")
    out = []
    for k, piece in enumerate(pieces):
        out.append(re.escape(piece))
        if k < len(pieces) - 1:
            out.append("(.*)" if k == len(pieces) - 2 and pieces[-1] == "" else "(.*?)")
    return "".join(out), len(pieces) - 1


def insights_sql(
    query: str,
    shape: TableShape,
    *,
    where: Sequence[str] = (),
    default_limit: int = DEFAULT_LIMIT,
) -> tuple[str, list[str]]:
    """Athena SQL for an Insights query over a table, and the names of the result columns.

    `where` holds SQL conditions of the scan (log groups, time range) applied first. Fields a
    command computes get internal column names (`_f1`, ...), so a name like `eventName` never
    collides with the table's `eventname` (SQL names ignore case, Insights' do not).
    """
    return _Builder(query, shape, where, default_limit).build()


class _Builder:
    """One SELECT layer per command; `shown` and `order` carry over from layer to layer."""

    def __init__(self, query: str, shape: TableShape, where: Sequence[str], default_limit: int):
        self.query = query
        self.shape = shape
        self.t = _Translator(query, shape)
        self.current = f"SELECT * FROM {shape.name}"
        if where:
            self.current += " WHERE " + " AND ".join(f"({w})" for w in where)
        self.default_limit = default_limit
        self.layer = 0
        self.counter = 0
        self.shown: list[str] | None = None  # names the result shows, in order
        self.order: list[str] | None = None  # ORDER BY keys valid in the current layer
        self.limit: int | None = None
        self.aggregated = False

    def wrap(self, select: str, tail: str = "") -> None:
        self.layer += 1
        self.current = f"SELECT {select} FROM ({self.current}) AS _l{self.layer}{tail}"

    def column(self) -> str:
        self.counter += 1
        return f"_f{self.counter}"

    def define(self, items: list[tuple[str, Value]]) -> None:
        """Add computed fields as new columns of the next layer."""
        extra = []
        for name, value in items:
            internal = self.column()
            extra.append(f"{value.sql} AS {internal}")
            self.t.fields[name.lower()] = Value(internal, value.json, text=value.text)
        if extra:
            self.wrap("*, " + ", ".join(extra))

    def show(self, names: list[str]) -> None:
        shown = self.shown or []
        self.shown = shown + [n for n in names if n.lower() not in {s.lower() for s in shown}]

    def build(self) -> tuple[str, list[str]]:
        deduped = False
        for cmd in parse_insights(self.query):
            if deduped and cmd.name != "limit":
                raise _error(self.query, cmd.pos, "only limit may follow dedup")
            getattr(self, "cmd_" + cmd.name)(cmd)
            deduped = deduped or cmd.name == "dedup"
        t = self.t
        if self.shown is None:
            self.shown = list(self.shape.defaults)
        outputs = [t.field(Node("field", n)).sql for n in self.shown]
        if self.order is None:
            self.order = [] if self.aggregated else self.default_order()
        tail = (" ORDER BY " + ", ".join(self.order)) if self.order else ""
        cap = self.default_limit if self.limit is None else min(self.limit, self.default_limit)
        tail += f" LIMIT {cap}"
        columns = ", ".join(f"{sql} AS _c{k}" for k, sql in enumerate(outputs, 1))
        self.layer += 1
        return f"SELECT {columns} FROM ({self.current}) AS _l{self.layer}{tail}", self.shown

    def default_order(self) -> list[str]:
        return [f"{self.shape.timestamp} DESC"]

    def name_of(self, node: Node, alias: str | None) -> str:
        if alias:
            return alias
        return node.value if node.kind == "field" else _expr_name(self.query, node)

    # -- commands
    def named(self, cmd: Command) -> list[str]:
        """The fields of a fields/display list: plain names stay as they are, anything else
        (an expression, an alias) becomes a column of the next layer."""
        computed = []
        names = []
        for node, alias in cmd.items:
            value = self.t.expr(node)  # unknown names fail here, at their position
            name = self.name_of(node, alias)
            names.append(name)
            if node.kind == "field" and alias is None:
                self.t.fields[name.lower()] = value
            else:
                computed.append((name, value))
        self.define(computed)
        for node, alias in cmd.items:
            if node.kind == "call" and node.value == "jsonparse":
                name = self.name_of(node, alias).lower()
                self.t.json_fields[name] = self.t.fields[name].sql
        return names

    def cmd_fields(self, cmd: Command) -> None:
        self.show(self.named(cmd))

    def cmd_display(self, cmd: Command) -> None:
        self.shown = self.named(cmd)  # only the last display counts

    def cmd_filter(self, cmd: Command) -> None:
        assert cmd.condition is not None
        self.wrap("*", f" WHERE {self.t.expr(cmd.condition).sql}")

    def cmd_parse(self, cmd: Command) -> None:
        t = self.t
        source = t.expr(cmd.source) if cmd.source else t.field(Node("field", "@message"))
        pattern = cmd.pattern
        assert pattern is not None
        if pattern.kind == "str":
            regex, groups = _glob_regex(pattern.value)
            if groups != len(cmd.names):
                raise _error(
                    self.query,
                    pattern.pos,
                    f"the glob has {groups} * but {len(cmd.names)} names follow as",
                )
            names = cmd.names
            indexes = list(range(1, groups + 1))
        else:
            regex = _regex(pattern.value)
            try:
                compiled = re.compile(regex)
            except re.error as error:
                raise _error(
                    self.query, pattern.pos, f"invalid regular expression: {error}"
                ) from None
            if not compiled.groupindex:
                raise _error(
                    self.query, pattern.pos, "the regular expression names no (?<field>...)"
                )
            names = list(compiled.groupindex)
            indexes = [compiled.groupindex[n] for n in names]
        text = t.text_of(source)
        self.define(
            [
                (n, Value(f"regexp_extract({text}, {_lit(regex)}, {k})", True))
                for n, k in zip(names, indexes, strict=True)
            ]
        )

    def cmd_stats(self, cmd: Command) -> None:
        t = self.t
        select = []
        names = []
        for node, alias in cmd.by:
            value = t.expr(node)
            if value.aggregate:
                raise _error(self.query, node.pos, "stats ... by takes fields, not aggregates")
            select.append(value)
            names.append(self.name_of(node, alias))
        groups = len(select)
        for node, alias in cmd.items:
            value = t.expr(node, in_stats=True)
            if not value.aggregate:
                raise _error(self.query, node.pos, "stats needs an aggregate such as count(*)")
            select.append(value)
            names.append(alias or _expr_name(self.query, node))
            if alias:  # later items may compute with it: `max(a) as x, min(a) as y, x - y as d`
                t.fields[alias.lower()] = value
        internals = [self.column() for _ in select]
        tail = ""
        if groups:
            tail = " GROUP BY " + ", ".join(str(k + 1) for k in range(groups))
        self.wrap(
            ", ".join(f"{v.sql} AS {c}" for v, c in zip(select, internals, strict=True)), tail
        )
        t.fields = {n.lower(): Value(c) for n, c in zip(names, internals, strict=True)}
        t.json_fields = {}
        self.shown = names
        self.order = internals[:groups]
        self.aggregated = True

    def cmd_sort(self, cmd: Command) -> None:
        keys = []
        for node, desc in cmd.order:
            value = self.t.expr(node)
            keys.append(f"{value.sql} {'DESC' if desc else 'ASC'} NULLS LAST")
        self.order = keys
        self.wrap("*", " ORDER BY " + ", ".join(keys))

    def cmd_limit(self, cmd: Command) -> None:
        assert cmd.count is not None
        self.limit = cmd.count if self.limit is None else min(self.limit, cmd.count)
        if self.order is None and not self.aggregated:
            self.order = self.default_order()
        ordered = (" ORDER BY " + ", ".join(self.order)) if self.order else ""
        self.wrap("*", f"{ordered} LIMIT {cmd.count}")

    def cmd_dedup(self, cmd: Command) -> None:
        keys = []
        for node, _ in cmd.items:
            if node.kind != "field":
                raise _error(self.query, node.pos, "dedup takes field names")
            keys.append(self.t.field(node).sql)
        if self.order is None:
            self.order = [] if self.aggregated else self.default_order()
        ordering = ", ".join(self.order) if self.order else "1"
        any_null = " OR ".join(f"{k} IS NULL" for k in keys)
        self.wrap(
            f"*, row_number() OVER (PARTITION BY {', '.join(keys)} ORDER BY {ordering}) AS _dedup"
        )
        # Insights keeps every event whose dedup fields hold a null: nulls are no duplicates
        self.wrap("*", f" WHERE _dedup = 1 OR {any_null}")


def _expr_name(text: str, node: Node) -> str:
    """Insights names an unaliased expression by its own text (`count(*)`, `bin(5m)`)."""
    end = _node_end(text, node)
    return re.sub(r"\s+", "", text[node.pos : end]) if end > node.pos else str(node.value)


def _node_end(text: str, node: Node) -> int:
    if node.kind == "call":
        depth = 0
        for k in range(node.pos, len(text)):
            if text[k] == "(":
                depth += 1
            elif text[k] == ")":
                depth -= 1
                if depth == 0:
                    return k + 1
        return len(text)
    ends = [_node_end(text, a) for a in node.args]
    m = _TOKEN.match(text, node.pos)
    own = m.end() if m else node.pos
    return max([own, *ends])


# ---------------------------------------------------------------------------------------------
# running


@dataclass
class InsightsResult:
    frame: pl.DataFrame
    sql: str
    columns: list[str]


def run_insights(
    engine: Any,
    query: str,
    *,
    table: str,
    log_groups: Sequence[str] = (),
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    default_limit: int = DEFAULT_LIMIT,
    run: bool = True,
) -> InsightsResult:
    """Run an Insights query over a table of the engine's catalog (``run=False``: only the SQL)."""
    shape = open_shape(engine, table)
    where = scan_conditions(shape, log_groups, start, end)
    sql, columns = insights_sql(query, shape, where=where, default_limit=default_limit)
    if not run:
        return InsightsResult(pl.DataFrame(), sql, columns)
    try:
        frame = engine.execute(sql).df
    except SqlError as error:
        raise InsightsError(f"Insights query failed: {error.bare_message}") from None
    if frame.width == len(columns):  # SQL folds names to lower case; Insights keeps them
        frame.columns = columns
    return InsightsResult(frame, sql, columns)


def open_shape(engine: Any, table: str) -> TableShape:
    """The Insights view of a table of the engine's catalog."""
    try:
        schema = engine.tables.schema(*_split(table, engine.default_database))
    except LoglakeError:
        schema = None
    if schema is None:
        raise UserError(f"no table {table!r} for the Insights query")
    return table_shape(table, dict(schema))


def scan_conditions(
    shape: TableShape,
    log_groups: Sequence[str] = (),
    start: datetime | str | None = None,
    end: datetime | str | None = None,
) -> list[str]:
    """SQL conditions for log groups (`name`, or `prefix*`) and a time range [start, end)."""
    where = []
    if log_groups:
        if "loggroup" not in shape.columns:
            raise UserError(
                f"table {shape.name} holds no log groups: a log group needs cloudwatch_logs"
            )
        exact = [g for g in log_groups if not g.endswith("*")]
        either = [
            f"\"loggroup\" LIKE {_lit(_like_prefix(g[:-1]))} ESCAPE '\\'"
            for g in log_groups
            if g.endswith("*")
        ]
        if len(exact) == 1:
            either.append(f'"loggroup" = {_lit(exact[0])}')
        elif exact:
            either.append('"loggroup" IN (' + ", ".join(_lit(g) for g in exact) + ")")
        where.append(" OR ".join(either))
    for bound, op in ((_instant(start, "start"), ">="), (_instant(end, "end"), "<")):
        if bound is None:
            continue
        where.append(f"{shape.timestamp} {op} from_iso8601_timestamp({_lit(bound.isoformat())})")
        if "day" in shape.columns:  # the partition column: lets the scan skip whole days
            day_op = ">=" if op == ">=" else "<="
            where.append(f'"day" {day_op} {_lit(bound.date().isoformat())}')
    return where


def _like_prefix(prefix: str) -> str:
    return re.sub(r"([\\%_])", r"\\\1", prefix) + "%"


def resolve_field(shape: TableShape, name: str) -> Value:
    """The SQL of an Insights field name over a table (for rules that name fields too)."""
    try:
        return _Translator(name, shape).field(Node("field", name))
    except InsightsError as error:  # no query text to point into: keep the message alone
        raise InsightsError(str(error).splitlines()[0].split(": ", 1)[1]) from None


def _instant(value: datetime | str | None, what: str) -> datetime | None:
    """A time bound: a datetime (naive means UTC) or ISO 8601 text."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise UserError(f"{what}: {value!r} is not an ISO 8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _split(table: str, database: str) -> tuple[str | None, str]:
    db, _, name = table.rpartition(".")
    return (db or None), name
