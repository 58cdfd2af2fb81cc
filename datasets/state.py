"""Time-aware view of the parts of the world that change (security-group rules, instance state).

Changes are planned a day at a time but flow logs are rendered window by window, so each change
is recorded with the moment it takes effect; readers ask for the state at a given time.
"""

from __future__ import annotations

import bisect
import copy
from dataclasses import dataclass, field

from .world import Rule, World


@dataclass
class Timeline:
    times: list[float] = field(default_factory=list)
    values: list[object] = field(default_factory=list)

    def set(self, t: float, value: object) -> None:
        i = bisect.bisect_right(self.times, t)
        self.times.insert(i, t)
        self.values.insert(i, value)

    def at(self, t: float, default: object) -> object:
        i = bisect.bisect_right(self.times, t)
        return self.values[i - 1] if i else default

    def prune(self, before: float) -> None:
        """Forget entries superseded before ``before`` (keeps memory flat over long runs)."""
        i = bisect.bisect_right(self.times, before)
        if i > 1:
            del self.times[: i - 1]
            del self.values[: i - 1]


class WorldState:
    """Rule and instance-state timelines for every security group and instance."""

    def __init__(self, world: World) -> None:
        self.sg_rules: dict[str, Timeline] = {}
        self.instance_state: dict[str, Timeline] = {}
        self.initial_rules: dict[str, list[Rule]] = {}
        for acct in world.accounts:
            for env in acct.regions:
                for sg in env.sgs.values():
                    self.initial_rules[sg.id] = copy.deepcopy(sg.ingress)
                    self.sg_rules[sg.id] = Timeline()
                for inst in env.instances:
                    self.instance_state[inst.id] = Timeline()

    def rules_changed(self, sg_id: str, t: float, rules: list[Rule]) -> None:
        self.sg_rules[sg_id].set(t, copy.deepcopy(rules))

    def rules_at(self, sg_id: str, t: float) -> list[Rule]:
        return self.sg_rules[sg_id].at(t, self.initial_rules[sg_id])  # type: ignore[return-value]

    def state_changed(self, instance_id: str, t: float, state: str) -> None:
        self.instance_state[instance_id].set(t, state)

    def running(self, instance_id: str, t: float) -> bool:
        return self.instance_state[instance_id].at(t, "running") == "running"

    def prune(self, before: float) -> None:
        for tl in self.sg_rules.values():
            tl.prune(before)
        for tl in self.instance_state.values():
            tl.prune(before)
