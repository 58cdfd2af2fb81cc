"""Trino's function library as Polars translators; importing the package registers them all.

The core expression module is imported first so that, where both define a translator for the
same node (substr, ||, subscripts, EXTRACT), the library's fuller version is the one in force.
"""

from loglake.query import expressions  # noqa: F401  (must register before the library)
from loglake.query.functions import (  # noqa: F401
    aggregates,
    arrays,
    casts,
    common,
    conditional,
    datetime,
    ip,
    json,
    maps,
    regex,
    strings,
    url,
)
