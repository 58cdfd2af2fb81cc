"""Raw CloudTrail records to rows of the cloudtrail table, for testing detections on events.

It lives in the face because it uses the ingest parser, which the investigation package may not
import.
"""

from __future__ import annotations

import polars as pl

from loglake.errors import UserError


def cloudtrail_rows(data: bytes) -> pl.DataFrame:
    """Rows of the cloudtrail table from a Records file, an array of records or JSON lines."""
    from loglake.ingest import cloudtrail
    from loglake.ingest.layout import Layout
    from loglake.ingest.raw import RawObject

    parsed = cloudtrail.parse(
        [RawObject("memory://events", "", len(data), Layout("cloudtrail"), data)]
    )
    if parsed.bad:
        bad = parsed.bad[0]
        where = ", ".join(f"{k} {v}" for k, v in bad.position().items())
        raise UserError(
            f"events are not CloudTrail records: {bad.error}" + (f" ({where})" if where else "")
        )
    table = parsed.tables.get("cloudtrail")
    if table is None:
        from loglake.catalog.types import empty_table
        from loglake.ingest.schemas import CLOUDTRAIL_SCHEMA

        return pl.DataFrame(empty_table(CLOUDTRAIL_SCHEMA))
    return pl.DataFrame(table)
