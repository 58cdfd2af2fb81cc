"""Realistic raw AWS log exports (CloudTrail, VPC Flow Logs, Config, CloudWatch Logs) with incident
scenarios and their ground truth, for tests, demos and benchmarks."""

from .generator import DEFAULT_START, GROUND_TRUTH, SOURCES, GenerationSummary, generate
from .scenarios import SCENARIOS, ScenarioSpec

__all__ = [
    "DEFAULT_START",
    "GROUND_TRUTH",
    "SCENARIOS",
    "SOURCES",
    "GenerationSummary",
    "ScenarioSpec",
    "generate",
]
