"""Settings of one lake that every connection shares: allowed locations and resource limits.

They are a versioned document under ``<root>/_state/settings/`` (the catalog's compare-and-swap
store), so SQL can never change them (it may not write into ``_state``) and an operator changes
them with ``loglake settings`` or :meth:`Catalog.update_lake_settings`. The limits play the part
of an Athena workgroup's: a query over its time, scan or result limit is cancelled with an error
that names the limit and how to raise it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from loglake.errors import UserError

GIB = 1024**3


@dataclass(frozen=True)
class QueryLimits:
    """Per-query limits (Athena workgroup style); ``None`` means no limit."""

    #: wall-clock seconds before the query is cancelled (30 minutes, as a laptop's guard against
    #: a forgotten runaway; Athena's own default is 30 minutes too)
    time_limit_s: float | None = 30 * 60
    #: bytes a query may scan, as Athena's per-query data usage control
    scan_limit_bytes: int | None = 1024 * GIB
    #: rows a result may have (beyond this the query is cancelled, not truncated)
    result_limit_rows: int | None = 10_000_000
    #: in-memory bytes a result may take
    result_limit_bytes: int | None = 2 * GIB

    def override(self, changes: QueryLimits | dict[str, Any] | None) -> QueryLimits:
        """These limits with ``changes`` (a dict of fields, or another QueryLimits) applied."""
        if changes is None:
            return self
        if isinstance(changes, QueryLimits):
            return changes
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise UserError(f"unknown query limit(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **{k: _number(k, v) for k, v in changes.items()})


@dataclass(frozen=True)
class LakeSettings:
    """What a lake allows: locations SQL may touch, query limits, ingest guards."""

    #: locations (prefixes, ``s3://bucket/prefix`` or folders) SQL may read and write besides
    #: the lake root, like the resource list of an IAM policy
    allowed_locations: tuple[str, ...] = ()
    limits: QueryLimits = QueryLimits()
    #: bytes one raw object may inflate to while it is decompressed (a gzip bomb is quarantined)
    ingest_max_inflated_bytes: int = GIB
    #: after an ingest run (the watch loop's too), a partition holding more data files than this
    #: is compacted (0: never)
    ingest_compact_files: int = 32
    #: alarm action ARNs and the local targets (webhook, file:, exec:) they stand for
    action_map: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "allowed_locations": list(self.allowed_locations),
            "limits": dataclasses.asdict(self.limits),
            "ingest_max_inflated_bytes": self.ingest_max_inflated_bytes,
            "ingest_compact_files": self.ingest_compact_files,
            "action_map": dict(self.action_map),
        }

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> LakeSettings:
        limits = QueryLimits().override(body.get("limits") or {})
        return cls(
            allowed_locations=tuple(str(a) for a in body.get("allowed_locations") or ()),
            limits=limits,
            ingest_max_inflated_bytes=int(
                body.get("ingest_max_inflated_bytes") or cls.ingest_max_inflated_bytes
            ),
            ingest_compact_files=int(body.get("ingest_compact_files", cls.ingest_compact_files)),
            action_map={str(k): str(v) for k, v in (body.get("action_map") or {}).items()},
        )

    def changed(self, **changes: Any) -> LakeSettings:
        """These settings with top-level fields or query-limit fields replaced."""
        limit_fields = {f.name for f in dataclasses.fields(QueryLimits)}
        limits = self.limits.override({k: v for k, v in changes.items() if k in limit_fields})
        rest = {k: v for k, v in changes.items() if k not in limit_fields}
        unknown = set(rest) - {f.name for f in dataclasses.fields(self)} - {"limits"}
        if unknown:
            raise UserError(f"unknown lake setting(s): {', '.join(sorted(unknown))}")
        if "allowed_locations" in rest:
            value = rest["allowed_locations"]
            rest["allowed_locations"] = tuple([value] if isinstance(value, str) else value or ())
        if "ingest_max_inflated_bytes" in rest:
            rest["ingest_max_inflated_bytes"] = _number(
                "ingest_max_inflated_bytes", rest["ingest_max_inflated_bytes"]
            )
        if "ingest_compact_files" in rest:  # 'off' or 'none': never
            value = _number("ingest_compact_files", rest["ingest_compact_files"])
            rest["ingest_compact_files"] = value or 0
        return dataclasses.replace(self, limits=limits, **rest)


def _number(name: str, value: Any) -> Any:
    """A limit from Python or from text (``none`` or ``off`` lifts it)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "off", "")):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"setting {name} must be a number, not {value!r}") from None
    if number < 0:
        raise UserError(f"setting {name} must not be negative")
    return number if name.endswith("_s") else int(number)


class LakeSettingsStore:
    """Reads the settings document and writes changes with compare-and-swap.

    The document is kept until the store's generation token changes, which any process's write
    does: a narrowed ``allowed_locations`` or a lowered limit holds from the next statement of
    every connection, never after a grace period.
    """

    FOLDER = "settings"

    def __init__(self, documents: Any):
        self.documents = documents
        self._cached: tuple[str | None, LakeSettings] | None = None

    def get(self) -> LakeSettings:
        generation = self.documents.generation()
        if self._cached is not None and self._cached[0] == generation:
            return self._cached[1]
        document = self.documents.read(self.FOLDER)
        settings = LakeSettings.from_json(document.body) if document else LakeSettings()
        self._cached = (generation, settings)
        return settings

    def update(self, **changes: Any) -> LakeSettings:
        from loglake.errors import ConflictError

        for _ in range(10):
            document = self.documents.read(self.FOLDER)
            current = LakeSettings.from_json(document.body) if document else LakeSettings()
            updated = current.changed(**changes)
            try:
                self.documents.write(
                    self.FOLDER, updated.to_json(), document.version if document else 0
                )
            except ConflictError:
                continue
            self._cached = None
            return updated
        raise UserError("lake settings kept changing under another writer; try again")
