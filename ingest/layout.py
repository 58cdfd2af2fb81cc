"""Recognising raw objects by the key layouts AWS uses, and listing them by date prefix."""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from loglake.ingest.listing import ListingState, list_folder

#: kinds of raw objects; the source each belongs to, and the table its rows go to
KINDS: dict[str, tuple[str, str | None]] = {
    "cloudtrail": ("cloudtrail", "cloudtrail"),
    "cloudtrail_insight": ("cloudtrail", "cloudtrail_insights"),
    "cloudtrail_digest": ("cloudtrail", None),
    "vpcflow": ("vpcflow", "vpc_flow_logs"),
    "vpcflow_parquet": ("vpcflow", "vpc_flow_logs"),
    "config": ("config", "config_items"),
    "cloudwatch_export": ("cloudwatch", "cloudwatch_logs"),
    "firehose": ("cloudwatch", "cloudwatch_logs"),
    "marker": ("", None),  # write probes AWS leaves in buckets: never data
}
SOURCES = ("cloudtrail", "vpcflow", "config", "cloudwatch")


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
        return KINDS[self.kind][0]

    @property
    def table(self) -> str | None:
        return KINDS[self.kind][1]


_ACCOUNT = r"(?P<account>\d{12})"
_REGION = r"(?P<region>[a-z0-9-]+)"
_DATE = r"(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})"
_STAMP = re.compile(r"_(?P<ymd>\d{8})T(?P<hh>\d{2})(?P<mm>\d{2})(?:\d{2})?Z")

_CLOUDTRAIL = re.compile(
    rf"(?:^|/)AWSLogs/(?:o-[a-z0-9]+/)?{_ACCOUNT}/(?P<svc>CloudTrail|CloudTrail-Insight|"
    rf"CloudTrail-Digest|CloudTrail-NetworkActivity|CloudTrail-Aggregated)/{_REGION}/{_DATE}/"
    r"(?P<name>[^/]+\.json(?:\.gz)?)$"
)
_CLOUDTRAIL_NAME = re.compile(
    rf"(?:^|/){_ACCOUNT}_CloudTrail(?P<svc>-Insight|-Digest)?_{_REGION}_"
    r"(?P<ymd>\d{8})T(?P<hh>\d{2})\d{2}Z_[A-Za-z0-9]+\.json(?:\.gz)?$"
)
_VPC = re.compile(
    rf"(?:^|/)AWSLogs/{_ACCOUNT}/vpcflowlogs/{_REGION}/{_DATE}/(?:(?P<h>\d{{2}})/)?"
    r"(?P<name>[^/]+)$"
)
_VPC_HIVE = re.compile(
    r"(?:^|/)AWSLogs/aws-account-id=(?P<account>\d{12})/aws-service=vpcflowlogs/"
    r"aws-region=(?P<region>[a-z0-9-]+)/year=(?P<y>\d{4})/month=(?P<m>\d{1,2})/"
    r"day=(?P<d>\d{1,2})/(?:hour=(?P<h>\d{2})/)?(?P<name>[^/]+)$"
)
_CONFIG = re.compile(
    rf"(?:^|/)AWSLogs/{_ACCOUNT}/Config/{_REGION}/{_DATE}/"
    r"(?P<detail>ConfigHistory|ConfigSnapshot)/(?P<name>[^/]+\.json(?:\.gz)?)$"
)
_CONFIG_MARKER = re.compile(r"(?:^|/)ConfigWritabilityCheckFile$")
_EXPORT_MARKER = re.compile(r"(?:^|/)aws-logs-write-test$")
#: files loglake itself keeps next to raw exports: digest signatures of local copies (S3 keeps
#: them in object metadata), CloudTrail public keys, the generator's answer key
_SIDECAR = re.compile(
    r"(?:^|/)(?:digest-metadata/.+\.json|cloudtrail-public-keys/.+|ground_truth\.json)$"
)
_EXPORT = re.compile(r"(?:^|/)(?P<task>[^/]+)/(?P<stream>[^/]+)/\d{6}\.gz$")
_FIREHOSE = re.compile(
    r"(?:^|/)[^/]+-\d+-(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})-(?P<h>\d{2})-\d{2}-\d{2}-"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}(?:\.[A-Za-z0-9.]+)?$"
)


def _day(y: str, m: str, d: str) -> str | None:
    try:
        return dt.date(int(y), int(m), int(d)).isoformat()
    except ValueError:
        return None


def _stamp_hour(name: str) -> int | None:
    match = _STAMP.search(name)
    return int(match["hh"]) if match else None


def classify(key: str, *, source: str | None = None) -> Layout | None:
    """The layout of an object key, or None when no AWS delivery layout matches.

    ``source`` (cloudtrail, vpcflow, config, cloudwatch) restricts recognition to one source and
    lets objects outside any AWS layout (files copied out of a bucket) be read as that source.
    """
    layout = _classify(key)
    if layout is not None:
        if source and layout.source not in (source, ""):
            return None
        return layout
    if source == "cloudtrail" and re.search(r"\.json(l|\.gz)?$", key):
        return Layout("cloudtrail")
    if source == "config" and re.search(r"\.json(\.gz)?$", key):
        return Layout("config", detail="ConfigHistory")
    if source == "vpcflow" and re.search(r"\.(log|txt)(\.gz)?$", key):
        return Layout("vpcflow")
    if source == "vpcflow" and key.endswith(".parquet"):
        return Layout("vpcflow_parquet")
    return None


def _classify(key: str) -> Layout | None:
    if _SIDECAR.search(key):
        return Layout("marker")
    if (m := _CLOUDTRAIL.search(key)) is not None:
        kind = {
            "CloudTrail-Insight": "cloudtrail_insight",
            "CloudTrail-Digest": "cloudtrail_digest",
        }.get(m["svc"], "cloudtrail")
        return Layout(
            kind, m["account"], m["region"], _day(m["y"], m["m"], m["d"]), _stamp_hour(m["name"])
        )
    if (m := _CLOUDTRAIL_NAME.search(key)) is not None:
        kind = {"-Insight": "cloudtrail_insight", "-Digest": "cloudtrail_digest"}.get(
            m["svc"] or "", "cloudtrail"
        )
        ymd = m["ymd"]
        return Layout(
            kind, m["account"], m["region"], _day(ymd[:4], ymd[4:6], ymd[6:]), int(m["hh"])
        )
    for pattern in (_VPC_HIVE, _VPC):
        if (m := pattern.search(key)) is not None:
            name = m["name"]
            if name.endswith(".parquet"):
                kind = "vpcflow_parquet"
            elif re.search(r"\.log(\.gz)?$", name):
                kind = "vpcflow"
            else:
                return None
            hour = int(m["h"]) if m["h"] else _stamp_hour(name)
            return Layout(kind, m["account"], m["region"], _day(m["y"], m["m"], m["d"]), hour)
    if (m := _CONFIG.search(key)) is not None:
        return Layout(
            "config",
            m["account"],
            m["region"],
            _day(m["y"], m["m"], m["d"]),
            _stamp_hour(m["name"]),
            detail=m["detail"],
        )
    if _CONFIG_MARKER.search(key) or _EXPORT_MARKER.search(key) or _SIDECAR.search(key):
        return Layout("marker")
    if (m := _FIREHOSE.search(key)) is not None:
        return Layout("firehose", day=_day(m["y"], m["m"], m["d"]), hour=int(m["h"]))
    if (m := _EXPORT.search(key)) is not None:
        return Layout("cloudwatch_export", detail=m["task"], stream=m["stream"])
    return None


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
    the new days only, not years of history. With a ``listing`` state, folders it knows are
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
                if since is not None:
                    end = folder_end(name.split("/"))
                    if end is not None and end < since:
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
