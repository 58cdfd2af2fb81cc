"""Where generated objects go: a local folder or any fsspec URL (``s3://bucket/prefix``)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import orjson


class Sink:
    """Writes objects under a root, as keys relative to it (the same keys AWS would use).

    ``bucket`` and ``prefix`` are what the objects would be called in S3: for an ``s3://`` root they
    are real; for a local folder the bucket is a nominal name (digests must name one).
    """

    def __init__(
        self,
        out: str | os.PathLike[str],
        *,
        filesystem: Any = None,
        storage_options: dict[str, Any] | None = None,
        bucket: str | None = None,
    ) -> None:
        text = os.fspath(out)
        self.remote = "://" in text and not text.startswith("file://")
        if text.startswith("file://"):
            text = text[len("file://") :]
        self.out = text
        self.is_s3 = text.startswith(("s3://", "s3a://"))
        if self.remote:
            import fsspec

            protocol, _, rest = text.partition("://")
            self.fs = filesystem or fsspec.filesystem(protocol, **(storage_options or {}))
            self.root = rest.rstrip("/")
            real_bucket, _, prefix = self.root.partition("/")
            self.bucket = bucket or real_bucket
            self.prefix = prefix
        else:
            self.fs = filesystem
            self.root = str(Path(text))
            self.bucket = bucket or "aws-logs-archive"
            self.prefix = ""
        self.files = 0
        self.bytes = 0
        self._lock = threading.Lock()

    def s3_key(self, key: str) -> str:
        """The object key inside the bucket (what digests and manifests record)."""
        return f"{self.prefix}/{key}" if self.prefix else key

    def url(self, key: str) -> str:
        if self.remote:
            return f"{self.out.split('://', 1)[0]}://{self.root}/{key}"
        return os.path.join(self.root, key)

    def put(self, key: str, data: bytes, metadata: dict[str, str] | None = None) -> None:
        """Write one object; ``metadata`` becomes S3 user metadata (x-amz-meta-*) on S3."""
        with self._lock:
            self.files += 1
            self.bytes += len(data)
        if self.remote:
            path = f"{self.root}/{key}"
            if metadata and self.is_s3:
                self.fs.pipe_file(path, data, Metadata=metadata)
            else:
                self.fs.pipe_file(path, data)
            return
        path = os.path.join(self.root, key)
        if self.fs is not None:
            self.fs.makedirs(os.path.dirname(path), exist_ok=True)
            self.fs.pipe_file(path, data)
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(data)

    def put_json(self, key: str, value: Any) -> None:
        self.put(key, orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
