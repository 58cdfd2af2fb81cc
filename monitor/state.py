"""Monitor definitions and state in the lake, under ``<root>/_state/monitor/``.

Every definition (metric filter, alarm, saved query) is a versioned JSON document written with
the catalog's compare-and-swap document store: a write creates a new immutable version, so a
crash never leaves half a document and two writers never overwrite each other silently.
"""

from __future__ import annotations

import contextlib
import time
import urllib.parse
import uuid
from collections.abc import Callable
from typing import Any

from loglake.catalog import Catalog
from loglake.catalog.documents import DocumentStore
from loglake.errors import ConflictError, UserError

KINDS = ("filters", "alarms", "queries", "rules", "leases")
#: how long a lease holds when its holder dies without releasing it
LEASE_SECONDS = 600.0


def _folder_name(name: str) -> str:
    # Names may hold '/', spaces and other characters a storage key should not; '=' escapes.
    return urllib.parse.quote(name, safe="-_.").replace("%", "=")


class MonitorState:
    """Typed access to the monitor's documents."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self.settings = catalog.settings
        self.documents = DocumentStore(catalog.settings, catalog.settings.url("_state", "monitor"))

    def _path(self, kind: str, name: str) -> str:
        return f"{kind}/{_folder_name(name)}"

    def get(self, kind: str, name: str) -> tuple[dict[str, Any], int] | None:
        doc = self.documents.read(self._path(kind, name))
        if doc is None or doc.body.get("deleted"):
            return None
        return doc.body, doc.version

    def require(self, kind: str, name: str) -> tuple[dict[str, Any], int]:
        found = self.get(kind, name)
        if found is None:
            what = {
                "filters": "metric filter",
                "alarms": "alarm",
                "queries": "saved query",
                "rules": "Contributor Insights rule",
            }[kind]
            raise UserError(f"There is no {what} named {name!r}")
        return found

    def put(self, kind: str, name: str, body: dict[str, Any], expected: int | None = None) -> int:
        """Write a new version; `expected` guards against a concurrent change (None: latest)."""
        path = self._path(kind, name)
        if expected is None:
            doc = self.documents.read(path)
            expected = 0 if doc is None else doc.version
        return self.documents.write(path, body, expected).version

    def update(
        self, kind: str, name: str, change: Callable[[dict[str, Any]], dict[str, Any] | None]
    ) -> dict[str, Any] | None:
        """Read-modify-write with retry on conflicts; `change` returns the new body or None."""
        for _ in range(20):
            found = self.require(kind, name)
            body, version = found
            new = change(dict(body))
            if new is None:
                return body
            try:
                self.put(kind, name, new, version)
                return new
            except ConflictError:
                continue
        raise ConflictError(f"{kind[:-1]} {name!r} keeps changing; try again")

    def delete(self, kind: str, name: str) -> None:
        self.require(kind, name)
        self.documents.delete(self._path(kind, name))

    def list(self, kind: str) -> list[dict[str, Any]]:
        out = []
        for child in self.documents.children(kind):
            doc = self.documents.read(f"{kind}/{child}")
            if doc is not None and not doc.body.get("deleted"):
                out.append(doc.body)
        return sorted(
            out,
            key=lambda b: str(
                b.get("filterName") or b.get("AlarmName") or b.get("name") or b.get("Name")
            ),
        )

    # ------------------------------------------------------------------ leases
    def acquire(self, name: str, seconds: float = LEASE_SECONDS) -> tuple[str, int] | None:
        """Take the lease `name` unless another holder's lease is still running.

        Returns a token for `release`, or None when someone else holds it. One writer per
        lease is what keeps two monitor processes from counting the same files twice.
        """
        now = time.time()
        found = self.get("leases", name)
        if found is not None and found[0].get("expires", 0) > now:
            return None
        owner = uuid.uuid4().hex
        body = {"name": name, "owner": owner, "expires": now + seconds}
        try:
            version = self.put("leases", name, body, 0 if found is None else found[1])
        except ConflictError:
            return None
        return owner, version

    def release(self, name: str, token: tuple[str, int]) -> None:
        owner, version = token
        # if it expired and someone else took it, there is nothing of ours to release
        with contextlib.suppress(ConflictError):
            self.put("leases", name, {"name": name, "owner": owner, "expires": 0}, version)
