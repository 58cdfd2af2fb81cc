"""Syntax errors in the words of the query, not of the parser.

sqlglot reports what its tree lacks (``Required keyword: 'expression' missing for <class
'...Mul'>``); a user needs to hear what the text lacks and where: ``expected an expression after
'*'``. The tables below translate sqlglot's descriptions; whatever they do not know becomes a
plain "unexpected ..." at the same position, never parser internals.
"""

from __future__ import annotations

import re
from typing import Any

#: sqlglot expression classes that take an operand after an operator, and that operator
OPERATORS = {
    "Add": "+",
    "Sub": "-",
    "Mul": "*",
    "Div": "/",
    "IntDiv": "/",
    "Mod": "%",
    "DPipe": "||",
    "EQ": "=",
    "NEQ": "<>",
    "GT": ">",
    "GTE": ">=",
    "LT": "<",
    "LTE": "<=",
    "And": "AND",
    "Or": "OR",
    "Not": "NOT",
    "Is": "IS",
    "Like": "LIKE",
    "ILike": "ILIKE",
    "RegexpLike": "REGEXP_LIKE",
    "BitwiseAnd": "&",
    "BitwiseOr": "|",
    "BitwiseXor": "^",
    "Neg": "-",
    "Distinct": "DISTINCT",
}
#: clauses whose content is missing, and what they need
CLAUSES = {
    "Where": "a condition after WHERE",
    "Having": "a condition after HAVING",
    "Qualify": "a condition after QUALIFY",
    "Order": "a column or expression after ORDER BY",
    "Group": "a column or expression after GROUP BY",
    "Limit": "a number after LIMIT",
    "Offset": "a number after OFFSET",
    "Fetch": "a number after FETCH FIRST",
    "Union": "a query after UNION",
    "Except": "a query after EXCEPT",
    "Intersect": "a query after INTERSECT",
    "Select": "an expression after SELECT",
    "Join": "a table after JOIN",
    "Alias": "a name after AS",
    "TableAlias": "a name after AS",
    "Cast": "a type after AS in CAST",
    "TryCast": "a type after AS in TRY_CAST",
    "In": "a list of values or a query after IN",
    "Exists": "a query after EXISTS",
    "Case": "WHEN after CASE",
    "If": "a condition in IF",
    "Interval": "a quantity after INTERVAL",
    "Paren": "an expression inside ( )",
    "Subquery": "a query inside ( )",
    "Lambda": "an expression after ->",
    "Window": "a window specification after OVER",
}
BETWEEN = {"low": "a lower bound after BETWEEN", "high": "AND and an upper bound in BETWEEN"}
STATEMENTS = (
    "SELECT",
    "WITH",
    "VALUES",
    "TABLE",
    "EXPLAIN",
    "SHOW",
    "DESCRIBE",
    "DESC",
    "CREATE",
    "DROP",
    "ALTER",
    "INSERT",
    "UNLOAD",
    "MSCK",
    "USE",
    "(",
)

_MISSING = re.compile(r"Required keyword: '(\w+)' missing for <class '[\w.]*?(\w+)'>")
_EXPECTED_TABLE = re.compile(r"Expected table name but got <Token token_type: TokenType\.(\w+)")


def _quoted(text: str) -> str:
    return f"'{text}'" if text else "the end of the query"


def unknown_statement(sql: str) -> tuple[str, int, int] | None:
    """The message and span of a first word that starts no statement (``selec 1``)."""
    match = re.match(r"\s*([^\s(]+)", sql)
    if match is None or match.group(1).upper() in STATEMENTS:
        return None
    word = match.group(1)
    return (
        f"unknown statement {word!r}: a query starts with SELECT, WITH or VALUES",
        match.start(1),
        match.end(1),
    )


def describe(info: dict[str, Any], sql: str) -> str:
    """A one-line account of a sqlglot parse error (one item of ``ParseError.errors``)."""
    description = str(info.get("description") or "")
    token = str(info.get("highlight") or "")
    at_end = not str(info.get("end_context") or "").strip()
    missing = _MISSING.search(description)
    if missing:
        member, kind = missing.groups()
        if kind in OPERATORS:
            return f"expected an expression after {OPERATORS[kind]!r}"
        if kind == "Between" and member in BETWEEN:
            return f"expected {BETWEEN[member]}"
        if kind in CLAUSES:
            return f"expected {CLAUSES[kind]}"
        return f"incomplete query: something is missing after {_quoted(token)}"
    expected_table = _EXPECTED_TABLE.search(description)
    if expected_table:
        if expected_table.group(1) == "SENTINEL":
            return f"expected a table name after {_quoted(token)}"
        return f"expected a table name, found {_quoted(token)}"
    if description.startswith("Expecting )"):
        return (
            "expected ')' to close '('"
            if at_end
            else f"expected ')' or ',' before {_quoted(token)}"
        )
    if description.startswith("Expected END after CASE"):
        return "expected END to close CASE"
    if description.startswith("Expected TYPE after CAST"):
        return "expected a type after AS in CAST"
    if description.startswith("Failed to parse any statement following CTE"):
        return "expected a query (SELECT ...) after the WITH clause"
    match = re.match(r"Expect(?:ed|ing) (.+?)(?: but got .*)?$", description)
    if match:
        return f"expected {match.group(1)}, found {_quoted(token)}"
    if description.startswith("Invalid expression / Unexpected token"):
        return f"unexpected {_quoted(token)}"
    return f"cannot read the query near {_quoted(token)}"


#: tokens after which a comma has nothing before it (``SELECT , a``, ``f(, a)``)
_NOTHING_BEFORE_COMMA = {"SELECT", "DISTINCT", "ALL", "L_PAREN", "L_BRACKET", "COMMA"}
#: tokens that cannot follow a comma (``SELECT a, FROM t``, ``f(a,)``, ``a,, b``)
_NOTHING_AFTER_COMMA = {"FROM", "R_PAREN", "R_BRACKET", "COMMA", "WHERE", "GROUP_BY", "ORDER_BY"}
#: what Trino expects where an expression is missing after a comma or an opening parenthesis
_EXPRESSION = "<expression>"


def mismatched_input(tokens: list[Any], sql: str) -> tuple[str, int, int] | None:
    """Trino's ``mismatched input`` for what sqlglot lets through silently: GROUP or ORDER
    without BY (sqlglot reads the word as a table alias), a comma with no expression before or
    after it (dropped), an empty IN list (read as matching nothing). The message, and the span
    of the token it names (the last token when the query ends too soon)."""

    def found(index: int, expecting: str) -> tuple[str, int, int]:
        if index >= len(tokens):
            last = tokens[-1]
            return f"mismatched input '<EOF>'. Expecting: {expecting}", last.start, last.end + 1
        token = tokens[index]
        text = sql[token.start : token.end + 1].split()[0] if token.end >= token.start else ""
        return f"mismatched input '{text}'. Expecting: {expecting}", token.start, token.end + 1

    kinds = [token.token_type.name for token in tokens]
    for i, (token, kind) in enumerate(zip(tokens, kinds, strict=True)):
        word = token.text.upper() if kind == "VAR" else ""
        if word == "ORDER" or (
            word == "GROUP" and (i == 0 or tokens[i - 1].text.upper() != "WITHIN")
        ):
            return found(i + 1, "'BY'")
        if kind == "COMMA" and (i == 0 or kinds[i - 1] in _NOTHING_BEFORE_COMMA):
            return found(i, _EXPRESSION)
        if kind == "COMMA" and (i + 1 == len(tokens) or kinds[i + 1] in _NOTHING_AFTER_COMMA):
            return found(i + 1, _EXPRESSION)
        if kind == "IN" and kinds[i + 1 : i + 3] == ["L_PAREN", "R_PAREN"]:
            return found(i + 2, f"{_EXPRESSION}, <query>")
    return None


def describe_token_error(message: str, sql: str) -> tuple[str, int | None]:
    """A tokenizer error (an unclosed quote, a bad literal) and the offset it starts at."""
    where = re.search(r"Missing (\S) from \d+:\d+", message)
    if where:
        quote = where.group(1)
        # nothing closes it, so the quote that opened it is the last one in the text
        opening = sql.rfind(quote)
        start = opening if opening >= 0 else None
        what = {"'": "string", '"': "quoted name", "`": "quoted name"}.get(quote, "literal")
        return f"unterminated {what}: the {quote} here is never closed", start
    return "cannot read the query text (an unclosed quote or an invalid literal)", None
