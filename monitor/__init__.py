"""CloudWatch-style monitoring over the lake: filter patterns, metric filters, metrics, alarms."""

from loglake.monitor.alarms import (
    evaluate_alarm,
    evaluate_alarm_detail,
    evaluate_composite_rule,
    validate_alarm,
)
from loglake.monitor.compile import MessageSource, TableSource, compile_pattern
from loglake.monitor.filters import test_metric_filter, validate_metric_filter
from loglake.monitor.pattern import FilterPatternError, parse_pattern

__all__ = [
    "FilterPatternError",
    "MessageSource",
    "TableSource",
    "compile_pattern",
    "evaluate_alarm",
    "evaluate_alarm_detail",
    "evaluate_composite_rule",
    "parse_pattern",
    "test_metric_filter",
    "validate_alarm",
    "validate_metric_filter",
]
