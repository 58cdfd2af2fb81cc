"""Listings that resume where the last run's commits ended, instead of relisting a day folder.

AWS names deliveries ``STREAM_YYYYMMDDTHHMM[SS]Z_UNIQUE...``: the stream part names the account,
service and region (and the flow log id), the stamp is the UTC minute the file was delivered and
the unique part is random. Inside one stream, keys therefore sort by delivery minute. A day folder
of a busy trail holds tens of thousands of them; listing it all again on every run costs more than
ingesting what is new.

What AWS does not promise is that keys become visible in that order: S3 lists are consistent
and sorted, but deliveries run concurrently and are retried, so a file stamped 10:05 can appear
after one stamped 10:06 has been listed, and two files of the same minute sort by their random
part. Resuming right after the last key seen would skip such a file forever. The rule is:

    a key not yet visible when a stream was last listed carries a stamp less than ``MARGIN``
    (one hour) older than that listing; so a run lists each known stream from the earlier of
    its last committed key and the last listing's time minus ``MARGIN``, to the next stream.

Every key listed from there on that is already ingested is skipped through the ingest log, so the
margin costs a listing of an hour of keys, not a re-read; a stream whose last listing came more
than ``MARGIN`` after its last committed key (nothing delivered for an hour, a backfill of older
days) is listed from that key on, which is one request that returns nothing when nothing is new.
A file is missed only if it becomes listable more than an hour after the minute its name carries;
CloudTrail documents deliveries within about five minutes on average, flow logs every five to ten
minutes. The listing's time is this machine's clock: one that runs ahead of S3's by minutes eats
into the margin. A full listing
(``full_listing=True``, ``loglake ingest --full-listing``, and every quarantine retry) looks at
everything again: use it after an outage of the delivering service, or to pick up an old object
that was rewritten in place.

A stream's position only moves over keys that are all finished (committed, skipped or
quarantined), so a run that stops half-way resumes at its first unfinished key.

A day folder whose keys are all finished is **closed** once the deliveries of its region (the
folder holding its year, month and day folders) have moved on: once a later day there has a
committed key stamped more than ``MARGIN`` after the day's end, the same rule says nothing more
can appear in it, and later runs do not list it at all. So a run without ``--since`` lists the new
days of each region, not one range per day of its history. A stream seen for
the first time sorts into one of the ranges listed, so it is listed in full; a folder holding
sub-folders, keys outside the ``STREAM_STAMP`` naming or more than ``MAX_STREAMS`` streams is
always listed in full.

In a local folder the names are read without a ``stat`` and only those in a range are looked at.
On S3, once the state knows some folders, a run lists the whole tree under the source at once
without a delimiter (``list_tree_s3``), leaving out each known stream's range up to its resume
key and the closed day folders (consecutive closed days of a region as one range): one
``ListObjectsV2`` request with ``StartAfter`` per gap between them, so the folder levels above the
days (account, service, region, year, month) cost no request of their own. A no-op run over one
region's day is two requests, whatever the folder holds.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import itertools
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
from fsspec.implementations.local import LocalFileSystem

from loglake.catalog.storage import StorageSettings

#: the delivery stamp in a file name, and everything before it (the stream)
_STAMP = re.compile(r"^(?P<stream>.+_)(?P<stamp>\d{8}T\d{4})(?:\d{2})?Z_")
#: keys this much older than a stream's last committed key are listed again
MARGIN = dt.timedelta(hours=1)
#: folders with more streams than this are listed in full (ranges would cost more requests)
MAX_STREAMS = 16
#: keys per ListObjectsV2 page (S3's maximum), and of the first page of a range that ends
#: before another stream (usually none or few keys: a full page would list the next stream)
PAGE_KEYS = 1000
FIRST_PAGE_KEYS = 100
STAMP_FORMAT = "%Y%m%dT%H%M"

Range = tuple[str | None, str | None]  # (list names after this, stop at names from this)


def stream_of(name: str) -> tuple[str, str] | None:
    """The stream part and the delivery stamp (YYYYMMDDTHHMM) of a delivery's file name."""
    match = _STAMP.match(name)
    return (match["stream"], match["stamp"]) if match else None


def resume_after(name: str, listed: str | None = None) -> str:
    """The name a listing of ``name``'s stream resumes after, ``name`` being its last committed
    key and ``listed`` the minute of the listing that last found every key up to it finished.

    A key not visible then is stamped after ``listed`` less the margin (a minute more, as both
    are cut to the minute): if ``name`` is older, every key up to it was listed and is done, and
    the listing starts after it; else from that minute. Without ``listed`` (a state written
    before it was kept), from ``name``'s stamp less the margin.
    """
    stream, stamp = stream_of(name)  # type: ignore[misc]
    if listed is not None:
        visible = dt.datetime.strptime(listed, STAMP_FORMAT) - MARGIN - dt.timedelta(minutes=1)
        if stamp < visible.strftime(STAMP_FORMAT):
            return name
        return stream + visible.strftime(STAMP_FORMAT)
    earlier = dt.datetime.strptime(stamp, STAMP_FORMAT) - MARGIN
    return stream + earlier.strftime(STAMP_FORMAT)


def now() -> dt.datetime:
    """The time a listing starts (a function, so tests can set the clock of a delivery day)."""
    return dt.datetime.now(dt.UTC)


class ListingState:
    """Per folder of one source, the last committed key of each stream and the minute of the
    listing that last found every key up to it finished (a JSON document under
    ``<lake>/_state/listing/``). It only ever moves forward: two runs saving at once keep the
    larger key of each stream (the later listing for the same key)."""

    def __init__(self, lake: StorageSettings, source_root: str):
        digest = hashlib.sha256(source_root.rstrip("/").encode()).hexdigest()[:24]
        self.fs = lake.filesystem()
        self.path = lake.fs_path(lake.url("_state", "listing", f"{digest}.json"))
        self.source_root = source_root
        self.folders, self.listed_at, self.complete = self._read()
        self._latest: dict[str, str] | None = None
        #: per folder listed in this run, its files: (name, object URL); None when the folder
        #: cannot be resumed (it holds sub-folders)
        self.listed: dict[str, list[tuple[str, str]] | None] = {}
        #: folders to be listed in full from now on
        self.dropped: set[str] = set()
        #: no key listed by this run became visible after this minute
        self.started = now().strftime(STAMP_FORMAT)

    def _read(self) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]], set[str]]:
        """The last key of each stream of each folder, the minute of the listing that found
        every key up to it finished, and the folders whose listed keys were all finished."""
        try:
            body = orjson.loads(self.fs.cat_file(self.path))
        except (FileNotFoundError, orjson.JSONDecodeError):
            return {}, {}, set()
        return body.get("folders", {}), body.get("listed", {}), set(body.get("complete", []))

    def _latest_by_region(self) -> dict[str, str]:
        """Per region folder (above year/month/day), the latest stamp committed in any of its
        day folders (computed once: the state does not change while a run walks)."""
        if self._latest is None:
            self._latest = {}
            for folder, streams in self.folders.items():
                region = folder.rsplit("/", 3)[0]
                for name in streams.values():
                    stamp = stream_of(name)[1]  # type: ignore[index]
                    if stamp > self._latest.get(region, ""):
                        self._latest[region] = stamp
        return self._latest

    def is_closed(self, folder: str, day: dt.date) -> bool:
        """Whether day folder ``folder`` (of ``day``) needs no listing (see the module's rule)."""
        if folder not in self.complete:
            return False
        latest = self._latest_by_region().get(folder.rsplit("/", 3)[0])
        if latest is None:
            return False
        day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time())
        return dt.datetime.strptime(latest, STAMP_FORMAT) > day_end + MARGIN

    def ranges(self, folder: str) -> list[Range] | None:
        """The ranges of names to list in ``folder``, or None to list all of it."""
        streams = self.folders.get(folder)
        if not streams:
            return None
        names = sorted(streams)
        listed = self.listed_at.get(folder, {})
        out: list[Range] = [(None, names[0])]
        for index, stream in enumerate(names):
            following = names[index + 1] if index + 1 < len(names) else None
            out.append((resume_after(streams[stream], listed.get(stream)), following))
        return out

    def skipped(self, folder: str) -> list[tuple[str, str]]:
        """The paths in ``folder`` its ``ranges`` leave out, as (first, last) pairs: from each
        stream's name to the key its listing resumes after."""
        ranges = self.ranges(folder) or []
        return [
            (f"{folder}/{stop}", f"{folder}/{start}")
            for (_, stop), (start, _) in itertools.pairwise(ranges)
        ]

    def record(self, folder: str, files: list[tuple[str, str]], *, resumable: bool = True) -> None:
        """What one listing of ``folder`` found; a folder with sub-folders is not ``resumable``."""
        if not resumable:
            self.listed[folder] = None
        elif folder not in self.listed or self.listed[folder] is not None:
            self.listed.setdefault(folder, []).extend(files)  # type: ignore[union-attr]

    def advance(self, done: set[str]) -> None:
        """Move each stream's key to the last listed key up to which every key is done (never
        past the minute this run started listing: see the module's rule), with this run's
        listing time; a run that finds nothing new up to the same key only moves the time."""
        for folder, files in self.listed.items():
            parsed = [stream_of(name) for name, _ in files or ()]
            if files is None or None in parsed:  # sub-folders, or keys named otherwise
                self._drop(folder)
                continue
            by_stream: dict[str, list[tuple[str, str]]] = {}
            for (stream, _), entry in zip(parsed, files, strict=True):  # type: ignore[misc]
                by_stream.setdefault(stream, []).append(entry)
            if all(url in done for _, url in files):
                self.complete.add(folder)
            else:
                self.complete.discard(folder)
            streams = dict(self.folders.get(folder, {}))
            listed = dict(self.listed_at.get(folder, {}))
            for stream, entries in by_stream.items():
                last = _last_done(sorted(entries), done)
                if last is not None:
                    last = min(last, f"{stream}{self.started}Z_")
                if last is not None and last >= streams.get(stream, ""):
                    streams[stream] = last
                    listed[stream] = self.started
            if streams and len(streams) <= MAX_STREAMS:
                self.folders[folder] = streams
                self.listed_at[folder] = listed
            else:
                self._drop(folder)

    def _drop(self, folder: str) -> None:
        """List ``folder`` in full from now on."""
        self.folders.pop(folder, None)
        self.listed_at.pop(folder, None)
        self.complete.discard(folder)
        self.dropped.add(folder)

    def save(self) -> None:
        """Store the state, merged with what another run may have stored meanwhile."""
        merged, merged_listed, complete = self._read()
        for folder in self.dropped:
            merged.pop(folder, None)
            merged_listed.pop(folder, None)
            complete.discard(folder)
        for folder, streams in self.folders.items():
            current = merged.setdefault(folder, {})
            current_listed = merged_listed.setdefault(folder, {})
            listed = self.listed_at.get(folder, {})
            for stream, name in streams.items():
                # a key and its listing time go together: each pair holds on its own
                mine = (name, listed.get(stream, ""))
                if mine > (current.get(stream, ""), current_listed.get(stream, "")):
                    current[stream] = name
                    if mine[1]:
                        current_listed[stream] = mine[1]
                    else:
                        current_listed.pop(stream, None)
        # a folder another run found unfinished stays open; one finished here is complete
        complete = (complete | self.complete) - {f for f in self.listed if f not in self.complete}
        listed_at = {folder: times for folder, times in merged_listed.items() if times}
        body = {
            "source": self.source_root,
            "folders": merged,
            "listed": listed_at,
            "complete": sorted(complete),
        }
        self.fs.makedirs(self.path.rsplit("/", 1)[0], exist_ok=True)
        self.fs.pipe_file(self.path, orjson.dumps(body))


def _last_done(entries: list[tuple[str, str]], done: set[str]) -> str | None:
    last = None
    for name, url in entries:
        if url not in done:
            break
        last = name
    return last


def list_folder(fs: Any, folder: str, ranges: list[Range] | None) -> list[dict[str, Any]]:
    """Entries of one folder level (files and sub-folders), only those in ``ranges`` if given."""
    if isinstance(fs, LocalFileSystem):  # also in full: fsspec would look up each entry again
        return _list_local(folder, ranges or [(None, None)])
    if ranges is None:
        return fs.ls(folder, detail=True)
    if hasattr(fs, "call_s3"):
        return [entry for r in ranges for entry in _list_s3_range(fs, folder, r)]
    entries = fs.ls(folder, detail=True)
    return [e for e in entries if _in_ranges(e["name"].rstrip("/").rsplit("/", 1)[-1], ranges)]


def _in_ranges(name: str, ranges: Iterable[Range]) -> bool:
    return any((a is None or name > a) and (b is None or name < b) for a, b in ranges)


def _list_local(folder: str, ranges: list[Range]) -> list[dict[str, Any]]:
    """The names of a folder are read in one call and cut by ranges in sorted order; only the
    names kept are looked at (a ``stat`` each)."""
    names = sorted(os.listdir(folder))
    out = []
    for start, stop in ranges:
        low = 0 if start is None else bisect.bisect_right(names, start)
        high = len(names) if stop is None else bisect.bisect_left(names, stop)
        for name in names[low:high]:
            path = os.path.join(folder, name)
            try:
                status = os.stat(path)
            except FileNotFoundError:  # removed since, or a dangling link
                continue
            kind = "directory" if stat.S_ISDIR(status.st_mode) else "file"
            out.append(
                {"name": path, "size": status.st_size, "type": kind, "mtime": status.st_mtime}
            )
    return out


def _list_s3_range(fs: Any, folder: str, bounds: Range) -> list[dict[str, Any]]:
    """One range of a folder: ``ListObjectsV2`` from ``StartAfter``, pages until the stop name."""
    bucket, _, key = folder.partition("/")
    prefix = f"{key.rstrip('/')}/" if key else ""
    start, stop = bounds
    request: dict[str, Any] = {
        "Bucket": bucket,
        "Prefix": prefix,
        "Delimiter": "/",
        "MaxKeys": PAGE_KEYS if stop is None else min(PAGE_KEYS, FIRST_PAGE_KEYS),
    }
    if start is not None:
        request["StartAfter"] = prefix + start
    out: list[dict[str, Any]] = []
    while True:
        page = fs.call_s3("list_objects_v2", **request)
        items: list[dict[str, Any]] = [
            {"name": f"{bucket}/{p['Prefix'].rstrip('/')}", "size": 0, "type": "directory"}
            for p in page.get("CommonPrefixes", [])
        ]
        items += [
            {"name": f"{bucket}/{c['Key']}", "size": c["Size"], "ETag": c["ETag"], "type": "file"}
            for c in page.get("Contents", [])
        ]
        past_stop = False
        for item in items:
            name = item["name"][len(bucket) + 1 + len(prefix) :]
            if stop is not None and name >= stop:
                past_stop = True
            else:
                out.append(item)
        if past_stop or not page.get("IsTruncated"):
            return out
        request["ContinuationToken"] = page["NextContinuationToken"]
        request["MaxKeys"] = PAGE_KEYS


#: sorts after every key in a folder ``F`` when appended to ``F/``: U+10FFFF is the largest code
#: point, and UTF-8 (whose byte order S3 sorts keys by) keeps the order of code points
FOLDER_END = "\U0010ffff"


def list_tree_s3(
    fs: Any,
    root: str,
    skipped: Iterable[tuple[str, str]],
    pruned: Callable[[str], str | None],
) -> Iterator[dict[str, Any]]:
    """Every key under ``root`` (``bucket/prefix``) in key order, but those inside the
    ``skipped`` (first, last) path ranges and below the folders ``pruned`` names.

    One ``ListObjectsV2`` request without a delimiter per gap between skipped ranges (and its
    pages): the folder levels above the day folders cost no request of their own, and a gap with
    nothing new costs one request. ``pruned(path)`` returns the highest folder of a key's path
    that is not to be listed (or None): the listing goes on after that folder's last possible
    key, so such a folder costs one request, as listing its parent would. Keys that end in
    ``/`` (folder markers) come as entries of type ``directory``. Raises FileNotFoundError when
    nothing at all is under ``root``.
    """
    bucket, _, key = root.partition("/")
    prefix = f"{key.rstrip('/')}/" if key else ""
    ranges: list[tuple[str, str]] = []
    for first, last in sorted(skipped):
        if ranges and first <= ranges[-1][1]:
            ranges[-1] = (ranges[-1][0], max(ranges[-1][1], last))
        else:
            ranges.append((first, last))
    index = 0
    after: str | None = None  # the path the next request lists after
    found = False
    while True:
        request: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": PAGE_KEYS}
        while index < len(ranges) and after is not None and ranges[index][1] <= after:
            index += 1
        if index < len(ranges):  # the gap usually ends soon: no full page of what follows it
            request["MaxKeys"] = FIRST_PAGE_KEYS
        if after is not None:
            request["StartAfter"] = after[len(bucket) + 1 :]
        after = None
        while after is None:
            page = fs.call_s3("list_objects_v2", **request)
            for content in page.get("Contents", ()):
                found = True
                name = f"{bucket}/{content['Key']}"
                while index < len(ranges) and ranges[index][1] < name:
                    index += 1
                if index < len(ranges) and ranges[index][0] <= name:
                    after = ranges[index][1]
                    break
                folder = pruned(name)
                if folder is not None:
                    after = f"{folder}/{FOLDER_END}"
                    break
                if name.endswith("/"):
                    yield {"name": name.rstrip("/"), "size": 0, "type": "directory"}
                    continue
                yield {
                    "name": name,
                    "size": content["Size"],
                    "ETag": content["ETag"],
                    "type": "file",
                }
            if after is not None:
                break
            if not found:
                raise FileNotFoundError(root)
            if not page.get("IsTruncated"):
                return
            request["ContinuationToken"] = page["NextContinuationToken"]
            request["MaxKeys"] = PAGE_KEYS
