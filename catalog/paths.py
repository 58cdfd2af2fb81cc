"""Paths that data chooses: Hive partition folders and the locations SQL may read and write.

A partition value comes from a row, and rows come from logs an attacker may have written, so a
value is escaped as Hive escapes it (``/`` becomes ``%2F``) before it names a folder: no value can
climb out of its table. Every writer (UNLOAD, INSERT, CTAS and MSCK REPAIR's reader) uses
:func:`partition_path` and :func:`unescape_partition_value`.

A location named in SQL (an external table's LOCATION, an UNLOAD target) is checked against the
lake's allowed locations (:class:`LocationPolicy`): by default only the lake root, extended by the
``allowed_locations`` setting like the resource list of an IAM policy. Writes into the lake's own
metadata folders (catalog, state, quarantine, Delta logs) are refused whatever the setting says,
and a relative path is taken relative to the lake root, never to the process's working folder.
"""

from __future__ import annotations

import os
import posixpath
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from loglake.errors import UserError

#: the folder name of a NULL partition value (Hive's)
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
#: characters Hive escapes in partition folder names (FileUtils.escapePathName), as %XX
_ESCAPED = frozenset(
    [chr(c) for c in range(0x01, 0x20)]
    + ['"', "#", "%", "'", "*", "/", ":", "=", "?", "\\", "\x7f", "{", "[", "]", "^"]
)
#: folders of a lake that SQL never writes into (the lake's own bookkeeping)
METADATA_FOLDERS = ("_catalog", "_state", "_quarantine", "_delta_log")


class LocationError(UserError):
    """A location outside what the lake allows SQL to read or write."""


def escape_partition_value(value: Any) -> str:
    """A partition value as Hive writes it in a folder name (``a/b`` -> ``a%2Fb``)."""
    if value is None:
        return NULL_PARTITION
    text = str(value)
    if text == "":
        return NULL_PARTITION
    return "".join(f"%{ord(ch):02X}" if ch in _ESCAPED else ch for ch in text)


def unescape_partition_value(text: str) -> str | None:
    """The value a Hive partition folder name stands for (the inverse of the escape)."""
    if text == NULL_PARTITION:
        return None
    out = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%" and _is_hex(text[i + 1 : i + 3]):
            out.append(chr(int(text[i + 1 : i + 3], 16)))
            i += 3
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _is_hex(pair: str) -> bool:
    return len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair)


def partition_path(keys: Sequence[str], values: Iterable[Any]) -> str:
    """``k1=v1/k2=v2`` with every value escaped: always exactly ``len(keys)`` folders deep."""
    return "/".join(
        f"{escape_partition_value(k)}={escape_partition_value(v)}"
        for k, v in zip(keys, values, strict=True)
    )


# ---------------------------------------------------------------------- allowed locations


def _normalise(location: str) -> str:
    """A location without ``.``/``..`` segments or a trailing slash, scheme kept."""
    if "://" in location:
        scheme, rest = location.split("://", 1)
        scheme = "s3" if scheme == "s3a" else scheme
        normal = posixpath.normpath("/" + rest).lstrip("/")
        return f"{scheme}://{normal}".rstrip("/")
    return os.path.realpath(location).rstrip("/") or "/"


def _inside(location: str, root: str) -> bool:
    return location == root or location.startswith(root.rstrip("/") + "/")


@dataclass(frozen=True)
class LocationPolicy:
    """Where SQL may read and write: the lake root plus ``allowed`` locations (prefixes)."""

    root: str
    allowed: tuple[str, ...] = ()

    def resolve(self, location: str) -> str:
        """An absolute location: relative paths are taken relative to the lake root."""
        location = location.strip()
        if not location:
            raise LocationError("empty location")
        if "://" in location:
            scheme = location.split("://", 1)[0].lower()
            if scheme not in ("s3", "s3a", "file"):
                raise LocationError(f"unsupported location scheme {scheme!r}: use a path or s3://")
            if scheme == "file":
                location = location.split("://", 1)[1]
        elif not os.path.isabs(os.path.expanduser(location)):
            location = f"{self.root.rstrip('/')}/{location}"
        else:
            location = os.path.expanduser(location)
        return _normalise(location)

    @cached_property
    def roots(self) -> tuple[str, ...]:
        """The root and the allowed locations, resolved once per policy (a statement's checks
        share one policy: resolving follows every symbolic link on the way, a few stat calls
        per path)."""
        return (_normalise(self.root), *(self.resolve(a) for a in self.allowed))

    def check_read(self, location: str, what: str = "location") -> str:
        """The resolved location if SQL may read it; LocationError otherwise."""
        resolved = self.resolve(location)
        if not any(_inside(resolved, root) for root in self.roots):
            raise LocationError(
                f"{what}: {location} is outside the locations this lake allows "
                f"({', '.join(self.roots)}); to allow it, run: {self.allow_command(resolved)}"
            )
        return resolved

    def allow_command(self, location: str) -> str:
        """The ``loglake settings`` command that adds ``location`` to what the lake allows
        (the setting is the whole list, so the locations allowed today are repeated)."""
        wanted = ",".join(dict.fromkeys([*self.allowed, location]))
        return (
            f"loglake --lake {shlex.quote(self.root)} settings "
            f"{shlex.quote(f'allowed_locations={wanted}')}"
        )

    def check_write(self, location: str, what: str = "location") -> str:
        """The resolved location if SQL may write there: allowed, and not lake metadata."""
        resolved = self.check_read(location, what)
        lake = _normalise(self.root)
        relative = resolved[len(lake) :].strip("/").split("/") if _inside(resolved, lake) else []
        segments = resolved.split("/")
        if (relative and relative[0] in METADATA_FOLDERS) or "_delta_log" in segments:
            raise LocationError(
                f"{what}: {location} is inside the lake's own metadata folders; SQL never "
                "writes there"
            )
        return resolved
