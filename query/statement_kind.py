"""The kind of a parsed statement: the key of the engine's statement table (``STATEMENTS``).

The kind comes from the tree sqlglot parses: its class, and for CREATE and DROP the kind of
object. Statements sqlglot keeps as a raw ``Command`` (EXPLAIN, UNLOAD, SHOW, MSCK REPAIR) are
known by their leading keywords. The kinds are the names Athena's statement types use
(``QueryStats.statement``), so the same word decides the handler, the history and the bill.
"""

from __future__ import annotations

from sqlglot import exp

#: CREATE SCHEMA and DROP SCHEMA are the DATABASE statements under their other name
_OBJECT_NAMES = {"SCHEMA": "DATABASE"}


def statement_kind(tree: exp.Expr) -> str:
    """``SELECT``, ``EXPLAIN``, ``CREATE TABLE AS``, ``DROP VIEW``, ``SHOW``, ..."""
    if isinstance(tree, exp.Query | exp.Values | exp.Subquery):
        return "SELECT"
    if isinstance(tree, exp.Command):
        keywords = str(tree.this).upper().split()
        if keywords == ["ALTER"]:  # ALTER TABLE ... ADD PARTITION ... LOCATION: the object kind
            rest = tree.expression
            text = rest.name if isinstance(rest, exp.Expression) else str(rest or "")
            keywords += text.upper().split()[:1]
        return " ".join(keywords)
    if isinstance(tree, exp.Create | exp.Drop):
        verb = "CREATE" if isinstance(tree, exp.Create) else "DROP"
        kind = str(tree.args.get("kind") or "").upper()
        kind = _OBJECT_NAMES.get(kind, kind)
        if verb == "CREATE" and kind == "TABLE" and tree.expression is not None:
            return "CREATE TABLE AS"
        return f"{verb} {kind}".strip()
    if isinstance(tree, exp.Alter):
        return f"ALTER {str(tree.args.get('kind') or 'TABLE').upper()}"
    if isinstance(tree, exp.Describe):
        return "DESCRIBE"
    if isinstance(tree, exp.Insert):
        return "INSERT"
    return type(tree).__name__.upper()
