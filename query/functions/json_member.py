"""A shortcut for the commonest JSON path, the first member of a document's object
(``$.bucketName`` in ``{"bucketName":"logs","key":"a.txt"}``), read from the start of the text.

Trino reads a document as a stream of tokens and stops at the member it is asked for: nothing
after that member's value is read, so a later repeated key or broken text there does not change
the answer. When the member is the object's first, its answer is therefore fixed by the first
few tokens, and one anchored regular expression reads them: no walk over the whole document
(Polars' path walk builds a tree of all of it, several times the cost of this match).

The shortcut answers only what it can read exactly: a string without escapes, an integer that
is printed back as written, ``true``/``false``. Every other row (a later member, escapes,
fractions, null, objects and arrays) is left to the walk.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import polars as pl

from loglake.query.functions.common import materialize

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


#: the first member's value as its JSON token: a string of printable ASCII without escapes (its
#: text is its value; an ASCII class keeps the expression cheap to compile, which happens per
#: batch), or an integer the walk prints back as written (-0 becomes -0.0; 18 digits fit 64 bits)
#: or a boolean, each followed by the next member or the end of the object. One space may come
#: first: Python's json module and many log shippers write ``{"key": value, ...}``. A null, an
#: object or an array is left to the walk.
_TEXT = r"[ !#-\[\]-~]*"
_PLAIN = r"0|-?[1-9][0-9]{0,17}|true|false"
_TOKEN = ' ?("' + _TEXT + '"|' + _PLAIN + ")[,}]"
#: json_extract_scalar reads a string's content (the token without its quotes) by one expression
#: and the other tokens by a second one over the rest: stripping the quotes after one reading
#: was a pass over every row, NULL or not (1M events, the expression alone, interleaved, CPU ms:
#: $.bucketName 183 -> 164, $.ConsoleLogin over a 99.75% NULL column 16.7 -> 14.7)
_CONTENT = ' ?"(' + _TEXT + ')"[,}]'
_PLAIN_TOKEN = " ?(" + _PLAIN + ")[,}]"


class Member(NamedTuple):
    """What the start of the text says: ``readings`` are (where, answer) pairs, tried in order
    (json_extract's JSON text, strings quoted, or json_extract_scalar's text, a string's
    content); ``known`` is where one of them answered."""

    readings: list[tuple[pl.Expr, pl.Expr]]
    known: pl.Expr


def top_member(
    text: pl.Expr, steps: list[str | int], present: pl.Expr | None, scalar: bool
) -> Member | None:
    """The first member of the documents in ``text`` when it is the one ``steps`` names, as
    json_extract_scalar (``scalar``) or json_extract reads it; None when the path is not one
    plain key. ``present``: whether a document can hold the key at all (json._present, which
    the walk reads too).

    Text that opens with ``{"key":`` only (no space before the key or the colon; AWS writes
    ``{"key":value``, Python's json module ``{"key": value``): an anchored regular expression
    with one group reads the member from the start of the text (a three-group reading after a
    slice took 137 against 119 ms CPU on 1M CloudTrail requestparameters, 368k of them opening
    with bucketName, one thread).
    """
    if len(steps) != 1 or not isinstance(steps[0], str) or not _IDENT.match(steps[0]):
        return None
    opening = "^" + re.escape('{"' + steps[0] + '":')
    # only the documents that mention the key: the expression skips NULLs, and a document
    # with the key elsewhere fails it in its first bytes. The test is the walk's, so this costs
    # no pass of its own (a prefix test was one more pass over every row, NULL or not:
    # 1M events, an interleaved A/B, $.bucketName 244 -> 226, $.groupId 120 -> 101 and, over
    # responseelements, 99.75% NULL, $.ConsoleLogin 28.3 -> 21.1 ms CPU for the expression)
    opened = text if present is None else pl.when(present).then(text)
    if not scalar:
        token = materialize(opened.str.extract(opening + _TOKEN, 1))
        return Member([(token.is_not_null(), token)], token.is_not_null())
    content = materialize(opened.str.extract(opening + _CONTENT, 1))
    # one condition, not a mask of the masked text: each mask is a pass over every row
    unread = content.is_null() if present is None else present & content.is_null()
    plain = materialize(pl.when(unread).then(text).str.extract(opening + _PLAIN_TOKEN, 1))
    read = [(content.is_not_null(), content), (plain.is_not_null(), plain)]
    return Member(read, content.is_not_null() | plain.is_not_null())
