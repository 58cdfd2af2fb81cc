"""CPU time of a benchmark's whole process tree, to report beside wall time.

On a shared machine wall time mostly measures the neighbours; CPU seconds of every process that
did the work (worker pools, fork servers, JVMs) stay comparable.
"""

from __future__ import annotations

import os


def tree_cpu() -> float:
    """CPU seconds used so far by this process and every live descendant (worker processes, a
    JVM), with the children each has already reaped."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        used[int(entry)] = sum(int(f) for f in fields[11:15]) / ticks
    mine = {os.getpid()}
    grown = True
    while grown:
        grown = False
        for pid, parent in parents.items():
            if parent in mine and pid not in mine:
                mine.add(pid)
                grown = True
    return sum(used.get(pid, 0.0) for pid in mine)


def load() -> str:
    """The load averages over 1, 5 and 15 minutes, as ``uptime`` prints them."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())
