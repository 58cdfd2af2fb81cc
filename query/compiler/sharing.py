"""Which table references to keep apart, so that Polars shares only their bare file scan.

Polars finds the sub-plans a statement repeats (two references to one table, a subquery that
repeats the outer query's joins) and runs each once, handing its rows to every reader (common
sub-plan elimination, a CACHE node in EXPLAIN). That is what a repeated join or aggregate wants.
A repeated *bare scan* is another matter: a CACHE directly over a file scan is run by Polars'
streaming engine as one scan per reader, each with the filters the rest of its plan gives it
(such as the keys a join has already seen), while a CACHE over anything else holds every row
the slower reader has not taken yet. Every table reference renames the scan's columns to
``alias.column``, so two references by one alias repeat the scan *and* the rename, and Polars
caches both: the rows of a 6M-row scan wait in memory and the second reader loses its join
filter (TPC-H q18 spent ~10% more CPU than with the scan alone cached).

The compiler therefore compiles such a statement twice when needed: the first plan tells
(:func:`bare_shared_aliases`) which repeated aliases Polars would cache with nothing but scans,
renames and filters below the cache; the second gives each reference of those aliases a step of
its own above the scan (see ``relations.table``), so that only the scan is left in common.
Aliases whose references share joins or aggregates keep sharing them.
"""

from __future__ import annotations

import re

import polars as pl

_CACHE = re.compile(r"^(\s*)CACHE\[id: ([^\]]+)\]")
#: plan nodes that make a cached sub-plan worth holding in memory
_WORK = ("JOIN", "AGGREGATE", "UNION", "SORT", "CACHE", "HCONCAT", "UNIQUE", "SLICE")


def bare_shared_aliases(lf: pl.LazyFrame, repeated: set[str]) -> frozenset[str]:
    """The aliases of ``repeated`` (table aliases referenced more than once) whose sub-plan
    Polars' optimized plan caches with no join, aggregate or sort within the cache."""
    if not repeated:
        return frozenset()
    try:
        lines = lf.explain().splitlines()
    except Exception:
        return frozenset()  # a plan Polars cannot optimize fails where it runs, as before
    found: set[str] = set()
    seen: set[str] = set()
    for i, line in enumerate(lines):
        cache = _CACHE.match(line)
        if cache is None or cache.group(2) in seen:
            continue
        depth = len(cache.group(1))
        body: list[str] = []
        for inner in lines[i + 1 :]:
            if len(inner) - len(inner.lstrip()) <= depth:
                break
            body.append(inner.strip())
        if not body:
            continue  # a reader of a cache whose sub-plan is printed elsewhere
        seen.add(cache.group(2))
        if any(word in node for node in body for word in _WORK):
            continue
        text = "\n".join(body)
        found.update(a for a in repeated if f'.alias("{a}.' in text)
    return frozenset(found)
