"""Where a lake lives and how to reach it.

Every module that touches storage gets its options from one :class:`StorageSettings`, so fsspec,
delta-rs and Polars always agree on endpoint, region, credentials and addressing style. No other
module builds storage options.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec

from loglake.errors import UserError

#: environment variables read for each setting, first match wins
ENVIRONMENT: dict[str, tuple[str, ...]] = {
    "root": ("LOGLAKE_LAKE",),
    "endpoint_url": ("LOGLAKE_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
    "region": ("LOGLAKE_REGION", "AWS_REGION", "AWS_DEFAULT_REGION"),
    "access_key_id": ("AWS_ACCESS_KEY_ID",),
    "secret_access_key": ("AWS_SECRET_ACCESS_KEY",),
    "session_token": ("AWS_SESSION_TOKEN",),
    "profile": ("AWS_PROFILE",),
    "path_style": ("LOGLAKE_PATH_STYLE", "AWS_S3_FORCE_PATH_STYLE"),
    "allow_http": ("LOGLAKE_ALLOW_HTTP", "AWS_ALLOW_HTTP"),
}
SECRET_FIELDS = frozenset({"secret_access_key", "session_token"})
DEFAULT_CONFIG_FILES = ("loglake.toml", "~/.config/loglake/config.toml")


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class StorageSettings:
    """Connection settings of one lake root (a local folder or ``s3://bucket/prefix``).

    Credentials left empty come from the standard AWS chain (environment, profile, instance
    role), resolved once through botocore so that all three storage clients use the same keys.
    """

    root: str
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    session_token: str | None = field(default=None, repr=False)
    profile: str | None = None
    path_style: bool | None = None
    allow_http: bool | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def resolve(
        cls,
        root: str | os.PathLike[str] | None = None,
        *,
        config_file: str | os.PathLike[str] | None = None,
        environ: dict[str, str] | None = None,
        **overrides: Any,
    ) -> StorageSettings:
        """Merge settings: explicit arguments, then environment variables, then a config file."""
        environ = dict(os.environ) if environ is None else environ
        unknown = set(overrides) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise UserError(f"unknown storage setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, Any] = {}
        values.update(cls._from_config_file(config_file, environ))
        for name, variables in ENVIRONMENT.items():
            for variable in variables:
                if environ.get(variable):
                    values[name] = environ[variable]
                    break
        values.update({k: v for k, v in overrides.items() if v is not None})
        if root is not None:
            values["root"] = os.fspath(root)
        if not values.get("root"):
            raise UserError("no lake given: pass a root, use --lake ROOT or set LOGLAKE_LAKE")
        for flag in ("path_style", "allow_http"):
            if values.get(flag) is not None:
                values[flag] = _as_bool(values[flag])
        values["root"] = cls._normalise_root(values["root"])
        return cls(**values)

    @staticmethod
    def _from_config_file(config_file: Any, environ: dict[str, str]) -> dict[str, Any]:
        candidates = (
            [config_file]
            if config_file
            else [environ["LOGLAKE_CONFIG"]]
            if environ.get("LOGLAKE_CONFIG")
            else list(DEFAULT_CONFIG_FILES)
        )
        for candidate in candidates:
            path = Path(os.path.expanduser(os.fspath(candidate)))
            if not path.is_file():
                if config_file:
                    raise UserError(f"config file {path} does not exist")
                continue
            try:
                document = tomllib.loads(path.read_text())
            except tomllib.TOMLDecodeError as error:
                raise UserError(f"config file {path} is not valid TOML: {error}") from None
            section = document.get("lake", document)
            allowed = {f.name for f in dataclasses.fields(StorageSettings)}
            return {k: v for k, v in section.items() if k in allowed}
        return {}

    @staticmethod
    def _normalise_root(root: str) -> str:
        if "://" in root:
            scheme = root.split("://", 1)[0]
            if scheme == "s3a":
                root = "s3://" + root.split("://", 1)[1]
            elif scheme == "file":
                root = root.split("://", 1)[1]
                return str(Path(root).resolve())
            elif scheme != "s3":
                raise UserError(f"unsupported lake URL scheme {scheme!r}: use a folder or s3://")
            return root.rstrip("/")
        return str(Path(os.path.expanduser(root)).resolve())

    def with_root(self, root: str) -> StorageSettings:
        """The same connection pointed at another root (a source bucket, an UNLOAD target)."""
        return dataclasses.replace(self, root=self._normalise_root(root))

    # ------------------------------------------------------------------ paths
    @property
    def is_s3(self) -> bool:
        return self.root.startswith("s3://")

    def url(self, *parts: str) -> str:
        """A location under the root, as a URL (s3) or an absolute path (local)."""
        cleaned = [p.strip("/") for p in parts if p and p.strip("/")]
        return "/".join([self.root.rstrip("/"), *cleaned]) if cleaned else self.root

    def fs_path(self, url: str) -> str:
        """The path fsspec expects for a URL of this lake (no scheme for s3fs)."""
        return url[len("s3://") :] if url.startswith("s3://") else url

    # ------------------------------------------------------------------ credentials
    def _credentials(self) -> dict[str, str]:
        if self.access_key_id and self.secret_access_key:
            creds = {"key": self.access_key_id, "secret": self.secret_access_key}
            if self.session_token:
                creds["token"] = self.session_token
            return creds
        return _chain_credentials(self.profile)

    def _resolved_region(self) -> str:
        if self.region:
            return self.region
        try:
            import botocore.session

            session = botocore.session.Session(profile=self.profile)
            return session.get_config_variable("region") or "us-east-1"
        except Exception:
            return "us-east-1"

    def _allow_http(self) -> bool:
        if self.allow_http is not None:
            return self.allow_http
        return bool(self.endpoint_url and self.endpoint_url.startswith("http://"))

    def _path_style(self) -> bool:
        if self.path_style is not None:
            return self.path_style
        return bool(self.endpoint_url)  # MinIO and other S3-compatible servers

    # ------------------------------------------------------------------ client options
    def fsspec_options(self) -> dict[str, Any]:
        """Keyword arguments for ``s3fs.S3FileSystem``."""
        if not self.is_s3:
            return {}
        options: dict[str, Any] = dict(self._credentials())
        client_kwargs: dict[str, Any] = {"region_name": self._resolved_region()}
        if self.endpoint_url:
            client_kwargs["endpoint_url"] = self.endpoint_url
        options["client_kwargs"] = client_kwargs
        if self._path_style():
            options["config_kwargs"] = {"s3": {"addressing_style": "path"}}
        if self.profile and "key" not in options:
            options["profile"] = self.profile
        return options

    def object_store_options(self) -> dict[str, str]:
        """Options in the object_store spelling that delta-rs and Polars share."""
        if not self.is_s3:
            return {}
        creds = self._credentials()
        options = {"aws_region": self._resolved_region()}
        if "key" in creds:
            options["aws_access_key_id"] = creds["key"]
            options["aws_secret_access_key"] = creds["secret"]
        if "token" in creds:
            options["aws_session_token"] = creds["token"]
        if self.endpoint_url:
            options["aws_endpoint_url"] = self.endpoint_url
        if self._allow_http():
            options["aws_allow_http"] = "true"
        options["aws_virtual_hosted_style_request"] = "false" if self._path_style() else "true"
        return options

    def delta_storage_options(self) -> dict[str, str]:
        """Options for deltalake; commits use S3 conditional writes so two writers never clash."""
        options = self.object_store_options()
        if options:
            options["aws_conditional_put"] = "etag"
        return options

    def polars_storage_options(self) -> dict[str, str] | None:
        """Options for ``polars.scan_parquet`` and friends (None for local paths)."""
        return self.object_store_options() or None

    def filesystem(self) -> fsspec.AbstractFileSystem:
        """The fsspec filesystem of this lake (cached per settings)."""
        return _filesystem(self)

    def describe(self) -> dict[str, Any]:
        """Settings safe to print: secrets are masked."""
        shown = dataclasses.asdict(self)
        for name in SECRET_FIELDS:
            if shown.get(name):
                shown[name] = "****"
        return shown


_FILESYSTEMS: dict[StorageSettings, fsspec.AbstractFileSystem] = {}


def _filesystem(settings: StorageSettings) -> fsspec.AbstractFileSystem:
    cached = _FILESYSTEMS.get(settings)
    if cached is None:
        if settings.is_s3:
            import aiobotocore.session
            import s3fs

            options = settings.fsspec_options()
            session = aiobotocore.session.AioSession(profile=options.pop("profile", None))
            factory = session.get_component("response_parser_factory")
            factory.set_parser_defaults(timestamp_parser=_parse_timestamp)
            cached = s3fs.S3FileSystem(session=session, **options)
        else:
            cached = fsspec.filesystem("file", auto_mkdir=True)
        _FILESYSTEMS[settings] = cached
    return cached


def _parse_timestamp(text: str) -> dt.datetime:
    """S3's ISO-8601 times (``LastModified`` of every listed key), parsed by the standard
    library: botocore's default goes through dateutil, which costs more than the rest of a
    listing page; anything else is left to botocore."""
    try:
        value = dt.datetime.fromisoformat(text)
    except (TypeError, ValueError):
        from botocore.utils import parse_timestamp

        return parse_timestamp(text)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def _chain_credentials(profile: str | None) -> dict[str, str]:
    """Keys from botocore's standard credential chain, or nothing for anonymous access."""
    try:
        import botocore.session

        credentials = botocore.session.Session(profile=profile).get_credentials()
    except Exception:
        return {}
    if credentials is None:
        return {}
    frozen = credentials.get_frozen_credentials()
    creds = {"key": frozen.access_key, "secret": frozen.secret_key}
    if frozen.token:
        creds["token"] = frozen.token
    return creds
