"""Trino's function library as Polars translators; importing the package registers them all.

Every translator key is registered once (the registry refuses a second one), so the order of
the imports below does not matter.
"""

from loglake.query import expressions  # noqa: F401
from loglake.query.functions import (  # noqa: F401
    aggregates,
    arrays,
    binary,
    bitwise,
    casts,
    common,
    conditional,
    conversion,
    datetime,
    durations,
    ip,
    json,
    maps,
    math,
    regex,
    sqljson,
    strings,
    url,
)
