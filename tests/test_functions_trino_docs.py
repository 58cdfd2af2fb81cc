"""Every example of tests/trino_examples.py gives Trino's value with Trino's type."""

from __future__ import annotations

import re
from typing import Any

import pytest
from test_functions_support import same_value, typed_scalar
from trino_examples import EXAMPLES


def comparable_type(name: str) -> str:
    """A type name without the parameters loglake does not track: varchar lengths and the
    digits of timestamp/time precision (values are kept in microseconds)."""
    name = re.sub(r"varchar\(\d+\)", "varchar", name)
    return re.sub(r"(timestamp|time)\(\d+\)", r"\1", name)


@pytest.mark.parametrize(
    ("family", "expression", "expected", "sql_type"),
    EXAMPLES,
    ids=[f"{family}: {expression[:60]}" for family, expression, _, _ in EXAMPLES],
)
def test_trino_example(family: str, expression: str, expected: Any, sql_type: str) -> None:
    value, actual_type = typed_scalar(expression)
    assert comparable_type(actual_type) == comparable_type(sql_type), (
        f"{expression}: type {actual_type}, Trino's is {sql_type}"
    )
    assert same_value(value, expected), f"{expression}: {value!r}, Trino's is {expected!r}"
