"""``loglake settings``: show or change the lake's settings (allowed locations, query limits,
ingest guards, alarm action map). See docs/security.md."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from loglake.errors import UserError

#: settings given as comma-separated lists on the command line
_LISTS = {"allowed_locations"}


def _value(key: str, text: str) -> Any:
    if key in _LISTS:
        return [item.strip() for item in text.split(",") if item.strip()]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _settings(args: argparse.Namespace, lake) -> int:
    changes: dict[str, Any] = {}
    for pair in args.changes:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise UserError(f"expected KEY=VALUE, not {pair!r}")
        changes[key.strip()] = _value(key.strip(), text)
    settings = (
        lake.catalog.update_lake_settings(**changes) if changes else lake.catalog.lake_settings()
    )
    shown = settings.to_json()
    shown.update(shown.pop("limits"))
    print(json.dumps(shown, indent=2, sort_keys=True))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from loglake.catalog.lakesettings import LakeSettings, QueryLimits

    names = [f.name for f in dataclasses.fields(LakeSettings) if f.name != "limits"]
    names += [f.name for f in dataclasses.fields(QueryLimits)]
    parser = sub.add_parser(
        "settings",
        help="show or change the lake's settings",
        description="Show the lake's settings, or change some with KEY=VALUE pairs. Keys: "
        + ", ".join(names)
        + ". Lists are comma-separated; a limit of 'none' is lifted.",
    )
    parser.add_argument("changes", nargs="*", metavar="KEY=VALUE")
    parser.set_defaults(handler=_settings)
