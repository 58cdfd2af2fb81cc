"""How catalog names appear in a Spark session.

Spark's temporary views take one-part names, so a table ``db.name`` is registered as
``db__name``; tables found along the lake's search path (the current database, then ``aws``) are
registered under their bare name too, so SQL written for loglake runs unchanged in a Spark shell.
Two catalog names that would give the same view name are refused when they are registered.
"""

from __future__ import annotations


def spark_name(database: str, name: str) -> str:
    """The temporary view that holds catalog table or view ``database.name``."""
    return f"{database}__{name}"
