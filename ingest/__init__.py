"""Ingest: AWS exports, exactly as AWS delivers them, into the lake's managed tables, once.

The runner is loaded on first use, so that reading the source registry (the CLI's choices) does
not load the writers and delta-rs.
"""

from typing import Any

__all__ = ["DEFAULT_DATABASE", "IngestReport", "discover", "ingest"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from loglake.ingest import runner

        return getattr(runner, name)
    raise AttributeError(f"module 'loglake.ingest' has no attribute {name!r}")
