"""Athena SQL to Spark SQL, keeping Trino's meaning or refusing.

sqlglot turns Athena's syntax into Spark's (function names, lateral views, NULL ordering, format
strings). What sqlglot cannot know without types, or spells with a Spark function that answers
differently, is a table here from expression class or Trino function name to one small rewrite:
integer division, ``date_add`` on timestamps, UNIX time with its fraction, URL parts, array
predicates, ``json_extract_scalar`` on objects. A function Spark has no equivalent for is refused
with an error naming it at its position in the query: a wrong answer is worse than an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.schema import MappingSchema

from loglake.errors import SqlError
from loglake.query import types as T
from loglake.query.frontend import DIALECT, parse, qualify_tree, referenced_tables
from loglake.scaleout.naming import spark_name

Rewrite = Callable[[Any], exp.Expression]

_INTEGERS = {
    exp.DataType.Type.TINYINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
}

#: Trino functions Spark cannot answer the same way, with what to do instead
REFUSED: dict[str, str] = {
    "json_format": "Spark has no JSON type to format",
    "json_parse": "Spark has no JSON type to parse into",
    "typeof": "Spark names its types differently",
    "is_subnet_of": "Spark has no IP address types",
    "ip_prefix": "Spark has no IP address types",
    "url_extract_port": "Spark's parse_url has no port part",
    "parse_datetime": "Joda patterns differ from Spark's in corner cases; use date_parse",
}

#: types Spark has no counterpart for
_REFUSED_TYPES = {"IPADDRESS", "IPPREFIX", "JSON", "HYPERLOGLOG", "P4HYPERLOGLOG", "TDIGEST"}


def _fail(node: exp.Expression, sql: str, message: str, word: str | None = None) -> SqlError:
    """An error at the first ``word`` of the query when given (sqlglot keeps no position for type
    names and UNNEST), else at ``node``."""
    found = re.search(rf"\b{re.escape(word)}\b", sql, re.IGNORECASE) if word else None
    start, end = found.span() if found else _span(node)
    return SqlError(message, sql, start, end)


def _span(node: exp.Expression) -> tuple[int | None, int | None]:
    for candidate in (node, *node.find_all(exp.Identifier, exp.Literal)):
        meta = candidate.meta
        if "start" in meta and "end" in meta:
            return meta["start"], meta["end"] + 1
    return None, None


def _is_integer(node: exp.Expr) -> bool:
    return node.type is not None and node.type.this in _INTEGERS


def _is_date(node: exp.Expr) -> bool:
    return node.type is not None and node.type.this == exp.DataType.Type.DATE


def _call(name: str, *args: exp.Expression) -> exp.Expression:
    return exp.Anonymous(this=name, expressions=list(args))


def _int_division(node: exp.Div) -> exp.Expression:
    """Trino divides integers as integers (truncating); Spark's ``/`` gives a double."""
    if _is_integer(node.left) and _is_integer(node.right):
        return exp.IntDiv(this=node.left, expression=node.right)
    return node


def _decimal_cast(node: exp.Cast) -> exp.Expression:
    """A bare DECIMAL is Trino's decimal(38, 0) but Spark's decimal(10, 0); ``DECIMAL '0.06'``
    takes its precision and scale from the literal (Spark's bare DECIMAL would round it to 0)."""
    target = node.to
    if target.this != exp.DataType.Type.DECIMAL or target.expressions:
        return node
    precision, scale = 38, 0
    if isinstance(node.this, exp.Literal) and node.this.is_string:
        whole, _, fraction = node.this.this.strip().lstrip("+-").partition(".")
        scale = len(fraction)
        precision = max(1, len(whole.lstrip("0")) + scale, scale)
    sized = exp.DataType.build(f"DECIMAL({precision}, {scale})")
    return type(node)(this=node.this, to=sized)


def _unit(node: exp.Expression) -> str:
    unit = node.args.get("unit")
    return (unit.name if unit is not None else "day").lower()


def _date_add(node: exp.DateAdd) -> exp.Expression:
    """``date_add(unit, n, x)``: a DATE stays a DATE for calendar units, anything else is a
    timestamp moved by ``timestampadd`` (sqlglot's Spark DATE_ADD drops the unit)."""
    unit, amount, value = _unit(node), node.expression, node.this
    if _is_date(value) and unit in ("day", "week", "month", "quarter", "year"):
        months = {"month": 1, "quarter": 3, "year": 12}
        if unit in months:
            factor = exp.Mul(this=amount, expression=exp.Literal.number(months[unit]))
            return _call("ADD_MONTHS", value, factor if months[unit] != 1 else amount)
        days = amount if unit == "day" else exp.Mul(this=amount, expression=exp.Literal.number(7))
        return _call("DATE_ADD", value, days)
    return _call("TIMESTAMPADD", exp.var(unit.upper()), amount, value)


def _unix_seconds(node: exp.TimeToUnix) -> exp.Expression:
    """``to_unixtime`` is a double with the fraction of the second (Spark's UNIX_TIMESTAMP is a
    whole number)."""
    return exp.Div(this=_call("UNIX_MICROS", node.this), expression=exp.Literal.number("1000000.0"))


def _from_unixtime(node: exp.UnixToTime) -> exp.Expression:
    if node.args.get("zone") or node.args.get("format") or node.args.get("hours"):
        raise ValueError("from_unixtime with a time zone")
    return _call("TIMESTAMP_SECONDS", node.this)


def _json_scalar(node: exp.JSONExtractScalar) -> exp.Expression:
    """Trino gives NULL for a member that is an object or an array; Spark gives its text."""
    member = _call("GET_JSON_OBJECT", node.this, node.expression)
    scalar = exp.and_(
        exp.Is(this=_call("JSON_OBJECT_KEYS", member.copy()), expression=exp.Null()),
        exp.Is(this=_call("JSON_ARRAY_LENGTH", member.copy()), expression=exp.Null()),
    )
    return exp.Case(ifs=[exp.If(this=scalar, true=member)])


def _json_member(node: exp.JSONExtract) -> exp.Expression:
    """``json_extract`` is the member's JSON text (a string keeps its quotes, a JSON null is
    ``null``); Spark's VARIANT gives the same text, with object keys in its own order."""
    if node.expressions:
        raise ValueError("json_extract with several paths")
    parsed = _call("TRY_PARSE_JSON", node.this)
    return _call("TO_JSON", _call("VARIANT_GET", parsed, node.expression))


def _array_agg(node: exp.ArrayAgg) -> exp.Expression:
    """Trino keeps NULL elements (Spark's collect_list drops them): collect one-field structs."""
    if isinstance(node.this, exp.Order):
        raise ValueError("array_agg with ORDER BY")
    wrapped = _call("NAMED_STRUCT", exp.Literal.string("v"), node.this)
    element = exp.to_identifier("e")
    return _call(
        "TRANSFORM",
        _call("COLLECT_LIST", wrapped),
        exp.Lambda(
            this=exp.Dot(this=exp.column(element), expression=exp.to_identifier("v")),
            expressions=[element],
        ),
    )


def _url_part(part: str) -> Rewrite:
    def rewrite(node: exp.Anonymous) -> exp.Expression:
        return _call("TRY_PARSE_URL", node.expressions[0], exp.Literal.string(part))

    return rewrite


def _url_parameter(node: exp.Anonymous) -> exp.Expression:
    url, name = node.expressions
    return _call("TRY_PARSE_URL", url, exp.Literal.string("QUERY"), name)


def _array_predicate(spark: str, negate: bool = False) -> Rewrite:
    def rewrite(node: exp.Anonymous) -> exp.Expression:
        call = _call(spark, *node.expressions)
        return exp.Not(this=call) if negate else call

    return rewrite


def _pseudo_path(node: exp.Column) -> exp.Expression:
    return _call("INPUT_FILE_NAME") if node.name == "$path" else node


#: rewrites by sqlglot expression class
BY_CLASS: dict[type[exp.Expression], Rewrite] = {
    exp.Div: _int_division,
    exp.Cast: _decimal_cast,
    exp.TryCast: _decimal_cast,
    exp.DateAdd: _date_add,
    exp.TimeToUnix: _unix_seconds,
    exp.UnixToTime: _from_unixtime,
    exp.JSONExtractScalar: _json_scalar,
    exp.JSONExtract: _json_member,
    exp.ArrayAgg: _array_agg,
    exp.Column: _pseudo_path,
}

#: rewrites of functions sqlglot passes through by name (lower-case Trino names)
BY_NAME: dict[str, Rewrite] = {
    "url_extract_host": _url_part("HOST"),
    "url_extract_path": _url_part("PATH"),
    "url_extract_query": _url_part("QUERY"),
    "url_extract_protocol": _url_part("PROTOCOL"),
    "url_extract_fragment": _url_part("REF"),
    "url_extract_parameter": _url_parameter,
    "any_match": _array_predicate("EXISTS"),
    "all_match": _array_predicate("FORALL"),
    "none_match": _array_predicate("EXISTS", negate=True),
}


def to_spark_sql(
    engine: Any,
    sql: str,
    params: list[Any] | tuple[Any, ...] | None = None,
    function_exists: Callable[[str], bool] | None = None,
) -> str:
    """The Spark SQL for one Athena query over the lake ``engine`` answers from.

    Tables and views become the session's temporary views (see :mod:`naming`); a function the
    session lacks (``function_exists``) is refused before Spark sees the query.
    """
    tree = parse(sql, params)
    if not isinstance(tree, exp.Query):
        raise _fail(tree, sql, "only queries (SELECT, WITH, VALUES) run on Spark")
    resolve = getattr(engine.tables, "resolve", None)
    qualified = qualify_tree(tree, sql, engine.default_database, engine.tables.schema, resolve)
    annotate_types(qualified, schema=_schema(engine, qualified), dialect=DIALECT)
    _refuse_types(qualified, sql)
    for table in referenced_tables(qualified):
        database = (table.db or engine.default_database).lower()
        view = exp.to_identifier(spark_name(database, table.name.lower()))
        alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier(table.name))
        table.replace(exp.Table(this=view, alias=alias))
    translated = qualified.transform(lambda node: _rewrite(node, sql), copy=False)
    if function_exists is not None:
        _refuse_unknown_functions(translated, sql, function_exists)
    return translated.sql("spark")


def _schema(engine: Any, tree: exp.Expression) -> MappingSchema:
    mapping: dict[str, dict[str, dict[str, str]]] = {}
    for table in referenced_tables(tree):
        database = (table.db or engine.default_database).lower()
        name = table.name.lower()
        schema = engine.tables.schema(database, name)
        mapping.setdefault(database, {})[name] = {
            f'"{c.lower()}"': T.schema_type_string(t) for c, t in schema.items()
        }
    tables: dict[str, object] = {**mapping}  # MappingSchema takes any nesting
    return MappingSchema(tables, dialect=DIALECT)


def _rewrite(node: exp.Expression, sql: str) -> exp.Expression:
    rewrite = BY_CLASS.get(type(node))
    if rewrite is None and isinstance(node, exp.Anonymous):
        name = node.name.lower()
        if name in REFUSED:
            raise _fail(node, sql, f"{name} cannot run on Spark: {REFUSED[name]}")
        rewrite = BY_NAME.get(name)
    elif rewrite is None:
        name = (node.sql_name() if isinstance(node, exp.Func) else "").lower()
        if name in REFUSED:
            raise _fail(node, sql, f"{name} cannot run on Spark: {REFUSED[name]}")
    if rewrite is None:
        return node
    try:
        return rewrite(node)
    except ValueError as err:
        raise _fail(node, sql, f"{err} cannot run on Spark") from None


def _refuse_types(tree: exp.Expression, sql: str) -> None:
    for unnest in tree.find_all(exp.Unnest):
        if unnest.args.get("offset"):
            message = "UNNEST ... WITH ORDINALITY cannot run on Spark yet"
            raise _fail(unnest, sql, message, word="UNNEST")
    for data_type in tree.find_all(exp.DataType):
        text = data_type.sql(DIALECT).upper()
        refused = next((t for t in _REFUSED_TYPES if t in text), None)
        if refused is not None:
            message = f"type {text} cannot run on Spark: Spark has no such type"
            raise _fail(data_type, sql, message, word=refused)


def _refuse_unknown_functions(
    tree: exp.Expression, sql: str, function_exists: Callable[[str], bool]
) -> None:
    for node in tree.find_all(exp.Anonymous):
        if not function_exists(node.name):
            raise _fail(node, sql, f"function {node.name.lower()} has no counterpart in Spark")
