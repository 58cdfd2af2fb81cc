"""The ``loglake`` command: global lake and storage options, then one sub-command per area."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from loglake.errors import LoglakeError, UserError

#: modules that each add their sub-commands through ``register(subparsers)``
COMMAND_MODULES = (
    "loglake.cli_catalog",
    "loglake.cli_query",
    "loglake.cli_ingest",
    "loglake.cli_monitor",
    "loglake.cli_rules",
    "loglake.cli_datasets",
    "loglake.cli_report",
    "loglake.cli_investigate",
    "loglake.cli_settings",
    "loglake.cli_export",
    "loglake.cli_spark",
)


def _global_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """The lake and storage options; accepted before the command and (``suppress``) after it,
    where an option left out must not reset what was given before the command."""

    def default(value: object) -> object:
        return argparse.SUPPRESS if suppress else value

    parser.add_argument(
        "--lake",
        default=default(None),
        help="lake root: a folder or s3://bucket/prefix (env LOGLAKE_LAKE)",
    )
    parser.add_argument(
        "--database", default=default("default"), help="current database (default: default)"
    )
    parser.add_argument(
        "--endpoint-url",
        default=default(None),
        help="S3-compatible endpoint, e.g. http://127.0.0.1:9000",
    )
    parser.add_argument("--region", default=default(None), help="AWS region of the bucket")
    parser.add_argument("--profile", default=default(None), help="AWS profile for credentials")
    parser.add_argument(
        "--path-style",
        action="store_true",
        default=default(None),
        help="path-style S3 addressing (MinIO)",
    )
    parser.add_argument(
        "--config", default=default(None), help="config file (TOML) with lake settings"
    )
    parser.add_argument(
        "--debug", action="store_true", default=default(False), help="show tracebacks"
    )


def _add_global_options_to_commands(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in set(action.choices.values()):
                _global_options(command, suppress=True)
                _add_global_options_to_commands(command)


def build_parser() -> argparse.ArgumentParser:
    from loglake import __version__

    parser = argparse.ArgumentParser(
        prog="loglake",
        description="Athena-style SQL, a Glue-style catalog and CloudWatch-style alarms for AWS logs.",
    )
    parser.add_argument("--version", action="version", version=f"loglake {__version__}")
    _global_options(parser, suppress=False)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    _add_global_options_to_commands(parser)
    return parser


def storage_settings(args: argparse.Namespace, root: str | None = None):
    """Storage settings from the global flags, for the lake or for another ``root`` URL."""
    from loglake.catalog import StorageSettings

    return StorageSettings.resolve(
        root if root is not None else args.lake,
        config_file=args.config,
        endpoint_url=args.endpoint_url,
        region=args.region,
        profile=args.profile,
        path_style=args.path_style,
    )


def open_lake(args: argparse.Namespace):
    """The Lake named by the global options (imported late so ``--help`` stays fast).

    Only commands that write data (``init``, ``ingest``) create a missing lake; every other
    command reports it, so that a mistyped ``--lake`` never leaves an empty lake behind."""
    from loglake.lake import Lake

    create = getattr(args, "creates_lake", False)
    return Lake(storage_settings(args), database=args.database, create=create)


def _location(args: argparse.Namespace) -> str | None:
    """The location a storage failure most likely concerns: a source URL, else the lake."""
    candidates = [getattr(args, "url", None), getattr(args, "lake", None)]
    remote = [c for c in candidates if c and str(c).startswith("s3://")]
    return remote[0] if remote else next((c for c in candidates if c), None)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    try:
        lake = open_lake(args) if getattr(args, "needs_lake", True) else None
        return int(handler(args, lake) or 0)
    except (UserError, LoglakeError) as error:
        if args.debug:
            raise
        print(f"loglake: {error}", file=sys.stderr)
        return 2 if isinstance(error, UserError) else 1
    except KeyboardInterrupt:
        print("loglake: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:
        if args.debug:
            raise
        from loglake.catalog.storage_errors import explain

        known = explain(error, _location(args))
        if known is not None:
            print(f"loglake: {known}", file=sys.stderr)
        else:
            first = (str(error).strip().splitlines() or [""])[0]
            print(
                f"loglake: unexpected error ({type(error).__name__}: {first}); "
                "run again with --debug for the details",
                file=sys.stderr,
            )
        return 1


if __name__ == "__main__":
    sys.exit(main())
