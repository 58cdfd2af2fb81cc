"""A shortcut for the commonest JSON path, the first member of a document's object
(``$.bucketName`` in ``{"bucketName":"logs","key":"a.txt"}``), read from the start of the text.

Trino reads a document as a stream of tokens and stops at the member it is asked for: nothing
after that member's value is read, so a later repeated key or broken text there does not change
the answer. When the member is the object's first, its answer is therefore fixed by the first
few tokens, and one anchored regular expression reads them: no walk over the whole document
(Polars' path walk builds a tree of all of it, several times the cost of this match).

The shortcut answers only what it can read exactly: a string without escapes, an integer that
is printed back as written, ``true``/``false``, ``null``, or the opening of an object or array.
Every other row (a later member, escapes, fractions) is left to the walk.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import polars as pl

from loglake.query.functions.common import materialize

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


#: the first member's value: a string of printable ASCII without escapes (its text is its
#: value; an ASCII class keeps the expression cheap to compile, which happens per batch), or an
#: integer the walk prints back as written (-0 becomes -0.0; 18 digits fit 64 bits) or a
#: boolean, each followed by the next member or the end of the object; or null, an object or
#: an array, which have no scalar whatever follows. One space may come first: Python's json
#: module and many log shippers write ``{"key": value, ...}``
_VALUE = (
    r'^ ?(?:"(?<string>[ !#-\[\]-~]*)"[,}]'
    r"|(?<other>0|-?[1-9][0-9]{0,17}|true|false)[,}]"
    r"|(?<empty>null|[\[{]))"
)


class Member(NamedTuple):
    """What the start of the text says: where ``known``, the member is the string ``string``,
    the number or boolean ``other`` (its text), or else null, an object or an array."""

    known: pl.Expr
    string: pl.Expr
    other: pl.Expr


def top_member(text: pl.Expr, steps: list[str | int]) -> Member | None:
    """The first member of the documents in ``text`` when it is the one ``steps`` names; None
    when the path is not one plain key.

    Text that opens with ``{"key":`` only (no space before the key or the colon; AWS writes
    ``{"key":value``, Python's json module ``{"key": value``): a plain prefix test picks the
    rows, so the regular expression reads only those, and only their start.
    """
    if len(steps) != 1 or not isinstance(steps[0], str) or not _IDENT.match(steps[0]):
        return None
    opening = '{"' + steps[0] + '":'
    value = pl.when(text.str.starts_with(opening)).then(text.str.slice(len(opening)))
    kinds = materialize(value.str.extract_groups(_VALUE))
    string, other = kinds.struct.field("string"), kinds.struct.field("other")
    known = string.is_not_null() | other.is_not_null() | kinds.struct.field("empty").is_not_null()
    return Member(known, string, other)
