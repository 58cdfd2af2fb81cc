"""Ingest: AWS exports, exactly as AWS delivers them, into the lake's managed tables, once."""

from loglake.ingest.runner import DEFAULT_DATABASE, IngestReport, discover, ingest

__all__ = ["DEFAULT_DATABASE", "IngestReport", "discover", "ingest"]
