"""``insight-rule``: Contributor Insights rules (put, import, list, delete, evaluate, report)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loglake.errors import UserError
from loglake.render import add_output_options, emit


def _json_argument(text: str) -> Any:
    """JSON given inline, or the name of a file holding it."""
    source = Path(text).read_text() if not text.lstrip().startswith("{") else text
    try:
        return json.loads(source)
    except json.JSONDecodeError as error:
        raise UserError(f"not JSON: {error}") from None


def _moment(text: str | None, what: str) -> datetime:
    if not text:
        raise UserError(f"--{what} is required (ISO 8601)")
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"--{what}: {text!r} is not an ISO 8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _show(frame: Any, args: argparse.Namespace) -> None:
    import polars as pl

    emit(frame.with_columns(pl.col("keys").list.join(", ")), args)


def _options(args: argparse.Namespace) -> dict[str, Any]:
    return {"table": args.table, "period": args.period, "max_contributors": args.max_contributors}


def _put(args: argparse.Namespace, lake: Any) -> int:
    from loglake.monitor.contributors import put_insight_rule

    body = put_insight_rule(
        lake.catalog, args.name, _json_argument(args.definition), state=args.state, **_options(args)
    )
    print(f"rule {body['Name']} ({body['State']}) over {body['Table']}, {body['Period']} s periods")
    return 0


def _import(args: argparse.Namespace, lake: Any) -> int:
    from loglake.monitor.contributors import import_insight_rules

    names = import_insight_rules(lake.catalog, _json_argument(args.file), **_options(args))
    print(f"imported {len(names)} rule(s): {', '.join(names)}")
    return 0


def _list(args: argparse.Namespace, lake: Any) -> int:
    from loglake.monitor.contributors import describe_insight_rules

    rules = describe_insight_rules(lake.catalog)
    if args.json:
        print(json.dumps({"InsightRules": rules}, indent=2))
        return 0
    for rule in rules:
        definition = json.loads(rule["Definition"])
        keys = ", ".join(definition["Contribution"]["Keys"])
        print(
            f"{rule['Name']}  {rule['State']}  {rule['Table']}  keys: {keys}  "
            f"{definition['AggregateOn']}  every {rule['Period']} s  "
            f"checkpoint: {rule.get('Checkpoint') or '-'}"
        )
    if not rules:
        print("no Contributor Insights rules")
    return 0


def _delete(args: argparse.Namespace, lake: Any) -> int:
    from loglake.monitor.contributors import delete_insight_rule

    delete_insight_rule(lake.catalog, args.name)
    return 0


def _evaluate(args: argparse.Namespace, lake: Any) -> int:
    from loglake.monitor.contributors import evaluate_rule

    top = evaluate_rule(
        lake.catalog, args.name, _moment(getattr(args, "from"), "from"), _moment(args.to, "to")
    )
    _show(top, args)
    return 0


def _report(args: argparse.Namespace, lake: Any) -> int:
    from loglake.monitor.contributors import insight_rule_report

    report = insight_rule_report(
        lake.catalog,
        args.name,
        _moment(getattr(args, "from"), "from"),
        _moment(args.to, "to"),
        max_contributors=args.max_contributors,
    )
    _show(report, args)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    rule = sub.add_parser(
        "insight-rule", help="Contributor Insights rules: top contributors per period, as metrics"
    )
    rsub = rule.add_subparsers(dest="rule_command", metavar="ACTION", required=True)

    def placement(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--table", help="table the rule reads (default cloudwatch_logs; vpc_flow_logs, ...)"
        )
        p.add_argument("--period", type=int, default=60, help="seconds per period (default 60)")
        p.add_argument(
            "--max-contributors", type=int, default=10, help="contributors kept per period"
        )

    put = rsub.add_parser("put", help="create or replace a rule (PutInsightRule)")
    put.add_argument("name")
    put.add_argument("definition", help="the rule body: JSON, or a file holding it")
    put.add_argument("--state", choices=["ENABLED", "DISABLED"], default="ENABLED")
    placement(put)
    put.set_defaults(handler=_put)

    imp = rsub.add_parser("import", help="rules from 'aws cloudwatch describe-insight-rules'")
    imp.add_argument("file", help="the JSON it prints (a file, or inline)")
    placement(imp)
    imp.set_defaults(handler=_import)

    lst = rsub.add_parser("list", help="the rules and their checkpoints")
    lst.add_argument("--json", action="store_true", help="describe-insight-rules JSON")
    lst.set_defaults(handler=_list)

    delete = rsub.add_parser("delete", help="delete a rule (its stored results stay)")
    delete.add_argument("name")
    delete.set_defaults(handler=_delete)

    for name, handler, text in (
        ("evaluate", _evaluate, "evaluate (again) every period of a time range and store it"),
        ("report", _report, "top contributors over a time range (GetInsightRuleReport)"),
    ):
        p = rsub.add_parser(name, help=text)
        p.add_argument("name")
        p.add_argument("--from", required=True, help="start (ISO 8601, inclusive)")
        p.add_argument("--to", required=True, help="end (ISO 8601, exclusive)")
        if name == "report":
            p.add_argument("--max-contributors", type=int, default=10)
        add_output_options(p)
        p.set_defaults(handler=handler)
