"""``loglake quarantine retry``: read quarantined objects again, keep what still fails."""

from __future__ import annotations

from collections.abc import Callable

from loglake.catalog import Catalog
from loglake.ingest.quarantine import Quarantine
from loglake.ingest.runner import DEFAULT_DATABASE, IngestReport, ingest
from loglake.ingest.sources import kinds

#: told after each object: its number (from 1), how many there are, its URL and its outcome
RetryProgress = Callable[[int, int, str, IngestReport], None]


def retry_quarantine(
    catalog: Catalog,
    *,
    database: str = DEFAULT_DATABASE,
    log_group: str | None = None,
    on_object: RetryProgress | None = None,
) -> IngestReport:
    """Re-read every quarantined object (even if unchanged) and replace what it produced.

    Entries are removed only after the retry, and only when the same problem did not come back,
    so an interrupted retry loses nothing. ``on_object`` hears about each object as it is done.
    """
    quarantine = Quarantine(catalog.settings)
    entries = quarantine.entries()
    total = IngestReport(url="quarantine")
    by_object: dict[str, list] = {}
    for entry in entries:
        by_object.setdefault(entry.source_key, []).append(entry)
    for number, (url, old) in enumerate(sorted(by_object.items()), 1):
        kind = next((e.kind for e in old if e.kind), None)
        source = kinds()[kind].source or None if kind in kinds() else None
        report = ingest(
            catalog,
            url,
            source=source,
            database=database,
            progress=False,
            log_group=log_group,
            force=True,
        )
        if on_object is not None:
            on_object(number, len(by_object), url, report)
        if report.objects_seen == 0:
            continue  # the object is gone; keep its entries
        _merge(total, report)
        still = set(report.quarantine_ids)
        quarantine.remove([e for e in old if e.id not in still])
    return total


def _merge(total: IngestReport, report: IngestReport) -> None:
    total.objects_seen += report.objects_seen
    total.objects_ingested += report.objects_ingested
    total.objects_skipped += report.objects_skipped
    total.objects_quarantined += report.objects_quarantined
    total.records_quarantined += report.records_quarantined
    total.bytes_read += report.bytes_read
    total.seconds += report.seconds
    total.quarantine_ids.extend(report.quarantine_ids)
    for table, rows in report.rows.items():
        total.rows[table] = total.rows.get(table, 0) + rows
