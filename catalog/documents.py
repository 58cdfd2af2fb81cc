"""Versioned JSON documents with compare-and-swap, on a local folder or S3.

Each version of a document is a separate immutable object ``<folder>/v<NNNNNNNNNN>.json`` created
with an exclusive create (``O_EXCL``-style link locally, ``If-None-Match: *`` on S3). A writer that
read version N writes N+1; if another writer created N+1 first, the create fails and the writer
gets a :class:`ConflictError` instead of overwriting. A crash mid-write leaves at most a temporary
file that no reader looks at, so the latest complete version stays readable.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from dataclasses import dataclass
from typing import Any

import orjson

from loglake.catalog.storage import StorageSettings
from loglake.errors import CatalogError, ConflictError, StorageError

_VERSION_FILE = re.compile(r"^v(\d{10})\.json$")
#: versions kept behind the latest, for readers that listed just before a write
KEEP_VERSIONS = 5
#: a small object every write and delete replaces: one read tells a reader whether any document
#: changed, in any process, since it last looked (readers key their caches on it)
GENERATION = "_generation"


@dataclass(frozen=True)
class Document:
    folder: str
    version: int
    body: dict[str, Any]


class DocumentStore:
    """Reads and writes versioned documents under one root URL."""

    def __init__(self, settings: StorageSettings, root: str):
        self.settings = settings
        self.fs = settings.filesystem()
        self.root = root.rstrip("/")

    def _path(self, *parts: str) -> str:
        return self.settings.fs_path("/".join([self.root, *parts]))

    def versions(self, folder: str) -> list[int]:
        path = self._path(folder)
        try:
            names = [os.path.basename(p.rstrip("/")) for p in self.fs.ls(path, detail=False)]
        except FileNotFoundError:
            return []
        found = []
        for name in names:
            match = _VERSION_FILE.match(name)
            if match:
                found.append(int(match.group(1)))
        return sorted(found)

    def children(self, folder: str = "") -> list[str]:
        """Names of sub-folders (documents or groups) of a folder."""
        path = self._path(folder) if folder else self.settings.fs_path(self.root)
        self._invalidate_path(path)
        try:
            entries = self.fs.ls(path, detail=True)
        except FileNotFoundError:
            return []
        return sorted(
            os.path.basename(e["name"].rstrip("/")) for e in entries if e.get("type") == "directory"
        )

    def read(self, folder: str) -> Document | None:
        """The latest version of a document, or None if it does not exist."""
        self._invalidate(folder)
        versions = self.versions(folder)
        if not versions:
            return None
        version = versions[-1]
        path = self._path(folder, f"v{version:010d}.json")
        try:
            raw = self.fs.cat_file(path)
        except FileNotFoundError:
            return self.read(folder)  # pruned between list and read: list again
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise CatalogError(
                f"catalog document {self.root}/{folder}/v{version:010d}.json is corrupt "
                f"({error}); restore it or delete it to fall back to the previous version"
            ) from None
        if not isinstance(body, dict):
            raise CatalogError(
                f"catalog document {self.root}/{folder}/v{version:010d}.json does not hold a "
                "JSON object; restore it or delete it to fall back to the previous version"
            )
        return Document(folder, version, body)

    def write(self, folder: str, body: dict[str, Any], expected_version: int) -> Document:
        """Create version ``expected_version + 1``; ConflictError if someone else did first."""
        version = expected_version + 1
        data = orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)
        target = self._path(folder, f"v{version:010d}.json")
        conflict = ConflictError(
            f"catalog document {folder} was changed by another writer "
            f"(version {version} exists); reload and retry"
        )
        if not self._create_exclusive(target, data):
            raise conflict
        # A writer that read a version long ago can create a version number that was pruned
        # since: the exclusive create succeeds, yet newer versions exist and ours would never be
        # read. Versions are pruned only once KEEP_VERSIONS newer ones exist, so seeing that
        # many above ours proves the write was stale: take it back and report the conflict.
        self._invalidate(folder)
        if self.versions(folder)[-1] >= version + KEEP_VERSIONS:
            with contextlib.suppress(FileNotFoundError):
                self.fs.rm(target)
            raise conflict
        self._prune(folder, version)
        self._next_generation()
        return Document(folder, version, body)

    def delete(self, folder: str) -> None:
        path = self._path(folder)
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(path, recursive=True)
        self._invalidate(folder)
        self._next_generation()

    def generation(self) -> str | None:
        """A token that changes whenever a document is written or deleted (None: never yet)."""
        try:
            return self.fs.cat_file(self._path(GENERATION)).decode()
        except FileNotFoundError:
            return None

    def _next_generation(self) -> None:
        """Replace the generation token; written after the change, so a reader that sees the
        new token also sees the change."""
        target = self._path(GENERATION)
        token = uuid.uuid4().hex.encode()
        if self.settings.is_s3:
            self.fs.pipe_file(target, token)
            return
        os.makedirs(os.path.dirname(target), exist_ok=True)
        temporary = f"{target}.tmp-{uuid.uuid4().hex}"
        with open(temporary, "wb") as handle:
            handle.write(token)
        os.replace(temporary, target)  # atomic: readers see the old token or the new one

    # ------------------------------------------------------------------ internals
    def _invalidate(self, folder: str) -> None:
        self._invalidate_path(self._path(folder))

    def _invalidate_path(self, path: str) -> None:
        """Forget s3fs's cached listing, so another process's writes are seen."""
        invalidate = getattr(self.fs, "invalidate_cache", None)
        if invalidate is not None:
            invalidate(path)

    def _create_exclusive(self, target: str, data: bytes) -> bool:
        if self.settings.is_s3:
            bucket, _, key = target.partition("/")
            try:
                self.fs.call_s3("put_object", Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
            except Exception as error:
                text = str(error)
                if "PreconditionFailed" in text or "412" in text or "ConditionalRequest" in text:
                    return False
                if isinstance(error, FileExistsError):
                    return False
                raise StorageError(f"could not write {target}: {error}") from error
            self._invalidate_path(os.path.dirname(target))
            return True
        directory = os.path.dirname(target)
        os.makedirs(directory, exist_ok=True)
        temporary = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, target)  # atomic, fails if the target exists
        except FileExistsError:
            return False
        finally:
            os.unlink(temporary)
        return True

    def _prune(self, folder: str, latest: int) -> None:
        for version in self.versions(folder):
            if version <= latest - KEEP_VERSIONS:
                with contextlib.suppress(FileNotFoundError):
                    self.fs.rm(self._path(folder, f"v{version:010d}.json"))
