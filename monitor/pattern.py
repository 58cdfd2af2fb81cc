"""The CloudWatch Logs filter-pattern language: tokeniser, parser and syntax tree.

A pattern is parsed once into the small tree below; `loglake.monitor.compile` turns the tree into
one Polars expression. Errors carry the position of the offending text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from loglake.errors import SqlError

MAX_PATTERN_LENGTH = 1024
MAX_REGEX_PER_PATTERN = 2
MAX_WILDCARD_SELECTORS = 3


class FilterPatternError(SqlError):
    """An invalid filter pattern; the message shows the pattern with the bad part underlined."""


# ---------------------------------------------------------------------------------------------
# Syntax tree


@dataclass(frozen=True)
class Regex:
    """A `%...%` regular expression, kept as written and as the equivalent Rust regex."""

    source: str
    rust: str


@dataclass(frozen=True)
class Text:
    """A string value; `*` at the start and/or end are wildcards (a lone `*` = any value)."""

    text: str
    quoted: bool = False

    @property
    def is_wildcard(self) -> bool:
        return "*" in (self.text[:1], self.text[-1:])


@dataclass(frozen=True)
class Number:
    value: float
    source: str


Value = Regex | Text | Number


@dataclass(frozen=True)
class Term:
    kind: str  # "required" | "optional" | "excluded"
    value: Text | Regex
    start: int


@dataclass(frozen=True)
class TermPattern:
    terms: tuple[Term, ...]

    @property
    def match_all(self) -> bool:
        return not self.terms


@dataclass(frozen=True)
class Segment:
    kind: str  # "key" | "index" | "any_index" | "any_key"
    key: str | int | None = None


@dataclass(frozen=True)
class Selector:
    segments: tuple[Segment, ...]
    text: str
    start: int

    @property
    def wildcards(self) -> int:
        return sum(s.kind in ("any_index", "any_key") for s in self.segments)


@dataclass(frozen=True)
class Comparison:
    selector: Selector
    op: str  # = != < <= > >=
    value: Value


@dataclass(frozen=True)
class IsCheck:
    selector: Selector
    what: str  # "TRUE" | "FALSE" | "NULL" | "NOT EXISTS"


@dataclass(frozen=True)
class And:
    items: tuple[JsonExpr, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[JsonExpr, ...]


JsonExpr = Comparison | IsCheck | And | Or


@dataclass(frozen=True)
class JsonPattern:
    expr: JsonExpr


@dataclass(frozen=True)
class FieldCondition:
    op: str
    value: Value


@dataclass(frozen=True)
class FieldAnd:
    items: tuple[FieldExpr, ...]


@dataclass(frozen=True)
class FieldOr:
    items: tuple[FieldExpr, ...]


FieldExpr = FieldCondition | FieldAnd | FieldOr


@dataclass(frozen=True)
class FieldSpec:
    name: str | None  # None: an unnamed slot (trailing comma)
    condition: FieldExpr | None = None
    ellipsis: bool = False


@dataclass(frozen=True)
class SpacePattern:
    fields: tuple[FieldSpec, ...] = field(default_factory=tuple)


Pattern = TermPattern | JsonPattern | SpacePattern


# ---------------------------------------------------------------------------------------------
# Regular expressions


_REGEX_ALLOWED = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_REGEX_ALLOWED |= set(":_#=@/;,- ")  # documented symbols (space: used by a documented example)
_REGEX_ALLOWED |= set("^$?[]{}|\\*+.")  # documented operators
_CLASS_ESCAPES = {
    "d": ("0-9", "[0-9]"),
    "D": (None, "[^0-9]"),
    "w": ("a-zA-Z_0-9", "[a-zA-Z_0-9]"),
    "W": (None, "[^a-zA-Z_0-9]"),
    "s": ("\\t \\n", "[\\t \\n]"),
    "S": (None, "[^\\t \\n]"),
}


def compile_regex(source: str, pattern: str, start: int) -> Regex:
    """Check a `%...%` body against the documented subset and translate it to a Rust regex.

    `start` is the offset of the body in `pattern` (for error positions).
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(source):
        ch = source[i]
        pos = start + i
        if ch in "()":
            raise FilterPatternError(
                "Parentheses are not supported in filter-pattern regular expressions",
                pattern,
                pos,
                pos + 1,
            )
        if ord(ch) > 127:
            raise FilterPatternError(
                "Multi-byte characters are not supported in regular expressions", pattern, pos
            )
        if ch not in _REGEX_ALLOWED:
            raise FilterPatternError(
                f"Character {ch!r} is not supported in a filter-pattern regular expression "
                "(use \\xhh to match it)",
                pattern,
                pos,
                pos + 1,
            )
        if ch == "\\":
            if i + 1 >= len(source):
                raise FilterPatternError("Dangling backslash in regular expression", pattern, pos)
            nxt = source[i + 1]
            if nxt in _CLASS_ESCAPES:
                inner, whole = _CLASS_ESCAPES[nxt]
                if in_class:
                    if inner is None:
                        raise FilterPatternError(
                            f"\\{nxt} cannot be used inside [...]", pattern, pos, pos + 2
                        )
                    out.append(inner)
                else:
                    out.append(whole)
                i += 2
                continue
            if nxt == "x":
                hexpart = source[i + 2 : i + 4]
                if not re.fullmatch(r"[0-9A-Fa-f]{2}", hexpart):
                    raise FilterPatternError("\\x needs two hex digits", pattern, pos, pos + 4)
                out.append("\\x" + hexpart)
                i += 4
                continue
            out.append("\\" + nxt)
            i += 2
            continue
        if ch == "[" and not in_class:
            in_class = True
        elif ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    if in_class:
        raise FilterPatternError("Unclosed [ in regular expression", pattern, start + len(source))
    rust = "".join(out)
    try:
        re.compile(rust)
    except re.error as exc:
        raise FilterPatternError(
            f"Invalid regular expression: {exc.msg}", pattern, start + (exc.pos or 0)
        ) from None
    return Regex(source, rust)


# ---------------------------------------------------------------------------------------------
# Parser


class Parser:
    """Recursive-descent parser of filter patterns (also reads a lone ``$.`` selector)."""

    def __init__(self, pattern: str):
        self.src = pattern
        self.pos = 0
        self.regexes = 0
        self.wildcard_selectors = 0

    # helpers
    def error(self, message: str, start: int | None = None, end: int | None = None):
        start = self.pos if start is None else start
        return FilterPatternError(message, self.src, start, end)

    def skip_ws(self) -> None:
        while self.pos < len(self.src) and self.src[self.pos].isspace():
            self.pos += 1

    def peek(self, n: int = 1) -> str:
        return self.src[self.pos : self.pos + n]

    def at_end(self) -> bool:
        return self.pos >= len(self.src)

    def expect(self, text: str) -> None:
        self.skip_ws()
        if not self.src.startswith(text, self.pos):
            got = self.src[self.pos : self.pos + 1] or "end of pattern"
            raise self.error(f"Expected {text!r} but found {got!r}", self.pos, self.pos + 1)
        self.pos += len(text)

    def read_quoted(self) -> str:
        start = self.pos
        assert self.src[self.pos] == '"'
        self.pos += 1
        out: list[str] = []
        while self.pos < len(self.src):
            ch = self.src[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.src) and self.src[self.pos + 1] in '"\\':
                out.append(self.src[self.pos + 1])
                self.pos += 2
                continue
            if ch == '"':
                self.pos += 1
                return "".join(out)
            out.append(ch)
            self.pos += 1
        raise self.error("Unterminated quoted string", start, len(self.src))

    def read_regex(self) -> Regex:
        start = self.pos
        end = self.src.find("%", start + 1)
        if end == -1:
            raise self.error("Unterminated regular expression (missing closing %)", start)
        self.regexes += 1
        if self.regexes > MAX_REGEX_PER_PATTERN:
            raise self.error(
                f"A filter pattern may hold at most {MAX_REGEX_PER_PATTERN} regular expressions",
                start,
                end + 1,
            )
        body = self.src[start + 1 : end]
        if not body:
            raise self.error("Empty regular expression", start, end + 1)
        self.pos = end + 1
        return compile_regex(body, self.src, start + 1)

    # entry
    def parse(self) -> Pattern:
        if len(self.src) > MAX_PATTERN_LENGTH:
            raise self.error(
                f"Filter pattern is longer than {MAX_PATTERN_LENGTH} characters",
                MAX_PATTERN_LENGTH,
                len(self.src),
            )
        stripped = self.src.strip()
        if stripped.startswith("{"):
            return self.parse_json()
        if stripped.startswith("["):
            return self.parse_space()
        return self.parse_terms()

    # term patterns ----------------------------------------------------------------------------
    def parse_terms(self) -> TermPattern:
        terms: list[Term] = []
        while True:
            self.skip_ws()
            if self.at_end():
                break
            start = self.pos
            kind = "required"
            if self.peek() in ("?", "-") and self.pos + 1 < len(self.src):
                nxt = self.src[self.pos + 1]
                if not nxt.isspace():
                    kind = "optional" if self.peek() == "?" else "excluded"
                    self.pos += 1
            if self.peek() == '"':
                value: Text | Regex = Text(self.read_quoted(), quoted=True)
            elif self.peek() == "%" and self._regex_term_ahead():
                value = self.read_regex()
            else:
                end = self.pos
                while end < len(self.src) and not self.src[end].isspace():
                    end += 1
                value = Text(self.src[self.pos : end])
                self.pos = end
            if self.pos < len(self.src) and not self.src[self.pos].isspace():
                raise self.error(
                    "Expected a space between terms", self.pos, self.pos + 1
                )  # e.g. "abc"def
            terms.append(Term(kind, value, start))
        # A pattern made only of quoted blanks ("" or " ") is the documented "match everything".
        if terms and all(
            isinstance(t.value, Text) and t.value.quoted and not t.value.text.strip() for t in terms
        ):
            terms = []
        return TermPattern(tuple(terms))

    def _regex_term_ahead(self) -> bool:
        end = self.src.find("%", self.pos + 1)
        return end != -1 and (end + 1 == len(self.src) or self.src[end + 1].isspace())

    # JSON patterns ----------------------------------------------------------------------------
    def parse_json(self) -> JsonPattern:
        self.skip_ws()
        self.expect("{")
        expr = self.parse_or()
        self.expect("}")
        self.skip_ws()
        if not self.at_end():
            raise self.error("Unexpected text after the closing }", self.pos, len(self.src))
        return JsonPattern(expr)

    def parse_or(self) -> JsonExpr:
        items = [self.parse_and()]
        while True:
            self.skip_ws()
            if self.peek(2) == "||":
                self.pos += 2
                items.append(self.parse_and())
            else:
                break
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> JsonExpr:
        items = [self.parse_atom()]
        while True:
            self.skip_ws()
            if self.peek(2) == "&&":
                self.pos += 2
                items.append(self.parse_atom())
            else:
                break
        return items[0] if len(items) == 1 else And(tuple(items))

    def parse_atom(self) -> JsonExpr:
        self.skip_ws()
        if self.peek() == "(":
            self.pos += 1
            expr = self.parse_or()
            self.expect(")")
            return expr
        if self.peek() != "$":
            got = self.peek() or "end of pattern"
            raise self.error(
                f"Expected a selector starting with $ or '(' but found {got!r}",
                self.pos,
                self.pos + 1,
            )
        selector = self.parse_selector()
        self.skip_ws()
        word = re.match(r"(IS|NOT)\b", self.src[self.pos :])
        if word:
            return self.parse_is(selector)
        op = self.parse_op()
        if op is None:
            raise self.error(
                "Expected a comparison operator (=, !=, <, <=, >, >=), IS or NOT EXISTS",
                self.pos,
                self.pos + 1,
            )
        if op == "!=" and selector.wildcards:
            raise self.error("!= cannot be used with a wildcard selector", selector.start, self.pos)
        self.skip_ws()
        vstart = self.pos
        value = self.parse_value(json=True)
        if not isinstance(value, Number) and op not in ("=", "!="):
            raise self.error(f"Operator {op} needs a number", vstart, self.pos)
        return Comparison(selector, op, value)

    def parse_is(self, selector: Selector) -> IsCheck:
        start = self.pos
        if selector.wildcards and self.src.startswith("NOT", start):
            raise self.error(
                "NOT EXISTS cannot be used with a wildcard selector", selector.start, start + 10
            )
        m = re.match(r"IS\s+(TRUE|FALSE|NULL)\b", self.src[self.pos :])
        if m:
            self.pos += m.end()
            return IsCheck(selector, m.group(1))
        m = re.match(r"NOT\s+EXISTS\b", self.src[self.pos :])
        if m:
            self.pos += m.end()
            return IsCheck(selector, "NOT EXISTS")
        raise self.error(
            "Expected IS TRUE, IS FALSE, IS NULL or NOT EXISTS (IS NOT and EXISTS are not supported)",
            start,
            start + 3,
        )

    def parse_op(self) -> str | None:
        for op in ("!=", "<=", ">=", "=", "<", ">"):
            if self.src.startswith(op, self.pos):
                self.pos += len(op)
                return op
        return None

    def parse_selector(self) -> Selector:
        start = self.pos
        self.pos += 1  # $
        segments: list[Segment] = []
        while self.pos < len(self.src):
            ch = self.src[self.pos]
            if ch == ".":
                self.pos += 1
                if self.peek() == "*":
                    self.pos += 1
                    segments.append(Segment("any_key"))
                elif self.peek(2) in ("['", '["'):
                    segments.append(self.parse_bracket_key())
                else:
                    m = re.match(r"[A-Za-z0-9_\-@:]+", self.src[self.pos :])
                    if not m:
                        raise self.error("Expected a property name after '.'")
                    segments.append(Segment("key", m.group(0)))
                    self.pos += m.end()
            elif ch == "[":
                if self.peek(2) in ("['", '["'):
                    segments.append(self.parse_bracket_key())
                    continue
                m = re.match(r"\[\s*(\*|\d+)\s*\]", self.src[self.pos :])
                if not m:
                    raise self.error("Expected [n], [*] or ['key'] in selector")
                self.pos += m.end()
                if m.group(1) == "*":
                    segments.append(Segment("any_index"))
                else:
                    segments.append(Segment("index", int(m.group(1))))
            else:
                break
        if not segments:
            raise self.error("A selector needs at least one property, e.g. $.field", start)
        sel = Selector(tuple(segments), self.src[start : self.pos], start)
        if sel.wildcards > 1:
            raise self.error("At most one wildcard per selector", start, self.pos)
        if sel.wildcards:
            w = next(i for i, s in enumerate(segments) if s.kind in ("any_index", "any_key"))
            after = segments[w + 1 :]
            if any(s.kind != "key" for s in after):
                raise self.error(
                    "Only property names may follow a wildcard in a selector", start, self.pos
                )
            if segments[w].kind == "any_key" and after:
                raise self.error("A property wildcard .* must end the selector", start, self.pos)
        if sel.wildcards:
            self.wildcard_selectors += 1
            if self.wildcard_selectors > MAX_WILDCARD_SELECTORS:
                raise self.error(
                    f"At most {MAX_WILDCARD_SELECTORS} wildcard selectors per pattern",
                    start,
                    self.pos,
                )
        return sel

    def parse_bracket_key(self) -> Segment:
        start = self.pos
        quote = self.src[self.pos + 1]
        end = self.src.find(quote + "]", self.pos + 2)
        if end == -1:
            raise self.error("Unterminated ['key'] in selector", start)
        key = self.src[self.pos + 2 : end]
        self.pos = end + 2
        return Segment("key", key)

    def parse_value(self, json: bool) -> Value:
        self.skip_ws()
        start = self.pos
        if self.at_end():
            raise self.error("Expected a value")
        ch = self.peek()
        if ch == '"':
            return Text(self.read_quoted(), quoted=True)
        if ch == "%":
            return self.read_regex()
        stop = " \t\r\n)}&|" if json else " \t\r\n],&|"
        end = self.pos
        while end < len(self.src) and self.src[end] not in stop:
            end += 1
        raw = self.src[self.pos : end]
        if not raw:
            raise self.error("Expected a value", start, start + 1)
        self.pos = end
        if re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", raw):
            return Number(float(raw), raw)
        return Text(raw)

    # space-delimited patterns -----------------------------------------------------------------
    def parse_space(self) -> SpacePattern:
        self.skip_ws()
        self.expect("[")
        fields: list[FieldSpec] = []
        self.skip_ws()
        if self.peek() == "]":
            self.pos += 1
        else:
            while True:
                fields.append(self.parse_field_spec())
                self.skip_ws()
                if self.peek() == ",":
                    self.pos += 1
                    self.skip_ws()
                    if self.peek() == "]":  # trailing comma: one more unnamed field
                        fields.append(FieldSpec(None))
                        self.pos += 1
                        break
                    continue
                if self.peek() == "]":
                    self.pos += 1
                    break
                raise self.error("Expected ',' or ']' in space-delimited pattern", self.pos)
        self.skip_ws()
        if not self.at_end():
            raise self.error("Unexpected text after the closing ]", self.pos, len(self.src))
        ellipses = [f for f in fields if f.ellipsis]
        if len(ellipses) > 1:
            second = self.src.find("...", self.src.find("...") + 3)
            raise self.error(
                "Only one ... is supported in a space-delimited pattern", second, second + 3
            )
        names = [f.name for f in fields if f.name]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise self.error(f"Field name {sorted(dup)[0]!r} is used twice", 0, len(self.src))
        return SpacePattern(tuple(fields))

    def parse_field_spec(self) -> FieldSpec:
        self.skip_ws()
        if self.peek(3) == "...":
            self.pos += 3
            return FieldSpec(None, ellipsis=True)
        start = self.pos
        m = re.match(r"[A-Za-z_][A-Za-z0-9_\-]*", self.src[self.pos :])
        if not m:
            raise self.error("Expected a field name or ...", start, start + 1)
        name = m.group(0)
        self.pos += m.end()
        self.skip_ws()
        if self.at_end():
            raise self.error("Unterminated space-delimited pattern (missing ])")
        if self.peek() in (",", "]"):
            return FieldSpec(name)
        cond = self.parse_field_or(name)
        return FieldSpec(name, cond)

    def parse_field_or(self, name: str) -> FieldExpr:
        items = [self.parse_field_and(name)]
        while True:
            self.skip_ws()
            if self.peek(2) != "||":
                break
            self.pos += 2
            self.skip_ws()
            self.expect_name(name)
            items.append(self.parse_field_and(name))
        return items[0] if len(items) == 1 else FieldOr(tuple(items))

    def parse_field_and(self, name: str) -> FieldExpr:
        items = [self.parse_field_cond()]
        while True:
            self.skip_ws()
            if self.peek(2) != "&&":
                break
            self.pos += 2
            self.skip_ws()
            self.expect_name(name)
            items.append(self.parse_field_cond())
        return items[0] if len(items) == 1 else FieldAnd(tuple(items))

    def expect_name(self, name: str) -> None:
        if not self.src.startswith(name, self.pos):
            raise self.error(
                f"Each condition in this field must name {name!r}", self.pos, self.pos + 1
            )
        self.pos += len(name)

    def parse_field_cond(self) -> FieldCondition:
        self.skip_ws()
        op = self.parse_op()
        if op is None:
            raise self.error("Expected a comparison operator", self.pos, self.pos + 1)
        self.skip_ws()
        vstart = self.pos
        value = self.parse_value(json=False)
        if not isinstance(value, Number) and op not in ("=", "!="):
            raise self.error(f"Operator {op} needs a number", vstart, self.pos)
        return FieldCondition(op, value)


def parse_pattern(pattern: str) -> Pattern:
    """Parse a filter pattern; raises FilterPatternError pointing at the problem."""
    if pattern is None:
        pattern = ""
    return Parser(pattern).parse()
