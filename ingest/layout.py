"""Recognising raw objects by the key layouts AWS uses, and listing them by date prefix."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from loglake.ingest.listing import ListingState, list_folder


@dataclass(frozen=True)
class Layout:
    """What a key says about an object: its kind, account, region and delivery time."""

    kind: str
    account: str | None = None
    region: str | None = None
    day: str | None = None  # delivery day, 'YYYY-MM-DD'
    hour: int | None = None  # delivery hour (UTC) when the key or file name tells it
    detail: str | None = None  # ConfigHistory / ConfigSnapshot, export task id, ...
    stream: str | None = None  # CloudWatch export: log stream folder

    @property
    def source(self) -> str:
        """The source that delivers this kind ('' for markers), from the source registry."""
        from loglake.ingest.sources import kind_of

        return kind_of(self.kind).source

    @property
    def table(self) -> str | None:
        """The table this kind's rows go to (None: not data)."""
        from loglake.ingest.sources import kind_of

        return kind_of(self.kind).table


#: pieces of the key patterns AWS uses, shared by the sources' recognisers
ACCOUNT = r"(?P<account>\d{12})"
REGION = r"(?P<region>[a-z0-9-]+)"
DATE = r"(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})"
_STAMP = re.compile(r"_(?P<ymd>\d{8})T(?P<hh>\d{2})(?P<mm>\d{2})(?:\d{2})?Z")

_CONFIG_MARKER = re.compile(r"(?:^|/)ConfigWritabilityCheckFile$")
_EXPORT_MARKER = re.compile(r"(?:^|/)aws-logs-write-test$")
#: files loglake itself keeps next to raw exports: digest signatures of local copies (S3 keeps
#: them in object metadata), CloudTrail public keys, the generator's answer key
_SIDECAR = re.compile(
    r"(?:^|/)(?:digest-metadata/.+\.json|cloudtrail-public-keys/.+|ground_truth\.json)$"
)


def is_marker(key: str) -> bool:
    """Whether a key is a write probe AWS leaves in buckets or a file loglake keeps beside
    exports: never data, whatever source is asked for."""
    return any(p.search(key) for p in (_SIDECAR, _CONFIG_MARKER, _EXPORT_MARKER))


def delivery_day(y: str, m: str, d: str) -> str | None:
    """'YYYY-MM-DD' of a key's date folders or stamp, None when it is no date."""
    try:
        return dt.date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        return None


def stamp_hour(name: str) -> int | None:
    """The delivery hour of a file name stamped ``_YYYYMMDDTHHMMZ`` (None without one)."""
    match = _STAMP.search(name)
    return int(match["hh"]) if match else None


# ---------------------------------------------------------------- listing
_YEAR = re.compile(r"^(?:year=)?(\d{4})$")
_MONTH = re.compile(r"^(?:month=)?(\d{1,2})$")
_DAYPART = re.compile(r"^(?:day=)?(\d{1,2})$")


def folder_end(parts: list[str]) -> dt.date | None:
    """The last day a folder can hold when its path ends in date folders (YYYY[/MM[/DD]])."""
    names = parts[-3:]
    for size in (3, 2, 1):
        tail = names[-size:]
        if len(tail) < size or not _YEAR.match(tail[0]):
            continue
        if size >= 2 and not _MONTH.match(tail[1]):
            continue
        if size == 3 and not _DAYPART.match(tail[2]):
            continue
        year = int(_YEAR.match(tail[0]).group(1))  # type: ignore[union-attr]
        if not 1990 <= year <= 2200:
            continue
        try:
            if size == 1:
                return dt.date(year, 12, 31)
            month = int(_MONTH.match(tail[1]).group(1))  # type: ignore[union-attr]
            if size == 2:
                return dt.date(year, month, calendar.monthrange(year, month)[1])
            return dt.date(year, month, int(_DAYPART.match(tail[2]).group(1)))  # type: ignore[union-attr]
        except ValueError:
            continue
    return None


def walk(
    fs: Any,
    root: str,
    *,
    since: dt.date | None = None,
    skip_dir: Callable[[str], bool] | None = None,
    listing: ListingState | None = None,
    unreadable: list[tuple[str, str]] | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield file entries under ``root``, listing one folder level at a time.

    Date folders that end before ``since`` are never listed, so a daily run reads the listing of
    the new days only, not years of history; without ``since``, day folders the ``listing``
    state has closed are not listed either. With a ``listing`` state, folders it knows are
    listed only from where the last run's commits ended, and what is listed is recorded in it.
    A folder that cannot be listed (no permission) is added to ``unreadable`` with the reason,
    and the walk goes on.
    """
    forget_listings(fs, root)
    try:
        info = fs.info(root)
    except FileNotFoundError:
        return
    if info.get("type") == "file":
        yield info
        return
    stack = [root.rstrip("/")]
    while stack:
        folder = stack.pop()
        try:
            entries = list_folder(fs, folder, listing.ranges(folder) if listing else None)
        except FileNotFoundError:
            continue
        except OSError as error:
            if unreadable is None:
                raise
            unreadable.append((folder, f"could not list folder: {error.strerror or error}"))
            continue
        entries.sort(key=lambda e: e["name"], reverse=True)
        if listing is not None:
            files = [e["name"] for e in entries if e.get("type") != "directory"]
            folders = [e for e in entries if e.get("type") == "directory"]
            listing.record(
                folder,
                [(n.rsplit("/", 1)[-1], n) for n in files],
                resumable=all(e["name"].rstrip("/") == folder for e in folders),
            )
        for entry in entries:
            name = entry["name"].rstrip("/")
            if entry.get("type") == "directory":
                if name == folder:
                    continue
                base = name.rsplit("/", 1)[-1]
                if base.startswith(("_", ".")):
                    continue
                parts = name.split("/")
                end = folder_end(parts)
                if since is not None and end is not None and end < since:
                    continue
                if (
                    listing is not None
                    and end is not None
                    and folder_end(parts[:-2]) is not None  # a day folder: year/month/day
                    and listing.is_closed(name, end)
                ):
                    continue
                if skip_dir is not None and skip_dir(name):
                    continue
                stack.append(name)
            else:
                yield entry


def forget_listings(fs: Any, root: str) -> None:
    """Drop what an earlier run in this process listed under ``root``: it may have changed since.

    fsspec's ``invalidate_cache(path)`` forgets a path and its parents, not the folders below
    it, so a long-running process (the watch loop) would keep listing a day folder as it first
    saw it, and never see the deliveries added to it since.
    """
    cache = getattr(fs, "dircache", None)
    if cache is not None:
        prefix = root.rstrip("/")
        for key in [k for k in cache if k == prefix or k.startswith(prefix + "/")]:
            cache.pop(key, None)
    if hasattr(fs, "invalidate_cache"):
        fs.invalidate_cache(root)


def entry_etag(entry: dict[str, Any]) -> str:
    """An object's version: the S3 ETag, or modification time and size for local files."""
    for key in ("ETag", "etag", "e_tag"):
        if entry.get(key):
            return str(entry[key]).strip('"')
    mtime = entry.get("mtime") or entry.get("LastModified") or entry.get("created") or 0
    if isinstance(mtime, dt.datetime):
        mtime = mtime.timestamp()
    return f"{int(float(mtime) * 1_000_000):x}-{entry.get('size', 0):x}"
