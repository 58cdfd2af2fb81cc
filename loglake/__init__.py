"""loglake: Athena-style SQL, a Glue-style catalog and CloudWatch-style alarms for AWS logs."""

import logging

from loglake.errors import ConflictError, LoglakeError, SqlError, UserError
from loglake.lake import Lake, connect

# sqlglot warns when it falls back to a raw Command for SHOW/MSCK; those are ours to parse.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

__all__ = ["ConflictError", "Lake", "LoglakeError", "SqlError", "UserError", "connect"]
__version__ = "0.1.0"
