"""loglake: Athena-style SQL, a Glue-style catalog and CloudWatch-style alarms for AWS logs."""

import logging
from typing import Any

from loglake.errors import ConflictError, LoglakeError, SqlError, UserError

# sqlglot warns when it falls back to a raw Command for SHOW/MSCK; those are ours to parse.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

__all__ = ["ConflictError", "Lake", "LoglakeError", "SqlError", "UserError", "connect"]
__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext loglake``: the ``%loglake`` and ``%sql`` magics (see ``loglake.magics``)."""
    from loglake.magics import load_ipython_extension as load

    load(ipython)


def __getattr__(name: str) -> Any:
    """``Lake`` and ``connect`` load the query engine on first use, not on ``import loglake``:
    ingest worker processes import loglake and need none of it."""
    if name in ("Lake", "connect"):
        from loglake import lake

        return getattr(lake, name)
    raise AttributeError(f"module 'loglake' has no attribute {name!r}")
