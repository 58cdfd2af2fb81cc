"""Trino's function library as Polars translators; importing the package registers them all."""

from loglake.query.functions import (  # noqa: F401
    arrays,
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
