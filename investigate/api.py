"""``lake.investigate``: the investigation questions of a notebook, each one call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from loglake.catalog import Catalog
from loglake.errors import UserError
from loglake.investigate.detections import (
    Detection,
    load_detections,
    pack_detections,
    parse_detection,
)
from loglake.investigate.runner import (
    RunReport,
    backtest,
    evaluate,
    hunt,
    read_hits,
    run_detections,
)

#: turns raw CloudTrail records (JSON bytes) into rows of the cloudtrail table
RecordParser = Callable[[bytes], pl.DataFrame]


def parse_when(value: str | datetime | None, *, now: datetime | None = None) -> datetime | None:
    """An ISO time (UTC when it has no offset) or a span back from now (``90d``, ``12h``)."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    from loglake.investigate.detections import _DURATION, parse_duration

    text = str(value).strip()
    if _DURATION.match(text) and text[-1:] in "smhd" and not text.isdigit():
        return (now or datetime.now(UTC)) - timedelta(seconds=parse_duration(text))
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(
            f"{value!r} is neither an ISO time (2024-05-06T12:00:00Z) nor a span such as 90d"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class Investigation:
    """Timelines, identity chains, first-seen behaviour and detections over one lake."""

    def __init__(self, catalog: Catalog, parse_records: RecordParser | None = None):
        self.catalog = catalog
        self.parse_records = parse_records

    # ------------------------------------------------------------------ detections
    def detections(
        self, packs: Sequence[str] = ("aws",), paths: Sequence[str | Path] = ()
    ) -> list[Detection]:
        """The detections of shipped packs and of files or folders of ``.sql`` files."""
        out: list[Detection] = []
        for name in packs:
            out += pack_detections(name)
        if paths:
            out += load_detections(*paths)
        seen: set[str] = set()
        for d in out:
            if d.id in seen:
                raise UserError(f"Detection id {d.id!r} is given twice")
            seen.add(d.id)
        return out

    def detection(self, ref: str | Path | Detection) -> Detection:
        """A detection by pack id, by file path, or as given."""
        if isinstance(ref, Detection):
            return ref
        path = Path(ref)
        if path.is_file():
            return load_detections(path)[0]
        text = str(ref)
        if "\n" in text:
            return parse_detection(text)
        for d in pack_detections("aws"):
            if d.id == text:
                return d
        raise UserError(f"No detection {text!r}: give a pack detection id or a .sql file")

    def hunt(
        self,
        detections: Sequence[Detection] | None = None,
        *,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        shared: bool = True,
    ) -> pl.DataFrame:
        """Hits of the detections over the lake's history (nothing recorded or notified)."""
        return hunt(
            self.catalog,
            list(detections or self.detections()),
            since=parse_when(since),
            until=parse_when(until),
            shared=shared,
        )

    def run(
        self,
        detections: Sequence[Detection] | None = None,
        *,
        targets: Sequence[str] = (),
        final: bool = False,
    ) -> RunReport:
        """Run the detections over what was committed since their checkpoints; record hits
        in ``_detections.hits`` and notify the targets once per new incident."""
        return run_detections(
            self.catalog, list(detections or self.detections()), targets=targets, final=final
        )

    def backtest(
        self,
        detection: str | Path | Detection,
        *,
        since: str | datetime = "90d",
        until: str | datetime | None = None,
    ) -> dict[str, Any]:
        """How often and when a detection would have fired over history."""
        start = parse_when(since)
        assert start is not None
        return backtest(
            self.catalog, self.detection(detection), since=start, until=parse_when(until)
        )

    def test(self, detection: str | Path | Detection, events: bytes | pl.DataFrame) -> pl.DataFrame:
        """A detection's hits over given events: raw CloudTrail JSON (a Records file, an array or
        JSON lines) or rows of the cloudtrail table; like CloudWatch's TestMetricFilter."""
        d = self.detection(detection)
        if isinstance(events, bytes | bytearray | str):
            if self.parse_records is None:
                raise UserError("raw records need a lake opened with loglake.connect()")
            rows = self.parse_records(events.encode() if isinstance(events, str) else bytes(events))
        else:
            rows = events
        return evaluate(d, rows)

    def hits(self) -> pl.DataFrame:
        """Every hit recorded by incremental runs, newest first."""
        return read_hits(self.catalog)
