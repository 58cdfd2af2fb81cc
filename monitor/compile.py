"""Compile a parsed filter pattern to one Polars expression.

Two kinds of source:

* `MessageSource(column)`: each row holds one raw log event as text (CloudWatch Logs events). JSON
  selectors become JSONPath look-ups on the text; JSON types are told apart with JSONPath filters
  (`$[?(@['k'] >= "")]` only matches strings, and so on), so `"5"` and `5`, `null` and a missing key
  are distinguished without decoding rows in Python.
* `TableSource(schema)`: rows of a table whose columns are the event's fields (the CloudTrail
  table). `$.eventName` reads column `eventname`, `$.userIdentity.type` the struct field, and a path
  that continues into a string column (`requestparameters`, `responseelements`, ...) is looked up in
  that column's JSON text. Column names match case-insensitively, JSON keys inside text exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl
from polars.datatypes import DataTypeClass

from loglake.monitor.pattern import (
    And,
    Comparison,
    FieldAnd,
    FieldCondition,
    FieldExpr,
    FieldOr,
    FilterPatternError,
    IsCheck,
    JsonExpr,
    JsonPattern,
    Number,
    Or,
    Pattern,
    Regex,
    Segment,
    Selector,
    SpacePattern,
    TermPattern,
    Text,
    parse_pattern,
)

# A space-delimited pattern without `...` and with fewer fields than the event: the current AWS
# page reads as if the last field takes the rest of the line; an older page as if the event must
# have exactly as many fields. One switch, documented in docs/monitor.md.
LAST_FIELD_TAKES_REST = True

_TOKEN_RE = r'\[[^\]]*\]|"[^"]*"|[^ ]+'


@dataclass(frozen=True)
class MessageSource:
    """Events are raw text in one column."""

    column: str = "message"


@dataclass(frozen=True)
class TableSource:
    """Events are rows; `schema` maps column names to Polars dtypes."""

    schema: Mapping[str, pl.DataType]


Source = MessageSource | TableSource

_FALSE = pl.lit(False)
_TRUE = pl.lit(True)


def _cmp(left: pl.Expr, op: str, right) -> pl.Expr:
    if op == "=":
        return left == right
    if op == "!=":
        return left != right
    if op == "<":
        return left < right
    if op == "<=":
        return left <= right
    if op == ">":
        return left > right
    return left >= right


def _text_match(text: pl.Expr, value: Text | Regex) -> pl.Expr:
    """Does a string value match `value` (exact, `*` wildcard at the ends, or a regex search)?"""
    if isinstance(value, Regex):
        return text.str.contains(value.rust)
    t = value.text
    if t == "*":
        return text.is_not_null()
    if len(t) >= 2 and t.startswith("*") and t.endswith("*"):
        return text.str.contains(t[1:-1], literal=True)
    if t.startswith("*"):
        return text.str.ends_with(t[1:])
    if t.endswith("*"):
        return text.str.starts_with(t[:-1])
    return text == t


def _number_literal(n: float) -> str:
    return repr(float(n))


# ---------------------------------------------------------------------------------------------
# Accessors: how to read the value a selector reaches


class _Accessor:
    def compare(self, op: str, value) -> pl.Expr:
        raise NotImplementedError

    def check(self, what: str) -> pl.Expr:
        raise NotImplementedError

    def value_text(self) -> pl.Expr:
        raise NotImplementedError


class _Missing(_Accessor):
    """A selector that reaches nothing in this table (e.g. a column it does not have)."""

    def compare(self, op, value):
        return _FALSE

    def check(self, what):
        return _TRUE if what == "NOT EXISTS" else _FALSE

    def value_text(self):
        return pl.lit(None, dtype=pl.String)


def _jsonpath(segments: tuple[Segment, ...] | list[Segment]) -> str:
    out = "$"
    for seg in segments:
        if seg.kind == "key":
            key = str(seg.key)
            if "'" in key:
                raise ValueError("quote in key")
            out += f"['{key}']"
        elif seg.kind == "index":
            out += f"[{seg.key}]"
    return out


#: JSONPath filters compare at most this many keys below the node they test (deeper paths inside a
#: filter never match), so longer key chains are walked to the parent before filtering.
_FILTER_KEYS = 2


def _typed_filter(
    text: pl.Expr, container: tuple[Segment, ...], keys: tuple[Segment, ...], condition: str
) -> pl.Expr:
    """``container`` followed by property ``keys`` reaches a value passing ``condition``.

    A filter on an object tests the object itself, but a filter on an array tests its
    elements; CloudWatch does not look into an array without ``[n]`` or ``[*]``, so the
    filtered node must be an object.
    """
    base = tuple(container) + tuple(keys[:-_FILTER_KEYS])
    inside = "".join(f"['{k.key}']" for k in keys[-_FILTER_KEYS:])
    matched = text.str.json_path_match(f"{_jsonpath(base)}[?(@{inside}{condition})]").is_not_null()
    if base:
        return matched & text.str.json_path_match(_jsonpath(base)).str.starts_with("{")
    return matched & _starts_with(text, "{")


def _starts_with(text: pl.Expr, opener: str) -> pl.Expr:
    return text.str.strip_chars_start().str.starts_with(opener)


class _JsonText(_Accessor):
    """A path into JSON text held by `text`: a whole event (a message), or the value of one
    field of the event (a JSON string column such as requestparameters, which may also hold
    an array; a NULL there is a field the event does not have)."""

    def __init__(
        self,
        text: pl.Expr,
        segments: tuple[Segment, ...],
        selector: Selector | None,
        whole_event: bool = True,
    ):
        self.text = text
        self.segments = segments
        self.selector = selector
        self.whole_event = whole_event
        # A message that is not a JSON object never matches; a field may be an object or array.
        self.is_object = _starts_with(text, "{")
        if not whole_event:
            self.is_object = self.is_object | _starts_with(text, "[")
        last_index = max(
            (i for i, s in enumerate(segments) if s.kind != "key"),
            default=-1,
        )
        self.container = segments[: last_index + 1]
        self.keys = segments[last_index + 1 :]
        try:
            self.path = _jsonpath(segments)
            self.container_path = _jsonpath(self.container)
        except ValueError:
            raise FilterPatternError(
                "A key containing a quote cannot be selected",
                None if selector is None else selector.text,
            ) from None

    def _filter(self, condition: str) -> pl.Expr:
        """Whether the value at the selector passes a JSONPath filter ``condition`` (which also
        tells its JSON type: ``>= ""`` holds only for strings, and so on)."""
        return _typed_filter(self.text, self.container, self.keys, condition) & self.is_object

    def value_text(self) -> pl.Expr:
        return pl.when(self.is_object).then(self.text.str.json_path_match(self.path))

    def exists(self) -> pl.Expr:
        if self.keys:
            return self._filter("")
        return self.value_text().is_not_null()

    def is_string(self) -> pl.Expr:
        if self.keys:
            return self._filter(' >= ""')
        return self.value_text().is_not_null() & ~self.value_text().str.contains(r"^[\[{]")

    def is_number(self) -> pl.Expr:
        if self.keys:
            return self._filter(" >= -1e308")
        return self.value_text().cast(pl.Float64, strict=False).is_not_null()

    def is_container(self) -> pl.Expr:
        vt = self.value_text()
        return vt.str.contains(r"^[\[{]") & ~self.is_string()

    def _scalar(self) -> pl.Expr:
        """A string, number or boolean is there (JSON null, a missing key or a container: not)."""
        return self.value_text().is_not_null() & ~self.is_container()

    def compare(self, op: str, value) -> pl.Expr:
        # `!=` needs a non-null value node (string, number, boolean): a missing key, a JSON null,
        # an array or an object never matches `!=`, as none matches `=`.
        if isinstance(value, Number):
            if self.keys:
                json_op = "==" if op == "=" else op
                if op == "!=":
                    return self._scalar() & ~self._filter(f" == {_number_literal(value.value)}")
                return self._filter(f" {json_op} {_number_literal(value.value)}")
            num = self.value_text().cast(pl.Float64, strict=False)
            if op == "!=":
                return self._scalar() & (num != value.value).fill_null(True)
            return _cmp(num, op, value.value).fill_null(False)
        if isinstance(value, Text) and value.text == "*":
            matched = self._scalar()
        elif isinstance(value, Text) and not value.is_wildcard:
            if self.keys and not any(c in value.text for c in '"\\'):
                # one typed JSONPath test: equal and a string
                matched = self._filter(f' == "{value.text}"')
            else:
                matched = self.is_string() & (self.value_text() == value.text)
            if not value.quoted and value.text in ("true", "false"):
                matched = matched | self._filter(f" == {value.text}")
        else:
            scalar = self.is_string() | self.is_number()
            matched = scalar & _text_match(self.value_text(), value).fill_null(False)
        if op == "=":
            return matched
        if op == "!=":
            return self._scalar() & ~matched
        raise FilterPatternError(
            f"Operator {op} needs a number",
            None if self.selector is None else self.selector.text,
        )

    def check(self, what: str) -> pl.Expr:
        if what == "NOT EXISTS":
            valid = self.text.str.json_path_match("$").is_not_null()
            absent = self.is_object & valid & ~self.exists()
            return absent if self.whole_event else self.text.is_null() | absent
        if what == "NULL":
            return self.exists() & self.value_text().is_null()
        literal = "true" if what == "TRUE" else "false"
        if self.keys:
            return self._filter(f" == {literal}")
        return self.value_text() == literal


class _JsonWildcard(_Accessor):
    """`[*]` / `.*` inside JSON text: true when any selected value satisfies the test."""

    _STRINGS = r'"(?:[^"\\]|\\.)*"[,\]\}]'
    _NUMBERS = r"[:\[,]-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?"

    def __init__(
        self,
        text: pl.Expr,
        segments: tuple[Segment, ...],
        selector: Selector,
        whole_event: bool = True,
    ):
        w = next(i for i, s in enumerate(segments) if s.kind in ("any_index", "any_key"))
        self.selector = selector
        self.prefix = segments[:w]
        self.suffix = segments[w + 1 :]
        if any(s.kind != "key" for s in self.suffix):
            raise FilterPatternError(
                "Only property names may follow a wildcard in a selector",
                selector.text,
            )
        if segments[w].kind == "any_key" and self.suffix:
            raise FilterPatternError("A property wildcard .* must end the selector", selector.text)
        self.text = text
        self.is_object = _starts_with(text, "{")
        if not whole_event:
            self.is_object = self.is_object | _starts_with(text, "[")
        self.container = _JsonText(text, self.prefix, selector, whole_event).value_text()

    def _filter(self, condition: str) -> pl.Expr:
        """Some element's value at the keys after the wildcard passes ``condition``: each
        element is visited (``[*]``) and filtered on its last keys, after walking down to the
        object that holds them when more keys follow than a filter can compare."""
        walk = "".join(f"['{k.key}']" for k in self.suffix[:-_FILTER_KEYS])
        inside = "".join(f"['{k.key}']" for k in self.suffix[-_FILTER_KEYS:])
        path = f"{_jsonpath(self.prefix)}[*]{walk}[?(@{inside}{condition})]"
        return self.text.str.json_path_match(path).is_not_null() & self.is_object

    def _strings(self) -> pl.Expr:
        if self.suffix:
            key = self.suffix[-1].key
            return self.container.str.extract_all(rf'"{key}":"(?:[^"\\]|\\.)*"').list.eval(
                pl.element().str.replace(r'^"[^"]*":"(.*)"$', "${1}")
            )
        return self.container.str.extract_all(self._STRINGS).list.eval(
            pl.element().str.replace(r'^"(.*)"[,\]\}]$', "${1}")
        )

    def _numbers(self) -> pl.Expr:
        if self.suffix:
            key = self.suffix[-1].key
            return self.container.str.extract_all(
                rf'"{key}":-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?'
            ).list.eval(pl.element().str.replace(r"^.*:", "").cast(pl.Float64))
        # strings (keys included) are blanked first, so a number is any digits after ':', '['
        # or ','; the delimiter before the next number is not consumed by this one
        bare = self.container.str.replace_all(r'"(?:[^"\\]|\\.)*"', '""')
        return bare.str.extract_all(self._NUMBERS).list.eval(
            pl.element().str.slice(1).cast(pl.Float64)
        )

    def compare(self, op: str, value) -> pl.Expr:
        if op == "!=":
            raise FilterPatternError(
                "!= cannot be used with a wildcard selector", self.selector.text
            )
        if isinstance(value, Number):
            if self.suffix:
                json_op = "==" if op == "=" else op
                return self._filter(f" {json_op} {_number_literal(value.value)}")
            return (
                self._numbers()
                .list.eval(_cmp(pl.element(), op, value.value))
                .list.any()
                .fill_null(False)
            )
        if op != "=":
            raise FilterPatternError(f"Operator {op} needs a number", self.selector.text)
        if (
            self.suffix
            and isinstance(value, Text)
            and not value.is_wildcard
            and value.text != "*"
            and not any(c in value.text for c in '"\\')
        ):
            # exact text: one typed JSONPath test over the elements
            matched = self._filter(f' == "{value.text}"')
            if not value.quoted and value.text in ("true", "false"):
                matched = matched | self._filter(f" == {value.text}")
            return matched
        strings = self._strings().list.eval(_text_match(pl.element(), value)).list.any()
        result = strings.fill_null(False)
        if isinstance(value, Text | Regex):
            numbers = (
                self._numbers()
                .list.eval(
                    _text_match(pl.element().cast(pl.String).str.replace(r"\.0$", ""), value)
                )
                .list.any()
                .fill_null(False)
            )
            result = result | numbers
        return result & self.is_object

    def check(self, what: str) -> pl.Expr:
        if what == "NOT EXISTS":
            raise FilterPatternError(
                "NOT EXISTS cannot be used with a wildcard selector", self.selector.text
            )
        literal = {"TRUE": "true", "FALSE": "false", "NULL": "null"}[what]
        if self.suffix:
            key = self.suffix[-1].key
            return self.container.str.contains(rf'"{key}":{literal}[,\]\}}]').fill_null(False)
        return self.container.str.contains(rf"[:\[,]{literal}[,\]\}}]").fill_null(False)

    def value_text(self) -> pl.Expr:
        raise FilterPatternError(
            "A wildcard selector cannot be used as a metric value or dimension",
            self.selector.text,
        )


class _Column(_Accessor):
    """A typed column value (or a struct field, or a list element)."""

    def __init__(
        self, expr: pl.Expr, dtype: pl.DataType | DataTypeClass, selector: Selector | None
    ):
        self.expr = expr
        self.dtype = dtype
        self.selector = selector

    def _is_container(self) -> bool:
        return isinstance(self.dtype, pl.Struct | pl.List | pl.Array)

    def value_text(self) -> pl.Expr:
        if self._is_container():
            return pl.lit(None, dtype=pl.String)
        if isinstance(self.dtype, pl.Boolean):
            return pl.when(self.expr).then(pl.lit("true")).when(~self.expr).then(pl.lit("false"))
        return self.expr.cast(pl.String)

    def compare(self, op: str, value) -> pl.Expr:
        if self._is_container():
            return _FALSE
        if isinstance(value, Number):
            num = self.expr.cast(pl.Float64, strict=False)
            if op == "!=":
                return self.expr.is_not_null() & (num != value.value).fill_null(True)
            return _cmp(num, op, value.value).fill_null(False)
        if op not in ("=", "!="):
            raise FilterPatternError(
                f"Operator {op} needs a number",
                None if self.selector is None else self.selector.text,
            )
        matched = _text_match(self.value_text(), value).fill_null(False)
        if op == "=":
            return matched
        return self.expr.is_not_null() & ~matched

    def check(self, what: str) -> pl.Expr:
        if what in ("NOT EXISTS", "NULL"):
            return self.expr.is_null()
        literal = what == "TRUE"
        if isinstance(self.dtype, pl.Boolean):
            return (self.expr == literal).fill_null(False)
        if isinstance(self.dtype, pl.String):
            return (self.expr == ("true" if literal else "false")).fill_null(False)
        return _FALSE


class _ListAny(_Accessor):
    """`[*]` over a list column: the test applied to each element, any one suffices."""

    def __init__(self, expr: pl.Expr, inner: _Accessor):
        self.expr = expr
        self.inner = inner

    def compare(self, op, value):
        return self.expr.list.eval(self.inner.compare(op, value)).list.any().fill_null(False)

    def check(self, what):
        if what == "NOT EXISTS":
            return self.expr.list.eval(self.inner.check(what)).list.all().fill_null(True)
        return self.expr.list.eval(self.inner.check(what)).list.any().fill_null(False)

    def value_text(self):
        return self.expr.list.eval(self.inner.value_text()).list.first()


def _lookup(names: Mapping[str, object], key: str) -> str | None:
    if key in names:
        return key
    lower = key.lower()
    for name in names:
        if name.lower() == lower:
            return name
    return None


def _column_accessor(
    expr: pl.Expr,
    dtype: pl.DataType | DataTypeClass,
    segments: tuple[Segment, ...],
    selector: Selector,
) -> _Accessor:
    for i, seg in enumerate(segments):
        if isinstance(dtype, pl.Struct):
            if seg.kind != "key":
                return _Missing()
            fields = {f.name: f.dtype for f in dtype.fields}
            name = _lookup(fields, str(seg.key))
            if name is None:
                return _Missing()
            expr, dtype = expr.struct.field(name), fields[name]
        elif isinstance(dtype, pl.List | pl.Array):
            if seg.kind == "index" and isinstance(seg.key, int):
                expr = expr.list.get(seg.key, null_on_oob=True)
                dtype = dtype.inner
            elif seg.kind == "any_index":
                inner = _column_accessor(pl.element(), dtype.inner, segments[i + 1 :], selector)
                return _ListAny(expr, inner)
            else:
                return _Missing()
        elif isinstance(dtype, pl.String):
            rest = segments[i:]
            if any(s.kind in ("any_index", "any_key") for s in rest):
                return _JsonWildcard(expr, rest, selector, whole_event=False)
            return _JsonText(expr, rest, selector, whole_event=False)
        else:
            return _Missing()
    return _Column(expr, dtype, selector)


def selector_accessor(selector: Selector, source: Source) -> _Accessor:
    segments = selector.segments
    if isinstance(source, MessageSource):
        text = pl.col(source.column)
        if selector.wildcards:
            return _JsonWildcard(text, segments, selector)
        return _JsonText(text, segments, selector)
    first = segments[0]
    if first.kind != "key":
        return _Missing()
    name = _lookup(source.schema, str(first.key))
    if name is None:
        return _Missing()
    return _column_accessor(pl.col(name), source.schema[name], segments[1:], selector)


# ---------------------------------------------------------------------------------------------
# Compilers per pattern family


def _compile_terms(pattern: TermPattern, source: Source) -> pl.Expr:
    if pattern.match_all:
        return _TRUE
    text = _message(source)

    def has(value: Text | Regex) -> pl.Expr:
        if isinstance(value, Regex):
            return text.str.contains(value.rust)
        return text.str.contains(value.text, literal=True)

    required = [has(t.value) for t in pattern.terms if t.kind == "required"]
    excluded = [~has(t.value) for t in pattern.terms if t.kind == "excluded"]
    optional = [has(t.value) for t in pattern.terms if t.kind == "optional"]
    if required or excluded:
        expr = pl.all_horizontal(required + excluded)
    else:
        expr = pl.any_horizontal(optional)
    return expr.fill_null(False)


def _compile_json(expr: JsonExpr, source: Source) -> pl.Expr:
    if isinstance(expr, And):
        return pl.all_horizontal([_compile_json(e, source) for e in expr.items])
    if isinstance(expr, Or):
        return _compile_or(expr, source)
    if isinstance(expr, IsCheck):
        return selector_accessor(expr.selector, source).check(expr.what).fill_null(False)
    assert isinstance(expr, Comparison)
    return selector_accessor(expr.selector, source).compare(expr.op, expr.value).fill_null(False)


def _compile_or(expr: Or, source: Source) -> pl.Expr:
    """`||` of exact string equalities on one selector (the CIS shape) becomes one `is_in`."""
    groups: dict[str, list[str]] = {}
    selectors: dict[str, Selector] = {}
    others: list[pl.Expr] = []
    for item in expr.items:
        if (
            isinstance(item, Comparison)
            and item.op == "="
            and isinstance(item.value, Text)
            and not item.value.is_wildcard
            and item.value.text not in ("true", "false")
            and not item.selector.wildcards
        ):
            key = "/".join(f"{s.kind}:{s.key}" for s in item.selector.segments)
            groups.setdefault(key, []).append(item.value.text)
            selectors[key] = item.selector
        else:
            others.append(_compile_json(item, source))
    for key, values in groups.items():
        acc = selector_accessor(selectors[key], source)
        if len(values) == 1:
            others.append(acc.compare("=", Text(values[0])).fill_null(False))
            continue
        if isinstance(acc, _JsonText):
            others.append(acc.is_string() & acc.value_text().is_in(values).fill_null(False))
        elif isinstance(acc, _Column) and not acc._is_container():
            others.append(acc.value_text().is_in(values).fill_null(False))
        else:
            others.extend(acc.compare("=", Text(v)).fill_null(False) for v in values)
    return pl.any_horizontal(others)


def _message(source: Source) -> pl.Expr:
    if isinstance(source, MessageSource):
        return pl.col(source.column)
    raise FilterPatternError("Term and space-delimited patterns need a table with a message column")


def space_tokens(source: Source) -> pl.Expr:
    """The message split into space-delimited fields ([...] and "..." kept as one, unwrapped)."""
    return (
        _message(source)
        .str.extract_all(_TOKEN_RE)
        .list.eval(pl.element().str.replace(r"^\[(.*)\]$", "${1}").str.replace(r'^"(.*)"$', "${1}"))
    )


@dataclass(frozen=True)
class _Layout:
    before: tuple[int, ...]  # field indexes anchored at the start
    after: tuple[int, ...]  # field indexes anchored at the end
    ellipsis: bool


def space_layout(pattern: SpacePattern) -> _Layout:
    """The pattern's fields before and after its one ``...`` (a pattern may have only one)."""
    idx = [i for i, f in enumerate(pattern.fields) if f.ellipsis]
    if len(idx) > 1:
        raise FilterPatternError("Only one ... is supported in a space-delimited pattern")
    if not idx:
        return _Layout(tuple(range(len(pattern.fields))), (), False)
    e = idx[0]
    return _Layout(tuple(range(e)), tuple(range(e + 1, len(pattern.fields))), True)


def space_field_exprs(pattern: SpacePattern, source: Source) -> tuple[pl.Expr, dict[int, pl.Expr]]:
    """The match-shape condition and, per field index, the expression for that field's text."""
    tokens = space_tokens(source)
    n = tokens.list.len()
    lay = space_layout(pattern)
    fields: dict[int, pl.Expr] = {}
    k = len(lay.before) + len(lay.after)
    if not pattern.fields:
        return _TRUE, fields
    if not lay.ellipsis:
        last = len(pattern.fields) - 1
        for i in lay.before[:-1]:
            fields[i] = tokens.list.get(i, null_on_oob=True)
        if LAST_FIELD_TAKES_REST:
            fields[last] = tokens.list.slice(last).list.join(" ")
            shape = n >= k
        else:
            fields[last] = tokens.list.get(last, null_on_oob=True)
            shape = n == k
        return shape, fields
    for i in lay.before:
        fields[i] = tokens.list.get(i, null_on_oob=True)
    for j, i in enumerate(lay.after):
        fields[i] = tokens.list.get(j - len(lay.after), null_on_oob=True)
    return n >= k, fields


def _field_condition(cond: FieldExpr, text: pl.Expr) -> pl.Expr:
    if isinstance(cond, FieldAnd):
        return pl.all_horizontal([_field_condition(c, text) for c in cond.items])
    if isinstance(cond, FieldOr):
        return pl.any_horizontal([_field_condition(c, text) for c in cond.items])
    assert isinstance(cond, FieldCondition)
    if isinstance(cond.value, Number):
        num = text.cast(pl.Float64, strict=False)
        if cond.op == "!=":
            return (num != cond.value.value).fill_null(True)
        return _cmp(num, cond.op, cond.value.value).fill_null(False)
    if cond.op not in ("=", "!="):
        raise FilterPatternError(f"Operator {cond.op} needs a number")
    matched = _text_match(text, cond.value).fill_null(False)
    return matched if cond.op == "=" else ~matched


def _compile_space(pattern: SpacePattern, source: Source) -> pl.Expr:
    shape, fields = space_field_exprs(pattern, source)
    conds = [shape]
    for i, spec in enumerate(pattern.fields):
        if spec.condition is not None:
            conds.append(_field_condition(spec.condition, fields[i]))
    return pl.all_horizontal(conds).fill_null(False)


def compile_pattern(pattern: Pattern | str, source: Source | None = None) -> pl.Expr:
    """One boolean Polars expression that is true for the events the pattern matches."""
    if isinstance(pattern, str):
        pattern = parse_pattern(pattern)
    source = source or MessageSource()
    if isinstance(pattern, TermPattern):
        return _compile_terms(pattern, source)
    if isinstance(pattern, JsonPattern):
        return _compile_json(pattern.expr, source)
    return _compile_space(pattern, source)


def _is_cheap(accessor: _Accessor) -> bool:
    if isinstance(accessor, _ListAny):
        return _is_cheap(accessor.inner)
    return isinstance(accessor, _Column | _Missing)


def _all_cheap(expr: JsonExpr, source: Source) -> bool:
    if isinstance(expr, And | Or):
        return all(_all_cheap(e, source) for e in expr.items)
    return _is_cheap(selector_accessor(expr.selector, source))


def _necessary(expr: JsonExpr, source: Source) -> pl.Expr | None:
    """A cheap condition every match satisfies (None: no cheap test exists)."""
    if _all_cheap(expr, source):
        return _compile_json(expr, source)
    if isinstance(expr, And):
        parts = [p for p in (_necessary(e, source) for e in expr.items) if p is not None]
        return pl.all_horizontal(parts) if parts else None
    if isinstance(expr, Or):
        alternatives = [_necessary(e, source) for e in expr.items]
        present = [p for p in alternatives if p is not None]
        if len(present) < len(alternatives):
            return None
        return pl.any_horizontal(present)
    if not _is_cheap(selector_accessor(expr.selector, source)):
        return None
    return _compile_json(expr, source)


def prefilter(pattern: Pattern | str, source: Source) -> pl.Expr | None:
    """A condition on plain columns that every event the pattern matches satisfies.

    On a table, the JSON look-ups into text columns cost far more than column comparisons; a
    caller evaluates this first and runs the full pattern only on the rows that pass it.
    """
    if isinstance(pattern, str):
        pattern = parse_pattern(pattern)
    if isinstance(pattern, JsonPattern) and isinstance(source, TableSource):
        return _necessary(pattern.expr, source)
    return None


def only_columns(pattern: Pattern | str, source: Source) -> bool:
    """True when the pattern reads plain columns only (its prefilter is the whole test)."""
    if isinstance(pattern, str):
        pattern = parse_pattern(pattern)
    return (
        isinstance(pattern, JsonPattern)
        and isinstance(source, TableSource)
        and _all_cheap(pattern.expr, source)
    )


def reference_expr(pattern: Pattern, ref: str, source: Source) -> pl.Expr:
    """The text an event holds for `$.path`, `$name` or `$N` (metric values and dimensions)."""
    ref = ref.strip()
    if ref.startswith("$.") or ref.startswith("$["):
        from loglake.monitor.pattern import Parser

        p = Parser(ref)
        sel = p.parse_selector()
        if p.pos != len(ref):
            raise FilterPatternError("Invalid selector", ref, p.pos)
        return selector_accessor(sel, source).value_text()
    if not ref.startswith("$") or len(ref) < 2:
        raise FilterPatternError("A reference must look like $.path, $name or $N", ref, 0)
    if not isinstance(pattern, SpacePattern):
        raise FilterPatternError(
            f"{ref} refers to a space-delimited field but the pattern is not space-delimited",
            ref,
            0,
        )
    name = ref[1:]
    _, fields = space_field_exprs(pattern, source)
    for i, spec in enumerate(pattern.fields):
        if spec.name == name:
            return fields[i]
    if name.isdigit():
        pos = int(name) - 1
        return space_tokens(source).list.get(pos, null_on_oob=True)
    raise FilterPatternError(f"The pattern has no field named {name!r}", ref, 0)
