"""Recognising raw objects by the key layouts AWS uses, and listing them by date prefix."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from loglake.ingest.listing import FOLDER_END, ListingState, list_folder, list_tree_s3


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
    missing_ok: bool = True,
) -> Iterator[dict[str, Any]]:
    """Yield file entries under ``root``, listing one folder level at a time.

    Date folders that end before ``since`` are never listed, so a daily run reads the listing of
    the new days only, not years of history; without ``since``, day folders the ``listing``
    state has closed are not listed either. With a ``listing`` state, folders it knows are
    listed only from where the last run's commits ended, and what is listed is recorded in it;
    on S3 such a run lists the whole tree at once instead (see ``_walk_known_s3``).
    A folder that cannot be listed (no permission) is added to ``unreadable`` with the reason,
    and the walk goes on. A ``root`` that does not exist yields nothing, or raises
    FileNotFoundError unless ``missing_ok``.
    """
    forget_listings(fs, root)
    if listing is not None and listing.folders and hasattr(fs, "call_s3"):
        try:
            yield from _walk_known_s3(fs, root, since, skip_dir, listing)
            return
        except FileNotFoundError:  # nothing under it: gone, or the root is one object now
            pass
        except PermissionError:  # some folders may be readable: go level by level
            pass
    try:
        info = fs.info(root)
    except FileNotFoundError:
        if not missing_ok:
            raise
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
                if _left_out(name, since, skip_dir) or _closed_day(listing, name):
                    continue
                stack.append(name)
            else:
                yield entry


def _left_out(folder: str, since: dt.date | None, skip_dir: Callable[[str], bool] | None) -> bool:
    """Whether a walk leaves ``folder`` out: hidden (``_``, ``.``), a date folder that ends
    before ``since``, or one ``skip_dir`` names."""
    if folder.rsplit("/", 1)[-1].startswith(("_", ".")):
        return True
    if since is not None:
        end = folder_end(folder.split("/"))
        if end is not None and end < since:
            return True
    return skip_dir is not None and skip_dir(folder)


def _closed_day(listing: ListingState | None, folder: str) -> bool:
    """Whether ``folder`` is a day folder (year/month/day) that the ``listing`` state closed."""
    if listing is None:
        return False
    parts = folder.split("/")
    end = folder_end(parts)
    return (
        end is not None
        and folder_end(parts[:-2]) is not None  # a day folder: year/month/day
        and listing.is_closed(folder, end)
    )


def _walk_known_s3(
    fs: Any,
    root: str,
    since: dt.date | None,
    skip_dir: Callable[[str], bool] | None,
    listing: ListingState,
) -> Iterator[dict[str, Any]]:
    """The walk of an S3 tree the ``listing`` state knows: one listing of the whole tree without
    a delimiter, leaving out what each known stream's ranges leave out, closed day folders and
    the folders ``walk`` leaves out (``list_tree_s3``).

    Folder by folder, a walk costs a request per level above the day folders (account,
    service, region, year, month) on every run; this costs one request per gap between the
    ranges left out, which for a no-op run over a region's latest day is two. Closed days of a
    region that follow each other (consecutive dates) are left out as one range, so a history of
    closed days costs one request, not one per day; a key between two such day folders that is
    in neither (not a delivery) is not seen, as in any folder left out (``--full-listing``
    lists it). What is found is recorded in ``listing`` folder by folder, as ``walk`` does.
    """
    base = root.rstrip("/")
    skipped: list[tuple[str, str]] = []
    closed: list[tuple[str, dt.date, str]] = []  # (region, day, folder)
    for folder in list(listing.folders):
        if _closed_day(listing, folder):
            parts = folder.split("/")
            closed.append((folder.rsplit("/", 3)[0], folder_end(parts), folder))  # type: ignore[arg-type]
        else:
            skipped.extend(listing.skipped(folder))
    closed.sort()
    for index, (region, day, folder) in enumerate(closed):
        first = folder
        before_region, before_day, before = closed[index - 1] if index else ("", day, "")
        if (
            before_region == region
            and before_day + dt.timedelta(days=1) == day
            and _date_shape(before) == _date_shape(folder) == _PADDED
        ):
            first = before  # one range with the day before: no other day sorts between them
        skipped.append((f"{first}/", f"{folder}/{FOLDER_END}"))

    files: dict[str, list[tuple[str, str]]] = {}
    with_folders: set[str] = set()  # folders holding sub-folders
    verdicts: dict[str, str | None] = {}  # per parent folder: the folder left out above it

    def pruned(name: str) -> str | None:
        parent = name[: name.rfind("/")]
        if parent in verdicts:
            return verdicts[parent]
        verdict = None
        folder = base
        for part in parent[len(base) + 1 :].split("/") if parent != base else ():
            with_folders.add(folder)
            folder = f"{folder}/{part}"
            if _left_out(folder, since, skip_dir):
                verdict = folder
                break
        verdicts[parent] = verdict
        return verdict

    for entry in list_tree_s3(fs, root, skipped, pruned):
        name = entry["name"]
        if entry["type"] == "directory":
            continue
        folder, _, file = name.rpartition("/")
        files.setdefault(folder, []).append((file, name))
        yield entry
    known = [f for f in listing.folders if not _closed_day(listing, f)]
    for folder in sorted({*files, *known}):
        inside = folder == base or folder.startswith(base + "/")
        if inside and not any(_left_out(f, since, skip_dir) for f in _folders_below(base, folder)):
            listing.record(folder, files.get(folder, []), resumable=folder not in with_folders)


#: the shape of day folders whose names sort as their dates do (zero-padded month and day)
_PADDED = ("0000", "00", "00")


def _date_shape(folder: str) -> tuple[str, ...]:
    """The year/month/day names of a day folder with digits as 0 and ``year=``-style names cut."""
    parts = folder.split("/")[-3:]
    return tuple(re.sub(r"\d", "0", part.rpartition("=")[2]) for part in parts)


def _folders_below(base: str, folder: str) -> Iterator[str]:
    """The folders from ``base`` (excluded) down to ``folder`` (included)."""
    path = base
    for part in folder[len(base) + 1 :].split("/") if folder != base else ():
        path = f"{path}/{part}"
        yield path


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
