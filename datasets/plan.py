"""What is planned ahead of the bulk baseline: single CloudTrail calls (with the world change they
cause), extra flows, and the ground-truth record of each scenario."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .flowlogs import Flow
from .state import WorldState
from .world import Account, RegionEnv


@dataclass
class ConfigTouch:
    """A resource whose configuration item must be re-recorded after a change."""

    env: RegionEnv
    resource_type: str
    resource_id: str
    build: Callable[[int], dict[str, Any]]  # capture time (ms) -> configuration item


@dataclass
class ScenarioRecord:
    """Ground truth of one scenario, filled while it is planned and while files are written."""

    name: str
    description: str
    account_id: str
    region: str
    start: float
    end: float = 0.0
    signature: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(
        default_factory=list
    )  # {eventID, eventName, eventTime, phase}
    flow_records: list[dict[str, Any]] = field(default_factory=list)
    config_changes: list[dict[str, Any]] = field(default_factory=list)
    logging_gaps: list[dict[str, str]] = field(default_factory=list)
    suppressed: list[dict[str, Any]] = field(default_factory=list)  # made while logging was off
    insights: list[tuple[float, dict[str, Any]]] = field(
        default_factory=list
    )  # (delivered, record)
    insight_events: list[dict[str, Any]] = field(default_factory=list)  # as written


@dataclass
class Injection:
    """One planned CloudTrail record, and optionally the change it makes to the world."""

    time: float
    account: Account
    region_index: int
    event: dict[str, Any] | None
    apply: Callable[[WorldState, float], list[ConfigTouch]] | None = None
    scenario: ScenarioRecord | None = None
    phase: str | None = None


@dataclass
class FlowInjection:
    """Extra connections at a moment; built when their window is rendered (sees the SG state then)."""

    time: float
    account: Account
    region_index: int
    build: Callable[[random.Random, RegionEnv, WorldState, int], list[Flow]]
    scenario: ScenarioRecord | None = None


@dataclass
class LoggingGap:
    """Trail logging switched off in an account (all regions) between two times."""

    account_id: str
    stop: float
    start: float
