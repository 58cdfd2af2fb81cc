"""Inputs that could not be ingested, kept under ``<root>/_quarantine/`` with their reason.

An entry's name is a hash of (object, version, position), so running the same ingest twice — or
two processes at once — writes the same entry, never a second copy.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from loglake.catalog.storage import StorageSettings
from loglake.ingest.raw import BadRecord


@dataclass
class QuarantineEntry:
    id: str
    source_key: str
    etag: str
    error: str
    position: dict[str, int] = field(default_factory=dict)
    whole_object: bool = False
    kind: str | None = None
    table: str | None = None
    text: str | None = None
    quarantined_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> QuarantineEntry:
        known = {k: body[k] for k in cls.__dataclass_fields__ if k in body}
        return cls(**known)

    def where(self) -> str:
        if not self.position:
            return "whole object"
        return ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in self.position.items())


def entry_id(source_key: str, etag: str, position: dict[str, int]) -> str:
    raw = orjson.dumps([source_key, etag, sorted(position.items())])
    return hashlib.sha1(raw).hexdigest()[:24]


class Quarantine:
    """The quarantine folder of a lake."""

    def __init__(self, settings: StorageSettings):
        self.settings = settings
        self.folder = settings.url("_quarantine", "entries")

    def _path(self, entry_id_: str) -> str:
        return self.settings.fs_path(f"{self.folder}/{entry_id_}.json")

    def record(
        self, bad: BadRecord, *, kind: str | None = None, table: str | None = None
    ) -> QuarantineEntry:
        position = bad.position()
        entry = QuarantineEntry(
            id=entry_id(bad.url, bad.etag, position),
            source_key=bad.url,
            etag=bad.etag,
            error=bad.error,
            position=position,
            whole_object=bad.whole_object,
            kind=kind,
            table=table,
            text=bad.text,
            quarantined_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        fs = self.settings.filesystem()
        fs.pipe_file(
            self._path(entry.id), orjson.dumps(entry.to_json(), option=orjson.OPT_INDENT_2)
        )
        return entry

    def entries(self, source_key: str | None = None) -> list[QuarantineEntry]:
        fs = self.settings.filesystem()
        fs.invalidate_cache(self.settings.fs_path(self.folder))
        try:
            names = fs.ls(self.settings.fs_path(self.folder), detail=False)
        except FileNotFoundError:
            return []
        paths = [n for n in names if str(n).endswith(".json")]
        if not paths:
            return []
        out = []
        for raw in fs.cat(paths, on_error="omit").values():
            try:
                entry = QuarantineEntry.from_json(orjson.loads(raw))
            except (orjson.JSONDecodeError, TypeError):
                continue  # a write cut short; the next run writes it again
            if source_key is None or entry.source_key == source_key:
                out.append(entry)
        out.sort(key=lambda e: (e.source_key, sorted(e.position.items())))
        return out

    def remove(self, entries: list[QuarantineEntry]) -> None:
        fs = self.settings.filesystem()
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):
                fs.rm_file(self._path(entry.id))

    def select(
        self,
        *,
        older_than: dt.timedelta | None = None,
        reason: str | None = None,
        under: str | None = None,
        now: dt.datetime | None = None,
    ) -> list[QuarantineEntry]:
        """The entries that match every filter given: quarantined more than ``older_than`` ago,
        ``reason`` in their error (case-insensitive), object URL starting with ``under``."""
        now = now or dt.datetime.now(dt.UTC)
        chosen = []
        for entry in self.entries():
            if older_than is not None and not _quarantined_before(entry, now - older_than):
                continue
            if reason is not None and reason.casefold() not in entry.error.casefold():
                continue
            if under is not None and not entry.source_key.startswith(under):
                continue
            chosen.append(entry)
        return chosen


def _quarantined_before(entry: QuarantineEntry, moment: dt.datetime) -> bool:
    try:
        when = dt.datetime.fromisoformat(entry.quarantined_at)
    except ValueError:
        return True  # an entry without a readable time is old
    return when < moment
