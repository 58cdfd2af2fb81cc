"""loglake: Athena-style SQL, a Glue-style catalog and CloudWatch-style alarms for AWS logs."""

import importlib
import logging
from typing import TYPE_CHECKING, Any

from loglake.errors import ConflictError, LoglakeError, SqlError, UserError

# sqlglot warns when it falls back to a raw Command for SHOW/MSCK; those are ours to parse.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

__all__ = [
    "ConflictError",
    "Engine",
    "IngestReport",
    "Lake",
    "LoglakeError",
    "QueryResult",
    "QueryStats",
    "SqlError",
    "UserError",
    "connect",
]

if TYPE_CHECKING:
    from loglake.ingest.runner import IngestReport
    from loglake.lake import Lake, connect
    from loglake.query.engine import Engine, QueryResult, QueryStats

#: names loaded on first use, and the module that holds each
_LAZY = {
    "Lake": "loglake.lake",
    "connect": "loglake.lake",
    "Engine": "loglake.query.engine",
    "QueryResult": "loglake.query.engine",
    "QueryStats": "loglake.query.engine",
    "IngestReport": "loglake.ingest.runner",
}
__version__ = "0.1.0"


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext loglake``: the ``%loglake`` and ``%sql`` magics (see ``loglake.magics``)."""
    from loglake.magics import load_ipython_extension as load

    load(ipython)


def __getattr__(name: str) -> Any:
    """``Lake``, ``connect`` and the engine load on first use, not on ``import loglake``: ingest
    worker processes import loglake and need none of it. ``Engine(tables={"t": frame})`` is the
    in-memory engine, for tests and notebooks that query frames without a lake."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'loglake' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
