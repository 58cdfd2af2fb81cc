"""The dates the README and docs filter on exist in the lake `make demo` builds, so an example
copied onto it answers with rows (a filter on another month answers nothing, without an error)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from pathlib import Path

from loglake.datasets import DEFAULT_START
from loglake.demo import DAYS

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
#: where a date selects the demo's data: a day partition, a time range option, a timestamp
#: bound on an event time
FILTERS = re.compile(
    r"(?:\bday\s*=\s*'|--(?:since|until|start|end|as-of)[ =]|since=\"|"
    r"eventtime\)\s*(?:>|<|>=|<=|BETWEEN)\s*TIMESTAMP\s*')(\d{4}-\d{2}-\d{2})"
)


def _demo_days() -> tuple[date, date]:
    """The first and last day of the lake `make demo` builds (its default run)."""
    first = datetime.fromisoformat(DEFAULT_START.replace("Z", "+00:00")).date()
    return first, first + timedelta(days=DAYS - 1)


def test_documented_filters_use_days_of_the_demo_lake() -> None:
    """A lower bound may start before the week and an upper bound end after it (the whole week
    is kept); every other date is a day of the week."""
    first, last = _demo_days()
    found = []
    for page in PAGES:
        for match in FILTERS.finditer(page.read_text()):
            day = date.fromisoformat(match.group(1))
            found.append(day)
            words = match.group(0)
            if "since" in words or "start" in words:
                ok = day <= last
            elif "until" in words or "--end" in words:
                ok = day >= first
            else:
                ok = first <= day <= last
            assert ok, (
                f"{page.relative_to(ROOT)}: {words} is outside the demo lake ({first} to {last})"
            )
    assert len(found) >= 5  # the pattern still finds the examples
