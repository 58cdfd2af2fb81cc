"""``lake.investigate``: the investigation questions of a notebook, each one call."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from loglake.catalog import Catalog
from loglake.errors import UserError
from loglake.investigate.behaviour import RARE_AT_MOST, first_seen, rare_calls
from loglake.investigate.detections import (
    Detection,
    load_detections,
    pack_detections,
    parse_detection,
)
from loglake.investigate.identity import ESCAPE, like
from loglake.investigate.runner import (
    RunReport,
    backtest,
    evaluate,
    hunt,
    read_hits,
    run_detections,
)
from loglake.investigate.timeline import Entity, Timeline, Timelines

#: turns raw CloudTrail records (JSON bytes) into rows of the cloudtrail table
RecordParser = Callable[[bytes], pl.DataFrame]


def parse_when(value: str | datetime | None, *, now: datetime | None = None) -> datetime | None:
    """An ISO time (UTC when it has no offset) or a span back from now (``90d``, ``12h``)."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)
    from loglake.investigate.detections import DURATION, parse_duration

    text = str(value).strip()
    if DURATION.match(text) and text[-1:] in "smhd" and not text.isdigit():
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
        self._timelines: Timelines | None = None

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

    # ------------------------------------------------------------------ timelines and identities
    @property
    def timelines(self) -> Timelines:
        if self._timelines is None:
            self._timelines = Timelines(self.catalog)
        return self._timelines

    def timeline(
        self,
        *,
        principal: str | None = None,
        access_key: str | None = None,
        ip: str | None = None,
        resource: str | None = None,
        start: str | datetime | None = None,
        end: str | datetime | None = None,
        sessions: bool = True,
    ) -> pl.DataFrame:
        """Everything about one entity in time order: its CloudTrail events (with those of the
        role sessions it started, unless ``sessions=False``), flows to and from its addresses,
        Config changes of what it touched, log lines mentioning it, Insights about its calls."""
        return self.build_timeline(
            principal=principal,
            access_key=access_key,
            ip=ip,
            resource=resource,
            start=start,
            end=end,
            sessions=sessions,
        ).frame

    def build_timeline(self, **options: Any) -> Timeline:
        """Like :meth:`timeline`, with what it was built from (keys, addresses, resources)."""
        sessions = options.pop("sessions", True)
        start, end = parse_when(options.pop("start", None)), parse_when(options.pop("end", None))
        return self.timelines.build(_entity(**options), start=start, end=end, sessions=sessions)

    def chain(self, key_or_arn: str) -> dict[str, Any]:
        """Who really acted with a key (or the session ARN's latest key): each session back to
        the first principal."""
        identities = self.timelines.identities
        key = key_or_arn
        if key_or_arn.startswith("arn:"):
            sessions = identities.issued(
                f"responseelements LIKE ? {ESCAPE}", [f"%{like(key_or_arn)}%"]
            ).filter(pl.col("session_arn") == key_or_arn)
            if sessions.height == 0:
                raise UserError(f"No session {key_or_arn!r} was started in the lake")
            key = sessions.sort("eventtime")["issued_key"][-1]
        return identities.chain(key).to_dict()

    def first_seen(
        self,
        *,
        principal: str | None = None,
        access_key: str | None = None,
        ip: str | None = None,
        start: str | datetime,
        end: str | datetime | None = None,
        baseline: str | timedelta = "30d",
    ) -> pl.DataFrame:
        """API calls, services, addresses, user agents and regions the entity used in the window
        and never in the baseline before it (SQL: ``loglake.investigate.behaviour.FIRST_SEEN_SQL``)."""
        return self._behaviour(first_seen, principal, access_key, ip, start, end, baseline)

    def rare_calls(
        self,
        *,
        principal: str | None = None,
        access_key: str | None = None,
        ip: str | None = None,
        start: str | datetime,
        end: str | datetime | None = None,
        baseline: str | timedelta = "30d",
        at_most: int = RARE_AT_MOST,
    ) -> pl.DataFrame:
        """The entity's calls in the window that the whole account made at most ``at_most``
        times over the baseline and the window."""
        return self._behaviour(
            rare_calls, principal, access_key, ip, start, end, baseline, at_most=at_most
        )

    def _behaviour(
        self,
        question: Callable[..., pl.DataFrame],
        principal: str | None,
        access_key: str | None,
        ip: str | None,
        start: str | datetime,
        end: str | datetime | None,
        baseline: str | timedelta,
        **options: Any,
    ) -> pl.DataFrame:
        entity = _entity(principal=principal, access_key=access_key, ip=ip)
        window_start, window_end = self._window(start, end)
        return question(
            self.timelines.engine,
            entity.kind,
            entity.value,
            window_start,
            window_end,
            baseline=_span(baseline),
            **options,
        )

    @staticmethod
    def _window(start: str | datetime, end: str | datetime | None) -> tuple[datetime, datetime]:
        window_start = parse_when(start)
        assert window_start is not None
        window_end = parse_when(end) or datetime.now(UTC)
        return window_start, window_end


def _entity(**options: str | None) -> Entity:
    given = [(k, v) for k, v in options.items() if v is not None]
    if len(given) != 1:
        names = ", ".join(f"--{k.replace('_', '-')}" for k in options)
        raise UserError(f"Give exactly one of {names}")
    return Entity(*given[0])


def _span(value: str | timedelta) -> timedelta:
    from loglake.investigate.detections import parse_duration

    return value if isinstance(value, timedelta) else timedelta(seconds=parse_duration(value))
