"""Parsing, parameter binding and name qualification: SQL text to a qualified sqlglot tree.

Only sqlglot's ``qualify`` runs (names, aliases, star expansion, identifier normalisation): the
compiler does its own predicate placement and join ordering, so the rest of sqlglot's optimiser
would cost compile time without making the Polars plan faster.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable
from typing import Any

import polars as pl
import sqlglot
from sqlglot import exp
from sqlglot.errors import OptimizeError, ParseError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema
from sqlglot.tokens import Token, TokenType

from loglake.errors import SqlError
from loglake.query import syntax
from loglake.query import types as T
from loglake.query.checks import check_statement
from loglake.query.plans import PARSED, QUALIFIED, plan_key
from loglake.query.tables import PSEUDO_COLUMNS, suggest

DIALECT = "athena"


def offset_of(sql: str, line: int, col: int) -> int:
    """Character offset of a 1-based line and column."""
    lines = sql.split("\n")
    line = max(1, min(line, len(lines)))
    return sum(len(x) + 1 for x in lines[: line - 1]) + max(0, col - 1)


def sql_literal(value: Any) -> str:
    """A parameter value as Trino literal text (EXECUTE ... USING)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"DOUBLE '{value!r}'"
    if isinstance(value, decimal.Decimal):
        return f"DECIMAL '{value}'"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, list | tuple):
        return "ARRAY[" + ", ".join(sql_literal(v) for v in value) + "]"
    raise SqlError(f"unsupported parameter type {type(value).__name__}")


#: name given to the n-th ``?`` while parsing; no user text can produce it (":" + reserved name)
_PARAMETER_NAME = "__loglake_parameter_{}"


def literal_node(value: Any) -> exp.Expression:
    """A parameter value as a typed literal node (what Trino binds for EXECUTE ... USING).

    The literal text is parsed on its own, so it can never join the tokens around the
    placeholder: ``-?`` with ``-5`` is ``-(-5)``, never a ``--`` comment.
    """
    node = sqlglot.parse_one(sql_literal(value), read=DIALECT)
    if not isinstance(node, exp.Expression):  # parse_one's type is also the traits' base class
        raise SqlError(f"unsupported parameter value {value!r}")
    return node


def _placeholder_tokens(sql: str) -> tuple[list[Token], list[Token]]:
    """Tokens with each ``?`` renamed to a numbered placeholder, and the ``?`` tokens themselves."""
    tokens = sqlglot.Dialect.get_or_raise(DIALECT).tokenize(sql)
    out: list[Token] = []
    holes: list[Token] = []
    for token in tokens:
        if token.token_type == TokenType.PLACEHOLDER and token.text == "?":
            name = _PARAMETER_NAME.format(len(holes))
            where = (token.line, token.col, token.start, token.end)
            out += [Token(TokenType.COLON, ":", *where), Token(TokenType.VAR, name, *where)]
            holes.append(token)
        else:
            out.append(token)
    return out, holes


def _bind(
    tree: exp.Expression, sql: str, holes: list[Token], params: list[Any] | tuple[Any, ...] | None
) -> exp.Expression:
    values = list(params or [])
    if len(holes) != len(values):
        start = holes[len(values)].start if len(holes) > len(values) else None
        raise SqlError(
            f"query has {len(holes)} parameter(s) but {len(values)} value(s) were given",
            sql,
            start,
            start + 1 if start is not None else None,
        )
    if not holes:
        return tree
    nodes = {_PARAMETER_NAME.format(i): literal_node(v) for i, v in enumerate(values)}

    def replace(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name in nodes:
            return nodes[node.name].copy()
        return node

    return tree.transform(replace, copy=False)


def parse(sql: str, params: list[Any] | tuple[Any, ...] | None = None) -> exp.Expression:
    """Parse one Athena statement and bind its ``?`` parameters; syntax errors point at the token.

    Trees are kept per text and parameters (``plans.PARSED``), and each call gets its own copy;
    the key stays on the tree so that ``qualify_tree`` can keep its answer too."""
    key = plan_key(sql, params, "")
    tree = PARSED.get(key)
    if tree is None:
        tree = _parse(sql, params)
        tree.meta["statement"] = key
        PARSED.put(key, tree)
    return tree


def _parse(sql: str, params: list[Any] | tuple[Any, ...] | None) -> exp.Expression:
    try:
        tokens, holes = _placeholder_tokens(sql)
        mismatched = syntax.mismatched_input(tokens, sql)
        if mismatched is not None:
            message, start, end = mismatched
            raise SqlError(f"syntax error: {message}", sql, start, end)
        parser = sqlglot.Dialect.get_or_raise(DIALECT).parser()
        # every statement node is an Expression (sqlglot's Expr also covers abstract traits)
        trees = [t for t in parser.parse(tokens, sql) if isinstance(t, exp.Expression)]
    except ParseError as err:
        unknown = syntax.unknown_statement(sql)
        if unknown is not None:
            raise SqlError(f"syntax error: {unknown[0]}", sql, unknown[1], unknown[2]) from None
        info = err.errors[0] if err.errors else {}
        line, col = info.get("line"), info.get("col")
        highlight = info.get("highlight") or ""
        message = f"syntax error: {syntax.describe(info, sql)}"
        if line is not None and col is not None:
            end = min(len(sql), offset_of(sql, line, col) + 1)
            start = max(0, end - len(highlight))
            raise SqlError(message, sql, start, end) from None
        raise SqlError(message) from None
    except TokenError as err:
        cause = str(err.__cause__ or err)
        message, at = syntax.describe_token_error(cause, sql)
        raise SqlError(f"syntax error: {message}", sql, at) from None
    if not trees:
        raise SqlError("empty statement")
    if len(trees) > 1:
        raise SqlError("only one statement can be run at a time")
    check_statement(trees[0], sql)
    if isinstance(trees[0], exp.Command):
        # the tokenizer keeps a raw command's text whole, ``?`` included: EXPLAIN and UNLOAD bind
        # the parameters in the query they wrap when they parse it
        return trees[0]
    return _bind(trees[0], sql, holes, params)


def _name_unnamed_columns(tree: exp.Expression) -> None:
    """Trino names unaliased expression columns _col0, _col1, ... by position."""
    for select in tree.find_all(exp.Select):
        items = select.expressions
        changed = False
        for i, item in enumerate(items):
            if not isinstance(item, exp.Alias | exp.Column | exp.Dot | exp.Star):
                items[i] = exp.alias_(item, f"_col{i}", quoted=False)
                changed = True
        if changed:
            select.set("expressions", items)


def referenced_tables(tree: exp.Expression) -> list[exp.Table]:
    """Tables (not CTEs) a statement reads."""
    cte_names = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    out = []
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Values) or not table.name:
            continue
        if not table.db and table.name.lower() in cte_names:
            continue
        if isinstance(table.parent, exp.Create | exp.Insert | exp.Drop | exp.Schema):
            continue
        out.append(table)
    return out


def qualify_tree(
    tree: exp.Expression,
    sql: str,
    default_db: str,
    schema_of: Callable[[str | None, str], pl.Schema],
    resolve: Callable[[str | None, str], tuple[str, str]] | None = None,
    elsewhere: Callable[[str, str, str], list[str]] | None = None,
) -> exp.Expression:
    """Resolve every column to its table and expand stars against the tables' schemas.

    ``resolve`` names the database an unqualified table is found in (the catalog's search
    path), so that plans, EXPLAIN and errors show where a table really lives; ``elsewhere``
    names the same-named relations of other databases that have a column a query misses."""
    _name_unnamed_columns(tree)
    if resolve is not None:
        for table in referenced_tables(tree):
            if not table.db:
                try:
                    database, _ = resolve(None, table.name.lower())
                except Exception:
                    continue  # reported with its position when its schema is asked for
                table.set("db", exp.to_identifier(database))
    wants_pseudo = {p for p in PSEUDO_COLUMNS if p in sql}
    mapping: dict[str, dict[str, dict[str, str]]] = {}
    known_columns: list[str] = []
    references: dict[str, int] = {}  # columns by how many table references offer them
    for table in referenced_tables(tree):
        db = (table.db or default_db).lower()
        name = table.name.lower()
        for column in mapping.get(db, {}).get(name, {}):
            references[column] = references.get(column, 0) + 1
        if name in mapping.get(db, {}):
            continue
        try:
            schema = schema_of(table.db.lower() or None, name)
        except SqlError:
            raise
        except Exception as err:
            start, end = _span(table)
            raise SqlError(str(err), sql, start, end) from None
        columns = {_quote(c.lower()): T.schema_type_string(t) for c, t in schema.items()}
        for p in wants_pseudo:
            columns[_quote(p)] = T.schema_type_string(PSEUDO_COLUMNS[p])
        known_columns += list(schema)
        for column in columns:
            references[column] = references.get(column, 0) + 1
        mapping.setdefault(db, {})[name] = columns
    tables: dict[str, object] = {**mapping}  # MappingSchema takes any nesting
    # a parsed statement over tables of the same schemas qualifies the same way (plans.QUALIFIED)
    statement = tree.meta.get("statement")
    key = None if statement is None else (statement, default_db, repr(mapping))
    kept = None if key is None else QUALIFIED.get(key)
    if kept is not None:
        return kept
    try:
        qualified = qualify(
            tree,
            schema=MappingSchema(tables, dialect=DIALECT) if tables else None,
            db=default_db,
            dialect=DIALECT,
            quote_identifiers=False,
            validate_qualify_columns=True,
            isolate_tables=False,
        )
    except OptimizeError as err:
        message = str(err)
        match = re.search(r"Line: (\d+), Col: (\d+)", message)
        bare = re.sub(r"\s*Line: \d+, Col: \d+\.?", "", message).rstrip(".")
        col_match = re.search(r"Column '([^']+)' could not be resolved", bare)
        if col_match:
            name = col_match.group(1).split(".")[-1]
            if "." not in col_match.group(1) and references.get(_quote(name.lower()), 0) > 1:
                bare = f"Column '{name}' is ambiguous"
            else:
                hint = suggest(name, known_columns)
                if not hint and elsewhere is not None:
                    hint = _found_elsewhere(tree, name, elsewhere)
                bare = f"Column '{col_match.group(1)}' cannot be resolved." + hint
        if match:
            end = offset_of(sql, int(match.group(1)), int(match.group(2))) + 1
            name = col_match.group(1).split(".")[-1] if col_match else ""
            start = max(0, end - len(name))
            raise SqlError(bare, sql, start, end) from None
        position = re.fullmatch(r"Unknown output column: (\d+)", bare)
        if position:
            raise _position_not_selected(tree, sql, int(position.group(1))) from None
        raise SqlError(bare, sql, *_span(tree)) from None
    if wants_pseudo:
        _drop_star_pseudo_columns(qualified)
    if key is not None:
        QUALIFIED.put(key, qualified)
    return qualified


def _found_elsewhere(
    tree: exp.Expression, column: str, elsewhere: Callable[[str, str, str], list[str]]
) -> str:
    """' athena.vpc_flow_logs has it: ...' when a table of the query has a namesake in another
    database with the missing column (a guide's query run against the ingested table)."""
    holders = []
    for table in referenced_tables(tree):
        if table.db:
            holders += elsewhere(table.db.lower(), table.name.lower(), column)
    if not holders:
        return ""
    databases = sorted({h.split(".")[0] for h in holders})
    use = " or ".join(f"USE {db}; --database {db}" for db in databases)
    return (
        f" {', '.join(sorted(set(holders)))} has it: qualify the table, or make "
        f"{' or '.join(databases)} the current database ({use})."
    )


def _position_not_selected(tree: exp.Expression, sql: str, position: int) -> SqlError:
    """Trino's error for ``ORDER BY 5`` over fewer columns, at the number."""
    for ordered in tree.find_all(exp.Ordered):
        key = ordered.this
        if isinstance(key, exp.Literal) and not key.is_string and key.this == str(position):
            start, end = _span(key)
            return SqlError(f"ORDER BY position {position} is not in select list", sql, start, end)
    return SqlError(f"ORDER BY position {position} is not in select list", sql, *_span(tree))


def _drop_star_pseudo_columns(tree: exp.Expression) -> None:
    """``SELECT *`` never includes $path / $file_size; only explicit mentions (which keep positions) do."""
    for select in tree.find_all(exp.Select):
        kept = []
        for item in select.expressions:
            inner = item.this if isinstance(item, exp.Alias) else item
            if (
                isinstance(inner, exp.Column)
                and inner.name in PSEUDO_COLUMNS
                and "start" not in (inner.this.meta or {})
            ):
                continue
            kept.append(item)
        if len(kept) != len(select.expressions):
            select.set("expressions", kept)


def _span(node: exp.Expression) -> tuple[int | None, int | None]:
    for ident in [node, *node.find_all(exp.Identifier)]:
        meta = getattr(ident, "_meta", None) or {}
        if "start" in meta:
            return meta["start"], meta["end"] + 1
    return None, None


def _quote(name: str) -> str:
    return name if re.fullmatch(r"[a-z_][a-z0-9_]*", name) else f'"{name}"'
